/* Spectra at the optimum of the pruned model (prune.h): the decay rates of
 * the reduced flow's Jacobian J and the Riemannian Hessian of L in the
 * flow's metric, from two independent closed forms (the reduced flow's
 * analytic Jacobian; the raw Hessian built on the Gram Hessian).
 * proofs/claim-prune.md derives why -spec(J) is the in-span Hessian
 * spectrum together with the pairwise sums of the out-of-span one. */
#include "check/prune.h"

#include <moeverify/error.h>
#include <moeverify/flow.h>
#include <moeverify/hermite.h>
#include <moeverify/loss.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_sort.h>

/* Index of the vector slot a equals at the optimum: a student's router
 * (expert) is its teacher's router (expert). */
static size_t
twin (size_t a, const size_t *sigma, size_t ms)
{
  if (a >= 2 * ms)
    return a;
  size_t i = a % ms;
  return 2 * ms + (a / ms) * ms + (sigma ? sigma[i] : i);
}

void
mv_prune_optimum (double *Gs, const double *Gp, const size_t *sigma, size_t ms)
{
  size_t q = 4 * ms;
  for (size_t a = 0; a < q; a++)
    for (size_t b = 0; b < q; b++)
      Gs[a * q + b] = Gp[twin (a, sigma, ms) * q + twin (b, sigma, ms)];
}

int
mv_prune_jacobian_rates (double *rate, double *imag, const double *G,
                         const double *norms, size_t ms)
{
  size_t nv = MV_PRUNE_NV (ms);
  double *f = malloc ((nv + 1) * sizeof *f), *J = malloc ((nv + 1) * (nv + 1) * sizeof *J);
  gsl_matrix *A = gsl_matrix_alloc (nv, nv);
  gsl_vector_complex *ev = gsl_vector_complex_alloc (nv);
  gsl_eigen_nonsymm_workspace *w = gsl_eigen_nonsymm_alloc (nv);
  int s = f && J && A && ev && w ? MV_OK : mv_error_set (MV_ENOMEM, "prune: out of memory");
  if (!s)
    s = mv_flow_reduced_eval_d (f, J, G, norms, ms, ms, 0.0);
  if (!s)
    {
      for (size_t a = 0; a < nv; a++)
        for (size_t b = 0; b < nv; b++)
          gsl_matrix_set (A, a, b, J[a * (nv + 1) + b]);
      if (gsl_eigen_nonsymm (A, ev, w))
        s = mv_error_set (MV_ENOCONV, "prune: the Jacobian's eigenvalues did not converge");
    }
  double im = 0;
  for (size_t k = 0; !s && k < nv; k++)
    {
      gsl_complex z = gsl_vector_complex_get (ev, k);
      rate[k] = -GSL_REAL (z), im = fmax (im, fabs (GSL_IMAG (z)));
    }
  if (!s)
    gsl_sort (rate, 1, nv);
  if (imag)
    *imag = im;
  gsl_eigen_nonsymm_free (w), gsl_vector_complex_free (ev), gsl_matrix_free (A);
  free (f), free (J);
  return s;
}

/* Realisation of the optimum in d = 2ms + 1: teacher k is row k of the
 * Cholesky factor of the teacher Gram block (coordinates < 2ms), student
 * vector a is its teacher's times its raw norm; coordinate 2ms is the
 * direction out of the span. */
static int
realise (double *X, double *T, const double *Gs, const double *norms, size_t ms)
{
  size_t p = 2 * ms, q = 4 * ms, d = p + 1;
  gsl_matrix_view L = gsl_matrix_view_array (T, p, p);
  for (size_t a = 0; a < p; a++)
    for (size_t b = 0; b < p; b++)
      T[a * p + b] = Gs[(p + a) * q + p + b];
  if (gsl_linalg_cholesky_decomp1 (&L.matrix))
    return mv_error_set (MV_EINVAL, "prune: the teacher Gram block is not positive definite");
  for (size_t a = 0; a < p; a++)   /* GSL leaves the input above the diagonal */
    for (size_t b = a + 1; b < p; b++)
      T[a * p + b] = 0;
  memset (X, 0, 2 * p * d * sizeof *X);   /* students then teachers */
  for (size_t a = 0; a < 2 * p; a++)
    for (size_t c = 0; c <= a % p; c++)
      X[a * d + c] = T[(a % p) * p + c] * (a < p ? norms[a] : 1.0);
  return MV_OK;
}

/* Column c of the Householder reflection that maps the unit vector t
 * (length p) to e_0: columns 1..p-1 are an orthonormal basis of t's
 * orthogonal complement. */
