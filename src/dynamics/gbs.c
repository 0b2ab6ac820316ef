/* Gragg-Bulirsch-Stoer extrapolation in MPFR (proofs/reference-integrator.md):
 * Gragg's modified midpoint rule with the step numbers n_j = 2(j + 1),
 * Aitken-Neville extrapolation in h^2 with the exact rational weights
 * n_{j-c}^2 / (n_j^2 - n_{j-c}^2), and the step-size and order control of
 * Hairer, Norsett & Wanner, Solving ODEs I, II.9 (the code ODEX). */
#include "base/mpfr_vec.h"
#include <moeverify/reference.h>
#include <moeverify/error.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KMAX_LIMIT 40

struct mv_gbs_ws {
  size_t dim;
  unsigned kmax;
  mpfr_prec_t prec;
  mpfr_t *tab;             /* kmax x dim: row j of the table, in place */
  mpfr_t *f0, *za, *zb, *fz, *cur, *nxt;  /* dim each */
  mpfr_t H, h, h2, tt, tmp;
  double err[KMAX_LIMIT], hopt[KMAX_LIMIT], work[KMAX_LIMIT];
  unsigned long cost[KMAX_LIMIT];  /* A_j: evaluations for rows 0..j */
  mv_gbs_stats st;
  int last_rejected;
};

static unsigned long
nseq (unsigned j)
{
  return 2UL * (j + 1);
}

void
mv_gbs_params_default (mv_gbs_params *p)
{
  memset (p, 0, sizeof *p);
  p->tol = 1e-40;
}

mv_gbs_ws *
mv_gbs_alloc (size_t dim, unsigned kmax, mpfr_prec_t prec)
{
  mv_init ();
  if (!kmax)
    kmax = MV_GBS_KMAX;
  if (dim == 0 || kmax < 4 || kmax > KMAX_LIMIT || prec < MPFR_PREC_MIN
      || prec > MPFR_PREC_MAX)
    {
      mv_error_set (MV_EINVAL, "gbs: need dim >= 1, 4 <= kmax <= %d and a valid "
                    "precision (dim %zu, kmax %u, prec %ld)", KMAX_LIMIT, dim, kmax,
                    (long) prec);
      return NULL;
    }
  mv_gbs_ws *ws = calloc (1, sizeof *ws);
  if (!ws)
    {
      mv_error_set (MV_ENOMEM, "gbs: out of memory");
      return NULL;
    }
  ws->dim = dim, ws->kmax = kmax, ws->prec = prec;
  ws->tab = mv_mpfr_vec_new (kmax * dim, prec);
  mpfr_t **v[6] = { &ws->f0, &ws->za, &ws->zb, &ws->fz, &ws->cur, &ws->nxt };
  int ok = ws->tab != NULL;
  for (int i = 0; i < 6; i++)
    ok &= (*v[i] = mv_mpfr_vec_new (dim, prec)) != NULL;
  mpfr_inits2 (prec, ws->H, ws->h, ws->h2, ws->tt, ws->tmp, (mpfr_ptr) 0);
  if (!ok)
    {
      mv_gbs_free (ws);
      mv_error_set (MV_ENOMEM, "gbs: out of memory (dim %zu at %ld bits)", dim, (long) prec);
      return NULL;
    }
  ws->cost[0] = nseq (0) + 1;
  for (unsigned j = 1; j < kmax; j++)
    ws->cost[j] = ws->cost[j - 1] + nseq (j);
  mv_gbs_reset (ws);
  return ws;
}

void
mv_gbs_free (mv_gbs_ws *ws)
{
  if (!ws)
    return;
  mv_mpfr_vec_free (ws->tab, ws->kmax * ws->dim);
  mpfr_t *v[6] = { ws->f0, ws->za, ws->zb, ws->fz, ws->cur, ws->nxt };
  for (int i = 0; i < 6; i++)
    mv_mpfr_vec_free (v[i], ws->dim);
  mpfr_clears (ws->H, ws->h, ws->h2, ws->tt, ws->tmp, (mpfr_ptr) 0);
  free (ws);
}

const mv_gbs_stats *
mv_gbs_stats_get (const mv_gbs_ws *ws)
{
  return &ws->st;
}

void
mv_gbs_reset (mv_gbs_ws *ws)
{
  memset (&ws->st, 0, sizeof ws->st);
  ws->last_rejected = 0;
}

