/* Error magnitudes (mag.h) against exact MPFR arithmetic, and the precision
 * ladder up to the cap: at 2048 bits the loss still carries a non-zero
 * bound, and runs at 1100, 1536 and 2048 bits agree within their bounds and
 * to the digits each claims.  Also the fast double formatter of io.c
 * against printf. */
#include "testutil.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_rng.h>
#include <moeverify/moeverify.h>

/* x random positive with exponent in [-emax, emax], at 200 bits */
static void
random_mpfr (mpfr_t x, gsl_rng *r, long emax)
{
  mpfr_set_d (x, 0.5 + 0.5 * gsl_rng_uniform (r), MPFR_RNDN);
  mpfr_mul_2si (x, x, (long) (gsl_rng_uniform (r) * 2 * emax) - emax, MPFR_RNDN);
}

/* exact <= got <= exact (1 + 2^-rel) */
static void
check_upper (const mv_mag *got, const mpfr_t exact, int rel, const char *what)
{
  mpfr_t g, hi;
  mpfr_inits2 (200, g, hi, (mpfr_ptr) 0);
  mv_mag_get_mpfr (g, got);
  mpfr_mul_2si (hi, exact, -rel, MPFR_RNDU);
  mpfr_add (hi, hi, exact, MPFR_RNDU);
  if (mpfr_cmp (g, exact) < 0 || mpfr_cmp (g, hi) > 0)
    {
      mpfr_fprintf (stderr, "%s:\n  got   %.30Re\n  exact %.30Re\n", what, g, exact);
      ck_abort_msg ("%s: not a tight upper bound", what);
    }
  mpfr_clears (g, hi, (mpfr_ptr) 0);
}

START_TEST (t_ops_upward)
{
  gsl_rng *r = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (r, 7);
  mpfr_t a, b, c;
  mpfr_inits2 (200, a, b, c, (mpfr_ptr) 0);
  for (int t = 0; t < 20000; t++)
    {
      random_mpfr (a, r, 5000), random_mpfr (b, r, t % 2 ? 5000 : 40);
      mv_mag ma, mb, mc;
      mv_mag_set_mpfr (&ma, a), mv_mag_set_mpfr (&mb, b);
      check_upper (&ma, a, 50, "set_mpfr");
      mv_mag_add (&mc, &ma, &mb);
      mpfr_add (c, a, b, MPFR_RNDU);
      check_upper (&mc, c, 48, "add");
      mv_mag_mul (&mc, &ma, &mb);
      mpfr_mul (c, a, b, MPFR_RNDU);
      check_upper (&mc, c, 48, "mul");
      double x = gsl_rng_uniform_pos (r) * 1e3;
      mv_mag_mul_d (&mc, &ma, -x);
      mpfr_mul_d (c, a, x, MPFR_RNDU);
      check_upper (&mc, c, 48, "mul_d");
      mc = ma;
      mv_mag_addmul_d (&mc, &mb, x);
      mpfr_mul_d (c, b, x, MPFR_RNDU);
      mpfr_add (c, c, a, MPFR_RNDU);
      check_upper (&mc, c, 47, "addmul_d");
      int cmp = mv_mag_cmp (&ma, &mb), want = mpfr_cmp (a, b);
      ck_assert_msg ((cmp > 0) == (want > 0) || fabs (mpfr_get_d (a, MPFR_RNDN)
                                                     / mpfr_get_d (b, MPFR_RNDN) - 1) < 1e-14,
                     "cmp %d vs %d", cmp, want);
    }
  mpfr_clears (a, b, c, (mpfr_ptr) 0);
  gsl_rng_free (r);
}
END_TEST

