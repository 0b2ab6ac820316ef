/* Construction of the pair-expectation tables for one precision: the
 * 30 diagram tuples, the series weights c_{n+p} c_{n+q} / n!, the envelope
 * tail used for truncation bounds, and the self-pair constants F_{p,q}(1).
 * The four Hessian-only series (p + q = 10) get their own envelope tail and
 * double weights only, so the value and gradient tables, term counts and
 * bounds are those of the first MV_NF_GRAD series alone. */
#include "series/expect_priv.h"
#include <moeverify/error.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char FP[MV_NF] = { 0, 0, 1, 0, 1, 2, 0, 1, 2, 3, 1, 2, 3, 4,
                                         2, 3, 4, 5 };
static const unsigned char FQ[MV_NF] = { 0, 2, 1, 4, 3, 2, 6, 5, 4, 3, 7, 6, 5, 4,
                                         8, 7, 6, 5 };

static int
f_index (unsigned p, unsigned q)
{
  if (p > q)
    {
      unsigned t = p;
      p = q;
      q = t;
    }
  for (int i = 0; i < MV_NF; i++)
    if (FP[i] == p && FQ[i] == q)
      return i;
  return -1;
}

static double
fact (unsigned n)
{
  double f = 1;
  for (unsigned i = 2; i <= n; i++)
    f *= i;
  return f;
}

static void
build_tuples (mv_expect_ws *ws)
{
  int t = 0;
  ws->kappa_sum = 0;
  for (unsigned e = 0; e <= 3; e++)
    for (unsigned a1 = 0; a1 <= 3 - e; a1++)
      for (unsigned a2 = 0; a2 <= 3 - e; a2++)
        {
          unsigned b1 = 3 - e - a1, b2 = 3 - e - a2;
          mv_tuple *tp = &ws->tuple[t++];
          tp->a1 = a1, tp->a2 = a2, tp->b1 = b1, tp->b2 = b2, tp->e = e;
          tp->f = f_index (a1 + a2, b1 + b2);
          tp->fd = f_index (a1 + a2 + 1, b1 + b2 + 1);
          tp->fdd = f_index (a1 + a2 + 2, b1 + b2 + 2);
          tp->kappa = 36.0 / (fact (a1) * fact (a2) * fact (b1) * fact (b2) * fact (e));
          ws->kappa_sum += tp->kappa;
        }
  ws->lkappa_sum = log (ws->kappa_sum);
}

/* ln(e^a + e^b), exact in the sense of libm (no underflow at any scale) */
static double
log_add (double a, double b)
{
  if (a == -INFINITY)
    return b;
  if (b == -INFINITY)
    return a;
  double hi = fmax (a, b), lo = fmin (a, b);
  return hi + log1p (exp (lo - hi));
}

/* Envelope |w_i[j]| <= exp(lb_{j+p} + lb_{j+q} - ln j!) from the rigorous
 * coefficient bound; fills ws->ltail1[n] (n < len) with the log of the
 * suffix maxima over i < MV_NF_GRAD of the tail sums, ws->ltailh with the
 * same over the Hessian-only series, and returns the table length (0 when
 * out of memory).  Logarithms throughout: at 2048 bits the tails are far
 * below the double range.  The cut-off is set by the first group alone, so
 * ltail1 does not depend on the Hessian series; the remainder bound holds
 * for them too (their extra factor ~n is swamped by exp(-2 pi sqrt n)). */
