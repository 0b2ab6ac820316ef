/* Probabilists' Hermite polynomials and the Hermite coefficients of the
 * logistic sigmoid,  c_k = E[pi(z) He_k(z)],  z ~ N(0,1)  (MATH.md §2). */
#ifndef MOEVERIFY_HERMITE_H
#define MOEVERIFY_HERMITE_H

#include <stddef.h>
#include <mpfr.h>
#include <moeverify/mag.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Target precisions accepted everywhere (bits).  MV_PREC_DOUBLE selects the
 * double-precision fast paths.  Working precisions add guard bits to the
 * target, up to MV_PREC_WORK_MAX. */
#define MV_PREC_DOUBLE 53
#define MV_PREC_MIN MV_PREC_DOUBLE
#define MV_PREC_MAX 2048
#define MV_PREC_WORK_MAX (MV_PREC_MAX + 64)

/* He_0(x) .. He_kmax(x) by the three-term recurrence. */
void mv_hermite_all_d (double *he, unsigned kmax, double x);
void mv_hermite_all (mpfr_t *he, unsigned kmax, const mpfr_t x, mpfr_rnd_t rnd);
double mv_hermite_eval_d (unsigned k, double x);

/* Sigmoid Hermite coefficients c_0..c_kmax.
 * Method "fourier": c_k = (-1)^((k-1)/2) Int_0^inf w^k e^{-w^2/2} / sinh(pi w) dw
 *   for odd k (positive integrand, no cancellation), trapezoidal rule on the
 *   whole line with a strip error bound (proofs/sigmoid-coefficients.md).
 * Method "direct": c_k = Int tanh(z/2)/2 He_k(z) phi(z) dz, trapezoidal rule
 *   at raised working precision (absorbs the cancellation in He_k).
 * Both fill c[0..kmax] at the precision of each c[k] (all must share one
 * precision) and relerr[k] (may be NULL) with a bound on |computed-exact|/|exact|
 * (0 for the exactly known c_0 = 1/2 and even k >= 2).  */
int mv_hermite_coeffs_fourier (mpfr_t *c, mv_mag *relerr, unsigned kmax);
int mv_hermite_coeffs_direct (mpfr_t *c, mv_mag *relerr, unsigned kmax);

/* Rigorous upper bound on ln|c_k| (k >= 1 odd), for truncation bounds of
 * series in c_k beyond the tabulated range (proofs/sigmoid-coefficients.md). */
double mv_hermite_coeff_log_bound (unsigned k);

/* A table of c_k at one precision (computed by the Fourier method at each
 * allocation: cost grows like prec^2 in terms and prec per operation).
 * prec may be a working precision, up to MV_PREC_WORK_MAX. */
typedef struct {
  unsigned kmax;
  mpfr_prec_t prec;
  mpfr_t *c;        /* c[0..kmax] */
  mv_mag *relerr;   /* relative error bound of c[k] */
  double *cd;       /* c[k] rounded to double (NAN when out of double range) */
} mv_hermite_table;

mv_hermite_table *mv_hermite_table_alloc (unsigned kmax, mpfr_prec_t prec);
void mv_hermite_table_free (mv_hermite_table *t);

/* Number of decimal digits of c_k that are certain given relerr (uses
 * mpfr_can_round); 0 when none. */
long mv_hermite_coeff_digits (const mpfr_t c, const mv_mag *relerr);

#ifdef __cplusplus
}
#endif
#endif
