/* Claim 2, the escape law (MATH.md §3; proofs/claim-escape.md).
 *
 * (a) Isolated pair (m = m* = 1, G(0) built directly): the reduced flow's
 *     first time T_0.5 the expert alignment reaches 0.5, against the
 *     finite-beta0 formula T_theta = (2|w|^2/9)(1/b0 - 1/theta
 *     + artanh theta - artanh b0), and T b0/|w|^2 -> 2/9 over a ladder.
 * (b) Paper shape (m* = 5, m = 25, sampled G(0)): per teacher, the first
 *     time ANY student's expert alignment reaches 0.5 against the
 *     isolated-pair prediction of the best-overlap student, binned by the
 *     relative gap between the best and second-best initial overlaps.
 * (c) The exponent of the first escape time in d (least squares on
 *     log-log, 95 % t-interval); the claim is O(sqrt d). */
#include "check/claim_runs.h"
#include <moeverify/moeverify.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_sort.h>

#define PAIR_TOL 1e-2     /* (a): relative error allowed at b0 <= 0.05 */
#define LAW_TOL 0.10      /* (b): |median ratio - 1| allowed in a gap bin */
#define MS 5              /* paper shape (claim_runs.h) */
#define M 25
#define NBIN 5
#define MAXPTS 4096

static const double gap_edges[NBIN + 1] = { 0, 0.05, 0.1, 0.2, 0.4, 1.0001 };

/* Leading-order time for the expert overlap to climb from b0 to th. */
static double
escape_time (double wnorm2, double b0, double th)
{
  return 2 * wnorm2 / 9 * (1 / b0 - 1 / th + atanh (th) - atanh (b0));
}

/* Reduced flow from (G0, norms) to t_end or until every teacher has been
 * reached at 0.5; tr initialised here. */
static int
flow_until_escaped (mv_traj *tr, const double *G0, const double *norms,
                    size_t m, size_t ms, double t_end)
{
  const mv_stop_type *stop = mv_stop_find ("escaped");
  mv_observer obs = { stop->name, stop->observe, NULL, tr };
  mv_flow_params p;
  mv_flow_params_default (&p);
  p.t_end = t_end;
  p.n_out = 16;         /* only crossings are read: few rows */
  p.observers = &obs;
  p.n_observers = 1;
  int s = mv_traj_init (tr, m, ms);
  if (s)
    return s;
  s = mv_flow_reduced (tr, G0, norms, m, ms, 0.0, &p);
  if (!s && tr->status == MV_TRAJ_FAILED)
    s = mv_error_set (MV_ENOCONV, "escape: reduced flow stopped: %s", tr->message);
  if (s)
    mv_traj_clear (tr);
  return s;
}

/* Scan sizes per level: d = 10^2 .. 10^(nd+1) and seeds per d.  The
 * reduced flow's cost at m = 25 grows with d (its O(1) student-student
 * rates bound the step over an O(sqrt d) plateau): about 3 s per run at
 * 10^6 and 10 s at 10^7 on a quiet machine, several times that on a
 * loaded one. */
static size_t
level_nd (const mv_check_opts *o)
{
  return o->level == MV_CHECK_QUICK ? 2 : o->level == MV_CHECK_DEFAULT ? 5 : 7;
}

static size_t
level_seeds (const mv_check_opts *o)
{
  return o->seeds ? o->seeds : o->level == MV_CHECK_QUICK ? 2
         : o->level == MV_CHECK_DEFAULT ? 4 : 6;
}

/* ------------------------------------------------------ (a) isolated pair */

/* T_0.5 of the isolated pair: G(0) has expert overlap b0, every other
 * off-diagonal entry 0 (order v, w, v*, w*). */
