/* Generated vectors (student Gaussian init, orthonormal teacher) and the
 * export of a problem's raw vectors in double or MPFR.
 *
 * Generated vectors are formed on first demand, not at parse time (so a
 * spec with d = 10^12 parses in O(1)); they are then kept in the problem.
 * Forming more than MV_PROBLEM_MAX_ENTRIES entries per matrix is refused
 * with "NAME: d = ...: too large to form vectors; use the reduced flow".
 *
 * Random draws (GSL mt19937 seeded with the spec's seed, Ziggurat normals):
 *   student:  for i = 0..m-1: w_i (d draws, sigma 1/sqrt(d)), then v^_i
 *             (d draws, sigma 1/sqrt(d)); with router_orthogonal
 *             v_i = v^_i - ((w_i.v^_i)/(w_i.w_i)) w_i  in double.  These
 *             doubles are the problem's exact student vectors.
 *   teacher:  2m* vectors g_0..g_{2m*-1} of d draws each (sigma 1), in that
 *             order.  The teacher basis Q is the Q factor of [g_0 .. ] with
 *             positive R diagonal, computed by modified Gram-Schmidt with a
 *             second orthogonalisation pass (MGS2) at the working precision,
 *             so each precision sees the same mathematical teacher. */
#include "spec/problem_priv.h"
#include "base/mpfr_vec.h"

#include <moeverify/error.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

/* Guard bits of the MPFR orthonormalisation above the output precision. */
#define MV_TEACHER_GUARD 32

void
mv_problem_gen_student (double *V, double *W, size_t m, size_t d,
                        unsigned long seed, int router_orthogonal)
{
  gsl_rng *r = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (r, seed);
  double sigma = 1.0 / sqrt ((double) d);
  for (size_t i = 0; i < m; i++)
    {
      double *w = W + i * d, *v = V + i * d;
      for (size_t k = 0; k < d; k++)
        w[k] = gsl_ran_gaussian_ziggurat (r, sigma);
      for (size_t k = 0; k < d; k++)
        v[k] = gsl_ran_gaussian_ziggurat (r, sigma);
      if (router_orthogonal)
        {
          double wv = 0, ww = 0;
          for (size_t k = 0; k < d; k++)
            {
              wv += w[k] * v[k];
              ww += w[k] * w[k];
            }
          double a = wv / ww;
          for (size_t k = 0; k < d; k++)
            v[k] -= a * w[k];
        }
    }
  gsl_rng_free (r);
}

void
mv_problem_gen_teacher_gauss (double *G, size_t mstar, size_t d,
                              unsigned long seed)
{
  gsl_rng *r = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (r, seed);
  for (size_t i = 0; i < 2 * mstar * d; i++)
    G[i] = gsl_ran_gaussian_ziggurat (r, 1.0);
  gsl_rng_free (r);
}

int
mv_problem_cross_norm (double *norm, const mv_entries *C)
{
  size_t n = C->rows;
  gsl_matrix *A = gsl_matrix_alloc (n, n), *V = gsl_matrix_alloc (n, n);
  gsl_vector *S = gsl_vector_alloc (n), *work = gsl_vector_alloc (n);
  int st = MV_OK;
  if (!A || !V || !S || !work)
    st = mv_error_set (MV_ENOMEM, "out of memory");
  else
    {
      for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
          gsl_matrix_set (A, i, j, C->x[i * n + j]);
      if (gsl_linalg_SV_decomp (A, V, S, work))
        st = mv_error_set (MV_ENOCONV, "singular value decomposition failed");
      else
        *norm = gsl_vector_max (S);
    }
  gsl_matrix_free (A);
  gsl_matrix_free (V);
  gsl_vector_free (S);
  gsl_vector_free (work);
  return st;
}

/* ------------------------------------------------------------ double */

