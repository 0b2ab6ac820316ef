/* report.md and report.json of a `moeverify check` run (check.h).  The
 * summary's key measurement of a claim is its first measurement (claims add
 * their headline number first). */
#include <moeverify/check.h>
#include <moeverify/error.h>
#include <moeverify/io.h>
#include <moeverify/moeverify.h>
#include "base/textbuf.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const verdict_names[] = { "holds", "holds in a range",
                                             "fails", "error" };
static const char *const level_names[] = { "quick", "default", "full" };

static const char *
verdict_name (int v)
{
  return v >= MV_CHECK_HOLDS && v <= MV_CHECK_ERROR ? verdict_names[v] : "error";
}

static const char *
level_name (int l)
{
  return l >= MV_CHECK_QUICK && l <= MV_CHECK_FULL ? level_names[l] : "?";
}

/* A number for a table cell: "-" where not applicable. */
static void
put_num (mv_textbuf *b, double x)
{
  if (isnan (x))
    mv_textbuf_puts (b, "-");
  else if (isinf (x))
    mv_textbuf_puts (b, x > 0 ? "inf" : "-inf");
  else
    mv_textbuf_printf (b, "%.4g", x);
}

/* Text for a table cell: no pipes or line breaks may leak into the row. */
static void
put_cell (mv_textbuf *b, const char *s)
{
  for (; s && *s; s++)
    if (*s == '|')
      mv_textbuf_puts (b, "\\|");
    else if (*s == '\n' || *s == '\r')
      mv_textbuf_puts (b, " ");
    else
      mv_textbuf_put (b, s, 1);
}

static void
md_summary (mv_textbuf *b, const mv_check_result *r, size_t n)
{
  mv_textbuf_puts (b, "| claim | exact | verdict | key measurement | margin | "
                   "wall time (s) |\n|---|---|---|---|---|---|\n");
  for (size_t i = 0; i < n; i++)
    {
      const mv_check_type *t = r[i].type;
      mv_textbuf_printf (b, "| [%s](#%s) | %s | **%s** | ", t->name, t->name,
                         t->exact ? "yes" : "no", verdict_name (r[i].verdict));
      if (r[i].nm)
        {
          put_cell (b, r[i].m[0].name);
          mv_textbuf_puts (b, " = ");
          put_num (b, r[i].m[0].value);
          mv_textbuf_puts (b, " | ");
          put_num (b, r[i].m[0].margin);
        }
      else
        mv_textbuf_puts (b, "- | -");
      mv_textbuf_printf (b, " | %.2f |\n", r[i].wall_seconds);
    }
}

static void
md_claim (mv_textbuf *b, const mv_check_result *r)
{
  const mv_check_type *t = r->type;
  mv_textbuf_printf (b, "\n<a id=\"%s\"></a>\n## %s (`%s`)\n\n", t->name,
                     t->title ? t->title : t->name, t->name);
  mv_textbuf_printf (b, "**Verdict: %s.** %s\n\n", verdict_name (r->verdict),
                     r->verdict_text ? r->verdict_text : "");
  mv_textbuf_printf (b, "**Statement.** %s\n\n", t->statement ? t->statement : "");
  mv_textbuf_printf (b, "**Provenance.** %s%s\n\n", t->provenance ? t->provenance : "",
                     t->exact ? " (exact identity: a failure fails the run)" : "");
  if (t->proof)
    mv_textbuf_printf (b, "**Proof file.** [%s](%s) (in the source tree)\n\n", t->proof, t->proof);
  mv_textbuf_printf (b, "**Method.** %s\n\n", r->method ? r->method : "-");
  if (r->nm)
    {
      mv_textbuf_puts (b, "| measurement | value | bound | margin | note |\n"
                       "|---|---|---|---|---|\n");
      for (size_t i = 0; i < r->nm; i++)
        {
          mv_textbuf_puts (b, "| ");
          put_cell (b, r->m[i].name);
          mv_textbuf_puts (b, " | ");
          put_num (b, r->m[i].value);
          mv_textbuf_puts (b, " | ");
          put_num (b, r->m[i].bound);
          mv_textbuf_puts (b, " | ");
          put_num (b, r->m[i].margin);
          mv_textbuf_puts (b, " | ");
          put_cell (b, r->m[i].note);
          mv_textbuf_puts (b, " |\n");
        }
      mv_textbuf_puts (b, "\n");
    }
  if (r->details)
    mv_textbuf_printf (b, "%s\n\n", r->details);
  for (size_t i = 0; i < r->np; i++)
    mv_textbuf_printf (b, "![%s](%s)\n\n", r->plots[i], r->plots[i]);
  mv_textbuf_printf (b, "Wall time: %.2f s.\n", r->wall_seconds);
}

static char *
md_report (const mv_check_result *r, size_t n, const mv_check_opts *o,
           const char *date, size_t *len)
{
  mv_textbuf b;
  mv_textbuf_init (&b);
  size_t counts[4] = { 0 };
  for (size_t i = 0; i < n; i++)
    counts[r[i].verdict >= 0 && r[i].verdict <= 3 ? r[i].verdict : 3]++;
  mv_textbuf_printf (&b, "# moeverify claim checks\n\nmoeverify %s, %s, level "
                     "%s, seeds %u%s.\n\n", mv_version (), date,
                     level_name (o->level), o->seeds,
                     o->seeds ? "" : " (each level's default)");
  mv_textbuf_printf (&b, "%zu claims: %zu hold, %zu hold in a range, %zu fail, "
                     "%zu could not run.\n\n", n, counts[0], counts[1],
                     counts[2], counts[3]);
  md_summary (&b, r, n);
  for (size_t i = 0; i < n; i++)
    md_claim (&b, &r[i]);
  if (!mv_textbuf_ok (&b))
    {
      mv_textbuf_clear (&b);
      return NULL;
    }
  *len = b.len;
  return b.s;
}

