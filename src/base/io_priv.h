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

#endif
