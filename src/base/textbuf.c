/* Growable text buffer (textbuf.h). */
#include "base/textbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
mv_textbuf_init (mv_textbuf *b)
{
  memset (b, 0, sizeof *b);
}

void
mv_textbuf_clear (mv_textbuf *b)
{
  free (b->s);
  memset (b, 0, sizeof *b);
}

char *
mv_textbuf_reserve (mv_textbuf *b, size_t n)
{
  if (b->oom)
    return NULL;
  if (b->len + n + 1 > b->cap)
    {
      /* doubling keeps appends amortised O(1) for megabyte outputs */
      size_t cap = b->cap ? b->cap : 256;
      while (cap < b->len + n + 1)
        cap *= 2;
      char *s = realloc (b->s, cap);
      if (!s)
        {
          b->oom = 1;
          return NULL;
        }
      b->s = s, b->cap = cap;
    }
  return b->s + b->len;
}

void
mv_textbuf_put (mv_textbuf *b, const char *s, size_t n)
{
  char *p = mv_textbuf_reserve (b, n);
  if (!p)
    return;
  memcpy (p, s, n);
  b->len += n;
  b->s[b->len] = '\0';
}

void
mv_textbuf_puts (mv_textbuf *b, const char *s)
{
  mv_textbuf_put (b, s, strlen (s));
}

void
mv_textbuf_printf (mv_textbuf *b, const char *fmt, ...)
{
  if (b->oom)
    return;
  /* one pass when the text fits in the room left (the common case) */
  size_t room = b->s ? b->cap - b->len : 0;
  va_list ap;
  va_start (ap, fmt);
  int n = vsnprintf (room ? b->s + b->len : NULL, room, fmt, ap);
  va_end (ap);
  if (n < 0)
    {
      b->oom = 1;
      return;
    }
  if ((size_t) n >= room)
    {
      char *p = mv_textbuf_reserve (b, (size_t) n);
      if (!p)
        return;
      va_start (ap, fmt);
      vsnprintf (p, (size_t) n + 1, fmt, ap);
      va_end (ap);
    }
  b->len += (size_t) n;
}

int
mv_textbuf_ok (const mv_textbuf *b)
{
  return !b->oom;
}
