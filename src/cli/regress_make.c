/* moeverify regress --make RECIPE.json -o FILE: a reference file from a
 * recipe, {"description", "spec" (or "spec_file", relative to the recipe),
 * "gram0", "times", "prec", "tol", "fast": {"stepper", "rtol", "atol",
 * optional "flow": "full" (the raw vectors; gram0 "vectors") or "reduced"},
 * "tolerance": {"loss"|"grad_norm2"|"gram": {"rel", "abs"}}}.  The values
 * are the digits on which the MPFR reference runs at (prec, tol) and
 * (2 prec, tol^2) agree (reference.h); the run is deterministic, so the
 * same recipe gives the same file. */
#include "cli.h"

#include <moeverify/moeverify.h>

#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fewer agreed digits than this in any value: the recipe asks too little. */
#define MIN_DIGITS 20

static const char *const GRAM0[] = { "auto", "vectors", "sample" };

/* The spec text of the recipe ("spec" inline or "spec_file" beside it). */
static char *
recipe_spec (json_t *rc, const char *path)
{
  json_t *spec = json_object_get (rc, "spec");
  const char *file = json_string_value (json_object_get (rc, "spec_file"));
  if (spec)
    return json_dumps (spec, JSON_COMPACT | JSON_REAL_PRECISION (17));
  if (!file)
    return mv_error_set (MV_EPARSE, "%s: spec: missing key (or spec_file)", path), NULL;
  char *dup = strdup (path), full[4096];
  snprintf (full, sizeof full, "%s/%s", dup ? dirname (dup) : ".", file);
  free (dup);
  size_t len;
  return mv_io_read_file (full, &len);
}

/* The values table (rows x columns) as pointers into ag. */
static int
fill_values (const char **t, char (*tbuf)[32], const char **v, const mv_ref_agreed *ag,
             const mv_ref_traj *b, const char *path)
{
  size_t m = b->m, ms = b->mstar, n = b->n, ng = mv_traj_gram_columns (m, ms, NULL);
  size_t nc = 2 + ng, nv = b->nvar, kl[2 * 4096];
  if (ng > 4096)
    return mv_error_set (MV_EINVAL, "%s: too many Gram entries for a reference", path);
  mv_traj_gram_columns (m, ms, kl);
  for (size_t r = 0; r < ag->rows; r++)
    {
      snprintf (tbuf[r], 32, "%.17g", b->t[r]), t[r] = tbuf[r];
      for (size_t c = 0; c < nc; c++)
        {
          size_t q = mv_cli_ref_column_q (c, kl, n, nv);
          int dg = ag->digits[r * ag->nq + q];
          const char *s = mv_ref_agreed_str (ag, r, q);
          /* exact zeros are kept; otherwise too few digits (e.g. a value
           * within the runs' difference of a power of ten) is an error */
          if (dg < MIN_DIGITS && !mpfr_zero_p (mv_ref_traj_get (b, r, q)))
            return mv_error_set (MV_ENOCONV, "%s: only %d digits agreed at t = %g (column %zu); "
                                 "raise prec or lower tol", path, dg, b->t[r], c);
          v[r * nc + c] = s;
        }
    }
  return MV_OK;
}

static double
num (json_t *o, const char *key, double def)
{
  json_t *v = json_object_get (o, key);
  return json_is_number (v) ? json_number_value (v) : def;
}

