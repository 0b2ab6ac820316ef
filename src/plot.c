/* SVG line plots (plot.h).  Each series goes through three stages: data ->
 * pixels (NaN marks a break), thinning to at most two points per half-pixel
 * column (the column's extremes, so spikes survive), and segment clipping
 * to a slightly enlarged box so far-off points never reach the file; a
 * clipPath trims the remainder exactly at the frame. */
#include <moeverify/plot.h>
#include <moeverify/error.h>
#include <moeverify/io.h>

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define W ((double) MV_PLOT_WIDTH)
#define H ((double) MV_PLOT_HEIGHT)
#define EPS 1e-9                /* slack for tick arithmetic */

static const char *const PALETTE[10] = {
  "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"
};

/* ------------------------------------------------------------ model */

typedef struct
{
  char *label, *color;
  double *x, *y;
  size_t n;
  double width;
  int dashed;
} series;

typedef struct
{
  double v;
  char *label;
} refline;

/* Per-axis arrays: index 0 is x, 1 is y.  ref[0] holds vertical lines
 * (placed at an x value), ref[1] horizontal ones. */
struct mv_plot
{
  char *title, *label[2];
  int log[2], fixed[2];
  double lo[2], hi[2];
  int legend;
  series *s;
  size_t ns, cs;
  refline *ref[2];
  size_t nref[2], cref[2];
};

static char *
dup_opt (const char *s, int *oom)
{
  if (!s)
    return NULL;
  char *d = strdup (s);
  if (!d)
    *oom = 1;
  return d;
}

/* Room for one more element: returns v (or its moved copy), NULL if out of
 * memory with v untouched. */
static void *
grow (void *v, size_t *cap, size_t n, size_t size)
{
  if (n < *cap)
    return v;
  size_t nc = *cap ? 2 * *cap : 8;
  if (nc > SIZE_MAX / size)
    return NULL;
  void *nv = realloc (v, nc * size);
  if (nv)
    *cap = nc;
  return nv;
}

mv_plot *
mv_plot_alloc (const char *title, const char *xlabel, const char *ylabel)
{
  mv_plot *p = calloc (1, sizeof *p);
  int oom = !p;
  if (p)
    {
      p->title = dup_opt (title, &oom);
      p->label[0] = dup_opt (xlabel, &oom);
      p->label[1] = dup_opt (ylabel, &oom);
    }
  if (oom)
    {
      mv_plot_free (p);
      mv_error_set (MV_ENOMEM, "plot: out of memory");
      return NULL;
    }
  return p;
}

void
mv_plot_free (mv_plot *p)
{
  if (!p)
    return;
  for (size_t i = 0; i < p->ns; i++)
    {
      free (p->s[i].label);
      free (p->s[i].color);
      free (p->s[i].x);
      free (p->s[i].y);
    }
  free (p->s);
  for (int a = 0; a < 2; a++)
    {
      for (size_t i = 0; i < p->nref[a]; i++)
        free (p->ref[a][i].label);
      free (p->ref[a]);
    }
  free (p->title);
  free (p->label[0]);
  free (p->label[1]);
  free (p);
}

int
mv_plot_set_log (mv_plot *p, int logx, int logy)
{
  if (!p)
    return mv_error_set (MV_EINVAL, "plot: NULL plot");
  int lg[2] = { logx != 0, logy != 0 };
  for (int a = 0; a < 2; a++)
    if (lg[a] && p->fixed[a] && !(p->lo[a] > 0))
      return mv_error_set (MV_EINVAL, "plot: log %c axis needs a positive "
                           "range, fixed range starts at %g", "xy"[a],
                           p->lo[a]);
  p->log[0] = lg[0];
  p->log[1] = lg[1];
  return MV_OK;
}

static int
set_range (mv_plot *p, int a, double lo, double hi)
{
  if (!p)
    return mv_error_set (MV_EINVAL, "plot: NULL plot");
  if (!(isfinite (lo) && isfinite (hi) && lo < hi && isfinite (hi - lo)))
    return mv_error_set (MV_EINVAL, "plot: bad %c range [%g, %g]", "xy"[a],
                         lo, hi);
  if (p->log[a] && !(lo > 0))
    return mv_error_set (MV_EINVAL, "plot: log %c axis needs a positive "
                         "range, got [%g, %g]", "xy"[a], lo, hi);
  p->fixed[a] = 1;
  p->lo[a] = lo;
  p->hi[a] = hi;
  return MV_OK;
}

int
mv_plot_set_xrange (mv_plot *p, double lo, double hi)
{
  return set_range (p, 0, lo, hi);
}

int
mv_plot_set_yrange (mv_plot *p, double lo, double hi)
{
  return set_range (p, 1, lo, hi);
}

int
mv_plot_set_legend (mv_plot *p, int mode)
{
  if (!p)
    return mv_error_set (MV_EINVAL, "plot: NULL plot");
  if (mode < MV_PLOT_LEGEND_AUTO || mode > MV_PLOT_LEGEND_COMPACT)
    return mv_error_set (MV_EINVAL, "plot: unknown legend mode %d", mode);
  p->legend = mode;
  return MV_OK;
}

int
mv_plot_add_series (mv_plot *p, const char *label, const double *x,
                    const double *y, size_t n, const char *color,
                    double width, int dashed)
{
  if (!p)
    return mv_error_set (MV_EINVAL, "plot: NULL plot");
  if (n > 0 && !y)
    return mv_error_set (MV_EINVAL, "plot: series '%s': NULL y data",
                         label ? label : "");
  if (n > SIZE_MAX / sizeof (double))
    return mv_error_set (MV_EINVAL, "plot: series too long");
  series *ns = grow (p->s, &p->cs, p->ns, sizeof *ns);
  if (!ns)
    return mv_error_set (MV_ENOMEM, "plot: out of memory");
  p->s = ns;
  series s = { 0 };
  int oom = 0;
  s.label = dup_opt (label, &oom);
  s.color = dup_opt (color, &oom);
  s.x = malloc (n ? n * sizeof (double) : 1);
  s.y = malloc (n ? n * sizeof (double) : 1);
  if (oom || !s.x || !s.y)
    {
      free (s.label), free (s.color), free (s.x), free (s.y);
      return mv_error_set (MV_ENOMEM, "plot: out of memory");
    }
  for (size_t i = 0; i < n; i++)
    s.x[i] = x ? x[i] : (double) i;
  if (n)
    memcpy (s.y, y, n * sizeof (double));
  s.n = n;
  s.width = width > 0 && width < 100 ? width : 1.5;
  s.dashed = dashed != 0;
  p->s[p->ns++] = s;
  return MV_OK;
}

