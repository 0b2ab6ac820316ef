/* moeverify specialize --grid G --t-end T: a grid of regularizer
 * coefficients (and any other spec paths) over the spec, run as a sweep
 * through the check command's scan machinery (mv_check_scan with the CLI's
 * hook: `moeverify sweep` into DIR/scans/grid, trajectories kept), then per
 * task: escape times (first 0.5 crossing of each teacher's best expert
 * alignment), recovery order, terminal states, redundant students, final
 * objective and plain L, and the least cosine of each regularizer's
 * gradient with ∇L along the run.  DIR/grid.csv, grid.md, plots/. */
#include "cli.h"
#include "cli/specialize_cli.h"
#include "base/textbuf.h"

#include <moeverify/moeverify.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { NO = MV_SPEC_NOBJ };

/* A grid key: bare regularizer names live under "regularizers". */
static char *
grid_key (const char *k)
{
  size_t len = strlen (k) + 16;
  char *s = malloc (len);
  if (s)
    snprintf (s, len, "%s%s", strchr (k, '.') ? "" : "regularizers.", k);
  return s;
}

/* "ortho=0,0.1,1;var=0,1" into a grid object; NULL with the error printed. */
static json_t *
grid_inline (const char *text)
{
  json_t *g = json_object ();
  char *copy = strdup (text), *save = NULL;
  int bad = !g || !copy;
  for (char *part = copy ? strtok_r (copy, ";", &save) : NULL; !bad && part;
       part = strtok_r (NULL, ";", &save))
    {
      char *eq = strchr (part, '=');
      if (!eq || eq == part || !eq[1])
        {
          mv_cli_error ("--grid: '%s': expected KEY=V1,V2,... (items separated by ';')", part);
          bad = 1;
          break;
        }
      *eq = '\0';
      size_t len = strlen (eq + 1) + 3;
      char *arr = malloc (len), *key = grid_key (part);
      snprintf (arr, len, "[%s]", eq + 1);
      json_error_t e;
      json_t *v = arr ? json_loads (arr, 0, &e) : NULL;
      if (!v || !json_is_array (v))
        {
          mv_cli_error ("--grid: %s: '%s' is not a list of numbers", key ? key : part, eq + 1);
          bad = 1;
          json_decref (v);
        }
      else
        json_object_set_new (g, key, v);
      free (arr), free (key);
    }
  free (copy);
  if (bad)
    json_decref (g), g = NULL;
  return g;
}

/* The grid object from a file (if one exists at arg), "default", or
 * inline text; *name is what messages call it. */
static json_t *
grid_load (const char *arg, const char **name)
{
  if (!strcmp (arg, "default"))
    arg = MV_SPEC_DEFAULT_GRID_INLINE;
  if (access (arg, F_OK) != 0)
    {
      *name = "--grid";
      return grid_inline (arg);
    }
  *name = arg;
  json_error_t e;
  json_t *in = json_load_file (arg, 0, &e), *g = NULL;
  if (!in || !json_is_object (in))
    {
      mv_cli_error ("%s: %s", arg, in ? "grid: expected an object {PATH: [values], ...}"
                    : e.text);
      json_decref (in);
      return NULL;
    }
  g = json_object ();
  const char *k;
  json_t *v;
  json_object_foreach (in, k, v)
    {
      char *key = grid_key (k);
      json_object_set (g, key, v);
      free (key);
    }
  json_decref (in);
  return g;
}

/* The sweep file's text: base = the spec as parsed, the grid, the run. */
static char *
sweep_text (const mv_spec_opts *o, const mv_problem *pb, json_t *grid)
{
  char *spec = mv_problem_to_json (pb);
  json_error_t e;
  json_t *base = spec ? json_loads (spec, 0, &e) : NULL;
  free (spec);
  /* grid paths "regularizers.KEY" need the object in the base */
  if (base && !json_object_get (base, "regularizers"))
    json_object_set_new (base, "regularizers", mv_cli_spec_reg_json (&pb->reg));
  json_t *run = json_object (), *doc = json_object ();
  json_object_set_new (run, "method", json_string (o->full ? "full" : "reduced"));
  json_object_set_new (run, "t_end", json_real (o->t_end));
  json_object_set_new (run, "keep", json_string ("trajectories"));
  /* G(0) as the point and the flow mode see it: the spec vectors' Gram
     matrix when they can be formed (a sweep samples by default) */
  if (!o->full)
    json_object_set_new (run, "gram0", json_string ("auto"));
  json_object_set_new (doc, "base", base);
  json_object_set (doc, "grid", grid);
  json_object_set_new (doc, "run", run);
  char *text = base ? json_dumps (doc, JSON_INDENT (1) | JSON_PRESERVE_ORDER) : NULL;
  json_decref (doc);
  return text;
}

