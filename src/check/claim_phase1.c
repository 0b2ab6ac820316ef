/* Claim 5, "phase 1" (MATH.md §4): the first matched pair's expert and
 * router alignments reach 0.9 by a time T_1, while the other overlaps stay
 * dormant, within a stated multiple of their initial scale; T_1 / sqrt(d)
 * is the paper's time scale. */
#include "check/claim_runs.h"

#include <moeverify/error.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define P1_MULT 3.0          /* dormant: |overlap| <= 3 x the initial scale */
#define P1_FRACTION 0.9      /* of the runs, for "holds" */

typedef struct {
  size_t runs, reached, dormant;
  double *ratio;           /* per run: max dormant overlap / initial scale */
  double *t1d;             /* per run: T_1 / sqrt(d) */
  size_t n;
} p1_stats;

/* Largest |overlap| of student-teacher pairs at row r, router and expert,
 * leaving out student skip_i and teacher skip_j (the matched pair's row
 * and column); skip = (size_t) -1 leaves out nothing. */
static double
max_overlap (const mv_traj *tr, size_t r, size_t skip_i, size_t skip_j)
{
  double mx = 0;
  for (size_t i = 0; i < tr->m; i++)
    for (size_t j = 0; j < tr->mstar; j++)
      {
        if (i == skip_i || j == skip_j)
          continue;
        mx = fmax (mx, fabs (mv_traj_align (tr, r, MV_ALIGN_ROUTER, i, j)));
        mx = fmax (mx, fabs (mv_traj_align (tr, r, MV_ALIGN_EXPERT, i, j)));
      }
  return mx;
}

static void
one_run (p1_stats *g, const mv_claim_run *r, char *tab, size_t tablen)
{
  const mv_traj *tr = &r->tr;
  double t1 = INFINITY;
  long best = -1;
  size_t jbest = 0;
  for (size_t j = 0; j < tr->mstar; j++)
    {
      long st;
      double t = mv_traj_recovery (tr, j, &st);
      if (st >= 0 && t < t1)
        t1 = t, best = st, jbest = j;
    }
  g->runs++;
  double s0 = max_overlap (tr, 0, (size_t) -1, (size_t) -1);
  size_t len = strlen (tab);
  if (best < 0)
    {
      snprintf (tab + len, tablen - len, "| %zu | %u | - | - | %.3g | - | - |\n",
                r->d, r->seed, s0);
      return;
    }
  /* the first output row at or after T_1 (the state the claim describes) */
  size_t row = 0;
  while (row + 1 < tr->rows && tr->t[row] < t1)
    row++;
  double mx = max_overlap (tr, row, (size_t) best, jbest), q = mx / s0;
  g->reached++;
  g->dormant += q <= P1_MULT;
  g->ratio[g->n] = q;
  g->t1d[g->n++] = t1 / sqrt ((double) r->d);
  snprintf (tab + len, tablen - len, "| %zu | %u | %zu by %ld at %.2f | %.3f | %.3g | %.3g "
            "(t = %.2f) | %.2f |\n", r->d, r->seed, jbest, best, t1,
            t1 / sqrt ((double) r->d), s0, mx, tr->t[row], q);
}

/* The dormancy verdict, made no better than the scaling verdict sv (text
 * st) of the d-scan. */
static int
verdict (mv_check_result *res, const p1_stats *g, int sv, const char *st)
{
  double fr = (double) g->reached / g->runs;
  double fd = g->reached ? (double) g->dormant / g->reached : 0;
  if (fr >= P1_FRACTION && fd >= P1_FRACTION)
    return mv_check_set_verdict (res, sv, "A first pair reaches 0.9 in %.0f %% of runs, and at "
                                 "that time every other overlap is within %.0fx its initial "
                                 "scale in %.0f %% of them. %s", 100 * fr, P1_MULT, 100 * fd,
                                 st);
  if (fr >= P1_FRACTION)
    return mv_check_set_verdict (res, fd >= 0.5 && sv != MV_CHECK_FAILS ? MV_CHECK_RANGE
                                 : MV_CHECK_FAILS, "A first pair reaches 0.9 in %.0f %% of "
                                 "runs, but the others are dormant (within %.0fx the initial "
                                 "scale) at T_1 in only %.0f %%: other pairs escape during "
                                 "phase 1. %s", 100 * fr, P1_MULT, 100 * fd, st);
  return mv_check_set_verdict (res, MV_CHECK_FAILS, "Only %.0f %% of runs recover any "
                               "teacher by their horizon. %s", 100 * fr, st);
}

/* ------------------------------------------------- T_1 across d (scans) */

