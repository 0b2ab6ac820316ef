/* Monte-Carlo estimators of the specialization regularizers
 * (src/check/mcreg.c, mcreg_stats.c), against values computed here
 * independently of the library:
 *
 *  ortho      L_o (ungated) vs Σ_{i≠k} (w̄_i·w̄_k)^6 from the vectors, the
 *             cosines vs (w̄_i·w̄_k)^3 and the moments vs 6 (Mehler);
 *             gated L_o with routers orthogonal to everything vs
 *             Σ_{i≠k} g^6 / (16 E[π²]²) (MATH.md §2 check values);
 *             gated L_o for mutually orthogonal vectors: moments 6 E[π²]
 *             on the diagonal, cosines 0; the per-batch L_o^B far above
 *             L_o at T = 16 and equal to L_o + (jackknife bias) N/T at
 *             T = 4096
 *  var        L_v for m = 2 vs a 2-D Gauss-Hermite product quadrature;
 *             identical routers give exactly 0
 *  aux        L_aux vs m²/4; the per-batch L_aux^B at T = 4 vs
 *             m²/4 + m² c/T (c = E[1(z>0) π(z)] − 1/4 by Simpson's rule),
 *             visibly different from m²/4, and at T = 2048 within the
 *             errors of m²/4; per-batch L_v^B = L_v
 *  closed     the library's closed-form terms (ortho, ortho_gated, var,
 *             aux) within 4 se at a generic point
 *  api        determinism for a seed, argument checks, m = 1
 *
 * Tolerances: z = (estimate − exact)/se within 4 for single quantities,
 * 4.5 for the largest of <= 16 components (as tests/test_mc.c). */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_integration.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include <moeverify/error.h>
#include <moeverify/loss.h>
#include <moeverify/mcreg.h>
#include <moeverify/problem.h>

#define E_PI2 0.293379035858092962737649171281901159
#define ZMAX 4.0
#define ZMAX_FEW 4.5

/* ------------------------------------------------------------ helpers */

static double
dotd (const double *a, const double *b, size_t d)
{
  double s = 0;
  for (size_t i = 0; i < d; i++)
    s += a[i] * b[i];
  return s;
}

static double
sigm (double z)
{
  return 1.0 / (1.0 + exp (-z));
}

/* Rows e_0..e_{d-1}: an orthonormal basis that is not the standard one
 * (a Householder reflection). */
static void
frame (double *E, size_t d)
{
  double h[16], hh = 0;
  ck_assert (d <= 16);
  for (size_t i = 0; i < d; i++)
    {
      h[i] = 1.0 + 0.37 * (double) i - 0.11 * (double) (i * i % 5);
      hh += h[i] * h[i];
    }
  for (size_t a = 0; a < d; a++)
    for (size_t i = 0; i < d; i++)
      E[a * d + i] = (a == i ? 1.0 : 0.0) - 2.0 * h[a] * h[i] / hh;
}

/* out = scale * Σ_j c[j] e_j (nc coefficients) */
static void
combo (double *out, const double *E, size_t d, const double *c, size_t nc,
       double scale)
{
  for (size_t i = 0; i < d; i++)
    {
      out[i] = 0;
      for (size_t j = 0; j < nc; j++)
        out[i] += c[j] * E[j * d + i];
      out[i] *= scale;
    }
}

/* A problem with students V, W (m x d) and an orthonormal teacher (the
 * regularizers do not read it). */
static void
make_problem (mv_problem *pb, size_t d, size_t m, const double *V,
              const double *W)
{
  double Vt[16] = { 0 }, Wt[16] = { 0 };
  Vt[0] = 1, Wt[1] = 1;
  ck_assert_int_eq (mv_problem_set_d (pb, d, m, 1, V, W, Vt, Wt, 0.0),
                    MV_OK);
}

/* Seeds are fixed; MV_TEST_SEED=K shifts every Monte-Carlo seed by K (to
 * check that the statistical assertions are not tuned to one stream). */
static unsigned long
seed_shift (void)
{
  const char *e = getenv ("MV_TEST_SEED");
  return e ? strtoul (e, NULL, 10) : 0;
}

