/* Checkpoints (checkpoint.h): a run interrupted at output row k or in the
 * middle of a step interval, continued from its checkpoint, ends
 * bit-identical (memcmp) to the uninterrupted run, for the full flow, the
 * reduced flow and SGD at several k; periodic checkpoints; a truncated,
 * corrupted or foreign file is refused; a checkpoint of another run
 * (spec, tolerance, seed, stepper) is refused naming what differs. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <moeverify/moeverify.h>

static const char SPEC[] =
  "{\"d\": 6, \"noise_var\": 0.01, \"teacher\": {\"m\": 2, \"init\": {\"kind\": \"orthonormal\", \"seed\": 3}},"
  " \"student\": {\"m\": 3, \"init\": {\"kind\": \"gaussian\", \"seed\": 4}}}";

enum { FULL, REDUCED, SGD };

static char path[64];

static void
make_path (void)
{
  snprintf (path, sizeof path, "/tmp/mv_test_ckpt_%ld", (long) getpid ());
}

/* Interrupts the run at its `at`-th point of the given kind. */
typedef struct {
  int kind;
  unsigned long at, seen;
  volatile sig_atomic_t flag;
} stopper;

static int
stop_observe (void *ctx, const mv_obs_point *pt)
{
  stopper *st = ctx;
  if (pt->kind == st->kind && ++st->seen == st->at)
    st->flag = 1;
  return MV_OK;
}

/* One run of method on pb with checkpoint options cp; stopped by st if
 * not NULL.  Returns the library status. */
static int
run (mv_traj *tr, const mv_problem *pb, int method, const mv_ckpt_params *cp,
     stopper *st, const char *stepper, double rtol)
{
  mv_observer obs = { "stopper", stop_observe, NULL, st };
  ck_assert_int_eq (mv_traj_init (tr, pb->m, pb->mstar), MV_OK);
  if (method == SGD)
    {
      mv_sgd_params p;
      mv_sgd_params_default (&p);
      p.lr = 0.02, p.batch = 16, p.steps = 400, p.n_out = 40;
      p.reg = &pb->reg;
      if (cp)
        p.ckpt = *cp;
      if (st)
        p.observers = &obs, p.n_observers = 1, p.interrupt = &st->flag;
      return mv_sgd_run (tr, pb, &p);
    }
  mv_flow_params p;
  mv_flow_params_default (&p);
  p.t_end = 20, p.n_out = 15, p.rtol = rtol;
  if (stepper)
    p.stepper = stepper;
  p.reg = &pb->reg;
  if (cp)
    p.ckpt = *cp;
  if (st)
    p.observers = &obs, p.n_observers = 1, p.interrupt = &st->flag;
  if (method == FULL)
    return mv_flow_full (tr, pb, &p);
  size_t n = 2 * (pb->m + pb->mstar);
  double G[100], nr[10];
  ck_assert (n <= 10);
  ck_assert_int_eq (mv_problem_gram_d (G, nr, pb), MV_OK);
  return mv_flow_reduced (tr, G, nr, pb->m, pb->mstar, pb->noise_var, &p);
}

