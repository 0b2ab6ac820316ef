/* The flows shared by the trajectory claims (claim_runs.h): run once per
 * setting, cached for the process. */
#include "check/claim_runs.h"

#include "base/textbuf.h"
#include <moeverify/error.h>
#include <moeverify/flow.h>
#include <moeverify/problem.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_fit.h>

enum { MSTAR = 5, M = 25, TEACHER_SEED = 1, FIRST_SEED = 2 };

const char *const mv_term_names[MV_TRAJ_NSTATE] = {
  "recovered", "recovered, redundant students", "shared", "not escaped",
  "escaping"
};

/* The cache: every run made in this process. */
static mv_claim_run **cache;
static size_t ncache, ccache;

/* ------------------------------------------------ the guided observer */

typedef struct {
  mv_claim_run *run;
  double *pr, *pe, tp;     /* router, expert alignments at the last step */
  int started;
} guide_ctx;

static int
guide_observe (void *ctx, const mv_obs_point *pt)
{
  guide_ctx *g = ctx;
  if (pt->kind != MV_OBS_STEP)
    return MV_OK;
  size_t m = pt->m, ms = pt->mstar;
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < ms; j++)
      {
        size_t k = i * ms + j;
        double r = mv_obs_align (pt, MV_ALIGN_ROUTER, i, j);
        double e = mv_obs_align (pt, MV_ALIGN_EXPERT, i, j);
        if (isnan (g->run->guide_t[k]) && r >= 0.5)
          {
            /* first step at or past 0.5: interpolate linearly from the
             * previous step (none at t = 0: take the point itself) */
            double f = (g->started && r > g->pr[k]) ? (0.5 - g->pr[k]) / (r - g->pr[k]) : 1;
            g->run->guide_e[k] = g->started ? g->pe[k] + f * (e - g->pe[k]) : e;
            g->run->guide_t[k] = g->started ? g->tp + f * (pt->t - g->tp) : pt->t;
          }
        g->pr[k] = r, g->pe[k] = e;
      }
  g->tp = pt->t;
  g->started = 1;
  return MV_OK;
}

/* ------------------------------------------------------------ one run */

static void
run_free (mv_claim_run *r)
{
  if (!r)
    return;
  if (r->tr.cross)
    mv_traj_clear (&r->tr);
  free (r->G0), free (r->norms), free (r->guide_e), free (r->guide_t);
  free (r);
}

static int
run_flow (mv_claim_run *r, const mv_check_opts *o)
{
  char spec[512];
  snprintf (spec, sizeof spec,
            "{\"d\": %zu, \"teacher\": {\"m\": %d, \"init\": {\"kind\": \"orthonormal\", "
            "\"seed\": %d}}, \"student\": {\"m\": %d, \"init\": {\"kind\": \"gaussian\", "
            "\"seed\": %u}}}", r->d, MSTAR, TEACHER_SEED, M, r->seed);
  mv_problem pb;
  int s = mv_problem_parse (&pb, spec, "claim-run");
  if (s)
    return s;
  size_t n = 2 * (M + MSTAR), np = (size_t) M * MSTAR;
  r->G0 = malloc (n * n * sizeof *r->G0);
  r->norms = malloc (n * sizeof *r->norms);
  r->guide_e = malloc (np * sizeof *r->guide_e);
  r->guide_t = malloc (np * sizeof *r->guide_t);
  double *pr = malloc (2 * np * sizeof *pr);
  if (!r->G0 || !r->norms || !r->guide_e || !r->guide_t || !pr)
    s = mv_error_set (MV_ENOMEM, "claim runs: out of memory");
  for (size_t k = 0; !s && k < np; k++)
    r->guide_e[k] = r->guide_t[k] = NAN;
  if (!s)
    s = mv_traj_init (&r->tr, M, MSTAR);
  /* seed 2 at d = 1000 is tests/data/example_paper.json: its vectors' Gram
   * matrix, so the known results are reproduced; the others sampled */
  int mode = r->d == 1000 && r->seed == FIRST_SEED ? MV_GRAM0_VECTORS : MV_GRAM0_SAMPLE;
  if (!s)
    s = mv_flow_gram0 (r->G0, r->norms, r->tr.init, sizeof r->tr.init, &pb, mode);
  if (!s)
    {
      guide_ctx g = { r, pr, pr + np, 0, 0 };
      mv_observer obs = { "guided", guide_observe, NULL, &g };
      mv_flow_params p;
      mv_flow_params_default (&p);
      p.t_end = r->t_end;
      p.observers = &obs;
      p.n_observers = 1;
      s = mv_flow_reduced (&r->tr, r->G0, r->norms, M, MSTAR, pb.noise_var, &p);
      if (!s && r->tr.status != MV_TRAJ_DONE)
        s = mv_error_set (MV_ENOCONV, "claim run d = %zu seed %u: flow stopped at t = %g: %s",
                          r->d, r->seed, r->tr.t[r->tr.rows - 1], r->tr.message);
    }
  (void) o;
  free (pr);
  mv_problem_clear (&pb);
  return s;
}

