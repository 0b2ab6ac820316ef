/* Check suite for the pair expectations  P = E[pi(A) He3(B) pi(C) He3(E)].
 *
 * Two test cases:
 *   "oracle"  validates the independent quadrature oracle (oracle_quad.c)
 *             against values known without the closed form;
 *   "closed"  checks mv_expect_pair / mv_expect_self (closed form, MPFR and
 *             double paths) against the oracle, finite differences, exact
 *             check values, the precision ladder and symmetries. */
#include "testutil.h"
#include "oracle_quad.h"
#include "series/expect_priv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <moeverify/error.h>
#include <moeverify/expect.h>

/* Reference values (MATH.md §2, 36 digits). */
#define REF_C1 "0.206620964141907037262350828718098841"
#define REF_C3 "-0.0623964839592591934931451210517652812"
#define REF_EPI2 "0.293379035858092962737649171281901159"
#define REF_6EPI2 "1.76027421514855777642589502769140696"

/* ------------------------------------------------------------ matrices */

/* Correlation matrices, order AB, AC, AE, BC, BE, CE.  All entries are
 * doubles, hence exact at every MPFR precision >= 53 (needed for the
 * precision ladder).  All are positive semidefinite (the oracle checks). */
enum { M_GENERIC, M_SELF, M_ALIGNED, M_TWINS, M_NEGATIVE, M_AC_BE, M_SMALL,
       M_ANTI, NMAT };
static const char *const MAT_NAME[NMAT] = {
  "generic", "self pair r=0.3", "nearly aligned (rho_AC=0.999999)",
  "two nearly identical experts", "strongly negative",
  "rho_AC=0.5, rho_BE=0.7 only", "small overlaps", "anti-aligned (C=-A, E=-B)"
};

/* Gram matrix of four unit vectors (a, b, c, e) given in R^4, in double. */
static void
gram_rho (double r[6], const double a[4], const double b[4], const double c[4],
          const double e[4])
{
  const double *v[4] = { a, b, c, e };
  double u[4][4];
  for (int i = 0; i < 4; i++)
    {
      double n = 0;
      for (int k = 0; k < 4; k++)
        n += v[i][k] * v[i][k];
      n = sqrt (n);
      for (int k = 0; k < 4; k++)
        u[i][k] = v[i][k] / n;
    }
#define DOT(i, j) (u[i][0] * u[j][0] + u[i][1] * u[j][1] + u[i][2] * u[j][2] \
                   + u[i][3] * u[j][3])
  r[MV_RHO_AB] = DOT (0, 1);
  r[MV_RHO_AC] = DOT (0, 2);
  r[MV_RHO_AE] = DOT (0, 3);
  r[MV_RHO_BC] = DOT (1, 2);
  r[MV_RHO_BE] = DOT (1, 3);
  r[MV_RHO_CE] = DOT (2, 3);
#undef DOT
}

static void
get_mat (int m, double r[6])
{
  static const double fixed[NMAT][6] = {
    [M_GENERIC] = { 0.31, -0.27, 0.12, 0.45, 0.38, -0.22 },
    [M_SELF] = { 0.3, 1, 0.3, 0.3, 1, 0.3 },
    [M_ALIGNED] = { 0.3, 0.999999, 0.1, 0.3, 0.5, 0.1005 },
    [M_NEGATIVE] = { 0.2, -0.95, -0.1, -0.15, -0.9, 0.05 },
    [M_AC_BE] = { 0, 0.5, 0, 0, 0.7, 0 },
    [M_SMALL] = { 0.01, 0.02, -0.03, 0.015, 0.2, 0.005 },
    [M_ANTI] = { 0.4, -1, -0.4, -0.4, -1, 0.4 },
  };
  if (m == M_TWINS)
    {
      /* experts (a, b) and (c, e) with c ~ a, e ~ b */
      const double a[4] = { 1, 0, 0, 0 };
      const double c[4] = { 0.999999, sqrt (1 - 0.999999 * 0.999999), 0, 0 };
      const double b[4] = { 0.3, 0.2, sqrt (1 - 0.13), 0 };
      double e[4];
      const double d[4] = { 0.1, -0.3, 0.2, 0.5 };
      for (int k = 0; k < 4; k++)
        e[k] = b[k] + 0.01 * d[k];
      gram_rho (r, a, b, c, e);
      return;
    }
  memcpy (r, fixed[m], 6 * sizeof (double));
}

static void
rho_init_d (mpfr_t r[6], const double d[6], mpfr_prec_t prec)
{
  for (int k = 0; k < 6; k++)
    {
      mpfr_init2 (r[k], prec < 53 ? 53 : prec);
      mpfr_set_d (r[k], d[k], MPFR_RNDN);
    }
}

static void
rho_clear (mpfr_t r[6])
{
  for (int k = 0; k < 6; k++)
    mpfr_clear (r[k]);
}

#define CRHO(r) ((const mpfr_t *) (r))

/* ------------------------------------------------------------ helpers */

static double
now_s (void)
{
  return (double) clock () / CLOCKS_PER_SEC;
}

/* Oracle at precision prec; asserts success; returns the error estimate. */
static double
oracle_d6 (mpfr_t P, const double d[6], mpfr_prec_t prec, const char *what)
{
  mpfr_t r[6];
  rho_init_d (r, d, prec);
  double err = -1;
  int st = oracle_pair (P, &err, CRHO (r), prec);
  rho_clear (r);
  ck_assert_msg (st == ORACLE_OK, "%s: oracle status %d", what, st);
  ck_assert_msg (err >= 0 && isfinite (err), "%s: bad oracle error %g", what,
                 err);
  return err;
}

static mv_expect_ws *
ws_get (mpfr_prec_t prec)
{
  mv_expect_ws *ws = mv_expect_alloc (prec);
  ck_assert_msg (ws != NULL, "mv_expect_alloc(%ld) failed: %s", (long) prec,
                 mv_error_message ());
  return ws;
}

static void
closed_pair (mv_expect_val *v, const double d[6], int grad, mv_expect_ws *ws,
             const char *what)
{
  mpfr_t r[6];
  rho_init_d (r, d, mv_expect_prec (ws));
  int st = mv_expect_pair (v, CRHO (r), grad, ws);
  rho_clear (r);
  ck_assert_msg (st == MV_OK, "%s: mv_expect_pair status %d: %s", what, st,
                 mv_error_message ());
  ck_assert_msg (mpfr_number_p (v->P) && MV_MAG_D (v->err) >= 0 && isfinite (MV_MAG_D (v->err)),
                 "%s: P not finite or bad err %g", what, MV_MAG_D (v->err));
}

