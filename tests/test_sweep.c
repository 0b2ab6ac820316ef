/* Parameter sweeps: parse errors (each naming its key), task expansion and
 * task specs, running a task against the flow run directly, failed tasks,
 * the CSV / JSON row formats. */
#include "testutil.h"

#include <math.h>
#include <signal.h>
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
  parse_fails ("{\"base\": {\"d\": 2, \"teacher\": {\"m\": 1, \"V\": [[1, 0]], "
               "\"W\": [[0, 1]]}, \"student\": {\"m\": 1, \"V\": [[1, 1]], "
               "\"W\": [[1, -1]]}}, \"grid\": {}, \"run\": {\"method\": "
               "\"reduced\", \"t_end\": 1, \"gram0\": \"sample\"}}",
               "run.gram0: \"sample\" needs", NULL);
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
               "\"t_end\": 1, \"times\": [0.5, 2]}}", "run.times:", "output times");
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
  parse_fails ("{" BASE ", \"grid\": {\"d\": [20], \"d\": [30]}, " RUN "}",
               "duplicate object key", "'\"d\"'");
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
  ck_assert_int_eq (mv_sweep_gram0 (sw), MV_GRAM0_SAMPLE);
  mv_sweep *sv = parse_ok ("{\"base\": {\"d\": 2, \"teacher\": {\"m\": 1, "
                           "\"V\": [[1, 0]], \"W\": [[0, 1]]}, \"student\": "
                           "{\"m\": 1, \"V\": [[1, 1]], \"W\": [[1, -1]]}}, "
                           "\"grid\": {\"noise_var\": [0, 1]}, \"run\": "
                           "{\"method\": \"reduced\", \"t_end\": 1}}");
  ck_assert_int_eq (mv_sweep_gram0 (sv), MV_GRAM0_VECTORS);
  mv_sweep_row row;
  ck_assert_int_eq (mv_sweep_row_init (&row, 0), MV_OK);
  ck_assert_int_eq (mv_sweep_run_task (&row, sv, 1, NULL), MV_OK);
  ck_assert_msg (row.status == MV_TRAJ_DONE, "%s", row.message);
  mv_sweep_row_clear (&row);
  mv_sweep_free (sv);
  const mv_sgd_params *q = mv_sweep_sgd_params (sw);
  ck_assert (q->lr == 0.5 && q->batch == 16 && q->steps == 10 && q->seed == 1
             && q->n_out == 200);
  mv_sweep_free (sw);
}
END_TEST

/* The row of task t against the flow run as cmd_flow runs it (parse the
 * task spec, G(0) sampled, the same parameters built independently). */
static void
check_reduced_row (const mv_sweep *sw, size_t t, const mv_sweep_row *row)
{
  char *spec = mv_sweep_task_spec (sw, t);
  mv_problem pb;
  ck_assert_int_eq (mv_problem_parse (&pb, spec, "TASK.json"), MV_OK);
  free (spec);
  mv_flow_params p;
  mv_flow_params_default (&p);
  p.t_end = 2;
  p.n_out = 7;
  mv_traj tr;
  ck_assert_int_eq (mv_traj_init (&tr, pb.m, pb.mstar), MV_OK);
  size_t n = 2 * (pb.m + pb.mstar);
  double *G = malloc (n * n * sizeof *G), *nr = malloc (n * sizeof *nr);
  ck_assert_int_eq (mv_flow_gram0 (G, nr, tr.init, sizeof tr.init, &pb,
                                   MV_GRAM0_SAMPLE), MV_OK);
  ck_assert_int_eq (mv_flow_reduced (&tr, G, nr, pb.m, pb.mstar,
                                     pb.noise_var, &p), MV_OK);
  size_t r = tr.rows - 1;
  ck_assert_int_eq (row->status, MV_TRAJ_DONE);
  ck_assert_str_eq (row->message, "");
  ck_assert_uint_eq (row->task, t);
  ck_assert_msg (row->loss == tr.loss[r] && row->grad2 == tr.grad2[r]
                 && row->t_final == tr.t[r] && row->t_final == 2,
                 "task %zu: loss %.17g vs %.17g", t, row->loss, tr.loss[r]);
  ck_assert_uint_eq (row->steps, tr.steps);
  ck_assert_uint_eq (row->rejected, tr.rejected);
  ck_assert_uint_eq (row->mstar, pb.mstar);
  for (size_t j = 0; j < pb.mstar; j++)
    {
      long st;
      double rt = mv_traj_recovery (&tr, j, &st);
      ck_assert_int_eq (row->recovery_student[j], st);
      ck_assert (isnan (rt) ? isnan (row->recovery_time[j])
                 : rt == row->recovery_time[j]);
      double c = mv_traj_crossing (&tr, MV_ALIGN_EXPERT, MV_TRAJ_THR_50, 0, j);
      for (size_t i = 1; i < pb.m; i++)
        {
          double x = mv_traj_crossing (&tr, MV_ALIGN_EXPERT, MV_TRAJ_THR_50,
                                       i, j);
          if (isnan (c) || x < c)
            c = x;
        }
      ck_assert (isnan (c) ? isnan (row->cross50[j]) : c == row->cross50[j]);
    }
  free (G), free (nr);
  mv_traj_clear (&tr);
  mv_problem_clear (&pb);
}