/* Gragg's modified midpoint rule over the step H with n (even) substeps:
 * z_0 = y, z_1 = z_0 + h f(z_0), z_{i+1} = z_{i-1} + 2h f(z_i); the result
 * z_n (in ws->cur) has an error expansion in even powers of h = H/n (HNW
 * Thm II.9.2), which is what the extrapolation removes.  f(y) is f0. */
static int
midpoint (const mpfr_t t, mpfr_t *y, unsigned long n, mv_gbs_rhs_fn f, void *ctx,
          mv_gbs_ws *ws)
{
  size_t dim = ws->dim;
  mpfr_div_ui (ws->h, ws->H, n, MPFR_RNDN);
  mpfr_mul_2ui (ws->h2, ws->h, 1, MPFR_RNDN);
  mpfr_t *zp = ws->za, *zc = ws->zb;       /* z_{i-1}, z_i */
  for (size_t i = 0; i < dim; i++)
    {
      mpfr_set (zp[i], y[i], MPFR_RNDN);
      mpfr_fma (zc[i], ws->h, ws->f0[i], y[i], MPFR_RNDN);
    }
  for (unsigned long i = 1; i < n; i++)
    {
      mpfr_mul_ui (ws->tt, ws->h, i, MPFR_RNDN);
      mpfr_add (ws->tt, ws->tt, t, MPFR_RNDN);
      int s = f (ws->fz, ws->tt, zc, ctx);
      ws->st.rhs_evals++;
      if (s)
        return s;
      for (size_t k = 0; k < dim; k++)   /* z_{i+1} overwrites z_{i-1} */
        mpfr_fma (zp[k], ws->h2, ws->fz[k], zp[k], MPFR_RNDN);
      mpfr_t *sw = zp;
      zp = zc, zc = sw;
    }
  for (size_t i = 0; i < dim; i++)
    mpfr_swap (ws->cur[i], zc[i]);
  return MV_OK;
}

/* Row j of the Aitken-Neville table from the midpoint result in ws->cur:
 * T_{j,c} = T_{j,c-1} + (T_{j,c-1} - T_{j-1,c-1}) n_{j-c}^2 / (n_j^2 - n_{j-c}^2),
 * integer weights, so the coefficients are exact.  tab[c] holds row j-1
 * before and row j after; returns the scaled error of T_{j,j-1}. */
static double
extrapolate (unsigned j, mpfr_t *y, double tol, mv_gbs_ws *ws)
{
  size_t dim = ws->dim;
  unsigned long nj2 = nseq (j) * nseq (j);
  for (size_t i = 0; i < dim; i++)
    {
      for (unsigned c = 1; c <= j; c++)
        {
          mpfr_ptr prev = ws->tab[(c - 1) * dim + i];
          unsigned long nc2 = nseq (j - c) * nseq (j - c);
          mpfr_sub (ws->tmp, ws->cur[i], prev, MPFR_RNDN);
          mpfr_mul_ui (ws->tmp, ws->tmp, nc2, MPFR_RNDN);
          mpfr_div_ui (ws->tmp, ws->tmp, nj2 - nc2, MPFR_RNDN);
          mpfr_add (ws->nxt[i], ws->cur[i], ws->tmp, MPFR_RNDN);
          mpfr_swap (prev, ws->cur[i]);          /* T_{j,c-1} */
          mpfr_swap (ws->cur[i], ws->nxt[i]);
        }
      mpfr_swap (ws->tab[j * dim + i], ws->cur[i]);
    }
  if (j == 0)
    return INFINITY;
  /* max over components of |T_jj - T_{j,j-1}| / (tol (1 + max(|y|, |T_jj|))) */
  double e = 0;
  for (size_t i = 0; i < dim; i++)
    {
      mpfr_ptr a = ws->tab[j * dim + i], b = ws->tab[(j - 1) * dim + i];
      mpfr_sub (ws->tmp, a, b, MPFR_RNDA);
      double d = fabs (mpfr_get_d (ws->tmp, MPFR_RNDA));
      double sc = 1.0 + fmax (fabs (mpfr_get_d (y[i], MPFR_RNDN)),
                              fabs (mpfr_get_d (a, MPFR_RNDN)));
      e = fmax (e, d / (tol * sc));
    }
  return isnan (e) ? INFINITY : e;
}

