/* Loss and gradient with respect to the raw student vectors: normalise,
 * form the Gram matrix, take dL/dG from loss.c and apply the chain rule
 * dL/du_k = (I - u_k u_k^T) sum_l g_kl u_l / |u_k|.  The raw Hessian is in
 * loss_hess_raw.c. */
#include "base/linalg.h"
#include "loss/loss_priv.h"
#include <moeverify/error.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

int
mv_loss_check_shape (const mv_problem *pb, const mv_loss_ws *ws)
{
  if (pb->m != ws->m || pb->mstar != ws->mstar)
    return mv_error_set (MV_EINVAL, "loss: workspace is for m = %zu, m* = %zu, "
                         "problem has m = %zu, m* = %zu",
                         ws->m, ws->mstar, pb->m, pb->mstar);
  if (pb->d == 0)
    return mv_error_set (MV_EINVAL, "loss: dimension d = 0");
  return MV_OK;
}

static int
ensure_d (mv_loss_ws *ws, size_t d, int mp)
{
  size_t n = ws->n;
  if (ws->d == d && (!mp || ws->U))
    return MV_OK;
  mv_loss_free_raw (ws);
  ws->Ud = malloc (n * d * sizeof *ws->Ud);
  ws->Gd = malloc (n * n * sizeof *ws->Gd);
  ws->gd = malloc (n * n * sizeof *ws->gd);
  ws->normd = malloc (n * sizeof *ws->normd);
  if (!ws->Ud || !ws->Gd || !ws->gd || !ws->normd)
    goto nomem;
  if (mp)
    {
      mpfr_prec_t wp = ws->ex->wp;
      ws->U = malloc (n * d * sizeof *ws->U);
      ws->G = malloc (n * n * sizeof *ws->G);
      ws->g = malloc (n * n * sizeof *ws->g);
      ws->norm = malloc (n * sizeof *ws->norm);
      ws->h = malloc (d * sizeof *ws->h);
      if (!ws->U || !ws->G || !ws->g || !ws->norm || !ws->h)
        {
          free (ws->U), free (ws->G), free (ws->g), free (ws->norm), free (ws->h);
          ws->U = ws->G = ws->g = ws->norm = ws->h = NULL;
          goto nomem;
        }
      ws->nU = n * d;
      for (size_t i = 0; i < n * d; i++)
        mpfr_init2 (ws->U[i], wp);
      for (size_t i = 0; i < n * n; i++)
        mpfr_init2 (ws->G[i], wp), mpfr_init2 (ws->g[i], wp);
      for (size_t i = 0; i < n; i++)
        mpfr_init2 (ws->norm[i], wp);
      for (size_t i = 0; i < d; i++)
        mpfr_init2 (ws->h[i], wp);
    }
  ws->d = d;
  return MV_OK;
nomem:
  mv_loss_free_raw (ws);
  return mv_error_set (MV_ENOMEM, "loss: out of memory for d = %zu", d);
}


static int normalise_gram_d (mv_loss_ws *ws, size_t d);

/* Unit vectors (ws->Ud), norms (ws->normd) and their Gram matrix (ws->Gd)
 * for the double path. */
int
mv_loss_unit_gram_d (const mv_problem *pb, mv_loss_ws *ws)
{
  int s = mv_loss_check_shape (pb, ws);
  if (s || (s = ensure_d (ws, pb->d, 0)))
    return s;
  size_t d = pb->d, m = ws->m, ms = ws->mstar;
  double *U = ws->Ud;
  s = mv_problem_vectors_d (U, U + m * d, U + 2 * m * d, U + (2 * m + ms) * d, pb);
  if (s)
    return s;
  return normalise_gram_d (ws, d);
}

/* Normalise the rows of ws->Ud in place, keep the norms, form the Gram. */
static int
normalise_gram_d (mv_loss_ws *ws, size_t d)
{
  size_t bad = mv_linalg_normalise_gram (ws->Gd, ws->normd, ws->Ud, ws->n, d);
  if (bad)
    return mv_error_set (MV_EDOM, "loss: vector %zu has norm %g", bad - 1,
                         ws->normd[bad - 1]);
  return MV_OK;
}

