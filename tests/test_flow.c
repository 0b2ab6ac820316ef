/* Gradient flows: conservation laws, energy identity, monotone loss, full
 * vs reduced flow, tolerance and stepper convergence, fixed points,
 * recovery, the leading-order escape law (MATH.md §3), bad input; the
 * observers of a run, the stepper table, the choice of G(0). */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <moeverify/moeverify.h>

static const char SMALL[] =
  "{\"d\": 6, \"teacher\": {\"m\": 1, \"init\": {\"kind\": \"orthonormal\", \"seed\": 3}},"
  " \"student\": {\"m\": 2, \"init\": {\"kind\": \"gaussian\", \"seed\": 4}}}";

static void
parse (mv_problem *pb, const char *spec)
{
  int s = mv_problem_parse (pb, spec, "test");
  ck_assert_msg (s == MV_OK, "%s", mv_error_message ());
}

static void
run_full (mv_traj *tr, const mv_problem *pb, const mv_flow_params *p)
{
  ck_assert_int_eq (mv_traj_init (tr, pb->m, pb->mstar), MV_OK);
  int s = mv_flow_full (tr, pb, p);
  ck_assert_msg (s == MV_OK, "%s", mv_error_message ());
  ck_assert_int_eq (tr->status, MV_TRAJ_DONE);
}

static void
run_reduced (mv_traj *tr, const mv_problem *pb, const mv_flow_params *p)
{
  size_t n = 2 * (pb->m + pb->mstar);
  double *G = malloc (n * n * sizeof *G), *nr = malloc (n * sizeof *nr);
  ck_assert_int_eq (mv_problem_gram_d (G, nr, pb), MV_OK);
  ck_assert_int_eq (mv_traj_init (tr, pb->m, pb->mstar), MV_OK);
  int s = mv_flow_reduced (tr, G, nr, pb->m, pb->mstar, pb->noise_var, p);
  ck_assert_msg (s == MV_OK, "%s", mv_error_message ());
  ck_assert_int_eq (tr->status, MV_TRAJ_DONE);
  free (G), free (nr);
}

/* energy identity L(t) - L(0) = -Int |grad L|^2 and monotone loss */
static void
check_energy (const mv_traj *tr, double tol)
{
  for (size_t r = 1; r < tr->rows; r++)
    {
      MV_CHECK_CLOSE_D (tr->loss[r] - tr->loss[0], -tr->energy[r], 0, tol, "energy identity");
      ck_assert_msg (tr->loss[r] <= tr->loss[r - 1] + 1e-13,
                     "loss increased at t = %g: %.17g -> %.17g", tr->t[r],
                     tr->loss[r - 1], tr->loss[r]);
    }
}

static double
max_gram_diff (const mv_traj *a, const mv_traj *b)
{
  size_t nn = a->n * a->n;
  double w = 0;
  for (size_t r = 0; r < a->rows && r < b->rows; r++)
    for (size_t k = 0; k < nn; k++)
      w = fmax (w, fabs (mv_traj_gram (a, r)[k] - mv_traj_gram (b, r)[k]));
  return w;
}

START_TEST (t_full_conservation)
{
  mv_problem pb;
  parse (&pb, SMALL);
  mv_flow_params p;
  mv_flow_params_default (&p);
  p.t_end = 40;
  p.n_out = 40;
  mv_traj tr;
  run_full (&tr, &pb, &p);
  size_t d = pb.d, m = pb.m;
  for (size_t k = 0; k < 2 * m; k++)
    {
      double s = 0;
      for (size_t i = 0; i < d; i++)
        s += tr.final_state[k * d + i] * tr.final_state[k * d + i];
      MV_CHECK_CLOSE_D (sqrt (s), tr.norms0[k], 1e-8, 0, "norm conserved");
    }
  check_energy (&tr, 1e-8 * tr.loss[0]);
  ck_assert (tr.loss[tr.rows - 1] < tr.loss[0]);
  mv_traj_clear (&tr);
  mv_problem_clear (&pb);
}
END_TEST

START_TEST (t_full_vs_reduced)
{
  mv_problem pb;
  parse (&pb, SMALL);
  mv_flow_params p;
  mv_flow_params_default (&p);
  p.t_end = 40;
  p.n_out = 40;
  mv_traj a, b;
  run_full (&a, &pb, &p);
  run_reduced (&b, &pb, &p);
  check_energy (&b, 1e-8 * b.loss[0]);
  ck_assert_uint_eq (a.rows, b.rows);
  double worst = 0;
  for (size_t r = 0; r < a.rows; r++)
    {
      MV_CHECK_CLOSE_D (a.t[r], b.t[r], 0, 0, "same output grid");
      MV_CHECK_CLOSE_D (a.loss[r], b.loss[r], 1e-7, 1e-9, "loss full vs reduced");
    }
  worst = max_gram_diff (&a, &b);
  ck_assert_msg (worst < 1e-6, "full vs reduced Gram entries differ by %g", worst);
  mv_traj_clear (&a), mv_traj_clear (&b);
  mv_problem_clear (&pb);
}
END_TEST


/* halving... (here: tightening by 100x) the tolerance changes the trajectory
 * by no more than the looser run's tolerance allows; two steppers agree */
