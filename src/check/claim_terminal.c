/* Claim 6, "terminal states" (MATH.md §4): each teacher at the end of a
 * run is recovered by one student, shared by several, or not escaped; the
 * loss decay while a teacher is shared is fitted (exponential/algebraic). */
#include "check/claim_runs.h"

#include <moeverify/error.h>
#include <moeverify/plot.h>

#include <gsl/gsl_fit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  size_t count[MV_TRAJ_NSTATE], teachers;
  size_t nfit, nexp, nalg, nnowin;
  double exp_rms_max, alg_rms_max;
  char *tab;
  size_t tablen;
} term_stats;

/* Least squares y = a + b x; *rms the residual root mean square. */
static void
fit (const double *x, const double *y, size_t n, double *b, double *rms)
{
  double c0, c1, c00, c01, c11, ss;
  gsl_fit_linear (x, 1, y, 1, n, &c0, &c1, &c00, &c01, &c11, &ss);
  *b = c1, *rms = sqrt (ss / n);
}

/* The late window of a run: after every event (expert 0.5 crossings and
 * recoveries) by a margin, and at least the second half; first row. */
static size_t
late_window (const mv_claim_run *r)
{
  const mv_traj *tr = &r->tr;
  double last = 0;
  for (size_t i = 0; i < tr->m; i++)
    for (size_t j = 0; j < tr->mstar; j++)
      {
        /* escapes and recoveries change the decay regime */
        double c = mv_traj_crossing (tr, MV_ALIGN_EXPERT, MV_TRAJ_THR_50, i, j);
        double c2 = mv_traj_crossing (tr, MV_ALIGN_BOTH, MV_TRAJ_THR_90, i, j);
        if (!isnan (c))
          last = fmax (last, c);
        if (!isnan (c2))
          last = fmax (last, c2);
      }
  double t0 = fmax (0.5 * r->t_end, last + 0.1 * r->t_end);
  size_t row = 0;
  while (row < tr->rows && tr->t[row] < t0)
    row++;
  return row;
}

/* E[(sum_k He3(w_k.x) - He3(w*_j.x))^2] over the students with |expert|
 * >= 0.3 (Mehler: E[He3(a)He3(b)] = 6 rho^3): zero iff they represent the
 * teacher's expert exactly once their routers agree (claim-terminal.md). */
static double
he3_residual (const mv_claim_run *r, size_t row, size_t j)
{
  const mv_traj *tr = &r->tr;
  const double *G = mv_traj_gram (tr, row);
  size_t m = tr->m, ms = tr->mstar, n = tr->n, jt = MV_CR_WT (m, ms, j);
  double s = 1;
  for (size_t k = 0; k < m; k++)
    {
      double ek = G[MV_CR_W (m, k) * n + jt];
      if (fabs (ek) < 0.3)
        continue;
      s -= 2 * ek * ek * ek;
      for (size_t l = 0; l < m; l++)
        {
          double el = G[MV_CR_W (m, l) * n + jt], c = G[MV_CR_W (m, k) * n + MV_CR_W (m, l)];
          if (fabs (el) >= 0.3)
            s += c * c * c;
        }
    }
  return 6 * s;
}

/* Fit log y against t and against log t; one table row. */
static void
fit_row (term_stats *g, const mv_claim_run *r, const char *what, const double *x,
         const double *lx, const double *y, size_t n)
{
  double be, re, ba, ra;
  size_t len = strlen (g->tab);
  fit (x, y, n, &be, &re);
  fit (lx, y, n, &ba, &ra);
  g->nfit++;
  g->nexp += re < ra, g->nalg += ra <= re;
  g->exp_rms_max = fmax (g->exp_rms_max, re), g->alg_rms_max = fmax (g->alg_rms_max, ra);
  snprintf (g->tab + len, g->tablen - len, "| %zu | %u | %s: t = %.0f..%.0f, %.3g..%.3g "
            "| rate %.4g, rms %.3g | exponent %.4g, rms %.3g | %s |\n", r->d, r->seed, what,
            x[0], x[n - 1], exp (y[0]), exp (y[n - 1]), -be, re, -ba, ra,
            re < ra ? "exponential" : "algebraic");
}

