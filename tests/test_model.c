/* The model kernel mv_model_eval (src/base/model.c).
 *
 *  value     f against the formula sum_i pi(a_i) He3(b_i) written out here,
 *            at random projections; D = NULL and f = NULL leave the other
 *            output alone
 *  partials  df/da_i, df/db_i against central finite differences of f
 *  weights   mv_model_factors + mv_model_weigh: the factors pi, He3 and
 *            f; weights scale the partials bit for bit as the historical
 *            loops did (w pi (1 - pi) He3); w = 1 gives mv_model_eval
 *  scaling   raw projections with inverse norms equal pre-scaled input */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "base/model.h"

#define NS 7            /* samples */
#define K 4             /* experts */
#define LDP (2 * K + 3) /* padded row strides */
#define LDD (2 * K + 1)

static double
ref_f (const double *p, size_t k)
{
  double f = 0;
  for (size_t i = 0; i < k; i++)
    {
      double a = p[i], b = p[k + i];
      f += (1.0 / (1.0 + exp (-a))) * (b * b * b - 3.0 * b);
    }
  return f;
}

/* projections ~ N(0, 4): both saturated routers and large He3 arguments */
static void
fill (double *P, gsl_rng *r)
{
  for (size_t i = 0; i < NS * LDP; i++)
    P[i] = 2.0 * gsl_ran_gaussian (r, 1.0);
}

START_TEST (t_value)
{
  gsl_rng *r = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (r, 11);
  double P[NS * LDP], f[NS], f2[NS], D[NS * LDD];
  for (int rep = 0; rep < 20; rep++)
    {
      fill (P, r);
      mv_model_eval (f, NULL, 0, P, LDP, NULL, NS, K);
      for (size_t s = 0; s < NS; s++)
        MV_CHECK_CLOSE_D (f[s], ref_f (P + s * LDP, K), 1e-14, 1e-14, "f");
      /* f with D: the same sum; D only: f untouched */
      mv_model_eval (f2, D, LDD, P, LDP, NULL, NS, K);
      ck_assert (memcmp (f, f2, sizeof f) == 0);
      f2[0] = 42.0;
      mv_model_eval (NULL, D, LDD, P, LDP, NULL, NS, K);
      ck_assert (f2[0] == 42.0);
    }
  /* k = 0: f = 0 */
  mv_model_eval (f, NULL, 0, P, LDP, NULL, NS, 0);
  for (size_t s = 0; s < NS; s++)
    ck_assert (f[s] == 0.0);
  gsl_rng_free (r);
}
END_TEST

/* Central differences with step h = 1e-5 on O(1)-O(10) arguments: the
 * truncation error is h^2 f'''/6 ~ 1e-9 relative to the third derivative
 * (|He3'''| = 6), rounding ~ eps |f| / h ~ 1e-10 |f|: tolerance 1e-7
 * relative plus 1e-7 absolute. */
START_TEST (t_partials)
{
  gsl_rng *r = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (r, 12);
  double P[NS * LDP], f[NS], D[NS * LDD];
  const double h = 1e-5;
  for (int rep = 0; rep < 10; rep++)
    {
      fill (P, r);
      mv_model_eval (f, D, LDD, P, LDP, NULL, NS, K);
      for (size_t s = 0; s < NS; s++)
        for (size_t j = 0; j < 2 * K; j++)
          {
            double *p = P + s * LDP, x = p[j], fp, fm;
            p[j] = x + h;
            fp = ref_f (p, K);
            p[j] = x - h;
            fm = ref_f (p, K);
            p[j] = x;
            char what[64];
            snprintf (what, sizeof what, "df/d%c_%zu (sample %zu)",
                      j < K ? 'a' : 'b', j % K, s);
            MV_CHECK_CLOSE_D (D[s * LDD + j], (fp - fm) / (2 * h), 1e-7, 1e-7,
                              what);
          }
    }
  gsl_rng_free (r);
}
END_TEST

