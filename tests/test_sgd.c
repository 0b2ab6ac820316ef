/* Online mini-batch SGD (src/sgd.c).
 *
 *  api        defaults, argument checking, output grid, failure and
 *             interruption records; observers (counts, order after the
 *             recorder, finish once, an observer error stops the run)
 *  exact      determinism for a seed; student = teacher stays put exactly;
 *             one step equals theta - lr * (mean per-sample gradient)
 *             recomputed here from the formula (same random stream); the
 *             stream does not replay a spec's generated vectors
 *  stats      the batch gradient averaged over many batches approaches the
 *             closed-form gradient within a few standard errors
 *  dynamics   small learning rates track the full gradient flow (and the
 *             deviation shrinks with lr); m = m* = 1 recovers the teacher
 *  seam       terms without a per-sample form: the default objective steps
 *             bit for bit as before the seam (final state recorded from
 *             main at 3ecaaae), and so do an explicit [noise, datafit] and
 *             one with a zero-weight Gram-only term; a Gram-only term's
 *             closed-form gradient is added to every step exactly (a
 *             quadratic in one Gram entry, gradient derived by hand); the
 *             spec's regularizers: all 0 bit for bit, nonzero SGD tracks
 *             the regularized full flow */
#include "testutil.h"

#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_math.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include <moeverify/error.h>
#include <moeverify/flow.h>
#include <moeverify/sgd.h>
#include <moeverify/loss.h>
#include <moeverify/problem.h>

/* ------------------------------------------------------------ helpers */

static double
dotd (const double *a, const double *b, size_t d)
{
  double s = 0;
  for (size_t i = 0; i < d; i++)
    s += a[i] * b[i];
  return s;
}

/* Random problem: orthonormal teacher (Gram-Schmidt of Gaussian vectors),
 * Gaussian student rows with assorted norms. */
static void
random_problem (mv_problem *pb, size_t d, size_t m, size_t ms, double noise,
                unsigned long seed)
{
  gsl_rng *r = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (r, seed);
  double *V = malloc (m * d * sizeof *V), *W = malloc (m * d * sizeof *W);
  double *T = malloc (2 * ms * d * sizeof *T);
  ck_assert (2 * ms <= d);
  for (size_t i = 0; i < m * d; i++)
    {
      V[i] = gsl_ran_gaussian (r, 1.0) * (0.5 + 0.3 * (double) (i / d));
      W[i] = gsl_ran_gaussian (r, 1.0) * (1.2 - 0.2 * (double) (i / d));
    }
  for (size_t a = 0; a < 2 * ms; a++)
    {
      double *t = T + a * d;
      for (size_t i = 0; i < d; i++)
        t[i] = gsl_ran_gaussian (r, 1.0);
      for (int pass = 0; pass < 2; pass++)
        for (size_t b = 0; b < a; b++)
          {
            double c = dotd (t, T + b * d, d);
            for (size_t i = 0; i < d; i++)
              t[i] -= c * T[b * d + i];
          }
      double nr = sqrt (dotd (t, t, d));
      for (size_t i = 0; i < d; i++)
        t[i] /= nr;
    }
  ck_assert_int_eq (mv_problem_set_d (pb, d, m, ms, V, W, T, T + ms * d,
                                      noise), MV_OK);
  free (V);
  free (W);
  free (T);
  gsl_rng_free (r);
}

static void
parse_problem (mv_problem *pb, const char *json)
{
  if (mv_problem_parse (pb, json, "<test>"))
    ck_abort_msg ("spec: %s", mv_error_message ());
}

/* Run SGD into a fresh trajectory; returns the status. */
static int
run (mv_traj *tr, const mv_problem *pb, const mv_sgd_params *p)
{
  ck_assert_int_eq (mv_traj_init (tr, pb->m, pb->mstar), MV_OK);
  return mv_sgd_run (tr, pb, p);
}

/* Unit-vector alignment of row r: router (kind 0) or expert (kind 1) of
 * student i with teacher j. */
static double
align (const mv_traj *tr, size_t r, int kind, size_t i, size_t j)
{
  return mv_traj_align (tr, r, kind == 0 ? MV_ALIGN_ROUTER : MV_ALIGN_EXPERT,
                        i, j);
}

static double
sigm (double z)
{
  return 1.0 / (1.0 + exp (-z));
}

/* ------------------------------------------------------------ api */

START_TEST (t_defaults)
{
  mv_sgd_params p;
  memset (&p, 0xff, sizeof p);
  mv_sgd_params_default (&p);
  ck_assert_double_eq (p.lr, 1e-3);
  ck_assert_uint_eq (p.batch, 128);
  ck_assert_uint_eq (p.steps, 10000);
  ck_assert_uint_eq (p.seed, 1);
  ck_assert_uint_eq (p.n_out, 200);
  ck_assert_ptr_null (p.times);
  ck_assert (p.interrupt == NULL);
  ck_assert_ptr_null (p.progress);
}
END_TEST

START_TEST (t_errors)
{
  mv_problem pb;
  mv_traj tr;
  mv_sgd_params p;
  random_problem (&pb, 4, 2, 1, 0.0, 3);
  mv_sgd_params_default (&p);
  p.steps = 10;
  struct { double lr; size_t batch; unsigned long steps; } bad[] = {
    { 0.0, 4, 10 }, { -1e-3, 4, 10 }, { NAN, 4, 10 }, { INFINITY, 4, 10 },
    { 1e-3, 0, 10 }, { 1e-3, 4, 0 }, { 1e300, 4, 10000000000UL },
  };
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
    {
      p.lr = bad[k].lr, p.batch = bad[k].batch, p.steps = bad[k].steps;
      ck_assert_int_eq (run (&tr, &pb, &p), MV_EINVAL);
      ck_assert (strncmp (mv_error_message (), "sgd: ", 5) == 0);
      ck_assert (strchr (mv_error_message (), '\n') == NULL);
      ck_assert_uint_eq (tr.rows, 0);
      ck_assert_ptr_null (tr.final_state);
      mv_traj_clear (&tr);
    }
  mv_sgd_params_default (&p);
  p.steps = 10;
  /* trajectory sized for another problem */
  ck_assert_int_eq (mv_traj_init (&tr, 3, 1), MV_OK);
  ck_assert_int_eq (mv_sgd_run (&tr, &pb, &p), MV_EINVAL);
  ck_assert_uint_eq (tr.rows, 0);
  mv_traj_clear (&tr);
  /* output times: not increasing, beyond lr * steps, zero */
  double t1[] = { 0.005, 0.004 }, t2[] = { 0.005, 0.02 }, t3[] = { 0.0 };
  const double *ts[] = { t1, t2, t3 };
  size_t nts[] = { 2, 2, 1 };
  for (size_t k = 0; k < 3; k++)
    {
      p.times = ts[k];
      p.n_times = nts[k];
      ck_assert_int_eq (run (&tr, &pb, &p), MV_EINVAL);
      ck_assert_uint_eq (tr.rows, 0);
      mv_traj_clear (&tr);
    }
  ck_assert_int_eq (mv_sgd_run (NULL, &pb, &p), MV_EINVAL);
  mv_problem_clear (&pb);
}
END_TEST

/* Rows at t = 0 and at the log-spaced times rounded to whole steps; the
 * recorded time is lr * step exactly; the run record. */
