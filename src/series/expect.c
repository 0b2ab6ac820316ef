/* Evaluation of pair expectations from the tables of expect_tables.c:
 * one pass over n updates every F_{p,q}(rho_AC), then 30 monomials in the
 * other five correlations assemble P, its six partial derivatives and (double
 * path) its 6 x 6 Hessian. */
#include "series/expect_priv.h"
#include <moeverify/error.h>

#include <math.h>

/* monomial variables in tuple order: AB (a1), AE (a2), BC (b1), CE (b2), BE (e) */
static const int MONO_RHO[5] = { MV_RHO_AB, MV_RHO_AE, MV_RHO_BC, MV_RHO_CE, MV_RHO_BE };

/* truncation target of the double path: 2^-60 absolute, as a logarithm */
#define LTARGET_D (-60 * M_LN2)

/* Smallest N <= nmax with kappa_sum |r|^N tail1[N] <= target, in logs
 * (ltail1: ws->ltail1 or ws->ltailh); *ltail receives the log of the bound
 * |r|^N tail1[N]. */
static unsigned
choose_terms (double *ltail, double rabs, double ltarget, unsigned nmax,
              const double *ltail1, const mv_expect_ws *ws)
{
  if (ltarget == -INFINITY || rabs >= 1.0)
    {
      *ltail = ltail1[nmax];
      return nmax;
    }
  double lr = rabs > 0 ? log (rabs) : -INFINITY;
  double lt = ltarget - ws->lkappa_sum;
  for (unsigned n = 0; n < nmax; n++)
    {
      double l = (n > 0 ? n * lr : 0.0) + ltail1[n];
      if (l <= lt)
        {
          *ltail = l;
          return n;
        }
    }
  *ltail = nmax * lr + ltail1[nmax];
  return nmax;
}

unsigned
mv_expect_series (mpfr_t *F, double *ltail, const mpfr_t r, int nf,
                  double ltarget, mv_expect_ws *ws)
{
  double rabs = fabs (mpfr_get_d (r, MPFR_RNDA));
  unsigned N = choose_terms (ltail, rabs, ltarget, ws->nmax, ws->ltail1, ws);
  for (int i = 0; i < nf; i++)
    mpfr_set_zero (F[i], 1);
  mpfr_set_ui (ws->pw, 1, MPFR_RNDN);
  for (unsigned n = 0; n < N; n++)
    {
      for (int i = 0; i < nf; i++)
        if (!mpfr_zero_p (ws->w[i][n]))
          mpfr_fma (F[i], ws->w[i][n], ws->pw, F[i], MPFR_RNDN);
      mpfr_mul (ws->pw, ws->pw, r, MPFR_RNDN);
    }
  return N;
}

/* Series i < i1 with N terms, i1 <= i < i2 with Nh terms, one pass over n.
 * Each F[i] sees the same operations in the same order whatever i1, i2, Nh
 * (so the value and gradient series do not depend on the Hessian ones). */
static void
series_d (double *F, double r, int i1, unsigned N, int i2, unsigned Nh,
          const mv_expect_ws *ws)
{
  for (int i = 0; i < i2; i++)
    F[i] = 0.0;
  /* series i < i1 over n < N: packed rows, one accumulator set per parity
   * (a row feeds the first cnt series of its parity list) */
  int cnt[2] = { 0, 0 };
  for (int par = 0; par < 2; par++)
    while (cnt[par] < ws->par_n[par] && ws->par_i[par][cnt[par]] < i1)
      cnt[par]++;
  double acc[2][MV_NF] = { { 0 } }, pw = 1.0;
  for (unsigned n = 0; n < N; n++)
    {
      int par = (n & 1) ? 0 : 1;
      const double *wr = ws->wpack + (size_t) n * MV_NF;
      double *a = acc[par];
      for (int j = 0; j < cnt[par]; j++)
        a[j] += wr[j] * pw;
      pw *= r;
    }
  for (int par = 0; par < 2; par++)
    for (int j = 0; j < cnt[par]; j++)
      F[ws->par_i[par][j]] += acc[par][j];
  /* n = p = q = 0: c_0^2 = 1/4 (the packed rows hold the odd terms) */
  if (N > 0)
    F[0] += ws->wd[0][0];
  /* Hessian-only series i1 <= i < i2 over n < Nh; w_i[n] vanishes unless
   * n + p_i is odd */
  pw = 1.0;
  for (unsigned n = 0; n < Nh && i2 > i1; n++)
    {
      int par = (n & 1) ? 0 : 1;
      for (int i = i1; i < i2; i++)
        if ((ws->fp[i] & 1) == par)
          F[i] += ws->wd[i][n] * pw;
      pw *= r;
    }
}

