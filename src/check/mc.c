/* Monte-Carlo estimate of the population loss and of its gradient with
 * respect to the raw student vectors (MATH.md §1-2; DESIGN.md "Monte Carlo
 * that stays independent").
 *
 * Nothing here uses the closed form.  The method:
 *
 *  1. Normalise all n = 2m + 2m* raw vectors and build an orthonormal basis
 *     Q = [q_1..q_k] of their span by classical Gram-Schmidt with one full
 *     reorthogonalisation ("twice is enough"), dropping vectors whose
 *     residual after both passes is below MV_MC_RANK_TOL (rank detection).
 *     Each unit vector u gets coordinates c_u = Q^T u (the R factor),
 *     renormalised to unit length in k-space.  Bitwise identical unit
 *     vectors share one set of coordinates (so student == teacher gives
 *     f - f* == 0 exactly).
 *
 *  2. For x ~ N(0, I_d), xi = Q^T x ~ N(0, I_k) exactly, u.x = c_u.xi, and
 *     the part of x orthogonal to span(Q) is independent of xi.  The loss
 *     integrand depends on xi only, and the gradient integrand is
 *     r(xi) * g(xi) * (I - u u^T) x / |u|; its x_perp part has zero mean
 *     given xi, so  E[...] = Q E[r g (xi - (c_u.xi) c_u)] / |u|.
 *     Only xi is sampled: the cost per sample is independent of d.
 *
 *  3. Per batch, the gradient estimate of every student slot is kept in
 *     k-space; batch means are combined by Welford's update into the mean
 *     and the k x k scatter matrix C_j of each slot.  The variance of a
 *     gradient component in R^d is  Q_c C_j Q_c^T / (B (B - 1)), evaluated
 *     through the eigen-decomposition C_j = sum_e l_e e_e e_e^T as
 *     sum_e l_e (Q_c . e_e)^2.
 *
 * Randomness: gsl_rng_mt19937 seeded with par->seed, normal variates by
 * gsl_ran_gaussian_ziggurat; per sample k variates for xi, then one for the
 * label noise when noise_var > 0.  No allocation inside the sample loop. */
#include <moeverify/mc.h>
#include "base/linalg.h"
#include <moeverify/error.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_vector.h>

/* A unit vector whose component orthogonal to the previous ones is below
 * this (after two Gram-Schmidt passes) is treated as lying in their span.
 * The projection error this introduces in any u.x is at most this size. */
#define MV_MC_RANK_TOL 1e-10

void
mv_mc_params_default (mv_mc_params *p)
{
  if (!p)
    return;
  memset (p, 0, sizeof *p);
  p->samples = 100000;
  p->batches = 64;
  p->seed = 1;
  p->want_grad = 1;
  p->progress = NULL;
  p->progress_ctx = NULL;
}

int
mv_mc_result_init (mv_mc_result *r, size_t m, size_t d, int want_grad)
{
  if (!r)
    return mv_error_set (MV_EINVAL, "mv_mc_result_init: NULL result");
  memset (r, 0, sizeof *r);
  r->m = m;
  r->d = d;
  r->loss = NAN;
  r->loss_se = NAN;
  if (d == 0)
    return mv_error_set (MV_EINVAL, "mv_mc_result_init: dimension d = 0");
  if (!want_grad || m == 0)
    return MV_OK;
  if (m > SIZE_MAX / sizeof (double) / d)
    return mv_error_set (MV_ENOMEM, "mv_mc_result_init: m*d = %zu*%zu too "
                         "large", m, d);
  size_t n = m * d;
  r->gV = calloc (n, sizeof (double));
  r->gW = calloc (n, sizeof (double));
  r->gV_se = calloc (n, sizeof (double));
  r->gW_se = calloc (n, sizeof (double));
  if (!r->gV || !r->gW || !r->gV_se || !r->gW_se)
    {
      mv_mc_result_clear (r);
      r->m = m;
      r->d = d;
      return mv_error_set (MV_ENOMEM, "mv_mc_result_init: out of memory for "
                           "%zu gradient components", 4 * n);
    }
  return MV_OK;
}