static int
add_ref (mv_plot *p, int a, double v, const char *label)
{
  if (!p)
    return mv_error_set (MV_EINVAL, "plot: NULL plot");
  if (!isfinite (v))
    return mv_error_set (MV_EINVAL, "plot: reference line at %g", v);
  refline *nr = grow (p->ref[a], &p->cref[a], p->nref[a], sizeof *nr);
  if (!nr)
    return mv_error_set (MV_ENOMEM, "plot: out of memory");
  p->ref[a] = nr;
  int oom = 0;
  refline r = { v, dup_opt (label, &oom) };
  if (oom)
    return mv_error_set (MV_ENOMEM, "plot: out of memory");
  p->ref[a][p->nref[a]++] = r;
  return MV_OK;
}

int
mv_plot_add_hline (mv_plot *p, double y, const char *label)
{
  return add_ref (p, 1, y, label);
}

int
mv_plot_add_vline (mv_plot *p, double x, const char *label)
{
  return add_ref (p, 0, x, label);
}

/* ------------------------------------------------------------ text buffer */

typedef struct
{
  char *p;
  size_t len, cap;
  int oom;                      /* sticky: later writes are dropped */
} sbuf;

static void
sb_put (sbuf *b, const char *s, size_t n)
{
  if (b->oom)
    return;
  if (b->cap - b->len <= n)
    {
      size_t nc = b->cap ? b->cap : 1 << 16;
      while (nc - b->len <= n && nc < SIZE_MAX / 2)
        nc *= 2;
      char *np = nc - b->len > n ? realloc (b->p, nc) : NULL;
      if (!np)
        {
          b->oom = 1;
          return;
        }
      b->p = np;
      b->cap = nc;
    }
  memcpy (b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void
sb_puts (sbuf *b, const char *s)
{
  sb_put (b, s, strlen (s));
}

static void
#if defined(__GNUC__)
__attribute__ ((format (printf, 2, 3)))
#endif
sb_printf (sbuf *b, const char *fmt, ...)
{
  char tmp[512];
  va_list ap;
  va_start (ap, fmt);
  int n = vsnprintf (tmp, sizeof tmp, fmt, ap);
  va_end (ap);
  if (n < 0 || (size_t) n >= sizeof tmp)
    b->oom = 1;                 /* only short fragments go through here */
  else
    sb_put (b, tmp, (size_t) n);
}

/* A pixel coordinate to 0.1 px, without a trailing ".0": keeps files small
 * and is faster than printf for hundreds of thousands of points. */
static void
sb_num (sbuf *b, double v)
{
  char tmp[32], *e = tmp + sizeof tmp, *q = e;
  if (!(fabs (v) < 1e12))
    v = 0;                      /* callers clip first; never emit nan */
  long long t = llround (v * 10);
  int neg = t < 0;
  if (neg)
    t = -t;
  if (t % 10)
    {
      *--q = (char) ('0' + t % 10);
      *--q = '.';
    }
  t /= 10;
  do
    *--q = (char) ('0' + t % 10);
  while ((t /= 10) > 0);
  if (neg)
    *--q = '-';
  sb_put (b, q, (size_t) (e - q));
}

/* Bytes in the UTF-8 character at u, 0 if it is malformed or not allowed in
 * XML (surrogates, U+FFFE/U+FFFF, overlongs). */
static size_t
utf8_len (const unsigned char *u)
{
  size_t k = u[0] < 0x80 ? 1 : u[0] < 0xC2 ? 0 : u[0] < 0xE0 ? 2
    : u[0] < 0xF0 ? 3 : u[0] < 0xF5 ? 4 : 0;
  for (size_t i = 1; i < k; i++)
    if ((u[i] & 0xC0) != 0x80)
      return 0;
  if ((u[0] == 0xE0 && u[1] < 0xA0) || (u[0] == 0xED && u[1] > 0x9F)
      || (u[0] == 0xF0 && u[1] < 0x90) || (u[0] == 0xF4 && u[1] > 0x8F)
      || (u[0] == 0xEF && u[1] == 0xBF && u[2] >= 0xBE))
    return 0;
  return k;
}

static size_t
utf8_count (const char *s)
{
  size_t n = 0;
  for (const unsigned char *u = (const unsigned char *) s; *u; n++)
    {
      size_t k = utf8_len (u);
      u += k ? k : 1;
    }
  return n;
}

/* XML-escaped text, at most maxc characters (longer text is cut and ends
 * in an ellipsis).  Bad UTF-8 becomes U+FFFD, control characters spaces,
 * so the document stays well-formed whatever the caller passes. */
static void
sb_text (sbuf *b, const char *s, size_t maxc)
{
  if (!s)
    return;
  size_t keep = utf8_count (s) > maxc ? maxc - 1 : SIZE_MAX;
  const unsigned char *u = (const unsigned char *) s;
  for (size_t i = 0; *u && i < keep; i++)
    {
      size_t k = utf8_len (u);
      if (k == 0)
        {
          sb_puts (b, "\xEF\xBF\xBD");
          u++;
          continue;
        }
      if (k > 1)
        sb_put (b, (const char *) u, k);
      else if (*u == '&')
        sb_puts (b, "&amp;");
      else if (*u == '<')
        sb_puts (b, "&lt;");
      else if (*u == '>')
        sb_puts (b, "&gt;");
      else if (*u == '"')
        sb_puts (b, "&quot;");
      else if (*u == '\'')
        sb_puts (b, "&#39;");
      else
        sb_put (b, *u < 0x20 ? " " : (const char *) u, 1);
      u += k;
    }
  if (keep != SIZE_MAX)
    sb_puts (b, "\xE2\x80\xA6");
}

/* Rough rendered width of text: sans-serif glyphs average ~0.6 em. */
static double
text_width (const char *s, double fs, size_t maxc)
{
  size_t n = s ? utf8_count (s) : 0;
  return 0.6 * fs * (double) (n < maxc ? n : maxc);
}

/* ------------------------------------------------------------ axes */

enum { MAXT = 40, MAXM = 64 };

typedef struct
{
  int log;
  double lo, hi;                /* range in axis units (log10 on log axes) */
  double p0, p1;                /* pixels of lo and hi */
  size_t nt, nm;
  double tu[MAXT], tv[MAXT];    /* major ticks: axis units, values */
  double mu[MAXM];              /* minor ticks, axis units */
  int decades;                  /* label major ticks as 10^k */
  int prec;                     /* digits for the other labels: decimals
                                   (fixed), or significant (sci) */
  int sci;
} axis;

static int
valid (double v, int logax)
{
  return isfinite (v) && (!logax || v > 0);
}

/* Pixel of a position in axis units. */
static double
u_px (const axis *ax, double u)
{
  return ax->p0 + (u - ax->lo) * ((ax->p1 - ax->p0) / (ax->hi - ax->lo));
}

/* Pixel of a data value; NaN if it cannot be drawn. */
static double
to_px (const axis *ax, double v)
{
  if (!valid (v, ax->log))
    return NAN;
  double px = u_px (ax, ax->log ? log10 (v) : v);
  return isfinite (px) ? px : NAN;
}

/* Smallest 1-2-5 step giving at most maxn intervals over range. */
static double
nice_step (double range, int maxn)
{
  double raw = range / maxn;
  int e = (int) floor (log10 (raw));
  double f = raw / pow (10, e), m = 10;
  if (f <= 1 + EPS)
    m = 1;
  else if (f <= 2 + EPS)
    m = 2;
  else if (f <= 5 + EPS)
    m = 5;
  /* dividing by an exact power of ten keeps 0.2 as the double nearest 0.2 */
  return e >= 0 ? m * pow (10, e) : m / pow (10, -e);
}

/* Linear ticks over [lo, hi] in value units (positions in axis units, so
 * this also serves short log ranges); widen == 1 snaps the range outward
 * to whole steps.  -1 if the range is too narrow for double arithmetic. */
static int
linear_ticks (axis *ax, double lo, double hi, int maxn, int widen)
{
  double step = nice_step (hi - lo, maxn);
  double k0 = widen ? floor (lo / step + EPS) : ceil (lo / step - EPS);
  double k1 = widen ? ceil (hi / step - EPS) : floor (hi / step + EPS);
  if (!(step > 0 && isfinite (step) && fabs (k0) < 0x1p50
        && fabs (k1) < 0x1p50))
    return -1;
  if (widen)
    {
      ax->lo = k0 * step;
      ax->hi = k1 * step;
    }
  ax->nt = 0;
  for (double k = k0; k <= k1 && ax->nt < MAXT; k++)
    {
      double v = k * step;
      ax->tv[ax->nt] = v;
      ax->tu[ax->nt++] = ax->log ? log10 (v) : v;
    }
  /* plain decimals for everyday magnitudes, else the significant digits
   * that tell neighbouring ticks apart in scientific notation */
  double big = fmax (fabs (k0 * step), fabs (k1 * step));
  int es = (int) floor (log10 (step) + EPS);
  ax->sci = !(big < 1e6 && es >= -5);
  int prec = ax->sci ? (int) floor (log10 (big) + EPS) - es + 1 : -es;
  ax->prec = prec < 0 ? 0 : prec > 17 ? 17 : prec;
  ax->decades = 0;
  ax->nm = 0;
  return 0;
}

/* Decade ticks on a log axis: every `every`-th decade labelled, the rest
 * (or 2..9 x 10^k when there are few decades) as minor ticks. */
static void
decade_ticks (axis *ax, double d0, double d1, int maxn)
{
  static const int EVERY[] = { 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000 };
  double ndec = d1 - d0;
  int every = 1000;
  for (size_t i = 0; i < sizeof EVERY / sizeof EVERY[0]; i++)
    if (ndec / EVERY[i] <= maxn)
      {
        every = EVERY[i];
        break;
      }
  ax->decades = 1;
  ax->nt = ax->nm = 0;
  for (double k = d0; k <= d1; k++)
    {
      if (fmod (k, every) == 0 && ax->nt < MAXT)
        {
          ax->tu[ax->nt] = k;
          ax->tv[ax->nt++] = pow (10, k);
        }
      else if (ax->nm < MAXM)
        ax->mu[ax->nm++] = k;
    }
  if (every == 1 && ndec <= 6)
    for (double k = floor (ax->lo); k < ax->hi; k++)
      for (int m = 2; m <= 9; m++)
        {
          double u = k + log10 (m);
          if (u > ax->lo && u < ax->hi && ax->nm < MAXM)
            ax->mu[ax->nm++] = u;
        }
}

/* Range of the plotted data on axis a: points valid on both axes (and
 * inside the other axis' fixed range, so a zoom fits what is shown) plus
 * the reference lines.  Returns 0 if there is nothing. */
static int
data_range (const mv_plot *p, int a, double *lo, double *hi)
{
  int b = 1 - a, any = 0;
  double mn = INFINITY, mx = -INFINITY;
  for (size_t i = 0; i < p->ns; i++)
    {
      const series *s = &p->s[i];
      const double *va = a ? s->y : s->x, *vb = a ? s->x : s->y;
      for (size_t j = 0; j < s->n; j++)
        {
          if (!valid (va[j], p->log[a]) || !valid (vb[j], p->log[b]))
            continue;
          if (p->fixed[b] && !(vb[j] >= p->lo[b] && vb[j] <= p->hi[b]))
            continue;
          mn = fmin (mn, va[j]);
          mx = fmax (mx, va[j]);
          any = 1;
        }
    }
  for (size_t i = 0; i < p->nref[a]; i++)
    if (valid (p->ref[a][i].v, p->log[a]))
      {
        mn = fmin (mn, p->ref[a][i].v);
        mx = fmax (mx, p->ref[a][i].v);
        any = 1;
      }
  *lo = mn;
  *hi = mx;
  return any;
}

static int
axis_setup (const mv_plot *p, int a, int maxn, axis *ax)
{
  memset (ax, 0, sizeof *ax);
  ax->log = p->log[a];
  double lo, hi;
  int widen = !p->fixed[a];
  if (!widen)
    lo = p->lo[a], hi = p->hi[a];
  else if (!data_range (p, a, &lo, &hi))
    lo = ax->log ? 1 : 0, hi = ax->log ? 10 : 1;
  if (ax->log)
    {
      double l0 = log10 (lo), l1 = log10 (hi);
      double d0 = widen ? floor (l0 + EPS) : ceil (l0 - EPS);
      double d1 = widen ? ceil (l1 - EPS) : floor (l1 + EPS);
      if (widen && d1 <= d0)
        d1 = d0 + 1;
      ax->lo = widen ? d0 : l0;
      ax->hi = widen ? d1 : l1;
      if (!(ax->hi > ax->lo))
        goto narrow;
      if (d1 > d0)
        decade_ticks (ax, d0, d1, maxn);
      else if (linear_ticks (ax, lo, hi, maxn, 0) != 0)  /* within a decade */
        goto narrow;
      return MV_OK;
    }
  if (widen && !(hi - lo > EPS * fmax (fabs (lo), fabs (hi))))
    {
      /* constant data: centre it in a small range */
      double d = lo != 0 ? 0.1 * fabs (lo) : 1;
      lo -= d;
      hi += d;
    }
  if (!isfinite (hi - lo))
    return mv_error_set (MV_EDOM, "plot: %c range [%g, %g] too wide to plot",
                         "xy"[a], lo, hi);
  ax->lo = lo;
  ax->hi = hi;
  if (linear_ticks (ax, lo, hi, maxn, widen) == 0)
    return MV_OK;
narrow:
  return mv_error_set (MV_EDOM, "plot: %c range [%.17g, %.17g] too narrow "
                       "to plot", "xy"[a], lo, hi);
}

/* Tick label i: "10" with a superscript exponent, decimals without
 * trailing zeros ("0.2", "1"), or scientific with a short exponent. */
static void
tick_label (sbuf *b, const axis *ax, size_t i, double fs)
{
  if (ax->decades)
    {
      sb_printf (b, "10<tspan dy=\"-%.0f\" font-size=\"%.0f\">%.0f</tspan>",
                 0.45 * fs, 0.75 * fs, ax->tu[i] + 0.0);  /* no "-0" */
      return;
    }
  char t[48], *e;
  if (!ax->sci)
    {
      snprintf (t, sizeof t, "%.*f", ax->prec, ax->tv[i]);
      for (e = t + strlen (t) - 1; ax->prec > 0 && *e == '0'; e--)
        *e = '\0';
      if (*e == '.')
        *e = '\0';
      sb_puts (b, strcmp (t, "-0") ? t : "0");
      return;
    }
  if (ax->tv[i] == 0)
    {
      sb_puts (b, "0");
      return;
    }
  snprintf (t, sizeof t, "%.*e", ax->prec > 0 ? ax->prec - 1 : 0, ax->tv[i]);
  if ((e = strchr (t, 'e')))
    {
      char *q = e + 1, *r = e + 1;
      if (*r == '+')
        r++;
      else if (*r == '-')
        *q++ = *r++;
      while (*r == '0' && r[1])
        r++;
      memmove (q, r, strlen (r) + 1);
    }
  sb_puts (b, t);
}

static double
tick_label_width (const axis *ax, size_t i, double fs)
{
  if (ax->decades)
    {
      char t[16];
      snprintf (t, sizeof t, "%.0f", ax->tu[i]);
      return 0.6 * fs * (2 + 0.75 * (double) strlen (t));
    }
  sbuf b = { 0 };
  tick_label (&b, ax, i, fs);
  double w = b.p ? 0.6 * fs * (double) b.len : 0;
  free (b.p);
  return w;
}

/* ------------------------------------------------------------ drawing */

/* Clip segment a->b to rect r = {x0, y0, x1, y1} (Liang-Barsky): 0 if
 * nothing is visible, else e[0], e[1] are the edges (index into r) where
 * the visible part enters and leaves, -1 where it starts at a / ends at b. */
static int
clip_segment (const double r[4], double ax, double ay, double bx, double by,
              int e[2])
{
  static const int EDGE[4] = { 0, 2, 1, 3 };
  double dx = bx - ax, dy = by - ay;
  double p[4] = { -dx, dx, -dy, dy };
  double q[4] = { ax - r[0], r[2] - ax, ay - r[1], r[3] - ay };
  double lo = 0, hi = 1;
  e[0] = e[1] = -1;
  for (int i = 0; i < 4; i++)
    {
      if (p[i] == 0)
        {
          if (q[i] < 0)
            return 0;
          continue;
        }
      double t = q[i] / p[i];
      if (p[i] < 0 ? t > hi : t < lo)
        return 0;
      if (p[i] < 0 && t > lo)
        lo = t, e[0] = EDGE[i];
      if (p[i] > 0 && t < hi)
        hi = t, e[1] = EDGE[i];
    }
  return 1;
}

/* Where segment a->b crosses edge k of r.  Interpolating from the end
 * nearer the edge keeps the result exact to rounding even when the other
 * end is astronomically far away (a value of 1e300 on a [0, 1] axis). */
static void
edge_point (const double r[4], int k, double ax, double ay, double bx,
            double by, double *x, double *y)
{
  double v = r[k];
  if (k % 2 == 0)
    {
      *x = v;
      *y = fabs (ax - v) <= fabs (bx - v) ? ay + (v - ax) / (bx - ax) * (by - ay)
        : by + (v - bx) / (ax - bx) * (ay - by);
    }
  else
    {
      *y = v;
      *x = fabs (ay - v) <= fabs (by - v) ? ax + (v - ay) / (by - ay) * (bx - ax)
        : bx + (v - by) / (ay - by) * (ax - bx);
    }
  *x = fmin (fmax (*x, r[0]), r[2]);
  *y = fmin (fmax (*y, r[1]), r[3]);
}

/* Stage 3: vertices into <polyline> elements.  A polyline is opened only
 * at its second vertex so that isolated points can become dots. */
typedef struct
{
  sbuf *b;
  const char *color;
  double dot;                   /* radius of isolated points */
  size_t n;                     /* vertices in the open line */
  double fx, fy;                /* its first vertex */
  long long lx, ly;             /* last vertex in 0.1 px, to drop repeats */
} pen;

static void
pen_break (pen *p)
{
  if (p->n == 1)
    {
      sb_puts (p->b, "<circle cx=\"");
      sb_num (p->b, p->fx);
      sb_puts (p->b, "\" cy=\"");
      sb_num (p->b, p->fy);
      sb_printf (p->b, "\" r=\"%.2g\" fill=\"", p->dot);
      sb_text (p->b, p->color, SIZE_MAX);
      sb_puts (p->b, "\" stroke=\"none\"/>\n");
    }
  else if (p->n > 1)
    sb_puts (p->b, "\"/>\n");
  p->n = 0;
}

static void
pen_point (pen *p, double x, double y)
{
  long long rx = llround (x * 10), ry = llround (y * 10);
  if (p->n > 0 && rx == p->lx && ry == p->ly)
    return;
  if (p->n == 0)
    p->fx = x, p->fy = y;
  else
    {
      if (p->n == 1)
        {
          sb_puts (p->b, "<polyline points=\"");
          sb_num (p->b, p->fx);
          sb_put (p->b, ",", 1);
          sb_num (p->b, p->fy);
        }
      sb_put (p->b, " ", 1);
      sb_num (p->b, x);
      sb_put (p->b, ",", 1);
      sb_num (p->b, y);
    }
  p->n++;
  p->lx = rx;
  p->ly = ry;
}

/* Stage 2: clip consecutive vertices to the enlarged box. */
typedef struct
{
  pen *pen;
  double r[4];
  int has;
  double px, py;
} clipper;

static void
clip_point (clipper *c, double x, double y)
{
  int e[2];
  double ex, ey;
  if (!c->has)
    {
      if (x >= c->r[0] && x <= c->r[2] && y >= c->r[1] && y <= c->r[3])
        pen_point (c->pen, x, y);
    }
  else if (!clip_segment (c->r, c->px, c->py, x, y, e))
    pen_break (c->pen);
  else
    {
      if (e[0] >= 0)
        {
          pen_break (c->pen);   /* re-entering the box: a new line */
          edge_point (c->r, e[0], c->px, c->py, x, y, &ex, &ey);
          pen_point (c->pen, ex, ey);
        }
      if (e[1] >= 0)
        {
          edge_point (c->r, e[1], c->px, c->py, x, y, &ex, &ey);
          pen_point (c->pen, ex, ey);
          pen_break (c->pen);
        }
      else
        pen_point (c->pen, x, y);
    }
  c->has = 1;
  c->px = x;
  c->py = y;
}

static void
clip_break (clipper *c)
{
  pen_break (c->pen);
  c->has = 0;
}

/* Stage 1: thin points whose x lie within half a pixel of a column's first
 * point.  A column is drawn as its first point if its y extent is below
 * half a pixel, else as its lowest and highest points in data order. */
typedef struct
{
  clipper *clip;
  int active, any;
  double bx, fx, fy, lx, ly;
  double nx, ny, xx, xy;        /* min-y and max-y points */
  size_t ni, xi, i;
} thinner;

static void
thin_flush (thinner *t)
{
  if (!t->active)
    return;
  if (t->xy - t->ny < 0.5)
    clip_point (t->clip, t->fx, t->fy);
  else if (t->ni < t->xi)
    {
      clip_point (t->clip, t->nx, t->ny);
      clip_point (t->clip, t->xx, t->xy);
    }
  else
    {
      clip_point (t->clip, t->xx, t->xy);
      clip_point (t->clip, t->nx, t->ny);
    }
  t->active = 0;
}

static void
thin_point (thinner *t, double x, double y)
{
  t->i++;
  t->any = 1;
  t->lx = x, t->ly = y;
  if (t->active && fabs (x - t->bx) < 0.5)
    {
      if (y < t->ny)
        t->nx = x, t->ny = y, t->ni = t->i;
      if (y > t->xy)
        t->xx = x, t->xy = y, t->xi = t->i;
      return;
    }
  thin_flush (t);
  t->active = 1;
  t->bx = t->fx = t->nx = t->xx = x;
  t->fy = t->ny = t->xy = y;
  t->ni = t->xi = t->i;
}

static void
thin_break (thinner *t)
{
  thin_flush (t);
  if (t->any)
    clip_point (t->clip, t->lx, t->ly);  /* keep the exact end point */
  t->any = 0;
  clip_break (t->clip);
}

/* Pixel coordinates of a series; NaN where a point cannot be drawn. */
static void
series_pixels (const series *s, const axis ax[2], double *px, double *py)
{
  for (size_t i = 0; i < s->n; i++)
    {
      px[i] = to_px (&ax[0], s->x[i]);
      py[i] = to_px (&ax[1], s->y[i]);
      if (isnan (px[i]) || isnan (py[i]))
        px[i] = py[i] = NAN;
    }
}

static void
stroke_attrs (sbuf *b, const series *s, size_t idx, double width)
{
  sb_puts (b, " stroke=\"");
  sb_text (b, s->color ? s->color : PALETTE[idx % 10], SIZE_MAX);
  sb_printf (b, "\" stroke-width=\"%.3g\"", width);
  if (s->dashed)
    {
      double k = width > 1.5 ? width / 1.5 : 1;
      sb_printf (b, " stroke-dasharray=\"%.3g,%.3g\"", 6 * k, 4 * k);
    }
  else
    sb_puts (b, " stroke-linecap=\"round\"");
}

static void
draw_series (sbuf *b, const series *s, size_t idx, const double *px,
             const double *py, const double box[4])
{
  sb_puts (b, "<g class=\"series\" fill=\"none\" stroke-linejoin=\"round\"");
  stroke_attrs (b, s, idx, s->width);
  sb_puts (b, ">\n");
  pen pn = { b, s->color ? s->color : PALETTE[idx % 10], s->width, 0, 0, 0,
             0, 0 };
  clipper c = { &pn, { box[0] - 4, box[1] - 4, box[2] + 4, box[3] + 4 }, 0,
                0, 0 };
  thinner t = { .clip = &c };
  for (size_t i = 0; i < s->n; i++)
    if (isnan (px[i]))
      thin_break (&t);
    else
      thin_point (&t, px[i], py[i]);
  thin_break (&t);
  sb_puts (b, "</g>\n");
}

/* ------------------------------------------------------------ legend */

typedef struct
{
  double fs, row, sample, colw, pad;
  size_t maxc, rows, cols, shown, total;
  double w, h;
} legend_geom;

static void
legend_fit (legend_geom *g, const mv_plot *p, double avail_h, size_t maxcols)
{
  g->total = 0;
  double tw = 0;
  for (size_t i = 0; i < p->ns; i++)
    if (p->s[i].label)
      {
        g->total++;
        tw = fmax (tw, text_width (p->s[i].label, g->fs, g->maxc));
      }
  size_t fit = (size_t) fmax (1, floor ((avail_h - 2 * g->pad) / g->row));
  g->cols = (g->total + fit - 1) / fit;
  if (g->cols > maxcols)
    g->cols = maxcols;
  if (g->cols < 1)
    g->cols = 1;
  g->rows = (g->total + g->cols - 1) / g->cols;
  if (g->rows > fit)
    g->rows = fit;
  g->shown = g->total <= g->rows * g->cols ? g->total : g->rows * g->cols - 1;
  if (g->shown < g->total)
    tw = fmax (tw, text_width ("+99999 more", g->fs, SIZE_MAX));
  g->colw = g->sample + 0.5 * g->fs + tw + g->fs;
  g->w = 2 * g->pad + (double) g->cols * g->colw - g->fs;
  g->h = 2 * g->pad + (double) g->rows * g->row;
}

static void
draw_legend (sbuf *b, const mv_plot *p, const legend_geom *g, double x,
             double y, int framed)
{
  sb_printf (b, "<g class=\"legend\" font-size=\"%.3g\">\n", g->fs);
  if (framed)
    sb_printf (b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\""
               " fill=\"#fff\" fill-opacity=\"0.85\" stroke=\"#bbb\"/>\n",
               x, y, g->w, g->h);
  size_t k = 0;
  for (size_t i = 0; i < p->ns && k <= g->shown; i++)
    {
      if (!p->s[i].label)
        continue;
      double ex = x + g->pad + (double) (k / g->rows) * g->colw;
      double ey = y + g->pad + ((double) (k % g->rows) + 0.5) * g->row;
      double tx = ex + g->sample + 0.5 * g->fs, ty = ey + 0.35 * g->fs;
      if (k == g->shown)
        {
          sb_printf (b, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#555\">+%zu more"
                     "</text>\n", ex, ty, g->total - g->shown);
          break;
        }
      sb_printf (b, "<path d=\"M%.1f %.1fh%.0f\"", ex, ey, g->sample);
      stroke_attrs (b, &p->s[i], i, fmin (p->s[i].width, 3));
      sb_printf (b, "/>\n<text x=\"%.1f\" y=\"%.1f\">", tx, ty);
      sb_text (b, p->s[i].label, g->maxc);
      sb_puts (b, "</text>\n");
      k++;
    }
  sb_puts (b, "</g>\n");
}

/* Length of segment a->b inside rect r. */
static double
ink (const double r[4], double ax, double ay, double bx, double by)
{
  int e[2];
  if (!clip_segment (r, ax, ay, bx, by, e))
    return 0;
  double x0 = ax, y0 = ay, x1 = bx, y1 = by;
  if (e[0] >= 0)
    edge_point (r, e[0], ax, ay, bx, by, &x0, &y0);
  if (e[1] >= 0)
    edge_point (r, e[1], ax, ay, bx, by, &x1, &y1);
  return fmax (1, hypot (x1 - x0, y1 - y0));  /* a lone point still counts */
}

/* Corner of the box (top-right, top-left, bottom-right, bottom-left, in
 * that order of preference) where the legend hides the least: length of
 * lines under it or close by, reference-line labels weighted more. */
static void
legend_corner (const mv_plot *p, const axis ax[2], const double box[4],
               const legend_geom *g, double *px, double *py, double *lx,
               double *ly)
{
  double m = 8, r[4][4], cost[4] = { 0 };
  for (int c = 0; c < 4; c++)
    {
      double x0 = c % 2 ? box[0] + m : box[2] - m - g->w;
      double y0 = c < 2 ? box[1] + m : box[3] - m - g->h;
      r[c][0] = x0 - 4, r[c][1] = y0 - 4;
      r[c][2] = x0 + g->w + 4, r[c][3] = y0 + g->h + 4;
    }
  for (size_t i = 0; i < p->ns; i++)
    {
      const series *s = &p->s[i];
      series_pixels (s, ax, px, py);
      for (size_t j = 0; j < s->n; j++)
        {
          if (isnan (px[j]))
            continue;
          size_t k = j > 0 && !isnan (px[j - 1]) ? j - 1 : j;
          for (int c = 0; c < 4; c++)
            cost[c] += ink (r[c], px[k], py[k], px[j], py[j]);
        }
    }
  for (int a = 0; a < 2; a++)
    for (size_t i = 0; i < p->nref[a]; i++)
      {
        double t = to_px (&ax[a], p->ref[a][i].v);
        double w = text_width (p->ref[a][i].label, 11, 60);
        if (isnan (t))
          continue;
        for (int c = 0; c < 4; c++)   /* the line, then its label */
          {
            if (a)
              cost[c] += ink (r[c], box[0], t, box[2], t) + (w > 0 ? 5 *
                ink (r[c], box[2] - 6 - w, t - 8, box[2] - 6, t - 8) : 0);
            else
              cost[c] += ink (r[c], t, box[1], t, box[3]) + (w > 0 ? 5 *
                ink (r[c], t - 8, box[1] + 6, t - 8, box[1] + 6 + w) : 0);
          }
      }
  int best = 0;
  for (int c = 1; c < 4; c++)
    if (cost[c] < cost[best])
      best = c;
  *lx = r[best][0] + 4;
  *ly = r[best][1] + 4;
}

/* ------------------------------------------------------------ document */

static void
draw_ticks (sbuf *b, const axis *ax, int a, const double box[4])
{
  double fs = 12;
  /* grid lines under everything else */
  sb_puts (b, "<path class=\"grid\" fill=\"none\" stroke=\"#e4e4e4\" "
           "shape-rendering=\"crispEdges\" d=\"");
  for (size_t i = 0; i < ax->nt; i++)
    {
      double t = u_px (ax, ax->tu[i]);
      if (a == 0 && t > box[0] + 0.5 && t < box[2] - 0.5)
        sb_printf (b, "M%.1f %.1fV%.1f", t, box[1], box[3]);
      if (a == 1 && t < box[3] - 0.5 && t > box[1] + 0.5)
        sb_printf (b, "M%.1f %.1fH%.1f", box[0], t, box[2]);
    }
  sb_puts (b, "\"/>\n");
  sb_printf (b, "<g class=\"%cticks\" font-size=\"%.0f\" fill=\"#222\" "
             "text-anchor=\"%s\">\n<path fill=\"none\" stroke=\"#222\" "
             "shape-rendering=\"crispEdges\" d=\"",
             "xy"[a], fs, a ? "end" : "middle");
  for (int minor = 0; minor < 2; minor++)
    for (size_t i = 0; i < (minor ? ax->nm : ax->nt); i++)
      {
        double u = minor ? ax->mu[i] : ax->tu[i], len = minor ? 3 : 5;
        double t = u_px (ax, u);
        if (a == 0)
          sb_printf (b, "M%.1f %.1fv%.0f", t, box[3], len);
        else
          sb_printf (b, "M%.1f %.1fh-%.0f", box[0], t, len);
      }
  sb_puts (b, "\"/>\n");
  for (size_t i = 0; i < ax->nt; i++)
    {
      double t = u_px (ax, ax->tu[i]);
      if (a == 0)
        sb_printf (b, "<text x=\"%.1f\" y=\"%.1f\">", t, box[3] + 8 + fs);
      else
        sb_printf (b, "<text x=\"%.1f\" y=\"%.1f\">", box[0] - 8,
                   t + 0.35 * fs);
      tick_label (b, ax, i, fs);
      sb_puts (b, "</text>\n");
    }
  sb_puts (b, "</g>\n");
}

static void
draw_refs (sbuf *b, const mv_plot *p, const axis ax[2], const double box[4],
           int labels)
{
  for (int a = 0; a < 2; a++)
    for (size_t i = 0; i < p->nref[a]; i++)
      {
        const refline *r = &p->ref[a][i];
        double t = to_px (&ax[a], r->v);
        if (isnan (t) || (a == 0 && (t < box[0] || t > box[2]))
            || (a == 1 && (t < box[1] || t > box[3])))
          continue;
        if (!labels)
          {
            if (a == 0)
              sb_printf (b, "<path d=\"M%.1f %.1fV%.1f\"/>\n", t, box[1],
                         box[3]);
            else
              sb_printf (b, "<path d=\"M%.1f %.1fH%.1f\"/>\n", box[0], t,
                         box[2]);
            continue;
          }
        if (!r->label)
          continue;
        if (a == 0)             /* along the line, reading upwards */
          sb_printf (b, "<text x=\"%.1f\" y=\"%.1f\" transform=\"rotate(-90 "
                     "%.1f %.1f)\">", t - 4, box[1] + 6, t - 4, box[1] + 6);
        else
          sb_printf (b, "<text x=\"%.1f\" y=\"%.1f\">", box[2] - 6, t - 4);
        sb_text (b, r->label, 60);
        sb_puts (b, "</text>\n");
      }
}

static void
render (sbuf *b, const mv_plot *p, double *px, double *py, int *status)
{
  axis ax[2];
  double box[4];                /* x0, y0 (top), x1, y1 (bottom) */
  box[1] = p->title ? 42 : 16;
  box[3] = H - (p->label[0] ? 58 : 36);
  /* y ticks first: their label widths set the left margin */
  int maxy = (int) fmax (3, floor ((box[3] - box[1]) / 60));
  if ((*status = axis_setup (p, 1, maxy, &ax[1])) != MV_OK)
    return;
  double yw = 0;
  for (size_t i = 0; i < ax[1].nt; i++)
    yw = fmax (yw, tick_label_width (&ax[1], i, 12));
  box[0] = fmax (48, ceil (yw + 16 + (p->label[1] ? 24 : 0)));
  box[2] = W - 24;

  size_t labelled = 0;
  for (size_t i = 0; i < p->ns; i++)
    labelled += p->s[i].label != NULL;
  int mode = p->legend;
  if (mode == MV_PLOT_LEGEND_AUTO)
    mode = labelled >= 1 && labelled <= MV_PLOT_LEGEND_AUTO_MAX
      ? MV_PLOT_LEGEND_INSIDE : MV_PLOT_LEGEND_NONE;
  if (labelled == 0)
    mode = MV_PLOT_LEGEND_NONE;
  legend_geom g = { 0 };
  if (mode == MV_PLOT_LEGEND_COMPACT)
    {
      g = (legend_geom) { .fs = 10, .row = 13, .sample = 16, .pad = 2,
                          .maxc = 28 };
      legend_fit (&g, p, box[3] - box[1], 1);
      if (g.shown < g.total)    /* several narrower columns */
        {
          g.maxc = 16;
          legend_fit (&g, p, box[3] - box[1], 4);
        }
      box[2] = W - 12 - g.w - 12;
    }
  else if (mode == MV_PLOT_LEGEND_INSIDE)
    {
      g = (legend_geom) { .fs = 12, .row = 17, .sample = 24, .pad = 6,
                          .maxc = 40 };
      legend_fit (&g, p, box[3] - box[1] - 16, 1);
    }

  ax[1].p0 = box[3], ax[1].p1 = box[1];
  int maxx = (int) fmax (3, floor ((box[2] - box[0]) / 80));
  if ((*status = axis_setup (p, 0, maxx, &ax[0])) != MV_OK)
    return;
  ax[0].p0 = box[0], ax[0].p1 = box[2];

  sb_printf (b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
             "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans,"
             " Helvetica, Arial, sans-serif\" font-size=\"12\">\n",
             MV_PLOT_WIDTH, MV_PLOT_HEIGHT, MV_PLOT_WIDTH, MV_PLOT_HEIGHT);
  if (p->title)
    {
      sb_puts (b, "<title>");
      sb_text (b, p->title, SIZE_MAX);
      sb_puts (b, "</title>\n");
    }
  /* the clip runs 2 px past the frame so lines along an edge stay whole */
  sb_printf (b, "<defs><clipPath id=\"mv-plot-area\"><rect x=\"%.1f\" "
             "y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/></clipPath></defs>\n",
             box[0] - 2, box[1] - 2, box[2] - box[0] + 4, box[3] - box[1] + 4);
  sb_printf (b, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n",
             MV_PLOT_WIDTH, MV_PLOT_HEIGHT);
  draw_ticks (b, &ax[0], 0, box);
  draw_ticks (b, &ax[1], 1, box);

  sb_puts (b, "<g class=\"data\" clip-path=\"url(#mv-plot-area)\">\n");
  for (size_t i = 0; i < p->ns; i++)
    {
      series_pixels (&p->s[i], ax, px, py);
      draw_series (b, &p->s[i], i, px, py, box);
    }
  sb_puts (b, "<g class=\"refs\" fill=\"none\" stroke=\"#444\" "
           "stroke-width=\"1\" stroke-dasharray=\"5,4\">\n");
  draw_refs (b, p, ax, box, 0);
  sb_puts (b, "</g>\n</g>\n");
  sb_puts (b, "<g class=\"reflabels\" font-size=\"11\" fill=\"#333\" "
           "text-anchor=\"end\" stroke=\"#fff\" stroke-width=\"3\" "
           "paint-order=\"stroke\">\n");
  draw_refs (b, p, ax, box, 1);
  sb_puts (b, "</g>\n");
  sb_printf (b, "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
             "height=\"%.1f\" fill=\"none\" stroke=\"#222\" "
             "shape-rendering=\"crispEdges\"/>\n",
             box[0], box[1], box[2] - box[0], box[3] - box[1]);

  if (p->label[0])
    {
      sb_printf (b, "<text class=\"xlabel\" x=\"%.1f\" y=\"%.1f\" "
                 "font-size=\"13\" text-anchor=\"middle\">",
                 0.5 * (box[0] + box[2]), H - 14);
      sb_text (b, p->label[0], SIZE_MAX);
      sb_puts (b, "</text>\n");
    }
  if (p->label[1])
    {
      double cy = 0.5 * (box[1] + box[3]);
      sb_printf (b, "<text class=\"ylabel\" x=\"18\" y=\"%.1f\" "
                 "font-size=\"13\" text-anchor=\"middle\" "
                 "transform=\"rotate(-90 18 %.1f)\">", cy, cy);
      sb_text (b, p->label[1], SIZE_MAX);
      sb_puts (b, "</text>\n");
    }
  if (p->title)
    {
      sb_printf (b, "<text class=\"title\" x=\"%.1f\" y=\"26\" "
                 "font-size=\"15\" text-anchor=\"middle\">",
                 0.5 * (box[0] + box[2]));
      sb_text (b, p->title, SIZE_MAX);
      sb_puts (b, "</text>\n");
    }
  if (mode == MV_PLOT_LEGEND_COMPACT)
    draw_legend (b, p, &g, box[2] + 12, box[1], 0);
  else if (mode == MV_PLOT_LEGEND_INSIDE)
    {
      double lx, ly;
      legend_corner (p, ax, box, &g, px, py, &lx, &ly);
      draw_legend (b, p, &g, lx, ly, 1);
    }
  sb_puts (b, "</svg>\n");
}

/* The document, or NULL with *status set (and the message recorded). */
static char *
build (const mv_plot *p, size_t *len, int *status)
{
  size_t nmax = 1;
  for (size_t i = 0; i < p->ns; i++)
    if (p->s[i].n > nmax)
      nmax = p->s[i].n;
  double *px = malloc (nmax * sizeof *px), *py = malloc (nmax * sizeof *py);
  sbuf b = { 0 };
  *status = MV_OK;
  if (px && py)
    render (&b, p, px, py, status);
  free (px);
  free (py);
  if (*status == MV_OK && (!px || !py || b.oom || !b.p))
    *status = mv_error_set (MV_ENOMEM, "plot: out of memory rendering SVG");
  if (*status != MV_OK)
    {
      free (b.p);
      return NULL;
    }
  *len = b.len;
  return b.p;
}

char *
mv_plot_svg (const mv_plot *p, size_t *len)
{
  size_t n;
  int status;
  if (!p)
    {
      mv_error_set (MV_EINVAL, "plot: NULL plot");
      return NULL;
    }
  char *svg = build (p, &n, &status);
  if (svg && len)
    *len = n;
  return svg;
}

int
mv_plot_write (const mv_plot *p, const char *path)
{
  if (!p || !path)
    return mv_error_set (MV_EINVAL, "plot: NULL %s", p ? "path" : "plot");
  size_t len;
  int status;
  char *svg = build (p, &len, &status);
  if (!svg)
    {
      mv_error_prefix (path);
      return status;
    }
  status = mv_io_write_atomic (path, svg, len);
  free (svg);
  return status;
}
