/* Hermite coefficients of the logistic sigmoid, c_k = E[pi(z) He_k(z)].
 * Two independent quadratures (proofs/sigmoid-coefficients.md):
 *   fourier: c_k = (-1)^((k-1)/2) Int_0^inf w^k e^{-w^2/2}/sinh(pi w) dw,
 *            positive integrand, rigorous strip bound;
 *   direct:  c_k = Int tanh(z/2)/2 He_k(z) phi(z) dz at raised precision.
 * Both use the trapezoidal rule on the whole line (the integrands are even
 * for odd k), which converges geometrically for functions analytic in a
 * strip (Trefethen & Weideman, SIAM Review 56 (2014), Thm 5.1). */
#include <moeverify/hermite.h>
#include <moeverify/error.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>

/* 1/sinh(pi w) has poles at w = +-i: use the strip |Im w| < 3/4. */
#define FOURIER_STRIP 0.75
/* tanh(z/2) has poles at z = +-i pi: use |Im z| < 5/2. */
#define DIRECT_STRIP 2.5

/* ln J_m, J_m = Int_0^inf w^m e^{-w^2/2 - pi w} dw <= sqrt(2 pi) e^{psi(w*)}
 * because psi(w) = m ln w - w^2/2 - pi w has psi'' <= -1 (strong concavity). */
static double
log_J_bound (unsigned m)
{
  if (m == 0)
    return -log (M_PI);
  double w = 0.5 * (-M_PI + sqrt (M_PI * M_PI + 4.0 * m));
  return 0.5 * log (2 * M_PI) + m * log (w) - 0.5 * w * w - M_PI * w;
}

static double
log_add (double a, double b)
{
  if (a < b)
    {
      double t = a;
      a = b;
      b = t;
    }
  return a + log1p (exp (b - a));
}

double
mv_hermite_coeff_log_bound (unsigned k)
{
  /* 1/sinh(x) <= (1+2x) e^{-x}/x  gives  |c_k| <= J_{k-1}/pi + 2 J_k. */
  if (k == 0)
    return log (0.5);
  return log_add (log_J_bound (k - 1) - log (M_PI), log (2.0) + log_J_bound (k));
}

static double
log_sinh_pi (double x)
{
  double t = M_PI * x;
  if (t > 20)
    return t - M_LN2 + log1p (-exp (-2 * t));
  return log (sinh (t));
}

/* ln of a bound on sup_{|y|<a} Int_R |f_k(x+iy)| dx, f_k = w^k e^{-w^2/2} /
 * sinh(pi w), using |sinh(pi w)| >= sinh(pi|x|) and |sinh(pi w)| >=
 * |w| sin(pi a)/a (product formula).  The integral of the bound is summed
 * numerically and doubled for safety.  The k-independent parts of the
 * integrand are tabulated once for all k (strip_grid). */
typedef struct {
  size_t n;
  double dx;
  double *base;   /* a^2/2 - x^2/2 + ln min(...) */
  double *lr2;    /* ln(x^2 + a^2) */
  double *x;      /* the nodes, accumulated as the sum was written */
} strip_grid;

static void
strip_grid_free (strip_grid *g)
{
  free (g->base), free (g->lr2), free (g->x);
  g->base = g->lr2 = g->x = NULL;
}

static int
strip_grid_init (strip_grid *g, unsigned kmax, double a)
{
  double cap = log (a / sin (M_PI * a));
  g->dx = 0.02;
  double xmax = sqrt ((double) kmax) + 45.0;
  g->n = 0;
  for (double x = 0.0; x <= xmax; x += g->dx)
    g->n++;
  g->base = malloc (g->n * sizeof *g->base);
  g->lr2 = malloc (g->n * sizeof *g->lr2);
  g->x = malloc (g->n * sizeof *g->x);
  if (!g->base || !g->lr2 || !g->x)
    {
      strip_grid_free (g);
      return mv_error_set (MV_ENOMEM, "hermite: out of memory");
    }
  size_t i = 0;
  for (double x = 0.0; i < g->n; x += g->dx, i++)
    {
      double r2 = x * x + a * a;
      g->x[i] = x;
      g->lr2[i] = log (r2);
      double lmin = x > 0 ? 0.5 * g->lr2[i] - log_sinh_pi (x) : INFINITY;
      if (lmin > cap)
        lmin = cap;
      g->base[i] = 0.5 * a * a - 0.5 * x * x + lmin;
    }
  return MV_OK;
}

