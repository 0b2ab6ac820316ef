/* STUB: to be replaced */
#include <moeverify/problem.h>
#include <moeverify/error.h>
int mv_problem_read (mv_problem *pb, const char *path) { return MV_EIO; }
int mv_problem_parse (mv_problem *pb, const char *text, const char *name) { return MV_EPARSE; }
void mv_problem_clear (mv_problem *pb) {}
int mv_problem_set_d (mv_problem *pb, size_t d, size_t m, size_t mstar, const double *V, const double *W, const double *Vt, const double *Wt, double noise_var) { return MV_EINVAL; }
int mv_problem_set_student_d (mv_problem *pb, const double *V, const double *W) { return MV_EINVAL; }
char *mv_problem_to_json (const mv_problem *pb) { return 0; }
