/* Observers on dynamics runs: the trajectory recorder is one, claim checks
 * and user callbacks are others; the drivers call them all alike. */
#include <moeverify/traj.h>
#include <moeverify/error.h>

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
