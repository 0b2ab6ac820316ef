/* The pruned model as a spec (prune.h): explicit vectors realising its
 * Gram matrix, so that `moeverify flow` (or a reference recipe) can
 * fine-tune it again. */
#include "check/prune.h"

#include <moeverify/error.h>
#include <moeverify/io.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_linalg.h>

/* Rows a0 .. a0 + k - 1 of L (q x q), row a scaled by scale[a] (NULL: 1). */
static json_t *
rows_json (const gsl_matrix *L, size_t a0, size_t k, const double *scale)
{
  json_t *arr = json_array ();
  for (size_t a = a0; arr && a < a0 + k; a++)
    {
      json_t *row = json_array ();
      for (size_t b = 0; row && b < L->size2; b++)
        json_array_append_new (row, json_real ((b <= a ? gsl_matrix_get (L, a, b) : 0)
                                               * (scale ? scale[a] : 1)));
      json_array_append_new (arr, row);
    }
  return arr;
}

int
mv_prune_write_spec (const char *path, const double *Gp, const double *norms, size_t ms,
                     const char *comment)
{
  size_t q = 4 * ms;
  gsl_matrix *L = gsl_matrix_alloc (q, q);
  if (!L)
    return mv_error_set (MV_ENOMEM, "prune: out of memory");
  for (size_t a = 0; a < q; a++)
    for (size_t b = 0; b < q; b++)
      gsl_matrix_set (L, a, b, Gp[a * q + b]);
  gsl_error_handler_t *old = gsl_set_error_handler_off ();
  int bad = gsl_linalg_cholesky_decomp1 (L);
  gsl_set_error_handler (old);
  if (bad)
    {
      gsl_matrix_free (L);
      return mv_error_set (MV_EDOM, "prune: the pruned Gram matrix is not positive definite");
    }
  json_t *doc = json_pack ("{s:I, s:{s:I, s:o, s:o}, s:{s:I, s:o, s:o}, s:s}", "d", (json_int_t) q,
                           "teacher", "m", (json_int_t) ms, "V", rows_json (L, 2 * ms, ms, NULL),
                           "W", rows_json (L, 3 * ms, ms, NULL), "student", "m", (json_int_t) ms,
                           "V", rows_json (L, 0, ms, norms), "W", rows_json (L, ms, ms, norms),
                           "comment", comment);
  char *text = doc ? json_dumps (doc, JSON_COMPACT | JSON_REAL_PRECISION (17)) : NULL;
  int s = text ? mv_io_write_atomic (path, text, strlen (text))
               : mv_error_set (MV_ENOMEM, "prune: out of memory");
  free (text);
  json_decref (doc);
  gsl_matrix_free (L);
  return s;
}
