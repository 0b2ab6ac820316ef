/* moeverify flow SPEC [--reduced] --reference [--prec BITS] [--tol EPS]:
 * the reduced or the full flow integrated twice by the MPFR reference integrator, at
 * (BITS, EPS) and (2 BITS, EPS^2); the trajectory directory holds the
 * confirming run's double copy and reference.json the agreed digits
 * (proofs/reference-integrator.md). */
#include "cli.h"

#include <moeverify/moeverify.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Output times: the explicit list, or K log-spaced plus K even ones (the
 * flow's grid) without t = 0, which is row 0 of every reference run. */
static double *
ref_times (const mv_flow_params *fp, size_t *n)
{
  size_t m;
  double *t = mv_flow_times (fp, &m);
  if (!t)
    {
      mv_error_set (MV_ENOMEM, "reference: out of memory");
      return NULL;
    }
  memmove (t, t + 1, (m - 1) * sizeof *t);
  *n = m - 1;
  return t;
}

static json_t *
run_json (const mv_ref_traj *r)
{
  return json_pack ("{s:I, s:f, s:I, s:I, s:I, s:f}", "prec", (json_int_t) r->prec,
                    "tol", r->tol, "steps", (json_int_t) r->steps, "rejected",
                    (json_int_t) r->rejected, "rhs_evals", (json_int_t) r->rhs_evals,
                    "wall_seconds", r->wall_seconds);
}

/* reference.json: per output time, every quantity's agreed digits and
 * their count. */
static int
write_agreed (mv_io_set *set, const mv_ref_traj *a, const mv_ref_traj *b,
              const mv_ref_agreed *ag)
{
  json_t *doc = json_object (), *names = json_array (), *rows = json_array ();
  char name[64];
  for (size_t q = 0; q < ag->nq; q++)
    {
      mv_ref_quantity_name (name, sizeof name, q, a->m, a->mstar);
      json_array_append_new (names, json_string (name));
    }
  for (size_t r = 0; r < ag->rows; r++)
    {
      json_t *vals = json_array (), *dig = json_array ();
      for (size_t q = 0; q < ag->nq; q++)
        {
          json_array_append_new (vals, json_string (mv_ref_agreed_str (ag, r, q)));
          json_array_append_new (dig, json_integer (ag->digits[r * ag->nq + q]));
        }
      json_t *row = json_pack ("{s:f, s:o, s:o}", "t", a->t[r], "values", vals, "digits", dig);
      json_t *fa = json_array ();
      for (size_t q = 0; q < ag->nq; q++)
        if (ag->faithful[r * ag->nq + q])
          json_array_append_new (fa, json_integer ((json_int_t) q));
      if (json_array_size (fa))
        json_object_set (row, "faithful", fa);   /* quantity indices */
      json_decref (fa);
      json_array_append_new (rows, row);
    }
  json_object_set_new (doc, "method", json_string (b->system->method));
  json_object_set_new (doc, "digit_rule", json_string ("digits of the confirming run shared by "
                       "every value within 2|a-b| of it, truncated toward zero"));
  if (ag->nfaithful)
    json_object_set_new (doc, "faithful_rule", json_string ("a row's \"faithful\" quantities "
                         "(fewer than 20 truncated digits) are the confirming run rounded to "
                         "nearest: every value within 2|a-b| of it is within one unit of the "
                         "last digit printed"));
  json_object_set_new (doc, "run", run_json (a));
  json_object_set_new (doc, "confirming_run", run_json (b));
  json_object_set_new (doc, "min_digits", json_integer (ag->min_digits));
  json_object_set_new (doc, "quantities", names);
  json_object_set_new (doc, "rows", rows);
  size_t len;
  char *txt = mv_cli_json_text (doc, &len);
  json_decref (doc);
  int s = txt ? mv_io_set_add (set, "reference.json", txt, len)
              : mv_error_set (MV_ENOMEM, "reference.json: out of memory");
  free (txt);
  return s;
}

size_t
mv_cli_ref_column_q (size_t c, const size_t *kl, size_t n, size_t nvar)
{
  if (c < 2)
    return nvar + c;
  size_t k = kl[2 * (c - 2)], l = kl[2 * (c - 2) + 1];
  /* row-major over k < l, k a student (reference.h) */
  return k * (n - 1) - k * (k - 1) / 2 + (l - k - 1);
}

/* trajectory_digits.csv: trajectory.csv's columns (t, loss, grad_norm2,
 * energy, the Gram entries) with exactly the agreed digits. */
