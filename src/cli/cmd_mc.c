/* moeverify mc SPEC.json --samples N --seed S [--batches B] [--no-grad]
 *              [--compare [--prec BITS]] [--regularizers [--batch T]]
 *              [-o FILE]
 *
 * Monte-Carlo estimate of the population loss and of its gradient with
 * batch-means standard errors (src/check/mc.c; independent of the closed form),
 * optionally compared with the closed form component by component; with
 * --regularizers also the specialization regularizers (mcreg.h; the JSON
 * object is built in mc_reg.c). */
#include "cli.h"

#include <moeverify/error.h>
#include <moeverify/hermite.h>
#include <moeverify/io.h>
#include <moeverify/loss.h>
#include <moeverify/mc.h>
#include <moeverify/mcreg.h>
#include <moeverify/problem.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* significant digits printed for Monte-Carlo values and statistics */
#define MC_DIGITS 6
#define Z_DIGITS 4

static const char usage[] =
  "usage: moeverify mc SPEC.json --samples N --seed S [--batches B]\n"
  "                    [--no-grad] [--compare [--prec BITS]]\n"
  "                    [--regularizers [--batch T]] [-o FILE]\n"
  "  Monte-Carlo estimate of the loss L and its gradient for the problem in\n"
  "  SPEC.json, with batch-means standard errors, as JSON.  Independent of\n"
  "  the closed form: samples x exactly in the span of the parameter\n"
  "  vectors.\n"
  "  --samples N   number of samples (>= the number of batches)\n"
  "  --seed S      mt19937 seed, 0..4294967295 (same seed, same result;\n"
  "                GSL maps seed 0 to its default seed 4357)\n"
  "  --batches B   batches for the standard errors, >= 2 (default 64)\n"
  "  --no-grad     loss only\n"
  "  --compare     also evaluate the closed form and report z-scores\n"
  "                (estimate - closed) / standard error\n"
  "  --prec BITS   closed form in MPFR at BITS, " MV_XSTR (MV_PREC_MIN) ".."
  MV_XSTR (MV_PREC_MAX) " (" MV_XSTR (MV_PREC_DOUBLE) " and the\n"
  "                default: the double-precision path);"
  " needs --compare\n"
  "  --regularizers  also estimate the specialization regularizers L_o\n"
  "                (ungated and gated), L_v, L_aux (population forms, with\n"
  "                standard errors; same samples, seed and batches); with\n"
  "                --compare, each against the closed-form term of the same\n"
  "                name (ortho, ortho_gated, var, aux) when the library has it\n"
  "  --batch T     with --regularizers: also their per-batch definitions\n"
  "                on consecutive batches of T tokens (samples / T >= 2)\n"
  "  -o, --output FILE  write atomically to FILE instead of stdout\n";

typedef struct {
  const char *spec, *output;
  unsigned long samples, seed, batches, tokens;
  int have_samples, have_seed, want_grad, compare, regularizers;
  mpfr_prec_t prec;     /* 0: double path */
} mc_opts;

