/* Arrays of MPFR values (the MPFR paths of the loss, flows, reference
 * integrator, problems): n values at one precision, set to +0. */
#ifndef MV_BASE_MPFR_VEC_H
#define MV_BASE_MPFR_VEC_H

#include <stdlib.h>
#include <mpfr.h>

/* NULL when out of memory; n = 0 gives a valid empty array. */
static inline mpfr_t *
mv_mpfr_vec_new (size_t n, mpfr_prec_t prec)
{
  mpfr_t *v = malloc ((n ? n : 1) * sizeof *v);
  if (v)
    for (size_t i = 0; i < n; i++)
      mpfr_init2 (v[i], prec), mpfr_set_zero (v[i], 1);
  return v;
}

/* v may be NULL. */
static inline void
mv_mpfr_vec_free (mpfr_t *v, size_t n)
{
  if (v)
    for (size_t i = 0; i < n; i++)
      mpfr_clear (v[i]);
  free (v);
}

#endif