/* What the table shows of one task beyond the sweep row. */
typedef struct {
  int ok;
  double L, mincos[NO];
  size_t redundant;
  char order[128];
} task_extra;

/* Teachers in order of recovery ("2<0<1", "-" if none). */
static void
recovery_order (char *buf, size_t len, const mv_sweep_row *row)
{
  size_t idx[256], k = 0, used = 0;
  for (size_t j = 0; j < row->mstar && j < 256; j++)
    if (isfinite (row->recovery_time[j]))
      idx[k++] = j;
  for (size_t a = 1; a < k; a++)
    for (size_t b = a; b > 0 && row->recovery_time[idx[b]] < row->recovery_time[idx[b - 1]]; b--)
      {
        size_t t = idx[b];
        idx[b] = idx[b - 1], idx[b - 1] = t;
      }
  buf[0] = '\0';
  for (size_t a = 0; a < k && used + 8 < len; a++)
    used += (size_t) snprintf (buf + used, len - used, "%s%zu", a ? "<" : "", idx[a]);
  if (!k)
    snprintf (buf, len, "-");
}

static int
task_extra_get (task_extra *x, const mv_sweep *sw, const mv_sweep_row *row, size_t t,
                const char *dir)
{
  char path[4096];
  memset (x, 0, sizeof *x);
  recovery_order (x->order, sizeof x->order, row);
  if (row->status == MV_TRAJ_FAILED)
    return MV_OK;
  snprintf (path, sizeof path, "%s/scans/grid/tasks/%zu", dir, t);
  mv_traj tr;
  mv_problem pb;
  memset (&pb, 0, sizeof pb);
  char *spec = mv_sweep_task_spec (sw, t);
  int s = !spec ? mv_error_set (MV_ENOMEM, "out of memory")
    : mv_problem_parse (&pb, spec, "task");
  free (spec);
  if (s)
    return s;
  if ((s = mv_traj_read (&tr, path)))
    {
      mv_problem_clear (&pb);
      return s;
    }
  mv_spec_ws *ws = mv_spec_alloc (tr.m, tr.mstar);
  double *val = malloc ((tr.rows + 1) * NO * sizeof *val);
  double *cos = malloc ((tr.rows + 1) * NO * NO * sizeof *cos);
  s = !ws || !val || !cos ? mv_error_set (MV_ENOMEM, "out of memory")
    : mv_spec_traj_d (val, cos, &tr, pb.noise_var, ws);
  if (!s && tr.rows)
    {
      x->ok = 1;
      x->L = val[(tr.rows - 1) * NO + MV_SPEC_FIT];
      x->redundant = mv_spec_redundant (&tr, tr.rows - 1);
      for (size_t a = 0; a < NO; a++)
        {
          x->mincos[a] = NAN;
          for (size_t r = 0; r < tr.rows; r++)
            {
              double c = cos[r * NO * NO + MV_SPEC_FIT * NO + a];
              if (isfinite (c) && !(c >= x->mincos[a]))
                x->mincos[a] = c;
            }
        }
    }
  free (val), free (cos);
  mv_spec_free (ws);
  mv_traj_clear (&tr);
  mv_problem_clear (&pb);
  return s;
}

static void
fmt_num (char *buf, size_t len, double x, int md)
{
  if (!isfinite (x))
    snprintf (buf, len, "%s", md ? "–" : "");
  else
    snprintf (buf, len, md ? "%.4g" : "%.17g", x);
}