/* Loss decay of a run with shared teachers (bit j of mask): L, and the
 * shared teachers' He3 residual (their own approach to the exact
 * representation, without the other teachers' terms), over the late window. */
static void
decay_fit (term_stats *g, const mv_claim_run *r, const char *pattern, unsigned mask)
{
  const mv_traj *tr = &r->tr;
  size_t r0 = late_window (r), n = tr->rows - r0, len = strlen (g->tab);
  snprintf (g->tab + len, g->tablen - len, "| %zu | %u | %s | | | |\n", r->d, r->seed, pattern);
  if (n < 8 || tr->t[tr->rows - 1] - tr->t[r0] < 0.2 * r->t_end)
    {
      g->nnowin++;
      len = strlen (g->tab);
      snprintf (g->tab + len, g->tablen - len, "| %zu | %u | no window after the last event "
                "| | | |\n", r->d, r->seed);
      return;
    }
  double *x = malloc (4 * n * sizeof *x), *lx = x + n, *y = x + 2 * n, *y2 = x + 3 * n;
  if (!x)
    return;
  for (size_t k = 0; k < n; k++)
    {
      x[k] = tr->t[r0 + k], lx[k] = log (x[k]), y[k] = log (tr->loss[r0 + k]);
      y2[k] = 0;
      for (size_t j = 0; j < tr->mstar; j++)
        if (mask >> j & 1)
          y2[k] += he3_residual (r, r0 + k, j);
      y2[k] = log (y2[k]);
    }
  fit_row (g, r, "L", x, lx, y, n);
  fit_row (g, r, "He3 residual", x, lx, y2, n);
  free (x);
}

/* Expert (and router) alignments of the students on teacher j with
 * |expert| >= 0.3, largest expert first, as text "e/a, ...". */
static void
pattern (char *buf, size_t len, const mv_claim_run *r, size_t row, size_t j)
{
  double e[32], a[32];
  size_t n = 0, q = 0;
  for (size_t i = 0; i < r->tr.m && n < 32; i++)
    {
      e[n] = mv_traj_align (&r->tr, row, MV_ALIGN_EXPERT, i, j);
      a[n] = mv_traj_align (&r->tr, row, MV_ALIGN_ROUTER, i, j);
      n += fabs (e[n]) >= 0.3;
    }
  for (size_t k = 1; k < n; k++)
    for (size_t b = k; b > 0 && e[b] > e[b - 1]; b--)
      {
        double x = e[b], y = a[b];
        e[b] = e[b - 1], a[b] = a[b - 1], e[b - 1] = x, a[b - 1] = y;
      }
  buf[0] = 0;
  for (size_t k = 0; k < n && q < len; k++)
    q += snprintf (buf + q, len - q, "%s%.3f/%.2f", k ? ", " : "", e[k], a[k]);
}

static void
classify (term_stats *g, const mv_claim_run *r)
{
  size_t last = r->tr.rows - 1;
  char pat[600] = "";
  int shared = 0;
  unsigned mask = 0;
  for (size_t j = 0; j < r->tr.mstar; j++)
    {
      int c = mv_traj_state (&r->tr, last, j);
      g->count[c]++, g->teachers++;
      if (c == MV_TRAJ_STATE_SHARED)
        {
          size_t q = strlen (pat);
          snprintf (pat + q, sizeof pat - q, "%st%zu: ", shared ? "; " : "", j);
          q = strlen (pat);
          pattern (pat + q, sizeof pat - q, r, last, j);
          q = strlen (pat);
          snprintf (pat + q, sizeof pat - q, " (He3 residual %.2g)", he3_residual (r, last, j));
          shared = 1, mask |= 1u << j;
        }
    }
  if (shared)
    decay_fit (g, r, pat, mask);
}

