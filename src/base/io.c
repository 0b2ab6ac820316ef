/* Whole-file reads, error-bound-aware decimal formatting and a terminal
 * progress bar (io.h); the writers are in io_write.c. */
#define _XOPEN_SOURCE 700  /* mkstemp, fsync, fchmod, clock_gettime */
#include <moeverify/io.h>
#include "base/io_priv.h"
#include <moeverify/error.h>
#include <moeverify/hermite.h>

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ reading */

char *
mv_io_read_file (const char *path, size_t *len)
{
  FILE *f = fopen (path, "rb");
  if (!f)
    {
      mv_error_set (MV_EIO, "%s: cannot open: %s", path, strerror (errno));
      return NULL;
    }
  /* Grow a buffer rather than trusting fstat: works for pipes and /dev/stdin. */
  size_t cap = 4096, n = 0;
  char *buf = malloc (cap);
  while (buf)
    {
      if (cap - n < 2)
        {
          char *nb = cap > ((size_t) -1) / 2 ? NULL : realloc (buf, 2 * cap);
          if (!nb)
            {
              free (buf);
              buf = NULL;
              break;
            }
          buf = nb;
          cap *= 2;
        }
      size_t got = fread (buf + n, 1, cap - n - 1, f);
      n += got;
      if (got == 0)
        break;
    }
  if (!buf)
    {
      fclose (f);
      mv_error_set (MV_ENOMEM, "%s: out of memory reading file", path);
      return NULL;
    }
  if (ferror (f))
    {
      int e = errno;
      fclose (f);
      free (buf);
      mv_error_set (MV_EIO, "%s: read error: %s", path, strerror (e));
      return NULL;
    }
  fclose (f);
  buf[n] = '\0';
  if (len)
    *len = n;
  return buf;
}

/* ------------------------------------------------------------ digits */

/* Largest digit count a prec-bit number can carry meaningfully. */
static int
prec_digits (mpfr_prec_t p)
{
  return 1 + (int) floor ((double) (p - 1) * 0.30102999566398119521);
}

/* floor(log10 |x|) for |x| = m 2^e, m in [1/2, 1), exactly: in double
 * unless within 1e-9 of an integer (then MPFR's log10 rounded down decides;
 * rare, so printing thousands of numbers costs no MPFR logarithm). */
static double
floor_log10 (double m, long e, const mpfr_t x)
{
  double l = log10 (fabs (m)) + (double) e * 0.30102999566398119521;
  double f = floor (l);
  if (l - f > 1e-9 && f + 1 - l > 1e-9)
    return f;
  mpfr_t t;
  mpfr_init2 (t, 64);
  if (x)
    mpfr_abs (t, x, MPFR_RNDN);
  else
    mpfr_set_d (t, fabs (ldexp (m, (int) e)), MPFR_RNDN);
  mpfr_log10 (t, t, MPFR_RNDD);
  mpfr_floor (t, t);
  f = mpfr_get_d (t, MPFR_RNDN);
  mpfr_clear (t);
  return f;
}

/* Printing x rounded to N significant digits gives y with |y - x| <= u/2,
 * u = 10^(e-N+1), e = floor(log10|x|).  Then |y - exact| <= u/2 + abserr,
 * which stays within one unit of the last printed digit iff abserr <= u/2:
 *   N <= e + 1 - log10(2 abserr).
 * e is exact (floor_log10); log10(2 abserr) comes from the exponent of the
 * magnitude and is padded by a margin for the libm error. */
static int
digits_from (double e, double log2_err, int cap)
{
  if (log2_err == -INFINITY)
    return cap;
  if (!isfinite (log2_err))
    return 0;
  double l = (log2_err + 1.0) * 0.30102999566398119521;
  double n = floor (e + 1.0 - l - 1e-9 * (1.0 + fabs (l)));
  if (!(n > 0))
    return 0;
  return n > cap ? cap : (int) n;
}

int
mv_io_digits (const mpfr_t x, const mv_mag *abserr)
{
  if (!mpfr_number_p (x) || mpfr_zero_p (x))
    return 0;
  long ex;
  double m = mpfr_get_d_2exp (&ex, x, MPFR_RNDZ);
  return digits_from (floor_log10 (m, ex, x), mv_mag_log2 (abserr),
                      prec_digits (mpfr_get_prec (x)));
}

int
mv_io_digits_d (double x, double abserr)
{
  if (!isfinite (x) || x == 0 || isnan (abserr) || abserr < 0)
    return 0;
  int ex;
  double m = frexp (x, &ex);
  mv_mag err;
  mv_mag_set_d (&err, abserr);
  return digits_from (floor_log10 (m, ex, NULL), mv_mag_log2 (&err),
                      prec_digits (MV_PREC_DOUBLE));
}

/* ------------------------------------------------------------ strings */