static void
closed_self (mv_expect_val *v, double r, int grad, mv_expect_ws *ws,
             const char *what)
{
  mpfr_t rr;
  mpfr_init2 (rr, mv_expect_prec (ws));
  mpfr_set_d (rr, r, MPFR_RNDN);
  int st = mv_expect_self (v, rr, grad, ws);
  mpfr_clear (rr);
  ck_assert_msg (st == MV_OK, "%s: mv_expect_self status %d: %s", what, st,
                 mv_error_message ());
  ck_assert_msg (mpfr_number_p (v->P) && MV_MAG_D (v->err) >= 0 && isfinite (MV_MAG_D (v->err)),
                 "%s: P not finite or bad err %g", what, MV_MAG_D (v->err));
}

/* |a - b| as a double (rounded up) */
static double
absdiff (const mpfr_t a, const mpfr_t b)
{
  mpfr_t d;
  mpfr_init2 (d, 64);
  mpfr_sub (d, a, b, MPFR_RNDA);
  double x = fabs (mpfr_get_d (d, MPFR_RNDA));
  mpfr_clear (d);
  return x;
}

/* |a - b| <= tol, printing both values in full otherwise */
#define CHECK_WITHIN(a, b, tol, what) MV_CHECK_CLOSE_ABS ((a), (b), (tol), (what))

static void
set_str (mpfr_t x, const char *s)
{
  mpfr_set_str (x, s, 10, MPFR_RNDN);
}

/* ================================================================ oracle */

/* All rho = 0 except rho_BE: P = E[pi]^2 E[He3 He3] = (1/4) 6 rho^3. */
START_TEST (t_oracle_be_only)
{
  const double be[] = { 0.7, -0.35, 1.0, 0.123456789 };
  mpfr_t P, ex;
  mpfr_inits2 (256, P, ex, (mpfr_ptr) 0);
  for (unsigned i = 0; i < sizeof be / sizeof be[0]; i++)
    {
      double d[6] = { 0, 0, 0, 0, be[i], 0 };
      double err = oracle_d6 (P, d, 256, "be only");
      mpfr_set_d (ex, be[i], MPFR_RNDN);
      mpfr_pow_ui (ex, ex, 3, MPFR_RNDN);
      mpfr_mul_d (ex, ex, 1.5, MPFR_RNDN);
      MV_CHECK_DIGITS (P, ex, 70, 0, "oracle: rho_BE only = 1.5 rho^3");
      ck_assert_msg (absdiff (P, ex) <= err, "error estimate too small");
    }
  mpfr_clears (P, ex, (mpfr_ptr) 0);
}
END_TEST

/* 1-D moments: E[pi^2], c_1 = E[pi z], c_3 = E[pi He3]; c_1 = 1/2 - E[pi^2]. */
START_TEST (t_oracle_moments)
{
  mpfr_t m20, m11, m13, ref, t;
  mpfr_inits2 (256, m20, m11, m13, ref, t, (mpfr_ptr) 0);
  double e20, e11, e13;
  ck_assert_int_eq (oracle_sigmoid_moment (m20, &e20, 2, 0, 256), 0);
  ck_assert_int_eq (oracle_sigmoid_moment (m11, &e11, 1, 1, 256), 0);
  ck_assert_int_eq (oracle_sigmoid_moment (m13, &e13, 1, 3, 256), 0);
  ck_assert (e20 < 1e-40 && e11 < 1e-40 && e13 < 1e-40);
  set_str (ref, REF_EPI2);
  MV_CHECK_DIGITS (m20, ref, 35, 0, "oracle: E[pi^2] vs reference");
  set_str (ref, REF_C1);
  MV_CHECK_DIGITS (m11, ref, 35, 0, "oracle: c_1 = E[pi z] vs reference");
  /* exact identity c_1 = 1/2 - E[pi^2] */
  mpfr_set_d (t, 0.5, MPFR_RNDN);
  mpfr_sub (t, t, m20, MPFR_RNDN);
  MV_CHECK_DIGITS (m11, t, 70, 0, "oracle: c_1 = 1/2 - E[pi^2]");
  /* c_3 = E[pi z^3] - 3 E[pi z] */
  mpfr_mul_ui (t, m11, 3, MPFR_RNDN);
  mpfr_sub (t, m13, t, MPFR_RNDN);
  set_str (ref, REF_C3);
  MV_CHECK_DIGITS (t, ref, 35, 0, "oracle: c_3 vs reference");
  mpfr_clears (m20, m11, m13, ref, t, (mpfr_ptr) 0);
}
END_TEST

/* Factorising configurations with known values:
 *   self pair r = 0 (A = C, B = E, A _|_ B):     6 E[pi^2]   (1-D path)
 *   C = -A, E = B, A _|_ B:                       6 c_1      (1-D path)
 *   A = B, C _|_ A, corr(C,E) = r:  c_3 * c_3 r^3            (2-D path)   */
START_TEST (t_oracle_factorised)
{
  mpfr_t P, ref, c3, t;
  mpfr_inits2 (256, P, ref, c3, t, (mpfr_ptr) 0);
  double err;

  const double self0[6] = { 0, 1, 0, 0, 1, 0 };
  err = oracle_d6 (P, self0, 256, "self r=0");
  set_str (ref, REF_6EPI2);
  MV_CHECK_DIGITS (P, ref, 35, 0, "oracle: self pair r=0 = 6 E[pi^2]");
  ck_assert (err < 1e-38);

  const double anti[6] = { 0, -1, 0, 0, 1, 0 };
  err = oracle_d6 (P, anti, 256, "C=-A");
  set_str (ref, REF_C1);
  mpfr_mul_ui (ref, ref, 6, MPFR_RNDN);
  MV_CHECK_DIGITS (P, ref, 35, 0, "oracle: C=-A, E=B: 6 c_1");

  /* c_3 from the oracle's own 1-D moments (70 digits) and the reference */
  double e1, e3;
  oracle_sigmoid_moment (c3, &e1, 1, 3, 256);
  oracle_sigmoid_moment (t, &e3, 1, 1, 256);
  mpfr_mul_ui (t, t, 3, MPFR_RNDN);
  mpfr_sub (c3, c3, t, MPFR_RNDN);
  const double rs[] = { 1.0, -0.6, 0.25 };
  for (unsigned i = 0; i < 3; i++)
    {
      const double d[6] = { 1, 0, 0, 0, 0, rs[i] };
      err = oracle_d6 (P, d, 256, "A=B");
      mpfr_sqr (ref, c3, MPFR_RNDN);
      mpfr_set_d (t, rs[i], MPFR_RNDN);
      mpfr_pow_ui (t, t, 3, MPFR_RNDN);
      mpfr_mul (ref, ref, t, MPFR_RNDN);
      MV_CHECK_DIGITS (P, ref, 70, 0, "oracle: A=B: c_3^2 r^3 (1-D c_3)");
      ck_assert (absdiff (P, ref) <= err + 1e-70);
      set_str (t, REF_C3);
      mpfr_sqr (ref, t, MPFR_RNDN);
      mpfr_set_d (t, rs[i], MPFR_RNDN);
      mpfr_pow_ui (t, t, 3, MPFR_RNDN);
      mpfr_mul (ref, ref, t, MPFR_RNDN);
      MV_CHECK_DIGITS (P, ref, 35, 0, "oracle: A=B: c_3^2 r^3 (reference c_3)");
    }
  mpfr_clears (P, ref, c3, t, (mpfr_ptr) 0);
}
END_TEST

