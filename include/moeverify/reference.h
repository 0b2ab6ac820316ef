/* Reference trajectories (issue 9): an MPFR-native Gragg-Bulirsch-Stoer
 * integrator, the reduced flow's right-hand side in MPFR (MATH.md §3), the
 * reduced flow integrated to a list of output times at precision p and
 * tolerance eps, and the digits two such runs agree on
 * (proofs/reference-integrator.md).  GSL (flow.h) stays the fast path. */
#ifndef MOEVERIFY_REFERENCE_H
#define MOEVERIFY_REFERENCE_H

#include <signal.h>
#include <stddef.h>
#include <mpfr.h>
#include <moeverify/traj.h>
#include <moeverify/problem.h>
#include <moeverify/loss.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ GBS */

/* Right-hand side f = F(t, y) of an ODE of dimension dim, evaluated at the
 * precision of f (and y).  MV_OK or a status with mv_error_set. */
typedef int (*mv_gbs_rhs_fn) (mpfr_t *f, const mpfr_t t, mpfr_t *y, void *ctx);

typedef struct {
  double tol;               /* per-step error <= tol (1 + |y_i|) in every
                               component; in [1e-290, 1e-3] */
  double h0;                /* first step; 0: 1e-2 of the interval */
  unsigned long max_steps;  /* attempted steps per mv_gbs_evolve; 0 = none */
  volatile sig_atomic_t *interrupt;  /* polled every step; nonzero stops */
  void (*progress) (void *ctx, double t);  /* after every accepted step
                                              (may be NULL) */
  void *progress_ctx;
} mv_gbs_params;

#define MV_GBS_KMAX 24

typedef struct {
  unsigned long steps, rejected, rhs_evals;
  double h;                 /* next step size proposed */
  unsigned k;               /* next target row */
} mv_gbs_stats;

typedef struct mv_gbs_ws mv_gbs_ws;

/* Workspace for dimension dim at precision prec (kmax as in params; 0 for
 * the default).  NULL with mv_error_set on failure. */
mv_gbs_ws *mv_gbs_alloc (size_t dim, unsigned kmax, mpfr_prec_t prec);
void mv_gbs_free (mv_gbs_ws *ws);
void mv_gbs_params_default (mv_gbs_params *p);
/* Statistics accumulated since mv_gbs_alloc / mv_gbs_reset. */
const mv_gbs_stats *mv_gbs_stats_get (const mv_gbs_ws *ws);
void mv_gbs_reset (mv_gbs_ws *ws);

/* Advance (t, y) to t1 > t exactly (t is set to t1), with steps chosen
 * by the error control and order selection of Hairer-Norsett-Wanner II.9.
 * Successive calls continue with the last proposed step and order.
 * MV_ENOCONV when max_steps is exceeded or the step underflows,
 * MV_EINVAL for bad parameters; a status of f is passed through; an
 * interrupt returns MV_OK with t < t1. */
int mv_gbs_evolve (mpfr_t *y, mpfr_t t, const mpfr_t t1, mv_gbs_rhs_fn f,
                   void *ctx, const mv_gbs_params *p, mv_gbs_ws *ws);

/* ------------------------------------------------------------ reduced RHS */

/* The reduced flow in MPFR.  The state is that of the double path
 * (mv_flow_reduced_eval_d): the free Gram entries G_kl (k < l, k a
 * student; row-major), then the energy Int |grad L|^2; the raw norms are
 * constants of the flow (proofs/reduced-flow.md (1)), held exactly. */
typedef struct mv_ref_red mv_ref_red;

/* From G0 (n x n) and norms (n; teacher entries ignored), converted
 * exactly, at precision prec (MV_PREC_DOUBLE < prec <= MV_PREC_MAX). */
mv_ref_red *mv_ref_red_alloc (const double *G0, const double *norms, size_t m,
                              size_t mstar, double noise_var, mpfr_prec_t prec);
void mv_ref_red_free (mv_ref_red *w);
size_t mv_ref_red_dim (const mv_ref_red *w);   /* nvar + 1 */
/* y (dim) := the state at G0 (energy 0). */
void mv_ref_red_state0 (mpfr_t *y, const mv_ref_red *w);
/* f (dim) := dy/dt at y (mv_gbs_rhs_fn; t is unused, ctx the mv_ref_red). */
int mv_ref_red_rhs (mpfr_t *f, const mpfr_t t, mpfr_t *y, void *ctx);
/* Observables at y: L, |grad L|^2 (either may be NULL) and G (n x n, may
 * be NULL) at the precision of the outputs. */