typedef struct {
  size_t n, cens;
  double x[512], y[512];   /* log10 d, log10 T_1 per run */
} t1_data;

static size_t
scan_nd (const mv_check_opts *o)
{
  return o->level == MV_CHECK_QUICK ? 2 : o->level == MV_CHECK_DEFAULT ? 4 : 5;
}

static size_t
scan_seeds (const mv_check_opts *o)
{
  size_t n = o->seeds ? o->seeds : o->level == MV_CHECK_QUICK ? 2
             : o->level == MV_CHECK_DEFAULT ? 4 : 8;
  return n < 512 / scan_nd (o) ? n : 512 / scan_nd (o);
}

/* The runs at d = 10^(2 + a), each stopped at its first recovery (horizon
 * 20 sqrt(d), far past the T_1 seen): median T_1 / sqrt(d) measured. */
static int
t1_at_d (mv_check_result *res, t1_data *t, size_t a, size_t ns, const mv_check_opts *o)
{
  size_t d = (size_t) pow (10, 2 + a), n = 0, k0 = t->n, cens = 0;
  mv_claim_scan sc = { d, NULL, 0, (unsigned) (1000 * a + 2), ns, 20 * sqrt ((double) d), 8,
                       "first_recovery", NULL, 0 };
  char name[32], *text = mv_claim_scan_text (&sc);
  mv_sweep_row *rows = NULL;
  snprintf (name, sizeof name, "phase1-d%zu", d);
  int s = text ? mv_claim_scan_run (&rows, &n, text, name, o) : MV_ENOMEM;
  double r[512];
  for (size_t k = 0; !s && k < n; k++)
    {
      double t1 = INFINITY;
      for (size_t j = 0; j < rows[k].mstar; j++)
        if (rows[k].recovery_student[j] >= 0)
          t1 = fmin (t1, rows[k].recovery_time[j]);
      if (!isfinite (t1))
        {
          cens++;
          continue;
        }
      r[t->n - k0] = t1 / sqrt ((double) d);
      t->x[t->n] = log10 ((double) d), t->y[t->n++] = log10 (t1);
    }
  t->cens += cens;
  double mn, med, mx;
  mv_claim_quantiles (r, t->n - k0, &mn, &med, &mx);
  if (!s)
    s = mv_check_measure_add (res, "T_1 / sqrt(d): median at d", med, NAN, NAN, "d = %zu: "
                              "min %.4g, max %.4g over %zu runs, %zu without a recovery by "
                              "t = %.4g", d, mn, mx, t->n - k0, cens, 20 * sqrt ((double) d));
  mv_check_scan_free (rows, n);
  free (text);
  return s;
}

/* The d-exponent of T_1: O(sqrt d) holds when the 95 % interval's lower
 * end is <= 0.5; *sv the verdict of this part, st its sentence. */
static int
t1_scaling (mv_check_result *res, const mv_check_opts *o, int *sv, char *st, size_t len)
{
  t1_data *t = calloc (1, sizeof *t);
  if (!t)
    return mv_error_set (MV_ENOMEM, "phase1: out of memory");
  int s = MV_OK;
  char first[512] = "";
  for (size_t a = 0; a < scan_nd (o); a++)   /* every scan asked for (--plan) */
    {
      int sa = t1_at_d (res, t, a, scan_seeds (o), o);
      if (sa && !s)
        s = sa, snprintf (first, sizeof first, "%s", mv_error_message ());
    }
  double c0, c1, h;
  if (s)
    mv_error_set (s, "%s", first);
  else if (!(s = mv_claim_fit_exponent (t->x, t->y, t->n, &c1, &h, &c0, "phase1")))
    {
      s = mv_check_measure_add (res, "d-exponent of T_1", c1, 0.5, 0.5 - (c1 - h),
                                "least squares on log T_1 vs log d, d = 10^2 .. 10^%zu, %zu "
                                "runs (%zu without recovery left out); 95 %% interval [%.3f, "
                                "%.3f]; margin = 0.5 - lower end", 1 + scan_nd (o), t->n,
                                t->cens, c1 - h, c1 + h);
      if (!s)
        s = mv_claim_plot_vs_d (res, o, "phase1_t1_vs_d.svg", "First recovery T_1 (router and "
                                "expert alignment 0.9), m* = 5, m = 25", "T_1", t->x, t->y,
                                NULL, NULL, t->n, c0, c1);
      *sv = c1 - h <= 0.5 ? MV_CHECK_HOLDS : MV_CHECK_FAILS;
      snprintf (st, len, "T_1 grows like d^%.3f (95 %% interval [%.3f, %.3f]): %s.", c1,
                c1 - h, c1 + h, c1 - h > 0.5 ? "faster than sqrt(d) -- FAILS"
                : c1 + h < 0.5 ? "slower than sqrt(d), within O(sqrt d)"
                : "consistent with sqrt(d)");
    }
  free (t);
  return s;
}

