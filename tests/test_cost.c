/* Memory estimates (cost.h) against what runs really use: each run goes
 * in a child process whose peak resident size (wait4's ru_maxrss) less
 * that of an idle child must lie within a factor of the estimate; and the
 * guard's refusal message. */
/* wait4: _DEFAULT_SOURCE comes from the build flags */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <moeverify/cost.h>
#include <moeverify/error.h>
#include <moeverify/flow.h>
#include <moeverify/hermite.h>
#include <moeverify/loss.h>
#include <moeverify/sgd.h>
#include <moeverify/traj.h>

/* A problem with m students and m* teachers in d dimensions (random raw
 * vectors from a fixed LCG: the values do not matter here). */
static void
make_problem (mv_problem *pb, size_t m, size_t ms, size_t d)
{
  size_t nv = 2 * (m + ms) * d;
  double *x = malloc (nv * sizeof *x);
  ck_assert_ptr_nonnull (x);
  unsigned long s = 12345;
  for (size_t i = 0; i < nv; i++)
    {
      s = s * 6364136223846793005UL + 1442695040888963407UL;
      x[i] = (double) (s >> 11) / 9007199254740992.0 - 0.5;
    }
  ck_assert_int_eq (mv_problem_set_d (pb, d, m, ms, x, x + m * d, x + 2 * m * d,
                                      x + 2 * m * d + ms * d, 0.0), MV_OK);
  free (x);
}

enum { RUN_NONE, RUN_LOSS, RUN_FULL, RUN_REDUCED, RUN_SGD };

static void
child_run (int what, size_t m, size_t ms, size_t d)
{
  mv_problem pb;
  make_problem (&pb, m, ms, d);
  int s = MV_OK;
  mv_traj tr;
  mv_flow_params fp;
  mv_flow_params_default (&fp);
  fp.t_end = 1e-3;
  fp.n_out = what == RUN_FULL ? 2 : 5;
  if (what == RUN_LOSS)
    {
      mv_loss_ws *ws = mv_loss_alloc (m, ms, MV_PREC_DOUBLE);
      size_t md = m * d;
      double *g = calloc (2 * md, sizeof *g), L;
      s = !ws || !g ? MV_ENOMEM : mv_loss_eval_d (&L, g, g + md, NULL, &pb, ws);
    }
  else if (what == RUN_FULL)
    {
      s = mv_traj_init (&tr, m, ms) || mv_flow_full (&tr, &pb, &fp);
    }
  else if (what == RUN_REDUCED)
    {
      size_t n = 2 * (m + ms);
      double *G = malloc (n * n * sizeof *G), *nr = malloc (n * sizeof *nr);
      s = mv_traj_init (&tr, m, ms)
          || mv_flow_gram0 (G, nr, NULL, 0, &pb, MV_GRAM0_VECTORS)
          || mv_flow_reduced (&tr, G, nr, m, ms, 0.0, &fp);
    }
  else if (what == RUN_SGD)
    {
      mv_sgd_params sp;
      mv_sgd_params_default (&sp);
      sp.lr = 1e-3, sp.batch = 2000, sp.steps = 5;
      s = mv_traj_init (&tr, m, ms) || mv_sgd_run (&tr, &pb, &sp);
    }
  _exit (s ? 3 : 0);
}

/* Peak resident bytes of a child doing `what`. */
static double
peak_bytes (int what, size_t m, size_t ms, size_t d)
{
  pid_t p = fork ();
  ck_assert_int_ge (p, 0);
  if (p == 0)
    child_run (what, m, ms, d);
  int st;
  struct rusage ru;
  ck_assert_int_eq (wait4 (p, &st, 0, &ru), p);
  ck_assert_msg (WIFEXITED (st) && WEXITSTATUS (st) == 0, "run %d failed (status %d)",
                 what, st);
  return 1024.0 * (double) ru.ru_maxrss;
}

static void
expect_near (const char *what, double measured, double estimate)
{
  double r = measured / estimate;
  printf ("%s: estimate %.4g MB, measured %.4g MB (ratio %.3f)\n", what, estimate / 1e6,
          measured / 1e6, r);
  ck_assert_msg (r > 0.6 && r < 1.6, "%s: measured %.17g bytes, estimated %.17g (ratio %g, "
                 "want 0.6..1.6)", what, measured, estimate, r);
}

