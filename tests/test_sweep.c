/* Parameter sweeps: parse errors (each naming its key), task expansion and
 * task specs, running a task against the flow run directly, failed tasks,
 * the CSV / JSON row formats. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <moeverify/moeverify.h>

#define BASE \
  "\"base\": {\"d\": 20, \"teacher\": {\"m\": 1, \"init\": {\"kind\": " \
  "\"orthonormal\", \"seed\": 3}}, \"student\": {\"m\": 2, \"init\": " \
  "{\"kind\": \"gaussian\", \"seed\": 4}}}"
#define RUN "\"run\": {\"method\": \"reduced\", \"t_end\": 2}"

static mv_sweep *
parse_ok (const char *text)
{
  mv_sweep *sw;
  int s = mv_sweep_parse (&sw, text, "sweep.json");
  ck_assert_msg (s == MV_OK, "%s", mv_error_message ());
  ck_assert_ptr_nonnull (sw);
  return sw;
}

/* parse fails and the message contains every one of want (NULL-ended) */
static void
parse_fails (const char *text, const char *want1, const char *want2)
{
  mv_sweep *sw = (mv_sweep *) 1;
  int s = mv_sweep_parse (&sw, text, "sweep.json");
  ck_assert_msg (s != MV_OK, "parsed: %s", text);
  ck_assert_ptr_null (sw);
  const char *m = mv_error_message ();
  ck_assert_msg (!strncmp (m, "sweep.json: ", 12), "message: %s", m);
  ck_assert_msg (strstr (m, want1), "'%s' not in: %s", want1, m);
  ck_assert_msg (!want2 || strstr (m, want2), "'%s' not in: %s", want2, m);
  ck_assert_msg (!strchr (m, '\n'), "not one line: %s", m);
}

START_TEST (test_unknown_path)
{
  parse_fails ("{" BASE ", \"grid\": {\"student.init.sed\": [1, 2]}, " RUN "}",
               "grid.student.init.sed: unknown path", NULL);
  parse_fails ("{" BASE ", \"grid\": {\"student.nope.seed\": [1]}, " RUN "}",
               "grid.student.nope.seed: unknown path", NULL);
  parse_fails ("{" BASE ", \"grid\": {\"dd\": [1]}, " RUN "}",
               "grid.dd: unknown path", NULL);
  parse_fails ("{" BASE ", \"grid\": {\"d.x\": [1]}, " RUN "}",
               "grid.d.x: unknown path", NULL);
  parse_fails ("{" BASE ", \"grid\": {\"student..seed\": [1]}, " RUN "}",
               "grid.student..seed: unknown path", NULL);
  parse_fails ("{" BASE ", \"grid\": {\"student\": [{\"m\": 1, \"init\": "
               "{\"kind\": \"gaussian\", \"seed\": 1}}], \"student.m\": [1]}, "
               RUN "}", "grid.student.m: overlaps grid.student", NULL);
}
END_TEST

START_TEST (test_empty_axis)
{
  parse_fails ("{" BASE ", \"grid\": {\"d\": [20], \"student.init.seed\": []}, "
               RUN "}", "grid.student.init.seed: empty list", NULL);
  parse_fails ("{" BASE ", \"grid\": {\"d\": 5}, " RUN "}",
               "grid.d: expected a list", NULL);
}
END_TEST

START_TEST (test_bad_value)
{
  parse_fails ("{" BASE ", \"grid\": {\"d\": [20, 0]}, " RUN "}",
               "grid.d: value 0 makes the spec invalid: d:", NULL);
  parse_fails ("{" BASE ", \"grid\": {\"noise_var\": [0.5, -1]}, " RUN "}",
               "grid.noise_var: value -1 makes the spec invalid", "noise_var");
  parse_fails ("{" BASE ", \"grid\": {\"student.init.seed\": [1, \"x\"]}, "
               RUN "}", "grid.student.init.seed: value \"x\" makes the spec "
               "invalid", NULL);
  /* the base itself */
  parse_fails ("{\"base\": {\"d\": 0}, \"grid\": {}, " RUN "}", "base: ",
               "d");
  /* replacing an init block while G(0) is to be sampled */
  parse_fails ("{" BASE ", \"grid\": {\"student\": [{\"m\": 1, \"V\": "
               "[[1" ",0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]], \"W\": "
               "[[0,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]]}]}, " RUN "}",
               "grid.student: value", "run.gram0");
}
END_TEST

