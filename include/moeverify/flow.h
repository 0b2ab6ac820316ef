/* Gradient flows (MATH.md §1, §3): the full parameter space R^{2md} and the
 * dimension-free flow of the Gram matrix, integrated with GSL's adaptive
 * steppers and recorded in an mv_traj. */
#ifndef MOEVERIFY_FLOW_H
#define MOEVERIFY_FLOW_H

#include <signal.h>
#include <stddef.h>
#include <mpfr.h>
#include <moeverify/problem.h>
#include <moeverify/traj.h>
#include <moeverify/checkpoint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  const char *stepper;   /* a name in the stepper table (below); NULL or
                            default: mv_flow_stepper_name (0), rk8pd */
  double rtol, atol;     /* default 1e-9, 1e-12 */
  double t_end;          /* > 0 */
  double h0;             /* first step (default 1e-6 t_end) */
  unsigned long max_steps; /* default MV_FLOW_MAX_STEPS; 0 = unlimited (a
                              run that stalls still fails: flow.c) */
  mpfr_prec_t prec;      /* RHS precision: MV_PREC_DOUBLE = double path;
                            more = MPFR rounded to double (full flow) */
  size_t n_out;          /* log-spaced output times (default 200) */
  double t_first;        /* first output time > 0 (default 1e-4 t_end) */
  const double *times;   /* explicit output times (ascending, in (0, t_end]);
                            the run still ends at t_end, with a row there */
  size_t n_times;
  volatile sig_atomic_t *interrupt;  /* polled; nonzero stops the run */
  const mv_observer *observers;  /* called after the trajectory recorder at
                                   every step and row (traj.h) */
  size_t n_observers;
  void (*progress) (void *ctx, double t, double t_end);
  void *progress_ctx;
  const mv_regularizers *reg;  /* regularizer coefficients of the objective
                                  of both flows (NULL: none; callers pass
                                  &pb->reg for the spec's); all 0 is the
                                  plain L, bit for bit */
  mv_ckpt_params ckpt;   /* checkpoints and resuming (checkpoint.h; all 0:
                            none).  Explicit Runge-Kutta steppers only
                            (rk8pd, rkf45, rkck, rk4): MV_EINVAL otherwise.
                            Observers other than the recorder and the
                            stopping rules must keep no state of their own
                            for the resumed run to match */
} mv_flow_params;

/* The stepper table: GSL odeiv2 step types by name, entry 0 the default.
 * Implicit steppers use the flow's analytic Jacobian (reduced flow; full
 * flow up to MV_LOSS_HESS_RAW_MAX parameters). */
const char *mv_flow_stepper_name (size_t i);   /* NULL past the end */
int mv_flow_stepper_implicit (size_t i);       /* 0 past the end */
/* Whether stepper i can be checkpointed (explicit Runge-Kutta; 0 past the
 * end; checkpoint.h). */
int mv_flow_stepper_resumable (size_t i);
/* Index of the stepper called name (NULL: the default) into *index (may be
 * NULL); MV_EINVAL with a message listing every name if there is none. */
int mv_flow_stepper_find (const char *name, size_t *index);

#define MV_FLOW_MAX_STEPS 100000000UL
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

/* How the reduced flow's initial point is built from a problem. */
enum {
  MV_GRAM0_AUTO = 0,  /* VECTORS when the spec's vectors can be formed
                         (size limits of mv_problem_vectors_d), else SAMPLE;
                         decided from the sizes before anything is drawn */
  MV_GRAM0_VECTORS,   /* mv_problem_gram_d: the point the full flow starts
                         from */
  MV_GRAM0_SAMPLE     /* mv_problem_gram_sample_d: exact in law, cost
                         independent of d (init-generated specs only) */
};

/* G0 (n x n) and norms (n) for mv_flow_reduced, built as mode says.  A
 * failure of that way is an error with its message, never a fallback to
 * another draw.  how (howlen bytes, may be NULL) receives the description
 * for the run record's init. */
int mv_flow_gram0 (double *G0, double *norms, char *how, size_t howlen,
                   const mv_problem *pb, int mode);

/* The reduced flow of a problem: G(0) built as mode says (mv_flow_gram0,
 * its description into tr->init), then mv_flow_reduced; what `moeverify
 * flow --reduced` and a sweep's reduced tasks run. */
int mv_flow_reduced_problem (mv_traj *tr, const mv_problem *pb, int mode,
                             const mv_flow_params *p);

/* Right-hand side f (nvar + 1: the free Gram entries G_kl, k < l, k a
 * student, row-major, then the energy rate |grad L|^2) of the reduced flow
 * at G0, and its analytic Jacobian J ((nvar+1)^2, row-major; may be NULL;
 * the energy row and column are zero). */
int mv_flow_reduced_eval_d (double *f, double *J, const double *G0,
                            const double *norms, size_t m, size_t mstar,
                            double noise_var);

#ifdef __cplusplus
}
#endif
#endif