void
mv_mc_result_clear (mv_mc_result *r)
{
  if (!r)
    return;
  free (r->gV);
  free (r->gW);
  free (r->gV_se);
  free (r->gW_se);
  memset (r, 0, sizeof *r);
  r->loss = NAN;
  r->loss_se = NAN;
}

/* ------------------------------------------------------------ helpers */

static void
axpy_n (double *restrict y, double alpha, const double *restrict x, size_t n)
{
  for (size_t i = 0; i < n; i++)
    y[i] += alpha * x[i];
}

/* ------------------------------------------------------------ kernels
 *
 * The sample loop works on blocks of MV_MC_BLOCK samples: xi is a
 * block x kp matrix (kp = k rounded up to a multiple of 4, zero padded),
 * projections are dot products of padded rows, and the gradient sums
 * S_j += sum_s c_js xi_s are a small matrix product kept in registers.
 * GCC/Clang vector extensions give two-wide SIMD on every x86-64 (and
 * generic code elsewhere); MV_MC_SCALAR selects plain C. */

#define MV_MC_BLOCK 16

#if defined(MV_HAVE_V2D) && !defined(MV_MC_SCALAR)
/* the shared two-wide helpers of linalg.h */
typedef mv_v2d v2d;
#define ld2 mv_ld2
#define st2 mv_st2

/* out[s * ostride] = row . X[s], s < bs; len a multiple of 4. */
static void
kern_proj (double *out, size_t ostride, const double *row, size_t len,
           const double *X, size_t kp, size_t bs)
{
  size_t s = 0;
  for (; s + 2 <= bs; s += 2)
    {
      const double *x0 = X + s * kp, *x1 = x0 + kp;
      v2d a0 = { 0, 0 }, a1 = { 0, 0 }, b0 = { 0, 0 }, b1 = { 0, 0 };
      for (size_t t = 0; t < len; t += 4)
        {
          v2d r0 = ld2 (row + t), r1 = ld2 (row + t + 2);
          a0 += r0 * ld2 (x0 + t);
          a1 += r1 * ld2 (x0 + t + 2);
          b0 += r0 * ld2 (x1 + t);
          b1 += r1 * ld2 (x1 + t + 2);
        }
      a0 += a1;
      b0 += b1;
      out[s * ostride] = a0[0] + a0[1];
      out[(s + 1) * ostride] = b0[0] + b0[1];
    }
  if (s < bs)
    {
      const double *x0 = X + s * kp;
      v2d a0 = { 0, 0 }, a1 = { 0, 0 };
      for (size_t t = 0; t < len; t += 4)
        {
          a0 += ld2 (row + t) * ld2 (x0 + t);
          a1 += ld2 (row + t + 2) * ld2 (x0 + t + 2);
        }
      a0 += a1;
      out[s * ostride] = a0[0] + a0[1];
    }
}

/* S[j] += sum_{s < bs} Cf[j * MV_MC_BLOCK + s] X[s], j < ns; rows of S and
 * X have kp (multiple of 4) entries. */
static void
kern_accum (double *S, const double *Cf, const double *X, size_t ns,
            size_t kp, size_t bs)
{
  size_t j = 0;
  for (; j + 2 <= ns; j += 2)
    {
      double *S0 = S + j * kp, *S1 = S0 + kp;
      const double *c0 = Cf + j * MV_MC_BLOCK, *c1 = c0 + MV_MC_BLOCK;
      for (size_t t = 0; t < kp; t += 4)
        {
          v2d a00 = ld2 (S0 + t), a01 = ld2 (S0 + t + 2);
          v2d a10 = ld2 (S1 + t), a11 = ld2 (S1 + t + 2);
          for (size_t s = 0; s < bs; s++)
            {
              v2d x0 = ld2 (X + s * kp + t), x1 = ld2 (X + s * kp + t + 2);
              v2d b0 = { c0[s], c0[s] }, b1 = { c1[s], c1[s] };
              a00 += b0 * x0;
              a01 += b0 * x1;
              a10 += b1 * x0;
              a11 += b1 * x1;
            }
          st2 (S0 + t, a00);
          st2 (S0 + t + 2, a01);
          st2 (S1 + t, a10);
          st2 (S1 + t + 2, a11);
        }
    }
  if (j < ns)
    {
      double *S0 = S + j * kp;
      const double *c0 = Cf + j * MV_MC_BLOCK;
      for (size_t t = 0; t < kp; t += 4)
        {
          v2d a00 = ld2 (S0 + t), a01 = ld2 (S0 + t + 2);
          for (size_t s = 0; s < bs; s++)
            {
              v2d b0 = { c0[s], c0[s] };
              a00 += b0 * ld2 (X + s * kp + t);
              a01 += b0 * ld2 (X + s * kp + t + 2);
            }
          st2 (S0 + t, a00);
          st2 (S0 + t + 2, a01);
        }
    }
}
/* gse[c] = sqrt (sum_{e < r} (QT[c] . F[e])^2), c < d; rows of QT and F
 * have kp (multiple of 4) entries. */
