/* moeverify flow SPEC.json --t-end T [--reduced [--sample-gram]]
 *                [--stepper S] [--rtol R] [--atol A] [--prec BITS]
 *                [--n-out K | --times T1,...] [--max-steps N] [--out DIR]
 *                [--checkpoint-every S] [--reference [--tol EPS]]
 * moeverify flow --resume DIR
 *
 * Gradient flow of the spec's initial point (full parameter space, or the
 * dimension-free Gram flow), written as a trajectory directory. */
#include "cli.h"

#include <moeverify/moeverify.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* %s: the stepper list, generated from the library's table */
static const char usage_fmt[] =
  "usage: moeverify flow SPEC.json --t-end T [--reduced [--sample-gram]]\n"
  "                      [--stepper S] [--rtol R] [--atol A] [--prec BITS]\n"
  "                      [--n-out K | --times T1,T2,...] [--max-steps N]\n"
  "                      [--out DIR] [--checkpoint-every S]\n"
  "                      [--reference [--tol EPS]] [--max-memory SIZE]\n"
  "       moeverify flow --resume DIR\n"
  "  Integrate the gradient flow dtheta/dt = -grad L from the spec's initial\n"
  "  point with GSL's adaptive steppers and write DIR (default flow-out):\n"
  "  trajectory.csv, run.json, events.json, router_alignment.svg,\n"
  "  expert_alignment.svg, loss.svg.  Ctrl-C stops and writes a partial,\n"
  "  marked trajectory.\n"
  "  --reduced       dimension-free flow of the Gram matrix (MATH.md 3.)\n"
  "  --sample-gram   with --reduced: sample G(0) exactly without d-vectors\n"
  "                  (init-generated specs; cost independent of d); default\n"
  "                  when the vectors are too large to form (run.json says\n"
  "                  which); otherwise G(0) is the spec vectors' Gram matrix\n"
  "  --stepper S     %s\n"
  "  --rtol R, --atol A   tolerances (default 1e-9, 1e-12); atol is per\n"
  "                  component relative to its natural scale\n"
  "  --prec BITS     full flow: right-hand side in MPFR at BITS, rounded;\n"
  "                  --reference: the reference precision (default 128)\n"
  "  --n-out K       output samples: K log-spaced plus K evenly spaced (200)\n"
  "  --times T1,T2,...  explicit output times instead (increasing, in (0, T];\n"
  "                  the run still ends at T, with a row there)\n"
  "  --max-steps N   fail after N steps (default 1e8); a run whose steps\n"
  "                  shrink below the resolution of T (tolerances double\n"
  "                  precision cannot meet) fails after 1000 of them\n"
  "  --max-memory SIZE  refuse a run estimated to need more memory (512M,\n"
  "                8G, none; default: the physical memory)\n"
  "  --reference     MPFR Gragg-Bulirsch-Stoer integration (reduced flow, or\n"
  "                  the full flow of the raw vectors: small m d only) at\n"
  "                  (BITS, EPS), confirmed by a second run at (2 BITS, EPS^2);\n"
  "                  DIR gets the confirming run's trajectory and\n"
  "                  reference.json, every quantity's agreed digits at each\n"
  "                  output time (default 5 + 5 output times with --n-out),\n"
  "                  and trajectory_digits.csv: trajectory.csv's columns\n"
  "                  printed with exactly those digits\n"
  "  --tol EPS       --reference tolerance per step, 1e-145..1e-3 (1e-30)\n"
  "  --checkpoint-every S  write DIR/" MV_CLI_CKPT_FILE " every S wall seconds\n"
  "                  (0: at every output time; off: never; default " MV_XSTR (MV_CLI_CKPT_EVERY) " s)\n"
  "                  and when interrupted; removed once the run completes.\n"
  "                  Explicit Runge-Kutta steppers only (others: off unless\n"
  "                  asked for)\n"
  "  --resume DIR    continue the run of DIR from its checkpoint (its spec and\n"
  "                  options are recorded there; options given again must\n"
  "                  agree); ends bit-identical to an uninterrupted run\n";

/* usage_fmt with the stepper table filled in: explicit steppers on one
 * line, implicit ones on the next */
