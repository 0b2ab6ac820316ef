/* Plots of the trajectory claims (claim_runs.h). */
#include "check/claim_runs.h"

#include <moeverify/error.h>
#include <moeverify/plot.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
write_plot (mv_check_result *res, mv_plot *p, const mv_check_opts *o, const char *file)
{
  char path[4096];
  snprintf (path, sizeof path, "%s/%s", o->dir, file);
  int s = mv_plot_write (p, path);
  mv_plot_free (p);
  return s ? s : mv_check_plot_add (res, file);
}

/* Fraction of teachers in each state against t, over the runs that share
 * the first run's output grid. */
static int
fractions_plot (mv_check_result *res, const mv_claim_run **runs, size_t nr,
                const mv_check_opts *o)
{
  const mv_traj *t0 = &runs[0]->tr;
  size_t rows = t0->rows, used = 0;
  double *f = calloc (MV_TRAJ_NSTATE * rows, sizeof *f);
  if (!f)
    return mv_error_set (MV_ENOMEM, "terminal plot: out of memory");
  for (size_t k = 0; k < nr; k++)
    {
      const mv_traj *tr = &runs[k]->tr;
      if (tr->rows != rows || tr->t[rows - 1] != t0->t[rows - 1])
        continue;
      used++;
      for (size_t row = 0; row < rows; row++)
        for (size_t j = 0; j < tr->mstar; j++)
          f[mv_traj_state (&runs[k]->tr, row, j) * rows + row] += 1.0 / tr->mstar;
    }
  char title[128];
  snprintf (title, sizeof title, "Teacher states over %zu runs (d = %zu)", used, runs[0]->d);
  mv_plot *p = mv_plot_alloc (title, "t", "fraction of teachers");
  int s = p ? MV_OK : mv_error_set (MV_ENOMEM, "terminal plot: out of memory");
  for (int c = 0; !s && c < MV_TRAJ_NSTATE; c++)
    {
      for (size_t row = 0; row < rows; row++)
        f[c * rows + row] /= used;
      s = mv_plot_add_series (p, mv_term_names[c], t0->t, f + c * rows, rows, NULL, 2, 0);
    }
  if (!s)
    s = mv_plot_set_yrange (p, 0, 1);
  free (f);
  if (s)
    {
      mv_plot_free (p);
      return s;
    }
  return write_plot (res, p, o, "terminal_fractions.svg");
}

/* Router (solid) and expert (dashed) alignment of student i with teacher j. */
static int
pair_series (mv_plot *p, const mv_claim_run *r, size_t i, size_t j, size_t color,
             double *buf)
{
  const mv_traj *tr = &r->tr;
  char lab[64];
  for (int kind = MV_ALIGN_ROUTER; kind <= MV_ALIGN_EXPERT; kind++)
    {
      for (size_t row = 0; row < tr->rows; row++)
        buf[row] = mv_traj_align (tr, row, kind, i, j);
      snprintf (lab, sizeof lab, "%s s%zu-t%zu", kind == MV_ALIGN_ROUTER ? "router" : "expert",
                i, j);
      int s = mv_plot_add_series (p, lab, tr->t, buf, tr->rows, mv_plot_color (color), 1.8,
                                  kind == MV_ALIGN_EXPERT);
      if (s)
        return s;
    }
  return MV_OK;
}

/* A run with a recovered and a shared teacher (else the first run): the
 * alignment curves of the students involved, phases as vertical lines. */
