/* Parameter sweeps: a base spec, a grid of dotted spec paths, and how to
 * run each task (reduced or full flow, or SGD).  The tasks are the
 * Cartesian product of the axes; task i's spec and every random draw it
 * makes depend only on i and the sweep file, never on which worker runs it
 * or when, so results do not depend on how many processes ran them.
 *
 * The library parses and validates a sweep, builds task specs, runs one
 * task into a result row and formats/reads rows; the scheduling (worker
 * processes, MPI ranks, resume) is the CLI's (src/cli/cmd_sweep.c). */
#ifndef MOEVERIFY_SWEEP_H
#define MOEVERIFY_SWEEP_H

#include <stddef.h>
#include <moeverify/flow.h>
#include <moeverify/sgd.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Default ceiling on the number of tasks; a sweep file raises it with
 * "max_tasks" (checked before any task starts). */
#define MV_SWEEP_MAX_TASKS_DEFAULT 1000000

enum { MV_SWEEP_REDUCED = 0, MV_SWEEP_FULL, MV_SWEEP_SGD };

typedef struct mv_sweep mv_sweep;

/* Parse and validate a sweep file (text, name for messages):
 *   {"base": SPEC, "grid": {PATH: [v, ...] | {"from": a, "to": b[, "step": s]}, ...},
 *    "run": {"method": "reduced"|"full"|"sgd", "t_end": T, "rtol", "atol",
 *            "stepper", "n_out", "times", "max_steps", "prec", "gram0",
 *            "lr", "batch", "steps", "seed", "keep": "trajectories",
 *            "stop": RULE},
 *    "max_tasks": N}
 * A PATH walks objects of the base ("d", "noise_var", "teacher.m",
 * "student.init.seed", "teacher.init.cross", "student" ...): every key
 * before the last must be an object of the base, the last a key the spec
 * format allows there; arrays are not entered.  Axes keep the file's key
 * order.  "run" keys must belong to the method (t_end, rtol, atol, stepper,
 * max_steps: flows; prec: full; gram0: reduced; lr, batch, steps, seed:
 * sgd; n_out or times, keep, stop: all); defaults are those of
 * `moeverify flow` and `moeverify sgd`.  "stop" names a stopping rule of
 * traj.h (mv_stop_find): the run ends early, complete, once it holds.
 * Every problem (unknown path, empty axis, a value that makes the spec
 * invalid, too many tasks, bad run keys) is an error naming the file and
 * the key, before any task runs; *sw is NULL then.  Validation parses the
 * base and every axis value applied alone to the base, not every
 * combination (that would cost the whole sweep): a combination that is
 * invalid only together fails at run time as a failed row. */
int mv_sweep_parse (mv_sweep **sw, const char *text, const char *name);
void mv_sweep_free (mv_sweep *sw);

size_t mv_sweep_ntasks (const mv_sweep *sw);
size_t mv_sweep_naxes (const mv_sweep *sw);
/* Dotted path of axis a ("d", "student.init.seed", ...). */
const char *mv_sweep_axis_path (const mv_sweep *sw, size_t a);
/* Value of axis a in task t as compact JSON text ("1000", "0.5", "\"x\""):
 * axis 0 varies slowest (task = row-major index over the axes). */
const char *mv_sweep_task_value (const mv_sweep *sw, size_t t, size_t a);
/* Task t's spec (the base with its grid values set) as JSON text;
 * malloc'd.  Feeding it to `moeverify flow` reproduces the task. */
char *mv_sweep_task_spec (const mv_sweep *sw, size_t t);
/* What each task runs (method, flow or SGD parameters); flow.h and sgd.h
 * parameters with the sweep's values, defaults elsewhere. */
int mv_sweep_method (const mv_sweep *sw);
const mv_flow_params *mv_sweep_flow_params (const mv_sweep *sw);
const mv_sgd_params *mv_sweep_sgd_params (const mv_sweep *sw);
/* MV_GRAM0_* for the reduced flow: the sweep's "gram0", else SAMPLE when
 * teacher and student are both init blocks, else VECTORS. */
int mv_sweep_gram0 (const mv_sweep *sw);
/* Nonzero when the sweep asks for per-task trajectory directories. */
int mv_sweep_keep_trajectories (const mv_sweep *sw);

