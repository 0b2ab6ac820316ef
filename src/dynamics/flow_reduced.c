/* The dimension-free flow of the Gram matrix (MATH.md §3).  With
 * u_k = r_k ubar_k and r_k conserved,
 *   d ubar_k/dt = -(I - ubar_k ubar_k^T) sum_l g_kl ubar_l / r_k^2,
 * so with M = g G:  d G_kl/dt = A_kl + A_lk,  A_kl = -(M_kl - G_kl M_kk)/r_k^2
 * for students k (A = 0 for teachers), and
 *   |grad L|^2 = sum_k ((M g)_kk - M_kk^2) / r_k^2.
 * The state is the free Gram entries (k < l, k a student) and the energy. */
#include "dynamics/flow_priv.h"
#include "base/linalg.h"
#include "spec/problem_priv.h"
#include <moeverify/error.h>
#include <moeverify/expect.h>
#include <moeverify/hermite.h>
#include <moeverify/loss.h>

#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  size_t m, ms, n, nvar;
  double noise;
  mv_loss_ws *ws;
  double *G, *g, *M, *r2;  /* Gram, dL/dG, g G, squared norms */
  double *H, *T;           /* Jacobian only: d2L/dG2 (nvar^2), G Hk (n x nvar) */
  size_t *vk, *vl;         /* variable -> (k, l) */
  unsigned long rhs, jac;
  int err;
} red_ctx;

/* Integration error can push an overlap of nearly aligned vectors a hair
 * past 1, where the Hermite series diverge: clamp to the closed set. */
static void
fill_gram (red_ctx *c, const double *y)
{
  size_t n = c->n;
  for (size_t a = 0; a < c->nvar; a++)
    {
      double v = y[a] > 1.0 ? 1.0 : y[a] < -1.0 ? -1.0 : y[a];
      c->G[c->vk[a] * n + c->vl[a]] = c->G[c->vl[a] * n + c->vk[a]] = v;
    }
}

/* L, g and M = g G for the students' rows; returns |grad L|^2. */
static int
red_eval (red_ctx *c, const double *y, double *L, double *g2)
{
  size_t n = c->n, ns = 2 * c->m;
  fill_gram (c, y);
  int s = mv_loss_gram_d (L, c->g, NULL, c->G, c->noise, c->ws);
  if (s)
    return s;
  mv_linalg_combine (c->M, n, c->g, n, ns, c->G, n, n, n);
  double acc = 0;
  for (size_t k = 0; k < ns; k++)
    {
      const double *Mk = c->M + k * n;
      acc += (mv_dot (Mk, c->g + k * n, n) - Mk[k] * Mk[k]) / c->r2[k];
    }
  *g2 = acc;
  return MV_OK;
}

static int
red_rhs (double t, const double y[], double f[], void *params)
{
  (void) t;
  red_ctx *c = params;
  size_t n = c->n, ns = 2 * c->m;
  double L, g2;
  c->rhs++;
  if ((c->err = red_eval (c, y, &L, &g2)))
    return GSL_EBADFUNC;
  for (size_t a = 0; a < c->nvar; a++)
    {
      size_t k = c->vk[a], l = c->vl[a];
      double Gkl = c->G[k * n + l];
      double v = -(c->M[k * n + l] - Gkl * c->M[k * n + k]) / c->r2[k];
      if (l < ns)
        v += -(c->M[l * n + k] - Gkl * c->M[l * n + l]) / c->r2[l];
      f[a] = v;
    }
  f[c->nvar] = g2;
  return isfinite (g2) ? GSL_SUCCESS : GSL_EBADFUNC;
}

/* Analytic Jacobian of red_rhs.  With Hk the rows H[var(k,j), .]:
 *   dM_kl/dy_b = (G Hk)_lb + [l = q_b] g_{k p_b} + [l = p_b] g_{k q_b},
 *   dA_kl/dy_b = -(dM_kl/dy_b - [b = (k,l)] M_kk - G_kl dM_kk/dy_b) / r_k^2.
 * The energy row and column are zero: E feeds back into nothing, so the
 * Newton iterations of implicit steppers still converge for it. */