START_TEST (t_convergence)
{
  mv_problem pb;
  parse (&pb, SMALL);
  mv_flow_params p;
  mv_flow_params_default (&p);
  p.t_end = 40;
  p.n_out = 30;
  p.rtol = 1e-7, p.atol = 1e-10;
  mv_traj a, b, c;
  run_reduced (&a, &pb, &p);
  p.rtol = 1e-9, p.atol = 1e-12;
  run_reduced (&b, &pb, &p);
  p.stepper = "rkf45";
  run_reduced (&c, &pb, &p);
  double dab = max_gram_diff (&a, &b), dbc = max_gram_diff (&b, &c);
  ck_assert_msg (dab < 1e-5, "rtol 1e-7 vs 1e-9: %g", dab);
  ck_assert_msg (dbc < 1e-6, "rk8pd vs rkf45 at rtol 1e-9: %g", dbc);
  mv_traj_clear (&a), mv_traj_clear (&b), mv_traj_clear (&c);
  mv_problem_clear (&pb);
}
END_TEST

START_TEST (t_teacher_fixed_point)
{
  double V[4] = { 1, 0, 0, 0 }, W[4] = { 0, 0.6, 0.8, 0 };
  mv_problem pb;
  ck_assert_int_eq (mv_problem_set_d (&pb, 4, 1, 1, V, W, V, W, 0.0), MV_OK);
  mv_flow_params p;
  mv_flow_params_default (&p);
  p.t_end = 50;
  p.n_out = 10;
  mv_traj tr;
  run_full (&tr, &pb, &p);
  for (size_t r = 0; r < tr.rows; r++)
    ck_assert_msg (fabs (tr.loss[r]) < 1e-14, "loss %g at t = %g", tr.loss[r], tr.t[r]);
  for (int i = 0; i < 4; i++)
    MV_CHECK_CLOSE_D (tr.final_state[i], V[i], 0, 1e-14, "v stays"),
    MV_CHECK_CLOSE_D (tr.final_state[4 + i], W[i], 0, 1e-14, "w stays");
  mv_traj_clear (&tr);
  mv_problem_clear (&pb);
}
END_TEST

/* m = m* = 1, expert overlap 0.2, other overlaps 0: the escape follows
 * T_theta = (2|w|^2/9)(1/b0 - 1/theta + artanh theta - artanh b0)
 * (MATH.md §3: 0.7437 predicted, 0.7434 measured independently), and the
 * pair then recovers the teacher. */
/* One pair in d = 4: router orthogonal to its teacher, expert at 0.2. */
static void
escape_pair (mv_problem *pb)
{
  double s = sqrt (0.96);
  double Vt[4] = { 1, 0, 0, 0 }, Wt[4] = { 0, 1, 0, 0 };
  double V[4] = { 0, 0, 1, 0 }, W[4] = { 0, 0.2, 0, s };
  ck_assert_int_eq (mv_problem_set_d (pb, 4, 1, 1, V, W, Vt, Wt, 0.0), MV_OK);
}

START_TEST (t_escape_and_recovery)
{
  mv_problem pb;
  escape_pair (&pb);
  mv_flow_params p;
  mv_flow_params_default (&p);
  p.t_end = 60;
  mv_traj tr;
  run_full (&tr, &pb, &p);
  double t05 = mv_traj_crossing (&tr, MV_ALIGN_EXPERT, MV_TRAJ_THR_50, 0, 0);
  double pred = 2.0 / 9.0 * (1 / 0.2 - 1 / 0.5 + atanh (0.5) - atanh (0.2));
  fprintf (stderr, "escape: T_0.5 = %.6f measured, %.6f leading order\n", t05, pred);
  MV_CHECK_CLOSE_D (t05, 0.7434, 0, 5e-4, "T_0.5 vs independent measurement");
  MV_CHECK_CLOSE_D (t05, pred, 0, 1e-3, "T_0.5 vs leading-order law");
  long who;
  double trec = mv_traj_recovery (&tr, 0, &who);
  ck_assert_msg (who == 0 && trec < p.t_end, "teacher not recovered (t = %g)", trec);
  ck_assert (mv_traj_align (&tr, tr.rows - 1, MV_ALIGN_ROUTER, 0, 0) > 0.99);
  ck_assert (mv_traj_align (&tr, tr.rows - 1, MV_ALIGN_EXPERT, 0, 0) > 0.99);
  mv_traj_clear (&tr);
  mv_problem_clear (&pb);
}
END_TEST

static void
stop_soon (void *ctx, double t, double t_end)
{
  (void) t_end;
  if (t > 1.0)
    *(volatile sig_atomic_t *) ctx = 1;
}

