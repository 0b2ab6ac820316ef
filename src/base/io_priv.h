/* Formatting helpers shared inside the base module (io.c, mag.c). */
#ifndef MV_IO_PRIV_H
#define MV_IO_PRIV_H

/* "-1.2340e-05" -> "-1.2340e-5" in place: no '+', no leading exponent
 * zeros. */
void mv_io_normalise_exponent (char *s);

#endif
