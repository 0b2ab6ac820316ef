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

typedef struct {
  char *name;          /* file name (or "<string>") used in messages */
  size_t d;            /* input dimension */
  size_t m;            /* student experts */
  size_t mstar;        /* teacher experts */
  double noise_var;    /* label-noise variance s^2 (adds s^2/2 to L) */
  mv_problem_priv *priv;
} mv_problem;

/* Parse a spec.  On error returns MV_EPARSE/MV_EINVAL/MV_EIO with a message
 * "NAME: key.path: problem" and leaves *pb cleared. */
int mv_problem_read (mv_problem *pb, const char *path);
int mv_problem_parse (mv_problem *pb, const char *text, const char *name);
void mv_problem_clear (mv_problem *pb);

/* Build a problem from explicit double vectors (row-major, m x d and
 * mstar x d); the arrays are copied. */
int mv_problem_set_d (mv_problem *pb, size_t d, size_t m, size_t mstar,
                      const double *V, const double *W,
                      const double *Vt, const double *Wt, double noise_var);

/* Raw vectors (rows of V, W: student routers/experts; Vt, Wt: teacher),
 * row-major.  Generated teachers are orthonormalised at the requested
 * precision, so every precision sees the same mathematical teacher.  Output
 * arrays: m*d and mstar*d entries, mpfr_t already initialised (their own
 * precision is used). */
int mv_problem_vectors_d (double *V, double *W, double *Vt, double *Wt,
                          const mv_problem *pb);
int mv_problem_vectors (mpfr_t *V, mpfr_t *W, mpfr_t *Vt, mpfr_t *Wt,
                        const mv_problem *pb);

/* Replace the student's raw vectors (e.g. to perturb for finite differences
 * or to load a flow state). */
int mv_problem_set_student_d (mv_problem *pb, const double *V, const double *W);

/* Canonical JSON of the spec as parsed (for run records); malloc'd. */
char *mv_problem_to_json (const mv_problem *pb);

#ifdef __cplusplus
}
#endif
#endif
