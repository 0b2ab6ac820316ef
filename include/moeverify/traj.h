/* The trajectory record shared by every dynamics (full and reduced flows,
 * SGD): output rows, threshold crossings, recovery, the run record and its
 * writers (MATH.md §3). */
#ifndef MOEVERIFY_TRAJ_H
#define MOEVERIFY_TRAJ_H

#include <stddef.h>
#include <moeverify/io.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { MV_TRAJ_RUNNING = 0, MV_TRAJ_DONE, MV_TRAJ_INTERRUPTED, MV_TRAJ_FAILED };

#define MV_TRAJ_NTHR 3            /* thresholds 0.5, 0.9, 0.99 */
extern const double mv_traj_thresholds[MV_TRAJ_NTHR];
enum { MV_TRAJ_THR_50 = 0, MV_TRAJ_THR_90, MV_TRAJ_THR_99 };
/* kinds of alignment tracked for events */
enum { MV_ALIGN_ROUTER = 0, MV_ALIGN_EXPERT, MV_ALIGN_BOTH, MV_ALIGN_NKIND };

typedef struct {
  size_t m, mstar, n;       /* n = 2m + 2m*; Gram order [v, w, v*, w*] */
  size_t rows, cap;         /* recorded output rows */
  double *t, *loss, *grad2; /* per row: time, L, |grad L|^2 */
  double *energy;           /* per row: Int_0^t |grad L|^2 (NAN for SGD) */
  double *G;                /* per row: n x n Gram matrix of unit vectors
                               (read through mv_traj_gram, mv_traj_align) */
  double *norms0;           /* raw norms at t = 0 (n) */
  /* first time alignment `kind` of student i with teacher j crosses
   * threshold h upwards: cross[((kind * MV_TRAJ_NTHR + h) * m + i) * mstar + j],
   * NAN if never; BOTH = min(router, expert); read through
   * mv_traj_crossing */
  double *cross;
  /* at each crossing, the alignment of the other kind (router <-> expert)
   * interpolated to the same moment; NAN for BOTH and where cross is NAN */
  double *cross_other;
  double *prev;             /* alignments at the previous step (scratch) */
  double t_prev;
  /* run record */
  char method[16];          /* "full", "reduced", "sgd" */
  char stepper[16];
  char init[64];            /* how the initial point was obtained */
  char params[128];         /* method parameters not covered below (SGD) */
  double rtol, atol, t_end;
  /* flows: steps = GSL's attempts, the rejected ones included */
  unsigned long steps, rejected, rhs_evals, jac_evals;
  double wall_seconds;
  int status;               /* MV_TRAJ_* */
  char message[256];        /* why it stopped early, if it did */
  double *final_state;      /* full flow / SGD: raw V then W (2 m d); else NULL */
  size_t d;
} mv_traj;

int mv_traj_init (mv_traj *tr, size_t m, size_t mstar);
void mv_traj_clear (mv_traj *tr);
/* Append an output row (G is copied). */
int mv_traj_push (mv_traj *tr, double t, double loss, double grad2,
                  double energy, const double *G);
/* Event tracking at every accepted step: linear interpolation of the
 * crossing time between the previous step and this one. */
void mv_traj_observe (mv_traj *tr, double t, const double *G);
/* Readers: no code outside record/ does index arithmetic on G or cross.
 * Gram matrix of output row (n x n), NULL past the last row. */
const double *mv_traj_gram (const mv_traj *tr, size_t row);
/* Alignment `kind` (MV_ALIGN_*) of student i with teacher j at output row:
 * router G[v_i, v*_j], expert G[w_i, w*_j], both their minimum. */
double mv_traj_align (const mv_traj *tr, size_t row, int kind, size_t i, size_t j);
/* First upward crossing time of threshold h (MV_TRAJ_THR_*) by alignment
 * kind of student i with teacher j; NAN if never. */
double mv_traj_crossing (const mv_traj *tr, int kind, size_t h, size_t i, size_t j);

/* The alignment of the other kind (expert for MV_ALIGN_ROUTER, router for
 * MV_ALIGN_EXPERT) at that crossing, interpolated within the step as the
 * time is; NAN for BOTH or if there was no crossing. */
double mv_traj_crossing_other (const mv_traj *tr, int kind, size_t h, size_t i, size_t j);

/* Teacher j recovered: first time some student has min(router, expert)
 * alignment >= 0.9; student[j] receives that student (or -1). Returns the
 * time (NAN if never). */
double mv_traj_recovery (const mv_traj *tr, size_t j, long *student);

/* The state of teacher j at an output row (thresholds in
 * proofs/claim-terminal.md): RECOVERED, one student with router and
 * expert alignment >= 0.9 and no other |expert alignment| >= 0.3;
 * REDUNDANT, recovered with such others left; SHARED, >= 2 students with
 * |expert alignment| >= 0.3 and none recovered; NOT_ESCAPED, every
 * |expert alignment| < 0.5; ESCAPING, anything else (one student on its
 * way). */
enum {
  MV_TRAJ_STATE_RECOVERED = 0, MV_TRAJ_STATE_REDUNDANT, MV_TRAJ_STATE_SHARED,
  MV_TRAJ_STATE_NOT_ESCAPED, MV_TRAJ_STATE_ESCAPING, MV_TRAJ_NSTATE
};
int mv_traj_state (const mv_traj *tr, size_t row, size_t j);
/* One-word name of a state ("recovered", "redundant", "shared",
 * "not_escaped", "escaping"); NULL out of range. */
