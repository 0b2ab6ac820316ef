/* Shared numeric assertions for the Check suites: relative / absolute /
 * "agree to N bits" comparisons that print both values in full on failure. */
#ifndef MV_TESTUTIL_H
#define MV_TESTUTIL_H

#include <stdio.h>
#include <check.h>
#include <mpfr.h>
#include <moeverify/mag.h>

/* |a - b| <= abstol + reltol * max(|a|,|b|) */
void mv_check_close_d (double a, double b, double reltol, double abstol,
                       const char *what, const char *file, int line);
/* |a - b| <= tol (absolute, MPFR) */
void mv_check_close_abs (const mpfr_t a, const mpfr_t b, double tol,
                         const char *what, const char *file, int line);
/* a and b agree to at least `digits` significant decimal digits relative to
 * max(|a|,|b|) (or scale if scale > 0) */
void mv_check_digits (const mpfr_t a, const mpfr_t b, double digits,
                      double scale, const char *what, const char *file,
                      int line);

#define MV_CHECK_CLOSE_D(a, b, rel, abs_, what) \
  mv_check_close_d ((a), (b), (rel), (abs_), (what), __FILE__, __LINE__)
#define MV_CHECK_CLOSE_ABS(a, b, tol, what) \
  mv_check_close_abs ((a), (b), (tol), (what), __FILE__, __LINE__)
#define MV_CHECK_DIGITS(a, b, digits, scale, what) \
  mv_check_digits ((a), (b), (digits), (scale), (what), __FILE__, __LINE__)

/* An error magnitude as a double tolerance (rounded up; fine to 2^-1074) */
#define MV_MAG_D(x) mv_mag_get_d (&(x))

/* Path of a file under tests/data (uses MV_TOP_SRCDIR, default "."). */
const char *mv_test_data (const char *name);
/* Run a suite, return EXIT_SUCCESS/EXIT_FAILURE.  Honours CK_* env vars. */
int mv_test_run (Suite *s);

#endif
