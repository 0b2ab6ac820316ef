/* Private representation of a parsed problem, shared by problem.c (parsing,
 * validation, JSON), problem_init.c (generated vectors, vector export) and
 * problem_gram.c (Gram matrices, the dimension-free initial sample). */
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

/* Largest matrix (entries) that may be formed: beyond this the request is a
 * typo or a job for the reduced flow, not vectors we can hold in memory. */
#define MV_PROBLEM_MAX_ENTRIES 1000000000.0

enum { MV_TEACHER_EXPLICIT = 0, MV_TEACHER_ORTHONORMAL = 1 };
enum { MV_LAYOUT_ALL = 0, MV_LAYOUT_SEPARATE = 1 };

/* Generated vectors (student.init, teacher.init) are not formed at parse
 * time, so a spec with huge d costs O(1) to parse: the O(d) arrays below
 * are filled on first demand by mv_problem_vectors*, then kept (a cache
 * written through the const problem: not safe for concurrent first use). */
struct mv_problem_priv {
  mv_entries sV, sW;       /* student raw vectors, m x d (for a generated
                              student: x == NULL until first formed) */
  int student_gen;         /* 1: student from student.init (until replaced
                              by mv_problem_set_student_d) */
  unsigned long sseed;     /* student.init */
  int router_orthogonal;
  int teacher_kind;
  mv_entries tV, tW;       /* explicit teacher, mstar x d */
  /* orthonormal teacher */
  unsigned long tseed;
  int layout;
  mv_entries cross;        /* mstar x mstar (layout separate; zero if absent) */
  double *G;               /* 2mstar Gaussian vectors of length d, vector j
                              at G + j*d (NULL until first needed) */
  double *tVd, *tWd;       /* teacher in double (explicit: copied at parse;
                              orthonormal: NULL until first needed) */
  json_t *spec;            /* canonical spec (for mv_problem_to_json) */
};

/* Size of the buffers holding a file name for messages: a whole path
 * (PATH_MAX is 4096 on Linux) fits; longer names are cut with "...". */
#define MV_NAME_MAX 4352

/* problem.c */
void mv_entries_free (mv_entries *e);
/* Copy src into dst (size n) with control characters replaced, for
 * one-line messages. */
void mv_problem_sanitize (char *dst, size_t n, const char *src);
/* MV_EPARSE "NAME: line L, column C: number ... underflows to 0" for the
 * first JSON number of text (a document jansson accepted) that jansson
 * would silently store as 0 although it is not zero. */
int mv_json_check_underflow (const char *text, size_t len, const char *name);
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
int mv_problem_teacher_d (const mv_problem *pb);
/* Upper S with S^T S = I - C^T C (n x n row-major); a pivot that rounds to
 * <= 0 (||C||_2 = 1) gives S_kk = 0 and a zero row k. */
void mv_problem_cross_chol_d (double *S, const double *C, size_t n);
/* MV_EINVAL "NAME: d = ...: too large to form vectors; use the reduced
 * flow" if forming the generated student (student != 0) or teacher
 * (teacher != 0) would exceed MV_PROBLEM_MAX_ENTRIES per matrix. */
int mv_problem_check_formable (const mv_problem *pb, int student,
                               int teacher);
/* Largest singular value of the cross matrix, in double. */
int mv_problem_cross_norm (double *norm, const mv_entries *C);

#endif