static int
terminal_run (mv_check_result *res, const mv_check_opts *o)
{
  const mv_claim_run **runs;
  size_t nr;
  int s = mv_claim_runs_get (&runs, &nr, o);
  if (s)
    return s;
  term_stats g;
  memset (&g, 0, sizeof g);
  g.tablen = 1024 * (nr + 4) + 4096;
  char desc[512];
  if (!(g.tab = malloc (g.tablen)))
    return mv_error_set (MV_ENOMEM, "terminal: out of memory");
  snprintf (g.tab, g.tablen, "| d | seed | shared teachers (expert/router alignments; He3 residual "
            "E[(sum He3(w_k.x) - He3(w*.x))^2]), then fits over the late window | log y vs t | "
            "log y vs log t | better fit |\n|---|---|---|---|---|---|\n");
  for (size_t k = 0; k < nr; k++)
    classify (&g, runs[k]);
  double T = (double) g.teachers;
  mv_claim_runs_describe (desc, sizeof desc, o);
  s = mv_check_set_method (res, "%s. At t_end each teacher is: recovered (one student with "
                           "router and expert alignment >= 0.9, no other |expert| >= 0.3); "
                           "recovered with redundant students (also others with |expert| >= "
                           "0.3); shared (>= 2 students |expert| >= 0.3, none recovered); not "
                           "escaped (max |expert| < 0.5); escaping (otherwise). Runs with a "
                           "shared teacher: least-squares fits of log L against t and log t "
                           "over the late window (after the last expert-0.5 crossing and the "
                           "last recovery + 0.1 t_end, at least the second half).", desc);
  for (int c = 0; !s && c < MV_TRAJ_NSTATE; c++)
    s = mv_check_measure_add (res, mv_term_names[c], g.count[c] / T, NAN, NAN,
                              "fraction of %zu teachers at t_end (%zu)", g.teachers, g.count[c]);
  if (!s)
    s = mv_check_measure_add (res, "shared-state decay fits preferring algebraic",
                              g.nfit ? (double) g.nalg / g.nfit : NAN, NAN, NAN,
                              "%zu of %zu fits (L and He3 residual per run; %zu runs without a "
                              "clean window); worst rms "
                              "exponential %.3g, algebraic %.3g", g.nalg, g.nfit, g.nnowin,
                              g.exp_rms_max, g.alg_rms_max);
  if (!s)
    s = mv_claim_terminal_scan (res, o, g.tab, g.tablen);
  if (!s)
    s = mv_check_set_details (res, g.tab);
  if (!s)
    s = mv_claim_terminal_plots (res, runs, nr, o);
  if (!s)
    {
      double fr = g.count[MV_TRAJ_STATE_RECOVERED] / T;
      int v = fr == 1 ? MV_CHECK_HOLDS : fr >= 0.5 ? MV_CHECK_RANGE : MV_CHECK_FAILS;
      s = mv_check_set_verdict (res, v, "Full recovery is %s: at t_end %.0f %% of teachers are "
                                "recovered by one student, %.0f %% recovered with redundant "
                                "students, %.0f %% shared, %.0f %% not escaped, %.0f %% "
                                "escaping. Shared-state loss decay: %zu of %zu fits prefer "
                                "algebraic.", fr == 1 ? "reached" : "not reached", 100 * fr,
                                100 * g.count[MV_TRAJ_STATE_REDUNDANT] / T,
                                100 * g.count[MV_TRAJ_STATE_SHARED] / T,
                                100 * g.count[MV_TRAJ_STATE_NOT_ESCAPED] / T,
                                100 * g.count[MV_TRAJ_STATE_ESCAPING] / T, g.nalg, g.nfit);
    }
  free (g.tab);
  return s;
}

const mv_check_type mv_check_terminal = {
  "terminal",
  "Terminal states",
  "Gradient flow from the paper's initialization ends with every teacher recovered by one "
  "student; the tool classifies each teacher at the end of a run (recovered by one student, "
  "shared by several, not escaped) and reports the frequencies and the loss decay of the "
  "shared state.",
  "Paper claim (sequential recovery of every teacher, then pruning); the shared state and its "
  "analysis are ours (proofs/claim-terminal.md).",
  "proofs/claim-terminal.md",
  0,
  terminal_run
};
