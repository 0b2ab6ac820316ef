/* Raw-parameter Hessian (double path; proofs/loss-gradient.md, "Raw
 * Hessian").  With r_k = |u_k|, P_k = I - ub_k ub_k^T, B_k = P_k / r_k,
 * h_k = sum_{l != k} g_kl ub_l and grad_k = B_k h_k, block (k, q) of
 * d2L/dtheta2 (students k, q) is
 *   B_k S_kq B_q + g_kq B_k B_q,   S_kq = sum_{l,p} H_G[var(k,l), var(q,p)] ub_l ub_p^T,
 * and the diagonal blocks add the derivative of B_k at fixed h_k,
 *   -(ub_k . h_k / r_k^2) P_k - (ub_k grad_k^T + grad_k ub_k^T) / r_k.
 * B_k S_kq B_q = (P_k U^T) C (U P_q) / (r_k r_q) with C_lp = H_G[var(k,l), var(q,p)]:
 * the rows of U P_q (unit vectors projected off ub_q) are formed once.
 * The Gram Hessian H_G is that of the whole objective (loss.h), so every
 * term with a hess_d is covered. */
#include "base/linalg.h"
#include "loss/loss_priv.h"
#include <moeverify/error.h>

#include <stdlib.h>
#include <string.h>

/* Per-call scratch: the workspace is freed in loss.c, which knows nothing
 * of these buffers. */
typedef struct {
  size_t n, d, ns, N, nv;
  double *HG;     /* Gram Hessian, nv x nv */
  double *Pu;     /* P_k ub_l for student k, all l: ns x n x d */
  double *C, *CU; /* n x n, n x d */
  double *blk;    /* d x d block */
  double *gr;     /* d */
  size_t *var;    /* var(k, l), ns x n */
} hess_scratch;

static void
scratch_free (hess_scratch *h)
{
  free (h->HG), free (h->Pu), free (h->C), free (h->CU), free (h->blk);
  free (h->gr), free (h->var);
}

static int
scratch_alloc (hess_scratch *h, const mv_loss_ws *ws, size_t d)
{
  size_t n = ws->n, ns = 2 * ws->m, nv = mv_loss_nvar (ws);
  *h = (hess_scratch) { n, d, ns, ns * d, nv, NULL, NULL, NULL, NULL, NULL, NULL, NULL };
  h->HG = malloc (nv * nv * sizeof *h->HG);
  h->Pu = malloc (ns * n * d * sizeof *h->Pu);
  h->C = malloc (n * n * sizeof *h->C), h->CU = malloc (n * d * sizeof *h->CU);
  h->blk = malloc (d * d * sizeof *h->blk), h->gr = malloc (d * sizeof *h->gr);
  h->var = malloc (ns * n * sizeof *h->var);
  if (h->HG && h->Pu && h->C && h->CU && h->blk && h->gr && h->var)
    return MV_OK;
  scratch_free (h);
  return mv_error_set (MV_ENOMEM, "loss: out of memory for the raw Hessian "
                       "(2md = %zu, %zu Gram variables)", ns * d, nv);
}

/* Size limits and arguments (loss.h: MV_LOSS_HESS_RAW_MAX*). */
static int
hess_raw_check (const double *H, size_t d, const mv_loss_ws *ws)
{
  size_t m = ws->m, N = 2 * m * d, nv = mv_loss_nvar (ws);  if (N > MV_LOSS_HESS_RAW_MAX)
    return mv_error_set (MV_EINVAL, "loss: the raw Hessian is a dense (2md)^2 matrix built "
                         "in O((md)^2 n) work, limited to 2md <= %d; this problem has "
                         "2md = %zu (m = %zu, d = %zu): use the reduced flow",
                         MV_LOSS_HESS_RAW_MAX, N, m, d);
  if (nv > MV_LOSS_HESS_RAW_MAXVAR)
    return mv_error_set (MV_EINVAL, "loss: the raw Hessian needs the Gram Hessian over "
                         "%zu free Gram entries (m = %zu, m* = %zu), limited to %d",
                         nv, m, ws->mstar, MV_LOSS_HESS_RAW_MAXVAR);
  if (!H)
    return mv_error_set (MV_EINVAL, "loss: raw Hessian output is NULL");
  return MV_OK;
}