/* Grid independence: the automatic grid vs a finer, wider one; the error
 * estimate claims >= 35 digits and covers the observed difference. */
START_TEST (t_oracle_converge)
{
  mpfr_t P, Q;
  mpfr_inits2 (256, P, Q, (mpfr_ptr) 0);
  double h, L;
  oracle_default_grid (256, 6, &h, &L);
  for (int m = 0; m < NMAT; m++)
    {
      double d[6];
      get_mat (m, d);
      mpfr_t r[6];
      rho_init_d (r, d, 256);
      double e1, e2;
      ck_assert_int_eq (oracle_pair_ex (P, &e1, CRHO (r), 256, 0, 0), 0);
      ck_assert_int_eq (oracle_pair_ex (Q, &e2, CRHO (r), 256, 0.7 * h, L + 3),
                        0);
      rho_clear (r);
      MV_CHECK_DIGITS (P, Q, 70, 0, MAT_NAME[m]);
      ck_assert_msg (absdiff (P, Q) <= e1, "%s: |P-Q| = %g > err_est %g",
                     MAT_NAME[m], absdiff (P, Q), e1);
      ck_assert_msg (e1 <= 1e-35 * fabs (mpfr_get_d (P, MPFR_RNDN)),
                     "%s: err_est %g claims < 35 digits", MAT_NAME[m], e1);
    }
  mpfr_clears (P, Q, (mpfr_ptr) 0);
}
END_TEST

/* The oracle itself is not symmetric in its construction: swapping experts
 * changes the Cholesky factor and every intermediate.  Flipping B's sign
 * must flip P. */
START_TEST (t_oracle_symmetry)
{
  mpfr_t P, Q;
  mpfr_inits2 (256, P, Q, (mpfr_ptr) 0);
  const int ms[] = { M_GENERIC, M_TWINS, M_NEGATIVE };
  for (unsigned i = 0; i < 3; i++)
    {
      double d[6], s[6];
      get_mat (ms[i], d);
      double e1 = oracle_d6 (P, d, 256, "sym");
      memcpy (s, d, sizeof s);
      s[MV_RHO_AB] = d[MV_RHO_CE];
      s[MV_RHO_CE] = d[MV_RHO_AB];
      s[MV_RHO_AE] = d[MV_RHO_BC];
      s[MV_RHO_BC] = d[MV_RHO_AE];
      double e2 = oracle_d6 (Q, s, 256, "sym swapped");
      MV_CHECK_DIGITS (P, Q, 70, 0, "oracle: expert swap");
      ck_assert (absdiff (P, Q) <= e1 + e2);
      memcpy (s, d, sizeof s);
      s[MV_RHO_AB] = -s[MV_RHO_AB];
      s[MV_RHO_BC] = -s[MV_RHO_BC];
      s[MV_RHO_BE] = -s[MV_RHO_BE];
      oracle_d6 (Q, s, 256, "sym B flipped");
      mpfr_neg (Q, Q, MPFR_RNDN);
      MV_CHECK_DIGITS (P, Q, 70, 0, "oracle: B -> -B flips P");
    }
  mpfr_clears (P, Q, (mpfr_ptr) 0);
}
END_TEST

/* Independent double-precision check of the conditional (Isserlis) part:
 * full 4x4 Cholesky of (A, C, B, E), 4-point Gauss-Hermite in xi3, xi4
 * (exact for the degree-6 polynomial He3(B) He3(E)), trapezoid in xi1, xi2. */
static double
gh4d_pair (const double rho[6])
{
  double R[4][4] = { { 1, rho[1], rho[0], rho[2] },
                     { rho[1], 1, rho[3], rho[5] },
                     { rho[0], rho[3], 1, rho[4] },
                     { rho[2], rho[5], rho[4], 1 } }; /* order A, C, B, E */
  double Lc[4][4] = { { 0 } };
  for (int j = 0; j < 4; j++)
    {
      double dsum = R[j][j];
      for (int k = 0; k < j; k++)
        dsum -= Lc[j][k] * Lc[j][k];
      double piv = dsum > 1e-14 ? sqrt (dsum) : 0;
      Lc[j][j] = piv;
      for (int i = j + 1; i < 4; i++)
        {
          double sum = R[i][j];
          for (int k = 0; k < j; k++)
            sum -= Lc[i][k] * Lc[j][k];
          Lc[i][j] = piv > 0 ? sum / piv : 0;
        }
    }
  /* probabilists' Gauss-Hermite, 4 nodes: He4 roots x^2 = 3 -+ sqrt 6,
   * weights 1/(4 He3(x)^2 / 3!) normalised */
  double gx[4], gw[4], ws = 0;
  const double r1 = sqrt (3 - sqrt (6.0)), r2 = sqrt (3 + sqrt (6.0));
  gx[0] = -r2, gx[1] = -r1, gx[2] = r1, gx[3] = r2;
  for (int k = 0; k < 4; k++)
    {
      double h3 = gx[k] * gx[k] * gx[k] - 3 * gx[k];
      gw[k] = 1.0 / (h3 * h3);
      ws += gw[k];
    }
  for (int k = 0; k < 4; k++)
    gw[k] /= ws;
  const double h = 0.1, L = 12;
  const int N = (int) (L / h);
  double S = 0;
  for (int i = -N; i <= N; i++)
    {
      double x1 = i * h;
      double pa = 1 / (1 + exp (-x1)), g1 = exp (-x1 * x1 / 2);
      for (int j = -N; j <= N; j++)
        {
          double x2 = j * h;
          double C = Lc[1][0] * x1 + Lc[1][1] * x2;
          double pc = 1 / (1 + exp (-C));
          double mb = Lc[2][0] * x1 + Lc[2][1] * x2;
          double me = Lc[3][0] * x1 + Lc[3][1] * x2;
          double inner = 0;
          for (int k = 0; k < 4; k++)
            for (int l = 0; l < 4; l++)
              {
                double B = mb + Lc[2][2] * gx[k];
                double E = me + Lc[3][2] * gx[k] + Lc[3][3] * gx[l];
                inner += gw[k] * gw[l] * (B * B * B - 3 * B) * (E * E * E - 3 * E);
              }
          S += g1 * exp (-x2 * x2 / 2) * pa * pc * inner;
        }
    }
  return S * h * h / (2 * 3.14159265358979323846);
}

