/* Loss terms (term.h): the built-in list, a throw-away fixture term
 * (term_offset.c) added with mv_loss_add_term and checked on every level
 * the drivers give it for free (value, Gram and raw gradients, MPFR path,
 * Gram and raw Hessians), and the data-fit per-sample form against the
 * closed form by Monte Carlo and against finite differences. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_randist.h>
#include <moeverify/moeverify.h>

extern const mv_loss_term_type *mv_test_term_offset;
extern const double mv_test_offset_c0, mv_test_offset_c2;

#define M 3
#define MS 2
#define NV (2 * (M + MS))
#define WT 0.7          /* fixture weight */
#define NOISE 0.2

/* Unit vectors in R^d (n rows) and their Gram matrix. */
static void
random_gram (double *U, double *G, size_t n, size_t d, unsigned long seed)
{
  gsl_rng *r = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (r, seed);
  for (size_t k = 0; k < n; k++)
    {
      double nr = 0;
      for (size_t i = 0; i < d; i++)
        U[k * d + i] = gsl_ran_gaussian (r, 1.0), nr += U[k * d + i] * U[k * d + i];
      for (size_t i = 0; i < d; i++)
        U[k * d + i] /= sqrt (nr);
    }
  for (size_t k = 0; k < n; k++)
    for (size_t l = 0; l < n; l++)
      {
        double a = 0;
        for (size_t i = 0; i < d; i++)
          a += U[k * d + i] * U[l * d + i];
        G[k * n + l] = k == l ? 1.0 : a;
      }
  gsl_rng_free (r);
}

/* The fixture's value, computed here independently of term_offset.c. */
static double
offset_value (const double *G, size_t m, size_t n)
{
  double q = 0;
  for (size_t i = 0; i < m; i++)
    for (size_t k = i + 1; k < m; k++)
      q += G[(m + i) * n + m + k] * G[(m + i) * n + m + k];
  return mv_test_offset_c0 + mv_test_offset_c2 * q;
}

static mv_loss_ws *
ws_with_offset (size_t m, size_t ms, mpfr_prec_t prec)
{
  mv_loss_ws *ws = mv_loss_alloc (m, ms, prec);
  ck_assert_ptr_nonnull (ws);
  ck_assert_int_eq (mv_loss_add_term (ws, mv_test_term_offset, WT), MV_OK);
  return ws;
}

/* ------------------------------------------------------------------ */

START_TEST (t_list)
{
  mv_loss_ws *ws = mv_loss_alloc (2, 1, 53);
  double w = 0;
  ck_assert_uint_eq (mv_loss_nterms (ws), 2);
  ck_assert_ptr_eq (mv_loss_term (ws, 0, &w), mv_loss_term_noise);
  ck_assert (w == 1.0);
  ck_assert_ptr_eq (mv_loss_term (ws, 1, &w), mv_loss_term_datafit);
  ck_assert_ptr_null (mv_loss_term (ws, 2, NULL));
  ck_assert_ptr_eq (mv_loss_term_find ("datafit"), mv_loss_term_datafit);
  ck_assert_ptr_eq (mv_loss_term_find ("noise"), mv_loss_term_noise);
  ck_assert_ptr_null (mv_loss_term_find ("no-such-term"));
  ck_assert_int_eq (mv_loss_add_term (ws, NULL, 1.0), MV_EINVAL);
  ck_assert_int_eq (mv_loss_add_term (ws, mv_test_term_offset, NAN), MV_EINVAL);
  /* only the fixture: L is its value alone */
  mv_loss_clear_terms (ws);
  ck_assert_int_eq (mv_loss_add_term (ws, mv_test_term_offset, WT), MV_OK);
  size_t n = 6;
  double U[6 * 4], G[36], L;
  random_gram (U, G, n, 4, 3);
  ck_assert_int_eq (mv_loss_gram_d (&L, NULL, NULL, G, NOISE, ws), MV_OK);
  MV_CHECK_CLOSE_D (L, WT * offset_value (G, 2, n), 4e-16, 0, "fixture alone");
  mv_loss_free (ws);
}
END_TEST

/* value = datafit + noise + WT * fixture; Gram gradient vs central
 * differences of the total (h = 1e-5: truncation ~h^2 |L'''| ~ 1e-9,
 * rounding ~1e-16 |L| / h ~ 1e-10; tolerance 1e-7 (1 + |g|)). */
