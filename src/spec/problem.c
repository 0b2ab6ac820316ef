/* Problem specifications: strict JSON parsing and validation (every error
 * is one line "NAME: key.path: problem"), explicit construction, canonical
 * JSON.  Generated vectors live in problem_init.c. */
#include "spec/problem_priv.h"
#include "base/io_priv.h"

#include <moeverify/error.h>
#include <moeverify/io.h>

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest d when teacher and student are both init blocks: nothing of
 * size d is formed at parse time, and the reduced flow never forms it;
 * below 2^53 so d and d - r are exact in double (chi-square degrees of
 * freedom in problem_gram.c). */
#define MV_PROBLEM_MAX_D_INIT 1000000000000000.0
/* Seeds are fed to mt19937, which keeps only 32 bits: larger would alias. */
#define MV_SEED_MAX 4294967295.0

typedef struct {
  char name[MV_NAME_MAX];   /* file name, control characters replaced */
  int both_init;    /* teacher and student are init blocks: sizes are
                       checked when vectors are formed, not at parse */
} pctx;

/* Copy src into dst (size n) replacing control characters, so user text
 * cannot break the one-line message; long text is cut with "...". */
void
mv_problem_sanitize (char *dst, size_t n, const char *src)
{
  size_t i = 0;
  for (; src[i] && i + 4 < n; i++)
    {
      unsigned char c = (unsigned char) src[i];
      dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char) c;
    }
  if (src[i])
    {
      memcpy (dst + i, "...", 3);
      i += 3;
    }
  dst[i] = '\0';
}

