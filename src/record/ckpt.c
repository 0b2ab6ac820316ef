/* The checkpoint container (checkpoint.h): named typed records, written
 * as one checksummed binary file through the atomic writer. */
#include <moeverify/checkpoint.h>
#include <moeverify/error.h>
#include <moeverify/io.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char MAGIC[8] = { 'M', 'V', 'C', 'K', 'P', 'T', '\r', '\n' };
#define BOM UINT32_C (0x01020304)
#define HEADER 32

typedef struct {
  char *name;
  int type;
  size_t count;
  void *data;        /* count elements (8 bytes each, or 1 for BYTES) */
} rec;

struct mv_ckpt {
  rec *r;
  size_t n, cap;
};

static size_t
elsize (int type)
{
  return type == MV_CKPT_BYTES ? 1 : 8;
}

mv_ckpt *
mv_ckpt_alloc (void)
{
  mv_ckpt *c = calloc (1, sizeof *c);
  if (!c)
    mv_error_set (MV_ENOMEM, "checkpoint: out of memory");
  return c;
}

static void
clear (mv_ckpt *c)
{
  for (size_t i = 0; i < c->n; i++)
    free (c->r[i].name), free (c->r[i].data);
  c->n = 0;
}

void
mv_ckpt_free (mv_ckpt *c)
{
  if (!c)
    return;
  clear (c);
  free (c->r);
  free (c);
}

size_t
mv_ckpt_size (const mv_ckpt *c)
{
  return c->n;
}

const char *
mv_ckpt_name (const mv_ckpt *c, size_t i, int *type)
{
  if (i >= c->n)
    return NULL;
  if (type)
    *type = c->r[i].type;
  return c->r[i].name;
}

static rec *
find (const mv_ckpt *c, const char *name)
{
  for (size_t i = 0; i < c->n; i++)
    if (!strcmp (c->r[i].name, name))
      return &c->r[i];
  return NULL;
}

uint64_t
mv_ckpt_hash (const void *data, size_t n)
{
  const unsigned char *p = data;
  uint64_t h = UINT64_C (0xcbf29ce484222325);
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * UINT64_C (0x100000001b3);
  return h;
}

/* a record of n elements of type, copied from x */
static int
put (mv_ckpt *c, const char *name, int type, const void *x, size_t n)
{
  size_t es = elsize (type);
  if (n > SIZE_MAX / es)
    return mv_error_set (MV_ENOMEM, "checkpoint: record %s too large", name);
  void *data = malloc (n ? n * es : 1);
  if (!data)
    return mv_error_set (MV_ENOMEM, "checkpoint: out of memory for %s", name);
  if (n)
    memcpy (data, x, n * es);
  rec *r = find (c, name);
  if (r)
    {
      free (r->data);
      r->data = data, r->count = n, r->type = type;
      return MV_OK;
    }
  if (c->n == c->cap)
    {
      size_t cap = c->cap ? 2 * c->cap : 32;
      rec *nr = realloc (c->r, cap * sizeof *nr);
      if (!nr)
        {
          free (data);
          return mv_error_set (MV_ENOMEM, "checkpoint: out of memory");
        }
      c->r = nr, c->cap = cap;
    }
  char *nm = malloc (strlen (name) + 1);
  if (!nm)
    {
      free (data);
      return mv_error_set (MV_ENOMEM, "checkpoint: out of memory");
    }
  strcpy (nm, name);
  c->r[c->n++] = (rec) { nm, type, n, data };
  return MV_OK;
}

int
mv_ckpt_put_f64 (mv_ckpt *c, const char *name, const double *x, size_t n)
{
  return put (c, name, MV_CKPT_F64, x, n);
}

int
mv_ckpt_put_u64 (mv_ckpt *c, const char *name, const uint64_t *x, size_t n)
{
  return put (c, name, MV_CKPT_U64, x, n);
}

int
mv_ckpt_put_bytes (mv_ckpt *c, const char *name, const void *x, size_t n)
{
  return put (c, name, MV_CKPT_BYTES, x, n);
}

int
mv_ckpt_put_str (mv_ckpt *c, const char *name, const char *s)
{
  return put (c, name, MV_CKPT_BYTES, s, strlen (s));
}

int
mv_ckpt_put_ulong (mv_ckpt *c, const char *name, unsigned long v)
{
  uint64_t u = v;
  return put (c, name, MV_CKPT_U64, &u, 1);
}

int
mv_ckpt_put_double (mv_ckpt *c, const char *name, double v)
{
  return put (c, name, MV_CKPT_F64, &v, 1);
}