/* One row of the table as CSV (md = 0) or Markdown (md = 1). */
static void
table_row (mv_textbuf *b, const mv_sweep *sw, const mv_sweep_row *row, const task_extra *x,
           int md)
{
  const char *sep = md ? " | " : ",";
  char s[64];
  if (md)
    mv_textbuf_puts (b, "| ");
  snprintf (s, sizeof s, "%zu", row->task);
  mv_textbuf_puts (b, s);
  for (size_t a = 0; a < mv_sweep_naxes (sw); a++)
    {
      /* CSV keeps the grid's JSON text; Markdown shortens numbers
         (0.10000000000000001 -> 0.1) */
      const char *v = mv_sweep_task_value (sw, row->task, a);
      char *end;
      double x = strtod (v, &end);
      if (md && end != v && !*end)
        snprintf (s, sizeof s, "%.6g", x), v = s;
      mv_textbuf_puts (b, sep), mv_textbuf_puts (b, v);
    }
  mv_textbuf_puts (b, sep);
  mv_textbuf_puts (b, row->status == MV_TRAJ_DONE ? "complete"
                   : row->status == MV_TRAJ_INTERRUPTED ? "interrupted" : "failed");
  double nums[] = { row->t_final, row->loss, x->ok ? x->L : NAN };
  for (size_t k = 0; k < 3; k++)
    fmt_num (s, sizeof s, nums[k], md), mv_textbuf_puts (b, sep), mv_textbuf_puts (b, s);
  snprintf (s, sizeof s, "%zu", row->recovered);
  mv_textbuf_puts (b, sep), mv_textbuf_puts (b, s);
  if (x->ok)
    snprintf (s, sizeof s, "%zu", x->redundant);
  else
    s[0] = '\0';
  mv_textbuf_puts (b, sep), mv_textbuf_puts (b, s);
  mv_textbuf_puts (b, sep), mv_textbuf_puts (b, x->order);
  for (size_t j = 0; j < row->mstar; j++)
    {
      fmt_num (s, sizeof s, row->cross50[j], md);
      mv_textbuf_puts (b, sep), mv_textbuf_puts (b, s);
      fmt_num (s, sizeof s, row->recovery_time[j], md);
      mv_textbuf_puts (b, sep), mv_textbuf_puts (b, s);
      const char *st = row->state[j] >= 0 ? mv_traj_state_name (row->state[j]) : "";
      mv_textbuf_puts (b, sep), mv_textbuf_puts (b, st ? st : "");
    }
  for (size_t a = MV_SPEC_ORTHO; a < MV_SPEC_AUX; a++)
    {
      fmt_num (s, sizeof s, x->ok ? x->mincos[a] : NAN, md);
      mv_textbuf_puts (b, sep), mv_textbuf_puts (b, s);
    }
  mv_textbuf_puts (b, md ? " |\n" : "\n");
}

static void
table_header (mv_textbuf *b, const mv_sweep *sw, size_t mstar, int md)
{
  const char *sep = md ? " | " : ",";
  char s[96];
  mv_textbuf_puts (b, md ? "| task" : "task");
  for (size_t a = 0; a < mv_sweep_naxes (sw); a++)
    mv_textbuf_puts (b, sep), mv_textbuf_puts (b, mv_sweep_axis_path (sw, a));
  mv_textbuf_puts (b, sep);
  mv_textbuf_puts (b, md ? "status | t_final | objective | L | recovered | redundant | order"
                   : "status,t_final,objective,L,recovered,redundant_students,recovery_order");
  for (size_t j = 0; j < mstar; j++)
    {
      snprintf (s, sizeof s, "%sescape_%zu%srecovery_%zu%sstate_%zu", sep, j, sep, j, sep, j);
      mv_textbuf_puts (b, s);
    }
  for (size_t a = MV_SPEC_ORTHO; a < MV_SPEC_AUX; a++)
    {
      snprintf (s, sizeof s, "%smin_cos_L_%s", sep, mv_spec_name (a));
      mv_textbuf_puts (b, s);
    }
  mv_textbuf_puts (b, md ? " |\n" : "\n");
  if (md)
    {
      size_t ncol = 1 + mv_sweep_naxes (sw) + 7 + 3 * mstar + 3;
      for (size_t c = 0; c < ncol; c++)
        mv_textbuf_puts (b, c ? "---|" : "|---|");
      mv_textbuf_puts (b, "\n");
    }
}

/* grid.csv and grid.md. */
static int
write_tables (const char *dir, const mv_sweep *sw, const mv_sweep_row *rows,
              const task_extra *x, size_t nt)
{
  size_t mstar = 0;
  for (size_t t = 0; t < nt; t++)
    mstar = rows[t].mstar > mstar ? rows[t].mstar : mstar;
  int s = MV_OK;
  for (int md = 0; !s && md < 2; md++)
    {
      mv_textbuf b;
      char path[4096];
      mv_textbuf_init (&b);
      if (md)
        mv_textbuf_puts (&b, "# moeverify specialize: regularizer grid\n\n"
                         "escape = first time the teacher's best expert alignment reaches 0.5; "
                         "recovery = router and expert alignment >= 0.9; states at the last row "
                         "(proofs/claim-terminal.md); redundant = students beyond the first "
                         "whose |expert alignment| >= 0.3 is largest at one teacher; "
                         "objective = L + regularizers, L = plain loss; min_cos = least cosine "
                         "of the regularizer's gradient with ∇L over the run.\n\n");
      table_header (&b, sw, mstar, md);
      for (size_t t = 0; t < nt; t++)
        table_row (&b, sw, &rows[t], &x[t], md);
      snprintf (path, sizeof path, "%s/grid.%s", dir, md ? "md" : "csv");
      s = !mv_textbuf_ok (&b) ? mv_error_set (MV_ENOMEM, "%s: out of memory", path)
        : mv_io_write_atomic (path, b.s, b.len);
      mv_textbuf_clear (&b);
    }
  return s;
}

