/* Routing-variance regularizer (term.h; MATH.md §5,
 * proofs/specialization-regularizers.md):
 *   L_v = -E_x[ (1/(m-1)) Σ_i (π_i - π̄)^2 ],  π_i = π(v̄_i·x),
 *       = -R(1) + (2/(m(m-1))) Σ_{i<k} R(ρ_ik),  ρ_ik = G(v_i, v_k),
 * R(ρ) = E[π(A)π(C)] = Σ_n c_n^2 ρ^n / n! = F_{0,0}(ρ) (Mehler), the
 * series of the pair expectations (expect_priv.h): R' = F_{1,1},
 * R'' = F_{2,2}, R(1) = E[π^2] the self-pair constant F_{0,0}(1).
 * Truncation is bounded by the tables' verified envelope (|ρ|^N tail[N]).
 * m = 1: the variance over one expert is undefined; L_v = 0 by definition. */
#include "loss/loss_priv.h"
#include <moeverify/error.h>

#include <math.h>

/* indices of F_{0,0}, F_{1,1}, F_{2,2} in the series tables (all within
 * the first MV_NF_VAL) */
enum { VAR_F00 = 0, VAR_F11 = 2, VAR_F22 = 5 };

/* truncation target of the double path, as in expect.c */
#define VAR_LTARGET_D (-60 * M_LN2)

static int
var_rho (double *r, double x)
{
  if (!isfinite (x) || fabs (x) > 1.0 + MV_RHO_SLACK)
    return mv_error_set (MV_EDOM, "var: router correlation %g outside [-1, 1]", x);
  *r = fmax (-1.0, fmin (1.0, x));
  return MV_OK;
}

/* ------------------------------------------------------------ double path */

static int
var_gram_d (mv_loss_acc_d *acc, const double *G, const mv_loss_term_ctx *ctx)
{
  size_t m = ctx->m, n = ctx->n;
  if (m < 2)
    return MV_OK;
  const mv_expect_ws *ex = ctx->ws->ex;
  double cw = ctx->weight * (2.0 / ((double) m * (double) (m - 1)));
  double u = ldexp (1.0, -MV_PREC_DOUBLE);
  /* -w R(1) */
  double v0 = -ctx->weight * ex->F1d[VAR_F00];
  acc->L += v0;
  acc->abs_terms += fabs (v0);
  acc->err += fabs (ctx->weight) * ex->F1d_err + u * fabs (v0);
  acc->nsum += 1;
  for (size_t i = 0; i < m; i++)
    for (size_t k = i + 1; k < m; k++)
      {
        double r = 0, F[MV_NF_VAL], ltail;
        int s = var_rho (&r, G[i * n + k]);
        if (s)
          return s;
        unsigned N = mv_expect_series_d (F, &ltail, r, MV_NF_VAL, VAR_LTARGET_D, ex);
        /* truncation + coefficients + rounding of an N-term sum */
        double per = (2.0 * N + 80.0) * u + 2 * ex->coef_relerr_d, tail = exp (ltail);
        double v = cw * F[VAR_F00];
        acc->L += v;
        acc->abs_terms += fabs (v);
        acc->err += fabs (cw) * (tail + per * ex->wabs_i[VAR_F00]) + u * fabs (v);
        acc->nsum += 1;
        if (N > acc->max_terms)
          acc->max_terms = N;
        if (!acc->dLdG)
          continue;
        double d = cw * F[VAR_F11];
        acc->dLdG[i * n + k] += d;
        acc->errG[i * n + k] += fabs (cw) * (tail + per * ex->wabs_i[VAR_F11]) + u * fabs (d);
      }
  return MV_OK;
}

static int
var_hess_d (double *H, const double *G, const mv_loss_term_ctx *ctx)
{
  size_t m = ctx->m, n = ctx->n, nv = ctx->nvar;
  if (m < 2)
    return MV_OK;
  double cw = ctx->weight * (2.0 / ((double) m * (double) (m - 1)));
  for (size_t i = 0; i < m; i++)
    for (size_t k = i + 1; k < m; k++)
      {
        double r = 0, F[MV_NF_VAL], ltail;
        int s = var_rho (&r, G[i * n + k]);
        if (s)
          return s;
        mv_expect_series_d (F, &ltail, r, MV_NF_VAL, VAR_LTARGET_D, ctx->ws->ex);
        size_t a = mv_loss_var (ctx->ws, i, k);
        H[a * nv + a] += cw * F[VAR_F22];
      }
  return MV_OK;
}

/* ------------------------------------------------------------ MPFR path */

/* err += |c| (|r|^N tail[N] + per * wabs_i) + rounding of c * F */
static void
var_err (mv_mag *err, const mv_mag *tail, const mv_mag *per, double wabs,
         double c, mpfr_srcptr t)
{
  mv_mag a;
  mv_mag_mul_d (&a, per, wabs);
  mv_mag_add (&a, &a, tail);
  mv_mag_mul_d (&a, &a, fabs (c));
  mv_mag_add (err, err, &a);
  mv_mag_set_mpfr (&a, t);
  mv_mag_mul_2exp (&a, &a, 1 - (long) mpfr_get_prec (t));
  mv_mag_add (err, err, &a);
}

