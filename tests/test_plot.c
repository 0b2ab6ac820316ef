/* SVG plot writer: well-formed output (a small XML checker here, xmllint
 * too when installed), escaping, tick values, line breaks at NaN and at
 * non-positive values on log axes, clipping, legends, size limits and
 * atomic writes. */
#define _XOPEN_SOURCE 700  /* mkdtemp */
#include "testutil.h"

#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <moeverify/plot.h>
#include <moeverify/io.h>
#include <moeverify/error.h>

/* ------------------------------------------------------------ helpers */

/* Entity or character reference at s ('&' already seen): its length. */
static size_t
entity_len (const char *s)
{
  static const char *const ent[] = { "&amp;", "&lt;", "&gt;", "&quot;",
                                     "&apos;" };
  for (size_t i = 0; i < 5; i++)
    if (strncmp (s, ent[i], strlen (ent[i])) == 0)
      return strlen (ent[i]);
  if (s[1] == '#')
    {
      size_t n = 2;
      int hex = s[2] == 'x';
      n += (size_t) hex;
      size_t d = n;
      while (hex ? isxdigit ((unsigned char) s[n]) : isdigit ((unsigned char) s[n]))
        n++;
      if (n > d && s[n] == ';')
        return n + 1;
    }
  return 0;
}

/* Minimal well-formedness check for what the writer emits: one root
 * element, balanced and properly nested tags, quoted attributes, no raw
 * '<' or stray '&'.  Returns NULL if fine, else a description. */
static const char *
xml_check (const char *s)
{
  static char why[200];
  char stack[64][32];
  int depth = 0, roots = 0;
  const char *p = s;
  while (*p)
    {
      if (*p != '<')
        {
          if (depth == 0 && !isspace ((unsigned char) *p))
            return "text outside the root element";
          if (*p == '&' && !entity_len (p))
            return "bad entity in text";
          p++;
          continue;
        }
      if (strncmp (p, "<!--", 4) == 0)
        {
          const char *e = strstr (p, "-->");
          if (!e)
            return "unterminated comment";
          p = e + 3;
          continue;
        }
      int closing = p[1] == '/';
      p += 1 + closing;
      size_t n = 0;
      while (isalnum ((unsigned char) p[n]) || p[n] == '-' || p[n] == ':')
        n++;
      if (n == 0 || n >= 32)
        {
          snprintf (why, sizeof why, "bad tag name near \"%.20s\"", p);
          return why;
        }
      char name[32];
      memcpy (name, p, n);
      name[n] = '\0';
      p += n;
      if (closing)
        {
          while (isspace ((unsigned char) *p))
            p++;
          if (*p++ != '>')
            return "junk in closing tag";
          if (depth == 0 || strcmp (stack[depth - 1], name) != 0)
            {
              snprintf (why, sizeof why, "</%s> does not match <%s>", name,
                        depth ? stack[depth - 1] : "(none)");
              return why;
            }
          depth--;
          continue;
        }
      for (;;)              /* attributes */
        {
          int ws = 0;
          while (isspace ((unsigned char) *p))
            p++, ws = 1;
          if (p[0] == '/' && p[1] == '>')
            {
              p += 2;
              roots += depth == 0;
              break;
            }
          if (*p == '>')
            {
              p++;
              if (depth == 0)
                roots++;
              if (depth == 64)
                return "too deep";
              strcpy (stack[depth++], name);
              break;
            }
          if (!ws)
            return "attributes not separated by space";
          size_t an = 0;
          while (isalnum ((unsigned char) p[an]) || p[an] == '-' || p[an] == ':')
            an++;
          if (an == 0 || p[an] != '=' || (p[an + 1] != '"' && p[an + 1] != '\''))
            {
              snprintf (why, sizeof why, "bad attribute near \"%.30s\"", p);
              return why;
            }
          char q = p[an + 1];
          p += an + 2;
          while (*p && *p != q)
            {
              if (*p == '<')
                return "raw < in attribute";
              if (*p == '&' && !entity_len (p))
                return "bad entity in attribute";
              p++;
            }
          if (!*p)
            return "unterminated attribute";
          p++;
        }
    }
  if (depth != 0)
    return "unclosed element";
  if (roots != 1)
    return "not exactly one root element";
  return NULL;
}

