/* The flows shared by the trajectory claims (claim_runs.h): scans that
 * keep their trajectories, read back once per process and cached. */
#include "check/claim_runs.h"

#include "base/textbuf.h"
#include <moeverify/error.h>
#include <moeverify/flow.h>
#include <moeverify/traj.h>

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

/* A run from its trajectory directory: the record, G(0) (row 0, t = 0),
 * the raw norms, and per pair the expert alignment when the router
 * alignment first reaches 0.5 (interpolated within the step, traj.h). */
static int
run_load (mv_claim_run *r, const char *dir)
{
  int s = mv_traj_read (&r->tr, dir);
  if (s)
    return s;
  const mv_traj *tr = &r->tr;
  size_t n = tr->n, m = tr->m, ms = tr->mstar;
  if (!tr->rows || tr->t[0] != 0 || tr->status != MV_TRAJ_DONE)
    return mv_error_set (MV_ENOCONV, "claim run d = %zu seed %u (%s): %s", r->d, r->seed, dir,
                         tr->message[0] ? tr->message : "no complete run recorded");
  r->G0 = malloc (n * n * sizeof *r->G0);
  r->norms = malloc (n * sizeof *r->norms);
  r->guide_e = malloc (m * ms * sizeof *r->guide_e);
  r->guide_t = malloc (m * ms * sizeof *r->guide_t);
  if (!r->G0 || !r->norms || !r->guide_e || !r->guide_t)
    return mv_error_set (MV_ENOMEM, "claim runs: out of memory");
  memcpy (r->G0, mv_traj_gram (tr, 0), n * n * sizeof *r->G0);
  memcpy (r->norms, tr->norms0, n * sizeof *r->norms);
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < ms; j++)
      {
        r->guide_t[i * ms + j] = mv_traj_crossing (tr, MV_ALIGN_ROUTER, MV_TRAJ_THR_50, i, j);
        r->guide_e[i * ms + j] = mv_traj_crossing_other (tr, MV_ALIGN_ROUTER, MV_TRAJ_THR_50,
                                                         i, j);
      }
  return MV_OK;
}

static mv_claim_run *
cache_find (size_t d, unsigned seed, double t_end)
{
  for (size_t k = 0; k < ncache; k++)
    if (cache[k]->d == d && cache[k]->seed == seed && cache[k]->t_end == t_end)
      return cache[k];
  return NULL;
}

static int
cache_add (mv_claim_run *r)
{
  if (ncache == ccache)
    {
      size_t c = ccache ? 2 * ccache : 16;
      mv_claim_run **nc = realloc (cache, c * sizeof *nc);
      if (!nc)
        return mv_error_set (MV_ENOMEM, "claim runs: out of memory");
      cache = nc, ccache = c;
    }
  cache[ncache++] = r;
  return MV_OK;
}

/* One scan of runs (seeds seed0 .. seed0 + ns - 1 at d to t_end, G(0) as
 * gram0 says) into the cache, unless every run is there. */
static int
scan_runs (size_t d, double t_end, unsigned seed0, size_t ns, const char *gram0,
           const mv_check_opts *o)
{
  size_t k = 0;
  while (k < ns && cache_find (d, seed0 + (unsigned) k, t_end))
    k++;
  if (k == ns)
    return MV_OK;
  mv_claim_scan sc = { d, NULL, 0, seed0, ns, t_end, 0, NULL, gram0, 1 };
  char name[64], dir[4096], *text = mv_claim_scan_text (&sc);
  snprintf (name, sizeof name, "runs-d%zu-t%g%s", d, t_end,
            !strcmp (gram0, "vectors") ? "-vectors" : "");
  mv_sweep_row *rows = NULL;
  size_t n = 0;
  int s = text ? mv_claim_scan_run (&rows, &n, text, name, o) : MV_ENOMEM;
  for (size_t t = 0; !s && t < n; t++)
    {
      unsigned seed = seed0 + (unsigned) t;
      if (cache_find (d, seed, t_end))
        continue;
      mv_claim_run *r = calloc (1, sizeof *r);
      if (!r)
        {
          s = mv_error_set (MV_ENOMEM, "claim runs: out of memory");
          break;
        }
      r->d = d, r->seed = seed, r->t_end = t_end;
      mv_check_scan_task_dir (dir, sizeof dir, o, name, t);
      if ((s = run_load (r, dir)) || (s = cache_add (r)))
        run_free (r);
    }
  mv_check_scan_free (rows, n);
  free (text);
  return s;
}

