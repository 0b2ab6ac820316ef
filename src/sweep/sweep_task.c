/* Running one sweep task into a result row, the same way `moeverify flow`
 * and `moeverify sgd` run a spec (src/cli/cmd_flow.c, cmd_sgd.c): same
 * parameters, same G(0), so a row's final time, loss and |grad L|^2 are
 * those of the trajectory `moeverify flow TASK.json ...` writes.  A task
 * that fails (its spec, the flow) is a failed row, not an error. */
#include "sweep/sweep_priv.h"

#include <moeverify/error.h>
#include <moeverify/problem.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
mv_sweep_row_resize (mv_sweep_row *row, size_t mstar)
{
  if (mstar != row->mstar)
    {
      double *rt = NULL, *c50 = NULL;
      long *rs = NULL;
      int *st = NULL;
      if (mstar && (!(rt = malloc (mstar * sizeof *rt))
                    || !(rs = malloc (mstar * sizeof *rs))
                    || !(c50 = malloc (mstar * sizeof *c50))
                    || !(st = malloc (mstar * sizeof *st))))
        {
          free (rt), free (rs), free (c50), free (st);
          return mv_error_set (MV_ENOMEM, "sweep: out of memory");
        }
      free (row->recovery_time), free (row->recovery_student);
      free (row->cross50), free (row->state);
      row->recovery_time = rt, row->recovery_student = rs;
      row->cross50 = c50, row->state = st;
      row->mstar = mstar;
    }
  for (size_t j = 0; j < mstar; j++)
    {
      row->recovery_time[j] = NAN;
      row->recovery_student[j] = -1;
      row->cross50[j] = NAN;
      row->state[j] = -1;
    }
  return MV_OK;
}

/* Everything but the per-teacher arrays as "nothing ran". */
static void
row_reset (mv_sweep_row *row, size_t task)
{
  row->task = task;
  row->status = MV_TRAJ_RUNNING;
  row->message[0] = '\0';
  row->t_final = row->loss = row->grad2 = NAN;
  row->steps = row->rejected = 0;
  row->wall_seconds = 0;
  row->recovered = 0;
}

int
mv_sweep_row_init (mv_sweep_row *row, size_t mstar)
{
  memset (row, 0, sizeof *row);
  row_reset (row, 0);
  return mv_sweep_row_resize (row, mstar);
}

void
mv_sweep_row_clear (mv_sweep_row *row)
{
  free (row->recovery_time);
  free (row->recovery_student);
  free (row->cross50);
  free (row->state);
  memset (row, 0, sizeof *row);
}

/* The row's metrics from a finished record. */
static void
row_fill (mv_sweep_row *row, const mv_traj *tr)
{
  if (tr->rows)
    {
      size_t r = tr->rows - 1;
      row->t_final = tr->t[r];
      row->loss = tr->loss[r];
      row->grad2 = tr->grad2[r];
    }
  row->steps = tr->steps;
  row->rejected = tr->rejected;
  row->wall_seconds = tr->wall_seconds;
  row->status = tr->status;
  snprintf (row->message, sizeof row->message, "%s", tr->message);
  row->recovered = 0;
  for (size_t j = 0; j < tr->mstar; j++)
    {
      row->recovery_time[j] = mv_traj_recovery (tr, j,
                                                &row->recovery_student[j]);
      row->recovered += row->recovery_student[j] >= 0;
      /* the teacher's best expert alignment crosses 0.5 when the first
       * student's does */
      double c = NAN;
      for (size_t i = 0; i < tr->m; i++)
        {
          double x = mv_traj_crossing (tr, MV_ALIGN_EXPERT, MV_TRAJ_THR_50,
                                       i, j);
          if (!isnan (x) && !(x >= c))
            c = x;
        }
      row->cross50[j] = c;
      row->state[j] = tr->rows ? mv_traj_state (tr, tr->rows - 1, j) : -1;
    }
}

