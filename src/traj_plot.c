/* SVG plots of a trajectory (paper figure 1 style): router and expert
 * alignments with every teacher over time, and the loss on a log scale. */
#include <moeverify/flow.h>
#include <moeverify/error.h>

int mv_traj_plots (const mv_traj *tr, const char *dir);

int
mv_traj_plots (const mv_traj *tr, const char *dir)
{
  (void) tr, (void) dir;
  return MV_OK;   /* filled in when the plot module lands */
}
