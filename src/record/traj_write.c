/* Trajectory outputs: trajectory.csv, run.json, events.json and SVG plots,
 * written as one set (io.h): all or nothing, run.json last. */
#include "record/traj_priv.h"
#include "base/textbuf.h"
#include <moeverify/traj.h>
#include <moeverify/error.h>
#include <moeverify/io.h>
#include <moeverify/moeverify.h>

#include <errno.h>
#include <stdarg.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *STATUS[] = { "running", "complete", "interrupted", "failed" };

static int
write_buf (mv_io_set *set, const char *name, mv_textbuf *b)
{
  if (b->oom)
    {
      free (b->s);
      return mv_error_set (MV_ENOMEM, "%s: out of memory", name);
    }
  int s = mv_io_set_add (set, name, b->s ? b->s : "", b->len);
  free (b->s);
  return s;
}

/* doc (consumed) as the files print it: indented, 17 digits, a newline;
 * NULL with a message when out of memory. */
static char *
json_text (json_t *doc, const char *name)
{
  mv_textbuf b = { 0 };
  char *txt = doc ? json_dumps (doc, JSON_INDENT (2) | JSON_REAL_PRECISION (17)) : NULL;
  json_decref (doc);
  if (!txt)
    b.oom = 1;
  else
    mv_textbuf_printf (&b, "%s\n", txt);
  free (txt);
  if (b.oom)
    {
      free (b.s);
      mv_error_set (MV_ENOMEM, "%s: out of memory", name);
      return NULL;
    }
  return b.s;
}

static int
write_text (mv_io_set *set, const char *name, char *txt)
{
  if (!txt)
    return MV_ENOMEM;
  int s = mv_io_set_add (set, name, txt, strlen (txt));
  free (txt);
  return s;
}

size_t
mv_traj_gram_columns (size_t m, size_t ms, size_t *kl)
{
  size_t n = 2 * (m + ms), c = 0;
  for (size_t e = 0; e < 2; e++)
    for (size_t i = 0; i < m; i++)
      for (size_t j = 0; j < ms; j++, c++)
        if (kl)
          kl[2 * c] = e * m + i, kl[2 * c + 1] = 2 * m + e * ms + j;
  for (size_t k = 0; k < 2 * m; k++)
    for (size_t l = k + 1; l < n; l++)
      {
        int tv = l >= 2 * m && l < 2 * m + ms, tw = l >= 2 * m + ms;
        if ((k < m && tv) || (k >= m && tw))
          continue;            /* an alignment column */
        if (kl)
          kl[2 * c] = k, kl[2 * c + 1] = l;
        c++;
      }
  return c;
}

void
mv_traj_gram_column_name (char *buf, size_t len, size_t k, size_t l, size_t m, size_t ms)
{
  if (l >= 2 * m && k < m && l < 2 * m + ms)
    snprintf (buf, len, "router_%zu_%zu", k, l - 2 * m);
  else if (k >= m && l >= 2 * m + ms)
    snprintf (buf, len, "expert_%zu_%zu", k - m, l - 2 * m - ms);
  else if (l < 2 * m)
    snprintf (buf, len, "%s%zu.%s%zu", k < m ? "v" : "w", k % m, l < m ? "v" : "w", l % m);
  else
    {
      int tv = l < 2 * m + ms;
      snprintf (buf, len, "%s%zu.%s*%zu", k < m ? "v" : "w", k % m, tv ? "v" : "w",
                tv ? l - 2 * m : l - 2 * m - ms);
    }
}

/* the Gram columns of the CSV: names (row = NO_ROW), or the values at row */
#define NO_ROW ((size_t) -1)
static void
gram_columns (const mv_traj *tr, mv_textbuf *b, size_t row, const size_t *kl, size_t nc)
{
  const double *G = row == NO_ROW ? NULL : mv_traj_gram (tr, row);
  for (size_t c = 0; c < nc; c++)
    if (G)
      mv_textbuf_printf (b, ",%.17g", G[kl[2 * c] * tr->n + kl[2 * c + 1]]);
    else
      {
        char name[64];
        mv_traj_gram_column_name (name, sizeof name, kl[2 * c], kl[2 * c + 1], tr->m, tr->mstar);
        mv_textbuf_printf (b, ",%s", name);
      }
}

