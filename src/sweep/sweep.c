/* Parameter sweeps: parsing and validation of a sweep file (base spec,
 * grid axes), task expansion and task specs.  The "run" block is read in
 * sweep_run.c, tasks are run in sweep_task.c, rows formatted in
 * sweep_format.c.
 *
 * Axis order is the order of the keys in "grid" as written in the file
 * (jansson >= 2.8 iterates objects in insertion order); task t is the
 * row-major index over the axes, axis 0 varying slowest.
 *
 * Validation before any task: the base alone, and every axis value applied
 * alone to the base, must give a valid spec.  Combinations are not all
 * parsed (that would cost the whole sweep up front): a combination that
 * is invalid although each of its values is valid alone fails at run time
 * as a failed row with the parser's message. */
#include "sweep/sweep_priv.h"
#include "spec/problem_priv.h"

#include <moeverify/error.h>
#include <moeverify/problem.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The name the sweep gives the parser, stripped off its messages. */
#define SPEC_NAME "spec"

int
mv_sweep_err (const mv_sweep *sw, int status, const char *key,
              const char *fmt, ...)
{
  char msg[512];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  return mv_error_set (status, "%s: %s: %s", sw->name, key, msg);
}

/* The parser's message for a spec named SPEC_NAME, without that name. */
static const char *
spec_message (void)
{
  const char *m = mv_error_message ();
  size_t k = strlen (SPEC_NAME);
  if (!strncmp (m, SPEC_NAME ": ", k + 2))
    m += k + 2;
  return m;
}

static void
axis_free (mv_sweep_axis *ax)
{
  for (size_t k = 0; ax->text && k < ax->n; k++)
    free (ax->text[k]);
  free (ax->text);
  for (size_t k = 0; ax->parts && k < ax->nparts; k++)
    free (ax->parts[k]);
  free (ax->parts);
  free (ax->path);
  json_decref (ax->values);
}

void
mv_sweep_free (mv_sweep *sw)
{
  if (!sw)
    return;
  for (size_t a = 0; sw->axes && a < sw->naxes; a++)
    axis_free (&sw->axes[a]);
  free (sw->axes);
  json_decref (sw->base);
  free (sw->times);
  free (sw);
}

int
mv_sweep_set_path (json_t *root, const mv_sweep_axis *ax, json_t *value)
{
  json_t *obj = root;
  for (size_t k = 0; k + 1 < ax->nparts; k++)
    {
      obj = json_object_get (obj, ax->parts[k]);
      if (!json_is_object (obj))
        return MV_EINVAL;
    }
  if (json_object_set (obj, ax->parts[ax->nparts - 1], value))
    return MV_ENOMEM;
  return MV_OK;
}

/* Split the dotted path into parts; an empty part is an unknown path. */
static int
axis_split (mv_sweep *sw, mv_sweep_axis *ax, const char *key)
{
  if (!(ax->path = strdup (key)))
    return mv_error_set (MV_ENOMEM, "%s: out of memory", sw->name);
  size_t n = 1;
  for (const char *c = key; *c; c++)
    n += *c == '.';
  if (!(ax->parts = calloc (n, sizeof *ax->parts)))
    return mv_error_set (MV_ENOMEM, "%s: out of memory", sw->name);
  const char *c = key;
  for (size_t k = 0; k < n; k++)
    {
      size_t len = strcspn (c, ".");
      if (!(ax->parts[k] = strndup (c, len)))
        return mv_error_set (MV_ENOMEM, "%s: out of memory", sw->name);
      ax->nparts = k + 1;
      if (len == 0)
        return MV_EINVAL;
      c += len + 1;
    }
  return MV_OK;
}

/* An integer of a range object into *out. */
static int
range_int (mv_sweep *sw, json_t *obj, const char *gkey, const char *key,
           int required, json_int_t *out)
{
  json_t *v = json_object_get (obj, key);
  if (!v && !required)
    return MV_OK;
  if (!json_is_integer (v))
    return mv_sweep_err (sw, MV_EPARSE, gkey, "range: \"%s\" must be an "
                         "integer", key);
  *out = json_integer_value (v);
  return MV_OK;
}