START_TEST (t_grid)
{
  mv_problem pb;
  mv_traj tr;
  mv_sgd_params p;
  random_problem (&pb, 5, 2, 1, 0.0, 4);
  mv_sgd_params_default (&p);
  p.lr = 0.01;
  p.steps = 100;
  p.batch = 3;
  p.n_out = 5;      /* 100^(i/4): 1, 3.16, 10, 31.6, 100 */
  ck_assert_int_eq (run (&tr, &pb, &p), MV_OK);
  const unsigned long want[] = { 0, 1, 3, 10, 32, 100 };
  ck_assert_uint_eq (tr.rows, 6);
  for (size_t r = 0; r < 6; r++)
    ck_assert_double_eq (tr.t[r], 0.01 * (double) want[r]);
  ck_assert_str_eq (tr.method, "sgd");
  ck_assert_str_eq (tr.stepper, "sgd");
  ck_assert_int_eq (tr.status, MV_TRAJ_DONE);
  ck_assert_uint_eq (tr.steps, 100);
  ck_assert_double_eq (tr.t_end, 1.0);
  ck_assert_uint_eq (tr.d, 5);
  ck_assert (tr.wall_seconds >= 0);
  ck_assert_ptr_nonnull (tr.final_state);
  for (size_t r = 0; r < tr.rows; r++)
    {
      ck_assert (isnan (tr.energy[r]));
      ck_assert (isfinite (tr.loss[r]) && tr.loss[r] > 0);
      ck_assert (isfinite (tr.grad2[r]) && tr.grad2[r] >= 0);
      const double *G = tr.G + r * tr.n * tr.n;
      for (size_t k = 0; k < tr.n; k++)
        {
          ck_assert_double_eq (G[k * tr.n + k], 1.0);
          for (size_t l = 0; l < tr.n; l++)
            {
              ck_assert_double_eq (G[k * tr.n + l], G[l * tr.n + k]);
              ck_assert (fabs (G[k * tr.n + l]) <= 1 + 1e-14);
            }
        }
    }
  /* initial norms: students raw, teachers 1 */
  double V[10], W[10];
  mv_problem_vectors_d (V, W, NULL, NULL, &pb);
  MV_CHECK_CLOSE_D (tr.norms0[0], sqrt (dotd (V, V, 5)), 1e-15, 0, "|v_1|");
  MV_CHECK_CLOSE_D (tr.norms0[3], sqrt (dotd (W + 5, W + 5, 5)), 1e-15, 0,
                    "|w_2|");
  ck_assert_double_eq (tr.norms0[4], 1.0);
  /* the last row's population values are the closed form of final_state */
  mv_problem q;
  double Lq, gV[10], gW[10];
  mv_loss_ws *ws = mv_loss_alloc (2, 1, 53);
  random_problem (&q, 5, 2, 1, 0.0, 4);
  ck_assert_int_eq (mv_problem_set_student_d (&q, tr.final_state,
                                              tr.final_state + 10), MV_OK);
  ck_assert_int_eq (mv_loss_eval_d (&Lq, gV, gW, NULL, &q, ws), MV_OK);
  MV_CHECK_CLOSE_D (tr.loss[5], Lq, 1e-14, 0, "final loss");
  MV_CHECK_CLOSE_D (tr.grad2[5], dotd (gV, gV, 10) + dotd (gW, gW, 10),
                    1e-13, 0, "final |grad|^2");
  /* and the Gram row matches the final state */
  double nv = sqrt (dotd (tr.final_state, tr.final_state, 5));
  double nw = sqrt (dotd (tr.final_state + 10, tr.final_state + 10, 5));
  MV_CHECK_CLOSE_D (tr.G[5 * 36 + 0 * 6 + 2],
                    dotd (tr.final_state, tr.final_state + 10, 5) / (nv * nw),
                    1e-13, 1e-15, "G(v_1, w_1)");
  mv_loss_free (ws);
  mv_problem_clear (&q);
  mv_traj_clear (&tr);

  /* explicit times round to the nearest step; duplicates merge; the last
     step is always recorded */
  double ts[] = { 0.004, 0.011, 0.0149, 0.5 };
  p.times = ts;
  p.n_times = 4;
  ck_assert_int_eq (run (&tr, &pb, &p), MV_OK);
  const unsigned long want2[] = { 0, 1, 50, 100 };
  ck_assert_uint_eq (tr.rows, 4);
  for (size_t r = 0; r < 4; r++)
    ck_assert_double_eq (tr.t[r], 0.01 * (double) want2[r]);
  mv_traj_clear (&tr);
  mv_problem_clear (&pb);
}
END_TEST

typedef struct { volatile sig_atomic_t *flag; double at; int calls; double last; } prog_ctx;

static void
prog_cb (void *ctx, double t, double t_end)
{
  prog_ctx *c = ctx;
  ck_assert (t >= c->last && t <= t_end);
  c->last = t;
  c->calls++;
  if (c->flag && t >= c->at)
    *c->flag = 1;
}

START_TEST (t_interrupt)
{
  mv_problem pb;
  mv_traj tr;
  mv_sgd_params p;
  volatile sig_atomic_t flag = 0;
  prog_ctx c = { &flag, 0.2995, 0, 0 };
  random_problem (&pb, 6, 2, 1, 0.0, 5);
  mv_sgd_params_default (&p);
  p.lr = 1e-3;
  p.steps = 1000;
  p.batch = 8;
  p.n_out = 20;
  p.interrupt = &flag;
  p.progress = prog_cb;
  p.progress_ctx = &c;
  ck_assert_int_eq (run (&tr, &pb, &p), MV_OK);
  ck_assert_int_eq (tr.status, MV_TRAJ_INTERRUPTED);
  ck_assert (strstr (tr.message, "interrupted") != NULL);
  /* progress every 5 steps (0.5%): stopped right after step 300 */
  ck_assert_uint_eq (tr.steps, 300);
  ck_assert_double_eq (tr.t[tr.rows - 1], 1e-3 * 300.0);
  ck_assert_double_eq (tr.t_end, 1.0);
  for (size_t r = 1; r < tr.rows; r++)
    ck_assert (tr.t[r] > tr.t[r - 1]);
  /* the interrupted state continues exactly like an uninterrupted run */
  mv_traj full;
  p.interrupt = NULL;
  p.progress = NULL;
  p.steps = 300;
  ck_assert_int_eq (run (&full, &pb, &p), MV_OK);
  ck_assert_int_eq (full.status, MV_TRAJ_DONE);
  ck_assert (memcmp (full.final_state, tr.final_state,
                     2 * 2 * 6 * sizeof (double)) == 0);
  ck_assert_int_eq (c.calls, 61);   /* 0, then steps 5, 10, ..., 300 */
  mv_traj_clear (&full);
  mv_traj_clear (&tr);
  mv_problem_clear (&pb);
}
END_TEST

/* A learning rate so large that the state overflows: status failed, an
 * error, rows up to the failure, final_state the last finite state. */
START_TEST (t_failure)
{
  mv_problem pb;
  mv_traj tr;
  mv_sgd_params p;
  random_problem (&pb, 4, 2, 1, 0.0, 6);
  mv_sgd_params_default (&p);
  p.lr = 1e305;
  p.steps = 50;
  p.batch = 4;
  int s = run (&tr, &pb, &p);
  ck_assert_int_ne (s, MV_OK);
  ck_assert_int_eq (tr.status, MV_TRAJ_FAILED);
  ck_assert (strstr (tr.message, "non-finite") != NULL);
  ck_assert (strstr (mv_error_message (), "sgd: ") == mv_error_message ());
  ck_assert (tr.rows >= 1);
  ck_assert_ptr_nonnull (tr.final_state);
  for (size_t i = 0; i < 16; i++)
    ck_assert (isfinite (tr.final_state[i]));
  mv_traj_clear (&tr);
  mv_problem_clear (&pb);
}
END_TEST

/* ------------------------------------------------------------ observers */

typedef struct {
  const mv_traj *tr;
  size_t steps, rows, calls, finishes, stop_at;
  double last_t;
  int decreasing, row_without_step, bad_row, finish_status;
  size_t rows_at_finish;
  int last_kind;
  double last_step_t;
} obs_count;