static int
parse_opts (mc_opts *o, int argc, char **argv)
{
  mv_cli_args a;
  const char *v;
  memset (o, 0, sizeof *o);
  o->batches = 64;
  o->want_grad = 1;
  mv_cli_args_init (&a, argc, argv);
  while (mv_cli_next (&a))
    {
      int c = mv_cli_common (&a, &o->spec, usage);
      if (c < 0 || c > 1)
        return c;
      if (c == 1)
        continue;
      if (mv_cli_is (&a, "--samples"))
        {
          if (!(v = mv_cli_value (&a))
              || mv_cli_parse_ulong ("--samples", v, 1, 1000000000000000UL,
                                     &o->samples))
            return MV_EXIT_USAGE;
          o->have_samples = 1;
        }
      else if (mv_cli_is (&a, "--seed"))
        {
          if (!(v = mv_cli_value (&a))
              || mv_cli_parse_ulong ("--seed", v, 0, 4294967295UL, &o->seed))
            return MV_EXIT_USAGE;
          o->have_seed = 1;
        }
      else if (mv_cli_is (&a, "--batches"))
        {
          if (!(v = mv_cli_value (&a))
              || mv_cli_parse_ulong ("--batches", v, 2, 100000000UL,
                                     &o->batches))
            return MV_EXIT_USAGE;
        }
      else if (mv_cli_is (&a, "--prec"))
        {
          if (!(v = mv_cli_value (&a))
              || mv_cli_parse_prec ("--prec", v, &o->prec))
            return MV_EXIT_USAGE;
        }
      else if (mv_cli_is (&a, "--batch"))
        {
          if (!(v = mv_cli_value (&a))
              || mv_cli_parse_ulong ("--batch", v, 1, 1000000000000000UL,
                                     &o->tokens))
            return MV_EXIT_USAGE;
        }
      else if (mv_cli_is (&a, "--no-grad") || mv_cli_is (&a, "--compare")
               || mv_cli_is (&a, "--regularizers"))
        {
          if (mv_cli_flag (&a))
            return MV_EXIT_USAGE;
          if (mv_cli_is (&a, "--no-grad"))
            o->want_grad = 0;
          else if (mv_cli_is (&a, "--compare"))
            o->compare = 1;
          else
            o->regularizers = 1;
        }
      else if (mv_cli_is (&a, "-o") || mv_cli_is (&a, "--output"))
        {
          if (!(o->output = mv_cli_value (&a)))
            return MV_EXIT_USAGE;
        }
      else
        return mv_cli_unknown (&a);
    }
  if (!o->spec)
    {
      mv_cli_error ("mc: missing SPEC.json (see 'moeverify mc --help')");
      return MV_EXIT_USAGE;
    }
  if (!o->have_samples || !o->have_seed)
    {
      mv_cli_error ("mc: %s is required (see 'moeverify mc --help')",
                    !o->have_samples ? "--samples N" : "--seed S");
      return MV_EXIT_USAGE;
    }
  if (o->samples < o->batches)
    {
      mv_cli_error ("mc: --samples %lu is fewer than --batches %lu",
                    o->samples, o->batches);
      return MV_EXIT_USAGE;
    }
  if (o->tokens && !o->regularizers)
    {
      mv_cli_error ("mc: --batch applies to the regularizers: use it with "
                    "--regularizers");
      return MV_EXIT_USAGE;
    }
  if (o->tokens && o->samples / o->tokens < 2)
    {
      mv_cli_error ("mc: --samples %lu make fewer than 2 batches of --batch "
                    "%lu tokens", o->samples, o->tokens);
      return MV_EXIT_USAGE;
    }
  if (o->prec && !o->compare)
    {
      mv_cli_error ("mc: --prec applies to the closed form: use it with "
                    "--compare");
      return MV_EXIT_USAGE;
    }
  return 0;
}

static void
progress_cb (void *ctx, double fraction)
{
  (void) ctx;
  mv_io_progress ("mc", fraction);
}

/* A decimal string with `digits` significant digits (null if not finite). */
static json_t *
num_json (double x, int digits)
{
  if (!isfinite (x))
    return json_null ();
  return mv_cli_json_str (mv_io_double_str (x, digits));
}

/* [[strings]] for an m x d matrix. */
static json_t *
matrix_json (const double *a, size_t m, size_t d)
{
  json_t *rows = json_array ();
  for (size_t i = 0; rows && i < m; i++)
    {
      json_t *row = json_array ();
      if (!row || json_array_append_new (rows, row))
        goto fail;
      for (size_t k = 0; k < d; k++)
        if (json_array_append_new (row, num_json (a[i * d + k], MC_DIGITS)))
          goto fail;
    }
  return rows;
fail:
  json_decref (rows);
  return NULL;
}

static json_t *
pair_json (const double *V, const double *W, size_t m, size_t d)
{
  json_t *jv = matrix_json (V, m, d), *jw = matrix_json (W, m, d);
  if (!jv || !jw)
    {
      json_decref (jv);
      json_decref (jw);
      return NULL;
    }
  return json_pack ("{s:o, s:o}", "V", jv, "W", jw);   /* steals both */
}