START_TEST (t_interrupt)
{
  mv_problem pb;
  parse (&pb, SMALL);
  mv_flow_params p;
  mv_flow_params_default (&p);
  volatile sig_atomic_t flag = 0;
  p.t_end = 40;
  p.interrupt = &flag;
  p.progress = stop_soon;
  p.progress_ctx = (void *) &flag;
  mv_traj tr;
  ck_assert_int_eq (mv_traj_init (&tr, pb.m, pb.mstar), MV_OK);
  ck_assert_int_eq (mv_flow_full (&tr, &pb, &p), MV_OK);
  ck_assert_int_eq (tr.status, MV_TRAJ_INTERRUPTED);
  ck_assert (tr.rows >= 2 && tr.t[tr.rows - 1] < 40 && tr.t[tr.rows - 1] > 1.0);
  mv_traj_clear (&tr);
  mv_problem_clear (&pb);
}
END_TEST

START_TEST (t_bad_params)
{
  mv_problem pb;
  parse (&pb, SMALL);
  mv_flow_params p;
  mv_traj tr;
  const char *bad[] = { "t_end", "rtol", "stepper" };
  for (int i = 0; i < 3; i++)
    {
      mv_flow_params_default (&p);
      p.t_end = 1;
      if (i == 0)
        p.t_end = -1;
      if (i == 1)
        p.rtol = 0, p.atol = 0;
      if (i == 2)
        p.stepper = "euler";
      ck_assert_int_eq (mv_traj_init (&tr, pb.m, pb.mstar), MV_OK);
      ck_assert_msg (mv_flow_full (&tr, &pb, &p) == MV_EINVAL, "bad %s accepted", bad[i]);
      ck_assert_uint_eq (tr.rows, 0);
      mv_traj_clear (&tr);
    }
  mv_problem_clear (&pb);
}
END_TEST

/* Analytic Jacobian of the reduced flow against central differences of its
 * right-hand side, and an implicit stepper (msbdf) using it against rk8pd. */
START_TEST (t_reduced_jacobian)
{
  mv_problem pb;
  parse (&pb, SMALL);
  size_t m = pb.m, ms = pb.mstar, n = 2 * (m + ms), ns = 2 * m;
  size_t nv = ns * (ns - 1) / 2 + ns * 2 * ms, dim = nv + 1;
  double *G = malloc (n * n * sizeof *G), *nr = malloc (n * sizeof *nr);
  double *f = malloc (dim * sizeof *f), *fp = malloc (dim * sizeof *fp);
  double *fm = malloc (dim * sizeof *fm), *J = malloc (dim * dim * sizeof *J);
  ck_assert_int_eq (mv_problem_gram_d (G, nr, &pb), MV_OK);
  /* move away from the nearly orthogonal start so every term matters */
  for (size_t k = 0; k < n; k++)
    for (size_t l = k + 1; l < n; l++)
      G[k * n + l] = G[l * n + k] = fmax (-0.95, fmin (0.95, 2 * G[k * n + l]));
  ck_assert_int_eq (mv_flow_reduced_eval_d (f, J, G, nr, m, ms, 0.0), MV_OK);
  double h = 1e-6, jmax = 0, worst = 0;
  for (size_t b = 0, k = 0; k < ns; k++)
    for (size_t l = k + 1; l < n; l++, b++)
      {
        double g0 = G[k * n + l];
        G[k * n + l] = G[l * n + k] = g0 + h;
        mv_flow_reduced_eval_d (fp, NULL, G, nr, m, ms, 0.0);
        G[k * n + l] = G[l * n + k] = g0 - h;
        mv_flow_reduced_eval_d (fm, NULL, G, nr, m, ms, 0.0);
        G[k * n + l] = G[l * n + k] = g0;
        for (size_t a = 0; a < nv; a++)
          {
            double fd = (fp[a] - fm[a]) / (2 * h);
            jmax = fmax (jmax, fabs (J[a * dim + b]));
            worst = fmax (worst, fabs (fd - J[a * dim + b]));
          }
      }
  fprintf (stderr, "reduced Jacobian: max |J| %.3g, max |J - FD| %.3g\n", jmax, worst);
  ck_assert_msg (worst <= 1e-7 * fmax (jmax, 1), "Jacobian vs FD: %g (max |J| %g)", worst, jmax);
  free (G), free (nr), free (f), free (fp), free (fm), free (J);

  mv_flow_params p;
  mv_flow_params_default (&p);
  p.t_end = 40;
  p.n_out = 30;
  mv_traj a, b;
  run_reduced (&a, &pb, &p);
  p.stepper = "msbdf";
  p.rtol = 1e-10, p.atol = 1e-13;
  run_reduced (&b, &pb, &p);
  ck_assert_msg (b.jac_evals > 0, "msbdf never used the Jacobian");
  double d = max_gram_diff (&a, &b);
  ck_assert_msg (d < 1e-5, "msbdf vs rk8pd: %g", d);
  mv_traj_clear (&a), mv_traj_clear (&b);
  mv_problem_clear (&pb);
}
END_TEST

/* Raw Hessian d2L/dtheta2 (mv_loss_hess_raw_d) on random explicit vectors:
 * (a) against central differences of the raw gradient, (b) symmetric (and
 * so are the differences), (c) the Euler relation of the gradient, which is
 * homogeneous of degree -1 in u_k and 0 in the other vectors (L is invariant
 * under u_k -> s u_k): sum_j H[., block k]_j u_kj = (0.., -grad_k L, ..0);
 * (d) the full flow with msbdf (using it as the Jacobian) against rk8pd.
 * Larger problems (2md > MV_LOSS_HESS_RAW_MAX) are refused. */