START_TEST (t_oracle_vs_gh4d)
{
  mpfr_t P;
  mpfr_init2 (P, 256);
  const int ms[] = { M_GENERIC, M_ALIGNED, M_TWINS, M_NEGATIVE, M_SMALL };
  for (unsigned i = 0; i < sizeof ms / sizeof ms[0]; i++)
    {
      double d[6];
      get_mat (ms[i], d);
      oracle_d6 (P, d, 256, MAT_NAME[ms[i]]);
      double q = gh4d_pair (d);
      MV_CHECK_CLOSE_D (mpfr_get_d (P, MPFR_RNDN), q, 1e-12, 1e-14,
                        MAT_NAME[ms[i]]);
    }
  mpfr_clear (P);
}
END_TEST

/* Near-singular 2-D path vs the exactly singular 1-D path: vectors
 * a = e1, c = cos t e1 + sin t e2 with t = 1e-30 and t = 0; P is smooth in
 * the vectors, so the results agree to ~30 digits. */
START_TEST (t_oracle_near_singular)
{
  const mpfr_prec_t prec = 256;
  mpfr_t P0, P1, th, ct, st, r[6];
  mpfr_inits2 (prec, P0, P1, th, ct, st, (mpfr_ptr) 0);
  for (int k = 0; k < 6; k++)
    mpfr_init2 (r[k], prec);
  /* b = (0.3, 0.2, sqrt(.87), 0), e = (0.1, -0.5, 0.3, sqrt(.65)) */
  const double b[4] = { 0.3, 0.2, sqrt (0.87), 0 };
  const double e[4] = { 0.1, -0.5, 0.3, 0 };
  mpfr_t bb[4], ee[4], t;
  mpfr_init2 (t, prec);
  for (int k = 0; k < 4; k++)
    {
      mpfr_inits2 (prec, bb[k], ee[k], (mpfr_ptr) 0);
      mpfr_set_d (bb[k], b[k], MPFR_RNDN);
      mpfr_set_d (ee[k], e[k], MPFR_RNDN);
    }
  /* exact unit vectors: b3 = sqrt(1 - b1^2 - b2^2), e4 = sqrt(1 - ...) */
  mpfr_set_d (t, 0.13, MPFR_RNDN);
  mpfr_ui_sub (t, 1, t, MPFR_RNDN);
  mpfr_sqrt (bb[2], t, MPFR_RNDN);
  mpfr_set_d (t, 0.35, MPFR_RNDN);
  mpfr_ui_sub (t, 1, t, MPFR_RNDN);
  mpfr_sqrt (ee[3], t, MPFR_RNDN);
  for (int pass = 0; pass < 2; pass++)
    {
      mpfr_set_d (th, pass ? 1e-30 : 0, MPFR_RNDN);
      mpfr_sin_cos (st, ct, th, MPFR_RNDN);
      /* a = e1, c = (ct, st, 0, 0) */
      mpfr_set (r[MV_RHO_AB], bb[0], MPFR_RNDN);
      mpfr_set (r[MV_RHO_AC], ct, MPFR_RNDN);
      mpfr_set (r[MV_RHO_AE], ee[0], MPFR_RNDN);
      mpfr_mul (r[MV_RHO_BC], bb[0], ct, MPFR_RNDN);
      mpfr_mul (t, bb[1], st, MPFR_RNDN);
      mpfr_add (r[MV_RHO_BC], r[MV_RHO_BC], t, MPFR_RNDN);
      mpfr_set_ui (r[MV_RHO_BE], 0, MPFR_RNDN);
      for (int k = 0; k < 4; k++)
        {
          mpfr_mul (t, bb[k], ee[k], MPFR_RNDN);
          mpfr_add (r[MV_RHO_BE], r[MV_RHO_BE], t, MPFR_RNDN);
        }
      mpfr_mul (r[MV_RHO_CE], ee[0], ct, MPFR_RNDN);
      mpfr_mul (t, ee[1], st, MPFR_RNDN);
      mpfr_add (r[MV_RHO_CE], r[MV_RHO_CE], t, MPFR_RNDN);
      double err;
      ck_assert_int_eq (oracle_pair (pass ? P1 : P0, &err, CRHO (r), prec), 0);
      ck_assert (err < 1e-35);
    }
  MV_CHECK_DIGITS (P0, P1, 28, 0, "oracle: 1-D path (t=0) vs 2-D path (t=1e-30)");
  for (int k = 0; k < 4; k++)
    mpfr_clears (bb[k], ee[k], (mpfr_ptr) 0);
  for (int k = 0; k < 6; k++)
    mpfr_clear (r[k]);
  mpfr_clears (P0, P1, th, ct, st, t, (mpfr_ptr) 0);
}
END_TEST

/* Domain: |rho| > 1, indefinite matrices, inconsistent rho_AC = 1. */
START_TEST (t_oracle_domain)
{
  mpfr_t P, r[6];
  mpfr_init2 (P, 128);
  const double bad[][6] = {
    { 1.5, 0, 0, 0, 0, 0 },        /* |rho| > 1 */
    { 0.5, 1, 0, -0.5, 0, 0 },     /* C = A but rho_BC != rho_AB */
    { 0.9, 0, 0, 0.9, 0, 0 },      /* A _|_ C, both 0.9 with B: indefinite */
    { 0.9, 0.9, 0, -0.9, 0, 0 },   /* indefinite */
  };
  for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      rho_init_d (r, bad[i], 128);
      double err;
      int st = oracle_pair (P, &err, CRHO (r), 128);
      ck_assert_msg (st == ORACLE_EDOM, "bad matrix %u accepted (status %d)", i,
                     st);
      rho_clear (r);
    }
  mpfr_clear (P);
}
END_TEST

/* Speed: one 256-bit evaluation of a generic 2-D case. */
START_TEST (t_oracle_speed)
{
  mpfr_t P;
  mpfr_init2 (P, 256);
  double d[6];
  get_mat (M_GENERIC, d);
  double t0 = now_s ();
  oracle_d6 (P, d, 256, "speed");
  double t1 = now_s ();
  fprintf (stderr, "oracle_pair at 256 bits: %.3f s CPU\n", t1 - t0);
  ck_assert_msg (t1 - t0 < 5.0, "oracle too slow: %.2f s", t1 - t0);
  mpfr_clear (P);
}
END_TEST

