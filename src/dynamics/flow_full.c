/* Gradient flow of the raw parameters in R^{2md}:
 *   d(v_i, w_i)/dt = -grad L,   plus dE/dt = |grad L|^2 (energy check).
 * The right-hand side is the closed-form gradient from the vectors (double
 * path, or MPFR rounded to double when prec > MV_PREC_DOUBLE; no problem
 * object on either path).  For the implicit steppers the
 * Jacobian is -d2L/dtheta2 from mv_loss_hess_raw_vec_d (double path at every
 * precision: it only drives the Newton iterations), for 2md up to
 * MV_LOSS_HESS_RAW_MAX. */
#include "dynamics/flow_priv.h"
#include "base/linalg.h"
#include "base/mpfr_vec.h"
#include <moeverify/error.h>
#include <moeverify/hermite.h>
#include <moeverify/loss.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  mv_loss_ws *ws;
  size_t m, ms, d, n;
  mpfr_prec_t prec;
  double noise;
  double *gV, *gW, *Ut;    /* gradients; unit teacher vectors (2m* x d) */
  double *Vt, *Wt;         /* raw teacher vectors (m* x d each) */
  double *H;               /* raw Hessian (2md)^2, implicit steppers only */
  mpfr_t L, *mV, *mW;      /* MPFR right-hand side: L and the gradient */
  int mp;                  /* L initialised */
  mpfr_t *mX, *mT;         /* the state and the teacher as MPFR numbers of
                              MV_PREC_DOUBLE bits (doubles held exactly) */
  unsigned long rhs, jac;
  int err;                 /* library status of a failed RHS */
} full_ctx;

static int
full_grad (full_ctx *c, const double *y, double *L)
{
  size_t md = c->m * c->d, sd = c->ms * c->d;
  if (c->prec <= MV_PREC_DOUBLE)
    return mv_loss_eval_vec_d (L, c->gV, c->gW, NULL, y, y + md, c->Ut,
                               c->Ut + sd, c->d, c->noise, c->ws);
  /* the raw vectors as they are: the unit teacher rows would add a rounding */
  for (size_t i = 0; i < 2 * md; i++)
    mpfr_set_d (c->mX[i], y[i], MPFR_RNDN);
  int s = mv_loss_eval_vec (c->L, c->mV, c->mW, NULL, (mpfr_t const *) c->mX,
                            (mpfr_t const *) (c->mX + md), (mpfr_t const *) c->mT,
                            (mpfr_t const *) (c->mT + sd), c->d, c->noise, c->ws);
  if (s)
    return s;
  *L = mpfr_get_d (c->L, MPFR_RNDN);
  for (size_t i = 0; i < md; i++)
    {
      c->gV[i] = mpfr_get_d (c->mV[i], MPFR_RNDN);
      c->gW[i] = mpfr_get_d (c->mW[i], MPFR_RNDN);
    }
  return MV_OK;
}

static int
full_rhs (double t, const double y[], double f[], void *params)
{
  (void) t;
  full_ctx *c = params;
  size_t md = c->m * c->d;
  double L, g2 = 0;
  c->rhs++;
  if ((c->err = full_grad (c, y, &L)))
    return GSL_EBADFUNC;
  for (size_t i = 0; i < md; i++)
    {
      f[i] = -c->gV[i], f[md + i] = -c->gW[i];
      g2 += c->gV[i] * c->gV[i] + c->gW[i] * c->gW[i];
    }
  f[2 * md] = g2;
  return isfinite (g2) ? GSL_SUCCESS : GSL_EBADFUNC;
}

/* dfdy = -H for the parameters.  The energy column is zero (nothing depends
 * on E); so is its row, as in the reduced flow: E feeds back into nothing,
 * so the Newton iterations still converge for it. */
static int
full_jac (double t, const double y[], double *dfdy, double dfdt[], void *params)
{
  (void) t;
  full_ctx *c = params;
  size_t md = c->m * c->d, N = 2 * md, dim = N + 1;
  c->jac++;
  if ((c->err = mv_loss_hess_raw_vec_d (c->H, NULL, NULL, NULL, y, y + md,
                                        c->Vt, c->Wt, c->d, c->noise, c->ws)))
    return GSL_EBADFUNC;
  int ok = 1;
  for (size_t a = 0; a < N; a++)
    {
      const double *h = c->H + a * N;
      double *row = dfdy + a * dim;
      for (size_t b = 0; b < N; b++)
        {
          row[b] = -h[b];
          ok &= isfinite (h[b]);
        }
      row[N] = 0;
    }
  memset (dfdy + N * dim, 0, dim * sizeof *dfdy);
  memset (dfdt, 0, dim * sizeof *dfdt);
  return ok ? GSL_SUCCESS : GSL_EBADFUNC;
}