unsigned
mv_expect_series_d (double *F, double *ltail, double r, int nf,
                    double ltarget, const mv_expect_ws *ws)
{
  unsigned N = choose_terms (ltail, fabs (r), ltarget, ws->nmax_d, ws->ltail1, ws);
  series_d (F, r, nf, N, nf, 0, ws);
  return N;
}

unsigned
mv_expect_series_hd (double *F, double *ltail, double *ltailh, unsigned *nh,
                     double r, double ltarget, const mv_expect_ws *ws)
{
  unsigned N = choose_terms (ltail, fabs (r), ltarget, ws->nmax_d, ws->ltail1, ws);
  *nh = choose_terms (ltailh, fabs (r), ltarget, ws->nmax_hd, ws->ltailh, ws);
  series_d (F, r, MV_NF_GRAD, N, MV_NF, *nh, ws);
  return N;
}

/* P, dP from F (values of the series at rho_AC) and the five other rho. */
static double
assemble (mv_expect_val *out, double *val_scale, mpfr_t const rho[MV_NRHO],
          mpfr_t *F, int want_grad, mv_expect_ws *ws)
{
  double mono_abs = 0;
  *val_scale = 0;
  for (int v = 0; v < 5; v++)
    {
      mpfr_set_ui (ws->pows[v][0], 1, MPFR_RNDN);
      for (int k = 1; k < 4; k++)
        mpfr_mul (ws->pows[v][k], ws->pows[v][k - 1], rho[MONO_RHO[v]], MPFR_RNDN);
    }
  mpfr_set_zero (out->P, 1);
  if (want_grad)
    for (int a = 0; a < MV_NRHO; a++)
      mpfr_set_zero (out->dP[a], 1);
  double abs_sum = 0;
  for (int t = 0; t < MV_NTUPLE; t++)
    {
      const mv_tuple *tp = &ws->tuple[t];
      const unsigned ex[5] = { tp->a1, tp->a2, tp->b1, tp->b2, tp->e };
      unsigned kap = (unsigned) tp->kappa;
      mpfr_set_ui (ws->t, kap, MPFR_RNDN);
      for (int v = 0; v < 5; v++)
        if (ex[v])
          mpfr_mul (ws->t, ws->t, ws->pows[v][ex[v]], MPFR_RNDN);
      /* rounded away from zero: a monomial below the double range still
       * counts (as the smallest subnormal) in the bounds */
      double tm = fabs (mpfr_get_d (ws->t, MPFR_RNDA));
      mono_abs += tm;
      *val_scale += tm * ws->wabs_i[tp->f];
      abs_sum += tm * fabs (mpfr_get_d (F[tp->f], MPFR_RNDA));
      mpfr_fma (out->P, ws->t, F[tp->f], out->P, MPFR_RNDN);
      if (!want_grad)
        continue;
      mpfr_fma (out->dP[MV_RHO_AC], ws->t, F[tp->fd], out->dP[MV_RHO_AC], MPFR_RNDN);
      for (int v = 0; v < 5; v++)
        {
          if (!ex[v])
            continue;
          /* d/dx of kap x^a (others) = kap a x^(a-1) (others) */
          mpfr_mul_ui (ws->u, F[tp->f], kap * ex[v], MPFR_RNDN);
          mpfr_mul (ws->u, ws->u, ws->pows[v][ex[v] - 1], MPFR_RNDN);
          for (int o = 0; o < 5; o++)
            if (o != v && ex[o])
              mpfr_mul (ws->u, ws->u, ws->pows[o][ex[o]], MPFR_RNDN);
          mpfr_add (out->dP[MONO_RHO[v]], out->dP[MONO_RHO[v]], ws->u, MPFR_RNDN);
        }
    }
  out->abs_sum = abs_sum;
  return mono_abs;
}

