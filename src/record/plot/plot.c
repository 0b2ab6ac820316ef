/* SVG line plots (plot.h): the plot model, its setters, and the document
 * assembly (layout of the box, axes, series, reference lines, labels and
 * legend).  Ticks are in plot_axes.c, series and legend drawing in
 * plot_draw.c, the output buffer and text escaping in plot_text.c. */
#include "record/plot/plot_priv.h"
#include <moeverify/error.h>
#include <moeverify/io.h>

#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define W ((double) MV_PLOT_WIDTH)
#define H ((double) MV_PLOT_HEIGHT)

/* ------------------------------------------------------------ model */

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

/* ------------------------------------------------------------ document */

/* Legend mode and geometry; a compact legend takes its width off box[2]. */
static int
legend_layout (legend_geom *g, const mv_plot *p, double box[4])
{
  size_t labelled = 0;
  for (size_t i = 0; i < p->ns; i++)
    labelled += p->s[i].label != NULL;
  int mode = p->legend;
  if (mode == MV_PLOT_LEGEND_AUTO)
    mode = labelled >= 1 && labelled <= MV_PLOT_LEGEND_AUTO_MAX
      ? MV_PLOT_LEGEND_INSIDE : MV_PLOT_LEGEND_NONE;
  if (labelled == 0)
    mode = MV_PLOT_LEGEND_NONE;
  if (mode == MV_PLOT_LEGEND_COMPACT)
    {
      *g = (legend_geom) { .fs = 10, .row = 13, .sample = 16, .pad = 2,
                           .maxc = 28 };
      mv_plot_legend_fit (g, p, box[3] - box[1], 1);
      if (g->shown < g->total)  /* several narrower columns */
        {
          g->maxc = 16;
          mv_plot_legend_fit (g, p, box[3] - box[1], 4);
        }
      box[2] = W - 12 - g->w - 12;
    }
  else if (mode == MV_PLOT_LEGEND_INSIDE)
    {
      *g = (legend_geom) { .fs = 12, .row = 17, .sample = 24, .pad = 6,
                           .maxc = 40 };
      mv_plot_legend_fit (g, p, box[3] - box[1] - 16, 1);
    }
  return mode;
}

/* Axes, plot box (x0, y0 top, x1, y1 bottom) and legend layout. */
static int
layout (axis ax[2], double box[4], legend_geom *g, int *mode,
        const mv_plot *p)
{
  box[1] = p->title ? 42 : 16;
  box[3] = H - (p->label[0] ? 58 : 36);
  /* y ticks first: their label widths set the left margin */
  int maxy = (int) fmax (3, floor ((box[3] - box[1]) / 60));
  int status = mv_plot_axis_setup (p, 1, maxy, &ax[1]);
  if (status != MV_OK)
    return status;
  double yw = 0;
  for (size_t i = 0; i < ax[1].nt; i++)
    yw = fmax (yw, mv_plot_tick_label_width (&ax[1], i, 12));
  box[0] = fmax (48, ceil (yw + 16 + (p->label[1] ? 24 : 0)));
  box[2] = W - 24;
  *mode = legend_layout (g, p, box);
  ax[1].p0 = box[3], ax[1].p1 = box[1];
  int maxx = (int) fmax (3, floor ((box[2] - box[0]) / 80));
  if ((status = mv_plot_axis_setup (p, 0, maxx, &ax[0])) != MV_OK)
    return status;
  ax[0].p0 = box[0], ax[0].p1 = box[2];
  return MV_OK;
}

/* <text class=cls ...attrs>text</text> */
static void
text_element (sbuf *b, const char *open, const char *text)
{
  mv_textbuf_puts (b, open);
  mv_plot_sb_text (b, text, SIZE_MAX);
  mv_textbuf_puts (b, "</text>\n");
}

static void
render_labels (sbuf *b, const mv_plot *p, const double box[4])
{
  char open[256];
  if (p->label[0])
    {
      snprintf (open, sizeof open, "<text class=\"xlabel\" x=\"%.1f\" "
                "y=\"%.1f\" font-size=\"13\" text-anchor=\"middle\">",
                0.5 * (box[0] + box[2]), H - 14);
      text_element (b, open, p->label[0]);
    }
  if (p->label[1])
    {
      double cy = 0.5 * (box[1] + box[3]);
      snprintf (open, sizeof open, "<text class=\"ylabel\" x=\"18\" "
                "y=\"%.1f\" font-size=\"13\" text-anchor=\"middle\" "
                "transform=\"rotate(-90 18 %.1f)\">", cy, cy);
      text_element (b, open, p->label[1]);
    }
  if (p->title)
    {
      snprintf (open, sizeof open, "<text class=\"title\" x=\"%.1f\" "
                "y=\"26\" font-size=\"15\" text-anchor=\"middle\">",
                0.5 * (box[0] + box[2]));
      text_element (b, open, p->title);
    }
}