static const char *
usage_text (void)
{
  static char text[sizeof usage_fmt + 400];
  char list[2][160] = { "", "" };
  size_t len[2] = { 0, 0 };
  for (size_t i = 0; mv_flow_stepper_name (i); i++)
    {
      int k = mv_flow_stepper_implicit (i) != 0;
      if (len[k] < sizeof list[k])
        len[k] += snprintf (list[k] + len[k], sizeof list[k] - len[k], "%s%s%s",
                            len[k] ? ", " : "", mv_flow_stepper_name (i),
                            i ? "" : " (default)");
    }
  char line[400];
  snprintf (line, sizeof line, "%s;\n                  implicit (need the analytic "
            "Jacobian): %s", list[0], list[1]);
  snprintf (text, sizeof text, usage_fmt, line);
  return text;
}

typedef struct {
  const char *spec, *out;
  int reduced, sample, reference, have_nout, have_prec, have_gsl, have_ckpt;
  double tol, ckpt_every;
  mv_flow_params p;
  double *times;
} flow_opts;

/* "t1,t2,..." into a malloc'd array (checked against t-end later) */
static int
parse_times (flow_opts *o, const char *arg)
{
  size_t cap = 1;
  for (const char *c = arg; *c; c++)
    cap += *c == ',';
  free (o->times);
  o->times = malloc (cap * sizeof *o->times);
  if (!o->times)
    return MV_EXIT_FAIL;
  size_t n = 0;
  char *end;
  const char *c = arg;
  for (;;)
    {
      double t = strtod (c, &end);
      if (end == c || !(t > 0) || !isfinite (t) || (n && !(t > o->times[n - 1])))
        {
          mv_cli_error ("--times: '%s': expected increasing positive times t1,t2,...", arg);
          return MV_EXIT_USAGE;
        }
      o->times[n++] = t;
      if (*end == '\0')
        break;
      if (*end != ',')
        {
          mv_cli_error ("--times: '%s': expected increasing positive times t1,t2,...", arg);
          return MV_EXIT_USAGE;
        }
      c = end + 1;
    }
  o->p.times = o->times;
  o->p.n_times = n;
  return 0;
}

/* --reference: its own defaults for the precision, the tolerance and the
 * number of output times */
static int
check_reference (flow_opts *o)
{
  if (o->tol >= 0 && !o->reference)
    {
      mv_cli_error ("flow: --tol needs --reference (GSL steppers take --rtol/--atol)");
      return MV_EXIT_USAGE;
    }
  if (!o->reference)
    return 0;
  if (o->have_gsl)
    {
      mv_cli_error ("flow: --stepper, --rtol and --atol are GSL's; --reference takes --tol");
      return MV_EXIT_USAGE;
    }
  if (!o->have_prec)
    o->p.prec = 128;
  if (o->p.prec == MV_PREC_DOUBLE || 2 * o->p.prec > MV_PREC_MAX)
    {
      mv_cli_error ("flow: --reference needs %d < --prec <= %d (the confirming run uses twice it)",
                    MV_PREC_DOUBLE, MV_PREC_MAX / 2);
      return MV_EXIT_USAGE;
    }
  if (o->tol < 0)
    o->tol = 1e-30;
  if (!o->have_nout)
    o->p.n_out = 5;
  return 0;
}

