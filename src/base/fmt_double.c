/* Fast correctly rounded scientific notation for doubles (io.c's
 * mv_io_double_fmt prints 10^5 gradient components per call).
 *
 * x is scaled by an exactly representable power of ten in long double
 * (10^k is exact for |k| <= 27 with a 64-bit mantissa): one rounding, so
 * the scaled value y < 10^17 < 2^57 is within 2^-7 of x 10^k.  The digits
 * are floor(y) rounded by the fraction, which is decided correctly unless
 * the fraction is within 2^-6 of one half; that case, large |k| and
 * platforms without an extended long double return -1 and the caller uses
 * snprintf.  The output is exactly what glibc's "%.*e" prints (the test
 * suite compares them on random and boundary values). */
#include "base/io_priv.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define FMT_MAXK 27

/* 10^k, k <= FMT_MAXK: exact in a 64-bit mantissa (5^27 < 2^64) */
static const long double POW10[FMT_MAXK + 1] = {
  1e0L, 1e1L, 1e2L, 1e3L, 1e4L, 1e5L, 1e6L, 1e7L, 1e8L, 1e9L, 1e10L, 1e11L,
  1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L, 1e20L, 1e21L,
  1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L
};

/* floor(x 10^k) and the fraction, or 0 if k is out of the exact range */
static int
scale (uint64_t *q, long double *frac, double ax, int k)
{
  if (k > FMT_MAXK || k < -FMT_MAXK)
    return 0;
  long double y = k >= 0 ? (long double) ax * POW10[k]
    : (long double) ax / POW10[-k];
  if (!(y < 0x1p62L))
    return 0;
  /* floor through double (x87 integer stores switch the rounding mode,
   * which costs more than the rest of the formatting); y - qf is exact,
   * both being within a few units of each other, and the correction is
   * done on the integer (qf may be above 2^53) */
  double qf = floor ((double) y);
  long double r = y - (long double) qf;
  uint64_t qi = (uint64_t) qf;  /* exact: qf is an integer below 2^62 */
  while (r < 0)
    r += 1, qi--;
  while (r >= 1)
    r -= 1, qi++;
  *q = qi;
  *frac = r;
  return 1;
}

int
mv_io_double_fmt_fast (char *buf, size_t size, double x, int digits)
{
#if LDBL_MANT_DIG < 64
  (void) buf, (void) size, (void) x, (void) digits;
  return -1;
#else
  if (digits < 1 || digits > 17 || !isfinite (x) || x == 0
      || size < (size_t) digits + 8)
    return -1;
  double ax = fabs (x);
  int e2;
  frexp (ax, &e2);
  /* floor(log10 ax) is e10 or e10 + 1 */
  int e10 = (int) floor ((e2 - 1) * 0.30102999566398120);
  uint64_t lo = 1, q;
  for (int i = 1; i < digits; i++)
    lo *= 10;
  long double frac;
  if (!scale (&q, &frac, ax, digits - 1 - e10))
    return -1;
  if (q >= lo * 10)     /* the estimate was one too low */
    {
      e10++;
      if (!scale (&q, &frac, ax, digits - 1 - e10))
        return -1;
    }
  if (q < lo || q >= lo * 10 || fabsl (frac - 0.5L) <= 0x1p-6L)
    return -1;
  if (frac > 0.5L && ++q == lo * 10)  /* 9.99.. rounds to 10.0.. */
    q = lo, e10++;
  char dig[20];
  for (int i = digits - 1; i >= 0; i--, q /= 10)
    dig[i] = (char) ('0' + q % 10);
  char *p = buf;
  if (x < 0)
    *p++ = '-';
  *p++ = dig[0];
  if (digits > 1)
    {
      *p++ = '.';
      memcpy (p, dig + 1, (size_t) digits - 1);
      p += digits - 1;
    }
  *p++ = 'e';
  if (e10 < 0)
    *p++ = '-', e10 = -e10;
  if (e10 >= 100)
    *p++ = (char) ('0' + e10 / 100);
  if (e10 >= 10)
    *p++ = (char) ('0' + e10 / 10 % 10);
  *p++ = (char) ('0' + e10 % 10);
  *p = '\0';
  return (int) (p - buf);
#endif
}
