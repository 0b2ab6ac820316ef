/* STUB: to be replaced */
#include <moeverify/io.h>
#include <moeverify/error.h>
char *mv_io_read_file (const char *path, size_t *len) { (void)path; (void)len; mv_error_set (MV_EIO, "stub"); return 0; }
int mv_io_write_atomic (const char *path, const char *data, size_t len) { return MV_EIO; }
int mv_io_digits (const mpfr_t x, double abserr) { return 0; }
int mv_io_digits_d (double x, double abserr) { return 0; }
char *mv_io_mpfr_str (const mpfr_t x, int digits) { return 0; }
char *mv_io_double_str (double x, int digits) { return 0; }
int mv_io_progress_enabled (void) { return 0; }
void mv_io_progress (const char *label, double fraction) {}
void mv_io_progress_done (void) {}