START_TEST (test_too_many_tasks)
{
  parse_fails ("{" BASE ", \"grid\": {\"d\": {\"from\": 1, \"to\": 2000}, "
               "\"student.init.seed\": {\"from\": 1, \"to\": 1000}}, " RUN "}",
               "grid.", "max_tasks");
  parse_fails ("{" BASE ", \"grid\": {\"student.init.seed\": {\"from\": 0, "
               "\"to\": 9000000000000000000}}, " RUN "}",
               "grid.student.init.seed:", "max_tasks");
  parse_fails ("{" BASE ", \"max_tasks\": 3, \"grid\": {\"d\": [20, 21], "
               "\"student.init.seed\": [1, 2]}, " RUN "}", "grid.",
               "max_tasks = 3");
  parse_fails ("{" BASE ", \"max_tasks\": 0, \"grid\": {}, " RUN "}",
               "max_tasks:", NULL);
  mv_sweep *sw = parse_ok ("{" BASE ", \"max_tasks\": 4, \"grid\": {\"d\": "
                           "[20, 21], \"student.init.seed\": [1, 2]}, " RUN "}");
  ck_assert_uint_eq (mv_sweep_ntasks (sw), 4);
  mv_sweep_free (sw);
}
END_TEST

START_TEST (test_bad_run)
{
  parse_fails ("{" BASE ", \"grid\": {}, \"run\": {\"method\": \"euler\", "
               "\"t_end\": 1}}", "run.method:", NULL);
  parse_fails ("{" BASE ", \"grid\": {}, \"run\": {\"t_end\": 1}}",
               "run.method: missing", NULL);
  parse_fails ("{" BASE ", \"grid\": {}, \"run\": {\"method\": \"reduced\"}}",
               "run.t_end: missing", NULL);
  parse_fails ("{" BASE ", \"grid\": {}, \"run\": {\"method\": \"sgd\", "
               "\"lr\": 0.1, \"batch\": 4}}", "run.steps: missing", NULL);
  parse_fails ("{" BASE ", \"grid\": {}, \"run\": {\"method\": \"reduced\", "
               "\"t_end\": 1, \"stepper\": \"nope\"}}", "run.stepper:", NULL);
  parse_fails ("{" BASE ", \"grid\": {}, \"run\": {\"method\": \"reduced\", "
               "\"t_end\": 1, \"times\": [0.5, 2]}}", "run:", "output times");
  parse_fails ("{" BASE ", \"grid\": {}, \"run\": {\"method\": \"reduced\", "
               "\"t_end\": -1}}", "run.t_end:", NULL);
}
END_TEST

START_TEST (test_unknown_keys)
{
  parse_fails ("{" BASE ", \"grid\": {}, \"run\": {\"method\": \"reduced\", "
               "\"t_end\": 1, \"tend\": 2}}", "run.tend: unknown key", NULL);
  parse_fails ("{" BASE ", \"grid\": {}, \"run\": {\"method\": \"reduced\", "
               "\"t_end\": 1, \"lr\": 2}}", "run.lr: not used by method", NULL);
  parse_fails ("{" BASE ", \"grid\": {}, \"jobs\": 2, " RUN "}",
               "jobs: unknown key", NULL);
  parse_fails ("{" BASE ", " RUN "}", "grid: missing key", NULL);
  parse_fails ("{" BASE ", \"grid\": {}, " RUN, "malformed JSON", NULL);
}
END_TEST

START_TEST (test_bad_range)
{
  parse_fails ("{" BASE ", \"grid\": {\"d\": {\"from\": 30, \"to\": 20}}, "
               RUN "}", "grid.d: range: from 30 > to 20", NULL);
  parse_fails ("{" BASE ", \"grid\": {\"d\": {\"from\": 20, \"to\": 30, "
               "\"step\": 0}}, " RUN "}", "grid.d: range: step 0", NULL);
  parse_fails ("{" BASE ", \"grid\": {\"d\": {\"from\": 20, \"to\": 30.5}}, "
               RUN "}", "grid.d: range: \"to\" must be an integer", NULL);
  parse_fails ("{" BASE ", \"grid\": {\"d\": {\"from\": 20, \"upto\": 30}}, "
               RUN "}", "grid.d: range: unknown key", NULL);
}
END_TEST

