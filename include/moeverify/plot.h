/* A small, dependency-free SVG line-plot writer: fixed 900x560 canvas,
 * linear or log10 axes with 1-2-5 / decade ticks, title and axis labels,
 * an optional legend, reference lines (thresholds, event times).  Output is
 * deterministic and compact: points closer than half a pixel are thinned
 * and lines are clipped to the plot box. */
#ifndef MOEVERIFY_PLOT_H
#define MOEVERIFY_PLOT_H

#include <stddef.h>
#include <moeverify/io.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { MV_PLOT_WIDTH = 900, MV_PLOT_HEIGHT = 560 };

/* Legend modes.  AUTO shows a legend inside the box (in the emptiest
 * corner) when there are 1..MV_PLOT_LEGEND_AUTO_MAX labelled series, none
 * otherwise; INSIDE forces it; COMPACT puts small entries in columns to
 * the right of the box (narrowing it) and suits many series. */
enum {
  MV_PLOT_LEGEND_AUTO = 0,
  MV_PLOT_LEGEND_NONE = 1,
  MV_PLOT_LEGEND_INSIDE = 2,
  MV_PLOT_LEGEND_COMPACT = 3
};
enum { MV_PLOT_LEGEND_AUTO_MAX = 12 };

typedef struct mv_plot mv_plot;

/* Any text may be NULL (omitted).  Text is UTF-8 and is escaped on output. */
mv_plot *mv_plot_alloc (const char *title, const char *xlabel,
                        const char *ylabel);
void mv_plot_free (mv_plot *p);

/* log10 axes.  On a log axis non-positive values are dropped and break the
 * line like NaN does; a fixed range must then be positive. */
int mv_plot_set_log (mv_plot *p, int logx, int logy);
/* Fixed axis ranges (lo < hi, finite); ticks are placed inside them.
 * Without them the range is fitted to the data and reference lines and
 * widened to whole tick steps (whole decades on log axes). */
int mv_plot_set_xrange (mv_plot *p, double lo, double hi);
int mv_plot_set_yrange (mv_plot *p, double lo, double hi);
int mv_plot_set_legend (mv_plot *p, int mode);

/* Colour i of the 10-colour palette (i taken modulo 10): "#1f77b4", ... */
const char *mv_plot_color (size_t i);

/* Add a polyline through (x[i], y[i]); the arrays are copied.  x == NULL
 * means x[i] = i.  label NULL: no legend entry.  color is any SVG colour
 * ("#1f77b4", "red"), NULL picks the 10-colour palette by series index.
 * width <= 0 means 1.5 px.  Non-finite points break the line. */
int mv_plot_add_series (mv_plot *p, const char *label, const double *x,
                        const double *y, size_t n, const char *color,
                        double width, int dashed);
/* Dashed grey reference lines across the box, labelled in place (label may
 * be NULL), e.g. thresholds 0.5 / 0.9 or event times. */
int mv_plot_add_hline (mv_plot *p, double y, const char *label);
int mv_plot_add_vline (mv_plot *p, double x, const char *label);

/* The SVG document (malloc'd, NUL-terminated; *len its length if len is
 * not NULL); NULL + error on failure. */
char *mv_plot_svg (const mv_plot *p, size_t *len);
/* Render and write to path atomically (mv_io_write_atomic). */
int mv_plot_write (const mv_plot *p, const char *path);
/* Render and add to a set of files written together (io.h) as name. */
int mv_plot_write_set (const mv_plot *p, mv_io_set *set, const char *name);

#ifdef __cplusplus
}
#endif
#endif