/* ================================================================ closed */

/* Closed form vs oracle at 256 bits: >= 30 digits and within the sum of
 * the two error bounds. */
START_TEST (t_pair_vs_oracle)
{
  mv_expect_ws *ws = ws_get (256);
  mv_expect_val v;
  mv_expect_val_init (&v, 256);
  mpfr_t Q;
  mpfr_init2 (Q, 256);
  for (int m = 0; m < NMAT; m++)
    {
      double d[6];
      get_mat (m, d);
      double oerr = oracle_d6 (Q, d, 256, MAT_NAME[m]);
      closed_pair (&v, d, 0, ws, MAT_NAME[m]);
      MV_CHECK_DIGITS (v.P, Q, 30, 0, MAT_NAME[m]);
      CHECK_WITHIN (v.P, Q, MV_MAG_D (v.err) + oerr, MAT_NAME[m]);
    }
  mpfr_clear (Q);
  mv_expect_val_clear (&v);
  mv_expect_free (ws);
}
END_TEST

/* Self pair through mv_expect_self and mv_expect_pair vs oracle. */
START_TEST (t_self_vs_oracle)
{
  mv_expect_ws *ws = ws_get (256);
  mv_expect_val v, w;
  mv_expect_val_init (&v, 256);
  mv_expect_val_init (&w, 256);
  mpfr_t Q;
  mpfr_init2 (Q, 256);
  const double rs[] = { 0.3, -0.6, 0.95, 1.0, 0.0 };
  for (unsigned i = 0; i < sizeof rs / sizeof rs[0]; i++)
    {
      const double r = rs[i];
      const double d[6] = { r, 1, r, r, 1, r };
      char what[64];
      snprintf (what, sizeof what, "self pair r=%g", r);
      double oerr = oracle_d6 (Q, d, 256, what);
      closed_self (&v, r, 0, ws, what);
      closed_pair (&w, d, 0, ws, what);
      MV_CHECK_DIGITS (v.P, Q, 30, 0, what);
      CHECK_WITHIN (v.P, Q, MV_MAG_D (v.err) + oerr, what);
      MV_CHECK_DIGITS (w.P, Q, 30, 0, what);
      CHECK_WITHIN (w.P, Q, MV_MAG_D (w.err) + oerr, what);
      CHECK_WITHIN (v.P, w.P, MV_MAG_D (v.err) + MV_MAG_D (w.err), "self vs pair at self point");
    }
  mpfr_clear (Q);
  mv_expect_val_clear (&v);
  mv_expect_val_clear (&w);
  mv_expect_free (ws);
}
END_TEST

/* Exact check values. */
START_TEST (t_check_values)
{
  mv_expect_ws *ws = ws_get (256);
  mv_expect_val v;
  mv_expect_val_init (&v, 256);
  mpfr_t ex;
  mpfr_init2 (ex, 256);
  const double be[] = { 0.7, -0.35, 1.0, 0.123456789 };
  for (unsigned i = 0; i < 4; i++)
    {
      const double d[6] = { 0, 0, 0, 0, be[i], 0 };
      closed_pair (&v, d, 0, ws, "rho_BE only");
      mpfr_set_d (ex, be[i], MPFR_RNDN);
      mpfr_pow_ui (ex, ex, 3, MPFR_RNDN);
      mpfr_mul_d (ex, ex, 1.5, MPFR_RNDN);
      MV_CHECK_DIGITS (v.P, ex, 70, 0, "closed: rho_BE only = 1.5 rho^3");
      CHECK_WITHIN (v.P, ex, MV_MAG_D (v.err), "closed: rho_BE only within err");
    }
  /* self pair r = 0: 6 E[pi^2] */
  closed_self (&v, 0.0, 0, ws, "self r=0");
  set_str (ex, REF_6EPI2);
  MV_CHECK_DIGITS (v.P, ex, 35, 0, "closed: self r=0 = 6 E[pi^2]");
  {
    const double d[6] = { 0, 1, 0, 0, 1, 0 };
    closed_pair (&v, d, 0, ws, "pair at self r=0");
    MV_CHECK_DIGITS (v.P, ex, 35, 0, "closed pair: self r=0 = 6 E[pi^2]");
  }
  /* C = -A, E = B, A _|_ B: 6 c_1 */
  {
    const double d[6] = { 0, -1, 0, 0, 1, 0 };
    closed_pair (&v, d, 0, ws, "C=-A");
    set_str (ex, REF_C1);
    mpfr_mul_ui (ex, ex, 6, MPFR_RNDN);
    MV_CHECK_DIGITS (v.P, ex, 35, 0, "closed: C=-A, E=B: 6 c_1");
  }
  /* A = B, corr(C,E) = r, rest 0: c_3^2 r^3 */
  {
    const double d[6] = { 1, 0, 0, 0, 0, -0.6 };
    closed_pair (&v, d, 0, ws, "A=B");
    set_str (ex, REF_C3);
    mpfr_sqr (ex, ex, MPFR_RNDN);
    for (int k = 0; k < 3; k++) /* r^3 of the double r, exactly */
      mpfr_mul_d (ex, ex, -0.6, MPFR_RNDN);
    MV_CHECK_DIGITS (v.P, ex, 35, 0, "closed: A=B: c_3^2 r^3");
  }
  mpfr_clear (ex);
  mv_expect_val_clear (&v);
  mv_expect_free (ws);
}
END_TEST

/* Precision ladder 64/128/256/512. */
START_TEST (t_precision_ladder)
{
  const mpfr_prec_t precs[4] = { 64, 128, 256, 512 };
  mv_expect_ws *ws[4];
  mv_expect_val v[4];
  for (int p = 0; p < 4; p++)
    {
      ws[p] = ws_get (precs[p]);
      mv_expect_val_init (&v[p], precs[p]);
    }
  const int ms[] = { M_GENERIC, M_SELF, M_ALIGNED, M_TWINS, M_NEGATIVE,
                     M_SMALL, M_ANTI };
  for (unsigned i = 0; i < sizeof ms / sizeof ms[0]; i++)
    {
      double d[6];
      get_mat (ms[i], d);
      for (int p = 0; p < 4; p++)
        closed_pair (&v[p], d, 0, ws[p], MAT_NAME[ms[i]]);
      for (int p = 0; p < 3; p++)
        {
          char what[160];
          double aP = fabs (mpfr_get_d (v[p].P, MPFR_RNDN));
          double claim = -log10 (MV_MAG_D (v[p].err) / aP);
          snprintf (what, sizeof what, "%s: %ld vs %ld bits (claims %.1f digits)",
                    MAT_NAME[ms[i]], (long) precs[p], (long) precs[p + 1], claim);
          /* digits relative to max(|a|,|b|): allow the rounding of the claim */
          MV_CHECK_DIGITS (v[p].P, v[p + 1].P, claim - 0.05, 0, what);
          CHECK_WITHIN (v[p].P, v[p + 1].P, MV_MAG_D (v[p].err) + MV_MAG_D (v[p + 1].err), what);
          ck_assert_msg (MV_MAG_D (v[p + 1].err) < MV_MAG_D (v[p].err) || MV_MAG_D (v[p + 1].err) == 0,
                         "%s: error bound does not shrink", what);
          /* the claim should be useful: at least ~ 1/2 of the precision */
          ck_assert_msg (claim > 0.5 * 0.30103 * precs[p] - 3,
                         "%s: only %.1f digits claimed", what, claim);
        }
    }
  for (int p = 0; p < 4; p++)
    {
      mv_expect_val_clear (&v[p]);
      mv_expect_free (ws[p]);
    }
}
END_TEST