/* In place: rows q_0..q_{n-1} (length d) of Q become orthonormal (MGS2). */
static int
mgs2_d (double *Q, size_t n, size_t d)
{
  for (size_t j = 0; j < n; j++)
    {
      double *q = Q + j * d, n0 = 0, nrm = 0;
      for (size_t k = 0; k < d; k++)
        n0 += q[k] * q[k];
      for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < j; i++)
          {
            const double *p = Q + i * d;
            double r = 0;
            for (size_t k = 0; k < d; k++)
              r += p[k] * q[k];
            for (size_t k = 0; k < d; k++)
              q[k] -= r * p[k];
          }
      for (size_t k = 0; k < d; k++)
        nrm += q[k] * q[k];
      if (!(nrm > 1e-20 * n0))
        return mv_error_set (MV_EDOM, "Gaussian vectors numerically "
                             "dependent (vector %zu)", j);
      nrm = sqrt (nrm);
      for (size_t k = 0; k < d; k++)
        q[k] /= nrm;
    }
  return MV_OK;
}

/* Upper S with S^T S = I - C^T C (n x n, row-major); a pivot that rounds
 * below zero (||C||_2 = 1) is taken as 0 with its row zeroed. */
void
mv_problem_cross_chol_d (double *S, const double *C, size_t n)
{
  for (size_t k = 0; k < n; k++)
    for (size_t j = k; j < n; j++)
      {
        double a = (j == k) ? 1.0 : 0.0;
        for (size_t l = 0; l < n; l++)
          a -= C[l * n + k] * C[l * n + j];
        for (size_t l = 0; l < k; l++)
          a -= S[l * n + k] * S[l * n + j];
        if (j == k)
          S[k * n + k] = a > 0 ? sqrt (a) : 0;
        else
          S[k * n + j] = S[k * n + k] > 0 ? a / S[k * n + k] : 0;
      }
  for (size_t k = 0; k < n; k++)
    for (size_t j = 0; j < k; j++)
      S[k * n + j] = 0;
}

int
mv_problem_teacher_d (const mv_problem *pb)
{
  mv_problem_priv *p = pb->priv;
  size_t ms = pb->mstar, d = pb->d;
  double *Q = malloc (2 * ms * d * sizeof *Q);
  if (!Q)
    return mv_error_set (MV_ENOMEM, "out of memory");
  memcpy (Q, p->G, 2 * ms * d * sizeof *Q);
  int st = mgs2_d (Q, 2 * ms, d);
  if (!st && p->layout == MV_LAYOUT_ALL)
    {
      memcpy (p->tVd, Q, ms * d * sizeof *Q);
      memcpy (p->tWd, Q + ms * d, ms * d * sizeof *Q);
    }
  else if (!st)
    {
      double *S = calloc (ms * ms, sizeof *S);
      if (!S)
        st = mv_error_set (MV_ENOMEM, "out of memory");
      else
        {
          const double *C = p->cross.x;
          mv_problem_cross_chol_d (S, C, ms);
          memcpy (p->tVd, Q, ms * d * sizeof *Q);
          for (size_t k = 0; k < ms; k++)
            for (size_t x = 0; x < d; x++)
              {
                double s = 0;
                for (size_t j = 0; j < ms; j++)
                  s += C[j * ms + k] * Q[j * d + x];
                for (size_t l = 0; l <= k; l++)
                  s += S[l * ms + k] * Q[(ms + l) * d + x];
                p->tWd[k * d + x] = s;
              }
          free (S);
        }
    }
  free (Q);
  return st;
}

/* ------------------------------------------------------------ on demand */

/* Refuse to form generated vectors beyond the entry limit (the student's
 * m x d, the teacher's 2m* x d Gaussian matrix). */
int
mv_problem_check_formable (const mv_problem *pb, int student, int teacher)
{
  const mv_problem_priv *p = pb->priv;
  double d = (double) pb->d;
  int big = (student && p->student_gen && (double) pb->m * d
             > MV_PROBLEM_MAX_ENTRIES)
    || (teacher && p->teacher_kind == MV_TEACHER_ORTHONORMAL
        && 2.0 * (double) pb->mstar * d > MV_PROBLEM_MAX_ENTRIES);
  if (!big)
    return MV_OK;
  char name[256];
  mv_problem_sanitize (name, sizeof name, pb->name);
  return mv_error_set (MV_EINVAL, "%s: d = %zu: too large to form vectors; "
                       "use the reduced flow", name, pb->d);
}

