/* The full flow's right-hand side in MPFR for the reference integrator:
 * the raw student vectors under dtheta/dt = -grad L (MATH.md §1) with
 * mv_loss_eval_vec at the state's precision, plus the energy rate
 * |grad L|^2.  The observables are those of the reduced flow (the Gram
 * entries of the unit vectors, L, |grad L|^2), so a full reference and a
 * reduced one of the same spec can be compared value for value. */
#include "base/mpfr_vec.h"
#include <moeverify/reference.h>
#include <moeverify/error.h>
#include <moeverify/hermite.h>
#include <moeverify/loss.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct mv_ref_full {
  size_t m, ms, d, md, n;
  double noise;
  mv_loss_ws *ws;
  mpfr_t *y0;                    /* 2md: the initial raw student vectors */
  mpfr_t *Vt, *Wt;               /* m* d each: the teachers (constant) */
  mpfr_t *g;                     /* 2md: the gradient */
  mpfr_t L, acc;
};

/* n values at prec from x (NULL: zeros) */
static mpfr_t *
vec_from (size_t n, mpfr_prec_t prec, const double *x)
{
  mpfr_t *v = mv_mpfr_vec_new (n, prec);
  for (size_t i = 0; v && x && i < n; i++)
    mpfr_set_d (v[i], x[i], MPFR_RNDN);
  return v;
}

void
mv_ref_full_free (mv_ref_full *w)
{
  if (!w)
    return;
  mv_mpfr_vec_free (w->y0, 2 * w->md), mv_mpfr_vec_free (w->g, 2 * w->md);
  mv_mpfr_vec_free (w->Vt, w->ms * w->d), mv_mpfr_vec_free (w->Wt, w->ms * w->d);
  mv_loss_free (w->ws);
  mpfr_clears (w->L, w->acc, (mpfr_ptr) 0);
  free (w);
}

mv_ref_full *
mv_ref_full_alloc (const double *V, const double *W, const double *Vt, const double *Wt,
                   size_t m, size_t mstar, size_t d, double noise_var, mpfr_prec_t prec)
{
  if (!m || !mstar || !d || !V || !W || !Vt || !Wt)
    return mv_error_set (MV_EINVAL, "reference: the full flow needs m, m*, d > 0 and the "
                         "raw vectors"), NULL;
  if (prec <= MV_PREC_DOUBLE || prec > MV_PREC_MAX)
    return mv_error_set (MV_EPREC, "reference: precision %ld outside (%d, %d]", (long) prec,
                         MV_PREC_DOUBLE, MV_PREC_MAX), NULL;
  size_t md = m * d, sd = mstar * d;
  for (size_t i = 0; i < md + sd; i++)
    {
      double x = i < md ? V[i] : Vt[i - md], z = i < md ? W[i] : Wt[i - md];
      if (!isfinite (x) || !isfinite (z))
        return mv_error_set (MV_EDOM, "reference: a raw vector entry is not finite"), NULL;
    }
  mv_ref_full *w = calloc (1, sizeof *w);
  if (!w)
    return mv_error_set (MV_ENOMEM, "reference: out of memory"), NULL;
  w->m = m, w->ms = mstar, w->d = d, w->md = md, w->n = 2 * (m + mstar), w->noise = noise_var;
  mpfr_inits2 (prec, w->L, w->acc, (mpfr_ptr) 0);
  w->y0 = mv_mpfr_vec_new (2 * md, prec), w->g = mv_mpfr_vec_new (2 * md, prec);
  w->Vt = vec_from (sd, prec, Vt), w->Wt = vec_from (sd, prec, Wt);
  if (!w->y0 || !w->g || !w->Vt || !w->Wt)
    {
      mv_ref_full_free (w);
      return mv_error_set (MV_ENOMEM, "reference: out of memory"), NULL;
    }
  for (size_t i = 0; i < md; i++)
    mpfr_set_d (w->y0[i], V[i], MPFR_RNDN), mpfr_set_d (w->y0[md + i], W[i], MPFR_RNDN);
  if (!(w->ws = mv_loss_alloc (m, mstar, prec)))
    {
      mv_ref_full_free (w);
      return NULL;
    }
  return w;
}

size_t
mv_ref_full_dim (const mv_ref_full *w)
{
  return 2 * w->md + 1;
}

mv_loss_ws *
mv_ref_full_loss (mv_ref_full *w)
{
  return w->ws;
}

void
mv_ref_full_state0 (mpfr_t *y, const mv_ref_full *w)
{
  for (size_t i = 0; i < 2 * w->md; i++)
    mpfr_set (y[i], w->y0[i], MPFR_RNDN);
  mpfr_set_zero (y[2 * w->md], 1);
}

/* L and the gradient (w->L, w->g) at y; w->acc = |grad L|^2. */
static int
full_eval (mv_ref_full *w, mpfr_t *y)
{
  size_t md = w->md;
  int s = mv_loss_eval_vec (w->L, w->g, w->g + md, NULL, y, y + md, w->Vt, w->Wt, w->d,
                            w->noise, w->ws);
  if (s)
    return s;
  mpfr_set_zero (w->acc, 1);
  for (size_t i = 0; i < 2 * md; i++)
    mpfr_fma (w->acc, w->g[i], w->g[i], w->acc, MPFR_RNDN);
  return MV_OK;
}

int
mv_ref_full_rhs (mpfr_t *f, const mpfr_t t, mpfr_t *y, void *ctx)
{
  (void) t;
  mv_ref_full *w = ctx;
  int s = full_eval (w, y);
  if (s)
    return s;
  for (size_t i = 0; i < 2 * w->md; i++)
    mpfr_neg (f[i], w->g[i], MPFR_RNDN);
  mpfr_set (f[2 * w->md], w->acc, MPFR_RNDN);
  return MV_OK;
}

int
mv_ref_full_observe (mpfr_t *q, mpfr_t *y, mv_ref_full *w)
{
  int s = full_eval (w, y);
  if (s)
    return s;
  /* the loss's own unit Gram matrix, in the reduced state's order */
  mpfr_t *G = mv_loss_unit_gram (w->ws);
  size_t n = w->n, a = 0;
  for (size_t k = 0; k < 2 * w->m; k++)
    for (size_t l = k + 1; l < n; l++)
      mpfr_set (q[a++], G[k * n + l], MPFR_RNDN);
  mpfr_set (q[a], w->L, MPFR_RNDN);
  mpfr_set (q[a + 1], w->acc, MPFR_RNDN);
  return MV_OK;
}
