/* Reference files and the regression check (regress.h): the checksum
 * against an independent FNV-1a; a reference written from a tight GSL run
 * reads back and a looser fast path passes it; a changed digit, a missing
 * key, a wrong checksum and a cut file are each one-line errors naming
 * the file and the key (or the quantity and its deviation). */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <moeverify/moeverify.h>

#define SPEC "{\"d\": 4, \"teacher\": {\"m\": 1, \"V\": [[1, 0, 0, 0]], \"W\": [[0, 1, 0, 0]]}, " \
  "\"student\": {\"m\": 1, \"V\": [[0, 0, 1, 0]], \"W\": [[0, 0.2, 0, 0.9797958971132712]]}}"

/* A reference file's text: the reduced flow at rtol 1e-13 (the values
 * printed with 17 digits), checked against rk8pd at rtol rtol. */
static char *
make_reference (double rtol)
{
  static const double times[] = { 0.25, 0.5, 1, 2 };
  mv_problem pb;
  ck_assert_int_eq (mv_problem_parse (&pb, SPEC, "spec"), MV_OK);
  double G[64], nr[8];
  mv_traj tr;
  ck_assert_int_eq (mv_traj_init (&tr, 1, 1), MV_OK);
  ck_assert_int_eq (mv_flow_gram0 (G, nr, NULL, 0, &pb, MV_GRAM0_VECTORS), MV_OK);
  mv_flow_params p;
  mv_flow_params_default (&p);
  p.rtol = 1e-13, p.atol = 1e-15, p.t_end = 2, p.times = times, p.n_times = 4;
  ck_assert_int_eq (mv_flow_reduced (&tr, G, nr, 1, 1, 0.0, &p), MV_OK);
  size_t nc = 2 + mv_traj_gram_columns (1, 1, NULL), kl[64];
  mv_traj_gram_columns (1, 1, kl);
  static char tbuf[5][32], vbuf[5 * 16][32];
  const char *t[5], *v[5 * 16];
  ck_assert (nc <= 16 && tr.rows == 5);
  for (size_t i = 0; i < tr.rows; i++)
    {
      snprintf (tbuf[i], 32, "%.17g", tr.t[i]), t[i] = tbuf[i];
      for (size_t c = 0; c < nc; c++)
        {
          double x = c == 0 ? tr.loss[i] : c == 1 ? tr.grad2[i]
                     : mv_traj_gram (&tr, i)[kl[2 * (c - 2)] * tr.n + kl[2 * (c - 2) + 1]];
          snprintf (vbuf[i * nc + c], 32, "%.17g", x), v[i * nc + c] = vbuf[i * nc + c];
        }
    }
  mv_regress_data d = { "test", SPEC, MV_GRAM0_VECTORS, "{\"integrator\": \"rk8pd rtol 1e-13\"}",
                    "rk8pd", rtol, 1e-14,
                    { { 1e-7, 1e-12 }, { 1e-7, 1e-12 }, { 0, 1e-8 } }, tr.rows, t, v };
  char *text = mv_regress_format (&d, "ref.json");
  ck_assert_msg (text != NULL, "%s", mv_error_message ());
  mv_traj_clear (&tr);
  mv_problem_clear (&pb);
  return text;
}

START_TEST (t_checksum)
{
  char sum[32];
  /* FNV-1a 64 of {"a":1}, computed independently (Python) */
  ck_assert_int_eq (mv_regress_checksum (sum, "{ \"a\" : 1, \"checksum\": \"x\" }"), MV_OK);
  ck_assert_str_eq (sum, "fnv1a64:9c3e82dd6fcae8b1");
  ck_assert_int_ne (mv_regress_checksum (sum, "[1]"), MV_OK);
}
END_TEST