/* Chain rule from dL/dG (ws->gd) to the raw gradient, with its error
 * bound; li holds the Gram-level info and receives the raw-level one. */
void
mv_loss_raw_grad_d (double *gV, double *gW, mv_loss_info *li, size_t d, mv_loss_ws *ws)
{
  size_t n = ws->n, m = ws->m;
  const double *U = ws->Ud, *g = ws->gd;
  /* Gram rounding: each entry is off by at most (d + 4) u (normalised rows) */
  double drho = (d + 4.0) * ldexp (1.0, -MV_PREC_DOUBLE), gmax = 0, gsum = 0;
  for (size_t k = 0; k < n; k++)
    for (size_t l = k + 1; l < n; l++)
      gmax = fmax (gmax, fabs (g[k * n + l])), gsum += fabs (g[k * n + l]);
  mv_mag t;
  mv_mag_set_d (&t, gsum * drho);
  mv_mag_add (&li->err, &li->err, &t);
  /* h_k = sum_l g_kl u_l for the student rows (v rows then w rows) */
  if (gV)
    mv_linalg_combine (gV, d, g, n, m, U, n, d, d);
  if (gW)
    mv_linalg_combine (gW, d, g + m * n, n, m, U, n, d, d);
  double gerr = 0;
  for (size_t k = 0; k < 2 * m; k++)
    {
      double *out = k < m ? gV : gW;
      if (!out)
        continue;
      out += (k % m) * d;
      double ek = 0, gk = 0;
      for (size_t l = 0; l < n; l++)
        if (l != k)
          ek += ws->errG[k * n + l], gk += fabs (g[k * n + l]);
      const double *uk = U + k * d;
      double proj = mv_dot (out, uk, d), inv = 1.0 / ws->normd[k];
      for (size_t i = 0; i < d; i++)
        out[i] = (out[i] - proj * uk[i]) * inv;
      /* dL/dG errors, rounding of the sums, and first-order Gram rounding
       * through the Hessian (bounded by 10 n |g| per unit of rho) */
      double e = (2 * ek + (n + d + 8.0) * ldexp (gk, -52) + 10.0 * n * gmax * drho) * inv;
      gerr = fmax (gerr, e);
    }
  mv_mag_set_d (&li->grad_err, gerr);
}

int
mv_loss_eval_d (double *L, double *gV, double *gW, mv_loss_info *info,
                const mv_problem *pb, mv_loss_ws *ws)
{
  int s = mv_loss_unit_gram_d (pb, ws);
  if (s)
    return s;
  mv_loss_info li;
  s = mv_loss_gram_d (L, ws->gd, &li, ws->Gd, pb->noise_var, ws);
  if (s)
    return s;
  mv_loss_raw_grad_d (gV, gW, &li, pb->d, ws);
  if (info)
    *info = li;
  return MV_OK;
}

/* Unit vectors, norms and Gram matrix (double path) from raw vectors. */
int
mv_loss_unit_gram_vec_d (const double *V, const double *W, const double *Vt,
                         const double *Wt, size_t d, mv_loss_ws *ws)
{
  int s = d ? ensure_d (ws, d, 0) : mv_error_set (MV_EINVAL, "loss: dimension d = 0");
  if (s)
    return s;
  size_t m = ws->m, ms = ws->mstar, md = m * d, sd = ms * d;
  double *U = ws->Ud;
  memcpy (U, V, md * sizeof *U), memcpy (U + md, W, md * sizeof *U);
  memcpy (U + 2 * md, Vt, sd * sizeof *U), memcpy (U + 2 * md + sd, Wt, sd * sizeof *U);
  return normalise_gram_d (ws, d);
}

int
mv_loss_eval_vec_d (double *L, double *gV, double *gW, mv_loss_info *info,
                    const double *V, const double *W, const double *Vt,
                    const double *Wt, size_t d, double noise_var, mv_loss_ws *ws)
{
  int s = mv_loss_unit_gram_vec_d (V, W, Vt, Wt, d, ws);
  if (s)
    return s;
  mv_loss_info li = { 0 };
  /* no info requested (flows): skip the error-bound bookkeeping */
  if ((s = mv_loss_gram_d (L, ws->gd, info ? &li : NULL, ws->Gd, noise_var, ws)))
    return s;
  mv_loss_raw_grad_d (gV, gW, &li, d, ws);
  if (info)
    *info = li;
  return MV_OK;
}

