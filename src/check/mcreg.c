/* Monte-Carlo estimates of the specialization regularizers (mcreg.h;
 * MATH.md §5; proofs/monte-carlo.md, "The specialization regularizers").
 *
 * Nothing here uses a closed form.  As in mc.c, the regularizers depend on
 * x only through the projections on the 2m student unit vectors, so x is
 * sampled exactly in their span: an orthonormal basis Q (k vectors,
 * classical Gram-Schmidt twice, rank tolerance MCREG_RANK_TOL) gives each
 * unit vector coordinates c_u (unit length in k-space) and u.x = c_u.xi
 * with xi ~ N(0, I_k).  Per sample: a_i = vbar_i.x, b_i = wbar_i.x,
 * pi_i = 1/(1 + e^{-a_i}), h_i = He3(b_i) = b_i^3 - 3 b_i, g_i = pi_i h_i;
 * the sums of h_i h_k, g_i g_k, 1(a_i > 0), pi_i and the per-token routing
 * variance are kept per batch (mcreg_priv.h); mcreg_stats.c turns the B
 * batch sums into the population estimates.  The same stream, cut into
 * consecutive batches of T tokens, gives the per-batch definitions.
 *
 * Randomness: gsl_rng_mt19937 seeded with par->seed, k variates
 * gsl_ran_gaussian_ziggurat per sample (mc.c's conventions; the span here
 * is the students' only, so the streams of the two estimators differ). */
#include <moeverify/mcreg.h>
#include "check/mcreg_priv.h"
#include <moeverify/error.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

/* as MV_MC_RANK_TOL (mc.c) */
#define MCREG_RANK_TOL 1e-10

static void
stat_nan (mv_mc_stat *s)
{
  s->value = NAN, s->se = NAN;
}

void
mv_mcreg_params_default (mv_mcreg_params *p)
{
  if (!p)
    return;
  memset (p, 0, sizeof *p);
  p->samples = 100000;
  p->batches = 64;
  p->tokens = 0;
  p->seed = 1;
}

static void
result_nan (mv_mcreg_result *r)
{
  stat_nan (&r->ortho), stat_nan (&r->ortho_gated);
  stat_nan (&r->var), stat_nan (&r->aux);
  stat_nan (&r->ortho_batch), stat_nan (&r->ortho_gated_batch);
  stat_nan (&r->var_batch), stat_nan (&r->aux_batch);
  r->ortho_bias = r->ortho_gated_bias = r->aux_bias = NAN;
}

int
mv_mcreg_result_init (mv_mcreg_result *r, size_t m)
{
  if (!r)
    return mv_error_set (MV_EINVAL, "mv_mcreg_result_init: NULL result");
  memset (r, 0, sizeof *r);
  result_nan (r);
  if (m == 0 || m > 4096)
    return mv_error_set (MV_EINVAL, "mv_mcreg_result_init: m = %zu (need 1.."
                         "4096)", m);
  r->m = m;
  double **arr[8] = { &r->mom, &r->mom_se, &r->cos, &r->cos_se, &r->mom_g,
                      &r->mom_g_se, &r->cos_g, &r->cos_g_se };
  for (int a = 0; a < 8; a++)
    if (!(*arr[a] = calloc (m * m, sizeof (double))))
      {
        mv_mcreg_result_clear (r);
        return mv_error_set (MV_ENOMEM, "mv_mcreg_result_init: out of "
                             "memory");
      }
  return MV_OK;
}

void
mv_mcreg_result_clear (mv_mcreg_result *r)
{
  if (!r)
    return;
  free (r->mom), free (r->mom_se), free (r->cos), free (r->cos_se);
  free (r->mom_g), free (r->mom_g_se), free (r->cos_g), free (r->cos_g_se);
  memset (r, 0, sizeof *r);
  result_nan (r);
}

/* ------------------------------------------------------------ workspace */

typedef struct {
  size_t m, d, k;
  mcreg_layout lay;
  double *U;        /* 2m x d unit vectors, then the basis rows */
  double *C;        /* 2m x 2m coordinates (stride 2m, first k used) */
  double *xi, *a, *pi, *h, *g;
  double *Sb;       /* B x K batch sums */
  size_t *nb;       /* B batch sizes */
  double *St;       /* K: the current token batch */
  gsl_rng *rng;
} ws_t;

static void
ws_free (ws_t *w)
{
  free (w->U), free (w->C), free (w->xi), free (w->a);
  free (w->pi), free (w->h), free (w->g), free (w->Sb), free (w->nb);
  free (w->St);
  if (w->rng)
    gsl_rng_free (w->rng);
}

static double
dot (const double *x, const double *y, size_t n)
{
  double s = 0;
  for (size_t i = 0; i < n; i++)
    s += x[i] * y[i];
  return s;
}

/* Unit student vectors (v rows, then w rows), their coordinates C in an
 * orthonormal basis of their span and its dimension k. */
