/* Second derivatives: the pair-expectation Hessian (double path) against
 * finite differences of the double and of the 128-bit MPFR gradients, the
 * self-pair second derivative likewise, exact symmetry and bit-identical
 * values/gradients, and the Gram-level loss Hessian against finite
 * differences of dL/dG (proofs/pair-expectation.md, "Second derivatives"). */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_randist.h>
#include <moeverify/moeverify.h>

/* Gram index pairs of AB, AC, AE, BC, BE, CE over the vectors (A, B, C, E) */
static const int RI[MV_NRHO] = { 0, 0, 0, 1, 1, 2 };
static const int RJ[MV_NRHO] = { 1, 2, 3, 2, 3, 3 };

static const char *RNAME[MV_NRHO] = { "AB", "AC", "AE", "BC", "BE", "CE" };

static void
unit_gaussian (double *x, size_t d, gsl_rng *r)
{
  double s = 0;
  for (size_t i = 0; i < d; i++)
    x[i] = gsl_ran_gaussian (r, 1.0), s += x[i] * x[i];
  for (size_t i = 0; i < d; i++)
    x[i] /= sqrt (s);
}

static double
dot (const double *x, const double *y, size_t d)
{
  double s = 0;
  for (size_t i = 0; i < d; i++)
    s += x[i] * y[i];
  return s;
}

/* Correlations of four unit vectors (a valid, PSD correlation matrix). */
static void
rho_of (double rho[MV_NRHO], double U[4][6], size_t d)
{
  for (int a = 0; a < MV_NRHO; a++)
    rho[a] = dot (U[RI[a]], U[RJ[a]], d);
}

#define NCASE 6

/* Test cases: random vectors in R^6, in R^2 (rank 2: large correlations),
 * nearly aligned routers (rho_AC = 0.99), anti-aligned routers (-0.97),
 * a small-correlation case and the rho_AC = 0 (orthogonal routers) case. */
static void
make_cases (double rho[NCASE][MV_NRHO])
{
  gsl_rng *r = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (r, 20240607);
  double U[4][6];
  for (int v = 0; v < 4; v++)
    unit_gaussian (U[v], 6, r);
  rho_of (rho[0], U, 6);
  for (int v = 0; v < 4; v++)
    unit_gaussian (U[v], 2, r);
  rho_of (rho[1], U, 2);
  /* C = c A + s x, x a unit vector orthogonal to A */
  const double cs[2] = { 0.99, -0.97 };
  for (int k = 0; k < 2; k++)
    {
      double x[6];
      for (int v = 0; v < 4; v++)
        unit_gaussian (U[v], 6, r);
      unit_gaussian (x, 6, r);
      double p = dot (x, U[0], 6), s = 0;
      for (int i = 0; i < 6; i++)
        x[i] -= p * U[0][i], s += x[i] * x[i];
      for (int i = 0; i < 6; i++)
        U[2][i] = cs[k] * U[0][i] + sqrt (1 - cs[k] * cs[k]) * x[i] / sqrt (s);
      rho_of (rho[2 + k], U, 6);
    }
  /* near initialisation: every overlap O(1/sqrt d) */
  for (int v = 0; v < 4; v++)
    unit_gaussian (U[v], 6, r);
  rho_of (rho[4], U, 6);
  for (int a = 0; a < MV_NRHO; a++)
    rho[4][a] *= 0.1;   /* shrinking off-diagonal entries keeps PSD */
  for (int v = 0; v < 4; v++)
    unit_gaussian (U[v], 6, r);
  {
    /* C orthogonal to A */
    double p = dot (U[2], U[0], 6);
    for (int i = 0; i < 6; i++)
      U[2][i] -= p * U[0][i];
    double s = sqrt (dot (U[2], U[2], 6));
    for (int i = 0; i < 6; i++)
      U[2][i] /= s;
  }
  rho_of (rho[5], U, 6);
  rho[5][MV_RHO_AC] = 0.0;
  gsl_rng_free (r);
}

