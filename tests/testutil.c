#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <moeverify/error.h>

void
mv_check_close_d (double a, double b, double reltol, double abstol,
                  const char *what, const char *file, int line)
{
  double scale = fmax (fabs (a), fabs (b));
  double diff = fabs (a - b);
  int ok = diff <= abstol + reltol * scale;
  if (!ok || !isfinite (a) || !isfinite (b))
    ck_abort_msg ("%s:%d: %s: %.17g vs %.17g differ by %.3g "
                  "(allowed rel %.3g, abs %.3g)",
                  file, line, what, a, b, diff, reltol, abstol);
}

void
mv_check_close_abs (const mpfr_t a, const mpfr_t b, double tol,
                    const char *what, const char *file, int line)
{
  mpfr_t d;
  mpfr_init2 (d, 64);
  mpfr_sub (d, a, b, MPFR_RNDN);
  mpfr_abs (d, d, MPFR_RNDN);
  int ok = mpfr_number_p (d) && mpfr_get_d (d, MPFR_RNDU) <= tol;
  if (!ok)
    {
      mpfr_fprintf (stderr, "%s:%d: %s:\n  a = %.50Re\n  b = %.50Re\n"
                    "  |a-b| = %.5Re > %.3g\n", file, line, what, a, b, d, tol);
      mpfr_clear (d);
      ck_abort_msg ("%s:%d: %s: values differ beyond %.3g (see stderr)",
                    file, line, what, tol);
    }
  mpfr_clear (d);
}

void
mv_check_digits (const mpfr_t a, const mpfr_t b, double digits, double scale,
                 const char *what, const char *file, int line)
{
  mpfr_t d, s;
  mpfr_inits2 (64, d, s, (mpfr_ptr) 0);
  mpfr_sub (d, a, b, MPFR_RNDN);
  mpfr_abs (d, d, MPFR_RNDN);
  if (scale > 0)
    mpfr_set_d (s, scale, MPFR_RNDN);
  else
    {
      mpfr_abs (s, a, MPFR_RNDN);
      if (mpfr_cmpabs (b, a) > 0)
        mpfr_abs (s, b, MPFR_RNDN);
    }
  double got;
  if (mpfr_zero_p (d))
    got = INFINITY;
  else if (mpfr_zero_p (s))
    got = -INFINITY;
  else
    {
      mpfr_div (d, d, s, MPFR_RNDN);
      mpfr_log10 (d, d, MPFR_RNDN);
      got = -mpfr_get_d (d, MPFR_RNDN);
    }
  if (!(got >= digits))
    {
      mpfr_fprintf (stderr, "%s:%d: %s:\n  a = %.60Re\n  b = %.60Re\n"
                    "  agree to %.2f digits, need %.2f\n",
                    file, line, what, a, b, got, digits);
      mpfr_clears (d, s, (mpfr_ptr) 0);
      ck_abort_msg ("%s:%d: %s: agree to %.2f digits, need %.2f (see stderr)",
                    file, line, what, got, digits);
    }
  mpfr_clears (d, s, (mpfr_ptr) 0);
}

const char *
mv_test_data (const char *name)
{
  static char buf[4096];
  const char *top = getenv ("MV_TOP_SRCDIR");
  snprintf (buf, sizeof buf, "%s/tests/data/%s", top ? top : ".", name);
  return buf;
}

int
mv_test_run (Suite *s)
{
  mv_init ();
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int nf = srunner_ntests_failed (sr);
  srunner_free (sr);
  return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