static int
clamp_rho (mpfr_t *dst, mpfr_t const rho[MV_NRHO])
{
  for (int a = 0; a < MV_NRHO; a++)
    {
      if (!mpfr_number_p (rho[a]))
        return mv_error_set (MV_EDOM, "expect: correlation %d is not finite", a);
      mpfr_set (dst[a], rho[a], MPFR_RNDN);
      if (mpfr_cmpabs_ui (dst[a], 1) > 0)
        {
          /* a few ulps outside [-1,1] is rounding in the Gram matrix */
          if (fabs (mpfr_get_d (dst[a], MPFR_RNDN)) > 1.0 + MV_RHO_SLACK)
            return mv_error_set (MV_EDOM, "expect: correlation %d = %g outside [-1, 1]",
                                 a, mpfr_get_d (dst[a], MPFR_RNDN));
          mpfr_set_si (dst[a], mpfr_sgn (dst[a]), MPFR_RNDN);
        }
    }
  return MV_OK;
}

/* Error bounds: truncation (tail per series times the monomials), the
 * coefficients' error, and rounding of N-term sums at precision u.  The
 * double path keeps doubles (its bounds are near 2^-60); the MPFR path
 * carries magnitudes, which do not underflow at any precision. */
static void
bounds_d (double *err, double *derr, double mono_abs, double val_scale,
          double tail, unsigned N, const mv_expect_ws *ws)
{
  double per_term = (2.0 * N + 80.0) * ldexp (1.0, -MV_PREC_DOUBLE)
                    + 2 * ws->coef_relerr_d;
  *err = mono_abs * tail + per_term * val_scale;
  *derr = 3.0 * ws->kappa_sum * tail + per_term * ws->der_scale;
}

static void
finish_bounds (mv_expect_val *out, double mono_abs, double val_scale,
               const mv_mag *tail, unsigned N, const mv_expect_ws *ws)
{
  mv_mag per, t;
  mv_mag_set_d_2exp (&per, 2.0 * N + 80.0, -(long) ws->wp);
  mv_mag_mul_2exp (&t, &ws->coef_relerr, 1);
  mv_mag_add (&per, &per, &t);
  mv_mag_mul_d (&out->err, tail, mono_abs);
  mv_mag_addmul_d (&out->err, &per, val_scale);
  mv_mag_mul_d (&out->derr, tail, 3.0 * ws->kappa_sum);
  mv_mag_addmul_d (&out->derr, &per, ws->der_scale);
  /* rounding to the target precision */
  mv_mag_set_mpfr (&t, out->P);
  mv_mag_mul_2exp (&t, &t, -(long) ws->prec);
  mv_mag_add (&out->err, &out->err, &t);
  mv_mag_set_d_2exp (&t, ws->der_scale, -(long) ws->prec);
  mv_mag_add (&out->derr, &out->derr, &t);
  out->nterms = N;
}

static int
need_mp (const mv_expect_ws *ws)
{
  return ws->mp ? MV_OK
    : mv_error_set (MV_EINVAL, "expect: tables built for the double path only "
                    "(precision %d); allocate with more bits for MPFR", MV_PREC_DOUBLE);
}

void
mv_expect_val_init (mv_expect_val *v, mpfr_prec_t prec)
{
  mpfr_init2 (v->P, prec);
  for (int a = 0; a < MV_NRHO; a++)
    mpfr_init2 (v->dP[a], prec);
  mv_mag_zero (&v->err), mv_mag_zero (&v->derr);
  v->abs_sum = 0;
  v->nterms = 0;
}

void
mv_expect_val_clear (mv_expect_val *v)
{
  mpfr_clear (v->P);
  for (int a = 0; a < MV_NRHO; a++)
    mpfr_clear (v->dP[a]);
}