static double
hess_scale (double H[MV_NRHO][MV_NRHO])
{
  double s = 0;
  for (int a = 0; a < MV_NRHO; a++)
    for (int b = 0; b < MV_NRHO; b++)
      s = fmax (s, fabs (H[a][b]));
  return s;
}

/* ================================================================ pair */

/* Symmetry (exact) and P, dP, bounds identical to mv_expect_pair_d. */
START_TEST (t_pair_identity)
{
  mv_expect_ws *ws = mv_expect_alloc (53);
  ck_assert_ptr_nonnull (ws);
  double rho[NCASE][MV_NRHO];
  make_cases (rho);
  for (int c = 0; c < NCASE; c++)
    {
      mv_expect_vald h, g;
      double H[MV_NRHO][MV_NRHO];
      ck_assert_int_eq (mv_expect_pair_hess_d (&h, H, rho[c], ws), MV_OK);
      ck_assert_int_eq (mv_expect_pair_d (&g, rho[c], 1, ws), MV_OK);
      ck_assert_msg (h.P == g.P, "case %d: P %.17g vs %.17g", c, h.P, g.P);
      for (int a = 0; a < MV_NRHO; a++)
        ck_assert_msg (h.dP[a] == g.dP[a], "case %d: dP[%s] %.17g vs %.17g", c,
                       RNAME[a], h.dP[a], g.dP[a]);
      ck_assert_msg (h.err == g.err && h.derr == g.derr && h.abs_sum == g.abs_sum
                     && h.nterms == g.nterms, "case %d: bounds differ", c);
      for (int a = 0; a < MV_NRHO; a++)
        for (int b = 0; b < MV_NRHO; b++)
          ck_assert_msg (H[a][b] == H[b][a], "case %d: H[%s][%s] %.17g vs %.17g",
                         c, RNAME[a], RNAME[b], H[a][b], H[b][a]);
    }
  /* out of range is refused, as by the value path */
  double bad[MV_NRHO] = { 0.1, 1.5, 0, 0, 0, 0 };
  mv_expect_vald h;
  double H[MV_NRHO][MV_NRHO];
  ck_assert_int_eq (mv_expect_pair_hess_d (&h, H, bad, ws), MV_EDOM);
  mv_expect_free (ws);
}
END_TEST

/* Check values: only rho_BE nonzero gives P = (3/2) rho_BE^3, so
 * d2P/drho_BE^2 = 9 rho_BE; with the router A independent of B, C, E,
 * P = (3/2) rho_BE^3 for every rho_BC, rho_CE (proofs/pair-expectation.md),
 * so the (BC, BE, CE) block is diag(0, 9 rho_BE, 0). */
START_TEST (t_pair_check_values)
{
  mv_expect_ws *ws = mv_expect_alloc (53);
  const double be[3] = { 0.3, -0.7, 0.95 };
  for (int k = 0; k < 3; k++)
    {
      double rho[MV_NRHO] = { 0, 0, 0, 0, be[k], 0 }, H[MV_NRHO][MV_NRHO];
      mv_expect_vald v;
      ck_assert_int_eq (mv_expect_pair_hess_d (&v, H, rho, ws), MV_OK);
      MV_CHECK_CLOSE_D (H[MV_RHO_BE][MV_RHO_BE], 9 * be[k], 1e-15, 0,
                        "rho_BE only: d2P/drho_BE^2 = 9 rho_BE");
    }
  double rho[MV_NRHO] = { 0, 0, 0, 0.4, 0.3, -0.5 }, H[MV_NRHO][MV_NRHO];
  mv_expect_vald v;
  ck_assert_int_eq (mv_expect_pair_hess_d (&v, H, rho, ws), MV_OK);
  double s = hess_scale (H);
  const int blk[3] = { MV_RHO_BC, MV_RHO_BE, MV_RHO_CE };
  char what[96];
  for (int a = 0; a < 3; a++)
    for (int b = 0; b < 3; b++)
      {
        double want = blk[a] == MV_RHO_BE && blk[b] == MV_RHO_BE ? 9 * 0.3 : 0.0;
        snprintf (what, sizeof what, "independent A: H[%s][%s]", RNAME[blk[a]],
                  RNAME[blk[b]]);
        MV_CHECK_CLOSE_D (H[blk[a]][blk[b]], want, 1e-15, 1e-15 * s, what);
      }
  mv_expect_free (ws);
}
END_TEST