/* {"from": a, "to": b, "step": s} into an array of integers; the count is
 * checked against max_tasks before anything is allocated. */
static int
axis_range (mv_sweep *sw, mv_sweep_axis *ax, json_t *r, const char *gkey)
{
  const char *key;
  json_t *v;
  json_object_foreach (r, key, v)
    if (strcmp (key, "from") && strcmp (key, "to") && strcmp (key, "step"))
      return mv_sweep_err (sw, MV_EPARSE, gkey, "range: unknown key \"%s\" "
                           "(from, to, step)", key);
  json_int_t a = 0, b = 0, s = 1;
  int st;
  if ((st = range_int (sw, r, gkey, "from", 1, &a))
      || (st = range_int (sw, r, gkey, "to", 1, &b))
      || (st = range_int (sw, r, gkey, "step", 0, &s)))
    return st;
  if (a > b)
    return mv_sweep_err (sw, MV_EINVAL, gkey, "range: from %lld > to %lld",
                         (long long) a, (long long) b);
  if (s < 1)
    return mv_sweep_err (sw, MV_EINVAL, gkey, "range: step %lld must be "
                         ">= 1", (long long) s);
  /* b - a may overflow json_int_t: count in unsigned */
  uint64_t span = (uint64_t) b - (uint64_t) a;
  uint64_t n = span / (uint64_t) s + 1;
  if (n > sw->max_tasks)
    return mv_sweep_err (sw, MV_EINVAL, gkey, "%llu values: more than "
                         "max_tasks = %zu tasks (raise \"max_tasks\")",
                         (unsigned long long) n, sw->max_tasks);
  if (!(ax->values = json_array ()))
    return mv_error_set (MV_ENOMEM, "%s: out of memory", sw->name);
  for (uint64_t k = 0; k < n; k++)
    if (json_array_append_new (ax->values, json_integer ((json_int_t)
                                                         ((uint64_t) a + k * (uint64_t) s))))
      return mv_error_set (MV_ENOMEM, "%s: out of memory", sw->name);
  return MV_OK;
}

/* Values of one axis (array or range) and their compact texts. */
static int
axis_values (mv_sweep *sw, mv_sweep_axis *ax, json_t *v, const char *gkey)
{
  int st;
  if (json_is_array (v))
    ax->values = json_incref (v);
  else if (json_is_object (v))
    {
      if ((st = axis_range (sw, ax, v, gkey)))
        return st;
    }
  else
    return mv_sweep_err (sw, MV_EPARSE, gkey, "expected a list of values or "
                         "{\"from\": a, \"to\": b, \"step\": s}");
  ax->n = json_array_size (ax->values);
  if (ax->n == 0)
    return mv_sweep_err (sw, MV_EINVAL, gkey, "empty list");
  if (!(ax->text = calloc (ax->n, sizeof *ax->text)))
    return mv_error_set (MV_ENOMEM, "%s: out of memory", sw->name);
  for (size_t k = 0; k < ax->n; k++)
    if (!(ax->text[k] = json_dumps (json_array_get (ax->values, k),
                                    JSON_COMPACT | JSON_ENCODE_ANY
                                    | JSON_PRESERVE_ORDER
                                    | JSON_REAL_PRECISION (17))))
      return mv_error_set (MV_ENOMEM, "%s: out of memory", sw->name);
  return MV_OK;
}

/* Both agents are init blocks (G(0) can be sampled without vectors). */
static int
both_init (json_t *spec)
{
  json_t *t = json_object_get (spec, "teacher");
  json_t *s = json_object_get (spec, "student");
  return json_is_object (t) && json_object_get (t, "init")
    && json_is_object (s) && json_object_get (s, "init");
}

/* Parse doc as a spec; *mstar its m*.  MV_OK or the parser's status. */
static int
check_spec (json_t *doc, size_t *mstar)
{
  char *text = json_dumps (doc, JSON_COMPACT | JSON_PRESERVE_ORDER
                           | JSON_REAL_PRECISION (17));
  if (!text)
    return mv_error_set (MV_ENOMEM, "out of memory");
  mv_problem pb;
  int st = mv_problem_parse (&pb, text, SPEC_NAME);
  free (text);
  if (!st)
    {
      *mstar = pb.mstar;
      mv_problem_clear (&pb);
    }
  return st;
}