static double
house (const double *t, size_t p, size_t x, size_t c)
{
  double v2 = 2 * (1 - t[0]);   /* |t - e_0|^2 */
  double vx = t[x] - (x == 0), vc = t[c] - (c == 0);
  return (x == c) - (v2 > 1e-300 ? 2 * vx * vc / v2 : 0);
}

/* Eigenvalues (ascending) of the symmetric k x k matrix S (destroyed). */
static int
symm_eig (double *ev, double *S, size_t k)
{
  gsl_matrix_view A = gsl_matrix_view_array (S, k, k);
  gsl_vector_view e = gsl_vector_view_array (ev, k);
  gsl_eigen_symm_workspace *w = gsl_eigen_symm_alloc (k);
  if (!w)
    return mv_error_set (MV_ENOMEM, "prune: out of memory");
  int s = gsl_eigen_symm (&A.matrix, &e.vector, w);
  gsl_eigen_symm_free (w);
  if (s)
    return mv_error_set (MV_ENOCONV, "prune: the Hessian's eigenvalues did not converge");
  gsl_sort (ev, 1, k);
  return MV_OK;
}

/* The tangent blocks of the raw Hessian H (2 ms d square): in-span, in the
 * Householder bases of each student vector's complement; out-of-span, the
 * coordinate 2ms of every student vector (a reflection of that coordinate
 * fixes every vector, so H has no entries between the two blocks). */
static int
blocks (double *hin, double *hout, const double *H, const double *T, size_t ms)
{
  size_t p = 2 * ms, d = p + 1, N = p * d, ni = p * (p - 1);
  double *S = malloc (ni * ni * sizeof *S), *Q = malloc (p * p * p * sizeof *Q);
  if (!S || !Q)
    return free (S), free (Q), mv_error_set (MV_ENOMEM, "prune: out of memory");
  for (size_t a = 0; a < p; a++)        /* Q[a][x][c]: basis c of vector a */
    for (size_t x = 0; x < p; x++)
      for (size_t c = 0; c < p; c++)
        Q[(a * p + x) * p + c] = house (T + a * p, p, x, c);
  for (size_t A = 0; A < ni; A++)
    for (size_t B = 0; B < ni; B++)
      {
        size_t a = A / (p - 1), c = 1 + A % (p - 1), b = B / (p - 1), e = 1 + B % (p - 1);
        double acc = 0;
        for (size_t x = 0; x < p; x++)
          for (size_t y = 0; y < p; y++)
            acc += Q[(a * p + x) * p + c] * H[(a * d + x) * N + b * d + y] * Q[(b * p + y) * p + e];
        S[A * ni + B] = acc;
      }
  int s = symm_eig (hin, S, ni);
  for (size_t a = 0; !s && a < p; a++)
    for (size_t b = 0; b < p; b++)
      S[a * p + b] = H[(a * d + p) * N + b * d + p];
  if (!s)
    s = symm_eig (hout, S, p);
  free (S), free (Q);
  return s;
}

int
mv_prune_hessian (double *hin, double *hout, const double *Gs, const double *norms, size_t ms)
{
  size_t p = 2 * ms, d = p + 1, N = p * d;
  double *X = malloc (2 * p * d * sizeof *X), *T = malloc (p * p * sizeof *T);
  double *H = malloc (N * N * sizeof *H);
  mv_loss_ws *ws = mv_loss_alloc (ms, ms, MV_PREC_DOUBLE);
  int s = X && T && H && ws ? MV_OK : mv_error_set (MV_ENOMEM, "prune: out of memory");
  if (!s)
    s = realise (X, T, Gs, norms, ms);
  if (!s)
    s = mv_loss_hess_raw_vec_d (H, NULL, NULL, NULL, X, X + ms * d, X + p * d,
                                X + (p + ms) * d, d, 0.0, ws);
  if (!s)
    s = blocks (hin, hout, H, T, ms);
  mv_loss_free (ws);
  free (X), free (T), free (H);
  return s;
}

void
mv_prune_predicted_rates (double *pred, const double *hin, const double *hout, size_t ms)
{
  size_t k = 0, no = MV_PRUNE_NOUT (ms);
  for (size_t a = 0; a < MV_PRUNE_NIN (ms); a++)
    pred[k++] = hin[a];
  for (size_t a = 0; a < no; a++)
    for (size_t b = a; b < no; b++)
      pred[k++] = hout[a] + hout[b];
  gsl_sort (pred, 1, k);
}