static int
have_xmllint (void)
{
  static int have = -1;
  if (have < 0)
    have = system ("command -v xmllint >/dev/null 2>&1") == 0;
  return have;
}

/* Checks an SVG: our checker always, xmllint when available. */
static void
check_svg (const char *svg, size_t len)
{
  ck_assert_ptr_nonnull (svg);
  ck_assert_uint_eq (strlen (svg), len);
  ck_assert_msg (strncmp (svg, "<svg ", 5) == 0, "does not start with <svg");
  ck_assert_msg (len > 7 && strcmp (svg + len - 7, "</svg>\n") == 0,
                 "does not end with </svg>");
  const char *why = xml_check (svg);
  ck_assert_msg (why == NULL, "malformed SVG: %s", why);
  ck_assert_msg (strstr (svg, "nan") == NULL && strstr (svg, "inf") == NULL,
                 "non-finite number in the output");
  if (!have_xmllint ())
    return;
  char path[] = "/tmp/mv_plot_XXXXXX";
  int fd = mkstemp (path);
  ck_assert_int_ge (fd, 0);
  ck_assert (write (fd, svg, len) == (ssize_t) len);
  close (fd);
  char cmd[128];
  snprintf (cmd, sizeof cmd, "xmllint --noout %s", path);
  int rc = system (cmd);
  unlink (path);
  ck_assert_msg (rc == 0, "xmllint rejects the SVG");
}

static char *
render (const mv_plot *p, size_t *len)
{
  size_t n = 0;
  char *svg = mv_plot_svg (p, &n);
  ck_assert_msg (svg != NULL, "mv_plot_svg: %s", mv_error_message ());
  check_svg (svg, n);
  if (len)
    *len = n;
  return svg;
}

/* Labels of the x or y ticks, "|"-separated; superscripts as "^". */
static void
tick_labels (const char *svg, char axis, char *out, size_t cap)
{
  char key[32];
  snprintf (key, sizeof key, "<g class=\"%cticks\"", axis);
  const char *g = strstr (svg, key);
  ck_assert_ptr_nonnull (g);
  const char *end = strstr (g, "</g>");
  size_t n = 0;
  out[0] = '\0';
  for (const char *t = strstr (g, "<text"); t && t < end;
       t = strstr (t, "<text"))
    {
      t = strchr (t, '>') + 1;
      if (n && n + 1 < cap)
        out[n++] = '|';
      while (strncmp (t, "</text>", 7) != 0 && n + 1 < cap)
        if (*t == '<')
          {
            if (strncmp (t, "<tspan", 6) == 0)
              out[n++] = '^';
            t = strchr (t, '>') + 1;
          }
        else
          out[n++] = *t++;
      out[n] = '\0';
    }
}

static size_t
count (const char *s, const char *what)
{
  size_t n = 0;
  for (const char *p = strstr (s, what); p; p = strstr (p + 1, what))
    n++;
  return n;
}

/* ------------------------------------------------------------ tests */

/* The checker itself must reject what it is meant to catch. */
START_TEST (t_checker)
{
  ck_assert_ptr_null (xml_check ("<svg a=\"1\"><g/><text>x &amp; y</text></svg>"));
  ck_assert_ptr_nonnull (xml_check ("<svg><g></svg>"));
  ck_assert_ptr_nonnull (xml_check ("<svg><g></g>"));
  ck_assert_ptr_nonnull (xml_check ("<svg>a & b</svg>"));
  ck_assert_ptr_nonnull (xml_check ("<svg a=\"<\"/>"));
  ck_assert_ptr_nonnull (xml_check ("<svg a=1/>"));
  ck_assert_ptr_nonnull (xml_check ("<svg/><svg/>"));
}
END_TEST