static int
oom (const mv_problem *pb, const char *key)
{
  char name[256];
  mv_problem_sanitize (name, sizeof name, pb->name);
  return mv_error_set (MV_ENOMEM, "%s: %s: out of memory forming %zu-vectors",
                       name, key, pb->d);
}

/* Generated student into p->sV, p->sW (once). */
static int
ensure_student (const mv_problem *pb)
{
  mv_problem_priv *p = pb->priv;
  if (!p->student_gen || p->sV.x)
    return MV_OK;
  int st = mv_problem_check_formable (pb, 1, 0);
  if (st)
    return st;
  size_t m = pb->m, d = pb->d;
  double *V = malloc (m * d * sizeof *V), *W = malloc (m * d * sizeof *W);
  if (!V || !W)
    {
      free (V), free (W);
      return oom (pb, "student.init");
    }
  mv_problem_gen_student (V, W, m, d, p->sseed, p->router_orthogonal);
  /* Zero rows have probability zero; check anyway. */
  for (size_t i = 0; i < m; i++)
    {
      int nv = 0, nw = 0;
      for (size_t k = 0; k < d; k++)
        {
          nv |= V[i * d + k] != 0;
          nw |= W[i * d + k] != 0;
        }
      if (!nv || !nw)
        {
          char name[256];
          free (V), free (W);
          mv_problem_sanitize (name, sizeof name, pb->name);
          return mv_error_set (MV_EDOM, "%s: student.init: generated a zero "
                               "vector for expert %zu", name, i);
        }
    }
  p->sV = (mv_entries) { .rows = m, .cols = d, .x = V };
  p->sW = (mv_entries) { .rows = m, .cols = d, .x = W };
  return MV_OK;
}

/* Teacher Gaussian matrix p->G (once). */
static int
ensure_teacher_gauss (const mv_problem *pb)
{
  mv_problem_priv *p = pb->priv;
  if (p->teacher_kind != MV_TEACHER_ORTHONORMAL || p->G)
    return MV_OK;
  int st = mv_problem_check_formable (pb, 0, 1);
  if (st)
    return st;
  if (!(p->G = malloc (2 * pb->mstar * pb->d * sizeof *p->G)))
    return oom (pb, "teacher.init");
  mv_problem_gen_teacher_gauss (p->G, pb->mstar, pb->d, p->tseed);
  return MV_OK;
}

/* Double teacher p->tVd, p->tWd (once). */
static int
ensure_teacher_d (const mv_problem *pb)
{
  mv_problem_priv *p = pb->priv;
  if (p->teacher_kind != MV_TEACHER_ORTHONORMAL || p->tVd)
    return MV_OK;
  int st = ensure_teacher_gauss (pb);
  if (st)
    return st;
  size_t nt = pb->mstar * pb->d;
  if (!(p->tVd = malloc (nt * sizeof *p->tVd))
      || !(p->tWd = malloc (nt * sizeof *p->tWd)))
    {
      free (p->tVd);
      p->tVd = NULL;
      return oom (pb, "teacher.init");
    }
  if ((st = mv_problem_teacher_d (pb)))
    {
      char name[256], why[512];
      free (p->tVd), free (p->tWd);
      p->tVd = p->tWd = NULL;
      mv_problem_sanitize (name, sizeof name, pb->name);
      snprintf (why, sizeof why, "%s", mv_error_message ());
      return mv_error_set (st, "%s: teacher.init: %s", name, why);
    }
  return MV_OK;
}