int mv_ref_red_observe (mpfr_t L, mpfr_t grad2, mpfr_t *G, mpfr_t *y,
                        mv_ref_red *w);
/* The loss workspace of the right-hand side (to add terms to). */
mv_loss_ws *mv_ref_red_loss (mv_ref_red *w);
/* Raw norm k (constant along the flow), as given. */
double mv_ref_red_norm (const mv_ref_red *w, size_t k);

/* ------------------------------------------------------------ full RHS */

/* The full flow in MPFR: the state is the raw student vectors [V (m x d),
 * W (m x d)] row-major, then the energy; dy/dt = [-grad L, |grad L|^2]
 * with mv_loss_eval_vec at the state's precision.  Small problems only:
 * the cost per evaluation is O(n^2 d) plus the pairs. */
typedef struct mv_ref_full mv_ref_full;

/* Largest 2md the command line gives the full reference flow (each
 * evaluation at 2p bits costs about n^2 d + pairs x series terms). */
#define MV_REF_FULL_MAX 4096

/* From raw vectors V, W (m x d) and Vt, Wt (m* x d), converted exactly. */
mv_ref_full *mv_ref_full_alloc (const double *V, const double *W, const double *Vt,
                                const double *Wt, size_t m, size_t mstar, size_t d,
                                double noise_var, mpfr_prec_t prec);
void mv_ref_full_free (mv_ref_full *w);
size_t mv_ref_full_dim (const mv_ref_full *w);   /* 2md + 1 */
mv_loss_ws *mv_ref_full_loss (mv_ref_full *w);
void mv_ref_full_state0 (mpfr_t *y, const mv_ref_full *w);
int mv_ref_full_rhs (mpfr_t *f, const mpfr_t t, mpfr_t *y, void *ctx);
/* The free Gram entries of the unit vectors (the reduced state order), L
 * and |grad L|^2 at y into q[0 .. nvar + 1]. */
int mv_ref_full_observe (mpfr_t *q, mpfr_t *y, mv_ref_full *w);

/* ------------------------------------------------------------ systems */

/* What a reference run integrates, as a table of types: "reduced" (the
 * Gram matrix, MATH.md §3) and "full" (the raw vectors).  Both record the
 * same quantities, so their files and the regression check are shared. */
typedef struct {
  size_t m, mstar, d;
  double noise_var;
  const double *G0, *norms;       /* n x n unit-vector Gram matrix, n raw
                                     norms: both systems */
  const double *V, *W, *Vt, *Wt;  /* raw vectors (m x d, m* x d): full */
  const mv_regularizers *reg;     /* objective's regularizers; NULL: none */
} mv_ref_input;

typedef struct {
  const char *name;               /* "reduced", "full" */
  const char *method;             /* one line for files */
  void *(*alloc) (const mv_ref_input *in, mpfr_prec_t prec);
  void (*free) (void *sys);
  size_t (*dim) (const void *sys);   /* the energy is the last component */
  void (*state0) (mpfr_t *y, const void *sys);
  mv_gbs_rhs_fn rhs;
  /* q[0 .. nvar + 1]: the free Gram entries (state order of the reduced
   * flow), L and |grad L|^2 at y */
  int (*observe) (mpfr_t *q, mpfr_t *y, void *sys);
} mv_ref_system_type;

extern const mv_ref_system_type *mv_ref_system_reduced;
extern const mv_ref_system_type *mv_ref_system_full;
/* The type called name (NULL if none). */
const mv_ref_system_type *mv_ref_system_find (const char *name);

/* ------------------------------------------------------------ runs */

typedef struct {
  mpfr_prec_t prec;         /* bits (default 256) */
  double tol;               /* GBS tolerance (default 1e-40) */
  unsigned kmax;            /* 0: MV_GBS_KMAX */
  unsigned long max_steps;  /* per output interval; 0 = unlimited */
  const double *times;      /* output times, ascending, > 0 */
  size_t n_times;
  volatile sig_atomic_t *interrupt;
  /* after every accepted step: t and the last output time */
  void (*progress) (void *ctx, double t, double t_end);
  void *progress_ctx;
} mv_ref_params;

void mv_ref_params_default (mv_ref_params *p);

/* A reference trajectory: row 0 is t = 0, row r the output time
 * times[r - 1].  Quantities per row (mv_ref_nq): the free Gram entries in
 * state order, then L, |grad L|^2 and the energy Int |grad L|^2. */
