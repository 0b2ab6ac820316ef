/* Monte-Carlo estimates of the expert-specialization regularizers
 * (MATH.md §5; proofs/monte-carlo.md, "The specialization regularizers"),
 * independent of their closed forms: x ~ N(0, I_d) is sampled exactly in
 * the span of the student vectors (as mc.h), the integrands are evaluated
 * directly (π, He3, the indicator v̄_i·x > 0), and every result is a value
 * with a standard error.
 *
 * Population forms (a_i = v̄_i·x, b_i = w̄_i·x, π_i = π(a_i)):
 *   L_o       = Σ_{i≠k} M_ik² / (M_ii M_kk),  M_ik = E[He3(b_i) He3(b_k)]
 *   L_o_gated = the same with e_i = π_i He3(b_i)
 *   L_v       = −E[(1/(m−1)) Σ_i (π_i − π̄)²]          (a plain mean)
 *   L_aux     = m Σ_i f_i P_i,  f_i = P(a_i > 0),  P_i = E[π_i]
 * L_o, L_o_gated and L_aux are functions of several means (ratios,
 * products): they are estimated by the batch-means jackknife, which removes
 * the O(1/N) bias of the plug-in estimate (reported as *_bias) and gives
 * the delta-method standard error; L_v and the moments M by batch means.
 *
 * Per-batch ("per-token", arXiv 2505.22323 adapted to scalar experts): the
 * samples are cut into consecutive batches of T tokens; on each batch
 *   L_o^B   = Σ_{i≠k} <e_i,e_k>_B² / (<e_i,e_i>_B <e_k,e_k>_B),
 *             <e_i,e_k>_B = (1/T) Σ_t e_i(x_t) e_k(x_t)   (and gated),
 *   L_v^B   = −(1/T) Σ_t (1/(m−1)) Σ_i (π_it − π̄_t)²,
 *   L_aux^B = m Σ_i f_i^B P_i^B  (batch fraction with a_i > 0, batch mean
 *             of π_i);
 * reported as the mean over batches with its standard error.  Their
 * expectations differ from the population forms by O(1/T) (L_v^B: not at
 * all). */
#ifndef MOEVERIFY_MCREG_H
#define MOEVERIFY_MCREG_H

#include <stddef.h>
#include <moeverify/problem.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An estimate and its standard error. */
typedef struct {
  double value, se;
} mv_mc_stat;

typedef struct {
  size_t samples;      /* N (>= batches) */
  size_t batches;      /* B >= 2: batch means / jackknife (default 64) */
  size_t tokens;       /* T: tokens per batch of the per-batch definitions
                          (0: not estimated; else N / T >= 2 batches) */
  unsigned long seed;  /* GSL mt19937 seed; same seed => same result */
  void (*progress) (void *ctx, double fraction);   /* may be NULL */
  void *progress_ctx;
} mv_mcreg_params;

typedef struct {
  size_t m;
  size_t samples, batches;
  size_t rank;                  /* dimension of the span sampled */
  /* population forms; value: jackknife (bias-corrected) estimate */
  mv_mc_stat ortho, ortho_gated, var, aux;
  /* plug-in minus corrected estimate: the O(1/N) bias removed */
  double ortho_bias, ortho_gated_bias, aux_bias;
  /* m x m, row-major: second moments E[e_i e_k] (batch means) and the
   * expert cosines M_ik / sqrt(M_ii M_kk) (jackknife); L_o = Σ_{i≠k} cos² */
  double *mom, *mom_se, *cos, *cos_se;          /* e_i = He3(b_i) */
  double *mom_g, *mom_g_se, *cos_g, *cos_g_se;  /* e_i = π_i He3(b_i) */
  /* per-batch definitions (tokens = 0: not estimated, all NAN) */
  size_t tokens, token_batches;
  mv_mc_stat ortho_batch, ortho_gated_batch, var_batch, aux_batch;
} mv_mcreg_result;

void mv_mcreg_params_default (mv_mcreg_params *p);
int mv_mcreg_result_init (mv_mcreg_result *r, size_t m);
void mv_mcreg_result_clear (mv_mcreg_result *r);
/* L_v needs m >= 2 (its value and se are NAN for m = 1); L_o = 0 there. */
int mv_mcreg_estimate (mv_mcreg_result *r, const mv_problem *pb,
                       const mv_mcreg_params *par);

#ifdef __cplusplus
}
#endif
#endif
