/* Online mini-batch SGD on the raw student vectors (MATH.md §1: the
 * paper's simulation of the gradient flow), recorded in the trajectory
 * format of the flows.
 *
 * Step k (flow time t = lr k):
 *   draw x_1..x_B ~ N(0, I_d) (full d-vectors), y_s = f*(x_s) [+ s eps_s];
 *   r_s = f(theta, x_s) - y_s, loss per sample r_s^2 / 2;
 *   dv_i = (1/B) sum_s r_s pi'(a_is) He3(b_is) (x_s - a_is vbar_i) / |v_i|
 *   dw_i = (1/B) sum_s r_s pi(a_is) He3'(b_is) (x_s - b_is wbar_i) / |w_i|
 *   (a_is = vbar_i.x_s, b_is = wbar_i.x_s), theta <- theta - lr grad.
 *
 * Per step the work is two small matrix products, O(B n d) with
 * n = 2m + 2m*: the projections P = X U^T of all B samples on all n raw
 * vectors, and the gradient sums S = C X (2m x B times B x d), each in
 * register tiles over padded arrays (no tails, so every entry is summed in
 * the same order whatever its position: a student bitwise equal to a
 * teacher gets bitwise equal projections, and f - f* = 0 exactly).
 *
 * Randomness: gsl_rng_mt19937 seeded with stream_seed (p->seed) (below);
 * per sample d normals (gsl_ran_gaussian_ziggurat, sigma 1) for x, then
 * one for the label noise when the problem has noise_var > 0.  No
 * allocation inside the step loop except at output times (closed-form
 * evaluation, trajectory rows).
 *
 * Outputs: rows at t = 0 and at the requested times rounded to whole
 * steps, each with the full Gram matrix and the POPULATION loss and
 * |grad L|^2 from the closed form (double path; a private copy of the
 * problem with the teacher explicit, only the student replaced).  Events:
 * mv_traj_observe at every row and every k_obs steps in between, with the
 * student-teacher block of G (the student-student block is NAN there);
 * that block costs 4 m m* dot products of length d against B (4m + 2m*)
 * for a step, and k_obs is the smallest interval keeping it below 10%:
 * 1 unless the batch is tiny (paper setting: 3.6% at every step). */
#include <moeverify/sgd.h>
#include "base/linalg.h"
#include <moeverify/error.h>
#include <moeverify/io.h>
#include <moeverify/loss.h>
#include <moeverify/problem.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

/* Columns per cache block of the projection product: 4 sample rows of
 * this length stay in L1 while all n parameter rows stream past. */
#define SGD_DCHUNK 512
/* Samples per cache block of the gradient product (their coefficients,
 * 2m x SGD_SCHUNK doubles, stay in L1). */
#define SGD_SCHUNK 32
/* Event observation may cost at most this fraction of a step. */
#define SGD_OBS_FRAC 0.1

void
mv_sgd_params_default (mv_sgd_params *p)
{
  if (!p)
    return;
  memset (p, 0, sizeof *p);
  p->lr = 1e-3;
  p->batch = 128;
  p->steps = 10000;
  p->seed = 1;
  p->n_out = 200;
}

/* The generator's seed: SplitMix64 of the seed xor a tag, low 32 bits
 * (all that mt19937 uses).  Seeding with p->seed itself would replay the
 * vectors of a spec generated with the same seed by the same generator
 * and ziggurat: with the paper spec (teacher seed 1) and SGD seed 1, the
 * first 10 samples ARE the teacher's generating Gaussians, |w*.x| =
 * sqrt(d) and residuals reach 2e4 in the first step. */
