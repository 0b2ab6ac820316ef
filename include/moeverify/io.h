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

/* Files written into one directory as a unit.  Each add writes a whole
 * file to a temporary in the directory (nothing visible changes); commit
 * removes the old marker (the file whose presence says the directory holds
 * a finished result), renames the others into place and the marker last.
 * A failed add (a full disk) leaves the directory as it was once the set is
 * freed, which removes every temporary not committed.  Targets that exist
 * and are not regular files are refused. */
typedef struct mv_io_set mv_io_set;
mv_io_set *mv_io_set_alloc (const char *dir);
void mv_io_set_free (mv_io_set *s);
int mv_io_set_add (mv_io_set *s, const char *name, const char *data, size_t len);
int mv_io_set_add_parts (mv_io_set *s, const char *name, const char *const *data,
                         const size_t *len, size_t nparts);
/* marker: the name of one added file (NULL: none). */
int mv_io_set_commit (mv_io_set *s, const char *marker);

/* Remove from dir the temporaries of writers that died on this machine
 * (killed part-way through a write); returns how many. */
int mv_io_clean_stale (const char *dir);

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
/* Draw/update a one-line progress bar on stderr ("label [####   ] 42%
 * ~3m10s left": the time left at the rate so far, shown after 1% and 2 s). */
void mv_io_progress (const char *label, double fraction);
void mv_io_progress_done (void);

#ifdef __cplusplus
}
#endif
#endif
