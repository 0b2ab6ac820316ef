/* Training dynamics (MATH.md §1, §3): gradient flow in the full parameter
 * space R^{2md}, the dimension-free flow of the Gram matrix, and online
 * mini-batch SGD, all recorded in one trajectory format (mv_traj) with the
 * same observables, events and outputs. */
#ifndef MOEVERIFY_FLOW_H
#define MOEVERIFY_FLOW_H

#include <signal.h>
#include <stddef.h>
#include <mpfr.h>
#include <moeverify/problem.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ trajectory */

enum { MV_TRAJ_RUNNING = 0, MV_TRAJ_DONE, MV_TRAJ_INTERRUPTED, MV_TRAJ_FAILED };

#define MV_TRAJ_NTHR 3            /* thresholds 0.5, 0.9, 0.99 */
extern const double mv_traj_thresholds[MV_TRAJ_NTHR];
/* kinds of alignment tracked for events */
enum { MV_ALIGN_ROUTER = 0, MV_ALIGN_EXPERT, MV_ALIGN_BOTH, MV_ALIGN_NKIND };

typedef struct {
  size_t m, mstar, n;       /* n = 2m + 2m*; Gram order [v, w, v*, w*] */
  size_t rows, cap;         /* recorded output rows */
  double *t, *loss, *grad2; /* per row: time, L, |grad L|^2 */
  double *energy;           /* per row: Int_0^t |grad L|^2 (NAN for SGD) */
  double *G;                /* per row: n x n Gram matrix of unit vectors */
  double *norms0;           /* raw norms at t = 0 (n) */
  /* first time alignment `kind` of student i with teacher j crosses
   * threshold h upwards: cross[((kind * MV_TRAJ_NTHR + h) * m + i) * mstar + j],
   * NAN if never; BOTH = min(router, expert) */
  double *cross;
  double *prev;             /* alignments at the previous step (scratch) */
  double t_prev;
  /* run record */
  char method[16];          /* "full", "reduced", "sgd" */
  char stepper[16];
  char init[64];            /* how the initial point was obtained */
  char params[128];         /* method parameters not covered below (SGD) */
  double rtol, atol, t_end;
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
/* Teacher j recovered: first time some student has min(router, expert)
 * alignment >= 0.9; student[j] receives that student (or -1). Returns the
 * time (NAN if never). */
double mv_traj_recovery (const mv_traj *tr, size_t j, long *student);

/* Write trajectory.csv, run.json, events.json and the SVG plots into dir
 * (created if missing), each file atomically.  spec_json: canonical spec
 * (may be NULL). */
int mv_traj_write (const mv_traj *tr, const char *dir, const char *spec_json);

/* ------------------------------------------------------------ flows */

typedef struct {
  const char *stepper;   /* rk8pd (default), rkf45, rkck, msbdf, bsimp */
  double rtol, atol;     /* default 1e-9, 1e-12 */
  double t_end;          /* > 0 */
  double h0;             /* first step (default 1e-6 t_end) */
  unsigned long max_steps; /* 0 = unlimited */
  mpfr_prec_t prec;      /* RHS precision: 53 = double path; more = MPFR
                            rounded to double (full flow) */
  size_t n_out;          /* log-spaced output times (default 200) */
  double t_first;        /* first output time > 0 (default 1e-4 t_end) */
  const double *times;   /* explicit output times (ascending, in (0, t_end]) */
  size_t n_times;
  volatile sig_atomic_t *interrupt;  /* polled; nonzero stops the run */
  void (*progress) (void *ctx, double t, double t_end);
  void *progress_ctx;
} mv_flow_params;

void mv_flow_params_default (mv_flow_params *p);
/* MV_OK, or MV_EINVAL with a message naming the bad parameter. */
int mv_flow_params_check (const mv_flow_params *p);

/* Output grid of p (0 first, then ascending to t_end); malloc'd, count in *n. */
double *mv_flow_times (const mv_flow_params *p, size_t *n);

/* Gradient flow of the raw parameters, dtheta/dt = -grad L, from the
 * problem's vectors.  tr must be initialised for (m, m*). */
int mv_flow_full (mv_traj *tr, const mv_problem *pb, const mv_flow_params *p);

/* Dimension-free flow of the Gram matrix from G0 (n x n) and the raw norms
 * (n; teacher entries ignored). */
int mv_flow_reduced (mv_traj *tr, const double *G0, const double *norms,
                     size_t m, size_t mstar, double noise_var,
                     const mv_flow_params *p);

/* Right-hand side f (nvar + 1: the free Gram entries G_kl, k < l, k a
 * student, row-major, then the energy rate |grad L|^2) of the reduced flow
 * at G0, and its analytic Jacobian J ((nvar+1)^2, row-major; may be NULL;
 * the energy row and column are zero). */
int mv_flow_reduced_eval_d (double *f, double *J, const double *G0,
                            const double *norms, size_t m, size_t mstar,
                            double noise_var);

/* ------------------------------------------------------------ SGD */

typedef struct {
  double lr;             /* learning rate; flow time t = lr * step */
  size_t batch;          /* fresh Gaussian samples per step */
  unsigned long steps;
  unsigned long seed;
  size_t n_out;          /* log-spaced output times in flow time */
  const double *times;   /* or explicit output times (flow time) */
  size_t n_times;
  volatile sig_atomic_t *interrupt;
  void (*progress) (void *ctx, double t, double t_end);
  void *progress_ctx;
} mv_sgd_params;

void mv_sgd_params_default (mv_sgd_params *p);
int mv_sgd_run (mv_traj *tr, const mv_problem *pb, const mv_sgd_params *p);

#ifdef __cplusplus
}
#endif
#endif
