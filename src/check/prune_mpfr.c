/* Claim 7 far below double precision: the pruned model fine-tuned by the
 * MPFR reference integrator (reference.h), its distance to the exact
 * optimum G* computed in MPFR (G*'s entries are doubles, the teacher block
 * of the pruned state, so the difference is exact before rounding), and
 * the decay rate of that distance fitted where double precision cannot
 * see it. */
#include "check/prune.h"

#include <moeverify/error.h>
#include <moeverify/reference.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <gsl/gsl_fit.h>

/* max over the free entries of |G(t) - G*| at row r, rounded to double
 * after the subtraction (kl: the state's (k, l) pairs). */
static double
distance (const mv_ref_traj *tr, size_t r, const double *Gs, const size_t *kl, mpfr_t d)
{
  double mx = 0;
  size_t q = tr->n;
  for (size_t v = 0; v < tr->nvar; v++)
    {
      mpfr_sub_d (d, mv_ref_traj_get (tr, r, v), Gs[kl[2 * v] * q + kl[2 * v + 1]], MPFR_RNDN);
      mx = fmax (mx, fabs (mpfr_get_d (d, MPFR_RNDU)));
    }
  return mx;
}

/* The state's free entries (k < l, k a student), row-major. */
static void
state_pairs (size_t *kl, size_t n, size_t nst)
{
  size_t v = 0;
  for (size_t k = 0; k < nst; k++)
    for (size_t l = k + 1; l < n; l++, v++)
      kl[2 * v] = k, kl[2 * v + 1] = l;
}

int
mv_prune_mpfr_rate (mv_prune_mpfr *out, const double *Gp, const double *norms,
                    const double *Gs, size_t ms, double t_end, double dt, double lo,
                    double hi, mpfr_prec_t prec)
{
  size_t nt = (size_t) (t_end / dt), nv = MV_PRUNE_NV (ms);
  double *times = malloc (nt * sizeof *times), *x = malloc ((nt + 1) * sizeof *x);
  double *y = malloc ((nt + 1) * sizeof *y);
  size_t *kl = malloc (2 * nv * sizeof *kl), n = 0;
  mv_ref_traj tr;
  memset (&tr, 0, sizeof tr);
  *out = (mv_prune_mpfr) { NAN, NAN, NAN, 0, 0, 0 };
  int s = times && x && y && kl ? MV_OK : mv_error_set (MV_ENOMEM, "prune: out of memory");
  if (!s)
    {
      for (size_t k = 0; k < nt; k++)
        times[k] = (double) (k + 1) * dt;
      state_pairs (kl, 4 * ms, 2 * ms);
      mv_ref_params p;
      mv_ref_params_default (&p);
      p.prec = prec, p.tol = pow (2, -0.9 * (double) prec), p.times = times, p.n_times = nt;
      double w0 = clock () / (double) CLOCKS_PER_SEC;
      s = mv_ref_reduced (&tr, Gp, norms, ms, ms, 0.0, &p);
      out->cpu_seconds = clock () / (double) CLOCKS_PER_SEC - w0;
    }
  if (!s)
    {
      mpfr_t d;
      mpfr_init2 (d, prec);
      out->dmin = INFINITY;
      for (size_t r = 0; r < tr.rows; r++)
        {
          double dist = distance (&tr, r, Gs, kl, d);
          out->dmin = fmin (out->dmin, dist);
          if (dist > lo && dist < hi)
            x[n] = tr.t[r], y[n++] = log (dist);
        }
      mpfr_clear (d);
      double c0, c1, cov00, cov01, cov11, ss;
      if (n >= 3 && !gsl_fit_linear (x, 1, y, 1, n, &c0, &c1, &cov00, &cov01, &cov11, &ss))
        out->rate = -c1, out->rms = sqrt (ss / (double) n);
      out->rows = n, out->steps = tr.steps;
    }
  mv_ref_traj_clear (&tr);
  free (times), free (x), free (y), free (kl);
  return s;
}
