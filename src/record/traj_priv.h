/* Private pieces of the trajectory writer (traj_write.c, traj_plot.c). */
#ifndef MV_TRAJ_PRIV_H
#define MV_TRAJ_PRIV_H

#include <moeverify/traj.h>

#include <moeverify/io.h>

/* router_alignment.svg, expert_alignment.svg and loss.svg added to set */
int mv_traj_plots (const mv_traj *tr, mv_io_set *set);

#endif