/* The sweep's stopping rule (if any) as the only observer, reading the
 * run's record. */
static void
stop_observer (const mv_observer **list, size_t *n, mv_observer *obs, mv_traj *tr,
               const mv_sweep *sw)
{
  if (!sw->stop)
    return;
  *obs = (mv_observer) { sw->stop->name, sw->stop->observe, NULL, tr };
  *list = obs, *n = 1;
}

/* The reduced flow from the sweep's G(0), as cmd_flow runs it. */
static int
run_reduced (mv_traj *tr, const mv_problem *pb, const mv_sweep *sw)
{
  mv_observer stop;
  mv_flow_params p = sw->flow;
  p.reg = &pb->reg;
  stop_observer (&p.observers, &p.n_observers, &stop, tr, sw);
  return mv_flow_reduced_problem (tr, pb, sw->gram0, &p);
}

int
mv_sweep_run_traj (mv_traj *tr, const mv_problem *pb, const mv_sweep *sw)
{
  switch (sw->method)
    {
    case MV_SWEEP_REDUCED:
      return run_reduced (tr, pb, sw);
    case MV_SWEEP_FULL:
      {
        mv_observer stop;
        mv_flow_params p = sw->flow;
        p.reg = &pb->reg;
        stop_observer (&p.observers, &p.n_observers, &stop, tr, sw);
        return mv_flow_full (tr, pb, &p);
      }
    default:
      {
        mv_observer stop;
        mv_sgd_params p = sw->sgd;
        p.reg = &pb->reg;
        stop_observer (&p.observers, &p.n_observers, &stop, tr, sw);
        snprintf (tr->init, sizeof tr->init, "spec vectors");
        return mv_sgd_run (tr, pb, &p);
      }
    }
}

/* A failed row with the current error message. */
static void
row_failed (mv_sweep_row *row)
{
  row->status = MV_TRAJ_FAILED;
  snprintf (row->message, sizeof row->message, "%s", mv_error_message ());
}

int
mv_sweep_run_task (mv_sweep_row *row, const mv_sweep *sw, size_t t,
                   const char *traj_dir)
{
  row_reset (row, t);
  if (t >= sw->ntasks)
    return mv_error_set (MV_EINVAL, "%s: task %zu: out of range (%zu tasks)",
                         sw->name, t, sw->ntasks);
  char *text = mv_sweep_task_spec (sw, t);
  if (!text)
    {
      int st = mv_sweep_row_resize (row, 0);
      row_failed (row);
      return st;
    }
  char name[32];
  snprintf (name, sizeof name, "task %zu", t);
  mv_problem pb;
  int s = mv_problem_parse (&pb, text, name);
  free (text);
  if (s)
    {
      /* combined values that are invalid together (single-axis checks
       * passed at parse time) */
      int st = mv_sweep_row_resize (row, 0);
      row_failed (row);
      return s == MV_ENOMEM ? s : st;
    }
  mv_traj tr;
  int st;
  if ((st = mv_sweep_row_resize (row, pb.mstar)) || (st = mv_traj_init (&tr, pb.m,
                                                              pb.mstar)))
    {
      mv_problem_clear (&pb);
      return st;
    }
  s = mv_sweep_run_traj (&tr, &pb, sw);
  row_fill (row, &tr);
  if (s)
    {
      /* the message names the task, as the CLI prefixes the spec file */
      if (!strstr (mv_error_message (), name))
        mv_error_prefix (name);
      row_failed (row);
    }
  else if (traj_dir)
    {
      /* the directory `moeverify flow` would write (canonical spec) */
      char *spec = mv_problem_to_json (&pb);
      st = spec ? mv_traj_write (&tr, traj_dir, spec)
        : mv_error_set (MV_ENOMEM, "%s: out of memory", name);
      free (spec);
    }
  mv_traj_clear (&tr);
  mv_problem_clear (&pb);
  return st;
}
