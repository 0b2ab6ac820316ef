/* The flat entry points (ffi.h) against the library calls they compose,
 * in C, so that sanitizer and valgrind builds (where the Python suites
 * cannot run) cover them: every value equal bit for bit, the formatted
 * digits and bounds as the library's formatters give them, errors with
 * their messages, nothing leaked. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <moeverify/moeverify.h>

/* The paper-like test problem of these cases: generated vectors. */
static const char SPEC[] =
  "{\"d\": 30, \"teacher\": {\"m\": 2, \"init\": {\"kind\": \"orthonormal\", \"seed\": 1}},"
  " \"student\": {\"m\": 4, \"init\": {\"kind\": \"gaussian\", \"seed\": 3}}}";

static mv_problem *
problem (void)
{
  mv_problem *pb = mv_ffi_problem_alloc ();
  ck_assert_ptr_nonnull (pb);
  ck_assert_int_eq (mv_problem_parse (pb, SPEC, "spec"), MV_OK);
  return pb;
}

START_TEST (t_loss_double)
{
  mv_problem *pb = problem ();
  size_t dims[3], n;
  double noise, reg[4];
  mv_ffi_problem_shape (dims, &noise, reg, pb);
  ck_assert (dims[0] == 30 && dims[1] == 4 && dims[2] == 2 && noise == 0 && reg[2] == 0);
  n = dims[0] * dims[1];
  double *V = malloc (n * sizeof *V), *W = malloc (n * sizeof *W);
  double Vt[60], Wt[60], gV[120], gW[120], gV2[120], gW2[120], info[MV_FFI_LOSS_NINFO];
  ck_assert_int_eq (mv_problem_vectors_d (V, W, Vt, Wt, pb), MV_OK);
  mv_loss_ws *ws = mv_ffi_loss_alloc (4, 2, NULL, 53);
  char text[256];
  ck_assert_int_eq (mv_ffi_loss_vec (info, text, sizeof text, gV, gW, V, W, Vt, Wt, 30, 0,
                                     ws, 53), MV_OK);
  /* the library call it composes */
  double L;
  mv_loss_info li;
  ck_assert_int_eq (mv_loss_eval_vec_d (&L, gV2, gW2, &li, V, W, Vt, Wt, 30, 0, ws), MV_OK);
  ck_assert (info[MV_FFI_LOSS_VALUE] == L);
  ck_assert (!memcmp (gV, gV2, sizeof gV) && !memcmp (gW, gW2, sizeof gW));
  int digits = mv_io_digits_d (L, mv_mag_get_d (&li.err));
  ck_assert_int_eq ((int) info[MV_FFI_LOSS_DIGITS], digits);
  char *ls = mv_io_double_str (L, digits), want[256], e1[48], e2[48];
  mv_mag_str (e1, sizeof e1, &li.err, 3);
  mv_mag_str (e2, sizeof e2, &li.grad_err, 3);
  snprintf (want, sizeof want, "%s\n%s\n%s", ls, e1, e2);
  ck_assert_str_eq (text, want);
  free (ls);
  ck_assert (isnan (info[MV_FFI_LOSS_GRAD_DIGITS]));
  int gmin = 1000;
  for (size_t i = 0; i < 2 * n; i++)
    {
      int dg = mv_io_digits_d (i < n ? gV[i] : gW[i - n], info[MV_FFI_LOSS_GRAD_ERR]);
      gmin = dg < gmin ? dg : gmin;
    }
  ck_assert_int_eq (mv_ffi_grad_digits_d (gV, gW, n, info[MV_FFI_LOSS_GRAD_ERR]), gmin);
  /* the problem path: the same numbers */
  ck_assert_int_eq (mv_ffi_loss (info, text, sizeof text, gV2, gW2, pb, ws, 53), MV_OK);
  ck_assert (info[MV_FFI_LOSS_VALUE] == L && !memcmp (gV, gV2, sizeof gV));
  /* errors: a short text buffer, a workspace of another shape, a bad row */
  ck_assert_int_eq (mv_ffi_loss_vec (info, text, 8, gV, gW, V, W, Vt, Wt, 30, 0, ws, 53),
                    MV_EINVAL);
  ck_assert_ptr_nonnull (strstr (mv_error_message (), "too small"));
  mv_loss_ws *ws3 = mv_ffi_loss_alloc (3, 2, NULL, 53);
  ck_assert_int_eq (mv_ffi_loss (info, text, sizeof text, gV, gW, pb, ws3, 53), MV_EINVAL);
  ck_assert_ptr_nonnull (strstr (mv_error_message (), "workspace for m = 3"));
  W[35] = NAN;
  ck_assert_int_eq (mv_ffi_loss_vec (info, text, sizeof text, gV, gW, V, W, Vt, Wt, 30, 0,
                                     ws, 53), MV_EINVAL);
  ck_assert_ptr_nonnull (strstr (mv_error_message (), "student.W[1]: entry 5 is not finite"));
  ck_assert_ptr_null (mv_ffi_loss_alloc (4, 2, NULL, 40));
  mv_loss_free (ws3);
  mv_loss_free (ws);
  free (V), free (W);
  mv_ffi_problem_free (pb);
}
END_TEST

