/* moeverify sweep --plot DIR: SVG summaries of DIR/results.csv.  For every
 * numeric grid axis (two or more distinct values) and every metric, the
 * median and the quartiles of the metric over the tasks sharing an axis
 * value, against that value; an axis or a metric spanning two decades or
 * more (all positive) gets a log scale.  Failed tasks and missing values
 * (nan, empty) are left out of the statistics; seed axes (replicates) get
 * no figures of their own. */
#include "cli.h"
#include "base/textbuf.h"

#include <moeverify/moeverify.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
  size_t nrow, ncol;
  char **cell;             /* nrow x ncol, row 0 the header */
} csv_table;

static void
csv_free (csv_table *t)
{
  for (size_t i = 0; i < t->nrow * t->ncol; i++)
    free (t->cell[i]);
  free (t->cell);
  memset (t, 0, sizeof *t);
}

/* One field starting at *p (CSV quoting: "..." with "" for a quote);
 * advances past the separator (*more: one was there, so another field
 * follows, possibly empty); NULL on a malformed field. */
static char *
csv_field (const char **p, int *more)
{
  mv_textbuf b;
  mv_textbuf_init (&b);
  const char *s = *p;
  if (*s == '"')
    {
      for (s++;; s++)
        {
          if (*s == '\0')
            {
              mv_textbuf_clear (&b);
              return NULL;
            }
          if (*s == '"' && s[1] == '"')
            mv_textbuf_put (&b, s++, 1);
          else if (*s == '"')
            {
              s++;
              break;
            }
          else
            mv_textbuf_put (&b, s, 1);
        }
    }
  else
    {
      size_t n = strcspn (s, ",\n");
      mv_textbuf_put (&b, s, n);
      s += n;
    }
  *more = *s == ',';
  if (*more)
    s++;
  else if (*s && *s != '\n')
    {
      mv_textbuf_clear (&b);
      return NULL;
    }
  *p = s;
  mv_textbuf_put (&b, "", 0);
  if (!mv_textbuf_ok (&b))
    {
      mv_textbuf_clear (&b);
      return NULL;
    }
  return b.s;
}

/* Parse text into a table whose rows all have the header's width. */
static int
csv_parse (csv_table *t, const char *text, const char *path)
{
  memset (t, 0, sizeof *t);
  size_t cap = 0;
  const char *p = text;
  for (size_t line = 1; *p; line++)
    {
      size_t nf = 0;
      int more = *p && *p != '\n';
      while (more)
        {
          if (t->nrow && nf >= t->ncol)
            goto bad;
          if (t->nrow * (t->ncol ? t->ncol : 1) + nf + 1 > cap)
            {
              cap = cap ? 2 * cap : 256;
              char **c = realloc (t->cell, cap * sizeof *c);
              if (!c)
                goto nomem;
              t->cell = c;
            }
          char *f = csv_field (&p, &more);
          if (!f)
            goto bad;
          t->cell[(t->nrow ? t->nrow * t->ncol : 0) + nf++] = f;
        }
      if (*p == '\n')
        p++;
      if (!t->nrow)
        t->ncol = nf;
      else if (nf != t->ncol)
        goto bad;
      if (nf)
        t->nrow++;
      continue;
    bad:
      mv_cli_error ("%s: line %zu: malformed CSV row", path, line);
      csv_free (t);
      return MV_EXIT_USAGE;   /* a bad input file */
    }
  if (t->nrow < 2)
    {
      mv_cli_error ("%s: no result rows", path);
      csv_free (t);
      return MV_EXIT_USAGE;
    }
  return 0;
nomem:
  mv_cli_error ("%s: out of memory", path);
  csv_free (t);
  return MV_EXIT_FAIL;
}

static long
csv_col (const csv_table *t, const char *name)
{
  for (size_t c = 0; c < t->ncol; c++)
    if (!strcmp (t->cell[c], name))
      return (long) c;
  return -1;
}

static double
num (const char *s)
{
  char *end;
  double v = strtod (s, &end);
  return end != s && *end == '\0' ? v : NAN;
}

/* Metric of row r: a column, or the minimum over the teachers of
 * "<prefix>_<j>" columns (first recovery, first 0.5 crossing). */