int
mv_problem_vectors_d (double *V, double *W, double *Vt, double *Wt,
                      const mv_problem *pb)
{
  if (!pb || !pb->priv)
    return mv_error_set (MV_EINVAL, "mv_problem_vectors_d: problem not "
                         "initialised");
  int st;
  if ((st = mv_problem_check_formable (pb, V || W, Vt || Wt))
      || ((V || W) && (st = ensure_student (pb)))
      || ((Vt || Wt) && (st = ensure_teacher_d (pb))))
    return st;
  const mv_problem_priv *p = pb->priv;
  size_t ns = pb->m * pb->d, nt = pb->mstar * pb->d;
  if (V)
    memcpy (V, p->sV.x, ns * sizeof *V);
  if (W)
    memcpy (W, p->sW.x, ns * sizeof *W);
  if (Vt)
    memcpy (Vt, p->tVd, nt * sizeof *Vt);
  if (Wt)
    memcpy (Wt, p->tWd, nt * sizeof *Wt);
  return MV_OK;
}

/* ------------------------------------------------------------ MPFR */

static void
dot_mp (mpfr_t r, mpfr_t *a, mpfr_t *b, size_t d)
{
  mpfr_set_zero (r, 1);
  for (size_t k = 0; k < d; k++)
    mpfr_fma (r, a[k], b[k], r, MPFR_RNDN);
}

static int
mgs2_mp (mpfr_t *Q, size_t n, size_t d, mpfr_t r, mpfr_t t)
{
  for (size_t j = 0; j < n; j++)
    {
      mpfr_t *q = Q + j * d;
      for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < j; i++)
          {
            mpfr_t *pv = Q + i * d;
            dot_mp (r, pv, q, d);
            for (size_t k = 0; k < d; k++)
              {
                mpfr_mul (t, r, pv[k], MPFR_RNDN);
                mpfr_sub (q[k], q[k], t, MPFR_RNDN);
              }
          }
      dot_mp (r, q, q, d);
      if (mpfr_zero_p (r))
        return mv_error_set (MV_EDOM, "Gaussian vectors dependent "
                             "(vector %zu)", j);
      mpfr_rec_sqrt (r, r, MPFR_RNDN);
      for (size_t k = 0; k < d; k++)
        mpfr_mul (q[k], q[k], r, MPFR_RNDN);
    }
  return MV_OK;
}

/* MPFR version of cross_chol_d at the precision of S. */
static void
cross_chol_mp (mpfr_t *S, mpfr_t *C, size_t n, mpfr_t a)
{
  for (size_t k = 0; k < n; k++)
    for (size_t j = k; j < n; j++)
      {
        mpfr_set_ui (a, j == k, MPFR_RNDN);
        for (size_t l = 0; l < n; l++)
          {
            mpfr_neg (a, a, MPFR_RNDN);
            mpfr_fma (a, C[l * n + k], C[l * n + j], a, MPFR_RNDN);
            mpfr_neg (a, a, MPFR_RNDN);
          }
        for (size_t l = 0; l < k; l++)
          {
            mpfr_neg (a, a, MPFR_RNDN);
            mpfr_fma (a, S[l * n + k], S[l * n + j], a, MPFR_RNDN);
            mpfr_neg (a, a, MPFR_RNDN);
          }
        if (j == k)
          {
            if (mpfr_sgn (a) > 0)
              mpfr_sqrt (S[k * n + k], a, MPFR_RNDN);
            else
              mpfr_set_zero (S[k * n + k], 1);
          }
        else if (mpfr_sgn (S[k * n + k]) > 0)
          mpfr_div (S[k * n + j], a, S[k * n + k], MPFR_RNDN);
        else
          mpfr_set_zero (S[k * n + j], 1);
      }
}