static int
pair_escape (double b0, double wnorm, double *T)
{
  double G[16] = { 0 }, nr[4] = { 1, wnorm, 1, 1 };
  for (int k = 0; k < 4; k++)
    G[5 * k] = 1;
  G[1 * 4 + 3] = G[3 * 4 + 1] = b0;
  mv_traj tr;
  int s = flow_until_escaped (&tr, G, nr, 1, 1, 2 * escape_time (wnorm * wnorm, b0, 0.5));
  if (s)
    return s;
  *T = mv_traj_crossing (&tr, MV_ALIGN_EXPERT, MV_TRAJ_THR_50, 0, 0);
  mv_traj_clear (&tr);
  if (isnan (*T))
    return mv_error_set (MV_ENOCONV, "escape: isolated pair b0 = %g never reached 0.5 "
                         "by twice the predicted time", b0);
  return MV_OK;
}

static const double ladder[] = { 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001 };

/* Ladder of b0 at |w| = 1, one point at |w| = 1.5 (the |w|^2 scaling);
 * *ok = 1 when the errors fall with b0 and stay below PAIR_TOL at
 * b0 <= 0.05, and the extrapolated limit of T b0/|w|^2 is 2/9 within
 * PAIR_TOL. */
static int
part_pair (mv_check_result *r, const mv_check_opts *o, int *ok, char *txt, size_t len)
{
  size_t nl = o->level == MV_CHECK_QUICK ? 4 : o->level == MV_CHECK_DEFAULT ? 6 : 8;
  double y[8], err[8], T, emax = 0;
  int fall = 1, small = 1;
  for (size_t k = 0; k < nl; k++)
    {
      int s = pair_escape (ladder[k], 1.0, &T);
      if (s)
        return s;
      double pred = escape_time (1.0, ladder[k], 0.5);
      err[k] = fabs (T - pred) / pred;
      y[k] = T * ladder[k];
      /* below 1e-6 the crossing interpolation, not the law, is measured */
      if (k > 0 && err[k] > err[k - 1] && err[k] > 1e-6)
        fall = 0;
      if (ladder[k] <= 0.05)
        small &= err[k] <= PAIR_TOL, emax = fmax (emax, err[k]);
      mv_check_measure_add (r, "pair T_0.5 rel. error", err[k], PAIR_TOL,
                            ladder[k] <= 0.05 ? PAIR_TOL - err[k] : NAN,
                            "b0 = %g, |w| = 1: T_0.5 = %.6g measured, %.6g formula; "
                            "margin = bound - error (bound applies at b0 <= 0.05)",
                            ladder[k], T, pred);
    }
  int s = pair_escape (0.05, 1.5, &T);
  if (s)
    return s;
  double pw = escape_time (2.25, 0.05, 0.5), ew = fabs (T - pw) / pw;
  mv_check_measure_add (r, "pair T_0.5 rel. error, |w| = 1.5", ew, PAIR_TOL, PAIR_TOL - ew,
                        "b0 = 0.05: %.6g measured, %.6g formula", T, pw);
  /* T b0 = (2/9)(1 - (2 - artanh 0.5) b0 + O(b0^2)): the raw deviation at
   * the smallest b0 is O(b0); Richardson on the two smallest removes it */
  double b1 = ladder[nl - 2], b2 = ladder[nl - 1];
  double lim = (b1 * y[nl - 1] - b2 * y[nl - 2]) / (b1 - b2);
  double dev = fabs (y[nl - 1] / (2.0 / 9) - 1), dlim = fabs (lim / (2.0 / 9) - 1);
  mv_check_measure_add (r, "T b0/|w|^2 at smallest b0", y[nl - 1], 2.0 / 9, NAN,
                        "b0 = %g: relative deviation from 2/9 = %.3g (expected O(b0): "
                        "(2 - artanh 0.5) b0 = %.3g)", b2, dev, (2 - atanh (0.5)) * b2);
  mv_check_measure_add (r, "T b0/|w|^2 limit (extrapolated)", lim, 2.0 / 9, PAIR_TOL - dlim,
                        "linear extrapolation to b0 = 0 from b0 = %g, %g: relative "
                        "deviation %.3g; margin = %g - deviation", b1, b2, dlim, PAIR_TOL);
  *ok = fall && small && ew <= PAIR_TOL && dlim <= PAIR_TOL;
  snprintf (txt, len, "(a) isolated pair: T_0.5 within %.2g (max over b0 <= 0.05) of the "
            "formula, errors %s with b0, T b0/|w|^2 -> %.5f (2/9 = %.5f) -- %s.",
            emax, fall ? "falling" : "NOT falling",
            lim, 2.0 / 9, *ok ? "holds" : "FAILS");
  return MV_OK;
}