START_TEST (t_gram_value_grad)
{
  size_t n = NV, nn = n * n;
  double U[NV * 7], G[NV * NV], g0[NV * NV], g1[NV * NV], Gp[NV * NV];
  random_gram (U, G, n, 7, 11);
  mv_loss_ws *ws0 = mv_loss_alloc (M, MS, 53), *ws1 = ws_with_offset (M, MS, 53);
  mv_loss_info i0, i1;
  double L0, L1;
  ck_assert_int_eq (mv_loss_gram_d (&L0, g0, &i0, G, NOISE, ws0), MV_OK);
  ck_assert_int_eq (mv_loss_gram_d (&L1, g1, &i1, G, NOISE, ws1), MV_OK);
  double fx = WT * offset_value (G, M, n);
  double tol = MV_MAG_D (i0.err) + MV_MAG_D (i1.err) + 0x1p-50 * fabs (L1);
  MV_CHECK_CLOSE_D (L1, L0 + fx, 0, tol, "L = datafit + noise + fixture");
  ck_assert_msg (i1.abs_terms >= i0.abs_terms + fabs (fx) * (1 - 0x1p-50),
                 "abs_terms %g < %g + %g", i1.abs_terms, i0.abs_terms, fx);
  size_t nchk = 0;
  for (size_t k = 0; k < n; k++)
    for (size_t l = k + 1; l < n; l++)
      {
        if (mv_loss_var (ws1, k, l) == (size_t) -1)
          {
            ck_assert_msg (g1[k * n + l] == 0, "teacher-teacher (%zu,%zu)", k, l);
            continue;
          }
        const double h = 1e-5;
        double Lp, Lm;
        memcpy (Gp, G, nn * sizeof *G);
        Gp[k * n + l] = Gp[l * n + k] = G[k * n + l] + h;
        ck_assert_int_eq (mv_loss_gram_d (&Lp, NULL, NULL, Gp, NOISE, ws1), MV_OK);
        Gp[k * n + l] = Gp[l * n + k] = G[k * n + l] - h;
        ck_assert_int_eq (mv_loss_gram_d (&Lm, NULL, NULL, Gp, NOISE, ws1), MV_OK);
        double fd = (Lp - Lm) / (2 * h), gk = g1[k * n + l];
        MV_CHECK_CLOSE_D (gk, fd, 0, 1e-7 * (1 + fabs (gk)), "dL/dG vs FD");
        ck_assert (g1[l * n + k] == gk);
        /* the fixture's own part: 2 WT C2 G on expert pairs */
        int ww = k >= M && k < 2 * M && l >= M && l < 2 * M;
        double want = ww ? 2 * WT * mv_test_offset_c2 * G[k * n + l] : 0.0;
        MV_CHECK_CLOSE_D (gk - g0[k * n + l], want, 0,
                          MV_MAG_D (i0.grad_err) + MV_MAG_D (i1.grad_err) + 0x1p-50,
                          "fixture gradient");
        nchk++;
      }
  ck_assert_uint_eq (nchk, mv_loss_nvar (ws1));
  mv_loss_free (ws0), mv_loss_free (ws1);
}
END_TEST

static void
raw_problem (mv_problem *pb, size_t d, size_t m, size_t ms, const double *th,
             const double *Vt, const double *Wt)
{
  ck_assert_int_eq (mv_problem_set_d (pb, d, m, ms, th, th + m * d, Vt, Wt,
                                      NOISE), MV_OK);
}

/* Raw gradient (mv_loss_eval_d) vs central differences in the raw student
 * vectors (h = 1e-6; tolerance 1e-6 (1 + |g|)). */
