/* The reduced flow's right-hand side in MPFR: the formulas of
 * flow_reduced.c (proofs/reduced-flow.md) on mv_loss_gram's L and dL/dG at
 * precision p, with no double in between.  M = g G, g = dL/dG:
 *   dG_kl/dt = A_kl + A_lk,  A_kl = -(M_kl - G_kl M_kk) / r_k^2  (k student),
 *   dE/dt = |grad L|^2 = sum_k ((M g)_kk - M_kk^2) / r_k^2.
 * M is a product of fixed-point integers (gemm_fixed: mpfr_dot and
 * fma loops cost ~300 ns a term, mpz_addmul a tenth of that); the energy
 * rate's dot products are mpfr_dot (correctly rounded). */
#include "base/mpfr_vec.h"
#include <moeverify/reference.h>
#include <moeverify/error.h>
#include <moeverify/expect.h>
#include <moeverify/hermite.h>
#include <moeverify/loss.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct mv_ref_red {
  size_t m, ms, n, nvar;
  double noise;
  mpfr_prec_t prec;
  mv_loss_ws *ws;
  mpfr_t *G, *g, *M, *r2;        /* n x n (M: the 2m student rows), n */
  mpfr_ptr *pG, *pg, *pM;        /* row pointers for mpfr_dot */
  mpz_t *Gz, *gz, accz;          /* fixed-point G (n x n), g's student rows */
  mpfr_t sc;                     /* scratch for the conversions */
  double *norms;                 /* n, teachers 1 */
  size_t *vk, *vl;               /* variable -> (k, l) */
  mpfr_t L, acc, tmp;
};

static int
check_input (const double *G0, const double *norms, size_t m, size_t n)
{
  for (size_t k = 0; k < n; k++)
    for (size_t l = 0; l < n; l++)
      {
        double v = G0[k * n + l];
        if (!isfinite (v) || fabs (v) > 1 + MV_RHO_SLACK || v != G0[l * n + k]
            || (k == l && fabs (v - 1.0) > MV_RHO_SLACK))
          return mv_error_set (MV_EDOM, "reference: Gram entry (%zu,%zu) = %g is not "
                               "a symmetric correlation with unit diagonal", k, l, v);
      }
  for (size_t k = 0; k < 2 * m; k++)
    if (!(norms[k] > 0) || !isfinite (norms[k]))
      return mv_error_set (MV_EDOM, "reference: norm %zu = %g is not positive", k,
                           norms[k]);
  return MV_OK;
}

/* n zeros at prec, their pointers in ptr (may be NULL) for mpfr_dot */
static mpfr_t *
vec_new (size_t n, mpfr_prec_t prec, mpfr_ptr *ptr)
{
  mpfr_t *v = mv_mpfr_vec_new (n, prec);
  for (size_t i = 0; v && ptr && i < n; i++)
    ptr[i] = v[i];
  return v;
}

void
mv_ref_red_free (mv_ref_red *w)
{
  if (!w)
    return;
  size_t nn = w->n * w->n;
  mv_mpfr_vec_free (w->G, nn), mv_mpfr_vec_free (w->g, nn);
  mv_mpfr_vec_free (w->M, nn), mv_mpfr_vec_free (w->r2, w->n);
  free (w->pG), free (w->pg), free (w->pM), free (w->norms), free (w->vk), free (w->vl);
  if (w->Gz)
    {
      for (size_t i = 0; i < nn; i++)
        mpz_clear (w->Gz[i]), mpz_clear (w->gz[i]);
      mpz_clear (w->accz);
    }
  free (w->Gz), free (w->gz);
  mv_loss_free (w->ws);
  mpfr_clears (w->L, w->acc, w->tmp, w->sc, (mpfr_ptr) 0);
  free (w);
}

