/* Population loss L and dL/dG on the Gram matrix of unit vectors, and the
 * gradient with respect to the raw student vectors by the chain rule
 * dL/du_k = (I - u_k u_k^T) sum_l g_kl u_l / |u_k|   (MATH.md §2-3). */
#include "loss/loss_priv.h"
#include <moeverify/loss.h>
#include <moeverify/error.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>



mv_loss_ws *
mv_loss_alloc (size_t m, size_t mstar, mpfr_prec_t prec)
{
  mv_init ();
  if (m == 0 || mstar == 0)
    {
      mv_error_set (MV_EINVAL, "loss: need m >= 1 and m* >= 1");
      return NULL;
    }
  mv_loss_ws *ws = calloc (1, sizeof *ws);
  if (!ws)
    {
      mv_error_set (MV_ENOMEM, "loss: out of memory");
      return NULL;
    }
  ws->m = m, ws->mstar = mstar, ws->n = 2 * (m + mstar), ws->prec = prec;
  ws->ex = mv_expect_alloc (prec);
  ws->errG = calloc (ws->n * ws->n, sizeof *ws->errG);
  ws->errGm = calloc (ws->n * ws->n, sizeof *ws->errGm);
  ws->chunk_dG = malloc (MV_LOSS_NCHUNK * ws->n * ws->n * sizeof *ws->chunk_dG);
  ws->chunk_eG = malloc (MV_LOSS_NCHUNK * ws->n * ws->n * sizeof *ws->chunk_eG);
  if (!ws->ex || !ws->errG || !ws->errGm || !ws->chunk_dG || !ws->chunk_eG)
    {
      if (ws->ex)
        mv_error_set (MV_ENOMEM, "loss: out of memory");
      mv_loss_free (ws);
      return NULL;
    }
  mv_expect_val_init (&ws->val, ws->ex->wp);
  mpfr_inits2 (ws->ex->wp, ws->acc, ws->tmp, ws->proj, (mpfr_ptr) 0);
  return ws;
}

void
mv_loss_free_raw (mv_loss_ws *ws)
{
  free (ws->Ud), free (ws->Gd), free (ws->gd), free (ws->normd);
  ws->Ud = ws->Gd = ws->gd = ws->normd = NULL;
  mv_loss_fix_free (ws->fix);
  ws->fix = NULL;
  mpfr_t *arr[5] = { ws->U, ws->G, ws->g, ws->norm, ws->h };
  size_t len[5] = { ws->nU, ws->n * ws->n, ws->n * ws->n, ws->n, ws->d };
  for (int a = 0; a < 5; a++)
    {
      if (arr[a])
        for (size_t i = 0; i < len[a]; i++)
          mpfr_clear (arr[a][i]);
      free (arr[a]);
    }
  ws->U = ws->G = ws->g = ws->norm = ws->h = NULL;
  ws->nU = 0;
  ws->d = 0;
}

void
mv_loss_free (mv_loss_ws *ws)
{
  if (!ws)
    return;
  mv_loss_free_raw (ws);
  if (ws->ex)
    {
      mv_expect_val_clear (&ws->val);
      mpfr_clears (ws->acc, ws->tmp, ws->proj, (mpfr_ptr) 0);
    }
  mv_expect_free (ws->ex);
  free (ws->errG), free (ws->errGm), free (ws->chunk_dG), free (ws->chunk_eG);
  free (ws);
}

mv_expect_ws *
mv_loss_expect (mv_loss_ws *ws)
{
  return ws->ex;
}

/* ------------------------------------------------------------ pair walk */

/* One term of L: weight * P(A,B,C,E) with vector indices k[4]; self terms
 * have k = {v, w, v, w}. */
typedef struct {
  size_t k[4];
  double weight;
  int self;
  int grad;     /* contributes to dL/dG (not teacher-teacher) */
} pair_term;

/* Enumerate the pair terms of L in a fixed order; returns the count and
 * fills *t with term idx (call with idx < count). */
static size_t
pair_count (const mv_loss_ws *ws)
{
  size_t m = ws->m, s = ws->mstar;
  return m * (m + 1) / 2 + m * s + s * (s + 1) / 2;
}