/* H against central differences of the double gradient, step 1e-6. */
START_TEST (t_pair_fd_double)
{
  mv_expect_ws *ws = mv_expect_alloc (53);
  double rho[NCASE][MV_NRHO];
  make_cases (rho);
  const double h = 1e-6;
  char what[96];
  for (int c = 0; c < NCASE; c++)
    {
      mv_expect_vald v, vp, vm;
      double H[MV_NRHO][MV_NRHO];
      ck_assert_int_eq (mv_expect_pair_hess_d (&v, H, rho[c], ws), MV_OK);
      double s = hess_scale (H);
      for (int b = 0; b < MV_NRHO; b++)
        {
          double rp[MV_NRHO], rm[MV_NRHO];
          memcpy (rp, rho[c], sizeof rp), memcpy (rm, rho[c], sizeof rm);
          rp[b] += h, rm[b] -= h;
          ck_assert_int_eq (mv_expect_pair_d (&vp, rp, 1, ws), MV_OK);
          ck_assert_int_eq (mv_expect_pair_d (&vm, rm, 1, ws), MV_OK);
          for (int a = 0; a < MV_NRHO; a++)
            {
              snprintf (what, sizeof what, "case %d: H[%s][%s] vs FD of dP (double)",
                        c, RNAME[a], RNAME[b]);
              MV_CHECK_CLOSE_D (H[a][b], (vp.dP[a] - vm.dP[a]) / (2 * h), 1e-7,
                                1e-7 * s, what);
            }
        }
    }
  mv_expect_free (ws);
}
END_TEST

/* H against central differences of the 128-bit MPFR gradient with the exact
 * dyadic step 2^-30: truncation h^2/6 |P'''| ~ 1e-18, far below double. */
START_TEST (t_pair_fd_mpfr)
{
  const mpfr_prec_t prec = 128;
  mv_expect_ws *ws = mv_expect_alloc (prec);
  ck_assert_ptr_nonnull (ws);
  double rho[NCASE][MV_NRHO];
  make_cases (rho);
  mv_expect_val vp, vm;
  mv_expect_val_init (&vp, prec), mv_expect_val_init (&vm, prec);
  mpfr_t rp[MV_NRHO], rm[MV_NRHO], fd;
  for (int a = 0; a < MV_NRHO; a++)
    mpfr_init2 (rp[a], prec), mpfr_init2 (rm[a], prec);
  mpfr_init2 (fd, prec);
  char what[96];
  for (int c = 0; c < NCASE; c++)
    {
      double worst = 0;
      mv_expect_vald v;
      double H[MV_NRHO][MV_NRHO];
      ck_assert_int_eq (mv_expect_pair_hess_d (&v, H, rho[c], ws), MV_OK);
      double s = hess_scale (H);
      for (int b = 0; b < MV_NRHO; b++)
        {
          for (int a = 0; a < MV_NRHO; a++)
            mpfr_set_d (rp[a], rho[c][a], MPFR_RNDN), mpfr_set_d (rm[a], rho[c][a], MPFR_RNDN);
          mpfr_add_d (rp[b], rp[b], ldexp (1.0, -30), MPFR_RNDN);   /* exact */
          mpfr_sub_d (rm[b], rm[b], ldexp (1.0, -30), MPFR_RNDN);
          ck_assert_int_eq (mv_expect_pair (&vp, (mpfr_t const *) rp, 1, ws), MV_OK);
          ck_assert_int_eq (mv_expect_pair (&vm, (mpfr_t const *) rm, 1, ws), MV_OK);
          for (int a = 0; a < MV_NRHO; a++)
            {
              mpfr_sub (fd, vp.dP[a], vm.dP[a], MPFR_RNDN);
              mpfr_mul_2si (fd, fd, 29, MPFR_RNDN);   /* / (2 * 2^-30) */
              double f = mpfr_get_d (fd, MPFR_RNDN);
              worst = fmax (worst, fabs (f - H[a][b]) / s);
              snprintf (what, sizeof what, "case %d: H[%s][%s] vs FD of dP (MPFR 128)",
                        c, RNAME[a], RNAME[b]);
              MV_CHECK_CLOSE_D (H[a][b], f, 1e-15, 1e-15 * s, what);
            }
        }
      printf ("pair Hessian case %d vs 128-bit FD: worst |diff| / max|H| = %.2e"
              " (max|H| = %.3g)\n", c, worst, s);
    }
  for (int a = 0; a < MV_NRHO; a++)
    mpfr_clear (rp[a]), mpfr_clear (rm[a]);
  mpfr_clear (fd);
  mv_expect_val_clear (&vp), mv_expect_val_clear (&vm);
  mv_expect_free (ws);
}
END_TEST