static int
parse (flow_opts *o, int argc, char **argv)
{
  mv_cli_args a;
  const char *v;
  unsigned long u;
  int have_t = 0;
  memset (o, 0, sizeof *o);
  o->out = "flow-out";
  o->tol = -1;
  o->ckpt_every = MV_CLI_CKPT_EVERY;
  mv_flow_params_default (&o->p);
  mv_cli_args_init (&a, argc, argv);
  while (mv_cli_next (&a))
    {
      int c = mv_cli_common (&a, &o->spec, usage_text ());
      if (c < 0 || c > 1)
        return c;
      if (c == 1)
        continue;
      if ((c = mv_cli_memory_opt (&a)))
        {
          if (c != 1)
            return c;
          continue;
        }
      if (mv_cli_is (&a, "--t-end"))
        {
          if (!(v = mv_cli_value (&a))
              || mv_cli_parse_double ("--t-end", v, 1e-300, 1e300, &o->p.t_end))
            return MV_EXIT_USAGE;
          have_t = 1;
        }
      else if (mv_cli_is (&a, "--rtol"))
        {
          if (!(v = mv_cli_value (&a)) || mv_cli_parse_double ("--rtol", v, 1e-300, 1, &o->p.rtol))
            return MV_EXIT_USAGE;
          o->have_gsl = 1;
        }
      else if (mv_cli_is (&a, "--atol"))
        {
          if (!(v = mv_cli_value (&a)) || mv_cli_parse_double ("--atol", v, 1e-300, 1, &o->p.atol))
            return MV_EXIT_USAGE;
          o->have_gsl = 1;
        }
      else if (mv_cli_is (&a, "--stepper"))
        {
          if (!(o->p.stepper = mv_cli_value (&a)))
            return MV_EXIT_USAGE;
          o->have_gsl = 1;
        }
      else if (mv_cli_is (&a, "--prec"))
        {
          if (!(v = mv_cli_value (&a)) || mv_cli_parse_prec ("--prec", v, &o->p.prec))
            return MV_EXIT_USAGE;
          o->have_prec = 1;
        }
      else if (mv_cli_is (&a, "--n-out"))
        {
          if (!(v = mv_cli_value (&a)) || mv_cli_parse_ulong ("--n-out", v, 1, 1000000, &u))
            return MV_EXIT_USAGE;
          o->p.n_out = u;
          o->have_nout = 1;
        }
      else if (mv_cli_is (&a, "--times"))
        {
          int rc;
          if (!(v = mv_cli_value (&a)))
            return MV_EXIT_USAGE;
          if ((rc = parse_times (o, v)))
            return rc;
        }
      else if (mv_cli_is (&a, "--max-steps"))
        {
          if (!(v = mv_cli_value (&a))
              || mv_cli_parse_ulong ("--max-steps", v, 1, 1UL << 62, &o->p.max_steps))
            return MV_EXIT_USAGE;
        }
      else if (mv_cli_is (&a, "--out") || mv_cli_is (&a, "-o"))
        {
          if (!(o->out = mv_cli_value (&a)))
            return MV_EXIT_USAGE;
        }
      else if (mv_cli_is (&a, "--reduced"))
        {
          if (mv_cli_flag (&a))
            return MV_EXIT_USAGE;
          o->reduced = 1;
        }
      else if (mv_cli_is (&a, "--reference"))
        {
          if (mv_cli_flag (&a))
            return MV_EXIT_USAGE;
          o->reference = 1;
        }
      else if (mv_cli_is (&a, "--tol"))
        {
          if (!(v = mv_cli_value (&a)) || mv_cli_parse_double ("--tol", v, 1e-145, 1e-3, &o->tol))
            return MV_EXIT_USAGE;
        }
      else if (mv_cli_is (&a, "--checkpoint-every"))
        {
          if (!(v = mv_cli_value (&a))
              || mv_cli_parse_ckpt_every ("--checkpoint-every", v, &o->ckpt_every))
            return MV_EXIT_USAGE;
          o->have_ckpt = 1;
        }
      else if (mv_cli_is (&a, "--sample-gram"))
        {
          if (mv_cli_flag (&a))
            return MV_EXIT_USAGE;
          o->sample = 1;
        }
      else
        return mv_cli_unknown (&a);
    }
  if (!o->spec)
    {
      mv_cli_error ("flow: missing SPEC.json (see moeverify flow --help)");
      return MV_EXIT_USAGE;
    }
  if (!have_t)
    {
      mv_cli_error ("flow: --t-end is required");
      return MV_EXIT_USAGE;
    }
  if (o->sample && !o->reduced)
    {
      mv_cli_error ("flow: --sample-gram needs --reduced");
      return MV_EXIT_USAGE;
    }
  if (o->have_nout && o->times)
    {
      mv_cli_error ("flow: --n-out and --times both choose the output times; give one");
      return MV_EXIT_USAGE;
    }
  return check_reference (o);
}


static void
summary (const mv_traj *tr, const void *ctx)
{
  (void) ctx;
  mv_cli_print_recovery (tr);
}

/* Checkpoint options of a run into o->p.ckpt (spec: the canonical spec
 * text; note: the command line); 0 or an exit status. */
static int
setup_ckpt (flow_opts *o, const char *spec, char **note, char **path, int argc,
            char **argv)
{
  size_t si;
  if (o->reference || o->ckpt_every < 0 || mv_flow_stepper_find (o->p.stepper, &si))
    return 0;
  /* history-carrying steppers: off by default, refused when asked for */
  if (!mv_flow_stepper_resumable (si) && !o->have_ckpt)
    return 0;
  *note = mv_cli_ckpt_note ("flow", argc, argv);
  *path = mv_cli_ckpt_path (o->out);
  if (!*note || !*path)
    {
      mv_cli_error ("out of memory");
      return MV_EXIT_FAIL;
    }
  o->p.ckpt.path = *path;
  o->p.ckpt.every = o->ckpt_every;
  o->p.ckpt.spec = spec;
  o->p.ckpt.note = *note;
  return 0;
}

