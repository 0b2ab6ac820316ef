/* Reading a trajectory directory back (mv_traj_read): run.json for the
 * run record, the sizes and the entries the CSV does not carry (teacher
 * block, diagonal), trajectory.csv for the rows, events.json for the
 * crossings.  Every number was printed with 17 digits, so the rows come
 * back bit for bit. */
#include "record/traj_priv.h"
#include <moeverify/traj.h>
#include <moeverify/error.h>
#include <moeverify/io.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const STATUS[] = { "running", "complete", "interrupted", "failed" };

static json_t *
load (const char *dir, const char *name, char *path, size_t len)
{
  snprintf (path, len, "%s/%s", dir, name);
  json_error_t err;
  json_t *doc = json_load_file (path, 0, &err);
  if (!doc)
    mv_error_set (MV_EPARSE, "%s: %s (line %d)", path, err.text, err.line);
  return doc;
}

static double
num (json_t *o, const char *key)
{
  json_t *v = json_object_get (o, key);
  return json_is_number (v) ? json_number_value (v) : NAN;
}

static void
copy_str (char *dst, size_t len, json_t *o, const char *key)
{
  const char *s = json_string_value (json_object_get (o, key));
  snprintf (dst, len, "%s", s ? s : "");
}

/* The run record; tr initialised for the sizes of final.router_alignment;
 * *G0 (malloc'd, n x n) the final Gram matrix (teacher block, diagonal). */
static int
read_run (mv_traj *tr, double **G0, size_t *rows, const char *dir)
{
  char path[4096];
  json_t *doc = load (dir, "run.json", path, sizeof path);
  if (!doc)
    return MV_EPARSE;
  json_t *fin = json_object_get (doc, "final"), *ra = json_object_get (fin, "router_alignment");
  json_t *gm = json_object_get (fin, "gram"), *nr = json_object_get (doc, "initial_norms_v_then_w");
  size_t m = json_array_size (ra), ms = json_array_size (json_array_get (ra, 0));
  size_t n = 2 * (m + ms);
  int s = !m || !ms || json_array_size (gm) != n * n || json_array_size (nr) != 2 * m
    ? mv_error_set (MV_EPARSE, "%s: no final state of consistent size (final.router_alignment, "
                    "final.gram, initial_norms_v_then_w)", path) : mv_traj_init (tr, m, ms);
  if (!s && !(*G0 = malloc (n * n * sizeof **G0)))
    s = mv_error_set (MV_ENOMEM, "%s: out of memory", path);
  for (size_t k = 0; !s && k < n * n; k++)
    (*G0)[k] = json_number_value (json_array_get (gm, k));
  for (size_t k = 0; !s && k < 2 * m; k++)
    tr->norms0[k] = json_number_value (json_array_get (nr, k));
  if (!s)
    {
      copy_str (tr->method, sizeof tr->method, doc, "method");
      copy_str (tr->stepper, sizeof tr->stepper, doc, "stepper");
      copy_str (tr->init, sizeof tr->init, doc, "initial_point");
      copy_str (tr->params, sizeof tr->params, doc, "parameters");
      copy_str (tr->message, sizeof tr->message, doc, "message");
      tr->rtol = num (doc, "rtol"), tr->atol = num (doc, "atol"), tr->t_end = num (doc, "t_end");
      tr->steps = (unsigned long) num (doc, "steps");
      tr->rejected = (unsigned long) num (doc, "rejected_steps");
      tr->rhs_evals = (unsigned long) num (doc, "rhs_evaluations");
      tr->jac_evals = (unsigned long) num (doc, "jacobian_evaluations");
      tr->wall_seconds = num (doc, "wall_seconds");
      *rows = (size_t) num (doc, "output_rows");
      const char *st = json_string_value (json_object_get (doc, "status"));
      tr->status = MV_TRAJ_FAILED;
      for (int k = 0; st && k < 4; k++)
        if (!strcmp (st, STATUS[k]))
          tr->status = k;
    }
  json_decref (doc);
  return s;
}