/* Every value of axis a applied alone to the base gives a valid spec. */
static int
axis_validate (mv_sweep *sw, size_t a, int sample_gram)
{
  const mv_sweep_axis *ax = &sw->axes[a];
  char gkey[300];
  char shown[96];
  snprintf (gkey, sizeof gkey, "grid.%s", ax->path);
  for (size_t k = 0; k < ax->n; k++)
    {
      json_t *doc = json_deep_copy (sw->base);
      if (!doc)
        return mv_error_set (MV_ENOMEM, "%s: out of memory", sw->name);
      int st = mv_sweep_set_path (doc, ax, json_array_get (ax->values, k));
      size_t mstar = 0;
      if (st == MV_EINVAL)
        {
          json_decref (doc);
          return mv_sweep_err (sw, MV_EINVAL, gkey, "unknown path (%s is not "
                               "an object of the base spec)", ax->path);
        }
      if (!st)
        st = check_spec (doc, &mstar);
      int sampled = both_init (doc);
      json_decref (doc);
      if (st == MV_ENOMEM)
        return st;
      mv_problem_sanitize (shown, sizeof shown, ax->text[k]);
      if (st)
        {
          char unknown[320];
          snprintf (unknown, sizeof unknown, "%s: unknown key", ax->path);
          if (!strcmp (spec_message (), unknown))
            return mv_sweep_err (sw, MV_EINVAL, gkey, "unknown path");
          return mv_sweep_err (sw, st, gkey, "value %s makes the spec "
                               "invalid: %s", shown, spec_message ());
        }
      if (sample_gram && !sampled)
        return mv_sweep_err (sw, MV_EINVAL, gkey, "value %s replaces an init "
                             "block, so G(0) cannot be sampled: set "
                             "run.gram0", shown);
      if (mstar > sw->mstar_max)
        sw->mstar_max = mstar;
    }
  return MV_OK;
}

/* Read the grid object into the axes (in file order). */
static int
parse_grid (mv_sweep *sw, json_t *grid)
{
  if (!json_is_object (grid))
    return mv_sweep_err (sw, MV_EPARSE, "grid", "expected an object");
  size_t n = json_object_size (grid);
  if (n && !(sw->axes = calloc (n, sizeof *sw->axes)))
    return mv_error_set (MV_ENOMEM, "%s: out of memory", sw->name);
  const char *key;
  json_t *v;
  char gkey[300];
  json_object_foreach (grid, key, v)
    {
      mv_sweep_axis *ax = &sw->axes[sw->naxes++];
      char shown[200];
      mv_problem_sanitize (shown, sizeof shown, key);
      snprintf (gkey, sizeof gkey, "grid.%s", shown);
      int st = axis_split (sw, ax, key);
      if (st == MV_EINVAL)
        return mv_sweep_err (sw, st, gkey, "unknown path");
      if (st || (st = axis_values (sw, ax, v, gkey)))
        return st;
      /* "student" and "student.init.seed" would depend on the order */
      for (size_t b = 0; b + 1 < sw->naxes; b++)
        {
          const char *p = sw->axes[b].path;
          size_t lp = strlen (p), lk = strlen (key);
          size_t l = lp < lk ? lp : lk;
          if (!strncmp (p, key, l) && (p[l] == '.' || key[l] == '.'))
            return mv_sweep_err (sw, MV_EINVAL, gkey, "overlaps grid.%s",
                                 p);
        }
    }
  return MV_OK;
}

/* Product of the axis lengths within max_tasks; strides. */
static int
count_tasks (mv_sweep *sw)
{
  size_t total = 1;
  for (size_t a = sw->naxes; a-- > 0;)
    {
      mv_sweep_axis *ax = &sw->axes[a];
      ax->stride = total;
      if (total > sw->max_tasks / ax->n)
        {
          char gkey[300];
          snprintf (gkey, sizeof gkey, "grid.%s", ax->path);
          return mv_sweep_err (sw, MV_EINVAL, gkey, "the grid has more than "
                               "max_tasks = %zu tasks (raise \"max_tasks\")",
                               sw->max_tasks);
        }
      total *= ax->n;
    }
  sw->ntasks = total;
  return MV_OK;
}