static int
write_csv (const mv_traj *tr, mv_io_set *set)
{
  size_t nc = mv_traj_gram_columns (tr->m, tr->mstar, NULL);
  size_t *kl = malloc (2 * nc * sizeof *kl);
  if (!kl)
    return mv_error_set (MV_ENOMEM, "trajectory.csv: out of memory");
  mv_traj_gram_columns (tr->m, tr->mstar, kl);
  mv_textbuf b = { 0 };
  mv_textbuf_printf (&b, "# moeverify trajectory: method %s, status %s%s%s\n", tr->method,
           STATUS[tr->status], tr->message[0] ? ": " : "", tr->message);
  mv_textbuf_printf (&b, "t,loss,grad_norm2,energy");
  gram_columns (tr, &b, NO_ROW, kl, nc);
  mv_textbuf_printf (&b, "\n");
  for (size_t r = 0; r < tr->rows; r++)
    {
      mv_textbuf_printf (&b, "%.17g,%.17g,%.17g,%.17g", tr->t[r], tr->loss[r], tr->grad2[r],
               tr->energy[r]);
      gram_columns (tr, &b, r, kl, nc);
      mv_textbuf_printf (&b, "\n");
    }
  free (kl);
  return write_buf (set, "trajectory.csv", &b);
}

static json_t *
num (double x)
{
  return isfinite (x) ? json_real (x) : json_null ();
}

static json_t *
align_matrix (const mv_traj *tr, size_t row, int kind)
{
  size_t m = tr->m, ms = tr->mstar;
  json_t *a = json_array ();
  for (size_t i = 0; i < m; i++)
    {
      json_t *jr = json_array ();
      for (size_t j = 0; j < ms; j++)
        json_array_append_new (jr, num (mv_traj_align (tr, row, kind, i, j)));
      json_array_append_new (a, jr);
    }
  return a;
}

char *
mv_traj_run_json (const mv_traj *tr, const char *spec_json)
{
  json_t *doc = json_object ();
  if (!doc)
    return json_text (NULL, "run.json");
  json_object_set_new (doc, "tool", json_string ("moeverify " MV_VERSION_STRING));
  json_t *spec = spec_json ? json_loads (spec_json, 0, NULL) : NULL;
  json_object_set_new (doc, "spec", spec ? spec : json_null ());
  json_object_set_new (doc, "method", json_string (tr->method));
  json_object_set_new (doc, "stepper", json_string (tr->stepper));
  json_object_set_new (doc, "initial_point", json_string (tr->init));
  if (tr->params[0])
    json_object_set_new (doc, "parameters", json_string (tr->params));
  json_object_set_new (doc, "rtol", num (tr->rtol));
  json_object_set_new (doc, "atol", num (tr->atol));
  json_object_set_new (doc, "t_end", num (tr->t_end));
  json_object_set_new (doc, "status", json_string (STATUS[tr->status]));
  json_object_set_new (doc, "message", json_string (tr->message));
  json_object_set_new (doc, "steps", json_integer ((json_int_t) tr->steps));
  json_object_set_new (doc, "rejected_steps", json_integer ((json_int_t) tr->rejected));
  json_object_set_new (doc, "rhs_evaluations", json_integer ((json_int_t) tr->rhs_evals));
  json_object_set_new (doc, "jacobian_evaluations", json_integer ((json_int_t) tr->jac_evals));
  json_object_set_new (doc, "wall_seconds", num (tr->wall_seconds));
  json_object_set_new (doc, "output_rows", json_integer ((json_int_t) tr->rows));
  json_t *nrm = json_array ();
  for (size_t k = 0; k < 2 * tr->m; k++)
    json_array_append_new (nrm, num (tr->norms0[k]));
  json_object_set_new (doc, "initial_norms_v_then_w", nrm);
  if (tr->rows)
    {
      size_t r = tr->rows - 1;
      const double *G = mv_traj_gram (tr, r);
      json_t *fin = json_object ();
      json_object_set_new (fin, "t", num (tr->t[r]));
      json_object_set_new (fin, "loss", num (tr->loss[r]));
      json_object_set_new (fin, "grad_norm2", num (tr->grad2[r]));
      json_object_set_new (fin, "router_alignment", align_matrix (tr, r, MV_ALIGN_ROUTER));
      json_object_set_new (fin, "expert_alignment", align_matrix (tr, r, MV_ALIGN_EXPERT));
      json_t *gm = json_array ();
      for (size_t k = 0; k < tr->n * tr->n; k++)
        json_array_append_new (gm, num (G[k]));
      json_object_set_new (fin, "gram", gm);
      if (tr->final_state)
        {
          size_t md = tr->m * tr->d;
          json_t *V = json_array (), *W = json_array ();
          for (size_t i = 0; i < md; i++)
            {
              json_array_append_new (V, num (tr->final_state[i]));
              json_array_append_new (W, num (tr->final_state[md + i]));
            }
          json_object_set_new (fin, "V_rowmajor", V);
          json_object_set_new (fin, "W_rowmajor", W);
        }
      json_object_set_new (doc, "final", fin);
    }
  return json_text (doc, "run.json");
}

