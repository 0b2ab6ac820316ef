/* moeverify sweep: the results files.  Rows are appended as tasks finish
 * (one write() per line, files opened O_APPEND, so a kill leaves at most a
 * torn last line), kept in memory, and rewritten sorted by task at the end
 * through a temporary file and rename.  --resume reads the complete rows
 * back. */
#include "cli.h"
#include "cli/sweep_cli.h"

#include <moeverify/moeverify.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *
path_in (const char *dir, const char *name)
{
  size_t n = strlen (dir) + strlen (name) + 2;
  char *p = malloc (n);
  if (p)
    snprintf (p, n, "%s/%s", dir, name);
  return p;
}

/* Rewrite DIR/NAME atomically from the recorded lines in task order (with
 * the CSV header first when csv). */
static int
write_sorted (mv_sweep_out *o, int csv)
{
  const char *name = csv ? "results.csv" : "results.jsonl";
  char **lines = csv ? o->csv : o->json;
  char *path = path_in (o->dir, name);
  char *header = csv ? mv_sweep_csv_header (o->sw) : NULL;
  const char **parts = malloc ((o->ntasks + 1) * sizeof *parts);
  size_t *len = malloc ((o->ntasks + 1) * sizeof *len);
  int rc = MV_EXIT_FAIL;
  if (!path || !parts || !len || (csv && !header))
    {
      mv_cli_error ("out of memory");
      goto done;
    }
  size_t n = 0;
  if (csv)
    parts[n] = header, len[n++] = strlen (header);
  for (size_t t = 0; t < o->ntasks; t++)
    if (lines[t])
      parts[n] = lines[t], len[n++] = strlen (lines[t]);
  if (mv_io_write_atomic_parts (path, parts, len, n))
    mv_cli_lib_error ();
  else
    rc = 0;
done:
  free (path), free (header), free (parts), free (len);
  return rc;
}

/* Split text at '\n' in place: *line gets the next line (with its '\n'
 * restored by the caller's use of the returned length), NULL at the end.
 * Returns the line's length including '\n', or 0 for a torn last line. */
static size_t
next_line (char **cursor, char **line)
{
  char *s = *cursor, *nl = s ? strchr (s, '\n') : NULL;
  *line = s && *s ? s : NULL;
  if (!*line)
    return 0;
  if (!nl)
    {
      *cursor = NULL;
      return 0;
    }
  *cursor = nl + 1;
  return (size_t) (nl + 1 - s);
}

/* Whether a JSON row is not a completed task (its "status" is not
 * "complete"). */
static int
line_failed (const char *line)
{
  json_t *row = json_loads (line, JSON_DECODE_ANY, NULL);
  const char *st = json_string_value (json_object_get (row, "status"));
  int failed = !st || strcmp (st, "complete") != 0;
  json_decref (row);
  return failed;
}

/* Keep the complete rows of results.jsonl and results.csv: line k of one
 * is line k of the other (the CSV header aside); stop at the first torn or
 * foreign line, skip repeated tasks. */
static int
load_rows (mv_sweep_out *o, char *jtext, char *ctext)
{
  char *header = mv_sweep_csv_header (o->sw);
  if (!header)
    return mv_cli_error ("out of memory"), MV_EXIT_FAIL;
  size_t hl = strlen (header);
  if (ctext && !strncmp (ctext, header, hl))
    ctext += hl;
  free (header);
  char *jc = jtext, *cc = ctext, *jl, *cl;
  for (;;)
    {
      size_t jn = next_line (&jc, &jl), cn = next_line (&cc, &cl);
      if (!jn || !cn)
        break;
      char save = jl[jn];
      jl[jn] = '\0';
      size_t t = mv_sweep_line_task (o->sw, jl);
      jl[jn] = save;
      if (t == (size_t) -1 || t >= o->ntasks)
        break;
      if (o->json[t])
        continue;
      if (!(o->json[t] = strndup (jl, jn)) || !(o->csv[t] = strndup (cl, cn)))
        return mv_cli_error ("out of memory"), MV_EXIT_FAIL;
      o->ndone++;
      o->nfailed += line_failed (o->json[t]);
    }
  o->nresumed = o->ndone;
  return 0;
}

