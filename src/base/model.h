/* The model kernel shared by Monte Carlo and SGD (MATH.md §1): the mixture
 * f = sum_i pi(a_i) He3(b_i) and its partials with respect to the unit
 * projections a_i = vbar_i.x, b_i = wbar_i.x, for a batch of samples.
 * Projections come raw (x.u_k) with the inverse norms 1/|u_k|, so callers
 * never normalise the batch. */
#ifndef MV_BASE_MODEL_H
#define MV_BASE_MODEL_H

#include <math.h>
#include <stddef.h>

/* pi(z) = 1/(1+e^-z), He3(z) = z^3 - 3z */
static inline double
mv_model_pi (double z)
{
  return 1.0 / (1.0 + exp (-z));
}

static inline double
mv_model_he3 (double z)
{
  return z * (z * z - 3.0);
}

/* For each sample s < b (row P + s * ldp) with k experts whose router
 * projections are P[0..k) and expert projections P[k..2k), scaled by
 * inv[0..2k) (NULL: already unit):
 *   f[s] = sum_{i<k} pi(a_i) He3(b_i)             (f may be NULL)
 *   D[s * ldd + i]     = df/da_i = pi'(a_i) He3(b_i)   (D may be NULL)
 *   D[s * ldd + k + i] = df/db_i = pi(a_i) He3'(b_i)
 * The sum over i runs in order from 0. */
void mv_model_eval (double *f, double *D, size_t ldd, const double *P,
                    size_t ldp, const double *inv, size_t b, size_t k);

/* The chain rule through per-sample weights that depend on f (a loss
 * term's dl/df), in two passes and one exp per expert and sample:
 * mv_model_factors writes f (may be NULL) and the factors
 * D[s * ldd + i] = pi(a_i), D[s * ldd + k + i] = He3(b_i); then
 * mv_model_weigh turns them in place into w_s df/da_i, w_s df/db_i with
 * w_s = wt[s] (wt NULL: 1), formed as ((w pi) (1 - pi)) He3 and
 * ((w pi) 3) (b^2 - 1): the order of the historical SGD and Monte-Carlo
 * loops (w = 1 gives the bits of mv_model_eval).  P, ldp, inv, b, k as
 * for mv_model_eval and the same in both calls. */
void mv_model_factors (double *f, double *D, size_t ldd, const double *P,
                       size_t ldp, const double *inv, size_t b, size_t k);
void mv_model_weigh (double *D, size_t ldd, const double *P, size_t ldp,
                     const double *inv, const double *wt, size_t b,
                     size_t k);

/* Name and 1-based index of parameter vector a of the list v_1..v_m,
 * w_1..w_m, v*_1..v*_m*, w*_1..w*_m* (for error messages). */
const char *mv_model_vec_name (size_t a, size_t m, size_t mstar, size_t *idx);

#endif