static unsigned long
stream_seed (unsigned long seed)
{
  uint64_t z = (uint64_t) seed ^ UINT64_C (0x5347445f53545245);  /* "SGD_STRE" */
  z += UINT64_C (0x9e3779b97f4a7c15);
  z = (z ^ (z >> 30)) * UINT64_C (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C (0x94d049bb133111eb);
  z ^= z >> 31;
  return (unsigned long) (z & UINT64_C (0xffffffff));
}

/* ------------------------------------------------------------ kernels */


#if defined(MV_HAVE_V2D) && !defined(MV_SGD_SCALAR)
/* the shared two-wide helpers of linalg.h */
typedef mv_v2d v2d;
#define ld2 mv_ld2
#define st2 mv_st2

/* P[s * np + k] = X[s] . U[k] for s < bp (multiple of 4), k < np (even);
 * rows have dp (multiple of 4) entries.  Column blocks of SGD_DCHUNK are
 * summed in order, each in a two-lane accumulator. */
static void
kern_proj (double *P, const double *X, const double *U, size_t bp, size_t np,
           size_t dp)
{
  memset (P, 0, bp * np * sizeof *P);
  for (size_t c0 = 0; c0 < dp; c0 += SGD_DCHUNK)
    {
      const size_t c1 = c0 + SGD_DCHUNK < dp ? c0 + SGD_DCHUNK : dp;
      for (size_t s = 0; s < bp; s += 4)
        {
          const double *x0 = X + s * dp, *x1 = x0 + dp, *x2 = x1 + dp,
            *x3 = x2 + dp;
          for (size_t k = 0; k < np; k += 2)
            {
              const double *u0 = U + k * dp, *u1 = u0 + dp;
              v2d a00 = { 0, 0 }, a01 = { 0, 0 }, a10 = { 0, 0 },
                a11 = { 0, 0 }, a20 = { 0, 0 }, a21 = { 0, 0 },
                a30 = { 0, 0 }, a31 = { 0, 0 };
              for (size_t t = c0; t < c1; t += 2)
                {
                  v2d p0 = ld2 (u0 + t), p1 = ld2 (u1 + t);
                  v2d y0 = ld2 (x0 + t), y1 = ld2 (x1 + t);
                  v2d y2 = ld2 (x2 + t), y3 = ld2 (x3 + t);
                  a00 += y0 * p0;
                  a01 += y0 * p1;
                  a10 += y1 * p0;
                  a11 += y1 * p1;
                  a20 += y2 * p0;
                  a21 += y2 * p1;
                  a30 += y3 * p0;
                  a31 += y3 * p1;
                }
              double *o = P + s * np + k;
              o[0] += a00[0] + a00[1];
              o[1] += a01[0] + a01[1];
              o[np] += a10[0] + a10[1];
              o[np + 1] += a11[0] + a11[1];
              o[2 * np] += a20[0] + a20[1];
              o[2 * np + 1] += a21[0] + a21[1];
              o[3 * np] += a30[0] + a30[1];
              o[3 * np + 1] += a31[0] + a31[1];
            }
        }
    }
}

/* S[j] = sum_{s < b} Ct[s * jp + j] X[s] for j < jp (multiple of 4); rows
 * of S and X have dp (multiple of 4) entries.  Tiles of 4 rows x 4
 * columns; samples in blocks of SGD_SCHUNK. */
static void
kern_grad (double *S, const double *Ct, const double *X, size_t b, size_t jp,
           size_t dp)
{
  for (size_t s0 = 0; s0 < b; s0 += SGD_SCHUNK)
    {
      const size_t s1 = s0 + SGD_SCHUNK < b ? s0 + SGD_SCHUNK : b;
      for (size_t t = 0; t < dp; t += 4)
        for (size_t j = 0; j < jp; j += 4)
          {
            double *S0 = S + j * dp + t, *S1 = S0 + dp, *S2 = S1 + dp,
              *S3 = S2 + dp;
            v2d a00, a01, a10, a11, a20, a21, a30, a31;
            if (s0 == 0)
              a00 = a01 = a10 = a11 = a20 = a21 = a30 = a31 = (v2d) { 0, 0 };
            else
              {
                a00 = ld2 (S0), a01 = ld2 (S0 + 2);
                a10 = ld2 (S1), a11 = ld2 (S1 + 2);
                a20 = ld2 (S2), a21 = ld2 (S2 + 2);
                a30 = ld2 (S3), a31 = ld2 (S3 + 2);
              }
            for (size_t s = s0; s < s1; s++)
              {
                const double *x = X + s * dp + t, *c = Ct + s * jp + j;
                v2d y0 = ld2 (x), y1 = ld2 (x + 2);
                v2d c0 = { c[0], c[0] }, c1 = { c[1], c[1] };
                v2d c2 = { c[2], c[2] }, c3 = { c[3], c[3] };
                a00 += c0 * y0;
                a01 += c0 * y1;
                a10 += c1 * y0;
                a11 += c1 * y1;
                a20 += c2 * y0;
                a21 += c2 * y1;
                a30 += c3 * y0;
                a31 += c3 * y1;
              }
            st2 (S0, a00), st2 (S0 + 2, a01);
            st2 (S1, a10), st2 (S1 + 2, a11);
            st2 (S2, a20), st2 (S2 + 2, a21);
            st2 (S3, a30), st2 (S3 + 2, a31);
          }
    }
}
#else
static void
kern_proj (double *P, const double *X, const double *U, size_t bp, size_t np,
           size_t dp)
{
  for (size_t s = 0; s < bp; s++)
    for (size_t k = 0; k < np; k++)
      P[s * np + k] = mv_dot (X + s * dp, U + k * dp, dp);
}

static void
kern_grad (double *S, const double *Ct, const double *X, size_t b, size_t jp,
           size_t dp)
{
  memset (S, 0, jp * dp * sizeof *S);
  for (size_t s = 0; s < b; s++)
    for (size_t j = 0; j < jp; j++)
      {
        double c = Ct[s * jp + j];
        const double *x = X + s * dp;
        double *o = S + j * dp;
        for (size_t t = 0; t < dp; t++)
          o[t] += c * x[t];
      }
}
#endif

/* ------------------------------------------------------------ workspace */

typedef struct
{
  size_t d, dp, m, ms, n, b, bp, jp;
  double *Ua, *Ub;       /* n x dp: raw v, w (the state), then the teacher
                            v*, w*; two buffers so a non-finite update never
                            overwrites the last good state */
  double *X;             /* bp x dp samples (padding stays 0) */
  double *eps;           /* b label-noise variates */
  double *P;             /* bp x n raw projections */
  double *Ct;            /* bp x jp per-sample gradient coefficients / B */
  double *T;             /* 2m: sum_s c_s (unit projection) */
  double *S;             /* jp x dp gradient sums */
  double *inv;           /* n: 1 / raw norm (current state) */
  double *invn;          /* 2m: 1 / raw norm of the proposed state */
  double *ph;            /* 2m: pi(a_i), He3(b_i) of one sample */
  double *Gobs;          /* n x n: Gram for event detection */
  double *G;             /* n x n: full Gram at output times */
  double *Vb, *Wb;       /* m x d: contiguous state for the closed form */
  double *gV, *gW;       /* m x d: closed-form gradient */
  unsigned long *out;    /* output steps (ascending, > 0) */
  size_t nout;
} sgd_ws;

static void
ws_free (sgd_ws *w)
{
  free (w->Ua), free (w->Ub), free (w->X), free (w->eps), free (w->P);
  free (w->Ct), free (w->T), free (w->S), free (w->inv), free (w->invn);
  free (w->ph), free (w->Gobs), free (w->G), free (w->Vb), free (w->Wb);
  free (w->gV), free (w->gW), free (w->out);
  memset (w, 0, sizeof *w);
}

static int
mul_ok (size_t a, size_t b, size_t *out)
{
  if (a && b > SIZE_MAX / a)
    return 0;
  *out = a * b;
  return 1;
}

static int
cmp_ulong (const void *a, const void *b)
{
  unsigned long x = *(const unsigned long *) a, y = *(const unsigned long *) b;
  return (x > y) - (x < y);
}

/* Output steps: requested flow times rounded to the nearest step, sorted,
 * without duplicates or step 0 (always recorded), ending with the last
 * step. */
static int
build_grid (sgd_ws *w, const mv_sgd_params *p)
{
  const double lr = p->lr, steps = (double) p->steps;
  size_t k = p->times ? p->n_times : p->n_out;
  if (k > SIZE_MAX / sizeof *w->out - 1)
    return mv_error_set (MV_EINVAL, "sgd: %zu output times are too many", k);
  w->out = malloc ((k + 1) * sizeof *w->out);
  if (!w->out)
    return mv_error_set (MV_ENOMEM, "sgd: out of memory");
  size_t c = 0;
  for (size_t i = 0; i < k; i++)
    {
      double s;
      if (p->times)
        s = p->times[i] / lr;
      else
        s = k == 1 ? steps : exp (log (steps) * (double) i / (double) (k - 1));
      s = nearbyint (s);
      if (s > steps)            /* rounding at the end */
        s = steps;
      if (s >= 1)
        w->out[c++] = (unsigned long) s;
    }
  w->out[c++] = p->steps;
  qsort (w->out, c, sizeof *w->out, cmp_ulong);
  size_t u = 0;
  for (size_t i = 0; i < c; i++)
    if (u == 0 || w->out[i] != w->out[u - 1])
      w->out[u++] = w->out[i];
  w->nout = u;
  return MV_OK;
}

static const char *
vec_name (size_t k, size_t m, size_t *idx)
{
  *idx = k % m + 1;
  return k < m ? "student router v" : "student expert w";
}

/* 1/|u_k| of the 2m student rows of U into inv; 0 if all are finite and
 * nonzero, else 1 + the first bad row. */
static size_t
student_norms (double *inv, const double *U, size_t m2, size_t dp)
{
  for (size_t k = 0; k < m2; k++)
    {
      double nr = sqrt (mv_dot (U + k * dp, U + k * dp, dp));
      if (!(nr > 0) || !isfinite (nr) || !isfinite (1.0 / nr))
        return k + 1;
      inv[k] = 1.0 / nr;
    }
  return 0;
}

/* Student-teacher block of the Gram matrix (and its transpose) into G. */
static void
gram_st (double *G, const double *U, const double *inv, size_t m2, size_t n,
         size_t dp)
{
  for (size_t k = 0; k < m2; k++)
    for (size_t l = m2; l < n; l++)
      G[k * n + l] = G[l * n + k]
        = mv_dot (U + k * dp, U + l * dp, dp) * inv[k] * inv[l];
}

/* Student-student block (the rest is kept from gram_st and the fixed
 * teacher block). */
static void
gram_ss (double *G, const double *U, const double *inv, size_t m2, size_t n,
         size_t dp)
{
  for (size_t k = 0; k < m2; k++)
    {
      G[k * n + k] = 1.0;
      for (size_t l = k + 1; l < m2; l++)
        G[k * n + l] = G[l * n + k]
          = mv_dot (U + k * dp, U + l * dp, dp) * inv[k] * inv[l];
    }
}

/* Population loss and |grad L|^2 (closed form, double path) of the state
 * in U, via the private problem q. */
static int
population (double *L, double *g2, sgd_ws *w, const double *U,
            mv_problem *q, mv_loss_ws *lws)
{
  const size_t m = w->m, d = w->d, dp = w->dp;
  for (size_t i = 0; i < m; i++)
    {
      memcpy (w->Vb + i * d, U + i * dp, d * sizeof *U);
      memcpy (w->Wb + i * d, U + (m + i) * dp, d * sizeof *U);
    }
  int s = mv_problem_set_student_d (q, w->Vb, w->Wb);
  if (!s)
    s = mv_loss_eval_d (L, w->gV, w->gW, NULL, q, lws);
  if (s)
    return s;
  double a = 0;
  for (size_t i = 0; i < m * d; i++)
    a += w->gV[i] * w->gV[i] + w->gW[i] * w->gW[i];
  *g2 = a;
  return MV_OK;
}

/* Full Gram, population observables, event update and a trajectory row. */
static int
record (mv_traj *tr, sgd_ws *w, const double *U, double t, mv_problem *q,
        mv_loss_ws *lws)
{
  double L, g2;
  gram_st (w->G, U, w->inv, 2 * w->m, w->n, w->dp);
  gram_ss (w->G, U, w->inv, 2 * w->m, w->n, w->dp);
  mv_traj_observe (tr, t, w->G);
  int s = population (&L, &g2, w, U, q, lws);
  if (s)
    return s;
  return mv_traj_push (tr, t, L, g2, NAN, w->G);
}

static int
check_args (const mv_traj *tr, const mv_problem *pb, const mv_sgd_params *p)
{
  if (!tr || !pb || !p)
    return mv_error_set (MV_EINVAL, "mv_sgd_run: NULL argument");
  if (!pb->priv || pb->d == 0 || pb->m == 0 || pb->mstar == 0)
    return mv_error_set (MV_EINVAL, "sgd: problem not initialised");
  if (tr->m != pb->m || tr->mstar != pb->mstar || !tr->cross)
    return mv_error_set (MV_EINVAL, "sgd: trajectory initialised for m = %zu,"
                         " m* = %zu but the problem has m = %zu, m* = %zu",
                         tr->m, tr->mstar, pb->m, pb->mstar);
  if (!(p->lr > 0) || !isfinite (p->lr))
    return mv_error_set (MV_EINVAL, "sgd: learning rate must be positive and "
                         "finite (got %g)", p->lr);
  if (p->batch == 0)
    return mv_error_set (MV_EINVAL, "sgd: batch size must be at least 1");
  if (p->steps == 0)
    return mv_error_set (MV_EINVAL, "sgd: number of steps must be at least 1");
  if (!isfinite (p->lr * (double) p->steps))
    return mv_error_set (MV_EINVAL, "sgd: final time lr * steps = %g * %lu is "
                         "not finite", p->lr, p->steps);
  if (!(pb->noise_var >= 0) || !isfinite (pb->noise_var))
    return mv_error_set (MV_EINVAL, "sgd: noise variance %g is not a finite "
                         "non-negative number", pb->noise_var);
  if (p->times)
    {
      double t_end = p->lr * (double) p->steps;
      if (p->n_times == 0)
        return mv_error_set (MV_EINVAL, "sgd: explicit output times given but"
                             " n_times = 0");
      for (size_t i = 0; i < p->n_times; i++)
        if (!(p->times[i] > (i ? p->times[i - 1] : 0))
            || !(p->times[i] <= t_end * (1 + 1e-12)))
          return mv_error_set (MV_EINVAL, "sgd: output times must increase "
                               "within (0, lr * steps = %g] (time %zu is %g)",
                               t_end, i + 1, p->times[i]);
    }
  return MV_OK;
}

/* --------------------------------------------------------------- main */

int
mv_sgd_run (mv_traj *tr, const mv_problem *pb, const mv_sgd_params *p)
{
  mv_init ();
  int s = check_args (tr, pb, p);
  if (s)
    return s;
  const double wall0 = mv_io_now ();
  const size_t d = pb->d, m = pb->m, ms = pb->mstar, n = 2 * m + 2 * ms;
  const size_t m2 = 2 * m, B = p->batch;
  const double lr = p->lr, t_end = lr * (double) p->steps;
  sgd_ws w;
  memset (&w, 0, sizeof w);
  w.d = d, w.m = m, w.ms = ms, w.n = n, w.b = B;
  w.dp = (d + 3) / 4 * 4;
  w.bp = (B + 3) / 4 * 4;
  w.jp = (m2 + 3) / 4 * 4;
  gsl_rng *rng = NULL;
  mv_loss_ws *lws = NULL;
  mv_problem q;
  int have_q = 0;
  double *V0 = NULL;
  memset (&q, 0, sizeof q);

  size_t ndp, bdp, jdp, md, tmp;
  if (w.dp < d || w.bp < B || !mul_ok (n, w.dp, &ndp)
      || !mul_ok (w.bp, w.dp, &bdp) || !mul_ok (w.jp, w.dp, &jdp)
      || !mul_ok (m, d, &md) || !mul_ok (2 * md, sizeof (double), &tmp)
      || !mul_ok (ndp, sizeof (double), &tmp)
      || !mul_ok (bdp, sizeof (double), &tmp)
      || !mul_ok (w.bp, n > w.jp ? n : w.jp, &tmp) || n > SIZE_MAX / n / 8)
    return mv_error_set (MV_ENOMEM, "sgd: problem too large (d = %zu, m = %zu,"
                         " m* = %zu, batch %zu)", d, m, ms, B);
#define ALLOC(ptr, cnt)                                                   \
  do {                                                                    \
    size_t c_ = (cnt);                                                    \
    (ptr) = calloc (c_ ? c_ : 1, sizeof *(ptr));                          \
    if (!(ptr)) { s = mv_error_set (MV_ENOMEM, "sgd: out of memory (d = %zu," \
                                    " batch %zu)", d, B); goto done; }    \
  } while (0)
  ALLOC (w.Ua, ndp);
  ALLOC (w.Ub, ndp);
  ALLOC (w.X, bdp);
  ALLOC (w.eps, B);
  ALLOC (w.P, w.bp * n);
  ALLOC (w.Ct, w.bp * w.jp);
  ALLOC (w.T, m2);
  ALLOC (w.S, jdp);
  ALLOC (w.inv, n);
  ALLOC (w.invn, m2);
  ALLOC (w.ph, m2);
  ALLOC (w.Gobs, n * n);
  ALLOC (w.G, n * n);
  ALLOC (w.Vb, md);
  ALLOC (w.Wb, md);
  ALLOC (w.gV, md);
  ALLOC (w.gW, md);
  ALLOC (V0, 2 * md + 2 * ms * d);
  if ((s = build_grid (&w, p)))
    goto done;

  /* initial raw vectors, row-padded into both state buffers */
  double *W0 = V0 + md, *Vt = W0 + md, *Wt = Vt + ms * d;
  if ((s = mv_problem_vectors_d (V0, W0, Vt, Wt, pb)))
    goto done;
  for (size_t k = 0; k < n; k++)
    {
      const double *src = k < m ? V0 + k * d : k < m2 ? W0 + (k - m) * d
        : k < m2 + ms ? Vt + (k - m2) * d : Wt + (k - m2 - ms) * d;
      memcpy (w.Ua + k * w.dp, src, d * sizeof *src);
      memcpy (w.Ub + k * w.dp, src, d * sizeof *src);
    }
  size_t bad = student_norms (w.inv, w.Ua, m2, w.dp);
  if (bad)
    {
      size_t idx;
      const char *nm = vec_name (bad - 1, m, &idx);
      s = mv_error_set (MV_EDOM, "sgd: %s_%zu is zero or not finite (its "
                        "direction is undefined)", nm, idx);
      goto done;
    }
  /* teacher: unit vectors through 1/|u| like the students, so a student
     equal to a teacher projects identically */
  for (size_t k = m2; k < n; k++)
    {
      double nr = sqrt (mv_dot (w.Ua + k * w.dp, w.Ua + k * w.dp, w.dp));
      if (!(nr > 0) || !isfinite (nr))
        {
          s = mv_error_set (MV_EDOM, "sgd: teacher vector %zu is zero or not "
                            "finite", k - m2 + 1);
          goto done;
        }
      w.inv[k] = 1.0 / nr;
    }
  for (size_t k = 0; k < n; k++)
    tr->norms0[k] = k < m2 ? 1.0 / w.inv[k] : 1.0;

  /* private problem with the teacher explicit: the closed form at output
     times replaces only the student */
  if ((s = mv_problem_set_d (&q, d, m, ms, V0, W0, Vt, Wt, pb->noise_var)))
    goto done;
  have_q = 1;
  if (!(lws = mv_loss_alloc (m, ms, 53)))
    {
      s = MV_ENOMEM;
      goto done;
    }
  rng = gsl_rng_alloc (gsl_rng_mt19937);
  if (!rng)
    {
      s = mv_error_set (MV_ENOMEM, "sgd: cannot allocate the random number "
                        "generator");
      goto done;
    }
  gsl_rng_set (rng, stream_seed (p->seed));
  free (tr->final_state);
  tr->final_state = malloc (2 * md * sizeof *tr->final_state);
  if (!tr->final_state)
    {
      s = mv_error_set (MV_ENOMEM, "sgd: out of memory");
      goto done;
    }

  snprintf (tr->method, sizeof tr->method, "sgd");
  snprintf (tr->params, sizeof tr->params, "lr %.17g, batch %zu, steps %lu, seed %lu",
            p->lr, p->batch, p->steps, p->seed);
  snprintf (tr->stepper, sizeof tr->stepper, "sgd");
  tr->rtol = tr->atol = NAN;    /* not applicable */
  tr->t_end = t_end;
  tr->d = d;
  tr->steps = tr->rejected = tr->rhs_evals = tr->jac_evals = 0;
  tr->status = MV_TRAJ_RUNNING;
  tr->message[0] = '\0';

  /* Gram for events: teacher block fixed, student-student block not
     maintained between outputs (NAN; mv_traj_observe reads only the
     student-teacher alignments) */
  for (size_t i = 0; i < n * n; i++)
    w.Gobs[i] = NAN;
  for (size_t k = m2; k < n; k++)
    for (size_t l = m2; l < n; l++)
      w.Gobs[k * n + l] = w.G[k * n + l] = k == l ? 1.0
        : mv_dot (w.Ua + k * w.dp, w.Ua + l * w.dp, w.dp) * w.inv[k] * w.inv[l];
  for (size_t k = 0; k < m2; k++)
    w.Gobs[k * n + k] = 1.0;

  /* observe every k_obs steps: its 4 m m* dot products against the
     B (4m + 2m*) of a step, at most SGD_OBS_FRAC of the cost */
  const double obs_cost = 4.0 * (double) m * (double) ms;
  const double step_cost = (double) B * (double) (4 * m + 2 * ms);
  unsigned long k_obs = (unsigned long) ceil (obs_cost / (SGD_OBS_FRAC
                                                          * step_cost));
  if (k_obs < 1)
    k_obs = 1;
  const unsigned long prog_every = p->steps / 200 > 0 ? p->steps / 200 : 1;

  double *U = w.Ua, *Un = w.Ub;
  unsigned long step = 0, last_row = 0;
  if ((s = record (tr, &w, U, 0.0, &q, lws)))
    goto failed_cf;
  if (p->progress)
    p->progress (p->progress_ctx, 0.0, t_end);

  const int noisy = pb->noise_var > 0;
  const double s_noise = sqrt (pb->noise_var), invB = 1.0 / (double) B;
  const size_t dp = w.dp, jp = w.jp;
  size_t next_out = 0;
  while (step < p->steps)
    {
      if (p->interrupt && *p->interrupt)
        {
          tr->status = MV_TRAJ_INTERRUPTED;
          snprintf (tr->message, sizeof tr->message, "interrupted at step "
                    "%lu of %lu (t = %.6g)", step, p->steps,
                    lr * (double) step);
          break;
        }
      /* fresh batch */
      for (size_t b = 0; b < B; b++)
        {
          double *x = w.X + b * dp;
          for (size_t i = 0; i < d; i++)
            x[i] = gsl_ran_gaussian_ziggurat (rng, 1.0);
          if (noisy)
            w.eps[b] = s_noise * gsl_ran_gaussian_ziggurat (rng, 1.0);
        }
      kern_proj (w.P, w.X, U, w.bp, n, dp);
      /* residuals and per-sample coefficients (1/B folded in) */
      memset (w.T, 0, m2 * sizeof *w.T);
      const double *inv = w.inv;
      for (size_t b = 0; b < B; b++)
        {
          const double *pr = w.P + b * n;
          double f = 0, y = 0;
          for (size_t j = 0; j < ms; j++)
            {
              double a = pr[m2 + j] * inv[m2 + j];
              double z = pr[m2 + ms + j] * inv[m2 + ms + j];
              y += (1.0 / (1.0 + exp (-a))) * (z * (z * z - 3.0));
            }
          for (size_t i = 0; i < m; i++)
            {
              double a = pr[i] * inv[i], z = pr[m + i] * inv[m + i];
              double pi = 1.0 / (1.0 + exp (-a)), he = z * (z * z - 3.0);
              w.ph[i] = pi;
              w.ph[m + i] = he;
              f += pi * he;
            }
          double r = (f - y - (noisy ? w.eps[b] : 0.0)) * invB;
          double *c = w.Ct + b * jp;
          for (size_t i = 0; i < m; i++)
            {
              double a = pr[i] * inv[i], z = pr[m + i] * inv[m + i];
              double pi = w.ph[i], he = w.ph[m + i];
              double cv = r * pi * (1.0 - pi) * he;
              double cw = r * pi * 3.0 * (z * z - 1.0);
              c[i] = cv;
              c[m + i] = cw;
              w.T[i] += cv * a;
              w.T[m + i] += cw * z;
            }
        }
      kern_grad (w.S, w.Ct, w.X, B, jp, dp);
      /* u <- u - lr (S - T ubar) / |u|, into the other buffer */
      for (size_t k = 0; k < m2; k++)
        {
          const double *u = U + k * dp, *g = w.S + k * dp;
          double *un = Un + k * dp;
          const double c1 = lr * inv[k], c2 = w.T[k] * inv[k];
          for (size_t i = 0; i < dp; i++)
            un[i] = u[i] - c1 * (g[i] - c2 * u[i]);
        }
      bad = student_norms (w.invn, Un, m2, dp);
      if (bad)
        {
          size_t idx;
          const char *nm = vec_name (bad - 1, m, &idx);
          tr->status = MV_TRAJ_FAILED;
          snprintf (tr->message, sizeof tr->message, "%s_%zu became zero or "
                    "non-finite at step %lu (t = %.6g); learning rate %g too "
                    "large?", nm, idx, step + 1, lr * (double) (step + 1), lr);
          break;
        }
      double *sw = U;
      U = Un, Un = sw;
      memcpy (w.inv, w.invn, m2 * sizeof *w.invn);
      step++;
      tr->steps = step;
      tr->rhs_evals = step;
      const double t = lr * (double) step;
      if (next_out < w.nout && step == w.out[next_out])
        {
          next_out++;
          last_row = step;
          if ((s = record (tr, &w, U, t, &q, lws)))
            goto failed_cf;
        }
      else if (step % k_obs == 0)
        {
          gram_st (w.Gobs, U, w.inv, m2, n, dp);
          mv_traj_observe (tr, t, w.Gobs);
        }
      if (p->progress && (step % prog_every == 0 || step == p->steps))
        p->progress (p->progress_ctx, t, t_end);
    }
  /* an early stop still ends with a row of the state reached */
  if (tr->status != MV_TRAJ_RUNNING && last_row != step)
    if ((s = record (tr, &w, U, lr * (double) step, &q, lws)))
      goto failed_cf;
  if (tr->status == MV_TRAJ_RUNNING)
    tr->status = MV_TRAJ_DONE;
  s = tr->status == MV_TRAJ_FAILED
    ? mv_error_set (MV_ENOCONV, "sgd: %s", tr->message) : MV_OK;
  goto finish;

failed_cf:
  /* the closed form failed at an output time */
  tr->status = MV_TRAJ_FAILED;
  snprintf (tr->message, sizeof tr->message, "population loss at step %lu: "
            "%s", step, mv_error_message ());
  mv_error_set (s, "sgd: %s", tr->message);

finish:
  for (size_t i = 0; i < m; i++)
    {
      memcpy (tr->final_state + i * d, U + i * w.dp, d * sizeof *U);
      memcpy (tr->final_state + md + i * d, U + (m + i) * w.dp,
              d * sizeof *U);
    }
  tr->wall_seconds = mv_io_now () - wall0;

done:
#undef ALLOC
  gsl_rng_free (rng);
  if (lws)
    mv_loss_free (lws);
  if (have_q)
    mv_problem_clear (&q);
  free (V0);
  ws_free (&w);
  return s;
}