/* --------------------------------------------- (b) many students, (c) d */

typedef struct {
  double gap, ratio;   /* relative gap (b1 - b2)/b1; measured/predicted
                          (INFINITY: not reached by t_end) */
  double logd;
  double lower;        /* censored: horizon/predicted, a lower bound */
} law_pt;

typedef struct {
  size_t nrun, npt, ncens, nlost;   /* nlost: runs with no escape by t_end */
  double logd[MAXPTS], logT[MAXPTS], logP[MAXPTS];  /* per run: first escape,
                                                       its prediction */
  law_pt pt[MAXPTS];
  double wall_d[8];   /* flow wall seconds per d */
} many_data;

/* Best and second-best expert overlap with teacher j in G0 (order
 * [v, w, v*, w*]), the best student in *bi. */
static void
best_two (const double *G0, size_t j, double *b1, double *b2, size_t *bi)
{
  size_t n = 2 * (M + MS);
  *b1 = *b2 = -2, *bi = 0;
  for (size_t i = 0; i < M; i++)
    {
      double b = G0[(M + i) * n + 2 * M + MS + j];
      if (b > *b1)
        *b2 = *b1, *b1 = b, *bi = i;
      else if (b > *b2)
        *b2 = b;
    }
}

/* Sampled G(0) of the paper shape at dimension d, student seed seed. */
static int
paper_gram0 (double *G0, double *nr, size_t d, unsigned seed)
{
  char spec[256];
  snprintf (spec, sizeof spec, "{\"d\": %zu, \"teacher\": {\"m\": %d, \"init\": {\"kind\": "
            "\"orthonormal\", \"seed\": 1}}, \"student\": {\"m\": %d, \"init\": {\"kind\": "
            "\"gaussian\", \"seed\": %u}}}", d, MS, M, seed);
  mv_problem pb;
  int s = mv_problem_parse (&pb, spec, "escape");
  if (s)
    return s;
  s = mv_flow_gram0 (G0, nr, NULL, 0, &pb, MV_GRAM0_SAMPLE);
  mv_problem_clear (&pb);
  return s;
}

/* Per teacher of run (d, seed): the isolated-pair prediction of the
 * best-overlap student and the relative gap; the largest prediction is
 * returned (0 if none is finite). */
static double
predict (double pred[MS], double gap[MS], size_t d, unsigned seed, int *s)
{
  double G0[4 * (M + MS) * (M + MS)], nr[2 * (M + MS)], tmax = 0;
  if ((*s = paper_gram0 (G0, nr, d, seed)))
    return 0;
  for (size_t j = 0; j < MS; j++)
    {
      double b1, b2;
      size_t bi;
      best_two (G0, j, &b1, &b2, &bi);
      pred[j] = b1 > 0 ? escape_time (nr[M + bi] * nr[M + bi], b1, 0.5) : INFINITY;
      gap[j] = b1 > 0 ? (b1 - (b2 > 0 ? b2 : 0)) / b1 : NAN;
      if (isfinite (pred[j]) && pred[j] > tmax)
        tmax = pred[j];
    }
  return tmax;
}

/* One run's row: per teacher the measured first 0.5 crossing by any
 * student against the prediction; the run's first escape. */