START_TEST (t_escaping)
{
  mv_plot *p = mv_plot_alloc ("a < b & c > \"d\" 'e'", "x & y", "<loss>");
  ck_assert_ptr_nonnull (p);
  const double y[3] = { 1, 2, 3 };
  ck_assert_int_eq (mv_plot_add_series (p, "Q&A <1>", NULL, y, 3, NULL, 0, 0),
                    MV_OK);
  ck_assert_int_eq (mv_plot_add_hline (p, 2, "t\"h<r>"), MV_OK);
  /* bad UTF-8 and control characters must not break the document */
  ck_assert_int_eq (mv_plot_add_vline (p, 1, "bad \xff\xc3 \x01 utf8 \xce\xb1"),
                    MV_OK);
  char *svg = render (p, NULL);
  ck_assert (strstr (svg, "a &lt; b &amp; c &gt; &quot;d&quot; &#39;e&#39;"));
  ck_assert (strstr (svg, ">x &amp; y</text>"));
  ck_assert (strstr (svg, ">&lt;loss&gt;</text>"));
  ck_assert (strstr (svg, ">Q&amp;A &lt;1&gt;</text>"));
  ck_assert (strstr (svg, ">t&quot;h&lt;r&gt;</text>"));
  ck_assert (strstr (svg, "\xce\xb1"));  /* valid UTF-8 kept */
  ck_assert (strstr (svg, "a < b") == NULL);
  free (svg);
  mv_plot_free (p);
}
END_TEST

START_TEST (t_linear_ticks)
{
  static const struct
  {
    double lo, hi;
    const char *want;
  } C[] = {
    { 0, 1, "0|0.2|0.4|0.6|0.8|1" },
    { 0.03, 0.97, "0|0.2|0.4|0.6|0.8|1" },
    { -1, 1, "-1|-0.5|0|0.5|1" },
    { 0, 3000, "0|500|1000|1500|2000|2500|3000" },
    { 2e-4, 8e-4, "0.0002|0.0003|0.0004|0.0005|0.0006|0.0007|0.0008" },
    { 0, 5e6, "0|1e6|2e6|3e6|4e6|5e6" },
  };
  char got[512];
  for (size_t i = 0; i < sizeof C / sizeof C[0]; i++)
    {
      mv_plot *p = mv_plot_alloc (NULL, NULL, NULL);
      const double y[2] = { C[i].lo, C[i].hi };
      ck_assert_int_eq (mv_plot_add_series (p, NULL, NULL, y, 2, NULL, 1, 0),
                        MV_OK);
      char *svg = render (p, NULL);
      tick_labels (svg, 'y', got, sizeof got);
      ck_assert_msg (strcmp (got, C[i].want) == 0, "[%g, %g]: ticks %s, "
                     "want %s", C[i].lo, C[i].hi, got, C[i].want);
      /* x = 0, 1 gives tenths */
      tick_labels (svg, 'x', got, sizeof got);
      ck_assert_str_eq (got, "0|0.1|0.2|0.3|0.4|0.5|0.6|0.7|0.8|0.9|1");
      free (svg);
      mv_plot_free (p);
    }
  /* a fixed range keeps its ends; ticks stay inside */
  mv_plot *p = mv_plot_alloc (NULL, NULL, NULL);
  const double y[2] = { -5, 5 };
  mv_plot_add_series (p, NULL, NULL, y, 2, NULL, 1, 0);
  ck_assert_int_eq (mv_plot_set_yrange (p, -0.05, 1.05), MV_OK);
  char *svg = render (p, NULL);
  tick_labels (svg, 'y', got, sizeof got);
  ck_assert_str_eq (got, "0|0.2|0.4|0.6|0.8|1");
  free (svg);
  mv_plot_free (p);
}
END_TEST