START_TEST (t_round_trip)
{
  char *text = make_reference (1e-10);
  mv_regress_file *r;
  ck_assert_msg (mv_regress_parse (&r, text, "ref.json") == MV_OK, "%s", mv_error_message ());
  ck_assert_uint_eq (mv_regress_nrows (r), 5);
  ck_assert_str_eq (mv_regress_column (r, 0), "loss");
  ck_assert_str_eq (mv_regress_column (r, 2), "router_0_0");
  mv_regress_result res;
  ck_assert_msg (mv_regress_check (&res, r) == MV_OK, "%s", mv_error_message ());
  ck_assert_uint_eq (res.nvalues, 5 * mv_regress_ncols (r));
  const mv_regress_dev *w = &res.worst[0];
  ck_assert_msg (res.nviolations == 0, "%zu violations; worst col %zu t %g: %.17g vs %.17g "
                 "(tol %.3g)", res.nviolations, w->col, w->t, w->ref, w->got, w->tol);
  /* t = 0 is the same G(0): exact */
  for (size_t c = 2; c < mv_regress_ncols (r); c++)
    ck_assert_msg (res.worst_group[MV_REGRESS_GRAM].dev <= 1e-8, "gram dev %g",
                   res.worst_group[MV_REGRESS_GRAM].dev);
  mv_regress_free (r);
  free (text);
}
END_TEST

/* text with the first occurrence of from replaced by to (malloc'd). */
static char *
replace (const char *text, const char *from, const char *to)
{
  const char *p = strstr (text, from);
  ck_assert_msg (p != NULL, "'%s' not in the file", from);
  size_t n = strlen (text) + strlen (to) + 1;
  char *out = malloc (n);
  snprintf (out, n, "%.*s%s%s", (int) (p - text), text, to, p + strlen (from));
  return out;
}

/* Re-checksummed copy (a deliberate edit, not damage). */
static char *
resum (char *text)
{
  char sum[32];
  ck_assert_int_eq (mv_regress_checksum (sum, text), MV_OK);
  const char *p = strstr (text, "fnv1a64:");
  ck_assert_ptr_nonnull (p);
  char old[32];
  snprintf (old, sizeof old, "%.24s", p);
  char *out = replace (text, old, sum);
  free (text);
  return out;
}

static void
parse_fails (const char *text, const char *want1, const char *want2)
{
  mv_regress_file *r = (mv_regress_file *) 1;
  ck_assert_int_ne (mv_regress_parse (&r, text, "ref.json"), MV_OK);
  ck_assert_ptr_null (r);
  const char *m = mv_error_message ();
  ck_assert_msg (!strncmp (m, "ref.json: ", 10) && strstr (m, want1)
                 && (!want2 || strstr (m, want2)) && !strchr (m, '\n'),
                 "message '%s' lacks '%s' / '%s'", m, want1, want2 ? want2 : "");
}

START_TEST (t_damage)
{
  char *text = make_reference (1e-10);
  /* the loss at t = 0.25, one digit changed */
  const char *row1 = strstr (text, "\"0.25\"");
  ck_assert_ptr_nonnull (row1);
  const char *q = strstr (row1, "\"values\"");
  q = strchr (q, '"' ) ? strchr (q + 9, '"') : NULL;   /* opening quote of the first value */
  ck_assert_ptr_nonnull (q);
  char *bad = strdup (text);
  size_t pos = (size_t) (q - text) + 3;     /* its second digit after "0." or "1." */
  bad[pos] = bad[pos] == '9' ? '8' : (char) (bad[pos] + 1);
  parse_fails (bad, "checksum: does not match", NULL);
  /* the same edit with a new checksum: the comparison names the quantity */
  bad = resum (bad);
  mv_regress_file *r;
  ck_assert_int_eq (mv_regress_parse (&r, bad, "ref.json"), MV_OK);
  mv_regress_result res;
  ck_assert_int_eq (mv_regress_check (&res, r), MV_OK);
  ck_assert_msg (res.nviolations == 1 && res.worst[0].col == 0 && res.worst[0].t == 0.25,
                 "%zu violations, worst col %zu at t %g", res.nviolations, res.worst[0].col,
                 res.worst[0].t);
  mv_regress_free (r);
  free (bad);
  /* a missing key, re-checksummed */
  bad = resum (replace (text, "\"rtol\"", "\"rtolx\""));
  parse_fails (bad, "fast.rtol", "missing key");
  free (bad);
  /* a value that is not a decimal */
  bad = resum (replace (text, "\"0.25\"", "\"0x1p-2\""));
  parse_fails (bad, "rows[1].t", NULL);
  free (bad);
  /* cut in the middle */
  text[strlen (text) / 2] = '\0';
  parse_fails (text, "not a JSON object", "truncated");
  free (text);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("regress");
  TCase *tc = tcase_create ("reference files");
  tcase_add_test (tc, t_checksum);
  tcase_add_test (tc, t_round_trip);
  tcase_add_test (tc, t_damage);
  suite_add_tcase (s, tc);
  return mv_test_run (s);
}
