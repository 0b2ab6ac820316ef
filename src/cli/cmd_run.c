/* moeverify run [--out DIR] [--t-end T] [--full] [--prec BITS]
 *               [--samples N] [--quick]
 *
 * The main job, on the paper setting (m* = 5, m = 25, d = 1000, seeds 1
 * and 2): verification at t = 0 (closed-form loss at high precision with its
 * digit count, the double path against it, the sigmoid coefficients by two
 * methods, a Monte-Carlo cross-check with z-scores, initial overlaps with
 * the leading-order escape-time prediction of MATH.md §3), then the gradient
 * flow (dimension-free by default, --full for R^{2md}) with its trajectory,
 * events and plots in the report directory, and a summary. */
#include "cli.h"

#include <moeverify/moeverify.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/stat.h>

static const char usage[] =
  "usage: moeverify run [--out DIR] [--t-end T] [--full] [--prec BITS]\n"
  "                     [--samples N] [--quick]\n"
  "  The paper setting (m* = 5, m = 25, d = 1000, fixed seeds): checks at\n"
  "  t = 0, then the gradient flow to T with trajectory, events and plots.\n"
  "  Writes DIR (default moeverify-report): summary.json, trajectory.csv,\n"
  "  run.json, events.json, router/expert_alignment.svg, loss.svg.\n"
  "  --t-end T      flow horizon (default 200; --quick: 30)\n"
  "  --full         full-parameter flow in R^{2md} instead of the reduced one\n"
  "  --prec BITS    closed-form precision of the t = 0 checks (default 256)\n"
  "  --samples N    Monte-Carlo samples (default 400000; --quick: 40000)\n";

static const char PAPER_SPEC[] =
  "{\"d\": 1000, \"teacher\": {\"m\": 5, \"init\": {\"kind\": \"orthonormal\", \"seed\": 1}},"
  " \"student\": {\"m\": 25, \"init\": {\"kind\": \"gaussian\", \"seed\": 2}}}";

static void
progress_cb (void *ctx, double fraction)
{
  (void) ctx;
  mv_io_progress ("monte carlo", fraction);
}

static double
dot (const double *a, const double *b, size_t d)
{
  double s = 0;
  for (size_t i = 0; i < d; i++)
    s += a[i] * b[i];
  return s;
}

/* Leading-order time for the expert overlap to climb from b0 to th. */
static double
escape_time (double wnorm2, double b0, double th)
{
  return 2 * wnorm2 / 9 * (1 / b0 - 1 / th + atanh (th) - atanh (b0));
}

typedef struct {
  json_t *doc;
  int failed;
} report;

static void
check (report *r, const char *name, int ok, const char *fmt, ...)
{
  char msg[256];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  printf ("  [%s] %-34s %s\n", ok ? " ok " : "FAIL", name, msg);
  json_t *c = json_object ();
  json_object_set_new (c, "ok", json_boolean (ok));
  json_object_set_new (c, "detail", json_string (msg));
  json_object_set_new (json_object_get (r->doc, "checks"), name, c);
  if (!ok)
    r->failed = 1;
}