static void
kern_se (double *gse, const double *QT, size_t d, const double *F, size_t r,
         size_t kp)
{
  size_t c = 0;
  for (; c + 2 <= d; c += 2)
    {
      const double *q0 = QT + c * kp, *q1 = q0 + kp;
      double s0 = 0, s1 = 0;
      size_t e = 0;
      for (; e + 2 <= r; e += 2)
        {
          const double *f0 = F + e * kp, *f1 = f0 + kp;
          v2d a00 = { 0, 0 }, a01 = { 0, 0 }, a10 = { 0, 0 }, a11 = { 0, 0 };
          for (size_t t = 0; t < kp; t += 2)
            {
              v2d x0 = ld2 (q0 + t), x1 = ld2 (q1 + t);
              v2d y0 = ld2 (f0 + t), y1 = ld2 (f1 + t);
              a00 += x0 * y0;
              a01 += x0 * y1;
              a10 += x1 * y0;
              a11 += x1 * y1;
            }
          double z00 = a00[0] + a00[1], z01 = a01[0] + a01[1];
          double z10 = a10[0] + a10[1], z11 = a11[0] + a11[1];
          s0 += z00 * z00 + z01 * z01;
          s1 += z10 * z10 + z11 * z11;
        }
      if (e < r)
        {
          double z0 = mv_dot (q0, F + e * kp, kp), z1 = mv_dot (q1, F + e * kp,
                                                              kp);
          s0 += z0 * z0;
          s1 += z1 * z1;
        }
      gse[c] = sqrt (s0);
      gse[c + 1] = sqrt (s1);
    }
  if (c < d)
    {
      double s0 = 0;
      for (size_t e = 0; e < r; e++)
        {
          double z = mv_dot (QT + c * kp, F + e * kp, kp);
          s0 += z * z;
        }
      gse[c] = sqrt (s0);
    }
}
#else
static void
kern_se (double *gse, const double *QT, size_t d, const double *F, size_t r,
         size_t kp)
{
  for (size_t c = 0; c < d; c++)
    {
      double s0 = 0;
      for (size_t e = 0; e < r; e++)
        {
          double z = mv_dot (QT + c * kp, F + e * kp, kp);
          s0 += z * z;
        }
      gse[c] = sqrt (s0);
    }
}

static void
kern_proj (double *out, size_t ostride, const double *row, size_t len,
           const double *X, size_t kp, size_t bs)
{
  for (size_t s = 0; s < bs; s++)
    out[s * ostride] = mv_dot (row, X + s * kp, len);
}

static void
kern_accum (double *S, const double *Cf, const double *X, size_t ns,
            size_t kp, size_t bs)
{
  for (size_t j = 0; j < ns; j++)
    for (size_t s = 0; s < bs; s++)
      axpy_n (S + j * kp, Cf[j * MV_MC_BLOCK + s], X + s * kp, kp);
}
#endif

/* Euclidean norm, scaled so that huge or tiny entries cannot overflow or
 * underflow. */
static double
norm_n (const double *x, size_t n)
{
  double amax = 0;
  for (size_t i = 0; i < n; i++)
    {
      double a = fabs (x[i]);
      if (!(a <= amax))         /* also catches NaN */
        amax = a;
    }
  if (amax == 0 || !isfinite (amax))
    return amax;
  double s = 0, inv = 1.0 / amax;
  for (size_t i = 0; i < n; i++)
    {
      double t = x[i] * inv;
      s += t * t;
    }
  return amax * sqrt (s);
}