static unsigned
envelope_tail (mv_expect_ws *ws, unsigned len, mpfr_prec_t prec)
{
  /* run the envelope well past where it drops below 2^-(prec+80) */
  double stop = -(prec + 80.0) * M_LN2 - 25.0;
  unsigned cap = 4 * len + 1000;
  /* lb up to index cap + 1 + max q */
  double *lb = malloc ((cap + 10) * sizeof *lb);
  ws->ltail1 = malloc ((cap + 1) * sizeof *ws->ltail1);
  ws->ltailh = malloc ((cap + 1) * sizeof *ws->ltailh);
  if (!lb || !ws->ltail1 || !ws->ltailh)
    {
      free (lb);
      return 0;
    }
  for (unsigned k = 0; k < cap + 10; k++)
    lb[k] = mv_hermite_coeff_log_bound (k);
  unsigned end = cap;
  for (unsigned j = len; j < cap; j++)
    {
      double lmax = -INFINITY;
      for (int i = 0; i < MV_NF_GRAD; i++)
        if ((j + FP[i]) % 2 == 1)
          lmax = fmax (lmax, lb[j + FP[i]] + lb[j + FQ[i]] - lgamma (j + 1.0));
      if (lmax < stop && j > 2 * len)
        {
          end = j;
          break;
        }
    }
  /* remainder past `end`: terms fall like exp(-2 pi sqrt j); their sum is
   * below term * (sqrt(j) + 10) * 4 (proofs/pair-expectation.md) */
  double lsum[MV_NF];
  for (int i = 0; i < MV_NF; i++)
    lsum[i] = lb[end + 1 + FP[i]] + lb[end + 1 + FQ[i]] - lgamma (end + 2.0)
              + log ((sqrt ((double) end) + 10.0) * 4.0);
  for (unsigned j = end; j-- > 0;)
    {
      double m = -INFINITY, mh = -INFINITY;
      for (int i = 0; i < MV_NF; i++)
        {
          if ((j + FP[i]) % 2 == 1)
            lsum[i] = log_add (lsum[i], lb[j + FP[i]] + lb[j + FQ[i]] - lgamma (j + 1.0));
          if (i < MV_NF_GRAD)
            m = fmax (m, lsum[i]);
          else
            mh = fmax (mh, lsum[i]);
        }
      if (j <= cap)
        ws->ltail1[j] = m, ws->ltailh[j] = mh;
    }
  free (lb);
  return end;
}

/* Term counts: nmax for the target precision, nmax_d and nmax_hd for the
 * double path (truncation below 2^-62 absolute). */
static int
choose_nmax (mv_expect_ws *ws)
{
  mpfr_prec_t prec = ws->prec;
  unsigned guess = (unsigned) pow ((prec + 40.0) * M_LN2 / (2 * M_PI) + 4.0, 2.0) + 64;
  unsigned tlen = envelope_tail (ws, guess, prec);
  if (!tlen)
    return mv_error_set (MV_ENOMEM, "expect: out of memory");
  double lt = -(prec + 12.0) * M_LN2 - ws->lkappa_sum, ld = -62 * M_LN2 - ws->lkappa_sum;
  ws->nmax = ws->nmax_d = 0;
  for (unsigned n = 0; n < tlen; n++)
    {
      if (!ws->nmax_d && ws->ltail1[n] <= ld)
        ws->nmax_d = n;
      if (ws->ltail1[n] <= lt)
        {
          ws->nmax = n;
          break;
        }
    }
  if (!ws->nmax)
    return mv_error_set (MV_ENOCONV, "expect: series envelope did not reach %ld bits",
                         (long) prec);
  if (ws->nmax_d == 0 || ws->nmax_d > ws->nmax)
    ws->nmax_d = ws->nmax;
  /* the Hessian-only series converge more slowly (an extra factor ~n); at
   * the lowest precisions the tables end first, where kappa_sum * tailh is
   * still below 3e-18 (absolute, on second derivatives of size 0.1..100) */
  ws->nmax_hd = ws->nmax;
  for (unsigned n = 0; n < ws->nmax; n++)
    if (ws->ltailh[n] <= ld)
      {
        ws->nmax_hd = n;
        break;
      }
  for (int i = 0; i < MV_NF; i++)
    {
      int par = FP[i] & 1;
      ws->par_i[par][ws->par_n[par]++] = (unsigned char) i;
    }
  return MV_OK;
}

static int
alloc_scratch (mv_expect_ws *ws)
{
  for (int i = 0; i < MV_NF; i++)
    {
      mpfr_init2 (ws->F[i], ws->wp), mpfr_init2 (ws->F1[i], ws->wp);
      mpfr_set_zero (ws->F1[i], 1);
    }
  mpfr_inits2 (ws->wp, ws->pw, ws->t, ws->u, (mpfr_ptr) 0);
  for (int a = 0; a < 5; a++)
    for (int b = 0; b < 4; b++)
      mpfr_init2 (ws->pows[a][b], ws->wp);
  for (int a = 0; a < MV_NRHO; a++)
    mpfr_init2 (ws->rhoc[a], ws->wp);
  for (int i = 0; i < MV_NF; i++)
    {
      ws->wd[i] = malloc (ws->nmax * sizeof (double));
      if (!ws->wd[i])
        return MV_ENOMEM;
      if (i >= MV_NF_GRAD || !ws->mp)
        continue;
      ws->w[i] = calloc (ws->nmax, sizeof (mpfr_t));
      if (!ws->w[i])
        return MV_ENOMEM;
      for (unsigned n = 0; n < ws->nmax; n++)
        mpfr_init2 (ws->w[i][n], ws->wp);
    }
  ws->wpack = malloc ((size_t) ws->nmax * MV_NF * sizeof *ws->wpack);
  return ws->wpack ? MV_OK : MV_ENOMEM;
}