static double
log_strip_mass (unsigned k, const strip_grid *g)
{
  /* the grid reaches sqrt(kmax) + 45 >= sqrt(k) + 45 */
  double xmax = sqrt ((double) k) + 45.0;
  size_t n = 0;
  while (n < g->n && g->x[n] <= xmax)
    n++;
  double lmax = -INFINITY, acc = 0.0, hk = 0.5 * (k - 1.0);
  for (size_t i = 0; i < n; i++)
    {
      double l = g->base[i] + hk * g->lr2[i];
      if (l > lmax)
        {
          acc = acc * exp (lmax - l) + 1.0;
          lmax = l;
        }
      else
        acc += exp (l - lmax);
    }
  /* both signs of x, and a factor 2 for the Riemann sum */
  return lmax + log (acc * g->dx) + log (2.0) + log (2.0);
}

static void
set_trivial (mpfr_t *c, mv_mag *relerr, unsigned kmax)
{
  for (unsigned k = 0; k <= kmax; k++)
    {
      if (k == 0)
        mpfr_set_d (c[0], 0.5, MPFR_RNDN);
      else if (k % 2 == 0)
        mpfr_set_zero (c[k], 1);
      else
        continue;
      if (relerr)
        mv_mag_zero (&relerr[k]);
    }
}

static unsigned
clog2 (double x)
{
  return (unsigned) ceil (log2 (x > 1 ? x : 1));
}

/* Log of the summand of c_{2i+1} at node w, w^{2i+1} e^{-w^2/2} / sinh(pi w)
 * (common factors aside).  It is concave in w: the second derivative is
 * at most -2i/w^2 - 1, as sinh x >= x. */
static double
fourier_lterm (unsigned i, double w)
{
  double pw = M_PI * w;
  double lsinh = pw > 1 ? pw - M_LN2 + log1p (-exp (-2 * pw)) : log (sinh (pw));
  return (2.0 * i + 1.0) * log (w) - 0.5 * w * w - lsinh;
}

/* Nodes j in [lo[i], hi[i]] carry every summand of c_{2i+1} within e^-D of
 * the largest one found (all summands are positive, so the dropped ones
 * add up to at most J e^-D of the sum).  Concavity makes each set an
 * interval around the peak, found by bisection; the intervals are then
 * widened so that lo and hi are nondecreasing in i, which lets the node
 * loop keep one contiguous range of i. */
static void
fourier_window (unsigned *lo, unsigned *hi, unsigned nodd, unsigned J,
                double h, double D)
{
  for (unsigned i = 0; i < nodd; i++)
    {
      double k = 2.0 * i + 1.0;
      double ws = 0.5 * (-M_PI + sqrt (M_PI * M_PI + 4 * k));
      double jc = fmin (fmax (round (ws / h), 1.0), (double) J);
      unsigned jb = (unsigned) jc;
      double best = fourier_lterm (i, jb * h);
      for (int dj = -2; dj <= 2; dj++)
        {
          double j = jc + dj;
          if (j >= 1 && j <= J && fourier_lterm (i, j * h) > best)
            best = fourier_lterm (i, j * h), jb = (unsigned) j;
        }
      double thr = best - D;
      unsigned a = 1, b = jb;           /* first j in [1, jb] above thr */
      while (a < b)
        {
          unsigned mid = a + (b - a) / 2;
          if (fourier_lterm (i, mid * h) >= thr)
            b = mid;
          else
            a = mid + 1;
        }
      lo[i] = a;
      a = jb, b = J;                    /* last j in [jb, J] above thr */
      while (a < b)
        {
          unsigned mid = b - (b - a) / 2;
          if (fourier_lterm (i, mid * h) >= thr)
            a = mid;
          else
            b = mid - 1;
        }
      hi[i] = a;
    }
  for (unsigned i = nodd - 1; i-- > 0;)
    if (lo[i] > lo[i + 1])
      lo[i] = lo[i + 1];
  for (unsigned i = 1; i < nodd; i++)
    if (hi[i] < hi[i - 1])
      hi[i] = hi[i - 1];
}