static void
red_dM (double *out, const red_ctx *c, size_t k, size_t l)
{
  size_t n = c->n, nv = c->nvar;
  memcpy (out, c->T + l * nv, nv * sizeof *out);
  for (size_t j = 0; j < n; j++)
    if (j != l)
      {
        size_t b = mv_loss_var (c->ws, j, l);
        if (b != (size_t) -1)
          out[b] += c->g[k * n + j];
      }
}

static int
red_jac (double t, const double y[], double *dfdy, double dfdt[], void *params)
{
  (void) t;
  red_ctx *c = params;
  size_t n = c->n, nv = c->nvar, dim = nv + 1, ns = 2 * c->m;
  double L, g2;
  c->jac++;
  fill_gram (c, y);
  if ((c->err = mv_loss_gram_hess_d (&L, c->g, c->H, NULL, c->G, c->noise, c->ws)))
    return GSL_EBADFUNC;
  if ((c->err = red_eval (c, y, &L, &g2)))
    return GSL_EBADFUNC;
  memset (dfdy, 0, dim * dim * sizeof *dfdy);
  memset (dfdt, 0, dim * sizeof *dfdt);
  double *dMkl = c->T + n * nv, *dMkk = dMkl + nv;
  for (size_t k = 0; k < ns; k++)
    {
      /* T = G Hk */
      memset (c->T, 0, n * nv * sizeof *c->T);
      for (size_t j = 0; j < n; j++)
        {
          size_t v = mv_loss_var (c->ws, k, j);
          if (v == (size_t) -1)
            continue;
          const double *Hrow = c->H + v * nv;
          for (size_t l = 0; l < n; l++)
            {
              double gl = c->G[l * n + j];
              double *Tl = c->T + l * nv;
              for (size_t b = 0; b < nv; b++)
                Tl[b] += gl * Hrow[b];
            }
        }
      red_dM (dMkk, c, k, k);
      double Mkk = c->M[k * n + k], ir = 1.0 / c->r2[k];
      /* rows a = var(k,l) receive A_kl; for student l < k, var(l,k) too */
      for (size_t l = 0; l < n; l++)
        {
          size_t a = mv_loss_var (c->ws, k, l);
          if (l == k || a == (size_t) -1)
            continue;
          red_dM (dMkl, c, k, l);
          double Gkl = c->G[k * n + l];
          double *row = dfdy + a * dim;
          for (size_t b = 0; b < nv; b++)
            row[b] -= ir * (dMkl[b] - Gkl * dMkk[b]);
          row[a] += ir * Mkk;
        }
    }
  return GSL_SUCCESS;
}

static int
red_observe (void *ctx, const double *y, double *G, double *L, double *grad2)
{
  red_ctx *c = ctx;
  size_t nn = c->n * c->n;
  if (L)
    {
      int s = red_eval (c, y, L, grad2);
      if (s)
        return s;
    }
  else
    fill_gram (c, y);
  memcpy (G, c->G, nn * sizeof *G);
  return MV_OK;
}

static void
red_free (red_ctx *c)
{
  mv_loss_free (c->ws);
  free (c->G), free (c->g), free (c->M), free (c->r2), free (c->vk), free (c->vl);
  free (c->H), free (c->T);
}

static int
check_gram (const double *G0, const double *norms, size_t m, size_t n)
{
  for (size_t k = 0; k < n; k++)
    {
      if (fabs (G0[k * n + k] - 1.0) > MV_RHO_SLACK)
        return mv_error_set (MV_EDOM, "flow: Gram diagonal entry %zu is %g, not 1", k, G0[k * n + k]);
      for (size_t l = 0; l < n; l++)
        if (!isfinite (G0[k * n + l]) || fabs (G0[k * n + l]) > 1 + MV_RHO_SLACK
            || G0[k * n + l] != G0[l * n + k])
          return mv_error_set (MV_EDOM, "flow: Gram entry (%zu,%zu) = %g is not a symmetric "
                               "correlation", k, l, G0[k * n + l]);
    }
  for (size_t k = 0; k < 2 * m; k++)
    if (!(norms[k] > 0) || !isfinite (norms[k]))
      return mv_error_set (MV_EDOM, "flow: norm %zu = %g is not positive", k, norms[k]);
  return MV_OK;
}