static void
render (sbuf *b, const mv_plot *p, double *px, double *py, int *status)
{
  axis ax[2];
  double box[4];
  legend_geom g = { 0 };
  int mode;
  if ((*status = layout (ax, box, &g, &mode, p)) != MV_OK)
    return;
  mv_textbuf_printf (b, "<svg xmlns=\"http://www.w3.org/2000/svg\" "
                     "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                     "font-family=\"DejaVu Sans, Helvetica, Arial, "
                     "sans-serif\" font-size=\"12\">\n",
                     MV_PLOT_WIDTH, MV_PLOT_HEIGHT, MV_PLOT_WIDTH,
                     MV_PLOT_HEIGHT);
  if (p->title)
    {
      mv_textbuf_puts (b, "<title>");
      mv_plot_sb_text (b, p->title, SIZE_MAX);
      mv_textbuf_puts (b, "</title>\n");
    }
  /* the clip runs 2 px past the frame so lines along an edge stay whole */
  mv_textbuf_printf (b, "<defs><clipPath id=\"mv-plot-area\"><rect "
                     "x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>"
                     "</clipPath></defs>\n", box[0] - 2, box[1] - 2,
                     box[2] - box[0] + 4, box[3] - box[1] + 4);
  mv_textbuf_printf (b, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n",
                     MV_PLOT_WIDTH, MV_PLOT_HEIGHT);
  mv_plot_draw_ticks (b, &ax[0], 0, box);
  mv_plot_draw_ticks (b, &ax[1], 1, box);

  mv_textbuf_puts (b, "<g class=\"data\" clip-path=\"url(#mv-plot-area)\">\n");
  for (size_t i = 0; i < p->ns; i++)
    {
      mv_plot_series_pixels (&p->s[i], ax, px, py);
      mv_plot_draw_series (b, &p->s[i], i, px, py, box);
    }
  mv_textbuf_puts (b, "<g class=\"refs\" fill=\"none\" stroke=\"#444\" "
                   "stroke-width=\"1\" stroke-dasharray=\"5,4\">\n");
  mv_plot_draw_refs (b, p, ax, box, 0);
  mv_textbuf_puts (b, "</g>\n</g>\n");
  mv_textbuf_puts (b, "<g class=\"reflabels\" font-size=\"11\" fill=\"#333\" "
                   "text-anchor=\"end\" stroke=\"#fff\" stroke-width=\"3\" "
                   "paint-order=\"stroke\">\n");
  mv_plot_draw_refs (b, p, ax, box, 1);
  mv_textbuf_puts (b, "</g>\n");
  mv_textbuf_printf (b, "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" "
                     "width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
                     "stroke=\"#222\" "
                     "shape-rendering=\"crispEdges\"/>\n",
                     box[0], box[1], box[2] - box[0], box[3] - box[1]);
  render_labels (b, p, box);
  if (mode == MV_PLOT_LEGEND_COMPACT)
    mv_plot_draw_legend (b, p, &g, box[2] + 12, box[1], 0);
  else if (mode == MV_PLOT_LEGEND_INSIDE)
    {
      double lx, ly;
      mv_plot_legend_corner (p, ax, box, &g, px, py, &lx, &ly);
      mv_plot_draw_legend (b, p, &g, lx, ly, 1);
    }
  mv_textbuf_puts (b, "</svg>\n");
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
  if (*status == MV_OK && (!px || !py || b.oom || !b.s))
    *status = mv_error_set (MV_ENOMEM, "plot: out of memory rendering SVG");
  if (*status != MV_OK)
    {
      free (b.s);
      return NULL;
    }
  *len = b.len;
  return b.s;
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

int
mv_plot_write_set (const mv_plot *p, mv_io_set *set, const char *name)
{
  if (!p || !set)
    return mv_error_set (MV_EINVAL, "plot: NULL %s", p ? "set" : "plot");
  size_t len;
  int status;
  char *svg = build (p, &len, &status);
  if (!svg)
    {
      mv_error_prefix (name);
      return status;
    }
  status = mv_io_set_add (set, name, svg, len);
  free (svg);
  return status;
}