static void
pair_get (pair_term *t, size_t idx, const mv_loss_ws *ws)
{
  size_t m = ws->m, s = ws->mstar, tv = 2 * m, tw = 2 * m + s;
  size_t nss = m * (m + 1) / 2, nst = m * s;
  size_t a, b;
  if (idx < nss)
    {
      /* (a, b), a <= b, row-major over the upper triangle */
      a = 0;
      while (idx >= m - a)
        idx -= m - a, a++;
      b = a + idx;
      t->k[0] = a, t->k[1] = m + a, t->k[2] = b, t->k[3] = m + b;
      t->self = a == b;
      t->weight = t->self ? 0.5 : 1.0;
      t->grad = 1;
      return;
    }
  idx -= nss;
  if (idx < nst)
    {
      a = idx / s, b = idx % s;
      t->k[0] = a, t->k[1] = m + a, t->k[2] = tv + b, t->k[3] = tw + b;
      t->self = 0;
      t->weight = -1.0;
      t->grad = 1;
      return;
    }
  idx -= nst;
  a = 0;
  while (idx >= s - a)
    idx -= s - a, a++;
  b = a + idx;
  t->k[0] = tv + a, t->k[1] = tw + a, t->k[2] = tv + b, t->k[3] = tw + b;
  t->self = a == b;
  t->weight = t->self ? 0.5 : 1.0;
  t->grad = 0;
}

/* Gram index pairs of the six correlations AB, AC, AE, BC, BE, CE */
static const int RHO_I[MV_NRHO] = { 0, 0, 0, 1, 1, 2 };
static const int RHO_J[MV_NRHO] = { 1, 2, 3, 2, 3, 3 };

static void
finish_info (mv_loss_info *info, double L, const mv_mag *err, double abs_terms,
             unsigned max_terms, const mv_loss_ws *ws)
{
  if (!info)
    return;
  mv_mag ge;
  mv_mag_zero (&ge);
  if (ws->prec > MV_PREC_DOUBLE)
    for (size_t i = 0; i < ws->n * ws->n; i++)
      mv_mag_max (&ge, &ge, &ws->errGm[i]);
  else
    {
      double g = 0;
      for (size_t i = 0; i < ws->n * ws->n; i++)
        g = fmax (g, ws->errG[i]);
      mv_mag_set_d (&ge, g);
    }
  info->err = *err;
  info->grad_err = ge;
  info->abs_terms = abs_terms;
  info->cond = L != 0 ? abs_terms / fabs (L) : INFINITY;
  info->max_terms = max_terms;
  info->prec = ws->prec;
}

static void
symmetrize_d (double *g, size_t n)
{
  for (size_t k = 0; k < n; k++)
    for (size_t l = k + 1; l < n; l++)
      {
        double s = g[k * n + l] + g[l * n + k];
        g[k * n + l] = g[l * n + k] = s;
      }
}

size_t
mv_loss_nvar (const mv_loss_ws *ws)
{
  /* upper triangle minus the teacher-teacher block */
  size_t n = ws->n, t = 2 * ws->mstar;
  return n * (n - 1) / 2 - t * (t - 1) / 2;
}

size_t
mv_loss_var (const mv_loss_ws *ws, size_t k, size_t l)
{
  size_t n = ws->n;
  if (k > l)
    {
      size_t t = k;
      k = l;
      l = t;
    }
  /* rows k < 2m of the strict upper triangle, row-major */
  if (k == l || l >= n || k >= 2 * ws->m)
    return (size_t) -1;
  return k * (n - 1) - k * (k - 1) / 2 + (l - k - 1);
}

/* L, dL/dG and (H != NULL) the Hessian in the free Gram variables.  With
 * H the pairs go through the *_hess_d functions, whose P and dP are those of
 * the plain calls bit for bit, so L and dL/dG do not depend on H. */
/* Pairs are summed in MV_LOSS_NCHUNK fixed chunks, each into its own
 * buffers, combined in chunk order: the same bits for any number of
 * threads.  Chunks run in parallel (OpenMP) unless the Hessian is wanted. */
typedef struct {
  double sum, err, abs_terms;
  unsigned maxn;
  int status;
} chunk_acc;