/* The flow of o on pb into tr (G(0) built for the reduced and reference
 * runs); a library status. */
static int
integrate (flow_opts *o, mv_traj *tr, const mv_problem *pb, mv_io_set *set)
{
  int mode = o->sample ? MV_GRAM0_SAMPLE : o->reduced ? MV_GRAM0_AUTO : MV_GRAM0_VECTORS;
  if (!o->reference)
    return o->reduced ? mv_flow_reduced_problem (tr, pb, mode, &o->p)
      : mv_flow_full (tr, pb, &o->p);
  size_t n = 2 * (pb->m + pb->mstar);
  double *G = malloc (n * n * sizeof *G), *nr = malloc (n * sizeof *nr);
  int s = G && nr ? mv_flow_gram0 (G, nr, tr->init, sizeof tr->init, pb, mode)
    : mv_error_set (MV_ENOMEM, "out of memory");
  if (!s)
    s = mv_cli_flow_reference (tr, G, nr, pb, &o->p, o->tol, set,
                               o->reduced ? mv_ref_system_reduced : mv_ref_system_full);
  free (G), free (nr);
  return s;
}

int
mv_cmd_flow (int argc, char **argv)
{
  flow_opts o;
  mv_cli_resume res;
  int rc = 0;
  memset (&res, 0, sizeof res);
  /* --resume DIR: the recorded command line, then the options given */
  if (mv_cli_resume_dir (argc, argv) && (rc = mv_cli_resume_load (&res, "flow", argc, argv)))
    {
      mv_cli_resume_clear (&res);
      return rc;
    }
  if (res.ckpt)
    argc = res.argc, argv = res.argv;
  rc = parse (&o, argc, argv);
  if (!rc && res.ckpt && o.reference)
    {
      mv_cli_error ("flow: --reference runs are not checkpointed");
      rc = MV_EXIT_USAGE;
    }
  if (res.ckpt)
    o.out = res.dir, o.p.ckpt.resume = res.ckpt;
  if (!rc && mv_flow_params_check (&o.p))
    {
      mv_cli_lib_error ();
      rc = MV_EXIT_USAGE;
    }
  if (rc || mv_cli_parse_only)
    {
      free (o.times);
      mv_cli_resume_clear (&res);
      return rc < 0 ? MV_EXIT_OK : rc;
    }
  mv_problem pb;
  int s = res.ckpt ? mv_cli_resume_spec (&pb, &res, o.spec) : mv_cli_read_spec (&pb, o.spec);
  if (s)
    {
      free (o.times);
      mv_cli_resume_clear (&res);
      return s;
    }
  mv_cost cost;
  mv_cost_flow (&cost, pb.m, pb.mstar, pb.d, o.reduced, &o.p);
  mv_traj tr;
  mv_cli_out out;
  char *spec = mv_problem_to_json (&pb), *note = NULL, *path = NULL;
  if ((rc = spec ? 0 : MV_EXIT_FAIL) || (rc = setup_ckpt (&o, spec, &note, &path, argc, argv))
      || (rc = mv_cli_memory_guard (&cost, o.spec))
      || (rc = mv_cli_traj_start (&tr, &pb, &out, o.out)))
    {
      if (!spec)
        mv_cli_error ("out of memory");
      mv_problem_clear (&pb);
      free (o.times), free (spec), free (note), free (path);
      mv_cli_resume_clear (&res);
      return rc;
    }
  o.p.interrupt = mv_cli_catch_sigint ();
  o.p.reg = &pb.reg;   /* the spec's regularizers (all 0: the plain L) */
  if (mv_io_progress_enabled ())
    o.p.progress = mv_cli_flow_progress, o.p.progress_ctx = "flow";
  s = integrate (&o, &tr, &pb, out.set);
  mv_io_progress_done ();
  int status = tr.status;
  int exit_code = mv_cli_traj_finish (&tr, &pb, s, &out, summary, NULL);
  if (o.p.ckpt.path || res.ckpt)
    mv_cli_ckpt_done (o.out, s ? MV_TRAJ_FAILED : status, exit_code);
  mv_problem_clear (&pb);
  free (o.times), free (spec), free (note), free (path);
  mv_cli_resume_clear (&res);
  return exit_code;
}