/* The Gram-only part (loss.h): the same unit vectors, Gram matrix and
 * chain rule as mv_loss_eval_vec_d, on the sum of the terms without a
 * per-sample form only. */
int
mv_loss_eval_vec_gram_only_d (double *L, double *gV, double *gW,
                              const double *V, const double *W,
                              const double *Vt, const double *Wt, size_t d,
                              double noise_var, mv_loss_ws *ws)
{
  int s = mv_loss_unit_gram_vec_d (V, W, Vt, Wt, d, ws);
  if (s)
    return s;
  double Lg;
  if ((s = mv_loss_gram_only_d (&Lg, ws->gd, ws->Gd, noise_var, ws)))
    return s;
  mv_loss_info li = { 0 };
  mv_loss_raw_grad_d (gV, gW, &li, d, ws);
  if (L)
    *L = Lg;
  return MV_OK;
}

/* Fixed-point dot products for the MPFR path.  The unit vectors (|u_i| <= 1)
 * are held as integers Z = round(u 2^F), F = wp + MV_FIX_GUARD, and the
 * dL/dG row of the chain rule scaled the same way relative to its largest
 * entry; GMP sums the products exactly and each dot product is rounded once
 * to the working precision.  Error per Gram entry <= d 2^-(F-1) + 2^-wp
 * <= (d + 4) 2^-wp, the bound raw_eval charges (proofs/loss-gradient.md);
 * about twice as fast as a chain of mpfr_fma. */
#define MV_FIX_GUARD 8

struct mv_loss_fix
{
  size_t nz, ng;
  long F;
  mpz_t *Z;         /* n x d fixed-point unit vectors */
  mpz_t *gz;        /* n: one chain-rule row, fixed point */
  mpz_t acc;
};

void
mv_loss_fix_free (struct mv_loss_fix *f)
{
  if (!f)
    return;
  for (size_t i = 0; i < f->nz; i++)
    mpz_clear (f->Z[i]);
  for (size_t i = 0; i < f->ng; i++)
    mpz_clear (f->gz[i]);
  mpz_clear (f->acc);
  free (f->Z), free (f->gz), free (f);
}

static int
fix_alloc (mv_loss_ws *ws, size_t d)
{
  if (ws->fix)
    return MV_OK;
  size_t n = ws->n;
  struct mv_loss_fix *f = calloc (1, sizeof *f);
  if (!f || !(f->Z = malloc (n * d * sizeof *f->Z))
      || !(f->gz = malloc (n * sizeof *f->gz)))
    {
      if (f)
        free (f->Z);
      free (f);
      return mv_error_set (MV_ENOMEM, "loss: out of memory for d = %zu", d);
    }
  f->F = (long) ws->ex->wp + MV_FIX_GUARD;
  for (; f->nz < n * d; f->nz++)
    mpz_init2 (f->Z[f->nz], (mp_bitcnt_t) f->F + 2);
  for (; f->ng < n; f->ng++)
    mpz_init2 (f->gz[f->ng], (mp_bitcnt_t) f->F + 2);
  mpz_init2 (f->acc, 2 * (mp_bitcnt_t) f->F + 64);
  ws->fix = f;
  return MV_OK;
}

/* z = round(x 2^e) */
static void
fix_set (mpz_t z, const mpfr_t x, long e, mpfr_t tmp)
{
  mpfr_mul_2si (tmp, x, e, MPFR_RNDN);
  mpfr_get_z (z, tmp, MPFR_RNDN);
}

/* Normalise the rows of ws->U (working precision) in place, keep the
 * norms, form the Gram matrix ws->G. */