static int
closed_form (report *r, const mv_problem *pb, mpfr_prec_t prec, double *Ld_out)
{
  mv_loss_ws *ws = mv_loss_alloc (pb->m, pb->mstar, prec);
  mv_loss_ws *wd = mv_loss_alloc (pb->m, pb->mstar, MV_PREC_DOUBLE);
  if (!ws || !wd)
    {
      mv_loss_free (ws), mv_loss_free (wd);
      mv_cli_lib_error ();
      return MV_EXIT_FAIL;
    }
  mpfr_t L;
  mpfr_init2 (L, prec);
  mv_loss_info info, infod;
  double Ld;
  int s = mv_loss_eval (L, NULL, NULL, &info, pb, ws);
  if (!s)
    s = mv_loss_eval_d (&Ld, NULL, NULL, &infod, pb, wd);
  if (s)
    {
      mpfr_clear (L);
      mv_loss_free (ws), mv_loss_free (wd);
      mv_cli_lib_error ();
      return MV_EXIT_FAIL;
    }
  int dg = mv_io_digits (L, &info.err);
  char *ls = mv_io_mpfr_str (L, dg > 0 ? dg : 1), eb[48];
  mv_mag_str (eb, sizeof eb, &info.err, 3);
  printf ("closed-form loss at %ld bits: L = %s\n  (%d digits, |error| <= %s, condition %.3g, "
          "up to %u series terms)\n", (long) prec, ls, dg, eb, info.cond, info.max_terms);
  json_t *cf = json_object ();
  json_object_set_new (cf, "precision_bits", json_integer (prec));
  json_object_set_new (cf, "loss", json_string (ls));
  json_object_set_new (cf, "loss_digits", json_integer (dg));
  json_object_set_new (cf, "loss_error_bound", json_string (eb));
  json_object_set_new (cf, "loss_double", json_real (Ld));
  json_object_set_new (r->doc, "closed_form", cf);
  free (ls);
  double diff = fabs (Ld - mpfr_get_d (L, MPFR_RNDN));
  double errd = mv_mag_get_d (&infod.err);
  check (r, "double path vs MPFR", diff <= 1e-13 * info.abs_terms && diff <= errd,
         "|L_double - L| = %.3g (<= 1e-13 x %.3g terms; own bound %.3g)", diff,
         info.abs_terms, errd);
  *Ld_out = mpfr_get_d (L, MPFR_RNDN);
  mpfr_clear (L);
  mv_loss_free (ws), mv_loss_free (wd);
  return 0;
}

static int
coefficients (report *r)
{
  const unsigned K = 41;
  mv_hermite_table *t = mv_hermite_table_alloc (K, 256);
  mpfr_t *b = malloc ((K + 1) * sizeof *b), d;
  mv_mag *rb = malloc ((K + 1) * sizeof *rb);
  double worst = 0;
  for (unsigned k = 0; k <= K; k++)
    mpfr_init2 (b[k], 256);
  int ok = t && b && rb && mv_hermite_coeffs_direct (b, rb, K) == MV_OK;
  mpfr_init2 (d, 64);
  for (unsigned k = 1; ok && k <= K; k += 2)
    {
      mpfr_sub (d, t->c[k], b[k], MPFR_RNDN);
      mpfr_div (d, d, t->c[k], MPFR_RNDN);
      double rel = fabs (mpfr_get_d (d, MPFR_RNDN));
      mv_mag e;
      mv_mag_add (&e, &t->relerr[k], &rb[k]);
      worst = fmax (worst, rel / mv_mag_get_d (&e));
    }
  check (r, "sigmoid coefficients, 2 methods", ok && worst <= 1.0,
         "c_1..c_%u at 256 bits agree within %.2g of their claimed errors", K, worst);
  for (unsigned k = 0; k <= K; k++)
    mpfr_clear (b[k]);
  mpfr_clear (d);
  free (b), free (rb);
  mv_hermite_table_free (t);
  return ok ? 0 : MV_EXIT_FAIL;
}

