/* The claim-check framework (check.h): result helpers, mv_check_run with
 * its timing and error verdicts, the claim table, and report writing
 * (report.md sections, report.json with null for NAN). */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include <moeverify/moeverify.h>
#include "check/prune.h"

static int
run_fails (mv_check_result *r, const mv_check_opts *o)
{
  (void) o;
  mv_check_measure_add (r, "partial", 1.0, 2.0, 1.0, NULL);
  return mv_error_set (MV_EDOM, "fake: went wrong at t = %g", 3.5);
}

static int
run_holds (mv_check_result *r, const mv_check_opts *o)
{
  (void) o;
  int s = mv_check_measure_add (r, "x | y", 0.25, 1.0, 0.75, "bound - value");
  if (!s)
    s = mv_check_measure_add (r, "not applicable", NAN, NAN, NAN, NULL);
  if (!s)
    s = mv_check_plot_add (r, "fake.svg");
  if (!s)
    s = mv_check_set_method (r, "%d points", 3);
  if (!s)
    s = mv_check_set_details (r, "| a | b |\n|---|---|\n| 1 | 2 |");
  if (!s)
    s = mv_check_set_verdict (r, MV_CHECK_HOLDS, "fine at %d digits", 12);
  return s;
}

static const mv_check_type fake_fails = { "fake-fails", "Fails", "S", "P", "proofs/x.md", 1,
                                          run_fails };
static const mv_check_type fake_holds = { "fake-holds", "A fake claim", "It holds.",
                                          "Made up.", "proofs/fake.md", 0, run_holds };

START_TEST (t_result_helpers)
{
  mv_check_result r;
  mv_check_result_init (&r, &fake_holds);
  ck_assert_int_eq (r.verdict, MV_CHECK_ERROR);   /* unfilled is not a pass */
  ck_assert_uint_eq (r.nm, 0);
  for (int i = 0; i < 20; i++)
    ck_assert_int_eq (mv_check_measure_add (&r, "m", i, 2 * i, i, "note %d", i), MV_OK);
  ck_assert_uint_eq (r.nm, 20);
  ck_assert_str_eq (r.m[19].note, "note 19");
  MV_CHECK_CLOSE_D (r.m[7].bound, 14.0, 0, 0, "bound kept");
  ck_assert_int_eq (mv_check_measure_add (&r, NULL, 1, 1, 1, NULL), MV_EINVAL);
  ck_assert_int_eq (mv_check_set_verdict (&r, 17, "x"), MV_EINVAL);
  ck_assert_int_eq (mv_check_set_verdict (&r, MV_CHECK_RANGE, "d < %d", 1000), MV_OK);
  ck_assert_str_eq (r.verdict_text, "d < 1000");
  ck_assert_int_eq (mv_check_plot_add (&r, "a.svg"), MV_OK);
  ck_assert_str_eq (r.plots[0], "a.svg");
  mv_check_result_clear (&r);
  ck_assert_uint_eq (r.nm, 0);
  ck_assert_ptr_null (r.verdict_text);
  ck_assert_ptr_eq (r.type, &fake_holds);
}
END_TEST

START_TEST (t_run)
{
  mv_check_opts o = { .level = MV_CHECK_QUICK, .dir = "." };
  mv_check_result r;
  ck_assert_int_eq (mv_check_run (&r, &fake_fails, &o), MV_EDOM);
  ck_assert_int_eq (r.verdict, MV_CHECK_ERROR);
  ck_assert_msg (strstr (r.verdict_text, "went wrong at t = 3.5"), "%s", r.verdict_text);
  ck_assert_str_eq (mv_error_message (), "fake: went wrong at t = 3.5");
  ck_assert_uint_eq (r.nm, 1);                    /* what was measured is kept */
  ck_assert_msg (r.wall_seconds >= 0 && r.wall_seconds < 10, "wall %g", r.wall_seconds);
  mv_check_result_clear (&r);
  ck_assert_int_eq (mv_check_run (&r, &fake_holds, &o), MV_OK);
  ck_assert_int_eq (r.verdict, MV_CHECK_HOLDS);
  mv_check_result_clear (&r);
}
END_TEST