/* Gram matrix of the unit vectors of state y (teacher rows precomputed). */
static int
full_observe (void *ctx, const double *y, double *G, double *L, double *grad2)
{
  full_ctx *c = ctx;
  size_t m = c->m, d = c->d, n = c->n, md = m * d;
  double *nrm = c->gV;     /* scratch: reused before the gradient below */
  for (size_t k = 0; k < 2 * m; k++)
    {
      const double *u = y + k * d;     /* V rows then W rows */
      nrm[k] = sqrt (mv_dot (u, u, d));
    }
  if (!L)
    {
      /* events need only the alignments with the teachers */
      size_t ms = c->ms;
      for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < ms; j++)
          {
            size_t tv = 2 * m + j, tw = 2 * m + ms + j;
            G[i * n + tv] = mv_dot (y + i * d, c->Ut + j * d, d) / nrm[i];
            G[(m + i) * n + tw] = mv_dot (y + (m + i) * d, c->Ut + (ms + j) * d, d) / nrm[m + i];
          }
      return MV_OK;
    }
  for (size_t k = 0; k < n; k++)
    {
      G[k * n + k] = 1;
      const double *uk = k < 2 * m ? y + k * d : c->Ut + (k - 2 * m) * d;
      double nk = k < 2 * m ? nrm[k] : 1.0;
      for (size_t l = k + 1; l < n; l++)
        {
          const double *ul = l < 2 * m ? y + l * d : c->Ut + (l - 2 * m) * d;
          double nl = l < 2 * m ? nrm[l] : 1.0;
          G[k * n + l] = G[l * n + k] = mv_dot (uk, ul, d) / (nk * nl);
        }
    }
  int s = full_grad (c, y, L);
  if (s)
    return s;
  double g2 = 0;
  for (size_t i = 0; i < md; i++)
    g2 += c->gV[i] * c->gV[i] + c->gW[i] * c->gW[i];
  *grad2 = g2;
  return MV_OK;
}

static void
full_free (full_ctx *c)
{
  size_t md = c->m * c->d, sd = c->ms * c->d;
  mv_loss_free (c->ws);
  free (c->gV), free (c->gW), free (c->Ut), free (c->Vt), free (c->Wt), free (c->H);
  if (c->mp)
    mpfr_clear (c->L);
  mv_mpfr_vec_free (c->mV, md), mv_mpfr_vec_free (c->mW, md);
  mv_mpfr_vec_free (c->mX, 2 * md), mv_mpfr_vec_free (c->mT, 2 * sd);
}

/* The MPFR right-hand side's numbers, allocated once: L and the gradient
 * at prec, the state and the (fixed) raw teacher at MV_PREC_DOUBLE bits. */
static int
full_setup_mp (full_ctx *c)
{
  size_t md = c->m * c->d, sd = c->ms * c->d;
  mpfr_init2 (c->L, c->prec);
  c->mp = 1;
  c->mV = mv_mpfr_vec_new (md, c->prec), c->mW = mv_mpfr_vec_new (md, c->prec);
  c->mX = mv_mpfr_vec_new (2 * md, MV_PREC_DOUBLE), c->mT = mv_mpfr_vec_new (2 * sd, MV_PREC_DOUBLE);
  if (!c->mV || !c->mW || !c->mX || !c->mT)
    return mv_error_set (MV_ENOMEM, "flow: out of memory");
  for (size_t i = 0; i < sd; i++)
    mpfr_set_d (c->mT[i], c->Vt[i], MPFR_RNDN), mpfr_set_d (c->mT[sd + i], c->Wt[i], MPFR_RNDN);
  return MV_OK;
}

/* Vectors of pb into y (student) and c (teacher), the loss workspace, and
 * what the Jacobian (implicit steppers) and the MPFR path need. */
