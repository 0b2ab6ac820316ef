/* Ungated orthogonality regularizer (term.h; MATH.md §5,
 * proofs/specialization-regularizers.md): with e_i(x) = He3(w̄_i·x),
 * <e_i,e_k> = 6 (w̄_i·w̄_k)^3 and ||e_i||^2 = 6 (Mehler), so
 *   L_o = Σ_{i≠k} <e_i,e_k>^2 / (||e_i||^2 ||e_k||^2) = 2 Σ_{i<k} g_ik^6,
 * g_ik = G(w_i, w_k).  A polynomial in G: value, dL/dG and Hessian are
 * exact up to rounding.  No per-sample form (a ratio of expectations). */
#include "loss/loss_priv.h"
#include <moeverify/error.h>

#include <math.h>

/* roundings of one g^6 (five products and the weight), with slack */
#define ORTHO_ROUND 8.0

static int
ortho_gram_d (mv_loss_acc_d *acc, const double *G, const mv_loss_term_ctx *ctx)
{
  size_t m = ctx->m, n = ctx->n;
  double w2 = 2.0 * ctx->weight, u = ldexp (ORTHO_ROUND, -MV_PREC_DOUBLE);
  for (size_t i = 0; i < m; i++)
    for (size_t k = i + 1; k < m; k++)
      {
        size_t e = (m + i) * n + (m + k);
        double g = G[e], g2 = g * g, g5 = g2 * g2 * g, v = w2 * (g5 * g);
        acc->L += v;
        acc->abs_terms += fabs (v);
        acc->err += u * fabs (v);
        acc->nsum += 1;
        if (acc->dLdG)
          {
            double d = w2 * g5 * 6.0;
            acc->dLdG[e] += d;
            acc->errG[e] += u * fabs (d);
          }
      }
  return MV_OK;
}

static int
ortho_hess_d (double *H, const double *G, const mv_loss_term_ctx *ctx)
{
  size_t m = ctx->m, n = ctx->n, nv = ctx->nvar;
  for (size_t i = 0; i < m; i++)
    for (size_t k = i + 1; k < m; k++)
      {
        double g = G[(m + i) * n + (m + k)], g2 = g * g;
        size_t a = mv_loss_var (ctx->ws, m + i, m + k);
        H[a * nv + a] += 60.0 * ctx->weight * (g2 * g2);
      }
  return MV_OK;
}

/* r += j c x^p (one rounding for the power, one each for c and the integer
 * j, one for the sum; j is applied in MPFR so that the gradient is exactly
 * 6 times the value's coefficient); the radius of the first three goes to
 * *err. */
static void
add_pow (mpfr_ptr r, mv_mag *err, mpfr_srcptr x, unsigned long p, double c,
         unsigned long j, mpfr_ptr t)
{
  mv_mag a;
  mpfr_pow_ui (t, x, p, MPFR_RNDN);
  mpfr_mul_d (t, t, c, MPFR_RNDN);
  mpfr_mul_ui (t, t, j, MPFR_RNDN);
  mv_mag_set_mpfr (&a, t);
  mv_mag_mul_2exp (&a, &a, 2 - (long) mpfr_get_prec (t));
  mv_mag_add (err, err, &a);
  mpfr_add (r, r, t, MPFR_RNDN);
}

static int
ortho_gram_mpfr (mv_loss_acc *acc, mpfr_t *G, const mv_loss_term_ctx *ctx)
{
  size_t m = ctx->m, n = ctx->n;
  double w2 = 2.0 * ctx->weight;
  mpfr_t t;
  mpfr_init2 (t, ctx->wp);
  for (size_t i = 0; i < m; i++)
    for (size_t k = i + 1; k < m; k++)
      {
        size_t e = (m + i) * n + (m + k);
        add_pow (acc->L, &acc->err, G[e], 6, w2, 1, t);
        acc->abs_terms += fabs (mpfr_get_d (t, MPFR_RNDA));
        acc->nsum += 1;
        if (acc->dLdG)
          add_pow (acc->dLdG[e], &acc->errG[e], G[e], 5, w2, 6, t);
      }
  mpfr_clear (t);
  return MV_OK;
}

static const mv_loss_term_type ortho_type = {
  "ortho", ortho_gram_d, ortho_gram_mpfr, ortho_hess_d, NULL
};
const mv_loss_term_type *mv_loss_term_ortho = &ortho_type;