static int
normalise_gram (mv_loss_ws *ws, size_t d)
{
  size_t n = ws->n;
  mpfr_t *U = ws->U, *G = ws->G, *a = &ws->acc;
  int s = fix_alloc (ws, d);
  if (s)
    return s;
  struct mv_loss_fix *f = ws->fix;
  for (size_t k = 0; k < n; k++)
    {
      mpfr_t *u = U + k * d;
      mpfr_set_zero (*a, 1);
      for (size_t i = 0; i < d; i++)
        mpfr_fma (*a, u[i], u[i], *a, MPFR_RNDN);
      mpfr_sqrt (ws->norm[k], *a, MPFR_RNDN);
      if (!mpfr_regular_p (ws->norm[k]))
        return mv_error_set (MV_EDOM, "loss: vector %zu has zero or non-finite norm", k);
      for (size_t i = 0; i < d; i++)
        {
          mpfr_div (u[i], u[i], ws->norm[k], MPFR_RNDN);
          fix_set (f->Z[k * d + i], u[i], f->F, ws->tmp);
        }
    }
  for (size_t k = 0; k < n; k++)
    {
      mpfr_set_ui (G[k * n + k], 1, MPFR_RNDN);
      for (size_t l = k + 1; l < n; l++)
        {
          mpz_set_ui (f->acc, 0);
          for (size_t i = 0; i < d; i++)
            mpz_addmul (f->acc, f->Z[k * d + i], f->Z[l * d + i]);
          mpfr_set_z_2exp (G[k * n + l], f->acc, -2 * f->F, MPFR_RNDN);
          mpfr_set (G[l * n + k], G[k * n + l], MPFR_RNDN);
        }
    }
  return MV_OK;
}

/* One student row of the chain rule, out = (I - u_k u_k^T) h / |u_k| with
 * h = sum_{l != k} g_kl u_l, each coordinate a fixed-point dot product
 * rounded once (grow: row k of dL/dG, scaled by 2^(F - e), e the exponent
 * of its largest entry). */
static void
raw_grad_row (mpfr_t *out, mpfr_t *grow, size_t k, size_t d, mv_loss_ws *ws)
{
  size_t n = ws->n;
  struct mv_loss_fix *f = ws->fix;
  mpfr_t *uk = ws->U + k * d, *h = ws->h, *proj = &ws->proj, *t = &ws->tmp;
  mpfr_exp_t e = mpfr_get_emin ();
  for (size_t l = 0; l < n; l++)
    if (l != k && !mpfr_zero_p (grow[l]) && mpfr_get_exp (grow[l]) > e)
      e = mpfr_get_exp (grow[l]);
  long sc = f->F - (long) e;
  for (size_t l = 0; l < n; l++)
    if (l == k || mpfr_zero_p (grow[l]))
      mpz_set_ui (f->gz[l], 0);
    else
      fix_set (f->gz[l], grow[l], sc, *t);
  mpfr_set_zero (*proj, 1);
  for (size_t i = 0; i < d; i++)
    {
      mpz_set_ui (f->acc, 0);
      for (size_t l = 0; l < n; l++)
        if (mpz_sgn (f->gz[l]))
          mpz_addmul (f->acc, f->gz[l], f->Z[l * d + i]);
      mpfr_set_z_2exp (h[i], f->acc, -(sc + f->F), MPFR_RNDN);
      mpfr_fma (*proj, h[i], uk[i], *proj, MPFR_RNDN);
    }
  for (size_t i = 0; i < d; i++)
    {
      mpfr_mul (*t, *proj, uk[i], MPFR_RNDN);
      mpfr_sub (h[i], h[i], *t, MPFR_RNDN);
      mpfr_div (out[i], h[i], ws->norm[k], MPFR_RNDN);
    }
}

static int raw_eval (mpfr_t L, mpfr_t *gV, mpfr_t *gW, mv_loss_info *info,
                     size_t d, double noise_var, mv_loss_ws *ws);

int
mv_loss_eval (mpfr_t L, mpfr_t *gV, mpfr_t *gW, mv_loss_info *info,
              const mv_problem *pb, mv_loss_ws *ws)
{
  int s = mv_loss_check_shape (pb, ws);
  if (s || (s = ensure_d (ws, pb->d, 1)))
    return s;
  size_t d = pb->d, m = ws->m, ms = ws->mstar;
  mpfr_t *U = ws->U;
  s = mv_problem_vectors (U, U + m * d, U + 2 * m * d, U + (2 * m + ms) * d, pb);
  if (s)
    return s;
  return raw_eval (L, gV, gW, info, d, pb->noise_var, ws);
}

