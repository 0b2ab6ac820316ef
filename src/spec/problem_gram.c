/* Gram matrix of the n = 2m + 2m* unit vectors [v̄, w̄, v̄*, w̄*] and the raw
 * student norms: the state of the reduced flow (MATH.md §3).  Either from
 * the problem's actual vectors, or sampled in law at a cost independent of d.
 *
 * Sampling.  The student law N(0, I/d) is rotation invariant, so put the
 * teacher in the first r coordinates (r = rank of its Gram [[I, C], [C^T, I]],
 * coordinates from the Cholesky factor used by problem_init.c).  Each raw
 * student vector then has r teacher-span coordinates i.i.d. N(0, 1/d) and a
 * part in the (d - r)-dimensional complement; the 2m complement parts are
 * i.i.d. N(0, I/d), so their Gram is Wishart_{2m}(d - r, I/d), and the rows
 * of a Bartlett factor L (L L^T has that law) serve as their coordinates in
 * some orthonormal frame of the complement.  Every inner product among
 * teacher and raw student vectors then has exactly the law of the
 * d-dimensional construction; the router-orthogonal step is a function of
 * those inner products, so it is applied in the low-dimensional coordinates.
 *
 * Draw order (gsl mt19937 seeded with student.init.seed, Ziggurat normals,
 * every draw scaled by 1/sqrt(d)):
 *   1. for i = 0..m-1: r teacher-span coordinates of w_i, then r of v^_i;
 *   2. complement parts z_0..z_{2m-1} (z_{2i} of w_i, z_{2i+1} of v^_i),
 *      nc = d - r:  nc >= 2m: Bartlett row k = L_k0..L_k,k-1 ~ N(0, 1),
 *      then L_kk = sqrt(chi^2_{nc-k});  nc < 2m: z_k directly, nc draws. */
#include "base/linalg.h"
#include "spec/problem_priv.h"

#include <moeverify/error.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>


static double
clamp1 (double x)
{
  return x > 1 ? 1 : x < -1 ? -1 : x;
}

/* pb usable; name gets the sanitised file name; n = 2m + 2m*, and the n x n
 * Gram within the entry limit. */
static int
check_problem (const mv_problem *pb, const char *fn, char *name, size_t len,
               size_t *n)
{
  if (!pb || !pb->priv)
    return mv_error_set (MV_EINVAL, "%s: problem not initialised", fn);
  mv_problem_sanitize (name, len, pb->name);
  double nd = 2.0 * ((double) pb->m + (double) pb->mstar);
  if (nd * nd > MV_PROBLEM_MAX_ENTRIES)
    return mv_error_set (MV_EINVAL, "%s: student.m: Gram matrix of 2m + 2m* "
                         "= %.0f vectors is too large", name, nd);
  *n = 2 * (pb->m + pb->mstar);
  return MV_OK;
}

/* Rows of X (n x len) to unit length (norms of the first ns kept, 1 for the
 * rest) and their Gram into G. */
static int
unit_gram (double *G, double *norms, double *X, size_t n, size_t len,
           size_t ns, const char *name)
{
  double *nrm = malloc (n * sizeof *nrm);
  if (!nrm)
    return mv_error_set (MV_ENOMEM, "%s: out of memory", name);
  /* same kernel as the loss (loss_raw.c): the Gram the full loss sees */
  size_t bad = mv_linalg_normalise_gram (G, nrm, X, n, len);
  if (bad)
    {
      double nr = nrm[bad - 1];
      free (nrm);
      return mv_error_set (MV_EDOM, "%s: vector %zu has norm %g", name,
                           bad - 1, nr);
    }
  for (size_t k = 0; k < n; k++)
    {
      if (norms)
        norms[k] = k < ns ? nrm[k] : 1.0;
      for (size_t l = 0; l < n; l++)
        if (l != k)
          G[k * n + l] = clamp1 (G[k * n + l]);
    }
  free (nrm);
  return MV_OK;
}