static void
many_row (many_data *md, const mv_sweep_row *row, size_t d, const double *pred,
          const double *gap, double t_end)
{
  double Tf = INFINITY, Pf = INFINITY;
  for (size_t j = 0; j < MS && md->npt < MAXPTS; j++)
    {
      double T = isnan (row->cross50[j]) ? INFINITY : row->cross50[j];
      Tf = fmin (Tf, T), Pf = fmin (Pf, pred[j]);
      if (!isfinite (pred[j]))
        continue;
      md->ncens += !isfinite (T);
      md->pt[md->npt++] = (law_pt) { gap[j], T / pred[j], log10 ((double) d),
                                     t_end / pred[j] };
    }
  if (!isfinite (Tf))   /* censored: left out of the fit, counted */
    {
      md->nlost++;
      return;
    }
  md->logd[md->nrun] = log10 ((double) d);
  md->logT[md->nrun] = log10 (Tf);
  md->logP[md->nrun++] = log10 (Pf);
}

/* The runs at d = 10^(2 + a): predictions from G(0) (the draw the scan's
 * tasks make), the horizon twice the slowest prediction over the runs (a
 * teacher not reached by then is far outside any 10 % law: censored), the
 * scan, its rows. */
static int
many_d (many_data *md, size_t a, size_t ns, const mv_check_opts *o, double *wall)
{
  size_t d = (size_t) pow (10, 2 + a);
  unsigned seed0 = (unsigned) (1000 * a + 1);
  double (*pg)[MS] = malloc (2 * ns * sizeof *pg), tmax = 0;
  if (!pg)
    return mv_error_set (MV_ENOMEM, "escape: out of memory");
  int s = MV_OK;
  for (size_t k = 0; k < ns && !s; k++)
    tmax = fmax (tmax, predict (pg[k], pg[ns + k], d, seed0 + (unsigned) k, &s));
  mv_claim_scan sc = { d, NULL, 0, seed0, ns, 2 * tmax, 16, "escaped", NULL, 0 };
  char *text = s ? NULL : mv_claim_scan_text (&sc);
  char name[32];
  mv_sweep_row *rows = NULL;
  size_t n = 0;
  snprintf (name, sizeof name, "escape-d%zu", d);
  if (!s && !text)
    s = MV_ENOMEM;
  if (!s)
    s = mv_claim_scan_run (&rows, &n, text, name, o);
  for (size_t k = 0; k < n && !s; k++)
    {
      many_row (md, &rows[k], d, pg[k], pg[ns + k], 2 * tmax);
      *wall += rows[k].wall_seconds;
      md->wall_d[a] += rows[k].wall_seconds;
    }
  mv_check_scan_free (rows, n);
  free (text), free (pg);
  return s;
}

/* The headline (report.c shows a claim's first measurement): the median
 * measured/predicted over every teacher of (b), added last, moved first. */
static int
headline (mv_check_result *r, const many_data *md)
{
  double *v = malloc ((md->npt + 1) * sizeof *v);
  if (!v)
    return mv_error_set (MV_ENOMEM, "escape: out of memory");
  size_t k = 0, in = 0;
  for (size_t p = 0; p < md->npt; p++)
    v[k++] = md->pt[p].ratio, in += fabs (md->pt[p].ratio - 1) <= LAW_TOL;
  gsl_sort (v, 1, k);
  double med = k ? (k % 2 ? v[k / 2] : 0.5 * (v[k / 2 - 1] + v[k / 2])) : NAN;
  free (v);
  int s = mv_check_measure_add (r, "median T/T_pred, 25 students", med, 1 + LAW_TOL,
                                LAW_TOL - fabs (med - 1), "all d and gaps: %zu teachers, "
                                "%zu within 10 %%, %zu not reached by the horizon; margin "
                                "= %.2f - |median - 1|", k, in, md->ncens, LAW_TOL);
  if (!s && r->nm > 1)
    {
      mv_check_measure last = r->m[r->nm - 1];
      memmove (r->m + 1, r->m, (r->nm - 1) * sizeof *r->m);
      r->m[0] = last;
    }
  return s;
}

