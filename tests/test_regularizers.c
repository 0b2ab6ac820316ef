/* Specialization regularizers (term.h: "ortho", "ortho_gated", "var",
 * "aux"; proofs/specialization-regularizers.md), each against an
 * independent method: plain Monte Carlo over x ~ N(0, I_d) computed here
 * from sampled x (delta method for the ratios of expectations), a product
 * trapezoidal quadrature of R(rho) = E[pi(A) pi(C)] for L_v, central finite
 * differences at 256 bits for dL/dG and the raw gradient, finite
 * differences of dL/dG for the Gram Hessian; zeros, invariances, the spec
 * keys and their errors, and the flows with zero / nonzero coefficients. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_randist.h>
#include <moeverify/moeverify.h>

#define M 3
#define MS 1
#define N (2 * (M + MS))
#define D 4

static double
sigm (double z)
{
  return 1.0 / (1.0 + exp (-z));
}

static double
he3 (double z)
{
  return z * z * z - 3.0 * z;
}

/* n unit vectors in R^d (rows of U, the Gram order) and their Gram matrix;
 * raw (unnormalised) copies in R when R != NULL. */
static void
random_gram (double *U, double *R, double *G, size_t n, size_t d,
             unsigned long seed)
{
  gsl_rng *r = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (r, seed);
  for (size_t k = 0; k < n; k++)
    {
      double nr = 0;
      for (size_t i = 0; i < d; i++)
        U[k * d + i] = gsl_ran_gaussian (r, 1.0), nr += U[k * d + i] * U[k * d + i];
      for (size_t i = 0; i < d; i++)
        {
          if (R)
            R[k * d + i] = U[k * d + i];
          U[k * d + i] /= sqrt (nr);
        }
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

/* A workspace whose objective is the one term type, weight 1. */
static mv_loss_ws *
term_ws (const char *name, size_t m, size_t ms, mpfr_prec_t prec)
{
  const mv_loss_term_type *T = mv_loss_term_find (name);
  ck_assert_msg (T != NULL, "term %s not in the table", name);
  mv_loss_ws *ws = mv_loss_alloc (m, ms, prec);
  ck_assert_msg (ws != NULL, "mv_loss_alloc: %s", mv_error_message ());
  mv_loss_clear_terms (ws);
  ck_assert_int_eq (mv_loss_add_term (ws, T, 1.0), MV_OK);
  return ws;
}

static double
term_value_d (const char *name, const double *G, size_t m, size_t ms,
              double *dLdG, mv_loss_info *info)
{
  mv_loss_ws *ws = term_ws (name, m, ms, 53);
  double L;
  int s = mv_loss_gram_d (&L, dLdG, info, G, 0.0, ws);
  ck_assert_msg (s == MV_OK, "%s: %s", name, mv_error_message ());
  mv_loss_free (ws);
  return L;
}

/* ------------------------------------------------------------ Monte Carlo */

#define NMC 400000

/* projections of NMC samples: A[s*m+i] = v_i.x, B[s*m+i] = w_i.x */
static void
sample_proj (double *A, double *B, const double *U, size_t m, size_t d,
             unsigned long seed)
{
  gsl_rng *r = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (r, seed);
  double x[16];
  for (size_t s = 0; s < NMC; s++)
    {
      for (size_t i = 0; i < d; i++)
        x[i] = gsl_ran_gaussian_ziggurat (r, 1.0);
      for (size_t i = 0; i < m; i++)
        {
          double a = 0, b = 0;
          for (size_t j = 0; j < d; j++)
            a += U[i * d + j] * x[j], b += U[(m + i) * d + j] * x[j];
          A[s * m + i] = a, B[s * m + i] = b;
        }
    }
  gsl_rng_free (r);
}

/* Σ_{i≠k} N_ik^2/(D_i D_k) from per-sample outputs e (NMC x M), with the
 * delta-method standard error: influence z = Σ_{i<k} 4 N_ik/(D_i D_k) e_i e_k
 * - Σ_i Σ_{k≠i} 2 N_ik^2/(D_i^2 D_k) e_i^2. */
static void
ratio_mc (double *L, double *se, const double *e)
{
  double Nik[M][M] = { { 0 } };
  for (size_t s = 0; s < NMC; s++)
    for (int i = 0; i < M; i++)
      for (int k = i; k < M; k++)
        Nik[i][k] += e[s * M + i] * e[s * M + k];
  for (int i = 0; i < M; i++)
    for (int k = i; k < M; k++)
      Nik[k][i] = (Nik[i][k] /= NMC);
  double l = 0, cN[M][M] = { { 0 } }, cD[M] = { 0 };
  for (int i = 0; i < M; i++)
    for (int k = 0; k < M; k++)
      if (k != i)
        {
          double q = Nik[i][k] * Nik[i][k] / (Nik[i][i] * Nik[k][k]);
          l += q;
          cN[i][k] = 2 * Nik[i][k] / (Nik[i][i] * Nik[k][k]);  /* ordered pair */
          cD[i] -= 2 * q / Nik[i][i];
        }
  double z1 = 0, z2 = 0;
  for (size_t s = 0; s < NMC; s++)
    {
      double z = 0;
      for (int i = 0; i < M; i++)
        {
          z += cD[i] * e[s * M + i] * e[s * M + i];
          for (int k = 0; k < M; k++)
            if (k != i)
              z += cN[i][k] * e[s * M + i] * e[s * M + k];
        }
      z1 += z, z2 += z * z;
    }
  z1 /= NMC;
  *L = l;
  *se = sqrt ((z2 / NMC - z1 * z1) / NMC);
}

static void
check_z (const char *what, double mc, double se, double closed)
{
  double z = (mc - closed) / se;
  printf ("  %-12s closed %.15g  MC %.15g +- %.3g  z = %+.2f\n", what, closed,
          mc, se, z);
  ck_assert_msg (fabs (z) < 4, "%s: closed form %.17g, Monte Carlo %.17g +- %.3g "
                 "(z = %.2f)", what, closed, mc, se, z);
}

/* Expert rows of U pulled towards a common direction (large overlaps, so
 * L_o and L_og are far from 0), then renormalised; G recomputed. */
static void
cluster_experts (double *U, double *G, double pull)
{
  for (int i = 0; i < M; i++)
    {
      double *w = U + (M + i) * D, nr = 0;
      w[0] += pull;
      for (int j = 0; j < D; j++)
        nr += w[j] * w[j];
      for (int j = 0; j < D; j++)
        w[j] /= sqrt (nr);
    }
  for (int k = 0; k < N; k++)
    for (int l = 0; l < N; l++)
      {
        double a = 0;
        for (int j = 0; j < D; j++)
          a += U[k * D + j] * U[l * D + j];
        G[k * N + l] = k == l ? 1.0 : a;
      }
}

/* mean and standard error of e[s*M+i] e[s*M+k] */
static void
moment_mc (double *mean, double *se, const double *e, int i, int k)
{
  double s1 = 0, s2 = 0;
  for (size_t s = 0; s < NMC; s++)
    {
      double q = e[s * M + i] * e[s * M + k];
      s1 += q, s2 += q * q;
    }
  s1 /= NMC;
  *mean = s1;
  *se = sqrt ((s2 / NMC - s1 * s1) / NMC);
}

/* The expectations inside the ratio forms, one by one: <e_i,e_k> and
 * ||e_i||^2 by Monte Carlo against 6 rho^3, 6 (ungated) and the pair
 * expectations P(i,k), P(i,i) (gated). */
static void
check_moments (const double *e, const double *G, int gated)
{
  mv_expect_ws *ex = mv_expect_alloc (53);
  for (int i = 0; i < M; i++)
    for (int k = i; k < M; k++)
      {
        double mc, se, cf;
        moment_mc (&mc, &se, e, i, k);
        if (!gated)
          {
            double r = k == i ? 1.0 : G[(M + i) * N + M + k];
            cf = 6 * r * r * r;
          }
        else
          {
            mv_expect_vald v;
            if (k == i)
              ck_assert_int_eq (mv_expect_self_d (&v, G[i * N + M + i], 0, ex), MV_OK);
            else
              {
                double rho[MV_NRHO] = { G[i * N + M + i], G[i * N + k], G[i * N + M + k],
                                        G[(M + i) * N + k], G[(M + i) * N + M + k],
                                        G[k * N + M + k] };
                ck_assert_int_eq (mv_expect_pair_d (&v, rho, 0, ex), MV_OK);
              }
            cf = v.P;
          }
        char what[32];
        snprintf (what, sizeof what, "%s<e%d,e%d>", gated ? "g" : "", i, k);
        check_z (what, mc, se, cf);
      }
  mv_expect_free (ex);
}

START_TEST (test_mc_values)
{
  double U[N * D], G[N * N];
  double *A = malloc (NMC * M * sizeof *A), *B = malloc (NMC * M * sizeof *B);
  double *e = malloc (NMC * M * sizeof *e);
  ck_assert (A && B && e);
  for (int config = 0; config < 2; config++)
    {
      random_gram (U, NULL, G, N, D, 11);
      if (config)
        cluster_experts (U, G, 1.5);
      printf (" configuration %d (%s experts)\n", config, config ? "clustered" : "random");
      sample_proj (A, B, U, M, D, 12 + config);
      double L, se;
      /* ungated */
      for (size_t s = 0; s < NMC * M; s++)
        e[s] = he3 (B[s]);
      check_moments (e, G, 0);
      ratio_mc (&L, &se, e);
      check_z ("ortho", L, se, term_value_d ("ortho", G, M, MS, NULL, NULL));
      /* gated */
      for (size_t s = 0; s < NMC * M; s++)
        e[s] = sigm (A[s]) * he3 (B[s]);
      check_moments (e, G, 1);
      ratio_mc (&L, &se, e);
      check_z ("ortho_gated", L, se, term_value_d ("ortho_gated", G, M, MS, NULL, NULL));
      /* var: the per-sample definition, mean and standard error */
      double s1 = 0, s2 = 0;
      for (size_t s = 0; s < NMC; s++)
        {
          double p[M], mean = 0, q = 0;
          for (int i = 0; i < M; i++)
            mean += (p[i] = sigm (A[s * M + i])) / M;
          for (int i = 0; i < M; i++)
            q += (p[i] - mean) * (p[i] - mean);
          q = -q / (M - 1);
          s1 += q, s2 += q * q;
        }
      s1 /= NMC;
      check_z ("var", s1, sqrt ((s2 / NMC - s1 * s1) / NMC),
               term_value_d ("var", G, M, MS, NULL, NULL));
      /* aux = m Σ f_i P_i, influence m Σ (P_i 1[a_i > 0] + f_i pi(a_i)) */
      double f[M] = { 0 }, P[M] = { 0 };
      for (size_t s = 0; s < NMC; s++)
        for (int i = 0; i < M; i++)
          f[i] += A[s * M + i] > 0, P[i] += sigm (A[s * M + i]);
      double la = 0, z1 = 0, z2 = 0;
      for (int i = 0; i < M; i++)
        f[i] /= NMC, P[i] /= NMC, la += M * f[i] * P[i];
      for (size_t s = 0; s < NMC; s++)
        {
          double z = 0;
          for (int i = 0; i < M; i++)
            z += M * (P[i] * (A[s * M + i] > 0) + f[i] * sigm (A[s * M + i]));
          z1 += z, z2 += z * z;
        }
      z1 /= NMC;
      check_z ("aux", la, sqrt ((z2 / NMC - z1 * z1) / NMC),
               term_value_d ("aux", G, M, MS, NULL, NULL));
    }
  free (A), free (B), free (e);
}
END_TEST

/* The per-sample form of "var" (mv_loss_sample_d) against the direct
 * formula, and its router partials against central differences. */
START_TEST (test_var_sample)
{
  mv_loss_ws *ws = term_ws ("var", M, MS, 53);
  double P[N] = { 0.3, -1.2, 2.5, 0.1, -0.4, 0.7, 1.0, -1.0 }, val, Dv[2 * M];
  ck_assert_int_eq (mv_loss_sample_d (&val, Dv, 2 * M, P, N, NULL, 1, ws), MV_OK);
  double p[M], mean = 0, q = 0;
  for (int i = 0; i < M; i++)
    mean += (p[i] = sigm (P[i])) / M;
  for (int i = 0; i < M; i++)
    q += (p[i] - mean) * (p[i] - mean);
  MV_CHECK_CLOSE_D (val, -q / (M - 1), 1e-15, 0, "var per sample");
  for (int j = 0; j < 2 * M; j++)
    {
      double h = 1e-6, Pp[N], Pm[N], vp, vm;
      memcpy (Pp, P, sizeof P), memcpy (Pm, P, sizeof P);
      Pp[j] += h, Pm[j] -= h;
      mv_loss_sample_d (&vp, NULL, 0, Pp, N, NULL, 1, ws);
      mv_loss_sample_d (&vm, NULL, 0, Pm, N, NULL, 1, ws);
      MV_CHECK_CLOSE_D (Dv[j], (vp - vm) / (2 * h), 1e-8, 1e-10, "var dsample/du");
    }
  mv_loss_free (ws);
  /* the ratio forms and aux have none */
  const char *none[] = { "ortho", "ortho_gated", "aux" };
  for (int t = 0; t < 3; t++)
    {
      mv_loss_ws *w = term_ws (none[t], M, MS, 53);
      ck_assert_int_eq (mv_loss_sample_d (&val, NULL, 0, P, N, NULL, 1, w), MV_EINVAL);
      mv_loss_free (w);
    }
}
END_TEST

/* ------------------------------------------------------------ quadrature */

/* R(rho) = E[pi(A) pi(rho A + s Z)], s = sqrt(1 - rho^2), by the product
 * trapezoidal rule on [-12, 12]^2, step 0.05 (exponentially accurate for
 * these analytic integrands: far below 1e-14). */
static double
R_quad (double rho)
{
  const double h = 0.05, L = 12.0;
  int nq = (int) (2 * L / h + 0.5);
  double s = sqrt (fmax (0.0, 1.0 - rho * rho)), out = 0;
  for (int a = 0; a <= nq; a++)
    {
      double x = -L + a * h, inner = 0;
      if (s == 0)
        inner = sigm (rho * x);
      else
        for (int b = 0; b <= nq; b++)
          {
            double z = -L + b * h;
            inner += sigm (rho * x + s * z) * exp (-0.5 * z * z);
          }
      if (s != 0)
        inner *= h / sqrt (2 * M_PI);
      out += sigm (x) * inner * exp (-0.5 * x * x);
    }
  return out * h / sqrt (2 * M_PI);
}

START_TEST (test_var_quadrature)
{
  /* E[pi^2] = R(1): the reference value of MATH.md §2 */
  double R1 = R_quad (1.0);
  MV_CHECK_CLOSE_D (R1, 0.293379035858092962737649171281901159, 0, 1e-14, "E[pi^2]");
  /* m = 3 at random routers */
  double U[N * D], G[N * N];
  random_gram (U, NULL, G, N, D, 21);
  double q = -R1;
  for (int i = 0; i < M; i++)
    for (int k = i + 1; k < M; k++)
      q += R_quad (G[i * N + k]) / 3.0;   /* mean over the 3 pairs */
  double L = term_value_d ("var", G, M, MS, NULL, NULL);
  printf ("  L_v m=3: closed %.17g quadrature %.17g diff %.2g\n", L, q, L - q);
  MV_CHECK_CLOSE_D (L, q, 0, 1e-13, "L_v vs quadrature");
  /* m = 2 near rho = +-1, where the series converges slowly */
  double rhos[] = { 0.999, -0.9999, 0.5, 1.0 - 1e-9 };
  for (int t = 0; t < 4; t++)
    {
      /* n = 2m + 2m* = 6 for m = 2, m* = 1 */
      double G6[36];
      for (int k = 0; k < 36; k++)
        G6[k] = (k % 7 == 0) ? 1.0 : 0.0;
      G6[1] = G6[6] = rhos[t];
      mv_loss_info info;
      double Lv = term_value_d ("var", G6, 2, 1, NULL, &info);
      double Lq = -R1 + R_quad (rhos[t]);
      printf ("  L_v m=2 rho=%.10g: closed %.17g quadrature %.17g diff %.2g bound %.2g\n",
              rhos[t], Lv, Lq, Lv - Lq, MV_MAG_D (info.err));
      MV_CHECK_CLOSE_D (Lv, Lq, 0, 1e-13, "L_v (m = 2) vs quadrature");
    }
  /* m = 1: defined as 0 */
  double G4[16] = { 1, 0.3, 0, 0, 0.3, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1 };
  ck_assert (term_value_d ("var", G4, 1, 1, NULL, NULL) == 0.0);
}
END_TEST

/* ------------------------------------------------------ finite differences */

static const char *const TERMS[] = { "ortho", "ortho_gated", "var", "aux" };
#define NTERMS 4
#define FDPREC 256

/* dL/dG of every term at 256 bits against central differences (h = 1e-20,
 * error ~h^2 + 2^-256/h), and the double path against the MPFR one within
 * its error bounds. */
START_TEST (test_gram_fd)
{
  double U[N * D], G[N * N];
  random_gram (U, NULL, G, N, D, 31);
  mpfr_t Gm[N * N], dG[N * N], L, Lp, Lm, fd, h;
  for (int k = 0; k < N * N; k++)
    mpfr_init2 (Gm[k], FDPREC + 64), mpfr_init2 (dG[k], FDPREC), mpfr_set_d (Gm[k], G[k], MPFR_RNDN);
  mpfr_inits2 (FDPREC, L, Lp, Lm, fd, h, (mpfr_ptr) 0);
  mpfr_set_str (h, "1e-20", 10, MPFR_RNDN);
  for (int t = 0; t < NTERMS; t++)
    {
      mv_loss_ws *ws = term_ws (TERMS[t], M, MS, FDPREC), *wd = term_ws (TERMS[t], M, MS, 53);
      mv_loss_info info, infod;
      double Ld, dGd[N * N];
      ck_assert_int_eq (mv_loss_gram (L, dG, &info, Gm, 0.0, ws), MV_OK);
      ck_assert_int_eq (mv_loss_gram_d (&Ld, dGd, &infod, G, 0.0, wd), MV_OK);
      /* double vs MPFR, within the double path's bounds */
      double Lmd = mpfr_get_d (L, MPFR_RNDN), worst = 0, worst_g = 0;
      ck_assert_msg (fabs (Ld - Lmd) <= MV_MAG_D (infod.err) + 1e-300,
                     "%s: double %.17g MPFR %.17g bound %.3g", TERMS[t], Ld, Lmd,
                     MV_MAG_D (infod.err));
      double maxfd = 0;
      for (int k = 0; k < 2 * M; k++)
        for (int l = k + 1; l < N; l++)
          {
            double gm = mpfr_get_d (dG[k * N + l], MPFR_RNDN);
            ck_assert_msg (fabs (dGd[k * N + l] - gm) <= MV_MAG_D (infod.grad_err),
                           "%s dL/dG(%d,%d): double %.17g MPFR %.17g bound %.3g", TERMS[t],
                           k, l, dGd[k * N + l], gm, MV_MAG_D (infod.grad_err));
            worst_g = fmax (worst_g, fabs (dGd[k * N + l] - gm));
            /* central difference in G_kl = G_lk */
            mpfr_add (Gm[k * N + l], Gm[k * N + l], h, MPFR_RNDN);
            mpfr_set (Gm[l * N + k], Gm[k * N + l], MPFR_RNDN);
            ck_assert_int_eq (mv_loss_gram (Lp, NULL, NULL, Gm, 0.0, ws), MV_OK);
            mpfr_mul_2ui (fd, h, 1, MPFR_RNDN);
            mpfr_sub (Gm[k * N + l], Gm[k * N + l], fd, MPFR_RNDN);
            mpfr_set (Gm[l * N + k], Gm[k * N + l], MPFR_RNDN);
            ck_assert_int_eq (mv_loss_gram (Lm, NULL, NULL, Gm, 0.0, ws), MV_OK);
            mpfr_set_d (Gm[k * N + l], G[k * N + l], MPFR_RNDN);
            mpfr_set (Gm[l * N + k], Gm[k * N + l], MPFR_RNDN);
            mpfr_sub (fd, Lp, Lm, MPFR_RNDN);
            mpfr_div (fd, fd, h, MPFR_RNDN);
            mpfr_div_2ui (fd, fd, 1, MPFR_RNDN);
            MV_CHECK_DIGITS (fd, dG[k * N + l], 30, 1.0, TERMS[t]);
            mpfr_sub (fd, fd, dG[k * N + l], MPFR_RNDN);
            maxfd = fmax (maxfd, fabs (mpfr_get_d (fd, MPFR_RNDN)));
          }
      worst = fabs (Ld - Lmd);
      printf ("  %-12s L = %.17g  |FD - dL/dG|max %.2g  |double - MPFR| L %.2g "
              "(bound %.2g) dL/dG %.2g (bound %.2g)\n", TERMS[t], Lmd, maxfd, worst,
              MV_MAG_D (infod.err), worst_g, MV_MAG_D (infod.grad_err));
      mv_loss_free (ws), mv_loss_free (wd);
    }
  for (int k = 0; k < N * N; k++)
    mpfr_clears (Gm[k], dG[k], (mpfr_ptr) 0);
  mpfr_clears (L, Lp, Lm, fd, h, (mpfr_ptr) 0);
}
END_TEST

/* The MPFR path's radii: values at 256 bits against 640 bits, within the
 * 256-bit error bounds (and the bounds not absurdly loose). */
START_TEST (test_mpfr_bounds)
{
  double U[N * D], G[N * N];
  random_gram (U, NULL, G, N, D, 33);
  mpfr_t Gm[N * N], d1[N * N], d2[N * N], L1, L2, t;
  for (int k = 0; k < N * N; k++)
    {
      mpfr_inits2 (704, Gm[k], d1[k], d2[k], (mpfr_ptr) 0);
      mpfr_set_d (Gm[k], G[k], MPFR_RNDN);
    }
  mpfr_inits2 (704, L1, L2, t, (mpfr_ptr) 0);
  for (int tt = 0; tt < NTERMS; tt++)
    {
      mv_loss_ws *w1 = term_ws (TERMS[tt], M, MS, 256), *w2 = term_ws (TERMS[tt], M, MS, 640);
      mv_loss_info i1, i2;
      ck_assert_int_eq (mv_loss_gram (L1, d1, &i1, Gm, 0.0, w1), MV_OK);
      ck_assert_int_eq (mv_loss_gram (L2, d2, &i2, Gm, 0.0, w2), MV_OK);
      mpfr_sub (t, L1, L2, MPFR_RNDN);
      double e = fabs (mpfr_get_d (t, MPFR_RNDN)), b = MV_MAG_D (i1.err), eg = 0;
      ck_assert_msg (e <= b, "%s: |L256 - L640| = %.3g > bound %.3g", TERMS[tt], e, b);
      for (int k = 0; k < N * N; k++)
        {
          mpfr_sub (t, d1[k], d2[k], MPFR_RNDN);
          eg = fmax (eg, fabs (mpfr_get_d (t, MPFR_RNDN)));
        }
      ck_assert_msg (eg <= MV_MAG_D (i1.grad_err), "%s: dL/dG off by %.3g > bound %.3g",
                     TERMS[tt], eg, MV_MAG_D (i1.grad_err));
      printf ("  %-12s 256 vs 640 bits: L diff %.2g (bound %.2g), dL/dG diff %.2g (bound %.2g)\n",
              TERMS[tt], e, b, eg, MV_MAG_D (i1.grad_err));
      mv_loss_free (w1), mv_loss_free (w2);
    }
  for (int k = 0; k < N * N; k++)
    mpfr_clears (Gm[k], d1[k], d2[k], (mpfr_ptr) 0);
  mpfr_clears (L1, L2, t, (mpfr_ptr) 0);
}
END_TEST

/* The raw gradient (chain rule of the drivers) of the four terms together
 * against central differences in the raw vectors at 256 bits. */
START_TEST (test_raw_fd)
{
  double U[N * D], R[N * D], G[N * N];
  random_gram (U, R, G, N, D, 41);
  mv_loss_ws *ws = mv_loss_alloc (M, MS, FDPREC);
  mv_loss_clear_terms (ws);
  mv_regularizers reg = { 0.7, 1.3, 2.1, 0.9 };
  ck_assert_int_eq (mv_loss_add_regularizers (ws, &reg), MV_OK);
  ck_assert_uint_eq (mv_loss_nterms (ws), 4);
  mpfr_t X[N * D], gV[M * D], gW[M * D], L, Lp, Lm, fd, h;
  for (int k = 0; k < N * D; k++)
    mpfr_init2 (X[k], FDPREC), mpfr_set_d (X[k], R[k], MPFR_RNDN);
  for (int k = 0; k < M * D; k++)
    mpfr_init2 (gV[k], FDPREC), mpfr_init2 (gW[k], FDPREC);
  mpfr_inits2 (FDPREC, L, Lp, Lm, fd, h, (mpfr_ptr) 0);
  mpfr_set_str (h, "1e-20", 10, MPFR_RNDN);
  mpfr_t *V = X, *W = X + M * D, *Vt = X + 2 * M * D, *Wt = Vt + MS * D;
  ck_assert_int_eq (mv_loss_eval_vec (L, gV, gW, NULL, V, W, Vt, Wt, D, 0.0, ws), MV_OK);
  double maxd = 0;
  for (int k = 0; k < 2 * M * D; k++)
    {
      mpfr_ptr x = X[k];
      mpfr_add (x, x, h, MPFR_RNDN);
      mv_loss_eval_vec (Lp, NULL, NULL, NULL, V, W, Vt, Wt, D, 0.0, ws);
      mpfr_sub (x, x, h, MPFR_RNDN);
      mpfr_sub (x, x, h, MPFR_RNDN);
      mv_loss_eval_vec (Lm, NULL, NULL, NULL, V, W, Vt, Wt, D, 0.0, ws);
      mpfr_add (x, x, h, MPFR_RNDN);
      mpfr_sub (fd, Lp, Lm, MPFR_RNDN);
      mpfr_div (fd, fd, h, MPFR_RNDN);
      mpfr_div_2ui (fd, fd, 1, MPFR_RNDN);
      mpfr_ptr g = k < M * D ? gV[k] : gW[k - M * D];
      MV_CHECK_DIGITS (fd, g, 30, 1.0, "raw gradient of the regularizers");
      mpfr_sub (fd, fd, g, MPFR_RNDN);
      maxd = fmax (maxd, fabs (mpfr_get_d (fd, MPFR_RNDN)));
    }
  printf ("  raw gradient (all four, 256 bits): max |FD - analytic| = %.2g\n", maxd);
  /* double raw path against MPFR */
  mv_loss_ws *wd = mv_loss_alloc (M, MS, 53);
  mv_loss_clear_terms (wd);
  mv_loss_add_regularizers (wd, &reg);
  double Ld, gVd[M * D], gWd[M * D], worst = 0;
  ck_assert_int_eq (mv_loss_eval_vec_d (&Ld, gVd, gWd, NULL, R, R + M * D, R + 2 * M * D,
                                        R + 2 * M * D + MS * D, D, 0.0, wd), MV_OK);
  MV_CHECK_CLOSE_D (Ld, mpfr_get_d (L, MPFR_RNDN), 1e-14, 1e-15, "raw L double vs MPFR");
  for (int k = 0; k < M * D; k++)
    {
      MV_CHECK_CLOSE_D (gVd[k], mpfr_get_d (gV[k], MPFR_RNDN), 1e-12, 1e-14, "gV");
      MV_CHECK_CLOSE_D (gWd[k], mpfr_get_d (gW[k], MPFR_RNDN), 1e-12, 1e-14, "gW");
      worst = fmax (worst, fabs (gVd[k] - mpfr_get_d (gV[k], MPFR_RNDN)));
      worst = fmax (worst, fabs (gWd[k] - mpfr_get_d (gW[k], MPFR_RNDN)));
    }
  printf ("  raw gradient double vs MPFR: max diff %.2g\n", worst);
  for (int k = 0; k < N * D; k++)
    mpfr_clear (X[k]);
  for (int k = 0; k < M * D; k++)
    mpfr_clears (gV[k], gW[k], (mpfr_ptr) 0);
  mpfr_clears (L, Lp, Lm, fd, h, (mpfr_ptr) 0);
  mv_loss_free (ws), mv_loss_free (wd);
}
END_TEST

/* Gram Hessians (hess_d) against central differences of the double dL/dG
 * (h = 1e-5: truncation ~1e-10, rounding ~1e-11). */
START_TEST (test_hess_fd)
{
  double U[N * D], G[N * N];
  random_gram (U, NULL, G, N, D, 51);
  for (int t = 0; t < NTERMS; t++)
    {
      mv_loss_ws *ws = term_ws (TERMS[t], M, MS, 53);
      size_t nv = mv_loss_nvar (ws);
      double *H = malloc (nv * nv * sizeof *H), L, gp[N * N], gm[N * N], worst = 0;
      ck_assert_int_eq (mv_loss_gram_hess_d (&L, NULL, H, NULL, G, 0.0, ws), MV_OK);
      for (int k = 0; k < 2 * M; k++)
        for (int l = k + 1; l < N; l++)
          {
            double Gp[N * N], Gq[N * N], h = 1e-5;
            memcpy (Gp, G, sizeof Gp), memcpy (Gq, G, sizeof Gq);
            Gp[k * N + l] = Gp[l * N + k] = G[k * N + l] + h;
            Gq[k * N + l] = Gq[l * N + k] = G[k * N + l] - h;
            mv_loss_gram_d (&L, gp, NULL, Gp, 0.0, ws);
            mv_loss_gram_d (&L, gm, NULL, Gq, 0.0, ws);
            size_t a = mv_loss_var (ws, k, l);
            for (int k2 = 0; k2 < 2 * M; k2++)
              for (int l2 = k2 + 1; l2 < N; l2++)
                {
                  size_t b = mv_loss_var (ws, k2, l2);
                  double fd = (gp[k2 * N + l2] - gm[k2 * N + l2]) / (2 * h);
                  MV_CHECK_CLOSE_D (H[a * nv + b], fd, 1e-7, 1e-8, TERMS[t]);
                  worst = fmax (worst, fabs (H[a * nv + b] - fd));
                }
          }
      printf ("  %-12s Gram Hessian: max |FD - analytic| = %.2g\n", TERMS[t], worst);
      free (H);
      mv_loss_free (ws);
    }
}
END_TEST

/* ------------------------------------------------------ zeros, invariances */

START_TEST (test_orthogonal_zero)
{
  /* all 2m student vectors orthonormal (d = 2m + 2): L_o = L_og = 0 */
  enum { d = 2 * M + 2 };
  double V[M * d] = { 0 }, W[M * d] = { 0 }, Vt[MS * d] = { 0 }, Wt[MS * d] = { 0 };
  for (int i = 0; i < M; i++)
    V[i * d + i] = 1.0, W[i * d + M + i] = 2.0;
  Vt[0] = 0.6, Vt[2 * M] = 0.8, Wt[2 * M + 1] = 1.0;
  mv_problem pb;
  ck_assert_int_eq (mv_problem_set_d (&pb, d, M, MS, V, W, Vt, Wt, 0.0), MV_OK);
  double G[N * N];
  ck_assert_int_eq (mv_problem_gram_d (G, NULL, &pb), MV_OK);
  double Lo = term_value_d ("ortho", G, M, MS, NULL, NULL);
  double Log = term_value_d ("ortho_gated", G, M, MS, NULL, NULL);
  printf ("  orthogonal experts: L_o = %g, L_og = %g\n", Lo, Log);
  ck_assert_msg (Lo == 0.0, "L_o = %.17g for orthogonal experts", Lo);
  ck_assert_msg (fabs (Log) <= 1e-30, "L_og = %.17g for orthonormal students", Log);
  /* only the experts orthogonal, routers shared: ungated still 0 */
  for (int i = 0; i < M; i++)
    memset (V + i * d, 0, d * sizeof *V), V[i * d] = 1.0;
  mv_problem_clear (&pb);
  ck_assert_int_eq (mv_problem_set_d (&pb, d, M, MS, V, W, Vt, Wt, 0.0), MV_OK);
  ck_assert_int_eq (mv_problem_gram_d (G, NULL, &pb), MV_OK);
  ck_assert (term_value_d ("ortho", G, M, MS, NULL, NULL) == 0.0);
  /* identical routers: zero routing variance */
  double Lv = term_value_d ("var", G, M, MS, NULL, NULL);
  ck_assert_msg (fabs (Lv) <= 1e-15, "L_v = %.17g for identical routers", Lv);
  mv_problem_clear (&pb);
}
END_TEST

/* Orthogonal Q (d x d) by Gram-Schmidt of a Gaussian matrix. */
static void
random_rotation (double *Q, size_t d, unsigned long seed)
{
  gsl_rng *r = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (r, seed);
  for (size_t i = 0; i < d; i++)
    {
      double *q = Q + i * d;
      for (size_t j = 0; j < d; j++)
        q[j] = gsl_ran_gaussian (r, 1.0);
      for (int pass = 0; pass < 2; pass++)
        for (size_t k = 0; k < i; k++)
          {
            double a = 0;
            for (size_t j = 0; j < d; j++)
              a += q[j] * Q[k * d + j];
            for (size_t j = 0; j < d; j++)
              q[j] -= a * Q[k * d + j];
          }
      double nr = 0;
      for (size_t j = 0; j < d; j++)
        nr += q[j] * q[j];
      for (size_t j = 0; j < d; j++)
        q[j] /= sqrt (nr);
    }
  gsl_rng_free (r);
}

static double
objective_raw (const double *R, size_t m, mv_loss_ws *ws)
{
  double L;
  ck_assert_int_eq (mv_loss_eval_vec_d (&L, NULL, NULL, NULL, R, R + m * D,
                                        R + 2 * m * D, R + 2 * m * D + MS * D, D,
                                        0.0, ws), MV_OK);
  return L;
}

START_TEST (test_invariance)
{
  double U[N * D], R[N * D], G[N * N];
  random_gram (U, R, G, N, D, 61);
  for (int t = 0; t < NTERMS; t++)
    {
      mv_loss_ws *ws = term_ws (TERMS[t], M, MS, 53);
      double L0 = objective_raw (R, M, ws);
      /* permutation (2 0 1) of the students, routers and experts alike */
      double P[N * D];
      int perm[M] = { 2, 0, 1 };
      memcpy (P, R, sizeof P);
      for (int i = 0; i < M; i++)
        {
          memcpy (P + i * D, R + perm[i] * D, D * sizeof *R);
          memcpy (P + (M + i) * D, R + (M + perm[i]) * D, D * sizeof *R);
        }
      double Lp = objective_raw (P, M, ws);
      /* a common rotation of every vector */
      double Q[D * D], X[N * D];
      random_rotation (Q, D, 62);
      for (int k = 0; k < N; k++)
        for (int i = 0; i < D; i++)
          {
            double a = 0;
            for (int j = 0; j < D; j++)
              a += Q[i * D + j] * R[k * D + j];
            X[k * D + i] = a;
          }
      double Lr = objective_raw (X, M, ws);
      printf ("  %-12s L = %.17g  permuted diff %.2g  rotated diff %.2g\n", TERMS[t],
              L0, Lp - L0, Lr - L0);
      MV_CHECK_CLOSE_D (Lp, L0, 1e-14, 1e-16, "permutation invariance");
      MV_CHECK_CLOSE_D (Lr, L0, 1e-13, 1e-15, "rotation invariance");
      mv_loss_free (ws);
    }
}
END_TEST

/* ------------------------------------------------------------ spec keys */

#define SPEC_HEAD "{\"d\": 3, \"teacher\": {\"m\": 1, \"V\": [[1,0,0]], \"W\": [[0,1,0]]}, " \
  "\"student\": {\"m\": 2, \"V\": [[0.6,0.8,0],[0,0.6,0.8]], \"W\": [[0.1,0.2,0.9],[0.9,0.1,0.3]]}"

START_TEST (test_spec_keys)
{
  mv_problem pb, p0;
  ck_assert_int_eq (mv_problem_parse (&p0, SPEC_HEAD "}", "plain"), MV_OK);
  ck_assert_int_eq (mv_problem_parse (&pb, SPEC_HEAD ", \"regularizers\": {\"aux\": 0, "
                                      "\"ortho\": 0.0, \"ortho_gated\": 0, \"var\": 0}}", "plain"),
                    MV_OK);
  ck_assert (pb.reg.aux == 0 && pb.reg.ortho == 0 && pb.reg.ortho_gated == 0 && pb.reg.var == 0);
  char *j0 = mv_problem_to_json (&p0), *j1 = mv_problem_to_json (&pb);
  ck_assert_str_eq (j0, j1);   /* all zero: recorded as the plain spec */
  free (j0), free (j1);
  mv_problem_clear (&pb);
  ck_assert_int_eq (mv_problem_parse (&pb, SPEC_HEAD ", \"regularizers\": {\"ortho\": 1.5, "
                                      "\"var\": 2}}", "s"), MV_OK);
  ck_assert (pb.reg.ortho == 1.5 && pb.reg.var == 2 && pb.reg.aux == 0 && pb.reg.ortho_gated == 0);
  j1 = mv_problem_to_json (&pb);
  ck_assert_msg (strstr (j1, "\"regularizers\"") != NULL, "canonical JSON %s", j1);
  free (j1);
  mv_problem_clear (&pb);
  mv_problem_clear (&p0);
  static const struct { const char *block, *key; } bad[] = {
    { "{\"ortho\": -1}", "regularizers.ortho" },
    { "{\"var\": -1e-300}", "regularizers.var" },
    { "{\"aux\": \"NaN\"}", "regularizers.aux" },
    { "{\"ortho_gated\": \"inf\"}", "regularizers.ortho_gated" },
    { "{\"ortho\": true}", "regularizers.ortho" },
    { "{\"var\": null}", "regularizers.var" },
    { "{\"orthogonal\": 1}", "regularizers.orthogonal" },
    { "[1, 2]", "regularizers" },
    { "0.5", "regularizers" },
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    {
      char text[1024];
      snprintf (text, sizeof text, SPEC_HEAD ", \"regularizers\": %s}", bad[i].block);
      int s = mv_problem_parse (&pb, text, "bad.json");
      const char *msg = mv_error_message ();
      printf ("  %-28s -> %s\n", bad[i].block, msg);
      ck_assert_msg (s != MV_OK, "accepted %s", bad[i].block);
      char want[128];
      snprintf (want, sizeof want, "bad.json: %s: ", bad[i].key);
      ck_assert_msg (strstr (msg, want) == msg, "message \"%s\" does not start with \"%s\"",
                     msg, want);
      ck_assert_msg (!strchr (msg, '\n'), "message is not one line: %s", msg);
    }
  /* the library entry point rejects them too */
  mv_loss_ws *ws = mv_loss_alloc (2, 1, 53);
  mv_regularizers r = { 0, NAN, 0, 0 };
  ck_assert_int_eq (mv_loss_add_regularizers (ws, &r), MV_EINVAL);
  r.ortho = INFINITY;
  ck_assert_int_eq (mv_loss_add_regularizers (ws, &r), MV_EINVAL);
  r.ortho = -2;
  ck_assert_int_eq (mv_loss_add_regularizers (ws, &r), MV_EINVAL);
  ck_assert_uint_eq (mv_loss_nterms (ws), 2);
  r.ortho = 0;
  ck_assert_int_eq (mv_loss_add_regularizers (ws, &r), MV_OK);
  ck_assert_uint_eq (mv_loss_nterms (ws), 2);   /* all zero: list unchanged */
  mv_loss_free (ws);
}
END_TEST

/* ------------------------------------------------------------ flows */

static int
same_traj (const mv_traj *a, const mv_traj *b)
{
  size_t n = a->n;
  return a->rows == b->rows && a->rows > 1
    && !memcmp (a->t, b->t, a->rows * sizeof *a->t)
    && !memcmp (a->loss, b->loss, a->rows * sizeof *a->loss)
    && !memcmp (a->grad2, b->grad2, a->rows * sizeof *a->grad2)
    && !memcmp (a->G, b->G, a->rows * n * n * sizeof *a->G);
}

static const char *flow_stepper = NULL;

static void
run_flow (mv_traj *tr, const mv_problem *pb, int full, const mv_regularizers *reg)
{
  mv_flow_params p;
  mv_flow_params_default (&p);
  if (flow_stepper)
    p.stepper = flow_stepper;
  p.t_end = 3.0;
  p.n_out = 20;
  p.reg = reg;
  ck_assert_int_eq (mv_traj_init (tr, pb->m, pb->mstar), MV_OK);
  int s;
  if (full)
    s = mv_flow_full (tr, pb, &p);
  else
    {
      size_t n = 2 * (pb->m + pb->mstar);
      double G[64], nr[8];
      ck_assert (n <= 8);
      ck_assert_int_eq (mv_flow_gram0 (G, nr, tr->init, sizeof tr->init, pb,
                                       MV_GRAM0_VECTORS), MV_OK);
      s = mv_flow_reduced (tr, G, nr, pb->m, pb->mstar, pb->noise_var, &p);
    }
  ck_assert_msg (s == MV_OK, "flow: %s", mv_error_message ());
}

START_TEST (test_flows_zero_and_nonzero)
{
  mv_problem p0, pz, pn;
  ck_assert_int_eq (mv_problem_parse (&p0, SPEC_HEAD "}", "plain"), MV_OK);
  ck_assert_int_eq (mv_problem_parse (&pz, SPEC_HEAD ", \"regularizers\": {\"aux\": 0, "
                                      "\"ortho\": 0, \"ortho_gated\": 0, \"var\": 0}}", "zero"),
                    MV_OK);
  ck_assert_int_eq (mv_problem_parse (&pn, SPEC_HEAD ", \"regularizers\": {\"ortho\": 0.5, "
                                      "\"ortho_gated\": 0.3, \"var\": 0.4, \"aux\": 0.1}}", "reg"),
                    MV_OK);
  for (int full = 0; full < 2; full++)
    {
      mv_traj a, b, c, r;
      run_flow (&a, &p0, full, NULL);
      run_flow (&b, &pz, full, &pz.reg);
      run_flow (&c, &p0, full, &p0.reg);
      run_flow (&r, &pn, full, &pn.reg);
      ck_assert_msg (same_traj (&a, &b), "%s flow: explicit zero coefficients changed "
                     "the trajectory", full ? "full" : "reduced");
      ck_assert_msg (same_traj (&a, &c), "%s flow: zero reg struct changed it",
                     full ? "full" : "reduced");
      ck_assert_msg (!same_traj (&a, &r), "%s flow: nonzero coefficients changed nothing",
                     full ? "full" : "reduced");
      /* at t = 0 the recorded objective is L + Σ coef * term */
      double dL = r.loss[0] - a.loss[0];
      ck_assert_msg (fabs (dL) > 1e-3, "%s flow: L(0) %.17g vs %.17g", full ? "full" : "reduced",
                     r.loss[0], a.loss[0]);
      printf ("  %s flow: zero coefficients bit-identical (%zu rows); nonzero: L(0) "
              "%.15g -> %.15g, L(T) %.15g -> %.15g\n", full ? "full" : "reduced", a.rows,
              a.loss[0], r.loss[0], a.loss[a.rows - 1], r.loss[r.rows - 1]);
      mv_traj_clear (&a), mv_traj_clear (&b), mv_traj_clear (&c), mv_traj_clear (&r);
    }
  /* the reduced and the full flow agree with the regularizers on */
  mv_traj f, g;
  run_flow (&f, &pn, 1, &pn.reg);
  run_flow (&g, &pn, 0, &pn.reg);
  size_t n = f.n;
  double worst = 0;
  for (size_t k = 0; k < n * n; k++)
    worst = fmax (worst, fabs (f.G[(f.rows - 1) * n * n + k] - g.G[(g.rows - 1) * n * n + k]));
  printf ("  regularized full vs reduced flow at T: max |G diff| = %.2g\n", worst);
  ck_assert_msg (worst < 1e-6, "full and reduced regularized flows differ by %.3g", worst);
  mv_traj_clear (&f), mv_traj_clear (&g);
  mv_problem_clear (&p0), mv_problem_clear (&pz), mv_problem_clear (&pn);
}
END_TEST

/* Implicit steppers use the analytic Jacobian, built on the terms' Gram
 * Hessians: with the regularizers on, bsimp (reduced flow, and the full
 * flow's raw Hessian) must follow the explicit rk8pd path. */
START_TEST (test_flow_implicit)
{
  mv_problem pn;
  ck_assert_int_eq (mv_problem_parse (&pn, SPEC_HEAD ", \"regularizers\": {\"ortho\": 0.5, "
                                      "\"ortho_gated\": 0.3, \"var\": 0.4}}", "reg"), MV_OK);
  for (int full = 0; full < 2; full++)
    {
      mv_traj a, b;
      flow_stepper = NULL;
      run_flow (&a, &pn, full, &pn.reg);
      flow_stepper = "bsimp";
      run_flow (&b, &pn, full, &pn.reg);
      flow_stepper = NULL;
      size_t n = a.n;
      double worst = 0;
      for (size_t k = 0; k < n * n; k++)
        worst = fmax (worst, fabs (a.G[(a.rows - 1) * n * n + k] - b.G[(b.rows - 1) * n * n + k]));
      printf ("  %s flow, regularized: bsimp vs rk8pd at T: max |G diff| = %.2g (jac evals %lu)\n",
              full ? "full" : "reduced", worst, b.jac_evals);
      ck_assert_msg (worst < 1e-6, "bsimp and rk8pd differ by %.3g", worst);
      ck_assert (b.jac_evals > 0);
      mv_traj_clear (&a), mv_traj_clear (&b);
    }
  mv_problem_clear (&pn);
}
END_TEST

/* aux: constant m^2/4, zero gradient, at any point */
START_TEST (test_aux_inert)
{
  double U[N * D], G[N * N], dG[N * N];
  random_gram (U, NULL, G, N, D, 71);
  double L = term_value_d ("aux", G, M, MS, dG, NULL);
  ck_assert (L == M * M / 4.0);
  for (int k = 0; k < N * N; k++)
    ck_assert (dG[k] == 0.0);
}
END_TEST

static Suite *
regularizers_suite (void)
{
  Suite *s = suite_create ("regularizers");
  TCase *tc = tcase_create ("core");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_mc_values);
  tcase_add_test (tc, test_var_sample);
  tcase_add_test (tc, test_var_quadrature);
  tcase_add_test (tc, test_gram_fd);
  tcase_add_test (tc, test_mpfr_bounds);
  tcase_add_test (tc, test_raw_fd);
  tcase_add_test (tc, test_hess_fd);
  tcase_add_test (tc, test_orthogonal_zero);
  tcase_add_test (tc, test_invariance);
  tcase_add_test (tc, test_spec_keys);
  tcase_add_test (tc, test_flows_zero_and_nonzero);
  tcase_add_test (tc, test_flow_implicit);
  tcase_add_test (tc, test_aux_inert);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return mv_test_run (regularizers_suite ());
}