START_TEST (t_table)
{
  size_t n = 0;
  while (mv_check_type_get (n))
    {
      const mv_check_type *t = mv_check_type_get (n);
      ck_assert_msg (t->name && t->title && t->statement && t->provenance && t->proof && t->run,
                     "claim %zu incomplete", n);
      ck_assert_ptr_eq (mv_check_find (t->name), t);
      for (size_t j = 0; j < n; j++)
        ck_assert_str_ne (mv_check_type_get (j)->name, t->name);
      n++;
    }
  ck_assert_uint_ge (n, 2);
  ck_assert_ptr_nonnull (mv_check_find ("identities"));
  ck_assert_int_eq (mv_check_find ("identities")->exact, 1);
  ck_assert_int_eq (mv_check_find ("mc-path")->exact, 0);
  ck_assert_ptr_null (mv_check_find ("no-such-claim"));
  ck_assert_ptr_null (mv_check_find (NULL));
  ck_assert_ptr_null (mv_check_type_get (n + 5));
}
END_TEST

START_TEST (t_report)
{
  char dir[] = "/tmp/mv_test_check.XXXXXX";
  ck_assert_ptr_nonnull (mkdtemp (dir));
  mv_check_opts o = { .level = MV_CHECK_DEFAULT, .seeds = 4, .dir = dir };
  mv_check_result r[2];
  mv_check_run (&r[0], &fake_holds, &o);
  mv_check_run (&r[1], &fake_fails, &o);
  ck_assert_int_eq (mv_check_report_write (r, 2, &o), MV_OK);
  char path[256];
  snprintf (path, sizeof path, "%s/report.json", dir);
  json_error_t e;
  json_t *doc = json_load_file (path, 0, &e);
  ck_assert_msg (doc != NULL, "report.json: %s", e.text);
  ck_assert_str_eq (json_string_value (json_object_get (doc, "level")), "default");
  ck_assert_int_eq (json_integer_value (json_object_get (doc, "seeds")), 4);
  ck_assert (json_is_false (json_object_get (doc, "exact_claims_hold")));
  json_t *c0 = json_array_get (json_object_get (doc, "claims"), 0);
  ck_assert_str_eq (json_string_value (json_object_get (c0, "verdict")), "holds");
  json_t *ms = json_object_get (c0, "measurements");
  MV_CHECK_CLOSE_D (json_real_value (json_object_get (json_array_get (ms, 0), "value")), 0.25,
                    0, 0, "value in JSON");
  json_t *na = json_array_get (ms, 1);
  ck_assert (json_is_null (json_object_get (na, "value")));
  ck_assert (json_is_null (json_object_get (na, "bound")));
  ck_assert (json_is_null (json_object_get (na, "note")));
  json_t *c1 = json_array_get (json_object_get (doc, "claims"), 1);
  ck_assert_str_eq (json_string_value (json_object_get (c1, "verdict")), "error");
  json_decref (doc);
  snprintf (path, sizeof path, "%s/report.md", dir);
  char *md = mv_io_read_file (path, NULL);
  ck_assert_ptr_nonnull (md);
  ck_assert_msg (strstr (md, "## A fake claim (`fake-holds`)"), "section missing");
  ck_assert_msg (strstr (md, "## Fails (`fake-fails`)"), "section missing");
  ck_assert_msg (strstr (md, "| x \\| y | 0.25 | 1 | 0.75 | bound - value |"), "row missing");
  ck_assert_msg (strstr (md, "![fake.svg](fake.svg)"), "plot missing");
  ck_assert_msg (strstr (md, "| 1 | 2 |"), "details missing");
  free (md);
  mv_check_result_clear (&r[0]), mv_check_result_clear (&r[1]);
  snprintf (path, sizeof path, "rm -rf '%s'", dir);
  ck_assert_int_eq (system (path), 0);
}
END_TEST

/* ------------------------------------------------------------ scans */