START_TEST (t_exp_log_double)
{
  mpfr_t e, l;
  mpfr_inits2 (200, e, l, (mpfr_ptr) 0);
  /* e^l for l from -5000 to 700: far past the double range below */
  for (double lv = -5000.0; lv <= 700.0; lv += 37.3)
    {
      mv_mag m;
      mv_mag_set_exp (&m, lv);
      mpfr_set_d (l, lv, MPFR_RNDN);
      mpfr_exp (e, l, MPFR_RNDU);
      check_upper (&m, e, 30, "set_exp");  /* l itself is only known to |l| ulps */
      ck_assert_msg (fabs (mv_mag_log2 (&m) - lv / M_LN2) < 1e-9 * (1 + fabs (lv)),
                     "log2 %.17g vs %.17g", mv_mag_log2 (&m), lv / M_LN2);
      double d = mv_mag_get_d (&m);
      /* upward to double, never 0 for a non-zero bound */
      ck_assert_msg (d > 0, "get_d(e^%g) = 0", lv);
      if (lv > -700)
        ck_assert_msg (mpfr_cmp_d (e, d) <= 0 && d <= exp (lv) * (1 + 1e-12),
                       "get_d(e^%g) = %.17g", lv, d);
    }
  mv_mag m;
  mv_mag_set_d_2exp (&m, 1.0, -3000);
  ck_assert (mv_mag_get_d (&m) == DBL_TRUE_MIN);
  mv_mag_set_d_2exp (&m, 1.0, 3000);
  ck_assert (isinf (mv_mag_get_d (&m)));
  mv_mag_set_d (&m, NAN);
  ck_assert (mv_mag_is_inf (&m));
  mv_mag_zero (&m);
  ck_assert (mv_mag_get_d (&m) == 0 && mv_mag_log2 (&m) == -INFINITY);
  mpfr_clears (e, l, (mpfr_ptr) 0);
}
END_TEST

START_TEST (t_str)
{
  char buf[64];
  mv_mag m;
  /* 2^-3000 = 8.1275...e-904 (rounded up to 3 digits) */
  mv_mag_set_d_2exp (&m, 1.0, -3000);
  mv_mag_str (buf, sizeof buf, &m, 3);
  ck_assert_str_eq (buf, "8.13e-904");
  mv_mag_set_d (&m, 1.234e-5);
  mv_mag_str (buf, sizeof buf, &m, 3);
  ck_assert_str_eq (buf, "1.24e-5");
  mv_mag_zero (&m);
  mv_mag_str (buf, sizeof buf, &m, 3);
  ck_assert_str_eq (buf, "0");
}
END_TEST

/* ---------------------------------------------------------------- ladder */

typedef struct {
  mpfr_prec_t prec;
  mpfr_t L, g[4];
  mv_loss_info info;
} run;

static void
ladder_run (run *r, const mv_problem *pb, mpfr_prec_t prec)
{
  r->prec = prec;
  mpfr_init2 (r->L, prec);
  for (int i = 0; i < 4; i++)
    mpfr_init2 (r->g[i], prec);
  mv_loss_ws *ws = mv_loss_alloc (pb->m, pb->mstar, prec);
  ck_assert_msg (ws != NULL, "%ld bits: %s", (long) prec, mv_error_message ());
  mpfr_t *gV = r->g, *gW = r->g + 2;
  ck_assert_msg (mv_loss_eval (r->L, gV, gW, &r->info, pb, ws) == MV_OK, "%s",
                 mv_error_message ());
  mv_loss_free (ws);
}

/* |a - b| <= ea + eb, all in MPFR (the bounds are far below 2^-1074) */
static void
check_within (const mpfr_t a, const mpfr_t b, const mv_mag *ea,
              const mv_mag *eb, const char *what)
{
  mpfr_t d, t, u;
  mpfr_inits2 (64, d, t, u, (mpfr_ptr) 0);
  mpfr_sub (d, a, b, MPFR_RNDA);
  mpfr_abs (d, d, MPFR_RNDN);
  mv_mag_get_mpfr (t, ea), mv_mag_get_mpfr (u, eb);
  mpfr_add (t, t, u, MPFR_RNDU);
  if (mpfr_cmp (d, t) > 0)
    {
      mpfr_fprintf (stderr, "%s:\n  a = %.700Re\n  b = %.700Re\n  |a-b| = %.5Re > %.5Re\n",
                    what, a, b, d, t);
      ck_abort_msg ("%s: outside the sum of the bounds", what);
    }
  mpfr_clears (d, t, u, (mpfr_ptr) 0);
}