int
mv_expect_pair (mv_expect_val *out, mpfr_t const rho[MV_NRHO], int want_grad,
                mv_expect_ws *ws)
{
  int s = need_mp (ws);
  if (s || (s = clamp_rho (ws->rhoc, rho)))
    return s;
  double ltail;
  unsigned N = mv_expect_series (ws->F, &ltail, ws->rhoc[MV_RHO_AC],
                                 want_grad ? MV_NF_GRAD : MV_NF_VAL,
                                 -(ws->prec + 12.0) * M_LN2, ws);
  double vs, mono_abs = assemble (out, &vs, (mpfr_t const *) ws->rhoc, ws->F, want_grad, ws);
  mv_mag tail;
  mv_mag_set_exp (&tail, ltail);
  finish_bounds (out, mono_abs, vs, &tail, N, ws);
  return MV_OK;
}

int
mv_expect_self (mv_expect_val *out, const mpfr_t r, int want_grad,
                mv_expect_ws *ws)
{
  int s = need_mp (ws);
  if (s)
    return s;
  mpfr_t rr[MV_NRHO];
  for (int a = 0; a < MV_NRHO; a++)
    mpfr_init2 (rr[a], ws->wp);
  for (int a = 0; a < MV_NRHO; a++)
    mpfr_set (rr[a], r, MPFR_RNDN);
  mpfr_set_ui (rr[MV_RHO_AC], 1, MPFR_RNDN);
  mpfr_set_ui (rr[MV_RHO_BE], 1, MPFR_RNDN);
  s = clamp_rho (ws->rhoc, (mpfr_t const *) rr);
  for (int a = 0; a < MV_NRHO; a++)
    mpfr_clear (rr[a]);
  if (s)
    return s;
  double vs, mono_abs = assemble (out, &vs, (mpfr_t const *) ws->rhoc, ws->F1, want_grad, ws);
  if (want_grad)
    {
      /* r enters through AB, AE, BC, CE */
      mpfr_add (out->dP[0], out->dP[MV_RHO_AB], out->dP[MV_RHO_AE], MPFR_RNDN);
      mpfr_add (out->dP[0], out->dP[0], out->dP[MV_RHO_BC], MPFR_RNDN);
      mpfr_add (out->dP[0], out->dP[0], out->dP[MV_RHO_CE], MPFR_RNDN);
    }
  /* the constants F1 carry their own error instead of a truncation tail */
  finish_bounds (out, mono_abs, out->abs_sum, &ws->F1_err, 0, ws);
  out->nterms = ws->nmax;
  if (want_grad)
    mv_mag_mul_2exp (&out->derr, &out->derr, 2);
  return MV_OK;
}

/* ---------------------------------------------------------------- double */

/* The 30 tuples factor as (AB,BC) x (AE,CE) x BE: for each e = 3 - s,
 * u_a = rho_AB^a rho_BC^(s-a) / (a! (s-a)!), w_a likewise with AE, CE, and
 * P = 36 sum_e rho_BE^e/e! sum_{a1,a2} u_a1 w_a2 F_{a1+a2, 2s-a1-a2}.
 * Tuples are stored in that (e, a1, a2) order (build_tuples). */
static void
binom_powers (double *u, double *dx, double *dy, const double *px, const double *py, int s)
{
  static const double ifact[4] = { 1.0, 1.0, 0.5, 1.0 / 6.0 };
  for (int a = 0; a <= s; a++)
    {
      double c = ifact[a] * ifact[s - a];
      u[a] = c * px[a] * py[s - a];
      dx[a] = a ? c * a * px[a - 1] * py[s - a] : 0.0;
      dy[a] = s - a ? c * (s - a) * px[a] * py[s - a - 1] : 0.0;
    }
}

static void
powers3 (double *p, double x)
{
  p[0] = 1, p[1] = x, p[2] = x * x, p[3] = p[2] * x;
}

