/* The specialization regularizers side by side (MATH.md §5,
 * proofs/specialization-regularizers.md, proofs/claim-specialization.md):
 * at a point, the values of the data fit L and of L_o, L_o_gated, L_v,
 * L_aux, each as its own single-term objective (term.h), their gradients
 * with respect to the raw student vectors, and the pairwise cosines of
 * those gradients.
 *
 * Two ways to the same inner products of raw gradients:
 *  - raw: the gradients themselves (mv_loss_eval_vec_d), d-vectors;
 *  - Gram level: for functions A, B of G with g^A = dA/dG, g^B = dB/dG
 *    (loss.h convention) and M^X = g^X G,
 *      <∇_θ A, ∇_θ B> = Σ_{k<2m} [ (g^A G g^B)_kk − M^A_kk M^B_kk ] / r_k²
 *    (r_k the raw norms, constant along both flows): the polarisation of
 *    the reduced flow's |∇L|², so cosines along a reduced trajectory cost
 *    no d-vectors.
 * A gradient whose norm is within its error bound of zero (L_aux's is
 * exactly zero) has no direction: its cosines are NAN ("undefined"). */
#ifndef MOEVERIFY_SPECIALIZE_H
#define MOEVERIFY_SPECIALIZE_H

#include <stddef.h>
#include <moeverify/loss.h>
#include <moeverify/traj.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The objectives, in this order everywhere (arrays of MV_SPEC_NOBJ, or
 * MV_SPEC_NOBJ² row-major for cosines and inner products). */
enum {
  MV_SPEC_FIT = 0,      /* L: noise constant + data fit (the plain loss) */
  MV_SPEC_ORTHO,        /* L_o, ungated */
  MV_SPEC_ORTHO_GATED,  /* L_o_gated */
  MV_SPEC_VAR,          /* L_v */
  MV_SPEC_AUX,          /* L_aux */
  MV_SPEC_NOBJ
};

/* "L", "L_o", "L_o_gated", "L_v", "L_aux"; NULL out of range. */
const char *mv_spec_name (size_t a);
/* The regularizer key of objective a in the spec's "regularizers" ("aux",
 * "ortho", "ortho_gated", "var"); NULL for MV_SPEC_FIT. */
const char *mv_spec_key (size_t a);

typedef struct mv_spec_ws mv_spec_ws;

/* Double-path workspace for m students and mstar teachers: one loss
 * workspace per objective, each holding that objective alone. */
mv_spec_ws *mv_spec_alloc (size_t m, size_t mstar);
void mv_spec_free (mv_spec_ws *ws);
/* The single-objective loss workspace of a (NULL out of range). */
mv_loss_ws *mv_spec_loss (mv_spec_ws *ws, size_t a);

/* Gram level.  val (NOBJ, may be NULL): the values; err (NOBJ, may be
 * NULL): their error bounds; dLdG (NOBJ x n x n, may be NULL): each
 * objective's dX/dG as mv_loss_gram_d; gerr (NOBJ, may be NULL): bounds on
 * every entry of it. */
int mv_spec_gram_d (double *val, double *err, double *dLdG, double *gerr,
                    const double *G, double noise_var, mv_spec_ws *ws);

/* Raw level, from raw vectors (as mv_loss_eval_vec_d).  grad (NOBJ x 2md,
 * may be NULL): each objective's gradient, V rows then W rows; gerr
 * (NOBJ, may be NULL): bounds on every component. */
int mv_spec_raw_d (double *val, double *err, double *grad, double *gerr,
                   const double *V, const double *W, const double *Vt,
                   const double *Wt, size_t d, double noise_var,
                   mv_spec_ws *ws);

/* Inner products K (NOBJ², symmetric) of the raw gradients, Gram level:
 * dLdG as from mv_spec_gram_d, norms the raw norms (n; only the 2m student
 * entries are read).  scratch: NOBJ * n * n doubles. */
void mv_spec_gram_products_d (double *K, const double *dLdG, const double *G,
                              const double *norms, size_t m, size_t mstar,
                              double *scratch);
/* Bound on |∇_θ X| − |computed| for Gram-level gradient entries with
 * error gerr each: sqrt(Σ_k (n gerr / r_k)²). */
double mv_spec_gram_norm_err (double gerr, const double *norms, size_t m,
                              size_t mstar);
/* The same from explicit raw gradients (NOBJ x len). */
void mv_spec_raw_products_d (double *K, const double *grad, size_t len);

/* Cosines (NOBJ²) from inner products K and norm error bounds nerr (NOBJ,
 * may be NULL: exact zero only): cos[a][b] = K_ab / sqrt(K_aa K_bb),
 * clamped to [-1, 1], exactly 1 on the diagonal; NAN when |∇a| or |∇b|
 * is <= its bound (no direction).  Returns the number of objectives whose
 * gradient is undefined in that sense. */
size_t mv_spec_cosines (double *cos, const double *K, const double *nerr);

/* All of it at Gram matrix G with norms: val, err (NOBJ each), gnorm
 * (NOBJ: |∇_θ X|, may be NULL), cos (NOBJ²).  Any output may be NULL
 * except cos. */
int mv_spec_point_d (double *val, double *err, double *gnorm, double *cos,
                     const double *G, const double *norms, double noise_var,
                     mv_spec_ws *ws);

/* Along a recorded flow trajectory (norms: tr->norms0, which gradient
 * flows of any function of G conserve; not an SGD record, whose norms
 * move): row r's values into
 * val[r * NOBJ ..] and cosines into cos[r * NOBJ² ..] (val may be NULL). */
int mv_spec_traj_d (double *val, double *cos, const mv_traj *tr,
                    double noise_var, mv_spec_ws *ws);

/* Students that duplicate a teacher at row r of tr: for each teacher,
 * the students whose |expert alignment| with it is >= 0.3 and largest
 * among the teachers (each student counted once), minus one when there is
 * any (proofs/claim-terminal.md's 0.3). */
size_t mv_spec_redundant (const mv_traj *tr, size_t row);

#ifdef __cplusplus
}
#endif
#endif