START_TEST (t_weights)
{
  gsl_rng *r = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (r, 13);
  double P[NS * LDP], D[NS * LDD], Dw[NS * LDD], wt[NS];
  fill (P, r);
  for (size_t s = 0; s < NS; s++)
    wt[s] = gsl_ran_gaussian (r, 3.0);
  double f[NS], fw[NS], D1[NS * LDD];
  mv_model_eval (f, D, LDD, P, LDP, NULL, NS, K);
  mv_model_factors (fw, Dw, LDD, P, LDP, NULL, NS, K);
  ck_assert (memcmp (f, fw, sizeof f) == 0);
  for (size_t s = 0; s < NS; s++)
    for (size_t i = 0; i < K; i++)
      {
        double a = P[s * LDP + i], b = P[s * LDP + K + i];
        ck_assert (Dw[s * LDD + i] == 1.0 / (1.0 + exp (-a)));
        ck_assert (Dw[s * LDD + K + i] == b * (b * b - 3.0));
      }
  memcpy (D1, Dw, sizeof D1);
  mv_model_weigh (D1, LDD, P, LDP, NULL, NULL, NS, K);
  for (size_t s = 0; s < NS; s++)
    ck_assert (memcmp (D1 + s * LDD, D + s * LDD, 2 * K * sizeof *D) == 0);
  mv_model_weigh (Dw, LDD, P, LDP, NULL, wt, NS, K);
  for (size_t s = 0; s < NS; s++)
    for (size_t i = 0; i < K; i++)
      {
        double a = P[s * LDP + i], b = P[s * LDP + K + i];
        double pi = 1.0 / (1.0 + exp (-a)), he = b * (b * b - 3.0);
        ck_assert (Dw[s * LDD + i] == wt[s] * pi * (1.0 - pi) * he);
        ck_assert (Dw[s * LDD + K + i] == wt[s] * pi * 3.0 * (b * b - 1.0));
        MV_CHECK_CLOSE_D (Dw[s * LDD + i], wt[s] * D[s * LDD + i], 1e-15,
                          1e-300, "weighted df/da");
      }
  gsl_rng_free (r);
}
END_TEST

/* Raw projections times inverse norms against the same values scaled
 * beforehand: bitwise equal (the kernel forms a = p * inv once). */
START_TEST (t_scaling)
{
  gsl_rng *r = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (r, 14);
  double P[NS * LDP], Q[NS * LDP], inv[2 * K];
  double f[NS], g[NS], D[NS * LDD], E[NS * LDD];
  fill (P, r);
  for (size_t i = 0; i < 2 * K; i++)
    inv[i] = 1.0 / (0.25 + gsl_rng_uniform (r) * 4.0);
  for (size_t s = 0; s < NS; s++)
    for (size_t j = 0; j < LDP; j++)
      Q[s * LDP + j] = j < 2 * K ? P[s * LDP + j] * inv[j] : P[s * LDP + j];
  mv_model_eval (f, D, LDD, P, LDP, inv, NS, K);
  mv_model_eval (g, E, LDD, Q, LDP, NULL, NS, K);
  for (size_t s = 0; s < NS; s++)
    {
      ck_assert_msg (f[s] == g[s], "f %.17g vs pre-scaled %.17g", f[s], g[s]);
      for (size_t j = 0; j < 2 * K; j++)
        ck_assert_msg (D[s * LDD + j] == E[s * LDD + j], "D %.17g vs "
                       "pre-scaled %.17g", D[s * LDD + j], E[s * LDD + j]);
    }
  gsl_rng_free (r);
}
END_TEST

START_TEST (t_vec_name)
{
  size_t idx;
  ck_assert_str_eq (mv_model_vec_name (0, 2, 3, &idx), "student router v");
  ck_assert_uint_eq (idx, 1);
  ck_assert_str_eq (mv_model_vec_name (3, 2, 3, &idx), "student expert w");
  ck_assert_uint_eq (idx, 2);
  ck_assert_str_eq (mv_model_vec_name (6, 2, 3, &idx), "teacher router v*");
  ck_assert_uint_eq (idx, 3);
  ck_assert_str_eq (mv_model_vec_name (7, 2, 3, &idx), "teacher expert w*");
  ck_assert_uint_eq (idx, 1);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("model");
  TCase *tc = tcase_create ("kernel");
  tcase_add_test (tc, t_value);
  tcase_add_test (tc, t_partials);
  tcase_add_test (tc, t_weights);
  tcase_add_test (tc, t_scaling);
  tcase_add_test (tc, t_vec_name);
  suite_add_tcase (s, tc);
  return mv_test_run (s);
}