/* Closed form (double or MPFR) and the z-scores of the estimate. */
typedef struct {
  double L;            /* closed-form loss (rounded to double) */
  char *L_str;         /* with the digits its error bound supports */
  double L_err;
  double *gV, *gW;     /* closed-form gradient, double (NULL if no grad) */
  double grad_err;
} closed_form;

static void
closed_clear (closed_form *c)
{
  free (c->L_str);
  free (c->gV);
  free (c->gW);
  memset (c, 0, sizeof *c);
}

static int
closed_eval (closed_form *c, const mv_problem *pb, int want_grad,
             mpfr_prec_t prec)
{
  const size_t n = pb->m * pb->d;
  int mp = prec > MV_PREC_DOUBLE, st = MV_ENOMEM;
  mv_loss_info info;
  mpfr_t L;
  mpfr_t *gm = NULL;
  size_t ngm = 0;
  memset (c, 0, sizeof *c);
  memset (&info, 0, sizeof info);
  mpfr_init2 (L, mp ? prec : MV_PREC_DOUBLE);
  mv_loss_ws *ws = mv_loss_alloc (pb->m, pb->mstar,
                                   mp ? prec : MV_PREC_DOUBLE);
  if (!ws)
    {
      st = MV_ENOMEM;
      goto out;
    }
  if (want_grad)
    {
      c->gV = malloc ((n ? n : 1) * sizeof *c->gV);
      c->gW = malloc ((n ? n : 1) * sizeof *c->gW);
      if (!c->gV || !c->gW)
        {
          st = mv_error_set (MV_ENOMEM, "out of memory for the closed-form "
                             "gradient");
          goto out;
        }
    }
  if (mp)
    {
      if (want_grad)
        {
          gm = malloc ((n > 0 ? 2 * n : 1) * sizeof *gm);
          if (!gm)
            {
              st = mv_error_set (MV_ENOMEM, "out of memory for the "
                                 "closed-form gradient");
              goto out;
            }
          for (; ngm < 2 * n; ngm++)
            mpfr_init2 (gm[ngm], prec);
        }
      st = mv_loss_eval (L, want_grad ? gm : NULL, want_grad ? gm + n : NULL,
                         &info, pb, ws);
      if (st)
        goto out;
      for (size_t i = 0; want_grad && i < n; i++)
        {
          c->gV[i] = mpfr_get_d (gm[i], MPFR_RNDN);
          c->gW[i] = mpfr_get_d (gm[n + i], MPFR_RNDN);
        }
      c->L = mpfr_get_d (L, MPFR_RNDN);
      int dg = mv_io_digits (L, &info.err);
      c->L_str = mv_io_mpfr_str (L, dg > 1 ? dg : 1);
    }
  else
    {
      st = mv_loss_eval_d (&c->L, c->gV, c->gW, &info, pb, ws);
      if (st)
        goto out;
      int dg = mv_io_digits_d (c->L, mv_mag_get_d (&info.err));
      c->L_str = mv_io_double_str (c->L, dg > 1 ? dg : 1);
    }
  if (!c->L_str)
    {
      st = mv_error_set (MV_ENOMEM, "out of memory");
      goto out;
    }
  /* compared with Monte-Carlo errors: doubles are plenty (never 0) */
  c->L_err = mv_mag_get_d (&info.err);
  c->grad_err = mv_mag_get_d (&info.grad_err);
  st = MV_OK;
out:
  for (size_t i = 0; i < ngm; i++)
    mpfr_clear (gm[i]);
  free (gm);
  mpfr_clear (L);
  if (ws)
    mv_loss_free (ws);
  if (st)
    closed_clear (c);
  return st;
}

/* The "compare" object.  z = (estimate - closed) / standard error; gradient
 * components with a zero standard error (exactly zero in both the estimate
 * and, up to rounding, the closed form: outside the span of the vectors or
 * at an exact optimum) are counted apart and their largest |difference| is
 * reported instead of a z-score. */