START_TEST (t_log_ticks)
{
  mv_plot *p = mv_plot_alloc ("loss", "t", "L");
  ck_assert_int_eq (mv_plot_set_log (p, 0, 1), MV_OK);
  double x[61], y[61];
  for (int i = 0; i <= 60; i++)
    x[i] = i, y[i] = pow (10, -i / 10.0);  /* 1 .. 1e-6 */
  mv_plot_add_series (p, NULL, x, y, 61, NULL, 1, 0);
  char got[512];
  char *svg = render (p, NULL);
  tick_labels (svg, 'y', got, sizeof got);
  ck_assert_str_eq (got, "10^-6|10^-5|10^-4|10^-3|10^-2|10^-1|10^0");
  free (svg);
  /* log x too, 12 decades: every second one labelled */
  ck_assert_int_eq (mv_plot_set_log (p, 1, 1), MV_OK);
  ck_assert_int_eq (mv_plot_set_xrange (p, 1e-3, 1e9), MV_OK);
  svg = render (p, NULL);
  tick_labels (svg, 'x', got, sizeof got);
  ck_assert_str_eq (got, "10^-2|10^0|10^2|10^4|10^6|10^8");
  free (svg);
  /* a fixed range inside one decade falls back to plain ticks */
  ck_assert_int_eq (mv_plot_set_yrange (p, 0.15, 0.85), MV_OK);
  svg = render (p, NULL);
  tick_labels (svg, 'y', got, sizeof got);
  ck_assert_str_eq (got, "0.2|0.3|0.4|0.5|0.6|0.7|0.8");
  free (svg);
  mv_plot_free (p);
}
END_TEST

/* Polylines and dots in series number k. */
static void
series_shapes (const char *svg, size_t k, size_t *lines, size_t *dots)
{
  const char *g = svg;
  for (size_t i = 0; i <= k; i++)
    {
      g = strstr (g + 1, "<g class=\"series\"");
      ck_assert_ptr_nonnull (g);
    }
  const char *end = strstr (g, "</g>");
  *lines = *dots = 0;
  for (const char *q = strstr (g, "<polyline"); q && q < end;
       q = strstr (q + 1, "<polyline"))
    ++*lines;
  for (const char *q = strstr (g, "<circle"); q && q < end;
       q = strstr (q + 1, "<circle"))
    ++*dots;
}

START_TEST (t_breaks)
{
  mv_plot *p = mv_plot_alloc (NULL, NULL, NULL);
  const double a[8] = { 0, 1, NAN, 2, 3, INFINITY, 4, 5 };
  const double b[7] = { 1, 2, 0, -1, 3, 4, 5 };
  const double c[5] = { 1, NAN, 2, -INFINITY, 3 };  /* isolated points */
  mv_plot_add_series (p, NULL, NULL, a, 8, NULL, 1, 0);
  mv_plot_add_series (p, NULL, NULL, b, 7, NULL, 1, 0);
  mv_plot_add_series (p, NULL, NULL, c, 5, NULL, 1, 0);
  size_t nl, nd;
  char *svg = render (p, NULL);
  series_shapes (svg, 0, &nl, &nd);
  ck_assert_uint_eq (nl, 3);
  ck_assert_uint_eq (nd, 0);
  series_shapes (svg, 1, &nl, &nd);
  ck_assert_uint_eq (nl, 1);    /* linear axis: 0 and -1 are ordinary */
  series_shapes (svg, 2, &nl, &nd);
  ck_assert_uint_eq (nl, 0);
  ck_assert_uint_eq (nd, 3);
  free (svg);
  /* log y: non-positive values are dropped and break the line */
  ck_assert_int_eq (mv_plot_set_log (p, 0, 1), MV_OK);
  svg = render (p, NULL);
  series_shapes (svg, 1, &nl, &nd);
  ck_assert_uint_eq (nl, 2);
  ck_assert_uint_eq (nd, 0);
  char got[256];
  tick_labels (svg, 'y', got, sizeof got);
  ck_assert_str_eq (got, "10^0|10^1");  /* range from 1 .. 5 only */
  free (svg);
  mv_plot_free (p);
}
END_TEST

/* Every polyline vertex lies within the plot box plus a few pixels, even
 * for values far outside a fixed range. */