/* Partial derivatives vs central differences of the closed form at 512
 * bits, step 2^-60 (truncation ~ 1e-36 relative). */
START_TEST (t_grad_fd_closed)
{
  const mpfr_prec_t prec = 512;
  mv_expect_ws *ws = ws_get (prec);
  mv_expect_val v, vp, vm;
  mv_expect_val_init (&v, prec);
  mv_expect_val_init (&vp, prec);
  mv_expect_val_init (&vm, prec);
  mpfr_t r[6], fd;
  mpfr_init2 (fd, prec);
  const int ms[] = { M_GENERIC, M_ALIGNED, M_TWINS, M_NEGATIVE, M_SMALL,
                     M_AC_BE };
  for (unsigned i = 0; i < sizeof ms / sizeof ms[0]; i++)
    {
      double d[6];
      get_mat (ms[i], d);
      rho_init_d (r, d, prec);
      ck_assert_int_eq (mv_expect_pair (&v, CRHO (r), 1, ws), MV_OK);
      double scale = 0;
      for (int k = 0; k < 6; k++)
        scale = fmax (scale, fabs (mpfr_get_d (v.dP[k], MPFR_RNDN)));
      for (int k = 0; k < 6; k++)
        {
          if (fabs (d[k]) + 0x1p-60 > 1)
            continue; /* would leave |rho| <= 1 */
          mpfr_add_d (r[k], r[k], 0x1p-60, MPFR_RNDN);
          ck_assert_int_eq (mv_expect_pair (&vp, CRHO (r), 0, ws), MV_OK);
          mpfr_sub_d (r[k], r[k], 0x1p-59, MPFR_RNDN);
          ck_assert_int_eq (mv_expect_pair (&vm, CRHO (r), 0, ws), MV_OK);
          mpfr_add_d (r[k], r[k], 0x1p-60, MPFR_RNDN);
          mpfr_sub (fd, vp.P, vm.P, MPFR_RNDN);
          mpfr_mul_2si (fd, fd, 59, MPFR_RNDN);
          char what[160];
          snprintf (what, sizeof what, "%s: dP[%d] vs FD (512 bits)",
                    MAT_NAME[ms[i]], k);
          MV_CHECK_DIGITS (v.dP[k], fd, 30, scale, what);
          CHECK_WITHIN (v.dP[k], fd, MV_MAG_D (v.derr) + 1e-30 * scale, what);
        }
      rho_clear (r);
    }
  mpfr_clear (fd);
  mv_expect_val_clear (&v);
  mv_expect_val_clear (&vp);
  mv_expect_val_clear (&vm);
  mv_expect_free (ws);
}
END_TEST

/* Partial derivatives vs central differences of the ORACLE (256 bits, step
 * 2^-40: truncation ~ 1e-24, quadrature noise ~ 1e-60). */
START_TEST (t_grad_fd_oracle)
{
  const mpfr_prec_t prec = 256;
  mv_expect_ws *ws = ws_get (prec);
  mv_expect_val v;
  mv_expect_val_init (&v, prec);
  mpfr_t r[6], fd, Pp, Pm;
  mpfr_inits2 (prec, fd, Pp, Pm, (mpfr_ptr) 0);
  const int ms[] = { M_GENERIC, M_NEGATIVE };
  for (unsigned i = 0; i < sizeof ms / sizeof ms[0]; i++)
    {
      double d[6];
      get_mat (ms[i], d);
      rho_init_d (r, d, prec);
      ck_assert_int_eq (mv_expect_pair (&v, CRHO (r), 1, ws), MV_OK);
      double scale = 0;
      for (int k = 0; k < 6; k++)
        scale = fmax (scale, fabs (mpfr_get_d (v.dP[k], MPFR_RNDN)));
      for (int k = 0; k < 6; k++)
        {
          double e1, e2;
          mpfr_add_d (r[k], r[k], 0x1p-40, MPFR_RNDN);
          ck_assert_int_eq (oracle_pair (Pp, &e1, CRHO (r), prec), 0);
          mpfr_sub_d (r[k], r[k], 0x1p-39, MPFR_RNDN);
          ck_assert_int_eq (oracle_pair (Pm, &e2, CRHO (r), prec), 0);
          mpfr_add_d (r[k], r[k], 0x1p-40, MPFR_RNDN);
          mpfr_sub (fd, Pp, Pm, MPFR_RNDN);
          mpfr_mul_2si (fd, fd, 39, MPFR_RNDN);
          char what[160];
          snprintf (what, sizeof what, "%s: dP[%d] vs oracle FD",
                    MAT_NAME[ms[i]], k);
          MV_CHECK_DIGITS (v.dP[k], fd, 18, scale, what);
        }
      rho_clear (r);
    }
  mpfr_clears (fd, Pp, Pm, (mpfr_ptr) 0);
  mv_expect_val_clear (&v);
  mv_expect_free (ws);
}
END_TEST

/* Self pair: total derivative dP/dr vs FD of mv_expect_self (512 bits), vs
 * FD of the oracle along the self family, and vs the sum of the four
 * partials of mv_expect_pair at the self point. */