static int
red_setup (red_ctx *c, double *y, double *scale, const double *G0, const double *norms,
           int want_jac)
{
  size_t n = c->n, ns = 2 * c->m;
  c->G = malloc (n * n * sizeof *c->G);
  c->g = malloc (n * n * sizeof *c->g);
  c->M = malloc (n * n * sizeof *c->M);
  c->r2 = malloc (n * sizeof *c->r2);
  c->vk = malloc (c->nvar * sizeof *c->vk), c->vl = malloc (c->nvar * sizeof *c->vl);
  if (want_jac)
    {
      c->H = malloc (c->nvar * c->nvar * sizeof *c->H);
      c->T = malloc ((n + 2) * c->nvar * sizeof *c->T);
    }
  if (!c->G || !c->g || !c->M || !c->r2 || !c->vk || !c->vl
      || (want_jac && (!c->H || !c->T)))
    return mv_error_set (MV_ENOMEM, "flow: out of memory (%zu variables)", c->nvar);
  if (!(c->ws = mv_loss_alloc (c->m, c->ms, MV_PREC_DOUBLE)))
    return MV_ENOMEM;
  memcpy (c->G, G0, n * n * sizeof *c->G);
  size_t a = 0;
  for (size_t k = 0; k < ns; k++)
    for (size_t l = k + 1; l < n; l++, a++)
      c->vk[a] = k, c->vl[a] = l, y[a] = G0[k * n + l], scale[a] = 1.0;
  y[c->nvar] = 0, scale[c->nvar] = 1.0;
  for (size_t k = 0; k < n; k++)
    c->r2[k] = k < ns ? norms[k] * norms[k] : 1.0;
  return MV_OK;
}

int
mv_flow_reduced_eval_d (double *f, double *J, const double *G0, const double *norms,
                        size_t m, size_t mstar, double noise_var)
{
  red_ctx c;
  memset (&c, 0, sizeof c);
  size_t n = 2 * (m + mstar), ns = 2 * m;
  c.m = m, c.ms = mstar, c.n = n, c.noise = noise_var;
  c.nvar = ns * (ns - 1) / 2 + ns * 2 * mstar;
  double *y = malloc ((c.nvar + 1) * sizeof *y), *sc = malloc ((c.nvar + 1) * sizeof *sc);
  double *dfdt = malloc ((c.nvar + 1) * sizeof *dfdt);
  int s = check_gram (G0, norms, m, n);
  if (!s && (!y || !sc || !dfdt))
    s = mv_error_set (MV_ENOMEM, "flow: out of memory");
  if (!s)
    s = red_setup (&c, y, sc, G0, norms, J != NULL);
  if (!s && red_rhs (0, y, f, &c) != GSL_SUCCESS)
    s = c.err ? c.err : MV_EDOM;
  if (!s && J && red_jac (0, y, J, dfdt, &c) != GSL_SUCCESS)
    s = c.err ? c.err : MV_EDOM;
  free (y), free (sc), free (dfdt);
  red_free (&c);
  return s;
}