/* Relative error of the Fourier sum c (for c_k, before the final
 * rounding): discretisation, truncation at X and the roundings. */
static void
fourier_relerr (mv_mag *rel, unsigned k, const mpfr_t c,
                const strip_grid *grid, double h, double X, unsigned J,
                mpfr_prec_t wp)
{
  double a = FOURIER_STRIP;
  double lnq = -2 * M_PI * a / h - log1p (-exp (-2 * M_PI * a / h));
  double lnc = log (fabs (mpfr_get_d (c, MPFR_RNDN)));
  if (!isfinite (lnc))
    {
      long e;
      double mant = mpfr_get_d_2exp (&e, c, MPFR_RNDN);
      lnc = log (fabs (mant)) + e * M_LN2;
    }
  /* discretisation (half of the full-line bound: c_k is half the line) */
  double ldisc = log_strip_mass (k, grid) - log (2.0) + lnq - lnc;
  /* truncation of integral and sum past X - h (f_k decreasing there) */
  double xt = X - h, gam = xt + M_PI - k / xt;
  double ltrunc = gam > 0
    ? log (4.02) + k * log (xt) - 0.5 * xt * xt - M_PI * xt - log (gam) - lnc
    : INFINITY;
  /* kept as magnitudes: at 2048 bits these are far below 2^-1074 */
  mv_mag t;
  mv_mag_set_exp (rel, ldisc);
  mv_mag_set_exp (&t, ltrunc);
  mv_mag_add (rel, rel, &t);
  /* roundings, plus 2^-(wp+4) for the summands outside the window */
  mv_mag_set_d_2exp (&t, (k / 2.0 + J + 10.5) * 2.0, -(long) wp);
  mv_mag_add (rel, rel, &t);
}