/* ================================================================ self */

START_TEST (t_self)
{
  const mpfr_prec_t prec = 128;
  mv_expect_ws *ws = mv_expect_alloc (prec);
  mv_expect_ws *wd = mv_expect_alloc (53);
  ck_assert_ptr_nonnull (ws);
  ck_assert_ptr_nonnull (wd);
  mv_expect_val vp, vm;
  mv_expect_val_init (&vp, prec), mv_expect_val_init (&vm, prec);
  mpfr_t rp, rm, fd;
  mpfr_inits2 (prec, rp, rm, fd, (mpfr_ptr) 0);
  const double rs[7] = { -1.0 + 1e-3, -0.6, -0.05, 0.0, 0.3, 0.8, 0.999 };
  const double h = 1e-6;
  for (int k = 0; k < 7; k++)
    for (int tab = 0; tab < 2; tab++)
      {
        const mv_expect_ws *w = tab ? wd : ws;
        mv_expect_vald v, g, p, m;
        double d2;
        ck_assert_int_eq (mv_expect_self_hess_d (&v, &d2, rs[k], w), MV_OK);
        ck_assert_int_eq (mv_expect_self_d (&g, rs[k], 1, w), MV_OK);
        ck_assert_msg (v.P == g.P && v.dP[0] == g.dP[0] && v.err == g.err
                       && v.derr == g.derr && v.nterms == g.nterms,
                       "self r=%g: value/derivative %.17g %.17g vs %.17g %.17g",
                       rs[k], v.P, v.dP[0], g.P, g.dP[0]);
        ck_assert_int_eq (mv_expect_self_d (&p, rs[k] + h, 1, w), MV_OK);
        ck_assert_int_eq (mv_expect_self_d (&m, rs[k] - h, 1, w), MV_OK);
        MV_CHECK_CLOSE_D (d2, (p.dP[0] - m.dP[0]) / (2 * h), 1e-7, 1e-8,
                          "self d2P/dr2 vs FD of dP/dr (double)");
        /* 128-bit MPFR derivative, exact dyadic step */
        mpfr_set_d (rp, rs[k], MPFR_RNDN), mpfr_set_d (rm, rs[k], MPFR_RNDN);
        mpfr_add_d (rp, rp, ldexp (1.0, -30), MPFR_RNDN);
        mpfr_sub_d (rm, rm, ldexp (1.0, -30), MPFR_RNDN);
        ck_assert_int_eq (mv_expect_self (&vp, rp, 1, ws), MV_OK);
        ck_assert_int_eq (mv_expect_self (&vm, rm, 1, ws), MV_OK);
        mpfr_sub (fd, vp.dP[0], vm.dP[0], MPFR_RNDN);
        mpfr_mul_2si (fd, fd, 29, MPFR_RNDN);
        MV_CHECK_CLOSE_D (d2, mpfr_get_d (fd, MPFR_RNDN), 1e-15, 1e-15,
                          "self d2P/dr2 vs FD of dP/dr (MPFR 128)");
      }
  /* B -> -B leaves He3(B)^2 and flips r: P, hence d2P/dr2, is even */
  double a, b;
  mv_expect_vald v;
  mv_expect_self_hess_d (&v, &a, 0.37, wd);
  mv_expect_self_hess_d (&v, &b, -0.37, wd);
  MV_CHECK_CLOSE_D (a, b, 1e-14, 0, "self d2P/dr2 even in r");
  mpfr_clears (rp, rm, fd, (mpfr_ptr) 0);
  mv_expect_val_clear (&vp), mv_expect_val_clear (&vm);
  mv_expect_free (ws);
  mv_expect_free (wd);
}
END_TEST

