/* Monte-Carlo estimates of the loss (or of any objective whose terms have
 * per-sample forms) and its gradient, independent of the closed form:
 * samples the projections of x on the span of all parameter vectors
 * exactly (orthonormal basis of the span), evaluates the per-sample loss
 * directly and differentiates it per sample.  Standard errors by batch means. */
#ifndef MOEVERIFY_MC_H
#define MOEVERIFY_MC_H

#include <stddef.h>
#include <moeverify/loss.h>
#include <moeverify/problem.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  size_t samples;        /* total samples N (>= batches) */
  size_t batches;        /* batches for the standard errors (default 64) */
  unsigned long seed;    /* GSL mt19937 seed; same seed => same result */
  int want_grad;
  mv_loss_ws *objective; /* the terms whose per-sample forms are sampled;
                            NULL: the loss of loss.h (data fit + label
                            noise).  Sized for the problem's m, m*; used,
                            not freed (not shared between threads) */
  /* progress callback (may be NULL), called with the fraction done */
  void (*progress) (void *ctx, double fraction);
  void *progress_ctx;
} mv_mc_params;

typedef struct {
  size_t m, d;
  double loss, loss_se;
  double *gV, *gW;       /* m x d gradient estimates (NULL if !want_grad) */
  double *gV_se, *gW_se; /* their standard errors */
  size_t samples;
  size_t batches;        /* batches used for the standard errors */
  size_t rank;           /* dimension k of the span that was sampled */
} mv_mc_result;

void mv_mc_params_default (mv_mc_params *p);
int mv_mc_result_init (mv_mc_result *r, size_t m, size_t d, int want_grad);
void mv_mc_result_clear (mv_mc_result *r);
int mv_mc_estimate (mv_mc_result *r, const mv_problem *pb,
                    const mv_mc_params *par);

#ifdef __cplusplus
}
#endif
#endif