/* Median measured/predicted per d (all gaps), with its flow time; the d
 * whose median is closest to 1 into *best, *bmed. */
static void
law_per_d (mv_check_result *r, const many_data *md, size_t nd, size_t *best, double *bmed)
{
  double v[MAXPTS];
  *best = 0, *bmed = NAN;
  for (size_t a = 0; a < nd; a++)
    {
      size_t k = 0, in = 0;
      for (size_t p = 0; p < md->npt; p++)
        if (fabs (md->pt[p].logd - (double) (2 + a)) < 0.5)
          {
            v[k++] = md->pt[p].ratio;
            in += fabs (md->pt[p].ratio - 1) <= LAW_TOL;
          }
      gsl_sort (v, 1, k);
      double med = k ? (k % 2 ? v[k / 2] : 0.5 * (v[k / 2 - 1] + v[k / 2])) : NAN;
      mv_check_measure_add (r, "median T/T_pred at d", med, 1 + LAW_TOL,
                            LAW_TOL - fabs (med - 1), "d = 10^%zu, all gaps: %zu teachers, "
                            "%zu within 10 %%; flow time %.1f s", 2 + a, k, in, md->wall_d[a]);
      if (k && !(fabs (*bmed - 1) <= fabs (med - 1)))
        *best = a, *bmed = med;
    }
}

/* Median ratio per gap bin over the runs with d >= 10^lmin (censored
 * ratios are +inf and sort last), a markdown table appended to tab; the
 * regime: the lowest edge above which every bin with >= 3 points has its
 * median within LAW_TOL.  Returns the bin index of that edge, NBIN if none. */
static size_t
law_bins (mv_check_result *r, const many_data *md, size_t lmin, char *tab, size_t len,
          double med[NBIN], size_t cnt[NBIN])
{
  size_t off = strlen (tab);
  off += snprintf (tab + off, len - off, "\nd >= 10^%zu:\n\n| relative gap | teachers | "
                   "not reached | median measured/predicted | within 10 %% |\n"
                   "|---|---|---|---|---|\n", lmin);
  double v[MAXPTS];
  int good[NBIN];
  for (size_t b = 0; b < NBIN; b++)
    {
      size_t k = 0, cens = 0, in = 0;
      for (size_t p = 0; p < md->npt; p++)
        if (md->pt[p].gap >= gap_edges[b] && md->pt[p].gap < gap_edges[b + 1]
            && md->pt[p].logd > (double) lmin - 0.5)
          {
            v[k++] = md->pt[p].ratio;
            cens += !isfinite (md->pt[p].ratio);
            in += fabs (md->pt[p].ratio - 1) <= LAW_TOL;
          }
      gsl_sort (v, 1, k);
      cnt[b] = k;
      med[b] = k ? (k % 2 ? v[k / 2] : 0.5 * (v[k / 2 - 1] + v[k / 2])) : NAN;
      good[b] = k < 3 || fabs (med[b] - 1) <= LAW_TOL;
      if (k)
        mv_check_measure_add (r, "median T/T_pred in gap bin", med[b], 1 + LAW_TOL,
                              LAW_TOL - fabs (med[b] - 1), "d >= 10^%zu, relative gap in "
                              "[%.2f, %.2f): "
                              "%zu teachers, %zu not reached by t_end; margin = %.2f - "
                              "|median - 1|", lmin, gap_edges[b], fmin (gap_edges[b + 1], 1), k,
                              cens, LAW_TOL);
      if (off < len)
        off += snprintf (tab + off, len - off, "| [%.2f, %.2f) | %zu | %zu | %.3f | "
                         "%zu |\n", gap_edges[b], fmin (gap_edges[b + 1], 1), k, cens,
                         med[b], in);
    }
  /* bins k0.. all good (sparse ones count as good); bin k0 - 1 is not */
  size_t k0 = NBIN, judged = 0;
  for (size_t b = NBIN; b-- > 0 && good[b];)
    k0 = b, judged += cnt[b] >= 3;
  return judged ? k0 : NBIN;
}