static int
perr (const pctx *c, int status, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__ ((format (printf, 4, 5)))
#endif
  ;

static int
perr (const pctx *c, int status, const char *key, const char *fmt, ...)
{
  char msg[512];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  return mv_error_set (status, "%s: %s: %s", c->name, key, msg);
}

static const char *
json_type_name (const json_t *v)
{
  switch (json_typeof (v))
    {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
  return "?";
}

/* Append ".key" (or "key" at top level) to a key path. */
static void
subkey (char *dst, size_t n, const char *prefix, const char *key)
{
  if (prefix && *prefix)
    snprintf (dst, n, "%s.%s", prefix, key);
  else
    snprintf (dst, n, "%s", key);
}

/* Every key of obj must be in allowed (NULL-terminated). */
static int
check_keys (const pctx *c, json_t *obj, const char *prefix,
            const char *const *allowed)
{
  const char *key;
  json_t *val;
  json_object_foreach (obj, key, val)
    {
      int ok = 0;
      for (const char *const *a = allowed; *a; a++)
        ok |= !strcmp (key, *a);
      if (!ok)
        {
          char k[128], path[256];
          mv_problem_sanitize (k, sizeof k, key);
          subkey (path, sizeof path, prefix, k);
          return perr (c, MV_EPARSE, path, "unknown key");
        }
    }
  return MV_OK;
}

static int
expect_object (const pctx *c, json_t *v, const char *path)
{
  if (!json_is_object (v))
    return perr (c, MV_EPARSE, path, "expected an object, got %s",
                 json_type_name (v));
  return MV_OK;
}

/* Integer in [lo, hi]; missing is an error when required, else *out kept. */
static int
get_int (const pctx *c, json_t *obj, const char *prefix, const char *key,
         double lo, double hi, int required, unsigned long long *out)
{
  char path[256];
  subkey (path, sizeof path, prefix, key);
  json_t *v = json_object_get (obj, key);
  if (!v)
    return required ? perr (c, MV_EPARSE, path, "missing key") : MV_OK;
  if (!json_is_integer (v))
    return perr (c, MV_EPARSE, path, "expected an integer, got %s",
                 json_type_name (v));
  json_int_t i = json_integer_value (v);
  if ((double) i < lo || (double) i > hi)
    return perr (c, MV_EINVAL, path, "%" JSON_INTEGER_FORMAT
                 " is out of range [%.0f, %.0f]", i, lo, hi);
  *out = (unsigned long long) i;
  return MV_OK;
}

/* ------------------------------------------------------------ entries */

void
mv_entries_free (mv_entries *e)
{
  if (e->s)
    for (size_t i = 0; i < e->rows * e->cols; i++)
      free (e->s[i]);
  free (e->s);
  free (e->x);
  memset (e, 0, sizeof *e);
}

void
mv_entries_get (mpfr_t out, const mv_entries *e, size_t r, size_t c)
{
  size_t i = r * e->cols + c;
  if (e->s && e->s[i])
    mpfr_set_str (out, e->s[i], 10, MPFR_RNDN);  /* validated at parse */
  else
    mpfr_set_d (out, e->x[i], MPFR_RNDN);
}

static int
entries_alloc (mv_entries *e, size_t rows, size_t cols)
{
  memset (e, 0, sizeof *e);
  e->rows = rows;
  e->cols = cols;
  size_t n = rows * cols;
  e->x = calloc (n ? n : 1, sizeof *e->x);
  return e->x ? MV_OK : MV_ENOMEM;
}

/* A plain decimal: [+-] digits [. digits] [(e|E) [+-] digits], at least one
 * mantissa digit.  Stricter than strtod/mpfr (no "nan", "inf", hex, '@',
 * spaces), and read identically by both. */
static int
decimal_syntax_ok (const char *s)
{
  const char *p = s;
  int digits = 0;
  if (*p == '+' || *p == '-')
    p++;
  for (; *p >= '0' && *p <= '9'; p++)
    digits++;
  if (*p == '.')
    for (p++; *p >= '0' && *p <= '9'; p++)
      digits++;
  if (!digits)
    return 0;
  if (*p == 'e' || *p == 'E')
    {
      p++;
      if (*p == '+' || *p == '-')
        p++;
      if (!(*p >= '0' && *p <= '9'))
        return 0;
      while (*p >= '0' && *p <= '9')
        p++;
    }
  return *p == '\0';
}

/* A decimal string with no nonzero digit in its mantissa is exactly zero. */
static int
decimal_is_zero (const char *s)
{
  for (; *s && *s != 'e' && *s != 'E'; s++)
    if (*s >= '1' && *s <= '9')
      return 0;
  return 1;
}

/* One matrix entry: a JSON number (exact double) or a decimal string kept
 * verbatim.  Every entry must be finite in double too, so the double and
 * MPFR paths describe the same problem. */
static int
parse_entry (const pctx *c, json_t *v, const char *path, double *x, char **s)
{
  *s = NULL;
  if (json_is_integer (v))
    {
      json_int_t i = json_integer_value (v);
      *x = (double) i;
      if (i > ((json_int_t) 1 << 53) || i < -((json_int_t) 1 << 53))
        {
          /* not exact in double: keep the digits for the MPFR path */
          char buf[32];
          snprintf (buf, sizeof buf, "%" JSON_INTEGER_FORMAT, i);
          if (!(*s = strdup (buf)))
            return perr (c, MV_ENOMEM, path, "out of memory");
        }
      return MV_OK;
    }
  if (json_is_real (v))
    {
      *x = json_real_value (v);  /* jansson never stores NaN/Inf */
      return MV_OK;
    }
  if (!json_is_string (v))
    return perr (c, MV_EPARSE, path,
                 "expected a number or a decimal string, got %s",
                 json_type_name (v));
  const char *str = json_string_value (v);
  char shown[64];
  mv_problem_sanitize (shown, sizeof shown, str);
  if (!decimal_syntax_ok (str))
    return perr (c, MV_EINVAL, path, "\"%s\" is not a finite decimal number",
                 shown);
  errno = 0;
  double d = strtod (str, NULL);
  if (!isfinite (d) || (errno == ERANGE && !decimal_is_zero (str))
      || (d == 0 && !decimal_is_zero (str)))
    return perr (c, MV_EINVAL, path, "\"%s\" is outside the double range",
                 shown);
  *x = d;
  if (!(*s = strdup (str)))
    return perr (c, MV_ENOMEM, path, "out of memory");
  return MV_OK;
}

/* The rule for every student and teacher vector v (parsed or given as
 * arrays): |v|^2, summed in double, must be a finite normal double.  Every
 * method normalises by |v| (loss, flows, SGD, Monte Carlo), in double or
 * to start its MPFR values, so a vector outside this range is refused
 * here, naming it, instead of failing differently in each method.  An
 * exactly zero row keeps its own message (its direction is undefined). */
static int
check_row_norm (const pctx *c, const double *x, size_t n, const char *path)
{
  double s = 0;
  int nonzero = 0;
  for (size_t k = 0; k < n; k++)
    {
      s += x[k] * x[k];
      nonzero |= x[k] != 0;
    }
  if (!nonzero)
    return perr (c, MV_EINVAL, path,
                 "zero vector (its direction is undefined)");
  if (!isfinite (s))
    return perr (c, MV_EINVAL, path, "squared norm overflows in double "
                 "(above %.3g); rescale the vector", DBL_MAX);
  if (s < DBL_MIN)
    return perr (c, MV_EINVAL, path, "squared norm %.3g underflows in "
                 "double (below %.3g); rescale the vector", s, DBL_MIN);
  return MV_OK;
}

/* arr must be rows arrays of cols entries; nonzero_rows: reject zero rows
 * and rows outside the norm rule (check_row_norm). */
static int
parse_matrix (const pctx *c, json_t *arr, const char *path, size_t rows,
              size_t cols, int nonzero_rows, mv_entries *out)
{
  char rp[256], ep[300];
  memset (out, 0, sizeof *out);
  if (!json_is_array (arr))
    return perr (c, MV_EPARSE, path, "expected an array of %zu rows, got %s",
                 rows, json_type_name (arr));
  if (json_array_size (arr) != rows)
    return perr (c, MV_EINVAL, path, "expected %zu rows, got %zu", rows,
                 json_array_size (arr));
  for (size_t i = 0; i < rows; i++)
    {
      json_t *row = json_array_get (arr, i);
      snprintf (rp, sizeof rp, "%s[%zu]", path, i);
      if (!json_is_array (row))
        return perr (c, MV_EPARSE, rp, "expected an array of %zu entries, "
                     "got %s", cols, json_type_name (row));
      if (json_array_size (row) != cols)
        return perr (c, MV_EINVAL, rp, "expected %zu entries, got %zu", cols,
                     json_array_size (row));
    }
  if (entries_alloc (out, rows, cols))
    return perr (c, MV_ENOMEM, path, "out of memory");
  for (size_t i = 0; i < rows; i++)
    {
      json_t *row = json_array_get (arr, i);
      for (size_t j = 0; j < cols; j++)
        {
          char *s;
          double *x = out->x + i * cols + j;
          snprintf (ep, sizeof ep, "%s[%zu][%zu]", path, i, j);
          int st = parse_entry (c, json_array_get (row, j), ep, x, &s);
          if (st)
            {
              mv_entries_free (out);
              return st;
            }
          if (s && !out->s && !(out->s = calloc (rows * cols, sizeof *out->s)))
            {
              free (s);
              mv_entries_free (out);
              return perr (c, MV_ENOMEM, path, "out of memory");
            }
          if (s)
            out->s[i * cols + j] = s;
        }
      snprintf (rp, sizeof rp, "%s[%zu]", path, i);
      int st = nonzero_rows ? check_row_norm (c, out->x + i * cols, cols, rp)
        : MV_OK;
      if (st)
        {
          mv_entries_free (out);
          return st;
        }
    }
  return MV_OK;
}

/* ------------------------------------------------------------ problem */

static void
priv_free (mv_problem_priv *p)
{
  if (!p)
    return;
  mv_entries_free (&p->sV);
  mv_entries_free (&p->sW);
  mv_entries_free (&p->tV);
  mv_entries_free (&p->tW);
  mv_entries_free (&p->cross);
  free (p->G);
  free (p->tVd);
  free (p->tWd);
  json_decref (p->spec);
  free (p);
}

void
mv_problem_clear (mv_problem *pb)
{
  if (!pb)
    return;
  priv_free (pb->priv);
  free (pb->name);
  memset (pb, 0, sizeof *pb);
}

/* Check rows * cols against the size limit; path names the offending key. */
static int
check_size (const pctx *c, const char *path, size_t rows, size_t cols)
{
  if ((double) rows * (double) cols > MV_PROBLEM_MAX_ENTRIES)
    return perr (c, MV_EINVAL, path, "%zu x %zu = %.3g entries exceeds the "
                 "limit of %.0g", rows, cols, (double) rows * (double) cols,
                 MV_PROBLEM_MAX_ENTRIES);
  return MV_OK;
}

/* "V"/"W" pair of an agent ("teacher"/"student"): both present, m x d. */
static int
parse_vw (const pctx *c, json_t *obj, const char *who, size_t m, size_t d,
          mv_entries *V, mv_entries *W, json_t *canon)
{
  char path[64];
  const char *keys[2] = { "V", "W" };
  mv_entries *dst[2] = { V, W };
  for (int k = 0; k < 2; k++)
    {
      snprintf (path, sizeof path, "%s.%s", who, keys[k]);
      json_t *arr = json_object_get (obj, keys[k]);
      if (!arr)
        return perr (c, MV_EPARSE, path, "missing key");
      int st = parse_matrix (c, arr, path, m, d, 1, dst[k]);
      if (st)
        return st;
      if (json_object_set_new (canon, keys[k], json_deep_copy (arr)))
        return perr (c, MV_ENOMEM, path, "out of memory");
    }
  return MV_OK;
}

static int
parse_teacher_init (const pctx *c, json_t *init, mv_problem *pb, json_t *canon)
{
  static const char *const allowed[] = { "kind", "seed", "layout", "cross",
                                         NULL };
  mv_problem_priv *p = pb->priv;
  int st;
  if ((st = expect_object (c, init, "teacher.init"))
      || (st = check_keys (c, init, "teacher.init", allowed)))
    return st;
  json_t *kind = json_object_get (init, "kind");
  if (!kind)
    return perr (c, MV_EPARSE, "teacher.init.kind", "missing key");
  if (!json_is_string (kind) || strcmp (json_string_value (kind),
                                        "orthonormal"))
    return perr (c, MV_EINVAL, "teacher.init.kind",
                 "expected \"orthonormal\"");
  unsigned long long seed;
  if ((st = get_int (c, init, "teacher.init", "seed", 0, MV_SEED_MAX, 1,
                     &seed)))
    return st;
  p->tseed = (unsigned long) seed;
  p->layout = MV_LAYOUT_ALL;
  json_t *lay = json_object_get (init, "layout");
  if (lay)
    {
      const char *ls = json_is_string (lay) ? json_string_value (lay) : "";
      if (!strcmp (ls, "separate"))
        p->layout = MV_LAYOUT_SEPARATE;
      else if (strcmp (ls, "all"))
        return perr (c, MV_EINVAL, "teacher.init.layout",
                     "expected \"all\" or \"separate\"");
    }
  if (pb->d < 2 * pb->mstar)
    return perr (c, MV_EINVAL, "teacher.init", "2m* = %zu orthonormal "
                 "vectors need d >= %zu, got d = %zu", 2 * pb->mstar,
                 2 * pb->mstar, pb->d);
  if (!c->both_init
      && (st = check_size (c, "teacher.m", 2 * pb->mstar, pb->d)))
    return st;
  json_t *cross = json_object_get (init, "cross");
  if (cross && p->layout != MV_LAYOUT_SEPARATE)
    return perr (c, MV_EINVAL, "teacher.init.cross",
                 "only allowed with layout \"separate\"");
  if (p->layout == MV_LAYOUT_SEPARATE)
    {
      if (cross)
        {
          if ((st = parse_matrix (c, cross, "teacher.init.cross", pb->mstar,
                                  pb->mstar, 0, &p->cross)))
            return st;
          double nrm;
          if ((st = mv_problem_cross_norm (&nrm, &p->cross)))
            return perr (c, st, "teacher.init.cross", "%s",
                         mv_error_message ());
          /* ||C||_2 <= 1 keeps I - C^T C positive semidefinite; a few ulps
           * over 1 are decimal rounding of an intended norm-1 matrix. */
          if (!(nrm <= 1 + 1e-12))
            return perr (c, MV_EDOM, "teacher.init.cross",
                         "spectral norm %.17g exceeds 1", nrm);
        }
      else if (entries_alloc (&p->cross, pb->mstar, pb->mstar))
        return perr (c, MV_ENOMEM, "teacher.init.cross", "out of memory");
    }

  /* the vectors themselves are generated on first demand (problem_init.c) */
  p->teacher_kind = MV_TEACHER_ORTHONORMAL;

  json_t *ci = json_pack ("{s:s, s:I, s:s}", "kind", "orthonormal",
                          "seed", (json_int_t) seed, "layout",
                          p->layout == MV_LAYOUT_ALL ? "all" : "separate");
  if (ci && cross)
    json_object_set_new (ci, "cross", json_deep_copy (cross));
  if (!ci || json_object_set_new (canon, "init", ci))
    return perr (c, MV_ENOMEM, "teacher.init", "out of memory");
  return MV_OK;
}

static int
parse_student_init (const pctx *c, json_t *init, mv_problem *pb,
                    json_t *canon)
{
  static const char *const allowed[] = { "kind", "seed", "router_orthogonal",
                                         NULL };
  mv_problem_priv *p = pb->priv;
  int st;
  if ((st = expect_object (c, init, "student.init"))
      || (st = check_keys (c, init, "student.init", allowed)))
    return st;
  json_t *kind = json_object_get (init, "kind");
  if (!kind)
    return perr (c, MV_EPARSE, "student.init.kind", "missing key");
  if (!json_is_string (kind) || strcmp (json_string_value (kind), "gaussian"))
    return perr (c, MV_EINVAL, "student.init.kind", "expected \"gaussian\"");
  unsigned long long seed;
  if ((st = get_int (c, init, "student.init", "seed", 0, MV_SEED_MAX, 1,
                     &seed)))
    return st;
  int orth = 1;
  json_t *ro = json_object_get (init, "router_orthogonal");
  if (ro)
    {
      if (!json_is_boolean (ro))
        return perr (c, MV_EPARSE, "student.init.router_orthogonal",
                     "expected true or false, got %s", json_type_name (ro));
      orth = json_is_true (ro);
    }
  /* In d = 1 the router would be projected to zero. */
  if (orth && pb->d < 2)
    return perr (c, MV_EINVAL, "student.init.router_orthogonal",
                 "needs d >= 2");
  if (!c->both_init && (st = check_size (c, "student.m", pb->m, pb->d)))
    return st;
  /* the vectors themselves are generated on first demand (problem_init.c) */
  p->student_gen = 1;
  p->sseed = (unsigned long) seed;
  p->router_orthogonal = orth;
  json_t *ci = json_pack ("{s:s, s:I, s:b}", "kind", "gaussian", "seed",
                          (json_int_t) seed, "router_orthogonal", orth);
  if (!ci || json_object_set_new (canon, "init", ci))
    return perr (c, MV_ENOMEM, "student.init", "out of memory");
  return MV_OK;
}

/* "teacher" or "student" block. */
static int
parse_agent (const pctx *c, json_t *top, const char *who, mv_problem *pb,
             json_t *spec)
{
  static const char *const allowed[] = { "m", "V", "W", "init", NULL };
  int teacher = !strcmp (who, "teacher");
  json_t *obj = json_object_get (top, who);
  int st;
  if (!obj)
    return perr (c, MV_EPARSE, who, "missing key");
  if ((st = expect_object (c, obj, who))
      || (st = check_keys (c, obj, who, allowed)))
    return st;
  unsigned long long m;
  if ((st = get_int (c, obj, who, "m", 1, MV_PROBLEM_MAX_ENTRIES, 1, &m)))
    return st;
  if (teacher)
    pb->mstar = (size_t) m;
  else
    pb->m = (size_t) m;

  json_t *canon = json_pack ("{s:I}", "m", (json_int_t) m);
  if (!canon || json_object_set_new (spec, who, canon))
    return perr (c, MV_ENOMEM, who, "out of memory");
  json_t *init = json_object_get (obj, "init");
  int has_vw = json_object_get (obj, "V") || json_object_get (obj, "W");
  char path[64];
  snprintf (path, sizeof path, "%s.init", who);
  if (init && has_vw)
    return perr (c, MV_EINVAL, path, "cannot be combined with V/W");
  if (init)
    return teacher ? parse_teacher_init (c, init, pb, canon)
      : parse_student_init (c, init, pb, canon);
  if (!has_vw)
    return perr (c, MV_EPARSE, who, "missing key: give V and W, or init");
  mv_problem_priv *p = pb->priv;
  if (teacher)
    {
      p->teacher_kind = MV_TEACHER_EXPLICIT;
      if ((st = parse_vw (c, obj, who, pb->mstar, pb->d, &p->tV, &p->tW,
                          canon)))
        return st;
      /* the double teacher is simply the entries */
      size_t n = pb->mstar * pb->d;
      if (!(p->tVd = malloc (n * sizeof *p->tVd))
          || !(p->tWd = malloc (n * sizeof *p->tWd)))
        return perr (c, MV_ENOMEM, who, "out of memory");
      memcpy (p->tVd, p->tV.x, n * sizeof *p->tVd);
      memcpy (p->tWd, p->tW.x, n * sizeof *p->tWd);
      return MV_OK;
    }
  return parse_vw (c, obj, who, pb->m, pb->d, &p->sV, &p->sW, canon);
}

/* "regularizers": {"aux", "ortho", "ortho_gated", "var"}, each optional, a
 * finite number >= 0 (default 0).  The canonical spec gets the block only
 * when a coefficient is nonzero, so all-zero specs record as before. */
static int
parse_regularizers (const pctx *c, json_t *root, mv_problem *pb)
{
  static const char *const keys[] = { "aux", "ortho", "ortho_gated", "var", NULL };
  double *dst[] = { &pb->reg.aux, &pb->reg.ortho, &pb->reg.ortho_gated, &pb->reg.var };
  memset (&pb->reg, 0, sizeof pb->reg);
  json_t *rj = json_object_get (root, "regularizers");
  int st;
  if (!rj)
    return MV_OK;
  if ((st = expect_object (c, rj, "regularizers"))
      || (st = check_keys (c, rj, "regularizers", keys)))
    return st;
  int any = 0;
  for (int i = 0; keys[i]; i++)
    {
      char path[64];
      json_t *v = json_object_get (rj, keys[i]);
      subkey (path, sizeof path, "regularizers", keys[i]);
      if (!v)
        continue;
      if (!json_is_number (v))
        return perr (c, MV_EPARSE, path, "expected a number, got %s",
                     json_type_name (v));
      double x = json_number_value (v);
      if (!isfinite (x))
        return perr (c, MV_EINVAL, path, "must be finite, got %g", x);
      if (x < 0)
        return perr (c, MV_EINVAL, path, "must be >= 0 (a penalty weight), got %g", x);
      *dst[i] = x;
      any |= x != 0;
    }
  if (!any)
    return MV_OK;
  json_t *o = json_object ();
  for (int i = 0; o && keys[i]; i++)
    if (json_object_set_new (o, keys[i], json_real (*dst[i])))
      {
        json_decref (o);
        o = NULL;
      }
  if (!o || json_object_set_new (pb->priv->spec, "regularizers", o))
    return perr (c, MV_ENOMEM, "regularizers", "out of memory");
  return MV_OK;
}

static int
parse_doc (pctx *c, json_t *root, mv_problem *pb)
{
  static const char *const allowed[] = { "d", "teacher", "student",
                                         "noise_var", "regularizers",
                                         "comment", NULL };
  int st;
  if ((st = expect_object (c, root, "top level"))
      || (st = check_keys (c, root, "", allowed)))
    return st;
  json_t *cm = json_object_get (root, "comment");
  if (cm && !json_is_string (cm))
    return perr (c, MV_EPARSE, "comment", "expected a string, got %s",
                 json_type_name (cm));
  /* With both agents generated nothing of size d exists until vectors are
   * asked for, so d may be far beyond memory (reduced flow); peek here,
   * the blocks themselves are validated below. */
  json_t *tj = json_object_get (root, "teacher");
  json_t *sj = json_object_get (root, "student");
  c->both_init = json_is_object (tj) && json_object_get (tj, "init")
    && json_is_object (sj) && json_object_get (sj, "init");
  unsigned long long d;
  if ((st = get_int (c, root, "", "d", 1, c->both_init ? MV_PROBLEM_MAX_D_INIT
                     : MV_PROBLEM_MAX_ENTRIES, 1, &d)))
    return st;
  pb->d = (size_t) d;
  pb->noise_var = 0;
  json_t *nv = json_object_get (root, "noise_var");
  if (nv)
    {
      if (!json_is_number (nv))
        return perr (c, MV_EPARSE, "noise_var", "expected a number, got %s",
                     json_type_name (nv));
      pb->noise_var = json_number_value (nv);
      if (!(pb->noise_var >= 0))
        return perr (c, MV_EINVAL, "noise_var", "must be >= 0, got %g",
                     pb->noise_var);
    }
  json_t *spec = pb->priv->spec;
  if (json_object_set_new (spec, "d", json_integer ((json_int_t) d))
      || json_object_set_new (spec, "noise_var", json_real (pb->noise_var)))
    return perr (c, MV_ENOMEM, "d", "out of memory");
  if ((st = parse_agent (c, root, "teacher", pb, spec))
      || (st = parse_agent (c, root, "student", pb, spec))
      || (st = parse_regularizers (c, root, pb)))
    return st;
  return MV_OK;
}

static int
problem_start (mv_problem *pb, const char *name)
{
  mv_init ();
  memset (pb, 0, sizeof *pb);
  pb->name = strdup (name);
  pb->priv = calloc (1, sizeof *pb->priv);
  if (pb->priv)
    pb->priv->spec = json_object ();
  if (!pb->name || !pb->priv || !pb->priv->spec)
    {
      mv_problem_clear (pb);
      return MV_ENOMEM;
    }
  return MV_OK;
}

/* JSON numbers that round to zero in double although a mantissa digit is
 * nonzero ("1e-400"): jansson stores them as 0 without a word, while the
 * same decimal as a string is refused ("outside the double range").  Find
 * the first such number of a document jansson accepted (outside strings,
 * every '-' or digit starts a number) and report it like a syntax error. */
int
mv_json_check_underflow (const char *text, size_t len, const char *name)
{
  int line = 1, col = 0;
  for (size_t i = 0; i < len; i++, col++)
    {
      char ch = text[i];
      if (ch == '\n')
        line++, col = -1;
      else if (ch == '"')
        for (i++, col++; i < len && text[i] != '"'; i++, col++)
          {
            int esc = text[i] == '\\';   /* skip the escaped character */
            i += esc, col += esc;
          }
      else if (ch == '-' || (ch >= '0' && ch <= '9'))
        {
          size_t n = strspn (text + i, "+-0123456789.eE");
          char *tok = malloc (n + 1);
          if (!tok)
            return mv_error_set (MV_ENOMEM, "%s: out of memory", name);
          memcpy (tok, text + i, n);
          tok[n] = '\0';
          int zero = strtod (tok, NULL) == 0 && !decimal_is_zero (tok);
          char shown[64];
          mv_problem_sanitize (shown, sizeof shown, tok);
          free (tok);
          if (zero)
            return mv_error_set (MV_EPARSE, "%s: line %d, column %d: number "
                                 "%s underflows to 0 in double (write 0 if "
                                 "zero is meant)", name, line, col + 1, shown);
          i += n - 1, col += (int) n - 1;
        }
    }
  return MV_OK;
}

static int
parse_buf (mv_problem *pb, const char *text, size_t len, const char *name)
{
  pctx c = { .both_init = 0 };
  mv_problem_sanitize (c.name, sizeof c.name, name ? name : "<string>");
  if (problem_start (pb, name ? name : "<string>"))
    return mv_error_set (MV_ENOMEM, "%s: out of memory", c.name);
  json_error_t jerr;
  json_t *root = json_loadb (text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root)
    {
      char why[160];
      mv_problem_sanitize (why, sizeof why, jerr.text);
      mv_problem_clear (pb);
      return mv_error_set (MV_EPARSE, "%s: line %d, column %d: malformed "
                           "JSON: %s", c.name, jerr.line, jerr.column, why);
    }
  int st = mv_json_check_underflow (text, len, c.name);
  if (!st)
    st = parse_doc (&c, root, pb);
  json_decref (root);
  if (st)
    mv_problem_clear (pb);
  return st;
}

int
mv_problem_parse (mv_problem *pb, const char *text, const char *name)
{
  if (!text)
    {
      memset (pb, 0, sizeof *pb);
      return mv_error_set (MV_EINVAL, "%s: no text to parse",
                           name ? name : "<string>");
    }
  return parse_buf (pb, text, strlen (text), name);
}

int
mv_problem_read (mv_problem *pb, const char *path)
{
  memset (pb, 0, sizeof *pb);
  size_t len;
  char *text;
  int st = mv_io_read_json (&text, &len, path, MV_IO_SPEC_MAX);
  if (st)
    return st;  /* message names the path */
  st = parse_buf (pb, text, len, path);
  free (text);
  return st;
}

/* ------------------------------------------------------------ explicit */

/* Rows of A (rows x d) finite and within the norm rule (check_row_norm);
 * key is e.g. "student.V". */
/* A row that certainly passes: its sum of squares in another order (eight
 * independent sums, several times faster than the one chain) lies far
 * inside [DBL_MIN, DBL_MAX].  Sums of non-negative terms agree to a
 * relative n eps in any order, so the exact check (one chain, below)
 * decides the same; a finite sum also means every entry is finite. */
static int
row_surely_ok (const double *x, size_t n)
{
  double a[8] = { 0 };
  size_t k = 0;
  for (; k + 8 <= n; k += 8)
    for (int j = 0; j < 8; j++)
      a[j] += x[k + j] * x[k + j];
  for (; k < n; k++)
    a[0] += x[k] * x[k];
  double s = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
  return s >= 0x1p-900 && s <= 0x1p900 && n < (1UL << 40);
}

static int
check_rows (const pctx *c, const double *A, size_t rows, size_t d,
            const char *key)
{
  char path[128];
  int st;
  for (size_t i = 0; i < rows; i++)
    {
      if (row_surely_ok (A + i * d, d))
        continue;
      snprintf (path, sizeof path, "%s[%zu]", key, i);
      for (size_t k = 0; k < d; k++)
        if (!isfinite (A[i * d + k]))
          return perr (c, MV_EINVAL, path, "entry %zu is not finite", k);
      if ((st = check_row_norm (c, A + i * d, d, path)))
        return st;
    }
  return MV_OK;
}

static json_t *
matrix_json (const double *A, size_t rows, size_t d)
{
  json_t *arr = json_array ();
  for (size_t i = 0; arr && i < rows; i++)
    {
      json_t *row = json_array ();
      if (!row || json_array_append_new (arr, row))
        {
          json_decref (arr);
          return NULL;
        }
      for (size_t k = 0; k < d; k++)
        if (json_array_append_new (row, json_real (A[i * d + k])))
          {
            json_decref (arr);
            return NULL;
          }
    }
  return arr;
}

static json_t *
agent_json (const double *V, const double *W, size_t m, size_t d)
{
  json_t *o = json_pack ("{s:I, s:o, s:o}", "m", (json_int_t) m,
                         "V", matrix_json (V, m, d), "W", matrix_json (W, m, d));
  return o;
}

static int
entries_from (mv_entries *e, const double *A, size_t rows, size_t d)
{
  if (entries_alloc (e, rows, d))
    return MV_ENOMEM;
  memcpy (e->x, A, rows * d * sizeof *A);
  return MV_OK;
}

int
mv_problem_check_d (size_t d, size_t m, size_t mstar, const double *V,
                    const double *W, const double *Vt, const double *Wt,
                    double noise_var)
{
  pctx c = { .both_init = 0 };
  snprintf (c.name, sizeof c.name, "<arrays>");
  if (d < 1 || m < 1 || mstar < 1)
    return perr (&c, MV_EINVAL, d < 1 ? "d" : m < 1 ? "student.m" : "teacher.m",
                 "must be >= 1");
  if (!V || !W || !Vt || !Wt)
    return perr (&c, MV_EINVAL, !V ? "student.V" : !W ? "student.W"
                 : !Vt ? "teacher.V" : "teacher.W", "NULL array");
  if (!(noise_var >= 0) || isinf (noise_var))
    return perr (&c, MV_EINVAL, "noise_var", "must be finite and >= 0");
  int st;
  if ((st = check_size (&c, "student.m", m, d))
      || (st = check_size (&c, "teacher.m", mstar, d))
      || (st = check_rows (&c, V, m, d, "student.V"))
      || (st = check_rows (&c, W, m, d, "student.W"))
      || (st = check_rows (&c, Vt, mstar, d, "teacher.V"))
      || (st = check_rows (&c, Wt, mstar, d, "teacher.W")))
    return st;
  return MV_OK;
}

int
mv_problem_set_d (mv_problem *pb, size_t d, size_t m, size_t mstar,
                  const double *V, const double *W, const double *Vt,
                  const double *Wt, double noise_var)
{
  pctx c = { .both_init = 0 };
  snprintf (c.name, sizeof c.name, "<arrays>");
  if (problem_start (pb, c.name))
    return mv_error_set (MV_ENOMEM, "%s: out of memory", c.name);
  int st = mv_problem_check_d (d, m, mstar, V, W, Vt, Wt, noise_var);
  if (!st)
    {
      mv_problem_priv *p = pb->priv;
      pb->d = d;
      pb->m = m;
      pb->mstar = mstar;
      pb->noise_var = noise_var;
      p->teacher_kind = MV_TEACHER_EXPLICIT;
      json_t *sj = agent_json (V, W, m, d), *tj = agent_json (Vt, Wt, mstar, d);
      if (entries_from (&p->sV, V, m, d) || entries_from (&p->sW, W, m, d)
          || entries_from (&p->tV, Vt, mstar, d)
          || entries_from (&p->tW, Wt, mstar, d)
          || !(p->tVd = malloc (mstar * d * sizeof *p->tVd))
          || !(p->tWd = malloc (mstar * d * sizeof *p->tWd))
          || !sj || !tj
          || json_object_set_new (p->spec, "d", json_integer ((json_int_t) d))
          || json_object_set_new (p->spec, "noise_var", json_real (noise_var))
          || json_object_set (p->spec, "student", sj)
          || json_object_set (p->spec, "teacher", tj))
        st = perr (&c, MV_ENOMEM, "student", "out of memory");
      else
        {
          memcpy (p->tVd, Vt, mstar * d * sizeof *Vt);
          memcpy (p->tWd, Wt, mstar * d * sizeof *Wt);
        }
      json_decref (sj);
      json_decref (tj);
    }
  if (st)
    mv_problem_clear (pb);
  return st;
}

int
mv_problem_set_student_d (mv_problem *pb, const double *V, const double *W)
{
  pctx c = { .both_init = 0 };
  if (!pb || !pb->priv)
    return mv_error_set (MV_EINVAL, "mv_problem_set_student_d: problem not "
                         "initialised");
  mv_problem_sanitize (c.name, sizeof c.name,
                       pb->name ? pb->name : "<string>");
  if (!V || !W)
    return perr (&c, MV_EINVAL, !V ? "student.V" : "student.W", "NULL array");
  int st;
  if ((st = check_rows (&c, V, pb->m, pb->d, "student.V"))
      || (st = check_rows (&c, W, pb->m, pb->d, "student.W")))
    return st;
  /* Build everything first so a failure leaves pb unchanged. */
  mv_entries nV, nW;
  json_t *sj = agent_json (V, W, pb->m, pb->d);
  if (entries_from (&nV, V, pb->m, pb->d))
    {
      json_decref (sj);
      return perr (&c, MV_ENOMEM, "student", "out of memory");
    }
  if (entries_from (&nW, W, pb->m, pb->d) || !sj
      || json_object_set_new (pb->priv->spec, "student", sj))
    {
      mv_entries_free (&nV);
      mv_entries_free (&nW);
      return perr (&c, MV_ENOMEM, "student", "out of memory");
    }
  mv_entries_free (&pb->priv->sV);
  mv_entries_free (&pb->priv->sW);
  pb->priv->sV = nV;
  pb->priv->sW = nW;
  pb->priv->student_gen = 0;
  return MV_OK;
}

char *
mv_problem_to_json (const mv_problem *pb)
{
  if (!pb || !pb->priv)
    {
      mv_error_set (MV_EINVAL, "mv_problem_to_json: problem not initialised");
      return NULL;
    }
  char *s = json_dumps (pb->priv->spec, JSON_SORT_KEYS | JSON_COMPACT
                        | JSON_REAL_PRECISION (17));
  if (!s)
    mv_error_set (MV_ENOMEM, "%s: out of memory", pb->name);
  return s;
}
