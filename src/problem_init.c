/* STUB: to be replaced */
#include <moeverify/problem.h>
#include <moeverify/error.h>
int mv_problem_vectors_d (double *V, double *W, double *Vt, double *Wt, const mv_problem *pb) { return MV_EINVAL; }
int mv_problem_vectors (mpfr_t *V, mpfr_t *W, mpfr_t *Vt, mpfr_t *Wt, const mv_problem *pb) { return MV_EINVAL; }
