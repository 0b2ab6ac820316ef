/* Evaluation of pair expectations from the tables of expect_tables.c:
 * one pass over n updates every F_{p,q}(rho_AC), then 30 monomials in the
 * other five correlations assemble P and its six partial derivatives. */
#include "expect_priv.h"
#include <moeverify/error.h>

#include <math.h>

/* monomial variables in tuple order: AB (a1), AE (a2), BC (b1), CE (b2), BE (e) */
static const int MONO_RHO[5] = { MV_RHO_AB, MV_RHO_AE, MV_RHO_BC, MV_RHO_CE, MV_RHO_BE };

static unsigned
choose_terms (double *tail, double rabs, double target, unsigned nmax,
              const mv_expect_ws *ws)
{
  if (target <= 0 || rabs >= 1.0)
    {
      *tail = (rabs >= 1.0 ? 1.0 : 1.0) * ws->tail1[nmax];
      return nmax;
    }
  double lr = rabs > 0 ? log (rabs) : -INFINITY;
  double lt = log (target / ws->kappa_sum);
  for (unsigned n = 0; n < nmax; n++)
    {
      double l = (n > 0 ? n * lr : 0.0) + log (ws->tail1[n]);
      if (l <= lt)
        {
          *tail = exp (l);
          return n;
        }
    }
  *tail = exp (nmax * lr) * ws->tail1[nmax];
  return nmax;
}

unsigned
mv_expect_series (mpfr_t *F, double *tail, const mpfr_t r, int nf,
                  double target, mv_expect_ws *ws)
{
  double rabs = fabs (mpfr_get_d (r, MPFR_RNDU));
  unsigned N = choose_terms (tail, rabs, target, ws->nmax, ws);
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

unsigned
mv_expect_series_d (double *F, double *tail, double r, int nf, double target,
                    const mv_expect_ws *ws)
{
  unsigned N = choose_terms (tail, fabs (r), target, ws->nmax_d, ws);
  for (int i = 0; i < nf; i++)
    F[i] = 0.0;
  double pw = 1.0;
  /* parity: w_i[n] vanishes unless n + p_i is odd (or n = p = q = 0) */
  F[0] = ws->wd[0][0];
  for (unsigned n = 0; n < N; n++)
    {
      int par = (n & 1) ? 0 : 1;   /* p parity with n + p odd */
      for (int i = 0; i < nf; i++)
        if ((ws->fp[i] & 1) == par)
          F[i] += ws->wd[i][n] * pw;
      pw *= r;
    }
  if (N == 0)
    F[0] = 0.0;
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
      double tm = fabs (mpfr_get_d (ws->t, MPFR_RNDN));
      mono_abs += tm;
      *val_scale += tm * ws->wabs_i[tp->f];
      abs_sum += tm * fabs (mpfr_get_d (F[tp->f], MPFR_RNDN));
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
          if (fabs (mpfr_get_d (dst[a], MPFR_RNDN)) > 1.0 + 1e-12)
            return mv_error_set (MV_EDOM, "expect: correlation %d = %g outside [-1, 1]",
                                 a, mpfr_get_d (dst[a], MPFR_RNDN));
          mpfr_set_si (dst[a], mpfr_sgn (dst[a]), MPFR_RNDN);
        }
    }
  return MV_OK;
}

/* Error bounds: truncation (tail per series times the monomials), the
 * coefficients' error, and rounding of N-term sums at precision u. */
static void
bounds (double *err, double *derr, double mono_abs, double val_scale,
        double tail, unsigned N, double u, const mv_expect_ws *ws)
{
  double per_term = (2.0 * N + 80.0) * u + 2 * ws->coef_relerr;
  *err = mono_abs * tail + per_term * val_scale;
  *derr = 3.0 * ws->kappa_sum * tail + per_term * ws->der_scale;
}

static void
finish_bounds (mv_expect_val *out, double mono_abs, double val_scale,
               double tail, unsigned N, const mv_expect_ws *ws)
{
  bounds (&out->err, &out->derr, mono_abs, val_scale, tail, N,
          ldexp (1.0, -(int) ws->wp), ws);
  double rnd_out = ldexp (fabs (mpfr_get_d (out->P, MPFR_RNDN)), -(int) ws->prec);
  out->err += rnd_out;
  out->derr += ldexp (ws->der_scale, -(int) ws->prec);
  out->nterms = N;
}

void
mv_expect_val_init (mv_expect_val *v, mpfr_prec_t prec)
{
  mpfr_init2 (v->P, prec);
  for (int a = 0; a < MV_NRHO; a++)
    mpfr_init2 (v->dP[a], prec);
  v->err = v->derr = v->abs_sum = 0;
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
  int s = clamp_rho (ws->rhoc, rho);
  if (s)
    return s;
  double tail;
  double target = ldexp (1.0, -(int) (ws->prec + 12));
  unsigned N = mv_expect_series (ws->F, &tail, ws->rhoc[MV_RHO_AC],
                                 want_grad ? MV_NF : 10, target, ws);
  double vs, mono_abs = assemble (out, &vs, (mpfr_t const *) ws->rhoc, ws->F, want_grad, ws);
  finish_bounds (out, mono_abs, vs, tail, N, ws);
  return MV_OK;
}

