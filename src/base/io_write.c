/* Atomic writes (io.h): one file through a temporary renamed over it, or a
 * set of files in one directory committed together.  Temporaries are named
 * ".NAME.tmp.PID.XXXXXX" so a later run can tell the leftovers of a killed
 * process from those of a live one (mv_io_clean_stale). */
#define _XOPEN_SOURCE 700  /* mkstemp, fsync, fchmod */
#include <moeverify/io.h>
#include <moeverify/error.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int
write_all (int fd, const char *data, size_t len)
{
  while (len > 0)
    {
      ssize_t w = write (fd, data, len);
      if (w < 0)
        {
          if (errno == EINTR)
            continue;
          return -1;
        }
      data += w;
      len -= (size_t) w;
    }
  return 0;
}

/* Mode for the new file: keep an existing target's mode, else 0666 & ~umask
 * (mkstemp creates 0600).  Reading the umask means setting it briefly. */
static mode_t
target_mode (const char *path)
{
  struct stat st;
  if (stat (path, &st) == 0 && S_ISREG (st.st_mode))
    return st.st_mode & 07777;
  mode_t um = umask (022);
  umask (um);
  return 0666 & ~um;
}

/* Length of path's directory part including the slash (0: none). */
static size_t
dir_len (const char *path)
{
  const char *slash = strrchr (path, '/');
  return slash ? (size_t) (slash - path) + 1 : 0;
}

/* The data written, synced and closed in a new temporary beside path (in
 * its directory, so rename() is atomic); its malloc'd name in *tmp. */
static int
temp_write (char **tmp, const char *path, const char *const *data,
            const size_t *len, size_t nparts)
{
  size_t dl = dir_len (path);
  const char *base = path + dl;
  if (*base == '\0')
    return mv_error_set (MV_EIO, "%s: not a file name", path);
  size_t tlen = dl + strlen (base) + 48;
  char *t = malloc (tlen);
  if (!t)
    return mv_error_set (MV_ENOMEM, "%s: out of memory", path);
  snprintf (t, tlen, "%.*s.%s.tmp.%ld.XXXXXX", (int) dl, path, base, (long) getpid ());
  int fd = mkstemp (t);
  if (fd < 0)
    {
      int e = errno;
      free (t);
      return mv_error_set (MV_EIO, "%s: cannot create temporary file: %s", path,
                           strerror (e));
    }
  const char *what = "write";
  int ok = 1;
  for (size_t i = 0; ok && i < nparts; i++)
    ok = write_all (fd, data[i], len[i]) == 0;
  if (ok && !(ok = fchmod (fd, target_mode (path)) == 0))
    what = "chmod";
  if (ok && !(ok = fsync (fd) == 0))
    what = "fsync";
  int e = errno;
  if (close (fd) != 0 && ok)
    ok = 0, e = errno, what = "close";
  if (!ok)
    {
      unlink (t);
      free (t);
      return mv_error_set (MV_EIO, "%s: cannot write (%s): %s", path, what, strerror (e));
    }
  *tmp = t;
  return MV_OK;
}

/* Make renames in path's directory durable; a failure here cannot undo
 * them, so it is not reported. */
static void
sync_dir (const char *path)
{
  size_t dl = dir_len (path);
  char *dir = dl ? strndup (path, dl) : NULL;
  int fd = open (dir ? dir : ".", O_RDONLY);
  if (fd >= 0)
    {
      fsync (fd);
      close (fd);
    }
  free (dir);
}

/* A regular file (or a new path): a temporary renamed over it. */
static int
write_replace (const char *path, const char *const *data, const size_t *len,
               size_t nparts)
{
  char *tmp;
  int s = temp_write (&tmp, path, data, len, nparts);
  if (s)
    return s;
  if (rename (tmp, path) != 0)
    {
      int e = errno;
      unlink (tmp);
      free (tmp);
      return mv_error_set (MV_EIO, "%s: cannot write (rename): %s", path, strerror (e));
    }
  free (tmp);
  sync_dir (path);
  return MV_OK;
}

/* Non-regular targets (a device such as /dev/null, a FIFO, a socket) are
 * written through: renaming a temporary over them would replace them with
 * a regular file. */
static int
write_through (const char *path, const char *const *data, const size_t *len,
               size_t nparts)
{
  int fd = open (path, O_WRONLY);
  if (fd < 0)
    return mv_error_set (MV_EIO, "%s: cannot open: %s", path, strerror (errno));
  int ok = 1;
  for (size_t i = 0; ok && i < nparts; i++)
    ok = write_all (fd, data[i], len[i]) == 0;
  int e = errno;
  if (close (fd) != 0 && ok)
    ok = 0, e = errno;
  return ok ? MV_OK : mv_error_set (MV_EIO, "%s: cannot write: %s", path, strerror (e));
}

int
mv_io_write_atomic (const char *path, const char *data, size_t len)
{
  return mv_io_write_atomic_parts (path, &data, &len, 1);
}

int
mv_io_write_atomic_parts (const char *path, const char *const *data,
                          const size_t *len, size_t nparts)
{
  struct stat st;
  if (lstat (path, &st) != 0)
    return write_replace (path, data, len, nparts);   /* a new file */
  if (S_ISLNK (st.st_mode))
    {
      /* write through the link: replace its target, keep the link */
      char *real = realpath (path, NULL);
      if (!real)
        return mv_error_set (MV_EIO, "%s: a symbolic link whose target cannot be "
                             "resolved: %s", path, strerror (errno));
      int s = stat (real, &st) == 0 && !S_ISREG (st.st_mode)
              ? (S_ISDIR (st.st_mode) ? mv_error_set (MV_EIO, "%s: is a directory", path)
                 : write_through (real, data, len, nparts))
              : write_replace (real, data, len, nparts);
      free (real);
      return s;
    }
  if (S_ISDIR (st.st_mode))
    return mv_error_set (MV_EIO, "%s: is a directory", path);
  if (!S_ISREG (st.st_mode))
    return write_through (path, data, len, nparts);
  return write_replace (path, data, len, nparts);
}

