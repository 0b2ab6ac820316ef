/* Private representation of a parsed problem, shared by problem.c (parsing,
 * validation, JSON) and problem_init.c (generated vectors, vector export). */
#ifndef MV_PROBLEM_PRIV_H
#define MV_PROBLEM_PRIV_H

#include <stddef.h>
#include <jansson.h>
#include <mpfr.h>
#include <moeverify/problem.h>

/* A rows x cols matrix of user-given entries.  x holds every entry rounded
 * to double; s (NULL if every entry was a JSON number) holds the decimal
 * string of entries given as strings, so they can be re-read exactly at any
 * MPFR precision (NULL slots are exact doubles). */
typedef struct {
  size_t rows, cols;
  double *x;
  char **s;
} mv_entries;

enum { MV_TEACHER_EXPLICIT = 0, MV_TEACHER_ORTHONORMAL = 1 };
enum { MV_LAYOUT_ALL = 0, MV_LAYOUT_SEPARATE = 1 };

struct mv_problem_priv {
  mv_entries sV, sW;       /* student raw vectors, m x d */
  int teacher_kind;
  mv_entries tV, tW;       /* explicit teacher, mstar x d */
  /* orthonormal teacher */
  unsigned long tseed;
  int layout;
  mv_entries cross;        /* mstar x mstar (layout separate; zero if absent) */
  double *G;               /* 2mstar Gaussian vectors of length d, vector j
                              at G + j*d */
  double *tVd, *tWd;       /* teacher in double (computed once at parse) */
  json_t *spec;            /* canonical spec (for mv_problem_to_json) */
};

/* problem.c */
void mv_entries_free (mv_entries *e);
/* entry (r, c) at precision of out, RNDN */
void mv_entries_get (mpfr_t out, const mv_entries *e, size_t r, size_t c);

/* problem_init.c */
/* Student Gaussian init (draw order documented there): fills V, W (m x d). */
void mv_problem_gen_student (double *V, double *W, size_t m, size_t d,
                             unsigned long seed, int router_orthogonal);
/* Teacher Gaussian matrix: 2mstar vectors of length d. */
void mv_problem_gen_teacher_gauss (double *G, size_t mstar, size_t d,
                                   unsigned long seed);
/* Double teacher from priv->G (and cross); fills priv->tVd, priv->tWd. */
int mv_problem_teacher_d (mv_problem *pb);
/* Largest singular value of the cross matrix, in double. */
int mv_problem_cross_norm (double *norm, const mv_entries *C);

#endif
