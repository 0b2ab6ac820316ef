/* Claim 7 (claim_prune.c) helpers: the spectra at the optimum of the pruned
 * model (prune_spectrum.c) and the rate fits of a fine-tuning trajectory
 * (prune_fit.c).  The relation they are compared by is derived in
 * proofs/claim-prune.md ("Derivation"). */
#ifndef MV_CHECK_PRUNE_H
#define MV_CHECK_PRUNE_H

#include <stddef.h>
#include <moeverify/traj.h>
#include <mpfr.h>

/* Counts for an m = m* = ms model: free Gram variables (the reduced flow's
 * state), in-span tangent directions (each of the 2ms student vectors
 * moves in the teacher span, orthogonal to itself), out-of-span blocks. */
#define MV_PRUNE_NV(ms) (6 * (ms) * (ms) - (ms))
#define MV_PRUNE_NIN(ms) (2 * (ms) * (2 * (ms) - 1))
#define MV_PRUNE_NOUT(ms) (2 * (ms))

/* The exact optimum G* (q x q, q = 4 ms) of the pruned model whose state
 * is Gp: student i's router and expert equal teacher sigma[i]'s (sigma a
 * permutation; NULL: the identity); the teacher block of Gp is kept. */
void mv_prune_optimum (double *Gs, const double *Gp, const size_t *sigma,
                       size_t ms);

/* Decay rates -Re(lambda) of the reduced flow's analytic Jacobian at G
 * (energy row and column left out), ascending, MV_PRUNE_NV(ms) of them;
 * *imag: the largest |Im(lambda)| (may be NULL). */
int mv_prune_jacobian_rates (double *rate, double *imag, const double *G,
                             const double *norms, size_t ms);

/* The Riemannian Hessian of L at the optimum G* (teacher block of Gs; norms
 * the pruned model's raw norms), in the flow's metric: the closed-form raw
 * Hessian (mv_loss_hess_raw_vec_d) at a realisation in d = 2ms + 1, on the
 * tangent space.  hin: its MV_PRUNE_NIN(ms) eigenvalues on the in-span
 * directions, hout: its MV_PRUNE_NOUT(ms) eigenvalues on the directions
 * out of the teacher span (each (d - 2ms)-fold in dimension d), both
 * ascending. */
int mv_prune_hessian (double *hin, double *hout, const double *Gs,
                      const double *norms, size_t ms);

/* The Jacobian's decay rates predicted from the Hessian: hin together with
 * hout[a] + hout[b], a <= b (out-of-span components enter the Gram matrix
 * quadratically), ascending, MV_PRUNE_NV(ms) of them. */
void mv_prune_predicted_rates (double *pred, const double *hin,
                               const double *hout, size_t ms);

/* Rates of a fine-tuning trajectory, from dist(t) = max |G(t) - G(end)|
 * over the free entries (no cancellation, unlike L).  NAN where there are
 * too few rows. */
typedef struct {
  double lmin;        /* smallest L recorded */
  double one;         /* one exponential over lo < dist < hi */
  double late;        /* one exponential over lo < dist < sqrt(lo hi): the
                         faster modes have died */
  double slow, fast;  /* two exponentials over lo < dist < hi, fitted to the
                         entry farthest from its end value at the window's
                         start, relative to dist */
  size_t rows;        /* rows in lo < dist < hi */
} mv_prune_fit;

void mv_prune_fit_rates (mv_prune_fit *f, const mv_traj *tr, double lo,
                         double hi);

/* The fine-tuning flow far below double precision (prune_mpfr.c): the
 * MPFR reference integrator (reference.h) at prec bits from the pruned
 * state Gp (norms: its raw norms) to t_end, rows every dt; the distance
 * max |G(t) - G*| to the exact optimum Gs is taken in MPFR and its decay
 * rate fitted (least squares on log) over lo < dist < hi. */
typedef struct {
  double rate;          /* NAN if fewer than 3 rows in the window */
  double rms;           /* of the fit's log residuals */
  double dmin;          /* smallest distance reached */
  size_t rows;          /* rows in the window */
  unsigned long steps;  /* integrator steps */
  double cpu_seconds;
} mv_prune_mpfr;

int mv_prune_mpfr_rate (mv_prune_mpfr *out, const double *Gp, const double *norms,
                        const double *Gs, size_t ms, double t_end, double dt, double lo,
                        double hi, mpfr_prec_t prec);

/* The pruned model whose state is Gp (4ms x 4ms, order [v, w, v*, w*];
 * norms its raw norms) as a spec with explicit vectors (from the
 * eigendecomposition of Gp: d = 4 ms, the Gram matrix realised to
 * rounding), to path (atomically).  comment: the spec's comment. */
int mv_prune_write_spec (const char *path, const double *Gp, const double *norms, size_t ms,
                         const char *comment);

#endif