START_TEST (t_loss_mpfr)
{
  mv_problem *pb = problem ();
  const long prec = 160;
  mv_loss_ws *ws = mv_ffi_loss_alloc (4, 2, NULL, prec);
  double info[MV_FFI_LOSS_NINFO], gV[120], gW[120];
  char text[512];
  ck_assert_int_eq (mv_ffi_loss (info, text, sizeof text, gV, gW, pb, ws, prec), MV_OK);
  mpfr_t L, *mV = malloc (120 * sizeof *mV), *mW = malloc (120 * sizeof *mW);
  mpfr_init2 (L, prec);
  for (int i = 0; i < 120; i++)
    mpfr_init2 (mV[i], prec), mpfr_init2 (mW[i], prec);
  mv_loss_info li;
  ck_assert_int_eq (mv_loss_eval (L, mV, mW, &li, pb, ws), MV_OK);
  ck_assert (info[MV_FFI_LOSS_VALUE] == mpfr_get_d (L, MPFR_RNDN));
  int digits = mv_io_digits (L, &li.err), gmin = 1000;
  ck_assert_int_eq ((int) info[MV_FFI_LOSS_DIGITS], digits);
  ck_assert_int_ge (digits, 40);
  char *ls = mv_io_mpfr_str (L, digits);
  ck_assert (!strncmp (text, ls, strlen (ls)) && text[strlen (ls)] == '\n');
  free (ls);
  for (int i = 0; i < 120; i++)
    {
      ck_assert (gV[i] == mpfr_get_d (mV[i], MPFR_RNDN) && gW[i] == mpfr_get_d (mW[i], MPFR_RNDN));
      int a = mv_io_digits (mV[i], &li.grad_err), b = mv_io_digits (mW[i], &li.grad_err);
      gmin = a < gmin ? a : gmin, gmin = b < gmin ? b : gmin;
      mpfr_clear (mV[i]), mpfr_clear (mW[i]);
    }
  ck_assert_int_eq ((int) info[MV_FFI_LOSS_GRAD_DIGITS], gmin);
  /* the arrays path takes the generated vectors exactly as doubles */
  double V[120], W[120], Vt[60], Wt[60], info2[MV_FFI_LOSS_NINFO];
  ck_assert_int_eq (mv_problem_vectors_d (V, W, Vt, Wt, pb), MV_OK);
  ck_assert_int_eq (mv_ffi_loss_vec (info2, NULL, 0, NULL, NULL, V, W, Vt, Wt, 30, 0, ws,
                                     prec), MV_OK);
  MV_CHECK_CLOSE_D (info2[MV_FFI_LOSS_VALUE], info[MV_FFI_LOSS_VALUE], 1e-14, 0,
                    "MPFR loss of the double vectors vs of the spec's");
  free (mV), free (mW);
  mpfr_clear (L);
  mv_loss_free (ws);
  mv_ffi_problem_free (pb);
}
END_TEST

