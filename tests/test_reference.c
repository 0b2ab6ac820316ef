/* Reference integrator (proofs/reference-integrator.md): GBS in MPFR on ODEs
 * with known solutions, the MPFR reduced right-hand side against the double
 * one and against a difference quotient of the MPFR loss, reference runs
 * against GSL rk8pd, (p, eps) against (2p, eps^2), the energy identity along
 * a reference run, and the digit rule. */
#include "testutil.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <moeverify/moeverify.h>

/* a student near the teacher: L is a small difference of O(1) terms */
static const char NEAR[] =
  "{\"d\": 3, \"teacher\": {\"m\": 1, \"V\": [[1, 0, 0]], \"W\": [[0, 1, 0]]},"
  " \"student\": {\"m\": 1, \"V\": [[1, 0.02, -0.01]], \"W\": [[0.03, 1, 0.02]]}}";
static const char TWO[] =
  "{\"d\": 6, \"teacher\": {\"m\": 1, \"init\": {\"kind\": \"orthonormal\", \"seed\": 3}},"
  " \"student\": {\"m\": 2, \"init\": {\"kind\": \"gaussian\", \"seed\": 4}}, \"noise_var\": 0.1}";

static mpfr_t *
vec (size_t n, mpfr_prec_t p)
{
  mpfr_t *v = malloc (n * sizeof *v);
  for (size_t i = 0; i < n; i++)
    mpfr_init2 (v[i], p), mpfr_set_zero (v[i], 1);
  return v;
}

static void
vec_clear (mpfr_t *v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    mpfr_clear (v[i]);
  free (v);
}

/* G0, norms of a spec given as text or as a file under tests/data */
typedef struct {
  mv_problem pb;
  double *G, *nr;
  size_t n;
} gram0;

static void
gram0_load (gram0 *g, const char *text, const char *file)
{
  int s = text ? mv_problem_parse (&g->pb, text, "test")
               : mv_problem_read (&g->pb, mv_test_data (file));
  ck_assert_msg (s == MV_OK, "%s", mv_error_message ());
  g->n = 2 * (g->pb.m + g->pb.mstar);
  g->G = malloc (g->n * g->n * sizeof *g->G), g->nr = malloc (g->n * sizeof *g->nr);
  ck_assert_int_eq (mv_problem_gram_d (g->G, g->nr, &g->pb), MV_OK);
}

static void
gram0_clear (gram0 *g)
{
  free (g->G), free (g->nr);
  mv_problem_clear (&g->pb);
}

/* ------------------------------------------------------------ GBS */

/* y0' = y1, y1' = -y0 (rotation), y2' = cos(t) y2 (non-autonomous):
 * y = (cos t, -sin t, exp(sin t)) from (1, 0, 1) */
static int
test_rhs (mpfr_t *f, const mpfr_t t, mpfr_t *y, void *ctx)
{
  (void) ctx;
  mpfr_set (f[0], y[1], MPFR_RNDN);
  mpfr_neg (f[1], y[0], MPFR_RNDN);
  mpfr_cos (f[2], t, MPFR_RNDN);
  mpfr_mul (f[2], f[2], y[2], MPFR_RNDN);
  return MV_OK;
}

static void
exact_test (mpfr_t *e, const mpfr_t t)
{
  mpfr_cos (e[0], t, MPFR_RNDN);
  mpfr_sin (e[1], t, MPFR_RNDN);
  mpfr_exp (e[2], e[1], MPFR_RNDN);
  mpfr_neg (e[1], e[1], MPFR_RNDN);
}

/* progress: accepted steps, times increasing */
static void
count_steps (void *ctx, double t)
{
  double *c = ctx;
  ck_assert_msg (t > c[1], "progress time %g after %g", t, c[1]);
  c[0] += 1, c[1] = t;
}

