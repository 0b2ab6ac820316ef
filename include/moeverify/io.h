/* Input/output helpers: whole-file reads, atomic writes (temporary file +
 * rename, so no partial output ever appears) and decimal formatting that
 * prints exactly the digits an error bound supports. */
#ifndef MOEVERIFY_IO_H
#define MOEVERIFY_IO_H

#include <stddef.h>
#include <mpfr.h>
#include <moeverify/mag.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Read a whole file (NUL-terminated, malloc'd); NULL + error on failure. */
char *mv_io_read_file (const char *path, size_t *len);
/* Write data to path atomically; on failure path is untouched. */
int mv_io_write_atomic (const char *path, const char *data, size_t len);
/* The same for the concatenation of nparts pieces (no joined copy). */
int mv_io_write_atomic_parts (const char *path, const char *const *data,
                              const size_t *len, size_t nparts);

/* Significant decimal digits of x that are correct given |x - exact| <=
 * abserr (0 if none, capped by the precision of x).  No MPFR logarithm
 * except for x within 1e-9 of a power of ten. */
int mv_io_digits (const mpfr_t x, const mv_mag *abserr);
int mv_io_digits_d (double x, double abserr);
/* x rounded to `digits` significant digits (>= 1) in scientific notation,
 * e.g. "-1.234e-5"; malloc'd.  Zero prints as "0". */
char *mv_io_mpfr_str (const mpfr_t x, int digits);
char *mv_io_double_str (double x, int digits);
/* The same into buf (size >= digits + 32 always suffices); returns the
 * length written, negative on error.  No allocation: for long outputs. */
int mv_io_mpfr_fmt (char *buf, size_t size, const mpfr_t x, int digits);
int mv_io_double_fmt (char *buf, size_t size, double x, int digits);

/* Monotonic wall-clock seconds (for run records and progress rates). */
double mv_io_now (void);

/* True when stderr is a terminal (progress output is shown only then). */
int mv_io_progress_enabled (void);
/* Draw/update a one-line progress bar on stderr ("label [####   ] 42%"). */
void mv_io_progress (const char *label, double fraction);
void mv_io_progress_done (void);

#ifdef __cplusplus
}
#endif
#endif
