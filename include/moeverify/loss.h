/* Population loss and gradient (MATH.md §1-2).
 *
 * L is a weighted list of term types (term.h), by default
 * [noise 1, datafit 1]; the Gram-level functions below sum the list, and
 * the raw level is built on their dL/dG and Gram Hessian, so a new term
 * gets the raw gradient and Hessian for free.
 *
 * Unit vectors are indexed  [v_1..v_m, w_1..w_m, v*_1..v*_m*, w*_1..w*_m*]
 * (n = 2m + 2m*).  L depends on the parameters only through their Gram
 * matrix G; the Gram-level functions return L and dL/dG, on which both the
 * full-parameter gradient (chain rule through the normalisation) and the
 * dimension-free flow are built. */
#ifndef MOEVERIFY_LOSS_H
#define MOEVERIFY_LOSS_H

#include <stddef.h>
#include <mpfr.h>
#include <moeverify/mag.h>
#include <moeverify/expect.h>
#include <moeverify/problem.h>
#include <moeverify/term.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  mv_mag err;        /* |L - exact| <= err (absolute; a magnitude, so it
                        does not underflow at any precision) */
  mv_mag grad_err;   /* bound on every |dL/dG_kl| (Gram level) or on every
                        gradient component (raw level) error */
  double abs_terms;  /* sum of |weighted pair terms|: L is a difference of
                        terms of this size */
  double cond;       /* abs_terms / |L| (condition number of the sum) */
  unsigned max_terms;/* most series terms used by any pair */
  mpfr_prec_t prec;  /* target precision (MV_PREC_DOUBLE: double path) */
} mv_loss_info;

typedef struct mv_loss_ws mv_loss_ws;

/* Workspace for m students, mstar teachers at precision prec
 * (MV_PREC_DOUBLE selects the double path only: no MPFR tables). */
mv_loss_ws *mv_loss_alloc (size_t m, size_t mstar, mpfr_prec_t prec);
void mv_loss_free (mv_loss_ws *ws);
mv_expect_ws *mv_loss_expect (mv_loss_ws *ws);
/* The m and m* the workspace was allocated for (either may be NULL). */
void mv_loss_shape (const mv_loss_ws *ws, size_t *m, size_t *mstar);

/* The objective.  A new workspace holds [noise 1, datafit 1]: the noise
 * constant first, so the pair sum starts from it as it always has (the
 * summation order fixes the last bits of L).  Terms are summed in list
 * order.  mv_loss_add_term appends weight * type (MV_EINVAL: NULL type or
 * gram_d, non-finite weight); mv_loss_clear_terms empties the list. */
int mv_loss_add_term (mv_loss_ws *ws, const mv_loss_term_type *type,
                      double weight);
void mv_loss_clear_terms (mv_loss_ws *ws);
/* Append the nonzero coefficients of r (NULL: none) as terms, in the order
 * aux, ortho, ortho_gated, var (term.h): with every coefficient 0 the list,
 * and so every result, is unchanged.  MV_EINVAL (nothing appended) when a
 * coefficient is negative or not finite. */
int mv_loss_add_regularizers (mv_loss_ws *ws, const mv_regularizers *r);
size_t mv_loss_nterms (const mv_loss_ws *ws);
/* Term i (NULL when i >= nterms) and its weight (weight may be NULL). */
const mv_loss_term_type *mv_loss_term (const mv_loss_ws *ws, size_t i,
                                       double *weight);

/* Gram level.  G: n x n row-major, symmetric, unit diagonal.  dLdG (may be
 * NULL): n x n, entry (k,l) = dL/dG_kl where G_kl = G_lk is one variable;
 * diagonal and teacher-teacher entries are set to 0. */
int mv_loss_gram_d (double *L, double *dLdG, mv_loss_info *info,
                    const double *G, double noise_var, mv_loss_ws *ws);
int mv_loss_gram (mpfr_t L, mpfr_t *dLdG, mv_loss_info *info,
                  mpfr_t *G, double noise_var, mv_loss_ws *ws);

/* Free Gram variables: the entries G_kl, k < l, k < 2m (at least one student
 * vector), numbered row-major over that part of the upper triangle;
 * teacher-teacher entries are constants. */
size_t mv_loss_nvar (const mv_loss_ws *ws);
/* Variable index of (k,l), k != l, either order; (size_t)-1 for
 * teacher-teacher, diagonal or out-of-range entries. */
size_t mv_loss_var (const mv_loss_ws *ws, size_t k, size_t l);
/* L, dL/dG (may be NULL; as mv_loss_gram_d) and the Hessian H (may be NULL):
 * nvar x nvar, row-major, symmetric, H[a*nvar+b] = d^2L/dG_a dG_b over the
 * variable indices above (G_kl = G_lk one variable).  L, dLdG and *info are
 * those of mv_loss_gram_d bit for bit.  H has no error bound (see
 * mv_expect_pair_hess_d). */
int mv_loss_gram_hess_d (double *L, double *dLdG, double *H,
                         mv_loss_info *info, const double *G,
                         double noise_var, mv_loss_ws *ws);