static int
record (mv_check_result *res, p1_stats *g, const mv_check_opts *o, const char *tab)
{
  int sv = MV_CHECK_HOLDS;
  char st[256] = "";
  char desc[512];
  double qmn, qmed, qmx, tmn, tmed, tmx;
  mv_claim_quantiles (g->ratio, g->n, &qmn, &qmed, &qmx);
  mv_claim_quantiles (g->t1d, g->n, &tmn, &tmed, &tmx);
  mv_claim_runs_describe (desc, sizeof desc, o);
  double fd = g->reached ? (double) g->dormant / g->reached : 0;
  int s = mv_check_set_method (res, "%s. T_1: first time any teacher is recovered (a student "
                               "with router and expert alignment >= 0.9, mv_traj_recovery). "
                               "Initial scale s_0: largest |router| or |expert| overlap of "
                               "any student-teacher pair at t = 0. Dormant: at the first "
                               "output row at or after T_1, every pair outside the matched "
                               "student's row and teacher's column has |overlap| <= %.0f s_0. "
                               "Criterion for holds: a pair reaches 0.9 and the rest are "
                               "dormant in >= %.0f %% of runs, and the 95 %% interval of "
                               "the d-exponent of T_1 reaches down to 0.5 or below. T_1 "
                               "across d: scans (sweeps phase1-d*) of the paper shape, %zu "
                               "student seeds per d = 10^2 .. 10^%zu, sampled G(0), reduced "
                               "flow stopped at the first recovery.", desc, P1_MULT,
                               100 * P1_FRACTION, scan_seeds (o), 1 + scan_nd (o));
  if (!s)
    s = mv_check_measure_add (res, "runs with the others dormant at T_1", fd, P1_FRACTION,
                              fd - P1_FRACTION, "%zu of %zu runs that reach T_1 (%zu runs)",
                              g->dormant, g->reached, g->runs);
  if (!s)
    s = mv_check_measure_add (res, "max other overlap at T_1 / s_0: median", qmed, P1_MULT,
                              P1_MULT - qmed, "min %.3g, max %.3g", qmn, qmx);
  if (!s)
    s = mv_check_measure_add (res, "T_1 / sqrt(d): median", tmed, NAN, NAN,
                              "min %.4g, max %.4g over %zu runs (compare across d at "
                              "--full)", tmn, tmx, g->n);
  if (!s)
    s = t1_scaling (res, o, &sv, st, sizeof st);
  if (!s)
    s = mv_check_set_details (res, tab);
  return s ? s : verdict (res, g, sv, st);
}

static int
phase1_run (mv_check_result *res, const mv_check_opts *o)
{
  const mv_claim_run **runs;
  size_t nr;
  int s = mv_claim_runs_get (&runs, &nr, o);
  if (s)
    return s;
  size_t tablen = 200 * (nr + 4);
  p1_stats g = { 0, 0, 0, malloc ((nr + 1) * sizeof (double)),
                 malloc ((nr + 1) * sizeof (double)), 0 };
  char *tab = malloc (tablen);
  if (!g.ratio || !g.t1d || !tab)
    s = mv_error_set (MV_ENOMEM, "phase1: out of memory");
  else
    {
      snprintf (tab, tablen, "| d | seed | first recovery (teacher by student at T_1) | "
                "T_1/sqrt(d) | s_0 | max other overlap at T_1 | ratio |\n"
                "|---|---|---|---|---|---|---|\n");
      for (size_t k = 0; k < nr; k++)
        one_run (&g, runs[k], tab, tablen);
      s = record (res, &g, o, tab);
    }
  free (g.ratio), free (g.t1d), free (tab);
  return s;
}

const mv_check_type mv_check_phase1 = {
  "phase1",
  "Phase 1: the first matched pair aligns while the rest stay dormant",
  "The best-aligned student-teacher pair's expert and router alignments reach 0.9 by a time "
  "T_1 of order sqrt(d), while the other overlaps stay near their initial O(d^-1/2) scale.",
  "Paper claim (arXiv 2510.07205, Phase 1; the constant in T_1 and the meaning of 'dormant' "
  "unknown: the multiple 3 of the initial scale is our reading).",
  "proofs/claim-phase1.md",
  0,
  phase1_run
};