/* The cached run of (d, seed, t_end), made if missing. */
static int
run_get (mv_claim_run **out, size_t d, unsigned seed, double t_end,
         const mv_check_opts *o)
{
  for (size_t k = 0; k < ncache; k++)
    if (cache[k]->d == d && cache[k]->seed == seed && cache[k]->t_end == t_end)
      return *out = cache[k], MV_OK;
  if (ncache == ccache)
    {
      size_t c = ccache ? 2 * ccache : 16;
      mv_claim_run **nc = realloc (cache, c * sizeof *nc);
      if (!nc)
        return mv_error_set (MV_ENOMEM, "claim runs: out of memory");
      cache = nc, ccache = c;
    }
  mv_claim_run *r = calloc (1, sizeof *r);
  if (!r)
    return mv_error_set (MV_ENOMEM, "claim runs: out of memory");
  r->d = d, r->seed = seed, r->t_end = t_end;
  int s = run_flow (r, o);
  if (s)
    {
      run_free (r);
      return s;
    }
  cache[ncache++] = r;
  *out = r;
  return MV_OK;
}

void
mv_check_release (void)
{
  for (size_t k = 0; k < ncache; k++)
    run_free (cache[k]);
  free (cache);
  cache = NULL, ncache = ccache = 0;
}

/* Settings of a level: dimensions, their horizons, seed count. */
static size_t
settings (const mv_check_opts *o, size_t *d, double *t_end, unsigned *seeds)
{
  unsigned def = o->level == MV_CHECK_QUICK ? 2 : o->level == MV_CHECK_DEFAULT ? 6 : 20;
  *seeds = o->seeds ? o->seeds : def;
  d[0] = 1000;
  t_end[0] = o->level == MV_CHECK_QUICK ? 150 : 300;
  if (o->level != MV_CHECK_FULL)
    return 1;
  /* escape times grow like sqrt(d): a longer horizon at d = 10^4 */
  d[1] = 10000, t_end[1] = 1000;
  return 2;
}

int
mv_claim_runs_get (const mv_claim_run ***runs, size_t *n, const mv_check_opts *o)
{
  static const mv_claim_run **list;
  size_t d[2];
  double te[2];
  unsigned seeds;
  size_t nd = settings (o, d, te, &seeds), total = nd * seeds, k = 0;
  const mv_claim_run **l = realloc (list, total * sizeof *l);
  if (!l)
    return mv_error_set (MV_ENOMEM, "claim runs: out of memory");
  list = l;
  for (size_t a = 0; a < nd; a++)
    for (unsigned s = 0; s < seeds; s++, k++)
      {
        mv_claim_run *r = NULL;
        if (o->progress)
          o->progress (o->progress_ctx, "flows", (double) k / total);
        int st = run_get (&r, d[a], FIRST_SEED + s, te[a], o);
        if (st)
          return st;
        list[k] = r;
      }
  if (o->progress)
    o->progress (o->progress_ctx, "flows", 1.0);
  *runs = list, *n = total;
  return MV_OK;
}

int
mv_claim_runs_describe (char *buf, size_t len, const mv_check_opts *o)
{
  size_t d[2];
  double te[2];
  unsigned seeds;
  size_t nd = settings (o, d, te, &seeds);
  int w = snprintf (buf, len, "paper shape m* = %d, m = %d; teacher orthonormal seed %d, "
                    "student gaussian seeds %d..%u; reduced flow (rk8pd, rtol 1e-9) from a "
                    "sampled G(0) (seed %d at d = 1000: the vectors' Gram matrix, "
                    "tests/data/example_paper.json); d = %zu to t = %g", MSTAR, M, TEACHER_SEED, FIRST_SEED,
                    FIRST_SEED + seeds - 1, FIRST_SEED, d[0], te[0]);
  if (nd > 1 && w > 0 && (size_t) w < len)
    snprintf (buf + w, len - w, ", d = %zu to t = %g", d[1], te[1]);
  return MV_OK;
}