static int
fourier_pass (mpfr_t *c, mv_mag *relerr, unsigned kmax, double h, double X,
              double target_lnrel)
{
  mpfr_prec_t P = mpfr_get_prec (c[0]);
  unsigned J = (unsigned) ceil (X / h);
  unsigned nodd = (kmax + 1) / 2;
  mpfr_prec_t wp = P + clog2 (kmax + J + 20.0) + 8;
  strip_grid grid;
  if (strip_grid_init (&grid, kmax, FOURIER_STRIP))
    return MV_ENOMEM;
  mpfr_t w, w2, t, base, hh, *sum = malloc (nodd * sizeof *sum);
  unsigned *lo = malloc (2 * (size_t) nodd * sizeof *lo), *hi = lo + nodd;
  if (!sum || !lo)
    {
      free (sum), free (lo);
      strip_grid_free (&grid);
      return mv_error_set (MV_ENOMEM, "hermite: out of memory");
    }
  /* dropped summands: at most 2^-(wp+4) of each sum (charged below) */
  fourier_window (lo, hi, nodd, J, h, (wp + 4.0) * M_LN2 + log (J + 1.0) + 1.0);
  mpfr_inits2 (wp, w, t, base, hh, (mpfr_ptr) 0);
  /* w = j h (h a double) has at most 53 + log2(J + 1) bits, so w^2 is exact
   * in twice that: held at that precision, the J x nodd products
   * base * w^2 below multiply by a few limbs instead of wp bits (same
   * values, so the same bits, several times faster at high precision) */
  mpfr_prec_t p2 = 2 * (DBL_MANT_DIG + (mpfr_prec_t) clog2 (J + 1.0));
  mpfr_init2 (w2, p2 < wp ? p2 : wp);
  mpfr_set_d (hh, h, MPFR_RNDN);
  for (unsigned i = 0; i < nodd; i++)
    mpfr_init2 (sum[i], wp), mpfr_set_zero (sum[i], 1);
  /* j = 0: only k = 1 is nonzero there, f_1(0) = 1/pi, half weight */
  mpfr_const_pi (t, MPFR_RNDN);
  mpfr_ui_div (t, 1, t, MPFR_RNDN);
  mpfr_div_2ui (sum[0], t, 1, MPFR_RNDN);
  unsigned ia = 0, ib = 0;      /* the sums that need node j: [ia, ib) */
  for (unsigned j = 1; j <= J; j++)
    {
      while (ia < nodd && hi[ia] < j)
        ia++;
      while (ib < nodd && lo[ib] <= j)
        ib++;
      if (ia >= ib)
        continue;
      mpfr_mul_ui (w, hh, j, MPFR_RNDN);
      mpfr_sqr (w2, w, MPFR_RNDN);
      mpfr_div_2ui (t, w2, 1, MPFR_RNDN);
      mpfr_neg (t, t, MPFR_RNDN);
      mpfr_exp (base, t, MPFR_RNDN);
      mpfr_const_pi (t, MPFR_RNDN);
      mpfr_mul (t, t, w, MPFR_RNDN);
      mpfr_sinh (t, t, MPFR_RNDN);
      mpfr_div (base, base, t, MPFR_RNDN);
      mpfr_mul (base, base, w, MPFR_RNDN);          /* k = 1 term */
      if (ia > 0)
        {
          mpfr_pow_ui (t, w2, ia, MPFR_RNDN);
          mpfr_mul (base, base, t, MPFR_RNDN);      /* k = 2 ia + 1 */
        }
      for (unsigned i = ia; i < ib; i++)
        {
          mpfr_add (sum[i], sum[i], base, MPFR_RNDN);
          mpfr_mul (base, base, w2, MPFR_RNDN);     /* k -> k + 2 */
        }
    }
  int status = MV_OK;
  for (unsigned i = 0; i < nodd; i++)
    {
      unsigned k = 2 * i + 1;
      mpfr_mul (sum[i], sum[i], hh, MPFR_RNDN);
      if (i % 2 == 1)
        mpfr_neg (sum[i], sum[i], MPFR_RNDN);
      mpfr_set (c[k], sum[i], MPFR_RNDN);
      mv_mag rel, t;
      fourier_relerr (&rel, k, sum[i], &grid, h, X, J, wp);
      if (mv_mag_log2 (&rel) * M_LN2 > target_lnrel)
        status = MV_ENOCONV;
      if (relerr)
        {
          mv_mag_set_d_2exp (&t, 1.0, -(long) P);  /* + final rounding */
          mv_mag_add (&relerr[k], &rel, &t);
        }
    }
  for (unsigned i = 0; i < nodd; i++)
    mpfr_clear (sum[i]);
  free (sum), free (lo);
  strip_grid_free (&grid);
  mpfr_clears (w, w2, t, base, hh, (mpfr_ptr) 0);
  return status;
}

int
mv_hermite_coeffs_fourier (mpfr_t *c, mv_mag *relerr, unsigned kmax)
{
  mpfr_prec_t P = mpfr_get_prec (c[0]);
  set_trivial (c, relerr, kmax);
  if (kmax == 0)
    return MV_OK;
  double a = FOURIER_STRIP;
  double target = -(P + 4.0) * M_LN2;
  /* Past the peak of w^kmax e^{-w^2/2 - pi w} (near sqrt(kmax)), the
   * log-integrand falls at least quadratically: go (P + 40) ln 2 below. */
  double wstar = 0.5 * (-M_PI + sqrt (M_PI * M_PI + 4.0 * kmax));
  double X = wstar + sqrt (2.0 * ((P + 40.0) * M_LN2 + 10.0)) + 2.0;
  double slack = 8.0;
  for (int attempt = 0; attempt < 5; attempt++)
    {
      double h = 2 * M_PI * a / (-target + slack);
      int s = fourier_pass (c, relerr, kmax, h, X, target);
      if (s != MV_ENOCONV)
        return s;
      slack += 16.0;
      X += 4.0;
    }
  return mv_error_set (MV_ENOCONV,
                       "hermite: Fourier quadrature for c_k, k <= %u, did not "
                       "reach %ld bits", kmax, (long) P);
}