static json_t *
compare_json (const closed_form *c, const mv_mc_result *r, int want_grad,
              mpfr_prec_t prec)
{
  double zl = (r->loss - c->L) / r->loss_se;
  double chi2 = 0, gz2 = 0, zmax = 0, nbig = 0, zero_diff = 0;
  size_t ncomp = 0, nzero = 0, nq = 0;
  if (isfinite (zl))
    {
      chi2 += zl * zl;
      nq++;
    }
  const size_t n = r->m * r->d;
  for (int p = 0; want_grad && p < 2; p++)
    {
      const double *g = p ? r->gW : r->gV, *se = p ? r->gW_se : r->gV_se;
      const double *ex = p ? c->gW : c->gV;
      for (size_t i = 0; i < n; i++)
        {
          double diff = g[i] - ex[i];
          if (!(se[i] > 0))
            {
              nzero++;
              zero_diff = fmax (zero_diff, fabs (diff));
              continue;
            }
          double z = diff / se[i];
          ncomp++;
          gz2 += z * z;
          chi2 += z * z;
          nq++;
          zmax = fmax (zmax, fabs (z));
          if (fabs (z) > 4)
            nbig++;
        }
    }
  json_t *o = json_object ();
  if (!o)
    return NULL;
  int bad = json_object_set_new (o, "method", json_string
                                 (prec > MV_PREC_DOUBLE ? "closed-form-mpfr"
                                  : "closed-form-double"))
    || json_object_set_new (o, "precision_bits",
                            json_integer (prec > MV_PREC_DOUBLE ? (json_int_t) prec
                                          : MV_PREC_DOUBLE))
    || json_object_set_new (o, "loss_closed", json_string (c->L_str))
    || json_object_set_new (o, "loss_closed_error_bound",
                            num_json (c->L_err, 3))
    || json_object_set_new (o, "loss_z", num_json (zl, Z_DIGITS));
  if (!bad && want_grad)
    {
      double Nc = (double) ncomp;
      bad = json_object_set_new (o, "grad_max_abs_z",
                                 num_json (ncomp ? zmax : NAN, Z_DIGITS))
        || json_object_set_new (o, "grad_rms_z", num_json
                                (ncomp ? sqrt (gz2 / Nc) : NAN, Z_DIGITS))
        || json_object_set_new (o, "grad_frac_abs_z_gt_4",
                                num_json (ncomp ? nbig / Nc : NAN, Z_DIGITS))
        || json_object_set_new (o, "grad_components",
                                json_integer ((json_int_t) ncomp))
        || json_object_set_new (o, "grad_components_zero_stderr",
                                json_integer ((json_int_t) nzero))
        || json_object_set_new (o, "grad_zero_stderr_max_abs_diff",
                                num_json (zero_diff, 3))
        || json_object_set_new (o, "grad_closed_error_bound",
                                num_json (c->grad_err, 3));
    }
  if (!bad)
    bad = json_object_set_new (o, "chi2_per_dof",
                               num_json (nq ? chi2 / (double) nq : NAN,
                                         Z_DIGITS))
      || json_object_set_new (o, "chi2_dof", json_integer ((json_int_t) nq));
  if (bad)
    {
      json_decref (o);
      return NULL;
    }
  return o;
}