int
mv_problem_gram_d (double *G, double *norms, const mv_problem *pb)
{
  char name[256];
  size_t n = 0;
  int st = check_problem (pb, "mv_problem_gram_d", name, sizeof name, &n);
  if (st || (st = mv_problem_check_formable (pb, 1, 1)))
    return st;
  if (!G)
    return mv_error_set (MV_EINVAL, "%s: mv_problem_gram_d: NULL G", name);
  size_t m = pb->m, ms = pb->mstar, d = pb->d;
  double *U = malloc (n * d * sizeof *U);
  if (!U)
    return mv_error_set (MV_ENOMEM, "%s: out of memory for %zu x %zu "
                         "vectors", name, n, d);
  st = mv_problem_vectors_d (U, U + m * d, U + 2 * m * d,
                             U + (2 * m + ms) * d, pb);
  if (!st)
    st = unit_gram (G, norms, U, n, d, 2 * m, name);
  free (U);
  return st;
}

/* ------------------------------------------------------------ sampling */

/* chi^2_nu for integer nu >= 1.  Marsaglia-Tsang for shape a = nu/2 >= 1,
 * with 1 - v + log v written through log1p: GSL's direct form loses
 * ~1e-16 * a in the log acceptance test, which at nu ~ 10^12 is not
 * negligible. */
static double
chisq (gsl_rng *r, double nu)
{
  if (nu < 2)
    {
      double z = gsl_ran_gaussian_ziggurat (r, 1.0);
      return z * z;
    }
  double dd = nu / 2 - 1.0 / 3, c = 1 / sqrt (9 * dd);
  for (;;)
    {
      double x, t;
      do
        {
          x = gsl_ran_gaussian_ziggurat (r, 1.0);
          t = c * x;
        }
      while (t <= -1);
      double v = (1 + t) * (1 + t) * (1 + t);
      double u = gsl_rng_uniform_pos (r);
      if (u < 1 - 0.0331 * (x * x) * (x * x))
        return 2 * dd * v;
      /* 1 - v + log v = 3 (log1p t - t) - t^2 (3 + t) */
      double h = 3 * (log1p (t) - t) - t * t * (3 + t);
      if (log (u) < 0.5 * x * x + dd * h)
        return 2 * dd * v;
    }
}

/* Problem fit for sampling: orthonormal teacher and generated student. */
static int
check_sample (const mv_problem *pb, const char *fn, char *name, size_t len,
              size_t *n)
{
  int st = check_problem (pb, fn, name, len, n);
  if (st)
    return st;
  if (pb->priv->teacher_kind != MV_TEACHER_ORTHONORMAL)
    return mv_error_set (MV_EINVAL, "%s: teacher: %s needs teacher.init "
                         "(orthonormal), got explicit vectors", name, fn);
  if (!pb->priv->student_gen)
    return mv_error_set (MV_EINVAL, "%s: student: %s needs student.init "
                         "(gaussian), got explicit vectors", name, fn);
  return MV_OK;
}

/* Low-dimensional coordinates into X (capacity n x (2m* + 2m)), stride and
 * column count *dim. */