/* One task's result. */
typedef struct {
  size_t task;
  int status;             /* MV_TRAJ_DONE, _FAILED, ... (traj.h) */
  char message[256];      /* why it failed ("" if it did not) */
  double t_final, loss, grad2;   /* last recorded row (NAN if none) */
  unsigned long steps, rejected;
  double wall_seconds;
  size_t mstar;
  size_t recovered;       /* teachers recovered (traj.h rule) */
  double *recovery_time;  /* mstar: NAN if never */
  long *recovery_student; /* mstar: -1 if never */
  double *cross50;        /* mstar: first time the teacher's best expert
                             alignment (over students) reaches 0.5, NAN if
                             never */
  int *state;             /* mstar: MV_TRAJ_STATE_* at the last row, -1 if
                             there is none */
} mv_sweep_row;

/* mstar may be 0: mv_sweep_run_task resizes the row to its task's m*. */
int mv_sweep_row_init (mv_sweep_row *row, size_t mstar);
void mv_sweep_row_clear (mv_sweep_row *row);

/* Run task t into row.  A task that fails (bad spec value at run time,
 * flow failure) is MV_OK with row->status = MV_TRAJ_FAILED and the
 * message; only out-of-memory and the like return an error.  traj_dir
 * (may be NULL): write the task's trajectory directory there. */
int mv_sweep_run_task (mv_sweep_row *row, const mv_sweep *sw, size_t t,
                       const char *traj_dir);

/* Run the sweep's method (its "run" block: parameters, G(0), stopping
 * rule, interrupt flag) on pb into tr, initialised by the caller for pb's
 * m, m*: what mv_sweep_run_task does with a task's spec, keeping the whole
 * record.  With an empty grid this is `moeverify flow` / `moeverify sgd`
 * of pb as a library call (the Python module's flow and sgd).  The record
 * is complete, interrupted or failed after it; a failure returns its
 * status with the message. */
int mv_sweep_run_traj (mv_traj *tr, const mv_problem *pb, const mv_sweep *sw);

/* Output formats, one line each ending in '\n', malloc'd: the CSV header
 * and a row (grid values first, then the metrics; numbers as %.17g), and
 * the same row as one JSON object.  CSV columns:
 *   task,<axis paths>,status,t_final,loss,grad2,recovered,
 *   recovery_time_<j>,recovery_student_<j>,cross50_<j>,state_<j> (j < m*),
 *   steps,rejected,wall_seconds,message
 * status is "complete", "interrupted" or "failed" (run.json's words);
 * state_<j> is the teacher's state at the last row (mv_traj_state_name,
 * empty / null if none); undefined numbers are "nan" in CSV, null in JSON; grid values are their
 * compact JSON text; the message is always quoted.  With "teacher.m" on
 * the grid the header has the largest m* of the single-axis specs and
 * rows with fewer teachers leave the rest empty. */
char *mv_sweep_csv_header (const mv_sweep *sw);
char *mv_sweep_row_csv (const mv_sweep *sw, const mv_sweep_row *row);
char *mv_sweep_row_json (const mv_sweep *sw, const mv_sweep_row *row);
/* The task index of a results.jsonl line, or (size_t) -1 when the line is
 * not a complete row of this sweep (a torn last line after a kill). */
size_t mv_sweep_line_task (const mv_sweep *sw, const char *line);
/* The row of such a line (row initialised; resized to the line's m*), so
 * results.csv can be rebuilt from results.jsonl alone: the CSV of the
 * parsed row equals the CSV of the row that was written.  MV_EPARSE when
 * mv_sweep_line_task would reject the line. */
int mv_sweep_row_parse (mv_sweep_row *row, const mv_sweep *sw,
                        const char *line);

/* Poll *flag (may be NULL) in every task run afterwards: nonzero stops
 * the task, its row is MV_TRAJ_INTERRUPTED (a row not to record as done). */
void mv_sweep_set_interrupt (mv_sweep *sw, volatile sig_atomic_t *flag);
/* Call progress (NULL: none) as the runs advance, as mv_flow_params and
 * mv_sgd_params do. */
void mv_sweep_set_progress (mv_sweep *sw,
                            void (*progress) (void *ctx, double t, double t_end),
                            void *ctx);

#ifdef __cplusplus
}
#endif
#endif