static int
build_basis (ws_t *w, const mv_problem *pb)
{
  const size_t m = w->m, d = w->d, n = 2 * m;
  int st = mv_problem_vectors_d (w->U, w->U + m * d, NULL, NULL, pb);
  if (st)
    return st;
  double *Q = malloc (n * d * sizeof *Q);
  if (!Q)
    return mv_error_set (MV_ENOMEM, "mc regularizers: out of memory");
  size_t k = 0;
  for (size_t u = 0; u < n; u++)
    {
      double *x = w->U + u * d, *c = w->C + u * n;
      double nr = sqrt (dot (x, x, d));
      if (!(nr > 0) || !isfinite (nr))
        {
          free (Q);
          return mv_error_set (MV_EDOM, "mc regularizers: %s_%zu is zero or "
                               "not finite", u < m ? "v" : "w", u % m + 1);
        }
      for (size_t i = 0; i < d; i++)
        x[i] /= nr;
      double *r = Q + k * d;   /* residual, becomes basis row k */
      memcpy (r, x, d * sizeof *r);
      memset (c, 0, n * sizeof *c);
      for (int pass = 0; pass < 2; pass++)
        for (size_t t = 0; t < k; t++)
          {
            double p = dot (Q + t * d, r, d);
            c[t] += p;
            for (size_t i = 0; i < d; i++)
              r[i] -= p * Q[t * d + i];
          }
      double rho = sqrt (dot (r, r, d));
      if (rho > MCREG_RANK_TOL)
        {
          for (size_t i = 0; i < d; i++)
            r[i] /= rho;
          c[k++] = rho;
        }
      double cn = sqrt (dot (c, c, k));   /* unit length in k-space */
      for (size_t t = 0; t < k; t++)
        c[t] /= cn;
    }
  free (Q);
  w->k = k;
  return MV_OK;
}

/* ------------------------------------------------------------ sampling */

/* One sample: projections and integrands; its contributions added to the
 * sums S (population batch) and T (token batch; may be NULL). */
static void
one_sample (ws_t *w, double *S, double *T)
{
  const size_t m = w->m, k = w->k, n = 2 * m;
  const mcreg_layout *l = &w->lay;
  for (size_t t = 0; t < k; t++)
    w->xi[t] = gsl_ran_gaussian_ziggurat (w->rng, 1.0);
  double pbar = 0;
  for (size_t i = 0; i < m; i++)
    {
      double a = dot (w->C + i * n, w->xi, k);
      double b = dot (w->C + (m + i) * n, w->xi, k);
      w->a[i] = a;
      w->pi[i] = 1.0 / (1.0 + exp (-a));
      w->h[i] = b * (b * b - 3.0);
      w->g[i] = w->pi[i] * w->h[i];
      pbar += w->pi[i];
    }
  pbar /= (double) m;
  double v = 0;
  for (size_t i = 0; i < m; i++)
    v += (w->pi[i] - pbar) * (w->pi[i] - pbar);
  v = m > 1 ? v / (double) (m - 1) : 0.0;
  for (int pass = 0; pass < 2; pass++)
    {
      double *A = pass ? T : S;
      if (!A)
        continue;
      for (size_t i = 0, e = 0; i < m; i++)
        for (size_t q = i; q < m; q++, e++)
          {
            A[l->o_hh + e] += w->h[i] * w->h[q];
            A[l->o_gg + e] += w->g[i] * w->g[q];
          }
      for (size_t i = 0; i < m; i++)
        {
          A[l->o_ind + i] += w->a[i] > 0 ? 1.0 : 0.0;
          A[l->o_p + i] += w->pi[i];
        }
      A[l->o_var] += v;
    }
}

/* Welford state of the per-batch statistics */
typedef struct {
  double mean[4], scat[4];
  size_t count;
} tok_stats;

/* A full token batch T of `tokens` samples into the running statistics:
 * [ortho, ortho_gated, var, aux]. */
static void
token_batch (tok_stats *ts, const double *T, size_t tokens,
             const mcreg_layout *l)
{
  const double nT = (double) tokens;
  double y[4] = { mv_mcreg_ortho (T + l->o_hh, l->m),
                  mv_mcreg_ortho (T + l->o_gg, l->m),
                  -T[l->o_var] / nT, mv_mcreg_aux (T, nT, l) };
  ts->count++;
  for (int j = 0; j < 4; j++)
    {
      double dl = y[j] - ts->mean[j];
      ts->mean[j] += dl / (double) ts->count;
      ts->scat[j] += dl * (y[j] - ts->mean[j]);
    }
}

static void
token_results (mv_mcreg_result *r, const tok_stats *ts, size_t m)
{
  mv_mc_stat *dst[4] = { &r->ortho_batch, &r->ortho_gated_batch,
                         &r->var_batch, &r->aux_batch };
  const double c = (double) ts->count;
  for (int j = 0; j < 4; j++)
    {
      dst[j]->value = ts->mean[j];
      dst[j]->se = sqrt (ts->scat[j] / (c * (c - 1)));
    }
  if (m < 2)
    stat_nan (&r->var_batch);
}

#define TICK_AT(N, t) ((size_t) ((double) (N) * (double) (t) / 100.0))