START_TEST (t_clipping)
{
  mv_plot *p = mv_plot_alloc (NULL, NULL, NULL);
  const double y[6] = { 0.5, 1e300, 0.5, -1e300, 0.5, 2 };
  mv_plot_add_series (p, NULL, NULL, y, 6, NULL, 1, 0);
  ck_assert_int_eq (mv_plot_set_yrange (p, 0, 1), MV_OK);
  char *svg = render (p, NULL);
  const char *r = strstr (svg, "<clipPath");
  ck_assert_ptr_nonnull (r);
  double x0, y0, w, h;
  ck_assert_int_eq (sscanf (strstr (r, "<rect"), "<rect x=\"%lf\" y=\"%lf\" "
                            "width=\"%lf\" height=\"%lf\"", &x0, &y0, &w, &h),
                    4);
  size_t nv = 0;
  for (const char *q = strstr (svg, "points=\""); q;
       q = strstr (q, "points=\""))
    {
      q += 8;
      double px, py;
      int used;
      while (sscanf (q, "%lf,%lf%n", &px, &py, &used) == 2)
        {
          ck_assert_msg (px >= x0 - 3 && px <= x0 + w + 3 && py >= y0 - 3
                         && py <= y0 + h + 3, "vertex %g,%g outside", px, py);
          nv++;
          q += used;
        }
    }
  ck_assert_uint_ge (nv, 6);
  free (svg);
  mv_plot_free (p);
}
END_TEST

START_TEST (t_legend)
{
  const double y[3] = { 1, 3, 2 };
  mv_plot *p = mv_plot_alloc (NULL, NULL, NULL);
  mv_plot_add_series (p, "first", NULL, y, 3, NULL, 1, 0);
  mv_plot_add_series (p, NULL, NULL, y, 3, NULL, 1, 1);
  mv_plot_add_series (p, "third", NULL, y, 3, "black", 2, 1);
  char *svg = render (p, NULL);
  ck_assert_uint_eq (count (svg, "class=\"legend\""), 1);
  ck_assert (strstr (svg, ">first</text>") && strstr (svg, ">third</text>"));
  ck_assert (strstr (svg, "stroke=\"black\""));
  ck_assert (strstr (svg, "stroke-dasharray"));
  ck_assert (strstr (svg, "stroke=\"#1f77b4\""));  /* palette */
  free (svg);
  ck_assert_int_eq (mv_plot_set_legend (p, MV_PLOT_LEGEND_NONE), MV_OK);
  svg = render (p, NULL);
  ck_assert (strstr (svg, "class=\"legend\"") == NULL);
  free (svg);
  /* the legend avoids the data: a line along the top sends it down */
  mv_plot *q = mv_plot_alloc (NULL, NULL, NULL);
  const double top[2] = { 0.95, 0.95 };
  mv_plot_add_series (q, "top", NULL, top, 2, NULL, 1, 0);
  mv_plot_set_yrange (q, 0, 1);
  svg = render (q, NULL);
  double lx, ly;
  const char *lg = strstr (svg, "class=\"legend\"");
  ck_assert_ptr_nonnull (lg);
  ck_assert_int_eq (sscanf (strstr (lg, "<rect"), "<rect x=\"%lf\" y=\"%lf\"",
                            &lx, &ly), 2);
  ck_assert_msg (ly > 0.5 * MV_PLOT_HEIGHT, "legend at y = %g", ly);
  free (svg);
  mv_plot_free (q);
  /* beyond the automatic limit: no legend unless asked for */
  ck_assert_int_eq (mv_plot_set_legend (p, MV_PLOT_LEGEND_AUTO), MV_OK);
  for (int i = 0; i < MV_PLOT_LEGEND_AUTO_MAX; i++)
    mv_plot_add_series (p, "more", NULL, y, 3, NULL, 1, 0);
  svg = render (p, NULL);
  ck_assert (strstr (svg, "class=\"legend\"") == NULL);
  free (svg);
  ck_assert_int_eq (mv_plot_set_legend (p, MV_PLOT_LEGEND_COMPACT), MV_OK);
  svg = render (p, NULL);
  ck_assert (strstr (svg, "class=\"legend\""));
  ck_assert_uint_eq (count (svg, ">more</text>"), MV_PLOT_LEGEND_AUTO_MAX);
  free (svg);
  /* far more than fit: the rest is summarised */
  for (int i = 0; i < 300; i++)
    mv_plot_add_series (p, "a rather long label for an expert", NULL, y, 3,
                        NULL, 1, 0);
  svg = render (p, NULL);
  ck_assert (strstr (svg, " more</text>"));
  free (svg);
  mv_plot_free (p);
}
END_TEST