/* A JSON number, null where it is not finite (JSON has no NaN or inf). */
static json_t *
jnum (double x)
{
  return isfinite (x) ? json_real (x) : json_null ();
}

static json_t *
jstr (const char *s)
{
  return s ? json_string (s) : json_null ();
}

static json_t *
json_claim (const mv_check_result *r)
{
  const mv_check_type *t = r->type;
  json_t *c = json_object (), *ms = json_array (), *ps = json_array ();
  if (!c || !ms || !ps)
    {
      json_decref (c), json_decref (ms), json_decref (ps);
      return NULL;
    }
  json_object_set_new (c, "name", jstr (t->name));
  json_object_set_new (c, "title", jstr (t->title));
  json_object_set_new (c, "exact", json_boolean (t->exact));
  json_object_set_new (c, "statement", jstr (t->statement));
  json_object_set_new (c, "provenance", jstr (t->provenance));
  json_object_set_new (c, "proof", jstr (t->proof));
  json_object_set_new (c, "verdict", json_string (verdict_name (r->verdict)));
  json_object_set_new (c, "verdict_text", jstr (r->verdict_text));
  json_object_set_new (c, "method", jstr (r->method));
  for (size_t i = 0; i < r->nm; i++)
    {
      json_t *m = json_object ();
      json_object_set_new (m, "name", jstr (r->m[i].name));
      json_object_set_new (m, "value", jnum (r->m[i].value));
      json_object_set_new (m, "bound", jnum (r->m[i].bound));
      json_object_set_new (m, "margin", jnum (r->m[i].margin));
      json_object_set_new (m, "note", jstr (r->m[i].note));
      json_array_append_new (ms, m);
    }
  json_object_set_new (c, "measurements", ms);
  for (size_t i = 0; i < r->np; i++)
    json_array_append_new (ps, jstr (r->plots[i]));
  json_object_set_new (c, "plots", ps);
  json_object_set_new (c, "details", jstr (r->details));
  json_object_set_new (c, "wall_seconds", jnum (r->wall_seconds));
  return c;
}

static char *
json_report (const mv_check_result *r, size_t n, const mv_check_opts *o,
             const char *date)
{
  json_t *doc = json_object (), *cl = json_array ();
  if (!doc || !cl)
    {
      json_decref (doc), json_decref (cl);
      return NULL;
    }
  json_object_set_new (doc, "version", json_string (mv_version ()));
  json_object_set_new (doc, "date", json_string (date));
  json_object_set_new (doc, "level", json_string (level_name (o->level)));
  json_object_set_new (doc, "seeds", json_integer (o->seeds));
  int exact_ok = 1, all_ok = 1;
  for (size_t i = 0; i < n; i++)
    {
      json_t *c = json_claim (&r[i]);
      if (!c || json_array_append_new (cl, c))
        {
          json_decref (doc), json_decref (cl);
          return NULL;
        }
      if (r[i].verdict != MV_CHECK_HOLDS)
        {
          all_ok = 0;
          if (r[i].type->exact)
            exact_ok = 0;
        }
    }
  json_object_set_new (doc, "exact_claims_hold", json_boolean (exact_ok));
  json_object_set_new (doc, "all_claims_hold", json_boolean (all_ok));
  json_object_set_new (doc, "claims", cl);
  char *s = json_dumps (doc, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
  json_decref (doc);
  return s;
}

/* DIR/name, malloc'd. */
static char *
join (const char *dir, const char *name)
{
  size_t n = strlen (dir) + strlen (name) + 2;
  char *p = malloc (n);
  if (p)
    snprintf (p, n, "%s/%s", dir, name);
  return p;
}

int
mv_check_report_write (const mv_check_result *r, size_t n,
                       const mv_check_opts *o)
{
  if (!o || !o->dir || (n && !r))
    return mv_error_set (MV_EINVAL, "check report: no directory or no results");
  for (size_t i = 0; i < n; i++)
    if (!r[i].type)
      return mv_error_set (MV_EINVAL, "check report: result %zu has no claim", i);
  char date[32];
  time_t now = time (NULL);
  struct tm tm;
  if (!gmtime_r (&now, &tm) || !strftime (date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &tm))
    snprintf (date, sizeof date, "unknown date");
  size_t mdlen = 0;
  char *md = md_report (r, n, o, date, &mdlen);
  char *js = json_report (r, n, o, date);
  char *pmd = join (o->dir, "report.md"), *pjs = join (o->dir, "report.json");
  int s = MV_OK;
  if (!md || !js || !pmd || !pjs)
    s = mv_error_set (MV_ENOMEM, "check report: out of memory");
  if (!s)
    s = mv_io_write_atomic (pmd, md, mdlen);
  if (!s)
    {
      /* a trailing newline, as every other JSON document the tool writes */
      const char *parts[2] = { js, "\n" };
      size_t lens[2] = { strlen (js), 1 };
      s = mv_io_write_atomic_parts (pjs, parts, lens, 2);
    }
  free (md), free (js), free (pmd), free (pjs);
  return s;
}
