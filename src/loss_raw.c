/* Loss and gradient with respect to the raw student vectors: normalise,
 * form the Gram matrix, take dL/dG from loss.c and apply the chain rule
 * dL/du_k = (I - u_k u_k^T) sum_l g_kl u_l / |u_k|. */
#include "loss_priv.h"
#include <moeverify/error.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int
check_shape (const mv_problem *pb, const mv_loss_ws *ws)
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

/* four partial sums so the compiler can pipeline the reduction */
static double
dot_d (const double *restrict a, const double *restrict b, size_t d)
{
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= d; i += 4)
    {
      s0 += a[i] * b[i];
      s1 += a[i + 1] * b[i + 1];
      s2 += a[i + 2] * b[i + 2];
      s3 += a[i + 3] * b[i + 3];
    }
  for (; i < d; i++)
    s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

int
mv_loss_eval_d (double *L, double *gV, double *gW, mv_loss_info *info,
                const mv_problem *pb, mv_loss_ws *ws)
{
  int s = check_shape (pb, ws);
  if (s || (s = ensure_d (ws, pb->d, 0)))
    return s;
  size_t n = ws->n, d = pb->d, m = ws->m, ms = ws->mstar;
  double *U = ws->Ud, *G = ws->Gd, *g = ws->gd;
  s = mv_problem_vectors_d (U, U + m * d, U + 2 * m * d, U + (2 * m + ms) * d, pb);
  if (s)
    return s;
  for (size_t k = 0; k < n; k++)
    {
      double *u = U + k * d, nr = sqrt (dot_d (u, u, d));
      if (!(nr > 0) || !isfinite (nr))
        return mv_error_set (MV_EDOM, "loss: vector %zu has norm %g", k, nr);
      ws->normd[k] = nr;
      for (size_t i = 0; i < d; i++)
        u[i] /= nr;
    }
  for (size_t k = 0; k < n; k++)
    {
      G[k * n + k] = 1.0;
      for (size_t l = k + 1; l < n; l++)
        G[k * n + l] = G[l * n + k] = dot_d (U + k * d, U + l * d, d);
    }
  mv_loss_info li;
  s = mv_loss_gram_d (L, g, &li, G, pb->noise_var, ws);
  if (s)
    return s;
  /* Gram rounding: each entry is off by at most (d + 4) u (normalised rows) */
  double drho = (d + 4.0) * ldexp (1.0, -53), gmax = 0, gsum = 0;
  for (size_t k = 0; k < n; k++)
    for (size_t l = k + 1; l < n; l++)
      gmax = fmax (gmax, fabs (g[k * n + l])), gsum += fabs (g[k * n + l]);
  li.err += gsum * drho;
  double gerr = 0;
  for (size_t k = 0; k < 2 * m; k++)
    {
      double *out = k < m ? gV : gW;
      if (!out)
        continue;
      out += (k % m) * d;
      memset (out, 0, d * sizeof *out);
      double ek = 0, gk = 0;
      for (size_t l = 0; l < n; l++)
        {
          double c = g[k * n + l];
          if (l == k || c == 0.0)
            continue;
          const double *ul = U + l * d;
          for (size_t i = 0; i < d; i++)
            out[i] += c * ul[i];
          ek += ws->errG[k * n + l];
          gk += fabs (c);
        }
      const double *uk = U + k * d;
      double proj = dot_d (out, uk, d), inv = 1.0 / ws->normd[k];
      for (size_t i = 0; i < d; i++)
        out[i] = (out[i] - proj * uk[i]) * inv;
      /* dL/dG errors, rounding of the sums, and first-order Gram rounding
       * through the Hessian (bounded by 10 n |g| per unit of rho) */
      double e = (2 * ek + (n + d + 8.0) * ldexp (gk, -52) + 10.0 * n * gmax * drho) * inv;
      gerr = fmax (gerr, e);
    }
  if (info)
    {
      *info = li;
      info->grad_err = gerr;
    }
  return MV_OK;
}