START_TEST (t_ladder_to_cap)
{
  /* d = 2, m = m* = 1, a generic point (no symmetry to make terms vanish) */
  const double V[2] = { 0.6, 0.8 }, W[2] = { 0.3, -0.7 };
  const double Vt[2] = { 1, 0 }, Wt[2] = { 0, 1 };
  mv_problem pb;
  ck_assert_int_eq (mv_problem_set_d (&pb, 2, 1, 1, V, W, Vt, Wt, 0.0), MV_OK);
  const mpfr_prec_t pr[3] = { 1024, 1536, MV_PREC_MAX };
  run r[3];
  for (int i = 0; i < 3; i++)
    {
      ladder_run (&r[i], &pb, pr[i]);
      double l2 = mv_mag_log2 (&r[i].info.err);
      /* non-zero and about 2^-prec: the double radius was 0 past ~1020 bits */
      ck_assert_msg (!mv_mag_is_zero (&r[i].info.err) && l2 < 16.0 - pr[i]
                     && l2 > -40.0 - pr[i], "%ld bits: log2 bound %.1f", (long) pr[i], l2);
      l2 = mv_mag_log2 (&r[i].info.grad_err);
      ck_assert_msg (!mv_mag_is_zero (&r[i].info.grad_err) && l2 < 20.0 - pr[i],
                     "%ld bits: log2 grad bound %.1f", (long) pr[i], l2);
      int dg = mv_io_digits (r[i].L, &r[i].info.err);
      int cap = 1 + (int) floor ((pr[i] - 1) * 0.30102999566398119521);
      /* claims nearly all digits (from a real bound: checked above) */
      ck_assert_msg (dg > cap - 12 && dg <= cap, "%ld bits: %d digits (cap %d)",
                     (long) pr[i], dg, cap);
    }
  for (int i = 0; i < 2; i++)
    {
      char what[96];
      snprintf (what, sizeof what, "L at %ld vs %ld bits", (long) pr[i], (long) pr[i + 1]);
      check_within (r[i].L, r[i + 1].L, &r[i].info.err, &r[i + 1].info.err, what);
      for (int k = 0; k < 4; k++)
        {
          snprintf (what, sizeof what, "grad[%d] at %ld vs %ld bits", k, (long) pr[i],
                    (long) pr[i + 1]);
          check_within (r[i].g[k], r[i + 1].g[k], &r[i].info.grad_err,
                        &r[i + 1].info.grad_err, what);
        }
      /* the digits the lower run prints are those of the higher run */
      int dg = mv_io_digits (r[i].L, &r[i].info.err);
      char *lo = mv_io_mpfr_str (r[i].L, dg), *hi = mv_io_mpfr_str (r[i + 1].L, dg);
      mpfr_t a, b;
      mpfr_inits2 (pr[2], a, b, (mpfr_ptr) 0);
      mpfr_set_str (a, lo, 10, MPFR_RNDN), mpfr_set_str (b, hi, 10, MPFR_RNDN);
      /* equal, or one unit apart in the last digit (a rounding boundary) */
      mpfr_sub (a, a, b, MPFR_RNDN);
      mpfr_abs (a, a, MPFR_RNDN);
      mpfr_set_ui (b, 10, MPFR_RNDN);
      mpfr_pow_si (b, b, (long) floor (log10 (fabs (mpfr_get_d (r[i].L, MPFR_RNDN))))
                   - dg + 1, MPFR_RNDU);
      ck_assert_msg (mpfr_cmp (a, b) <= 0, "%ld bits prints\n%s\n%ld bits gives\n%s",
                     (long) pr[i], lo, (long) pr[i + 1], hi);
      free (lo), free (hi);
      mpfr_clears (a, b, (mpfr_ptr) 0);
    }
  for (int i = 0; i < 3; i++)
    {
      mpfr_clear (r[i].L);
      for (int k = 0; k < 4; k++)
        mpfr_clear (r[i].g[k]);
    }
  mv_problem_clear (&pb);
}
END_TEST

/* mv_io_double_fmt against glibc's "%.*e" (exponent normalised here, the
 * reference's own way): random values over a wide exponent range, exact
 * ties, near-ties parsed from decimal strings, powers of ten +- 1 ulp and
 * the extremes.  The fast path must agree with printf everywhere. */