static double
assemble_d (mv_expect_vald *out, double *val_scale, const double rho[MV_NRHO],
            const double *F, int want_grad, const mv_expect_ws *ws)
{
  static const double ifact[4] = { 1.0, 1.0, 0.5, 1.0 / 6.0 };
  double pbe[4], pab[4], pbc[4], pae[4], pce[4];
  powers3 (pbe, rho[MV_RHO_BE]), powers3 (pab, rho[MV_RHO_AB]), powers3 (pbc, rho[MV_RHO_BC]);
  powers3 (pae, rho[MV_RHO_AE]), powers3 (pce, rho[MV_RHO_CE]);
  double P = 0, dAB = 0, dBC = 0, dAE = 0, dCE = 0, dBE = 0, dAC = 0;
  double mono_abs = 0, vs = 0, abs_sum = 0;
  int t = 0, bounds = !(want_grad & MV_EXPECT_NOBOUND);
  want_grad &= 1;
  for (int e = 0; e <= 3; e++)
    {
      int s = 3 - e;
      double u[4], uab[4], ubc[4], w[4], wae[4], wce[4];
      binom_powers (u, uab, ubc, pab, pbc, s);
      binom_powers (w, wae, wce, pae, pce, s);
      double c = 36.0 * ifact[e] * pbe[e], dc = e ? 36.0 * ifact[e] * e * pbe[e - 1] : 0.0;
      for (int a1 = 0; a1 <= s; a1++)
        {
          /* factors of the a1 row, shared by its s + 1 tuples */
          double A = c * u[a1], Aab = c * uab[a1], Abc = c * ubc[a1], Dbe = dc * u[a1];
          for (int a2 = 0; a2 <= s; a2++, t++)
            {
              const mv_tuple *tp = &ws->tuple[t];
              double f = F[tp->f], wf = w[a2] * f, m = A * w[a2];
              if (bounds)
                {
                  double am = fabs (m);
                  mono_abs += am;
                  vs += am * ws->wabs_i[tp->f];
                  abs_sum += fabs (m * f);
                }
              P += A * wf;
              if (!want_grad)
                continue;
              dAC += m * F[tp->fd];
              dBE += Dbe * wf;
              dAB += Aab * wf;
              dBC += Abc * wf;
              dAE += A * wae[a2] * f;
              dCE += A * wce[a2] * f;
            }
        }
    }
  out->P = P;
  out->dP[MV_RHO_AB] = dAB, out->dP[MV_RHO_AC] = dAC, out->dP[MV_RHO_AE] = dAE;
  out->dP[MV_RHO_BC] = dBC, out->dP[MV_RHO_BE] = dBE, out->dP[MV_RHO_CE] = dCE;
  out->abs_sum = abs_sum;
  *val_scale = vs;
  return mono_abs;
}

static int
clamp_rho_d (double *dst, const double *rho)
{
  for (int a = 0; a < MV_NRHO; a++)
    {
      double x = rho[a];
      if (!isfinite (x) || fabs (x) > 1.0 + MV_RHO_SLACK)
        return mv_error_set (MV_EDOM, "expect: correlation %d = %g outside [-1, 1]", a, x);
      dst[a] = fmax (-1.0, fmin (1.0, x));
    }
  return MV_OK;
}

static void
finish_bounds_d (mv_expect_vald *out, double mono_abs, double val_scale,
                 double tail, unsigned N, const mv_expect_ws *ws)
{
  bounds_d (&out->err, &out->derr, mono_abs, val_scale, tail, N, ws);
  out->nterms = N;
}

int
mv_expect_pair_d (mv_expect_vald *out, const double rho[MV_NRHO], int want_grad,
                  const mv_expect_ws *ws)
{
  double r[MV_NRHO], F[MV_NF], ltail;
  int s = clamp_rho_d (r, rho);
  if (s)
    return s;
  unsigned N = mv_expect_series_d (F, &ltail, r[MV_RHO_AC],
                                   (want_grad & 1) ? MV_NF_GRAD : MV_NF_VAL,
                                   LTARGET_D, ws);
  double vs, mono_abs = assemble_d (out, &vs, r, F, want_grad, ws);
  finish_bounds_d (out, mono_abs, vs, exp (ltail), N, ws);
  if (want_grad & MV_EXPECT_NOBOUND)
    out->err = out->derr = NAN;
  return MV_OK;
}

