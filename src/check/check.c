/* Claim checks: results (measurements, plots, verdicts) and running a
 * claim with its timing (check.h). */
#include <moeverify/check.h>
#include <moeverify/error.h>
#include <moeverify/io.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A malloc'd printf; NULL when out of memory. */
static char *
vformat (const char *fmt, va_list ap)
{
  va_list aq;
  va_copy (aq, ap);
  int n = vsnprintf (NULL, 0, fmt, aq);
  va_end (aq);
  if (n < 0)
    return NULL;
  char *s = malloc ((size_t) n + 1);
  if (s)
    vsnprintf (s, (size_t) n + 1, fmt, ap);
  return s;
}

static char *
dup_str (const char *s)
{
  if (!s)
    return NULL;
  size_t n = strlen (s) + 1;
  char *d = malloc (n);
  if (d)
    memcpy (d, s, n);
  return d;
}

/* Grow an array of elements of size sz to hold one more. */
static int
grow (void **a, size_t n, size_t *cap, size_t sz)
{
  if (n < *cap)
    return MV_OK;
  size_t c = *cap ? 2 * *cap : 8;
  void *p = realloc (*a, c * sz);
  if (!p)
    return mv_error_set (MV_ENOMEM, "check: out of memory");
  *a = p, *cap = c;
  return MV_OK;
}

void
mv_check_result_init (mv_check_result *r, const mv_check_type *t)
{
  memset (r, 0, sizeof *r);
  r->type = t;
  /* a result nobody filled in must not read as a pass */
  r->verdict = MV_CHECK_ERROR;
  r->wall_seconds = NAN;
}

void
mv_check_result_clear (mv_check_result *r)
{
  if (!r)
    return;
  for (size_t i = 0; i < r->nm; i++)
    free (r->m[i].name), free (r->m[i].note);
  for (size_t i = 0; i < r->np; i++)
    free (r->plots[i]);
  free (r->m), free (r->plots);
  free (r->verdict_text), free (r->method), free (r->details);
  const mv_check_type *t = r->type;
  mv_check_result_init (r, t);
}

int
mv_check_measure_add (mv_check_result *r, const char *name, double value,
                      double bound, double margin, const char *note_fmt, ...)
{
  if (!name)
    return mv_error_set (MV_EINVAL, "check: measurement without a name");
  int s = grow ((void **) &r->m, r->nm, &r->cm, sizeof *r->m);
  if (s)
    return s;
  mv_check_measure *m = &r->m[r->nm];
  m->name = dup_str (name);
  m->note = NULL;
  if (note_fmt)
    {
      va_list ap;
      va_start (ap, note_fmt);
      m->note = vformat (note_fmt, ap);
      va_end (ap);
    }
  if (!m->name || (note_fmt && !m->note))
    {
      free (m->name), free (m->note);
      return mv_error_set (MV_ENOMEM, "check: out of memory");
    }
  m->value = value, m->bound = bound, m->margin = margin;
  r->nm++;
  return MV_OK;
}

int
mv_check_plot_add (mv_check_result *r, const char *file)
{
  if (!file)
    return mv_error_set (MV_EINVAL, "check: plot without a file name");
  int s = grow ((void **) &r->plots, r->np, &r->cp, sizeof *r->plots);
  if (s)
    return s;
  if (!(r->plots[r->np] = dup_str (file)))
    return mv_error_set (MV_ENOMEM, "check: out of memory");
  r->np++;
  return MV_OK;
}

/* Replace *dst by the formatted text. */
static int
set_text (char **dst, const char *fmt, va_list ap)
{
  char *s = vformat (fmt, ap);
  if (!s)
    return mv_error_set (MV_ENOMEM, "check: out of memory");
  free (*dst);
  *dst = s;
  return MV_OK;
}

int
mv_check_set_verdict (mv_check_result *r, int verdict, const char *fmt, ...)
{
  if (verdict < MV_CHECK_HOLDS || verdict > MV_CHECK_ERROR)
    return mv_error_set (MV_EINVAL, "check: unknown verdict %d", verdict);
  r->verdict = verdict;
  va_list ap;
  va_start (ap, fmt);
  int s = set_text (&r->verdict_text, fmt, ap);
  va_end (ap);
  return s;
}

int
mv_check_set_method (mv_check_result *r, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  int s = set_text (&r->method, fmt, ap);
  va_end (ap);
  return s;
}

int
mv_check_set_details (mv_check_result *r, const char *markdown)
{
  char *s = dup_str (markdown);
  if (markdown && !s)
    return mv_error_set (MV_ENOMEM, "check: out of memory");
  free (r->details);
  r->details = s;
  return MV_OK;
}

int
mv_check_run (mv_check_result *r, const mv_check_type *t,
              const mv_check_opts *o)
{
  mv_check_result_init (r, t);
  if (!t || !t->run || !o)
    return mv_error_set (MV_EINVAL, "check: no claim or no options");
  mv_error_clear ();
  double t0 = mv_io_now ();
  int s = t->run (r, o);
  r->wall_seconds = mv_io_now () - t0;
  if (s)
    {
      /* keep what was measured; the verdict says the check did not run */
      char msg[512];
      snprintf (msg, sizeof msg, "%s", mv_error_message ());
      if (mv_check_set_verdict (r, MV_CHECK_ERROR, "the check could not run: %s",
                                msg[0] ? msg : mv_strerror (s)))
        r->verdict = MV_CHECK_ERROR;
      /* restore the claim's own message for the caller */
      mv_error_set (s, "%s", msg[0] ? msg : mv_strerror (s));
    }
  return s;
}
