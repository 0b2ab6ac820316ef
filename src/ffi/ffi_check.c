/* Flat entry points (ffi.h): the verifier's calls, as the CLI makes them
 * (src/cli/cmd_sweep.c, cmd_check.c, cmd_regress.c): one sweep task, claim
 * checks with their report, a regression check against a reference file. */
#include <moeverify/ffi.h>
#include <moeverify/check.h>
#include <moeverify/error.h>
#include <moeverify/regress.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
mv_ffi_sweep_task (char **row_json, const mv_sweep *sw, size_t t)
{
  *row_json = NULL;
  mv_sweep_row row;
  int st = mv_sweep_row_init (&row, 0);
  if (!st && !(st = mv_sweep_run_task (&row, sw, t, NULL))
      && !(*row_json = mv_sweep_row_json (sw, &row)))
    st = mv_error_set (MV_ENOMEM, "sweep: out of memory");
  mv_sweep_row_clear (&row);
  return st;
}

/* The next comma-separated name of *p into nm; 0 at the end. */
static int
next_name (const char **p, char *nm, size_t size)
{
  if (!**p)
    return 0;
  size_t l = strcspn (*p, ",");
  snprintf (nm, size, "%.*s", (int) (l < size - 1 ? l : size - 1), *p);
  *p += l + ((*p)[l] == ',');
  return 1;
}

int
mv_ffi_check (int *worst, const char *names, int level, unsigned seeds,
              const char *dir)
{
  mv_init ();
  *worst = MV_CHECK_HOLDS;
  size_t n = 0, cap = 0;
  while (mv_check_type_get (cap))
    cap++;
  const mv_check_type **types = malloc ((cap ? cap : 1) * sizeof *types);
  mv_check_result *res = calloc (cap ? cap : 1, sizeof *res);
  int st = types && res ? MV_OK : mv_error_set (MV_ENOMEM, "check: out of memory");
  char nm[64];
  const char *p = names ? names : "";
  /* unknown names are errors, before anything runs */
  while (!st && next_name (&p, nm, sizeof nm))
    if (!mv_check_find (nm))
      {
        char list[512] = "";
        for (size_t i = 0, len = 0; i < cap && len < sizeof list; i++)
          len += (size_t) snprintf (list + len, sizeof list - len, "%s%s",
                                    i ? ", " : "", mv_check_type_get (i)->name);
        st = mv_error_set (MV_EINVAL, "check: %s: unknown claim (%s)", nm, list);
      }
  /* the named claims (all when none is), in report order */
  for (size_t i = 0; !st && i < cap; i++)
    {
      const mv_check_type *t = mv_check_type_get (i);
      int want = !names || !*names;
      for (p = names ? names : ""; !want && next_name (&p, nm, sizeof nm);)
        want = !strcmp (nm, t->name);
      if (want)
        types[n++] = t;
    }
  mv_check_opts o;
  memset (&o, 0, sizeof o);
  o.level = level, o.seeds = seeds, o.dir = dir;
  size_t done = 0;
  for (; !st && done < n; done++)
    {
      mv_check_result_init (&res[done], types[done]);
      st = mv_check_run (&res[done], types[done], &o);
      if (!st && res[done].verdict > *worst)
        *worst = res[done].verdict;
    }
  mv_check_release ();
  if (!st)
    st = mv_check_report_write (res, n, &o);
  for (size_t i = 0; i < done; i++)
    mv_check_result_clear (&res[i]);
  free (types), free (res);
  return st;
}

/* One compared value as JSON (NULL past nothing: col (size_t) -1). */
static json_t *
dev_json (const mv_regress_file *r, const mv_regress_dev *d)
{
  if (d->col == (size_t) -1)
    return json_null ();
  return json_pack ("{s:I, s:s, s:f, s:f, s:f, s:f, s:f, s:b}", "row", (json_int_t) d->row,
                    "column", mv_regress_column (r, d->col), "t", d->t, "ref", d->ref,
                    "got", d->got, "dev", d->dev, "tol", d->tol, "ok", d->dev <= d->tol);
}

int
mv_ffi_regress (char **result_json, const char *text, const char *name,
                double rtol, double atol)
{
  mv_init ();
  *result_json = NULL;
  mv_regress_file *r = NULL;
  mv_regress_result res;
  memset (&res, 0, sizeof res);
  int st = mv_regress_parse (&r, text, name);
  if (!st)
    st = rtol > 0 ? mv_regress_check_tol (&res, r, rtol, atol)
      : mv_regress_check (&res, r);
  if (st)
    {
      mv_regress_free (r);
      return st;
    }
  static const char *const GROUP[MV_REGRESS_NGROUP] = { "loss", "grad_norm2", "gram" };
  json_t *worst = json_array (), *group = json_object ();
  for (size_t i = 0; worst && i < res.nworst; i++)
    json_array_append_new (worst, dev_json (r, &res.worst[i]));
  for (int g = 0; group && g < MV_REGRESS_NGROUP; g++)
    json_object_set_new (group, GROUP[g], dev_json (r, &res.worst_group[g]));
  json_t *doc = worst && group ? json_pack ("{s:s, s:I, s:I, s:b, s:o, s:o, s:f}",
                                            "reference", mv_regress_name (r),
                                            "values", (json_int_t) res.nvalues,
                                            "violations", (json_int_t) res.nviolations,
                                            "passed", res.nviolations == 0 && res.nvalues > 0,
                                            "worst", worst, "worst_by_group", group,
                                            "wall_seconds", res.wall_seconds) : NULL;
  if (!doc)
    json_decref (worst), json_decref (group);
  mv_regress_free (r);
  if (!doc || !(*result_json = json_dumps (doc, JSON_COMPACT | JSON_REAL_PRECISION (17))))
    st = mv_error_set (MV_ENOMEM, "%s: out of memory", name);
  json_decref (doc);
  return st;
}