START_TEST (t_gbs_exact)
{
  double calls[2] = { 0, 0 };
  const mpfr_prec_t P = 256;
  mv_gbs_ws *ws = mv_gbs_alloc (3, 0, P);
  ck_assert_msg (ws != NULL, "%s", mv_error_message ());
  mpfr_t *y = vec (3, P), *e = vec (3, P), t, t1;
  mpfr_inits2 (P, t, t1, (mpfr_ptr) 0);
  mpfr_set_zero (t, 1);
  mpfr_set_ui (y[0], 1, MPFR_RNDN), mpfr_set_ui (y[2], 1, MPFR_RNDN);
  mv_gbs_params p;
  mv_gbs_params_default (&p);
  p.tol = 1e-50;
  p.progress = count_steps, p.progress_ctx = calls;
  const double outs[] = { 0.5, 1, 3, 10 };
  for (int i = 0; i < 4; i++)
    {
      mpfr_set_d (t1, outs[i], MPFR_RNDN);
      int s = mv_gbs_evolve (y, t, t1, test_rhs, NULL, &p, ws);
      ck_assert_msg (s == MV_OK, "%s", mv_error_message ());
      ck_assert (mpfr_equal_p (t, t1));
      exact_test (e, t);
      /* tolerance proportionality: a global error of a few hundred local
       * tolerances over t <= 10 still leaves 45 digits */
      for (int k = 0; k < 3; k++)
        MV_CHECK_DIGITS (y[k], e[k], 45, 1.0, "GBS vs exact solution");
    }
  const mv_gbs_stats *st = mv_gbs_stats_get (ws);
  ck_assert_msg (st->steps > 0 && st->rhs_evals > st->steps, "steps %lu evals %lu",
                 st->steps, st->rhs_evals);
  ck_assert_msg (calls[0] == (double) (st->steps - st->rejected) && calls[1] == 10,
                 "%g progress calls (last t = %g) for %lu accepted steps", calls[0],
                 calls[1], st->steps - st->rejected);
  printf ("gbs exact: %lu steps (%lu rejected), %lu evaluations, next row %u\n",
          st->steps, st->rejected, st->rhs_evals, st->k);
  vec_clear (y, 3), vec_clear (e, 3);
  mpfr_clears (t, t1, (mpfr_ptr) 0);
  mv_gbs_free (ws);
}
END_TEST

/* The error falls with the tolerance: 1e-20 vs 1e-60 at 256 bits. */
START_TEST (t_gbs_tolerance)
{
  const mpfr_prec_t P = 256;
  double tols[2] = { 1e-20, 1e-60 }, digits[2] = { 17, 55 };
  for (int r = 0; r < 2; r++)
    {
      mv_gbs_ws *ws = mv_gbs_alloc (3, 24, P);
      mpfr_t *y = vec (3, P), *e = vec (3, P), t, t1;
      mpfr_inits2 (P, t, t1, (mpfr_ptr) 0);
      mpfr_set_zero (t, 1), mpfr_set_ui (t1, 2, MPFR_RNDN);
      mpfr_set_ui (y[0], 1, MPFR_RNDN), mpfr_set_ui (y[2], 1, MPFR_RNDN);
      mv_gbs_params p;
      mv_gbs_params_default (&p);
      p.tol = tols[r];
      ck_assert_int_eq (mv_gbs_evolve (y, t, t1, test_rhs, NULL, &p, ws), MV_OK);
      exact_test (e, t);
      for (int k = 0; k < 3; k++)
        MV_CHECK_DIGITS (y[k], e[k], digits[r], 1.0, "GBS at its tolerance");
      vec_clear (y, 3), vec_clear (e, 3);
      mpfr_clears (t, t1, (mpfr_ptr) 0);
      mv_gbs_free (ws);
    }
}
END_TEST

START_TEST (t_gbs_bad)
{
  ck_assert (mv_gbs_alloc (0, 0, 128) == NULL);
  ck_assert (mv_gbs_alloc (3, 2, 128) == NULL);
  mv_gbs_ws *ws = mv_gbs_alloc (3, 0, 128);
  mpfr_t *y = vec (3, 128), t, t1;
  mpfr_inits2 (128, t, t1, (mpfr_ptr) 0);
  mpfr_set_ui (t, 1, MPFR_RNDN), mpfr_set_zero (t1, 1);
  mv_gbs_params p;
  mv_gbs_params_default (&p);
  ck_assert_int_eq (mv_gbs_evolve (y, t, t1, test_rhs, NULL, &p, ws), MV_EINVAL);
  mpfr_set_zero (t, 1), mpfr_set_ui (t1, 100, MPFR_RNDN);
  p.tol = 1e-300;
  ck_assert_int_eq (mv_gbs_evolve (y, t, t1, test_rhs, NULL, &p, ws), MV_EINVAL);
  p.tol = 1e-30, p.max_steps = 2, p.h0 = 1e-3;
  ck_assert_int_eq (mv_gbs_evolve (y, t, t1, test_rhs, NULL, &p, ws), MV_ENOCONV);
  ck_assert_msg (strstr (mv_error_message (), "steps"), "%s", mv_error_message ());
  vec_clear (y, 3);
  mpfr_clears (t, t1, (mpfr_ptr) 0);
  mv_gbs_free (ws);
}
END_TEST

/* ------------------------------------------------------------ reduced RHS */