static void
estimate (mv_mcreg_result *r, const mv_problem *pb, size_t N, size_t T,
          unsigned long seed)
{
  mv_mcreg_params p;
  mv_mcreg_params_default (&p);
  p.samples = N;
  p.tokens = T;
  p.seed = seed + 1000 * seed_shift ();
  ck_assert_int_eq (mv_mcreg_result_init (r, pb->m), MV_OK);
  if (mv_mcreg_estimate (r, pb, &p))
    ck_abort_msg ("mv_mcreg_estimate: %s", mv_error_message ());
}

static void
check_z (double est, double se, double exact, double zmax, const char *what)
{
  double z = (est - exact) / se;
  printf ("  %-28s MC %.8g +- %.3g, exact %.10g, z = %.3g\n", what, est, se,
          exact, z);
  if (!(se > 0) || !(fabs (z) <= zmax))
    ck_abort_msg ("%s: estimate %.17g, se %.3g, exact %.17g: z = %.3g "
                  "(bound %g)", what, est, se, exact, z, zmax);
}

/* Three experts with overlaps 0.7, -0.5, 0.3 (in frame coordinates),
 * raw norms 1.3, 0.6, 2.1.  routers_ortho: routers e_3, e_4, e_5 (mutually
 * orthogonal and orthogonal to the experts); else generic routers. */
static void
three_experts (double *V, double *W, const double *E, size_t d,
               int routers_ortho)
{
  const double cw[3][3] = { { 1, 0, 0 }, { 0.7, sqrt (1 - 0.49), 0 },
                            { -0.5, 0.3, 0.6 } };
  const double sw[3] = { 1.3, 0.6, 2.1 };
  for (size_t i = 0; i < 3; i++)
    combo (W + i * d, E, d, cw[i], 3, sw[i]);
  for (size_t i = 0; i < 3; i++)
    {
      double cv[8] = { 0 };
      if (routers_ortho)
        cv[3 + i] = 1;
      else
        for (size_t j = 0; j < 8; j++)
          cv[j] = sin (1.0 + 2.3 * (double) i + 0.7 * (double) j
                       + 0.3 * (double) (i * j));
      combo (V + i * d, E, d, cv, 8, 0.8 + 0.5 * (double) i);
    }
}

/* ------------------------------------------------------------ ortho */

START_TEST (t_ortho_ungated)
{
  const size_t d = 8, m = 3;
  double E[64], V[24], W[24];
  frame (E, d);
  three_experts (V, W, E, d, 0);
  mv_problem pb;
  make_problem (&pb, d, m, V, W);
  mv_mcreg_result r;
  estimate (&r, &pb, 400000, 0, 11);
  ck_assert_uint_eq (r.rank, 6);
  double exact = 0;
  printf ("t_ortho_ungated:\n");
  for (size_t i = 0; i < m; i++)
    for (size_t k = 0; k < m; k++)
      {
        const double *wi = W + i * d, *wk = W + k * d;
        double g = dotd (wi, wk, d) / sqrt (dotd (wi, wi, d) * dotd (wk, wk, d));
        char what[64];
        snprintf (what, sizeof what, "M_%zu%zu = 6 g^3", i, k);
        check_z (r.mom[i * m + k], r.mom_se[i * m + k], 6 * g * g * g,
                 ZMAX_FEW, what);
        if (i == k)
          continue;
        exact += pow (g, 6);
        snprintf (what, sizeof what, "cos_%zu%zu = g^3", i, k);
        check_z (r.cos[i * m + k], r.cos_se[i * m + k], g * g * g, ZMAX_FEW,
                 what);
      }
  check_z (r.ortho.value, r.ortho.se, exact, ZMAX, "L_o");
  ck_assert (exact > 10 * r.ortho.se);   /* a resolved, non-zero value */
  /* the bias removed is O(1/N): far below the standard error here */
  printf ("  L_o jackknife bias %.3g (se %.3g)\n", r.ortho_bias, r.ortho.se);
  ck_assert (fabs (r.ortho_bias) < r.ortho.se);
  mv_mcreg_result_clear (&r);
  mv_problem_clear (&pb);
}
END_TEST

/* Routers orthogonal to each other and to every expert: a_i independent
 * of everything else, so M^g_ik = E[π]² 6 g³ = 1.5 g³ (i ≠ k),
 * M^g_ii = 6 E[π²], and L_o_gated = Σ_{i≠k} g^6 / (16 E[π²]²). */