/* Series weights w_i[n] = c_{n+p} c_{n+q} / n! at the working precision,
 * rounded to double for the double path; the MPFR ones are kept only for
 * the MPFR path.  Without them (double-only tables) F_{p,q}(1) is summed
 * here, term by term in the order mv_expect_series would (same bits). */
static void
build_weights (mv_expect_ws *ws)
{
  mpfr_t fct;
  mpfr_init2 (fct, ws->wp);
  mpfr_set_ui (fct, 1, MPFR_RNDN);
  for (unsigned n = 0; n < ws->nmax; n++)
    {
      if (n > 1)
        mpfr_mul_ui (fct, fct, n, MPFR_RNDN);       /* n! */
      for (int i = 0; i < MV_NF; i++)
        {
          int keep = ws->mp && i < MV_NF_GRAD;
          mpfr_ptr w = keep ? ws->w[i][n] : ws->t;
          mpfr_mul (w, ws->coef->c[n + FP[i]], ws->coef->c[n + FQ[i]], MPFR_RNDN);
          mpfr_div (w, w, fct, MPFR_RNDN);
          ws->wd[i][n] = mpfr_get_d (w, MPFR_RNDN);
          if (!keep && !mpfr_zero_p (w))
            mpfr_add (ws->F1[i], ws->F1[i], w, MPFR_RNDN);
        }
    }
  mpfr_clear (fct);
}

/* Packed weights and the absolute sums behind the bounds (from wd alone,
 * so the compiled and the MPFR-built tables give the same bits). */
static void
finish_weights (mv_expect_ws *ws)
{
  double wsum[MV_NF] = { 0 };
  for (unsigned n = 0; n < ws->nmax; n++)
    for (int i = 0; i < MV_NF; i++)
      wsum[i] += fabs (ws->wd[i][n]);
  /* term n feeds only the series with n + p odd: pack those weights */
  for (unsigned n = 0; n < ws->nmax; n++)
    {
      int par = (n & 1) ? 0 : 1;
      for (int j = 0; j < ws->par_n[par]; j++)
        ws->wpack[(size_t) n * MV_NF + j] = ws->wd[ws->par_i[par][j]][n];
    }
  for (int i = 0; i < MV_NF; i++)
    {
      if (i < MV_NF_GRAD)
        ws->wabs = fmax (ws->wabs, wsum[i]);
      ws->wabs_i[i] = wsum[i];
    }
  /* every |rho| <= 1, so each derivative term is at most kappa * exponent
   * times the absolute sum of its series */
  ws->der_scale = 0;
  for (int t = 0; t < MV_NTUPLE; t++)
    {
      const mv_tuple *tp = &ws->tuple[t];
      double ex = tp->a1 + tp->a2 + tp->b1 + tp->b2 + tp->e;
      ws->der_scale += tp->kappa * (wsum[tp->fd] + ex * wsum[tp->f]);
    }
}

/* Self-pair constants F_{p,q}(1): every tabulated term, with the envelope
 * tail, the rounding of nmax-term sums and the coefficients' error. */
static void
self_constants (mv_expect_ws *ws)
{
  double ltail = ws->ltail1[ws->nmax];
  unsigned used = ws->nmax;
  if (ws->mp)
    {
      mpfr_t one;
      mpfr_init2 (one, ws->wp);
      mpfr_set_ui (one, 1, MPFR_RNDN);
      used = mv_expect_series (ws->F, &ltail, one, MV_NF_GRAD, -INFINITY, ws);
      for (int i = 0; i < MV_NF_GRAD; i++)
        mpfr_set (ws->F1[i], ws->F[i], MPFR_RNDN);
      mpfr_clear (one);
    }
  mv_mag t;
  mv_mag_set_exp (&ws->F1_err, ltail);
  mv_mag_set_d_2exp (&t, (2.0 * used + 20.0) * ws->wabs, -(long) ws->wp);
  mv_mag_add (&ws->F1_err, &ws->F1_err, &t);
  mv_mag_mul_d (&t, &ws->coef_relerr, 2 * ws->wabs);
  mv_mag_add (&ws->F1_err, &ws->F1_err, &t);
  if (ws->coef)      /* else the compiled F1d are in place */
    for (int i = 0; i < MV_NF; i++)
      ws->F1d[i] = mpfr_get_d (ws->F1[i], MPFR_RNDN);
  ws->F1d_err = mv_mag_get_d (&ws->F1_err) + ldexp (ws->wabs, -MV_PREC_DOUBLE);
}

