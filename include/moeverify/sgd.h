/* Online mini-batch SGD on the raw student vectors (MATH.md §1), recorded
 * in the same trajectory format as the flows.
 *
 * The objective's terms with a per-sample form (term.h sample_d) are
 * trained on stochastically: each step uses their gradient on a fresh batch.
 * Terms without one (a ratio or product of population means, e.g. the
 * specialization regularizers; loss.h mv_loss_ngram_only), other than the
 * noise constant, have no unbiased per-sample gradient: each step adds
 * their exact closed-form gradient at the current state
 * (mv_loss_eval_vec_gram_only_d), theta <- theta - lr (g_batch + g_closed).
 * An objective without such terms (the default) steps exactly as before,
 * bit for bit. */
#ifndef MOEVERIFY_SGD_H
#define MOEVERIFY_SGD_H

#include <signal.h>
#include <stddef.h>
#include <moeverify/loss.h>
#include <moeverify/problem.h>
#include <moeverify/traj.h>
#include <moeverify/checkpoint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  double lr;             /* learning rate; flow time t = lr * step */
  size_t batch;          /* fresh Gaussian samples per step */
  unsigned long steps;
  unsigned long seed;
  size_t n_out;          /* log-spaced output times in flow time */
  const double *times;   /* or explicit output times (flow time) */
  size_t n_times;
  volatile sig_atomic_t *interrupt;
  const mv_observer *observers;  /* called after the trajectory recorder
                                   (traj.h): STEP at t = 0, every k_obs
                                   steps (see sgd.c) and at each row, ROW
                                   at each row (theta only at rows); a
                                   nonzero return stops the run (status
                                   MV_TRAJ_FAILED, that status returned) */
  size_t n_observers;
  mv_loss_ws *objective; /* the terms to train on (their per-sample forms;
                            the closed-form gradient of the terms without
                            one) and to record (closed form); NULL: data
                            fit + label noise.  Sized for the problem's m, m*;
                            used, not freed (not shared between threads) */
  void (*progress) (void *ctx, double t, double t_end);
  void *progress_ctx;
  const mv_regularizers *reg;  /* regularizer coefficients appended to the
                                  default objective (objective NULL; callers
                                  pass &pb->reg for the spec's; NULL: none);
                                  all 0 is the plain L, bit for bit.  With
                                  an explicit objective they must be NULL
                                  or all 0 (add them to it instead) */
  mv_ckpt_params ckpt;   /* checkpoints at output rows and resuming
                            (checkpoint.h; all 0: none).  The identity
                            covers lr, batch, steps, seed, the output steps,
                            the initial vectors, the noise and p->reg, not
                            an explicit objective (the caller's to match);
                            observers after the recorder must keep no state
                            of their own */
} mv_sgd_params;

void mv_sgd_params_default (mv_sgd_params *p);
int mv_sgd_run (mv_traj *tr, const mv_problem *pb, const mv_sgd_params *p);

#ifdef __cplusplus
}
#endif
#endif