static int
lowdim (double *X, size_t *dim, const mv_problem *pb, const char *name)
{
  const mv_problem_priv *p = pb->priv;
  size_t m = pb->m, ms = pb->mstar, d = pb->d, n = 2 * m + 2 * ms;
  const double *C = p->layout == MV_LAYOUT_SEPARATE ? p->cross.x : NULL;
  double *S = calloc (ms * ms, sizeof *S);
  size_t *col = malloc (ms * sizeof *col);
  gsl_rng *rng = gsl_rng_alloc (gsl_rng_mt19937);
  if (!S || !col || !rng)
    {
      free (S), free (col), gsl_rng_free (rng);
      return mv_error_set (MV_ENOMEM, "%s: out of memory", name);
    }
  /* Teacher: v*_j = e_j, w*_k = sum_j C_jk e_j + sum_{l<=k} S_lk f_l with
   * S^T S = I - C^T C; a zero pivot (||C|| = 1) leaves f_l unused. */
  if (C)
    mv_problem_cross_chol_d (S, C, ms);
  else
    for (size_t l = 0; l < ms; l++)
      S[l * ms + l] = 1;
  size_t r = ms;
  for (size_t l = 0; l < ms; l++)
    col[l] = S[l * ms + l] > 0 ? r++ : SIZE_MAX;
  /* d >= 2m* >= r: checked at parse */
  size_t nc = d - r, q = nc < 2 * m ? nc : 2 * m, D = r + q;
  *dim = D;
  memset (X, 0, n * D * sizeof *X);
  double *V = X, *W = X + m * D, *Vt = X + 2 * m * D, *Wt = Vt + ms * D;
  for (size_t j = 0; j < ms; j++)
    Vt[j * D + j] = 1;
  for (size_t k = 0; k < ms; k++)
    {
      double *w = Wt + k * D;
      for (size_t j = 0; C && j < ms; j++)
        w[j] = C[j * ms + k];
      for (size_t l = 0; l <= k; l++)
        if (col[l] != SIZE_MAX)
          w[col[l]] = S[l * ms + k];
    }

  gsl_rng_set (rng, p->sseed);
  double sig = 1 / sqrt ((double) d);
  for (size_t i = 0; i < m; i++)
    {
      double *w = W + i * D, *v = V + i * D;
      for (size_t c = 0; c < r; c++)
        w[c] = sig * gsl_ran_gaussian_ziggurat (rng, 1.0);
      for (size_t c = 0; c < r; c++)
        v[c] = sig * gsl_ran_gaussian_ziggurat (rng, 1.0);
    }
  for (size_t k = 0; k < 2 * m; k++)
    {
      double *z = (k % 2 ? V : W) + (k / 2) * D + r;
      if (nc >= 2 * m)
        {
          for (size_t j = 0; j < k; j++)
            z[j] = sig * gsl_ran_gaussian_ziggurat (rng, 1.0);
          z[k] = sig * sqrt (chisq (rng, (double) (nc - k)));
        }
      else
        for (size_t j = 0; j < nc; j++)
          z[j] = sig * gsl_ran_gaussian_ziggurat (rng, 1.0);
    }
  /* v_i = v^_i - (w̄_i . v^_i) w̄_i, as problem_init.c does in R^d */
  if (p->router_orthogonal)
    for (size_t i = 0; i < m; i++)
      {
        double *w = W + i * D, *v = V + i * D;
        double a = mv_dot (w, v, D) / mv_dot (w, w, D);
        for (size_t c = 0; c < D; c++)
          v[c] -= a * w[c];
      }
  free (S), free (col);
  gsl_rng_free (rng);
  return MV_OK;
}

int
mv_problem_lowdim_d (double *X, size_t *dim, const mv_problem *pb)
{
  char name[256];
  size_t n = 0, D = 0;
  int st = check_sample (pb, "mv_problem_lowdim_d", name, sizeof name, &n);
  if (st)
    return st;
  if (!X)
    return mv_error_set (MV_EINVAL, "%s: mv_problem_lowdim_d: NULL X", name);
  if ((st = lowdim (X, &D, pb, name)))
    return st;
  if (dim)
    *dim = D;
  return MV_OK;
}

int
mv_problem_gram_sample_d (double *G, double *norms, const mv_problem *pb)
{
  char name[256];
  size_t n = 0, D = 0;
  int st = check_sample (pb, "mv_problem_gram_sample_d", name, sizeof name,
                         &n);
  if (st)
    return st;
  if (!G)
    return mv_error_set (MV_EINVAL, "%s: mv_problem_gram_sample_d: NULL G",
                         name);
  size_t m = pb->m, ms = pb->mstar;
  double *X = malloc (n * (2 * m + 2 * ms) * sizeof *X);
  if (!X)
    return mv_error_set (MV_ENOMEM, "%s: out of memory", name);
  if (!(st = lowdim (X, &D, pb, name)))
    st = unit_gram (G, norms, X, n, D, 2 * m, name);
  free (X);
  if (st)
    return st;
  /* Entries that are exact by construction, without rounding residue:
   * the teacher block [[I, C], [C^T, I]] and, when projected, v̄_i . w̄_i. */
  const mv_problem_priv *p = pb->priv;
  const double *C = p->layout == MV_LAYOUT_SEPARATE ? p->cross.x : NULL;
  size_t t = 2 * m;
  for (size_t j = 0; j < ms; j++)
    for (size_t k = 0; k < ms; k++)
      {
        double e = (double) (j == k), c = C ? clamp1 (C[j * ms + k]) : 0;
        G[(t + j) * n + t + k] = G[(t + ms + j) * n + t + ms + k] = e;
        G[(t + j) * n + t + ms + k] = G[(t + ms + k) * n + t + j] = c;
      }
  if (p->router_orthogonal)
    for (size_t i = 0; i < m; i++)
      G[i * n + m + i] = G[(m + i) * n + i] = 0;
  return MV_OK;
}
