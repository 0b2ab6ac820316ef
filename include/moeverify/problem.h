/* Problem specifications: dimension, teacher and student, label noise
 * (MATH.md §1).  Read from JSON (format in README.md), validated with
 * one-line errors naming file and key. */
#ifndef MOEVERIFY_PROBLEM_H
#define MOEVERIFY_PROBLEM_H

#include <stddef.h>
#include <mpfr.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mv_problem_priv mv_problem_priv;

/* Coefficients of the specialization regularizers (MATH.md §5; spec key
 * "regularizers", each optional, finite and >= 0, default 0): the
 * objective is L + aux L_aux + ortho L_o + ortho_gated L_og + var L_v
 * (term.h, mv_loss_add_regularizers). */
typedef struct {
  double aux, ortho, ortho_gated, var;
} mv_regularizers;

typedef struct {
  char *name;          /* file name (or "<string>") used in messages */
  size_t d;            /* input dimension */
  size_t m;            /* student experts */
  size_t mstar;        /* teacher experts */
  double noise_var;    /* label-noise variance s^2 (adds s^2/2 to L) */
  mv_regularizers reg; /* regularizer coefficients (all 0: the plain L) */
  mv_problem_priv *priv;
} mv_problem;

/* Parse a spec.  On error returns MV_EPARSE/MV_EINVAL/MV_EIO with a message
 * "NAME: key.path: problem" and leaves *pb cleared. */
int mv_problem_read (mv_problem *pb, const char *path);
int mv_problem_parse (mv_problem *pb, const char *text, const char *name);
void mv_problem_clear (mv_problem *pb);

/* The checks of mv_problem_set_d alone, nothing built: sizes >= 1, the
 * arrays present, finite entries, every row within the norm rule (|v|^2 in
 * double finite and >= DBL_MIN), noise_var finite and >= 0.  MV_EINVAL
 * with "<arrays>: student.V[3]: ..." naming the first bad row.  O((m + m*) d):
 * for callers that evaluate raw vectors directly (mv_loss_eval_vec_d). */
int mv_problem_check_d (size_t d, size_t m, size_t mstar, const double *V,
                        const double *W, const double *Vt, const double *Wt,
                        double noise_var);

/* Build a problem from explicit double vectors (row-major, m x d and
 * mstar x d); the arrays are copied. */
int mv_problem_set_d (mv_problem *pb, size_t d, size_t m, size_t mstar,
                      const double *V, const double *W,
                      const double *Vt, const double *Wt, double noise_var);

/* Raw vectors (rows of V, W: student routers/experts; Vt, Wt: teacher),
 * row-major.  Generated teachers are orthonormalised at the requested
 * precision, so every precision sees the same mathematical teacher.  Output
 * arrays: m*d and mstar*d entries, mpfr_t already initialised (their own
 * precision is used); NULL skips that part.
 *
 * Generated vectors (init blocks) are formed on the first call and kept in
 * the problem; that first call must not race with another on the same
 * problem.  When teacher and student are both init blocks the spec may ask
 * for d far beyond memory (up to 10^15); forming such vectors fails with
 * MV_EINVAL "NAME: d = ...: too large to form vectors; use the reduced
 * flow" (limit: 10^9 entries per m x d or 2m* x d matrix), before any
 * output is written. */
int mv_problem_vectors_d (double *V, double *W, double *Vt, double *Wt,
                          const mv_problem *pb);
int mv_problem_vectors (mpfr_t *V, mpfr_t *W, mpfr_t *Vt, mpfr_t *Wt,
                        const mv_problem *pb);

/* ---- Gram matrix (state of the reduced flow, MATH.md §3) ----
 *
 * The n = 2m + 2m* unit vectors in the order
 *   [v̄_1..v̄_m, w̄_1..w̄_m, v̄*_1..v̄*_m*, w̄*_1..w̄*_m*]
 * (routers, experts, teacher routers, teacher experts).  G is n x n
 * row-major, symmetric, unit diagonal exactly, entries clamped to [-1, 1];
 * norms (n entries, may be NULL) holds the raw ‖v_i‖, ‖w_i‖, then 1 for
 * every teacher vector (their norms do not enter the model). */

/* G and norms from the problem's actual vectors (mv_problem_vectors_d), so
 * the full and the reduced flow can start from the same point.  Costs
 * O(n^2 d) and n*d doubles of scratch; fails like mv_problem_vectors_d when
 * the vectors cannot be formed. */
int mv_problem_gram_d (double *G, double *norms, const mv_problem *pb);

/* A sample of (G, norms) with exactly the law of mv_problem_gram_d over the
 * student seed, without forming d-vectors: cost independent of d.  Needs
 * teacher.init (orthonormal, either layout) and student.init (gaussian);
 * anything else (explicit vectors, a student replaced by
 * mv_problem_set_student_d) is MV_EINVAL.  Deterministic for the student
 * seed (mt19937), the teacher seed is irrelevant (rotation invariance):
 * distribution-identical to mv_problem_gram_d, not draw-identical.  When
 * router_orthogonal, G[v_i, w_i] is exactly 0; the teacher block is exactly
 * [[I, C], [C^T, I]] (C = cross, 0 for layout "all"). */
int mv_problem_gram_sample_d (double *G, double *norms, const mv_problem *pb);

/* The low-dimensional coordinates behind mv_problem_gram_sample_d (same
 * draws): rows [V (raw routers, after the router-orthogonal step), W (raw
 * experts), Vt, Wt (unit teacher)], *dim columns, row-major with stride
 * *dim.  *dim = r + min(2m, d - r), r = rank of the teacher Gram (2m*
 * unless ||C||_2 = 1); X must hold n * (2m* + 2m) doubles. */
int mv_problem_lowdim_d (double *X, size_t *dim, const mv_problem *pb);

/* Replace the student's raw vectors (e.g. to perturb for finite differences
 * or to load a flow state). */
int mv_problem_set_student_d (mv_problem *pb, const double *V, const double *W);

/* Canonical JSON of the spec as parsed (for run records); malloc'd. */
char *mv_problem_to_json (const mv_problem *pb);

#ifdef __cplusplus
}
#endif
#endif
