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
 *     Only xi is sampled: the cost per sample is independent of d.  The
 *     per-sample loss and its partials come from the objective's terms
 *     (mv_loss_sample_d: the data fit through the model kernel shared with
 *     SGD, plus any term added to the objective) on the projections
 *     gathered in model order, so every term with a per-sample form gets
 *     an independent check of its closed form.
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
#include "base/model.h"
#include <moeverify/error.h>
#include <moeverify/hermite.h>
#include <moeverify/loss.h>

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
  double *Pg;              /* block x n: proj in model order (v, w, v*, w*) */
  double *val;             /* block: per-sample objective */
  double *Cf;              /* block x 2m: per-sample gradient coefficients */
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
  /* sampling state */
  gsl_rng *rng;
  mv_loss_ws *obj;         /* the objective (the caller's or data fit + noise) */
  int own_obj;
  int want_grad, noisy;
  double s_noise;
  double lsum;             /* loss sum of the current batch */
} mc_ws;

static void
ws_free (mc_ws *w)
{
  free (w->X), free (w->norms), free (w->uid), free (w->urow), free (w->R);
  free (w->ulen), free (w->qrow), free (w->coef), free (w->Rp);
  free (w->ulen4), free (w->xi), free (w->eps), free (w->proj), free (w->Pg);
  free (w->val), free (w->Cf), free (w->S);
  if (w->own_obj)
    mv_loss_free (w->obj);
  free (w->T), free (w->Y), free (w->M), free (w->C), free (w->G);
  free (w->delta), free (w->QT), free (w->F), free (w->ybar);
  gsl_rng_free (w->rng);
  memset (w, 0, sizeof *w);
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
      const char *nm = mv_model_vec_name (a, w->m, w->ms, &idx);
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

/* --------------------------------------------------------------- setup */

static int
check_args (const mv_mc_result *r, const mv_problem *pb,
            const mv_mc_params *par)
{
  if (!r || !pb || !par)
    return mv_error_set (MV_EINVAL, "mv_mc_estimate: NULL argument");
  const size_t d = pb->d, m = pb->m, ms = pb->mstar;
  const size_t N = par->samples, B = par->batches;
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
  if (par->want_grad && m > 0
      && (!r->gV || !r->gW || !r->gV_se || !r->gW_se))
    return mv_error_set (MV_EINVAL, "mc: gradient requested but the result "
                         "was initialised without gradient arrays");
  if (m > SIZE_MAX / 4 || ms > SIZE_MAX / 4)
    return mv_error_set (MV_EINVAL, "mc: too many experts");
  return MV_OK;
}

/* The objective whose per-sample forms are sampled: the caller's, or the
 * loss of loss.h (data fit + label noise).  Every term must have one. */
static int
setup_objective (mc_ws *w, const mv_mc_params *par)
{
  if (par->objective)
    {
      size_t om, oms;
      mv_loss_shape (par->objective, &om, &oms);
      if (om != w->m || oms != w->ms)
        return mv_error_set (MV_EINVAL, "mc: objective sized for m = %zu, "
                             "m* = %zu but the problem has m = %zu, m* = %zu",
                             om, oms, w->m, w->ms);
      w->obj = par->objective;
    }
  else if (!(w->obj = mv_loss_alloc (w->m, w->ms, MV_PREC_DOUBLE)))
    return MV_ENOMEM;
  else
    w->own_obj = 1;
  double v;
  return mv_loss_sample_d (&v, NULL, 0, NULL, w->n, NULL, 0, w->obj);
}

/* The problem's vectors and their basis (steps 1 of the method). */
static int
setup_basis (mc_ws *w, const mv_problem *pb)
{
  const size_t d = w->d, m = w->m, ms = w->ms, n = w->n;
  int st = MV_OK;
  size_t nd, nn, mnn, bx, tmp;
  if (!mv_mul_ok (n, d, &nd) || !mv_mul_ok (n, n, &nn)
      || !mv_mul_ok (2 * m, nn, &mnn) || !mv_mul_ok (mnn, sizeof (double), &tmp)
      || !mv_mul_ok (nd, sizeof (double), &bx))
    return mv_error_set (MV_ENOMEM, "mc: problem too large (n = %zu vectors, "
                         "d = %zu)", n, d);
  w->X = malloc (bx ? bx : 1);
  if (!w->X)
    return mv_error_set (MV_ENOMEM, "mc: out of memory for %zu x %zu "
                         "vectors", n, d);
  MV_ALLOC (w->norms, n, "mc", st, out);
  MV_ALLOC (w->uid, n, "mc", st, out);
  MV_ALLOC (w->urow, n, "mc", st, out);
  MV_ALLOC (w->R, n * n, "mc", st, out);
  MV_ALLOC (w->ulen, n, "mc", st, out);
  MV_ALLOC (w->qrow, n, "mc", st, out);
  MV_ALLOC (w->coef, n, "mc", st, out);
  st = mv_problem_vectors_d (w->X, w->X + m * d, w->X + 2 * m * d,
                             w->X + (2 * m + ms) * d, pb);
  if (st == MV_OK)
    st = build_basis (w);
out:
  return st;
}

/* Sampling arrays, the transposed basis (the d-vectors are released) and
 * the generator. */
static int
setup_sampling (mc_ws *w, unsigned long seed)
{
  const size_t k = w->k, nu = w->nu, kp = (k + 3) / 4 * 4, m = w->m;
  const size_t n = w->n, BS = MV_MC_BLOCK;
  int st = MV_OK;
  w->kp = kp;
  MV_ALLOC (w->Rp, nu * kp, "mc", st, out);
  MV_ALLOC (w->ulen4, nu, "mc", st, out);
  for (size_t u = 0; u < nu; u++)
    {
      memcpy (w->Rp + u * kp, w->R + u * k, w->ulen[u] * sizeof (double));
      w->ulen4[u] = (w->ulen[u] + 3) / 4 * 4;
    }
  MV_ALLOC (w->xi, BS * kp, "mc", st, out);
  MV_ALLOC (w->eps, BS, "mc", st, out);
  MV_ALLOC (w->proj, BS * nu, "mc", st, out);
  MV_ALLOC (w->Pg, BS * n, "mc", st, out);
  MV_ALLOC (w->val, BS, "mc", st, out);
  if (w->want_grad)
    {
      MV_ALLOC (w->Cf, 2 * m * BS, "mc", st, out);
      MV_ALLOC (w->S, 2 * m * kp, "mc", st, out);
      MV_ALLOC (w->T, 2 * m, "mc", st, out);
      MV_ALLOC (w->Y, 2 * m * k, "mc", st, out);
      MV_ALLOC (w->M, 2 * m * k, "mc", st, out);
      MV_ALLOC (w->C, 2 * m * k * k, "mc", st, out);
      MV_ALLOC (w->G, 2 * m * k, "mc", st, out);
      MV_ALLOC (w->delta, k, "mc", st, out);
      MV_ALLOC (w->F, kp * kp, "mc", st, out);
      MV_ALLOC (w->ybar, kp, "mc", st, out);
      /* components of one coordinate contiguous */
      size_t dkp, tmp;
      if (!mv_mul_ok (w->d, kp, &dkp) || !mv_mul_ok (dkp, sizeof (double), &tmp))
        return mv_error_set (MV_ENOMEM, "mc: problem too large");
      MV_ALLOC (w->QT, dkp, "mc", st, out);
      for (size_t t = 0; t < k; t++)
        for (size_t c = 0; c < w->d; c++)
          w->QT[c * kp + t] = w->qrow[t][c];
    }
  free (w->X);
  w->X = NULL;
  memset (w->qrow, 0, n * sizeof *w->qrow);
  if (!(w->rng = gsl_rng_alloc (gsl_rng_mt19937)))
    return mv_error_set (MV_ENOMEM, "mc: cannot allocate the random "
                         "number generator");
  gsl_rng_set (w->rng, seed);
out:
  return st;
}

/* -------------------------------------------------------------- sampling */

/* One block of bs samples: draw xi (k variates per sample, then the label
 * noise), project, evaluate the objective per sample and add to the
 * batch's loss and gradient sums. */
static int
sample_block (mc_ws *w, size_t bs)
{
  const size_t k = w->k, kp = w->kp, nu = w->nu, n = w->n, m = w->m;
  double *xi = w->xi, *Pg = w->Pg;
  for (size_t s = 0; s < bs; s++)
    {
      double *x = xi + s * kp;
      for (size_t t = 0; t < k; t++)
        x[t] = gsl_ran_gaussian_ziggurat (w->rng, 1.0);
      if (w->noisy)
        w->eps[s] = w->s_noise * gsl_ran_gaussian_ziggurat (w->rng, 1.0);
    }
  for (size_t u = 0; u < nu; u++)
    kern_proj (w->proj + u, nu, w->Rp + u * kp, w->ulen4[u], xi, kp, bs);
  for (size_t s = 0; s < bs; s++)
    for (size_t a = 0; a < n; a++)
      Pg[s * n + a] = w->proj[s * nu + w->uid[a]];
  int st = mv_loss_sample_d (w->val, w->want_grad ? w->Cf : NULL, 2 * m, Pg,
                             n, w->noisy ? w->eps : NULL, bs, w->obj);
  if (st)
    return st;
  for (size_t s = 0; s < bs; s++)
    w->lsum += w->val[s];
  if (!w->want_grad)
    return MV_OK;
  /* coefficients dl/da_i, dl/db_i; T_j += c_j (u_j.x) */
  for (size_t s = 0; s < bs; s++)
    for (size_t j = 0; j < 2 * m; j++)
      w->T[j] += w->Cf[s * 2 * m + j] * Pg[s * n + j];
  mv_linalg_accum (w->S, w->Cf, 2 * m, xi, bs, 2 * m, kp, 1);
  return MV_OK;
}

/* Welford update of the gradient batch means with batch b (nb samples). */
static void
grad_batch_stats (mc_ws *w, size_t b, size_t nb)
{
  const size_t k = w->k, kp = w->kp;
  for (size_t j = 0; j < 2 * w->m; j++)
    {
      const double *c = w->Rp + w->uid[j] * kp; /* slot j = vector j */
      const double *Sj = w->S + j * kp;
      double Tj = w->T[j];
      double sc = 1.0 / (w->norms[j] * (double) nb);
      double *Yj = w->Y + j * k, *Mj = w->M + j * k;
      double *Cj = w->C + j * k * k, *Gj = w->G + j * k;
      for (size_t t = 0; t < k; t++)
        {
          Yj[t] = (Sj[t] - c[t] * Tj) * sc;
          Gj[t] += (double) nb * Yj[t];
          w->delta[t] = Yj[t] - Mj[t];
          Mj[t] += w->delta[t] / (double) (b + 1);
        }
      for (size_t t = 0; t < k; t++)
        {
          double dt = w->delta[t];
          for (size_t t2 = 0; t2 < k; t2++)
            Cj[t * k + t2] += dt * (Yj[t2] - Mj[t2]);
        }
    }
}

/* progress: every 1% of the samples */
#define TICK_AT(N, t) ((size_t) ((double) (N) * (double) (t) / 100.0))

/* The B batches; loss mean and standard error into r. */
static int
sample_all (mc_ws *w, mv_mc_result *r, const mv_mc_params *par)
{
  const size_t N = par->samples, B = par->batches, BS = MV_MC_BLOCK;
  size_t done_s = 0, tick = 1, next_tick = TICK_AT (N, 1);
  double lmean = 0, lscat = 0, lsum_all = 0;
  const size_t base = N / B, rem = N % B;
  for (size_t b = 0; b < B; b++)
    {
      const size_t nb = base + (b < rem);
      w->lsum = 0;
      if (w->want_grad)
        {
          memset (w->S, 0, 2 * w->m * w->kp * sizeof (double));
          memset (w->T, 0, 2 * w->m * sizeof (double));
        }
      for (size_t s0 = 0; s0 < nb; s0 += BS)
        {
          const size_t bs = nb - s0 < BS ? nb - s0 : BS;
          int st = sample_block (w, bs);
          if (st)
            return st;
          done_s += bs;
          if (par->progress && done_s >= next_tick)
            {
              while (tick < 100 && TICK_AT (N, tick) <= done_s)
                tick++;
              next_tick = tick < 100 ? TICK_AT (N, tick) : SIZE_MAX;
              par->progress (par->progress_ctx, (double) done_s / (double) N);
            }
        }
      /* batch statistics (Welford over the B batch means) */
      double lb = w->lsum / (double) nb;
      lsum_all += w->lsum;
      double dl = lb - lmean;
      lmean += dl / (double) (b + 1);
      lscat += dl * (lb - lmean);
      if (w->want_grad)
        grad_batch_stats (w, b, nb);
    }
  r->samples = N;
  r->batches = B;
  r->rank = w->k;
  r->loss = lsum_all / (double) N;
  r->loss_se = sqrt (lscat / ((double) B * (double) (B - 1)));
  return MV_OK;
}

/* ------------------------------------------------------------- results */

/* Slot j back in R^d: mean g = Q ybar, standard errors through the
 * eigenpairs of its scatter (A, E, lam, eig: k x k workspace). */
static int
grad_slot (mc_ws *w, double *g, double *gse, size_t j, size_t N, size_t B,
           gsl_matrix *A, gsl_matrix *E, gsl_vector *lam,
           gsl_eigen_symmv_workspace *eig)
{
  const size_t k = w->k, kp = w->kp, d = w->d;
  const double *Gj = w->G + j * k, *Cj = w->C + j * k * k;
  const double vscale = 1.0 / ((double) B * (double) (B - 1));
  for (size_t t = 0; t < k; t++)
    w->ybar[t] = Gj[t] / (double) N;
  kern_proj (g, 1, w->ybar, kp, w->QT, kp, d);
  for (size_t t = 0; t < k; t++)
    for (size_t t2 = 0; t2 < k; t2++)   /* symmetrise rounding */
      gsl_matrix_set (A, t, t2, 0.5 * (Cj[t * k + t2] + Cj[t2 * k + t]));
  int st = gsl_eigen_symmv (A, lam, E, eig);
  if (st != GSL_SUCCESS)
    return mv_error_set (MV_ENOCONV, "mc: eigen-decomposition of the batch "
                         "covariance failed: %s", gsl_strerror (st));
  /* F rows: sqrt(l_e vscale) e_e for the eigenvalues that matter (the
     scatter has rank <= B - 1; eigenvalues below 1e-14 l_max change no
     standard error beyond its 7th digit) */
  double lmax = 0;
  for (size_t e = 0; e < k; e++)
    lmax = fmax (lmax, gsl_vector_get (lam, e));
  size_t rk = 0;
  memset (w->F, 0, kp * kp * sizeof (double));
  for (size_t e = 0; e < k; e++)
    {
      double l = gsl_vector_get (lam, e);
      if (!(l > 1e-14 * lmax))
        continue;
      double sl = sqrt (l * vscale);
      for (size_t t = 0; t < k; t++)
        w->F[rk * kp + t] = sl * gsl_matrix_get (E, t, e);
      rk++;
    }
  kern_se (gse, w->QT, d, w->F, rk, kp);
  return MV_OK;
}

/* Map every student slot back to R^d (step 3 of the method). */
static int
grad_results (mc_ws *w, mv_mc_result *r, size_t N, size_t B)
{
  const size_t k = w->k, m = w->m, d = w->d;
  if (k == 0)
    {
      memset (r->gV, 0, m * d * sizeof (double));
      memset (r->gW, 0, m * d * sizeof (double));
      memset (r->gV_se, 0, m * d * sizeof (double));
      memset (r->gW_se, 0, m * d * sizeof (double));
      return MV_OK;
    }
  gsl_matrix *A = gsl_matrix_alloc (k, k), *E = gsl_matrix_alloc (k, k);
  gsl_vector *lam = gsl_vector_alloc (k);
  gsl_eigen_symmv_workspace *eig = gsl_eigen_symmv_alloc (k);
  int st = MV_OK;
  if (!A || !E || !lam || !eig)
    st = mv_error_set (MV_ENOMEM, "mc: out of memory");
  for (size_t j = 0; j < 2 * m && st == MV_OK; j++)
    st = grad_slot (w, (j < m ? r->gV : r->gW) + (j % m) * d,
                    (j < m ? r->gV_se : r->gW_se) + (j % m) * d, j, N, B,
                    A, E, lam, eig);
  if (eig)
    gsl_eigen_symmv_free (eig);
  gsl_matrix_free (A);
  gsl_matrix_free (E);
  gsl_vector_free (lam);
  return st;
}

/* --------------------------------------------------------------- main */

int
mv_mc_estimate (mv_mc_result *r, const mv_problem *pb,
                const mv_mc_params *par)
{
  mv_init ();
  int status = check_args (r, pb, par);
  if (status)
    return status;
  mc_ws w;
  memset (&w, 0, sizeof w);
  w.d = pb->d, w.m = pb->m, w.ms = pb->mstar;
  w.n = 2 * w.m + 2 * w.ms;
  w.want_grad = par->want_grad != 0 && w.m > 0;
  w.noisy = pb->noise_var > 0;
  w.s_noise = sqrt (pb->noise_var);
  if ((status = setup_objective (&w, par)) || (status = setup_basis (&w, pb))
      || (status = setup_sampling (&w, par->seed)))
    goto done;
  if (par->progress)
    par->progress (par->progress_ctx, 0.0);
  if ((status = sample_all (&w, r, par)))
    goto done;
  if (!w.want_grad)
    {
      if (r->gV)
        for (size_t i = 0; i < w.m * w.d; i++)
          r->gV[i] = r->gW[i] = r->gV_se[i] = r->gW_se[i] = NAN;
    }
  else if ((status = grad_results (&w, r, par->samples, par->batches)))
    goto done;
  if (par->progress)
    par->progress (par->progress_ctx, 1.0);

done:
  if (status != MV_OK)
    {
      r->loss = NAN;
      r->loss_se = NAN;
    }
  ws_free (&w);
  return status;
}