static int
write_digits_csv (mv_io_set *set, const mv_ref_traj *b, const mv_ref_agreed *ag)
{
  size_t ng = mv_traj_gram_columns (b->m, b->mstar, NULL), len = 0, cap = 1 << 16;
  size_t *kl = malloc (2 * ng * sizeof *kl);
  char *buf = malloc (cap), name[64];
  int ok = kl && buf;
  if (ok)
    mv_traj_gram_columns (b->m, b->mstar, kl);
#define PUT(...) do { \
    int w_ = snprintf (buf + len, cap - len, __VA_ARGS__); \
    while (ok && len + (size_t) w_ >= cap) { char *nb = realloc (buf, cap *= 2); \
      if (!nb) ok = 0; else buf = nb, w_ = snprintf (buf + len, cap - len, __VA_ARGS__); } \
    if (ok) len += (size_t) w_; } while (0)
  PUT ("t,loss,grad_norm2,energy");
  for (size_t c = 0; ok && c < ng; c++)
    {
      mv_traj_gram_column_name (name, sizeof name, kl[2 * c], kl[2 * c + 1], b->m, b->mstar);
      PUT (",%s", name);
    }
  for (size_t r = 0; ok && r < ag->rows; r++)
    {
      PUT ("\n%.17g,%s,%s,%s", b->t[r], mv_ref_agreed_str (ag, r, b->nvar),
           mv_ref_agreed_str (ag, r, b->nvar + 1), mv_ref_agreed_str (ag, r, b->nvar + 2));
      for (size_t c = 0; ok && c < ng; c++)
        PUT (",%s", mv_ref_agreed_str (ag, r, mv_cli_ref_column_q (c + 2, kl, b->n, b->nvar)));
    }
  PUT ("\n");
#undef PUT
  int s = ok ? mv_io_set_add (set, "trajectory_digits.csv", buf, len)
             : mv_error_set (MV_ENOMEM, "trajectory_digits.csv: out of memory");
  free (kl), free (buf);
  return s;
}

/* The input of a reference run: G(0) and the norms, and for the full flow
 * the raw vectors (*vec: one allocation, freed by the caller). */
int
mv_cli_ref_input (mv_ref_input *in, double **vec, const double *G, const double *nr,
                  const mv_problem *pb, const mv_ref_system_type *type)
{
  *in = (mv_ref_input) { .m = pb->m, .mstar = pb->mstar, .d = pb->d,
                         .noise_var = pb->noise_var, .G0 = G, .norms = nr,
                         .reg = &pb->reg };
  *vec = NULL;
  if (type != mv_ref_system_full)
    return MV_OK;
  size_t md = pb->m * pb->d, sd = pb->mstar * pb->d;
  if (2 * md > MV_REF_FULL_MAX)
    return mv_error_set (MV_EINVAL, "reference: the full flow is for 2 m d <= %d (here %zu): "
                         "use --reduced", MV_REF_FULL_MAX, 2 * md);
  if (!(*vec = malloc (2 * (md + sd) * sizeof **vec)))
    return mv_error_set (MV_ENOMEM, "reference: out of memory");
  in->V = *vec, in->W = *vec + md, in->Vt = *vec + 2 * md, in->Wt = *vec + 2 * md + sd;
  return mv_problem_vectors_d (*vec, *vec + md, *vec + 2 * md, *vec + 2 * md + sd, pb);
}

int
mv_cli_flow_reference (mv_traj *tr, const double *G, const double *nr, const mv_problem *pb,
                       const mv_flow_params *fp, double tol, mv_io_set *set,
                       const mv_ref_system_type *type)
{
  mv_ref_input in;
  double *vec;
  int s = mv_cli_ref_input (&in, &vec, G, nr, pb, type);
  size_t nt;
  double *times = s ? NULL : ref_times (fp, &nt);
  if (!times)
    return free (vec), s ? s : MV_ENOMEM;
  mv_ref_params p;
  mv_ref_params_default (&p);
  p.prec = fp->prec, p.tol = tol, p.times = times, p.n_times = nt;
  p.max_steps = fp->max_steps, p.interrupt = fp->interrupt;
  p.progress = fp->progress, p.progress_ctx = (void *) "reference";
  mv_ref_traj a, b;
  mv_ref_agreed ag;
  s = mv_ref_confirmed (&a, &b, &ag, type, &in, &p);
  /* the trajectory is the most accurate run that finished (or got furthest) */
  const mv_ref_traj *best = b.rows && b.status == MV_TRAJ_DONE ? &b : &a;
  if (!s || best->rows)
    {
      int s2 = mv_ref_traj_to_traj (tr, best);
      s = s ? s : s2;
    }
  if (!s && ag.rows)
    {
      s = write_agreed (set, &a, &b, &ag);
      if (!s)
        s = write_digits_csv (set, &b, &ag);
      printf ("reference: %ld bits, tol %g (%.2f s) confirmed by %ld bits, tol %g (%.2f s): "
              "at least %d agreed digits per quantity (reference.json)\n", (long) a.prec,
              a.tol, a.wall_seconds, (long) b.prec, b.tol, b.wall_seconds, ag.min_digits);
    }
  mv_ref_traj_clear (&a), mv_ref_traj_clear (&b);
  mv_ref_agreed_clear (&ag);
  free (times), free (vec);
  return s;
}