START_TEST (t_raw_grad)
{
  const size_t d = 5, m = 2, ms = 2, N = 2 * m * d;
  gsl_rng *r = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (r, 5);
  double th[20], Vt[10], Wt[10], g[20];
  for (size_t i = 0; i < N; i++)
    th[i] = gsl_ran_gaussian (r, 1.0);
  for (size_t i = 0; i < ms * d; i++)
    Vt[i] = gsl_ran_gaussian (r, 1.0), Wt[i] = gsl_ran_gaussian (r, 1.0);
  gsl_rng_free (r);
  mv_loss_ws *ws = ws_with_offset (m, ms, 53);
  mv_problem pb;
  double L;
  raw_problem (&pb, d, m, ms, th, Vt, Wt);
  ck_assert_int_eq (mv_loss_eval_d (&L, g, g + m * d, NULL, &pb, ws), MV_OK);
  mv_problem_clear (&pb);
  for (size_t a = 0; a < N; a++)
    {
      const double h = 1e-6;
      double t = th[a], Lp, Lm;
      th[a] = t + h;
      raw_problem (&pb, d, m, ms, th, Vt, Wt);
      ck_assert_int_eq (mv_loss_eval_d (&Lp, NULL, NULL, NULL, &pb, ws), MV_OK);
      mv_problem_clear (&pb);
      th[a] = t - h;
      raw_problem (&pb, d, m, ms, th, Vt, Wt);
      ck_assert_int_eq (mv_loss_eval_d (&Lm, NULL, NULL, NULL, &pb, ws), MV_OK);
      mv_problem_clear (&pb);
      th[a] = t;
      MV_CHECK_CLOSE_D (g[a], (Lp - Lm) / (2 * h), 0, 1e-6 * (1 + fabs (g[a])),
                        "raw gradient vs FD");
    }
  mv_loss_free (ws);
}
END_TEST

/* MPFR path at 128 bits vs the double path: |L_mp - L_d| and every
 * |dL/dG_mp - dL/dG_d| within the sum of the two stated bounds. */
START_TEST (t_mpfr)
{
  size_t n = NV, nn = n * n;
  double U[NV * 7], G[NV * NV], gd[NV * NV], Ld;
  random_gram (U, G, n, 7, 13);
  mv_loss_ws *wsd = ws_with_offset (M, MS, 53), *wsm = ws_with_offset (M, MS, 128);
  mv_loss_info id, im;
  ck_assert_int_eq (mv_loss_gram_d (&Ld, gd, &id, G, NOISE, wsd), MV_OK);
  mpfr_t Lm, Gm[NV * NV], gm[NV * NV];
  mpfr_init2 (Lm, 128);
  for (size_t i = 0; i < nn; i++)
    {
      mpfr_init2 (Gm[i], 128), mpfr_init2 (gm[i], 128);
      mpfr_set_d (Gm[i], G[i], MPFR_RNDN);
    }
  int s = mv_loss_gram (Lm, gm, &im, Gm, NOISE, wsm);
  ck_assert_msg (s == MV_OK, "%s", mv_error_message ());
  double em = MV_MAG_D (im.err), ed = MV_MAG_D (id.err);
  ck_assert_msg (em < 1e-30, "MPFR bound %g at 128 bits", em);
  MV_CHECK_CLOSE_D (mpfr_get_d (Lm, MPFR_RNDN), Ld, 0, ed + em + 0x1p-53 * fabs (Ld),
                    "L: MPFR vs double");
  double tg = MV_MAG_D (id.grad_err) + MV_MAG_D (im.grad_err);
  for (size_t i = 0; i < nn; i++)
    MV_CHECK_CLOSE_D (mpfr_get_d (gm[i], MPFR_RNDN), gd[i], 0,
                      tg + 0x1p-53 * fabs (gd[i]), "dL/dG: MPFR vs double");
  mpfr_clear (Lm);
  for (size_t i = 0; i < nn; i++)
    mpfr_clear (Gm[i]), mpfr_clear (gm[i]);
  mv_loss_free (wsd), mv_loss_free (wsm);
}
END_TEST

/* Gram Hessian vs central differences of dL/dG (h = 1e-5, tolerance
 * 1e-6 (1 + max|H|)), and the fixture's own part 2 WT C2 on the diagonal
 * of the expert-pair variables (to 1e-12). */