START_TEST (test_expand)
{
  mv_sweep *sw = parse_ok ("{" BASE ", \"grid\": {\"d\": {\"from\": 20, "
                           "\"to\": 40, \"step\": 10}, \"student.init.seed\": "
                           "[7, 8], \"noise_var\": [0.25]}, \"run\": "
                           "{\"method\": \"reduced\", \"t_end\": 3, \"rtol\": "
                           "1e-7, \"n_out\": 5}}");
  ck_assert_uint_eq (mv_sweep_ntasks (sw), 6);
  ck_assert_uint_eq (mv_sweep_naxes (sw), 3);
  ck_assert_str_eq (mv_sweep_axis_path (sw, 0), "d");
  ck_assert_str_eq (mv_sweep_axis_path (sw, 1), "student.init.seed");
  ck_assert_str_eq (mv_sweep_axis_path (sw, 2), "noise_var");
  static const char *const d[] = { "20", "20", "30", "30", "40", "40" };
  static const char *const seed[] = { "7", "8", "7", "8", "7", "8" };
  for (size_t t = 0; t < 6; t++)
    {
      ck_assert_str_eq (mv_sweep_task_value (sw, t, 0), d[t]);
      ck_assert_str_eq (mv_sweep_task_value (sw, t, 1), seed[t]);
      ck_assert_str_eq (mv_sweep_task_value (sw, t, 2), "0.25");
      char *spec = mv_sweep_task_spec (sw, t);
      ck_assert_ptr_nonnull (spec);
      char want[64];
      snprintf (want, sizeof want, "\"d\":%s,", d[t]);
      ck_assert_msg (strstr (spec, want), "%s not in %s", want, spec);
      snprintf (want, sizeof want, "\"seed\":%s}", seed[t]);
      ck_assert_msg (strstr (spec, want), "%s not in %s", want, spec);
      ck_assert_msg (strstr (spec, "\"noise_var\":0.25}"), "%s", spec);
      mv_problem pb;
      ck_assert_int_eq (mv_problem_parse (&pb, spec, "task"), MV_OK);
      ck_assert_uint_eq (pb.d, (size_t) atoi (d[t]));
      mv_problem_clear (&pb);
      free (spec);
    }
  ck_assert_ptr_null (mv_sweep_task_value (sw, 6, 0));
  ck_assert_ptr_null (mv_sweep_task_spec (sw, 6));
  ck_assert_int_eq (mv_sweep_method (sw), MV_SWEEP_REDUCED);
  ck_assert_int_eq (mv_sweep_gram0 (sw), MV_GRAM0_SAMPLE);
  ck_assert_int_eq (mv_sweep_keep_trajectories (sw), 0);
  const mv_flow_params *p = mv_sweep_flow_params (sw);
  ck_assert (p->t_end == 3 && p->rtol == 1e-7 && p->atol == 1e-12);
  ck_assert_uint_eq (p->n_out, 5);
  ck_assert_str_eq (p->stepper, mv_flow_stepper_name (0));
  mv_sweep_free (sw);

  /* no axes: one task, the base; explicit gram0, SGD defaults */
  sw = parse_ok ("{" BASE ", \"grid\": {}, \"run\": {\"method\": \"sgd\", "
                 "\"lr\": 0.5, \"batch\": 16, \"steps\": 10, \"keep\": "
                 "\"trajectories\"}}");
  ck_assert_uint_eq (mv_sweep_ntasks (sw), 1);
  ck_assert_int_eq (mv_sweep_method (sw), MV_SWEEP_SGD);
  ck_assert_int_eq (mv_sweep_keep_trajectories (sw), 1);
  const mv_sgd_params *q = mv_sweep_sgd_params (sw);
  ck_assert (q->lr == 0.5 && q->batch == 16 && q->steps == 10 && q->seed == 1
             && q->n_out == 200);
  mv_sweep_free (sw);
}
END_TEST

static Suite *
sweep_suite (void)
{
  Suite *s = suite_create ("sweep");
  TCase *tc = tcase_create ("parse");
  tcase_add_test (tc, test_unknown_path);
  tcase_add_test (tc, test_empty_axis);
  tcase_add_test (tc, test_bad_value);
  tcase_add_test (tc, test_too_many_tasks);
  tcase_add_test (tc, test_bad_run);
  tcase_add_test (tc, test_unknown_keys);
  tcase_add_test (tc, test_bad_range);
  tcase_add_test (tc, test_expand);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return mv_test_run (sweep_suite ());
}