/* The recipe's parameters: gram0, times, fast path, tolerances. */
static int
recipe_params (mv_regress_data *d, mv_ref_params *p, double **times, json_t *rc,
               const char *path)
{
  const char *g0 = json_string_value (json_object_get (rc, "gram0"));
  d->gram0 = -1;
  for (int k = 0; k < 3; k++)
    if (g0 && !strcmp (g0, GRAM0[k]))
      d->gram0 = k;
  json_t *tm = json_object_get (rc, "times"), *fast = json_object_get (rc, "fast");
  json_t *tol = json_object_get (rc, "tolerance");
  size_t nt = json_array_size (tm);
  if (d->gram0 < 0 || !nt || !json_is_object (fast) || !json_is_object (tol))
    return mv_error_set (MV_EPARSE, "%s: needs gram0 (auto, vectors, sample), times (a "
                         "non-empty list), fast and tolerance objects", path);
  if (!(*times = malloc (nt * sizeof **times)))
    return mv_error_set (MV_ENOMEM, "%s: out of memory", path);
  for (size_t k = 0; k < nt; k++)
    (*times)[k] = json_number_value (json_array_get (tm, k));
  mv_ref_params_default (p);
  p->prec = (mpfr_prec_t) num (rc, "prec", (double) p->prec);
  p->tol = num (rc, "tol", p->tol);
  p->times = *times, p->n_times = nt;
  d->description = json_string_value (json_object_get (rc, "description"));
  d->stepper = json_string_value (json_object_get (fast, "stepper"));
  const char *flow = json_string_value (json_object_get (fast, "flow"));
  d->full = flow && !strcmp (flow, "full");
  if (json_object_get (fast, "flow") && (!flow || (!d->full && strcmp (flow, "reduced"))))
    return mv_error_set (MV_EPARSE, "%s: fast.flow: expected \"full\" or \"reduced\"", path);
  if (d->full && d->gram0 != MV_GRAM0_VECTORS)
    return mv_error_set (MV_EPARSE, "%s: gram0: the full flow starts from the vectors "
                         "(\"vectors\")", path);
  d->rtol = num (fast, "rtol", NAN), d->atol = num (fast, "atol", NAN);
  static const char *const G[MV_REGRESS_NGROUP] = { "loss", "grad_norm2", "gram" };
  for (int g = 0; g < MV_REGRESS_NGROUP; g++)
    d->tol[g].rel = num (json_object_get (tol, G[g]), "rel", NAN),
    d->tol[g].abs = num (json_object_get (tol, G[g]), "abs", NAN);
  return MV_OK;
}

/* The values printed faithfully rounded (reference.h): what the rule says
 * and where it applied; absent when truncation served every value. */
static json_t *
faithful_json (const mv_ref_traj *b, const mv_ref_agreed *ag)
{
  json_t *list = json_array ();
  char name[64], t[32];
  for (size_t r = 0; r < ag->rows; r++)
    for (size_t q = 0; q < ag->nq; q++)
      if (ag->faithful[r * ag->nq + q])
        {
          mv_ref_quantity_name (name, sizeof name, q, b->m, b->mstar);
          snprintf (t, sizeof t, "%.17g", b->t[r]);
          json_array_append_new (list, json_pack ("{s:s, s:s, s:i}", "t", t, "quantity", name,
                                                  "digits", ag->digits[r * ag->nq + q]));
        }
  return json_pack ("{s:s, s:o}", "rule", "fewer than 20 truncated digits: the confirming "
                    "run rounded to nearest, every value within 2|a-b| of it within one unit "
                    "of the last digit printed", "values", list);
}

/* How the values were made (reproducible: no wall times). */
static char *
how_json (const mv_ref_traj *a, const mv_ref_traj *b, const mv_ref_agreed *ag)
{
  json_t *doc = json_pack ("{s:s, s:s, s:{s:I, s:f, s:I, s:I}, s:{s:I, s:f, s:I, s:I}, s:i}",
                           "method", b->system->method, "digit_rule", "digits of the confirming "
                           "run shared by every value within 2|a-b| of it, truncated toward zero",
                           "run", "prec", (json_int_t) a->prec, "tol", a->tol, "steps",
                           (json_int_t) a->steps, "rhs_evals", (json_int_t) a->rhs_evals,
                           "confirming_run", "prec", (json_int_t) b->prec, "tol", b->tol,
                           "steps", (json_int_t) b->steps, "rhs_evals",
                           (json_int_t) b->rhs_evals, "min_digits", ag->min_digits);
  if (doc && ag->nfaithful)
    json_object_set_new (doc, "faithful", faithful_json (b, ag));
  char *s = doc ? json_dumps (doc, JSON_COMPACT | JSON_REAL_PRECISION (17)) : NULL;
  json_decref (doc);
  return s;
}