int
mv_expect_self_d (mv_expect_vald *out, double r, int want_grad,
                  const mv_expect_ws *ws)
{
  double rho[MV_NRHO] = { r, 1.0, r, r, 1.0, r }, rr[MV_NRHO];
  int s = clamp_rho_d (rr, rho);
  if (s)
    return s;
  double vs, mono_abs = assemble_d (out, &vs, rr, ws->F1d, want_grad, ws);
  if (want_grad & 1)
    out->dP[0] = out->dP[MV_RHO_AB] + out->dP[MV_RHO_AE] + out->dP[MV_RHO_BC]
                 + out->dP[MV_RHO_CE];
  finish_bounds_d (out, mono_abs, out->abs_sum, ws->F1d_err, 0, ws);
  out->nterms = ws->nmax_d;
  if (want_grad & 1)
    out->derr *= 4;
  if (want_grad & MV_EXPECT_NOBOUND)
    out->err = out->derr = NAN;
  return MV_OK;
}

/* ------------------------------------------------------- double Hessian */

/* Second partials of P = sum_t kappa_t prod_v x_v^{e_v} F_{f(t)}(r)
 * (x_v the five monomial correlations, r = rho_AC): d^2/dr^2 takes F_fdd,
 * d^2/dr dx_v lowers e_v and takes F_fd, d^2/dx_v dx_w lowers e_v and e_w
 * (e_v twice when v = w) and keeps F_f.  Branch-free and unrolled over the
 * five factors (all accumulators in registers): e x^(e-1) and
 * e(e-1) x^(e-2) are tabulated and vanish for e = 0 (resp. e <= 1). */
static void
assemble_hess_d (double hess[MV_NRHO][MV_NRHO], const double rho[MV_NRHO],
                 const double *F, const mv_expect_ws *ws)
{
  double pw[5][4], pl[5][4], pll[5][4];   /* x^e, e x^(e-1), e(e-1) x^(e-2) */
  for (int v = 0; v < 5; v++)
    {
      double x = rho[MONO_RHO[v]];
      pw[v][0] = 1.0, pw[v][1] = x, pw[v][2] = x * x, pw[v][3] = x * x * x;
      pl[v][0] = 0.0, pl[v][1] = 1.0, pl[v][2] = 2 * x, pl[v][3] = 3 * x * x;
      pll[v][0] = pll[v][1] = 0.0, pll[v][2] = 2.0, pll[v][3] = 6 * x;
    }
  double hrr = 0, hr0 = 0, hr1 = 0, hr2 = 0, hr3 = 0, hr4 = 0;
  double hd0 = 0, hd1 = 0, hd2 = 0, hd3 = 0, hd4 = 0;
  double h01 = 0, h02 = 0, h03 = 0, h04 = 0, h12 = 0, h13 = 0, h14 = 0,
         h23 = 0, h24 = 0, h34 = 0;
  for (int t = 0; t < MV_NTUPLE; t++)
    {
      const mv_tuple *tp = &ws->tuple[t];
      const unsigned e0 = tp->a1, e1 = tp->a2, e2 = tp->b1, e3 = tp->b2, e4 = tp->e;
      double P0 = pw[0][e0], P1 = pw[1][e1], P2 = pw[2][e2], P3 = pw[3][e3],
             P4 = pw[4][e4];
      double D0 = pl[0][e0], D1 = pl[1][e1], D2 = pl[2][e2], D3 = pl[3][e3],
             D4 = pl[4][e4];
      double P01 = P0 * P1, P34 = P3 * P4, P234 = P2 * P34, P012 = P01 * P2;
      /* kappa times every factor but v */
      double k = tp->kappa;
      double E0 = k * P1 * P234, E1 = k * P0 * P234, E2 = k * P01 * P34,
             E3 = k * P012 * P4, E4 = k * P012 * P3;
      double Ff = F[tp->f], Ffd = F[tp->fd], kF = k * Ff;
      hrr += k * P012 * P34 * F[tp->fdd];
      hr0 += E0 * D0 * Ffd, hd0 += E0 * pll[0][e0] * Ff;
      hr1 += E1 * D1 * Ffd, hd1 += E1 * pll[1][e1] * Ff;
      hr2 += E2 * D2 * Ffd, hd2 += E2 * pll[2][e2] * Ff;
      hr3 += E3 * D3 * Ffd, hd3 += E3 * pll[3][e3] * Ff;
      hr4 += E4 * D4 * Ffd, hd4 += E4 * pll[4][e4] * Ff;
      h01 += kF * D0 * D1 * P234;
      h02 += kF * D0 * D2 * P1 * P34;
      h03 += kF * D0 * D3 * P1 * P2 * P4;
      h04 += kF * D0 * D4 * P1 * P2 * P3;
      h12 += kF * D1 * D2 * P0 * P34;
      h13 += kF * D1 * D3 * P0 * P2 * P4;
      h14 += kF * D1 * D4 * P0 * P2 * P3;
      h23 += kF * D2 * D3 * P01 * P4;
      h24 += kF * D2 * D4 * P01 * P3;
      h34 += kF * D3 * D4 * P012;
    }
  /* monomial factor v is rho MONO_RHO[v]: AB, AE, BC, CE, BE */
  const double hr[5] = { hr0, hr1, hr2, hr3, hr4 };
  const double hd[5] = { hd0, hd1, hd2, hd3, hd4 };
  const double hp[5][5] = { { 0, h01, h02, h03, h04 }, { 0, 0, h12, h13, h14 },
                            { 0, 0, 0, h23, h24 }, { 0, 0, 0, 0, h34 } };
  hess[MV_RHO_AC][MV_RHO_AC] = hrr;
  for (int v = 0; v < 5; v++)
    {
      int a = MONO_RHO[v];
      hess[MV_RHO_AC][a] = hess[a][MV_RHO_AC] = hr[v];
      hess[a][a] = hd[v];
      for (int w = v + 1; w < 5; w++)
        {
          int b = MONO_RHO[w];
          hess[a][b] = hess[b][a] = hp[v][w];
        }
    }
}

