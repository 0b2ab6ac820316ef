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

/* For each sample s < b (row P + s * ldp): f[s] = sum_{i<k} pi(a_i) He3(b_i)
 * over k experts whose router projections are P[0..k), expert projections
 * P[k..2k), scaled by inv[0..2k) (NULL: already unit).  When D is not
 * NULL, D[s * ldd + i] = df/da_i = pi'(a_i) He3(b_i) and
 * D[s * ldd + k + i] = df/db_i = pi(a_i) He3'(b_i). */
void mv_model_eval (double *f, double *D, size_t ldd, const double *P,
                    size_t ldp, const double *inv, size_t b, size_t k);

#endif