static int
count_observe (void *ctx, const mv_obs_point *pt)
{
  obs_count *c = ctx;
  c->calls++;
  if (c->calls > 1 && pt->t < c->last_t)
    c->decreasing = 1;
  c->last_t = pt->t;
  if (pt->kind == MV_OBS_STEP)
    {
      c->steps++;
      c->last_step_t = pt->t;
    }
  else
    {
      c->rows++;
      /* after the STEP of the same time; the recorder (first) has pushed
         the row already; full Gram, finite loss, the raw state */
      if (c->last_kind != MV_OBS_STEP || c->last_step_t != pt->t)
        c->row_without_step = 1;
      if (c->tr->rows != c->rows || c->tr->t[c->rows - 1] != pt->t
          || c->tr->loss[c->rows - 1] != pt->loss || !isfinite (pt->grad2)
          || !isnan (pt->energy) || !pt->theta || pt->d != c->tr->d
          || pt->n != 2 * (pt->m + pt->mstar))
        c->bad_row = 1;
      for (size_t k = 0; k < pt->n * pt->n; k++)
        if (!isfinite (pt->G[k]))
          c->bad_row = 1;
    }
  c->last_kind = pt->kind;
  if (c->stop_at && c->calls == c->stop_at)
    return mv_error_set (MV_EINVAL, "test observer: stop at call %zu",
                         c->calls);
  return MV_OK;
}

static void
count_finish (void *ctx, const mv_traj *tr)
{
  obs_count *c = ctx;
  c->finishes++;
  c->finish_status = tr->status;
  c->rows_at_finish = tr->rows;
}

/* Two counting observers after the recorder: same counts, ROW count =
 * rows, times nondecreasing, STEP before every ROW, finish once after the
 * record is complete; the trajectory is the one without observers. */
START_TEST (t_observers)
{
  mv_problem pb;
  mv_traj tr, plain;
  mv_sgd_params p;
  random_problem (&pb, 6, 2, 1, 0.0, 21);
  mv_sgd_params_default (&p);
  p.lr = 1e-2;
  p.steps = 400;
  p.batch = 8;
  p.n_out = 15;
  ck_assert_int_eq (run (&plain, &pb, &p), MV_OK);
  obs_count c[2];
  memset (c, 0, sizeof c);
  c[0].tr = c[1].tr = &tr;
  mv_observer obs[2] = {
    { "count0", count_observe, count_finish, &c[0] },
    { "count1", count_observe, count_finish, &c[1] },
  };
  p.observers = obs;
  p.n_observers = 2;
  ck_assert_int_eq (run (&tr, &pb, &p), MV_OK);
  ck_assert_int_eq (tr.status, MV_TRAJ_DONE);
  for (int i = 0; i < 2; i++)
    {
      ck_assert_uint_eq (c[i].rows, tr.rows);
      ck_assert_uint_ge (c[i].steps, c[i].rows);
      ck_assert_uint_le (c[i].steps, p.steps + 1);
      ck_assert_int_eq (c[i].decreasing, 0);
      ck_assert_int_eq (c[i].row_without_step, 0);
      ck_assert_int_eq (c[i].bad_row, 0);
      ck_assert_uint_eq (c[i].finishes, 1);
      ck_assert_int_eq (c[i].finish_status, MV_TRAJ_DONE);
      ck_assert_uint_eq (c[i].rows_at_finish, tr.rows);
      ck_assert_double_eq (c[i].last_t, tr.t_end);
    }
  ck_assert_uint_eq (c[0].calls, c[1].calls);
  /* observers watch, they do not change the run */
  ck_assert_uint_eq (tr.rows, plain.rows);
  ck_assert (memcmp (tr.loss, plain.loss, tr.rows * sizeof *tr.loss) == 0);
  ck_assert (memcmp (tr.G, plain.G, tr.rows * tr.n * tr.n * sizeof *tr.G)
             == 0);
  ck_assert (memcmp (tr.final_state, plain.final_state,
                     2 * 2 * 6 * sizeof (double)) == 0);
  /* a list length without a list */
  p.observers = NULL;
  mv_traj bad;
  ck_assert_int_eq (run (&bad, &pb, &p), MV_EINVAL);
  mv_traj_clear (&bad);
  mv_traj_clear (&plain);
  mv_traj_clear (&tr);
  mv_problem_clear (&pb);
}
END_TEST

/* An observer error at its 3rd call (t = 0 STEP, t = 0 ROW, then the first
 * event) stops the run: status failed with the observer's message, the
 * status returned, later observers not called, finish still once. */
START_TEST (t_observer_stop)
{
  mv_problem pb;
  mv_traj tr;
  mv_sgd_params p;
  random_problem (&pb, 6, 2, 1, 0.0, 22);
  mv_sgd_params_default (&p);
  p.lr = 1e-2;
  p.steps = 400;
  p.batch = 8;
  p.n_out = 15;
  obs_count c[2];
  memset (c, 0, sizeof c);
  c[0].tr = c[1].tr = &tr;
  c[0].stop_at = 3;
  mv_observer obs[2] = {
    { "stopper", count_observe, count_finish, &c[0] },
    { "after", count_observe, count_finish, &c[1] },
  };
  p.observers = obs;
  p.n_observers = 2;
  ck_assert_int_eq (run (&tr, &pb, &p), MV_EINVAL);
  ck_assert_int_eq (tr.status, MV_TRAJ_FAILED);
  ck_assert_msg (strstr (tr.message, "stop at call 3") != NULL, "message: %s",
                 tr.message);
  ck_assert (strstr (mv_error_message (), "stop at call 3") != NULL);
  ck_assert_uint_eq (c[0].calls, 3);
  ck_assert_uint_eq (c[1].calls, 2);
  ck_assert_uint_eq (c[0].finishes, 1);
  ck_assert_uint_eq (c[1].finishes, 1);
  ck_assert_int_eq (c[0].finish_status, MV_TRAJ_FAILED);
  ck_assert_uint_eq (tr.rows, 1);
  ck_assert_uint_le (tr.steps, 10);
  ck_assert_ptr_nonnull (tr.final_state);
  mv_traj_clear (&tr);
  mv_problem_clear (&pb);
}
END_TEST

/* A stopping rule (MV_OBS_STOP) at an event step ends the run complete,
 * with a last row at that step and the rule named; the states up to there
 * are those of the run without it. */
static int
stop_at_t (void *ctx, const mv_obs_point *pt)
{
  return pt->t >= *(double *) ctx ? MV_OBS_STOP : MV_OK;
}

START_TEST (t_observer_stop_rule)
{
  mv_problem pb;
  mv_traj tr, plain;
  mv_sgd_params p;
  random_problem (&pb, 6, 2, 1, 0.0, 23);
  mv_sgd_params_default (&p);
  p.lr = 1e-2, p.steps = 400, p.batch = 8, p.n_out = 15;
  ck_assert_int_eq (run (&plain, &pb, &p), MV_OK);
  double t_stop = 1.0;
  mv_observer obs = { "at-one", stop_at_t, NULL, &t_stop };
  p.observers = &obs, p.n_observers = 1;
  ck_assert_int_eq (run (&tr, &pb, &p), MV_OK);
  ck_assert_int_eq (tr.status, MV_TRAJ_DONE);
  ck_assert_msg (strstr (tr.message, "stopped by at-one at t ="), "message: %s", tr.message);
  double tl = tr.t[tr.rows - 1];
  ck_assert_msg (tl >= t_stop && tl < 1.2 && tr.steps < p.steps, "last row t = %.17g, %lu steps",
                 tl, tr.steps);
  for (size_t r = 0; r + 1 < tr.rows; r++)
    ck_assert_msg (tr.t[r] == plain.t[r] && tr.loss[r] == plain.loss[r],
                   "row %zu: t %.17g vs %.17g, loss %.17g vs %.17g", r, tr.t[r], plain.t[r],
                   tr.loss[r], plain.loss[r]);
  mv_traj_clear (&tr), mv_traj_clear (&plain);
  mv_problem_clear (&pb);
}
END_TEST

/* ------------------------------------------------------------ exact */