#define RUN_SWEEP \
  "{" BASE ", \"grid\": {\"d\": {\"from\": 20, \"to\": 40, \"step\": 20}, " \
  "\"student.init.seed\": [4, 5]}, \"run\": {\"method\": \"reduced\", " \
  "\"t_end\": 2, \"n_out\": 7}}"

START_TEST (test_run_reduced)
{
  mv_sweep *sw = parse_ok (RUN_SWEEP);
  ck_assert_uint_eq (mv_sweep_ntasks (sw), 4);
  mv_sweep_row row;
  ck_assert_int_eq (mv_sweep_row_init (&row, 0), MV_OK);
  for (size_t t = 0; t < 4; t++)
    {
      ck_assert_int_eq (mv_sweep_run_task (&row, sw, t, NULL), MV_OK);
      check_reduced_row (sw, t, &row);
    }
  ck_assert_int_eq (mv_sweep_run_task (&row, sw, 4, NULL), MV_EINVAL);
  mv_sweep_row_clear (&row);
  mv_sweep_free (sw);
}
END_TEST

/* full flow and SGD rows equal the library runs of cmd_flow / cmd_sgd */
START_TEST (test_run_full_sgd)
{
  mv_sweep *sw = parse_ok ("{" BASE ", \"grid\": {}, \"run\": {\"method\": "
                           "\"full\", \"t_end\": 1, \"n_out\": 3}}");
  mv_sweep_row row;
  ck_assert_int_eq (mv_sweep_row_init (&row, 1), MV_OK);
  ck_assert_int_eq (mv_sweep_run_task (&row, sw, 0, NULL), MV_OK);
  mv_problem pb;
  char *spec = mv_sweep_task_spec (sw, 0);
  ck_assert_int_eq (mv_problem_parse (&pb, spec, "TASK.json"), MV_OK);
  mv_flow_params p;
  mv_flow_params_default (&p);
  p.t_end = 1, p.n_out = 3;
  mv_traj tr;
  ck_assert_int_eq (mv_traj_init (&tr, pb.m, pb.mstar), MV_OK);
  ck_assert_int_eq (mv_flow_full (&tr, &pb, &p), MV_OK);
  ck_assert (row.status == MV_TRAJ_DONE && row.loss == tr.loss[tr.rows - 1]);
  mv_traj_clear (&tr);
  mv_sweep_free (sw);

  sw = parse_ok ("{" BASE ", \"grid\": {}, \"run\": {\"method\": \"sgd\", "
                 "\"lr\": 0.05, \"batch\": 8, \"steps\": 40, \"seed\": 9, "
                 "\"n_out\": 4}}");
  ck_assert_int_eq (mv_sweep_run_task (&row, sw, 0, NULL), MV_OK);
  mv_sgd_params q;
  mv_sgd_params_default (&q);
  q.lr = 0.05, q.batch = 8, q.steps = 40, q.seed = 9, q.n_out = 4;
  ck_assert_int_eq (mv_traj_init (&tr, pb.m, pb.mstar), MV_OK);
  ck_assert_int_eq (mv_sgd_run (&tr, &pb, &q), MV_OK);
  ck_assert_msg (row.status == MV_TRAJ_DONE && row.loss == tr.loss[tr.rows - 1]
                 && row.t_final == tr.t[tr.rows - 1] && row.steps == 40,
                 "sgd %.17g vs %.17g", row.loss, tr.loss[tr.rows - 1]);
  mv_traj_clear (&tr);
  mv_problem_clear (&pb);
  free (spec);
  mv_sweep_row_clear (&row);
  mv_sweep_free (sw);
}
END_TEST