const void *
mv_ckpt_get (const mv_ckpt *c, const char *name, int type, size_t *n)
{
  rec *r = find (c, name);
  if (!r || r->type != type)
    return NULL;
  if (n)
    *n = r->count;
  return r->data;
}

static int
get_exact (const mv_ckpt *c, const char *name, int type, void *x, size_t n)
{
  size_t k;
  const void *d = mv_ckpt_get (c, name, type, &k);
  if (!d)
    return mv_error_set (MV_EPARSE, "checkpoint: record %s missing", name);
  if (k != n)
    return mv_error_set (MV_EPARSE, "checkpoint: record %s has %zu entries, "
                         "expected %zu", name, k, n);
  memcpy (x, d, n * elsize (type));
  return MV_OK;
}

int
mv_ckpt_get_f64 (const mv_ckpt *c, const char *name, double *x, size_t n)
{
  return get_exact (c, name, MV_CKPT_F64, x, n);
}

int
mv_ckpt_get_u64 (const mv_ckpt *c, const char *name, uint64_t *x, size_t n)
{
  return get_exact (c, name, MV_CKPT_U64, x, n);
}

int
mv_ckpt_get_ulong (const mv_ckpt *c, const char *name, unsigned long *v)
{
  uint64_t u = 0;
  int s = get_exact (c, name, MV_CKPT_U64, &u, 1);
  if (!s && u > (uint64_t) (unsigned long) -1)
    return mv_error_set (MV_EPARSE, "checkpoint: record %s out of range", name);
  if (!s)
    *v = (unsigned long) u;
  return s;
}

char *
mv_ckpt_get_str (const mv_ckpt *c, const char *name)
{
  size_t n;
  const char *d = mv_ckpt_get (c, name, MV_CKPT_BYTES, &n);
  if (!d)
    {
      mv_error_set (MV_EPARSE, "checkpoint: record %s missing", name);
      return NULL;
    }
  char *s = malloc (n + 1);
  if (!s)
    {
      mv_error_set (MV_ENOMEM, "checkpoint: out of memory");
      return NULL;
    }
  memcpy (s, d, n);
  s[n] = '\0';
  return s;
}

/* ------------------------------------------------------------ file */

static unsigned char *
put_u32 (unsigned char *p, uint32_t v)
{
  memcpy (p, &v, 4);
  return p + 4;
}

static unsigned char *
put_u64 (unsigned char *p, uint64_t v)
{
  memcpy (p, &v, 8);
  return p + 8;
}

int
mv_ckpt_write (const mv_ckpt *c, const char *path)
{
  size_t len = HEADER;
  for (size_t i = 0; i < c->n; i++)
    len += 4 + strlen (c->r[i].name) + 1 + 8 + c->r[i].count * elsize (c->r[i].type);
  unsigned char *buf = malloc (len), *p = buf + HEADER;
  if (!buf)
    return mv_error_set (MV_ENOMEM, "%s: out of memory for the checkpoint", path);
  for (size_t i = 0; i < c->n; i++)
    {
      const rec *r = &c->r[i];
      size_t nl = strlen (r->name), nb = r->count * elsize (r->type);
      p = put_u32 (p, (uint32_t) nl);
      memcpy (p, r->name, nl), p += nl;
      *p++ = (unsigned char) r->type;
      p = put_u64 (p, r->count);
      memcpy (p, r->data, nb), p += nb;
    }
  memcpy (buf, MAGIC, 8);
  put_u32 (buf + 8, MV_CKPT_VERSION);
  put_u32 (buf + 12, BOM);
  put_u64 (buf + 16, len - HEADER);
  put_u64 (buf + 24, mv_ckpt_hash (buf + HEADER, len - HEADER));
  int s = mv_io_write_atomic (path, (const char *) buf, len);
  free (buf);
  return s;
}

/* the records of a verified payload into c */
static int
parse_payload (mv_ckpt *c, const unsigned char *p, size_t len, const char *path)
{
  const unsigned char *end = p + len;
  char name[256];
  while (p < end)
    {
      uint32_t nl;
      uint64_t count;
      if ((size_t) (end - p) < 4 || (memcpy (&nl, p, 4), nl == 0) || nl >= sizeof name
          || (size_t) (end - p) < 4 + (size_t) nl + 9)
        return mv_error_set (MV_EPARSE, "%s: corrupt checkpoint (bad record "
                             "header at byte %zu)", path, (size_t) (p - end + len) + HEADER);
      memcpy (name, p + 4, nl), name[nl] = '\0';
      p += 4 + nl;
      int type = *p++;
      memcpy (&count, p, 8), p += 8;
      if (type != MV_CKPT_F64 && type != MV_CKPT_U64 && type != MV_CKPT_BYTES)
        return mv_error_set (MV_EPARSE, "%s: corrupt checkpoint (record %s has "
                             "unknown type %d)", path, name, type);
      if (count > (uint64_t) (end - p) / elsize (type))
        return mv_error_set (MV_EPARSE, "%s: corrupt checkpoint (record %s "
                             "overruns the file)", path, name);
      int s = put (c, name, type, p, (size_t) count);
      if (s)
        return s;
      p += count * elsize (type);
    }
  return MV_OK;
}

