/* Hermite polynomials and sigmoid Hermite coefficients: reference values
 * (MATH.md §2, computed independently at 70 digits), two independent
 * quadratures against each other, the precision ladder, and the envelope
 * bound used for truncation. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <moeverify/hermite.h>
#include <moeverify/expect.h>
#include <moeverify/error.h>

static const struct { unsigned k; const char *v; } REF[] = {
  { 1, "0.206620964141907037262350828718098841" },
  { 3, "-0.0623964839592591934931451210517652812" },
  { 5, "0.0643799732490441206694336742961525162" },
  { 7, "-0.122580436262926427345772422150842836" },
  { 9, "0.354081384571407885120703829107923606" },
  { 21, "30534.5870912142307870171851801333868" },
};
#define NREF (sizeof REF / sizeof REF[0])

static mpfr_t *
coeffs_new (unsigned kmax, mpfr_prec_t prec)
{
  mpfr_t *c = malloc ((kmax + 1) * sizeof *c);
  for (unsigned k = 0; k <= kmax; k++)
    mpfr_init2 (c[k], prec);
  return c;
}

static void
coeffs_free (mpfr_t *c, unsigned kmax)
{
  for (unsigned k = 0; k <= kmax; k++)
    mpfr_clear (c[k]);
  free (c);
}

START_TEST (t_hermite_poly)
{
  /* He_3 = x^3 - 3x, He_4 = x^4 - 6x^2 + 3, He_5 = x^5 - 10x^3 + 15x */
  for (double x = -3; x <= 3; x += 0.375)
    {
      double he[6];
      mv_hermite_all_d (he, 5, x);
      MV_CHECK_CLOSE_D (he[3], x * x * x - 3 * x, 4e-16, 0, "He3");
      MV_CHECK_CLOSE_D (he[4], x * x * x * x - 6 * x * x + 3, 4e-16, 1e-15, "He4");
      MV_CHECK_CLOSE_D (he[5], pow (x, 5) - 10 * pow (x, 3) + 15 * x, 4e-16, 1e-14, "He5");
      MV_CHECK_CLOSE_D (mv_hermite_eval_d (5, x), he[5], 0, 0, "eval_d");
    }
  /* MPFR recurrence equals the double one where both are exact (dyadic x) */
  mpfr_t he[31], x;
  for (int k = 0; k <= 30; k++)
    mpfr_init2 (he[k], 200);
  mpfr_init2 (x, 200);
  mpfr_set_d (x, 1.25, MPFR_RNDN);
  mv_hermite_all (he, 30, x, MPFR_RNDN);
  double hd[31];
  mv_hermite_all_d (hd, 30, 1.25);
  for (int k = 0; k <= 30; k++)
    MV_CHECK_CLOSE_D (mpfr_get_d (he[k], MPFR_RNDN), hd[k], 1e-12, 1e-9, "He_k mpfr vs double");
  for (int k = 0; k <= 30; k++)
    mpfr_clear (he[k]);
  mpfr_clear (x);
}
END_TEST

static void
check_reference (int fourier, mpfr_prec_t prec, double digits)
{
  unsigned kmax = 21;
  mpfr_t *c = coeffs_new (kmax, prec), ref;
  mv_mag rel[22];
  int s = fourier ? mv_hermite_coeffs_fourier (c, rel, kmax)
                  : mv_hermite_coeffs_direct (c, rel, kmax);
  ck_assert_int_eq (s, MV_OK);
  mpfr_init2 (ref, 300);
  for (unsigned i = 0; i < NREF; i++)
    {
      mpfr_set_str (ref, REF[i].v, 10, MPFR_RNDN);
      MV_CHECK_DIGITS (c[REF[i].k], ref, digits, 0,
                       fourier ? "fourier vs reference" : "direct vs reference");
      ck_assert_msg (MV_MAG_D (rel[REF[i].k]) < 1e-35, "claimed relerr %g too large",
                     MV_MAG_D (rel[REF[i].k]));
    }
  /* exactly known ones */
  ck_assert (mpfr_cmp_d (c[0], 0.5) == 0);
  for (unsigned k = 2; k <= kmax; k += 2)
    ck_assert (mpfr_zero_p (c[k]));
  mpfr_clear (ref);
  coeffs_free (c, kmax);
}

START_TEST (t_reference_fourier) { check_reference (1, 256, 35.5); }
END_TEST
START_TEST (t_reference_direct) { check_reference (0, 256, 35.5); }
END_TEST

/* E[pi^2] = 1/2 - c_1 (exact identity) against its independent reference;
 * normalised c_k / sqrt(k!) for k = 3, 5, 7 against MATH.md. */