START_TEST (t_determinism)
{
  mv_problem pb;
  mv_traj a, b, c;
  mv_sgd_params p;
  random_problem (&pb, 9, 3, 2, 0.1, 7);
  mv_sgd_params_default (&p);
  p.lr = 2e-3;
  p.steps = 400;
  p.batch = 7;
  p.n_out = 30;
  p.seed = 42;
  ck_assert_int_eq (run (&a, &pb, &p), MV_OK);
  ck_assert_int_eq (run (&b, &pb, &p), MV_OK);
  p.seed = 43;
  ck_assert_int_eq (run (&c, &pb, &p), MV_OK);
  size_t ns = 2 * 3 * 9;
  ck_assert (memcmp (a.final_state, b.final_state, ns * sizeof (double)) == 0);
  ck_assert_uint_eq (a.rows, b.rows);
  ck_assert (memcmp (a.loss, b.loss, a.rows * sizeof (double)) == 0);
  ck_assert (memcmp (a.G, b.G, a.rows * a.n * a.n * sizeof (double)) == 0);
  ck_assert (memcmp (a.final_state, c.final_state, ns * sizeof (double)) != 0);
  mv_traj_clear (&a);
  mv_traj_clear (&b);
  mv_traj_clear (&c);
  mv_problem_clear (&pb);
}
END_TEST

/* Student = teacher with noiseless labels: every per-sample residual is
 * exactly 0, so the state never moves (bitwise), and the population loss
 * stays at the closed form's rounding level. */
START_TEST (t_teacher_fixed_point)
{
  const size_t d = 7, m = 2;
  mv_problem pb;
  mv_traj tr;
  mv_sgd_params p;
  random_problem (&pb, d, m, m, 0.0, 8);
  double V[14], W[14], Vt[14], Wt[14];
  mv_problem_vectors_d (V, W, Vt, Wt, &pb);
  /* the raw student: the teacher scaled (only directions enter f) --
     exactly by a power of 2, so the directions are bitwise the same */
  for (size_t i = 0; i < m * d; i++)
    V[i] = 2.0 * Vt[i], W[i] = 0.5 * Wt[i];
  ck_assert_int_eq (mv_problem_set_student_d (&pb, V, W), MV_OK);
  mv_sgd_params_default (&p);
  p.lr = 0.05;
  p.steps = 500;
  p.batch = 16;
  p.n_out = 10;
  ck_assert_int_eq (run (&tr, &pb, &p), MV_OK);
  ck_assert (memcmp (tr.final_state, V, m * d * sizeof (double)) == 0);
  ck_assert (memcmp (tr.final_state + m * d, W, m * d * sizeof (double)) == 0);
  for (size_t r = 0; r < tr.rows; r++)
    {
      ck_assert (fabs (tr.loss[r]) < 1e-13);
      ck_assert (tr.grad2[r] < 1e-24);
      ck_assert (fabs (tr.loss[r] - tr.loss[0]) == 0);
    }
  /* every alignment crossed every threshold at t = 0 */
  ck_assert_double_eq (mv_traj_recovery (&tr, 1, NULL), 0.0);
  mv_traj_clear (&tr);
  mv_problem_clear (&pb);
}
END_TEST

/* The generator seed of src/sgd.c (SplitMix64 of seed xor a tag, low 32
 * bits), restated so the stream can be replayed here. */