#define SCAN \
  "{\"base\": {\"d\": 50, \"teacher\": {\"m\": 1, \"init\": {\"kind\": " \
  "\"orthonormal\", \"seed\": 1}}, \"student\": {\"m\": 2, \"init\": {\"kind\": " \
  "\"gaussian\", \"seed\": 2}}}, \"grid\": {\"student.init.seed\": [2, 3, 4]}, " \
  "\"run\": {\"method\": \"reduced\", \"t_end\": 3, \"n_out\": 4}}"

typedef struct {
  size_t calls;
  const char *name;
} hook_ctx;

/* A scan hook that runs the tasks last to first, as another engine might. */
static int
reverse_hook (void *ctx, mv_sweep_row *rows, const mv_sweep *sw, const char *text,
              const char *name)
{
  hook_ctx *h = ctx;
  h->calls++, h->name = name;
  ck_assert_msg (strstr (text, "student.init.seed"), "hook got: %s", text);
  for (size_t t = mv_sweep_ntasks (sw); t-- > 0;)
    {
      int s = mv_sweep_run_task (&rows[t], sw, t, NULL);
      if (s)
        return s;
    }
  return MV_OK;
}

static int
failing_hook (void *ctx, mv_sweep_row *rows, const mv_sweep *sw, const char *text,
              const char *name)
{
  (void) ctx, (void) rows, (void) sw, (void) text;
  return mv_error_set (MV_EIO, "%s: engine went away", name);
}

/* The rows of a scan do not depend on who runs it: the hook's rows equal
 * the in-process ones field by field (wall time aside); a hook's error is
 * the scan's. */
START_TEST (t_scan)
{
  mv_check_opts o = { .level = MV_CHECK_QUICK };
  mv_sweep_row *a, *b;
  size_t na, nb;
  ck_assert_int_eq (mv_check_scan (&a, &na, SCAN, "t-scan", &o), MV_OK);
  hook_ctx h = { 0, NULL };
  o.scan = reverse_hook, o.scan_ctx = &h;
  ck_assert_int_eq (mv_check_scan (&b, &nb, SCAN, "t-scan", &o), MV_OK);
  ck_assert_uint_eq (h.calls, 1);
  ck_assert_str_eq (h.name, "t-scan");
  ck_assert_uint_eq (na, 3);
  ck_assert_uint_eq (nb, 3);
  for (size_t t = 0; t < na; t++)
    {
      ck_assert_int_eq (a[t].status, MV_TRAJ_DONE);
      ck_assert_msg (a[t].task == t && b[t].task == t, "task %zu: %zu, %zu", t, a[t].task,
                     b[t].task);
      ck_assert_msg (a[t].loss == b[t].loss && a[t].t_final == b[t].t_final
                     && a[t].steps == b[t].steps && a[t].state[0] == b[t].state[0],
                     "task %zu: loss %.17g vs %.17g, steps %lu vs %lu", t, a[t].loss,
                     b[t].loss, a[t].steps, b[t].steps);
    }
  /* different seeds: different runs */
  ck_assert_msg (a[0].loss != a[1].loss, "seeds 2 and 3 gave loss %.17g", a[0].loss);
  mv_check_scan_free (a, na), mv_check_scan_free (b, nb);
  o.scan = failing_hook;
  ck_assert_int_eq (mv_check_scan (&a, &na, SCAN, "t-scan", &o), MV_EIO);
  ck_assert_ptr_null (a);
  ck_assert_str_eq (mv_error_message (), "t-scan: engine went away");
  /* a bad scan text is an error naming the scan */
  ck_assert_int_ne (mv_check_scan (&a, &na, "{\"base\": 1}", "t-bad", &o), MV_OK);
  ck_assert_msg (strstr (mv_error_message (), "t-bad"), "%s", mv_error_message ());
}
END_TEST

/* Pruning rules on a hand-made end state: 5 students, 3 teachers, each
 * rule's pick known by construction.  Teacher 0: combined (0.60 + 0.90)
 * beats router-led s0 (0.95 + 0.50) and expert-led s1 (0.40 + 0.99); the
 * heaviest attached expert is s3 (|-0.35| >= 0.3, norm 2), not the
 * heavier s4 (|0.29| < 0.3).  Teacher 1: s4 by every rule.  Teacher 2: no
 * attached expert, so norm falls back to the best expert alignment. */
