/* Reference files (regress.h): parsing with a one-line error per problem,
 * and the checksum. */
#include "regress/regress_priv.h"

#include <moeverify/error.h>
#include <moeverify/problem.h>
#include <moeverify/moeverify.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const GRAM0[] = { "auto", "vectors", "sample" };
static const char *const GROUP[MV_REGRESS_NGROUP] = { "loss", "grad_norm2", "gram" };

/* "NAME: KEY: message" (returns status). */
static int
ref_err (const mv_regress_file *r, int status, const char *key, const char *msg)
{
  return mv_error_set (status, "%s: %s: %s", r->name, key, msg);
}

int
mv_regress_checksum (char out[32], const char *text)
{
  json_error_t e;
  json_t *doc = json_loads (text, 0, &e);
  if (!json_is_object (doc))
    {
      json_decref (doc);
      return mv_error_set (MV_EPARSE, "not a JSON object");
    }
  json_object_del (doc, "checksum");
  char *c = json_dumps (doc, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION (17));
  json_decref (doc);
  if (!c)
    return mv_error_set (MV_ENOMEM, "out of memory");
  uint64_t h = 14695981039346656037ULL;   /* FNV-1a offset basis, prime 2^40 + 435 */
  for (const unsigned char *p = (const unsigned char *) c; *p; p++)
    h = (h ^ *p) * 1099511628211ULL;
  free (c);
  snprintf (out, 32, "fnv1a64:%016llx", (unsigned long long) h);
  return MV_OK;
}

/* A finite decimal number written as a string (digits, sign, point,
 * exponent only: no "nan", no hex). */
static int
decimal (const char *s, double *x)
{
  if (!s || !*s || strspn (s, "0123456789+-.eE") != strlen (s))
    return 0;
  char *end;
  *x = strtod (s, &end);
  return *end == '\0' && isfinite (*x);
}

static int
get_number (const mv_regress_file *r, json_t *obj, const char *key, const char *where, double lo,
            double *x)
{
  json_t *v = json_object_get (obj, key);
  char k[96];
  snprintf (k, sizeof k, "%s%s", where, key);
  if (!json_is_number (v))
    return ref_err (r, MV_EPARSE, k, v ? "expected a number" : "missing key");
  *x = json_number_value (v);
  if (!(*x >= lo) || !isfinite (*x))
    return ref_err (r, MV_EINVAL, k, "out of range");
  return MV_OK;
}

