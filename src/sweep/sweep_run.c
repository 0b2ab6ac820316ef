/* The "run" block of a sweep: the method and its parameters, with the
 * defaults and limits of `moeverify flow` / `moeverify sgd`
 * (mv_flow_params_default, mv_sgd_params_default, the CLI's ranges). */
#include "sweep/sweep_priv.h"

#include <moeverify/error.h>
#include <moeverify/hermite.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { K_FLOW = 1, K_FULL = 2, K_REDUCED = 4, K_SGD = 8, K_ALL = 15 };

/* Which methods each run key belongs to. */
static const struct { const char *key; int used; } RUN_KEYS[] = {
  { "method", K_ALL }, { "n_out", K_ALL }, { "times", K_ALL },
  { "keep", K_ALL }, { "stop", K_ALL }, { "t_end", K_FLOW }, { "rtol", K_FLOW },
  { "atol", K_FLOW }, { "stepper", K_FLOW }, { "max_steps", K_FLOW },
  { "prec", K_FULL }, { "gram0", K_REDUCED }, { "lr", K_SGD },
  { "batch", K_SGD }, { "steps", K_SGD }, { "seed", K_SGD },
};

static const char *const METHODS[] = { "reduced", "full", "sgd" };

/* A number in [lo, hi] into *x; absent leaves *x (*have = 0). */
static int
get_number (mv_sweep *sw, json_t *run, const char *key, double lo,
            double hi, double *x, int *have)
{
  json_t *v = json_object_get (run, key);
  char k[32];
  snprintf (k, sizeof k, "run.%s", key);
  if (have)
    *have = v != NULL;
  if (!v)
    return MV_OK;
  if (!json_is_number (v))
    return mv_sweep_err (sw, MV_EPARSE, k, "expected a number");
  double d = json_number_value (v);
  if (!(d >= lo && d <= hi))
    return mv_sweep_err (sw, MV_EINVAL, k, "%.17g out of range [%g, %g]", d,
                         lo, hi);
  *x = d;
  return MV_OK;
}

/* An integer in [lo, hi]; absent leaves *x. */
static int
get_uint (mv_sweep *sw, json_t *run, const char *key, unsigned long lo,
          unsigned long hi, unsigned long *x, int *have)
{
  json_t *v = json_object_get (run, key);
  char k[32];
  snprintf (k, sizeof k, "run.%s", key);
  if (have)
    *have = v != NULL;
  if (!v)
    return MV_OK;
  json_int_t i = json_is_integer (v) ? json_integer_value (v) : -1;
  if (!json_is_integer (v) || i < 0 || (unsigned long) i < lo
      || (unsigned long) i > hi)
    return mv_sweep_err (sw, MV_EINVAL, k, "expected an integer in [%lu, "
                         "%lu]", lo, hi);
  *x = (unsigned long) i;
  return MV_OK;
}

/* "method" and the key set of that method. */
static int
run_method (mv_sweep *sw, json_t *run, int *used)
{
  json_t *m = json_object_get (run, "method");
  if (!m)
    return mv_sweep_err (sw, MV_EPARSE, "run.method", "missing key "
                         "(reduced, full, sgd)");
  const char *s = json_is_string (m) ? json_string_value (m) : "";
  for (int k = 0; k < 3; k++)
    if (!strcmp (s, METHODS[k]))
      {
        sw->method = k;
        *used = k == MV_SWEEP_SGD ? K_SGD
          : K_FLOW | (k == MV_SWEEP_FULL ? K_FULL : K_REDUCED);
        return MV_OK;
      }
  return mv_sweep_err (sw, MV_EINVAL, "run.method", "expected \"reduced\", "
                       "\"full\" or \"sgd\"");
}

/* Every key known and used by the method. */
static int
run_keys (mv_sweep *sw, json_t *run, int used)
{
  const char *key;
  json_t *v;
  json_object_foreach (run, key, v)
    {
      size_t i = 0, n = sizeof RUN_KEYS / sizeof RUN_KEYS[0];
      while (i < n && strcmp (key, RUN_KEYS[i].key))
        i++;
      char k[96];
      snprintf (k, sizeof k, "run.%.80s", key);
      for (char *c = k; *c; c++)
        if ((unsigned char) *c < 0x20)
          *c = '?';
      if (i == n)
        return mv_sweep_err (sw, MV_EPARSE, k, "unknown key");
      if (!(RUN_KEYS[i].used & used))
        return mv_sweep_err (sw, MV_EINVAL, k, "not used by method \"%s\"",
                             METHODS[sw->method]);
    }
  return MV_OK;
}

/* "times": increasing positive numbers (flows: checked against t_end by
 * mv_flow_params_check). */
static int
run_times (mv_sweep *sw, json_t *run, size_t *n)
{
  json_t *v = json_object_get (run, "times");
  *n = 0;
  if (!v)
    return MV_OK;
  if (json_object_get (run, "n_out"))
    return mv_sweep_err (sw, MV_EINVAL, "run.times", "give n_out or times, "
                         "not both");
  if (!json_is_array (v) || json_array_size (v) == 0)
    return mv_sweep_err (sw, MV_EPARSE, "run.times", "expected a non-empty "
                         "list of increasing positive times");
  *n = json_array_size (v);
  if (!(sw->times = malloc (*n * sizeof *sw->times)))
    return mv_error_set (MV_ENOMEM, "%s: out of memory", sw->name);
  for (size_t i = 0; i < *n; i++)
    {
      json_t *x = json_array_get (v, i);
      double t = json_is_number (x) ? json_number_value (x) : NAN;
      if (!(t > (i ? sw->times[i - 1] : 0)) || !isfinite (t))
        return mv_sweep_err (sw, MV_EINVAL, "run.times", "expected a "
                             "non-empty list of increasing positive times");
      sw->times[i] = t;
    }
  return MV_OK;
}

