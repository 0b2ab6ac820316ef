/* Upward-rounded magnitudes with a long exponent (mag.h). */
#include <moeverify/mag.h>
#include "base/io_priv.h"

#include <float.h>
#include <math.h>
#include <stdio.h>

/* A double product or sum of mantissas in [1/2, 2) is within 2^-53
 * relative; this factor (applied with one more rounding) covers both. */
#define UP (1.0 + 0x1p-51)

static void
normalise (mv_mag *r, double man, long exp)
{
  if (man == 0 || isinf (man))
    {
      r->man = man, r->exp = 0;
      return;
    }
  int e;
  r->man = frexp (man, &e);
  r->exp = exp + e;
}

void
mv_mag_zero (mv_mag *r)
{
  r->man = 0, r->exp = 0;
}

void
mv_mag_inf (mv_mag *r)
{
  r->man = INFINITY, r->exp = 0;
}

int
mv_mag_is_zero (const mv_mag *a)
{
  return a->man == 0;
}

int
mv_mag_is_inf (const mv_mag *a)
{
  return isinf (a->man);
}

void
mv_mag_set_d (mv_mag *r, double x)
{
  normalise (r, isnan (x) ? INFINITY : fabs (x), 0);
}

void
mv_mag_set_d_2exp (mv_mag *r, double x, long e)
{
  normalise (r, isnan (x) ? INFINITY : fabs (x), 0);
  if (r->man != 0 && !isinf (r->man))
    r->exp += e;
}

void
mv_mag_set_mpfr (mv_mag *r, const mpfr_t x)
{
  if (mpfr_nan_p (x) || mpfr_inf_p (x))
    {
      mv_mag_inf (r);
      return;
    }
  if (mpfr_zero_p (x))
    {
      mv_mag_zero (r);
      return;
    }
  long e;
  /* rounded away from zero: an upper bound of |x| */
  double m = mpfr_get_d_2exp (&e, x, MPFR_RNDA);
  normalise (r, fabs (m), e);
}

void
mv_mag_set_exp (mv_mag *r, double l)
{
  if (isnan (l) || l == INFINITY)
    {
      mv_mag_inf (r);
      return;
    }
  if (l == -INFINITY)
    {
      mv_mag_zero (r);
      return;
    }
  double l2 = l / M_LN2, e = floor (l2);
  /* exp2 of a fraction in [0, 1) is accurate to a few ulps; the division
   * by ln 2 loses |l2| ulps: pad by both */
  double pad = 1.0 + 0x1p-50 + fabs (l2) * 0x1p-51;
  normalise (r, exp2 (l2 - e) * pad, (long) e);
}

void
mv_mag_add (mv_mag *r, const mv_mag *a, const mv_mag *b)
{
  if (a->man == 0 || isinf (b->man))
    {
      *r = *b;
      return;
    }
  if (b->man == 0 || isinf (a->man))
    {
      *r = *a;
      return;
    }
  const mv_mag *hi = a->exp >= b->exp ? a : b, *lo = hi == a ? b : a;
  long sh = lo->exp - hi->exp;
  /* past 60 bits the small term is below the rounding slack UP adds */
  double s = hi->man + (sh < -60 ? 0.0 : ldexp (lo->man, (int) sh));
  normalise (r, s * UP, hi->exp);
}

void
mv_mag_mul (mv_mag *r, const mv_mag *a, const mv_mag *b)
{
  if (a->man == 0 || b->man == 0)
    {
      mv_mag_zero (r);
      return;
    }
  normalise (r, a->man * b->man * UP, a->exp + b->exp);
}

void
mv_mag_mul_d (mv_mag *r, const mv_mag *a, double x)
{
  mv_mag t;
  mv_mag_set_d (&t, x);
  mv_mag_mul (r, a, &t);
}

void
mv_mag_mul_2exp (mv_mag *r, const mv_mag *a, long e)
{
  *r = *a;
  if (r->man != 0 && !isinf (r->man))
    r->exp += e;
}

void
mv_mag_addmul_d (mv_mag *r, const mv_mag *b, double x)
{
  mv_mag t;
  mv_mag_mul_d (&t, b, x);
  mv_mag_add (r, r, &t);
}

int
mv_mag_cmp (const mv_mag *a, const mv_mag *b)
{
  if (a->man == 0 || b->man == 0 || isinf (a->man) || isinf (b->man))
    return (a->man > b->man) - (a->man < b->man);
  if (a->exp != b->exp)
    return a->exp > b->exp ? 1 : -1;
  return (a->man > b->man) - (a->man < b->man);
}

void
mv_mag_max (mv_mag *r, const mv_mag *a, const mv_mag *b)
{
  *r = mv_mag_cmp (a, b) >= 0 ? *a : *b;
}

double
mv_mag_get_d (const mv_mag *a)
{
  if (a->man == 0 || isinf (a->man))
    return a->man;
  if (a->exp > DBL_MAX_EXP)
    return INFINITY;
  if (a->exp < DBL_MIN_EXP - 53)
    return DBL_TRUE_MIN;
  double x = ldexp (a->man, (int) a->exp);
  /* a subnormal result may have been rounded down */
  return x < DBL_MIN ? nextafter (x, INFINITY) : x;
}

void
mv_mag_get_mpfr (mpfr_t r, const mv_mag *a)
{
  if (isinf (a->man))
    {
      mpfr_set_inf (r, 1);
      return;
    }
  mpfr_set_d (r, a->man, MPFR_RNDU);
  mpfr_mul_2si (r, r, a->exp, MPFR_RNDU);
}

double
mv_mag_log2 (const mv_mag *a)
{
  if (a->man == 0)
    return -INFINITY;
  if (isinf (a->man))
    return INFINITY;
  return log2 (a->man) + (double) a->exp;
}

void
mv_mag_str (char *buf, size_t size, const mv_mag *a, int digits)
{
  if (a->man == 0 || isinf (a->man))
    {
      snprintf (buf, size, "%s", a->man == 0 ? "0" : "inf");
      return;
    }
  mpfr_t t;
  mpfr_init2 (t, 64);
  mv_mag_get_mpfr (t, a);
  mpfr_snprintf (buf, size, "%.*RUe", digits > 1 ? digits - 1 : 0, t);
  mpfr_clear (t);
  mv_io_normalise_exponent (buf);
}