/* spec, gram0, fast path, tolerances. */
static int
parse_head (mv_regress_file *r, json_t *doc)
{
  const char *fmt = json_string_value (json_object_get (doc, "format"));
  if (!fmt || strcmp (fmt, MV_REGRESS_FORMAT))
    return ref_err (r, MV_EPARSE, "format", "expected \"" MV_REGRESS_FORMAT "\"");
  json_t *spec = json_object_get (doc, "spec");
  if (!json_is_object (spec))
    return ref_err (r, MV_EPARSE, "spec", spec ? "expected an object" : "missing key");
  if (!(r->spec_json = json_dumps (spec, JSON_COMPACT | JSON_REAL_PRECISION (17))))
    return mv_error_set (MV_ENOMEM, "%s: out of memory", r->name);
  mv_problem pb;
  char sname[MV_NAME_MAX + 16];
  snprintf (sname, sizeof sname, "%s: spec", r->name);
  int s = mv_problem_parse (&pb, r->spec_json, sname);
  if (s)
    return s;
  r->m = pb.m, r->mstar = pb.mstar;
  mv_problem_clear (&pb);
  const char *g0 = json_string_value (json_object_get (doc, "gram0"));
  r->gram0 = -1;
  for (int k = 0; g0 && k < 3; k++)
    if (!strcmp (g0, GRAM0[k]))
      r->gram0 = k;
  if (r->gram0 < 0)
    return ref_err (r, MV_EPARSE, "gram0", "expected \"auto\", \"vectors\" or \"sample\"");
  json_t *fast = json_object_get (doc, "fast");
  const char *st = json_string_value (json_object_get (fast, "stepper"));
  if (!st || mv_flow_stepper_find (st, NULL))
    return ref_err (r, MV_EPARSE, "fast.stepper", "expected a stepper name");
  snprintf (r->stepper, sizeof r->stepper, "%s", st);
  json_t *fl = json_object_get (fast, "flow");
  const char *flow = json_string_value (fl);
  if (fl && (!flow || (strcmp (flow, "full") && strcmp (flow, "reduced"))))
    return ref_err (r, MV_EPARSE, "fast.flow", "expected \"full\" or \"reduced\"");
  r->full = flow && !strcmp (flow, "full");
  if ((s = get_number (r, fast, "rtol", "fast.", 1e-300, &r->rtol))
      || (s = get_number (r, fast, "atol", "fast.", 1e-300, &r->atol)))
    return s;
  json_t *tol = json_object_get (doc, "tolerance");
  for (int g = 0; g < MV_REGRESS_NGROUP; g++)
    {
      char where[64];
      snprintf (where, sizeof where, "tolerance.%s.", GROUP[g]);
      json_t *tg = json_object_get (tol, GROUP[g]);
      if ((s = get_number (r, tg, "rel", where, 0, &r->tol[g].rel))
          || (s = get_number (r, tg, "abs", where, 0, &r->tol[g].abs)))
        return s;
    }
  return MV_OK;
}

/* "columns": exactly loss, grad_norm2 and the spec's Gram columns. */
static int
parse_columns (mv_regress_file *r, json_t *doc)
{
  json_t *cols = json_object_get (doc, "columns");
  size_t ng = mv_traj_gram_columns (r->m, r->mstar, NULL);
  r->ncols = 2 + ng;
  if (!json_is_array (cols) || json_array_size (cols) != r->ncols)
    {
      char msg[96];
      snprintf (msg, sizeof msg, "expected %zu names (loss, grad_norm2, the Gram columns)",
                r->ncols);
      return ref_err (r, MV_EPARSE, "columns", msg);
    }
  size_t *kl = malloc (2 * ng * sizeof *kl);
  if (!kl || !(r->cols = calloc (r->ncols, sizeof *r->cols)) || !(r->kl = kl))
    {
      free (kl);
      return mv_error_set (MV_ENOMEM, "%s: out of memory", r->name);
    }
  mv_traj_gram_columns (r->m, r->mstar, kl);
  for (size_t c = 0; c < r->ncols; c++)
    {
      char want[64];
      if (c < 2)
        snprintf (want, sizeof want, "%s", c ? "grad_norm2" : "loss");
      else
        mv_traj_gram_column_name (want, sizeof want, kl[2 * (c - 2)], kl[2 * (c - 2) + 1],
                                  r->m, r->mstar);
      const char *got = json_string_value (json_array_get (cols, c));
      if (!got || strcmp (got, want))
        {
          char key[64], msg[128];
          snprintf (key, sizeof key, "columns[%zu]", c);
          snprintf (msg, sizeof msg, "expected \"%s\"", want);
          return ref_err (r, MV_EPARSE, key, msg);
        }
      if (!(r->cols[c] = strdup (want)))
        return mv_error_set (MV_ENOMEM, "%s: out of memory", r->name);
    }
  return MV_OK;
}