int
mv_hermite_coeffs_direct (mpfr_t *c, mv_mag *relerr, unsigned kmax)
{
  mpfr_prec_t P = mpfr_get_prec (c[0]);
  set_trivial (c, relerr, kmax);
  if (kmax == 0)
    return MV_OK;
  double a = DIRECT_STRIP, sk = sqrt ((double) kmax);
  /* He_k(z) phi(z) sums to about sqrt(k!) while c_k ~ sqrt(k!) e^{-pi sqrt k}:
   * carry the cancellation as extra bits. */
  double cancel = M_PI * sk / M_LN2 + 24.0;
  double lnacc = (P + 8.0) * M_LN2 + M_PI * sk + 0.5 * a * a + 10.0;
  double h = 2 * M_PI * a / lnacc;
  /* Cramer: |He_k(x)| <= 1.0865 sqrt(k!) e^{x^2/4} */
  double X = 2.0 * sqrt ((P + 8.0) * M_LN2 + M_PI * sk + 10.0) + 1.0;
  double hf = h / 2;
  unsigned J = (unsigned) ceil (X / hf);
  mpfr_prec_t wp = P + (mpfr_prec_t) cancel + clog2 (kmax + J + 20.0);
  unsigned nodd = (kmax + 1) / 2;
  mpfr_t *he = malloc ((kmax + 1) * sizeof *he);
  mpfr_t *se = malloc (nodd * sizeof *se), *so = malloc (nodd * sizeof *so);
  if (!he || !se || !so)
    {
      free (he), free (se), free (so);
      return mv_error_set (MV_ENOMEM, "hermite: out of memory");
    }
  for (unsigned k = 0; k <= kmax; k++)
    mpfr_init2 (he[k], wp);
  for (unsigned i = 0; i < nodd; i++)
    {
      mpfr_init2 (se[i], wp), mpfr_set_zero (se[i], 1);
      mpfr_init2 (so[i], wp), mpfr_set_zero (so[i], 1);
    }
  mpfr_t z, g, t, hh;
  mpfr_inits2 (wp, z, g, t, hh, (mpfr_ptr) 0);
  mpfr_set_d (hh, hf, MPFR_RNDN);
  for (unsigned j = 1; j <= J; j++)
    {
      mpfr_mul_ui (z, hh, j, MPFR_RNDN);
      /* g = tanh(z/2) phi(z) (the 1/2 of tanh/2 and the factor 2 of the
       * even integrand cancel) */
      mpfr_div_2ui (t, z, 1, MPFR_RNDN);
      mpfr_tanh (g, t, MPFR_RNDN);
      mpfr_sqr (t, z, MPFR_RNDN);
      mpfr_div_2ui (t, t, 1, MPFR_RNDN);
      mpfr_neg (t, t, MPFR_RNDN);
      mpfr_exp (t, t, MPFR_RNDN);
      mpfr_mul (g, g, t, MPFR_RNDN);
      mv_hermite_all (he, kmax, z, MPFR_RNDN);
      mpfr_t *acc = (j % 2 == 0) ? se : so;
      for (unsigned i = 0; i < nodd; i++)
        mpfr_fma (acc[i], g, he[2 * i + 1], acc[i], MPFR_RNDN);
    }
  /* 1/sqrt(2 pi) and the step */
  mpfr_const_pi (t, MPFR_RNDN);
  mpfr_mul_2ui (t, t, 1, MPFR_RNDN);
  mpfr_rec_sqrt (t, t, MPFR_RNDN);
  mpfr_t coarse, fine;
  mpfr_inits2 (wp, coarse, fine, (mpfr_ptr) 0);
  for (unsigned i = 0; i < nodd; i++)
    {
      unsigned k = 2 * i + 1;
      /* T(h) uses even nodes, T(h/2) all of them */
      mpfr_mul_d (coarse, se[i], h, MPFR_RNDN);
      mpfr_mul (coarse, coarse, t, MPFR_RNDN);
      mpfr_add (fine, se[i], so[i], MPFR_RNDN);
      mpfr_mul (fine, fine, hh, MPFR_RNDN);
      mpfr_mul (fine, fine, t, MPFR_RNDN);
      mpfr_set (c[k], fine, MPFR_RNDN);
      if (relerr)
        {
          mpfr_sub (coarse, coarse, fine, MPFR_RNDN);
          mpfr_div (coarse, coarse, fine, MPFR_RNDU);
          mv_mag diff, rnd;
          mv_mag_set_mpfr (&diff, coarse);
          /* rounding: J terms of size <= 1.09 sqrt(k!) phi, relative to c_k */
          double lsf = 0.5 * lgamma (k + 1.0);
          long e;
          double mant = mpfr_get_d_2exp (&e, fine, MPFR_RNDN);
          double lnc = log (fabs (mant)) + e * M_LN2;
          mv_mag_set_exp (&rnd, lsf - lnc + log (2.0 * (k + J + 10.0)) - wp * M_LN2);
          mv_mag_add (&diff, &diff, &rnd);
          mv_mag_set_d_2exp (&rnd, 1.0, -(long) P);
          mv_mag_add (&relerr[k], &diff, &rnd);
        }
    }
  mpfr_clears (z, g, t, hh, coarse, fine, (mpfr_ptr) 0);
  for (unsigned k = 0; k <= kmax; k++)
    mpfr_clear (he[k]);
  for (unsigned i = 0; i < nodd; i++)
    mpfr_clear (se[i]), mpfr_clear (so[i]);
  free (he), free (se), free (so);
  return MV_OK;
}