START_TEST (t_identities)
{
  mv_hermite_table *t = mv_hermite_table_alloc (7, 200);
  ck_assert_ptr_nonnull (t);
  mpfr_t e, ref;
  mpfr_inits2 (200, e, ref, (mpfr_ptr) 0);
  mpfr_ui_sub (e, 1, t->c[1], MPFR_RNDN);
  mpfr_sub_d (e, e, 0.5, MPFR_RNDN);
  mpfr_set_str (ref, "0.293379035858092962737649171281901159", 10, MPFR_RNDN);
  MV_CHECK_DIGITS (e, ref, 35.5, 0, "E[pi^2] = 1/2 - c_1");
  const double norm[3] = { -0.0254732579073234, 0.00587706060001344, -0.00172665628756817 };
  for (int i = 0; i < 3; i++)
    {
      unsigned k = 3 + 2 * i;
      double v = t->cd[k] / sqrt (tgamma (k + 1.0));
      MV_CHECK_CLOSE_D (v, norm[i], 1e-14, 0, "c_k/sqrt(k!)");
    }
  mpfr_clears (e, ref, (mpfr_ptr) 0);
  mv_hermite_table_free (t);
}
END_TEST

/* The two methods share nothing but the definition of c_k: they must agree
 * within the sum of their claimed errors, for every k. */
static void
check_methods_agree (unsigned kmax, mpfr_prec_t prec)
{
  mpfr_t *a = coeffs_new (kmax, prec), *b = coeffs_new (kmax, prec), d;
  mv_mag *ra = malloc ((kmax + 1) * sizeof *ra), *rb = malloc ((kmax + 1) * sizeof *rb);
  ck_assert_int_eq (mv_hermite_coeffs_fourier (a, ra, kmax), MV_OK);
  ck_assert_int_eq (mv_hermite_coeffs_direct (b, rb, kmax), MV_OK);
  mpfr_init2 (d, 64);
  for (unsigned k = 1; k <= kmax; k += 2)
    {
      mpfr_sub (d, a[k], b[k], MPFR_RNDN);
      mpfr_div (d, d, a[k], MPFR_RNDN);
      double rel = fabs (mpfr_get_d (d, MPFR_RNDN));
      double rak = MV_MAG_D (ra[k]), rbk = MV_MAG_D (rb[k]);
      if (!(rel <= rak + rbk) || rak > ldexp (1.0, 4 - (int) prec))
        {
          mpfr_fprintf (stderr, "k=%u\n fourier %.60Re (relerr %.3g)\n direct  %.60Re (relerr %.3g)\n",
                        k, a[k], rak, b[k], rbk);
          ck_abort_msg ("c_%u: methods differ by %.3g relative, claimed %.3g + %.3g",
                        k, rel, rak, rbk);
        }
      /* the envelope used for truncation bounds really bounds |c_k| */
      long e;
      double mant = mpfr_get_d_2exp (&e, a[k], MPFR_RNDN);
      double lnc = log (fabs (mant)) + e * M_LN2;
      ck_assert_msg (lnc <= mv_hermite_coeff_log_bound (k),
                     "envelope fails at k=%u: ln|c_k| = %.6f > %.6f", k, lnc,
                     mv_hermite_coeff_log_bound (k));
    }
  mpfr_clear (d);
  coeffs_free (a, kmax), coeffs_free (b, kmax);
  free (ra), free (rb);
}

START_TEST (t_methods_256) { check_methods_agree (301, 256); }
END_TEST
START_TEST (t_methods_128_large_k) { check_methods_agree (1201, 128); }
END_TEST

/* Precision ladder: each precision agrees with the next to the digits the
 * lower one claims (mpfr_can_round based count). */
START_TEST (t_ladder)
{
  const mpfr_prec_t precs[4] = { 64, 128, 256, 512 };
  unsigned kmax = 151;
  mv_hermite_table *t[4];
  for (int i = 0; i < 4; i++)
    {
      t[i] = mv_hermite_table_alloc (kmax, precs[i]);
      ck_assert_ptr_nonnull (t[i]);
    }
  for (int i = 0; i < 3; i++)
    for (unsigned k = 1; k <= kmax; k += 2)
      {
        long dg = mv_hermite_coeff_digits (t[i]->c[k], &t[i]->relerr[k]);
        ck_assert_msg (dg >= (long) (precs[i] * 0.30103) - 3,
                       "c_%u at %ld bits: only %ld digits claimed", k,
                       (long) precs[i], dg);
        MV_CHECK_DIGITS (t[i]->c[k], t[i + 1]->c[k], (double) dg, 0, "ladder");
      }
  for (int i = 0; i < 4; i++)
    mv_hermite_table_free (t[i]);
}
END_TEST

START_TEST (t_bad_precision)
{
  ck_assert_ptr_null (mv_hermite_table_alloc (5, 10));
  /* tables also serve working precisions: target plus guard bits */
  ck_assert_ptr_null (mv_hermite_table_alloc (5, MV_PREC_WORK_MAX + 1));
  ck_assert_ptr_null (mv_expect_alloc (MV_PREC_MAX + 1));
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("hermite");
  TCase *tc = tcase_create ("core");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, t_hermite_poly);
  tcase_add_test (tc, t_reference_fourier);
  tcase_add_test (tc, t_reference_direct);
  tcase_add_test (tc, t_identities);
  tcase_add_test (tc, t_methods_256);
  tcase_add_test (tc, t_methods_128_large_k);
  tcase_add_test (tc, t_ladder);
  tcase_add_test (tc, t_bad_precision);
  suite_add_tcase (s, tc);
  return mv_test_run (s);
}
