/* Private state of a parsed sweep (sweep.c), shared with the task runner
 * (sweep_task.c) and the row formats (sweep_format.c). */
#ifndef MV_SWEEP_PRIV_H
#define MV_SWEEP_PRIV_H

#include <stddef.h>
#include <jansson.h>
#include <moeverify/sweep.h>
#include "spec/problem_priv.h"

/* One grid axis: a dotted path and its values (array order). */
typedef struct {
  char *path;
  char **parts;        /* path split at '.', nparts entries */
  size_t nparts;
  json_t *values;      /* JSON array, n values */
  size_t n;
  char **text;         /* compact JSON of each value (task_value) */
  size_t stride;       /* tasks between consecutive values (row-major) */
} mv_sweep_axis;

struct mv_sweep {
  char name[MV_NAME_MAX]; /* file name for messages (sanitised) */
  json_t *base;
  mv_sweep_axis *axes;
  size_t naxes, ntasks, max_tasks;
  size_t mstar_max;    /* largest m* of the base and any single-axis spec */
  int method, gram0, keep;
  mv_flow_params flow;
  mv_sgd_params sgd;
  double *times;       /* run.times (flow.times / sgd.times point here) */
  const mv_stop_type *stop;  /* run.stop, NULL if none */
};

/* Set the value at the axis' path in root (a copy of the base): every
 * intermediate key must be an object.  MV_EINVAL if it is not (no
 * message). */
int mv_sweep_set_path (json_t *root, const mv_sweep_axis *ax, json_t *value);

/* Task t's spec as a new JSON object (NULL with a message on failure). */
json_t *mv_sweep_task_doc (const mv_sweep *sw, size_t t);

/* Parse the "run" block into sw (method, flow / SGD parameters, gram0,
 * keep); sweep_run.c. */
int mv_sweep_parse_run (mv_sweep *sw, json_t *run);

/* The row's per-teacher arrays sized for mstar, reset to "never". */
int mv_sweep_row_resize (mv_sweep_row *row, size_t mstar);

/* "NAME: key: message" as mv_error_set does (returns status). */
int mv_sweep_err (const mv_sweep *sw, int status, const char *key,
                  const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__ ((format (printf, 4, 5)))
#endif
  ;

#endif
