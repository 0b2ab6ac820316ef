/* Independent MPFR quadrature oracle for E[pi(A) He3(B) pi(C) He3(E)].
 * See oracle_quad.h for the method.  Test-only code: it must not use the
 * library's Hermite coefficients or the diagram formula. */
#include "oracle_quad.h"

#include <math.h>
#include <stdlib.h>

#define NMOM 7 /* powers xi2^0 .. xi2^6 */
#define OQ_LN2 0.69314718055994530942
#define OQ_PI 3.14159265358979323846

void
oracle_default_grid (mpfr_prec_t prec, unsigned degree, double *h, double *L)
{
  /* Target absolute accuracy ~ 2^-(prec+12) for an integrand of size O(1).
   * Cut-off: r^(degree+1) e^{-r^2/2} below target (disc in 2-D).
   * Step: trapezoid error ~ K exp(-2 pi a / h) with strip half-width a < pi
   * (sigmoid poles at +-i pi in every grid direction); a = 2.9 and
   * K ~ e^10 cover the pole factor 1/(pi-a), e^{a^2/2} and the polynomial. */
  double target = (double) (prec + 12) * OQ_LN2;
  double l = 4.0;
  while (l * l / 2 - (degree + 1) * log (l) < target)
    l += 0.25;
  double n = ceil ((target + 10.0) / (2 * OQ_PI * 2.9));
  if (n < 2)
    n = 2;
  *h = 1.0 / n;
  *L = l;
}

/* ---------------------------------------------------------------- helpers */

/* Coefficients (in t) of He3-shifted pieces of (p + q t + X)^3 - 3(p + q t + X):
 *   a0 = mu^3 - 3 mu,  a1 = 3 mu^2 - 3,  a2 = 3 mu,  a3 = 1,  mu = p + q t. */
static void
lin_pieces (mpfr_t a0[4], mpfr_t a1[3], mpfr_t a2[2], const mpfr_t p,
            const mpfr_t q, mpfr_t t1, mpfr_t t2)
{
  /* a0 = [p^3 - 3p, 3 p^2 q - 3 q, 3 p q^2, q^3] */
  mpfr_sqr (t1, p, MPFR_RNDN);               /* p^2 */
  mpfr_sub_ui (t2, t1, 3, MPFR_RNDN);        /* p^2 - 3 */
  mpfr_mul (a0[0], t2, p, MPFR_RNDN);
  mpfr_mul_ui (t2, t1, 3, MPFR_RNDN);        /* 3 p^2 */
  mpfr_sub_ui (a1[0], t2, 3, MPFR_RNDN);     /* a1[0] = 3p^2 - 3 */
  mpfr_mul (a0[1], a1[0], q, MPFR_RNDN);     /* (3p^2-3) q */
  mpfr_mul (t1, p, q, MPFR_RNDN);            /* pq */
  mpfr_mul_ui (a1[1], t1, 6, MPFR_RNDN);     /* 6pq */
  mpfr_mul (t2, t1, q, MPFR_RNDN);           /* p q^2 */
  mpfr_mul_ui (a0[2], t2, 3, MPFR_RNDN);
  mpfr_sqr (t1, q, MPFR_RNDN);               /* q^2 */
  mpfr_mul (a0[3], t1, q, MPFR_RNDN);
  mpfr_mul_ui (a1[2], t1, 3, MPFR_RNDN);
  mpfr_mul_ui (a2[0], p, 3, MPFR_RNDN);
  mpfr_mul_ui (a2[1], q, 3, MPFR_RNDN);
}

/* g[i+j] += P[i] Q[j] */
static void
poly_macc (mpfr_t *g, mpfr_t *P, int np, mpfr_t *Q, int nq, mpfr_t tmp)
{
  for (int i = 0; i < np; i++)
    for (int j = 0; j < nq; j++)
      {
        mpfr_mul (tmp, P[i], Q[j], MPFR_RNDN);
        mpfr_add (g[i + j], g[i + j], tmp, MPFR_RNDN);
      }
}

typedef struct {
  mpfr_t a0[4], a1[3], a2[2], b0[4], b1[3], b2[2];
  mpfr_t X[4], Y[4], ca1[3];
  mpfr_t t1, t2;
} polyws;