/* "gram0" (reduced): -1 when absent (sweep.c decides from the base). */
static int
run_gram0 (mv_sweep *sw, json_t *run)
{
  static const char *const NAMES[] = { "auto", "vectors", "sample" };
  static const int MODES[] = { MV_GRAM0_AUTO, MV_GRAM0_VECTORS,
                               MV_GRAM0_SAMPLE };
  json_t *v = json_object_get (run, "gram0");
  sw->gram0 = -1;
  if (!v)
    return MV_OK;
  const char *s = json_is_string (v) ? json_string_value (v) : "";
  for (int k = 0; k < 3; k++)
    if (!strcmp (s, NAMES[k]))
      {
        sw->gram0 = MODES[k];
        return MV_OK;
      }
  return mv_sweep_err (sw, MV_EINVAL, "run.gram0", "expected \"auto\", "
                       "\"vectors\" or \"sample\"");
}

static int
run_flow (mv_sweep *sw, json_t *run, size_t n_times)
{
  mv_flow_params *p = &sw->flow;
  int have_t, st;
  unsigned long u = p->n_out, prec = MV_PREC_DOUBLE;
  if ((st = get_number (sw, run, "t_end", 1e-300, 1e300, &p->t_end, &have_t))
      || (st = get_number (sw, run, "rtol", 1e-300, 1, &p->rtol, NULL))
      || (st = get_number (sw, run, "atol", 1e-300, 1, &p->atol, NULL))
      || (st = get_uint (sw, run, "max_steps", 1, 1UL << 62, &p->max_steps,
                         NULL))
      || (st = get_uint (sw, run, "n_out", 1, 1000000, &u, NULL))
      || (st = get_uint (sw, run, "prec", MV_PREC_MIN, MV_PREC_MAX, &prec,
                         NULL)))
    return st;
  if (!have_t)
    return mv_sweep_err (sw, MV_EPARSE, "run.t_end", "missing key (the "
                         "flows need it)");
  p->n_out = u;
  p->prec = (mpfr_prec_t) prec;
  json_t *s = json_object_get (run, "stepper");
  if (s && !json_is_string (s))
    return mv_sweep_err (sw, MV_EPARSE, "run.stepper", "expected a string");
  /* the name points into the stepper table, not into the document */
  size_t idx;
  if (s && mv_flow_stepper_find (json_string_value (s), &idx))
    return mv_sweep_err (sw, MV_EINVAL, "run.stepper", "%s",
                         mv_error_message ());
  if (s)
    p->stepper = mv_flow_stepper_name (idx);
  p->times = n_times ? sw->times : NULL;
  p->n_times = n_times;
  /* t_end, tolerances and stepper are checked above: what is left is
   * times against t_end */
  if (mv_flow_params_check (p))
    return mv_sweep_err (sw, MV_EINVAL, n_times ? "run.times" : "run", "%s",
                         mv_error_message ());
  return run_gram0 (sw, run);
}

static int
run_sgd (mv_sweep *sw, json_t *run, size_t n_times)
{
  mv_sgd_params *p = &sw->sgd;
  int have[3], st;
  unsigned long batch = p->batch, n_out = p->n_out;
  if ((st = get_number (sw, run, "lr", 1e-300, 1e300, &p->lr, &have[0]))
      || (st = get_uint (sw, run, "batch", 1, 1UL << 30, &batch, &have[1]))
      || (st = get_uint (sw, run, "steps", 1, 1UL << 62, &p->steps, &have[2]))
      || (st = get_uint (sw, run, "seed", 0, 4294967295UL, &p->seed, NULL))
      || (st = get_uint (sw, run, "n_out", 1, 1000000, &n_out, NULL)))
    return st;
  static const char *const REQ[] = { "run.lr", "run.batch", "run.steps" };
  for (int k = 0; k < 3; k++)
    if (!have[k])
      return mv_sweep_err (sw, MV_EPARSE, REQ[k], "missing key (sgd needs "
                           "lr, batch, steps)");
  p->batch = batch;
  p->n_out = n_out;
  if (!isfinite (p->lr * (double) p->steps))
    return mv_sweep_err (sw, MV_EINVAL, "run.lr", "final time lr * steps = "
                         "%g * %lu is not finite", p->lr, p->steps);
  p->times = n_times ? sw->times : NULL;
  p->n_times = n_times;
  sw->gram0 = -1;
  return MV_OK;
}

int
mv_sweep_parse_run (mv_sweep *sw, json_t *run)
{
  mv_flow_params_default (&sw->flow);
  mv_sgd_params_default (&sw->sgd);
  if (!json_is_object (run))
    return mv_sweep_err (sw, MV_EPARSE, "run", "expected an object");
  int used = 0, st;
  size_t n_times;
  if ((st = run_method (sw, run, &used)) || (st = run_keys (sw, run, used))
      || (st = run_times (sw, run, &n_times)))
    return st;
  json_t *keep = json_object_get (run, "keep");
  if (keep && !(json_is_string (keep)
                && !strcmp (json_string_value (keep), "trajectories")))
    return mv_sweep_err (sw, MV_EINVAL, "run.keep", "expected "
                         "\"trajectories\"");
  sw->keep = keep != NULL;
  json_t *stop = json_object_get (run, "stop");
  sw->stop = NULL;
  if (stop && !(sw->stop = mv_stop_find (json_string_value (stop))))
    return mv_sweep_err (sw, MV_EINVAL, "run.stop", "%s", mv_error_message ());
  return sw->method == MV_SWEEP_SGD ? run_sgd (sw, run, n_times)
    : run_flow (sw, run, n_times);
}