#define SAME(field, count)                                                   \
  ck_assert_msg (!memcmp (a->field, b->field, (count) * sizeof *a->field),   \
                 "%s: " #field " differs", what)

/* Everything but the wall time, bit for bit. */
static void
assert_same (const mv_traj *a, const mv_traj *b, const char *what)
{
  size_t nn = a->n * a->n, nc = MV_ALIGN_NKIND * MV_TRAJ_NTHR * a->m * a->mstar;
  ck_assert_msg (a->rows == b->rows, "%s: %zu rows vs %zu", what, a->rows, b->rows);
  for (size_t r = 0; r < a->rows; r++)
    ck_assert_msg (!memcmp (&a->t[r], &b->t[r], sizeof (double))
                   && !memcmp (&a->loss[r], &b->loss[r], sizeof (double)),
                   "%s: row %zu: t %.17g vs %.17g, L %.17g vs %.17g", what, r,
                   a->t[r], b->t[r], a->loss[r], b->loss[r]);
  SAME (grad2, a->rows);
  SAME (energy, a->rows);
  SAME (G, a->rows * nn);
  SAME (cross, nc);
  SAME (cross_other, nc);
  SAME (norms0, a->n);
  ck_assert_msg (a->steps == b->steps && a->rejected == b->rejected
                 && a->rhs_evals == b->rhs_evals && a->jac_evals == b->jac_evals,
                 "%s: counters %lu/%lu/%lu/%lu vs %lu/%lu/%lu/%lu", what, a->steps,
                 a->rejected, a->rhs_evals, a->jac_evals, b->steps, b->rejected,
                 b->rhs_evals, b->jac_evals);
  ck_assert_int_eq (a->status, b->status);
  ck_assert_str_eq (a->message, b->message);
  ck_assert_str_eq (a->method, b->method);
  ck_assert_str_eq (a->stepper, b->stepper);
  ck_assert (!a->final_state == !b->final_state);
  if (a->final_state)
    SAME (final_state, 2 * a->m * a->d);
}

/* Interrupt at the at-th point of kind, resume from the checkpoint the
 * interruption wrote, compare with ref. */
static void
interrupt_and_resume (const mv_problem *pb, int method, const mv_traj *ref,
                      int kind, unsigned long at)
{
  char what[64];
  snprintf (what, sizeof what, "method %d, %s %lu", method,
            kind == MV_OBS_ROW ? "row" : "step", at);
  mv_ckpt_params cp = { path, 1e9, SPEC, "test", NULL };
  stopper st = { kind, at, 0, 0 };
  mv_traj part, res;
  unlink (path);
  int s = run (&part, pb, method, &cp, &st, NULL, 1e-9);
  ck_assert_msg (s == MV_OK, "%s: %s", what, mv_error_message ());
  ck_assert_msg (part.status == MV_TRAJ_INTERRUPTED, "%s: status %d", what, part.status);
  ck_assert_msg (access (path, R_OK) == 0, "%s: no checkpoint written", what);
  mv_ckpt *c = mv_ckpt_alloc ();
  ck_assert_msg (mv_ckpt_read (c, path) == MV_OK, "%s", mv_error_message ());
  mv_ckpt_params rp = { NULL, 0, SPEC, NULL, c };
  s = run (&res, pb, method, &rp, NULL, NULL, 1e-9);
  ck_assert_msg (s == MV_OK, "%s: %s", what, mv_error_message ());
  assert_same (ref, &res, what);
  mv_ckpt_free (c);
  mv_traj_clear (&part), mv_traj_clear (&res);
  unlink (path);
}

static void
check_method (int method)
{
  mv_problem pb;
  mv_traj ref;
  make_path ();
  ck_assert_int_eq (mv_problem_parse (&pb, SPEC, "test"), MV_OK);
  ck_assert_msg (run (&ref, &pb, method, NULL, NULL, NULL, 1e-9) == MV_OK, "%s",
                 mv_error_message ());
  ck_assert_int_eq (ref.status, MV_TRAJ_DONE);
  ck_assert (ref.rows > 12);
  /* rows 1 (right after t = 0), 2, a middle one and the last but one */
  unsigned long rows[] = { 1, 2, ref.rows / 2, ref.rows - 2 };
  for (size_t i = 0; i < 4; i++)
    interrupt_and_resume (&pb, method, &ref, MV_OBS_ROW, rows[i]);
  /* in the middle of step intervals (flows: between output times) */
  unsigned long steps[] = { 3, 17, ref.steps / 2 };
  for (size_t i = 0; i < 3; i++)
    interrupt_and_resume (&pb, method, &ref, MV_OBS_STEP, steps[i]);
  mv_traj_clear (&ref);
  mv_problem_clear (&pb);
}

START_TEST (test_resume_full) { check_method (FULL); }
END_TEST

START_TEST (test_resume_reduced) { check_method (REDUCED); }
END_TEST

START_TEST (test_resume_sgd) { check_method (SGD); }
END_TEST

/* Periodic checkpoints (every row, or every step once 1 ns has passed):
 * the last one written, resumed, gives the same end; and resuming the
 * same checkpoint twice gives it again. */
START_TEST (test_periodic)
{
  mv_problem pb;
  make_path ();
  ck_assert_int_eq (mv_problem_parse (&pb, SPEC, "test"), MV_OK);
  for (int k = 0; k < 6; k++)
    {
      int method = k % 3;
      double every = k < 3 ? 0 : 1e-9;
      mv_traj ref, a, b;
      mv_ckpt_params cp = { path, every, SPEC, NULL, NULL };
      unlink (path);
      ck_assert_msg (run (&ref, &pb, method, &cp, NULL, NULL, 1e-9) == MV_OK, "%s",
                     mv_error_message ());
      mv_ckpt *c = mv_ckpt_alloc ();
      ck_assert_msg (mv_ckpt_read (c, path) == MV_OK, "%s", mv_error_message ());
      size_t nrows;
      ck_assert (mv_ckpt_get (c, "tr.t", MV_CKPT_F64, &nrows));
      /* every row: the last checkpoint holds every row but the final one;
       * every step: at most those */
      ck_assert_msg (every > 0 ? nrows >= 1 && nrows <= ref.rows - 1 : nrows == ref.rows - 1,
                     "method %d, every %g: checkpoint has %zu rows of %zu", method, every,
                     nrows, ref.rows);
      double tc[3];
      if (every > 0 && method != SGD)
        {
          /* the last accepted step before t_end: between output times */
          ck_assert_int_eq (mv_ckpt_get_f64 (c, "st.t h last", tc, 3), MV_OK);
          ck_assert_msg (tc[0] > ref.t[ref.rows - 2] && tc[0] < ref.t[ref.rows - 1],
                         "method %d: last checkpoint at t = %.17g, rows at %.17g, %.17g",
                         method, tc[0], ref.t[ref.rows - 2], ref.t[ref.rows - 1]);
        }
      mv_ckpt_params rp = { NULL, 0, SPEC, NULL, c };
      ck_assert_msg (run (&a, &pb, method, &rp, NULL, NULL, 1e-9) == MV_OK, "%s",
                     mv_error_message ());
      ck_assert_msg (run (&b, &pb, method, &rp, NULL, NULL, 1e-9) == MV_OK, "%s",
                     mv_error_message ());
      assert_same (&ref, &a, "periodic");
      assert_same (&ref, &b, "periodic, second resume");
      mv_ckpt_free (c);
      mv_traj_clear (&ref), mv_traj_clear (&a), mv_traj_clear (&b);
    }
  unlink (path);
  mv_problem_clear (&pb);
}
END_TEST

/* A checkpoint of the full flow at row 4 (the file the cases below damage). */
static void
write_one (mv_problem *pb)
{
  mv_traj part;
  stopper st = { MV_OBS_ROW, 4, 0, 0 };
  mv_ckpt_params cp = { path, 1e9, SPEC, NULL, NULL };
  make_path ();
  unlink (path);
  ck_assert_int_eq (mv_problem_parse (pb, SPEC, "test"), MV_OK);
  ck_assert_int_eq (run (&part, pb, FULL, &cp, &st, NULL, 1e-9), MV_OK);
  mv_traj_clear (&part);
}

static char *
slurp (size_t *len)
{
  char *raw = mv_io_read_file (path, len);
  ck_assert (raw);
  return raw;
}

static void
expect_refused (const char *what, const char *needle)
{
  mv_ckpt *c = mv_ckpt_alloc ();
  int s = mv_ckpt_read (c, path);
  ck_assert_msg (s == MV_EPARSE, "%s: status %d (%s)", what, s, mv_error_message ());
  ck_assert_msg (strstr (mv_error_message (), needle) && !strchr (mv_error_message (), '\n'),
                 "%s: message '%s' lacks '%s'", what, mv_error_message (), needle);
  ck_assert_msg (strstr (mv_error_message (), path), "%s: message does not name the file",
                 what);
  mv_ckpt_free (c);
}

START_TEST (test_corrupt)
{
  mv_problem pb;
  size_t len;
  write_one (&pb);
  char *raw = slurp (&len);
  ck_assert (len > 1000);
  /* truncated anywhere: header, payload, last byte */
  size_t cut[] = { 0, 7, 31, 32, 100, len / 2, len - 1 };
  for (size_t i = 0; i < sizeof cut / sizeof *cut; i++)
    {
      ck_assert_int_eq (mv_io_write_atomic (path, raw, cut[i]), MV_OK);
      expect_refused ("truncated", cut[i] < 32 ? "too short" : "truncated");
    }
  /* one bit flipped in the payload, at several places */
  size_t flip[] = { 40, len / 3, len - 1 };
  for (size_t i = 0; i < 3; i++)
    {
      raw[flip[i]] ^= 0x10;
      ck_assert_int_eq (mv_io_write_atomic (path, raw, len), MV_OK);
      expect_refused ("bit flip", "checksum");
      raw[flip[i]] ^= 0x10;
    }
  /* bad magic, another version */
  raw[0] = 'X';
  ck_assert_int_eq (mv_io_write_atomic (path, raw, len), MV_OK);
  expect_refused ("magic", "not a moeverify checkpoint");
  raw[0] = 'M', raw[8] = 9;
  ck_assert_int_eq (mv_io_write_atomic (path, raw, len), MV_OK);
  expect_refused ("version", "version 9");
  raw[8] = 1;
  /* intact again: read back */
  ck_assert_int_eq (mv_io_write_atomic (path, raw, len), MV_OK);
  mv_ckpt *c = mv_ckpt_alloc ();
  ck_assert_msg (mv_ckpt_read (c, path) == MV_OK, "%s", mv_error_message ());
  mv_ckpt_free (c);
  free (raw);
  unlink (path);
  mv_problem_clear (&pb);
}
END_TEST

/* Resume refused (MV_EINVAL, one line naming what differs). */
static void
expect_mismatch (const mv_problem *pb, int method, const char *spec, const char *stepper,
                 double rtol, const char *needle)
{
  mv_ckpt *c = mv_ckpt_alloc ();
  ck_assert_int_eq (mv_ckpt_read (c, path), MV_OK);
  mv_ckpt_params rp = { NULL, 0, spec, NULL, c };
  mv_traj tr;
  int s = run (&tr, pb, method, &rp, NULL, stepper, rtol);
  ck_assert_msg (s == MV_EINVAL, "%s: status %d (%s)", needle, s, mv_error_message ());
  ck_assert_msg (strstr (mv_error_message (), needle), "message '%s' lacks '%s'",
                 mv_error_message (), needle);
  mv_traj_clear (&tr);
  mv_ckpt_free (c);
}

START_TEST (test_mismatch)
{
  mv_problem pb, other;
  write_one (&pb);
  static const char OTHER[] =
    "{\"d\": 6, \"noise_var\": 0.01, \"teacher\": {\"m\": 2, \"init\": {\"kind\": \"orthonormal\", \"seed\": 3}},"
    " \"student\": {\"m\": 3, \"init\": {\"kind\": \"gaussian\", \"seed\": 5}}}";
  ck_assert_int_eq (mv_problem_parse (&other, OTHER, "other"), MV_OK);
  expect_mismatch (&pb, FULL, SPEC, NULL, 1e-10, "rtol differs");
  expect_mismatch (&pb, FULL, SPEC, "rkf45", 1e-9, "stepper differs");
  expect_mismatch (&pb, FULL, OTHER, NULL, 1e-9, "spec differs");
  expect_mismatch (&other, FULL, SPEC, NULL, 1e-9, "initial point differs");
  expect_mismatch (&pb, REDUCED, SPEC, NULL, 1e-9, "method differs");
  expect_mismatch (&pb, FULL, NULL, NULL, 1e-9, "spec differs");
  /* history-carrying steppers cannot checkpoint */
  mv_traj tr;
  mv_ckpt_params cp = { path, 0, NULL, NULL, NULL };
  ck_assert_int_eq (run (&tr, &pb, FULL, &cp, NULL, "msadams", 1e-9), MV_EINVAL);
  ck_assert_msg (strstr (mv_error_message (), "msadams"), "%s", mv_error_message ());
  mv_traj_clear (&tr);
  /* SGD: another seed */
  mv_traj part;
  stopper st = { MV_OBS_ROW, 5, 0, 0 };
  cp.every = 1e9, cp.spec = SPEC;
  ck_assert_int_eq (run (&part, &pb, SGD, &cp, &st, NULL, 1e-9), MV_OK);
  mv_traj_clear (&part);
  mv_ckpt *c = mv_ckpt_alloc ();
  ck_assert_int_eq (mv_ckpt_read (c, path), MV_OK);
  mv_sgd_params p;
  mv_sgd_params_default (&p);
  p.lr = 0.02, p.batch = 16, p.steps = 400, p.n_out = 40, p.seed = 2;
  p.ckpt.resume = c, p.ckpt.spec = SPEC;
  ck_assert_int_eq (mv_traj_init (&tr, pb.m, pb.mstar), MV_OK);
  ck_assert_int_eq (mv_sgd_run (&tr, &pb, &p), MV_EINVAL);
  ck_assert_msg (strstr (mv_error_message (), "batch steps seed differs"), "%s",
                 mv_error_message ());
  mv_traj_clear (&tr);
  mv_ckpt_free (c);
  unlink (path);
  mv_problem_clear (&pb), mv_problem_clear (&other);
}
END_TEST

/* Container round trip: every type, replacement, identity comparison. */
START_TEST (test_container)
{
  make_path ();
  mv_ckpt *a = mv_ckpt_alloc (), *b = mv_ckpt_alloc ();
  double x[3] = { 1.5, -0.0, NAN };
  uint64_t u[2] = { 7, UINT64_MAX };
  ck_assert_int_eq (mv_ckpt_put_f64 (a, "id.x", x, 3), MV_OK);
  ck_assert_int_eq (mv_ckpt_put_u64 (a, "st.u", u, 2), MV_OK);
  ck_assert_int_eq (mv_ckpt_put_str (a, "note.s", "hello"), MV_OK);
  ck_assert_int_eq (mv_ckpt_put_str (a, "note.s", "again"), MV_OK);
  ck_assert_int_eq (mv_ckpt_put_f64 (a, "st.empty", NULL, 0), MV_OK);
  ck_assert_uint_eq (mv_ckpt_size (a), 4);
  ck_assert_int_eq (mv_ckpt_write (a, path), MV_OK);
  ck_assert_int_eq (mv_ckpt_read (b, path), MV_OK);
  double y[3];
  uint64_t v[2];
  ck_assert_int_eq (mv_ckpt_get_f64 (b, "id.x", y, 3), MV_OK);
  ck_assert (!memcmp (x, y, sizeof x));
  ck_assert_int_eq (mv_ckpt_get_u64 (b, "st.u", v, 2), MV_OK);
  ck_assert (!memcmp (u, v, sizeof u));
  char *s = mv_ckpt_get_str (b, "note.s");
  ck_assert_str_eq (s, "again");
  free (s);
  ck_assert_int_eq (mv_ckpt_get_f64 (b, "id.x", y, 2), MV_EPARSE);
  ck_assert_int_eq (mv_ckpt_get_f64 (b, "st.u", y, 2), MV_EPARSE);
  ck_assert_int_eq (mv_ckpt_check_identity (a, b), MV_OK);
  x[1] = 0.0;   /* -0 and +0 differ bit for bit */
  ck_assert_int_eq (mv_ckpt_put_f64 (b, "id.x", x, 3), MV_OK);
  ck_assert_int_eq (mv_ckpt_check_identity (a, b), MV_EINVAL);
  ck_assert_msg (strstr (mv_error_message (), "x differs") && strstr (mv_error_message (), "[1]"),
                 "%s", mv_error_message ());
  ck_assert_int_eq (mv_ckpt_put_ulong (b, "id.extra", 1), MV_OK);
  ck_assert_int_eq (mv_ckpt_put_f64 (b, "id.x", x, 3), MV_OK);
  x[1] = -0.0;
  ck_assert_int_eq (mv_ckpt_put_f64 (b, "id.x", x, 3), MV_OK);
  ck_assert_int_eq (mv_ckpt_check_identity (a, b), MV_EINVAL);
  ck_assert_msg (strstr (mv_error_message (), "extra differs (checkpoint none"), "%s",
                 mv_error_message ());
  mv_ckpt_free (a), mv_ckpt_free (b);
  unlink (path);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("checkpoint");
  TCase *tc = tcase_create ("core");
  tcase_add_test (tc, test_container);
  tcase_add_test (tc, test_resume_full);
  tcase_add_test (tc, test_resume_reduced);
  tcase_add_test (tc, test_resume_sgd);
  tcase_add_test (tc, test_periodic);
  tcase_add_test (tc, test_corrupt);
  tcase_add_test (tc, test_mismatch);
  suite_add_tcase (s, tc);
  return mv_test_run (s);
}