static void
polyws_init (polyws *w, mpfr_prec_t wp)
{
  for (int k = 0; k < 4; k++)
    mpfr_inits2 (wp, w->a0[k], w->b0[k], w->X[k], w->Y[k], (mpfr_ptr) 0);
  for (int k = 0; k < 3; k++)
    mpfr_inits2 (wp, w->a1[k], w->b1[k], w->ca1[k], (mpfr_ptr) 0);
  for (int k = 0; k < 2; k++)
    mpfr_inits2 (wp, w->a2[k], w->b2[k], (mpfr_ptr) 0);
  mpfr_inits2 (wp, w->t1, w->t2, (mpfr_ptr) 0);
}

static void
polyws_clear (polyws *w)
{
  for (int k = 0; k < 4; k++)
    mpfr_clears (w->a0[k], w->b0[k], w->X[k], w->Y[k], (mpfr_ptr) 0);
  for (int k = 0; k < 3; k++)
    mpfr_clears (w->a1[k], w->b1[k], w->ca1[k], (mpfr_ptr) 0);
  for (int k = 0; k < 2; k++)
    mpfr_clears (w->a2[k], w->b2[k], (mpfr_ptr) 0);
  mpfr_clears (w->t1, w->t2, (mpfr_ptr) 0);
}

/* Conditional data (all at working precision). */
typedef struct {
  mpfr_t b1, b2, e1, e2;   /* B | xi = b1 xi1 + b2 xi2 + X, E similarly */
  mpfr_t vB, vE, c;        /* Var X, Var Y, Cov(X,Y) */
  mpfr_t K2, K0, cvB3, cvE3;
} cond;

/* g(t) = E[He3(B) He3(E) | xi1 = x, xi2 = t] as a polynomial in t (deg 6):
 * with B = muB + X, E = muE + Y and Isserlis' moments
 *   E[X^2] = vB, E[Y^2] = vE, E[XY] = c, E[X^3 Y] = 3 vB c, E[X Y^3] = 3 vE c,
 *   E[X^2 Y^2] = vB vE + 2c^2, E[X^3 Y^3] = 9 vB vE c + 6 c^3,
 * g = a0 b0 + vB a2 b0 + vE a0 b2 + c a1 b1 + 3 vB c b1 + 3 vE c a1
 *     + (vB vE + 2 c^2) a2 b2 + 9 vB vE c + 6 c^3. */
static void
cond_poly (mpfr_t g[NMOM], const cond *cd, const mpfr_t pB, const mpfr_t pE,
           polyws *w)
{
  lin_pieces (w->a0, w->a1, w->a2, pB, cd->b2, w->t1, w->t2);
  lin_pieces (w->b0, w->b1, w->b2, pE, cd->e2, w->t1, w->t2);
  for (int k = 0; k < NMOM; k++)
    mpfr_set_ui (g[k], 0, MPFR_RNDN);
  /* X = a0 + vB a2, Y = vE a0 + K2 a2 */
  for (int k = 0; k < 4; k++)
    {
      mpfr_set (w->X[k], w->a0[k], MPFR_RNDN);
      mpfr_mul (w->Y[k], w->a0[k], cd->vE, MPFR_RNDN);
    }
  for (int k = 0; k < 2; k++)
    {
      mpfr_mul (w->t1, w->a2[k], cd->vB, MPFR_RNDN);
      mpfr_add (w->X[k], w->X[k], w->t1, MPFR_RNDN);
      mpfr_mul (w->t1, w->a2[k], cd->K2, MPFR_RNDN);
      mpfr_add (w->Y[k], w->Y[k], w->t1, MPFR_RNDN);
    }
  poly_macc (g, w->X, 4, w->b0, 4, w->t1);
  poly_macc (g, w->Y, 4, w->b2, 2, w->t1);
  for (int k = 0; k < 3; k++)
    mpfr_mul (w->ca1[k], w->a1[k], cd->c, MPFR_RNDN);
  poly_macc (g, w->ca1, 3, w->b1, 3, w->t1);
  for (int k = 0; k < 3; k++)
    {
      mpfr_mul (w->t1, w->b1[k], cd->cvB3, MPFR_RNDN);
      mpfr_add (g[k], g[k], w->t1, MPFR_RNDN);
      mpfr_mul (w->t1, w->a1[k], cd->cvE3, MPFR_RNDN);
      mpfr_add (g[k], g[k], w->t1, MPFR_RNDN);
    }
  mpfr_add (g[0], g[0], cd->K0, MPFR_RNDN);
}

/* |x| <= tol ? */
static int
small_p (const mpfr_t x, double tol)
{
  return mpfr_number_p (x) && fabs (mpfr_get_d (x, MPFR_RNDN)) <= tol;
}