int mv_cli_spec_grid_plots (const char *dir, const mv_sweep *sw, const mv_sweep_row *rows,
                            const double *L, const double *red, size_t nt);

static int
run_grid (const mv_spec_opts *o, const mv_sweep *sw, const char *text)
{
  mv_check_scan_ctx sc = { o->out, o->jobs, 0, 0 };
  mv_check_opts co;
  memset (&co, 0, sizeof co);
  co.dir = o->out, co.scan = mv_cli_check_scan, co.scan_ctx = &sc;
  mv_sweep_row *rows;
  size_t nt;
  int s = mv_check_scan (&rows, &nt, text, "grid", &co);
  if (s)
    return mv_cli_lib_error (), MV_EXIT_FAIL;
  task_extra *x = calloc (nt, sizeof *x);
  double *L = malloc ((nt + 1) * sizeof *L), *red = malloc ((nt + 1) * sizeof *red);
  int *st = calloc (nt + 1, sizeof *st);
  s = !x || !L || !red || !st ? mv_error_set (MV_ENOMEM, "out of memory") : MV_OK;
  char why[512] = "";
  /* the post-pass (cosines at every row of every task) on --jobs threads;
     error messages are per thread, so the first failure's is kept here */
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic) num_threads(o->jobs) if (!s && o->jobs > 1)
#endif
  for (size_t t = 0; t < (s ? 0 : nt); t++)
    {
      st[t] = task_extra_get (&x[t], sw, &rows[t], t, o->out);
      if (st[t])
#ifdef _OPENMP
#pragma omp critical (mv_spec_grid_err)
#endif
        if (!why[0])
          snprintf (why, sizeof why, "task %zu: %s", t, mv_error_message ());
      L[t] = x[t].ok ? x[t].L : NAN;
      red[t] = x[t].ok ? (double) x[t].redundant : NAN;
    }
  for (size_t t = 0; !s && t < nt; t++)
    if (st[t])
      s = mv_error_set (st[t], "%s", why);
  free (st);
  if (!s)
    s = write_tables (o->out, sw, rows, x, nt);
  if (!s)
    s = mv_cli_spec_grid_plots (o->out, sw, rows, L, red, nt);
  int rc = s ? (mv_cli_lib_error (), MV_EXIT_FAIL) : MV_EXIT_OK;
  if (!s)
    {
      char scan[4096];
      snprintf (scan, sizeof scan, "%s/scans/grid", o->out);
      rc = mv_cli_sweep_plot (scan);
      printf ("specialize: %zu tasks; %s/grid.csv, %s/grid.md, %s/plots/, the sweep in %s\n",
              nt, o->out, o->out, o->out, scan);
    }
  free (x), free (L), free (red);
  mv_check_scan_free (rows, nt);
  return rc;
}

int
mv_cli_spec_grid (const mv_spec_opts *o, const mv_problem *pb)
{
  const char *name;
  json_t *grid = grid_load (o->grid, &name);
  if (!grid)
    return MV_EXIT_USAGE;
  char *text = sweep_text (o, pb, grid);
  json_decref (grid);
  if (!text)
    return mv_cli_error ("%s: out of memory", o->spec), MV_EXIT_FAIL;
  /* every bad key or value is an error here, before DIR exists */
  mv_sweep *sw;
  if (mv_sweep_parse (&sw, text, name))
    {
      mv_cli_lib_error ();
      free (text);
      return MV_EXIT_USAGE;
    }
  struct stat sb;
  int made_dir = stat (o->out, &sb) != 0 && errno == ENOENT;
  int rc = mv_cli_prepare_dir (o->out);
  if (!rc)
    {
      fflush (stdout);
      rc = run_grid (o, sw, text);
      if (rc && made_dir)
        rmdir (o->out);
    }
  mv_sweep_free (sw);
  free (text);
  return rc;
}