static int
monte_carlo (report *r, const mv_problem *pb, size_t samples, double Lc)
{
  mv_mc_params par;
  mv_mc_params_default (&par);
  par.samples = samples;
  par.seed = 12345;
  par.want_grad = 1;
  if (mv_io_progress_enabled ())
    par.progress = progress_cb;
  mv_mc_result res;
  if (mv_mc_result_init (&res, pb->m, pb->d, 1) || mv_mc_estimate (&res, pb, &par))
    {
      mv_io_progress_done ();
      mv_cli_lib_error ();
      return MV_EXIT_FAIL;
    }
  mv_io_progress_done ();
  double z = (res.loss - Lc) / res.loss_se;
  printf ("Monte Carlo (%zu samples): L = %.6f +- %.2g\n", samples, res.loss, res.loss_se);
  check (r, "Monte Carlo loss", fabs (z) < 4, "z = %+.2f", z);
  /* gradient: closed form in double, z-scores over every component */
  mv_loss_ws *wd = mv_loss_alloc (pb->m, pb->mstar, MV_PREC_DOUBLE);
  size_t n = pb->m * pb->d;
  double *gV = malloc (n * sizeof *gV), *gW = malloc (n * sizeof *gW), L;
  int ok = wd && gV && gW && mv_loss_eval_d (&L, gV, gW, NULL, pb, wd) == MV_OK;
  double chi2 = 0, zmax = 0;
  for (size_t i = 0; ok && i < n; i++)
    {
      double a = (res.gV[i] - gV[i]) / res.gV_se[i], b = (res.gW[i] - gW[i]) / res.gW_se[i];
      chi2 += a * a + b * b;
      zmax = fmax (zmax, fmax (fabs (a), fabs (b)));
    }
  /* 2n components: chi2/dof should be 1 +- sqrt(2/2n) plus the batch-means
   * noise of the standard errors (64 batches: +-25% in chi2/dof is 2 sigma) */
  double cd = chi2 / (2.0 * n);
  check (r, "Monte Carlo gradient", ok && fabs (cd - 1) < 0.3 && zmax < 6.5,
         "%zu components: chi2/dof = %.3f, max |z| = %.2f", 2 * n, cd, zmax);
  json_t *mc = json_object ();
  json_object_set_new (mc, "samples", json_integer ((json_int_t) samples));
  json_object_set_new (mc, "loss", json_real (res.loss));
  json_object_set_new (mc, "loss_stderr", json_real (res.loss_se));
  json_object_set_new (mc, "loss_z", json_real (z));
  json_object_set_new (mc, "grad_chi2_per_dof", json_real (cd));
  json_object_set_new (mc, "grad_max_abs_z", json_real (zmax));
  json_object_set_new (r->doc, "monte_carlo", mc);
  free (gV), free (gW);
  mv_loss_free (wd);
  mv_mc_result_clear (&res);
  return ok ? 0 : MV_EXIT_FAIL;
}

/* For each teacher: the student with the largest positive expert overlap,
 * the runner-up gap, and the leading-order escape time to 0.5. */
static int
overlaps (report *r, const mv_problem *pb)
{
  size_t d = pb->d, m = pb->m, ms = pb->mstar;
  double *V = malloc (m * d * sizeof *V), *W = malloc (m * d * sizeof *W);
  double *Vt = malloc (ms * d * sizeof *Vt), *Wt = malloc (ms * d * sizeof *Wt);
  if (!V || !W || !Vt || !Wt || mv_problem_vectors_d (V, W, Vt, Wt, pb))
    {
      free (V), free (W), free (Vt), free (Wt);
      mv_cli_lib_error ();
      return MV_EXIT_FAIL;
    }
  printf ("initial overlaps and leading-order escape times (MATH.md §3, isolated pair):\n");
  printf ("  teacher  best  beta0     alpha0    runner-up  T_0.5 (pred.)\n");
  json_t *arr = json_array ();
  for (size_t j = 0; j < ms; j++)
    {
      double best = -2, second = -2, alpha = 0, wn2 = 1;
      size_t bi = 0;
      for (size_t i = 0; i < m; i++)
        {
          double *w = W + i * d, *v = V + i * d;
          double nw = sqrt (dot (w, w, d)), nv = sqrt (dot (v, v, d));
          double nt = sqrt (dot (Wt + j * d, Wt + j * d, d));
          double ntv = sqrt (dot (Vt + j * d, Vt + j * d, d));
          double b = dot (w, Wt + j * d, d) / (nw * nt);
          if (b > best)
            {
              second = best, best = b, bi = i, wn2 = nw * nw;
              alpha = dot (v, Vt + j * d, d) / (nv * ntv);
            }
          else if (b > second)
            second = b;
        }
      double T = best > 0 ? escape_time (wn2, best, 0.5) : INFINITY;
      printf ("  %7zu  %4zu  %+.5f  %+.5f  %+.5f   %.2f\n", j, bi, best, alpha, second, T);
      json_t *o = json_object ();
      json_object_set_new (o, "teacher", json_integer ((json_int_t) j));
      json_object_set_new (o, "best_student", json_integer ((json_int_t) bi));
      json_object_set_new (o, "beta0", json_real (best));
      json_object_set_new (o, "alpha0", json_real (alpha));
      json_object_set_new (o, "runner_up_beta0", json_real (second));
      json_object_set_new (o, "predicted_T_0.5", json_real (T));
      json_array_append_new (arr, o);
    }
  json_object_set_new (r->doc, "initial_overlaps", arr);
  free (V), free (W), free (Vt), free (Wt);
  return 0;
}