static int
phases_plot (mv_check_result *res, const mv_claim_run **runs, size_t nr,
             const mv_check_opts *o)
{
  const mv_claim_run *r = runs[0];
  long jr = -1, js = -1;
  for (size_t k = 0; k < nr && (jr < 0 || js < 0); k++)
    {
      jr = js = -1;
      r = runs[k];
      for (size_t j = 0; j < r->tr.mstar; j++)
        {
          int c = mv_traj_state (&r->tr, r->tr.rows - 1, j);
          if (c == MV_TRAJ_STATE_RECOVERED && jr < 0)
            jr = (long) j;
          if (c == MV_TRAJ_STATE_SHARED && js < 0)
            js = (long) j;
        }
    }
  const mv_traj *tr = &r->tr;
  char title[160];
  snprintf (title, sizeof title, "Alignments, d = %zu, seed %u: teacher %ld recovered, "
            "teacher %ld shared", r->d, r->seed, jr, js);
  mv_plot *p = mv_plot_alloc (title, "t", "alignment (router solid, expert dashed)");
  double *buf = malloc (tr->rows * sizeof *buf);
  int s = p && buf ? MV_OK : mv_error_set (MV_ENOMEM, "terminal plot: out of memory");
  size_t color = 0;
  /* escapes at t ~ 1-10, late recoveries near t_end: log time; many curves */
  if (!s)
    s = mv_plot_set_log (p, 1, 0);
  if (!s)
    s = mv_plot_set_legend (p, MV_PLOT_LEGEND_COMPACT);
  if (!s && jr >= 0)
    {
      long i;
      double trec = mv_traj_recovery (tr, (size_t) jr, &i);
      double te = mv_traj_crossing (tr, MV_ALIGN_EXPERT, MV_TRAJ_THR_50, i, jr);
      double ta = mv_traj_crossing (tr, MV_ALIGN_ROUTER, MV_TRAJ_THR_50, i, jr);
      s = pair_series (p, r, (size_t) i, (size_t) jr, color++, buf);
      if (!s && !isnan (te))
        s = mv_plot_add_vline (p, te, "expert 0.5");
      if (!s && !isnan (ta))
        s = mv_plot_add_vline (p, ta, "router 0.5");
      if (!s)
        s = mv_plot_add_vline (p, trec, "recovered (0.9)");
    }
  for (size_t i = 0; !s && js >= 0 && i < tr->m; i++)
    if (fabs (mv_traj_align (tr, tr->rows - 1, MV_ALIGN_EXPERT, i, js)) >= 0.3)
      s = pair_series (p, r, i, (size_t) js, color++, buf);
  if (!s)
    s = mv_plot_add_hline (p, 0.9, NULL);
  free (buf);
  if (s)
    {
      mv_plot_free (p);
      return s;
    }
  return write_plot (res, p, o, "alignment_phases.svg");
}

int
mv_claim_terminal_plots (mv_check_result *res, const mv_claim_run **runs, size_t nr,
                         const mv_check_opts *o)
{
  if (!o->dir || !nr)
    return MV_OK;
  int s = fractions_plot (res, runs, nr, o);
  return s ? s : phases_plot (res, runs, nr, o);
}

int
mv_claim_plot_vs_d (mv_check_result *r, const mv_check_opts *o, const char *file,
                    const char *title, const char *ylabel, const double *logd,
                    const double *logy, const double *logp, const char *plabel, size_t n,
                    double c0, double c1)
{
  if (!n)
    return MV_OK;
  double *x = malloc (6 * n * sizeof *x), *y = x + 2 * n, *p = x + 4 * n;
  if (!x)
    return mv_error_set (MV_ENOMEM, "%s: out of memory", file);
  for (size_t k = 0; k < n; k++)   /* NAN between points: isolated dots */
    {
      x[2 * k] = pow (10, logd[k]), x[2 * k + 1] = NAN;
      y[2 * k] = pow (10, logy[k]), y[2 * k + 1] = NAN;
      p[2 * k] = logp ? pow (10, logp[k]) : NAN, p[2 * k + 1] = NAN;
    }
  double lo = logd[0], hi = logd[0];
  for (size_t k = 1; k < n; k++)
    lo = fmin (lo, logd[k]), hi = fmax (hi, logd[k]);
  double fx[2] = { pow (10, lo), pow (10, hi) };
  double fy[2] = { pow (10, c0 + c1 * lo), pow (10, c0 + c1 * hi) };
  double ry[2] = { fy[0], fy[0] * pow (10, 0.5 * (hi - lo)) };
  char lab[64], path[4096];
  snprintf (lab, sizeof lab, "fit: ~ d^%.3f", c1);
  mv_plot *pl = mv_plot_alloc (title, "d", ylabel);
  int s = !pl ? mv_error_set (MV_ENOMEM, "%s: out of memory", file) : mv_plot_set_log (pl, 1, 1);
  if (!s)
    s = mv_plot_add_series (pl, "measured (runs)", x, y, 2 * n, NULL, 0, 0);
  if (!s && logp)
    s = mv_plot_add_series (pl, plabel, x, p, 2 * n, NULL, 0, 0);
  if (!s)
    s = mv_plot_add_series (pl, lab, fx, fy, 2, NULL, 0, 0);
  if (!s)
    s = mv_plot_add_series (pl, "sqrt(d) reference", fx, ry, 2, "grey", 0, 1);
  snprintf (path, sizeof path, "%s/%s", o->dir ? o->dir : ".", file);
  if (!s && !(s = mv_plot_write (pl, path)))
    s = mv_check_plot_add (r, file);
  mv_plot_free (pl);
  free (x);
  return s;
}