/* One CSV line into the row buffers; 0 if it has exactly nc + 4 numbers. */
static int
parse_line (char *line, double *v, size_t nv)
{
  char *p = line, *end;
  for (size_t k = 0; k < nv; k++)
    {
      v[k] = strtod (p, &end);
      if (end == p || (*end != (k + 1 < nv ? ',' : '\0')))
        return 1;
      p = end + 1;
    }
  return 0;
}

static int
read_csv (mv_traj *tr, const double *G0, size_t rows, const char *dir)
{
  char path[4096];
  snprintf (path, sizeof path, "%s/trajectory.csv", dir);
  size_t len, n = tr->n, nc = mv_traj_gram_columns (tr->m, tr->mstar, NULL), line_no = 0;
  char *text = mv_io_read_file (path, &len);
  size_t *kl = malloc (2 * nc * sizeof *kl);
  double *v = malloc ((nc + 4) * sizeof *v), *G = malloc (n * n * sizeof *G);
  int s = !text ? MV_EIO : !kl || !v || !G ? mv_error_set (MV_ENOMEM, "%s: out of memory", path)
          : MV_OK;
  if (!s)
    mv_traj_gram_columns (tr->m, tr->mstar, kl), memcpy (G, G0, n * n * sizeof *G);
  int header = 1;
  for (char *p = text, *e; !s && p && *p; p = e ? e + 1 : NULL)
    {
      line_no++;
      if ((e = strchr (p, '\n')))
        *e = '\0';
      if (*p == '#')
        continue;
      if (header)   /* the column names */
        {
          header = 0;
          continue;
        }
      if (parse_line (p, v, nc + 4))
        s = mv_error_set (MV_EPARSE, "%s: line %zu: expected %zu numbers", path, line_no, nc + 4);
      for (size_t c = 0; !s && c < nc; c++)
        G[kl[2 * c] * n + kl[2 * c + 1]] = G[kl[2 * c + 1] * n + kl[2 * c]] = v[4 + c];
      if (!s)
        s = mv_traj_push (tr, v[0], v[1], v[2], v[3], G);
    }
  if (!s && tr->rows != rows)
    s = mv_error_set (MV_EPARSE, "%s: %zu rows, run.json says %zu", path, tr->rows, rows);
  free (text), free (kl), free (v), free (G);
  return s;
}

static int
read_events (mv_traj *tr, const char *dir)
{
  static const char *const KIND[MV_ALIGN_NKIND] = { "router", "expert", "both" };
  char path[4096];
  json_t *doc = load (dir, "events.json", path, sizeof path), *e;
  if (!doc)
    return MV_EPARSE;
  size_t idx;
  int s = MV_OK;
  json_array_foreach (json_object_get (doc, "crossings"), idx, e)
    {
      const char *kind = json_string_value (json_object_get (e, "kind"));
      double th = num (e, "threshold"), i = num (e, "student"), j = num (e, "teacher");
      int k = 0, h = 0;
      while (k < MV_ALIGN_NKIND && !(kind && !strcmp (kind, KIND[k])))
        k++;
      while (h < MV_TRAJ_NTHR && mv_traj_thresholds[h] != th)
        h++;
      if (k == MV_ALIGN_NKIND || h == MV_TRAJ_NTHR || !(i >= 0 && i < tr->m)
          || !(j >= 0 && j < tr->mstar))
        {
          s = mv_error_set (MV_EPARSE, "%s: crossing %zu: bad kind, threshold, student or "
                            "teacher", path, idx);
          break;
        }
      size_t c = ((k * MV_TRAJ_NTHR + h) * tr->m + (size_t) i) * tr->mstar + (size_t) j;
      tr->cross[c] = num (e, "time"), tr->cross_other[c] = num (e, "other");
    }
  json_decref (doc);
  return s;
}

int
mv_traj_read (mv_traj *tr, const char *dir)
{
  double *G0 = NULL;
  size_t rows = 0;
  memset (tr, 0, sizeof *tr);
  int s = read_run (tr, &G0, &rows, dir);
  if (!s)
    s = read_csv (tr, G0, rows, dir);
  if (!s)
    s = read_events (tr, dir);
  free (G0);
  if (s && tr->cross)
    mv_traj_clear (tr);
  return s;
}