/* Optimal step for row j from its error (HNW (9.23): local error of
 * T_{j,j-1} is O(H^{2j+1})), with ODEX's safety factors, and the work per
 * unit step W_j = A_j / H_j. */
static void
row_control (unsigned j, double H, mv_gbs_ws *ws)
{
  double expo = 1.0 / (2.0 * j + 1.0), e = ws->err[j];
  double fac = e > 0 ? 0.94 * pow (0.65 / e, expo) : 4.0;
  double facmin = pow (0.02, expo);
  fac = fmin (4.0, fmax (facmin, fac));
  ws->hopt[j] = H * fac;
  ws->work[j] = (double) ws->cost[j] / ws->hopt[j];
}

/* One attempt of the step H (ws->H) with target row k (2 <= k <= kmax-2):
 * rows 0..k+1 at most, stopping at the first convergence test of HNW II.9
 * that decides: accept in line k-1, k or k+1 when its error is <= 1; reject
 * early when the error in line k-1 or k is too large for line k+1 to
 * converge.  *acc receives the accepted row or -1; *last the last row. */
static int
attempt (int *acc, unsigned *last, const mpfr_t t, mpfr_t *y, unsigned k,
         mv_gbs_rhs_fn f, void *ctx, double tol, double H, mv_gbs_ws *ws)
{
  *acc = -1;
  double n0 = (double) nseq (0), nk = (double) nseq (k), nk1 = (double) nseq (k + 1);
  for (unsigned j = 0; j <= k + 1; j++)
    {
      int s = midpoint (t, y, nseq (j), f, ctx, ws);
      if (s)
        return s;
      ws->err[j] = extrapolate (j, y, tol, ws);
      *last = j;
      if (j == 0)
        continue;
      row_control (j, H, ws);
      if (j + 1 < k)
        continue;
      if (ws->err[j] <= 1)
        {
          *acc = (int) j;
          return MV_OK;
        }
      double r = j + 1 == k ? pow (nk1 * nk / (n0 * n0), 2) : pow (nk1 / n0, 2);
      if (j > k || ws->err[j] > r)
        return MV_OK;
    }
  return MV_OK;
}

/* Next target row and step (HNW II.9, "order and step size control"):
 * rows k-1 and k were computed (j >= k-1 is the last row).  Lower the
 * order when row k-1 is cheaper per unit step than row k (or, stopped at
 * k-1, row k-2 than row k-1); raise it when row k was clearly cheaper than
 * row k-1, never right after a rejection; otherwise keep k with the step
 * row k asks for (from row k-1 scaled by the work ratio A_k / A_{k-1} when
 * row k was not computed). */
static void
choose (unsigned j, double H, int rejected, mv_gbs_ws *ws)
{
  unsigned k = ws->st.k, kn = k;
  double *W = ws->work, hn;
  if (j >= k)
    hn = ws->hopt[k];
  else
    hn = ws->hopt[k - 1] * (double) ws->cost[k] / (double) ws->cost[k - 1];
  if (j >= k && W[k - 1] < 0.8 * W[k])
    kn = k - 1, hn = ws->hopt[k - 1];
  else if (j + 1 == k && k >= 3 && W[k - 2] < 0.8 * W[k - 1])
    kn = k - 1, hn = ws->hopt[k - 2] * (double) ws->cost[k - 1] / (double) ws->cost[k - 2];
  else if (j >= k && !rejected && !ws->last_rejected && W[k] < 0.9 * W[k - 1])
    kn = k + 1, hn = ws->hopt[k] * (double) ws->cost[k + 1] / (double) ws->cost[k];
  if (kn < 2)
    kn = 2;
  if (kn > ws->kmax - 2)
    kn = ws->kmax - 2;
  if (rejected || ws->last_rejected)
    hn = fmin (hn, H);
  ws->st.k = kn, ws->st.h = hn;
}

/* First target row from the tolerance: ODEX's -0.6 log10(tol) + 1.5
 * halved, since the rows here are indexed from 0 and start at n = 2. */
static unsigned
first_row (double tol, unsigned kmax)
{
  double k = -log10 (tol) * 0.3 + 1.5;
  unsigned r = k < 2 ? 2 : (unsigned) k;
  return r > kmax - 2 ? kmax - 2 : r;
}