/* measured/predicted against the relative gap; a censored teacher at its
 * lower bound horizon/predicted. */
static int
plot_gap (mv_check_result *r, const mv_check_opts *o, const many_data *md)
{
  size_t n = md->npt;
  double *x = malloc (6 * n * sizeof *x), *y = x + 2 * n, *c = x + 4 * n;
  if (!x)
    return mv_error_set (MV_ENOMEM, "escape: out of memory");
  for (size_t k = 0; k < n; k++)
    {
      int fin = isfinite (md->pt[k].ratio);
      x[2 * k] = md->pt[k].gap, x[2 * k + 1] = NAN;
      y[2 * k] = fin ? md->pt[k].ratio : NAN, y[2 * k + 1] = NAN;
      c[2 * k] = fin ? NAN : md->pt[k].lower, c[2 * k + 1] = NAN;
    }
  char path[4096];
  mv_plot *pl = mv_plot_alloc ("Escape law with 25 students: measured / isolated-pair "
                               "prediction", "relative gap (b1 - b2)/b1 of initial "
                               "expert overlaps", "T_0.5 measured / predicted");
  int s = !pl ? mv_error_set (MV_ENOMEM, "escape: out of memory") : MV_OK;
  if (!s)
    s = mv_plot_add_series (pl, "teachers", x, y, 2 * n, NULL, 0, 0);
  if (!s && md->ncens)
    s = mv_plot_add_series (pl, "not reached (at horizon/predicted, a lower bound)", x, c, 2 * n, "red", 0, 0);
  if (!s)
    s = mv_plot_add_hline (pl, 1 + LAW_TOL, "+10 %");
  if (!s)
    s = mv_plot_add_hline (pl, 1 - LAW_TOL, "-10 %");
  snprintf (path, sizeof path, "%s/escape_ratio_vs_gap.svg", o->dir ? o->dir : ".");
  if (!s && !(s = mv_plot_write (pl, path)))
    s = mv_check_plot_add (r, "escape_ratio_vs_gap.svg");
  mv_plot_free (pl);
  free (x);
  return s;
}

/* (c): exponent over all runs; if 0.5 is outside, the smallest d_min from
 * which it is inside (RANGE), else FAILS.  Returns the verdict. */
static int
part_exponent (mv_check_result *r, const mv_check_opts *o, const many_data *md, size_t nd,
               char *txt, size_t len)
{
  double c0 = 0, c1 = 0, h = 0, p0 = 0, p1 = 0, ph = 0;
  int s = mv_claim_fit_exponent (md->logd, md->logT, md->nrun, &c1, &h, &c0, "escape");
  if (!s)
    s = mv_claim_fit_exponent (md->logd, md->logP, md->nrun, &p1, &ph, &p0, "escape");
  if (!s)
    s = mv_claim_plot_vs_d (r, o, "escape_vs_d.svg", "First escape (expert alignment 0.5), "
                            "m* = 5, m = 25", "first escape time T", md->logd, md->logT,
                            md->logP, "isolated-pair prediction", md->nrun, c0, c1);
  if (s)
    return -s;
  mv_check_measure_add (r, "d-exponent of first escape", c1, 0.5, h - fabs (c1 - 0.5),
                        "least squares on log T vs log d over %zu runs (%zu more with no "
                        "escape by t_end left out), 95 %% t-interval [%.3f, %.3f]; margin = "
                        "half-width - |exponent - 0.5|", md->nrun, md->nlost, c1 - h, c1 + h);
  mv_check_measure_add (r, "d-exponent of predicted first escape", p1, 0.5,
                        ph - fabs (p1 - 0.5), "same fit on the isolated-pair predictions "
                        "of the same runs: [%.3f, %.3f]", p1 - ph, p1 + ph);
  if (fabs (c1 - 0.5) <= h)
    {
      snprintf (txt, len, "(c) exponent %.3f, 95 %% CI [%.3f, %.3f] contains 0.5 -- holds.",
                c1, c1 - h, c1 + h);
      return MV_CHECK_HOLDS;
    }
  for (size_t k = 1; k + 1 < nd; k++)
    {
      double a0 = 0, a1 = 0, ah = 0;
      size_t off = 0;
      while (off < md->nrun && md->logd[off] < 2 + k - 0.5)
        off++;
      if (mv_claim_fit_exponent (md->logd + off, md->logT + off, md->nrun - off, &a1, &ah, &a0, "escape"))
        break;
      if (fabs (a1 - 0.5) <= ah)
        {
          mv_check_measure_add (r, "d-exponent of first escape, d >= d_min", a1, 0.5,
                                ah - fabs (a1 - 0.5), "d_min = %.0f: 95 %% CI [%.3f, %.3f]",
                                pow (10, md->logd[off]), a1 - ah, a1 + ah);
          snprintf (txt, len, "(c) exponent %.3f, CI [%.3f, %.3f] excludes 0.5 over all d; "
                    "from d = %.0f on %.3f, CI [%.3f, %.3f] -- holds in that range.", c1,
                    c1 - h, c1 + h, pow (10, md->logd[off]), a1, a1 - ah, a1 + ah);
          return MV_CHECK_RANGE;
        }
    }
  snprintf (txt, len, "(c) exponent %.3f, 95 %% CI [%.3f, %.3f] excludes 0.5 -- FAILS.",
            c1, c1 - h, c1 + h);
  return MV_CHECK_FAILS;
}