START_TEST (t_ortho_gated)
{
  const size_t d = 8, m = 3;
  double E[64], V[24], W[24];
  frame (E, d);
  three_experts (V, W, E, d, 1);
  mv_problem pb;
  make_problem (&pb, d, m, V, W);
  mv_mcreg_result r;
  estimate (&r, &pb, 400000, 0, 12);
  double exact = 0;
  printf ("t_ortho_gated:\n");
  for (size_t i = 0; i < m; i++)
    for (size_t k = 0; k < m; k++)
      {
        const double *wi = W + i * d, *wk = W + k * d;
        double g = dotd (wi, wk, d) / sqrt (dotd (wi, wi, d) * dotd (wk, wk, d));
        double mex = i == k ? 6 * E_PI2 : 1.5 * g * g * g;
        char what[64];
        snprintf (what, sizeof what, "Mg_%zu%zu", i, k);
        check_z (r.mom_g[i * m + k], r.mom_g_se[i * m + k], mex, ZMAX_FEW,
                 what);
        if (i != k)
          exact += pow (g, 6) / (16 * E_PI2 * E_PI2);
      }
  check_z (r.ortho_gated.value, r.ortho_gated.se, exact, ZMAX, "L_o gated");
  ck_assert (exact > 5 * r.ortho_gated.se);
  mv_mcreg_result_clear (&r);
  mv_problem_clear (&pb);
}
END_TEST

/* All six vectors mutually orthogonal: the gated moments are 6 E[π²] on
 * the diagonal and 0 off it, the cosines 0 (ungated and gated); L_o = 0,
 * where the square of a mean is not Gaussian: the estimate is bounded by
 * the cosines' errors instead, |L_o| <= Σ_{i≠k} (4.5 se(cos_ik))². */
START_TEST (t_ortho_orthogonal)
{
  const size_t d = 8, m = 3;
  double E[64], V[24], W[24];
  frame (E, d);
  for (size_t i = 0; i < m; i++)
    {
      double cv[8] = { 0 }, cw[8] = { 0 };
      cv[i] = 1, cw[3 + i] = 1;
      combo (V + i * d, E, d, cv, 8, 1.0 + 0.2 * (double) i);
      combo (W + i * d, E, d, cw, 8, 0.7 + 0.4 * (double) i);
    }
  mv_problem pb;
  make_problem (&pb, d, m, V, W);
  mv_mcreg_result r;
  estimate (&r, &pb, 400000, 0, 13);
  printf ("t_ortho_orthogonal:\n");
  double bound = 0, bound_g = 0;
  for (size_t i = 0; i < m; i++)
    for (size_t k = 0; k < m; k++)
      {
        char what[64];
        snprintf (what, sizeof what, "Mg_%zu%zu", i, k);
        check_z (r.mom_g[i * m + k], r.mom_g_se[i * m + k],
                 i == k ? 6 * E_PI2 : 0.0, ZMAX_FEW, what);
        if (i == k)
          continue;
        snprintf (what, sizeof what, "cos_%zu%zu", i, k);
        check_z (r.cos[i * m + k], r.cos_se[i * m + k], 0.0, ZMAX_FEW, what);
        snprintf (what, sizeof what, "cos_g_%zu%zu", i, k);
        check_z (r.cos_g[i * m + k], r.cos_g_se[i * m + k], 0.0, ZMAX_FEW,
                 what);
        bound += pow (4.5 * r.cos_se[i * m + k], 2);
        bound_g += pow (4.5 * r.cos_g_se[i * m + k], 2);
      }
  printf ("  L_o %.3g (bound %.3g), L_o gated %.3g (bound %.3g)\n",
          r.ortho.value, bound, r.ortho_gated.value, bound_g);
  ck_assert (fabs (r.ortho.value) <= bound);
  ck_assert (fabs (r.ortho_gated.value) <= bound_g);
  mv_mcreg_result_clear (&r);
  mv_problem_clear (&pb);
}
END_TEST

/* Per-batch orthogonality: on T tokens the normalised squared inner
 * products are biased upward by O(1/T); the leading coefficient is the
 * delta-method bias ½ tr(H Cov), which the population jackknife estimates
 * as ortho_bias * N.  At T = 16 the batch mean is far above the population
 * value; at T = 4096 it agrees with population + ortho_bias N / T. */