static const char *
vec_name (size_t a, size_t m, size_t mstar, size_t *idx)
{
  if (a < m)
    {
      *idx = a + 1;
      return "student router v";
    }
  if (a < 2 * m)
    {
      *idx = a - m + 1;
      return "student expert w";
    }
  if (a < 2 * m + mstar)
    {
      *idx = a - 2 * m + 1;
      return "teacher router v*";
    }
  *idx = a - 2 * m - mstar + 1;
  return "teacher expert w*";
}

/* ------------------------------------------------------------ workspace */

typedef struct
{
  size_t d, m, ms, n;      /* n = 2m + 2ms vectors */
  size_t nu;               /* unique unit vectors */
  size_t k;                /* rank = basis size */
  double *X;               /* n x d: raw vectors, normalised, then the rows
                              of accepted vectors are overwritten by the
                              basis vectors */
  double *norms;           /* n raw norms */
  size_t *uid;             /* n: vector -> unique index */
  size_t *urow;            /* nu: unique index -> row of X */
  double *R;               /* nu x n (stride n during Gram-Schmidt, compacted
                              to stride k afterwards): coordinates c_u */
  size_t *ulen;            /* nu: nonzero prefix length of c_u */
  const double **qrow;     /* k basis vectors (rows of X) */
  double *coef;            /* n: Gram-Schmidt coefficients of one pass */
  /* sampling, in blocks of MV_MC_BLOCK samples */
  size_t kp;               /* k rounded up to a multiple of 4 */
  double *Rp;              /* nu x kp: c_u zero padded */
  size_t *ulen4;           /* nu: ulen rounded up to a multiple of 4 */
  double *xi;              /* block x kp (padding stays 0) */
  double *eps;             /* block: label-noise variates */
  double *proj;            /* block x nu */
  double *Cf;              /* 2m x block: per-sample gradient coefficients */
  double *S;               /* 2m x kp: sum of c * xi within the batch */
  double *T;               /* 2m: sum of c * (u.x) within the batch */
  double *Y;               /* 2m x k: batch mean */
  double *M;               /* 2m x k: running mean of batch means */
  double *C;               /* 2m x k x k: scatter of batch means */
  double *G;               /* 2m x k: sum over batches of nb * Y */
  double *delta;           /* k */
  double *QT;              /* d x kp: the basis transposed (row c = Q_c) */
  double *F;               /* kp x kp: scaled eigenvectors of one scatter */
  double *ybar;            /* kp: mean gradient of one slot in k-space */
} mc_ws;

static void
ws_free (mc_ws *w)
{
  free (w->X);
  free (w->norms);
  free (w->uid);
  free (w->urow);
  free (w->R);
  free (w->ulen);
  free (w->qrow);
  free (w->coef);
  free (w->Rp);
  free (w->ulen4);
  free (w->xi);
  free (w->eps);
  free (w->proj);
  free (w->Cf);
  free (w->S);
  free (w->T);
  free (w->Y);
  free (w->M);
  free (w->C);
  free (w->G);
  free (w->delta);
  free (w->QT);
  free (w->F);
  free (w->ybar);
  memset (w, 0, sizeof *w);
}

/* *out = a * b, or 0 (false) on overflow. */
static int
mul_ok (size_t a, size_t b, size_t *out)
{
  if (a && b > SIZE_MAX / a)
    return 0;
  *out = a * b;
  return 1;
}

/* Normalise, deduplicate and orthonormalise.  Fills nu, k, uid, urow, R,
 * ulen, qrow. */