/* The compiled double tables into ws (nmax already chosen). */
static void
copy_builtin (mv_expect_ws *ws)
{
  const mv_expect_table53 *b = &mv_expect_builtin53;
  for (int i = 0; i < MV_NF; i++)
    {
      memcpy (ws->wd[i], b->wd + (size_t) i * b->nmax, b->nmax * sizeof (double));
      ws->F1d[i] = b->F1d[i];
    }
}

mv_expect_ws *
mv_expect_alloc (mpfr_prec_t prec)
{
  return mv_expect_alloc_tables (prec, 1);
}

mv_expect_ws *
mv_expect_alloc_tables (mpfr_prec_t prec, int use_builtin)
{
  mv_init ();
  if (prec < MV_PREC_MIN || prec > MV_PREC_MAX)
    {
      mv_error_set (MV_EPREC, "precision %ld bits out of range [%d, %d]",
                    (long) prec, MV_PREC_MIN, MV_PREC_MAX);
      return NULL;
    }
  mv_expect_ws *ws = calloc (1, sizeof *ws);
  if (!ws)
    {
      mv_error_set (MV_ENOMEM, "expect: out of memory");
      return NULL;
    }
  ws->prec = prec;
  ws->mp = prec > MV_PREC_DOUBLE;
  ws->wp = prec + 24 + (mpfr_prec_t) ceil (log2 ((double) prec));
  memcpy (ws->fp, FP, sizeof FP);
  memcpy (ws->fq, FQ, sizeof FQ);
  build_tuples (ws);
  if (choose_nmax (ws))
    {
      mv_expect_free (ws);
      return NULL;
    }
  int builtin = use_builtin && prec == MV_PREC_DOUBLE
    && mv_expect_builtin53.nmax == ws->nmax;
  if (!builtin && !(ws->coef = mv_hermite_table_alloc (ws->nmax + 8, ws->wp)))
    {
      mv_expect_free (ws);
      return NULL;
    }
  mv_mag_zero (&ws->coef_relerr);
  if (builtin)
    {
      ws->coef_relerr.man = mv_expect_builtin53.relerr_man;
      ws->coef_relerr.exp = mv_expect_builtin53.relerr_exp;
    }
  else
    for (unsigned k = 0; k <= ws->nmax + 8; k++)
      mv_mag_max (&ws->coef_relerr, &ws->coef_relerr, &ws->coef->relerr[k]);
  ws->coef_relerr_d = mv_mag_get_d (&ws->coef_relerr);
  if (alloc_scratch (ws))
    {
      mv_expect_free (ws);
      mv_error_set (MV_ENOMEM, "expect: out of memory");
      return NULL;
    }
  if (builtin)
    copy_builtin (ws);
  else
    build_weights (ws);
  finish_weights (ws);
  self_constants (ws);
  return ws;
}

void
mv_expect_free (mv_expect_ws *ws)
{
  if (!ws)
    return;
  for (int i = 0; i < MV_NF; i++)
    {
      if (ws->w[i])
        for (unsigned n = 0; n < ws->nmax; n++)
          if (ws->w[i][n]->_mpfr_d)
            mpfr_clear (ws->w[i][n]);
      free (ws->w[i]);
      free (ws->wd[i]);
    }
  if (ws->pw->_mpfr_d)
    {
      for (int i = 0; i < MV_NF; i++)
        mpfr_clear (ws->F[i]), mpfr_clear (ws->F1[i]);
      mpfr_clears (ws->pw, ws->t, ws->u, (mpfr_ptr) 0);
      for (int a = 0; a < 5; a++)
        for (int b = 0; b < 4; b++)
          mpfr_clear (ws->pows[a][b]);
      for (int a = 0; a < MV_NRHO; a++)
        mpfr_clear (ws->rhoc[a]);
    }
  free (ws->wpack);
  mv_hermite_table_free (ws->coef);
  free (ws->ltail1);
  free (ws->ltailh);
  free (ws);
}

mpfr_prec_t
mv_expect_prec (const mv_expect_ws *ws)
{
  return ws->prec;
}

unsigned
mv_expect_max_terms (const mv_expect_ws *ws)
{
  return ws->nmax;
}