/* Storage, the variable map and the exact initial Gram matrix. */
static int
red_setup (mv_ref_red *w, const double *G0, const double *norms)
{
  size_t n = w->n, nn = n * n, ns = 2 * w->m;
  w->pG = malloc (nn * sizeof *w->pG), w->pg = malloc (nn * sizeof *w->pg);
  w->pM = malloc (nn * sizeof *w->pM);
  w->Gz = malloc (nn * sizeof *w->Gz), w->gz = malloc (nn * sizeof *w->gz);
  if (!w->Gz || !w->gz)
    {
      free (w->Gz), free (w->gz), w->Gz = w->gz = NULL;
      return mv_error_set (MV_ENOMEM, "reference: out of memory");
    }
  for (size_t i = 0; i < nn; i++)
    mpz_init (w->Gz[i]), mpz_init (w->gz[i]);
  mpz_init (w->accz);
  w->norms = malloc (n * sizeof *w->norms);
  w->vk = malloc (w->nvar * sizeof *w->vk), w->vl = malloc (w->nvar * sizeof *w->vl);
  if (!w->pG || !w->pg || !w->pM || !w->norms || !w->vk || !w->vl)
    return mv_error_set (MV_ENOMEM, "reference: out of memory");
  w->G = vec_new (nn, w->prec, w->pG), w->g = vec_new (nn, w->prec, w->pg);
  w->M = vec_new (nn, w->prec, w->pM), w->r2 = vec_new (n, w->prec, NULL);
  if (!w->G || !w->g || !w->M || !w->r2)
    return mv_error_set (MV_ENOMEM, "reference: out of memory");
  for (size_t i = 0; i < nn; i++)
    mpfr_set_d (w->G[i], G0[i], MPFR_RNDN);      /* exact: prec > 53 */
  for (size_t k = 0; k < n; k++)
    {
      w->norms[k] = k < ns ? norms[k] : 1.0;
      /* the square of a double has at most 106 significant bits */
      mpfr_set_d (w->r2[k], w->norms[k], MPFR_RNDN);
      mpfr_sqr (w->r2[k], w->r2[k], MPFR_RNDN);
    }
  size_t a = 0;
  for (size_t k = 0; k < ns; k++)
    for (size_t l = k + 1; l < n; l++, a++)
      w->vk[a] = k, w->vl[a] = l;
  return MV_OK;
}

mv_ref_red *
mv_ref_red_alloc (const double *G0, const double *norms, size_t m, size_t mstar,
                  double noise_var, mpfr_prec_t prec)
{
  mv_init ();
  size_t n = 2 * (m + mstar);
  if (m == 0 || mstar == 0 || prec <= MV_PREC_DOUBLE || prec > MV_PREC_MAX)
    {
      mv_error_set (MV_EINVAL, "reference: need m, m* >= 1 and %d < prec <= %d "
                    "(m %zu, m* %zu, prec %ld)", MV_PREC_DOUBLE, MV_PREC_MAX, m, mstar,
                    (long) prec);
      return NULL;
    }
  if (check_input (G0, norms, m, n))
    return NULL;
  mv_ref_red *w = calloc (1, sizeof *w);
  if (!w)
    {
      mv_error_set (MV_ENOMEM, "reference: out of memory");
      return NULL;
    }
  w->m = m, w->ms = mstar, w->n = n, w->noise = noise_var, w->prec = prec;
  w->nvar = 2 * m * (2 * m - 1) / 2 + 2 * m * 2 * mstar;
  mpfr_inits2 (prec, w->L, w->acc, w->tmp, (mpfr_ptr) 0);
  mpfr_init2 (w->sc, prec + 64);
  if (red_setup (w, G0, norms) || !(w->ws = mv_loss_alloc (m, mstar, prec)))
    {
      mv_ref_red_free (w);
      return NULL;
    }
  return w;
}

size_t
mv_ref_red_dim (const mv_ref_red *w)
{
  return w->nvar + 1;
}

mv_loss_ws *
mv_ref_red_loss (mv_ref_red *w)
{
  return w->ws;
}

double
mv_ref_red_norm (const mv_ref_red *w, size_t k)
{
  return k < w->n ? w->norms[k] : NAN;
}

void
mv_ref_red_state0 (mpfr_t *y, const mv_ref_red *w)
{
  for (size_t a = 0; a < w->nvar; a++)
    mpfr_set (y[a], w->G[w->vk[a] * w->n + w->vl[a]], MPFR_RNDN);
  mpfr_set_zero (y[w->nvar], 1);
}

/* y into G, clamped to [-1, 1] as the double path does (integration error
 * can push an overlap of nearly aligned vectors a hair past 1, where the
 * Hermite series diverge). */
static void
fill_gram (mv_ref_red *w, mpfr_t *y)
{
  size_t n = w->n;
  for (size_t a = 0; a < w->nvar; a++)
    {
      mpfr_ptr e = w->G[w->vk[a] * n + w->vl[a]];
      if (mpfr_cmp_si (y[a], 1) > 0)
        mpfr_set_si (e, 1, MPFR_RNDN);
      else if (mpfr_cmp_si (y[a], -1) < 0)
        mpfr_set_si (e, -1, MPFR_RNDN);
      else
        mpfr_set (e, y[a], MPFR_RNDN);
      mpfr_set (w->G[w->vl[a] * n + w->vk[a]], e, MPFR_RNDN);
    }
}

/* x 2^e rounded to the nearest integer (the scaling is exact) */
static void
to_fixed (mpz_t z, mpfr_srcptr x, long e, mpfr_t scratch)
{
  mpfr_mul_2si (scratch, x, e, MPFR_RNDN);
  mpfr_get_z (z, scratch, MPFR_RNDN);
}