START_TEST (t_full_hessian)
{
  enum { D = 5, M = 2, MS = 1, MD = M * D, N = 2 * MD };
  double V[MD], W[MD], Vt[MS * D] = { 0 }, Wt[MS * D] = { 0 };
  unsigned long r = 20240601;
  for (int i = 0; i < MD; i++)
    {
      /* uniform in [-1, 1), plus a common pull towards the teacher so that
       * every overlap is O(1) */
      r = r * 6364136223846793005UL + 1442695040888963407UL;
      V[i] = 2.0 * ldexp ((double) (r >> 11), -53) - 1.0;
      r = r * 6364136223846793005UL + 1442695040888963407UL;
      W[i] = 2.0 * ldexp ((double) (r >> 11), -53) - 1.0;
    }
  for (int i = 0; i < M; i++)
    V[i * D] += 0.8, W[i * D + 1] += 0.8;
  Vt[0] = 1, Wt[1] = 1;
  mv_problem pb;
  ck_assert_int_eq (mv_problem_set_d (&pb, D, M, MS, V, W, Vt, Wt, 0.0), MV_OK);
  mv_loss_ws *ws = mv_loss_alloc (M, MS, MV_PREC_DOUBLE);
  ck_assert_ptr_nonnull (ws);
  double *H = malloc (N * N * sizeof *H), *F = malloc (N * N * sizeof *F);
  double th[N], g[N], g0[N], gp[N], gm[N], L, L0;
  ck_assert_int_eq (mv_loss_hess_raw_d (H, &L, g, g + MD, &pb, ws), MV_OK);
  /* L and the gradient are those of mv_loss_eval_d bit for bit */
  ck_assert_int_eq (mv_loss_eval_d (&L0, g0, g0 + MD, NULL, &pb, ws), MV_OK);
  ck_assert (L == L0);
  for (int a = 0; a < N; a++)
    ck_assert_msg (g[a] == g0[a], "gradient %d: %.17g vs %.17g", a, g[a], g0[a]);
  /* the vector form (the full flow's Jacobian) is the same computation */
  ck_assert_int_eq (mv_loss_hess_raw_vec_d (F, NULL, NULL, NULL, V, W, Vt, Wt,
                                            D, 0.0, ws), MV_OK);
  ck_assert_msg (memcmp (F, H, N * N * sizeof *H) == 0,
                 "mv_loss_hess_raw_vec_d differs from mv_loss_hess_raw_d");

  /* (a) central differences of the gradient, step 1e-6 */
  memcpy (th, V, sizeof V), memcpy (th + MD, W, sizeof W);
  double h = 1e-6;
  for (int b = 0; b < N; b++)
    {
      double t = th[b];
      th[b] = t + h;
      ck_assert_int_eq (mv_problem_set_student_d (&pb, th, th + MD), MV_OK);
      ck_assert_int_eq (mv_loss_eval_d (&L0, gp, gp + MD, NULL, &pb, ws), MV_OK);
      th[b] = t - h;
      ck_assert_int_eq (mv_problem_set_student_d (&pb, th, th + MD), MV_OK);
      ck_assert_int_eq (mv_loss_eval_d (&L0, gm, gm + MD, NULL, &pb, ws), MV_OK);
      th[b] = t;
      for (int a = 0; a < N; a++)
        F[a * N + b] = (gp[a] - gm[a]) / (2 * h);
    }
  ck_assert_int_eq (mv_problem_set_student_d (&pb, th, th + MD), MV_OK);
  double hmax = 0, worst = 0, asymH = 0, asymF = 0;
  for (int a = 0; a < N; a++)
    for (int b = 0; b < N; b++)
      {
        hmax = fmax (hmax, fabs (H[a * N + b]));
        worst = fmax (worst, fabs (H[a * N + b] - F[a * N + b]));
        asymH = fmax (asymH, fabs (H[a * N + b] - H[b * N + a]));
        asymF = fmax (asymF, fabs (F[a * N + b] - F[b * N + a]));
      }
  /* (c) Euler relation */
  double euler = 0, gmax = 0;
  for (int k = 0; k < 2 * M; k++)
    for (int a = 0; a < N; a++)
      {
        double s = 0, want = a / D == k ? -g[a] : 0.0;
        for (int j = 0; j < D; j++)
          s += H[a * N + k * D + j] * th[k * D + j];
        euler = fmax (euler, fabs (s - want));
        gmax = fmax (gmax, fabs (g[a]));
      }
  fprintf (stderr, "raw Hessian (2md = %d): max |H| %.3g, max |H - FD| %.3g (%.2g relative), "
           "asymmetry H %.2g, FD %.2g; Euler relation %.2g (max |grad| %.3g)\n",
           N, hmax, worst, worst / hmax, asymH, asymF, euler, gmax);
  ck_assert (hmax > 0.1);
  ck_assert_msg (worst <= 1e-7 * hmax, "H vs FD: %g (max |H| %g)", worst, hmax);
  ck_assert_msg (asymH <= 1e-15 * hmax, "H not symmetric: %g", asymH);
  ck_assert_msg (asymF <= 1e-7 * hmax, "FD Hessian not symmetric: %g", asymF);
  ck_assert_msg (euler <= 1e-13 * fmax (gmax, hmax), "Euler relation: %g", euler);

  /* too large for the dense Hessian: refused */
  {
    size_t d = MV_LOSS_HESS_RAW_MAX / 2 + 1;
    double *z = calloc (4 * d, sizeof *z);
    z[0] = 1, z[d + 1] = 1, z[2 * d + 2] = 1, z[3 * d + 3] = 1;
    mv_problem big;
    mv_loss_ws *wb = mv_loss_alloc (1, 1, MV_PREC_DOUBLE);
    ck_assert_int_eq (mv_problem_set_d (&big, d, 1, 1, z, z + d, z + 2 * d, z + 3 * d, 0.0),
                      MV_OK);
    ck_assert_int_eq (mv_loss_hess_raw_d (H, NULL, NULL, NULL, &big, wb), MV_EINVAL);
    ck_assert (strstr (mv_error_message (), "2md <= "));
    mv_loss_free (wb);
    mv_problem_clear (&big);
    free (z);
  }
  free (H), free (F);
  mv_loss_free (ws);

  /* (d) implicit stepper with the analytic Jacobian vs rk8pd */
  mv_flow_params p;
  mv_flow_params_default (&p);
  p.t_end = 20;
  p.n_out = 30;
  mv_traj a, b;
  run_full (&a, &pb, &p);
  p.stepper = "msbdf";
  run_full (&b, &pb, &p);
  double dg = max_gram_diff (&a, &b);
  fprintf (stderr, "full flow msbdf vs rk8pd over [0, 20]: max Gram difference %.3g "
           "(msbdf: %lu steps, %lu RHS, %lu Jacobians, %.3f s; rk8pd: %lu steps, %.3f s)\n",
           dg, b.steps, b.rhs_evals, b.jac_evals, b.wall_seconds, a.steps, a.wall_seconds);
  ck_assert_msg (b.jac_evals > 0, "msbdf never used the Jacobian");
  ck_assert_uint_eq (a.rows, b.rows);
  ck_assert_msg (dg < 1e-6, "msbdf vs rk8pd: %g", dg);
  ck_assert (a.loss[a.rows - 1] < 0.5 * a.loss[0]);
  mv_traj_clear (&a), mv_traj_clear (&b);
  mv_problem_clear (&pb);
}
END_TEST