START_TEST (t_ortho_batch)
{
  const size_t d = 8, m = 3, N = 400000;
  double E[64], V[24], W[24];
  frame (E, d);
  three_experts (V, W, E, d, 0);
  mv_problem pb;
  make_problem (&pb, d, m, V, W);
  double exact = 0;
  for (size_t i = 0; i < m; i++)
    for (size_t k = 0; k < m; k++)
      if (i != k)
        {
          const double *wi = W + i * d, *wk = W + k * d;
          exact += pow (dotd (wi, wk, d), 6)
            / pow (dotd (wi, wi, d) * dotd (wk, wk, d), 3);
        }
  mv_mcreg_result r;
  printf ("t_ortho_batch:\n");
  estimate (&r, &pb, N, 16, 18);
  double z16 = (r.ortho_batch.value - exact) / r.ortho_batch.se;
  printf ("  T = 16: L_o^B %.6g +- %.3g vs L_o %.6g: z = %.3g\n",
          r.ortho_batch.value, r.ortho_batch.se, exact, z16);
  ck_assert (z16 > 20);
  mv_mcreg_result_clear (&r);
  estimate (&r, &pb, N, 4096, 19);
  double pred = exact + r.ortho_bias * (double) N / 4096.0;
  check_z (r.ortho_batch.value, r.ortho_batch.se, pred, ZMAX,
           "L_o^B, T = 4096 (L_o + bias)");
  mv_mcreg_result_clear (&r);
  mv_problem_clear (&pb);
}
END_TEST

/* ------------------------------------------------------------ var */

/* m = 2: L_v = −½ E[(π(a_1) − π(a_2))²], corr(a_1, a_2) = rho, by an
 * n x n Gauss-Hermite product rule (weight e^{-z²/2}) on a_1 = z_1,
 * a_2 = rho z_1 + sqrt(1 − rho²) z_2.  π is analytic in a strip of
 * half-width π, so the rule converges geometrically in sqrt(n); n = 96
 * and n = 128 agree to 1e-9 here, far below the Monte-Carlo errors. */
static double
lv_quadrature (double rho, size_t n)
{
  gsl_integration_fixed_workspace *q =
    gsl_integration_fixed_alloc (gsl_integration_fixed_hermite, n, 0.0, 0.5,
                                 0.0, 0.0);
  ck_assert (q != NULL);
  const double *x = gsl_integration_fixed_nodes (q);
  const double *w = gsl_integration_fixed_weights (q);
  double s = 0, c = sqrt (1 - rho * rho);
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++)
      {
        double dp = sigm (x[i]) - sigm (rho * x[i] + c * x[j]);
        s += w[i] * w[j] * dp * dp;
      }
  gsl_integration_fixed_free (q);
  return -0.5 * s / (2 * M_PI);
}

START_TEST (t_var_quadrature)
{
  const size_t d = 5, m = 2;
  double E[25], V[10], W[10];
  frame (E, d);
  const double rho = 0.35;
  double cv1[2] = { 1, 0 }, cv2[2] = { rho, sqrt (1 - rho * rho) };
  double cw1[5] = { 0.2, 0.1, 0.9, 0, 0.3 }, cw2[5] = { -0.4, 0.5, 0, 0.6, 0.1 };
  combo (V, E, d, cv1, 2, 0.9);
  combo (V + d, E, d, cv2, 2, 1.7);
  combo (W, E, d, cw1, 5, 1.1);
  combo (W + d, E, d, cw2, 5, 0.4);
  double q96 = lv_quadrature (rho, 96), q128 = lv_quadrature (rho, 128);
  printf ("t_var_quadrature: GH n = 96 %.15g, n = 128 %.15g\n", q96, q128);
  MV_CHECK_CLOSE_D (q96, q128, 0, 1e-9, "Gauss-Hermite converged");
  mv_problem pb;
  make_problem (&pb, d, m, V, W);
  mv_mcreg_result r;
  estimate (&r, &pb, 400000, 64, 14);
  check_z (r.var.value, r.var.se, q128, ZMAX, "L_v");
  /* the per-token definition is linear: same expectation */
  check_z (r.var_batch.value, r.var_batch.se, q128, ZMAX, "L_v per batch");
  ck_assert (fabs (q128) > 10 * r.var.se);
  mv_mcreg_result_clear (&r);
  /* identical routers: π_1 = π_2 on every sample, L_v = 0 exactly */
  memcpy (V + d, V, d * sizeof *V);
  mv_problem_clear (&pb);
  make_problem (&pb, d, m, V, W);
  estimate (&r, &pb, 10000, 0, 15);
  ck_assert_msg (r.var.value == 0 && r.var.se == 0, "L_v %g se %g",
                 r.var.value, r.var.se);
  mv_mcreg_result_clear (&r);
  mv_problem_clear (&pb);
}
END_TEST

