/* The data-fit term (term.h): L_fit = ½ Σ P(s,s') − Σ P(s,t) + ½ Σ P(t,t')
 * over the pair expectations of MATH.md §2, on the double path (value,
 * dL/dG, Hessian), the MPFR path, and per sample ½ (f − f* − eps)². */
#include "base/model.h"
#include "loss/loss_priv.h"
#include <moeverify/error.h>

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------ pair walk */

/* One summand: weight * P(A,B,C,E) with vector indices k[4]; self pairs
 * have k = {v, w, v, w}. */
typedef struct {
  size_t k[4];
  double weight;
  int self;
  int grad;     /* depends on a student vector (not teacher-teacher) */
} pair_term;

static size_t
pair_count (size_t m, size_t s)
{
  return m * (m + 1) / 2 + m * s + s * (s + 1) / 2;
}

/* Pair idx < pair_count in a fixed order: student-student (a <= b,
 * row-major), student-teacher, teacher-teacher.  The weights (±1, ½) are
 * multiplied by the term weight w, exactly. */
static void
pair_get (pair_term *t, size_t idx, size_t m, size_t s, double w)
{
  size_t tv = 2 * m, tw = 2 * m + s;
  size_t nss = m * (m + 1) / 2, nst = m * s;
  size_t a, b;
  if (idx < nss)
    {
      a = 0;
      while (idx >= m - a)
        idx -= m - a, a++;
      b = a + idx;
      t->k[0] = a, t->k[1] = m + a, t->k[2] = b, t->k[3] = m + b;
      t->self = a == b;
      t->weight = (t->self ? 0.5 : 1.0) * w;
      t->grad = 1;
      return;
    }
  idx -= nss;
  if (idx < nst)
    {
      a = idx / s, b = idx % s;
      t->k[0] = a, t->k[1] = m + a, t->k[2] = tv + b, t->k[3] = tw + b;
      t->self = 0;
      t->weight = -w;
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
  t->weight = (t->self ? 0.5 : 1.0) * w;
  t->grad = 0;
}

/* Gram index pairs of the six correlations AB, AC, AE, BC, BE, CE */
static const int RHO_I[MV_NRHO] = { 0, 0, 0, 1, 1, 2 };
static const int RHO_J[MV_NRHO] = { 1, 2, 3, 2, 3, 3 };

/* ------------------------------------------------------------ double path */

/* Pairs are summed in MV_LOSS_NCHUNK fixed chunks, each into its own
 * buffers, combined in chunk order: the same bits for any number of
 * threads. */
typedef struct {
  double sum, err, abs_terms;
  unsigned maxn;
  int status;
} chunk_acc;

static void
pair_chunk (chunk_acc *acc, double *dLdG, double *eG, size_t p0, size_t p1,
            const double *G, const mv_loss_term_ctx *ctx)
{
  size_t n = ctx->n;
  const mv_expect_ws *ex = ctx->ws->ex;
  for (size_t p = p0; p < p1; p++)
    {
      pair_term t;
      pair_get (&t, p, ctx->m, ctx->mstar, ctx->weight);
      int want = dLdG && t.grad;
      /* nobody reads the bounds: skip their bookkeeping */
      int flags = want | (ctx->want_bounds ? 0 : MV_EXPECT_NOBOUND);
      mv_expect_vald v;
      int s;
      if (t.self)
        s = mv_expect_self_d (&v, G[t.k[0] * n + t.k[1]], flags, ex);
      else
        {
          double rho[MV_NRHO];
          for (int a = 0; a < MV_NRHO; a++)
            rho[a] = G[t.k[RHO_I[a]] * n + t.k[RHO_J[a]]];
          s = mv_expect_pair_d (&v, rho, flags, ex);
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
      if (!want)
        continue;
      int na = t.self ? 1 : MV_NRHO;
      for (int a = 0; a < na; a++)
        {
          size_t e = t.self ? t.k[0] * n + t.k[1]
                            : t.k[RHO_I[a]] * n + t.k[RHO_J[a]];
          dLdG[e] += t.weight * v.dP[a];
          eG[e] += fabs (t.weight) * v.derr;
        }
    }
}

static int
datafit_gram_d (mv_loss_acc_d *out, const double *G, const mv_loss_term_ctx *ctx)
{
  mv_loss_ws *ws = ctx->ws;
  size_t nn = ctx->n * ctx->n, np = pair_count (ctx->m, ctx->mstar);
  chunk_acc acc[MV_LOSS_NCHUNK];
  memset (acc, 0, sizeof acc);
  double *dG = ws->chunk_dG, *eG = ws->chunk_eG;
  int parallel = np >= 64;
  (void) parallel;
#pragma omp parallel for schedule(static) if (parallel)
  for (int c = 0; c < MV_LOSS_NCHUNK; c++)
    {
      memset (dG + c * nn, 0, nn * sizeof *dG);
      memset (eG + c * nn, 0, nn * sizeof *eG);
      pair_chunk (&acc[c], out->dLdG ? dG + c * nn : NULL, eG + c * nn,
                  c * np / MV_LOSS_NCHUNK, (c + 1) * np / MV_LOSS_NCHUNK, G, ctx);
    }
  for (int c = 0; c < MV_LOSS_NCHUNK; c++)
    if (acc[c].status)
      {
        /* worker threads' messages are thread-local: redo that chunk here */
        chunk_acc again;
        memset (&again, 0, sizeof again);
        pair_chunk (&again, NULL, eG, c * np / MV_LOSS_NCHUNK,
                    (c + 1) * np / MV_LOSS_NCHUNK, G, ctx);
        return acc[c].status;
      }
  for (int c = 0; c < MV_LOSS_NCHUNK; c++)
    {
      out->L += acc[c].sum, out->err += acc[c].err;
      out->abs_terms += acc[c].abs_terms;
      if (acc[c].maxn > out->max_terms)
        out->max_terms = acc[c].maxn;
    }
  out->nsum += (double) np;
  if (!out->dLdG)
    return MV_OK;
  for (size_t i = 0; i < nn; i++)
    {
      double a = 0, e = 0;
      for (int c = 0; c < MV_LOSS_NCHUNK; c++)
        a += dG[c * nn + i], e += eG[c * nn + i];
      out->dLdG[i] += a;
      out->errG[i] += e;
    }
  return MV_OK;
}

/* The six correlations of a pair are six distinct Gram variables;
 * teacher-teacher ones (CE of a student-teacher pair) are constants. */
static void
pair_hess_add (double *H, const pair_term *t, double hess[MV_NRHO][MV_NRHO],
               const mv_loss_term_ctx *ctx)
{
  size_t var[MV_NRHO], nv = ctx->nvar;
  for (int a = 0; a < MV_NRHO; a++)
    var[a] = mv_loss_var (ctx->ws, t->k[RHO_I[a]], t->k[RHO_J[a]]);
  for (int a = 0; a < MV_NRHO; a++)
    {
      if (var[a] == (size_t) -1)
        continue;
      double *row = H + var[a] * nv;
      for (int b = 0; b < MV_NRHO; b++)
        if (var[b] != (size_t) -1)
          row[var[b]] += t->weight * hess[a][b];
    }
}

/* Serial: every pair adds into the one H. */
static int
datafit_hess_d (double *H, const double *G, const mv_loss_term_ctx *ctx)
{
  size_t n = ctx->n, nv = ctx->nvar, np = pair_count (ctx->m, ctx->mstar);
  for (size_t p = 0; p < np; p++)
    {
      pair_term t;
      pair_get (&t, p, ctx->m, ctx->mstar, ctx->weight);
      if (!t.grad)
        continue;
      mv_expect_vald v;
      double hess[MV_NRHO][MV_NRHO], d2;
      int s;
      if (t.self)
        {
          s = mv_expect_self_hess_d (&v, &d2, G[t.k[0] * n + t.k[1]], ctx->ws->ex);
          if (!s)
            {
              size_t e = mv_loss_var (ctx->ws, t.k[0], t.k[1]);
              H[e * nv + e] += t.weight * d2;
            }
        }
      else
        {
          double rho[MV_NRHO];
          for (int a = 0; a < MV_NRHO; a++)
            rho[a] = G[t.k[RHO_I[a]] * n + t.k[RHO_J[a]]];
          s = mv_expect_pair_hess_d (&v, hess, rho, ctx->ws->ex);
          if (!s)
            pair_hess_add (H, &t, hess, ctx);
        }
      if (s)
        return s;
    }
  return MV_OK;
}

/* ------------------------------------------------------------ MPFR path */

static int
datafit_gram_mpfr (mv_loss_acc *out, mpfr_t *G, const mv_loss_term_ctx *ctx)
{
  mv_loss_ws *ws = ctx->ws;
  size_t n = ctx->n, np = pair_count (ctx->m, ctx->mstar);
  mv_expect_val *v = &ws->val;
  mpfr_t rho[MV_NRHO];
  for (size_t p = 0; p < np; p++)
    {
      pair_term t;
      pair_get (&t, p, ctx->m, ctx->mstar, ctx->weight);
      int want = out->dLdG && t.grad, s;
      if (t.self)
        s = mv_expect_self (v, G[t.k[0] * n + t.k[1]], want, ws->ex);
      else
        {
          for (int a = 0; a < MV_NRHO; a++)
            rho[a][0] = G[t.k[RHO_I[a]] * n + t.k[RHO_J[a]]][0];  /* shallow view */
          s = mv_expect_pair (v, (mpfr_t const *) rho, want, ws->ex);
        }
      if (s)
        return s;
      mpfr_mul_d (ws->tmp, v->P, t.weight, MPFR_RNDN);
      mpfr_add (out->L, out->L, ws->tmp, MPFR_RNDN);
      out->abs_terms += fabs (t.weight * mpfr_get_d (v->P, MPFR_RNDA));
      mv_mag_addmul_d (&out->err, &v->err, t.weight);
      if (v->nterms > out->max_terms)
        out->max_terms = v->nterms;
      if (!want)
        continue;
      int na = t.self ? 1 : MV_NRHO;
      for (int a = 0; a < na; a++)
        {
          size_t e = t.self ? t.k[0] * n + t.k[1] : t.k[RHO_I[a]] * n + t.k[RHO_J[a]];
          mpfr_mul_d (ws->tmp, v->dP[a], t.weight, MPFR_RNDN);
          mpfr_add (out->dLdG[e], out->dLdG[e], ws->tmp, MPFR_RNDN);
          mv_mag_addmul_d (&out->errG[e], &v->derr, t.weight);
        }
    }
  out->nsum += (double) np;
  return MV_OK;
}

/* ------------------------------------------------------------ per sample */

/* ½ r², r = f − f* − eps, and r df/du through the model kernel, in blocks
 * of MV_LOSS_SAMPLE_BLOCK samples (scratch: f, f*, df/du per block). */
static int
datafit_sample_d (double *val, double *D, size_t ldd, const double *P,
                  size_t ldp, const double *eps, size_t b,
                  const mv_loss_term_ctx *ctx)
{
  size_t m = ctx->m, m2 = 2 * m;
  double w = ctx->weight, *f = ctx->work, *fs = f + MV_LOSS_SAMPLE_BLOCK;
  double *Df = fs + MV_LOSS_SAMPLE_BLOCK;
  for (size_t s0 = 0; s0 < b; s0 += MV_LOSS_SAMPLE_BLOCK)
    {
      size_t bs = b - s0 < MV_LOSS_SAMPLE_BLOCK ? b - s0 : MV_LOSS_SAMPLE_BLOCK;
      const double *Pb = P + s0 * ldp;
      mv_model_eval (f, D ? Df : NULL, m2, Pb, ldp, NULL, bs, m);
      mv_model_eval (fs, NULL, 0, Pb + m2, ldp, NULL, bs, ctx->mstar);
      for (size_t s = 0; s < bs; s++)
        {
          double r = f[s] - fs[s] - (eps ? eps[s0 + s] : 0.0);
          val[s0 + s] += w * (0.5 * r * r);
          if (!D)
            continue;
          double *row = D + (s0 + s) * ldd;
          for (size_t j = 0; j < m2; j++)
            row[j] += w * r * Df[s * m2 + j];
        }
    }
  return MV_OK;
}

static const mv_loss_term_type datafit_type = {
  "datafit", datafit_gram_d, datafit_gram_mpfr, datafit_hess_d, datafit_sample_d
};
const mv_loss_term_type *mv_loss_term_datafit = &datafit_type;