START_TEST (t_grad_self)
{
  mv_expect_ws *ws = ws_get (512);
  mv_expect_ws *ws256 = ws_get (256);
  mv_expect_val v, vp, vm, w;
  mv_expect_val_init (&v, 512);
  mv_expect_val_init (&vp, 512);
  mv_expect_val_init (&vm, 512);
  mv_expect_val_init (&w, 256);
  mpfr_t r, fd, Pp, Pm, sum, rr[6];
  mpfr_inits2 (512, r, fd, sum, (mpfr_ptr) 0);
  mpfr_inits2 (256, Pp, Pm, (mpfr_ptr) 0);
  const double rs[] = { 0.3, -0.6, 0.0, 0.95 };
  for (unsigned i = 0; i < sizeof rs / sizeof rs[0]; i++)
    {
      char what[96];
      mpfr_set_d (r, rs[i], MPFR_RNDN);
      ck_assert_int_eq (mv_expect_self (&v, r, 1, ws), MV_OK);
      mpfr_add_d (r, r, 0x1p-60, MPFR_RNDN);
      ck_assert_int_eq (mv_expect_self (&vp, r, 0, ws), MV_OK);
      mpfr_sub_d (r, r, 0x1p-59, MPFR_RNDN);
      ck_assert_int_eq (mv_expect_self (&vm, r, 0, ws), MV_OK);
      mpfr_sub (fd, vp.P, vm.P, MPFR_RNDN);
      mpfr_mul_2si (fd, fd, 59, MPFR_RNDN);
      double scale = fmax (fabs (mpfr_get_d (v.dP[0], MPFR_RNDN)), 1e-3);
      snprintf (what, sizeof what, "self r=%g: dP/dr vs FD (512 bits)", rs[i]);
      MV_CHECK_DIGITS (v.dP[0], fd, 30, scale, what);
      /* oracle along the self family (1-D path), step 2^-40 */
      for (int sgn = 0; sgn < 2; sgn++)
        {
          double rr0 = rs[i] + (sgn ? -0x1p-40 : 0x1p-40);
          const double d[6] = { rr0, 1, rr0, rr0, 1, rr0 };
          oracle_d6 (sgn ? Pm : Pp, d, 256, "self oracle");
        }
      mpfr_sub (fd, Pp, Pm, MPFR_RNDN);
      mpfr_mul_2si (fd, fd, 39, MPFR_RNDN);
      snprintf (what, sizeof what, "self r=%g: dP/dr vs oracle FD", rs[i]);
      MV_CHECK_DIGITS (v.dP[0], fd, 18, scale, what);
      /* sum of partials of the general pair at the self point */
      const double d[6] = { rs[i], 1, rs[i], rs[i], 1, rs[i] };
      rho_init_d (rr, d, 256);
      ck_assert_int_eq (mv_expect_pair (&w, CRHO (rr), 1, ws256), MV_OK);
      rho_clear (rr);
      mpfr_set (sum, w.dP[MV_RHO_AB], MPFR_RNDN);
      mpfr_add (sum, sum, w.dP[MV_RHO_AE], MPFR_RNDN);
      mpfr_add (sum, sum, w.dP[MV_RHO_BC], MPFR_RNDN);
      mpfr_add (sum, sum, w.dP[MV_RHO_CE], MPFR_RNDN);
      snprintf (what, sizeof what,
                "self r=%g: dP/dr vs sum of pair partials AB+AE+BC+CE", rs[i]);
      MV_CHECK_DIGITS (v.dP[0], sum, 30, scale, what);
    }
  mpfr_clears (r, fd, sum, Pp, Pm, (mpfr_ptr) 0);
  mv_expect_val_clear (&v);
  mv_expect_val_clear (&vp);
  mv_expect_val_clear (&vm);
  mv_expect_val_clear (&w);
  mv_expect_free (ws);
  mv_expect_free (ws256);
}
END_TEST

/* Double path vs MPFR path at 256 bits. */
START_TEST (t_double_path)
{
  mv_expect_ws *ws = ws_get (256);
  mv_expect_val v;
  mv_expect_vald vd;
  mv_expect_val_init (&v, 256);
  for (int m = 0; m < NMAT; m++)
    {
      double d[6];
      get_mat (m, d);
      closed_pair (&v, d, 1, ws, MAT_NAME[m]);
      int st = mv_expect_pair_d (&vd, d, 1, ws);
      ck_assert_msg (st == MV_OK, "%s: mv_expect_pair_d status %d: %s",
                     MAT_NAME[m], st, mv_error_message ());
      double P = mpfr_get_d (v.P, MPFR_RNDN);
      double tol = 1e-14 * fmax (vd.abs_sum, 1);
      char what[160];
      snprintf (what, sizeof what, "%s: P double vs MPFR (tol 1e-14 max(abs_sum,1))",
                MAT_NAME[m]);
      MV_CHECK_CLOSE_D (vd.P, P, 0, tol, what);
      snprintf (what, sizeof what, "%s: P double vs MPFR (out_d.err = %g)",
                MAT_NAME[m], vd.err);
      MV_CHECK_CLOSE_D (vd.P, P, 0, vd.err, what);
      for (int k = 0; k < 6; k++)
        {
          double dk = mpfr_get_d (v.dP[k], MPFR_RNDN);
          snprintf (what, sizeof what, "%s: dP[%d] double vs MPFR (tol 1e-14 max(abs_sum,1))",
                    MAT_NAME[m], k);
          MV_CHECK_CLOSE_D (vd.dP[k], dk, 0, tol, what);
          snprintf (what, sizeof what, "%s: dP[%d] double vs MPFR (derr = %g)",
                    MAT_NAME[m], k, vd.derr);
          MV_CHECK_CLOSE_D (vd.dP[k], dk, 0, vd.derr, what);
        }
    }
  /* self pair double path */
  const double rs[] = { 0.3, -0.6, 0.0, 0.95 };
  for (unsigned i = 0; i < 4; i++)
    {
      closed_self (&v, rs[i], 1, ws, "self");
      ck_assert_int_eq (mv_expect_self_d (&vd, rs[i], 1, ws), MV_OK);
      double tol = 1e-14 * fmax (vd.abs_sum, 1);
      MV_CHECK_CLOSE_D (vd.P, mpfr_get_d (v.P, MPFR_RNDN), 0, tol, "self: P double");
      MV_CHECK_CLOSE_D (vd.P, mpfr_get_d (v.P, MPFR_RNDN), 0, vd.err, "self: P double vs err");
      MV_CHECK_CLOSE_D (vd.dP[0], mpfr_get_d (v.dP[0], MPFR_RNDN), 0, tol,
                        "self: dP/dr double");
      MV_CHECK_CLOSE_D (vd.dP[0], mpfr_get_d (v.dP[0], MPFR_RNDN), 0, vd.derr,
                        "self: dP/dr double vs derr");
    }
  mv_expect_val_clear (&v);
  mv_expect_free (ws);
}
END_TEST

/* Symmetries: swapping the experts (A,B) <-> (C,E) leaves P unchanged (and
 * permutes the gradient); flipping the sign of B (or E) flips P. */