START_TEST (t_gram_hess)
{
  size_t n = NV, nn = n * n;
  double U[NV * 7], G[NV * NV], Gp[NV * NV], gp[NV * NV], gm[NV * NV];
  random_gram (U, G, n, 7, 17);
  mv_loss_ws *ws0 = mv_loss_alloc (M, MS, 53), *ws1 = ws_with_offset (M, MS, 53);
  size_t nv = mv_loss_nvar (ws1);
  double *H0 = malloc (nv * nv * sizeof *H0), *H1 = malloc (nv * nv * sizeof *H1), L;
  ck_assert_int_eq (mv_loss_gram_hess_d (&L, NULL, H0, NULL, G, NOISE, ws0), MV_OK);
  ck_assert_int_eq (mv_loss_gram_hess_d (&L, NULL, H1, NULL, G, NOISE, ws1), MV_OK);
  double hmax = 0;
  for (size_t i = 0; i < nv * nv; i++)
    hmax = fmax (hmax, fabs (H1[i]));
  for (size_t k = 0; k < n; k++)
    for (size_t l = k + 1; l < n; l++)
      {
        size_t b = mv_loss_var (ws1, k, l);
        if (b == (size_t) -1)
          continue;
        const double h = 1e-5;
        memcpy (Gp, G, nn * sizeof *G);
        Gp[k * n + l] = Gp[l * n + k] = G[k * n + l] + h;
        ck_assert_int_eq (mv_loss_gram_d (&L, gp, NULL, Gp, NOISE, ws1), MV_OK);
        Gp[k * n + l] = Gp[l * n + k] = G[k * n + l] - h;
        ck_assert_int_eq (mv_loss_gram_d (&L, gm, NULL, Gp, NOISE, ws1), MV_OK);
        for (size_t p = 0; p < n; p++)
          for (size_t q = p + 1; q < n; q++)
            {
              size_t a = mv_loss_var (ws1, p, q);
              if (a == (size_t) -1)
                continue;
              double fd = (gp[p * n + q] - gm[p * n + q]) / (2 * h);
              MV_CHECK_CLOSE_D (H1[a * nv + b], fd, 0, 1e-6 * (1 + hmax),
                                "Gram Hessian vs FD of dL/dG");
              int ww = a == b && k >= M && k < 2 * M && l >= M && l < 2 * M;
              MV_CHECK_CLOSE_D (H1[a * nv + b] - H0[a * nv + b],
                                ww ? 2 * WT * mv_test_offset_c2 : 0.0, 0, 1e-12,
                                "fixture Hessian");
            }
      }
  free (H0), free (H1);
  mv_loss_free (ws0), mv_loss_free (ws1);
}
END_TEST

/* Raw Hessian (mv_loss_hess_raw_d) with the fixture vs central differences
 * of the raw gradient (h = 1e-6, tolerance 1e-5 (1 + max|H|)). */
START_TEST (t_raw_hess)
{
  const size_t d = 3, m = 2, ms = 1, N = 2 * m * d;
  double th[12], Vt[3] = { 1, 0, 0 }, Wt[3] = { 0, 1, 0 };
  double H[144], gp[12], gm[12], Lx;
  gsl_rng *r = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (r, 23);
  for (size_t i = 0; i < N; i++)
    th[i] = gsl_ran_gaussian (r, 1.0);
  gsl_rng_free (r);
  mv_loss_ws *ws = ws_with_offset (m, ms, 53);
  mv_problem pb;
  raw_problem (&pb, d, m, ms, th, Vt, Wt);
  int s = mv_loss_hess_raw_d (H, NULL, NULL, NULL, &pb, ws);
  ck_assert_msg (s == MV_OK, "%s", mv_error_message ());
  mv_problem_clear (&pb);
  double hmax = 0;
  for (size_t i = 0; i < N * N; i++)
    hmax = fmax (hmax, fabs (H[i]));
  for (size_t b = 0; b < N; b++)
    {
      const double h = 1e-6;
      double t = th[b];
      th[b] = t + h;
      raw_problem (&pb, d, m, ms, th, Vt, Wt);
      ck_assert_int_eq (mv_loss_eval_d (&Lx, gp, gp + m * d, NULL, &pb, ws), MV_OK);
      mv_problem_clear (&pb);
      th[b] = t - h;
      raw_problem (&pb, d, m, ms, th, Vt, Wt);
      ck_assert_int_eq (mv_loss_eval_d (&Lx, gm, gm + m * d, NULL, &pb, ws), MV_OK);
      mv_problem_clear (&pb);
      th[b] = t;
      for (size_t a = 0; a < N; a++)
        MV_CHECK_CLOSE_D (H[a * N + b], (gp[a] - gm[a]) / (2 * h), 0,
                          1e-5 * (1 + hmax), "raw Hessian vs FD of the gradient");
    }
  mv_loss_free (ws);
}
END_TEST