/* ================================================================ loss */

/* Random unit vectors [v_1..v_m, w_1..w_m, v*_1.., w*_1..] in R^d and their
 * Gram matrix (unit diagonal). */
static void
random_gram (double *G, size_t m, size_t ms, size_t d, unsigned long seed)
{
  size_t n = 2 * (m + ms);
  gsl_rng *r = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (r, seed);
  double *U = malloc (n * d * sizeof *U);
  for (size_t k = 0; k < n; k++)
    unit_gaussian (U + k * d, d, r);
  for (size_t k = 0; k < n; k++)
    for (size_t l = 0; l < n; l++)
      G[k * n + l] = k == l ? 1.0 : dot (U + k * d, U + l * d, d);
  free (U);
  gsl_rng_free (r);
}

START_TEST (t_loss_var)
{
  const size_t sizes[4][2] = { { 1, 1 }, { 3, 2 }, { 2, 4 }, { 25, 5 } };
  for (int c = 0; c < 4; c++)
    {
      size_t m = sizes[c][0], ms = sizes[c][1], n = 2 * (m + ms);
      mv_loss_ws *ws = mv_loss_alloc (m, ms, 53);
      ck_assert_ptr_nonnull (ws);
      size_t nv = mv_loss_nvar (ws);
      ck_assert_uint_eq (nv, n * (n - 1) / 2 - ms * (2 * ms - 1));
      char *seen = calloc (nv, 1);
      size_t count = 0;
      for (size_t k = 0; k < n; k++)
        for (size_t l = 0; l < n; l++)
          {
            size_t v = mv_loss_var (ws, k, l);
            int free_entry = k != l && (k < 2 * m || l < 2 * m);
            if (!free_entry)
              {
                ck_assert_msg (v == (size_t) -1, "m=%zu m*=%zu: (%zu,%zu) -> %zu, want -1",
                               m, ms, k, l, v);
                continue;
              }
            ck_assert_msg (v < nv, "m=%zu m*=%zu: (%zu,%zu) -> %zu >= nvar %zu",
                           m, ms, k, l, v, nv);
            ck_assert_uint_eq (v, mv_loss_var (ws, l, k));
            if (k < l)
              {
                ck_assert_msg (!seen[v], "m=%zu m*=%zu: index %zu hit twice", m, ms, v);
                seen[v] = 1, count++;
              }
          }
      ck_assert_uint_eq (count, nv);
      ck_assert_uint_eq (mv_loss_var (ws, 0, n), (size_t) -1);
      ck_assert_uint_eq (mv_loss_var (ws, n, n + 1), (size_t) -1);
      if (m == 25)
        ck_assert_uint_eq (nv, 1725);
      free (seen);
      mv_loss_free (ws);
    }
}
END_TEST

