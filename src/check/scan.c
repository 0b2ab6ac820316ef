/* Claim scans (check.h): a claim states its parameter scan as a sweep file
 * and reads the rows back, so the same scan runs in this process, on worker
 * processes or on a cluster (through the opts' scan hook) with the same
 * rows: a sweep's rows do not depend on who ran them (sweep.h). */
#include <moeverify/check.h>
#include <moeverify/error.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void
mv_check_scan_task_dir (char *buf, size_t len, const mv_check_opts *o, const char *name,
                        size_t t)
{
  snprintf (buf, len, "%s/scans/%s/tasks/%zu", o->dir ? o->dir : ".", name, t);
}

/* DIR/scans/NAME/tasks for a scan that keeps trajectories. */
static int
make_task_dirs (const mv_check_opts *o, const char *name)
{
  char path[4096];
  if (!o->dir)
    return mv_error_set (MV_EINVAL, "scan %s keeps trajectories: it needs a report "
                         "directory (mv_check_opts.dir)", name);
  const char *parts[] = { "scans", name, "tasks" };
  size_t len = (size_t) snprintf (path, sizeof path, "%s", o->dir);
  for (size_t k = 0; k < 3; k++)
    {
      len += (size_t) snprintf (path + len, sizeof path - len, "/%s", parts[k]);
      if (mkdir (path, 0777) != 0 && errno != EEXIST)
        return mv_error_set (MV_EIO, "%s: cannot create directory: %s", path,
                             strerror (errno));
    }
  return MV_OK;
}

/* Every task here, in order. */
static int
scan_serial (mv_sweep_row *rows, const mv_sweep *sw, const char *name,
             const mv_check_opts *o)
{
  size_t n = mv_sweep_ntasks (sw);
  int keep = mv_sweep_keep_trajectories (sw);
  int s = keep ? make_task_dirs (o, name) : MV_OK;
  for (size_t t = 0; !s && t < n; t++)
    {
      char dir[4096];
      if (o->progress)
        o->progress (o->progress_ctx, name, (double) t / (double) n);
      mv_check_scan_task_dir (dir, sizeof dir, o, name, t);
      s = mv_sweep_run_task (&rows[t], sw, t, keep ? dir : NULL);
    }
  if (s)
    return s;
  if (o->progress)
    o->progress (o->progress_ctx, name, 1.0);
  return MV_OK;
}

void
mv_check_scan_free (mv_sweep_row *rows, size_t n)
{
  for (size_t t = 0; rows && t < n; t++)
    mv_sweep_row_clear (&rows[t]);
  free (rows);
}

int
mv_check_scan (mv_sweep_row **rows, size_t *n, const char *text, const char *name,
               const mv_check_opts *o)
{
  mv_sweep *sw;
  *rows = NULL, *n = 0;
  int s = mv_sweep_parse (&sw, text, name);
  if (s)
    return s;
  size_t nt = mv_sweep_ntasks (sw);
  mv_sweep_row *r = calloc (nt, sizeof *r);
  if (!r)
    s = mv_error_set (MV_ENOMEM, "%s: out of memory (%zu tasks)", name, nt);
  for (size_t t = 0; !s && t < nt; t++)
    s = mv_sweep_row_init (&r[t], 0);
  if (!s)
    s = o->scan ? o->scan (o->scan_ctx, r, sw, text, name) : scan_serial (r, sw, name, o);
  mv_sweep_free (sw);
  if (s)
    {
      mv_check_scan_free (r, nt);
      return s;
    }
  *rows = r, *n = nt;
  return MV_OK;
}
