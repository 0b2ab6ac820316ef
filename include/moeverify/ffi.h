/* Flat entry points for foreign-function callers (the Python module,
 * python/moeverify): only scalars, strings and double arrays cross the
 * boundary, objects are opaque heap pointers with _alloc/_free pairs, and
 * every fallible call returns an MV_* status with its one-line message in
 * mv_error_message ().  Each is a composition of the public calls the CLI
 * makes, in the same order, so results equal the CLI's bit for bit; no
 * numerical code lives here. */
#ifndef MOEVERIFY_FFI_H
#define MOEVERIFY_FFI_H

#include <signal.h>
#include <stddef.h>
#include <moeverify/loss.h>
#include <moeverify/sweep.h>
#include <moeverify/problem.h>
#include <moeverify/traj.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- problems: mv_problem_parse / _read / _set_d fill one from
 * mv_ffi_problem_alloc (zeroed); mv_ffi_problem_free clears and frees. */
mv_problem *mv_ffi_problem_alloc (void);
void mv_ffi_problem_free (mv_problem *pb);
/* dims[3] = d, m, mstar; reg[4] = aux, ortho, ortho_gated, var (either
 * may be NULL). */
void mv_ffi_problem_shape (size_t *dims, double *noise_var, double *reg,
                           const mv_problem *pb);

/* ---- loss: a workspace at prec (MV_PREC_DOUBLE: the double path) whose
 * objective is L plus the regularizers reg[4] (NULL: none), as
 * `moeverify loss` builds it for a spec. */
mv_loss_ws *mv_ffi_loss_alloc (size_t m, size_t mstar, const double *reg,
                               long prec);

/* What mv_ffi_loss reports besides L and the gradient (info[]). */
enum {
  MV_FFI_LOSS_VALUE = 0,   /* L rounded to double */
  MV_FFI_LOSS_DIGITS,      /* significant digits of L the bound supports */
  MV_FFI_LOSS_ERR,         /* |L - exact| bound, rounded up to double */
  MV_FFI_LOSS_GRAD_ERR,    /* bound on every gradient component's error */
  MV_FFI_LOSS_ABS_TERMS,
  MV_FFI_LOSS_COND,
  MV_FFI_LOSS_MAX_TERMS,
  MV_FFI_LOSS_PREC,
  MV_FFI_LOSS_GRAD_DIGITS, /* fewest digits of a gradient component (MPFR
                              path; NAN on the double path: see
                              mv_ffi_grad_digits_d) */
  MV_FFI_LOSS_NINFO
};

/* L and its raw gradient (gV, gW: m x d, rounded to double; either may be
 * NULL) of pb with ws (allocated for pb's m, m* at prec), as `moeverify
 * loss` computes them.  text (size bytes) receives three lines: L with
 * exactly its trustworthy digits (the CLI's "loss"), the loss error bound
 * and the gradient error bound (3 digits, rounded up, as the CLI prints
 * them; these do not underflow). */
int mv_ffi_loss (double *info, char *text, size_t size, double *gV,
                 double *gW, const mv_problem *pb, mv_loss_ws *ws, long prec);
/* The same from raw vectors given directly (V, W: m x d; Vt, Wt: m* x d),
 * checked first as mv_problem_check_d checks them.  Equals mv_ffi_loss on
 * the problem mv_problem_set_d builds from the same arrays, without
 * building it (no copy of the vectors into a spec). */
int mv_ffi_loss_vec (double *info, char *text, size_t size, double *gV,
                     double *gW, const double *V, const double *W,
                     const double *Vt, const double *Wt, size_t d,
                     double noise_var, mv_loss_ws *ws, long prec);
/* Fewest digits any of the n components of g (two arrays) supports at
 * absolute error err: the CLI's grad_digits_min on the double path. */
int mv_ffi_grad_digits_d (const double *gV, const double *gW, size_t n,
                          double err);