/* Mean over teachers of the first 0.5 crossing (NAN if one never). */
static double
mean_escape (const mv_sweep_row *row)
{
  double s = 0;
  for (size_t j = 0; j < row->mstar; j++)
    s += row->cross50[j];
  return row->mstar ? s / (double) row->mstar : NAN;
}

/* One figure: metric y against axis a's value, one line per setting of
 * the other axes. */
static int
axis_plot (const char *path, const char *title, const char *ylabel, const mv_sweep *sw,
           size_t a, const double *y, size_t nt)
{
  mv_plot *p = mv_plot_alloc (title, mv_sweep_axis_path (sw, a), ylabel);
  double *xs = malloc ((nt + 1) * sizeof *xs), *ys = malloc ((nt + 1) * sizeof *ys);
  char *done = calloc (nt + 1, 1);
  int s = !p || !xs || !ys || !done ? mv_error_set (MV_ENOMEM, "%s: out of memory", path) : 0;
  size_t series = 0;
  for (size_t t0 = 0; !s && t0 < nt; t0++)
    {
      if (done[t0])
        continue;
      /* the tasks that differ from t0 in axis a only, in task order
         (axis values ascending as the grid lists them) */
      size_t k = 0;
      char label[256] = "";
      size_t used = 0;
      for (size_t b = 0; b < mv_sweep_naxes (sw) && used + 40 < sizeof label; b++)
        if (b != a)
          used += (size_t) snprintf (label + used, sizeof label - used, "%s%s=%s",
                                     used ? ", " : "", mv_sweep_axis_path (sw, b),
                                     mv_sweep_task_value (sw, t0, b));
      for (size_t t = t0; t < nt; t++)
        {
          int same = 1;
          for (size_t b = 0; same && b < mv_sweep_naxes (sw); b++)
            same = b == a || !strcmp (mv_sweep_task_value (sw, t, b),
                                      mv_sweep_task_value (sw, t0, b));
          if (!same)
            continue;
          done[t] = 1;
          xs[k] = strtod (mv_sweep_task_value (sw, t, a), NULL), ys[k++] = y[t];
        }
      s = mv_plot_add_series (p, used ? label : NULL, xs, ys, k, NULL, 0, 0);
      series++;
    }
  if (!s && series > 12)
    s = mv_plot_set_legend (p, MV_PLOT_LEGEND_COMPACT);
  if (!s)
    s = mv_plot_write (p, path);
  mv_plot_free (p);
  free (xs), free (ys), free (done);
  return s;
}

int
mv_cli_spec_grid_plots (const char *dir, const mv_sweep *sw, const mv_sweep_row *rows,
                        const double *L, const double *red, size_t nt)
{
  char path[4096];
  snprintf (path, sizeof path, "%s/plots", dir);
  if (mkdir (path, 0777) != 0 && errno != EEXIST)
    return mv_error_set (MV_EIO, "%s: cannot create directory: %s", path, strerror (errno));
  double *esc = malloc ((nt + 1) * sizeof *esc), *rec = malloc ((nt + 1) * sizeof *rec);
  if (!esc || !rec)
    return free (esc), free (rec), mv_error_set (MV_ENOMEM, "out of memory");
  for (size_t t = 0; t < nt; t++)
    esc[t] = mean_escape (&rows[t]), rec[t] = (double) rows[t].recovered;
  int s = MV_OK;
  for (size_t a = 0; !s && a < mv_sweep_naxes (sw); a++)
    {
      const char *ax = mv_sweep_axis_path (sw, a);
      if (strncmp (ax, "regularizers.", 13))
        continue;   /* coefficient axes only */
      const struct { const char *what, *title, *ylabel; const double *y; } f[] = {
        { "L", "final plain loss L", "L(t_end)", L },
        { "redundant", "redundant students at t_end", "students", red },
        { "escape", "mean escape time over teachers", "t", esc },
        { "recovered", "teachers recovered by t_end", "teachers", rec },
      };
      for (size_t k = 0; !s && k < sizeof f / sizeof f[0]; k++)
        {
          snprintf (path, sizeof path, "%s/plots/%s_%s.svg", dir, ax + 13, f[k].what);
          s = axis_plot (path, f[k].title, f[k].ylabel, sw, a, f[k].y, nt);
        }
    }
  free (esc), free (rec);
  return s;
}