int
mv_expect_self (mv_expect_val *out, const mpfr_t r, int want_grad,
                mv_expect_ws *ws)
{
  mpfr_t rr[MV_NRHO];
  for (int a = 0; a < MV_NRHO; a++)
    mpfr_init2 (rr[a], ws->wp);
  for (int a = 0; a < MV_NRHO; a++)
    mpfr_set (rr[a], r, MPFR_RNDN);
  mpfr_set_ui (rr[MV_RHO_AC], 1, MPFR_RNDN);
  mpfr_set_ui (rr[MV_RHO_BE], 1, MPFR_RNDN);
  int s = clamp_rho (ws->rhoc, (mpfr_t const *) rr);
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
  finish_bounds (out, mono_abs, out->abs_sum, ws->F1_err, 0, ws);
  out->nterms = ws->nmax;
  if (want_grad)
    out->derr *= 4;
  return MV_OK;
}

/* ---------------------------------------------------------------- double */

static double
assemble_d (mv_expect_vald *out, double *val_scale, const double rho[MV_NRHO],
            const double *F, int want_grad, const mv_expect_ws *ws)
{
  double vs = 0;
  double pw[5][4];
  for (int v = 0; v < 5; v++)
    {
      pw[v][0] = 1.0;
      for (int k = 1; k < 4; k++)
        pw[v][k] = pw[v][k - 1] * rho[MONO_RHO[v]];
    }
  double P = 0, dP[MV_NRHO] = { 0 }, mono_abs = 0, abs_sum = 0;
  for (int t = 0; t < MV_NTUPLE; t++)
    {
      const mv_tuple *tp = &ws->tuple[t];
      const unsigned ex[5] = { tp->a1, tp->a2, tp->b1, tp->b2, tp->e };
      double m = tp->kappa * pw[0][ex[0]] * pw[1][ex[1]] * pw[2][ex[2]]
                 * pw[3][ex[3]] * pw[4][ex[4]];
      mono_abs += fabs (m);
      vs += fabs (m) * ws->wabs_i[tp->f];
      abs_sum += fabs (m * F[tp->f]);
      P += m * F[tp->f];
      if (!want_grad)
        continue;
      dP[MV_RHO_AC] += m * F[tp->fd];
      for (int v = 0; v < 5; v++)
        {
          if (!ex[v])
            continue;
          double d = tp->kappa * ex[v] * pw[v][ex[v] - 1] * F[tp->f];
          for (int o = 0; o < 5; o++)
            if (o != v)
              d *= pw[o][ex[o]];
          dP[MONO_RHO[v]] += d;
        }
    }
  out->P = P;
  for (int a = 0; a < MV_NRHO; a++)
    out->dP[a] = dP[a];
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
      if (!isfinite (x) || fabs (x) > 1.0 + 1e-12)
        return mv_error_set (MV_EDOM, "expect: correlation %d = %g outside [-1, 1]", a, x);
      dst[a] = fmax (-1.0, fmin (1.0, x));
    }
  return MV_OK;
}

static void
finish_bounds_d (mv_expect_vald *out, double mono_abs, double val_scale,
                 double tail, unsigned N, const mv_expect_ws *ws)
{
  bounds (&out->err, &out->derr, mono_abs, val_scale, tail, N, ldexp (1.0, -53), ws);
  out->nterms = N;
}

int
mv_expect_pair_d (mv_expect_vald *out, const double rho[MV_NRHO], int want_grad,
                  const mv_expect_ws *ws)
{
  double r[MV_NRHO], F[MV_NF], tail;
  int s = clamp_rho_d (r, rho);
  if (s)
    return s;
  unsigned N = mv_expect_series_d (F, &tail, r[MV_RHO_AC], want_grad ? MV_NF : 10,
                                   ldexp (1.0, -60), ws);
  double vs, mono_abs = assemble_d (out, &vs, r, F, want_grad, ws);
  finish_bounds_d (out, mono_abs, vs, tail, N, ws);
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
  if (want_grad)
    out->dP[0] = out->dP[MV_RHO_AB] + out->dP[MV_RHO_AE] + out->dP[MV_RHO_BC]
                 + out->dP[MV_RHO_CE];
  finish_bounds_d (out, mono_abs, out->abs_sum, ws->F1d_err, 0, ws);
  out->nterms = ws->nmax_d;
  if (want_grad)
    out->derr *= 4;
  return MV_OK;
}
