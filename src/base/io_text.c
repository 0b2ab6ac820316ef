/* Reading JSON input files (specs, sweep files, reference files) with the
 * two guards a plain read lacks: a JSON text never contains a NUL byte, so
 * the first one ends the read (binary files, /dev/zero, /dev/urandom), and
 * a size bound ends an endless stream (a device, a FIFO fed forever). */
#include "base/io_priv.h"

#include <moeverify/error.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
mv_io_read_json (char **text, size_t *len, const char *path, size_t max)
{
  *text = NULL;
  FILE *f = fopen (path, "rb");
  if (!f)
    return mv_error_set (MV_EIO, "%s: cannot open: %s", path, strerror (errno));
  size_t cap = 4096, n = 0;
  char *buf = malloc (cap), *nul = NULL;
  int st = buf ? MV_OK : MV_ENOMEM;
  while (!st)
    {
      if (cap - n < 2)
        {
          /* room for max bytes and one more, which shows it is too long */
          size_t ncap = cap > max / 2 ? max + 2 : 2 * cap;
          char *nb = ncap > cap ? realloc (buf, ncap) : NULL;
          if (!nb)
            {
              st = ncap > cap ? MV_ENOMEM : MV_EPARSE;
              break;
            }
          buf = nb;
          cap = ncap;
        }
      size_t got = fread (buf + n, 1, cap - n - 1, f);
      if ((nul = memchr (buf + n, '\0', got)))
        st = MV_EPARSE;
      n += got;
      if (!st && n > max)
        st = MV_EPARSE;
      if (got == 0)
        break;
    }
  int e = ferror (f) ? errno : 0;
  fclose (f);
  if (st == MV_ENOMEM)
    mv_error_set (st, "%s: out of memory reading file", path);
  else if (st && nul)
    mv_error_set (st, "%s: NUL byte at offset %zu: not a JSON text (a binary "
                  "file or a device?)", path, (size_t) (nul - buf));
  else if (st)
    mv_error_set (st, "%s: more than %zu bytes: not a JSON input (a device "
                  "or an endless stream?)", path, max);
  else if (e)
    st = mv_error_set (MV_EIO, "%s: read error: %s", path, strerror (e));
  if (st)
    {
      free (buf);
      return st;
    }
  buf[n] = '\0';
  if (len)
    *len = n;
  *text = buf;
  return MV_OK;
}
