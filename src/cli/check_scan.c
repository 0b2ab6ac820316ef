/* The check command's scan hook (check.h, mv_check_opts.scan): a claim's
 * scan named NAME runs as `moeverify sweep` does, into REPORT/scans/NAME/
 * (sweep.json, results.jsonl, results.csv), on --jobs worker processes, and
 * its rows are read back from results.jsonl.  A directory holding the same
 * sweep.json is resumed, so rows computed earlier (by a killed check, or by
 * `mpirun moeverify sweep` on a cluster after --plan) are not run again.
 * With --plan the sweep files are written and nothing runs. */
#include "cli.h"
#include "cli/sweep_cli.h"

#include <moeverify/moeverify.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* REPORT/scans/NAME[/file] into buf. */
static void
scan_path (char *buf, size_t size, const mv_check_scan_ctx *c, const char *name,
           const char *file)
{
  snprintf (buf, size, "%s/scans/%s%s%s", c->dir, name, file ? "/" : "", file ? file : "");
}

/* Nonzero when DIR/sweep.json holds text already (a resumable scan); else
 * the results of another sweep are removed. */
static int
same_sweep (const mv_check_scan_ctx *c, const char *name, const char *text, size_t len)
{
  char path[4096];
  size_t old_len;
  scan_path (path, sizeof path, c, name, "sweep.json");
  char *old = access (path, F_OK) == 0 ? mv_io_read_file (path, &old_len) : NULL;
  int same = old && old_len == len && !memcmp (old, text, len);
  free (old);
  if (!same)
    {
      scan_path (path, sizeof path, c, name, "results.jsonl");
      unlink (path);
      scan_path (path, sizeof path, c, name, "results.csv");
      unlink (path);
    }
  return same;
}

/* rows[t] from DIR/results.jsonl for every task t. */
static int
read_rows (mv_sweep_row *rows, const mv_sweep *sw, const mv_check_scan_ctx *c,
           const char *name)
{
  char path[4096];
  size_t len, nt = mv_sweep_ntasks (sw), seen = 0;
  scan_path (path, sizeof path, c, name, "results.jsonl");
  char *text = mv_io_read_file (path, &len);
  char *have = calloc (nt + 1, 1);
  int s = !text ? MV_EIO : !have ? mv_error_set (MV_ENOMEM, "%s: out of memory", path) : MV_OK;
  for (char *line = text, *end; !s && line && *line; line = end ? end + 1 : NULL)
    {
      if ((end = strchr (line, '\n')))
        *end = '\0';
      size_t t = mv_sweep_line_task (sw, line);
      if (t < nt && !have[t] && !(s = mv_sweep_row_parse (&rows[t], sw, line)))
        have[t] = 1, seen++;
    }
  if (!s && seen < nt)
    s = mv_error_set (MV_EIO, "%s: %zu of %zu rows missing", path, nt - seen, nt);
  free (text), free (have);
  return s;
}

/* --plan: the rows say where the scan is to be run. */
static int
plan_rows (mv_sweep_row *rows, const mv_sweep *sw, mv_check_scan_ctx *c, const char *name)
{
  char dir[4096];
  scan_path (dir, sizeof dir, c, name, NULL);
  printf ("plan: mpirun -n K moeverify sweep %s/sweep.json --out %s --resume   "
          "# %zu tasks\n", dir, dir, mv_sweep_ntasks (sw));
  c->planned++;
  for (size_t t = 0; t < mv_sweep_ntasks (sw); t++)
    {
      rows[t].task = t, rows[t].status = MV_TRAJ_FAILED;
      snprintf (rows[t].message, sizeof rows[t].message, "planned, not run (--plan)");
    }
  return MV_OK;
}

int
mv_cli_check_scan (void *ctx, mv_sweep_row *rows, const mv_sweep *sw, const char *text,
                   const char *name)
{
  mv_check_scan_ctx *c = ctx;
  char dir[4096], file[4096];
  size_t len = strlen (text);
  snprintf (dir, sizeof dir, "%s/scans", c->dir);
  if (mv_cli_prepare_dir (dir) || (scan_path (dir, sizeof dir, c, name, NULL),
                                   mv_cli_prepare_dir (dir)))
    return mv_error_set (MV_EIO, "%s: cannot create the scan directory", dir);
  int same = same_sweep (c, name, text, len);
  scan_path (file, sizeof file, c, name, "sweep.json");
  if (c->plan)
    {
      if (!same && mv_io_write_atomic (file, text, len))
        return MV_EIO;
      return plan_rows (rows, sw, c, name);
    }
  fflush (stdout);
  int rc = mv_cli_sweep_run (sw, file, text, len, dir, c->jobs, same);
  /* Ctrl-C kills again outside the scans */
  mv_cli_on_stop_signals (SIG_DFL);
  if (rc && rc != MV_EXIT_TASKS_FAILED)
    return mv_error_set (rc == MV_EXIT_INTERRUPTED ? MV_EINVAL : MV_EIO, "scan %s stopped "
                         "(moeverify sweep exit status %d); run the check again to resume",
                         name, rc);
  return read_rows (rows, sw, c, name);
}
