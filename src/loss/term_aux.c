/* Load-balancing regularizer under soft routing (term.h; MATH.md §5,
 * proofs/specialization-regularizers.md): L_aux = m Σ_i f_i P_i with
 * f_i = P(v̄_i·x > 0) and P_i = E[π(v̄_i·x)].  v̄_i·x ~ N(0,1) is symmetric
 * and π(z) - ½ is odd, so f_i = P_i = ½ for every router: L_aux = m²/4, a
 * constant with zero gradient and Hessian in this model.  No per-sample
 * form (a product of population means). */
#include "loss/loss_priv.h"
#include <moeverify/error.h>

#include <math.h>

/* m^2/4 is exact in double (m < 2^26); weight * it is one rounding */
static double
aux_value (const mv_loss_term_ctx *ctx)
{
  double m = (double) ctx->m;
  return ctx->weight * (0.25 * (m * m));
}

static int
aux_gram_d (mv_loss_acc_d *acc, const double *G, const mv_loss_term_ctx *ctx)
{
  (void) G;
  double v = aux_value (ctx);
  acc->L += v;
  acc->abs_terms += fabs (v);
  acc->err += ldexp (fabs (v), -MV_PREC_DOUBLE);
  acc->nsum += 1;
  return MV_OK;
}

static int
aux_gram_mpfr (mv_loss_acc *acc, mpfr_t *G, const mv_loss_term_ctx *ctx)
{
  (void) G;
  mpfr_t t;
  mv_mag e;
  mpfr_init2 (t, ctx->wp);
  mpfr_set_ui (t, (unsigned long) ctx->m, MPFR_RNDN);
  mpfr_sqr (t, t, MPFR_RNDN);
  mpfr_div_2ui (t, t, 2, MPFR_RNDN);
  mpfr_mul_d (t, t, ctx->weight, MPFR_RNDN);
  mv_mag_set_mpfr (&e, t);
  mv_mag_mul_2exp (&e, &e, 1 - (long) ctx->wp);
  mv_mag_add (&acc->err, &acc->err, &e);
  mpfr_add (acc->L, acc->L, t, MPFR_RNDN);
  acc->abs_terms += fabs (mpfr_get_d (t, MPFR_RNDA));
  acc->nsum += 1;
  mpfr_clear (t);
  return MV_OK;
}

static const mv_loss_term_type aux_type = {
  "aux", aux_gram_d, aux_gram_mpfr, NULL, NULL
};
const mv_loss_term_type *mv_loss_term_aux = &aux_type;