static int
full_setup (full_ctx *c, double *y, const mv_problem *pb, int implicit)
{
  size_t m = c->m, ms = c->ms, d = c->d, md = m * d;
  c->gV = malloc ((md > 2 * m ? md : 2 * m) * sizeof *c->gV);
  c->gW = malloc (md * sizeof *c->gW);
  c->Ut = malloc (2 * ms * d * sizeof *c->Ut);
  c->Vt = malloc (ms * d * sizeof *c->Vt), c->Wt = malloc (ms * d * sizeof *c->Wt);
  if (!c->gV || !c->gW || !c->Ut || !c->Vt || !c->Wt)
    return mv_error_set (MV_ENOMEM, "flow: out of memory (d = %zu)", d);
  int s = mv_problem_vectors_d (y, y + md, c->Vt, c->Wt, pb);
  if (s)
    return s;
  if (!(c->ws = mv_loss_alloc (m, ms, c->prec)))
    return MV_ENOMEM;
  /* the dense Hessian only for the implicit steppers and small problems;
   * otherwise no Jacobian, and flow.c refuses implicit steppers cleanly */
  int want_jac = implicit && 2 * md <= MV_LOSS_HESS_RAW_MAX
                 && mv_loss_nvar (c->ws) <= MV_LOSS_HESS_RAW_MAXVAR;
  if (want_jac)
    if (!(c->H = malloc (4 * md * md * sizeof *c->H)))
      return mv_error_set (MV_ENOMEM, "flow: out of memory for the %zu x %zu Jacobian",
                           2 * md, 2 * md);
  if (c->prec > MV_PREC_DOUBLE && (s = full_setup_mp (c)))
    return s;
  /* unit teacher vectors */
  for (size_t j = 0; j < 2 * ms; j++)
    {
      const double *u = j < ms ? c->Vt + j * d : c->Wt + (j - ms) * d;
      double nr = sqrt (mv_dot (u, u, d));
      for (size_t i = 0; i < d; i++)
        c->Ut[j * d + i] = u[i] / nr;
    }
  return MV_OK;
}

int
mv_flow_full (mv_traj *tr, const mv_problem *pb, const mv_flow_params *p)
{
  full_ctx c;
  memset (&c, 0, sizeof c);
  size_t m = pb->m, ms = pb->mstar, d = pb->d, md = m * d, dim = 2 * md + 1;
  c.m = m, c.ms = ms, c.d = d, c.n = 2 * (m + ms), c.noise = pb->noise_var;
  c.prec = p->prec > MV_PREC_DOUBLE ? p->prec : MV_PREC_DOUBLE;
  if (tr->m != m || tr->mstar != ms)
    return mv_error_set (MV_EINVAL, "flow: trajectory is for m = %zu, m* = %zu", tr->m, tr->mstar);
  double *y = malloc (dim * sizeof *y), *scale = malloc (dim * sizeof *scale);
  int s = !y || !scale ? mv_error_set (MV_ENOMEM, "flow: out of memory (d = %zu)", d)
                       : full_setup (&c, y, pb, mv_flow_implicit (p));
  /* the objective: L plus the regularizers (none when all are 0) */
  if (!s)
    s = mv_loss_add_regularizers (c.ws, p->reg);
  if (!s)
    {
      /* error scales: entries of a vector of norm r in R^d are of size
       * r / sqrt(d) */
      for (size_t k = 0; k < 2 * m; k++)
        {
          const double *u = y + k * d;
          double nr = sqrt (mv_dot (u, u, d));
          tr->norms0[k] = nr;
          for (size_t i = 0; i < d; i++)
            scale[k * d + i] = nr / sqrt ((double) d);
        }
      for (size_t k = 2 * m; k < c.n; k++)
        tr->norms0[k] = 1.0;
      y[dim - 1] = 0;
      scale[dim - 1] = 1;
      snprintf (tr->method, sizeof tr->method, "full");
      if (!tr->init[0])
        snprintf (tr->init, sizeof tr->init, "spec vectors");
      mv_flow_problem fp = { { full_rhs, c.H ? full_jac : NULL, dim, &c }, scale,
                             full_observe, &c, &c.rhs, &c.jac, d,
                             mv_ckpt_hash (c.Vt, ms * d * sizeof *c.Vt)
                             ^ 3 * mv_ckpt_hash (c.Wt, ms * d * sizeof *c.Wt)
                             ^ 5 * mv_ckpt_hash (&c.noise, sizeof c.noise) };
      s = mv_flow_integrate (tr, &fp, y, p);
      if (c.err && tr->status == MV_TRAJ_FAILED)
        s = c.err;
      tr->d = d;
      free (tr->final_state);
      tr->final_state = malloc (2 * md * sizeof *tr->final_state);
      if (tr->final_state)
        memcpy (tr->final_state, y, 2 * md * sizeof *y);
    }
  free (y), free (scale);
  full_free (&c);
  return s;
}