const char *mv_traj_state_name (int state);

/* The Gram entries trajectory.csv has after t, loss, grad_norm2, energy,
 * in column order: router alignments (v_i, v*_j), expert alignments
 * (w_i, w*_j), then every other pair (k < l) with a student k.  Index
 * pairs into kl (2 per column; may be NULL); returns their number. */
size_t mv_traj_gram_columns (size_t m, size_t mstar, size_t *kl);
/* The column name of Gram entry (k, l) ("router_0_1", "expert_2_0",
 * "v0.w3", "w1.v*0", ...) into buf. */
void mv_traj_gram_column_name (char *buf, size_t len, size_t k, size_t l, size_t m,
                               size_t mstar);

/* Read a directory written by mv_traj_write back into tr (initialised
 * here for the m, m* it records): every row bit for bit (the files print
 * 17 digits), the Gram block of the teachers from run.json's final
 * matrix, the raw student norms at t = 0, the run record and the
 * crossings.  The flow's stepper scratch and SGD's final raw state are not
 * restored.  MV_EPARSE (or MV_EIO) with a message naming the file and what
 * is wrong. */
int mv_traj_read (mv_traj *tr, const char *dir);

/* The text of run.json and events.json as mv_traj_write writes them
 * (malloc'd; NULL with a message when out of memory): for callers that
 * keep a run in memory (the Python module). */
char *mv_traj_run_json (const mv_traj *tr, const char *spec_json);
char *mv_traj_events_json (const mv_traj *tr);

/* Write trajectory.csv, run.json, events.json and the SVG plots into dir
 * (created if missing) as one set (io.h): on failure nothing in dir has
 * changed; a process killed part-way leaves no run.json beside new files.
 * spec_json: canonical spec (may be NULL). */
int mv_traj_write (const mv_traj *tr, const char *dir, const char *spec_json);
/* The same files added to a set the caller commits (with its own files,
 * "run.json" as the marker). */
int mv_traj_write_set (const mv_traj *tr, mv_io_set *set, const char *spec_json);

/* ------------------------------------------------------------ observers */

/* What a dynamics run shows its observers.  MV_OBS_STEP comes at t = 0 and
 * after every accepted step (SGD: every k_obs steps and at each row);
 * MV_OBS_ROW at each output time, after that time's STEP.  At a STEP, G
 * holds at least the student-teacher block (the rest may be NAN or stale);
 * at a ROW, the whole matrix and loss, grad2 (energy is NAN for SGD). */
enum { MV_OBS_STEP = 0, MV_OBS_ROW = 1 };

typedef struct {
  int kind;                  /* MV_OBS_STEP or MV_OBS_ROW */
  double t;
  const double *G;           /* n x n Gram matrix of unit vectors */
  double loss, grad2, energy;  /* ROW only (NAN at a STEP) */
  const double *theta;       /* raw student state (V rows then W rows,
                                2 m d) where the method has one and
                                d > 0, else NULL */
  size_t m, mstar, n, d;
} mv_obs_point;

/* An observer: observe is called with every point in order and may stop
 * the run by returning a nonzero status (with mv_error_set); finish (may be
 * NULL) once, after the run record (status, counters) is complete. */
typedef struct {
  const char *name;
  int (*observe) (void *ctx, const mv_obs_point *pt);
  void (*finish) (void *ctx, const mv_traj *tr);
  void *ctx;
} mv_observer;

/* Alignment `kind` of student i with teacher j at a point (as
 * mv_traj_align; valid at a STEP too). */
double mv_obs_align (const mv_obs_point *pt, int kind, size_t i, size_t j);

/* The trajectory recorder as an observer: STEP -> mv_traj_observe,
 * ROW -> mv_traj_push.  Every dynamics run has it first in its list. */
void mv_traj_observer (mv_observer *obs, mv_traj *tr);

/* Returned by an observer's observe to end the run early and cleanly (a
 * stopping rule, not a failure): the dynamics record a last ROW where
 * they stand, unless that point is one already, and end with status
 * MV_TRAJ_DONE and a message saying which observer stopped the run and
 * when.  The observers still see that ROW; their answer to it is ignored. */
#define MV_OBS_STOP (-1)

/* Stopping rules: observers whose ctx is the run's own mv_traj (the
 * recorder, which sees each point first) and which return MV_OBS_STOP
 * once the rule holds.  A table in the style of GSL's step types:
 *   "escaped"    every teacher has had some student's expert alignment
 *                reach 0.5 (its first crossing recorded);
 *   "recovered"  every teacher has been recovered (some student with
 *                router and expert alignment >= 0.9);
 *   "first_recovery"  some teacher has been recovered. */
typedef struct {
  const char *name;
  const char *doc;       /* one line for usage texts */
  int (*observe) (void *tr, const mv_obs_point *pt);
} mv_stop_type;

const mv_stop_type *mv_stop_type_get (size_t i);   /* NULL past the end */
/* The rule called name; NULL (with an error message listing the names)
 * if there is none. */
const mv_stop_type *mv_stop_find (const char *name);

/* Call observe of each of the n observers in order; the first nonzero
 * status stops the calls and is returned (MV_OBS_STOP: the error message
 * is "stopped by <name>"). */
int mv_observers_notify (const mv_observer *list, size_t n,
                         const mv_obs_point *pt);
void mv_observers_finish (const mv_observer *list, size_t n,
                          const mv_traj *tr);

#ifdef __cplusplus
}
#endif
#endif