static const double pr_ra[15] = { .95, 0, .8, .40, 0, 0, .60, 0, 0, .10, 0, 0, 0, .9, 0 };
static const double pr_ea[15] = { .50, .05, .1, .99, .05, .2, .90, .05, .25, -.35, .05, -.29,
                                  .29, .95, 0 };
static const double pr_wn[5] = { 1.0, 1.2, 0.9, 2.0, 9.0 };

/* Measurement name -> entry of r (NULL if absent). */
static const mv_check_measure *
measure_find (const mv_check_result *r, const char *name)
{
  for (size_t i = 0; i < r->nm; i++)
    if (!strcmp (r->m[i].name, name))
      return &r->m[i];
  return NULL;
}

/* Claim "specialize" at the quick level, in this process (serial scan):
 * its sub-checks reproduce the documented findings, the exact ones are
 * exactly 0, and the least cos(∇L, ∇L_o) it reports is recomputed from the
 * kept trajectories point by point (mv_spec_point_d on each row). */
START_TEST (t_specialize)
{
  char dir[] = "/tmp/mv_test_check.XXXXXX";
  ck_assert_ptr_nonnull (mkdtemp (dir));
  mv_check_opts o = { .level = MV_CHECK_QUICK, .dir = dir };
  mv_check_result r;
  ck_assert_int_eq (mv_check_run (&r, mv_check_find ("specialize"), &o), MV_OK);
  ck_assert_msg (r.verdict == MV_CHECK_HOLDS, "%s", r.verdict_text);
  ck_assert_uint_eq (r.nm, 7);
  const char *exact[] = { "|L_aux - m^2/4|, max over points",
                          "|grad L_aux| (largest raw component)",
                          "|<grad L_o, grad L_v>| (raw), max over points" };
  for (size_t k = 0; k < 3; k++)
    {
      const mv_check_measure *x = measure_find (&r, exact[k]);
      ck_assert_msg (x && x->value == 0 && x->bound == 0, "%s: %.17g", exact[k],
                     x ? x->value : NAN);
    }
  const mv_check_measure *z = measure_find (&r, "Monte Carlo L_aux: max |z| against m^2/4");
  ck_assert_msg (z && z->value > 0 && z->value <= 4, "max |z| %g", z ? z->value : NAN);
  const mv_check_measure *co = measure_find (&r, "min cos(grad L, grad L_o), plain flows");
  const mv_check_measure *cv = measure_find (&r, "min cos(grad L, grad L_v), plain flows");
  const mv_check_measure *es = measure_find (&r, "mean escape time: beta 0.1 minus beta 0");
  ck_assert_ptr_eq (co, &r.m[0]);        /* the key measurement */
  ck_assert_msg (co->value < -0.5 && cv && cv->value < 0 && es && es->value <= 0,
                 "cos L,L_o %g, cos L,L_v %g, escape difference %g", co->value,
                 cv ? cv->value : NAN, es ? es->value : NAN);
  /* tasks 0, 1 of the scan: beta 0, seeds 1, 2 */
  double least = INFINITY;
  for (size_t t = 0; t < 2; t++)
    {
      char path[512];
      mv_check_scan_task_dir (path, sizeof path, &o, "specialize-d50-m4", t);
      mv_traj tr;
      ck_assert_int_eq (mv_traj_read (&tr, path), MV_OK);
      mv_spec_ws *ws = mv_spec_alloc (tr.m, tr.mstar);
      ck_assert_ptr_nonnull (ws);
      for (size_t row = 0; row < tr.rows; row++)
        {
          double cos[MV_SPEC_NOBJ * MV_SPEC_NOBJ];
          ck_assert_int_eq (mv_spec_point_d (NULL, NULL, NULL, cos, mv_traj_gram (&tr, row),
                                             tr.norms0, 0.0, ws), MV_OK);
          double c = cos[MV_SPEC_FIT * MV_SPEC_NOBJ + MV_SPEC_ORTHO];
          if (isfinite (c))
            least = fmin (least, c);
        }
      mv_spec_free (ws);
      mv_traj_clear (&tr);
    }
  MV_CHECK_CLOSE_D (co->value, least, 0, 1e-15, "least cos(grad L, grad L_o)");
  char path[512];
  snprintf (path, sizeof path, "%s/specialize-cos.svg", dir);
  ck_assert_int_eq (access (path, R_OK), 0);
  mv_check_result_clear (&r);
  snprintf (path, sizeof path, "rm -rf '%s'", dir);
  ck_assert_int_eq (system (path), 0);
}
END_TEST