START_TEST (t_empty)
{
  mv_plot *p = mv_plot_alloc (NULL, NULL, NULL);
  char got[256];
  char *svg = render (p, NULL);
  tick_labels (svg, 'y', got, sizeof got);
  ck_assert_str_eq (got, "0|0.2|0.4|0.6|0.8|1");
  free (svg);
  mv_plot_set_log (p, 1, 1);
  mv_plot_add_series (p, "nothing", NULL, NULL, 0, NULL, 1, 0);
  svg = render (p, NULL);
  tick_labels (svg, 'x', got, sizeof got);
  ck_assert_str_eq (got, "10^0|10^1");
  free (svg);
  mv_plot_free (p);
}
END_TEST

/* 200 series x 2000 points stay below 5 MB, smooth or pure noise. */
START_TEST (t_size)
{
  double *x = malloc (2000 * sizeof *x), *y = malloc (2000 * sizeof *y);
  for (int noise = 0; noise < 2; noise++)
    {
      mv_plot *p = mv_plot_alloc ("big", "t", "y");
      unsigned long r = 12345;
      for (int k = 0; k < 200; k++)
        {
          for (int i = 0; i < 2000; i++)
            {
              r = r * 6364136223846793005UL + 1442695040888963407UL;
              x[i] = 0.01 * i;
              y[i] = noise ? (double) (r >> 11) / 9007199254740992.0
                : tanh (0.01 * i - 0.05 * k);
            }
          ck_assert_int_eq (mv_plot_add_series (p, "s", x, y, 2000, NULL, 1,
                                                0), MV_OK);
        }
      size_t len;
      char *svg = render (p, &len);
      ck_assert_msg (len < 5000000, "%s plot is %zu bytes",
                     noise ? "noisy" : "smooth", len);
      free (svg);
      mv_plot_free (p);
    }
  free (x);
  free (y);
}
END_TEST

START_TEST (t_write)
{
  char dir[] = "/tmp/mv_plot_dir_XXXXXX";
  ck_assert_ptr_nonnull (mkdtemp (dir));
  char path[128];
  snprintf (path, sizeof path, "%s/plot.svg", dir);
  mv_plot *p = mv_plot_alloc ("t", NULL, NULL);
  const double y[3] = { 1, 2, 3 };
  mv_plot_add_series (p, "s", NULL, y, 3, NULL, 1, 0);
  mv_plot_add_vline (p, 1, "event");
  ck_assert_int_eq (mv_plot_write (p, path), MV_OK);
  size_t n, m;
  char *got = mv_io_read_file (path, &n);
  char *want = render (p, &m);
  ck_assert_ptr_nonnull (got);
  ck_assert_uint_eq (n, m);
  ck_assert (memcmp (got, want, n) == 0);  /* deterministic, complete */
  free (got);
  free (want);
  /* nothing but the file is left behind */
  DIR *d = opendir (dir);
  struct dirent *e;
  int files = 0;
  while ((e = readdir (d)))
    if (strcmp (e->d_name, ".") && strcmp (e->d_name, ".."))
      {
        files++;
        ck_assert_str_eq (e->d_name, "plot.svg");
      }
  closedir (d);
  ck_assert_int_eq (files, 1);
  unlink (path);
  rmdir (dir);

  /* unwritable: a clean error naming the path, no file */
  const char *bad = "/nonexistent-mv-dir/sub/plot.svg";
  mv_error_clear ();
  ck_assert_int_eq (mv_plot_write (p, bad), MV_EIO);
  ck_assert_msg (strstr (mv_error_message (), bad), "message '%s'",
                 mv_error_message ());
  ck_assert_int_ne (access (bad, F_OK), 0);
  mv_plot_free (p);
}
END_TEST