/* ------------------------------------------------------------ observers */

typedef struct {
  const mv_traj *tr;       /* the run's record (rows as the recorder adds them) */
  size_t steps, rows, calls, finishes, fail_at, stop_at;
  double t_last, t_stop;
  int ordered, theta, row_matches;
} counter;

static int
count_observe (void *ctx, const mv_obs_point *pt)
{
  counter *c = ctx;
  if (++c->calls == c->fail_at)
    return mv_error_set (MV_EDOM, "test observer stops at call %zu", c->calls);
  if (c->calls == c->stop_at)
    c->t_stop = pt->t;
  c->ordered &= pt->t >= c->t_last;
  c->t_last = pt->t;
  c->theta &= (pt->theta != NULL) == (pt->d > 0);
  if (pt->kind == MV_OBS_STEP)
    c->steps++;
  else
    {
      /* the recorder came first: its newest row is this point */
      size_t r = c->tr->rows - 1;
      c->row_matches &= c->tr->rows == c->rows + 1 && c->tr->t[r] == pt->t
                        && c->tr->loss[r] == pt->loss && c->tr->energy[r] == pt->energy
                        && mv_traj_align (c->tr, r, MV_ALIGN_BOTH, 0, 0)
                           == mv_obs_align (pt, MV_ALIGN_BOTH, 0, 0);
      c->rows++;
    }
  return c->stop_at && c->calls >= c->stop_at ? MV_OBS_STOP : MV_OK;
}

static void
count_finish (void *ctx, const mv_traj *tr)
{
  counter *c = ctx;
  c->finishes++;
  /* the record is complete when finish runs */
  c->row_matches &= tr->status != MV_TRAJ_RUNNING && tr->wall_seconds >= 0;
}

/* One flow of SMALL (full or reduced) with a counting observer. */
static int
observed_run (mv_traj *tr, counter *c, int full, size_t fail_at, size_t stop_at)
{
  mv_problem pb;
  parse (&pb, SMALL);
  mv_flow_params p;
  mv_flow_params_default (&p);
  p.t_end = 5, p.n_out = 20;
  memset (c, 0, sizeof *c);
  c->tr = tr, c->fail_at = fail_at, c->stop_at = stop_at, c->ordered = c->theta = c->row_matches = 1;
  mv_observer obs = { "counter", count_observe, count_finish, c };
  p.observers = &obs, p.n_observers = 1;
  ck_assert_int_eq (mv_traj_init (tr, pb.m, pb.mstar), MV_OK);
  int s;
  if (full)
    s = mv_flow_full (tr, &pb, &p);
  else
    {
      size_t n = 2 * (pb.m + pb.mstar);
      double G[64], nr[8];
      ck_assert (n <= 8);
      ck_assert_int_eq (mv_flow_gram0 (G, nr, tr->init, sizeof tr->init, &pb,
                                       MV_GRAM0_VECTORS), MV_OK);
      s = mv_flow_reduced (tr, G, nr, pb.m, pb.mstar, pb.noise_var, &p);
    }
  mv_problem_clear (&pb);
  return s;
}