START_TEST (test_run_failed)
{
  mv_sweep *sw = parse_ok ("{" BASE ", \"grid\": {\"d\": [20, 30]}, \"run\": "
                           "{\"method\": \"reduced\", \"t_end\": 50, "
                           "\"max_steps\": 3}}");
  mv_sweep_row row;
  ck_assert_int_eq (mv_sweep_row_init (&row, 1), MV_OK);
  ck_assert_int_eq (mv_sweep_run_task (&row, sw, 1, NULL), MV_OK);
  ck_assert_int_eq (row.status, MV_TRAJ_FAILED);
  ck_assert_msg (strstr (row.message, "task 1") && strstr (row.message,
                                                           "step limit"),
                 "%s", row.message);
  ck_assert (row.t_final < 50);
  char *csv = mv_sweep_row_csv (sw, &row);
  ck_assert_msg (!strncmp (csv, "1,30,failed,", 12), "%s", csv);
  ck_assert_msg (strstr (csv, ",\"task 1: "), "%s", csv);
  free (csv);
  mv_sweep_row_clear (&row);
  mv_sweep_free (sw);
}
END_TEST

/* A JSON line parses back to a row with the same CSV and JSON; a torn
 * line does not parse. */
static void
check_row_parse (const mv_sweep *sw, const mv_sweep_row *row,
                 const char *js, const char *csv)
{
  mv_sweep_row back;
  ck_assert_int_eq (mv_sweep_row_init (&back, 5), MV_OK);
  ck_assert_int_eq (mv_sweep_row_parse (&back, sw, js), MV_OK);
  ck_assert_uint_eq (back.task, row->task);
  ck_assert_uint_eq (back.mstar, row->mstar);
  char *c2 = mv_sweep_row_csv (sw, &back), *j2 = mv_sweep_row_json (sw, &back);
  ck_assert_str_eq (c2, csv);
  ck_assert_str_eq (j2, js);
  char *cut = strndup (js, strlen (js) - 3);
  ck_assert_int_eq (mv_sweep_row_parse (&back, sw, cut), MV_EPARSE);
  free (cut), free (c2), free (j2);
  mv_sweep_row_clear (&back);
}