int
mv_flow_reduced (mv_traj *tr, const double *G0, const double *norms, size_t m,
                 size_t mstar, double noise_var, const mv_flow_params *p)
{
  red_ctx c;
  memset (&c, 0, sizeof c);
  size_t n = 2 * (m + mstar), ns = 2 * m;
  if (tr->m != m || tr->mstar != mstar)
    return mv_error_set (MV_EINVAL, "flow: trajectory is for m = %zu, m* = %zu", tr->m, tr->mstar);
  int s = check_gram (G0, norms, m, n);
  if (s)
    return s;
  c.m = m, c.ms = mstar, c.n = n, c.noise = noise_var;
  c.nvar = ns * (ns - 1) / 2 + ns * 2 * mstar;
  size_t dim = c.nvar + 1;
  /* the dense Jacobian costs O(m n^2 nvar) and nvar^2 memory: built only
   * for the implicit steppers */
  int implicit = mv_flow_implicit (p);
  double *y = malloc (dim * sizeof *y), *scale = malloc (dim * sizeof *scale);
  if (!y || !scale)
    s = mv_error_set (MV_ENOMEM, "flow: out of memory");
  if (!s)
    s = red_setup (&c, y, scale, G0, norms, implicit);
  if (!s)   /* the objective: L plus the regularizers (none when all 0) */
    s = mv_loss_add_regularizers (c.ws, p->reg);
  if (!s)
    {
      for (size_t k = 0; k < n; k++)
        tr->norms0[k] = k < ns ? norms[k] : 1.0;
      snprintf (tr->method, sizeof tr->method, "reduced");
      mv_flow_problem fp = { { red_rhs, implicit ? red_jac : NULL, dim, &c }, scale,
                             red_observe, &c, &c.rhs, &c.jac, 0,
                             mv_ckpt_hash (G0, n * n * sizeof *G0)
                             ^ 3 * mv_ckpt_hash (&c.noise, sizeof c.noise) };
      s = mv_flow_integrate (tr, &fp, y, p);
      if (c.err && tr->status == MV_TRAJ_FAILED)
        s = c.err;
    }
  free (y), free (scale);
  red_free (&c);
  return s;
}

/* ------------------------------------------------------------ G(0) */

int
mv_flow_gram0 (double *G0, double *norms, char *how, size_t howlen,
               const mv_problem *pb, int mode)
{
  static const char *const HOW[] = {
    [MV_GRAM0_VECTORS] = "Gram matrix of the spec vectors",
    [MV_GRAM0_SAMPLE] = "exact low-dimensional sample of G(0)",
  };
  if (mode != MV_GRAM0_AUTO && mode != MV_GRAM0_VECTORS && mode != MV_GRAM0_SAMPLE)
    return mv_error_set (MV_EINVAL, "flow: unknown G(0) mode %d", mode);
  int used = mode, too_large = 0;
  if (mode == MV_GRAM0_AUTO && pb && pb->priv)
    {
      /* decided from the sizes before anything is drawn, so a failure
       * below is reported, never replaced by another draw */
      too_large = mv_problem_check_formable (pb, 1, 1) != MV_OK;
      if (too_large)
        mv_error_clear ();
      used = too_large ? MV_GRAM0_SAMPLE : MV_GRAM0_VECTORS;
    }
  else if (mode == MV_GRAM0_AUTO)
    used = MV_GRAM0_VECTORS;     /* reports the unusable problem */
  int s = used == MV_GRAM0_SAMPLE ? mv_problem_gram_sample_d (G0, norms, pb)
                                  : mv_problem_gram_d (G0, norms, pb);
  if (s)
    {
      mv_error_prefix (used == MV_GRAM0_SAMPLE ? "flow: sampling G(0)"
                       : "flow: G(0) from the spec vectors");
      return s;
    }
  if (how && howlen)
    snprintf (how, howlen, "%s%s", HOW[used], too_large ? " (d too large for vectors)" : "");
  return MV_OK;
}

int
mv_flow_reduced_problem (mv_traj *tr, const mv_problem *pb, int mode,
                         const mv_flow_params *p)
{
  size_t n = 2 * (pb->m + pb->mstar);
  double *G = malloc (n * n * sizeof *G), *nr = malloc (n * sizeof *nr);
  int s = G && nr ? mv_flow_gram0 (G, nr, tr->init, sizeof tr->init, pb, mode)
    : mv_error_set (MV_ENOMEM, "out of memory");
  if (!s)
    s = mv_flow_reduced (tr, G, nr, pb->m, pb->mstar, pb->noise_var, p);
  free (G), free (nr);
  return s;
}