START_TEST (t_errors)
{
  mv_plot *p = mv_plot_alloc (NULL, NULL, NULL);
  ck_assert_int_eq (mv_plot_set_yrange (p, 1, 0), MV_EINVAL);
  ck_assert_int_eq (mv_plot_set_yrange (p, 0, NAN), MV_EINVAL);
  ck_assert_int_eq (mv_plot_set_xrange (p, -1, 1), MV_OK);
  ck_assert_int_eq (mv_plot_set_log (p, 1, 0), MV_EINVAL);  /* x range <= 0 */
  ck_assert_int_eq (mv_plot_set_log (p, 0, 1), MV_OK);
  ck_assert_int_eq (mv_plot_set_yrange (p, 0, 1), MV_EINVAL);
  ck_assert_int_eq (mv_plot_set_legend (p, 99), MV_EINVAL);
  ck_assert_int_eq (mv_plot_add_hline (p, NAN, "x"), MV_EINVAL);
  ck_assert_int_eq (mv_plot_add_vline (p, INFINITY, NULL), MV_EINVAL);
  ck_assert_int_eq (mv_plot_add_series (p, "s", NULL, NULL, 3, NULL, 1, 0),
                    MV_EINVAL);
  ck_assert_ptr_null (mv_plot_svg (NULL, NULL));
  ck_assert_int_eq (mv_plot_write (NULL, "/tmp/x.svg"), MV_EINVAL);
  ck_assert_int_eq (mv_plot_write (p, NULL), MV_EINVAL);
  ck_assert_int_eq (mv_plot_set_log (NULL, 0, 0), MV_EINVAL);
  mv_plot_free (NULL);
  /* ranges double arithmetic cannot tick: an error, not a hang */
  mv_plot *q = mv_plot_alloc (NULL, NULL, NULL);
  const double tiny[2] = { 0, 1e-310 };
  ck_assert_int_eq (mv_plot_add_series (q, NULL, NULL, tiny, 2, NULL, 1, 0),
                    MV_OK);
  ck_assert_ptr_null (mv_plot_svg (q, NULL));
  ck_assert_int_eq (mv_plot_write (q, "/tmp/mv-never-written.svg"), MV_EDOM);
  ck_assert (strstr (mv_error_message (), "/tmp/mv-never-written.svg: "));
  ck_assert_int_ne (access ("/tmp/mv-never-written.svg", F_OK), 0);
  ck_assert_int_eq (mv_plot_set_yrange (q, 1e20, 1e20 + 1e5), MV_OK);
  ck_assert_ptr_null (mv_plot_svg (q, NULL));
  ck_assert_int_eq (mv_plot_set_log (q, 0, 1), MV_OK);
  ck_assert_int_eq (mv_plot_set_yrange (q, 1, 1 + 1e-15), MV_OK);
  ck_assert_ptr_null (mv_plot_svg (q, NULL));
  mv_plot_free (q);
  /* the plot is still usable after rejected calls */
  char *svg = render (p, NULL);
  free (svg);
  mv_plot_free (p);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("plot");
  TCase *tc = tcase_create ("core");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, t_checker);
  tcase_add_test (tc, t_escaping);
  tcase_add_test (tc, t_linear_ticks);
  tcase_add_test (tc, t_log_ticks);
  tcase_add_test (tc, t_breaks);
  tcase_add_test (tc, t_clipping);
  tcase_add_test (tc, t_legend);
  tcase_add_test (tc, t_empty);
  tcase_add_test (tc, t_size);
  tcase_add_test (tc, t_write);
  tcase_add_test (tc, t_errors);
  suite_add_tcase (s, tc);
  return mv_test_run (s);
}