/* All samples: B population batches; token batches of par->tokens. */
static void
sample_all (ws_t *w, mv_mcreg_result *r, const mv_mcreg_params *par)
{
  const size_t N = par->samples, B = par->batches, K = w->lay.K;
  const size_t base = N / B, rem = N % B, T = par->tokens;
  size_t done = 0, in_tok = 0, tick = 1;
  tok_stats ts;
  memset (&ts, 0, sizeof ts);
  for (size_t bt = 0; bt < B; bt++)
    {
      const size_t nb = base + (bt < rem);
      double *S = w->Sb + bt * K;
      w->nb[bt] = nb;
      for (size_t s = 0; s < nb; s++)
        {
          one_sample (w, S, T ? w->St : NULL);
          if (T && ++in_tok == T)
            {
              token_batch (&ts, w->St, T, &w->lay);
              memset (w->St, 0, K * sizeof *w->St);
              in_tok = 0;
            }
          if (par->progress && ++done >= TICK_AT (N, tick) && tick < 100)
            {
              while (tick < 100 && TICK_AT (N, tick) <= done)
                tick++;
              par->progress (par->progress_ctx, (double) done / (double) N);
            }
        }
    }
  if (T)
    {
      r->tokens = T;
      r->token_batches = ts.count;
      token_results (r, &ts, w->m);
    }
}

/* ------------------------------------------------------------ main */

static int
check_args (const mv_mcreg_result *r, const mv_problem *pb,
            const mv_mcreg_params *par)
{
  if (!r || !pb || !par)
    return mv_error_set (MV_EINVAL, "mv_mcreg_estimate: NULL argument");
  if (!r->mom || r->m != pb->m)
    return mv_error_set (MV_EINVAL, "mc regularizers: result initialised "
                         "for m = %zu, the problem has m = %zu", r->m, pb->m);
  if (pb->d == 0 || pb->m == 0)
    return mv_error_set (MV_EINVAL, "mc regularizers: problem not "
                         "initialised");
  if (par->batches < 2)
    return mv_error_set (MV_EINVAL, "mc regularizers: batches = %zu (need "
                         "at least 2 for a standard error)", par->batches);
  if (par->samples < par->batches)
    return mv_error_set (MV_EINVAL, "mc regularizers: samples = %zu fewer "
                         "than batches = %zu", par->samples, par->batches);
  if (par->tokens && par->samples / par->tokens < 2)
    return mv_error_set (MV_EINVAL, "mc regularizers: %zu samples make "
                         "fewer than 2 batches of %zu tokens", par->samples,
                         par->tokens);
  return MV_OK;
}

static int
ws_alloc (ws_t *w, const mv_problem *pb, const mv_mcreg_params *par)
{
  const size_t m = pb->m, d = pb->d, n = 2 * m, B = par->batches;
  memset (w, 0, sizeof *w);
  w->m = m, w->d = d;
  mv_mcreg_layout (&w->lay, m);
  const size_t K = w->lay.K;
  if (d > SIZE_MAX / n / sizeof (double) || B > SIZE_MAX / K / sizeof (double))
    return mv_error_set (MV_ENOMEM, "mc regularizers: problem too large");
  w->U = malloc (n * d * sizeof *w->U);
  w->C = calloc (n * n, sizeof *w->C);
  w->xi = calloc (n, sizeof *w->xi);
  w->a = malloc (m * sizeof *w->a);
  w->pi = malloc (m * sizeof *w->pi), w->h = malloc (m * sizeof *w->h);
  w->g = malloc (m * sizeof *w->g);
  w->Sb = calloc (B * K, sizeof *w->Sb);
  w->nb = calloc (B, sizeof *w->nb);
  w->St = calloc (K, sizeof *w->St);
  w->rng = gsl_rng_alloc (gsl_rng_mt19937);
  if (!w->U || !w->C || !w->xi || !w->a || !w->pi || !w->h || !w->g
      || !w->Sb || !w->nb || !w->St || !w->rng)
    return mv_error_set (MV_ENOMEM, "mc regularizers: out of memory");
  gsl_rng_set (w->rng, par->seed);
  return MV_OK;
}

int
mv_mcreg_estimate (mv_mcreg_result *r, const mv_problem *pb,
                   const mv_mcreg_params *par)
{
  mv_init ();
  int st = check_args (r, pb, par);
  if (st)
    return st;
  result_nan (r);
  r->tokens = r->token_batches = 0;
  ws_t w;
  if ((st = ws_alloc (&w, pb, par)) || (st = build_basis (&w, pb)))
    goto done;
  if (par->progress)
    par->progress (par->progress_ctx, 0.0);
  sample_all (&w, r, par);
  if ((st = mv_mcreg_population (r, w.Sb, w.nb, par->batches, &w.lay)))
    goto done;
  r->samples = par->samples;
  r->batches = par->batches;
  r->rank = w.k;
  if (par->progress)
    par->progress (par->progress_ctx, 1.0);
done:
  if (st)
    result_nan (r);
  ws_free (&w);
  return st;
}
