/* Private pieces of the trajectory writer (traj_write.c, traj_plot.c). */
#ifndef MV_TRAJ_PRIV_H
#define MV_TRAJ_PRIV_H

#include <moeverify/traj.h>

/* router_alignment.svg, expert_alignment.svg and loss.svg in dir */
int mv_traj_plots (const mv_traj *tr, const char *dir);

#endif
