/* Private layout of the SVG plot writer: the plot model (plot.c: public
 * API and document assembly), the text buffer (plot_text.c: output, number
 * formatting, XML escaping), axes (plot_axes.c: ranges, ticks, tick
 * labels) and drawing (plot_draw.c: clipping, thinning, polylines, legend,
 * reference lines). */
#ifndef MV_PLOT_PRIV_H
#define MV_PLOT_PRIV_H

#include <moeverify/plot.h>
#include "base/textbuf.h"

#include <stddef.h>

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

/* ------------------------------------------------------------ text buffer
 * (plot_text.c) */

/* the library's growable buffer; the helpers below add SVG specifics */
typedef mv_textbuf sbuf;

/* A pixel coordinate to 0.1 px, without a trailing ".0". */
void mv_plot_sb_num (sbuf *b, double v);
/* XML-escaped text, at most maxc characters (longer text ends in an
 * ellipsis). */
void mv_plot_sb_text (sbuf *b, const char *s, size_t maxc);
/* Rough rendered width of text at font size fs. */
double mv_plot_text_width (const char *s, double fs, size_t maxc);

/* ------------------------------------------------------------ axes
 * (plot_axes.c) */

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

/* Pixel of a data value; NaN if it cannot be drawn. */
double mv_plot_to_px (const axis *ax, double v);
/* Range and ticks of axis a (0 x, 1 y) with at most maxn intervals; the
 * pixel ends p0, p1 are left to the caller. */
int mv_plot_axis_setup (const mv_plot *p, int a, int maxn, axis *ax);
double mv_plot_tick_label_width (const axis *ax, size_t i, double fs);
/* Grid lines, tick marks and tick labels of axis a around box. */
void mv_plot_draw_ticks (sbuf *b, const axis *ax, int a, const double box[4]);

/* ------------------------------------------------------------ drawing
 * (plot_draw.c) */

typedef struct
{
  double fs, row, sample, colw, pad;
  size_t maxc, rows, cols, shown, total;
  double w, h;
} legend_geom;

void mv_plot_series_pixels (const series *s, const axis ax[2], double *px,
                            double *py);
void mv_plot_draw_series (sbuf *b, const series *s, size_t idx,
                          const double *px, const double *py,
                          const double box[4]);
void mv_plot_legend_fit (legend_geom *g, const mv_plot *p, double avail_h,
                         size_t maxcols);
void mv_plot_draw_legend (sbuf *b, const mv_plot *p, const legend_geom *g,
                          double x, double y, int framed);
/* Top-left corner (*lx, *ly) for an inside legend; px, py are scratch for
 * the longest series. */
void mv_plot_legend_corner (const mv_plot *p, const axis ax[2],
                            const double box[4], const legend_geom *g,
                            double *px, double *py, double *lx, double *ly);
/* Reference lines (labels == 0) or their labels (labels == 1). */
void mv_plot_draw_refs (sbuf *b, const mv_plot *p, const axis ax[2],
                        const double box[4], int labels);

#endif
