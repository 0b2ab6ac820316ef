/* Plot axes (plot_priv.h): ranges fitted to the data or fixed, linear 1-2-5
 * and log10 decade ticks, tick labels, and grid / tick drawing. */
#include "record/plot/plot_priv.h"
#include <moeverify/error.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-9                /* slack for tick arithmetic */

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
double
mv_plot_to_px (const axis *ax, double v)
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

int
mv_plot_axis_setup (const mv_plot *p, int a, int maxn, axis *ax)
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
      mv_textbuf_printf (b, "10<tspan dy=\"-%.0f\" font-size=\"%.0f\">%.0f"
                         "</tspan>", 0.45 * fs, 0.75 * fs,
                         ax->tu[i] + 0.0);  /* no "-0" */
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
      mv_textbuf_puts (b, strcmp (t, "-0") ? t : "0");
      return;
    }
  if (ax->tv[i] == 0)
    {
      mv_textbuf_puts (b, "0");
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
  mv_textbuf_puts (b, t);
}

double
mv_plot_tick_label_width (const axis *ax, size_t i, double fs)
{
  if (ax->decades)
    {
      char t[16];
      snprintf (t, sizeof t, "%.0f", ax->tu[i]);
      return 0.6 * fs * (2 + 0.75 * (double) strlen (t));
    }
  sbuf b = { 0 };
  tick_label (&b, ax, i, fs);
  double w = b.s ? 0.6 * fs * (double) b.len : 0;
  free (b.s);
  return w;
}

void
mv_plot_draw_ticks (sbuf *b, const axis *ax, int a, const double box[4])
{
  double fs = 12;
  /* grid lines under everything else */
  mv_textbuf_puts (b, "<path class=\"grid\" fill=\"none\" stroke=\"#e4e4e4\" "
                   "shape-rendering=\"crispEdges\" d=\"");
  for (size_t i = 0; i < ax->nt; i++)
    {
      double t = u_px (ax, ax->tu[i]);
      if (a == 0 && t > box[0] + 0.5 && t < box[2] - 0.5)
        mv_textbuf_printf (b, "M%.1f %.1fV%.1f", t, box[1], box[3]);
      if (a == 1 && t < box[3] - 0.5 && t > box[1] + 0.5)
        mv_textbuf_printf (b, "M%.1f %.1fH%.1f", box[0], t, box[2]);
    }
  mv_textbuf_puts (b, "\"/>\n");
  mv_textbuf_printf (b, "<g class=\"%cticks\" font-size=\"%.0f\" "
                     "fill=\"#222\" text-anchor=\"%s\">\n<path fill=\"none\" "
                     "stroke=\"#222\" shape-rendering=\"crispEdges\" d=\"",
                     "xy"[a], fs, a ? "end" : "middle");
  for (int minor = 0; minor < 2; minor++)
    for (size_t i = 0; i < (minor ? ax->nm : ax->nt); i++)
      {
        double u = minor ? ax->mu[i] : ax->tu[i], len = minor ? 3 : 5;
        double t = u_px (ax, u);
        if (a == 0)
          mv_textbuf_printf (b, "M%.1f %.1fv%.0f", t, box[3], len);
        else
          mv_textbuf_printf (b, "M%.1f %.1fh-%.0f", box[0], t, len);
      }
  mv_textbuf_puts (b, "\"/>\n");
  for (size_t i = 0; i < ax->nt; i++)
    {
      double t = u_px (ax, ax->tu[i]);
      if (a == 0)
        mv_textbuf_printf (b, "<text x=\"%.1f\" y=\"%.1f\">", t,
                           box[3] + 8 + fs);
      else
        mv_textbuf_printf (b, "<text x=\"%.1f\" y=\"%.1f\">", box[0] - 8,
                           t + 0.35 * fs);
      tick_label (b, ax, i, fs);
      mv_textbuf_puts (b, "</text>\n");
    }
  mv_textbuf_puts (b, "</g>\n");
}