/* ------------------------------------------------------------ aux */

/* c = Cov(1(z > 0), π(z)) = ∫_0^∞ π(z) φ(z) dz − 1/4, composite Simpson on
 * [0, 12] with 4096 panels (error far below 1e-12). */
static double
aux_cov (void)
{
  const size_t n = 4096;
  const double b = 12.0, h = b / (double) n;
  double s = 0;
  for (size_t i = 0; i <= n; i++)
    {
      double z = h * (double) i;
      double f = sigm (z) * exp (-0.5 * z * z) / sqrt (2 * M_PI);
      s += f * (i == 0 || i == n ? 1.0 : i % 2 ? 4.0 : 2.0);
    }
  return s * h / 3.0 - 0.25;
}

/* L_aux = m²/4 (soft routing, symmetric inputs).  Per batch of T tokens
 * E[f^B P^B] = 1/4 + c/T for each router, so E[L_aux^B] = m²/4 + m² c/T:
 * at T = 4 the difference (over 100 se) is resolved and matches; at
 * T = 2048 it
 * is below the errors. */
START_TEST (t_aux)
{
  const size_t d = 8, m = 3;
  double E[64], V[24], W[24];
  frame (E, d);
  three_experts (V, W, E, d, 0);
  mv_problem pb;
  make_problem (&pb, d, m, V, W);
  const double pop = m * m / 4.0, c = aux_cov ();
  printf ("t_aux: c = %.15g\n", c);
  ck_assert (c > 0.05 && c < 0.25);
  mv_mcreg_result r;
  estimate (&r, &pb, 400000, 4, 16);
  check_z (r.aux.value, r.aux.se, pop, ZMAX, "L_aux");
  check_z (r.aux_batch.value, r.aux_batch.se, pop + m * m * c / 4,
           ZMAX, "L_aux per batch, T = 4");
  double z0 = (r.aux_batch.value - pop) / r.aux_batch.se;
  printf ("  T = 4: (L_aux^B - m^2/4)/se = %.3g\n", z0);
  ck_assert (z0 > 6);   /* the O(1/T) difference is visible */
  mv_mcreg_result_clear (&r);
  estimate (&r, &pb, 400000, 2048, 17);
  check_z (r.aux_batch.value, r.aux_batch.se, pop + m * m * c / 2048,
           ZMAX, "L_aux per batch, T = 2048");
  check_z (r.aux_batch.value, r.aux_batch.se, pop, ZMAX,
           "L_aux^B vs m^2/4, T = 2048");
  ck_assert_uint_eq (r.token_batches, 400000 / 2048);
  mv_mcreg_result_clear (&r);
  mv_problem_clear (&pb);
}
END_TEST

/* ------------------------------------------------------------ closed */

/* The closed-form term `name` alone (weight 1) at the problem's point. */
static double
closed_term (const char *name, const mv_problem *pb)
{
  const mv_loss_term_type *T = mv_loss_term_find (name);
  ck_assert_msg (T != NULL, "no term %s", name);
  mv_loss_ws *ws = mv_loss_alloc (pb->m, pb->mstar, 53);
  mv_loss_clear_terms (ws);
  ck_assert_int_eq (mv_loss_add_term (ws, T, 1.0), MV_OK);
  double L;
  ck_assert_int_eq (mv_loss_eval_d (&L, NULL, NULL, NULL, pb, ws), MV_OK);
  mv_loss_free (ws);
  return L;
}

/* The closed-form terms of src/loss (term_ortho.c, term_ortho_gated.c,
 * term_var.c, term_aux.c) against these estimates at a generic point (no
 * orthogonality: routers and experts all overlap), within 4 se, 10^6
 * samples. */