/* The reference runs of the recipe and the file's text. */
static char *
make_text (json_t *rc, const char *path, const char *out)
{
  mv_regress_data d;
  mv_ref_params p;
  memset (&d, 0, sizeof d);
  double *times = NULL, *G = NULL, *nr = NULL;
  char *spec = recipe_spec (rc, path), *how = NULL, *text = NULL, (*tbuf)[32] = NULL;
  const char **t = NULL, **v = NULL;
  mv_problem pb;
  int s = !spec ? MV_EIO : mv_problem_parse (&pb, spec, path);
  int have_pb = !s;
  mv_ref_traj a, b;
  mv_ref_agreed ag;
  memset (&a, 0, sizeof a), memset (&b, 0, sizeof b), memset (&ag, 0, sizeof ag);
  if (!s)
    s = recipe_params (&d, &p, &times, rc, path);
  size_t n = have_pb ? 2 * (pb.m + pb.mstar) : 0, rows = p.n_times + 1;
  size_t nc = have_pb ? 2 + mv_traj_gram_columns (pb.m, pb.mstar, NULL) : 0;
  if (!s && (!(G = malloc (n * n * sizeof *G)) || !(nr = malloc (n * sizeof *nr))
             || !(tbuf = malloc (rows * sizeof *tbuf)) || !(t = malloc (rows * sizeof *t))
             || !(v = malloc (rows * nc * sizeof *v))))
    s = mv_error_set (MV_ENOMEM, "%s: out of memory", path);
  if (!s)
    s = mv_flow_gram0 (G, nr, NULL, 0, &pb, d.gram0);
  const mv_ref_system_type *type = d.full ? mv_ref_system_full : mv_ref_system_reduced;
  mv_ref_input in;
  double *vec = NULL;
  if (!s)
    s = mv_cli_ref_input (&in, &vec, G, nr, &pb, type);
  if (!s)
    s = mv_ref_confirmed (&a, &b, &ag, type, &in, &p);
  if (!s)
    s = fill_values (t, tbuf, v, &ag, &b, path);
  if (!s && !(how = how_json (&a, &b, &ag)))
    s = mv_error_set (MV_ENOMEM, "%s: out of memory", path);
  if (!s)
    {
      d.spec_json = spec, d.reference_json = how, d.nrows = ag.rows, d.t = t, d.values = v;
      text = mv_regress_format (&d, out);
    }
  mv_ref_traj_clear (&a), mv_ref_traj_clear (&b), mv_ref_agreed_clear (&ag);
  if (have_pb)
    mv_problem_clear (&pb);
  free (spec), free (how), free (times), free (G), free (nr), free (tbuf), free (t), free (v);
  free (vec);
  return text;
}

int
mv_cli_regress_make (const char *recipe, const char *out)
{
  json_error_t e;
  json_t *rc = json_load_file (recipe, 0, &e);
  if (!json_is_object (rc))
    {
      json_decref (rc);
      mv_cli_error ("%s: not a JSON object (%s, line %d)", recipe, e.text, e.line);
      return MV_EXIT_USAGE;
    }
  char *text = make_text (rc, recipe, out);
  json_decref (rc);
  if (!text)
    return mv_cli_lib_error (), MV_EXIT_FAIL;
  size_t len = strlen (text);
  char *line = realloc (text, len + 2);
  if (line)
    text = line, memcpy (text + len, "\n", 2), len++;
  int s = line ? mv_io_write_atomic (out, text, len) : MV_ENOMEM;
  free (text);
  if (s)
    return mv_cli_lib_error (), MV_EXIT_FAIL;
  printf ("reference written to %s\n", out);
  return MV_EXIT_OK;
}
