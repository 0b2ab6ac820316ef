/* moeverify specialize: shared state of the command (cmd_specialize.c),
 * its flow mode and its grid mode (specialize_grid.c). */
#ifndef MV_SPECIALIZE_CLI_H
#define MV_SPECIALIZE_CLI_H

#include <jansson.h>
#include <moeverify/problem.h>
#include <moeverify/specialize.h>

/* The default --grid: small enough for a few minutes on two cores. */
#define MV_SPEC_DEFAULT_GRID "\"ortho=0,0.1,1;var=0,1\""
#define MV_SPEC_DEFAULT_GRID_INLINE "ortho=0,0.1,1;var=0,1"

typedef struct {
  const char *spec, *grid, *out, *output, *from;
  double t_end;
  int full;
  unsigned jobs;
} mv_spec_opts;

/* The cosine matrix as {"objectives": [...], "matrix": [[..]]} (null for
 * undefined); the coefficients as an object. */
json_t *mv_cli_spec_cos_json (const double *cos);
json_t *mv_cli_spec_reg_json (const mv_regularizers *r);
/* Raw-gradient cosines of pb's vectors (cr) and their largest difference
 * from the Gram-level cg; a library status. */
int mv_cli_spec_raw_cosines (double *cr, double *maxdiff, const double *cg,
                             const mv_problem *pb, mv_spec_ws *ws);
/* Add cosines.csv (t, values, cosines of distinct pairs; empty
 * field = undefined) and cosines.svg to set for a finished trajectory, from
 * mv_spec_traj_d's val and cos; a library status. */
int mv_cli_spec_write_cosines (mv_io_set *set, const mv_traj *tr, const double *val,
                               const double *cos);
/* --t-end and --grid modes: exit statuses (errors printed). */
int mv_cli_spec_flow (const mv_spec_opts *o, const mv_problem *pb);
int mv_cli_spec_grid (const mv_spec_opts *o, const mv_problem *pb);

#endif
