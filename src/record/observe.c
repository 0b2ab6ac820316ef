/* Observers on dynamics runs: the trajectory recorder is one, claim checks
 * and user callbacks are others; the drivers call them all alike. */
#include <moeverify/traj.h>
#include <moeverify/error.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

static int
recorder_observe (void *ctx, const mv_obs_point *pt)
{
  mv_traj *tr = ctx;
  if (pt->kind == MV_OBS_ROW)
    return mv_traj_push (tr, pt->t, pt->loss, pt->grad2, pt->energy, pt->G);
  mv_traj_observe (tr, pt->t, pt->G);
  return MV_OK;
}

void
mv_traj_observer (mv_observer *obs, mv_traj *tr)
{
  obs->name = "trajectory";
  obs->observe = recorder_observe;
  obs->finish = NULL;
  obs->ctx = tr;
}

int
mv_observers_notify (const mv_observer *list, size_t n, const mv_obs_point *pt)
{
  for (size_t i = 0; i < n; i++)
    {
      int s = list[i].observe (list[i].ctx, pt);
      if (s == MV_OBS_STOP)
        mv_error_set (MV_OK, "stopped by %s", list[i].name ? list[i].name : "an observer");
      if (s)
        return s;
    }
  return MV_OK;
}

void
mv_observers_finish (const mv_observer *list, size_t n, const mv_traj *tr)
{
  for (size_t i = 0; i < n; i++)
    if (list[i].finish)
      list[i].finish (list[i].ctx, tr);
}

/* ------------------------------------------------------- stopping rules */

/* How many teachers have a recorded first crossing of threshold h by
 * alignment kind (the recorder has seen this point already). */
static size_t
n_crossed (const mv_traj *tr, int kind, size_t h)
{
  size_t n = 0;
  for (size_t j = 0; j < tr->mstar; j++)
    {
      size_t i = 0;
      while (i < tr->m && isnan (mv_traj_crossing (tr, kind, h, i, j)))
        i++;
      n += i < tr->m;
    }
  return n;
}

static int
all_crossed (const mv_traj *tr, int kind, size_t h)
{
  return n_crossed (tr, kind, h) == tr->mstar;
}

static int
stop_escaped (void *tr, const mv_obs_point *pt)
{
  (void) pt;
  return all_crossed (tr, MV_ALIGN_EXPERT, MV_TRAJ_THR_50) ? MV_OBS_STOP : MV_OK;
}

static int
stop_recovered (void *tr, const mv_obs_point *pt)
{
  (void) pt;
  return all_crossed (tr, MV_ALIGN_BOTH, MV_TRAJ_THR_90) ? MV_OBS_STOP : MV_OK;
}

static int
stop_first_recovery (void *tr, const mv_obs_point *pt)
{
  (void) pt;
  return n_crossed (tr, MV_ALIGN_BOTH, MV_TRAJ_THR_90) ? MV_OBS_STOP : MV_OK;
}

static const mv_stop_type STOPS[] = {
  { "escaped", "every teacher reached expert alignment 0.5 by some student", stop_escaped },
  { "recovered", "every teacher recovered (router and expert alignment 0.9)", stop_recovered },
  { "first_recovery", "some teacher recovered", stop_first_recovery },
};

const mv_stop_type *
mv_stop_type_get (size_t i)
{
  return i < sizeof STOPS / sizeof STOPS[0] ? &STOPS[i] : NULL;
}

const mv_stop_type *
mv_stop_find (const char *name)
{
  char names[128] = "";
  const mv_stop_type *t;
  for (size_t i = 0; (t = mv_stop_type_get (i)); i++)
    {
      if (name && !strcmp (name, t->name))
        return t;
      size_t len = strlen (names);
      snprintf (names + len, sizeof names - len, "%s%s", i ? ", " : "", t->name);
    }
  mv_error_set (MV_EINVAL, "unknown stopping rule '%.64s' (known: %s)", name ? name : "", names);
  return NULL;
}