char *
mv_traj_events_json (const mv_traj *tr)
{
  static const char *KIND[MV_ALIGN_NKIND] = { "router", "expert", "both" };
  size_t m = tr->m, ms = tr->mstar;
  json_t *doc = json_object (), *cr = json_array ();
  for (int k = 0; k < MV_ALIGN_NKIND; k++)
    for (int h = 0; h < MV_TRAJ_NTHR; h++)
      for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < ms; j++)
          {
            double c = mv_traj_crossing (tr, k, (size_t) h, i, j);
            if (isnan (c))
              continue;
            json_t *e = json_object ();
            json_object_set_new (e, "kind", json_string (KIND[k]));
            json_object_set_new (e, "threshold", json_real (mv_traj_thresholds[h]));
            json_object_set_new (e, "student", json_integer ((json_int_t) i));
            json_object_set_new (e, "teacher", json_integer ((json_int_t) j));
            json_object_set_new (e, "time", json_real (c));
            double o = mv_traj_crossing_other (tr, k, (size_t) h, i, j);
            if (!isnan (o))   /* the other alignment at that moment */
              json_object_set_new (e, "other", json_real (o));
            json_array_append_new (cr, e);
          }
  json_object_set_new (doc, "crossings", cr);
  /* recovery: teachers ordered by the time some student reaches 0.9 in
   * both its router and expert alignment */
  json_t *rec = json_array (), *order = json_array ();
  size_t *idx = malloc (ms * sizeof *idx);
  double *tt = malloc (ms * sizeof *tt);
  long *who = malloc (ms * sizeof *who);
  if (!idx || !tt || !who)
    {
      free (idx), free (tt), free (who);
      json_decref (doc), json_decref (rec), json_decref (order);
      mv_error_set (MV_ENOMEM, "events: out of memory");
      return NULL;
    }
  for (size_t j = 0; j < ms; j++)
    idx[j] = j, tt[j] = mv_traj_recovery (tr, j, &who[j]);
  for (size_t a = 1; a < ms; a++)       /* insertion sort, NAN last */
    for (size_t b = a; b > 0; b--)
      {
        double x = tt[idx[b - 1]], y = tt[idx[b]];
        if (!(isnan (x) && !isnan (y)) && !(x > y))
          break;
        size_t t = idx[b];
        idx[b] = idx[b - 1], idx[b - 1] = t;
      }
  for (size_t a = 0; a < ms; a++)
    {
      size_t j = idx[a];
      json_t *e = json_object ();
      json_object_set_new (e, "teacher", json_integer ((json_int_t) j));
      json_object_set_new (e, "student", who[j] >= 0 ? json_integer (who[j]) : json_null ());
      json_object_set_new (e, "time", num (tt[j]));
      json_array_append_new (rec, e);
      if (!isnan (tt[j]))
        json_array_append_new (order, json_integer ((json_int_t) j));
    }
  json_object_set_new (doc, "recovery", rec);
  json_object_set_new (doc, "recovery_order", order);
  json_object_set_new (doc, "recovery_rule",
                       json_string ("teacher j recovered when some student has router and "
                                    "expert alignment >= 0.9 with it"));
  free (idx), free (tt), free (who);
  return json_text (doc, "events.json");
}

int
mv_traj_write_set (const mv_traj *tr, mv_io_set *set, const char *spec_json)
{
  int s = write_csv (tr, set);
  if (!s)
    s = write_text (set, "events.json", mv_traj_events_json (tr));
  if (!s)
    s = mv_traj_plots (tr, set);
  if (!s)
    s = write_text (set, "run.json", mv_traj_run_json (tr, spec_json));
  return s;
}

int
mv_traj_write (const mv_traj *tr, const char *dir, const char *spec_json)
{
  if (mkdir (dir, 0777) != 0 && errno != EEXIST)
    return mv_error_set (MV_EIO, "%s: cannot create directory: %s", dir, strerror (errno));
  mv_io_set *set = mv_io_set_alloc (dir);
  int s = set ? mv_traj_write_set (tr, set, spec_json) : MV_ENOMEM;
  /* run.json last: its presence marks a finished write */
  if (!s)
    s = mv_io_set_commit (set, "run.json");
  mv_io_set_free (set);
  return s;
}
