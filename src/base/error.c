#include <moeverify/error.h>
#include <moeverify/moeverify.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <gsl/gsl_errno.h>

/* Room for a whole path (PATH_MAX is 4096 on Linux) with a key and the
 * message around it. */
static _Thread_local char mv_errbuf[8192];

/* Store text (n its length before any cut) as the message: one line
 * (control characters become '?'), and a message too long for the buffer
 * ends in "..." so a cut is never silent. */
static void
store (const char *text, size_t n)
{
  size_t cap = sizeof mv_errbuf - 1, i;
  for (i = 0; text[i] && i < cap; i++)
    {
      unsigned char c = (unsigned char) text[i];
      mv_errbuf[i] = (c < 0x20 || c == 0x7f) ? '?' : (char) c;
    }
  mv_errbuf[i] = '\0';
  if (n > cap)
    memcpy (mv_errbuf + cap - 3, "...", 4);
}

int
mv_error_set (int status, const char *fmt, ...)
{
  char tmp[sizeof mv_errbuf];
  va_list ap;
  va_start (ap, fmt);
  int n = vsnprintf (tmp, sizeof tmp, fmt, ap);
  va_end (ap);
  store (tmp, n < 0 ? 0 : (size_t) n);
  return status;
}

void
mv_error_prefix (const char *prefix)
{
  char tmp[sizeof mv_errbuf];
  int n = snprintf (tmp, sizeof tmp, "%s: %s", prefix, mv_errbuf);
  store (tmp, n < 0 ? 0 : (size_t) n);
}

const char *
mv_error_message (void)
{
  return mv_errbuf[0] ? mv_errbuf : "no error";
}

void
mv_error_clear (void)
{
  mv_errbuf[0] = '\0';
}

const char *
mv_strerror (int status)
{
  switch (status)
    {
    case MV_OK: return "success";
    case MV_EINVAL: return "invalid argument";
    case MV_ENOMEM: return "out of memory";
    case MV_EIO: return "input/output error";
    case MV_EPARSE: return "parse error";
    case MV_ENOCONV: return "no convergence";
    case MV_EPREC: return "precision out of range";
    case MV_EDOM: return "argument outside the domain";
    default: return "unknown error";
    }
}

void
mv_init (void)
{
  /* GSL's default handler calls abort(); we check every status instead. */
  gsl_set_error_handler_off ();
}

const char *
mv_version (void)
{
  return MV_VERSION_STRING;
}
