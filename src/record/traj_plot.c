/* SVG plots of a trajectory (paper figure 1 style): router and expert
 * alignments of every student with every teacher over time (one colour per
 * teacher, the matched student drawn bold), and the loss on a log scale. */
#include "record/traj_priv.h"
#include <moeverify/traj.h>
#include <moeverify/error.h>
#include <moeverify/plot.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int
alignment_plot (const mv_traj *tr, mv_io_set *set, int expert)
{
  size_t m = tr->m, ms = tr->mstar, R = tr->rows;
  char title[160], label[64];
  snprintf (title, sizeof title, "%s alignments with the teachers (%s%s)",
            expert ? "Expert w_i.w*_j" : "Router v_i.v*_j", tr->method,
            tr->status == MV_TRAJ_DONE ? "" : ", partial");
  mv_plot *p = mv_plot_alloc (title, "time t", expert ? "expert alignment" : "router alignment");
  double *y = malloc ((R ? R : 1) * sizeof *y);
  if (!p || !y)
    {
      mv_plot_free (p), free (y);
      return mv_error_set (MV_ENOMEM, "plot: out of memory");
    }
  mv_plot_set_yrange (p, -1.0, 1.0);
  mv_plot_set_legend (p, ms <= 12 ? MV_PLOT_LEGEND_INSIDE : MV_PLOT_LEGEND_NONE);
  int s = MV_OK;
  for (size_t j = 0; j < ms && !s; j++)
    {
      long best = -1;
      mv_traj_recovery (tr, j, &best);
      for (size_t i = 0; i < m && !s; i++)
        {
          for (size_t r = 0; r < R; r++)
            y[r] = mv_traj_align (tr, r, expert ? MV_ALIGN_EXPERT : MV_ALIGN_ROUTER, i, j);
          int bold = (long) i == best;
          if (best >= 0)
            snprintf (label, sizeof label, "teacher %zu: student %ld", j, best);
          else
            snprintf (label, sizeof label, "teacher %zu: not recovered", j);
          s = mv_plot_add_series (p, bold ? label : (i == 0 && best < 0 ? label : NULL),
                                  tr->t, y, R, mv_plot_color (j), bold ? 2.5 : 0.8, 0);
        }
    }
  if (!s)
    s = mv_plot_add_hline (p, 0.5, "0.5");
  if (!s)
    s = mv_plot_add_hline (p, 0.9, "0.9");
  for (size_t j = 0; j < ms && !s; j++)
    {
      double t = mv_traj_recovery (tr, j, NULL);
      snprintf (label, sizeof label, "T%zu", j);
      if (!isnan (t))
        s = mv_plot_add_vline (p, t, label);
    }

  if (!s)
    s = mv_plot_write_set (p, set, expert ? "expert_alignment.svg" : "router_alignment.svg");
  mv_plot_free (p);
  free (y);
  return s;
}

static int
loss_plot (const mv_traj *tr, mv_io_set *set)
{
  char title[128];
  snprintf (title, sizeof title, "Population loss (%s%s)", tr->method,
            tr->status == MV_TRAJ_DONE ? "" : ", partial");
  mv_plot *p = mv_plot_alloc (title, "time t", "L and |grad L|^2");
  if (!p)
    return mv_error_set (MV_ENOMEM, "plot: out of memory");
  mv_plot_set_log (p, 0, 1);
  mv_plot_set_legend (p, MV_PLOT_LEGEND_INSIDE);
  int s = mv_plot_add_series (p, "loss L", tr->t, tr->loss, tr->rows, mv_plot_color (0), 2.0, 0);
  if (!s)
    s = mv_plot_add_series (p, "|grad L|^2", tr->t, tr->grad2, tr->rows, mv_plot_color (1), 1.2, 1);
  if (!s)
    s = mv_plot_write_set (p, set, "loss.svg");
  mv_plot_free (p);
  return s;
}

int
mv_traj_plots (const mv_traj *tr, mv_io_set *set)
{
  int s = alignment_plot (tr, set, 0);
  if (!s)
    s = alignment_plot (tr, set, 1);
  if (!s)
    s = loss_plot (tr, set);
  return s;
}