/* (b) and (c): the runs, then the gap bins and the exponent. */
static int
part_many (mv_check_result *r, const mv_check_opts *o, int *vb, int *vc, char *tb,
           char *tc, size_t len, double *wall)
{
  size_t nd = level_nd (o), ns = level_seeds (o);
  if (nd * ns > MAXPTS / MS)
    return mv_error_set (MV_EINVAL, "escape: %zu seeds: too many (at most %zu)", ns,
                         MAXPTS / MS / nd);
  many_data *md = calloc (1, sizeof *md);
  if (!md)
    return mv_error_set (MV_ENOMEM, "escape: out of memory");
  /* every scan is asked for before a failure counts (--plan writes them all) */
  int s = MV_OK;
  char first[512] = "";
  for (size_t a = 0; a < nd; a++)
    {
      int sa = many_d (md, a, ns, o, wall);
      if (sa && !s)
        s = sa, snprintf (first, sizeof first, "%s", mv_error_message ());
    }
  if (s)
    mv_error_set (s, "%s", first);
  double med[NBIN];
  size_t bd = 0;
  double bmed = NAN;
  if (!s)
    law_per_d (r, md, nd, &bd, &bmed);
  if (!s)
    s = headline (r, md);
  /* the verdict pools every d; the largest d alone shows the trend */
  char tab[4096] = "";
  size_t cnt[NBIN], k0 = s ? NBIN : law_bins (r, md, 2, tab, sizeof tab, med, cnt);
  if (!s && nd > 1)
    {
      double med2[NBIN];
      size_t cnt2[NBIN];
      law_bins (r, md, 1 + nd, tab, sizeof tab, med2, cnt2);
    }
  if (!s)
    s = mv_check_set_details (r, tab);
  if (!s)
    s = plot_gap (r, o, md);
  if (!s)
    {
      *vb = k0 == 0 ? MV_CHECK_HOLDS : k0 < NBIN ? MV_CHECK_RANGE : MV_CHECK_FAILS;
      if (k0 == 0)
        snprintf (tb, len, "(b) 25 students: median measured/predicted within 10 %% in "
                  "every gap bin with >= 3 teachers -- holds.");
      else if (k0 < NBIN)
        snprintf (tb, len, "(b) 25 students: the law holds within 10 %% (bin medians) only "
                  "for relative gap >= %.2f; below it competing students change the "
                  "escape time (median ratio %.3f in [%.2f, %.2f)).", gap_edges[k0],
                  med[k0 - 1], gap_edges[k0 - 1], gap_edges[k0]);
      else
        snprintf (tb, len, "(b) 25 students: no gap bin (>= 3 teachers) has its median "
                  "measured/predicted within 10 %% -- FAILS; closest over d: median %.3f at "
                  "d = 10^%zu.", bmed, 2 + bd);
      int v = part_exponent (r, o, md, nd, tc, len);
      if (v < 0)
        s = -v;
      *vc = v;
    }
  free (md);
  return s;
}

