/* Status codes and the last-error message.  The library never aborts or
 * exits: every fallible function returns one of these codes and records a
 * one-line message that names the file/key/argument at fault. */
#ifndef MOEVERIFY_ERROR_H
#define MOEVERIFY_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum {
  MV_OK = 0,
  MV_EINVAL = 1,   /* invalid argument or input value */
  MV_ENOMEM = 2,   /* allocation failed */
  MV_EIO = 3,      /* file could not be read or written */
  MV_EPARSE = 4,   /* malformed input document */
  MV_ENOCONV = 5,  /* a series or quadrature did not reach its target */
  MV_EPREC = 6,    /* precision out of range */
  MV_EDOM = 7      /* argument outside the mathematical domain */
};

/* Record a printf-style message for status and return status.  The message
 * is thread-local and overwritten by the next error; it is always one line
 * (control characters are stored as '?') and holds about 8 KB, so a whole
 * path fits; a longer message is cut and ends in "...". */
int mv_error_set (int status, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__ ((format (printf, 2, 3)))
#endif
  ;
/* Prefix the current message with "prefix: " (used to add a file name). */
void mv_error_prefix (const char *prefix);
const char *mv_error_message (void);
const char *mv_strerror (int status);
void mv_error_clear (void);

/* Library-wide setup: switches off GSL's abort()ing error handler.  Called
 * implicitly by every allocator; safe to call more than once. */
void mv_init (void);

#ifdef __cplusplus
}
#endif
#endif