/* MPFR right-hand side (rounded) against mv_flow_reduced_eval_d on the
 * same G0: the double path carries ~1e-16 relative rounding per pair term,
 * amplified by the sums and, near the teacher, by the cancellation in a
 * small right-hand side (measured 4e-16, 2e-16, 3e-15): 2e-14 of the
 * largest component. */
static void
rhs_vs_double (const char *text, const char *file, mpfr_prec_t P)
{
  gram0 g;
  gram0_load (&g, text, file);
  mv_ref_red *w = mv_ref_red_alloc (g.G, g.nr, g.pb.m, g.pb.mstar, g.pb.noise_var, P);
  ck_assert_msg (w != NULL, "%s", mv_error_message ());
  size_t dim = mv_ref_red_dim (w);
  double *fd = malloc (dim * sizeof *fd);
  ck_assert_int_eq (mv_flow_reduced_eval_d (fd, NULL, g.G, g.nr, g.pb.m, g.pb.mstar,
                                            g.pb.noise_var), MV_OK);
  mpfr_t *y = vec (dim, P), *f = vec (dim, P);
  mv_ref_red_state0 (y, w);
  int s = mv_ref_red_rhs (f, NULL, y, w);
  ck_assert_msg (s == MV_OK, "%s", mv_error_message ());
  double big = 0;
  for (size_t a = 0; a < dim; a++)
    big = fmax (big, fabs (fd[a]));
  ck_assert_msg (big > 0, "zero right-hand side");
  double worst = 0;
  for (size_t a = 0; a < dim; a++)
    {
      double fa = mpfr_get_d (f[a], MPFR_RNDN);
      MV_CHECK_CLOSE_D (fa, fd[a], 0, 2e-14 * big, "MPFR vs double reduced RHS");
      worst = fmax (worst, fabs (fa - fd[a]) / big);
    }
  printf ("MPFR vs double RHS (%zu components, %ld bits): worst deviation %.3g of the "
          "largest\n", dim, (long) P, worst);
  vec_clear (y, dim), vec_clear (f, dim);
  free (fd);
  mv_ref_red_free (w);
  gram0_clear (&g);
}

START_TEST (t_rhs_double)
{
  rhs_vs_double (NULL, "example_small.json", 128);
  rhs_vs_double (TWO, NULL, 256);
  rhs_vs_double (NEAR, NULL, 192);
}
END_TEST

/* dL/dt along the flow = -|grad L|^2 (MATH.md §4): the central difference
 * (L(y + h f) - L(y - h f)) / 2h at 512 bits with h = 2^-100 has truncation
 * error ~h^2 |L'''| ~ 1e-60 and rounding ~2^-512/h ~ 1e-124: agreement to
 * 50 digits relative to |grad L|^2 is the identity, not an accident. */
START_TEST (t_rhs_energy)
{
  const mpfr_prec_t P = 512;
  const char *texts[2] = { TWO, NULL };
  for (int c = 0; c < 2; c++)
    {
      gram0 g;
      gram0_load (&g, texts[c], "example_small.json");
      mv_ref_red *w = mv_ref_red_alloc (g.G, g.nr, g.pb.m, g.pb.mstar, g.pb.noise_var, P);
      size_t dim = mv_ref_red_dim (w);
      mpfr_t *y = vec (dim, P), *f = vec (dim, P), *yp = vec (dim, P), Lp, Lm, dq, g2;
      mpfr_inits2 (P, Lp, Lm, dq, g2, (mpfr_ptr) 0);
      mv_ref_red_state0 (y, w);
      ck_assert_int_eq (mv_ref_red_rhs (f, NULL, y, w), MV_OK);
      for (int sg = -1; sg <= 1; sg += 2)
        {
          for (size_t a = 0; a < dim; a++)
            {
              mpfr_mul_2si (yp[a], f[a], -100, MPFR_RNDN);
              mpfr_mul_si (yp[a], yp[a], sg, MPFR_RNDN);
              mpfr_add (yp[a], yp[a], y[a], MPFR_RNDN);
            }
          ck_assert_int_eq (mv_ref_red_observe (sg > 0 ? Lp : Lm, NULL, NULL, yp, w), MV_OK);
        }
      mpfr_sub (dq, Lp, Lm, MPFR_RNDN);
      mpfr_mul_2si (dq, dq, 99, MPFR_RNDN);      /* / (2 h) */
      mpfr_neg (g2, f[dim - 1], MPFR_RNDN);
      MV_CHECK_DIGITS (dq, g2, 50, 0, "dL/dt vs -|grad L|^2");
      vec_clear (y, dim), vec_clear (f, dim), vec_clear (yp, dim);
      mpfr_clears (Lp, Lm, dq, g2, (mpfr_ptr) 0);
      mv_ref_red_free (w);
      gram0_clear (&g);
    }
}
END_TEST