/* The flow from the paper setting's initial point; trajectory files go to
 * out, a summary to the report. */
static int
flow_stage (report *r, const mv_problem *pb, double t_end, int full, const char *out)
{
  mv_flow_params p;
  mv_flow_params_default (&p);
  p.t_end = t_end;
  p.interrupt = mv_cli_catch_sigint ();
  p.reg = &pb->reg;
  if (mv_io_progress_enabled ())
    p.progress = mv_cli_flow_progress, p.progress_ctx = full ? "full flow" : "reduced flow";
  mv_traj tr;   /* mv_traj_init clears it first, failing or not */
  int s = mv_traj_init (&tr, pb->m, pb->mstar);
  if (!s)
    s = full ? mv_flow_full (&tr, pb, &p)
      : mv_flow_reduced_problem (&tr, pb, MV_GRAM0_VECTORS, &p);
  mv_io_progress_done ();
  if (!s)
    s = mv_traj_write (&tr, out, PAPER_SPEC);
  if (s)
    {
      mv_cli_lib_error ();
      if (tr.cross)
        mv_traj_clear (&tr);
      return MV_EXIT_FAIL;
    }
  mv_cli_print_recovery (&tr);
  /* the leading-order escape law against the flow, for the student it
   * singles out (largest initial expert overlap) */
  json_t *ov = json_object_get (r->doc, "initial_overlaps");
  printf ("  escape of the best-overlap student (expert alignment 0.5):\n"
          "  teacher  student  predicted  measured\n");
  for (size_t j = 0; j < json_array_size (ov); j++)
    {
      json_t *o = json_array_get (ov, j);
      size_t i = (size_t) json_integer_value (json_object_get (o, "best_student"));
      double pred = json_real_value (json_object_get (o, "predicted_T_0.5"));
      double meas = mv_traj_crossing (&tr, MV_ALIGN_EXPERT, MV_TRAJ_THR_50, i, j);
      if (isnan (meas))
        printf ("  %7zu  %7zu  %9.3f     never (by t = %g)\n", j, i, pred, tr.t[tr.rows - 1]);
      else
        printf ("  %7zu  %7zu  %9.3f  %8.3f\n", j, i, pred, meas);
      json_object_set_new (o, "measured_T_0.5", isnan (meas) ? json_null () : json_real (meas));
    }
  json_t *fl = json_object (), *rec = json_array ();
  size_t last = tr.rows - 1;
  json_object_set_new (fl, "method", json_string (tr.method));
  json_object_set_new (fl, "stepper", json_string (tr.stepper));
  json_object_set_new (fl, "status", json_string (tr.status == MV_TRAJ_DONE ? "complete"
                                                   : tr.message));
  json_object_set_new (fl, "t", json_real (tr.t[last]));
  json_object_set_new (fl, "final_loss", json_real (tr.loss[last]));
  json_object_set_new (fl, "steps", json_integer ((json_int_t) tr.steps));
  json_object_set_new (fl, "wall_seconds", json_real (tr.wall_seconds));
  size_t nrec = 0;
  for (size_t j = 0; j < pb->mstar; j++)
    {
      long st;
      double t = mv_traj_recovery (&tr, j, &st);
      json_t *e = json_object ();
      json_object_set_new (e, "teacher", json_integer ((json_int_t) j));
      json_object_set_new (e, "student", st >= 0 ? json_integer (st) : json_null ());
      json_object_set_new (e, "time", st >= 0 ? json_real (t) : json_null ());
      json_array_append_new (rec, e);
      nrec += st >= 0;
    }
  json_object_set_new (fl, "recovery", rec);
  json_object_set_new (r->doc, "flow", fl);
  double e0 = tr.loss[0] - tr.loss[last] - tr.energy[last];
  check (r, "energy identity along the flow", fabs (e0) <= 1e-7 * tr.loss[0],
         "L(0) - L(T) - Int |grad L|^2 = %.3g", e0);
  check (r, "loss decreased", tr.loss[last] < tr.loss[0], "L: %.6g -> %.6g",
         tr.loss[0], tr.loss[last]);
  printf ("  %zu of %zu teachers recovered by t = %g; see %s/*.svg\n", nrec, pb->mstar,
          tr.t[last], out);
  int interrupted = tr.status == MV_TRAJ_INTERRUPTED;
  mv_traj_clear (&tr);
  return interrupted ? 130 : 0;
}