/* Pu = P_k ub_l and var(k, l) for every student k and vector l. */
static void
project_rows (hess_scratch *h, const mv_loss_ws *ws)
{
  size_t n = h->n, d = h->d;
  const double *U = ws->Ud, *G = ws->Gd;
  for (size_t k = 0; k < h->ns; k++)
    {
      const double *uk = U + k * d;
      for (size_t l = 0; l < n; l++)
        {
          const double *ul = U + l * d;
          double *o = h->Pu + (k * n + l) * d, c = l == k ? 1.0 : G[k * n + l];
          for (size_t i = 0; i < d; i++)
            o[i] = ul[i] - c * uk[i];
          h->var[k * n + l] = mv_loss_var (ws, k, l);
        }
    }
}

/* blk = (P_k U^T) C (U P_q) / (r_k r_q), C_lp = H_G[var(k,l), var(q,p)]. */
static void
block_gram (hess_scratch *h, size_t k, size_t q, double rkq)
{
  size_t n = h->n, d = h->d, nv = h->nv;
  double *C = h->C, *CU = h->CU, *blk = h->blk;
  for (size_t l = 0; l < n; l++)
    {
      size_t a = h->var[k * n + l];
      for (size_t p = 0; p < n; p++)
        {
          size_t b = h->var[q * n + p];
          C[l * n + p] = a == (size_t) -1 || b == (size_t) -1 ? 0.0 : h->HG[a * nv + b];
        }
    }
  memset (CU, 0, n * d * sizeof *CU);
  for (size_t l = 0; l < n; l++)
    {
      double *cu = CU + l * d;
      for (size_t p = 0; p < n; p++)
        {
          double c = C[l * n + p];
          if (c == 0.0)
            continue;
          const double *pp = h->Pu + (q * n + p) * d;
          for (size_t j = 0; j < d; j++)
            cu[j] += c * pp[j];
        }
    }
  memset (blk, 0, d * d * sizeof *blk);
  for (size_t l = 0; l < n; l++)
    {
      const double *pk = h->Pu + (k * n + l) * d, *cu = CU + l * d;
      for (size_t i = 0; i < d; i++)
        {
          double a = pk[i];
          if (a == 0.0)
            continue;
          double *row = blk + i * d;
          for (size_t j = 0; j < d; j++)
            row[j] += a * cu[j];
        }
    }
  for (size_t i = 0; i < d * d; i++)
    blk[i] *= rkq;
}

/* Off-diagonal block: + g_kq B_k B_q
 *   = g_kq (I - uk uk^T - uq uq^T + G_kq uk uq^T) / (r_k r_q). */
static void
block_offdiag (hess_scratch *h, size_t k, size_t q, double rkq, const mv_loss_ws *ws)
{
  size_t n = h->n, d = h->d;
  const double *uk = ws->Ud + k * d, *uq = ws->Ud + q * d;
  double c = ws->gd[k * n + q] * rkq, Gkq = ws->Gd[k * n + q];
  if (c == 0.0)
    return;
  for (size_t i = 0; i < d; i++)
    {
      double *row = h->blk + i * d;
      row[i] += c;
      for (size_t j = 0; j < d; j++)
        row[j] += c * (Gkq * uk[i] * uq[j] - uk[i] * uk[j] - uq[i] * uq[j]);
    }
}

/* Diagonal block: + d B_k / d u_k at fixed h_k, then symmetrised (exactly
 * symmetric in exact arithmetic: remove the rounding asymmetry). */