/* ------------------------------------------------------------ runs */

static const double TIMES[] = { 0.25, 1, 2.5, 5 };
#define NTIMES (sizeof TIMES / sizeof TIMES[0])

static void
ref_run (mv_ref_traj *r, const gram0 *g, mpfr_prec_t prec, double tol)
{
  mv_ref_params p;
  mv_ref_params_default (&p);
  p.prec = prec, p.tol = tol, p.times = TIMES, p.n_times = NTIMES;
  p.max_steps = 2000;
  int s = mv_ref_reduced (r, g->G, g->nr, g->pb.m, g->pb.mstar, g->pb.noise_var, &p);
  ck_assert_msg (s == MV_OK, "%s", mv_error_message ());
  ck_assert_int_eq (r->status, MV_TRAJ_DONE);
  ck_assert_uint_eq (r->rows, NTIMES + 1);
  printf ("reference %ld bits, tol %g: %lu steps (%lu rejected), %lu evaluations, "
          "%.2f s\n", (long) prec, tol, r->steps, r->rejected, r->rhs_evals,
          r->wall_seconds);
}

/* GSL rk8pd at rtol = atol = 1e-12 against the reference on every Gram
 * entry, L, |grad L|^2 and the energy: rk8pd's global error at that
 * tolerance over t <= 5 is below 1e-9 on these O(1) problems. */
static void
vs_gsl (const char *text, const char *file)
{
  gram0 g;
  gram0_load (&g, text, file);
  mv_ref_traj r;
  ref_run (&r, &g, 128, 1e-30);
  mv_flow_params fp;
  mv_flow_params_default (&fp);
  fp.rtol = fp.atol = 1e-12, fp.t_end = TIMES[NTIMES - 1];
  fp.times = TIMES, fp.n_times = NTIMES;
  mv_traj tr, tq;
  ck_assert_int_eq (mv_traj_init (&tr, g.pb.m, g.pb.mstar), MV_OK);
  int s = mv_flow_reduced (&tr, g.G, g.nr, g.pb.m, g.pb.mstar, g.pb.noise_var, &fp);
  ck_assert_msg (s == MV_OK, "%s", mv_error_message ());
  ck_assert_uint_eq (tr.rows, r.rows);
  ck_assert_int_eq (mv_traj_init (&tq, g.pb.m, g.pb.mstar), MV_OK);
  ck_assert_int_eq (mv_ref_traj_to_traj (&tq, &r), MV_OK);
  double worst = 0;
  for (size_t row = 0; row < r.rows; row++)
    {
      ck_assert (tr.t[row] == tq.t[row]);
      for (size_t k = 0; k < g.n * g.n; k++)
        {
          double a = mv_traj_gram (&tr, row)[k], b = mv_traj_gram (&tq, row)[k];
          worst = fmax (worst, fabs (a - b));
          MV_CHECK_CLOSE_D (a, b, 0, 1e-9, "rk8pd vs reference Gram entry");
        }
      MV_CHECK_CLOSE_D (tr.loss[row], tq.loss[row], 1e-9, 1e-12, "rk8pd vs reference L");
      MV_CHECK_CLOSE_D (tr.grad2[row], tq.grad2[row], 1e-9, 1e-12, "|grad L|^2");
      MV_CHECK_CLOSE_D (tr.energy[row], tq.energy[row], 1e-9, 1e-12, "energy");
    }
  printf ("rk8pd 1e-12 vs reference: worst Gram deviation %.3g\n", worst);
  mv_traj_clear (&tr), mv_traj_clear (&tq);
  mv_ref_traj_clear (&r);
  gram0_clear (&g);
}

START_TEST (t_vs_gsl)
{
  vs_gsl (NULL, "example_small.json");
  vs_gsl (NEAR, NULL);
}
END_TEST

/* (128 bits, 1e-34) against (256 bits, 1e-68) to t = 1: at least 30 agreed
 * digits for every quantity at every output time (128 bits carry 38; the
 * per-step tolerance is relative to 1 + |y|, so a quantity of size 1e-2
 * keeps about 2 digits fewer, and the global error a few local ones). */
