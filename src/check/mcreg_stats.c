/* Population statistics of the regularizer Monte Carlo (mcreg.h) from the
 * per-batch sums of mcreg.c.
 *
 * Linear quantities (the moments M_ik, L_v) are sample means: value = total
 * / N, standard error by batch means, as mc.c.
 *
 * L_o, L_o_gated, L_aux and the cosines are smooth functions theta(mu) of
 * a vector of means.  The plug-in theta(mean) has bias
 * ½ tr(∇²theta Cov)/N = O(1/N) (for M_ik² it is Var(e_i e_k)/N, of the
 * size of the square itself where M_ik is small).  Why the jackknife over
 * the B batch sums rather than the analytic delta method or independent
 * halves:
 *  - the leave-one-batch-out estimates theta_(-b) give the bias estimate
 *    (B - 1)(mean theta_(-b) - theta) whose subtraction leaves O(1/N²)
 *    (for a product or square of means the corrected value is exactly
 *    unbiased when the batches are equal), and the standard error
 *    sqrt((B-1)/B Σ (theta_(-b) - mean)²), which to first order IS the
 *    delta-method error ∇theta·Cov·∇theta/N without writing the gradient of
 *    every ratio by hand;
 *  - independent halves (M^(1)_ik M^(2)_ik) make the numerator of L_o
 *    unbiased but not the ratio, and discard the cross-half products.
 * Near theta's zeros (orthogonal experts, M_ik = 0) no first-order rule
 * holds: the square of a mean is then a scaled chi-squared, not Gaussian.
 * The cosines M_ik / sqrt(M_ii M_kk) stay asymptotically Gaussian there;
 * proofs/monte-carlo.md says how to test such a point. */
#include "check/mcreg_priv.h"
#include <moeverify/error.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

void
mv_mcreg_layout (mcreg_layout *l, size_t m)
{
  l->m = m;
  l->nt = m * (m + 1) / 2;
  l->o_hh = 0;
  l->o_gg = l->nt;
  l->o_ind = 2 * l->nt;
  l->o_p = l->o_ind + m;
  l->o_var = l->o_p + m;
  l->K = l->o_var + 1;
}

double
mv_mcreg_ortho (const double *S, size_t m)
{
  double s = 0;
  for (size_t i = 0; i < m; i++)
    for (size_t k = i + 1; k < m; k++)
      {
        double c = S[mv_mcreg_tri (m, i, k)];
        s += c * c / (S[mv_mcreg_tri (m, i, i)] * S[mv_mcreg_tri (m, k, k)]);
      }
  return 2 * s;   /* (i, k) and (k, i) */
}

double
mv_mcreg_aux (const double *S, double n, const mcreg_layout *l)
{
  double s = 0;
  for (size_t i = 0; i < l->m; i++)
    s += (S[l->o_ind + i] / n) * (S[l->o_p + i] / n);
  return (double) l->m * s;
}

/* The nonlinear statistics of one sums vector S over n samples, into t:
 * [ortho, ortho_gated, aux, cos (m x m), cos_g (m x m)]. */
static void
nonlinear (double *t, const double *S, double n, const mcreg_layout *l)
{
  const size_t m = l->m;
  const double *hh = S + l->o_hh, *gg = S + l->o_gg;
  t[0] = mv_mcreg_ortho (hh, m);
  t[1] = mv_mcreg_ortho (gg, m);
  t[2] = mv_mcreg_aux (S, n, l);
  double *c = t + 3, *cg = t + 3 + m * m;
  for (size_t i = 0; i < m; i++)
    for (size_t k = 0; k < m; k++)
      {
        size_t a = i <= k ? mv_mcreg_tri (m, i, k) : mv_mcreg_tri (m, k, i);
        size_t ii = mv_mcreg_tri (m, i, i), kk = mv_mcreg_tri (m, k, k);
        c[i * m + k] = hh[a] / sqrt (hh[ii] * hh[kk]);
        cg[i * m + k] = gg[a] / sqrt (gg[ii] * gg[kk]);
      }
}