long
mv_hermite_coeff_digits (const mpfr_t c, const mv_mag *relerr)
{
  if (mpfr_zero_p (c))
    return mv_mag_is_zero (relerr) ? (long) (mpfr_get_prec (c) * 0.30103) : 0;
  if (mv_mag_is_zero (relerr))
    return (long) floor ((mpfr_get_prec (c) - 1) * 0.30103);
  /* |error| <= relerr |c| <= 2^(EXP(c) - err) */
  double l2 = mv_mag_log2 (relerr);
  if (!(l2 < 0))
    return 0;
  long err = (long) floor (-l2);
  if (err < 2)
    return 0;
  mpfr_prec_t lo = 1, hi = mpfr_get_prec (c);
  if (hi > err)
    hi = err;
  if (!mpfr_can_round (c, err, MPFR_RNDN, MPFR_RNDZ, lo + 1))
    return 0;
  while (lo < hi)
    {
      mpfr_prec_t mid = (lo + hi + 1) / 2;
      if (mpfr_can_round (c, err, MPFR_RNDN, MPFR_RNDZ, mid))
        lo = mid;
      else
        hi = mid - 1;
    }
  /* lo bits are certain; one decimal digit is worth log2(10) bits */
  long d = (long) floor ((lo - 1) * 0.30102999566398120);
  return d > 0 ? d : 0;
}

mv_hermite_table *
mv_hermite_table_alloc (unsigned kmax, mpfr_prec_t prec)
{
  mv_init ();
  if (prec < MV_PREC_MIN || prec > MV_PREC_WORK_MAX)
    {
      mv_error_set (MV_EPREC, "precision %ld bits out of range [%d, %d]",
                    (long) prec, MV_PREC_MIN, MV_PREC_WORK_MAX);
      return NULL;
    }
  mv_hermite_table *t = calloc (1, sizeof *t);
  if (!t)
    return NULL;
  t->kmax = kmax;
  t->prec = prec;
  t->c = malloc ((kmax + 1) * sizeof *t->c);
  t->relerr = malloc ((kmax + 1) * sizeof *t->relerr);
  t->cd = malloc ((kmax + 1) * sizeof *t->cd);
  if (!t->c || !t->relerr || !t->cd)
    {
      free (t->c), free (t->relerr), free (t->cd), free (t);
      mv_error_set (MV_ENOMEM, "hermite: out of memory");
      return NULL;
    }
  for (unsigned k = 0; k <= kmax; k++)
    mpfr_init2 (t->c[k], prec);
  if (mv_hermite_coeffs_fourier (t->c, t->relerr, kmax) != MV_OK)
    {
      mv_hermite_table_free (t);
      return NULL;
    }
  for (unsigned k = 0; k <= kmax; k++)
    {
      double v = mpfr_get_d (t->c[k], MPFR_RNDN);
      t->cd[k] = isfinite (v) ? v : NAN;
    }
  return t;
}

void
mv_hermite_table_free (mv_hermite_table *t)
{
  if (!t)
    return;
  for (unsigned k = 0; k <= t->kmax; k++)
    mpfr_clear (t->c[k]);
  free (t->c), free (t->relerr), free (t->cd), free (t);
}