START_TEST (test_formats)
{
  mv_sweep *sw = parse_ok (RUN_SWEEP);
  char *h = mv_sweep_csv_header (sw);
  ck_assert_str_eq (h, "task,d,student.init.seed,status,t_final,loss,grad2,"
                    "recovered,recovery_time_0,recovery_student_0,cross50_0,"
                    "state_0,steps,rejected,wall_seconds,message\n");
  mv_sweep_row row;
  ck_assert_int_eq (mv_sweep_row_init (&row, 0), MV_OK);
  ck_assert_int_eq (mv_sweep_run_task (&row, sw, 3, NULL), MV_OK);
  char *csv = mv_sweep_row_csv (sw, &row);
  ck_assert_msg (!strncmp (csv, "3,40,5,complete,2,", 18), "%s", csv);
  /* as many fields as the header (no commas inside these fields) */
  size_t nh = 0, nc = 0;
  for (char *c = h; *c; c++)
    nh += *c == ',';
  for (char *c = csv; *c; c++)
    nc += *c == ',';
  ck_assert_uint_eq (nh, nc);
  ck_assert (csv[strlen (csv) - 1] == '\n');
  char want[64];
  snprintf (want, sizeof want, ",%.17g,", row.loss);
  ck_assert_msg (strstr (csv, want), "%s not in %s", want, csv);
  char *js = mv_sweep_row_json (sw, &row);
  ck_assert_msg (!strncmp (js, "{\"task\":3,\"values\":{\"d\":40,"
                           "\"student.init.seed\":5},\"status\":\"complete\"",
                           60), "%s", js);
  ck_assert (js[strlen (js) - 1] == '\n' && !strchr (js, '\n')[1]);
  ck_assert_uint_eq (mv_sweep_line_task (sw, js), 3);
  check_row_parse (sw, &row, js, csv);
  /* torn lines, another task's values, garbage */
  for (size_t k = 1; k < strlen (js) - 1; k += 7)
    {
      char *cut = strndup (js, k);
      ck_assert_uint_eq (mv_sweep_line_task (sw, cut), (size_t) -1);
      free (cut);
    }
  char *other = strdup (js);
  memcpy (strstr (other, "\"d\":40"), "\"d\":20", 6);
  ck_assert_uint_eq (mv_sweep_line_task (sw, other), (size_t) -1);
  ck_assert_uint_eq (mv_sweep_line_task (sw, "{\"task\": 3}"), (size_t) -1);
  ck_assert_uint_eq (mv_sweep_line_task (sw, ""), (size_t) -1);
  /* undefined numbers: nan in CSV, null in JSON; quotes doubled */
  row.loss = NAN;
  row.status = MV_TRAJ_FAILED;
  snprintf (row.message, sizeof row.message, "bad \"x\", y");
  free (csv), free (js);
  csv = mv_sweep_row_csv (sw, &row);
  js = mv_sweep_row_json (sw, &row);
  ck_assert_msg (strstr (csv, ",failed,2,nan,"), "%s", csv);
  ck_assert_msg (strstr (csv, ",\"bad \"\"x\"\", y\"\n"), "%s", csv);
  ck_assert_msg (strstr (js, "\"loss\":null"), "%s", js);
  ck_assert_uint_eq (mv_sweep_line_task (sw, js), 3);
  check_row_parse (sw, &row, js, csv);
  /* a row without teachers (its spec failed) leaves their columns empty */
  mv_sweep_row_clear (&row);
  ck_assert_int_eq (mv_sweep_row_init (&row, 0), MV_OK);
  row.task = 1;
  free (csv);
  csv = mv_sweep_row_csv (sw, &row);
  ck_assert_msg (strstr (csv, ",0,,,,,0,0,"), "%s", csv);
  free (js);
  js = mv_sweep_row_json (sw, &row);
  check_row_parse (sw, &row, js, csv);
  free (csv), free (js), free (h), free (other);
  mv_sweep_row_clear (&row);
  mv_sweep_free (sw);
}
END_TEST

/* teacher.m on the grid: the header has the largest m*; keep writes the
 * trajectory directory */
START_TEST (test_mstar_axis)
{
  mv_sweep *sw = parse_ok ("{" BASE ", \"grid\": {\"teacher.m\": [1, 3]}, "
                           "\"run\": {\"method\": \"reduced\", \"t_end\": 0.5, "
                           "\"n_out\": 2, \"keep\": \"trajectories\"}}");
  char *h = mv_sweep_csv_header (sw);
  ck_assert_msg (strstr (h, ",cross50_2,state_2,steps,"), "%s", h);
  mv_sweep_row row;
  ck_assert_int_eq (mv_sweep_row_init (&row, 0), MV_OK);
  char dir[] = "/tmp/test_sweep_XXXXXX";
  ck_assert_ptr_nonnull (mkdtemp (dir));
  char sub[64], file[96];
  snprintf (sub, sizeof sub, "%s/task0", dir);
  ck_assert_int_eq (mv_sweep_run_task (&row, sw, 0, sub), MV_OK);
  ck_assert_uint_eq (row.mstar, 1);
  char *csv = mv_sweep_row_csv (sw, &row);
  ck_assert_msg (strstr (csv, ",,,,,,,,,"), "%s", csv);
  snprintf (file, sizeof file, "%s/run.json", sub);
  FILE *f = fopen (file, "r");
  ck_assert_ptr_nonnull (f);
  fclose (f);
  ck_assert_int_eq (mv_sweep_run_task (&row, sw, 1, NULL), MV_OK);
  ck_assert_uint_eq (row.mstar, 3);
  char *js = mv_sweep_row_json (sw, &row);
  ck_assert_uint_eq (mv_sweep_line_task (sw, js), 1);
  free (js), free (csv), free (h);
  const char *names[] = { "trajectory.csv", "run.json", "events.json",
                          "expert_alignment.svg", "router_alignment.svg",
                          "loss.svg" };
  for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
    {
      snprintf (file, sizeof file, "%s/%s", sub, names[k]);
      remove (file);
    }
  remove (sub);
  remove (dir);
  mv_sweep_row_clear (&row);
  mv_sweep_free (sw);
}
END_TEST

