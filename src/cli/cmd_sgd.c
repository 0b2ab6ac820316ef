/* moeverify sgd SPEC.json --lr LR --batch B --steps S [--seed N]
 *               [--n-out K] [--out DIR] [--checkpoint-every S]
 * moeverify sgd --resume DIR
 *
 * Online mini-batch SGD from the spec's initial point (src/sgd.c), written
 * as a trajectory directory in the format of the flows. */
#include "cli.h"

#include <moeverify/moeverify.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
  "usage: moeverify sgd SPEC.json --lr LR --batch B --steps S [--seed N]\n"
  "                     [--n-out K] [--out DIR] [--checkpoint-every S]\n"
  "                     [--max-memory SIZE]\n"
  "       moeverify sgd --resume DIR\n"
  "  Online mini-batch SGD on the raw student vectors from the spec's\n"
  "  initial point: every step draws B fresh inputs x ~ N(0, I_d), labels\n"
  "  f*(x) (plus the spec's label noise), and steps along the exact gradient\n"
  "  of the batch-mean loss.  Flow time t = LR * step.  Writes DIR (default\n"
  "  sgd-out): trajectory.csv (population loss and |grad L|^2 from the\n"
  "  closed form), run.json, events.json and the SVG plots.  Ctrl-C stops\n"
  "  and writes a partial, marked trajectory (exit status 130).\n"
  "  --lr LR       learning rate, > 0\n"
  "  --batch B     samples per step, >= 1\n"
  "  --steps S     number of steps, >= 1\n"
  "  --seed N      mt19937 seed, 0..4294967295 (default 1; same seed, same\n"
  "                trajectory)\n"
  "  --n-out K     output rows: t = 0 and K log-spaced times in\n"
  "                [LR, LR * S], rounded to whole steps (default 200)\n"
  "  --out DIR     output directory (created if missing)\n"
  "  --checkpoint-every S  write DIR/" MV_CLI_CKPT_FILE " every S wall seconds\n"
  "                (0: at every output row; off: never; default " MV_XSTR (MV_CLI_CKPT_EVERY) " s) and\n"
  "                when interrupted; removed once the run completes\n"
  "  --resume DIR  continue the run of DIR from its checkpoint (spec and options\n"
  "                recorded there; options given again must agree); ends\n"
  "                bit-identical to an uninterrupted run\n"
  "  --max-memory SIZE  refuse a run estimated to need more memory (512M,\n"
  "                8G, none; default: the physical memory)\n";

typedef struct {
  const char *spec, *out;
  int have_lr, have_batch, have_steps;
  double ckpt_every;
  mv_sgd_params p;
} sgd_opts;

static int
parse (sgd_opts *o, int argc, char **argv)
{
  mv_cli_args a;
  const char *v;
  unsigned long u;
  memset (o, 0, sizeof *o);
  o->out = "sgd-out";
  o->ckpt_every = MV_CLI_CKPT_EVERY;
  mv_sgd_params_default (&o->p);
  mv_cli_args_init (&a, argc, argv);
  while (mv_cli_next (&a))
    {
      int c = mv_cli_common (&a, &o->spec, usage);
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
      if (mv_cli_is (&a, "--lr"))
        {
          if (!(v = mv_cli_value (&a))
              || mv_cli_parse_double ("--lr", v, 1e-300, 1e300, &o->p.lr))
            return MV_EXIT_USAGE;
          o->have_lr = 1;
        }
      else if (mv_cli_is (&a, "--batch"))
        {
          if (!(v = mv_cli_value (&a))
              || mv_cli_parse_ulong ("--batch", v, 1, 1UL << 30, &u))
            return MV_EXIT_USAGE;
          o->p.batch = u;
          o->have_batch = 1;
        }
      else if (mv_cli_is (&a, "--steps"))
        {
          if (!(v = mv_cli_value (&a))
              || mv_cli_parse_ulong ("--steps", v, 1, 1UL << 62, &o->p.steps))
            return MV_EXIT_USAGE;
          o->have_steps = 1;
        }
      else if (mv_cli_is (&a, "--seed"))
        {
          if (!(v = mv_cli_value (&a))
              || mv_cli_parse_ulong ("--seed", v, 0, 4294967295UL, &o->p.seed))
            return MV_EXIT_USAGE;
        }
      else if (mv_cli_is (&a, "--n-out"))
        {
          if (!(v = mv_cli_value (&a))
              || mv_cli_parse_ulong ("--n-out", v, 1, 1000000, &u))
            return MV_EXIT_USAGE;
          o->p.n_out = u;
        }
      else if (mv_cli_is (&a, "--checkpoint-every"))
        {
          if (!(v = mv_cli_value (&a))
              || mv_cli_parse_ckpt_every ("--checkpoint-every", v, &o->ckpt_every))
            return MV_EXIT_USAGE;
        }
      else if (mv_cli_is (&a, "--out") || mv_cli_is (&a, "-o"))
        {
          if (!(o->out = mv_cli_value (&a)))
            return MV_EXIT_USAGE;
        }
      else
        return mv_cli_unknown (&a);
    }
  if (!o->spec)
    {
      mv_cli_error ("sgd: missing SPEC.json (see moeverify sgd --help)");
      return MV_EXIT_USAGE;
    }
  if (!o->have_lr || !o->have_batch || !o->have_steps)
    {
      mv_cli_error ("sgd: %s is required (see moeverify sgd --help)",
                    !o->have_lr ? "--lr LR" : !o->have_batch ? "--batch B"
                    : "--steps S");
      return MV_EXIT_USAGE;
    }
  if (!isfinite (o->p.lr * (double) o->p.steps))
    {
      mv_cli_error ("sgd: final time --lr * --steps = %g * %lu is not finite",
                    o->p.lr, o->p.steps);
      return MV_EXIT_USAGE;
    }
  return 0;
}