static double
metric (const csv_table *t, size_t r, const char *name)
{
  const char *prefix = !strcmp (name, "first_recovery") ? "recovery_time_"
    : !strcmp (name, "first_cross50") ? "cross50_" : NULL;
  if (!prefix)
    {
      long c = csv_col (t, name);
      return c < 0 ? NAN : num (t->cell[r * t->ncol + (size_t) c]);
    }
  double best = NAN;
  size_t pl = strlen (prefix);
  for (size_t c = 0; c < t->ncol; c++)
    if (!strncmp (t->cell[c], prefix, pl))
      {
        double v = num (t->cell[r * t->ncol + c]);
        if (isfinite (v) && !(best <= v))
          best = v;
      }
  return best;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

/* Quantile q of sorted v[0..n) (linear interpolation). */
static double
quantile (const double *v, size_t n, double q)
{
  double pos = q * (double) (n - 1);
  size_t i = (size_t) pos;
  return i + 1 < n ? v[i] + (pos - (double) i) * (v[i + 1] - v[i]) : v[n - 1];
}

/* Distinct values of axis column c (ascending) into xs; 0 if the axis is
 * not numeric or has fewer than two values. */
static size_t
axis_values (double *xs, const csv_table *t, size_t c)
{
  size_t nx = 0;
  for (size_t r = 1; r < t->nrow; r++)
    {
      double v = num (t->cell[r * t->ncol + c]);
      if (!isfinite (v))
        return 0;
      size_t k = 0;
      while (k < nx && xs[k] != v)
        k++;
      if (k == nx)
        xs[nx++] = v;
    }
  qsort (xs, nx, sizeof *xs, cmp_double);
  return nx >= 2 ? nx : 0;
}

static int
spans_decades (const double *v, size_t n)
{
  double lo = INFINITY, hi = 0;
  for (size_t i = 0; i < n; i++)
    {
      if (!isfinite (v[i]))
        continue;
      if (!(v[i] > 0))
        return 0;
      lo = fmin (lo, v[i]), hi = fmax (hi, v[i]);
    }
  return hi >= 100 * lo;
}

/* One figure: metric against axis column c; 1 if written, 0 if the
 * metric has no values, -1 on error. */
static int
plot_one (const csv_table *t, size_t c, const double *xs, size_t nx,
          const char *name, const char *dir, double *buf, double *q)
{
  long sc = csv_col (t, "status");
  size_t nq = 0;
  for (size_t k = 0; k < nx; k++)
    {
      size_t n = 0;
      for (size_t r = 1; r < t->nrow; r++)
        {
          if (num (t->cell[r * t->ncol + c]) != xs[k]
              || (sc >= 0 && strcmp (t->cell[r * t->ncol + (size_t) sc], "complete")))
            continue;
          double v = metric (t, r, name);
          if (isfinite (v))
            buf[n++] = v;
        }
      qsort (buf, n, sizeof *buf, cmp_double);
      for (int j = 0; j < 3; j++)
        q[j * nx + k] = n ? quantile (buf, n, 0.25 * (j + 1)) : NAN;
      nq += n > 0;
    }
  if (!nq)
    return 0;
  const char *axis = t->cell[c];
  char title[256], path[4096];
  snprintf (title, sizeof title, "%s against %s (median and quartiles)", name, axis);
  mv_plot *p = mv_plot_alloc (title, axis, name);
  if (!p)
    return -1;
  int s = mv_plot_set_log (p, spans_decades (xs, nx), spans_decades (q, 3 * nx))
    || mv_plot_add_series (p, "lower quartile", xs, q, nx, mv_plot_color (0), 1.0, 1)
    || mv_plot_add_series (p, "median", xs, q + nx, nx, mv_plot_color (0), 2.5, 0)
    || mv_plot_add_series (p, "upper quartile", xs, q + 2 * nx, nx, mv_plot_color (0), 1.0, 1);
  snprintf (path, sizeof path, "%s/plots/%s_vs_%s.svg", dir, name, axis);
  for (char *e = path + strlen (dir) + 7; *e; e++)
    if (*e == '/' )
      *e = '_';
  if (!s)
    s = mv_plot_write (p, path);
  mv_plot_free (p);
  return s ? -1 : 1;
}

static const char *const METRICS[] = { "loss", "grad2", "recovered",
  "first_recovery", "first_cross50", "t_final", "steps", "wall_seconds", NULL };

int
mv_cli_sweep_plot (const char *dir)
{
  char path[4096];
  snprintf (path, sizeof path, "%s/results.csv", dir);
  size_t len;
  char *text = mv_io_read_file (path, &len);
  if (!text)
    {
      mv_cli_lib_error ();
      return MV_EXIT_USAGE;   /* no such input, like a missing sweep file */
    }
  csv_table t;
  int rc = csv_parse (&t, text, path);
  free (text);
  if (rc)
    return rc;
  long first = csv_col (&t, "task"), last = csv_col (&t, "status");
  double *xs = malloc (t.nrow * sizeof *xs), *buf = malloc (t.nrow * sizeof *buf);
  double *q = malloc (3 * t.nrow * sizeof *q);
  snprintf (path, sizeof path, "%s/plots", dir);
  if (first != 0 || last <= first)
    mv_cli_error ("%s/results.csv: not a sweep results file (no task ... status "
                  "columns)", dir), rc = MV_EXIT_USAGE;
  else if (!xs || !buf || !q)
    mv_cli_error ("out of memory"), rc = MV_EXIT_FAIL;
  else if (mkdir (path, 0777) && errno != EEXIST)
    mv_cli_error ("%s: cannot create: %s", path, strerror (errno)), rc = MV_EXIT_FAIL;
  size_t written = 0;
  for (size_t c = 1; !rc && c < (size_t) last; c++)
    {
      /* a seed axis replicates tasks; it is not a parameter to plot against */
      const char *ax = t.cell[c], *dot = strrchr (ax, '.');
      if (!strcmp (dot ? dot + 1 : ax, "seed"))
        continue;
      size_t nx = axis_values (xs, &t, c);
      for (size_t k = 0; nx && !rc && METRICS[k]; k++)
        {
          int w = plot_one (&t, c, xs, nx, METRICS[k], dir, buf, q);
          if (w < 0)
            mv_cli_lib_error (), rc = MV_EXIT_FAIL;
          written += w > 0;
        }
    }
  if (!rc)
    printf ("%zu plots in %s/plots\n", written, dir);
  free (xs), free (buf), free (q);
  csv_free (&t);
  return rc;
}