/* "max_tasks": a positive integer (read before the grid). */
static int
parse_max_tasks (mv_sweep *sw, json_t *root)
{
  sw->max_tasks = MV_SWEEP_MAX_TASKS_DEFAULT;
  json_t *v = json_object_get (root, "max_tasks");
  if (!v)
    return MV_OK;
  if (!json_is_integer (v) || json_integer_value (v) < 1
      || (uint64_t) json_integer_value (v) > (uint64_t) (SIZE_MAX / 2))
    return mv_sweep_err (sw, MV_EINVAL, "max_tasks", "expected a positive "
                         "integer");
  sw->max_tasks = (size_t) json_integer_value (v);
  return MV_OK;
}

static int
parse_doc (mv_sweep *sw, json_t *root)
{
  static const char *const allowed[] = { "base", "grid", "run", "max_tasks",
                                         "comment", NULL };
  if (!json_is_object (root))
    return mv_sweep_err (sw, MV_EPARSE, "top level", "expected an object");
  const char *key;
  json_t *v;
  json_object_foreach (root, key, v)
    {
      int ok = 0;
      for (const char *const *a = allowed; *a; a++)
        ok |= !strcmp (key, *a);
      char shown[128];
      mv_problem_sanitize (shown, sizeof shown, key);
      if (!ok)
        return mv_sweep_err (sw, MV_EPARSE, shown, "unknown key (base, grid, "
                             "run, max_tasks, comment)");
    }
  static const char *const required[] = { "base", "grid", "run", NULL };
  for (const char *const *r = required; *r; r++)
    if (!json_object_get (root, *r))
      return mv_sweep_err (sw, MV_EPARSE, *r, "missing key");
  int st;
  sw->base = json_incref (json_object_get (root, "base"));
  if (!json_is_object (sw->base))
    return mv_sweep_err (sw, MV_EPARSE, "base", "expected an object (a spec)");
  if ((st = check_spec (sw->base, &sw->mstar_max)))
    return st == MV_ENOMEM ? st : mv_sweep_err (sw, st, "base", "%s",
                                                spec_message ());
  if ((st = mv_sweep_parse_run (sw, json_object_get (root, "run")))
      || (st = parse_max_tasks (sw, root))
      || (st = parse_grid (sw, json_object_get (root, "grid")))
      || (st = count_tasks (sw)))
    return st;
  /* run.gram0 absent (-1): sample when the base has no explicit vectors,
   * and then every value must keep it so */
  if (sw->gram0 < 0)
    sw->gram0 = both_init (sw->base) ? MV_GRAM0_SAMPLE : MV_GRAM0_VECTORS;
  int sample = sw->method == MV_SWEEP_REDUCED
    && sw->gram0 == MV_GRAM0_SAMPLE;
  if (sample && !both_init (sw->base))
    return mv_sweep_err (sw, MV_EINVAL, "run.gram0", "\"sample\" needs init "
                         "blocks for teacher and student in the base");
  for (size_t a = 0; a < sw->naxes; a++)
    if ((st = axis_validate (sw, a, sample)))
      return st;
  return MV_OK;
}