static unsigned long
stream_seed (unsigned long seed)
{
  uint64_t z = (uint64_t) seed ^ UINT64_C (0x5347445f53545245);
  z += UINT64_C (0x9e3779b97f4a7c15);
  z = (z ^ (z >> 30)) * UINT64_C (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C (0x94d049bb133111eb);
  z ^= z >> 31;
  return (unsigned long) (z & UINT64_C (0xffffffff));
}

/* One step from the formula, recomputed independently here with the same
 * random stream: per sample d normals, then the label-noise variate. */
static void
one_step_case (double noise, size_t B, unsigned long seed)
{
  const size_t d = 3, m = 2, ms = 1;
  const double lr = 0.05;
  mv_problem pb;
  mv_traj tr;
  mv_sgd_params p;
  random_problem (&pb, d, m, ms, noise, 9 + seed);
  double V[6], W[6], Vt[3], Wt[3];
  mv_problem_vectors_d (V, W, Vt, Wt, &pb);
  double vb[6], wb[6], nv[2], nw[2], gV[6] = { 0 }, gW[6] = { 0 };
  for (size_t i = 0; i < m; i++)
    {
      nv[i] = sqrt (dotd (V + i * d, V + i * d, d));
      nw[i] = sqrt (dotd (W + i * d, W + i * d, d));
      for (size_t k = 0; k < d; k++)
        vb[i * d + k] = V[i * d + k] / nv[i], wb[i * d + k] = W[i * d + k] / nw[i];
    }
  gsl_rng *r = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (r, stream_seed (seed));
  for (size_t s = 0; s < B; s++)
    {
      double x[3];
      for (size_t k = 0; k < d; k++)
        x[k] = gsl_ran_gaussian_ziggurat (r, 1.0);
      double bt = dotd (Wt, x, d);
      double y = sigm (dotd (Vt, x, d)) * (bt * bt * bt - 3 * bt);
      if (noise > 0)
        y += sqrt (noise) * gsl_ran_gaussian_ziggurat (r, 1.0);
      double f = 0, a[2], b[2];
      for (size_t i = 0; i < m; i++)
        {
          a[i] = dotd (vb + i * d, x, d), b[i] = dotd (wb + i * d, x, d);
          f += sigm (a[i]) * (b[i] * b[i] * b[i] - 3 * b[i]);
        }
      double res = f - y;
      for (size_t i = 0; i < m; i++)
        {
          double pi = sigm (a[i]), he = b[i] * b[i] * b[i] - 3 * b[i];
          double hep = 3 * b[i] * b[i] - 3;
          for (size_t k = 0; k < d; k++)
            {
              gV[i * d + k] += res * pi * (1 - pi) * he
                * (x[k] - a[i] * vb[i * d + k]) / nv[i] / (double) B;
              gW[i * d + k] += res * pi * hep
                * (x[k] - b[i] * wb[i * d + k]) / nw[i] / (double) B;
            }
        }
    }
  gsl_rng_free (r);
  mv_sgd_params_default (&p);
  p.lr = lr;
  p.steps = 1;
  p.batch = B;
  p.seed = seed;
  ck_assert_int_eq (run (&tr, &pb, &p), MV_OK);
  ck_assert_uint_eq (tr.rows, 2);
  double maxstep = 0;
  for (size_t k = 0; k < m * d; k++)
    {
      MV_CHECK_CLOSE_D (tr.final_state[k], V[k] - lr * gV[k], 1e-13, 1e-15,
                        "v after one step");
      MV_CHECK_CLOSE_D (tr.final_state[m * d + k], W[k] - lr * gW[k], 1e-13,
                        1e-15, "w after one step");
      maxstep = fmax (maxstep, fabs (lr * gV[k]) + fabs (lr * gW[k]));
    }
  ck_assert (maxstep > 1e-4);   /* the step is not trivially small */
  mv_traj_clear (&tr);
  mv_problem_clear (&pb);
}

START_TEST (t_one_step)
{
  one_step_case (0.0, 5, 11);
  one_step_case (0.0, 1, 12);
  one_step_case (0.0, 37, 13);   /* not a multiple of the sample tiles */
  one_step_case (0.3, 6, 14);    /* label noise drawn after each sample */
}
END_TEST

/* The SGD stream must not replay a spec's generated vectors: with a raw
 * mt19937 seed equal to the teacher's (student's) init seed, the first
 * samples would be the teacher's generating Gaussians (sqrt(d) times the
 * student's), |w*.x| = sqrt(d) and the residual ~ He3(8) = 488 here.  The
 * batch gradients of those seeds must look like any other seed's. */
START_TEST (t_stream_independent)
{
  const double lr = ldexp (1.0, -20);
  mv_problem pb;
  parse_problem (&pb, "{\"d\": 64, \"teacher\": {\"m\": 2, \"init\": "
                 "{\"kind\": \"orthonormal\", \"seed\": 7}}, \"student\":"
                 " {\"m\": 1, \"init\": {\"kind\": \"gaussian\", "
                 "\"seed\": 8}}}");
  double th[128];
  mv_problem_vectors_d (th, th + 64, NULL, NULL, &pb);
  const unsigned long seeds[] = { 7, 8, 100, 101, 102, 103, 104, 105 };
  double gn[8];
  for (size_t k = 0; k < 8; k++)
    {
      mv_traj tr;
      mv_sgd_params p;
      mv_sgd_params_default (&p);
      p.lr = lr;
      p.steps = 1;
      p.batch = 16;
      p.seed = seeds[k];
      ck_assert_int_eq (run (&tr, &pb, &p), MV_OK);
      double a = 0;
      for (size_t c = 0; c < 128; c++)
        a += gsl_pow_2 ((th[c] - tr.final_state[c]) / lr);
      gn[k] = sqrt (a);
      mv_traj_clear (&tr);
    }
  double ref = 0;
  for (size_t k = 2; k < 8; k++)
    ref = fmax (ref, gn[k]);
  if (!(gn[0] < 3 * ref && gn[1] < 3 * ref))
    ck_abort_msg ("batch gradient norm %.4g (seed 7), %.4g (seed 8) vs at "
                  "most %.4g for other seeds", gn[0], gn[1], ref);
  mv_problem_clear (&pb);
}
END_TEST

/* ------------------------------------------------------------ stats */

/* The batch gradient, read off single steps (lr = 2^-20, so lr * g is
 * exact and the step is recovered to ~1e-10), averaged over R independent
 * batches; each component within ZMAX standard errors of the closed form.
 * z over 24 components of 64 batch means: a bound of 5 has a false-alarm
 * rate far below 1e-3 even with the heavy tails of degree-7 integrands. */
#define ZMAX 5.0
extern const mv_loss_term_type *mv_test_term_overlap, *mv_test_term_gram_only;

/* The mean of one-step SGD gradients over R seeds against the closed-form
 * gradient of the objective obj (NULL: the default loss; else used by both
 * and freed). */
static void
mean_gradient_case (mv_loss_ws *obj)
{
  const size_t d = 4, m = 3, ms = 1, R = 64, nd = m * d;
  const double lr = ldexp (1.0, -20);
  mv_problem pb;
  mv_traj tr;
  mv_sgd_params p;
  random_problem (&pb, d, m, ms, 0.2, 15);
  double th[24], L, gex[24], sum[24] = { 0 }, sum2[24] = { 0 };
  mv_problem_vectors_d (th, th + nd, NULL, NULL, &pb);
  mv_loss_ws *ws = obj ? obj : mv_loss_alloc (m, ms, 53);
  ck_assert_int_eq (mv_loss_eval_d (&L, gex, gex + nd, NULL, &pb, ws), MV_OK);
  mv_sgd_params_default (&p);
  p.objective = obj;
  p.lr = lr;
  p.steps = 1;
  p.batch = 2048;
  for (size_t k = 0; k < R; k++)
    {
      p.seed = 1000 + k;
      ck_assert_int_eq (run (&tr, &pb, &p), MV_OK);
      /* population loss of row 0 is the closed form at theta_0 */
      MV_CHECK_CLOSE_D (tr.loss[0], L, 1e-14, 0, "row 0 loss");
      for (size_t c = 0; c < 2 * nd; c++)
        {
          double g = (th[c] - tr.final_state[c]) / lr;
          sum[c] += g;
          sum2[c] += g * g;
        }
      mv_traj_clear (&tr);
    }
  double zmax = 0, scale = 0;
  for (size_t c = 0; c < 2 * nd; c++)
    {
      double mean = sum[c] / R;
      double var = (sum2[c] - R * mean * mean) / (R - 1);
      double se = sqrt (var / R), z = (mean - gex[c]) / se;
      zmax = fmax (zmax, fabs (z));
      scale = fmax (scale, fabs (gex[c]));
      if (!(fabs (z) <= ZMAX))
        ck_abort_msg ("gradient component %zu: batch mean %.6g, closed form "
                      "%.6g, se %.3g, z = %.3g", c, mean, gex[c], se, z);
    }
  ck_assert (scale > 0.01);   /* a non-trivial gradient was compared */
  mv_loss_free (ws);
  mv_problem_clear (&pb);
}

START_TEST (t_mean_gradient)
{
  mean_gradient_case (NULL);
}
END_TEST

/* An objective with an added term (tests/term_overlap.c): SGD trains on
 * its per-sample form and records its closed form. */
START_TEST (t_mean_gradient_objective)
{
  mv_loss_ws *ws = mv_loss_alloc (3, 1, 53);
  ck_assert_int_eq (mv_loss_add_term (ws, mv_test_term_overlap, -1.5), MV_OK);
  mean_gradient_case (ws);
}
END_TEST

/* Objectives sized for another problem are refused; a term without a
 * per-sample form is not (it enters through its closed-form gradient; see
 * the seam tests). */
START_TEST (t_objective_errors)
{
  mv_problem pb;
  mv_traj tr;
  mv_sgd_params p;
  random_problem (&pb, 4, 3, 1, 0.0, 16);
  mv_sgd_params_default (&p);
  p.steps = 2;
  mv_loss_ws *ws = mv_loss_alloc (3, 1, 53);
  ck_assert_int_eq (mv_loss_add_term (ws, mv_test_term_gram_only, 1.0), MV_OK);
  p.objective = ws;
  ck_assert_int_eq (run (&tr, &pb, &p), MV_OK);
  mv_traj_clear (&tr);
  mv_loss_free (ws);
  ws = mv_loss_alloc (2, 1, 53);
  p.objective = ws;
  ck_assert_int_eq (run (&tr, &pb, &p), MV_EINVAL);
  ck_assert_msg (strstr (mv_error_message (), "objective sized") != NULL,
                 "message: %s", mv_error_message ());
  mv_traj_clear (&tr);
  mv_loss_free (ws);
  mv_problem_clear (&pb);
}
END_TEST

/* ------------------------------------------------------------ dynamics */

/* Small learning rates track the gradient flow.  d = 6, m = 2, m* = 1:
 * expert 1 starts at overlap 0.35 with the teacher and escapes (flow:
 * alignment 0.48 at t = 0.2, 0.89 at 0.6, 0.996 at 1.0), expert 2 (0.1)
 * stays dormant.  Overlaps of SGD (batch 1024, seeds 1-8) and of the flow
 * at 25 common times in (0, 2].  The largest deviation is the dormant
 * expert's, a random walk of size ~ sqrt(lr / batch), so both the maximum
 * and the RMS deviation should shrink by about 2 from lr = 4e-3 to 1e-3.
 * Measured (seeds 1-8): max 0.126 -> 0.091, RMS 0.0267 -> 0.0164 (ratio
 * 0.61); over 20 disjoint sets of 8 seeds: max 0.09-0.33 -> 0.05-0.14,
 * max ratio 0.28-0.76, RMS ratio 0.38-0.73.  The escaping pair (router
 * and expert of student 1) deviates by at most 0.055 -> 0.042. */
static const char small_spec[] =
  "{\"d\": 6, \"teacher\": {\"m\": 1, \"V\": [[1, 0, 0, 0, 0, 0]],"
  " \"W\": [[0, 1, 0, 0, 0, 0]]}, \"student\": {\"m\": 2,"
  " \"V\": [[0.2, 0, 0, 0.98, 0, 0], [-0.1, 0, 0, 0, 0.995, 0]],"
  " \"W\": [[0, 0.35, 0.937, 0, 0, 0], [0, 0.1, 0, 0, 0, 0.995]]}}";

START_TEST (t_tracks_flow)
{
  mv_problem pb;
  parse_problem (&pb, small_spec);
  const double T = 2.0;
  enum { NT = 25 };   /* every 0.08: whole steps at both rates */
  double ts[NT];
  for (size_t k = 0; k < NT; k++)
    ts[k] = T * (double) (k + 1) / NT;
  mv_flow_params fp;
  mv_flow_params_default (&fp);
  fp.t_end = T;
  fp.times = ts;
  fp.n_times = NT;
  mv_traj fl;
  ck_assert_int_eq (mv_traj_init (&fl, pb.m, pb.mstar), MV_OK);
  ck_assert_int_eq (mv_flow_full (&fl, &pb, &fp), MV_OK);
  ck_assert_uint_eq (fl.rows, NT + 1);
  ck_assert (align (&fl, NT, 1, 0, 0) > 0.99);   /* the flow escaped */
  double dev[2] = { 0, 0 }, dev_pair[2] = { 0, 0 }, rms[2] = { 0, 0 };
  const double lrs[2] = { 4e-3, 1e-3 };
  for (int k = 0; k < 2; k++)
    {
      mv_sgd_params p;
      mv_sgd_params_default (&p);
      p.lr = lrs[k];
      p.steps = (unsigned long) llround (T / lrs[k]);
      p.batch = 1024;
      p.times = ts;
      p.n_times = NT;
      size_t cnt = 0;
      for (unsigned long seed = 1; seed <= 8; seed++)
        {
          mv_traj tr;
          p.seed = seed;
          ck_assert_int_eq (run (&tr, &pb, &p), MV_OK);
          ck_assert_uint_eq (tr.rows, NT + 1);
          for (size_t r = 0; r < tr.rows; r++)
            {
              MV_CHECK_CLOSE_D (tr.t[r], fl.t[r], 1e-12, 0, "common time");
              for (int kind = 0; kind < 2; kind++)
                for (size_t i = 0; i < pb.m; i++)
                  {
                    double e = fabs (align (&tr, r, kind, i, 0)
                                     - align (&fl, r, kind, i, 0));
                    dev[k] = fmax (dev[k], e);
                    rms[k] += e * e;
                    cnt++;
                    if (i == 0)
                      dev_pair[k] = fmax (dev_pair[k], e);
                  }
            }
          mv_traj_clear (&tr);
        }
      rms[k] = sqrt (rms[k] / (double) cnt);
    }
  printf ("t_tracks_flow: overlap deviation from the flow, lr 4e-3: max %.4g "
          "(escaping pair %.4g) RMS %.4g; lr 1e-3: max %.4g (pair %.4g) RMS "
          "%.4g\n", dev[0], dev_pair[0], rms[0], dev[1], dev_pair[1], rms[1]);
  fflush (stdout);
  ck_assert (dev[0] < 0.4);
  ck_assert (dev[1] < 0.2);
  ck_assert (dev_pair[0] < 0.2 && dev_pair[1] < 0.1);
  ck_assert (dev[1] < dev[0]);
  ck_assert (rms[1] < 0.8 * rms[0]);
  mv_traj_clear (&fl);
  mv_problem_clear (&pb);
}
END_TEST

/* m = m* = 1 with a positive initial expert overlap: SGD recovers the
 * teacher (router and expert alignments >= 0.9). */
START_TEST (t_recovers)
{
  const size_t d = 8;
  double V[8] = { 0 }, W[8] = { 0 }, Vt[8] = { 0 }, Wt[8] = { 0 };
  Vt[0] = 1, Wt[1] = 1;
  /* expert overlap 0.3, router overlap 0.1, router orthogonal to expert */
  W[1] = 0.3, W[2] = sqrt (1 - 0.09);
  V[0] = 0.1, V[3] = sqrt (1 - 0.01);
  mv_problem pb;
  ck_assert_int_eq (mv_problem_set_d (&pb, d, 1, 1, V, W, Vt, Wt, 0.0), MV_OK);
  mv_sgd_params p;
  mv_sgd_params_default (&p);
  p.lr = 2e-3;
  p.steps = 10000;
  p.batch = 64;
  p.n_out = 50;
  mv_traj tr;
  ck_assert_int_eq (run (&tr, &pb, &p), MV_OK);
  size_t last = tr.rows - 1;
  double ra = align (&tr, last, 0, 0, 0), ea = align (&tr, last, 1, 0, 0);
  long who;
  double trec = mv_traj_recovery (&tr, 0, &who);
  printf ("t_recovers: router %.4f expert %.4f, recovered at t = %.4g, "
          "loss %.3g -> %.3g\n", ra, ea, trec, tr.loss[0], tr.loss[last]);
  fflush (stdout);
  ck_assert (ra >= 0.9 && ea >= 0.9);
  ck_assert (isfinite (trec) && trec > 0 && trec <= tr.t[last]);
  ck_assert_int_eq (who, 0);
  ck_assert (tr.loss[last] < 0.05 * tr.loss[0]);
  mv_traj_clear (&tr);
  mv_problem_clear (&pb);
}
END_TEST

/* ------------------------------------------------------------ seam */

/* Test-local term without a per-sample form: q = (kappa/2) (G_{v_1,w_2} - c)^2
 * (router of student 1 against expert of student 2), whose gradient with
 * respect to the raw vectors is, by hand,
 *   dq/dv_1 = kappa (G - c) (I - vbar_1 vbar_1^T) wbar_2 / |v_1|,
 *   dq/dw_2 = kappa (G - c) (I - wbar_2 wbar_2^T) vbar_1 / |w_2|,
 * and zero for every other vector. */
#define QUAD_KAPPA 1.75
#define QUAD_C 0.3

static int
quad_gram_d (mv_loss_acc_d *acc, const double *G, const mv_loss_term_ctx *ctx)
{
  size_t e = 0 * ctx->n + (ctx->m + 1);       /* (v_1, w_2) */
  double g = G[e] - QUAD_C, w = ctx->weight;
  acc->L += w * 0.5 * QUAD_KAPPA * g * g;
  acc->abs_terms += fabs (w * 0.5 * QUAD_KAPPA * g * g);
  acc->nsum += 1;
  if (acc->dLdG)
    acc->dLdG[e] += w * QUAD_KAPPA * g;
  return MV_OK;
}

static const mv_loss_term_type quad_type = {
  "test-quad", quad_gram_d, NULL, NULL, NULL
};

/* The gold problem: d = 5, m = 2, m* = 1, label noise (the eps stream). */
static const char gold_spec[] =
  "{\"d\": 5, \"noise_var\": 0.01, \"teacher\": {\"m\": 1, \"V\": [[1, 0, 0, 0, 0]],"
  " \"W\": [[0, 1, 0, 0, 0]]}, \"student\": {\"m\": 2,"
  " \"V\": [[0.3, -0.2, 0.1, 0.9, 0.05], [-0.1, 0.4, 0.2, 0.1, 0.8]],"
  " \"W\": [[0.2, 0.5, 0.7, -0.1, 0.3], [0.6, 0.1, -0.3, 0.2, 0.5]]}}";

/* Final state (V rows then W rows) of lr 0.01, batch 16, 20 steps, seed 7,
 * n_out 3 on the gold problem, printed with %a by main at 3ecaaae (before
 * the seam), default objective. */
static const double gold_final[20] = {
  0x1.142855def14fap-2, -0x1.ddb24fe90bae6p-3, 0x1.98142ed5c05ffp-5,
  0x1.d2a715b8ad206p-1, 0x1.f039d15398117p-8, -0x1.c3c494d2fe6a5p-3,
  0x1.9ed782d3f5a31p-2, 0x1.fbbe17b75947cp-3, 0x1.a78145a8e5eeep-7,
  0x1.8cd8dddc3d0fep-1, 0x1.62d527ea0892fp-4, 0x1.ad6c5bbe21571p-1,
  0x1.169e9d9689494p-1, -0x1.21d1fd4f41859p-3, 0x1.e87e2fa647f12p-5,
  0x1.3277417339b9cp-1, 0x1.f03ca5cb87a97p-4, -0x1.005862d3555cap-1,
  -0x1.2655beae2f46p-4, 0x1.0e3033dda2555p-1
};
static const double gold_loss = 0x1.d5c1dab71b5bap+0;

static void
gold_params (mv_sgd_params *p)
{
  mv_sgd_params_default (p);
  p->lr = 0.01;
  p->batch = 16;
  p->steps = 20;
  p->seed = 7;
  p->n_out = 3;
}

static void
check_gold (const mv_traj *tr, const char *what)
{
  for (size_t c = 0; c < 20; c++)
    if (tr->final_state[c] != gold_final[c])
      ck_abort_msg ("%s: final state component %zu is %a, main had %a", what,
                    c, tr->final_state[c], gold_final[c]);
  ck_assert_msg (tr->loss[tr->rows - 1] == gold_loss, "%s: loss %a, main %a",
                 what, tr->loss[tr->rows - 1], gold_loss);
}

/* The default objective, an explicit [noise 1, datafit 1] and the same
 * plus a Gram-only term of weight 0 all reproduce main's run bit for bit
 * (the last: a zero closed-form gradient is added, u - lr * 0 = u). */
START_TEST (t_seam_bitwise)
{
  mv_problem pb;
  parse_problem (&pb, gold_spec);
  mv_sgd_params p;
  mv_traj tr;
  gold_params (&p);
  ck_assert_int_eq (run (&tr, &pb, &p), MV_OK);
  check_gold (&tr, "default objective");
  mv_traj_clear (&tr);
  mv_loss_ws *ws = mv_loss_alloc (2, 1, 53);
  mv_loss_clear_terms (ws);
  ck_assert_int_eq (mv_loss_add_term (ws, mv_loss_term_noise, 1.0), MV_OK);
  ck_assert_int_eq (mv_loss_add_term (ws, mv_loss_term_datafit, 1.0), MV_OK);
  ck_assert_uint_eq (mv_loss_ngram_only (ws), 0);
  p.objective = ws;
  ck_assert_int_eq (run (&tr, &pb, &p), MV_OK);
  check_gold (&tr, "explicit [noise, datafit]");
  mv_traj_clear (&tr);
  ck_assert_int_eq (mv_loss_add_term (ws, &quad_type, 0.0), MV_OK);
  ck_assert_uint_eq (mv_loss_ngram_only (ws), 1);
  ck_assert_int_eq (run (&tr, &pb, &p), MV_OK);
  check_gold (&tr, "with a zero-weight Gram-only term");
  mv_traj_clear (&tr);
  mv_loss_free (ws);
  mv_problem_clear (&pb);
}
END_TEST

/* The hand gradient of weight * q (m = 2) at the raw state th (V rows, W
 * rows), into g. */
static void
quad_grad_hand (double *g, const double *th, size_t d, double weight)
{
  const double *v1 = th, *w2 = th + 3 * d;
  double nv = sqrt (dotd (v1, v1, d)), nw = sqrt (dotd (w2, w2, d));
  double G = dotd (v1, w2, d) / (nv * nw), a = weight * QUAD_KAPPA * (G - QUAD_C);
  memset (g, 0, 4 * d * sizeof *g);
  for (size_t i = 0; i < d; i++)
    {
      g[i] = a * (w2[i] / nw - G * v1[i] / nv) / nv;
      g[3 * d + i] = a * (v1[i] / nv - G * w2[i] / nw) / nw;
    }
}

/* One step on q alone (no sampled term: the batch contributes exactly 0)
 * is theta - lr * (hand gradient), to 1e-14 relative. */
START_TEST (t_seam_step_alone)
{
  mv_problem pb;
  parse_problem (&pb, gold_spec);
  const size_t d = 5;
  double th[20], g[20];
  mv_problem_vectors_d (th, th + 2 * d, NULL, NULL, &pb);
  mv_loss_ws *ws = mv_loss_alloc (2, 1, 53);
  mv_loss_clear_terms (ws);
  ck_assert_int_eq (mv_loss_add_term (ws, &quad_type, 2.0), MV_OK);
  mv_sgd_params p;
  mv_traj tr;
  gold_params (&p);
  p.objective = ws;
  p.steps = 1;
  p.lr = 0.5;
  ck_assert_int_eq (run (&tr, &pb, &p), MV_OK);
  quad_grad_hand (g, th, d, 2.0);
  double gmax = 0;
  for (size_t c = 0; c < 20; c++)
    gmax = fmax (gmax, fabs (g[c]));
  ck_assert (gmax > 0.1);   /* a non-trivial gradient */
  for (size_t c = 0; c < 20; c++)
    {
      double want = th[c] - p.lr * g[c];
      if (!(fabs (tr.final_state[c] - want) <= 1e-14 * fmax (fabs (want), gmax)))
        ck_abort_msg ("component %zu: SGD %.17g, theta - lr g_hand %.17g "
                      "(diff %.3g)", c, tr.final_state[c], want,
                      tr.final_state[c] - want);
    }
  mv_traj_clear (&tr);
  mv_loss_free (ws);
  mv_problem_clear (&pb);
}
END_TEST

/* With the data fit, one step with q added differs from the same step
 * without it (same seed, same batch) by exactly -lr * (hand gradient of q),
 * to 1e-14 relative to lr |g|: the sampled part is unchanged. */
START_TEST (t_seam_step_added)
{
  mv_problem pb;
  parse_problem (&pb, gold_spec);
  const size_t d = 5;
  double th[20], g[20];
  mv_problem_vectors_d (th, th + 2 * d, NULL, NULL, &pb);
  mv_loss_ws *ws = mv_loss_alloc (2, 1, 53);
  ck_assert_int_eq (mv_loss_add_term (ws, &quad_type, -1.5), MV_OK);
  mv_sgd_params p;
  mv_traj t0, t1;
  gold_params (&p);
  p.steps = 1;
  p.lr = 0.25;
  ck_assert_int_eq (run (&t0, &pb, &p), MV_OK);
  p.objective = ws;
  ck_assert_int_eq (run (&t1, &pb, &p), MV_OK);
  quad_grad_hand (g, th, d, -1.5);
  double gmax = 0;
  for (size_t c = 0; c < 20; c++)
    gmax = fmax (gmax, fabs (p.lr * g[c]));
  ck_assert (gmax > 0.05);
  for (size_t c = 0; c < 20; c++)
    {
      double diff = t1.final_state[c] - t0.final_state[c], want = -p.lr * g[c];
      if (!(fabs (diff - want) <= 1e-14 * gmax))
        ck_abort_msg ("component %zu: step difference %.17g, -lr g_hand %.17g",
                      c, diff, want);
    }
  /* the recorded population loss includes q (closed form) */
  double L0 = t0.loss[0], L1 = t1.loss[0];
  double G = dotd (th, th + 3 * d, d) / sqrt (dotd (th, th, d)
                                              * dotd (th + 3 * d, th + 3 * d, d));
  MV_CHECK_CLOSE_D (L1 - L0, -1.5 * 0.5 * QUAD_KAPPA * (G - QUAD_C) * (G - QUAD_C),
                    1e-12, 1e-15, "recorded loss includes q");
  mv_traj_clear (&t0);
  mv_traj_clear (&t1);
  mv_loss_free (ws);
  mv_problem_clear (&pb);
}
END_TEST

/* The library side of the seam: with [noise, datafit, q] the per-sample
 * sum refuses q (as Monte Carlo must) while the partial sum skips it and
 * equals the data fit's bit for bit; the Gram-only evaluation is q alone
 * (value and hand gradient), and the full closed-form gradient is the
 * plain one plus it. */
START_TEST (t_seam_api)
{
  mv_problem pb;
  parse_problem (&pb, gold_spec);
  const size_t d = 5, m = 2, n = 6;
  double th[20], tt[10], g[20];
  mv_problem_vectors_d (th, th + 2 * d, tt, tt + d, &pb);
  mv_loss_ws *plain = mv_loss_alloc (m, 1, 53), *ws = mv_loss_alloc (m, 1, 53);
  ck_assert_int_eq (mv_loss_add_term (ws, &quad_type, 0.75), MV_OK);
  ck_assert_uint_eq (mv_loss_ngram_only (plain), 0);
  ck_assert_uint_eq (mv_loss_ngram_only (ws), 1);
  double P[3 * 6], v0[3], v1[3], D0[3 * 4], D1[3 * 4];
  for (size_t i = 0; i < 3 * n; i++)
    P[i] = sin (1.0 + 0.9 * (double) i);
  ck_assert_int_eq (mv_loss_sample_d (v1, D1, 4, P, n, NULL, 3, ws),
                    MV_EINVAL);
  ck_assert_msg (strstr (mv_error_message (), "test-quad") != NULL, "%s",
                 mv_error_message ());
  ck_assert_int_eq (mv_loss_sample_d (v0, D0, 4, P, n, NULL, 3, plain), MV_OK);
  ck_assert_int_eq (mv_loss_sample_partial_d (v1, D1, 4, P, n, NULL, 3, ws),
                    MV_OK);
  ck_assert (memcmp (v0, v1, sizeof v0) == 0 && memcmp (D0, D1, sizeof D0) == 0);
  /* Gram-only part: q and its hand gradient */
  double Lq, gq[20], G;
  ck_assert_int_eq (mv_loss_eval_vec_gram_only_d (&Lq, gq, gq + 2 * d, th,
                                                  th + 2 * d, tt, tt + d, d,
                                                  0.0, ws), MV_OK);
  G = dotd (th, th + 3 * d, d) / sqrt (dotd (th, th, d)
                                       * dotd (th + 3 * d, th + 3 * d, d));
  MV_CHECK_CLOSE_D (Lq, 0.75 * 0.5 * QUAD_KAPPA * (G - QUAD_C) * (G - QUAD_C),
                    1e-14, 0, "Gram-only value");
  quad_grad_hand (g, th, d, 0.75);
  for (size_t c = 0; c < 20; c++)
    MV_CHECK_CLOSE_D (gq[c], g[c], 1e-14, 1e-16, "Gram-only gradient");
  /* full = plain + Gram-only */
  double Lf, Lp, gf[20], gp[20];
  ck_assert_int_eq (mv_loss_eval_vec_d (&Lf, gf, gf + 2 * d, NULL, th,
                                        th + 2 * d, tt, tt + d, d, 0.01, ws),
                    MV_OK);
  ck_assert_int_eq (mv_loss_eval_vec_d (&Lp, gp, gp + 2 * d, NULL, th,
                                        th + 2 * d, tt, tt + d, d, 0.01,
                                        plain), MV_OK);
  MV_CHECK_CLOSE_D (Lf, Lp + Lq, 1e-14, 0, "L = L_plain + q");
  for (size_t c = 0; c < 20; c++)
    MV_CHECK_CLOSE_D (gf[c], gp[c] + gq[c], 1e-13, 1e-15, "gradient sum");
  mv_loss_free (plain);
  mv_loss_free (ws);
  mv_problem_clear (&pb);
}
END_TEST

/* The spec's regularizers (mv_sgd_params.reg): all 0 is main's run bit for
 * bit; with an explicit objective they are refused; nonzero, SGD (small lr,
 * large batch) tracks the full flow of the same regularized objective.
 * d = 6, m = 3, m* = 1, ortho 2, ortho_gated 1, var 1 (ortho and
 * ortho_gated enter SGD through their closed-form gradient, var through its
 * per-sample form), t = 1, lr 1e-3, batch 4096, seeds 1-2.  Measured: final
 * raw vectors within 0.016 of the regularized flow, while the regularized
 * and plain flows differ by 0.37. */
static const char reg_spec[] =
  "{\"d\": 6, \"teacher\": {\"m\": 1, \"V\": [[1,0,0,0,0,0]], \"W\": [[0,1,0,0,0,0]]},"
  " \"student\": {\"m\": 3, \"V\": [[0.3,0.1,0,0.9,0,0.2],[0,0.5,0.1,0,0.8,0],"
  "[0.2,0,0.4,0.1,0,0.9]], \"W\": [[1,0,0,0,0,0],[0.7,0.714,0,0,0,0],"
  "[-0.5,0.3,0.6,0,0,0]]}}";

START_TEST (t_seam_regularizers)
{
  mv_problem pb;
  mv_sgd_params p;
  mv_traj tr;
  parse_problem (&pb, gold_spec);
  mv_regularizers zero = { 0, 0, 0, 0 }, reg = { 0, 2.0, 1.0, 1.0 };
  gold_params (&p);
  p.reg = &zero;
  ck_assert_int_eq (run (&tr, &pb, &p), MV_OK);
  check_gold (&tr, "all-zero regularizers");
  mv_traj_clear (&tr);
  mv_loss_ws *ws = mv_loss_alloc (2, 1, 53);
  p.objective = ws;
  p.reg = &reg;
  ck_assert_int_eq (run (&tr, &pb, &p), MV_EINVAL);
  ck_assert_msg (strstr (mv_error_message (), "explicit objective") != NULL,
                 "%s", mv_error_message ());
  mv_traj_clear (&tr);
  mv_loss_free (ws);
  mv_problem_clear (&pb);

  parse_problem (&pb, reg_spec);
  const size_t nd = 2 * pb.m * pb.d;
  mv_flow_params fp;
  mv_traj fr, f0;
  mv_flow_params_default (&fp);
  fp.t_end = 1.0;
  ck_assert_int_eq (mv_traj_init (&f0, pb.m, pb.mstar), MV_OK);
  ck_assert_int_eq (mv_flow_full (&f0, &pb, &fp), MV_OK);
  fp.reg = &reg;
  ck_assert_int_eq (mv_traj_init (&fr, pb.m, pb.mstar), MV_OK);
  ck_assert_int_eq (mv_flow_full (&fr, &pb, &fp), MV_OK);
  mv_sgd_params_default (&p);
  p.reg = &reg;
  p.lr = 1e-3;
  p.steps = 1000;
  p.batch = 4096;
  p.n_out = 5;
  double dev = 0, dflow = 0;
  for (unsigned long seed = 1; seed <= 2; seed++)
    {
      p.seed = seed;
      ck_assert_int_eq (run (&tr, &pb, &p), MV_OK);
      for (size_t c = 0; c < nd; c++)
        dev = fmax (dev, fabs (tr.final_state[c] - fr.final_state[c]));
      mv_traj_clear (&tr);
    }
  for (size_t c = 0; c < nd; c++)
    dflow = fmax (dflow, fabs (fr.final_state[c] - f0.final_state[c]));
  printf ("t_seam_regularizers: |SGD - regularized flow| <= %.4g, "
          "|regularized - plain flow| = %.4g\n", dev, dflow);
  fflush (stdout);
  ck_assert (dflow > 0.2);
  ck_assert (dev < 0.05);
  mv_traj_clear (&fr);
  mv_traj_clear (&f0);
  mv_problem_clear (&pb);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("sgd");
  TCase *tc;

  tc = tcase_create ("api");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, t_defaults);
  tcase_add_test (tc, t_errors);
  tcase_add_test (tc, t_objective_errors);
  tcase_add_test (tc, t_grid);
  tcase_add_test (tc, t_interrupt);
  tcase_add_test (tc, t_failure);
  tcase_add_test (tc, t_observers);
  tcase_add_test (tc, t_observer_stop);
  tcase_add_test (tc, t_observer_stop_rule);
  suite_add_tcase (s, tc);

  tc = tcase_create ("exact");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, t_determinism);
  tcase_add_test (tc, t_teacher_fixed_point);
  tcase_add_test (tc, t_one_step);
  tcase_add_test (tc, t_stream_independent);
  suite_add_tcase (s, tc);

  tc = tcase_create ("stats");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, t_mean_gradient);
  tcase_add_test (tc, t_mean_gradient_objective);
  suite_add_tcase (s, tc);

  tc = tcase_create ("seam");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, t_seam_bitwise);
  tcase_add_test (tc, t_seam_step_alone);
  tcase_add_test (tc, t_seam_step_added);
  tcase_add_test (tc, t_seam_api);
  tcase_add_test (tc, t_seam_regularizers);
  suite_add_tcase (s, tc);

  tc = tcase_create ("dynamics");
  tcase_set_timeout (tc, 240);
  tcase_add_test (tc, t_tracks_flow);
  tcase_add_test (tc, t_recovers);
  suite_add_tcase (s, tc);

  return mv_test_run (s);
}
