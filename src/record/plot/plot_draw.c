/* Drawing series, legend and reference lines (plot_priv.h).  Each series
 * goes through three stages: data -> pixels (NaN marks a break), thinning
 * to at most two points per half-pixel column (the column's extremes, so
 * spikes survive), and segment clipping to a slightly enlarged box so
 * far-off points never reach the file; a clipPath trims the remainder
 * exactly at the frame. */
#include "record/plot/plot_priv.h"

#include <math.h>
#include <stdint.h>

static const char *const PALETTE[10] = {
  "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"
};

const char *
mv_plot_color (size_t i)
{
  return PALETTE[i % 10];
}

/* ------------------------------------------------------------ series */

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
      mv_textbuf_puts (p->b, "<circle cx=\"");
      mv_plot_sb_num (p->b, p->fx);
      mv_textbuf_puts (p->b, "\" cy=\"");
      mv_plot_sb_num (p->b, p->fy);
      mv_textbuf_printf (p->b, "\" r=\"%.2g\" fill=\"", p->dot);
      mv_plot_sb_text (p->b, p->color, SIZE_MAX);
      mv_textbuf_puts (p->b, "\" stroke=\"none\"/>\n");
    }
  else if (p->n > 1)
    mv_textbuf_puts (p->b, "\"/>\n");
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
          mv_textbuf_puts (p->b, "<polyline points=\"");
          mv_plot_sb_num (p->b, p->fx);
          mv_textbuf_put (p->b, ",", 1);
          mv_plot_sb_num (p->b, p->fy);
        }
      mv_textbuf_put (p->b, " ", 1);
      mv_plot_sb_num (p->b, x);
      mv_textbuf_put (p->b, ",", 1);
      mv_plot_sb_num (p->b, y);
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
void
mv_plot_series_pixels (const series *s, const axis ax[2], double *px,
                       double *py)
{
  for (size_t i = 0; i < s->n; i++)
    {
      px[i] = mv_plot_to_px (&ax[0], s->x[i]);
      py[i] = mv_plot_to_px (&ax[1], s->y[i]);
      if (isnan (px[i]) || isnan (py[i]))
        px[i] = py[i] = NAN;
    }
}

static void
stroke_attrs (sbuf *b, const series *s, size_t idx, double width)
{
  mv_textbuf_puts (b, " stroke=\"");
  mv_plot_sb_text (b, s->color ? s->color : mv_plot_color (idx), SIZE_MAX);
  mv_textbuf_printf (b, "\" stroke-width=\"%.3g\"", width);
  if (s->dashed)
    {
      double k = width > 1.5 ? width / 1.5 : 1;
      mv_textbuf_printf (b, " stroke-dasharray=\"%.3g,%.3g\"", 6 * k, 4 * k);
    }
  else
    mv_textbuf_puts (b, " stroke-linecap=\"round\"");
}

void
mv_plot_draw_series (sbuf *b, const series *s, size_t idx, const double *px,
                     const double *py, const double box[4])
{
  mv_textbuf_puts (b, "<g class=\"series\" fill=\"none\" "
                   "stroke-linejoin=\"round\"");
  stroke_attrs (b, s, idx, s->width);
  mv_textbuf_puts (b, ">\n");
  pen pn = { b, s->color ? s->color : mv_plot_color (idx), s->width, 0, 0, 0,
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
  mv_textbuf_puts (b, "</g>\n");
}

/* ------------------------------------------------------------ legend */

void
mv_plot_legend_fit (legend_geom *g, const mv_plot *p, double avail_h,
                    size_t maxcols)
{
  g->total = 0;
  double tw = 0;
  for (size_t i = 0; i < p->ns; i++)
    if (p->s[i].label)
      {
        g->total++;
        tw = fmax (tw, mv_plot_text_width (p->s[i].label, g->fs, g->maxc));
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
    tw = fmax (tw, mv_plot_text_width ("+99999 more", g->fs, SIZE_MAX));
  g->colw = g->sample + 0.5 * g->fs + tw + g->fs;
  g->w = 2 * g->pad + (double) g->cols * g->colw - g->fs;
  g->h = 2 * g->pad + (double) g->rows * g->row;
}

void
mv_plot_draw_legend (sbuf *b, const mv_plot *p, const legend_geom *g, double x,
                     double y, int framed)
{
  mv_textbuf_printf (b, "<g class=\"legend\" font-size=\"%.3g\">\n", g->fs);
  if (framed)
    mv_textbuf_printf (b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                       "height=\"%.1f\" fill=\"#fff\" fill-opacity=\"0.85\" "
                       "stroke=\"#bbb\"/>\n", x, y, g->w, g->h);
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
          mv_textbuf_printf (b, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#555\">"
                             "+%zu more</text>\n", ex, ty,
                             g->total - g->shown);
          break;
        }
      mv_textbuf_printf (b, "<path d=\"M%.1f %.1fh%.0f\"", ex, ey, g->sample);
      stroke_attrs (b, &p->s[i], i, fmin (p->s[i].width, 3));
      mv_textbuf_printf (b, "/>\n<text x=\"%.1f\" y=\"%.1f\">", tx, ty);
      mv_plot_sb_text (b, p->s[i].label, g->maxc);
      mv_textbuf_puts (b, "</text>\n");
      k++;
    }
  mv_textbuf_puts (b, "</g>\n");
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
void
mv_plot_legend_corner (const mv_plot *p, const axis ax[2],
                       const double box[4], const legend_geom *g, double *px,
                       double *py, double *lx, double *ly)
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
      mv_plot_series_pixels (s, ax, px, py);
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
        double t = mv_plot_to_px (&ax[a], p->ref[a][i].v);
        double w = mv_plot_text_width (p->ref[a][i].label, 11, 60);
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

/* ------------------------------------------------------------ refs */

void
mv_plot_draw_refs (sbuf *b, const mv_plot *p, const axis ax[2],
                   const double box[4], int labels)
{
  for (int a = 0; a < 2; a++)
    for (size_t i = 0; i < p->nref[a]; i++)
      {
        const refline *r = &p->ref[a][i];
        double t = mv_plot_to_px (&ax[a], r->v);
        if (isnan (t) || (a == 0 && (t < box[0] || t > box[2]))
            || (a == 1 && (t < box[1] || t > box[3])))
          continue;
        if (!labels)
          {
            if (a == 0)
              mv_textbuf_printf (b, "<path d=\"M%.1f %.1fV%.1f\"/>\n", t,
                                 box[1], box[3]);
            else
              mv_textbuf_printf (b, "<path d=\"M%.1f %.1fH%.1f\"/>\n", box[0],
                                 t, box[2]);
            continue;
          }
        if (!r->label)
          continue;
        if (a == 0)             /* along the line, reading upwards */
          mv_textbuf_printf (b, "<text x=\"%.1f\" y=\"%.1f\" "
                             "transform=\"rotate(-90 %.1f %.1f)\">", t - 4,
                             box[1] + 6, t - 4, box[1] + 6);
        else
          mv_textbuf_printf (b, "<text x=\"%.1f\" y=\"%.1f\">", box[2] - 6,
                             t - 4);
        mv_plot_sb_text (b, r->label, 60);
        mv_textbuf_puts (b, "</text>\n");
      }
}