START_TEST (t_doubled)
{
  gram0 g;
  gram0_load (&g, NULL, "example_small.json");
  mv_ref_traj a, b;
  mv_ref_agreed ag;
  mv_ref_params p;
  mv_ref_params_default (&p);
  static const double times[] = { 0.5, 1 };
  p.prec = 128, p.tol = 1e-34, p.times = times, p.n_times = 2;
  int s = mv_ref_reduced_confirmed (&a, &b, &ag, g.G, g.nr, g.pb.m, g.pb.mstar,
                                    g.pb.noise_var, &p);
  ck_assert_msg (s == MV_OK, "%s", mv_error_message ());
  printf ("doubled run: (128, 1e-34) %.2f s, (256, 1e-68) %.2f s, %d digits agreed\n",
          a.wall_seconds, b.wall_seconds, ag.min_digits);
  for (size_t row = 1; row < ag.rows; row++)
    for (size_t q = 0; q < ag.nq; q++)
      {
        char name[64];
        mv_ref_quantity_name (name, sizeof name, q, g.pb.m, g.pb.mstar);
        printf ("  %-10s t = %-4g %2d digits %s\n", name, a.t[row],
                ag.digits[row * ag.nq + q], mv_ref_agreed_str (&ag, row, q));
      }
  ck_assert_msg (ag.min_digits >= 30, "only %d digits agree", ag.min_digits);
  mv_ref_traj_clear (&a), mv_ref_traj_clear (&b);
  mv_ref_agreed_clear (&ag);
  gram0_clear (&g);
}
END_TEST

/* The full flow of the raw vectors against the reduced flow of their Gram
 * matrix, two different ODEs for the same trajectory, both confirmed by
 * doubling.  Entries +-1 in d = 4 make every unit-vector overlap a
 * multiple of 1/4, so the reduced flow's double G(0) is the exact one and
 * both start at the same point: every value must agree to the digits both
 * confirm (>= 27 here; 1e-25 relative leaves a factor 100). */
START_TEST (t_full_vs_reduced)
{
  static const double V[] = { 1, -1, 1, 1 }, W[] = { -1, 1, 1, 1 };
  static const double Vt[] = { 1, 0, 0, 0 }, Wt[] = { 0, 1, 0, 0 };
  const double *u[4] = { V, W, Vt, Wt };
  double G[16], nr[4] = { 2, 2, 1, 1 };
  for (int k = 0; k < 4; k++)
    for (int l = 0; l < 4; l++)
      {
        double dot = 0;
        for (int i = 0; i < 4; i++)
          dot += u[k][i] * u[l][i];
        G[k * 4 + l] = dot / (nr[k] * nr[l]);
      }
  mv_ref_input in = { .m = 1, .mstar = 1, .d = 4, .G0 = G, .norms = nr,
                      .V = V, .W = W, .Vt = Vt, .Wt = Wt };
  static const double times[] = { 0.5, 1, 3 };
  mv_ref_params p;
  mv_ref_params_default (&p);
  p.prec = 128, p.tol = 1e-30, p.times = times, p.n_times = 3;
  mv_ref_traj a[2], b[2];
  mv_ref_agreed ag[2];
  const mv_ref_system_type *ty[2] = { mv_ref_system_full, mv_ref_system_reduced };
  for (int k = 0; k < 2; k++)
    {
      int s = mv_ref_confirmed (&a[k], &b[k], &ag[k], ty[k], &in, &p);
      ck_assert_msg (s == MV_OK, "%s: %s", ty[k]->name, mv_error_message ());
      ck_assert_msg (ag[k].min_digits >= 27, "%s: only %d digits agree", ty[k]->name,
                     ag[k].min_digits);
    }
  ck_assert (mv_ref_system_find ("full") == mv_ref_system_full);
  ck_assert (mv_ref_system_find ("nope") == NULL);
  double worst = 0;
  mpfr_t d;
  mpfr_init2 (d, 256);
  for (size_t row = 0; row < b[0].rows; row++)
    for (size_t q = 0; q < b[0].nq; q++)
      {
        mpfr_ptr f = mv_ref_traj_get (&b[0], row, q), r = mv_ref_traj_get (&b[1], row, q);
        mpfr_sub (d, f, r, MPFR_RNDN);
        double rel = fabs (mpfr_get_d (d, MPFR_RNDN)) / (1 + fabs (mpfr_get_d (r, MPFR_RNDN)));
        char name[64];
        mv_ref_quantity_name (name, sizeof name, q, 1, 1);
        ck_assert_msg (rel <= 1e-25, "%s at t = %g: full %s, reduced %s (%.3g)", name,
                       b[0].t[row], mv_ref_agreed_str (&ag[0], row, q),
                       mv_ref_agreed_str (&ag[1], row, q), rel);
        worst = fmax (worst, rel);
      }
  printf ("full vs reduced reference: worst relative difference %.3g (%d and %d digits)\n",
          worst, ag[0].min_digits, ag[1].min_digits);
  mpfr_clear (d);
  for (int k = 0; k < 2; k++)
    mv_ref_traj_clear (&a[k]), mv_ref_traj_clear (&b[k]), mv_ref_agreed_clear (&ag[k]);
}
END_TEST