/* Per-sample objective for Monte Carlo and SGD: val[s] and D (row stride
 * ldd, 2m partials; may be NULL) are set to the sum of the terms' sample_d
 * (term.h) over the b rows of projections P (stride ldp >= n), with label
 * noise eps (may be NULL).  The noise term is skipped (eps carries it); any
 * other term without sample_d is MV_EINVAL. */
int mv_loss_sample_d (double *val, double *D, size_t ldd, const double *P,
                      size_t ldp, const double *eps, size_t b,
                      mv_loss_ws *ws);

/* Terms without a per-sample form (sample_d NULL: ratios or products of
 * population means, such as the specialization regularizers), other than
 * the noise constant, whose samples are the label noise.  SGD trains on the
 * per-sample forms of the other terms and adds these terms' exact
 * closed-form gradient at every step (sgd.h).
 *  mv_loss_ngram_only: how many the objective holds;
 *  mv_loss_sample_partial_d: as mv_loss_sample_d over the terms with a
 *    per-sample form, skipping (not refusing) the others;
 *  mv_loss_gram_only_d: as mv_loss_gram_d (no error bounds) over them only
 *    (L = 0 and dLdG = 0 when there are none);
 *  mv_loss_eval_vec_gram_only_d: their value and raw gradient from raw
 *    vectors, the chain rule of mv_loss_eval_vec_d (L, gV, gW may be
 *    NULL). */
size_t mv_loss_ngram_only (const mv_loss_ws *ws);
int mv_loss_sample_partial_d (double *val, double *D, size_t ldd,
                              const double *P, size_t ldp, const double *eps,
                              size_t b, mv_loss_ws *ws);
int mv_loss_gram_only_d (double *L, double *dLdG, const double *G,
                         double noise_var, mv_loss_ws *ws);
int mv_loss_eval_vec_gram_only_d (double *L, double *gV, double *gW,
                                  const double *V, const double *W,
                                  const double *Vt, const double *Wt,
                                  size_t d, double noise_var, mv_loss_ws *ws);

/* Raw-parameter level: L and its gradient with respect to the raw student
 * vectors v_i, w_i (m x d each, row-major; either may be NULL). */
int mv_loss_eval_d (double *L, double *gV, double *gW, mv_loss_info *info,
                    const mv_problem *pb, mv_loss_ws *ws);
/* The same from raw vectors given directly (rows of V, W: m x d; Vt, Wt:
 * m* x d), without a problem object: the flows' right-hand side. */
int mv_loss_eval_vec_d (double *L, double *gV, double *gW, mv_loss_info *info,
                        const double *V, const double *W, const double *Vt,
                        const double *Wt, size_t d, double noise_var,
                        mv_loss_ws *ws);
int mv_loss_eval (mpfr_t L, mpfr_t *gV, mpfr_t *gW, mv_loss_info *info,
                  const mv_problem *pb, mv_loss_ws *ws);
/* The same from raw vectors at any precision (rounded to the working
 * precision), without a problem object: the MPFR flows' right-hand side. */
int mv_loss_eval_vec (mpfr_t L, mpfr_t *gV, mpfr_t *gW, mv_loss_info *info,
                      mpfr_t const *V, mpfr_t const *W, mpfr_t const *Vt,
                      mpfr_t const *Wt, size_t d, double noise_var,
                      mv_loss_ws *ws);

/* The Gram matrix (n x n, working precision) of the unit vectors of the
 * last MPFR raw-level evaluation (mv_loss_eval, mv_loss_eval_vec), as the
 * loss saw it; NULL before one. */
mpfr_t *mv_loss_unit_gram (mv_loss_ws *ws);

/* Largest problems the dense raw Hessian accepts: 2md and the number of free
 * Gram variables (mv_loss_nvar; the Gram Hessian has nvar^2 entries). */
#define MV_LOSS_HESS_RAW_MAX 2000
#define MV_LOSS_HESS_RAW_MAXVAR 4096

/* Raw-parameter Hessian (double path; proofs/loss-gradient.md, "Raw
 * Hessian").  theta = [V rows (m x d), W rows (m x d)], the layout of the
 * gradient; H: (2md) x (2md), row-major, symmetric,
 * H[a * 2md + b] = d2L/dtheta_a dtheta_b.  L (may be NULL) and gV, gW (may be
 * NULL) are those of mv_loss_eval_d bit for bit.  No error bound (see
 * mv_loss_gram_hess_d).  Cost O((md)^2 n + m^2 n^2 d) time, (2md)^2 + nvar^2
 * memory: MV_EINVAL when 2md > MV_LOSS_HESS_RAW_MAX or
 * nvar > MV_LOSS_HESS_RAW_MAXVAR.  Scratch is allocated per call. */
int mv_loss_hess_raw_d (double *H, double *L, double *gV, double *gW,
                        const mv_problem *pb, mv_loss_ws *ws);
/* The same from raw vectors (as mv_loss_eval_vec_d): the Jacobian of the
 * full flow's implicit steppers, without a problem object. */
int mv_loss_hess_raw_vec_d (double *H, double *L, double *gV, double *gW,
                            const double *V, const double *W, const double *Vt,
                            const double *Wt, size_t d, double noise_var,
                            mv_loss_ws *ws);

#ifdef __cplusplus
}
#endif
#endif