int
mv_loss_eval_vec (mpfr_t L, mpfr_t *gV, mpfr_t *gW, mv_loss_info *info,
                  mpfr_t const *V, mpfr_t const *W, mpfr_t const *Vt,
                  mpfr_t const *Wt, size_t d, double noise_var, mv_loss_ws *ws)
{
  int s = d ? ensure_d (ws, d, 1) : mv_error_set (MV_EINVAL, "loss: dimension d = 0");
  if (s)
    return s;
  size_t md = ws->m * d, sd = ws->mstar * d;
  mpfr_t *U = ws->U;
  /* rounded to the working precision, as mv_problem_vectors would */
  for (size_t i = 0; i < md; i++)
    mpfr_set (U[i], V[i], MPFR_RNDN), mpfr_set (U[md + i], W[i], MPFR_RNDN);
  for (size_t i = 0; i < sd; i++)
    mpfr_set (U[2 * md + i], Vt[i], MPFR_RNDN), mpfr_set (U[2 * md + sd + i], Wt[i], MPFR_RNDN);
  return raw_eval (L, gV, gW, info, d, noise_var, ws);
}

mpfr_t *
mv_loss_unit_gram (mv_loss_ws *ws)
{
  return ws->U ? ws->G : NULL;
}

/* L and the raw gradient from the vectors in ws->U (not yet normalised). */
static int
raw_eval (mpfr_t L, mpfr_t *gV, mpfr_t *gW, mv_loss_info *info, size_t d,
          double noise_var, mv_loss_ws *ws)
{
  size_t n = ws->n, m = ws->m;
  mpfr_t *g = ws->g;
  int s = normalise_gram (ws, d);
  if (s)
    return s;
  mv_loss_info li;
  s = mv_loss_gram (L, g, &li, ws->G, noise_var, ws);
  if (s)
    return s;
  /* Gram rounding: each entry is off by at most drho = (d + 4) u */
  long wp = (long) ws->ex->wp;
  double gmax = 0, gsum = 0;
  for (size_t k = 0; k < n; k++)
    for (size_t l = k + 1; l < n; l++)
      {
        double c = fabs (mpfr_get_d (g[k * n + l], MPFR_RNDA));
        gmax = fmax (gmax, c), gsum += c;
      }
  mv_mag t1, gerr;
  mv_mag_set_d_2exp (&t1, gsum * (d + 4.0), -wp);
  mv_mag_add (&li.err, &li.err, &t1);
  mv_mag_zero (&gerr);
  for (size_t k = 0; k < 2 * m; k++)
    {
      mpfr_t *out = k < m ? gV : gW;
      if (!out)
        continue;
      out += (k % m) * d;
      raw_grad_row (out, g + k * n, k, d, ws);
      mv_mag ek;
      mv_mag_zero (&ek);
      double gk = 0;
      for (size_t l = 0; l < n; l++)
        if (l != k)
          {
            mv_mag_add (&ek, &ek, &ws->errGm[k * n + l]);
            gk += fabs (mpfr_get_d (g[k * n + l], MPFR_RNDA));
          }
      /* dL/dG errors, rounding of the sums, first-order Gram rounding
       * through the Hessian (10 n |g| per unit of rho), then rounding to
       * the caller's precision; all over |u_k| */
      double inv = 1.0 / mpfr_get_d (ws->norm[k], MPFR_RNDZ);
      mv_mag e;
      mv_mag_mul_2exp (&e, &ek, 1);
      mv_mag_set_d_2exp (&t1, (n + d + 8.0) * gk * 2 + 10.0 * n * gmax * (d + 4.0), -wp);
      mv_mag_add (&e, &e, &t1);
      mv_mag_set_d_2exp (&t1, gk, -(long) mpfr_get_prec (out[0]));
      mv_mag_add (&e, &e, &t1);
      mv_mag_mul_d (&e, &e, inv);
      mv_mag_max (&gerr, &gerr, &e);
    }
  if (info)
    {
      *info = li;
      info->grad_err = gerr;
    }
  return MV_OK;
}