START_TEST (t_prune_rules)
{
  static const struct { const char *name; size_t sel[3]; } want[] = {
    { "combined", { 2, 4, 0 } }, { "expert", { 1, 4, 2 } },
    { "router", { 0, 4, 0 } }, { "norm", { 3, 4, 2 } },
  };
  ck_assert_ptr_eq (mv_prune_rule_find (NULL), mv_prune_rule_get (0));
  ck_assert_str_eq (mv_prune_rule_get (0)->name, "combined");
  for (size_t k = 0; k < sizeof want / sizeof want[0]; k++)
    {
      const mv_prune_rule_type *r = mv_prune_rule_find (want[k].name);
      ck_assert_msg (r && r->description && r->select, "rule %s missing", want[k].name);
      size_t sel[3] = { 99, 99, 99 };
      r->select (sel, pr_ra, pr_ea, pr_wn, 5, 3);
      for (size_t j = 0; j < 3; j++)
        ck_assert_msg (sel[j] == want[k].sel[j], "rule %s, teacher %zu: kept %zu, want %zu",
                       want[k].name, j, sel[j], want[k].sel[j]);
    }
  for (size_t i = 0; mv_prune_rule_get (i); i++)
    ck_assert_ptr_eq (mv_prune_rule_find (mv_prune_rule_get (i)->name), mv_prune_rule_get (i));
  ck_assert_ptr_null (mv_prune_rule_find ("no-such-rule"));
}
END_TEST

/* An unknown rule is an error of the claim, naming the rules, before any
 * flow is run. */
START_TEST (t_prune_rule_unknown)
{
  mv_check_opts o = { .level = MV_CHECK_QUICK, .prune_rule = "no-such-rule" };
  mv_check_result r;
  ck_assert_int_eq (mv_check_run (&r, mv_check_find ("prune"), &o), MV_EINVAL);
  ck_assert_int_eq (r.verdict, MV_CHECK_ERROR);
  ck_assert_msg (strstr (r.verdict_text, "unknown pruning rule 'no-such-rule' (rules: combined, "),
                 "%s", r.verdict_text);
  ck_assert_msg (r.wall_seconds < 1, "no flow before the rule is known: %g s", r.wall_seconds);
  mv_check_result_clear (&r);
}
END_TEST

/* proofs/claim-prune.md: at the optimum, the decay rates of the reduced
 * flow's Jacobian are the in-span eigenvalues of the Riemannian Hessian
 * (flow metric) and the pairwise sums of its out-of-span ones.  Two
 * independent closed forms: the reduced flow's analytic Jacobian, and the
 * raw Hessian (chain rule on the Gram Hessian).  Unequal raw norms make the
 * metric factors 1/|u|^2 matter; the second teacher has router-expert
 * cross-overlaps (an optimum all the same: student = teacher). */