/* "rows": [{"t": "0", "values": [...]}, ...], t ascending from 0. */
static int
parse_rows (mv_regress_file *r, json_t *doc)
{
  json_t *rows = json_object_get (doc, "rows"), *row;
  size_t n = json_array_size (rows), i;
  if (!n)
    return ref_err (r, MV_EPARSE, "rows", "expected a non-empty list");
  r->t = malloc (n * sizeof *r->t);
  r->val = malloc (n * r->ncols * sizeof *r->val);
  if (!r->t || !r->val)
    return mv_error_set (MV_ENOMEM, "%s: out of memory", r->name);
  json_array_foreach (rows, i, row)
    {
      char key[96];
      json_t *v = json_object_get (row, "values");
      snprintf (key, sizeof key, "rows[%zu].t", i);
      if (!decimal (json_string_value (json_object_get (row, "t")), &r->t[i])
          || (i ? !(r->t[i] > r->t[i - 1]) : r->t[i] != 0))
        return ref_err (r, MV_EPARSE, key, i ? "expected a decimal string above the "
                        "previous time" : "expected \"0\" (the first row is t = 0)");
      snprintf (key, sizeof key, "rows[%zu].values", i);
      if (json_array_size (v) != r->ncols)
        return ref_err (r, MV_EPARSE, key, "wrong number of values (one per column)");
      for (size_t c = 0; c < r->ncols; c++)
        if (!decimal (json_string_value (json_array_get (v, c)), &r->val[i * r->ncols + c]))
          {
            snprintf (key, sizeof key, "rows[%zu].values[%zu] (%s)", i, c, r->cols[c]);
            return ref_err (r, MV_EPARSE, key, "expected a finite decimal string");
          }
    }
  r->nrows = n;
  return MV_OK;
}

static int
parse_checksum (mv_regress_file *r, json_t *doc, const char *text)
{
  const char *stored = json_string_value (json_object_get (doc, "checksum"));
  char sum[32];
  int s = mv_regress_checksum (sum, text);
  if (s)
    return s;
  if (!stored)
    return ref_err (r, MV_EPARSE, "checksum", "missing key");
  if (strcmp (stored, sum))
    {
      char msg[160];
      snprintf (msg, sizeof msg, "does not match the contents (stored %.40s, computed %s): "
                "the file was changed or cut", stored, sum);
      return ref_err (r, MV_EPARSE, "checksum", msg);
    }
  return MV_OK;
}

int
mv_regress_parse (mv_regress_file **ref, const char *text, const char *name)
{
  *ref = NULL;
  mv_regress_file *r = calloc (1, sizeof *r);
  if (!r)
    return mv_error_set (MV_ENOMEM, "%s: out of memory", name);
  mv_problem_sanitize (r->name, sizeof r->name, name);
  json_error_t e;
  json_t *doc = json_loads (text, 0, &e);
  int s = !json_is_object (doc)
    ? mv_error_set (MV_EPARSE, "%s: not a JSON object (%s, line %d; truncated?)", r->name,
                    e.text, e.line) : MV_OK;
  if (!s)
    s = mv_json_check_underflow (text, strlen (text), r->name);
  if (!s)
    s = parse_checksum (r, doc, text);
  if (!s)
    s = parse_head (r, doc);
  if (!s)
    s = parse_columns (r, doc);
  if (!s)
    s = parse_rows (r, doc);
  json_decref (doc);
  if (s)
    mv_regress_free (r);
  else
    *ref = r;
  return s;
}

void
mv_regress_free (mv_regress_file *r)
{
  if (!r)
    return;
  for (size_t c = 0; r->cols && c < r->ncols; c++)
    free (r->cols[c]);
  free (r->cols), free (r->kl), free (r->spec_json), free (r->t), free (r->val);
  free (r);
}

size_t mv_regress_nrows (const mv_regress_file *r) { return r->nrows; }
size_t mv_regress_ncols (const mv_regress_file *r) { return r->ncols; }
const char *mv_regress_name (const mv_regress_file *r) { return r->name; }

const char *
mv_regress_column (const mv_regress_file *r, size_t c)
{
  return c < r->ncols ? r->cols[c] : NULL;
}

static json_t *
string_array (const char *const *v, size_t n)
{
  json_t *a = json_array ();
  for (size_t k = 0; a && k < n; k++)
    if (json_array_append_new (a, json_string (v[k])))
      {
        json_decref (a);
        return NULL;
      }
  return a;
}