int
mv_loss_eval (mpfr_t L, mpfr_t *gV, mpfr_t *gW, mv_loss_info *info,
              const mv_problem *pb, mv_loss_ws *ws)
{
  int s = check_shape (pb, ws);
  if (s || (s = ensure_d (ws, pb->d, 1)))
    return s;
  size_t n = ws->n, d = pb->d, m = ws->m, ms = ws->mstar;
  mpfr_t *U = ws->U, *G = ws->G, *g = ws->g, *t = &ws->tmp, *a = &ws->acc;
  s = mv_problem_vectors (U, U + m * d, U + 2 * m * d, U + (2 * m + ms) * d, pb);
  if (s)
    return s;
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
        mpfr_div (u[i], u[i], ws->norm[k], MPFR_RNDN);
    }
  for (size_t k = 0; k < n; k++)
    {
      mpfr_set_ui (G[k * n + k], 1, MPFR_RNDN);
      for (size_t l = k + 1; l < n; l++)
        {
          mpfr_set_zero (*a, 1);
          for (size_t i = 0; i < d; i++)
            mpfr_fma (*a, U[k * d + i], U[l * d + i], *a, MPFR_RNDN);
          mpfr_set (G[k * n + l], *a, MPFR_RNDN);
          mpfr_set (G[l * n + k], *a, MPFR_RNDN);
        }
    }
  mv_loss_info li;
  s = mv_loss_gram (L, g, &li, G, pb->noise_var, ws);
  if (s)
    return s;
  double uw = ldexp (1.0, -(int) ws->ex->wp);
  double drho = (d + 4.0) * uw, gmax = 0, gsum = 0;
  for (size_t k = 0; k < n; k++)
    for (size_t l = k + 1; l < n; l++)
      {
        double c = fabs (mpfr_get_d (g[k * n + l], MPFR_RNDN));
        gmax = fmax (gmax, c), gsum += c;
      }
  li.err += gsum * drho;
  double gerr = 0;
  for (size_t k = 0; k < 2 * m; k++)
    {
      mpfr_t *out = k < m ? gV : gW;
      if (!out)
        continue;
      out += (k % m) * d;
      double ek = 0, gk = 0;
      mpfr_t *uk = U + k * d;
      /* h = sum_l g_kl u_l, accumulated per coordinate at working precision */
      mpfr_t *h = ws->h, *proj = &ws->proj;
      mpfr_set_zero (*proj, 1);
      for (size_t i = 0; i < d; i++)
        {
          mpfr_set_zero (h[i], 1);
          for (size_t l = 0; l < n; l++)
            if (l != k && !mpfr_zero_p (g[k * n + l]))
              mpfr_fma (h[i], g[k * n + l], U[l * d + i], h[i], MPFR_RNDN);
          mpfr_fma (*proj, h[i], uk[i], *proj, MPFR_RNDN);
        }
      for (size_t l = 0; l < n; l++)
        if (l != k)
          {
            ek += ws->errG[k * n + l];
            gk += fabs (mpfr_get_d (g[k * n + l], MPFR_RNDN));
          }
      for (size_t i = 0; i < d; i++)
        {
          mpfr_mul (*t, *proj, uk[i], MPFR_RNDN);
          mpfr_sub (h[i], h[i], *t, MPFR_RNDN);
          mpfr_div (out[i], h[i], ws->norm[k], MPFR_RNDN);
        }
      double inv = 1.0 / mpfr_get_d (ws->norm[k], MPFR_RNDN);
      double e = (2 * ek + (n + d + 8.0) * gk * uw * 2 + 10.0 * n * gmax * drho) * inv;
      /* rounding to the caller's precision */
      e += ldexp (gk * inv, -(int) mpfr_get_prec (out[0]));
      gerr = fmax (gerr, e);
    }
  if (info)
    {
      *info = li;
      info->grad_err = gerr;
    }
  return MV_OK;
}
