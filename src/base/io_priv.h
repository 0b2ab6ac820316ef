/* Formatting helpers shared inside the base module (io.c, mag.c). */
#ifndef MV_IO_PRIV_H
#define MV_IO_PRIV_H

/* "-1.2340e-05" -> "-1.2340e-5" in place: no '+', no leading exponent
 * zeros. */
void mv_io_normalise_exponent (char *s);

/* x with `digits` (1..17) significant digits exactly as glibc's "%.*e"
 * would print it after mv_io_normalise_exponent, without printf; returns
 * the length, or -1 when it cannot decide (the caller uses snprintf). */
#include <stddef.h>
int mv_io_double_fmt_fast (char *buf, size_t size, double x, int digits);

/* io_text.c: *text = the contents of the JSON input file path,
 * NUL-terminated (*len its length; malloc'd).  Returns MV_OK, or with
 * *text NULL and the error set: MV_EIO (cannot open or read), MV_ENOMEM,
 * MV_EPARSE at the first NUL byte (a JSON text has none: a binary file,
 * /dev/zero) or past about max bytes (an endless stream).  Every message
 * names path. */
int mv_io_read_json (char **text, size_t *len, const char *path, size_t max);
/* Bounds for max: specs may hold 10^9 explicit entries in principle, but
 * past 1 GiB of text a spec is no longer a sensible input; sweep and
 * reference files are a few MB at most. */
#define MV_IO_SPEC_MAX ((size_t) 1 << 30)
#define MV_IO_SMALL_JSON_MAX ((size_t) 1 << 28)

#endif