int
mv_cmd_run (int argc, char **argv)
{
  mv_cli_args a;
  int rc;
  const char *v, *out = "moeverify-report";
  mpfr_prec_t prec = 256;
  unsigned long samples = 0;
  int quick = 0, full = 0;
  double t_end = 0;
  mv_cli_args_init (&a, argc, argv);
  while (mv_cli_next (&a))
    {
      if (!a.opt)
        return mv_cli_unknown (&a);
      else if (mv_cli_is (&a, "-h") || mv_cli_is (&a, "--help"))
        {
          fputs (usage, stdout);
          return MV_EXIT_OK;
        }
      else if (mv_cli_is (&a, "--out"))
        {
          if (!(out = mv_cli_value (&a)))
            return MV_EXIT_USAGE;
        }
      else if (mv_cli_is (&a, "--prec"))
        {
          if (!(v = mv_cli_value (&a)) || mv_cli_parse_prec ("--prec", v, &prec))
            return MV_EXIT_USAGE;
        }
      else if (mv_cli_is (&a, "--samples"))
        {
          if (!(v = mv_cli_value (&a))
              || mv_cli_parse_ulong ("--samples", v, 64, 1000000000UL, &samples))
            return MV_EXIT_USAGE;
        }
      else if (mv_cli_is (&a, "--t-end"))
        {
          if (!(v = mv_cli_value (&a)) || mv_cli_parse_double ("--t-end", v, 1e-300, 1e300, &t_end))
            return MV_EXIT_USAGE;
        }
      else if (mv_cli_is (&a, "--full"))
        {
          if (mv_cli_flag (&a))
            return MV_EXIT_USAGE;
          full = 1;
        }
      else if (mv_cli_is (&a, "--quick"))
        {
          if (mv_cli_flag (&a))
            return MV_EXIT_USAGE;
          quick = 1;
        }
      else
        return mv_cli_unknown (&a);
    }
  if (!samples)
    samples = quick ? 40000 : 400000;
  if (!t_end)
    t_end = quick ? 30 : 200;
  if (mv_cli_parse_only)
    return MV_EXIT_OK;
  static const char *const summary[] = { "summary.json" };
  if ((rc = mv_cli_prepare_dir (out)) || (rc = mv_cli_unmark_dir (out, summary, 1)))
    return rc;
  mv_problem pb;
  if (mv_problem_parse (&pb, PAPER_SPEC, "paper-setting"))
    {
      mv_cli_lib_error ();
      return MV_EXIT_FAIL;
    }
  report r = { json_object (), 0 };
  json_object_set_new (r.doc, "tool", json_string ("moeverify " MV_VERSION_STRING));
  json_object_set_new (r.doc, "spec", json_loads (PAPER_SPEC, 0, NULL));
  json_object_set_new (r.doc, "checks", json_object ());
  printf ("moeverify %s: paper setting m* = 5, m = 25, d = 1000 (teacher seed 1, "
          "student seed 2), t = 0\n", mv_version ());
  double L = 0;
  int s = closed_form (&r, &pb, prec, &L);
  if (!s)
    s = coefficients (&r);
  if (!s)
    s = monte_carlo (&r, &pb, samples, L);
  if (!s)
    s = overlaps (&r, &pb);
  if (!s)
    s = flow_stage (&r, &pb, t_end, full, out);
  if (!s || s == 130)
    {
      json_object_set_new (r.doc, "all_checks_passed", json_boolean (!r.failed));
      char path[4096];
      snprintf (path, sizeof path, "%s/summary.json", out);
      int s2 = mv_cli_emit_json (r.doc, path);
      s = s2 ? s2 : s;
      if (!s2)
        printf ("%s; report: %s\n", r.failed ? "SOME CHECKS FAILED" : "all checks passed", path);
    }
  json_decref (r.doc);
  mv_problem_clear (&pb);
  if (s)
    return s;
  return r.failed ? MV_EXIT_FAIL : MV_EXIT_OK;
}