START_TEST (t_closed_forms)
{
  const size_t d = 8, m = 3;
  double E[64], V[24], W[24];
  frame (E, d);
  three_experts (V, W, E, d, 0);
  for (size_t i = 0; i < d; i++)   /* router 1 leans on expert 1 */
    V[i] += 0.6 * W[i];
  mv_problem pb;
  make_problem (&pb, d, m, V, W);
  mv_mcreg_result r;
  estimate (&r, &pb, 1000000, 0, 21);
  printf ("t_closed_forms:\n");
  check_z (r.ortho.value, r.ortho.se, closed_term ("ortho", &pb), ZMAX,
           "L_o vs term ortho");
  check_z (r.ortho_gated.value, r.ortho_gated.se,
           closed_term ("ortho_gated", &pb), ZMAX,
           "L_o_gated vs term ortho_gated");
  check_z (r.var.value, r.var.se, closed_term ("var", &pb), ZMAX,
           "L_v vs term var");
  check_z (r.aux.value, r.aux.se, closed_term ("aux", &pb), ZMAX,
           "L_aux vs term aux");
  mv_mcreg_result_clear (&r);
  mv_problem_clear (&pb);
}
END_TEST

/* ------------------------------------------------------------ api */

START_TEST (t_api)
{
  const size_t d = 8, m = 3;
  double E[64], V[24], W[24];
  frame (E, d);
  three_experts (V, W, E, d, 0);
  mv_problem pb;
  make_problem (&pb, d, m, V, W);
  mv_mcreg_result r1, r2;
  estimate (&r1, &pb, 5000, 100, 3);
  estimate (&r2, &pb, 5000, 100, 3);
  ck_assert (r1.ortho.value == r2.ortho.value && r1.aux.se == r2.aux.se);
  ck_assert (r1.ortho_batch.value == r2.ortho_batch.value);
  ck_assert (memcmp (r1.cos_g, r2.cos_g, m * m * sizeof (double)) == 0);
  mv_mcreg_result_clear (&r2);
  estimate (&r2, &pb, 5000, 100, 4);
  ck_assert (r1.ortho.value != r2.ortho.value);
  mv_mcreg_result_clear (&r2);
  mv_mcreg_params p;
  mv_mcreg_params_default (&p);
  p.samples = 100;
  p.batches = 1;
  ck_assert_int_eq (mv_mcreg_estimate (&r1, &pb, &p), MV_EINVAL);
  p.batches = 200;
  ck_assert_int_eq (mv_mcreg_estimate (&r1, &pb, &p), MV_EINVAL);
  p.batches = 10;
  p.tokens = 51;
  ck_assert_int_eq (mv_mcreg_estimate (&r1, &pb, &p), MV_EINVAL);
  ck_assert_msg (strstr (mv_error_message (), "tokens") != NULL, "%s",
                 mv_error_message ());
  p.tokens = 50;
  ck_assert_int_eq (mv_mcreg_estimate (&r1, &pb, &p), MV_OK);
  ck_assert_uint_eq (r1.token_batches, 2);
  ck_assert_int_eq (mv_mcreg_estimate (NULL, &pb, &p), MV_EINVAL);
  mv_mcreg_result_clear (&r1);
  ck_assert_int_eq (mv_mcreg_result_init (&r1, 2), MV_OK);
  ck_assert_int_eq (mv_mcreg_estimate (&r1, &pb, &p), MV_EINVAL);
  mv_mcreg_result_clear (&r1);
  mv_problem_clear (&pb);
  /* m = 1: no pairs (L_o = 0), no routing variance (NAN) */
  make_problem (&pb, d, 1, V, W);
  estimate (&r1, &pb, 1000, 10, 5);
  ck_assert (r1.ortho.value == 0 && r1.ortho_gated.value == 0);
  ck_assert (isnan (r1.var.value) && isnan (r1.var_batch.value));
  ck_assert (fabs (r1.aux.value - 0.25) < 0.1);
  mv_mcreg_result_clear (&r1);
  mv_problem_clear (&pb);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("regmc");
  TCase *tc = tcase_create ("estimators");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, t_ortho_ungated);
  tcase_add_test (tc, t_ortho_gated);
  tcase_add_test (tc, t_ortho_orthogonal);
  tcase_add_test (tc, t_ortho_batch);
  tcase_add_test (tc, t_var_quadrature);
  tcase_add_test (tc, t_aux);
  tcase_add_test (tc, t_closed_forms);
  suite_add_tcase (s, tc);
  tc = tcase_create ("api");
  tcase_add_test (tc, t_api);
  suite_add_tcase (s, tc);
  return mv_test_run (s);
}