static int
build_basis (mc_ws *w)
{
  const size_t d = w->d, n = w->n;
  for (size_t a = 0; a < n; a++)
    {
      double *x = w->X + a * d;
      double nr = norm_n (x, d);
      size_t idx;
      const char *nm = vec_name (a, w->m, w->ms, &idx);
      if (!isfinite (nr))
        return mv_error_set (MV_EDOM, "mc: %s_%zu has a non-finite entry",
                             nm, idx);
      if (nr == 0)
        return mv_error_set (MV_EDOM, "mc: %s_%zu is the zero vector (its "
                             "direction is undefined)", nm, idx);
      w->norms[a] = nr;
      double inv = 1.0 / nr;
      for (size_t i = 0; i < d; i++)
        x[i] *= inv;
    }
  /* bitwise-identical unit vectors share coordinates */
  w->nu = 0;
  for (size_t a = 0; a < n; a++)
    {
      size_t u = w->nu;
      for (size_t b = 0; b < a; b++)
        if (w->urow[w->uid[b]] == b
            && memcmp (w->X + a * d, w->X + b * d, d * sizeof (double)) == 0)
          {
            u = w->uid[b];
            break;
          }
      w->uid[a] = u;
      if (u == w->nu)
        w->urow[w->nu++] = a;
    }
  /* classical Gram-Schmidt, twice, in place */
  size_t k = 0;
  for (size_t u = 0; u < w->nu; u++)
    {
      double *x = w->X + w->urow[u] * d;
      double *ru = w->R + u * n;
      memset (ru, 0, n * sizeof (double));
      for (int pass = 0; pass < 2 && k > 0; pass++)
        {
          for (size_t t = 0; t < k; t++)
            w->coef[t] = mv_dot (w->qrow[t], x, d);
          for (size_t t = 0; t < k; t++)
            {
              axpy_n (x, -w->coef[t], w->qrow[t], d);
              ru[t] += w->coef[t];
            }
        }
      double rho = norm_n (x, d);
      if (rho > MV_MC_RANK_TOL)
        {
          double inv = 1.0 / rho;
          for (size_t i = 0; i < d; i++)
            x[i] *= inv;
          ru[k] = rho;
          w->qrow[k++] = x;
        }
      w->ulen[u] = k;
      /* unit length in k-space (differs from 1 by at most ~TOL^2/2 plus
         rounding); makes the per-sample projection (I - c c^T) exact */
      double cn = norm_n (ru, k);
      for (size_t t = 0; t < k; t++)
        ru[t] /= cn;
    }
  w->k = k;
  /* compact R to stride k (rows only move towards the front) */
  for (size_t u = 0; u < w->nu; u++)
    memmove (w->R + u * k, w->R + u * n, k * sizeof (double));
  return MV_OK;
}

/* --------------------------------------------------------------- main */

