#include <moeverify/error.h>
#include <moeverify/moeverify.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <gsl/gsl_errno.h>

static _Thread_local char mv_errbuf[1024];

int
mv_error_set (int status, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (mv_errbuf, sizeof mv_errbuf, fmt, ap);
  va_end (ap);
  return status;
}

void
mv_error_prefix (const char *prefix)
{
  /* room for both, then cut back to the buffer (a message stays one line) */
  char tmp[2 * sizeof mv_errbuf];
  snprintf (tmp, sizeof tmp, "%s: %s", prefix, mv_errbuf);
  memcpy (mv_errbuf, tmp, sizeof mv_errbuf - 1);
  mv_errbuf[sizeof mv_errbuf - 1] = '\0';
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
