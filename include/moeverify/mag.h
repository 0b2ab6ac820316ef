/* Error magnitudes that cannot underflow or overflow: x = man * 2^exp with
 * man in [1/2, 1) (or 0, or +inf) and a long exponent, after Arb's mag_t.
 * A double radius underflows near 2^-1074, i.e. at about 1020 bits of
 * precision; an mv_mag stays exact in scale at any precision.
 *
 * Every operation rounds upward: the result is an upper bound of the
 * exact result of the operation on the (non-negative) inputs, so a bound
 * assembled from bounds stays a bound. */
#ifndef MOEVERIFY_MAG_H
#define MOEVERIFY_MAG_H

#include <mpfr.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  double man;   /* 0, +inf, or in [0.5, 1) */
  long exp;
} mv_mag;

void mv_mag_zero (mv_mag *r);
void mv_mag_inf (mv_mag *r);
int mv_mag_is_zero (const mv_mag *a);
int mv_mag_is_inf (const mv_mag *a);

/* r >= |x| (NaN gives +inf: an unknown error is unbounded) */
void mv_mag_set_d (mv_mag *r, double x);
/* r >= |x| 2^e */
void mv_mag_set_d_2exp (mv_mag *r, double x, long e);
/* r >= |x| */
void mv_mag_set_mpfr (mv_mag *r, const mpfr_t x);
/* r >= e^l (a bound known by its natural logarithm) */
void mv_mag_set_exp (mv_mag *r, double l);

void mv_mag_add (mv_mag *r, const mv_mag *a, const mv_mag *b);
void mv_mag_mul (mv_mag *r, const mv_mag *a, const mv_mag *b);
/* r >= a |x| */
void mv_mag_mul_d (mv_mag *r, const mv_mag *a, double x);
/* r >= a 2^e */
void mv_mag_mul_2exp (mv_mag *r, const mv_mag *a, long e);
/* r = a + |x| b  (the common "accumulate a weighted bound") */
void mv_mag_addmul_d (mv_mag *r, const mv_mag *b, double x);
void mv_mag_max (mv_mag *r, const mv_mag *a, const mv_mag *b);
/* -1, 0, 1 as a <, =, > b */
int mv_mag_cmp (const mv_mag *a, const mv_mag *b);

/* Upward to double: +inf past DBL_MAX, the smallest subnormal for a
 * non-zero value below it (never 0 for a non-zero bound). */
double mv_mag_get_d (const mv_mag *a);
/* r >= a at the precision of r */
void mv_mag_get_mpfr (mpfr_t r, const mv_mag *a);
/* log2 of a, within 1e-15 relative + 2^-52 absolute; -inf for 0 */
double mv_mag_log2 (const mv_mag *a);

/* "1.23e-700" with `digits` significant digits, rounded upward; "0",
 * "inf".  Writes at most size bytes (size >= 32 is always enough). */
void mv_mag_str (char *buf, size_t size, const mv_mag *a, int digits);

#ifdef __cplusplus
}
#endif
#endif