START_TEST (t_run_equals_flow)
{
  mv_problem *pb = problem ();
  mv_traj *tr = mv_ffi_traj_alloc ();
  ck_assert_int_eq (mv_ffi_run (tr, pb, "{\"method\": \"reduced\", \"t_end\": 4, \"n_out\": 7,"
                                " \"gram0\": \"auto\"}", NULL, 0), MV_OK);
  /* what cmd_flow.c does */
  size_t n = 12;
  double G[144], nr[12];
  char how[64];
  mv_traj ref;
  mv_flow_params p;
  mv_flow_params_default (&p);
  p.t_end = 4, p.n_out = 7, p.reg = &pb->reg;
  ck_assert_int_eq (mv_traj_init (&ref, 4, 2), MV_OK);
  ck_assert_int_eq (mv_flow_gram0 (G, nr, how, sizeof how, pb, MV_GRAM0_AUTO), MV_OK);
  ck_assert_int_eq (mv_flow_reduced (&ref, G, nr, 4, 2, 0, &p), MV_OK);
  size_t dims[6];
  mv_ffi_traj_shape (dims, tr);
  ck_assert (dims[0] == ref.rows && dims[1] == 4 && dims[2] == 2 && dims[3] == n
             && dims[4] == 0 && dims[5] == MV_TRAJ_DONE);
  double *t = malloc (ref.rows * sizeof *t), *loss = malloc (ref.rows * sizeof *loss);
  double *al = malloc (ref.rows * 8 * sizeof *al), *gm = malloc (ref.rows * 144 * sizeof *gm);
  mv_ffi_traj_columns (t, loss, NULL, NULL, tr);
  ck_assert (!memcmp (t, ref.t, ref.rows * sizeof *t));
  ck_assert (!memcmp (loss, ref.loss, ref.rows * sizeof *t));
  mv_ffi_traj_align (al, tr, MV_ALIGN_EXPERT);
  mv_ffi_traj_gram (gm, tr);
  for (size_t r = 0; r < ref.rows; r++)
    {
      ck_assert (!memcmp (gm + r * 144, mv_traj_gram (&ref, r), 144 * sizeof *gm));
      for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 2; j++)
          ck_assert (al[(r * 4 + i) * 2 + j] == mv_traj_align (&ref, r, MV_ALIGN_EXPERT, i, j));
    }
  ck_assert_int_eq (mv_ffi_traj_final_state (gm, tr), 0);
  char *ev = mv_traj_events_json (tr), *ev2 = mv_traj_events_json (&ref);
  ck_assert_str_eq (ev, ev2);
  free (ev), free (ev2);
  /* a bad run object names the spec and the key */
  mv_ffi_traj_free (tr);
  tr = mv_ffi_traj_alloc ();
  ck_assert_int_eq (mv_ffi_run (tr, pb, "{\"method\": \"reduced\", \"t_end\": 1, \"rtol\": -1}",
                                NULL, 0), MV_EINVAL);
  ck_assert_ptr_nonnull (strstr (mv_error_message (), "spec: run.rtol"));
  ck_assert_int_eq (mv_ffi_run (tr, pb, "{\"method\": ", NULL, 0), MV_EPARSE);
  free (t), free (loss), free (al), free (gm);
  mv_traj_clear (&ref);
  mv_ffi_traj_free (tr);
  mv_ffi_problem_free (pb);
}
END_TEST

START_TEST (t_run_interrupt_and_sgd)
{
  mv_problem *pb = problem ();
  mv_traj *tr = mv_ffi_traj_alloc ();
  volatile sig_atomic_t stop = 1;   /* set before the start: stops at once */
  ck_assert_int_eq (mv_ffi_run (tr, pb, "{\"method\": \"full\", \"t_end\": 2}", &stop, 0),
                    MV_OK);
  size_t dims[6];
  mv_ffi_traj_shape (dims, tr);
  ck_assert_int_eq ((int) dims[5], MV_TRAJ_INTERRUPTED);
  ck_assert_uint_ge (dims[0], 1);
  mv_ffi_traj_free (tr);
  tr = mv_ffi_traj_alloc ();
  ck_assert_int_eq (mv_ffi_run (tr, pb, "{\"method\": \"sgd\", \"lr\": 0.01, \"batch\": 8,"
                                " \"steps\": 50, \"n_out\": 4}", NULL, 0), MV_OK);
  mv_ffi_traj_shape (dims, tr);
  ck_assert (dims[5] == MV_TRAJ_DONE && dims[4] == 30);
  double st[240];
  ck_assert_int_eq (mv_ffi_traj_final_state (st, tr), 1);
  ck_assert (!memcmp (st, tr->final_state, sizeof st));
  mv_ffi_traj_free (tr);
  mv_ffi_problem_free (pb);
}
END_TEST