/* L(0) - L(t) = Int_0^t |grad L|^2 along the reference run: both sides are
 * integrated to 1e-30 per step (relative to 1 + |y|) at 128 bits; 1e-27
 * absolute leaves a factor 1000 for the accumulation over <= 100 steps. */
START_TEST (t_energy_identity)
{
  const char *texts[2] = { NULL, TWO };
  for (int c = 0; c < 2; c++)
    {
      gram0 g;
      gram0_load (&g, texts[c], "example_small.json");
      mv_ref_traj r;
      ref_run (&r, &g, 128, 1e-30);
      mpfr_t d;
      mpfr_init2 (d, 128);
      double worst = 0;
      for (size_t row = 1; row < r.rows; row++)
        {
          mpfr_ptr E = mv_ref_traj_get (&r, row, r.nvar + 2);
          mpfr_sub (d, mv_ref_traj_get (&r, 0, r.nvar), mv_ref_traj_get (&r, row, r.nvar),
                    MPFR_RNDN);
          MV_CHECK_DIGITS (d, E, 27, 1.0, "L(0) - L(t) vs energy");
          mpfr_sub (d, d, E, MPFR_RNDN);
          worst = fmax (worst, fabs (mpfr_get_d (d, MPFR_RNDN)));
        }
      printf ("energy identity: worst |L(0) - L(t) - E(t)| = %.3g\n", worst);
      mpfr_clear (d);
      mv_ref_traj_clear (&r);
      gram0_clear (&g);
    }
}
END_TEST

/* ------------------------------------------------------------ digit rule */

static void
agree_str (const char *as, const char *bs, const char *want, int want_digits)
{
  mpfr_t a, b;
  mpfr_inits2 (128, a, b, (mpfr_ptr) 0);
  mpfr_set_str (a, as, 10, MPFR_RNDN), mpfr_set_str (b, bs, 10, MPFR_RNDN);
  char s[MV_REF_STRLEN];
  int dg;
  ck_assert_int_eq (mv_ref_agree (s, sizeof s, &dg, a, b), MV_OK);
  ck_assert_msg (!strcmp (s, want) && dg == want_digits, "agree(%s, %s) = '%s' (%d digits), "
                 "expected '%s' (%d)", as, bs, s, dg, want, want_digits);
  mpfr_clears (a, b, (mpfr_ptr) 0);
}

START_TEST (t_digit_rule)
{
  /* interval b -+ 2e-7 = [1.2345675, 1.2345683] */
  agree_str ("1.2345678", "1.2345679", "1.23456e0", 6);
  /* straddles the boundary 0.5: not even the first digit is sure */
  agree_str ("0.5000001", "0.4999999", "0", 0);
  agree_str ("-2.71828183", "-2.71828182", "-2.7182818e0", 8);
  agree_str ("1e-3", "-1e-3", "0", 0);
  agree_str ("0", "0", "0", 0);
  agree_str ("123456.75", "123456.5", "1.2345e5", 5);
  agree_str ("3.1000000000000001e-20", "3.1e-20", "3e-20", 1);
}
END_TEST

static void
faithful_str (const char *as, const char *bs, const char *want, int want_digits)
{
  mpfr_t a, b;
  mpfr_inits2 (200, a, b, (mpfr_ptr) 0);
  mpfr_set_str (a, as, 10, MPFR_RNDN), mpfr_set_str (b, bs, 10, MPFR_RNDN);
  char s[MV_REF_STRLEN];
  int dg;
  ck_assert_int_eq (mv_ref_agree_faithful (s, sizeof s, &dg, a, b), MV_OK);
  ck_assert_msg (!strcmp (s, want) && dg == want_digits, "faithful(%s, %s) = '%s' (%d digits), "
                 "expected '%s' (%d)", as, bs, s, dg, want, want_digits);
  mpfr_clears (a, b, (mpfr_ptr) 0);
}

/* Values on a power of ten or 0.5: truncation keeps nothing, faithful
 * rounding the digits the runs' difference allows: b -+ 4e-35 lies within
 * one unit of the 34th digit of 0.5 and 1, of the 33rd of 0.1 (b rounded
 * to 34 digits is 0.0999...9 there, whose unit 1e-35 is too small). */