/* Student rows of M = g G in fixed point: G (|G| <= 1) scaled by 2^F and
 * row k of g by 2^(F - e_k), e_k the exponent of its largest entry, with
 * F = prec + 32.  Every product and sum is then exact in mpz; the only
 * errors are the inputs' roundings to the grid, at most
 * n 2^(e_k - F) <= n max_j |g_kj| 2^(-prec-32) per entry of M, far below
 * the error g carries from the loss itself. */
static void
gemm_fixed (mv_ref_red *w)
{
  size_t n = w->n, ns = 2 * w->m;
  long F = (long) w->prec + 32;
  for (size_t i = 0; i < n * n; i++)
    to_fixed (w->Gz[i], w->G[i], F, w->sc);
  for (size_t k = 0; k < ns; k++)
    {
      mpfr_exp_t ek = mpfr_get_emin ();
      for (size_t j = 0; j < n; j++)
        if (!mpfr_zero_p (w->g[k * n + j]) && mpfr_get_exp (w->g[k * n + j]) > ek)
          ek = mpfr_get_exp (w->g[k * n + j]);
      for (size_t j = 0; j < n; j++)
        to_fixed (w->gz[k * n + j], w->g[k * n + j], F - (long) ek, w->sc);
      for (size_t l = 0; l < n; l++)
        {
          mpz_set_ui (w->accz, 0);
          for (size_t j = 0; j < n; j++)
            mpz_addmul (w->accz, w->gz[k * n + j], w->Gz[l * n + j]);
          mpfr_set_z_2exp (w->M[k * n + l], w->accz, (long) ek - 2 * F, MPFR_RNDN);
        }
    }
}

/* L (w->L), g = dL/dG, the student rows of M = g G (G is symmetric, so
 * column l of G is row l) and |grad L|^2 into g2. */
static int
red_eval (mv_ref_red *w, mpfr_t *y, mpfr_ptr g2)
{
  size_t n = w->n, ns = 2 * w->m;
  fill_gram (w, y);
  int s = mv_loss_gram (w->L, w->g, NULL, w->G, w->noise, w->ws);
  if (s)
    return s;
  gemm_fixed (w);
  mpfr_set_zero (g2, 1);
  for (size_t k = 0; k < ns; k++)
    {
      /* (M g)_kk = M_k . g_k (g symmetric) */
      mpfr_dot (w->acc, w->pM + k * n, w->pg + k * n, n, MPFR_RNDN);
      mpfr_ptr Mkk = w->M[k * n + k];
      mpfr_fms (w->acc, Mkk, Mkk, w->acc, MPFR_RNDN);   /* M_kk^2 - (Mg)_kk */
      mpfr_div (w->acc, w->acc, w->r2[k], MPFR_RNDN);
      mpfr_sub (g2, g2, w->acc, MPFR_RNDN);
    }
  return mpfr_number_p (g2) ? MV_OK
    : mv_error_set (MV_EDOM, "reference: |grad L|^2 is not finite");
}

int
mv_ref_red_rhs (mpfr_t *f, const mpfr_t t, mpfr_t *y, void *ctx)
{
  (void) t;
  mv_ref_red *w = ctx;
  size_t n = w->n, ns = 2 * w->m;
  int s = red_eval (w, y, f[w->nvar]);
  if (s)
    return s;
  for (size_t a = 0; a < w->nvar; a++)
    {
      size_t k = w->vk[a], l = w->vl[a];
      mpfr_ptr Gkl = w->G[k * n + l];
      /* A_kl = (G_kl M_kk - M_kl) / r_k^2 */
      mpfr_fms (w->acc, Gkl, w->M[k * n + k], w->M[k * n + l], MPFR_RNDN);
      mpfr_div (f[a], w->acc, w->r2[k], MPFR_RNDN);
      if (l < ns)
        {
          mpfr_fms (w->acc, Gkl, w->M[l * n + l], w->M[l * n + k], MPFR_RNDN);
          mpfr_div (w->acc, w->acc, w->r2[l], MPFR_RNDN);
          mpfr_add (f[a], f[a], w->acc, MPFR_RNDN);
        }
    }
  return MV_OK;
}

int
mv_ref_red_observe (mpfr_t L, mpfr_t grad2, mpfr_t *G, mpfr_t *y, mv_ref_red *w)
{
  if (L || grad2)
    {
      int s = red_eval (w, y, w->tmp);
      if (s)
        return s;
      if (L)
        mpfr_set (L, w->L, MPFR_RNDN);
      if (grad2)
        mpfr_set (grad2, w->tmp, MPFR_RNDN);
    }
  else
    fill_gram (w, y);
  if (G)
    for (size_t i = 0; i < w->n * w->n; i++)
      mpfr_set (G[i], w->G[i], MPFR_RNDN);
  return MV_OK;
}