void
mv_io_normalise_exponent (char *s)
{
  char *e = strchr (s, 'e');
  if (!e)
    return;
  char *p = e + 1, *q = e + 1;
  if (*p == '+')
    p++;
  else if (*p == '-')
    *q++ = *p++;
  while (*p == '0' && p[1] != '\0')
    p++;
  memmove (q, p, strlen (p) + 1);
}

char *
mv_io_mpfr_str (const mpfr_t x, int digits)
{
  /* sign, point, exponent of up to 20 digits, NUL */
  size_t size = (size_t) (digits > 1 ? digits : 1) + 32;
  char *r = malloc (size);
  if (!r || mv_io_mpfr_fmt (r, size, x, digits) < 0)
    {
      free (r);
      mv_error_set (MV_ENOMEM, "mv_io_mpfr_str: out of memory");
      return NULL;
    }
  return r;
}

int
mv_io_double_fmt (char *buf, size_t size, double x, int digits)
{
  if (digits < 1)
    digits = 1;
  if (isnan (x))
    return snprintf (buf, size, "nan");
  if (isinf (x))
    return snprintf (buf, size, "%s", x > 0 ? "inf" : "-inf");
  if (x == 0)
    return snprintf (buf, size, "0");
  int n = mv_io_double_fmt_fast (buf, size, x, digits);
  if (n >= 0)
    return n;
  /* glibc prints the exact binary value correctly rounded, as MPFR would */
  n = snprintf (buf, size, "%.*e", digits > 40 ? 39 : digits - 1, x);
  mv_io_normalise_exponent (buf);
  return n < 0 ? n : (int) strlen (buf);
}

char *
mv_io_double_str (double x, int digits)
{
  char buf[64];
  mv_io_double_fmt (buf, sizeof buf, x, digits);
  char *r = strdup (buf);
  if (!r)
    mv_error_set (MV_ENOMEM, "mv_io_double_str: out of memory");
  return r;
}

int
mv_io_mpfr_fmt (char *buf, size_t size, const mpfr_t x, int digits)
{
  if (digits < 1)
    digits = 1;
  if (mpfr_nan_p (x))
    return snprintf (buf, size, "nan");
  if (mpfr_inf_p (x))
    return snprintf (buf, size, "%s", mpfr_sgn (x) > 0 ? "inf" : "-inf");
  if (mpfr_zero_p (x))
    return snprintf (buf, size, "0");
  int n = mpfr_snprintf (buf, size, "%.*Re", digits - 1, x);
  mv_io_normalise_exponent (buf);
  return n < 0 ? n : (int) strlen (buf);
}

/* ------------------------------------------------------------ progress */

static struct
{
  int drawn;        /* a bar is on screen */
  double last;      /* monotonic time of the last draw */
  int last_pct;
  double start;     /* time of the first draw of this bar */
} progress;

/* " ~3m10s left" from the rate so far (nothing until 1% and 2 s in). */
static void
eta (char *buf, size_t len, double fraction, double elapsed)
{
  buf[0] = '\0';
  if (fraction < 0.01 || fraction >= 1 || elapsed < 2)
    return;
  double left = elapsed * (1 - fraction) / fraction;
  if (left < 60)
    snprintf (buf, len, " ~%.0fs left", left);
  else if (left < 3600)
    snprintf (buf, len, " ~%dm%02ds left", (int) (left / 60), (int) fmod (left, 60));
  else
    snprintf (buf, len, " ~%dh%02dm left", (int) (left / 3600), (int) fmod (left / 60, 60));
}

int
mv_io_progress_enabled (void)
{
  /* CI logs capture stderr through a pty sometimes; keep them clean. */
  return isatty (2) && getenv ("CI") == NULL;
}

double
mv_io_now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

void
mv_io_progress (const char *label, double fraction)
{
  enum { WIDTH = 30 };
  if (!mv_io_progress_enabled ())
    return;
  if (!(fraction >= 0))
    fraction = 0;
  if (fraction > 1)
    fraction = 1;
  int pct = (int) (100 * fraction);
  double t = mv_io_now ();
  /* At most ~10 redraws a second, but never skip the first or 100%. */
  if (progress.drawn && t - progress.last < 0.1
      && !(pct == 100 && progress.last_pct != 100))
    return;
  if (!progress.drawn)
    progress.start = t;
  char bar[WIDTH + 1], left[32];
  int fill = (int) (WIDTH * fraction);
  for (int i = 0; i < WIDTH; i++)
    bar[i] = i < fill ? '#' : ' ';
  bar[WIDTH] = '\0';
  eta (left, sizeof left, fraction, t - progress.start);
  fprintf (stderr, "\r%s [%s] %3d%%%s\033[K", label ? label : "", bar, pct, left);
  fflush (stderr);
  progress.drawn = 1;
  progress.last = t;
  progress.last_pct = pct;
}

void
mv_io_progress_done (void)
{
  if (!progress.drawn)
    return;
  fputs ("\r\033[K", stderr);  /* erase the bar so later output starts clean */
  fflush (stderr);
  progress.drawn = 0;
  progress.last_pct = 0;
}