START_TEST (t_digit_rule_faithful)
{
  agree_str ("0.10000000000000000000000000000000001", "0.09999999999999999999999999999999999",
             "0", 0);
  faithful_str ("0.10000000000000000000000000000000001", "0.09999999999999999999999999999999999",
                "1.00000000000000000000000000000000e-1", 33);
  faithful_str ("0.50000000000000000000000000000000001", "0.49999999999999999999999999999999999",
                "5.000000000000000000000000000000000e-1", 34);
  faithful_str ("-1.0000000000000000000000000000000001", "-0.99999999999999999999999999999999999",
                "-1.000000000000000000000000000000000e0", 34);
  faithful_str ("1e-3", "-1e-3", "0", 0);   /* the interval holds 0 */
  faithful_str ("1.2345678", "1.2345679", "1.234568e0", 7);
}
END_TEST

/* Soundness on random pairs: the printed N digits S are the truncation of
 * every value within 2|a - b| of b: S <= |x| < S + 10^(E - N + 1). */
START_TEST (t_digit_rule_random)
{
  const mpfr_prec_t P = 200;
  mpfr_t a, b, d, lo, hi, S, u;
  mpfr_inits2 (P + 100, a, b, d, lo, hi, S, u, (mpfr_ptr) 0);
  gmp_randstate_t rs;
  gmp_randinit_default (rs);
  gmp_randseed_ui (rs, 9);
  char s[MV_REF_STRLEN];
  for (int i = 0; i < 2000; i++)
    {
      mpfr_urandomb (b, rs);
      mpfr_mul_2si (b, b, (i % 41) - 20, MPFR_RNDN);
      if (i & 1)
        mpfr_neg (b, b, MPFR_RNDN);
      mpfr_urandomb (d, rs);
      mpfr_mul_2si (d, d, -(i % 180) - 1, MPFR_RNDN);
      mpfr_mul (d, d, b, MPFR_RNDN);
      mpfr_add (a, b, d, MPFR_RNDN);
      mpfr_prec_round (a, P, MPFR_RNDN), mpfr_prec_round (b, P, MPFR_RNDN);
      int n;
      ck_assert_int_eq (mv_ref_agree (s, sizeof s, &n, a, b), MV_OK);
      if (n == 0)
        continue;
      mpfr_sub (d, a, b, MPFR_RNDN), mpfr_abs (d, d, MPFR_RNDN);
      mpfr_mul_2ui (d, d, 1, MPFR_RNDN);
      mpfr_abs (lo, b, MPFR_RNDN), mpfr_set (hi, lo, MPFR_RNDN);
      mpfr_sub (lo, lo, d, MPFR_RNDN), mpfr_add (hi, hi, d, MPFR_RNDN);
      mpfr_set_str (S, s, 10, MPFR_RNDN), mpfr_abs (S, S, MPFR_RNDN);
      long E = strtol (strchr (s, 'e') + 1, NULL, 10);
      mpfr_set_ui (u, 10, MPFR_RNDN);
      mpfr_pow_si (u, u, E - n + 1, MPFR_RNDN);
      mpfr_add (u, u, S, MPFR_RNDN);
      ck_assert_msg (mpfr_lessequal_p (S, lo) && mpfr_less_p (hi, u),
                     "case %d: '%s' (%d digits) does not truncate b -+ 2|a-b|", i, s, n);
      /* faithful: at least as many digits, every x within one unit of S */
      int nf;
      ck_assert_int_eq (mv_ref_agree_faithful (s, sizeof s, &nf, a, b), MV_OK);
      mpfr_set_str (S, s, 10, MPFR_RNDN), mpfr_abs (S, S, MPFR_RNDN);
      E = strtol (strchr (s, 'e') + 1, NULL, 10);
      mpfr_set_ui (u, 10, MPFR_RNDN);
      mpfr_pow_si (u, u, E - nf + 1, MPFR_RNDN);
      mpfr_sub (lo, lo, S, MPFR_RNDN), mpfr_sub (hi, hi, S, MPFR_RNDN);
      ck_assert_msg (nf >= n && mpfr_cmpabs (lo, u) < 0 && mpfr_cmpabs (hi, u) < 0,
                     "case %d: faithful '%s' (%d digits, truncated %d) is not within one unit "
                     "of b -+ 2|a-b|", i, s, nf, n);
    }
  gmp_randclear (rs);
  mpfr_clears (a, b, d, lo, hi, S, u, (mpfr_ptr) 0);
}
END_TEST