static int
escape_run (mv_check_result *r, const mv_check_opts *o)
{
  char ta[512], tb[512], tc[512];
  int va = 0, vb = MV_CHECK_FAILS, vc = MV_CHECK_FAILS;
  double wall = 0;
  int s = part_pair (r, o, &va, ta, sizeof ta);
  if (!s)
    s = part_many (r, o, &vb, &vc, tb, tc, sizeof tb, &wall);
  if (s)
    return s;
  size_t nd = level_nd (o);
  mv_check_set_method (r, "Reduced (Gram) flow, rk8pd, rtol 1e-9, atol 1e-12; crossing times "
                       "linearly interpolated between accepted steps. (a) m = m* = 1, G(0) "
                       "with expert overlap b0 and all other overlaps 0, b0 in {0.2 .. %g} "
                       "at |w| = 1 plus b0 = 0.05 at |w| = 1.5; holds if the relative error "
                       "of T_0.5 against the finite-b0 formula falls with b0 and is <= %g at "
                       "b0 <= 0.05, and the limit of T b0/|w|^2 (extrapolated linearly from "
                       "the two smallest b0) is 2/9 within %g. (b) m* = 5, m = 25, sampled "
                       "G(0), d = 10^2 .. 10^%zu, %zu student seeds per d (flow run to twice "
                       "the slowest prediction or until every teacher is reached): per "
                       "teacher, min over students of the first expert-alignment 0.5 "
                       "crossing against the isolated-pair prediction of the best-overlap "
                       "student; median ratio per relative-gap bin, a bin (>= 3 teachers) "
                       "passes if |median - 1| <= %g. (c) least squares log10 T vs log10 d "
                       "(T = first escape of a run over all teachers), 95 %% t-interval; "
                       "holds if it contains 0.5. Flow wall time for (b): %.1f s.",
                       ladder[o->level == MV_CHECK_QUICK ? 3 : o->level == MV_CHECK_DEFAULT
                              ? 5 : 7], PAIR_TOL, PAIR_TOL, nd + 1,
                       level_seeds (o), LAW_TOL, wall);
  int v = !va ? MV_CHECK_FAILS
          : vb == MV_CHECK_FAILS || vc == MV_CHECK_FAILS ? MV_CHECK_FAILS
          : vb == MV_CHECK_RANGE || vc == MV_CHECK_RANGE ? MV_CHECK_RANGE : MV_CHECK_HOLDS;
  return mv_check_set_verdict (r, v, "%s %s %s", ta, tb, tc);
}

const mv_check_type mv_check_escape = {
  "escape",
  "Escape law",
  "For an isolated student-teacher pair the expert overlap b = w.w* reaches theta at "
  "T_theta = (2|w|^2/9)(1/b0 - 1/theta + artanh theta - artanh b0), so T b0/|w|^2 -> 2/9 "
  "as b0 -> 0 and T = O(sqrt d) from b0 = O(d^-1/2). With many students, the first time "
  "any student reaches expert alignment 0.5 with a teacher follows the isolated-pair law "
  "of the best-overlap student when its initial overlap is well separated from the "
  "runner-up's.",
  "Derived here (MATH.md §3, leading Hermite order); the O(sqrt d) time scale is the "
  "paper's claim (arXiv 2510.07205), its constants unknown.",
  "proofs/claim-escape.md",
  0,
  escape_run
};
