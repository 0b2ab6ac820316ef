/* Private pieces of the trajectory writer (traj_write.c, traj_plot.c). */
#ifndef MV_TRAJ_PRIV_H
#define MV_TRAJ_PRIV_H

#include <moeverify/traj.h>

/* router_alignment.svg, expert_alignment.svg and loss.svg in dir */
int mv_traj_plots (const mv_traj *tr, const char *dir);

/* The Gram entries trajectory.csv has after t, loss, grad_norm2, energy,
 * in column order: router alignments (v_i, v*_j), expert alignments
 * (w_i, w*_j), then every other pair (k < l) with a student k; index pairs
 * into kl (2 per column; may be NULL), their number returned. */
size_t mv_traj_csv_pairs (size_t m, size_t ms, size_t *kl);

#endif