START_TEST (t_prune_spectrum)
{
  enum { MS = 3, Q = 4 * MS, NV = MV_PRUNE_NV (MS) };
  for (int cross = 0; cross < 2; cross++)
    {
      double Gp[Q * Q], Gs[Q * Q], norms[Q], jr[NV], pred[NV];
      double hin[MV_PRUNE_NIN (MS)], hout[MV_PRUNE_NOUT (MS)], im;
      for (size_t a = 0; a < Q; a++)
        {
          norms[a] = 0.6 + 0.17 * a;
          for (size_t b = 0; b < Q; b++)
            Gp[a * Q + b] = a == b;
        }
      for (size_t j = 0; cross && j < MS; j++)   /* v*_j . w*_j */
        Gp[(2 * MS + j) * Q + 3 * MS + j] = Gp[(3 * MS + j) * Q + 2 * MS + j] = 0.3 - 0.1 * j;
      mv_prune_optimum (Gs, Gp, NULL, MS);
      ck_assert_int_eq (mv_prune_jacobian_rates (jr, &im, Gs, norms, MS), MV_OK);
      ck_assert_int_eq (mv_prune_hessian (hin, hout, Gs, norms, MS), MV_OK);
      mv_prune_predicted_rates (pred, hin, hout, MS);
      ck_assert_msg (hin[0] > 0 && hout[0] > 0, "optimum not strict: %g %g", hin[0], hout[0]);
      ck_assert_msg (im < 1e-10 * pred[NV - 1], "J has complex rates: |Im| %g", im);
      for (size_t k = 0; k < NV; k++)
        ck_assert_msg (fabs (jr[k] - pred[k]) <= 1e-10 * pred[NV - 1],
                       "cross %d, rate %zu: Jacobian %.17g, Hessian %.17g", cross, k, jr[k],
                       pred[k]);
    }
}
END_TEST

/* The pruned model written as a spec realises its Gram matrix and norms:
 * the spec's own Gram matrix (mv_problem_gram_d) against the one given. */
START_TEST (t_prune_spec)
{
  enum { MS = 2, Q = 4 * MS };
  /* a Gram matrix of Q unit vectors in general position */
  double X[Q][Q], Gp[Q * Q], nr[Q] = { 1.5, 0.7, 2.0, 1.1, 1, 1, 1, 1 };
  for (size_t a = 0; a < Q; a++)
    {
      double n2 = 0;
      for (size_t b = 0; b < Q; b++)
        X[a][b] = (a == b ? 2.0 : 0.0) + sin (1.0 + 3.0 * a + 7.0 * b), n2 += X[a][b] * X[a][b];
      for (size_t b = 0; b < Q; b++)
        X[a][b] /= sqrt (n2);
    }
  for (size_t a = 0; a < Q; a++)
    for (size_t b = 0; b < Q; b++)
      {
        double g = 0;
        for (size_t c = 0; c < Q; c++)
          g += X[a][c] * X[b][c];
        Gp[a * Q + b] = a == b ? 1 : g;
      }
  char path[] = "/tmp/test_prune_spec_XXXXXX";
  int fd = mkstemp (path);
  ck_assert_int_ge (fd, 0);
  close (fd);
  ck_assert_int_eq (mv_prune_write_spec (path, Gp, nr, MS, "test"), MV_OK);
  size_t len;
  char *text = mv_io_read_file (path, &len);
  mv_problem pb;
  ck_assert_msg (text && mv_problem_parse (&pb, text, path) == MV_OK, "%s", mv_error_message ());
  double G[Q * Q], norms[Q];
  ck_assert_int_eq (mv_problem_gram_d (G, norms, &pb), MV_OK);
  for (size_t a = 0; a < Q; a++)
    {
      if (a < 2 * MS)
        MV_CHECK_CLOSE_D (norms[a], nr[a], 1e-14, 0, "student norm");
      for (size_t b = 0; b < Q; b++)
        MV_CHECK_CLOSE_D (G[a * Q + b], Gp[a * Q + b], 0, 1e-14, "Gram entry");
    }
  mv_problem_clear (&pb);
  free (text);
  unlink (path);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("check");
  TCase *tc = tcase_create ("framework");
  tcase_add_test (tc, t_result_helpers);
  tcase_add_test (tc, t_run);
  tcase_add_test (tc, t_table);
  tcase_add_test (tc, t_report);
  tcase_add_test (tc, t_scan);
  tcase_add_test (tc, t_specialize);
  suite_add_tcase (s, tc);
  TCase *tp = tcase_create ("prune");
  tcase_add_test (tp, t_prune_rules);
  tcase_add_test (tp, t_prune_rule_unknown);
  tcase_add_test (tp, t_prune_spectrum);
  tcase_add_test (tp, t_prune_spec);
  suite_add_tcase (s, tp);
  return mv_test_run (s);
}