static json_t *
mc_doc (const mc_opts *o, const mv_problem *pb, const mv_mc_result *r,
        const closed_form *c, const mv_mcreg_result *rr)
{
  json_t *doc = json_object ();
  if (!doc)
    return NULL;
  int bad = json_object_set_new (doc, "spec", json_string (o->spec))
    || json_object_set_new (doc, "d", json_integer ((json_int_t) pb->d))
    || json_object_set_new (doc, "m", json_integer ((json_int_t) pb->m))
    || json_object_set_new (doc, "mstar",
                            json_integer ((json_int_t) pb->mstar))
    || json_object_set_new (doc, "method", json_string ("monte-carlo"))
    || json_object_set_new (doc, "samples",
                            json_integer ((json_int_t) r->samples))
    || json_object_set_new (doc, "batches",
                            json_integer ((json_int_t) r->batches))
    || json_object_set_new (doc, "seed", json_integer ((json_int_t) o->seed))
    || json_object_set_new (doc, "span_rank",
                            json_integer ((json_int_t) r->rank))
    || json_object_set_new (doc, "loss", num_json (r->loss, MC_DIGITS))
    || json_object_set_new (doc, "loss_stderr",
                            num_json (r->loss_se, MC_DIGITS));
  if (!bad && o->want_grad)
    bad = json_object_set_new (doc, "grad", pair_json (r->gV, r->gW, r->m,
                                                       r->d))
      || json_object_set_new (doc, "grad_stderr",
                              pair_json (r->gV_se, r->gW_se, r->m, r->d));
  if (!bad && c)
    bad = json_object_set_new (doc, "compare", compare_json
                               (c, r, o->want_grad, o->prec));
  if (!bad && rr)
    bad = json_object_set_new (doc, "regularizers",
                               mv_cli_mcreg_json (rr, pb, o->compare));
  if (bad)
    {
      json_decref (doc);
      return NULL;
    }
  return doc;
}

/* The regularizers' estimates, with the loss's samples, seed, batches. */
static int
mc_regularizers (mv_mcreg_result *r, const mv_problem *pb, const mc_opts *o)
{
  int st = mv_mcreg_result_init (r, pb->m);
  if (st)
    return st;
  mv_mcreg_params par;
  mv_mcreg_params_default (&par);
  par.samples = o->samples;
  par.batches = o->batches;
  par.tokens = o->tokens;
  par.seed = o->seed;
  if (mv_io_progress_enabled ())
    par.progress = progress_cb;
  st = mv_mcreg_estimate (r, pb, &par);
  mv_io_progress_done ();
  return st;
}

int
mv_cmd_mc (int argc, char **argv)
{
  mc_opts o;
  int rc = parse_opts (&o, argc, argv);
  if (rc || mv_cli_parse_only)
    return rc < 0 ? MV_EXIT_OK : rc;

  mv_problem pb;
  int rs = mv_cli_read_spec (&pb, o.spec);
  if (rs)
    return rs;
  mv_mc_result res;
  mv_mcreg_result rres;
  closed_form cf;
  json_t *doc = NULL;
  memset (&cf, 0, sizeof cf);
  memset (&rres, 0, sizeof rres);
  rc = MV_EXIT_FAIL;
  if (mv_mc_result_init (&res, pb.m, pb.d, o.want_grad))
    {
      mv_error_prefix (o.spec);   /* its message names no file */
      mv_cli_lib_error ();
      goto done;
    }
  mv_mc_params par;
  mv_mc_params_default (&par);
  par.samples = o.samples;
  par.batches = o.batches;
  par.seed = o.seed;
  par.want_grad = o.want_grad;
  if (mv_io_progress_enabled ())
    par.progress = progress_cb;
  int st = mv_mc_estimate (&res, &pb, &par);
  mv_io_progress_done ();
  if (st)
    {
      if (!strstr (mv_error_message (), o.spec))
        mv_error_prefix (o.spec);
      mv_cli_lib_error ();
      goto done;
    }
  if (o.compare && closed_eval (&cf, &pb, o.want_grad, o.prec))
    {
      if (!strstr (mv_error_message (), o.spec))
        mv_error_prefix (o.spec);
      mv_cli_lib_error ();
      goto done;
    }
  if (o.regularizers && mc_regularizers (&rres, &pb, &o))
    {
      if (!strstr (mv_error_message (), o.spec))
        mv_error_prefix (o.spec);
      mv_cli_lib_error ();
      goto done;
    }
  if (!(doc = mc_doc (&o, &pb, &res, o.compare ? &cf : NULL,
                      o.regularizers ? &rres : NULL)))
    {
      mv_cli_error ("%s: out of memory building the output", o.spec);
      goto done;
    }
  rc = mv_cli_emit_json (doc, o.output);

done:
  json_decref (doc);
  closed_clear (&cf);
  mv_mc_result_clear (&res);
  mv_mcreg_result_clear (&rres);
  mv_problem_clear (&pb);
  return rc;
}
