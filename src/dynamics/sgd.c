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
 * The per-sample loss and its partials with respect to the unit
 * projections come from the objective's terms (mv_loss_sample_partial_d:
 * the data fit through the model kernel shared with Monte Carlo, and any
 * term added to the objective that has a per-sample form), so SGD trains on
 * the objective the closed form records.  Terms without a per-sample form
 * (ratios and products of population means: the specialization
 * regularizers; loss.h, mv_loss_ngram_only) have no unbiased one-sample
 * gradient; they enter every step through their exact closed-form gradient
 * at the current state (mv_loss_eval_vec_gram_only_d: Gram-level dvalue/dG,
 * chain rule to the raw vectors), added to the batch gradient:
 *   theta <- theta - lr (batch gradient of the sampled terms
 *                        + closed-form gradient of the others).
 * With no such term (the default objective) that branch is never taken and
 * the steps are those of the sampled terms alone, bit for bit.  The
 * default objective takes the regularizers of p->reg
 * (mv_loss_add_regularizers: nothing when all are 0).
 *
 * Outputs go to the observers, the trajectory recorder first: MV_OBS_ROW
 * at t = 0 and at the requested times rounded to whole steps, each with the
 * full Gram matrix and the POPULATION loss and |grad L|^2 from the closed
 * form (double path; a private copy of the problem with the teacher
 * explicit, only the student replaced); MV_OBS_STEP at every row and every
 * k_obs steps in between, with the student-teacher block of G (the
 * student-student block is NAN there);
 * that block costs 4 m m* dot products of length d against B (4m + 2m*)
 * for a step, and k_obs is the smallest interval keeping it below 10%:
 * 1 unless the batch is tiny (paper setting: 3.6% at every step). */
#include <moeverify/sgd.h>
#include "base/linalg.h"
#include "base/model.h"
#include <moeverify/error.h>
#include <moeverify/hermite.h>
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
 * summed in order, each in a two-lane accumulator.  Not inlined: inside
 * the step its 8 accumulators and 6 loads spill to the stack. */
__attribute__ ((noinline)) static void
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

#else
static void
kern_proj (double *P, const double *X, const double *U, size_t bp, size_t np,
           size_t dp)
{
  for (size_t s = 0; s < bp; s++)
    for (size_t k = 0; k < np; k++)
      P[s * np + k] = mv_dot (X + s * dp, U + k * dp, dp);
}

#endif

/* ------------------------------------------------------------ workspace */

typedef struct
{
  size_t d, dp, m, ms, n, b, bp, jp;
  double *Ua, *Ub;       /* n x dp: raw v, w (the state), then the teacher
                            v*, w*; two buffers so a non-finite update never
                            overwrites the last good state */
  double *U, *Un;        /* current and proposed state (Ua, Ub swapped) */
  double *X;             /* bp x dp samples (padding stays 0) */
  double *eps;           /* b label-noise variates */
  double *P;             /* bp x n raw projections */
  double *Pu;            /* bp x n unit projections (P scaled by inv) */
  double *val;           /* b: per-sample objective (not used by the step) */
  double *Ct;            /* bp x jp per-sample gradient coefficients / B */
  double *T;             /* 2m: sum_s c_s (unit projection) */
  double *S;             /* jp x dp gradient sums */
  double *inv;           /* n: 1 / raw norm (current state) */
  double *invn;          /* 2m: 1 / raw norm of the proposed state */
  double *Gobs;          /* n x n: Gram for event detection */
  double *G;             /* n x n: full Gram at output times */
  double *th;            /* 2 m d: contiguous state (V then W) for the
                            closed form and the observers */
  double *gV, *gW;       /* m x d: closed-form gradient */
  size_t ngo;            /* terms without a per-sample form (loss.h) */
  double *thg;           /* 2 m d: contiguous state for their gradient */
  double *gdet;          /* 2 m d: their closed-form gradient (V then W) */
  double *V0;            /* the problem's raw vectors (V, W, V*, W*) */
  unsigned long *out;    /* output steps (ascending, > 0) */
  size_t nout;
  mv_observer *obs;      /* the recorder, then the caller's observers */
  size_t nobs;
  gsl_rng *rng;
  mv_loss_ws *lws;       /* the objective (the caller's, or data fit + noise) */
  int own_lws;
  mv_problem q;          /* private problem: teacher explicit */
  int have_q, noisy;
  double lr, invB, s_noise;
  unsigned long k_obs;   /* steps between event observations */
  mv_traj *tr;           /* the run record (an observer may stop the run) */
  double wall_ckpt;      /* mv_io_now () at the last checkpoint */
} sgd_ws;