START_TEST (t_observers)
{
  for (int full = 0; full < 2; full++)
    {
      mv_traj tr;
      counter c;
      int s = observed_run (&tr, &c, full, 0, 0);
      const char *what = full ? "full" : "reduced";
      ck_assert_msg (s == MV_OK, "%s: %s", what, mv_error_message ());
      ck_assert_int_eq (tr.status, MV_TRAJ_DONE);
      /* tr.steps counts attempts (GSL's count): the accepted ones are
       * steps - rejected, each a STEP, plus the one at t = 0 */
      ck_assert_msg (c.steps == tr.steps - tr.rejected + 1,
                     "%s: %zu STEP points, %lu steps - %lu rejected + 1",
                     what, c.steps, tr.steps, tr.rejected);
      ck_assert_msg (c.rows == tr.rows, "%s: %zu ROW points, %zu rows", what, c.rows, tr.rows);
      ck_assert_msg (c.finishes == 1, "%s: finish called %zu times", what, c.finishes);
      ck_assert_msg (c.ordered, "%s: times decreased", what);
      ck_assert_msg (c.theta, "%s: theta and d disagree", what);
      ck_assert_msg (c.row_matches, "%s: ROW points differ from the recorded rows", what);
      mv_traj_clear (&tr);
    }
}
END_TEST

START_TEST (t_observer_error)
{
  for (int full = 0; full < 2; full++)
    {
      mv_traj tr;
      counter c;
      int s = observed_run (&tr, &c, full, 5, 0);
      ck_assert_msg (s == MV_EDOM, "status %d, expected MV_EDOM (%d)", s, MV_EDOM);
      ck_assert_int_eq (tr.status, MV_TRAJ_FAILED);
      ck_assert_msg (strstr (tr.message, "test observer stops at call 5"),
                     "message: '%s'", tr.message);
      ck_assert_msg (c.calls == 5, "observer called %zu times after failing", c.calls);
      ck_assert_msg (c.finishes == 1, "finish called %zu times", c.finishes);
      mv_traj_clear (&tr);
    }
}
END_TEST

/* MV_OBS_STOP at a STEP (call 7) or a ROW (call 2, t = 0) ends the run
 * cleanly: complete, a last row where it stopped, the rule named. */
START_TEST (t_observer_stop)
{
  static const size_t at[] = { 7, 2 };
  for (int full = 0; full < 2; full++)
    for (size_t k = 0; k < 2; k++)
      {
        mv_traj tr;
        counter c;
        int s = observed_run (&tr, &c, full, 0, at[k]);
        ck_assert_msg (s == MV_OK, "%s", mv_error_message ());
        ck_assert_int_eq (tr.status, MV_TRAJ_DONE);
        ck_assert_msg (strstr (tr.message, "stopped by counter at t ="), "message: '%s'",
                       tr.message);
        ck_assert_msg (tr.t[tr.rows - 1] == c.t_stop && c.t_stop < 5,
                       "last row t = %.17g, stopped at %.17g", tr.t[tr.rows - 1], c.t_stop);
        ck_assert_msg (c.rows == tr.rows && c.row_matches, "rows %zu vs %zu", c.rows, tr.rows);
        ck_assert_msg (c.finishes == 1, "finish called %zu times", c.finishes);
        mv_traj_clear (&tr);
      }
}
END_TEST

/* ------------------------------------------------------------ steppers */

START_TEST (t_stepper_table)
{
  size_t n = 0, nimp = 0, k;
  for (const char *nm; (nm = mv_flow_stepper_name (n)); n++)
    {
      ck_assert_msg (mv_flow_stepper_find (nm, &k) == MV_OK && k == n,
                     "'%s' (entry %zu) found at %zu", nm, n, k);
      nimp += mv_flow_stepper_implicit (n) != 0;
    }
  ck_assert_msg (n >= 2 && nimp >= 1 && nimp < n, "%zu steppers, %zu implicit", n, nimp);
  ck_assert (!mv_flow_stepper_implicit (0) && !mv_flow_stepper_implicit (n));
  ck_assert_int_eq (mv_flow_stepper_find (NULL, &k), MV_OK);
  ck_assert_uint_eq (k, 0);
  ck_assert_int_eq (mv_flow_stepper_find ("euler", NULL), MV_EINVAL);
  const char *msg = mv_error_message ();
  ck_assert_msg (strstr (msg, "euler"), "message: '%s'", msg);
  for (size_t i = 0; i < n; i++)
    ck_assert_msg (strstr (msg, mv_flow_stepper_name (i)), "'%s' not listed in '%s'",
                   mv_flow_stepper_name (i), msg);
}
END_TEST

/* ------------------------------------------------------------ G(0) */