int
mv_ckpt_read (mv_ckpt *c, const char *path)
{
  clear (c);
  size_t len;
  char *raw = mv_io_read_file (path, &len);
  if (!raw)
    return MV_EIO;
  const unsigned char *b = (const unsigned char *) raw;
  uint32_t ver, bom;
  uint64_t plen, sum;
  int s = MV_OK;
  if (len < HEADER || memcmp (b, MAGIC, 8))
    s = mv_error_set (MV_EPARSE, "%s: not a moeverify checkpoint (%s)", path,
                      len < HEADER ? "too short" : "bad magic");
  else if (memcpy (&ver, b + 8, 4), memcpy (&bom, b + 12, 4), bom != BOM)
    s = mv_error_set (MV_EPARSE, "%s: checkpoint of another byte order", path);
  else if (ver != MV_CKPT_VERSION)
    s = mv_error_set (MV_EPARSE, "%s: checkpoint version %u, this build reads "
                      "version %d", path, ver, MV_CKPT_VERSION);
  else if (memcpy (&plen, b + 16, 8), plen != len - HEADER)
    s = mv_error_set (MV_EPARSE, "%s: truncated or padded checkpoint (%zu "
                      "payload bytes, header says %llu)", path, len - HEADER,
                      (unsigned long long) plen);
  else if (memcpy (&sum, b + 24, 8), sum != mv_ckpt_hash (b + HEADER, len - HEADER))
    s = mv_error_set (MV_EPARSE, "%s: corrupt checkpoint (checksum mismatch)", path);
  else
    s = parse_payload (c, b + HEADER, len - HEADER, path);
  free (raw);
  if (s)
    clear (c);
  return s;
}

/* ------------------------------------------------------------ identity */

/* a short printable form of record r (first value, or a hash) */
static void
show (char *buf, size_t len, const rec *r)
{
  if (!r)
    snprintf (buf, len, "none");
  else if (r->type == MV_CKPT_BYTES)
    snprintf (buf, len, "'%.*s'%s", (int) (r->count < 40 ? r->count : 40),
              (const char *) r->data, r->count > 40 ? "..." : "");
  else if (r->count != 1)
    snprintf (buf, len, "%zu values", r->count);
  else if (r->type == MV_CKPT_F64)
    snprintf (buf, len, "%.17g", *(const double *) r->data);
  else
    snprintf (buf, len, "%llu", (unsigned long long) *(const uint64_t *) r->data);
}

static int
same (const rec *a, const rec *b)
{
  return a && b && a->type == b->type && a->count == b->count
    && !memcmp (a->data, b->data, a->count * elsize (a->type));
}

int
mv_ckpt_check_identity (const mv_ckpt *saved, const mv_ckpt *now)
{
  /* both ways: a record only one side has differs too */
  for (int pass = 0; pass < 2; pass++)
    {
      const mv_ckpt *x = pass ? saved : now;
      for (size_t i = 0; i < x->n; i++)
        {
          const char *nm = x->r[i].name;
          if (strncmp (nm, "id.", 3))
            continue;
          const rec *a = find (saved, nm), *b = find (now, nm);
          if (same (a, b))
            continue;
          char sa[64], sb[64];
          show (sa, sizeof sa, a), show (sb, sizeof sb, b);
          if (a && b && a->count != 1 && a->count == b->count && a->type == MV_CKPT_F64)
            for (size_t k = 0; k < a->count; k++)
              if (memcmp ((const double *) a->data + k, (const double *) b->data + k, 8))
                {
                  snprintf (sa, sizeof sa, "[%zu] = %.17g", k, ((const double *) a->data)[k]);
                  snprintf (sb, sizeof sb, "[%zu] = %.17g", k, ((const double *) b->data)[k]);
                  break;
                }
          return mv_error_set (MV_EINVAL, "checkpoint: %s differs (checkpoint %s, "
                               "this run %s)", nm + 3, sa, sb);
        }
    }
  return MV_OK;
}
