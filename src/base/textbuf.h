/* A growable text buffer (private to the library and the CLI): SVG plots,
 * CSV/JSON records and long CLI outputs are built in memory, then written
 * atomically.  Allocation failure is sticky: later appends do nothing and
 * mv_textbuf_ok says so once, at the end. */
#ifndef MV_TEXTBUF_H
#define MV_TEXTBUF_H

#include <stddef.h>

typedef struct {
  char *s;       /* NUL-terminated while ok */
  size_t len, cap;
  int oom;
} mv_textbuf;

void mv_textbuf_init (mv_textbuf *b);
void mv_textbuf_clear (mv_textbuf *b);
void mv_textbuf_put (mv_textbuf *b, const char *s, size_t n);
void mv_textbuf_puts (mv_textbuf *b, const char *s);
void mv_textbuf_printf (mv_textbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__ ((format (printf, 2, 3)))
#endif
  ;
/* Room for n more bytes at b->s + b->len (then advance len yourself);
 * NULL after an allocation failure. */
char *mv_textbuf_reserve (mv_textbuf *b, size_t n);
int mv_textbuf_ok (const mv_textbuf *b);

#endif