START_TEST (t_loss_hess)
{
  size_t m = 3, ms = 2, d = 9, n = 2 * (m + ms);
  mv_loss_ws *ws = mv_loss_alloc (m, ms, 53);
  ck_assert_ptr_nonnull (ws);
  size_t nv = mv_loss_nvar (ws);
  double *G = malloc (n * n * sizeof *G), *Gp = malloc (n * n * sizeof *Gp);
  double *g = malloc (n * n * sizeof *g), *gh = malloc (n * n * sizeof *gh);
  double *gp = malloc (n * n * sizeof *gp), *gm = malloc (n * n * sizeof *gm);
  double *H = malloc (nv * nv * sizeof *H);
  random_gram (G, m, ms, d, 77);
  const double noise = 0.01;
  double L, Lh;
  mv_loss_info info, infoh;
  ck_assert_int_eq (mv_loss_gram_d (&L, g, &info, G, noise, ws), MV_OK);
  ck_assert_int_eq (mv_loss_gram_hess_d (&Lh, gh, H, &infoh, G, noise, ws), MV_OK);
  ck_assert_msg (L == Lh, "L %.17g vs %.17g", L, Lh);
  ck_assert_msg (memcmp (g, gh, n * n * sizeof *g) == 0, "dL/dG differs");
  ck_assert_msg (mv_mag_cmp (&info.err, &infoh.err) == 0
                 && mv_mag_cmp (&info.grad_err, &infoh.grad_err) == 0
                 && info.abs_terms == infoh.abs_terms
                 && info.max_terms == infoh.max_terms, "info differs");
  /* without dLdG: same L and H */
  double *H2 = malloc (nv * nv * sizeof *H2);
  ck_assert_int_eq (mv_loss_gram_hess_d (&Lh, NULL, H2, NULL, G, noise, ws), MV_OK);
  ck_assert_msg (L == Lh, "L (no dLdG) %.17g vs %.17g", L, Lh);
  ck_assert_msg (memcmp (H, H2, nv * nv * sizeof *H) == 0, "H depends on dLdG");
  double s = 0;
  for (size_t a = 0; a < nv; a++)
    for (size_t b = 0; b < nv; b++)
      {
        ck_assert_msg (H[a * nv + b] == H[b * nv + a], "H[%zu][%zu] %.17g vs %.17g",
                       a, b, H[a * nv + b], H[b * nv + a]);
        s = fmax (s, fabs (H[a * nv + b]));
      }
  /* column var(k,l) by central differences of dL/dG, step 1e-6 */
  const double h = 1e-6;
  char what[128];
  size_t ncol = 0;
  for (size_t k = 0; k < n; k++)
    for (size_t l = k + 1; l < n; l++)
      {
        size_t b = mv_loss_var (ws, k, l);
        if (b == (size_t) -1)
          continue;
        ncol++;
        memcpy (Gp, G, n * n * sizeof *G);
        Gp[k * n + l] = Gp[l * n + k] = G[k * n + l] + h;
        ck_assert_int_eq (mv_loss_gram_d (&L, gp, NULL, Gp, noise, ws), MV_OK);
        Gp[k * n + l] = Gp[l * n + k] = G[k * n + l] - h;
        ck_assert_int_eq (mv_loss_gram_d (&L, gm, NULL, Gp, noise, ws), MV_OK);
        for (size_t i = 0; i < n; i++)
          for (size_t j = i + 1; j < n; j++)
            {
              size_t a = mv_loss_var (ws, i, j);
              double fd = (gp[i * n + j] - gm[i * n + j]) / (2 * h);
              if (a == (size_t) -1)
                continue;   /* teacher-teacher: a constant, not a variable */
              snprintf (what, sizeof what, "H[(%zu,%zu)][(%zu,%zu)] vs FD of dL/dG",
                        i, j, k, l);
              MV_CHECK_CLOSE_D (H[a * nv + b], fd, 1e-7, 1e-7 * s, what);
            }
      }
  ck_assert_uint_eq (ncol, nv);
  free (G), free (Gp), free (g), free (gh), free (gp), free (gm), free (H), free (H2);
  mv_loss_free (ws);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("hessian");
  TCase *tp = tcase_create ("pair");
  tcase_set_timeout (tp, 120);
  tcase_add_test (tp, t_pair_identity);
  tcase_add_test (tp, t_pair_check_values);
  tcase_add_test (tp, t_pair_fd_double);
  tcase_add_test (tp, t_pair_fd_mpfr);
  tcase_add_test (tp, t_self);
  suite_add_tcase (s, tp);
  TCase *tl = tcase_create ("loss");
  tcase_set_timeout (tl, 120);
  tcase_add_test (tl, t_loss_var);
  tcase_add_test (tl, t_loss_hess);
  suite_add_tcase (s, tl);
  return mv_test_run (s);
}