static int
var_gram_mpfr (mv_loss_acc *acc, mpfr_t *G, const mv_loss_term_ctx *ctx)
{
  size_t m = ctx->m, n = ctx->n;
  mv_expect_ws *ex = ctx->ws->ex;
  if (m < 2)
    return MV_OK;
  if (!ex->mp)
    return mv_error_set (MV_EINVAL, "var: tables built for the double path only");
  double cw = ctx->weight * (2.0 / ((double) m * (double) (m - 1)));
  mpfr_t F[MV_NF_VAL], r, t;
  for (int j = 0; j < MV_NF_VAL; j++)
    mpfr_init2 (F[j], ex->wp);
  mpfr_inits2 (ex->wp, r, t, (mpfr_ptr) 0);
  mv_mag per, tail, c2;
  mv_mag_mul_2exp (&c2, &ex->coef_relerr, 1);
  /* -w R(1) */
  mpfr_mul_d (t, ex->F1[VAR_F00], -ctx->weight, MPFR_RNDN);
  mv_mag_zero (&per);
  var_err (&acc->err, &ex->F1_err, &per, 0.0, ctx->weight, t);
  mpfr_add (acc->L, acc->L, t, MPFR_RNDN);
  acc->abs_terms += fabs (mpfr_get_d (t, MPFR_RNDA));
  acc->nsum += 1;
  int s = MV_OK;
  for (size_t i = 0; i < m && !s; i++)
    for (size_t k = i + 1; k < m && !s; k++)
      {
        double rd = mpfr_get_d (G[i * n + k], MPFR_RNDN), ltail;
        if ((s = var_rho (&rd, rd)))
          break;
        mpfr_set (r, G[i * n + k], MPFR_RNDN);
        if (mpfr_cmpabs_ui (r, 1) > 0)
          mpfr_set_si (r, mpfr_sgn (r), MPFR_RNDN);
        unsigned N = mv_expect_series (F, &ltail, r, MV_NF_VAL,
                                       -(ex->prec + 12.0) * M_LN2, ex);
        mv_mag_set_exp (&tail, ltail);
        mv_mag_set_d_2exp (&per, 2.0 * N + 80.0, -(long) ex->wp);
        mv_mag_add (&per, &per, &c2);
        mpfr_mul_d (t, F[VAR_F00], cw, MPFR_RNDN);
        var_err (&acc->err, &tail, &per, ex->wabs_i[VAR_F00], cw, t);
        mpfr_add (acc->L, acc->L, t, MPFR_RNDN);
        acc->abs_terms += fabs (mpfr_get_d (t, MPFR_RNDA));
        acc->nsum += 1;
        if (N > acc->max_terms)
          acc->max_terms = N;
        if (!acc->dLdG)
          continue;
        mpfr_mul_d (t, F[VAR_F11], cw, MPFR_RNDN);
        var_err (&acc->errG[i * n + k], &tail, &per, ex->wabs_i[VAR_F11], cw, t);
        mpfr_add (acc->dLdG[i * n + k], acc->dLdG[i * n + k], t, MPFR_RNDN);
      }
  for (int j = 0; j < MV_NF_VAL; j++)
    mpfr_clear (F[j]);
  mpfr_clears (r, t, (mpfr_ptr) 0);
  return s;
}

/* ------------------------------------------------------------ per sample */

/* -(1/(m-1)) Σ_i (π_i - π̄)^2 and its router partials
 * -(2/(m-1)) (π_j - π̄) π'(a_j) (the π̄ term drops: Σ_i (π_i - π̄) = 0). */
static int
var_sample_d (double *val, double *D, size_t ldd, const double *P,
              size_t ldp, const double *eps, size_t b,
              const mv_loss_term_ctx *ctx)
{
  (void) eps;
  size_t m = ctx->m;
  if (m < 2)
    return MV_OK;
  double *pi = ctx->work, c = ctx->weight / (double) (m - 1);
  for (size_t s = 0; s < b; s++)
    {
      const double *a = P + s * ldp;
      double mean = 0, sq = 0;
      for (size_t i = 0; i < m; i++)
        mean += (pi[i] = 1.0 / (1.0 + exp (-a[i])));
      mean /= (double) m;
      for (size_t i = 0; i < m; i++)
        sq += (pi[i] - mean) * (pi[i] - mean);
      val[s] -= c * sq;
      if (!D)
        continue;
      for (size_t j = 0; j < m; j++)
        D[s * ldd + j] -= 2.0 * c * (pi[j] - mean) * pi[j] * (1.0 - pi[j]);
    }
  return MV_OK;
}

static const mv_loss_term_type var_type = {
  "var", var_gram_d, var_gram_mpfr, var_hess_d, var_sample_d
};
const mv_loss_term_type *mv_loss_term_var = &var_type;