START_TEST (t_mc_coeffs)
{
  mv_problem *pb = problem ();
  double out[5], gV[120], gW[120], sV[120], sW[120];
  ck_assert_int_eq (mv_ffi_mc (out, gV, gW, sV, sW, pb, 4096, 32, 7), MV_OK);
  mv_mc_result r;
  mv_mc_params par;
  mv_mc_params_default (&par);
  par.samples = 4096, par.batches = 32, par.seed = 7, par.want_grad = 1;
  ck_assert_int_eq (mv_mc_result_init (&r, 4, 30, 1), MV_OK);
  ck_assert_int_eq (mv_mc_estimate (&r, pb, &par), MV_OK);
  ck_assert (out[0] == r.loss && out[1] == r.loss_se && out[2] == 4096 && out[3] == 32);
  ck_assert (!memcmp (gV, r.gV, sizeof gV) && !memcmp (sW, r.gW_se, sizeof sW));
  mv_mc_result_clear (&r);
  ck_assert_int_eq (mv_ffi_mc (out, NULL, NULL, NULL, NULL, pb, 0, 0, 1), MV_EINVAL);
  mv_ffi_problem_free (pb);

  double c[12];
  long dg[12];
  char *text;
  ck_assert_int_eq (mv_ffi_coeffs (c, dg, &text, 11, 96), MV_OK);
  mv_hermite_table *t = mv_hermite_table_alloc (11, 96);
  const char *line = text;
  for (unsigned k = 0; k <= 11; k++)
    {
      long d = mv_hermite_coeff_digits (t->c[k], &t->relerr[k]);
      char *cs = mv_io_mpfr_str (t->c[k], d > 1 ? (int) d : 1);
      ck_assert (dg[k] == d && c[k] == mpfr_get_d (t->c[k], MPFR_RNDN));
      ck_assert (!strncmp (line, cs, strlen (cs)) && line[strlen (cs)] == '\t');
      free (cs);
      line = strchr (line, '\n') + 1;
    }
  ck_assert (*line == '\0');
  mv_ffi_free (text);
  mv_hermite_table_free (t);
  ck_assert_int_eq (mv_ffi_coeffs (c, dg, &text, 3, 4000), MV_EPREC);
  ck_assert_ptr_null (text);
}
END_TEST

START_TEST (t_sweep_check_regress)
{
  char *text = mv_io_read_file (mv_test_data ("sweep_small.json"), NULL);
  mv_sweep *sw;
  ck_assert_int_eq (mv_sweep_parse (&sw, text, "sweep_small.json"), MV_OK);
  char *row;
  ck_assert_int_eq (mv_ffi_sweep_task (&row, sw, 3), MV_OK);
  mv_sweep_row r;
  ck_assert_int_eq (mv_sweep_row_init (&r, 0), MV_OK);
  ck_assert_int_eq (mv_sweep_run_task (&r, sw, 3, NULL), MV_OK);
  char *want = mv_sweep_row_json (sw, &r);
  /* equal but for the wall time: cut both at "wall_seconds" */
  ck_assert_ptr_nonnull (strstr (row, "\"wall_seconds\""));
  *strstr (row, "\"wall_seconds\"") = '\0', *strstr (want, "\"wall_seconds\"") = '\0';
  ck_assert_str_eq (row, want);
  mv_ffi_free (row), free (want);
  mv_sweep_row_clear (&r);
  mv_sweep_free (sw);
  free (text);

  int worst;
  ck_assert_int_eq (mv_ffi_check (&worst, "identities,nosuch", 0, 0, "."), MV_EINVAL);
  ck_assert_ptr_nonnull (strstr (mv_error_message (), "check: nosuch: unknown claim (identities"));

  char path[4096];
  const char *top = getenv ("MV_TOP_SRCDIR");
  snprintf (path, sizeof path, "%s/data/reference/small-escape.json", top ? top : ".");
  text = mv_io_read_file (path, NULL);
  ck_assert_ptr_nonnull (text);
  char *res;
  ck_assert_int_eq (mv_ffi_regress (&res, text, "small-escape.json", 0, 0), MV_OK);
  ck_assert_ptr_nonnull (strstr (res, "\"passed\":true"));
  ck_assert_ptr_nonnull (strstr (res, "\"violations\":0"));
  mv_ffi_free (res);
  ck_assert_int_eq (mv_ffi_regress (&res, text, "small-escape.json", 1e-4, 1e-6), MV_OK);
  ck_assert_ptr_nonnull (strstr (res, "\"passed\":false"));
  mv_ffi_free (res);
  text[strlen (text) / 2] ^= 1;   /* the checksum no longer matches */
  ck_assert_int_ne (mv_ffi_regress (&res, text, "small-escape.json", 0, 0), MV_OK);
  ck_assert_ptr_null (res);
  free (text);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("ffi");
  TCase *tc = tcase_create ("core");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, t_loss_double);
  tcase_add_test (tc, t_loss_mpfr);
  tcase_add_test (tc, t_run_equals_flow);
  tcase_add_test (tc, t_run_interrupt_and_sgd);
  tcase_add_test (tc, t_mc_coeffs);
  tcase_add_test (tc, t_sweep_check_regress);
  suite_add_tcase (s, tc);
  return mv_test_run (s);
}