/* ---------------------------------------------------------------- the pair */

int
oracle_pair_ex (mpfr_t P, double *err_est, const mpfr_t rho[6],
                mpfr_prec_t prec, double h, double L)
{
  if (prec < 24 || prec > 16384)
    return ORACLE_EINVAL;
  for (int k = 0; k < 6; k++)
    if (!mpfr_number_p (rho[k]) || mpfr_cmpabs_ui (rho[k], 1) > 0)
      return ORACLE_EDOM;
  double hauto, Lauto;
  oracle_default_grid (prec, 6, &hauto, &Lauto);
  if (h <= 0)
    h = hauto;
  if (L <= 0)
    L = Lauto;
  if (!(h > 0 && h < 2 && L > 1 && L / h < 1e5))
    return ORACLE_EINVAL;

  const mpfr_prec_t wp = prec + 24;
  const double tol = fmax (ldexp (1.0, -(int) (prec / 2)), 1e-60);
  const mpfr_t *const rAB = &rho[0], *const rAC = &rho[1], *const rAE = &rho[2],
                *const rBC = &rho[3], *const rBE = &rho[4], *const rCE = &rho[5];
  int status = ORACLE_OK;

  cond cd;
  mpfr_t s, t1, t2, t3, hm, xi, pB, pE, U, pi1, w, S, Sc, I, Ic, g[NMOM],
      m[NMOM], mc[NMOM];
  mpfr_inits2 (wp, cd.b1, cd.b2, cd.e1, cd.e2, cd.vB, cd.vE, cd.c, cd.K2,
               cd.K0, cd.cvB3, cd.cvE3, s, t1, t2, t3, hm, xi, pB, pE, U, pi1,
               w, S, Sc, I, Ic, (mpfr_ptr) 0);
  for (int k = 0; k < NMOM; k++)
    mpfr_inits2 (wp, g[k], m[k], mc[k], (mpfr_ptr) 0);
  polyws pw;
  polyws_init (&pw, wp);

  /* Cholesky of the (A, C) block: C = rAC xi1 + s xi2. */
  mpfr_sqr (t1, *rAC, MPFR_RNDN);
  mpfr_ui_sub (t1, 1, t1, MPFR_RNDN);
  if (mpfr_sgn (t1) < 0)
    mpfr_set_ui (t1, 0, MPFR_RNDN);
  mpfr_sqrt (s, t1, MPFR_RNDN);
  const int oned = mpfr_zero_p (s);

  mpfr_set (cd.b1, *rAB, MPFR_RNDN);
  mpfr_set (cd.e1, *rAE, MPFR_RNDN);
  /* numerators rBC - rAB rAC, rCE - rAE rAC */
  mpfr_mul (t1, *rAB, *rAC, MPFR_RNDN);
  mpfr_sub (t1, *rBC, t1, MPFR_RNDN);
  mpfr_mul (t2, *rAE, *rAC, MPFR_RNDN);
  mpfr_sub (t2, *rCE, t2, MPFR_RNDN);
  if (oned)
    {
      /* C = +-A: the matrix is PSD only if B, E see C as they see +-A. */
      if (!small_p (t1, tol) || !small_p (t2, tol))
        {
          status = ORACLE_EDOM;
          goto done;
        }
      mpfr_set_ui (cd.b2, 0, MPFR_RNDN);
      mpfr_set_ui (cd.e2, 0, MPFR_RNDN);
    }
  else
    {
      mpfr_div (cd.b2, t1, s, MPFR_RNDN);
      mpfr_div (cd.e2, t2, s, MPFR_RNDN);
    }
  /* conditional covariance of (B, E) given (xi1, xi2) */
  mpfr_sqr (t1, cd.b1, MPFR_RNDN);
  mpfr_sqr (t2, cd.b2, MPFR_RNDN);
  mpfr_add (t1, t1, t2, MPFR_RNDN);
  mpfr_ui_sub (cd.vB, 1, t1, MPFR_RNDN);
  mpfr_sqr (t1, cd.e1, MPFR_RNDN);
  mpfr_sqr (t2, cd.e2, MPFR_RNDN);
  mpfr_add (t1, t1, t2, MPFR_RNDN);
  mpfr_ui_sub (cd.vE, 1, t1, MPFR_RNDN);
  mpfr_mul (t1, cd.b1, cd.e1, MPFR_RNDN);
  mpfr_mul (t2, cd.b2, cd.e2, MPFR_RNDN);
  mpfr_add (t1, t1, t2, MPFR_RNDN);
  mpfr_sub (cd.c, *rBE, t1, MPFR_RNDN);
  /* positive semidefinite (with tolerance)? */
  mpfr_mul (t1, cd.vB, cd.vE, MPFR_RNDN);
  mpfr_sqr (t2, cd.c, MPFR_RNDN);
  mpfr_sub (t3, t1, t2, MPFR_RNDN);
  if (mpfr_get_d (cd.vB, MPFR_RNDN) < -tol || mpfr_get_d (cd.vE, MPFR_RNDN) < -tol
      || mpfr_get_d (t3, MPFR_RNDN) < -tol)
    {
      status = ORACLE_EDOM;
      goto done;
    }
  /* K2 = vB vE + 2 c^2, K0 = 9 vB vE c + 6 c^3, cvB3 = 3 c vB, cvE3 = 3 c vE */
  mpfr_mul_ui (t3, t2, 2, MPFR_RNDN);
  mpfr_add (cd.K2, t1, t3, MPFR_RNDN);
  mpfr_mul_ui (t1, t1, 9, MPFR_RNDN);
  mpfr_mul_ui (t2, t2, 6, MPFR_RNDN);
  mpfr_add (t1, t1, t2, MPFR_RNDN);
  mpfr_mul (cd.K0, t1, cd.c, MPFR_RNDN);
  mpfr_mul (cd.cvB3, cd.c, cd.vB, MPFR_RNDN);
  mpfr_mul_ui (cd.cvB3, cd.cvB3, 3, MPFR_RNDN);
  mpfr_mul (cd.cvE3, cd.c, cd.vE, MPFR_RNDN);
  mpfr_mul_ui (cd.cvE3, cd.cvE3, 3, MPFR_RNDN);

  /* grid */
  mpfr_set_d (hm, h, MPFR_RNDN);
  const long N = (long) ceil (L / h);
  const long nn = 2 * N + 1;
  mpfr_t *G = malloc (nn * sizeof *G);     /* h exp(-x^2/2) */
  mpfr_t *V = oned ? NULL : malloc (nn * sizeof *V);        /* exp(-s x) */
  mpfr_t *T = oned ? NULL : malloc (NMOM * nn * sizeof *T); /* h e^{-x^2/2} x^k */
  if (!G || (!oned && (!V || !T)))
    {
      free (G);
      free (V);
      free (T);
      status = ORACLE_EINVAL;
      goto done;
    }
  for (long j = 0; j < nn; j++)
    {
      mpfr_init2 (G[j], wp);
      mpfr_mul_si (xi, hm, j - N, MPFR_RNDN);
      mpfr_sqr (t1, xi, MPFR_RNDN);
      mpfr_div_2ui (t1, t1, 1, MPFR_RNDN);
      mpfr_neg (t1, t1, MPFR_RNDN);
      mpfr_exp (t1, t1, MPFR_RNDN);
      mpfr_mul (G[j], t1, hm, MPFR_RNDN);
      if (!oned)
        {
          mpfr_init2 (V[j], wp);
          mpfr_mul (t2, s, xi, MPFR_RNDN);
          mpfr_neg (t2, t2, MPFR_RNDN);
          mpfr_exp (V[j], t2, MPFR_RNDN);
          for (int k = 0; k < NMOM; k++)
            {
              mpfr_init2 (T[k * nn + j], wp);
              if (k == 0)
                mpfr_set (T[j], G[j], MPFR_RNDN);
              else
                mpfr_mul (T[k * nn + j], T[(k - 1) * nn + j], xi, MPFR_RNDN);
            }
        }
    }

  mpfr_set_ui (S, 0, MPFR_RNDN);
  mpfr_set_ui (Sc, 0, MPFR_RNDN);
  const double L2 = L * L;
  for (long i = -N; i <= N; i++)
    {
      const double xd = i * h;
      if (xd * xd > L2)
        continue;
      mpfr_mul_si (xi, hm, i, MPFR_RNDN);
      /* pi(xi1) and exp(-rAC xi1) */
      mpfr_neg (t1, xi, MPFR_RNDN);
      mpfr_exp (t1, t1, MPFR_RNDN);
      mpfr_add_ui (t1, t1, 1, MPFR_RNDN);
      mpfr_ui_div (pi1, 1, t1, MPFR_RNDN);
      mpfr_mul (t1, *rAC, xi, MPFR_RNDN);
      mpfr_neg (t1, t1, MPFR_RNDN);
      mpfr_exp (U, t1, MPFR_RNDN);
      /* conditional polynomial in xi2 */
      mpfr_mul (pB, cd.b1, xi, MPFR_RNDN);
      mpfr_mul (pE, cd.e1, xi, MPFR_RNDN);
      cond_poly (g, &cd, pB, pE, &pw);
      if (oned)
        {
          /* C = rAC xi1 exactly: one sigmoid, g(0) */
          mpfr_add_ui (t1, U, 1, MPFR_RNDN);
          mpfr_ui_div (t1, 1, t1, MPFR_RNDN);
          mpfr_mul (I, t1, g[0], MPFR_RNDN);
          mpfr_set (Ic, I, MPFR_RNDN);
        }
      else
        {
          /* inner moments m_k = h sum_j e^{-xj^2/2} xj^k pi(rAC xi + s xj) */
          const double r = sqrt (L2 - xd * xd);
          const long jm = (long) floor (r / h);
          for (int k = 0; k < NMOM; k++)
            {
              mpfr_set_ui (m[k], 0, MPFR_RNDN);
              mpfr_set_ui (mc[k], 0, MPFR_RNDN);
            }
          for (long j = -jm; j <= jm; j++)
            {
              const long jj = j + N;
              mpfr_mul (w, U, V[jj], MPFR_RNDN);
              mpfr_add_ui (w, w, 1, MPFR_RNDN);
              mpfr_ui_div (w, 1, w, MPFR_RNDN);
              const int even = (j % 2 == 0);
              for (int k = 0; k < NMOM; k++)
                {
                  mpfr_mul (t1, w, T[k * nn + jj], MPFR_RNDN);
                  mpfr_add (m[k], m[k], t1, MPFR_RNDN);
                  if (even)
                    mpfr_add (mc[k], mc[k], t1, MPFR_RNDN);
                }
            }
          mpfr_set_ui (I, 0, MPFR_RNDN);
          mpfr_set_ui (Ic, 0, MPFR_RNDN);
          for (int k = 0; k < NMOM; k++)
            {
              mpfr_mul (t1, g[k], m[k], MPFR_RNDN);
              mpfr_add (I, I, t1, MPFR_RNDN);
              mpfr_mul (t1, g[k], mc[k], MPFR_RNDN);
              mpfr_add (Ic, Ic, t1, MPFR_RNDN);
            }
          mpfr_mul_2ui (Ic, Ic, 1, MPFR_RNDN); /* coarse step 2h */
        }
      mpfr_mul (t1, G[i + N], pi1, MPFR_RNDN);
      mpfr_mul (t2, t1, I, MPFR_RNDN);
      mpfr_add (S, S, t2, MPFR_RNDN);
      if (i % 2 == 0)
        {
          mpfr_mul (t2, t1, Ic, MPFR_RNDN);
          mpfr_add (Sc, Sc, t2, MPFR_RNDN);
        }
    }
  mpfr_mul_2ui (Sc, Sc, 1, MPFR_RNDN); /* coarse step 2h in xi1 */
  /* normalisation: (2 pi)^{-1} in 2-D, (2 pi)^{-1/2} in 1-D */
  mpfr_const_pi (t1, MPFR_RNDN);
  mpfr_mul_2ui (t1, t1, 1, MPFR_RNDN);
  if (oned)
    mpfr_sqrt (t1, t1, MPFR_RNDN);
  mpfr_div (S, S, t1, MPFR_RNDN);
  mpfr_div (Sc, Sc, t1, MPFR_RNDN);

  if (err_est)
    {
      mpfr_sub (t1, S, Sc, MPFR_RNDN);
      mpfr_abs (t1, t1, MPFR_RNDU);
      /* rounding allowance: ~ number of terms * 2^-wp, relative to the
       * natural scale of the integrand (E|He3 He3| <= 6..15) */
      double round = (double) nn * (double) (oned ? 1 : nn) * ldexp (16.0, -(int) wp);
      *err_est = mpfr_get_d (t1, MPFR_RNDU) + round;
    }
  mpfr_set (P, S, MPFR_RNDN);

  for (long j = 0; j < nn; j++)
    {
      mpfr_clear (G[j]);
      if (!oned)
        {
          mpfr_clear (V[j]);
          for (int k = 0; k < NMOM; k++)
            mpfr_clear (T[k * nn + j]);
        }
    }
  free (G);
  free (V);
  free (T);

done:
  polyws_clear (&pw);
  for (int k = 0; k < NMOM; k++)
    mpfr_clears (g[k], m[k], mc[k], (mpfr_ptr) 0);
  mpfr_clears (cd.b1, cd.b2, cd.e1, cd.e2, cd.vB, cd.vE, cd.c, cd.K2, cd.K0,
               cd.cvB3, cd.cvE3, s, t1, t2, t3, hm, xi, pB, pE, U, pi1, w, S,
               Sc, I, Ic, (mpfr_ptr) 0);
  return status;
}