static void
pair_chunk (chunk_acc *acc, double *dLdG, double *eG, double *H, size_t p0,
            size_t p1, const mv_loss_info *info, const double *G, mv_loss_ws *ws)
{
  size_t n = ws->n, nv = H ? mv_loss_nvar (ws) : 0;
  for (size_t p = p0; p < p1; p++)
    {
      pair_term t;
      pair_get (&t, p, ws);
      int want = dLdG && t.grad, wantH = H && t.grad;
      /* without info nobody reads the bounds: skip their bookkeeping */
      int flags = want | (info ? 0 : MV_EXPECT_NOBOUND);
      mv_expect_vald v;
      double hess[MV_NRHO][MV_NRHO], d2 = 0;
      int s;
      if (t.self)
        {
          double r = G[t.k[0] * n + t.k[1]];
          s = wantH ? mv_expect_self_hess_d (&v, &d2, r, ws->ex)
                    : mv_expect_self_d (&v, r, flags, ws->ex);
        }
      else
        {
          double rho[MV_NRHO];
          for (int a = 0; a < MV_NRHO; a++)
            rho[a] = G[t.k[RHO_I[a]] * n + t.k[RHO_J[a]]];
          s = wantH ? mv_expect_pair_hess_d (&v, hess, rho, ws->ex)
                    : mv_expect_pair_d (&v, rho, flags, ws->ex);
        }
      if (s)
        {
          acc->status = s;
          return;
        }
      acc->sum += t.weight * v.P;
      acc->abs_terms += fabs (t.weight * v.P);
      acc->err += fabs (t.weight) * v.err;
      if (v.nterms > acc->maxn)
        acc->maxn = v.nterms;
      if (wantH)
        {
          if (t.self)
            {
              size_t e = mv_loss_var (ws, t.k[0], t.k[1]);
              H[e * nv + e] += t.weight * d2;
            }
          else
            {
              /* the six correlations of a pair are six distinct variables;
               * teacher-teacher ones (CE of a student-teacher pair) are
               * constants */
              size_t var[MV_NRHO];
              for (int a = 0; a < MV_NRHO; a++)
                var[a] = mv_loss_var (ws, t.k[RHO_I[a]], t.k[RHO_J[a]]);
              for (int a = 0; a < MV_NRHO; a++)
                {
                  if (var[a] == (size_t) -1)
                    continue;
                  double *row = H + var[a] * nv;
                  for (int b = 0; b < MV_NRHO; b++)
                    if (var[b] != (size_t) -1)
                      row[var[b]] += t.weight * hess[a][b];
                }
            }
        }
      if (!want)
        continue;
      if (t.self)
        {
          size_t e = t.k[0] * n + t.k[1];
          dLdG[e] += t.weight * v.dP[0];
          eG[e] += fabs (t.weight) * v.derr;
          continue;
        }
      for (int a = 0; a < MV_NRHO; a++)
        {
          size_t e = t.k[RHO_I[a]] * n + t.k[RHO_J[a]];
          dLdG[e] += t.weight * v.dP[a];
          eG[e] += fabs (t.weight) * v.derr;
        }
    }
}

static int
gram_d_core (double *L, double *dLdG, double *H, mv_loss_info *info,
             const double *G, double noise_var, mv_loss_ws *ws)
{
  size_t n = ws->n, nn = n * n, np = pair_count (ws), nv = H ? mv_loss_nvar (ws) : 0;
  if (H)
    memset (H, 0, nv * nv * sizeof *H);
  chunk_acc acc[MV_LOSS_NCHUNK];
  memset (acc, 0, sizeof acc);
  double *dG = ws->chunk_dG, *eG = ws->chunk_eG;
  int parallel = H == NULL && np >= 64;
  (void) parallel;
#pragma omp parallel for schedule(static) if (parallel)
  for (int c = 0; c < MV_LOSS_NCHUNK; c++)
    {
      memset (dG + c * nn, 0, nn * sizeof *dG);
      memset (eG + c * nn, 0, nn * sizeof *eG);
      pair_chunk (&acc[c], dLdG ? dG + c * nn : NULL, eG + c * nn, H,
                  c * np / MV_LOSS_NCHUNK, (c + 1) * np / MV_LOSS_NCHUNK, info, G, ws);
    }
  double sum = 0.5 * noise_var, err = 0, abs_terms = 0.5 * noise_var;
  unsigned maxn = 0;
  for (int c = 0; c < MV_LOSS_NCHUNK; c++)
    {
      if (acc[c].status)
        {
          /* worker threads' messages are thread-local: redo that chunk here */
          chunk_acc again;
          memset (&again, 0, sizeof again);
          pair_chunk (&again, NULL, eG, NULL, c * np / MV_LOSS_NCHUNK,
                      (c + 1) * np / MV_LOSS_NCHUNK, info, G, ws);
          return acc[c].status;
        }
      sum += acc[c].sum, err += acc[c].err, abs_terms += acc[c].abs_terms;
      maxn = acc[c].maxn > maxn ? acc[c].maxn : maxn;
    }
  for (size_t i = 0; i < nn; i++)
    {
      double a = 0, e = 0;
      for (int c = 0; c < MV_LOSS_NCHUNK; c++)
        a += dG[c * nn + i], e += eG[c * nn + i];
      if (dLdG)
        dLdG[i] = a;
      ws->errG[i] = e;
    }
  if (dLdG)
    {
      symmetrize_d (dLdG, n);
      /* teacher-teacher entries are constants, not variables (the rho_CE
       * partials of student-teacher pairs land there) */
      for (size_t k = 2 * ws->m; k < n; k++)
        for (size_t l = 2 * ws->m; l < n; l++)
          dLdG[k * n + l] = 0.0;
    }
  symmetrize_d (ws->errG, n);
  /* the final sum itself: np roundings of terms bounded by abs_terms */
  err += (np + 2.0) * ldexp (abs_terms, -MV_PREC_DOUBLE);
  *L = sum;
  mv_mag errm;
  mv_mag_set_d (&errm, err);
  finish_info (info, sum, &errm, abs_terms, maxn, ws);
  return MV_OK;
}