static void
ref_fmt (char *buf, size_t size, double x, int digits)
{
  char t[80];
  snprintf (t, sizeof t, "%.*e", digits - 1, x);
  char *e = strchr (t, 'e'), *o = buf;
  for (char *p = t; p < e; p++)
    *o++ = *p;
  *o++ = 'e';
  int ex = atoi (e + 1);
  snprintf (o, size - (size_t) (o - buf), "%d", ex);
}

static void
check_fmt (double x, int digits)
{
  char got[80], want[80];
  if (x == 0 || !isfinite (x))  /* "0", "inf": by design */
    return;
  mv_io_double_fmt (got, sizeof got, x, digits);
  ref_fmt (want, sizeof want, x, digits);
  if (strcmp (got, want))
    ck_abort_msg ("mv_io_double_fmt(%a, %d) = \"%s\", printf gives \"%s\"",
                  x, digits, got, want);
}

START_TEST (t_double_fmt)
{
  gsl_rng *r = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (r, 11);
  for (int i = 0; i < 1000000; i++)
    {
      double x = (0.5 + 0.5 * gsl_rng_uniform (r))
        * ldexp (1.0, (int) (gsl_rng_uniform_int (r, 241)) - 120);
      check_fmt (gsl_rng_uniform (r) < 0.5 ? -x : x,
                 1 + (int) gsl_rng_uniform_int (r, 17));
    }
  /* exact ties and near-ties: a decimal with digits+1 significant digits
     ending in 5, and its neighbours */
  for (int i = 0; i < 200000; i++)
    {
      int digits = 1 + (int) gsl_rng_uniform_int (r, 17);
      char s[64];
      /* q has exactly `digits` digits, so q5 is a tie at `digits` */
      unsigned long long lo = 1;
      for (int j = 1; j < digits; j++)
        lo *= 10;
      unsigned long long q = lo + (unsigned long long)
        (gsl_rng_uniform (r) * (double) (9 * lo - 1));
      snprintf (s, sizeof s, "%llu5e%d", q,
                (int) gsl_rng_uniform_int (r, 60) - 30);
      double x = strtod (s, NULL);
      for (int k = -1; k <= 1; k++)
        check_fmt (k ? nextafter (x, k * INFINITY) : x, digits);
    }
  static const double special[] = { 0.125, 0.375, 2.5, 9.5, 9.995, 0.5,
    1e22, 1e-22, 1e23, 123456789012345678.0, 5e-324, DBL_MIN, DBL_MAX,
    9.999999999999999e22, 1.0, 10.0, 99.5, 0.1, 1.0 / 3.0 };
  for (size_t i = 0; i < sizeof special / sizeof *special; i++)
    for (int digits = 1; digits <= 17; digits++)
      for (int k = -2; k <= 2; k++)
        {
          double x = special[i];
          for (int j = 0; j < abs (k); j++)
            x = nextafter (x, k > 0 ? INFINITY : 0);
          check_fmt (x, digits);
        }
  for (int e = -40; e <= 40; e++)
    for (int digits = 1; digits <= 17; digits++)
      {
        double p = pow (10.0, e);
        check_fmt (nextafter (p, 0), digits);
        check_fmt (p, digits);
        check_fmt (nextafter (p, INFINITY), digits);
      }
  gsl_rng_free (r);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("mag");
  TCase *tc = tcase_create ("core");
  /* Check's default is 4 s: the 1.6 M printf comparisons take ~2 s idle,
   * longer on a loaded machine */
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, t_ops_upward);
  tcase_add_test (tc, t_exp_log_double);
  tcase_add_test (tc, t_str);
  tcase_add_test (tc, t_double_fmt);
  suite_add_tcase (s, tc);
  /* building 2048-bit tables takes minutes (prec^2 terms of prec bits) */
  TCase *tl = tcase_create ("ladder");
  tcase_set_timeout (tl, 1800);
  tcase_add_test (tl, t_ladder_to_cap);
  suite_add_tcase (s, tl);
  return mv_test_run (s);
}