int
oracle_pair (mpfr_t P, double *err_est, const mpfr_t rho[6], mpfr_prec_t prec)
{
  return oracle_pair_ex (P, err_est, rho, prec, 0, 0);
}

int
oracle_pair_d (double *P, double *err_est, const double rho[6])
{
  mpfr_t r[6], p;
  for (int k = 0; k < 6; k++)
    {
      mpfr_init2 (r[k], 53);
      mpfr_set_d (r[k], rho[k], MPFR_RNDN);
    }
  mpfr_init2 (p, 128);
  int st = oracle_pair (p, err_est, (const mpfr_t *) r, 128);
  *P = st == ORACLE_OK ? mpfr_get_d (p, MPFR_RNDN) : NAN;
  for (int k = 0; k < 6; k++)
    mpfr_clear (r[k]);
  mpfr_clear (p);
  return st;
}

/* ---------------------------------------------------------------- 1-D */

int
oracle_sigmoid_moment (mpfr_t r, double *err_est, unsigned a, unsigned b,
                       mpfr_prec_t prec)
{
  if (prec < 24 || prec > 16384 || b > 64 || a > 64)
    return ORACLE_EINVAL;
  double h, L;
  oracle_default_grid (prec, b, &h, &L);
  const mpfr_prec_t wp = prec + 24;
  const long N = (long) ceil (L / h);
  mpfr_t hm, x, t, f, S, Sc;
  mpfr_inits2 (wp, hm, x, t, f, S, Sc, (mpfr_ptr) 0);
  mpfr_set_d (hm, h, MPFR_RNDN);
  mpfr_set_ui (S, 0, MPFR_RNDN);
  mpfr_set_ui (Sc, 0, MPFR_RNDN);
  for (long i = -N; i <= N; i++)
    {
      mpfr_mul_si (x, hm, i, MPFR_RNDN);
      mpfr_neg (t, x, MPFR_RNDN);
      mpfr_exp (t, t, MPFR_RNDN);
      mpfr_add_ui (t, t, 1, MPFR_RNDN);
      mpfr_ui_div (t, 1, t, MPFR_RNDN);       /* pi(x) */
      mpfr_pow_ui (f, t, a, MPFR_RNDN);
      mpfr_pow_ui (t, x, b, MPFR_RNDN);
      mpfr_mul (f, f, t, MPFR_RNDN);
      mpfr_sqr (t, x, MPFR_RNDN);
      mpfr_div_2ui (t, t, 1, MPFR_RNDN);
      mpfr_neg (t, t, MPFR_RNDN);
      mpfr_exp (t, t, MPFR_RNDN);
      mpfr_mul (f, f, t, MPFR_RNDN);
      mpfr_add (S, S, f, MPFR_RNDN);
      if (i % 2 == 0)
        mpfr_add (Sc, Sc, f, MPFR_RNDN);
    }
  mpfr_mul (S, S, hm, MPFR_RNDN);
  mpfr_mul (Sc, Sc, hm, MPFR_RNDN);
  mpfr_mul_2ui (Sc, Sc, 1, MPFR_RNDN);
  mpfr_const_pi (t, MPFR_RNDN);
  mpfr_mul_2ui (t, t, 1, MPFR_RNDN);
  mpfr_sqrt (t, t, MPFR_RNDN);
  mpfr_div (S, S, t, MPFR_RNDN);
  mpfr_div (Sc, Sc, t, MPFR_RNDN);
  if (err_est)
    {
      mpfr_sub (t, S, Sc, MPFR_RNDN);
      *err_est = fabs (mpfr_get_d (t, MPFR_RNDU)) + (double) (2 * N + 1)
                 * ldexp (16.0, -(int) wp);
    }
  mpfr_set (r, S, MPFR_RNDN);
  mpfr_clears (hm, x, t, f, S, Sc, (mpfr_ptr) 0);
  return ORACLE_OK;
}
