/* moeverify sweep SWEEP.json [--out DIR] [--jobs N] [--resume] [--spec K]
 *        moeverify sweep --plot DIR
 *
 * Run every task of a parameter sweep (sweep.h) on worker processes or MPI
 * ranks and collect one row per task in DIR/results.csv and .jsonl. */
#include <config.h>
#include "cli.h"
#include "cli/sweep_cli.h"
#include "base/io_priv.h"

#include <moeverify/moeverify.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage_fmt[] =
  "usage: moeverify sweep SWEEP.json [--out DIR] [--jobs N] [--resume]\n"
  "                       [--max-memory SIZE]\n"
  "       moeverify sweep SWEEP.json --spec K\n"
  "       moeverify sweep --plot DIR\n"
  "       mpirun -n K moeverify sweep SWEEP.json [--out DIR] [--resume]\n"
  "  Run every task of a sweep: {\"base\": SPEC, \"grid\": {PATH: [v, ...] |\n"
  "  {\"from\": a, \"to\": b[, \"step\": s]}, ...}, \"run\": {\"method\": \"reduced\"\n"
  "  | \"full\" | \"sgd\", \"t_end\": T, ...}}; the tasks are the Cartesian\n"
  "  product of the grid axes (the first varies slowest).  DIR (default\n"
  "  sweep-out) gets sweep.json (a copy of the file), results.jsonl and\n"
  "  results.csv: one row per task, appended as tasks finish and sorted by\n"
  "  task at the end; tasks/K/ trajectories with \"keep\": \"trajectories\".\n"
  "  The rows do not depend on --jobs or MPI: wall_seconds is the only\n"
  "  column that differs between runs.\n"
  "  --out DIR       output directory (default sweep-out)\n"
  "  --jobs N        worker processes (default: the online cores, here %ld);\n"
  "                  1 runs the tasks in this process\n"
  "  --resume        continue a killed or interrupted sweep in DIR: keep\n"
  "                  its complete rows (a torn last line is dropped), run\n"
  "                  the rest; DIR/sweep.json must equal SWEEP.json\n"
  "  --plot DIR      SVG summaries of DIR/results.csv in DIR/plots: median\n"
  "                  and quartiles of each metric (loss, grad2, recovered,\n"
  "                  first_recovery, first_cross50, t_final, steps,\n"
  "                  wall_seconds) against each numeric non-seed axis; log\n"
  "                  scales where values span two decades\n"
  "  --spec K        print task K's spec (JSON) and exit: `moeverify flow`\n"
  "                  on it reproduces the task's row\n"
  "  --max-memory SIZE  refuse a sweep whose largest task, times the tasks\n"
  "                  run at once, is estimated to need more (512M, 8G,\n"
  "                  none; default: the physical memory)\n"
  "  Ctrl-C stops handing out tasks and waits for the running ones (again:\n"
  "  abandons them); DIR stays resumable.  A worker that dies records its\n"
  "  task as failed and is replaced.\n"
  "  MPI: %s\n"
  "exit status: 0 every task done, 3 some tasks failed (rows written),\n"
  "  130 interrupted, 1 output failure, 2 usage or sweep file error.\n";

static const char *
usage_text (void)
{
  static char text[sizeof usage_fmt + 200];
  snprintf (text, sizeof text, usage_fmt, sysconf (_SC_NPROCESSORS_ONLN),
            mv_sweep_mpi_available ()
            ? "yes (rank 0 writes DIR, ranks 1.. run tasks; -n 1 runs\n"
              "  them in rank 0)"
            : "no (configure found no MPI, or --without-mpi)");
  return text;
}

typedef struct {
  const char *file, *out, *plot;
  unsigned long jobs, spec;
  int resume, have_spec;
} sweep_opts;