/* Read DIR/NAME whole (NULL text when missing); nonzero on a read error. */
static int
read_results (const char *dir, const char *name, char **text, size_t *len)
{
  char *path = path_in (dir, name);
  struct stat st;
  *text = NULL, *len = 0;
  if (!path)
    return mv_cli_error ("out of memory"), MV_EXIT_FAIL;
  if (stat (path, &st) != 0)
    {
      free (path);
      return 0;
    }
  *text = mv_io_read_file (path, len);
  free (path);
  if (!*text)
    return mv_cli_lib_error (), MV_EXIT_FAIL;
  return 0;
}

static int
open_append (mv_sweep_out *o, int csv)
{
  char *path = path_in (o->dir, csv ? "results.csv" : "results.jsonl");
  if (!path)
    return mv_cli_error ("out of memory"), MV_EXIT_FAIL;
  int fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0)
    mv_cli_error ("%s: cannot open: %s", path, strerror (errno));
  free (path);
  *(csv ? &o->fd_csv : &o->fd_json) = fd;
  return fd < 0 ? MV_EXIT_FAIL : 0;
}

int
mv_sweep_out_open (mv_sweep_out *o, const mv_sweep *sw, const char *dir,
                   int resume)
{
  memset (o, 0, sizeof *o);
  o->sw = sw, o->dir = dir, o->ntasks = mv_sweep_ntasks (sw);
  o->fd_json = o->fd_csv = -1;
  o->t0 = mv_io_now ();
  o->json = calloc (o->ntasks, sizeof *o->json);
  o->csv = calloc (o->ntasks, sizeof *o->csv);
  if (!o->json || !o->csv)
    return mv_cli_error ("out of memory"), MV_EXIT_FAIL;
  char *jt, *ct;
  size_t jn, cn;
  int rc = read_results (dir, "results.jsonl", &jt, &jn);
  if (!rc && (rc = read_results (dir, "results.csv", &ct, &cn)))
    free (jt);
  if (rc)
    return rc;
  if (!resume && (jn || cn))
    {
      mv_cli_error ("%s/results.%s: results of an earlier sweep exist "
                    "(use --resume or another --out)", dir, jn ? "jsonl" : "csv");
      free (jt), free (ct);
      return MV_EXIT_USAGE;
    }
  if (resume)
    rc = load_rows (o, jt, ct);
  free (jt), free (ct);
  /* drop a torn last line (and start both files with the same rows) */
  if (!rc)
    rc = write_sorted (o, 0);
  if (!rc)
    rc = write_sorted (o, 1);
  if (!rc)
    rc = open_append (o, 0);
  if (!rc)
    rc = open_append (o, 1);
  return rc;
}

size_t
mv_sweep_out_next (mv_sweep_out *o)
{
  if (o->sigint && *o->sigint)
    return o->ntasks;
  while (o->cursor < o->ntasks && o->json[o->cursor])
    o->cursor++;
  return o->cursor < o->ntasks ? o->cursor++ : o->ntasks;
}

static int
append (mv_sweep_out *o, int fd, const char *line, const char *name)
{
  size_t n = strlen (line);
  ssize_t w;
  do
    w = write (fd, line, n);
  while (w < 0 && errno == EINTR);
  if (w == (ssize_t) n)
    return 0;
  mv_cli_error ("%s/%s: write failed: %s", o->dir, name,
                w < 0 ? strerror (errno) : "short write");
  return MV_EXIT_FAIL;
}

int
mv_sweep_out_record (mv_sweep_out *o, size_t t, char *json, char *csv)
{
  if (t >= o->ntasks || o->json[t])
    {
      /* a stray repeat (cannot happen with a correct engine): ignore */
      free (json), free (csv);
      return 0;
    }
  o->json[t] = json, o->csv[t] = csv;
  o->ndone++;
  o->nfailed += line_failed (json);
  int rc = append (o, o->fd_json, json, "results.jsonl");
  if (!rc)
    rc = append (o, o->fd_csv, csv, "results.csv");
  mv_sweep_out_progress (o);
  return rc;
}

