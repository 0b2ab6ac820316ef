/* The pruned model as a spec (prune.h): explicit vectors realising its
 * Gram matrix, so that `moeverify flow` (or a reference recipe) can
 * fine-tune it again (a spec file cannot hold a Gram matrix). */
#include "check/prune.h"

#include <moeverify/error.h>
#include <moeverify/io.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <gsl/gsl_eigen.h>

/* Rows a0 .. a0 + k - 1 of X (q x q), row a scaled by scale[a] (NULL: 1). */
static json_t *
rows_json (const gsl_matrix *X, size_t a0, size_t k, const double *scale)
{
  json_t *arr = json_array ();
  for (size_t a = a0; arr && a < a0 + k; a++)
    {
      json_t *row = json_array ();
      for (size_t b = 0; row && b < X->size2; b++)
        json_array_append_new (row, json_real (gsl_matrix_get (X, a, b) * (scale ? scale[a] : 1)));
      json_array_append_new (arr, row);
    }
  return arr;
}

/* X (q x q) with X X^T = G: G = U diag(lambda) U^T, X = U diag(sqrt(max(lambda, 0))),
 * rows normalised.  A pruned model near its optimum has students almost on
 * their teachers, so G is nearly singular and a Cholesky factorisation can
 * fail by rounding; the eigenvalues clamped at 0 cost nothing beyond it. */
static int
realise (gsl_matrix *X, const double *G, size_t q)
{
  gsl_matrix *A = gsl_matrix_alloc (q, q), *U = gsl_matrix_alloc (q, q);
  gsl_vector *lam = gsl_vector_alloc (q);
  gsl_eigen_symmv_workspace *w = gsl_eigen_symmv_alloc (q);
  int s = A && U && lam && w ? MV_OK : mv_error_set (MV_ENOMEM, "prune: out of memory");
  for (size_t a = 0; !s && a < q; a++)
    for (size_t b = 0; b < q; b++)
      gsl_matrix_set (A, a, b, G[a * q + b]);
  if (!s && gsl_eigen_symmv (A, lam, U, w))
    s = mv_error_set (MV_ENOCONV, "prune: eigendecomposition of the pruned Gram matrix failed");
  for (size_t a = 0; !s && a < q; a++)
    {
      double n2 = 0;
      for (size_t b = 0; b < q; b++)
        {
          double x = gsl_matrix_get (U, a, b) * sqrt (fmax (gsl_vector_get (lam, b), 0));
          gsl_matrix_set (X, a, b, x), n2 += x * x;
        }
      for (size_t b = 0; b < q; b++)
        gsl_matrix_set (X, a, b, gsl_matrix_get (X, a, b) / sqrt (n2));
    }
  gsl_matrix_free (A), gsl_matrix_free (U), gsl_vector_free (lam), gsl_eigen_symmv_free (w);
  return s;
}

int
mv_prune_write_spec (const char *path, const double *Gp, const double *norms, size_t ms,
                     const char *comment)
{
  size_t q = 4 * ms;
  gsl_matrix *X = gsl_matrix_alloc (q, q);
  int s = X ? realise (X, Gp, q) : mv_error_set (MV_ENOMEM, "prune: out of memory");
  json_t *doc = s ? NULL : json_pack ("{s:I, s:{s:I, s:o, s:o}, s:{s:I, s:o, s:o}, s:s}", "d",
                                      (json_int_t) q, "teacher", "m", (json_int_t) ms, "V",
                                      rows_json (X, 2 * ms, ms, NULL), "W",
                                      rows_json (X, 3 * ms, ms, NULL), "student", "m",
                                      (json_int_t) ms, "V", rows_json (X, 0, ms, norms), "W",
                                      rows_json (X, ms, ms, norms), "comment", comment);
  char *text = doc ? json_dumps (doc, JSON_COMPACT | JSON_REAL_PRECISION (17)) : NULL;
  if (!s)
    s = text ? mv_io_write_atomic (path, text, strlen (text))
             : mv_error_set (MV_ENOMEM, "prune: out of memory");
  free (text);
  json_decref (doc);
  gsl_matrix_free (X);
  return s;
}