START_TEST (t_symmetry)
{
  mv_expect_ws *ws = ws_get (256);
  mv_expect_val v, w;
  mv_expect_val_init (&v, 256);
  mv_expect_val_init (&w, 256);
  mpfr_t t;
  mpfr_init2 (t, 256);
  /* permutation of indices under the swap */
  int perm[6];
  perm[MV_RHO_AB] = MV_RHO_CE;
  perm[MV_RHO_CE] = MV_RHO_AB;
  perm[MV_RHO_AE] = MV_RHO_BC;
  perm[MV_RHO_BC] = MV_RHO_AE;
  perm[MV_RHO_AC] = MV_RHO_AC;
  perm[MV_RHO_BE] = MV_RHO_BE;
  for (int m = 0; m < NMAT; m++)
    {
      double d[6], s[6];
      char what[160];
      get_mat (m, d);
      closed_pair (&v, d, 1, ws, MAT_NAME[m]);
      for (int k = 0; k < 6; k++)
        s[perm[k]] = d[k];
      closed_pair (&w, s, 1, ws, MAT_NAME[m]);
      snprintf (what, sizeof what, "%s: expert swap", MAT_NAME[m]);
      CHECK_WITHIN (v.P, w.P, MV_MAG_D (v.err) + MV_MAG_D (w.err), what);
      for (int k = 0; k < 6; k++)
        {
          snprintf (what, sizeof what, "%s: expert swap, dP[%d]", MAT_NAME[m], k);
          CHECK_WITHIN (v.dP[k], w.dP[perm[k]], MV_MAG_D (v.derr) + MV_MAG_D (w.derr), what);
        }
      /* B -> -B */
      memcpy (s, d, sizeof s);
      s[MV_RHO_AB] = -d[MV_RHO_AB];
      s[MV_RHO_BC] = -d[MV_RHO_BC];
      s[MV_RHO_BE] = -d[MV_RHO_BE];
      closed_pair (&w, s, 0, ws, MAT_NAME[m]);
      mpfr_neg (t, w.P, MPFR_RNDN);
      snprintf (what, sizeof what, "%s: B -> -B flips P", MAT_NAME[m]);
      CHECK_WITHIN (v.P, t, MV_MAG_D (v.err) + MV_MAG_D (w.err), what);
      /* E -> -E */
      memcpy (s, d, sizeof s);
      s[MV_RHO_AE] = -d[MV_RHO_AE];
      s[MV_RHO_BE] = -d[MV_RHO_BE];
      s[MV_RHO_CE] = -d[MV_RHO_CE];
      closed_pair (&w, s, 0, ws, MAT_NAME[m]);
      mpfr_neg (t, w.P, MPFR_RNDN);
      snprintf (what, sizeof what, "%s: E -> -E flips P", MAT_NAME[m]);
      CHECK_WITHIN (v.P, t, MV_MAG_D (v.err) + MV_MAG_D (w.err), what);
    }
  mpfr_clear (t);
  mv_expect_val_clear (&v);
  mv_expect_val_clear (&w);
  mv_expect_free (ws);
}
END_TEST

/* ================================================================ main */

/* The compiled double-path tables (expect_table53.c) are exactly what the
 * MPFR code builds at MV_PREC_DOUBLE: weights, self constants, coefficient
 * error and everything derived from them.  A stale file fails here; run
 * `make expect-table53` after changing the series. */
START_TEST (t_builtin_tables)
{
  mv_expect_ws *a = mv_expect_alloc_tables (MV_PREC_DOUBLE, 1);
  mv_expect_ws *b = mv_expect_alloc_tables (MV_PREC_DOUBLE, 0);
  ck_assert_ptr_nonnull (a);
  ck_assert_ptr_nonnull (b);
  ck_assert_msg (a->coef == NULL, "double workspace built MPFR coefficients");
  ck_assert_ptr_nonnull (b->coef);
  ck_assert_uint_eq (a->nmax, b->nmax);
  ck_assert_uint_eq (mv_expect_builtin53.nmax, b->nmax);
  for (int i = 0; i < MV_NF; i++)
    {
      for (unsigned n = 0; n < a->nmax; n++)
        if (memcmp (&a->wd[i][n], &b->wd[i][n], sizeof (double)))
          ck_abort_msg ("wd[%d][%u]: compiled %a, built %a", i, n,
                        a->wd[i][n], b->wd[i][n]);
      if (memcmp (&a->F1d[i], &b->F1d[i], sizeof (double)))
        ck_abort_msg ("F1d[%d]: compiled %a, built %a", i, a->F1d[i], b->F1d[i]);
      ck_assert_msg (a->wabs_i[i] == b->wabs_i[i], "wabs_i[%d]: %a vs %a", i,
                     a->wabs_i[i], b->wabs_i[i]);
    }
  ck_assert_msg (a->coef_relerr.man == b->coef_relerr.man
                 && a->coef_relerr.exp == b->coef_relerr.exp,
                 "coefficient error: compiled %a * 2^%ld, built %a * 2^%ld",
                 a->coef_relerr.man, a->coef_relerr.exp, b->coef_relerr.man,
                 b->coef_relerr.exp);
  ck_assert_msg (a->F1d_err == b->F1d_err && a->wabs == b->wabs
                 && a->der_scale == b->der_scale,
                 "derived bounds differ: F1d_err %a/%a wabs %a/%a der %a/%a",
                 a->F1d_err, b->F1d_err, a->wabs, b->wabs, a->der_scale,
                 b->der_scale);
  mv_expect_free (a);
  mv_expect_free (b);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("expect");

  TCase *to = tcase_create ("oracle");
  tcase_set_timeout (to, 300);
  tcase_add_test (to, t_oracle_be_only);
  tcase_add_test (to, t_oracle_moments);
  tcase_add_test (to, t_oracle_factorised);
  tcase_add_test (to, t_oracle_converge);
  tcase_add_test (to, t_oracle_symmetry);
  tcase_add_test (to, t_oracle_vs_gh4d);
  tcase_add_test (to, t_oracle_near_singular);
  tcase_add_test (to, t_oracle_domain);
  tcase_add_test (to, t_oracle_speed);
  suite_add_tcase (s, to);

  TCase *tc = tcase_create ("closed");
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, t_builtin_tables);
  tcase_add_test (tc, t_pair_vs_oracle);
  tcase_add_test (tc, t_self_vs_oracle);
  tcase_add_test (tc, t_check_values);
  tcase_add_test (tc, t_precision_ladder);
  tcase_add_test (tc, t_grad_fd_closed);
  tcase_add_test (tc, t_grad_fd_oracle);
  tcase_add_test (tc, t_grad_self);
  tcase_add_test (tc, t_double_path);
  tcase_add_test (tc, t_symmetry);
  suite_add_tcase (s, tc);

  return mv_test_run (s);
}
