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

static double
dot_n (const double *restrict a, const double *restrict b, size_t n)
{
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4)
    {
      s0 += a[i] * b[i];
      s1 += a[i + 1] * b[i + 1];
      s2 += a[i + 2] * b[i + 2];
      s3 += a[i + 3] * b[i + 3];
    }
  for (; i < n; i++)
    s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

static void
axpy_n (double *restrict y, double alpha, const double *restrict x, size_t n)
{
  for (size_t i = 0; i < n; i++)
    y[i] += alpha * x[i];
}

/* Euclidean norm, scaled so that huge or tiny entries do not over/underflow. */
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
  /* sampling */
  double *xi;              /* k */
  double *proj;            /* nu */
  double *pa, *pb, *ppi, *phe; /* m each: a_i, b_i, pi(a_i), He3(b_i) */
  double *S;               /* 2m x k: sum of c * xi within the batch */
  double *T;               /* 2m: sum of c * (u.x) within the batch */
  double *Y;               /* 2m x k: batch mean */
  double *M;               /* 2m x k: running mean of batch means */
  double *C;               /* 2m x k x k: scatter of batch means */
  double *G;               /* 2m x k: sum over batches of nb * Y */
  double *delta;           /* k */
  double *z;               /* d */
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
  free (w->xi);
  free (w->proj);
  free (w->pa);
  free (w->pb);
  free (w->ppi);
  free (w->phe);
  free (w->S);
  free (w->T);
  free (w->Y);
  free (w->M);
  free (w->C);
  free (w->G);
  free (w->delta);
  free (w->z);
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
            w->coef[t] = dot_n (w->qrow[t], x, d);
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

  ALLOC (w.xi, k);
  ALLOC (w.proj, nu);
  ALLOC (w.pa, m);
  ALLOC (w.pb, m);
  ALLOC (w.ppi, m);
  ALLOC (w.phe, m);
  if (want_grad)
    {
      ALLOC (w.S, 2 * m * k);
      ALLOC (w.T, 2 * m);
      ALLOC (w.Y, 2 * m * k);
      ALLOC (w.M, 2 * m * k);
      ALLOC (w.C, 2 * m * k * k);
      ALLOC (w.G, 2 * m * k);
      ALLOC (w.delta, k);
      ALLOC (w.z, d);
    }

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
  const double *R = w.R;
  const size_t *ulen = w.ulen;
  double *xi = w.xi, *proj = w.proj;
  double *pa = w.pa, *pbv = w.pb, *ppi = w.ppi, *phe = w.phe;

  /* progress: every 1% of the samples */
#define TICK_AT(t) ((size_t) ((double) N * (double) (t) / 100.0))
  size_t done_s = 0, tick = 1, next_tick = TICK_AT (1) ? TICK_AT (1) : 1;
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
          memset (w.S, 0, 2 * m * k * sizeof (double));
          memset (w.T, 0, 2 * m * sizeof (double));
        }
      for (size_t s = 0; s < nb; s++)
        {
          for (size_t t = 0; t < k; t++)
            xi[t] = gsl_ran_gaussian_ziggurat (rng, 1.0);
          for (size_t u = 0; u < nu; u++)
            proj[u] = dot_n (R + u * k, xi, ulen[u]);
          double f = 0, fs = 0;
          for (size_t i = 0; i < m; i++)
            {
              double a = proj[vid[i]], z = proj[wid[i]];
              double p = 1.0 / (1.0 + exp (-a));
              double he = z * (z * z - 3.0);
              pa[i] = a;
              pbv[i] = z;
              ppi[i] = p;
              phe[i] = he;
              f += p * he;
            }
          for (size_t j = 0; j < ms; j++)
            {
              double a = proj[tvid[j]], z = proj[twid[j]];
              double p = 1.0 / (1.0 + exp (-a));   /* same rounding */
              fs += p * (z * (z * z - 3.0));         /* as the student */
            }
          double res = f - fs;
          if (noisy)
            res -= s_noise * gsl_ran_gaussian_ziggurat (rng, 1.0);
          lsum += 0.5 * res * res;
          if (want_grad && res != 0)
            {
              for (size_t i = 0; i < m; i++)
                {
                  double p = ppi[i], z = pbv[i];
                  double cv = res * p * (1.0 - p) * phe[i];
                  double cw = res * p * 3.0 * (z * z - 1.0);
                  w.T[i] += cv * pa[i];
                  w.T[m + i] += cw * z;
                  axpy_n (w.S + i * k, cv, xi, k);
                  axpy_n (w.S + (m + i) * k, cw, xi, k);
                }
            }
          if (par->progress && ++done_s >= next_tick)
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
              const double *c = R + w.uid[j] * k;  /* slot j = vector j */
              const double *Sj = w.S + j * k;
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
      memset (g, 0, d * sizeof (double));
      memset (gse, 0, d * sizeof (double));
      for (size_t t = 0; t < k; t++)
        axpy_n (g, Gj[t] / (double) N, w.qrow[t], d);
      if (k == 0)
        continue;
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
      for (size_t e = 0; e < k; e++)
        {
          double l = gsl_vector_get (lam, e);
          if (!(l > 0))
            continue;           /* rank-deficient (B - 1 < k) or rounding */
          double sl = sqrt (l * vscale);
          memset (w.z, 0, d * sizeof (double));
          for (size_t t = 0; t < k; t++)
            axpy_n (w.z, sl * gsl_matrix_get (E, t, e), w.qrow[t], d);
          for (size_t i = 0; i < d; i++)
            gse[i] += w.z[i] * w.z[i];
        }
      for (size_t i = 0; i < d; i++)
        gse[i] = sqrt (gse[i]);
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
