/* The regression check (regress.h): recompute a reference trajectory with
 * the fast path and compare every value within its group's tolerance. */
#include "regress/regress_priv.h"

#include <moeverify/error.h>
#include <moeverify/io.h>
#include <moeverify/problem.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
group_of (size_t col)
{
  return col == 0 ? MV_REGRESS_LOSS : col == 1 ? MV_REGRESS_GRAD2 : MV_REGRESS_GRAM;
}

static double
ratio (const mv_regress_dev *d)
{
  return d->tol > 0 ? d->dev / d->tol : d->dev > 0 ? INFINITY : 0;
}

/* Keep the nworst largest ratios, largest first (insertion). */
static void
keep_worst (mv_regress_result *res, const mv_regress_dev *d)
{
  size_t n = res->nworst, cap = sizeof res->worst / sizeof res->worst[0];
  if (n == cap && !(ratio (d) > ratio (&res->worst[n - 1])))
    return;
  size_t k = n < cap ? n++ : n - 1;
  while (k > 0 && ratio (d) > ratio (&res->worst[k - 1]))
    res->worst[k] = res->worst[k - 1], k--;
  res->worst[k] = *d;
  res->nworst = n;
}

int
mv_regress_compare (mv_regress_result *res, const mv_regress_file *r, const mv_traj *tr)
{
  memset (res, 0, sizeof *res);
  for (int g = 0; g < MV_REGRESS_NGROUP; g++)
    res->worst_group[g].col = (size_t) -1;
  if (tr->rows != r->nrows || tr->m != r->m || tr->mstar != r->mstar)
    return mv_error_set (MV_EINVAL, "%s: the computed trajectory has %zu rows for m = %zu, "
                         "m* = %zu; the reference %zu rows for %zu, %zu", r->name, tr->rows,
                         tr->m, tr->mstar, r->nrows, r->m, r->mstar);
  for (size_t i = 0; i < r->nrows; i++)
    {
      if (tr->t[i] != r->t[i])
        return mv_error_set (MV_EINVAL, "%s: row %zu computed at t = %.17g, reference t = "
                             "%.17g", r->name, i, tr->t[i], r->t[i]);
      const double *G = mv_traj_gram (tr, i);
      for (size_t c = 0; c < r->ncols; c++)
        {
          double got = c == 0 ? tr->loss[i] : c == 1 ? tr->grad2[i]
                       : G[r->kl[2 * (c - 2)] * tr->n + r->kl[2 * (c - 2) + 1]];
          double ref = r->val[i * r->ncols + c];
          const mv_regress_tol *tl = &r->tol[group_of (c)];
          mv_regress_dev d = { i, c, r->t[i], ref, got, fabs (got - ref), tl->abs + tl->rel * fabs (ref) };
          if (isnan (d.dev))
            d.dev = INFINITY;
          res->nvalues++;
          res->nviolations += !(d.dev <= d.tol);
          keep_worst (res, &d);
          mv_regress_dev *w = &res->worst_group[group_of (c)];
          if (w->col == (size_t) -1 || ratio (&d) > ratio (w))
            *w = d;
        }
    }
  return MV_OK;
}

/* The fast path: the reduced flow from the spec's G(0), or the full flow
 * of its vectors, with output at the reference's times. */
static int
fast_run (mv_traj *tr, const mv_regress_file *r, double rtol, double atol)
{
  mv_problem pb;
  int s = mv_problem_parse (&pb, r->spec_json, r->name);
  if (s)
    return s;
  size_t n = 2 * (pb.m + pb.mstar);
  double *G = malloc (n * n * sizeof *G), *nr = malloc (n * sizeof *nr);
  if (!G || !nr)
    s = mv_error_set (MV_ENOMEM, "%s: out of memory", r->name);
  if (!s && !(s = mv_traj_init (tr, pb.m, pb.mstar)))
    s = mv_flow_gram0 (G, nr, tr->init, sizeof tr->init, &pb, r->gram0);
  if (!s)
    {
      mv_flow_params p;
      mv_flow_params_default (&p);
      p.stepper = r->stepper, p.rtol = rtol, p.atol = atol;
      p.t_end = r->nrows > 1 ? r->t[r->nrows - 1] : 1;
      p.times = r->t + 1, p.n_times = r->nrows - 1;
      p.reg = &pb.reg;
      s = r->full ? mv_flow_full (tr, &pb, &p)
          : mv_flow_reduced (tr, G, nr, pb.m, pb.mstar, pb.noise_var, &p);
      if (!s && r->nrows == 1)   /* only t = 0: the rest is not compared */
        tr->rows = 1;
    }
  free (G), free (nr);
  mv_problem_clear (&pb);
  return s;
}

int
mv_regress_check_tol (mv_regress_result *res, const mv_regress_file *r, double rtol,
                      double atol)
{
  double t0 = mv_io_now ();
  mv_traj tr;
  memset (&tr, 0, sizeof tr);
  int s = fast_run (&tr, r, rtol, atol);
  if (s)
    mv_error_prefix (r->name);
  else
    s = mv_regress_compare (res, r, &tr);
  if (tr.cross)
    mv_traj_clear (&tr);
  if (!s)
    res->wall_seconds = mv_io_now () - t0;
  return s;
}

int
mv_regress_check (mv_regress_result *res, const mv_regress_file *r)
{
  return mv_regress_check_tol (res, r, r->rtol, r->atol);
}