static void
ws_free (sgd_ws *w)
{
  free (w->Ua), free (w->Ub), free (w->X), free (w->eps), free (w->P);
  free (w->Pu), free (w->val), free (w->Ct), free (w->T);
  free (w->S), free (w->inv), free (w->invn), free (w->Gobs), free (w->G);
  free (w->th), free (w->gV), free (w->gW), free (w->V0), free (w->out);
  free (w->thg), free (w->gdet);
  free (w->obs);
  gsl_rng_free (w->rng);
  if (w->own_lws)
    mv_loss_free (w->lws);
  if (w->have_q)
    mv_problem_clear (&w->q);
  memset (w, 0, sizeof *w);
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

/* Sizes (checked for overflow), arrays, output grid, observer list. */
static int
ws_alloc (sgd_ws *w, const mv_problem *pb, const mv_sgd_params *p,
          mv_traj *tr)
{
  const size_t d = pb->d, m = pb->m, ms = pb->mstar, n = 2 * m + 2 * ms;
  w->tr = tr;
  const size_t B = p->batch;
  int s = MV_OK;
  w->d = d, w->m = m, w->ms = ms, w->n = n, w->b = B;
  w->dp = (d + 3) / 4 * 4;
  w->bp = (B + 3) / 4 * 4;
  w->jp = (2 * m + 3) / 4 * 4;
  size_t ndp, bdp, jdp, md, tmp;
  if (w->dp < d || w->bp < B || !mv_mul_ok (n, w->dp, &ndp)
      || !mv_mul_ok (w->bp, w->dp, &bdp) || !mv_mul_ok (w->jp, w->dp, &jdp)
      || !mv_mul_ok (m, d, &md) || !mv_mul_ok (2 * md, sizeof (double), &tmp)
      || !mv_mul_ok (ndp, sizeof (double), &tmp)
      || !mv_mul_ok (bdp, sizeof (double), &tmp)
      || !mv_mul_ok (w->bp, n > w->jp ? n : w->jp, &tmp) || n > SIZE_MAX / n / 8
      || p->n_observers > SIZE_MAX / sizeof *w->obs - 1)
    return mv_error_set (MV_ENOMEM, "sgd: problem too large (d = %zu, m = %zu,"
                         " m* = %zu, batch %zu)", d, m, ms, B);
  MV_ALLOC (w->Ua, ndp, "sgd", s, out);
  MV_ALLOC (w->Ub, ndp, "sgd", s, out);
  MV_ALLOC (w->X, bdp, "sgd", s, out);
  MV_ALLOC (w->eps, B, "sgd", s, out);
  MV_ALLOC (w->P, w->bp * n, "sgd", s, out);
  MV_ALLOC (w->Pu, w->bp * n, "sgd", s, out);
  MV_ALLOC (w->val, B, "sgd", s, out);
  MV_ALLOC (w->Ct, w->bp * w->jp, "sgd", s, out);
  MV_ALLOC (w->T, 2 * m, "sgd", s, out);
  MV_ALLOC (w->S, jdp, "sgd", s, out);
  MV_ALLOC (w->inv, n, "sgd", s, out);
  MV_ALLOC (w->invn, 2 * m, "sgd", s, out);
  MV_ALLOC (w->Gobs, n * n, "sgd", s, out);
  MV_ALLOC (w->G, n * n, "sgd", s, out);
  MV_ALLOC (w->th, 2 * md, "sgd", s, out);
  MV_ALLOC (w->gV, md, "sgd", s, out);
  MV_ALLOC (w->gW, md, "sgd", s, out);
  MV_ALLOC (w->V0, 2 * md + 2 * ms * d, "sgd", s, out);
  MV_ALLOC (w->obs, 1 + p->n_observers, "sgd", s, out);
  mv_traj_observer (&w->obs[0], tr);
  for (size_t i = 0; i < p->n_observers; i++)
    w->obs[1 + i] = p->observers[i];
  w->nobs = 1 + p->n_observers;
  s = build_grid (w, p);
out:
  return s;
}

/* The initial raw vectors, row-padded into both state buffers, their
 * inverse norms and the Gram matrices (the teacher block stays fixed). */
static int
init_vectors (sgd_ws *w, const mv_problem *pb)
{
  const size_t d = w->d, m = w->m, ms = w->ms, n = w->n, m2 = 2 * m;
  const size_t md = m * d, dp = w->dp;
  double *V0 = w->V0, *W0 = V0 + md, *Vt = W0 + md, *Wt = Vt + ms * d;
  int s = mv_problem_vectors_d (V0, W0, Vt, Wt, pb);
  if (s)
    return s;
  for (size_t k = 0; k < n; k++)
    {
      const double *src = k < m ? V0 + k * d : k < m2 ? W0 + (k - m) * d
        : k < m2 + ms ? Vt + (k - m2) * d : Wt + (k - m2 - ms) * d;
      memcpy (w->Ua + k * dp, src, d * sizeof *src);
      memcpy (w->Ub + k * dp, src, d * sizeof *src);
    }
  /* teacher: unit vectors through 1/|u| like the students, so a student
     equal to a teacher projects identically */
  size_t bad = mv_linalg_unit_gram (w->G, w->inv, w->Ua, n, dp, dp);
  if (bad)
    {
      size_t idx;
      const char *nm = mv_model_vec_name (bad - 1, m, ms, &idx);
      return mv_error_set (MV_EDOM, "sgd: %s_%zu is zero or not finite (its "
                           "direction is undefined)", nm, idx);
    }
  /* Gram for events: student-student block not maintained between
     outputs (NAN; the recorder reads only the student-teacher block); the
     teacher block is fixed, each entry scaled row index first as the
     trajectories written so far have it (not symmetric to the last bit) */
  for (size_t k = 0; k < n; k++)
    for (size_t l = 0; l < n; l++)
      w->Gobs[k * n + l] = k == l ? 1.0 : k < m2 && l < m2 ? NAN
        : k < m2 || l < m2 ? w->G[k * n + l]
        : mv_dot (w->Ua + k * dp, w->Ua + l * dp, dp) * w->inv[k] * w->inv[l];
  return MV_OK;
}

/* Private problem, closed-form workspace, generator, run record. */
static int
init_run (sgd_ws *w, mv_traj *tr, const mv_problem *pb,
          const mv_sgd_params *p)
{
  const size_t d = w->d, m = w->m, ms = w->ms, md = m * d;
  const double *V0 = w->V0;
  int s = mv_problem_set_d (&w->q, d, m, ms, V0, V0 + md, V0 + 2 * md,
                            V0 + 2 * md + ms * d, pb->noise_var);
  if (s)
    return s;
  w->have_q = 1;
  if (p->objective)
    w->lws = p->objective;
  else if (!(w->lws = mv_loss_alloc (m, ms, MV_PREC_DOUBLE)))
    return MV_ENOMEM;
  else
    w->own_lws = 1;
  /* the regularizers (appends nothing when all are 0) */
  if (w->own_lws && p->reg && (s = mv_loss_add_regularizers (w->lws, p->reg)))
    return s;
  /* terms with a per-sample form are sampled (strides checked once, on no
     samples); the others enter through their closed-form gradient */
  if ((s = mv_loss_sample_partial_d (w->val, NULL, 0, w->Pu, w->n, NULL, 0,
                                     w->lws)))
    return s;
  if ((w->ngo = mv_loss_ngram_only (w->lws)))
    {
      MV_ALLOC (w->thg, 2 * md, "sgd", s, out);
      MV_ALLOC (w->gdet, 2 * md, "sgd", s, out);
    }
  if (!(w->rng = gsl_rng_alloc (gsl_rng_mt19937)))
    return mv_error_set (MV_ENOMEM, "sgd: cannot allocate the random number "
                         "generator");
  gsl_rng_set (w->rng, stream_seed (p->seed));
  free (tr->final_state);
  if (!(tr->final_state = malloc (2 * md * sizeof *tr->final_state)))
    return mv_error_set (MV_ENOMEM, "sgd: out of memory");
  for (size_t k = 0; k < w->n; k++)
    tr->norms0[k] = k < 2 * m ? 1.0 / w->inv[k] : 1.0;
  snprintf (tr->method, sizeof tr->method, "sgd");
  snprintf (tr->params, sizeof tr->params, "lr %.17g, batch %zu, steps %lu, seed %lu",
            p->lr, p->batch, p->steps, p->seed);
  snprintf (tr->stepper, sizeof tr->stepper, "sgd");
  tr->rtol = tr->atol = NAN;    /* not applicable */
  tr->t_end = p->lr * (double) p->steps;
  tr->d = d;
  tr->steps = tr->rejected = tr->rhs_evals = tr->jac_evals = 0;
  tr->status = MV_TRAJ_RUNNING;
  tr->message[0] = '\0';
  w->lr = p->lr;
  w->invB = 1.0 / (double) p->batch;
  w->noisy = pb->noise_var > 0;
  w->s_noise = sqrt (pb->noise_var);
  /* observe every k_obs steps: its 4 m m* dot products against the
     B (4m + 2m*) of a step, at most SGD_OBS_FRAC of the cost */
  const double obs_cost = 4.0 * (double) m * (double) ms;
  const double step_cost = (double) p->batch * (double) (4 * m + 2 * ms);
  w->k_obs = (unsigned long) ceil (obs_cost / (SGD_OBS_FRAC * step_cost));
  if (w->k_obs < 1)
    w->k_obs = 1;
  w->U = w->Ua, w->Un = w->Ub;
out:
  return s;
}

/* ------------------------------------------------------------ one step */

/* Fresh batch: per sample d normals for x, then the label noise. */
static void
draw_batch (sgd_ws *w)
{
  for (size_t b = 0; b < w->b; b++)
    {
      double *x = w->X + b * w->dp;
      for (size_t i = 0; i < w->d; i++)
        x[i] = gsl_ran_gaussian_ziggurat (w->rng, 1.0);
      if (w->noisy)
        w->eps[b] = w->s_noise * gsl_ran_gaussian_ziggurat (w->rng, 1.0);
    }
}

/* Per-sample coefficients dl/du (1/B folded in) from the objective's
 * terms on the unit projections; T_j = sum_s c_sj (unit projection j). */
static int
batch_coeffs (sgd_ws *w)
{
  const size_t m2 = 2 * w->m, n = w->n, B = w->b, jp = w->jp;
  const double *inv = w->inv;
  for (size_t b = 0; b < B; b++)
    for (size_t k = 0; k < n; k++)
      w->Pu[b * n + k] = w->P[b * n + k] * inv[k];
  int s = mv_loss_sample_partial_d (w->val, w->Ct, jp, w->Pu, n,
                                    w->noisy ? w->eps : NULL, B, w->lws);
  if (s)
    return s;
  memset (w->T, 0, m2 * sizeof *w->T);
  for (size_t b = 0; b < B; b++)
    {
      const double *pu = w->Pu + b * n;
      double *c = w->Ct + b * jp;
      for (size_t j = 0; j < m2; j++)
        {
          c[j] *= w->invB;
          w->T[j] += c[j] * pu[j];
        }
    }
  return MV_OK;
}

/* Closed-form gradient of the terms without a per-sample form at the
 * current state, into w->gdet (V rows then W rows). */
static int
gram_only_grad (sgd_ws *w)
{
  const size_t d = w->d, m = w->m, md = m * d, ms = w->ms;
  for (size_t k = 0; k < 2 * m; k++)
    memcpy (w->thg + k * d, w->U + k * w->dp, d * sizeof *w->thg);
  const double *Vt = w->V0 + 2 * md, *Wt = Vt + ms * d;
  return mv_loss_eval_vec_gram_only_d (NULL, w->gdet, w->gdet + md, w->thg,
                                       w->thg + md, Vt, Wt, d, 0.0, w->lws);
}

/* One SGD step into Un; 0, or 1 + the first student vector that became
 * zero or non-finite (U stays the last good state); *status: a term's
 * failure. */
static size_t
sgd_step (sgd_ws *w, int *status)
{
  const size_t m2 = 2 * w->m, dp = w->dp;
  draw_batch (w);
  kern_proj (w->P, w->X, w->U, w->bp, w->n, dp);
  if ((*status = batch_coeffs (w)))
    return 0;
  mv_linalg_accum (w->S, w->Ct, w->jp, w->X, w->b, w->jp, dp, 0);
  /* u <- u - lr (S - T ubar) / |u|, into the other buffer */
  for (size_t k = 0; k < m2; k++)
    {
      const double *u = w->U + k * dp, *g = w->S + k * dp;
      double *un = w->Un + k * dp;
      const double c1 = w->lr * w->inv[k], c2 = w->T[k] * w->inv[k];
      for (size_t i = 0; i < dp; i++)
        un[i] = u[i] - c1 * (g[i] - c2 * u[i]);
    }
  if (w->ngo)
    {
      if ((*status = gram_only_grad (w)))
        return 0;
      for (size_t k = 0; k < m2; k++)
        {
          const double *g = w->gdet + k * w->d;
          double *un = w->Un + k * dp;
          for (size_t i = 0; i < w->d; i++)
            un[i] -= w->lr * g[i];
        }
    }
  size_t bad = mv_linalg_inv_norms (w->invn, w->Un, m2, dp, dp);
  if (bad)
    return bad;
  double *sw = w->U;
  w->U = w->Un, w->Un = sw;
  memcpy (w->inv, w->invn, m2 * sizeof *w->invn);
  return 0;
}

/* ------------------------------------------------------------ observers */

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

static int
notify (sgd_ws *w, int kind, double t, const double *G, double L, double g2,
        const double *theta)
{
  mv_obs_point pt = {
    .kind = kind, .t = t, .G = G, .loss = L, .grad2 = g2, .energy = NAN,
    .theta = theta, .m = w->m, .mstar = w->ms, .n = w->n, .d = w->d
  };
  int s = mv_observers_notify (w->obs, w->nobs, &pt);
  if (s == MV_OBS_STOP)
    {
      /* a stopping rule: the loop ends after this step (once stopped, ignored) */
      if (w->tr->status == MV_TRAJ_RUNNING)
        {
          w->tr->status = MV_TRAJ_DONE;
          snprintf (w->tr->message, sizeof w->tr->message, "%s at t = %.6g", mv_error_message (), t);
        }
      s = MV_OK;
    }
  return s;
}

/* Population loss and |grad L|^2 (closed form, double path) of the state
 * in w->th, via the private problem. */
static int
population (double *L, double *g2, sgd_ws *w)
{
  const size_t md = w->m * w->d;
  int s = mv_problem_set_student_d (&w->q, w->th, w->th + md);
  if (!s)
    s = mv_loss_eval_d (L, w->gV, w->gW, NULL, &w->q, w->lws);
  if (s)
    return s;
  double a = 0;
  for (size_t i = 0; i < md; i++)
    a += w->gV[i] * w->gV[i] + w->gW[i] * w->gW[i];
  *g2 = a;
  return MV_OK;
}

/* An output row: full Gram, STEP then ROW to the observers.  *cf is set
 * when the closed form (not an observer) failed. */
static int
record (sgd_ws *w, double t, int *cf)
{
  const size_t m = w->m, d = w->d, dp = w->dp;
  double L, g2;
  *cf = 0;
  /* the norms are those of w->inv (same kernel): cannot fail here */
  mv_linalg_unit_gram (w->G, w->inv, w->U, w->n, dp, dp);
  for (size_t k = 2 * m; k < w->n; k++)
    memcpy (w->G + k * w->n + 2 * m, w->Gobs + k * w->n + 2 * m,
            (w->n - 2 * m) * sizeof *w->G);
  for (size_t i = 0; i < 2 * m; i++)
    memcpy (w->th + i * d, w->U + i * dp, d * sizeof *w->U);
  int s = notify (w, MV_OBS_STEP, t, w->G, NAN, NAN, w->th);
  if (s)
    return s;
  if ((s = population (&L, &g2, w)))
    {
      *cf = 1;
      return s;
    }
  return notify (w, MV_OBS_ROW, t, w->G, L, g2, w->th);
}

/* A failed row: the run stops with the observer's or the closed form's
 * message. */
static int
row_failed (mv_traj *tr, int s, int cf, unsigned long step)
{
  tr->status = MV_TRAJ_FAILED;
  if (!cf)
    {
      snprintf (tr->message, sizeof tr->message, "%s", mv_error_message ());
      return s;
    }
  snprintf (tr->message, sizeof tr->message, "population loss at step %lu: "
            "%s", step, mv_error_message ());
  return mv_error_set (s, "sgd: %s", tr->message);
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
  if (p->n_observers && !p->observers)
    return mv_error_set (MV_EINVAL, "sgd: %zu observers but a NULL list",
                         p->n_observers);
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
  if (p->objective && p->reg
      && (p->reg->aux != 0 || p->reg->ortho != 0 || p->reg->ortho_gated != 0
          || p->reg->var != 0))
    return mv_error_set (MV_EINVAL, "sgd: regularizer coefficients with an "
                         "explicit objective (add them to the objective)");
  if (p->ckpt.path && !(p->ckpt.every >= 0))
    return mv_error_set (MV_EINVAL, "sgd: checkpoint interval must be >= 0 seconds "
                         "(got %g)", p->ckpt.every);
  if (p->objective)
    {
      size_t om, oms;
      mv_loss_shape (p->objective, &om, &oms);
      if (om != pb->m || oms != pb->mstar)
        return mv_error_set (MV_EINVAL, "sgd: objective sized for m = %zu, "
                             "m* = %zu but the problem has m = %zu, m* = %zu",
                             om, oms, pb->m, pb->mstar);
    }
  return MV_OK;
}


/* ------------------------------------------------------------ checkpoints */

/* The loop's position besides the state in w. */
typedef struct {
  unsigned long step, last_row;
  size_t next_out;
} sgd_pos;

/* What determines the run ("id." records, checkpoint.h). */
static int
sgd_identity (mv_ckpt *c, const sgd_ws *w, const mv_sgd_params *p,
              const mv_problem *pb)
{
  const mv_regularizers *g = p->reg;
  double reg[4] = { g ? g->aux : 0, g ? g->ortho : 0, g ? g->ortho_gated : 0,
                    g ? g->var : 0 };
  uint64_t shape[3] = { w->m, w->ms, w->d };
  uint64_t run[3] = { p->batch, p->steps, p->seed };
  size_t nv = 2 * w->m * w->d + 2 * w->ms * w->d;
  uint64_t *out = malloc ((w->nout ? w->nout : 1) * sizeof *out);
  if (!out)
    return mv_error_set (MV_ENOMEM, "sgd: out of memory");
  for (size_t i = 0; i < w->nout; i++)
    out[i] = w->out[i];
  int s = mv_ckpt_put_str (c, "id.method", "sgd");
  if (!s)
    s = mv_ckpt_put_u64 (c, "id.shape", shape, 3);
  if (!s)
    s = mv_ckpt_put_ulong (c, "id.initial point", mv_ckpt_hash (w->V0, nv * sizeof *w->V0));
  if (!s)
    s = mv_ckpt_put_double (c, "id.noise", pb->noise_var);
  if (!s && p->ckpt.spec)
    s = mv_ckpt_put_ulong (c, "id.spec", mv_ckpt_hash (p->ckpt.spec, strlen (p->ckpt.spec)));
  if (!s)
    s = mv_ckpt_put_double (c, "id.lr", p->lr);
  if (!s)
    s = mv_ckpt_put_u64 (c, "id.batch steps seed", run, 3);
  if (!s)
    s = mv_ckpt_put_u64 (c, "id.output steps", out, w->nout);
  if (!s)
    s = mv_ckpt_put_f64 (c, "id.regularizers", reg, 4);
  free (out);
  return s;
}

/* The loop's state at pos (before its next step) to p->ckpt.path. */
static int
sgd_checkpoint (sgd_ws *w, const mv_sgd_params *p, const mv_problem *pb,
                const sgd_pos *pos)
{
  mv_ckpt *c = mv_ckpt_alloc ();
  uint64_t at[3] = { pos->step, pos->last_row, pos->next_out };
  int s = c ? sgd_identity (c, w, p, pb) : MV_ENOMEM;
  if (!s)
    s = mv_ckpt_put_u64 (c, "st.step last_row next_out", at, 3);
  if (!s)
    s = mv_ckpt_put_f64 (c, "st.U", w->U, 2 * w->m * w->dp);
  if (!s)
    s = mv_ckpt_put_f64 (c, "st.inv", w->inv, w->n);
  if (!s)
    s = mv_ckpt_put_str (c, "st.rng type", gsl_rng_name (w->rng));
  if (!s)
    s = mv_ckpt_put_bytes (c, "st.rng", gsl_rng_state (w->rng), gsl_rng_size (w->rng));
  s = mv_ckpt_finish (c, s, w->tr, &p->ckpt);
  w->wall_ckpt = mv_io_now ();
  return s;
}

/* The state of p->ckpt.resume into w and *pos, after checking that it is
 * this run's. */
static int
sgd_restore (sgd_ws *w, const mv_sgd_params *p, const mv_problem *pb, sgd_pos *pos)
{
  const mv_ckpt *c = p->ckpt.resume;
  mv_ckpt *now = mv_ckpt_alloc ();
  uint64_t at[3];
  size_t nrng = 0;
  int s = now ? sgd_identity (now, w, p, pb) : MV_ENOMEM;
  if (!s)
    s = mv_ckpt_check_identity (c, now);
  mv_ckpt_free (now);
  if (!s)
    s = mv_ckpt_get_u64 (c, "st.step last_row next_out", at, 3);
  if (!s && (at[0] >= p->steps || at[2] >= w->nout || at[1] > at[0]))
    s = mv_error_set (MV_EPARSE, "checkpoint: step %llu does not fit this run",
                      (unsigned long long) at[0]);
  if (!s)
    s = mv_ckpt_get_f64 (c, "st.U", w->U, 2 * w->m * w->dp);
  if (!s)
    s = mv_ckpt_get_f64 (c, "st.inv", w->inv, w->n);
  const void *rng = s ? NULL : mv_ckpt_get (c, "st.rng", MV_CKPT_BYTES, &nrng);
  if (!s && (!rng || nrng != gsl_rng_size (w->rng)))
    s = mv_error_set (MV_EPARSE, "checkpoint: generator state missing or of another size");
  if (!s)
    s = mv_traj_ckpt_load (w->tr, c);
  if (s)
    return s;
  memcpy (gsl_rng_state (w->rng), rng, nrng);
  pos->step = at[0], pos->last_row = at[1], pos->next_out = at[2];
  return MV_OK;
}

/* --------------------------------------------------------------- main */

/* The step loop from t = 0 (recorded) to the end, an interruption or a
 * failure; the state reached ends with a row. */
static int
run_loop (mv_traj *tr, sgd_ws *w, const mv_sgd_params *p, const mv_problem *pb)
{
  const double lr = w->lr, t_end = tr->t_end;
  const unsigned long prog_every = p->steps / 200 > 0 ? p->steps / 200 : 1;
  sgd_pos pos = { 0, 0, 0 };
  int s, cf;
  if (p->ckpt.resume)
    {
      if ((s = sgd_restore (w, p, pb, &pos)))
        return s;
    }
  else if ((s = record (w, 0.0, &cf)))
    return row_failed (tr, s, cf, 0);
  if (p->progress)
    p->progress (p->progress_ctx, lr * (double) pos.step, t_end);
  while (pos.step < p->steps && tr->status == MV_TRAJ_RUNNING)
    {
      if (p->interrupt && *p->interrupt)
        {
          if (p->ckpt.path && (s = sgd_checkpoint (w, p, pb, &pos)))
            return s;
          tr->status = MV_TRAJ_INTERRUPTED;
          snprintf (tr->message, sizeof tr->message, "interrupted at step "
                    "%lu of %lu (t = %.6g)", pos.step, p->steps,
                    lr * (double) pos.step);
          break;
        }
      size_t bad = sgd_step (w, &s);
      if (s)
        return row_failed (tr, s, 0, pos.step);
      if (bad)
        {
          size_t idx;
          const char *nm = mv_model_vec_name (bad - 1, w->m, w->ms, &idx);
          tr->status = MV_TRAJ_FAILED;
          snprintf (tr->message, sizeof tr->message, "%s_%zu became zero or "
                    "non-finite at step %lu (t = %.6g); learning rate %g too "
                    "large?", nm, idx, pos.step + 1, lr * (double) (pos.step + 1), lr);
          break;
        }
      pos.step++;
      tr->steps = pos.step;
      tr->rhs_evals = pos.step;
      const double t = lr * (double) pos.step;
      if (pos.next_out < w->nout && pos.step == w->out[pos.next_out])
        {
          pos.next_out++;
          pos.last_row = pos.step;
          if ((s = record (w, t, &cf)))
            return row_failed (tr, s, cf, pos.step);
          if (p->ckpt.path && pos.step < p->steps && tr->status == MV_TRAJ_RUNNING
              && mv_io_now () - w->wall_ckpt >= p->ckpt.every
              && (s = sgd_checkpoint (w, p, pb, &pos)))
            return s;
        }
      else if (pos.step % w->k_obs == 0)
        {
          gram_st (w->Gobs, w->U, w->inv, 2 * w->m, w->n, w->dp);
          if ((s = notify (w, MV_OBS_STEP, t, w->Gobs, NAN, NAN, NULL)))
            return row_failed (tr, s, 0, pos.step);
        }
      if (tr->status != MV_TRAJ_RUNNING)
        break;
      /* a due checkpoint need not wait for the next output row */
      if (p->ckpt.path && p->ckpt.every > 0 && pos.step < p->steps
          && pos.last_row != pos.step && mv_io_now () - w->wall_ckpt >= p->ckpt.every
          && (s = sgd_checkpoint (w, p, pb, &pos)))
        return s;
      if (p->progress && (pos.step % prog_every == 0 || pos.step == p->steps))
        p->progress (p->progress_ctx, t, t_end);
    }
  if (tr->status != MV_TRAJ_RUNNING && pos.last_row != pos.step)
    if ((s = record (w, lr * (double) pos.step, &cf)))
      return row_failed (tr, s, cf, pos.step);
  if (tr->status == MV_TRAJ_RUNNING)
    tr->status = MV_TRAJ_DONE;
  return tr->status == MV_TRAJ_FAILED
    ? mv_error_set (MV_ENOCONV, "sgd: %s", tr->message) : MV_OK;
}

int
mv_sgd_run (mv_traj *tr, const mv_problem *pb, const mv_sgd_params *p)
{
  mv_init ();
  int s = check_args (tr, pb, p);
  if (s)
    return s;
  const double wall0 = mv_io_now ();
  sgd_ws w;
  memset (&w, 0, sizeof w);
  if ((s = ws_alloc (&w, pb, p, tr)) || (s = init_vectors (&w, pb))
      || (s = init_run (&w, tr, pb, p)))
    goto done;
  w.wall_ckpt = wall0;
  s = run_loop (tr, &w, p, pb);
  for (size_t i = 0; i < w.m; i++)
    {
      memcpy (tr->final_state + i * w.d, w.U + i * w.dp, w.d * sizeof *w.U);
      memcpy (tr->final_state + (w.m + i) * w.d, w.U + (w.m + i) * w.dp,
              w.d * sizeof *w.U);
    }
  tr->wall_seconds = mv_io_now () - wall0;
  mv_observers_finish (w.obs, w.nobs, tr);

done:
  ws_free (&w);
  return s;
}