int
mv_sweep_parse (mv_sweep **out, const char *text, const char *name)
{
  mv_init ();
  *out = NULL;
  mv_sweep *sw = calloc (1, sizeof *sw);
  if (!sw)
    return mv_error_set (MV_ENOMEM, "out of memory");
  mv_problem_sanitize (sw->name, sizeof sw->name, name ? name : "<string>");
  if (!text)
    {
      mv_sweep_free (sw);
      return mv_error_set (MV_EINVAL, "%s: no text to parse",
                           name ? name : "<string>");
    }
  json_error_t jerr;
  json_t *root = json_loads (text, JSON_REJECT_DUPLICATES, &jerr);
  if (!root)
    {
      char why[160];
      mv_problem_sanitize (why, sizeof why, jerr.text);
      int st = mv_error_set (MV_EPARSE, "%s: line %d, column %d: malformed "
                             "JSON: %s", sw->name, jerr.line, jerr.column, why);
      mv_sweep_free (sw);
      return st;
    }
  int st = mv_json_check_underflow (text, strlen (text), sw->name);
  if (!st)
    st = parse_doc (sw, root);
  json_decref (root);
  if (st)
    {
      mv_sweep_free (sw);
      return st;
    }
  *out = sw;
  return MV_OK;
}

/* ------------------------------------------------------------ accessors */

size_t
mv_sweep_ntasks (const mv_sweep *sw)
{
  return sw->ntasks;
}

size_t
mv_sweep_naxes (const mv_sweep *sw)
{
  return sw->naxes;
}

const char *
mv_sweep_axis_path (const mv_sweep *sw, size_t a)
{
  return a < sw->naxes ? sw->axes[a].path : NULL;
}

/* Index into axis a's values of task t. */
static size_t
value_index (const mv_sweep *sw, size_t t, size_t a)
{
  const mv_sweep_axis *ax = &sw->axes[a];
  return (t / ax->stride) % ax->n;
}

const char *
mv_sweep_task_value (const mv_sweep *sw, size_t t, size_t a)
{
  if (a >= sw->naxes || t >= sw->ntasks)
    return NULL;
  return sw->axes[a].text[value_index (sw, t, a)];
}

json_t *
mv_sweep_task_doc (const mv_sweep *sw, size_t t)
{
  if (t >= sw->ntasks)
    {
      mv_error_set (MV_EINVAL, "%s: task %zu: out of range (%zu tasks)",
                    sw->name, t, sw->ntasks);
      return NULL;
    }
  json_t *doc = json_deep_copy (sw->base);
  for (size_t a = 0; doc && a < sw->naxes; a++)
    {
      const mv_sweep_axis *ax = &sw->axes[a];
      int st = mv_sweep_set_path (doc, ax, json_array_get
                                  (ax->values, value_index (sw, t, a)));
      if (st)
        {
          /* an earlier axis replaced an object this path goes through */
          json_decref (doc);
          mv_error_set (st, "%s: grid.%s: unknown path in task %zu",
                        sw->name, ax->path, t);
          return NULL;
        }
    }
  if (!doc)
    mv_error_set (MV_ENOMEM, "%s: out of memory", sw->name);
  return doc;
}

char *
mv_sweep_task_spec (const mv_sweep *sw, size_t t)
{
  json_t *doc = mv_sweep_task_doc (sw, t);
  if (!doc)
    return NULL;
  char *s = json_dumps (doc, JSON_COMPACT | JSON_PRESERVE_ORDER
                        | JSON_REAL_PRECISION (17));
  json_decref (doc);
  if (!s)
    mv_error_set (MV_ENOMEM, "%s: out of memory", sw->name);
  return s;
}

int
mv_sweep_method (const mv_sweep *sw)
{
  return sw->method;
}

const mv_flow_params *
mv_sweep_flow_params (const mv_sweep *sw)
{
  return &sw->flow;
}

const mv_sgd_params *
mv_sweep_sgd_params (const mv_sweep *sw)
{
  return &sw->sgd;
}

int
mv_sweep_gram0 (const mv_sweep *sw)
{
  return sw->gram0;
}

void
mv_sweep_set_interrupt (mv_sweep *sw, volatile sig_atomic_t *flag)
{
  sw->flow.interrupt = flag;
  sw->sgd.interrupt = flag;
}

void
mv_sweep_set_progress (mv_sweep *sw,
                       void (*progress) (void *ctx, double t, double t_end),
                       void *ctx)
{
  sw->flow.progress = sw->sgd.progress = progress;
  sw->flow.progress_ctx = sw->sgd.progress_ctx = ctx;
}

int
mv_sweep_keep_trajectories (const mv_sweep *sw)
{
  return sw->keep;
}