static int
parse (sweep_opts *o, int argc, char **argv)
{
  mv_cli_args a;
  const char *v;
  memset (o, 0, sizeof *o);
  o->out = "sweep-out";
  long cores = sysconf (_SC_NPROCESSORS_ONLN);
  o->jobs = cores > 0 ? (unsigned long) cores : 1;
  mv_cli_args_init (&a, argc, argv);
  while (mv_cli_next (&a))
    {
      int c = mv_cli_common (&a, &o->file, usage_text ());
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
      if (mv_cli_is (&a, "--out") || mv_cli_is (&a, "-o"))
        {
          if (!(o->out = mv_cli_value (&a)))
            return MV_EXIT_USAGE;
        }
      else if (mv_cli_is (&a, "--jobs") || mv_cli_is (&a, "-j"))
        {
          if (!(v = mv_cli_value (&a))
              || mv_cli_parse_ulong ("--jobs", v, 1, 4096, &o->jobs))
            return MV_EXIT_USAGE;
        }
      else if (mv_cli_is (&a, "--spec"))
        {
          if (!(v = mv_cli_value (&a))
              || mv_cli_parse_ulong ("--spec", v, 0, (unsigned long) -1 / 2, &o->spec))
            return MV_EXIT_USAGE;
          o->have_spec = 1;
        }
      else if (mv_cli_is (&a, "--plot"))
        {
          if (!(o->plot = mv_cli_value (&a)))
            return MV_EXIT_USAGE;
        }
      else if (mv_cli_is (&a, "--resume"))
        {
          if (mv_cli_flag (&a))
            return MV_EXIT_USAGE;
          o->resume = 1;
        }
      else
        return mv_cli_unknown (&a);
    }
  if (o->plot && o->file)
    {
      mv_cli_error ("sweep: --plot DIR takes no sweep file");
      return MV_EXIT_USAGE;
    }
  if (!o->file && !o->plot)
    {
      mv_cli_error ("sweep: missing SWEEP.json (see moeverify sweep --help)");
      return MV_EXIT_USAGE;
    }
  return 0;
}

/* Read and parse the sweep file; quiet: no message (MPI ranks > 0 leave
 * them to rank 0).  Returns 0 or an exit status. */
static int
load (mv_sweep **sw, char **text, size_t *len, const char *file, int quiet)
{
  *sw = NULL;
  int s = mv_io_read_json (text, len, file, MV_IO_SMALL_JSON_MAX);
  if (!s)
    s = mv_sweep_parse (sw, *text, file);
  if (!s)
    return 0;
  if (!quiet)
    mv_cli_lib_error ();
  return s == MV_ENOMEM ? MV_EXIT_FAIL : MV_EXIT_USAGE;
}

static int
print_spec (const mv_sweep *sw, const sweep_opts *o)
{
  size_t n = mv_sweep_ntasks (sw);
  if (o->spec >= n)
    {
      mv_cli_error ("--spec %lu: %s has tasks 0 to %zu", o->spec, o->file, n - 1);
      return MV_EXIT_USAGE;
    }
  char *spec = mv_sweep_task_spec (sw, o->spec);
  if (!spec)
    return mv_cli_lib_error (), MV_EXIT_FAIL;
  size_t len = strlen (spec);
  int nl = len && spec[len - 1] == '\n';
  int rc = fputs (spec, stdout) < 0 || (!nl && putchar ('\n') == EOF)
           || fflush (stdout) ? MV_EXIT_FAIL : 0;
  if (rc)
    mv_cli_error ("sweep: cannot write to stdout");
  free (spec);
  return rc;
}

/* DIR/sweep.json: a resumed sweep must be the same file; a new one gets
 * its copy (after the results check, so a refused run changes nothing). */
static int
check_copy (const sweep_opts *o, const char *text, size_t len, int *same)
{
  char path[4096];
  size_t old_len;
  snprintf (path, sizeof path, "%s/sweep.json", o->out);
  *same = 0;
  if (access (path, F_OK) != 0)
    return 0;
  char *old = mv_io_read_file (path, &old_len);
  if (!old)
    return mv_cli_lib_error (), MV_EXIT_FAIL;
  *same = old_len == len && !memcmp (old, text, len);
  free (old);
  if (o->resume && !*same)
    {
      mv_cli_error ("%s: differs from %s (--resume needs the same sweep file)",
                    path, o->file);
      return MV_EXIT_USAGE;
    }
  return 0;
}

static int
write_copy (const sweep_opts *o, const char *text, size_t len)
{
  char path[4096];
  snprintf (path, sizeof path, "%s/sweep.json", o->out);
  if (mv_io_write_atomic (path, text, len))
    return mv_cli_lib_error (), MV_EXIT_FAIL;
  return 0;
}

/* Make DIR (and DIR/tasks), check and copy the sweep file, open the
 * results; 0 or an exit status (printed). */
static int
prepare (mv_sweep_out *out, const mv_sweep *sw, const sweep_opts *o,
         const char *text, size_t len)
{
  int same, rc = mv_cli_prepare_dir (o->out);
  if (!rc)
    rc = check_copy (o, text, len, &same);
  if (!rc)
    rc = mv_sweep_out_open (out, sw, o->out, o->resume);
  if (!rc && !same)
    rc = write_copy (o, text, len);
  if (!rc && mv_sweep_keep_trajectories (sw))
    {
      char path[4096];
      snprintf (path, sizeof path, "%s/tasks", o->out);
      if (mkdir (path, 0777) != 0 && errno != EEXIST)
        {
          mv_cli_error ("%s: cannot create directory: %s", path, strerror (errno));
          rc = MV_EXIT_FAIL;
        }
    }
  return rc;
}