/* Teacher generated at the precision of the outputs (plus guard bits). */
static int
teacher_mp (mpfr_t *Vt, mpfr_t *Wt, const mv_problem *pb)
{
  int st = ensure_teacher_gauss (pb);
  if (st)
    return st;
  const mv_problem_priv *p = pb->priv;
  size_t ms = pb->mstar, d = pb->d, nt = ms * d;
  mpfr_prec_t prec = MPFR_PREC_MIN;
  for (size_t i = 0; i < nt; i++)
    {
      if (Vt && mpfr_get_prec (Vt[i]) > prec)
        prec = mpfr_get_prec (Vt[i]);
      if (Wt && mpfr_get_prec (Wt[i]) > prec)
        prec = mpfr_get_prec (Wt[i]);
    }
  mpfr_prec_t wp = prec + MV_TEACHER_GUARD;
  mpfr_t r, t;
  mpfr_inits2 (wp, r, t, (mpfr_ptr) 0);
  mpfr_t *Q = mv_mpfr_vec_new (2 * nt, wp);
  mpfr_t *C = NULL, *S = NULL;
  if (!Q)
    st = mv_error_set (MV_ENOMEM, "%s: out of memory", pb->name);
  for (size_t i = 0; !st && i < 2 * nt; i++)
    mpfr_set_d (Q[i], p->G[i], MPFR_RNDN);  /* exact */
  if (!st && (st = mgs2_mp (Q, 2 * ms, d, r, t)))
    mv_error_prefix (pb->name);
  if (!st && Vt)
    for (size_t i = 0; i < nt; i++)
      mpfr_set (Vt[i], Q[i], MPFR_RNDN);
  if (!st && Wt && p->layout == MV_LAYOUT_ALL)
    for (size_t i = 0; i < nt; i++)
      mpfr_set (Wt[i], Q[nt + i], MPFR_RNDN);
  else if (!st && Wt)
    {
      C = mv_mpfr_vec_new (ms * ms, wp);
      S = mv_mpfr_vec_new (ms * ms, wp);
      if (!C || !S)
        st = mv_error_set (MV_ENOMEM, "%s: out of memory", pb->name);
      else
        {
          for (size_t j = 0; j < ms; j++)
            for (size_t k = 0; k < ms; k++)
              mv_entries_get (C[j * ms + k], &p->cross, j, k);
          cross_chol_mp (S, C, ms, r);
          /* w*_k = sum_j C_jk Q_j + sum_{l<=k} S_lk Q_{m*+l} */
          for (size_t k = 0; k < ms; k++)
            for (size_t x = 0; x < d; x++)
              {
                mpfr_set_zero (r, 1);
                for (size_t j = 0; j < ms; j++)
                  mpfr_fma (r, C[j * ms + k], Q[j * d + x], r, MPFR_RNDN);
                for (size_t l = 0; l <= k; l++)
                  mpfr_fma (r, S[l * ms + k], Q[(ms + l) * d + x], r,
                            MPFR_RNDN);
                mpfr_set (Wt[k * d + x], r, MPFR_RNDN);
              }
        }
    }
  mv_mpfr_vec_free (C, ms * ms);
  mv_mpfr_vec_free (S, ms * ms);
  mv_mpfr_vec_free (Q, Q ? 2 * nt : 0);
  mpfr_clears (r, t, (mpfr_ptr) 0);
  return st;
}

static void
entries_to_mp (mpfr_t *out, const mv_entries *e)
{
  for (size_t i = 0; i < e->rows; i++)
    for (size_t k = 0; k < e->cols; k++)
      mv_entries_get (out[i * e->cols + k], e, i, k);
}

int
mv_problem_vectors (mpfr_t *V, mpfr_t *W, mpfr_t *Vt, mpfr_t *Wt,
                    const mv_problem *pb)
{
  if (!pb || !pb->priv)
    return mv_error_set (MV_EINVAL, "mv_problem_vectors: problem not "
                         "initialised");
  int st;
  if ((st = mv_problem_check_formable (pb, V || W, Vt || Wt))
      || ((V || W) && (st = ensure_student (pb))))
    return st;
  const mv_problem_priv *p = pb->priv;
  if (V)
    entries_to_mp (V, &p->sV);
  if (W)
    entries_to_mp (W, &p->sW);
  if (p->teacher_kind == MV_TEACHER_ORTHONORMAL)
    return (Vt || Wt) ? teacher_mp (Vt, Wt, pb) : MV_OK;
  if (Vt)
    entries_to_mp (Vt, &p->tV);
  if (Wt)
    entries_to_mp (Wt, &p->tW);
  return MV_OK;
}