/* ------------------------------------------------------------ stale */

/* The pid in a temporary's name ".NAME.tmp.PID.XXXXXX", or 0. */
static long
temp_pid (const char *name)
{
  size_t n = strlen (name);
  if (name[0] != '.' || n < 14 || name[n - 7] != '.')
    return 0;
  const char *p = name + n - 8;      /* last digit of PID */
  while (p > name && *p >= '0' && *p <= '9')
    p--;
  if (p == name + n - 8 || p - name < 4 || strncmp (p - 4, ".tmp.", 5))
    return 0;
  return strtol (p + 1, NULL, 10);
}

int
mv_io_clean_stale (const char *dir)
{
  DIR *d = opendir (dir);
  if (!d)
    return 0;
  int removed = 0;
  struct dirent *e;
  while ((e = readdir (d)))
    {
      long pid = temp_pid (e->d_name);
      /* only ours: a dead writer on this machine */
      if (pid <= 0 || pid == (long) getpid () || kill ((pid_t) pid, 0) == 0
          || errno != ESRCH)
        continue;
      char path[4096];
      if ((size_t) snprintf (path, sizeof path, "%s/%s", dir, e->d_name) < sizeof path
          && unlink (path) == 0)
        removed++;
    }
  closedir (d);
  return removed;
}

/* ------------------------------------------------------------ sets */

struct mv_io_set {
  char *dir;
  size_t n, cap;
  char **tmp, **name;   /* written temporaries and their final names */
};

mv_io_set *
mv_io_set_alloc (const char *dir)
{
  mv_io_set *s = calloc (1, sizeof *s);
  if (s && !(s->dir = strdup (dir)))
    {
      free (s);
      s = NULL;
    }
  if (!s)
    mv_error_set (MV_ENOMEM, "%s: out of memory", dir);
  return s;
}

void
mv_io_set_free (mv_io_set *s)
{
  if (!s)
    return;
  for (size_t i = 0; i < s->n; i++)
    {
      if (s->tmp[i])
        unlink (s->tmp[i]);
      free (s->tmp[i]), free (s->name[i]);
    }
  free (s->tmp), free (s->name), free (s->dir), free (s);
}

int
mv_io_set_add_parts (mv_io_set *s, const char *name, const char *const *data,
                     const size_t *len, size_t nparts)
{
  size_t plen = strlen (s->dir) + strlen (name) + 2;
  char *path = malloc (plen);
  if (!path)
    return mv_error_set (MV_ENOMEM, "%s/%s: out of memory", s->dir, name);
  snprintf (path, plen, "%s/%s", s->dir, name);
  struct stat st;
  if (lstat (path, &st) == 0 && !S_ISREG (st.st_mode))
    {
      int r = mv_error_set (MV_EIO, "%s: exists and is not a regular file", path);
      free (path);
      return r;
    }
  if (s->n == s->cap)
    {
      size_t cap = s->cap ? 2 * s->cap : 8;
      char **t = realloc (s->tmp, cap * sizeof *t);
      if (t)
        s->tmp = t;
      char **nm = t ? realloc (s->name, cap * sizeof *nm) : NULL;
      if (!nm)
        {
          free (path);
          return mv_error_set (MV_ENOMEM, "%s/%s: out of memory", s->dir, name);
        }
      s->name = nm, s->cap = cap;
    }
  char *tmp;
  int r = temp_write (&tmp, path, data, len, nparts);
  if (r)
    {
      free (path);
      return r;
    }
  s->tmp[s->n] = tmp, s->name[s->n] = path, s->n++;
  return MV_OK;
}

int
mv_io_set_add (mv_io_set *s, const char *name, const char *data, size_t len)
{
  return mv_io_set_add_parts (s, name, &data, &len, 1);
}

static int
set_rename (mv_io_set *s, size_t i)
{
  if (rename (s->tmp[i], s->name[i]) != 0)
    return mv_error_set (MV_EIO, "%s: cannot write (rename): %s", s->name[i],
                         strerror (errno));
  free (s->tmp[i]);
  s->tmp[i] = NULL;
  return MV_OK;
}

int
mv_io_set_commit (mv_io_set *s, const char *marker)
{
  size_t mk = s->n;
  for (size_t i = 0; marker && i < s->n; i++)
    if (!strcmp (s->name[i] + strlen (s->dir) + 1, marker))
      mk = i;
  /* the old marker goes first: a stop part-way through the renames leaves
   * a directory that says it is unfinished, never old and new mixed under
   * a marker saying complete */
  if (mk < s->n && unlink (s->name[mk]) != 0 && errno != ENOENT)
    return mv_error_set (MV_EIO, "%s: cannot remove: %s", s->name[mk], strerror (errno));
  int r = MV_OK;
  for (size_t i = 0; !r && i < s->n; i++)
    if (i != mk)
      r = set_rename (s, i);
  if (!r && mk < s->n)
    r = set_rename (s, mk);
  if (s->n)
    sync_dir (s->name[0]);
  return r;
}