int
mv_expect_pair_hess_d (mv_expect_vald *out, double hess[MV_NRHO][MV_NRHO],
                       const double rho[MV_NRHO], const mv_expect_ws *ws)
{
  double r[MV_NRHO], F[MV_NF], ltail, ltailh;
  unsigned nh;
  int s = clamp_rho_d (r, rho);
  if (s)
    return s;
  /* value and gradient series exactly as mv_expect_pair_d (same terms, same
   * roundings), so P and dP agree bit for bit */
  unsigned N = mv_expect_series_hd (F, &ltail, &ltailh, &nh, r[MV_RHO_AC],
                                    LTARGET_D, ws);
  double vs, mono_abs = assemble_d (out, &vs, r, F, 1, ws);
  finish_bounds_d (out, mono_abs, vs, exp (ltail), N, ws);
  assemble_hess_d (hess, r, F, ws);
  return MV_OK;
}

int
mv_expect_self_hess_d (mv_expect_vald *out, double *d2, double r,
                       const mv_expect_ws *ws)
{
  int s = mv_expect_self_d (out, r, 1, ws);
  if (s)
    return s;
  double rho[MV_NRHO] = { r, 1.0, r, r, 1.0, r }, rr[MV_NRHO];
  double hess[MV_NRHO][MV_NRHO];
  clamp_rho_d (rr, rho);
  assemble_hess_d (hess, rr, ws->F1d, ws);
  /* r enters through AB, AE, BC, CE: d^2P/dr^2 = sum of that 4 x 4 block */
  static const int R[4] = { MV_RHO_AB, MV_RHO_AE, MV_RHO_BC, MV_RHO_CE };
  double sum = 0;
  for (int a = 0; a < 4; a++)
    for (int b = 0; b < 4; b++)
      sum += hess[R[a]][R[b]];
  *d2 = sum;
  return MV_OK;
}