int
mv_loss_gram_d (double *L, double *dLdG, mv_loss_info *info, const double *G,
                double noise_var, mv_loss_ws *ws)
{
  return gram_d_core (L, dLdG, NULL, info, G, noise_var, ws);
}

int
mv_loss_gram_hess_d (double *L, double *dLdG, double *H, mv_loss_info *info,
                     const double *G, double noise_var, mv_loss_ws *ws)
{
  return gram_d_core (L, dLdG, H, info, G, noise_var, ws);
}

int
mv_loss_gram (mpfr_t L, mpfr_t *dLdG, mv_loss_info *info, mpfr_t *G,
              double noise_var, mv_loss_ws *ws)
{
  size_t n = ws->n, np = pair_count (ws);
  mv_expect_ws *ex = ws->ex;
  mv_expect_val *v = &ws->val;
  if (dLdG)
    for (size_t i = 0; i < n * n; i++)
      mpfr_set_zero (dLdG[i], 1);
  for (size_t i = 0; i < n * n; i++)
    mv_mag_zero (&ws->errGm[i]);
  mpfr_set_d (ws->acc, 0.5 * noise_var, MPFR_RNDN);
  double abs_terms = 0.5 * noise_var;
  mv_mag err, t1;
  mv_mag_zero (&err);
  unsigned maxn = 0;
  mpfr_t rho[MV_NRHO];
  for (size_t p = 0; p < np; p++)
    {
      pair_term t;
      pair_get (&t, p, ws);
      int want = dLdG && t.grad;
      int s;
      if (t.self)
        s = mv_expect_self (v, G[t.k[0] * n + t.k[1]], want, ex);
      else
        {
          for (int a = 0; a < MV_NRHO; a++)
            rho[a][0] = G[t.k[RHO_I[a]] * n + t.k[RHO_J[a]]][0];  /* shallow view */
          s = mv_expect_pair (v, (mpfr_t const *) rho, want, ex);
        }
      if (s)
        return s;
      mpfr_mul_d (ws->tmp, v->P, t.weight, MPFR_RNDN);
      mpfr_add (ws->acc, ws->acc, ws->tmp, MPFR_RNDN);
      abs_terms += fabs (t.weight * mpfr_get_d (v->P, MPFR_RNDA));
      mv_mag_addmul_d (&err, &v->err, t.weight);
      if (v->nterms > maxn)
        maxn = v->nterms;
      if (!want)
        continue;
      int na = t.self ? 1 : MV_NRHO;
      for (int a = 0; a < na; a++)
        {
          size_t e = t.self ? t.k[0] * n + t.k[1] : t.k[RHO_I[a]] * n + t.k[RHO_J[a]];
          mpfr_mul_d (ws->tmp, v->dP[a], t.weight, MPFR_RNDN);
          mpfr_add (dLdG[e], dLdG[e], ws->tmp, MPFR_RNDN);
          mv_mag_addmul_d (&ws->errGm[e], &v->derr, t.weight);
        }
    }
  if (dLdG)
    for (size_t k = 0; k < n; k++)
      for (size_t l = k + 1; l < n; l++)
        {
          mpfr_add (dLdG[k * n + l], dLdG[k * n + l], dLdG[l * n + k], MPFR_RNDN);
          mpfr_set (dLdG[l * n + k], dLdG[k * n + l], MPFR_RNDN);
        }
  if (dLdG)
    for (size_t k = 2 * ws->m; k < n; k++)
      for (size_t l = 2 * ws->m; l < n; l++)
        mpfr_set_zero (dLdG[k * n + l], 1);
  /* rounding of the sums: np terms bounded by abs_terms (L) or by 100 */
  mv_mag_set_d_2exp (&t1, (np + 2.0) * abs_terms, -(long) ex->wp);
  mv_mag_add (&err, &err, &t1);
  mv_mag_set_d_2exp (&t1, (np + 2.0) * 100.0, -(long) ex->wp);
  for (size_t k = 0; k < n; k++)
    for (size_t l = k + 1; l < n; l++)
      {
        mv_mag *a = &ws->errGm[k * n + l], *b = &ws->errGm[l * n + k];
        mv_mag_add (a, a, b);
        mv_mag_add (a, a, &t1);
        *b = *a;
      }
  mpfr_set (L, ws->acc, MPFR_RNDN);
  /* rounding L (and dL/dG) to the caller's precision */
  mv_mag_set_mpfr (&t1, L);
  mv_mag_mul_2exp (&t1, &t1, -(long) mpfr_get_prec (L));
  mv_mag_add (&err, &err, &t1);
  finish_info (info, mpfr_get_d (L, MPFR_RNDN), &err, abs_terms, maxn, ws);
  return MV_OK;
}