/* ------------------------------------------------------------ helpers */

double
mv_claim_beta0 (const mv_claim_run *r, size_t i, size_t j)
{
  size_t m = r->tr.m, ms = r->tr.mstar, n = r->tr.n;
  return r->G0[MV_CR_W (m, i) * n + MV_CR_WT (m, ms, j)];
}

double
mv_claim_escape_pred (const mv_claim_run *r, size_t j, size_t *best)
{
  size_t m = r->tr.m, bi = 0;
  double bt = INFINITY;
  for (size_t i = 0; i < m; i++)
    {
      double b = mv_claim_beta0 (r, i, j), w2 = r->norms[MV_CR_W (m, i)];
      w2 *= w2;
      /* leading order: T = 2|w|^2/(9 beta0), the largest beta0/|w|^2 first */
      double t = b > 0 ? 2 * w2 / (9 * b) : INFINITY;
      if (t < bt)
        bt = t, bi = i;
    }
  if (best)
    *best = bi;
  return bt;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

void
mv_claim_quantiles (double *x, size_t n, double *mn, double *med, double *mx)
{
  if (!n)
    {
      *mn = *med = *mx = NAN;
      return;
    }
  qsort (x, n, sizeof *x, cmp_double);
  *mn = x[0], *mx = x[n - 1];
  *med = n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

/* ------------------------------------------------------------ scans */

char *
mv_claim_scan_text (size_t d, const unsigned *ms, size_t nm, unsigned seed0, size_t ns,
                    double t_end, size_t n_out, const char *stop)
{
  mv_textbuf b;
  mv_textbuf_init (&b);
  mv_textbuf_printf (&b, "{\"base\": {\"d\": %zu, \"teacher\": {\"m\": %d, \"init\": "
                     "{\"kind\": \"orthonormal\", \"seed\": %d}}, \"student\": {\"m\": %d, "
                     "\"init\": {\"kind\": \"gaussian\", \"seed\": %u}}},\n \"grid\": {",
                     d, MSTAR, TEACHER_SEED, M, seed0);
  if (nm)
    {
      mv_textbuf_puts (&b, "\"student.m\": [");
      for (size_t k = 0; k < nm; k++)
        mv_textbuf_printf (&b, "%s%u", k ? ", " : "", ms[k]);
      mv_textbuf_puts (&b, "], ");
    }
  mv_textbuf_printf (&b, "\"student.init.seed\": {\"from\": %u, \"to\": %u}},\n \"run\": "
                     "{\"method\": \"reduced\", \"gram0\": \"sample\", \"t_end\": %.17g, "
                     "\"n_out\": %zu", seed0, seed0 + (unsigned) ns - 1, t_end, n_out);
  if (stop)
    mv_textbuf_printf (&b, ", \"stop\": \"%s\"", stop);
  mv_textbuf_puts (&b, "}}\n");
  if (!mv_textbuf_ok (&b))
    {
      free (b.s);
      mv_error_set (MV_ENOMEM, "claim scan: out of memory");
      return NULL;
    }
  return b.s;
}

int
mv_claim_scan_run (mv_sweep_row **rows, size_t *n, const char *text, const char *name,
                   const mv_check_opts *o)
{
  int s = mv_check_scan (rows, n, text, name, o);
  for (size_t k = 0; !s && k < *n; k++)
    if ((*rows)[k].status == MV_TRAJ_FAILED)
      s = mv_error_set (MV_ENOCONV, "%s task %zu: %s", name, k, (*rows)[k].message);
  if (s)
    {
      mv_check_scan_free (*rows, *n);
      *rows = NULL, *n = 0;
    }
  return s;
}

int
mv_claim_fit_exponent (const double *x, const double *y, size_t n, double *c1, double *half,
                       double *c0, const char *what)
{
  double cov00, cov01, cov11, ss;
  if (n < 3 || gsl_fit_linear (x, 1, y, 1, n, c0, c1, &cov00, &cov01, &cov11, &ss))
    return mv_error_set (MV_EINVAL, "%s: cannot fit the d-exponent from %zu runs", what, n);
  *half = gsl_cdf_tdist_Pinv (0.975, (double) (n - 2)) * sqrt (cov11);
  return MV_OK;
}