static const char EXPLICIT[] =
  "{\"d\": 3, \"teacher\": {\"m\": 1, \"V\": [[1, 0, 0]], \"W\": [[0, 1, 0]]},"
  " \"student\": {\"m\": 1, \"V\": [[0.6, 0.8, 0]], \"W\": [[0.1, 0.2, 0.9]]}}";
static const char HUGE_D[] =
  "{\"d\": 2000000000, \"teacher\": {\"m\": 1, \"init\": {\"kind\": \"orthonormal\", \"seed\": 3}},"
  " \"student\": {\"m\": 2, \"init\": {\"kind\": \"gaussian\", \"seed\": 4}}}";

START_TEST (t_gram0)
{
  mv_problem pb;
  double Gv[36], Gs[36], Ga[36], G[36], nv[6], ns[6], na[6], nr[6];
  char hv[64], hs[64], ha[64];
  parse (&pb, SMALL);                     /* n = 6 */
  ck_assert_int_eq (mv_flow_gram0 (Gv, nv, hv, sizeof hv, &pb, MV_GRAM0_VECTORS), MV_OK);
  ck_assert_int_eq (mv_flow_gram0 (Gs, ns, hs, sizeof hs, &pb, MV_GRAM0_SAMPLE), MV_OK);
  ck_assert_int_eq (mv_flow_gram0 (Ga, na, ha, sizeof ha, &pb, MV_GRAM0_AUTO), MV_OK);
  ck_assert_int_eq (mv_problem_gram_d (G, nr, &pb), MV_OK);
  ck_assert_msg (strcmp (hv, hs) != 0, "VECTORS and SAMPLE both say '%s'", hv);
  ck_assert_msg (!strcmp (ha, hv), "AUTO says '%s', VECTORS '%s'", ha, hv);
  ck_assert (!memcmp (Gv, G, sizeof G) && !memcmp (Ga, G, sizeof G));
  ck_assert (!memcmp (nv, nr, 4 * sizeof *nr));
  ck_assert_msg (memcmp (Gs, G, sizeof G) != 0, "SAMPLE gave the vectors' Gram matrix");
  ck_assert_int_eq (mv_flow_gram0 (G, nr, NULL, 0, &pb, 7), MV_EINVAL);
  mv_problem_clear (&pb);

  /* explicit vectors cannot be sampled: an error, not the vectors */
  parse (&pb, EXPLICIT);
  strcpy (hs, "untouched");
  ck_assert_int_eq (mv_flow_gram0 (G, nr, hs, sizeof hs, &pb, MV_GRAM0_SAMPLE), MV_EINVAL);
  ck_assert_msg (strstr (mv_error_message (), "G(0)"), "message: '%s'", mv_error_message ());
  ck_assert_str_eq (hs, "untouched");
  ck_assert_int_eq (mv_flow_gram0 (G, nr, ha, sizeof ha, &pb, MV_GRAM0_AUTO), MV_OK);
  ck_assert_str_eq (ha, hv);
  mv_problem_clear (&pb);

  /* vectors too large to form: VECTORS fails, AUTO samples and says so */
  parse (&pb, HUGE_D);
  ck_assert_int_eq (mv_flow_gram0 (G, nr, hv, sizeof hv, &pb, MV_GRAM0_VECTORS), MV_EINVAL);
  ck_assert_msg (strstr (mv_error_message (), "too large"), "message: '%s'", mv_error_message ());
  ck_assert_int_eq (mv_flow_gram0 (Ga, na, ha, sizeof ha, &pb, MV_GRAM0_AUTO), MV_OK);
  ck_assert_int_eq (mv_flow_gram0 (Gs, ns, hs, sizeof hs, &pb, MV_GRAM0_SAMPLE), MV_OK);
  ck_assert_msg (strstr (ha, hs) == ha && strstr (ha, "too large"), "AUTO says '%s'", ha);
  ck_assert (!memcmp (Ga, Gs, sizeof Gs));
  mv_problem_clear (&pb);
}
END_TEST

/* ------------------------------------------------- reading a record back */

/* The expert alignment when the router alignment first reaches 0.5,
 * interpolated linearly between accepted steps (computed here from the
 * STEP points, independently of the recorder). */
typedef struct {
  double pr, pe, tp, e_at, t_at;
  int started;
} router_half;

static int
router_half_observe (void *ctx, const mv_obs_point *pt)
{
  router_half *g = ctx;
  if (pt->kind != MV_OBS_STEP)
    return MV_OK;
  double r = mv_obs_align (pt, MV_ALIGN_ROUTER, 0, 0), e = mv_obs_align (pt, MV_ALIGN_EXPERT, 0, 0);
  if (isnan (g->t_at) && r >= 0.5)
    {
      double f = g->started && r > g->pr ? (0.5 - g->pr) / (r - g->pr) : 1;
      g->e_at = g->started ? g->pe + f * (e - g->pe) : e;
      g->t_at = g->started ? g->tp + f * (pt->t - g->tp) : pt->t;
    }
  g->pr = r, g->pe = e, g->tp = pt->t, g->started = 1;
  return MV_OK;
}

static int
same_d (const double *a, const double *b, size_t n)
{
  for (size_t k = 0; k < n; k++)
    if (!(a[k] == b[k] || (isnan (a[k]) && isnan (b[k]))))
      return 0;
  return 1;
}