START_TEST (t_estimates)
{
  if (getenv ("MV_SANITIZE"))
    {
      /* ASan's shadow memory and quarantine are not the program's */
      printf ("t_estimates: skipped under --enable-sanitizers\n");
      return;
    }
  double base = peak_bytes (RUN_NONE, 1, 1, 1);
  mv_cost c;
  mv_flow_params fp;
  mv_flow_params_default (&fp);
  fp.t_end = 1e-3;

  /* loss: 10 n^2 doubles dominate (n = 804: 52 MB) */
  mv_cost_loss (&c, 400, 2, 30, 1, MV_PREC_DOUBLE);
  expect_near ("loss m = 400", peak_bytes (RUN_LOSS, 400, 2, 30) - base, c.bytes);

  /* full flow: the stepper's copies of 2 m d variables (m d = 1e5: 38 MB) */
  fp.n_out = 2;
  mv_cost_flow (&c, 20, 2, 5000, 0, &fp);
  expect_near ("full flow m = 20, d = 5000", peak_bytes (RUN_FULL, 20, 2, 5000) - base,
               c.bytes);

  /* reduced flow: the stepper, loss workspace and rows (n = 244: 16 MB) */
  fp.n_out = 5;
  mv_cost_flow (&c, 120, 2, 10, 1, &fp);
  expect_near ("reduced flow m = 120", peak_bytes (RUN_REDUCED, 120, 2, 10) - base,
               c.bytes);

  /* SGD: the batch, B x d samples (2000 x 3000: 48 MB) */
  mv_sgd_params sp;
  mv_sgd_params_default (&sp);
  sp.lr = 1e-3, sp.batch = 2000, sp.steps = 5;
  mv_cost_sgd (&c, 4, 2, 3000, &sp);
  expect_near ("sgd B = 2000, d = 3000", peak_bytes (RUN_SGD, 4, 2, 3000) - base, c.bytes);
}
END_TEST

START_TEST (t_guard)
{
  mv_cost c;
  mv_flow_params fp;
  mv_flow_params_default (&fp);
  fp.t_end = 150;
  /* the paper's widths at m = 2000: 400 rows of a 4010 x 4010 Gram matrix */
  mv_cost_flow (&c, 2000, 5, 1000, 1, &fp);
  ck_assert_msg (c.traj_bytes > 51e9 && c.traj_bytes < 52e9, "trajectory %g", c.traj_bytes);
  ck_assert_int_eq (c.rows, 400);
  ck_assert_int_eq (mv_cost_check (&c, 0, "x"), MV_OK);          /* no limit */
  ck_assert_int_eq (mv_cost_check (&c, 1e15, "x"), MV_OK);
  ck_assert_int_eq (mv_cost_check (&c, 8e9, "spec.json"), MV_ENOMEM);
  ck_assert_msg (strstr (mv_error_message (), "spec.json: needs about ")
                 && strstr (mv_error_message (), "(trajectory 51.5 GB for 400 rows")
                 && strstr (mv_error_message (), "more than the limit 8 GB"),
                 "message: %s", mv_error_message ());
  double b;
  ck_assert_int_eq (mv_cost_parse (&b, "512M"), MV_OK);
  ck_assert_double_eq (b, 512e6);
  ck_assert_int_eq (mv_cost_parse (&b, "1.5GB"), MV_OK);
  ck_assert_double_eq (b, 1.5e9);
  ck_assert_int_eq (mv_cost_parse (&b, "none"), MV_OK);
  ck_assert_double_eq (b, 0);
  ck_assert_int_eq (mv_cost_parse (&b, "123"), MV_OK);
  ck_assert_double_eq (b, 123);
  const char *bad[] = { "", "G", "-1G", "8X", "1e999", "nan", "8 G" };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    ck_assert_msg (mv_cost_parse (&b, bad[i]) == MV_EINVAL, "accepted '%s'", bad[i]);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("cost");
  TCase *tc = tcase_create ("core");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, t_estimates);
  tcase_add_test (tc, t_guard);
  suite_add_tcase (s, tc);
  return mv_test_run (s);
}