typedef struct {
  size_t m, mstar, n, nvar, nq;
  size_t rows, cap;         /* rows filled, rows allocated */
  mpfr_prec_t prec;
  double tol;
  double *t;                /* cap */
  mpfr_t *q;                /* cap x nq */
  double *norms;            /* n raw norms (teachers 1) */
  double *G0;               /* n x n initial Gram matrix (its teacher block
                               is constant and not among the quantities) */
  unsigned long steps, rejected, rhs_evals;
  double wall_seconds;
  int status;               /* MV_TRAJ_* */
  const mv_ref_system_type *system;
} mv_ref_traj;

size_t mv_ref_nq (size_t m, size_t mstar);
/* Name of quantity q ("G[v1,w*2]", "loss", "grad2", "energy") into buf. */
void mv_ref_quantity_name (char *buf, size_t len, size_t q, size_t m, size_t mstar);

void mv_ref_traj_clear (mv_ref_traj *r);
/* Quantity q of row r (NULL out of range). */
mpfr_ptr mv_ref_traj_get (const mv_ref_traj *r, size_t row, size_t q);

/* Integrate the reduced flow from G0/norms to p->times at p->prec and
 * p->tol.  r is filled (initialised here; clear with mv_ref_traj_clear
 * even on failure).  An interrupt stops with r->status INTERRUPTED and the
 * rows reached. */
int mv_ref_reduced (mv_ref_traj *r, const double *G0, const double *norms,
                    size_t m, size_t mstar, double noise_var,
                    const mv_ref_params *p);

/* The same for any system type: r from in at p->prec and p->tol. */
int mv_ref_run (mv_ref_traj *r, const mv_ref_system_type *type,
                const mv_ref_input *in, const mv_ref_params *p);

/* The double copy of r in tr (initialised for (m, m*), empty): every row
 * rounded to nearest, crossings observed at the output rows. */
int mv_ref_traj_to_traj (mv_traj *tr, const mv_ref_traj *r);

/* ------------------------------------------------------------ agreement */

/* The digits of b that every value within 2|a - b| of b shares, truncated
 * toward zero ("d.ddd...e+X", at most len bytes); *digits their number
 * (0: not even the leading digit, str "0" when b = a = 0 exactly).  b is
 * the more accurate of the two; proofs/reference-integrator.md. */
int mv_ref_agree (char *str, size_t len, int *digits, const mpfr_t a,
                  const mpfr_t b);

/* Faithful rounding, for values whose interval b -+ 2|a - b| holds a
 * number with few digits (a power of ten, 0.5, ...), where truncation
 * keeps almost none: the most digits N such that every value in the
 * interval lies within one unit of the N-th digit of str, b rounded to
 * nearest to N digits (0 digits, "0": the interval holds 0). */
int mv_ref_agree_faithful (char *str, size_t len, int *digits, const mpfr_t a,
                           const mpfr_t b);

typedef struct {
  size_t rows, nq;
  int *digits;              /* rows x nq */
  char *str;                /* rows x nq strings of MV_REF_STRLEN bytes */
  unsigned char *faithful;  /* rows x nq: 1 where str is faithfully rounded */
  size_t nfaithful;
  int min_digits;           /* over rows >= 1 and every quantity */
} mv_ref_agreed;

/* Values with fewer truncated digits than this are printed faithfully
 * rounded when that keeps more (and flagged in mv_ref_agreed). */
#define MV_REF_FAITHFUL_BELOW 20

#define MV_REF_STRLEN 720

/* Per quantity and row, the agreement of a (p, eps) with b (2p, eps^2):
 * truncated digits (mv_ref_agree), or faithfully rounded ones where
 * truncation keeps fewer than MV_REF_FAITHFUL_BELOW and rounding more. */
int mv_ref_agree_traj (mv_ref_agreed *ag, const mv_ref_traj *a,
                       const mv_ref_traj *b);
void mv_ref_agreed_clear (mv_ref_agreed *ag);
const char *mv_ref_agreed_str (const mv_ref_agreed *ag, size_t row, size_t q);

/* Both runs and their agreement: a at (p->prec, p->tol), b at
 * (2 p->prec, p->tol^2) (p->tol >= 1e-145). */
int mv_ref_reduced_confirmed (mv_ref_traj *a, mv_ref_traj *b, mv_ref_agreed *ag,
                              const double *G0, const double *norms, size_t m,
                              size_t mstar, double noise_var,
                              const mv_ref_params *p);

/* The same for any system type. */
int mv_ref_confirmed (mv_ref_traj *a, mv_ref_traj *b, mv_ref_agreed *ag,
                      const mv_ref_system_type *type, const mv_ref_input *in,
                      const mv_ref_params *p);

#ifdef __cplusplus
}
#endif
#endif