/* Data-fit per-sample form: the mean of ½ (f - f* - eps)^2 over NS
 * Gaussian x and eps ~ N(0, SNOISE) (seed fixed) is L = datafit + SNOISE/2
 * within 5 standard errors; the partials vs central differences in each
 * student projection (h = 1e-6, tolerance 1e-7 (1 + |D|)). */
#define NS 200000
#define SNOISE 1.0   /* large enough that dropping eps moves the mean by > 5 SE */
#define BS 1000
START_TEST (t_sample)
{
  const size_t d = 6, n = NV, m2 = 2 * M;
  double U[NV * 6], G[NV * NV], L;
  random_gram (U, G, n, d, 29);
  mv_loss_ws *ws = mv_loss_alloc (M, MS, 53);
  ck_assert_int_eq (mv_loss_gram_d (&L, NULL, NULL, G, SNOISE, ws), MV_OK);
  double *P = malloc (BS * n * sizeof *P), *eps = malloc (BS * sizeof *eps);
  double *val = malloc (BS * sizeof *val), *D = malloc (BS * m2 * sizeof *D);
  gsl_rng *r = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (r, 31);
  double sum = 0, sum2 = 0, x[6];
  for (size_t b0 = 0; b0 < NS; b0 += BS)
    {
      for (size_t s = 0; s < BS; s++)
        {
          for (size_t i = 0; i < d; i++)
            x[i] = gsl_ran_gaussian (r, 1.0);
          for (size_t k = 0; k < n; k++)
            {
              double a = 0;
              for (size_t i = 0; i < d; i++)
                a += U[k * d + i] * x[i];
              P[s * n + k] = a;
            }
          eps[s] = gsl_ran_gaussian (r, sqrt (SNOISE));
        }
      ck_assert_int_eq (mv_loss_sample_d (val, D, m2, P, n, eps, BS, ws), MV_OK);
      for (size_t s = 0; s < BS; s++)
        sum += val[s], sum2 += val[s] * val[s];
    }
  double mean = sum / NS, se = sqrt ((sum2 / NS - mean * mean) / (NS - 1));
  printf ("data-fit sample mean %.6g +- %.2g (closed form %.6g, %.2f SE)\n",
          mean, se, L, (mean - L) / se);
  ck_assert_msg (fabs (mean - L) <= 5 * se, "MC mean %.10g, closed form %.10g, "
                 "SE %.3g", mean, L, se);
  /* partials of the last block's first samples */
  for (size_t s = 0; s < 8; s++)
    for (size_t j = 0; j < m2; j++)
      {
        const double h = 1e-6;
        double pj = P[s * n + j], vp, vm;
        P[s * n + j] = pj + h;
        ck_assert_int_eq (mv_loss_sample_d (&vp, NULL, 0, P + s * n, n, eps + s, 1, ws), MV_OK);
        P[s * n + j] = pj - h;
        ck_assert_int_eq (mv_loss_sample_d (&vm, NULL, 0, P + s * n, n, eps + s, 1, ws), MV_OK);
        P[s * n + j] = pj;
        double Dj = D[s * m2 + j];
        MV_CHECK_CLOSE_D (Dj, (vp - vm) / (2 * h), 0, 1e-7 * (1 + fabs (Dj)),
                          "sample partial vs FD");
      }
  /* a term without a per-sample form is refused */
  ck_assert_int_eq (mv_loss_add_term (ws, mv_test_term_offset, 1.0), MV_OK);
  ck_assert_int_eq (mv_loss_sample_d (val, NULL, 0, P, n, eps, 1, ws), MV_EINVAL);
  gsl_rng_free (r);
  free (P), free (eps), free (val), free (D);
  mv_loss_free (ws);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("term");
  TCase *tc = tcase_create ("core");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, t_list);
  tcase_add_test (tc, t_gram_value_grad);
  tcase_add_test (tc, t_raw_grad);
  tcase_add_test (tc, t_mpfr);
  tcase_add_test (tc, t_gram_hess);
  tcase_add_test (tc, t_raw_hess);
  tcase_add_test (tc, t_sample);
  suite_add_tcase (s, tc);
  return mv_test_run (s);
}
