/* The label-noise constant (term.h): y = f*(x) + eps, eps ~ N(0, s^2),
 * adds s^2/2 to L and nothing to its derivatives (MATH.md §1). */
#include "loss/loss_priv.h"
#include <moeverify/error.h>

#include <math.h>

/* weight * (s^2/2): exact for weight 1; otherwise one rounding. */
static int
noise_gram_d (mv_loss_acc_d *acc, const double *G, const mv_loss_term_ctx *ctx)
{
  (void) G;
  double v = ctx->weight * (0.5 * ctx->noise_var);
  acc->L += v;
  acc->abs_terms += fabs (v);
  acc->nsum += 1;
  if (ctx->weight != 1.0)
    acc->err += ldexp (fabs (v), -MV_PREC_DOUBLE);
  return MV_OK;
}

static int
noise_gram_mpfr (mv_loss_acc *acc, mpfr_t *G, const mv_loss_term_ctx *ctx)
{
  (void) G;
  double v = ctx->weight * (0.5 * ctx->noise_var);
  mpfr_add_d (acc->L, acc->L, v, MPFR_RNDN);
  acc->abs_terms += fabs (v);
  acc->nsum += 1;
  if (ctx->weight != 1.0)
    {
      mv_mag t;
      mv_mag_set_d_2exp (&t, v, -MV_PREC_DOUBLE);
      mv_mag_add (&acc->err, &acc->err, &t);
    }
  return MV_OK;
}

/* No hess_d (zero) and no sample_d: per sample the noise is the eps in the
 * data-fit residual f - f* - eps, and E[eps^2]/2 is this term. */
static const mv_loss_term_type noise_type = {
  "noise", noise_gram_d, noise_gram_mpfr, NULL, NULL
};
const mv_loss_term_type *mv_loss_term_noise = &noise_type;