static void
summary (const mv_traj *tr, const void *ctx)
{
  const sgd_opts *o = ctx;
  size_t last = tr->rows ? tr->rows - 1 : 0;
  double rate = tr->wall_seconds > 0 ? (double) tr->steps / tr->wall_seconds
    : NAN;
  printf ("sgd (lr %g, batch %zu, seed %lu): ", o->p.lr, o->p.batch,
          o->p.seed);
  if (tr->status == MV_TRAJ_DONE)
    printf ("finished at t = %.6g after %lu steps", tr->rows ? tr->t[last]
            : 0.0, tr->steps);
  else
    fputs (tr->message, stdout);
  printf (", L = %.6e, |grad L|^2 = %.3e, %.2f s (%.0f steps/s)\n",
          tr->rows ? tr->loss[last] : NAN, tr->rows ? tr->grad2[last] : NAN,
          tr->wall_seconds, rate);
  mv_cli_print_teachers (tr);
}

int
mv_cmd_sgd (int argc, char **argv)
{
  sgd_opts o;
  mv_cli_resume res;
  int rc = 0;
  memset (&res, 0, sizeof res);
  /* --resume DIR: the recorded command line, then the options given */
  if (mv_cli_resume_dir (argc, argv) && (rc = mv_cli_resume_load (&res, "sgd", argc, argv)))
    {
      mv_cli_resume_clear (&res);
      return rc;
    }
  if (res.ckpt)
    argc = res.argc, argv = res.argv;
  rc = parse (&o, argc, argv);
  if (rc || mv_cli_parse_only)
    {
      mv_cli_resume_clear (&res);
      return rc < 0 ? MV_EXIT_OK : rc;
    }
  if (res.ckpt)
    o.out = res.dir, o.p.ckpt.resume = res.ckpt;
  mv_problem pb;
  int s = res.ckpt ? mv_cli_resume_spec (&pb, &res, o.spec) : mv_cli_read_spec (&pb, o.spec);
  if (s)
    {
      mv_cli_resume_clear (&res);
      return s;
    }
  mv_cost cost;
  mv_cost_sgd (&cost, pb.m, pb.mstar, pb.d, &o.p);
  mv_traj tr;
  mv_cli_out out;
  char *spec = mv_problem_to_json (&pb), *note = NULL, *path = NULL;
  if (spec && o.ckpt_every >= 0)
    {
      note = mv_cli_ckpt_note ("sgd", argc, argv);
      path = mv_cli_ckpt_path (o.out);
      o.p.ckpt.path = path, o.p.ckpt.every = o.ckpt_every;
      o.p.ckpt.spec = spec, o.p.ckpt.note = note;
    }
  if ((rc = !spec || (o.ckpt_every >= 0 && (!note || !path)) ? MV_EXIT_FAIL : 0))
    mv_cli_error ("out of memory");
  if (rc || (rc = mv_cli_memory_guard (&cost, o.spec))
      || (rc = mv_cli_traj_start (&tr, &pb, &out, o.out)))
    {
      mv_problem_clear (&pb);
      free (spec), free (note), free (path);
      mv_cli_resume_clear (&res);
      return rc;
    }
  snprintf (tr.init, sizeof tr.init, "spec vectors");
  o.p.reg = &pb.reg;   /* the spec's regularizers (all 0: the plain L) */
  o.p.interrupt = mv_cli_catch_sigint ();
  if (mv_io_progress_enabled ())
    o.p.progress = mv_cli_flow_progress, o.p.progress_ctx = "sgd";
  s = mv_sgd_run (&tr, &pb, &o.p);
  mv_io_progress_done ();
  int status = tr.status;
  int exit_code = mv_cli_traj_finish (&tr, &pb, s, &out, summary, &o);
  if (o.p.ckpt.path || res.ckpt)
    mv_cli_ckpt_done (o.out, s ? MV_TRAJ_FAILED : status, exit_code);
  mv_problem_clear (&pb);
  free (spec), free (note), free (path);
  mv_cli_resume_clear (&res);
  return exit_code;
}
