/* Claim scans (check.h): a claim states its parameter scan as a sweep file
 * and reads the rows back, so the same scan runs in this process, on worker
 * processes or on a cluster (through the opts' scan hook) with the same
 * rows: a sweep's rows do not depend on who ran them (sweep.h). */
#include <moeverify/check.h>
#include <moeverify/error.h>

#include <stdio.h>
#include <stdlib.h>

/* Every task here, in order. */
static int
scan_serial (mv_sweep_row *rows, const mv_sweep *sw, const char *name,
             const mv_check_opts *o)
{
  size_t n = mv_sweep_ntasks (sw);
  for (size_t t = 0; t < n; t++)
    {
      if (o->progress)
        o->progress (o->progress_ctx, name, (double) t / (double) n);
      int s = mv_sweep_run_task (&rows[t], sw, t, NULL);
      if (s)
        return s;
    }
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