START_TEST (t_bad_input)
{
  gram0 g;
  gram0_load (&g, NULL, "example_small.json");
  mv_ref_traj r;
  mv_ref_params p;
  mv_ref_params_default (&p);
  p.times = TIMES, p.n_times = NTIMES, p.prec = 53;
  ck_assert_int_eq (mv_ref_reduced (&r, g.G, g.nr, 1, 1, 0, &p), MV_EPREC);
  p.prec = 128, p.tol = 0.5;
  ck_assert_int_eq (mv_ref_reduced (&r, g.G, g.nr, 1, 1, 0, &p), MV_EINVAL);
  p.tol = 1e-40;      /* 128 bits resolve about 2^-118 = 3e-36 */
  ck_assert_int_eq (mv_ref_reduced (&r, g.G, g.nr, 1, 1, 0, &p), MV_EINVAL);
  ck_assert_msg (strstr (mv_error_message (), "resolve"), "%s", mv_error_message ());
  const double back[2] = { 1, 0.5 };
  p.tol = 1e-20, p.times = back, p.n_times = 2;
  ck_assert_int_eq (mv_ref_reduced (&r, g.G, g.nr, 1, 1, 0, &p), MV_EINVAL);
  ck_assert_msg (strstr (mv_error_message (), "output time"), "%s", mv_error_message ());
  g.G[1] = 1.5;
  ck_assert (mv_ref_red_alloc (g.G, g.nr, 1, 1, 0, 128) == NULL);
  ck_assert_msg (strstr (mv_error_message (), "Gram entry"), "%s", mv_error_message ());
  p.times = TIMES, p.n_times = NTIMES;
  ck_assert_int_ne (mv_ref_reduced (&r, g.G, g.nr, 1, 1, 0, &p), MV_OK);
  ck_assert_msg (strstr (mv_error_message (), "Gram entry"), "%s", mv_error_message ());
  mv_ref_traj_clear (&r);
  char name[32];
  mv_ref_quantity_name (name, sizeof name, 0, 1, 1);
  ck_assert_str_eq (name, "G[v1,w1]");
  mv_ref_quantity_name (name, sizeof name, 4, 1, 1);
  ck_assert_str_eq (name, "G[w1,w*1]");
  mv_ref_quantity_name (name, sizeof name, 5, 1, 1);
  ck_assert_str_eq (name, "loss");
  gram0_clear (&g);
}
END_TEST

/* A raised interrupt flag stops at the first step: rows so far (t = 0),
 * status INTERRUPTED in the reference record and in its double copy. */
START_TEST (t_interrupt)
{
  gram0 g;
  gram0_load (&g, NULL, "example_small.json");
  volatile sig_atomic_t stop = 1;
  mv_ref_params p;
  mv_ref_params_default (&p);
  p.prec = 128, p.tol = 1e-30, p.times = TIMES, p.n_times = NTIMES, p.interrupt = &stop;
  mv_ref_traj r;
  ck_assert_int_eq (mv_ref_reduced (&r, g.G, g.nr, 1, 1, 0, &p), MV_OK);
  ck_assert_int_eq (r.status, MV_TRAJ_INTERRUPTED);
  ck_assert_uint_eq (r.rows, 1);
  mv_traj tr;
  ck_assert_int_eq (mv_traj_init (&tr, 1, 1), MV_OK);
  ck_assert_int_eq (mv_ref_traj_to_traj (&tr, &r), MV_OK);
  ck_assert_int_eq (tr.status, MV_TRAJ_INTERRUPTED);
  ck_assert_uint_eq (tr.rows, 1);
  ck_assert_str_eq (tr.stepper, "gbs-mpfr128");
  MV_CHECK_CLOSE_D (tr.loss[0], mpfr_get_d (mv_ref_traj_get (&r, 0, r.nvar), MPFR_RNDN),
                    0, 0, "double copy of L(0)");
  mv_traj_clear (&tr);
  mv_ref_traj_clear (&r);
  gram0_clear (&g);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("reference");
  TCase *tc = tcase_create ("reference");
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, t_gbs_exact);
  tcase_add_test (tc, t_gbs_tolerance);
  tcase_add_test (tc, t_gbs_bad);
  tcase_add_test (tc, t_rhs_double);
  tcase_add_test (tc, t_rhs_energy);
  tcase_add_test (tc, t_digit_rule);
  tcase_add_test (tc, t_digit_rule_random);
  tcase_add_test (tc, t_digit_rule_faithful);
  tcase_add_test (tc, t_bad_input);
  tcase_add_test (tc, t_interrupt);
  tcase_add_test (tc, t_vs_gsl);
  tcase_add_test (tc, t_doubled);
  tcase_add_test (tc, t_energy_identity);
  tcase_add_test (tc, t_full_vs_reduced);
  suite_add_tcase (s, tc);
  return mv_test_run (s);
}
