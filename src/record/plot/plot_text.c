/* Output buffer of the SVG plot writer (plot_priv.h): appending, fast
 * pixel-coordinate formatting, and XML-safe text from arbitrary UTF-8. */
#include "record/plot/plot_priv.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A pixel coordinate to 0.1 px, without a trailing ".0": keeps files small
 * and is faster than printf for hundreds of thousands of points. */
void
mv_plot_sb_num (sbuf *b, double v)
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
  mv_textbuf_put (b, q, (size_t) (e - q));
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
void
mv_plot_sb_text (sbuf *b, const char *s, size_t maxc)
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
          mv_textbuf_puts (b, "\xEF\xBF\xBD");
          u++;
          continue;
        }
      if (k > 1)
        mv_textbuf_put (b, (const char *) u, k);
      else if (*u == '&')
        mv_textbuf_puts (b, "&amp;");
      else if (*u == '<')
        mv_textbuf_puts (b, "&lt;");
      else if (*u == '>')
        mv_textbuf_puts (b, "&gt;");
      else if (*u == '"')
        mv_textbuf_puts (b, "&quot;");
      else if (*u == '\'')
        mv_textbuf_puts (b, "&#39;");
      else
        mv_textbuf_put (b, *u < 0x20 ? " " : (const char *) u, 1);
      u += k;
    }
  if (keep != SIZE_MAX)
    mv_textbuf_puts (b, "\xE2\x80\xA6");
}

/* Rough rendered width of text: sans-serif glyphs average ~0.6 em. */
double
mv_plot_text_width (const char *s, double fs, size_t maxc)
{
  size_t n = s ? utf8_count (s) : 0;
  return 0.6 * fs * (double) (n < maxc ? n : maxc);
}