static void
block_diag (hess_scratch *h, size_t k, const mv_loss_ws *ws)
{
  size_t n = h->n, d = h->d;
  const double *U = ws->Ud, *uk = U + k * d, *g = ws->gd;
  double *gr = h->gr, *blk = h->blk;
  memset (gr, 0, d * sizeof *gr);
  for (size_t l = 0; l < n; l++)
    {
      double c = g[k * n + l];
      if (l == k || c == 0.0)
        continue;
      const double *ul = U + l * d;
      for (size_t i = 0; i < d; i++)
        gr[i] += c * ul[i];
    }
  double ch = mv_dot (gr, uk, d), ir = 1.0 / ws->normd[k], a = ch * ir * ir;
  for (size_t i = 0; i < d; i++)
    gr[i] = (gr[i] - ch * uk[i]) * ir;
  for (size_t i = 0; i < d; i++)
    {
      double *row = blk + i * d;
      row[i] -= a;
      for (size_t j = 0; j < d; j++)
        row[j] += a * uk[i] * uk[j] - (uk[i] * gr[j] + gr[i] * uk[j]) * ir;
    }
  for (size_t i = 0; i < d; i++)
    for (size_t j = i + 1; j < d; j++)
      {
        double v = 0.5 * (blk[i * d + j] + blk[j * d + i]);
        blk[i * d + j] = blk[j * d + i] = v;
      }
}

/* Block (k, q) into H and its transpose into (q, k). */
static void
block_store (double *H, const hess_scratch *h, size_t k, size_t q)
{
  size_t d = h->d, N = h->N;
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j < d; j++)
      {
        double v = h->blk[i * d + j];
        H[(k * d + i) * N + q * d + j] = v;
        H[(q * d + j) * N + k * d + i] = v;
      }
}

/* The Hessian from the unit vectors and Gram matrix already in ws. */
static int
hess_raw (double *H, double *L, double *gV, double *gW, size_t d,
          double noise_var, mv_loss_ws *ws)
{
  hess_scratch h;
  int s = scratch_alloc (&h, ws, d);
  if (s)
    return s;
  double Lv;
  mv_loss_info li;
  s = mv_loss_gram_hess_d (&Lv, ws->gd, h.HG, &li, ws->Gd, noise_var, ws);
  if (s)
    goto done;
  if (L)
    *L = Lv;
  if (gV || gW)
    mv_loss_raw_grad_d (gV, gW, &li, d, ws);
  project_rows (&h, ws);
  for (size_t k = 0; k < h.ns; k++)
    for (size_t q = k; q < h.ns; q++)
      {
        double rkq = 1.0 / (ws->normd[k] * ws->normd[q]);
        block_gram (&h, k, q, rkq);
        if (k != q)
          block_offdiag (&h, k, q, rkq, ws);
        else
          block_diag (&h, k, ws);
        block_store (H, &h, k, q);
      }
done:
  scratch_free (&h);
  return s;
}

int
mv_loss_hess_raw_d (double *H, double *L, double *gV, double *gW,
                    const mv_problem *pb, mv_loss_ws *ws)
{
  int s = mv_loss_check_shape (pb, ws);
  if (s || (s = hess_raw_check (H, pb->d, ws))
      || (s = mv_loss_unit_gram_d (pb, ws)))
    return s;
  return hess_raw (H, L, gV, gW, pb->d, pb->noise_var, ws);
}

int
mv_loss_hess_raw_vec_d (double *H, double *L, double *gV, double *gW,
                        const double *V, const double *W, const double *Vt,
                        const double *Wt, size_t d, double noise_var,
                        mv_loss_ws *ws)
{
  int s = hess_raw_check (H, d, ws);
  if (s || (s = mv_loss_unit_gram_vec_d (V, W, Vt, Wt, d, ws)))
    return s;
  return hess_raw (H, L, gV, gW, d, noise_var, ws);
}
