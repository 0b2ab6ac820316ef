/* Test-fixture loss term with a per-sample form (Monte Carlo and SGD see
 * objectives only through per-sample forms): the expert overlaps
 *   T = sum_{i<k} G(w_i, w_k) = E_x[ sum_{i<k} b_i b_k ],  b_i = wbar_i.x,
 * per sample sum_{i<k} b_i b_k with partials d/db_i = sum_{k != i} b_k.
 * Double path only (no MPFR form, no Hessian: it is linear in G). */
#include <math.h>
#include <moeverify/moeverify.h>

static int
overlap_gram_d (mv_loss_acc_d *acc, const double *G, const mv_loss_term_ctx *ctx)
{
  size_t m = ctx->m, n = ctx->n;
  double w = ctx->weight, q = 0, qa = 0;
  for (size_t i = 0; i < m; i++)
    for (size_t k = i + 1; k < m; k++)
      {
        size_t e = (m + i) * n + m + k;
        q += G[e], qa += fabs (G[e]);
        if (acc->dLdG)
          acc->dLdG[e] += w;      /* one triangle entry; exact */
      }
  acc->L += w * q;
  acc->abs_terms += fabs (w * q);
  acc->nsum += 1;
  acc->err += (m * (m - 1) / 2.0 + 2) * ldexp (fabs (w) * qa, -53);
  return MV_OK;
}

static int
overlap_sample_d (double *val, double *D, size_t ldd, const double *P,
                  size_t ldp, const double *eps, size_t b,
                  const mv_loss_term_ctx *ctx)
{
  (void) eps;
  size_t m = ctx->m;
  double w = ctx->weight;
  for (size_t s = 0; s < b; s++)
    {
      const double *bw = P + s * ldp + m;     /* expert projections */
      double sum = 0, sq = 0;
      for (size_t i = 0; i < m; i++)
        sum += bw[i], sq += bw[i] * bw[i];
      val[s] += w * 0.5 * (sum * sum - sq);
      if (D)
        for (size_t i = 0; i < m; i++)
          D[s * ldd + m + i] += w * (sum - bw[i]);
    }
  return MV_OK;
}

static const mv_loss_term_type overlap_type = {
  "test-overlap", overlap_gram_d, NULL, NULL, overlap_sample_d
};
const mv_loss_term_type *mv_test_term_overlap = &overlap_type;

/* A term without a per-sample form (Monte Carlo and SGD must refuse it). */
static const mv_loss_term_type gram_only_type = {
  "test-gram-only", overlap_gram_d, NULL, NULL, NULL
};
const mv_loss_term_type *mv_test_term_gram_only = &gram_only_type;
