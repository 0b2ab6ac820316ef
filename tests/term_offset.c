/* Test-fixture loss term (throw-away; shows that a new term is one file plus
 * one mv_loss_add_term): value = C0 + C2 sum_{i<k} G(w_i, w_k)^2 over the
 * student expert pairs, with its Gram gradient, MPFR path and Hessian; no
 * per-sample form (it depends on the parameters, not on x). */
#include <math.h>
#include <moeverify/moeverify.h>

const double mv_test_offset_c0 = 0.375, mv_test_offset_c2 = 1.25;
#define C0 mv_test_offset_c0
#define C2 mv_test_offset_c2

static int
offset_gram_d (mv_loss_acc_d *acc, const double *G, const mv_loss_term_ctx *ctx)
{
  size_t m = ctx->m, n = ctx->n;
  double w = ctx->weight, q = 0;
  for (size_t i = 0; i < m; i++)
    for (size_t k = i + 1; k < m; k++)
      {
        size_t e = (m + i) * n + m + k;
        q += G[e] * G[e];
        if (!acc->dLdG)
          continue;
        double g = w * (2.0 * C2 * G[e]);
        acc->dLdG[e] += g;                      /* one triangle entry */
        acc->errG[e] += ldexp (fabs (g), -51);  /* two roundings */
      }
  double v = w * (C0 + C2 * q), np = m * (m - 1) / 2.0;
  acc->L += v;
  acc->abs_terms += fabs (v);
  acc->nsum += 1;
  /* np squares and sums, then C2 q, + C0, * w: (2 np + 3) roundings */
  acc->err += (2 * np + 4) * ldexp (fabs (w) * (C0 + C2 * q), -53);
  return MV_OK;
}

static int
offset_gram_mpfr (mv_loss_acc *acc, mpfr_t *G, const mv_loss_term_ctx *ctx)
{
  size_t m = ctx->m, n = ctx->n;
  double w = ctx->weight, np = m * (m - 1) / 2.0;
  mpfr_t q, t;
  mpfr_inits2 (ctx->wp, q, t, (mpfr_ptr) 0);
  mpfr_set_zero (q, 1);
  for (size_t i = 0; i < m; i++)
    for (size_t k = i + 1; k < m; k++)
      {
        size_t e = (m + i) * n + m + k;
        mpfr_fma (q, G[e], G[e], q, MPFR_RNDN);
        if (!acc->dLdG)
          continue;
        mpfr_mul_d (t, G[e], 2.0 * C2 * w, MPFR_RNDN);
        mpfr_add (acc->dLdG[e], acc->dLdG[e], t, MPFR_RNDN);
        mv_mag r;
        mv_mag_set_d_2exp (&r, 2.0 * C2 * w * mpfr_get_d (G[e], MPFR_RNDA),
                           -(long) ctx->wp + 2);
        mv_mag_add (&acc->errG[e], &acc->errG[e], &r);
      }
  mpfr_mul_d (t, q, C2, MPFR_RNDN);
  mpfr_add_d (t, t, C0, MPFR_RNDN);
  mpfr_mul_d (t, t, w, MPFR_RNDN);
  mpfr_add (acc->L, acc->L, t, MPFR_RNDN);
  double v = fabs (mpfr_get_d (t, MPFR_RNDA));
  acc->abs_terms += v;
  acc->nsum += 1;
  mv_mag r;
  mv_mag_set_d_2exp (&r, (np + 4) * v, -(long) ctx->wp + 1);
  mv_mag_add (&acc->err, &acc->err, &r);
  mpfr_clears (q, t, (mpfr_ptr) 0);
  return MV_OK;
}

/* d2/dG_ik^2 = 2 C2 on each expert pair variable, nothing else. */
static int
offset_hess_d (double *H, const double *G, const mv_loss_term_ctx *ctx)
{
  (void) G;
  size_t m = ctx->m;
  for (size_t i = 0; i < m; i++)
    for (size_t k = i + 1; k < m; k++)
      {
        size_t a = mv_loss_var (ctx->ws, m + i, m + k);
        H[a * ctx->nvar + a] += ctx->weight * 2.0 * C2;
      }
  return MV_OK;
}

static const mv_loss_term_type offset_type = {
  "test-offset", offset_gram_d, offset_gram_mpfr, offset_hess_d, NULL
};
const mv_loss_term_type *mv_test_term_offset = &offset_type;