/* The memory of the largest task times the tasks run at once, against
 * --max-memory; 0 or an exit status (printed). */
static int
guard_tasks (const mv_sweep *sw, const char *file, unsigned at_once)
{
  mv_cost worst, c;
  memset (&worst, 0, sizeof worst);
  size_t nt = mv_sweep_ntasks (sw), wt = 0;
  for (size_t t = 0; t < nt; t++)
    {
      char *spec = mv_sweep_task_spec (sw, t);
      mv_problem pb;
      if (!spec || mv_problem_parse (&pb, spec, file))
        {
          free (spec);
          continue;        /* the task fails on its own, with its message */
        }
      int method = mv_sweep_method (sw);
      if (method == MV_SWEEP_SGD)
        mv_cost_sgd (&c, pb.m, pb.mstar, pb.d, mv_sweep_sgd_params (sw));
      else
        mv_cost_flow (&c, pb.m, pb.mstar, pb.d, method == MV_SWEEP_REDUCED,
                      mv_sweep_flow_params (sw));
      if (c.bytes > worst.bytes)
        worst = c, wt = t;
      mv_problem_clear (&pb);
      free (spec);
    }
  worst.bytes *= at_once, worst.traj_bytes *= at_once;
  worst.work_bytes *= at_once, worst.state_bytes *= at_once;
  char what[256];
  snprintf (what, sizeof what, "%s: task %zu (%u at once)", file, wt, at_once);
  return mv_cli_memory_guard (&worst, what);
}

/* Rank 0 (or the only process): prepare DIR, run the engine, write the
 * sorted results. */
static int
run_master (const mv_sweep *sw, const sweep_opts *o, const char *text,
            size_t len, int mpi_size)
{
  mv_sweep_out out;
  memset (&out, 0, sizeof out);
  out.fd_json = out.fd_csv = -1;
  unsigned at_once = mpi_size > 1 ? 1 : (unsigned) o->jobs;
  if (at_once > mv_sweep_ntasks (sw))
    at_once = (unsigned) mv_sweep_ntasks (sw);
  int rc = guard_tasks (sw, o->file, at_once ? at_once : 1);
  if (!rc)
    rc = prepare (&out, sw, o, text, len);
  if (rc)
    {
      if (mpi_size > 1)
        mv_sweep_mpi_abort_workers (mpi_size);
      mv_sweep_out_free (&out);
      return rc;
    }
  out.sigint = mv_sweep_catch_sigint ();
  if (mpi_size > 1)
    rc = mv_sweep_mpi_master (&out, mpi_size);
  else
    rc = mv_sweep_run_local (&out, mpi_size == 1 ? 1 : (unsigned) o->jobs);
  return mv_sweep_out_close (&out, rc);
}

int
mv_cli_sweep_run (const mv_sweep *sw, const char *file, const char *text, size_t len,
                  const char *dir, unsigned jobs, int resume)
{
  sweep_opts o;
  memset (&o, 0, sizeof o);
  o.file = file, o.out = dir, o.jobs = jobs, o.resume = resume;
  return run_master (sw, &o, text, len, 0);
}

int
mv_cmd_sweep (int argc, char **argv)
{
  sweep_opts o;
  int rc = parse (&o, argc, argv);
  if (rc || mv_cli_parse_only)
    return rc < 0 ? MV_EXIT_OK : rc;
  if (o.plot)
    return mv_cli_sweep_plot (o.plot);
  /* MPI only for a real run, and only when mpirun started us */
  int rank = 0, size = o.have_spec ? 0 : mv_sweep_mpi_init (&rank);
  if (size > 1 && !mv_sweep_mpi_available ())
    {
      if (rank == 0)
        mv_cli_error ("sweep: started by mpirun with %d processes, but this "
                      "moeverify was built without MPI (configure --with-mpi)", size);
      return MV_EXIT_USAGE;
    }
  mv_sweep *sw;
  char *text;
  size_t len;
  rc = load (&sw, &text, &len, o.file, rank > 0);
  if (size > 1 && rank > 0)
    {
      /* a worker: its parse errors are rank 0's to report */
      int wrc = mv_sweep_mpi_worker (sw, o.out);
      rc = rc ? rc : wrc;
    }
  else if (rc)
    {
      if (size > 1)
        mv_sweep_mpi_abort_workers (size);
    }
  else if (o.have_spec)
    rc = print_spec (sw, &o);
  else
    rc = run_master (sw, &o, text, len, size);
  if (sw)
    mv_sweep_free (sw);
  free (text);
  mv_sweep_mpi_finalize ();
  return rc;
}