/* Means and batch-means standard errors of the linear entries. */
static int
linear (mv_mcreg_result *r, const double *Sb, const size_t *nb, size_t B,
        double N, const double *Stot, const mcreg_layout *l)
{
  const size_t m = l->m, K = l->K;
  /* mean of the batch means and their scatter, per entry (Welford) */
  double *mean = calloc (K, sizeof *mean), *scat = calloc (K, sizeof *scat);
  int st = MV_OK;
  if (!mean || !scat)
    {
      st = mv_error_set (MV_ENOMEM, "mc regularizers: out of memory");
      goto out;
    }
  for (size_t b = 0; b < B; b++)
    for (size_t j = 0; j < K; j++)
      {
        double y = Sb[b * K + j] / (double) nb[b], dl = y - mean[j];
        mean[j] += dl / (double) (b + 1);
        scat[j] += dl * (y - mean[j]);
      }
  const double vs = 1.0 / ((double) B * (double) (B - 1));
  for (size_t i = 0; i < m; i++)
    for (size_t k = 0; k < m; k++)
      {
        size_t a = i <= k ? mv_mcreg_tri (m, i, k) : mv_mcreg_tri (m, k, i);
        r->mom[i * m + k] = Stot[l->o_hh + a] / N;
        r->mom_se[i * m + k] = sqrt (scat[l->o_hh + a] * vs);
        r->mom_g[i * m + k] = Stot[l->o_gg + a] / N;
        r->mom_g_se[i * m + k] = sqrt (scat[l->o_gg + a] * vs);
      }
  if (m >= 2)
    {
      r->var.value = -Stot[l->o_var] / N;
      r->var.se = sqrt (scat[l->o_var] * vs);
    }
out:
  free (mean);
  free (scat);
  return st;
}

int
mv_mcreg_population (mv_mcreg_result *r, const double *Sb, const size_t *nb,
                     size_t B, const mcreg_layout *l)
{
  const size_t m = l->m, K = l->K, J = 3 + 2 * m * m;
  double *Stot = calloc (K, sizeof *Stot), *Sl = malloc (K * sizeof *Sl);
  double *th = malloc (J * sizeof *th), *tj = malloc (J * sizeof *tj);
  double *tbar = calloc (J, sizeof *tbar), *tsc = calloc (J, sizeof *tsc);
  int st = MV_OK;
  if (!Stot || !Sl || !th || !tj || !tbar || !tsc)
    {
      st = mv_error_set (MV_ENOMEM, "mc regularizers: out of memory");
      goto out;
    }
  double N = 0;
  for (size_t b = 0; b < B; b++)
    {
      N += (double) nb[b];
      for (size_t j = 0; j < K; j++)
        Stot[j] += Sb[b * K + j];
    }
  if ((st = linear (r, Sb, nb, B, N, Stot, l)))
    goto out;
  /* jackknife: leave batch b out; mean and scatter of the B
     leave-one-out values by Welford's update (O(J) memory) */
  nonlinear (th, Stot, N, l);
  for (size_t b = 0; b < B; b++)
    {
      for (size_t j = 0; j < K; j++)
        Sl[j] = Stot[j] - Sb[b * K + j];
      nonlinear (tj, Sl, N - (double) nb[b], l);
      for (size_t j = 0; j < J; j++)
        {
          double dl = tj[j] - tbar[j];
          tbar[j] += dl / (double) (b + 1);
          tsc[j] += dl * (tj[j] - tbar[j]);
        }
    }
  const double Bd = (double) B;
  for (size_t j = 0; j < J; j++)
    {
      double s2 = tsc[j];
      double bias = (Bd - 1) * (tbar[j] - th[j]);
      double val = th[j] - bias, se = sqrt ((Bd - 1) / Bd * s2);
      mv_mc_stat *dst = j == 0 ? &r->ortho : j == 1 ? &r->ortho_gated
        : j == 2 ? &r->aux : NULL;
      if (dst)
        {
          dst->value = val, dst->se = se;
          *(j == 0 ? &r->ortho_bias : j == 1 ? &r->ortho_gated_bias
            : &r->aux_bias) = bias;
        }
      else if (j < 3 + m * m)
        r->cos[j - 3] = val, r->cos_se[j - 3] = se;
      else
        r->cos_g[j - 3 - m * m] = val, r->cos_g_se[j - 3 - m * m] = se;
    }
out:
  free (Stot), free (Sl), free (th), free (tj), free (tbar), free (tsc);
  return st;
}