/* "columns" and "rows" of d. */
static int
format_rows (json_t *doc, const mv_regress_data *d, size_t m, size_t ms)
{
  size_t ng = mv_traj_gram_columns (m, ms, NULL), nc = 2 + ng;
  size_t *kl = malloc (2 * ng * sizeof *kl);
  json_t *cols = json_array (), *rows = json_array ();
  int ok = kl && cols && rows;
  if (ok)
    mv_traj_gram_columns (m, ms, kl);
  for (size_t c = 0; ok && c < nc; c++)
    {
      char name[64] = "loss";
      if (c == 1)
        snprintf (name, sizeof name, "grad_norm2");
      else if (c > 1)
        mv_traj_gram_column_name (name, sizeof name, kl[2 * (c - 2)], kl[2 * (c - 2) + 1], m, ms);
      ok = !json_array_append_new (cols, json_string (name));
    }
  for (size_t i = 0; ok && i < d->nrows; i++)
    ok = !json_array_append_new (rows, json_pack ("{s:s, s:o}", "t", d->t[i], "values",
                                                  string_array (d->values + i * nc, nc)));
  free (kl);
  ok = ok && !json_object_set_new (doc, "columns", cols) && !json_object_set_new (doc, "rows", rows);
  return ok ? MV_OK : mv_error_set (MV_ENOMEM, "reference: out of memory");
}

char *
mv_regress_format (const mv_regress_data *d, const char *name)
{
  mv_problem pb;
  int s = mv_problem_parse (&pb, d->spec_json, name);
  if (s)
    return NULL;
  size_t m = pb.m, ms = pb.mstar;
  mv_problem_clear (&pb);
  json_error_t e;
  json_t *spec = json_loads (d->spec_json, 0, &e), *how = json_loads (d->reference_json, 0, &e);
  json_t *doc = json_pack ("{s:s, s:s, s:s, s:o, s:s, s:o, s:{s:s, s:f, s:f}}",
                           "format", MV_REGRESS_FORMAT, "description", d->description ? d->description : "",
                           "tool", "moeverify " MV_VERSION_STRING, "spec", spec,
                           "gram0", GRAM0[d->gram0 >= 0 && d->gram0 < 3 ? d->gram0 : 0],
                           "reference", how, "fast", "stepper", d->stepper, "rtol", d->rtol,
                           "atol", d->atol);
  if (doc && d->full)     /* absent: reduced (the files made before) */
    json_object_set_new (json_object_get (doc, "fast"), "flow", json_string ("full"));
  json_t *tol = json_object ();
  for (int g = 0; doc && tol && g < MV_REGRESS_NGROUP; g++)
    json_object_set_new (tol, GROUP[g], json_pack ("{s:f, s:f}", "rel", d->tol[g].rel, "abs",
                                                   d->tol[g].abs));
  char *text = NULL, sum[32];
  s = !doc || !tol ? mv_error_set (MV_EPARSE, "%s: spec or reference is not JSON", name)
      : (json_object_set_new (doc, "tolerance", tol), tol = NULL, format_rows (doc, d, m, ms));
  if (!s && !(text = json_dumps (doc, JSON_INDENT (1) | JSON_REAL_PRECISION (17))))
    s = mv_error_set (MV_ENOMEM, "%s: out of memory", name);
  if (!s && !(s = mv_regress_checksum (sum, text)))
    {
      json_object_set_new (doc, "checksum", json_string (sum));
      free (text);
      text = json_dumps (doc, JSON_INDENT (1) | JSON_REAL_PRECISION (17));
    }
  json_decref (doc), json_decref (tol);
  mv_regress_file *back = NULL;   /* what is written must read back */
  if (text && mv_regress_parse (&back, text, name))
    free (text), text = NULL;
  mv_regress_free (back);
  return text;
}