int
mv_mc_estimate (mv_mc_result *r, const mv_problem *pb,
                const mv_mc_params *par)
{
  mv_init ();
  if (!r || !pb || !par)
    return mv_error_set (MV_EINVAL, "mv_mc_estimate: NULL argument");
  const size_t d = pb->d, m = pb->m, ms = pb->mstar;
  const size_t N = par->samples, B = par->batches;
  const int want_grad = par->want_grad != 0 && m > 0;
  if (d == 0)
    return mv_error_set (MV_EINVAL, "mc: dimension d = 0");
  if (B < 2)
    return mv_error_set (MV_EINVAL, "mc: batches = %zu (need at least 2 for "
                         "a standard error)", B);
  if (N < B)
    return mv_error_set (MV_EINVAL, "mc: samples = %zu is fewer than "
                         "batches = %zu", N, B);
  if (!(pb->noise_var >= 0) || !isfinite (pb->noise_var))
    return mv_error_set (MV_EINVAL, "mc: noise variance %g is not a finite "
                         "non-negative number", pb->noise_var);
  if (r->m != m || r->d != d)
    return mv_error_set (MV_EINVAL, "mc: result sized for m = %zu, d = %zu "
                         "but the problem has m = %zu, d = %zu",
                         r->m, r->d, m, d);
  if (want_grad && (!r->gV || !r->gW || !r->gV_se || !r->gW_se))
    return mv_error_set (MV_EINVAL, "mc: gradient requested but the result "
                         "was initialised without gradient arrays");
  if (m > SIZE_MAX / 4 || ms > SIZE_MAX / 4)
    return mv_error_set (MV_EINVAL, "mc: too many experts");

  mc_ws w;
  memset (&w, 0, sizeof w);
  w.d = d;
  w.m = m;
  w.ms = ms;
  w.n = 2 * m + 2 * ms;
  const size_t n = w.n;
  int status = MV_OK;
  gsl_rng *rng = NULL;
  gsl_eigen_symmv_workspace *eig = NULL;
  gsl_matrix *A = NULL, *E = NULL;
  gsl_vector *lam = NULL;

  /* (n == 0 is allowed: f = f* = 0 and only label noise is sampled) */
  size_t nd, nn, mnn, bx, tmp;
  if (!mul_ok (n, d, &nd) || !mul_ok (n, n, &nn) || !mul_ok (2 * m, nn, &mnn)
      || !mul_ok (mnn, sizeof (double), &tmp)
      || !mul_ok (nd, sizeof (double), &bx))
    return mv_error_set (MV_ENOMEM, "mc: problem too large (n = %zu vectors, "
                         "d = %zu)", n, d);
#define ALLOC(p, cnt)                                              \
  do {                                                             \
    size_t cnt_ = (cnt);                                           \
    (p) = calloc (cnt_ > 0 ? cnt_ : 1, sizeof *(p));               \
    if (!(p)) { status = mv_error_set (MV_ENOMEM, "mc: out of memory"); \
                goto done; }                                       \
  } while (0)
  w.X = malloc (bx ? bx : 1);
  if (!w.X)
    {
      status = mv_error_set (MV_ENOMEM, "mc: out of memory for %zu x %zu "
                             "vectors", n, d);
      goto done;
    }
  ALLOC (w.norms, n);
  ALLOC (w.uid, n);
  ALLOC (w.urow, n);
  ALLOC (w.R, n * n);
  ALLOC (w.ulen, n);
  ALLOC (w.qrow, n);
  ALLOC (w.coef, n);

  status = mv_problem_vectors_d (w.X, w.X + m * d, w.X + 2 * m * d,
                                 w.X + (2 * m + ms) * d, pb);
  if (status != MV_OK)
    goto done;
  status = build_basis (&w);
  if (status != MV_OK)
    goto done;
  const size_t k = w.k, nu = w.nu;

  const size_t kp = (k + 3) / 4 * 4, BS = MV_MC_BLOCK;
  w.kp = kp;
  ALLOC (w.Rp, nu * kp);
  ALLOC (w.ulen4, nu);
  for (size_t u = 0; u < nu; u++)
    {
      memcpy (w.Rp + u * kp, w.R + u * k, w.ulen[u] * sizeof (double));
      w.ulen4[u] = (w.ulen[u] + 3) / 4 * 4;
    }
  ALLOC (w.xi, BS * kp);
  ALLOC (w.eps, BS);
  ALLOC (w.proj, BS * nu);
  if (want_grad)
    {
      ALLOC (w.Cf, 2 * m * BS);
      ALLOC (w.S, 2 * m * kp);
      ALLOC (w.T, 2 * m);
      ALLOC (w.Y, 2 * m * k);
      ALLOC (w.M, 2 * m * k);
      ALLOC (w.C, 2 * m * k * k);
      ALLOC (w.G, 2 * m * k);
      ALLOC (w.delta, k);
      ALLOC (w.F, kp * kp);
      ALLOC (w.ybar, kp);
      /* transpose the basis (components of one coordinate contiguous) and
         release the d-dimensional vectors */
      size_t dkp;
      if (!mul_ok (d, kp, &dkp) || !mul_ok (dkp, sizeof (double), &tmp))
        {
          status = mv_error_set (MV_ENOMEM, "mc: problem too large");
          goto done;
        }
      ALLOC (w.QT, dkp);
      for (size_t t = 0; t < k; t++)
        {
          const double *q = w.qrow[t];
          for (size_t c = 0; c < d; c++)
            w.QT[c * kp + t] = q[c];
        }
    }
  free (w.X);
  w.X = NULL;
  memset (w.qrow, 0, n * sizeof *w.qrow);

  rng = gsl_rng_alloc (gsl_rng_mt19937);
  if (!rng)
    {
      status = mv_error_set (MV_ENOMEM, "mc: cannot allocate the random "
                             "number generator");
      goto done;
    }
  gsl_rng_set (rng, par->seed);

  /* slot tables */
  const size_t *vid = w.uid, *wid = w.uid + m;
  const size_t *tvid = w.uid + 2 * m, *twid = w.uid + 2 * m + ms;
  const double s_noise = sqrt (pb->noise_var);
  const int noisy = pb->noise_var > 0;
  double *xi = w.xi, *proj = w.proj, *Cf = w.Cf;

  /* progress: every 1% of the samples */
#define TICK_AT(t) ((size_t) ((double) N * (double) (t) / 100.0))
  size_t done_s = 0, tick = 1, next_tick = TICK_AT (1);
  if (par->progress)
    par->progress (par->progress_ctx, 0.0);

  double lmean = 0, lscat = 0, lsum_all = 0;
  const size_t base = N / B, rem = N % B;
  for (size_t b = 0; b < B; b++)
    {
      const size_t nb = base + (b < rem);
      double lsum = 0;
      if (want_grad)
        {
          memset (w.S, 0, 2 * m * kp * sizeof (double));
          memset (w.T, 0, 2 * m * sizeof (double));
        }
      for (size_t s0 = 0; s0 < nb; s0 += BS)
        {
          const size_t bs = nb - s0 < BS ? nb - s0 : BS;
          /* per sample: k variates for xi, then the label noise */
          for (size_t s = 0; s < bs; s++)
            {
              double *x = xi + s * kp;
              for (size_t t = 0; t < k; t++)
                x[t] = gsl_ran_gaussian_ziggurat (rng, 1.0);
              if (noisy)
                w.eps[s] = s_noise * gsl_ran_gaussian_ziggurat (rng, 1.0);
            }
          for (size_t u = 0; u < nu; u++)
            kern_proj (proj + u, nu, w.Rp + u * kp, w.ulen4[u], xi, kp, bs);
          for (size_t s = 0; s < bs; s++)
            {
              const double *p = proj + s * nu;
              double f = 0, fs = 0;
              for (size_t j = 0; j < ms; j++)
                {
                  double a = p[tvid[j]], z = p[twid[j]];
                  double pi = 1.0 / (1.0 + exp (-a));
                  fs += pi * (z * (z * z - 3.0));
                }
              if (!want_grad)
                {
                  for (size_t i = 0; i < m; i++)
                    {
                      double a = p[vid[i]], z = p[wid[i]];
                      double pi = 1.0 / (1.0 + exp (-a));
                      f += pi * (z * (z * z - 3.0));
                    }
                  double res = f - fs - (noisy ? w.eps[s] : 0.0);
                  lsum += 0.5 * res * res;
                  continue;
                }
              /* f, keeping pi(a_i) and He3(b_i) in the coefficient slots
                 until the residual is known */
              for (size_t i = 0; i < m; i++)
                {
                  double a = p[vid[i]], z = p[wid[i]];
                  double pi = 1.0 / (1.0 + exp (-a));
                  double he = z * (z * z - 3.0);
                  Cf[i * BS + s] = pi;
                  Cf[(m + i) * BS + s] = he;
                  f += pi * he;
                }
              double res = f - fs - (noisy ? w.eps[s] : 0.0);
              lsum += 0.5 * res * res;
              for (size_t i = 0; i < m; i++)
                {
                  double a = p[vid[i]], z = p[wid[i]];
                  double pi = Cf[i * BS + s], he = Cf[(m + i) * BS + s];
                  double cv = res * pi * (1.0 - pi) * he;
                  double cw = res * pi * 3.0 * (z * z - 1.0);
                  w.T[i] += cv * a;
                  w.T[m + i] += cw * z;
                  Cf[i * BS + s] = cv;
                  Cf[(m + i) * BS + s] = cw;
                }
            }
          if (want_grad)
            kern_accum (w.S, Cf, xi, 2 * m, kp, bs);
          done_s += bs;
          if (par->progress && done_s >= next_tick)
            {
              while (tick < 100 && TICK_AT (tick) <= done_s)
                tick++;
              next_tick = tick < 100 ? TICK_AT (tick) : SIZE_MAX;
              par->progress (par->progress_ctx, (double) done_s / (double) N);
            }
        }
      /* batch statistics (Welford over the B batch means) */
      double lb = lsum / (double) nb;
      lsum_all += lsum;
      double dl = lb - lmean;
      lmean += dl / (double) (b + 1);
      lscat += dl * (lb - lmean);
      if (want_grad)
        {
          for (size_t j = 0; j < 2 * m; j++)
            {
              const double *c = w.Rp + w.uid[j] * kp; /* slot j = vector j */
              const double *Sj = w.S + j * kp;
              double Tj = w.T[j];
              double sc = 1.0 / (w.norms[j] * (double) nb);
              double *Yj = w.Y + j * k, *Mj = w.M + j * k;
              double *Cj = w.C + j * k * k, *Gj = w.G + j * k;
              for (size_t t = 0; t < k; t++)
                {
                  Yj[t] = (Sj[t] - c[t] * Tj) * sc;
                  Gj[t] += (double) nb * Yj[t];
                  w.delta[t] = Yj[t] - Mj[t];
                  Mj[t] += w.delta[t] / (double) (b + 1);
                }
              for (size_t t = 0; t < k; t++)
                {
                  double dt = w.delta[t];
                  for (size_t t2 = 0; t2 < k; t2++)
                    Cj[t * k + t2] += dt * (Yj[t2] - Mj[t2]);
                }
            }
        }
    }

  r->samples = N;
  r->batches = B;
  r->rank = k;
  r->loss = lsum_all / (double) N;
  r->loss_se = sqrt (lscat / ((double) B * (double) (B - 1)));

  if (!want_grad)
    {
      if (r->gV)
        for (size_t i = 0; i < m * d; i++)
          r->gV[i] = r->gW[i] = r->gV_se[i] = r->gW_se[i] = NAN;
      goto finished;
    }

  /* map back to R^d: mean, and variance through the scatter's eigenpairs */
  if (k > 0)
    {
      A = gsl_matrix_alloc (k, k);
      E = gsl_matrix_alloc (k, k);
      lam = gsl_vector_alloc (k);
      eig = gsl_eigen_symmv_alloc (k);
      if (!A || !E || !lam || !eig)
        {
          status = mv_error_set (MV_ENOMEM, "mc: out of memory");
          goto done;
        }
    }
  const double vscale = 1.0 / ((double) B * (double) (B - 1));
  for (size_t j = 0; j < 2 * m; j++)
    {
      double *g = (j < m ? r->gV : r->gW) + (j % m) * d;
      double *gse = (j < m ? r->gV_se : r->gW_se) + (j % m) * d;
      const double *Gj = w.G + j * k;
      if (k == 0)
        {
          memset (g, 0, d * sizeof (double));
          memset (gse, 0, d * sizeof (double));
          continue;
        }
      for (size_t t = 0; t < k; t++)
        w.ybar[t] = Gj[t] / (double) N;
      kern_proj (g, 1, w.ybar, kp, w.QT, kp, d);
      const double *Cj = w.C + j * k * k;
      for (size_t t = 0; t < k; t++)
        for (size_t t2 = 0; t2 < k; t2++)   /* symmetrise rounding */
          gsl_matrix_set (A, t, t2, 0.5 * (Cj[t * k + t2] + Cj[t2 * k + t]));
      int st = gsl_eigen_symmv (A, lam, E, eig);
      if (st != GSL_SUCCESS)
        {
          status = mv_error_set (MV_ENOCONV, "mc: eigen-decomposition of the "
                                 "batch covariance failed: %s",
                                 gsl_strerror (st));
          goto done;
        }
      /* F rows: sqrt(l_e vscale) e_e for the eigenvalues that matter (the
         scatter has rank <= B - 1; eigenvalues below 1e-14 l_max change no
         standard error beyond its 7th digit) */
      double lmax = 0;
      for (size_t e = 0; e < k; e++)
        lmax = fmax (lmax, gsl_vector_get (lam, e));
      size_t rk = 0;
      memset (w.F, 0, kp * kp * sizeof (double));
      for (size_t e = 0; e < k; e++)
        {
          double l = gsl_vector_get (lam, e);
          if (!(l > 1e-14 * lmax))
            continue;
          double sl = sqrt (l * vscale);
          for (size_t t = 0; t < k; t++)
            w.F[rk * kp + t] = sl * gsl_matrix_get (E, t, e);
          rk++;
        }
      kern_se (gse, w.QT, d, w.F, rk, kp);
    }

finished:
  if (par->progress)
    par->progress (par->progress_ctx, 1.0);
  status = MV_OK;

done:
#undef ALLOC
  if (status != MV_OK)
    {
      r->loss = NAN;
      r->loss_se = NAN;
    }
  gsl_rng_free (rng);
  if (eig)
    gsl_eigen_symmv_free (eig);
  gsl_matrix_free (A);
  gsl_matrix_free (E);
  gsl_vector_free (lam);
  ws_free (&w);
  return status;
}