/* ---- trajectories: runs fill one from mv_ffi_traj_alloc (zeroed). */
mv_traj *mv_ffi_traj_alloc (void);
void mv_ffi_traj_free (mv_traj *tr);
/* dims[6] = rows, m, mstar, n, d, status (MV_TRAJ_*) */
void mv_ffi_traj_shape (size_t *dims, const mv_traj *tr);
/* Per-row t, L, |grad L|^2, energy (rows each; any may be NULL). */
void mv_ffi_traj_columns (double *t, double *loss, double *grad2,
                          double *energy, const mv_traj *tr);
/* Alignment kind (MV_ALIGN_*) at every row: rows x m x mstar. */
void mv_ffi_traj_align (double *out, const mv_traj *tr, int kind);
/* The Gram matrices of every row: rows x n x n. */
void mv_ffi_traj_gram (double *out, const mv_traj *tr);
/* SGD's and the full flow's final raw state (V rows then W rows, 2 m d)
 * into out; 0 when the run has none (reduced flow), else 1. */
int mv_ffi_traj_final_state (double *out, const mv_traj *tr);

/* ---- runs */
/* The flow or SGD described by run_json (a sweep's "run" object: method,
 * t_end, rtol, ... with the defaults of `moeverify flow` / `sgd`; sweep.h)
 * on pb into tr, as the CLI runs it; *flag (may be NULL) is polled and
 * nonzero stops the run (status MV_TRAJ_INTERRUPTED); progress nonzero
 * draws a progress bar on stderr (io.h).  A bad run object is
 * MV_EINVAL/MV_EPARSE naming "NAME: run.KEY" (name: pb's name). */
int mv_ffi_run (mv_traj *tr, const mv_problem *pb, const char *run_json,
                volatile sig_atomic_t *flag, int progress);

/* Monte-Carlo estimate (mc.h) of pb's loss and gradient: out[5] = loss,
 * its standard error, samples, batches, rank; gV, gW and their standard
 * errors (m x d each, all NULL for the loss only). */
int mv_ffi_mc (double *out, double *gV, double *gW, double *gV_se,
               double *gW_se, const mv_problem *pb, size_t samples,
               size_t batches, unsigned long seed);

/* Sigmoid Hermite coefficients c_0..c_kmax at prec (hermite.h, the
 * Fourier method): c rounded to double, digits[k] certified digits, and
 * *text (malloc'd) with kmax + 1 lines "c_k<TAB>relerr bound", c_k with
 * exactly its certified digits as `moeverify coeffs` prints it. */
int mv_ffi_coeffs (double *c, long *digits, char **text, unsigned kmax,
                   long prec);

/* Sweeps: mv_sweep_parse, mv_sweep_ntasks, mv_sweep_set_interrupt and
 * mv_sweep_free are called directly; task t as one results.jsonl line
 * (malloc'd, as `moeverify sweep` writes it), run in this process. */
int mv_ffi_sweep_task (char **row_json, const mv_sweep *sw, size_t t);

/* Claim checks (check.h): the claims named in names (comma-separated;
 * NULL or "": all) at level (MV_CHECK_*), run in this process one after
 * another, with report.md and report.json written into dir (exists).
 * *worst receives the worst verdict. */
int mv_ffi_check (int *worst, const char *names, int level, unsigned seeds,
                  const char *dir);

/* The regression check of a reference file's text (regress.h; name for
 * messages): its fast path recomputed (rtol > 0: at rtol, atol instead of
 * the stored tolerances) and every value compared, as `moeverify regress`
 * does.  *result_json (malloc'd): reference, values, violations, passed,
 * the worst deviations and the worst of each quantity group (row, column,
 * t, ref, got, dev, tol, ok), wall_seconds. */
int mv_ffi_regress (char **result_json, const char *text, const char *name,
                    double rtol, double atol);

/* free () for the strings above (the caller's allocator may differ). */
void mv_ffi_free (void *p);

#ifdef __cplusplus
}
#endif
#endif