/* A reduced and a full flow written and read back: rows, crossings (with
 * the other alignment), record bit for bit; the other alignment at the
 * router's 0.5 crossing against an independent interpolation; a damaged
 * file is an error naming it. */
START_TEST (t_traj_read)
{
  mv_problem pb;
  escape_pair (&pb);
  char dir[] = "/tmp/test_flow_XXXXXX";
  ck_assert_ptr_nonnull (mkdtemp (dir));
  for (int full = 0; full < 2; full++)
    {
      router_half g = { 0, 0, 0, NAN, NAN, 0 };
      mv_observer obs = { "router-half", router_half_observe, NULL, &g };
      mv_flow_params p;
      mv_flow_params_default (&p);
      p.t_end = 20, p.n_out = 50, p.observers = &obs, p.n_observers = 1;
      mv_traj a, b;
      ck_assert_int_eq (mv_traj_init (&a, 1, 1), MV_OK);
      double G[64], nr[8];
      int st = full ? mv_flow_full (&a, &pb, &p)
               : (mv_flow_gram0 (G, nr, a.init, sizeof a.init, &pb, MV_GRAM0_VECTORS)
                  || mv_flow_reduced (&a, G, nr, 1, 1, 0.0, &p));
      ck_assert_msg (st == MV_OK, "%s", mv_error_message ());
      ck_assert_int_eq (mv_traj_write (&a, dir, NULL), MV_OK);
      ck_assert_msg (mv_traj_read (&b, dir) == MV_OK, "%s", mv_error_message ());
      size_t nn = a.n * a.n, nc = MV_ALIGN_NKIND * MV_TRAJ_NTHR;
      ck_assert_msg (b.rows == a.rows && b.m == 1 && b.mstar == 1, "rows %zu vs %zu", b.rows,
                     a.rows);
      ck_assert (same_d (a.t, b.t, a.rows) && same_d (a.loss, b.loss, a.rows));
      ck_assert (same_d (a.grad2, b.grad2, a.rows) && same_d (a.energy, b.energy, a.rows));
      ck_assert_msg (same_d (a.G, b.G, a.rows * nn), "Gram rows differ");
      ck_assert (same_d (a.cross, b.cross, nc) && same_d (a.cross_other, b.cross_other, nc));
      ck_assert (same_d (a.norms0, b.norms0, 2));
      ck_assert (b.status == a.status && b.steps == a.steps && b.rtol == a.rtol);
      ck_assert_str_eq (b.method, a.method);
      double t5 = mv_traj_crossing (&b, MV_ALIGN_ROUTER, MV_TRAJ_THR_50, 0, 0);
      double e5 = mv_traj_crossing_other (&b, MV_ALIGN_ROUTER, MV_TRAJ_THR_50, 0, 0);
      ck_assert_msg (t5 > 0 && fabs (t5 - g.t_at) <= 1e-14 * t5 && fabs (e5 - g.e_at) <= 1e-14,
                     "router 0.5 at t = %.17g (observer %.17g), expert %.17g (observer %.17g)",
                     t5, g.t_at, e5, g.e_at);
      ck_assert (isnan (mv_traj_crossing_other (&b, MV_ALIGN_BOTH, MV_TRAJ_THR_50, 0, 0)));
      mv_traj_clear (&a), mv_traj_clear (&b);
    }
  char path[64];
  snprintf (path, sizeof path, "%s/trajectory.csv", dir);
  FILE *f = fopen (path, "a");
  ck_assert_ptr_nonnull (f);
  fputs ("1,2,3\n", f);
  fclose (f);
  mv_traj b;
  ck_assert_int_eq (mv_traj_read (&b, dir), MV_EPARSE);
  ck_assert_msg (strstr (mv_error_message (), "trajectory.csv: line") != NULL, "%s",
                 mv_error_message ());
  ck_assert_msg (mv_traj_read (&b, "/nonexistent-dir") != MV_OK
                 && strstr (mv_error_message (), "/nonexistent-dir/run.json"), "%s",
                 mv_error_message ());
  mv_problem_clear (&pb);
  char cmd[96];
  snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
  ck_assert_int_eq (system (cmd), 0);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("flow");
  TCase *tc = tcase_create ("flows");
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, t_full_conservation);
  tcase_add_test (tc, t_full_vs_reduced);
  tcase_add_test (tc, t_convergence);
  tcase_add_test (tc, t_teacher_fixed_point);
  tcase_add_test (tc, t_escape_and_recovery);
  tcase_add_test (tc, t_interrupt);
  tcase_add_test (tc, t_bad_params);
  tcase_add_test (tc, t_reduced_jacobian);
  tcase_add_test (tc, t_full_hessian);
  tcase_add_test (tc, t_observers);
  tcase_add_test (tc, t_observer_error);
  tcase_add_test (tc, t_observer_stop);
  tcase_add_test (tc, t_stepper_table);
  tcase_add_test (tc, t_gram0);
  tcase_add_test (tc, t_traj_read);
  suite_add_tcase (s, tc);
  return mv_test_run (s);
}