/* an interrupted task is an interrupted row */
/* "stop": the run ends complete once the rule holds, before t_end; the
 * row's states are those of the record's last row; bad names rejected */
START_TEST (test_stop_rule)
{
  mv_sweep *sw = parse_ok ("{" BASE ", \"grid\": {\"student.init.seed\": [4, 5]}, "
                           "\"run\": {\"method\": \"reduced\", \"t_end\": 400, "
                           "\"stop\": \"escaped\"}}");
  mv_sweep_row row;
  ck_assert_int_eq (mv_sweep_row_init (&row, 0), MV_OK);
  for (size_t t = 0; t < 2; t++)
    {
      ck_assert_int_eq (mv_sweep_run_task (&row, sw, t, NULL), MV_OK);
      ck_assert_msg (row.status == MV_TRAJ_DONE && strstr (row.message, "stopped by escaped"),
                     "status %d: %s", row.status, row.message);
      /* stopped at the first step past the crossing */
      ck_assert_msg (row.cross50[0] <= row.t_final && row.t_final < 400,
                     "cross50 %.17g, t_final %.17g", row.cross50[0], row.t_final);
      ck_assert_msg (row.state[0] >= 0 && row.state[0] < MV_TRAJ_NSTATE, "state %d",
                     row.state[0]);
    }
  mv_sweep_row_clear (&row);
  mv_sweep_free (sw);
  parse_fails ("{" BASE ", \"grid\": {\"d\": [20]}, \"run\": {\"method\": "
               "\"reduced\", \"t_end\": 2, \"stop\": \"never\"}}", "run.stop",
               "escaped, recovered, first_recovery");
}
END_TEST

START_TEST (test_interrupt)
{
  mv_sweep *sw = parse_ok (RUN_SWEEP);
  volatile sig_atomic_t stop = 1;
  mv_sweep_set_interrupt (sw, &stop);
  mv_sweep_row row;
  ck_assert_int_eq (mv_sweep_row_init (&row, 0), MV_OK);
  ck_assert_int_eq (mv_sweep_run_task (&row, sw, 0, NULL), MV_OK);
  ck_assert_int_eq (row.status, MV_TRAJ_INTERRUPTED);
  ck_assert (row.t_final < 2);
  char *csv = mv_sweep_row_csv (sw, &row);
  ck_assert_msg (strstr (csv, ",interrupted,"), "%s", csv);
  free (csv);
  mv_sweep_set_interrupt (sw, NULL);
  ck_assert_int_eq (mv_sweep_run_task (&row, sw, 0, NULL), MV_OK);
  ck_assert_int_eq (row.status, MV_TRAJ_DONE);
  mv_sweep_row_clear (&row);
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
  tc = tcase_create ("run");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_run_reduced);
  tcase_add_test (tc, test_run_full_sgd);
  tcase_add_test (tc, test_run_failed);
  tcase_add_test (tc, test_formats);
  tcase_add_test (tc, test_mstar_axis);
  tcase_add_test (tc, test_interrupt);
  tcase_add_test (tc, test_stop_rule);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return mv_test_run (sweep_suite ());
}