/* The runs of (d, t_end): seed 2 at d = 1000 is tests/data/example_paper.json,
 * so it starts from its vectors' Gram matrix (its own scan) and the known
 * results are reproduced; the other seeds from a sampled G(0). */
static int
setting_runs (size_t d, double t_end, unsigned seeds, const mv_check_opts *o)
{
  unsigned first = FIRST_SEED;
  int s = MV_OK;
  if (d == 1000)
    s = scan_runs (d, t_end, first++, 1, "vectors", o), seeds--;
  if (seeds)
    {
      /* every scan asked for before a failure counts (--plan) */
      char msg[512];
      snprintf (msg, sizeof msg, "%s", mv_error_message ());
      int s2 = scan_runs (d, t_end, first, seeds, "sample", o);
      if (s)
        mv_error_set (s, "%s", msg);
      else
        s = s2;
    }
  return s;
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
  int s = MV_OK;
  char first[512] = "";
  for (size_t a = 0; a < nd; a++)   /* every scan asked for (--plan) */
    {
      int sa = setting_runs (d[a], te[a], seeds, o);
      if (sa && !s)
        s = sa, snprintf (first, sizeof first, "%s", mv_error_message ());
    }
  if (s)
    return mv_error_set (s, "%s", first);
  const mv_claim_run **l = realloc (list, total * sizeof *l);
  if (!l)
    return mv_error_set (MV_ENOMEM, "claim runs: out of memory");
  list = l;
  for (size_t a = 0; a < nd; a++)
    for (unsigned q = 0; q < seeds; q++)
      list[k++] = cache_find (d[a], FIRST_SEED + q, te[a]);
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
                    "tests/data/example_paper.json), run as scans runs-d<d>-t<t> (report "
                    "directory, scans/); d = %zu to t = %g", MSTAR, M, TEACHER_SEED, FIRST_SEED,
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
mv_claim_scan_text (const mv_claim_scan *sc)
{
  mv_textbuf b;
  mv_textbuf_init (&b);
  mv_textbuf_printf (&b, "{\"base\": {\"d\": %zu, \"teacher\": {\"m\": %d, \"init\": "
                     "{\"kind\": \"orthonormal\", \"seed\": %d}}, \"student\": {\"m\": %d, "
                     "\"init\": {\"kind\": \"gaussian\", \"seed\": %u}}},\n \"grid\": {",
                     sc->d, MSTAR, TEACHER_SEED, M, sc->seed0);
  if (sc->nm)
    {
      mv_textbuf_puts (&b, "\"student.m\": [");
      for (size_t k = 0; k < sc->nm; k++)
        mv_textbuf_printf (&b, "%s%u", k ? ", " : "", sc->ms[k]);
      mv_textbuf_puts (&b, "], ");
    }
  mv_textbuf_printf (&b, "\"student.init.seed\": {\"from\": %u, \"to\": %u}},\n \"run\": "
                     "{\"method\": \"reduced\", \"gram0\": \"%s\", \"t_end\": %.17g",
                     sc->seed0, sc->seed0 + (unsigned) sc->ns - 1,
                     sc->gram0 ? sc->gram0 : "sample", sc->t_end);
  if (sc->n_out)
    mv_textbuf_printf (&b, ", \"n_out\": %zu", sc->n_out);
  if (sc->stop)
    mv_textbuf_printf (&b, ", \"stop\": \"%s\"", sc->stop);
  if (sc->keep)
    mv_textbuf_puts (&b, ", \"keep\": \"trajectories\"");
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