/* m* of task t (for the width of a failed row); 0 if its spec is bad */
static size_t
task_mstar (const mv_sweep *sw, size_t t)
{
  char *spec = mv_sweep_task_spec (sw, t);
  mv_problem pb;
  size_t mstar = 0;
  if (spec && !mv_problem_parse (&pb, spec, "task"))
    {
      mstar = pb.mstar;
      mv_problem_clear (&pb);
    }
  free (spec);
  return mstar;
}

int
mv_sweep_out_record_failure (mv_sweep_out *o, size_t t, const char *why)
{
  mv_sweep_row row;
  if (mv_sweep_row_init (&row, task_mstar (o->sw, t)))
    return mv_cli_lib_error (), MV_EXIT_FAIL;
  row.task = t;
  row.status = MV_TRAJ_FAILED;
  snprintf (row.message, sizeof row.message, "%s", why);
  char *json = mv_sweep_row_json (o->sw, &row);
  char *csv = mv_sweep_row_csv (o->sw, &row);
  mv_sweep_row_clear (&row);
  if (!json || !csv)
    {
      free (json), free (csv);
      return mv_cli_error ("out of memory"), MV_EXIT_FAIL;
    }
  return mv_sweep_out_record (o, t, json, csv);
}

/* "12.3s", "4.5m", "2.1h", "3.0d" */
static void
fmt_duration (char *buf, size_t size, double s)
{
  if (!isfinite (s))
    snprintf (buf, size, "?");
  else if (s < 100)
    snprintf (buf, size, "%.0fs", s);
  else if (s < 6000)
    snprintf (buf, size, "%.1fm", s / 60);
  else if (s < 360000)
    snprintf (buf, size, "%.1fh", s / 3600);
  else
    snprintf (buf, size, "%.1fd", s / 86400);
}

void
mv_sweep_out_progress (mv_sweep_out *o)
{
  if (!mv_io_progress_enabled ())
    return;
  size_t now = o->ndone - o->nresumed, left = o->ntasks - o->ndone;
  double rate = now ? (mv_io_now () - o->t0) / (double) now : NAN;
  char eta[32], label[96];
  fmt_duration (eta, sizeof eta, rate * (double) left);
  snprintf (label, sizeof label, "sweep %zu/%zu, %zu failed, %s left",
            o->ndone, o->ntasks, o->nfailed, left ? eta : "0s");
  /* fixed width: a shorter label must cover a longer one */
  char padded[100];
  snprintf (padded, sizeof padded, "%-44s", label);
  mv_io_progress (padded, o->ntasks ? (double) o->ndone / (double) o->ntasks : 1);
}

void
mv_sweep_out_free (mv_sweep_out *o)
{
  if (o->fd_json >= 0)
    close (o->fd_json);
  if (o->fd_csv >= 0)
    close (o->fd_csv);
  for (size_t t = 0; t < o->ntasks; t++)
    {
      if (o->json)
        free (o->json[t]);
      if (o->csv)
        free (o->csv[t]);
    }
  free (o->json), free (o->csv);
  o->json = o->csv = NULL;
}

int
mv_sweep_out_close (mv_sweep_out *o, int engine_status)
{
  mv_io_progress_done ();
  int rc = write_sorted (o, 0);
  if (!rc)
    rc = write_sorted (o, 1);
  double wall = mv_io_now () - o->t0;
  size_t now = o->ndone - o->nresumed;
  mv_sweep_out_free (o);
  if (rc || engine_status)
    return rc ? rc : engine_status;
  if (o->ndone < o->ntasks)
    {
      mv_cli_error ("sweep interrupted: %zu of %zu tasks recorded in %s "
                    "(continue with --resume)", o->ndone, o->ntasks, o->dir);
      return MV_EXIT_INTERRUPTED;
    }
  printf ("sweep: %zu tasks (%zu run now in %.3g s), %zu failed: %s/results.csv\n",
          o->ntasks, now, wall, o->nfailed, o->dir);
  return o->nfailed ? MV_EXIT_TASKS_FAILED : MV_EXIT_OK;
}