static int
check_params (const mpfr_t t, const mpfr_t t1, const mv_gbs_params *p)
{
  if (!(p->tol >= 1e-290 && p->tol <= 1e-3))
    return mv_error_set (MV_EINVAL, "gbs: tolerance %g outside [1e-290, 1e-3]", p->tol);
  if (!(p->h0 >= 0) || !isfinite (p->h0))
    return mv_error_set (MV_EINVAL, "gbs: first step %g is not >= 0", p->h0);
  if (!mpfr_number_p (t) || !mpfr_number_p (t1) || mpfr_less_p (t1, t))
    return mv_error_set (MV_EINVAL, "gbs: end time %g before start %g",
                         mpfr_get_d (t1, MPFR_RNDN), mpfr_get_d (t, MPFR_RNDN));
  return MV_OK;
}

/* The step to attempt: H, or the exact rest t1 - t when H reaches it
 * (*last set).  MV_ENOCONV when H no longer changes t at this precision. */
static int
clip_step (int *last, double H, const mpfr_t t, const mpfr_t t1, mv_gbs_ws *ws)
{
  mpfr_sub (ws->tmp, t1, t, MPFR_RNDN);
  double rest = mpfr_get_d (ws->tmp, MPFR_RNDN);
  *last = H >= rest;
  if (*last)
    mpfr_set (ws->H, ws->tmp, MPFR_RNDN);
  else
    mpfr_set_d (ws->H, H, MPFR_RNDN);
  double scale = fabs (mpfr_get_d (t, MPFR_RNDN)) + rest;
  if (!(H > ldexp (scale, -(int) ws->prec + 16)))
    return mv_error_set (MV_ENOCONV, "gbs: step size %g underflows at t = %.17g",
                         H, mpfr_get_d (t, MPFR_RNDN));
  return MV_OK;
}

int
mv_gbs_evolve (mpfr_t *y, mpfr_t t, const mpfr_t t1, mv_gbs_rhs_fn f, void *ctx,
               const mv_gbs_params *p, mv_gbs_ws *ws)
{
  int s = check_params (t, t1, p);
  if (s)
    return s;
  if (!(ws->st.h > 0))
    {
      mpfr_sub (ws->tmp, t1, t, MPFR_RNDN);
      ws->st.h = p->h0 > 0 ? p->h0 : 1e-2 * mpfr_get_d (ws->tmp, MPFR_RNDN);
      ws->st.k = first_row (p->tol, ws->kmax);
    }
  unsigned long steps = 0;
  int f0_ok = 0;
  while (mpfr_less_p (t, t1))
    {
      if (p->interrupt && *p->interrupt)
        return MV_OK;
      if (p->max_steps && steps >= p->max_steps)
        return mv_error_set (MV_ENOCONV, "gbs: %lu steps did not reach t = %.17g "
                             "(stopped at %.17g)", steps, mpfr_get_d (t1, MPFR_RNDN),
                             mpfr_get_d (t, MPFR_RNDN));
      int last, acc;
      unsigned row;
      double H = ws->st.h;
      if ((s = clip_step (&last, H, t, t1, ws)))
        return s;
      H = mpfr_get_d (ws->H, MPFR_RNDN);
      if (!f0_ok)     /* f(y) is shared by every row and kept over rejections */
        {
          ws->st.rhs_evals++;
          if ((s = f (ws->f0, t, y, ctx)))
            return s;
          f0_ok = 1;
        }
      if ((s = attempt (&acc, &row, t, y, ws->st.k, f, ctx, p->tol, H, ws)))
        return s;
      steps++, ws->st.steps++;
      if (acc >= 0)
        {
          for (size_t i = 0; i < ws->dim; i++)
            mpfr_swap (y[i], ws->tab[(size_t) acc * ws->dim + i]);
          if (last)
            mpfr_set (t, t1, MPFR_RNDN);
          else
            mpfr_add (t, t, ws->H, MPFR_RNDN);
          f0_ok = 0;
          if (p->progress)
            p->progress (p->progress_ctx, mpfr_get_d (t, MPFR_RNDN));
        }
      else
        ws->st.rejected++;
      choose (row, H, acc < 0, ws);
      ws->last_rejected = acc < 0;
    }
  return MV_OK;
}
