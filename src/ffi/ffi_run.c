/* Flat entry points (ffi.h): trajectories and the runs behind them (flow
 * and SGD through a sweep's "run" block), Monte Carlo, coefficients. */
#include <moeverify/ffi.h>
#include <moeverify/error.h>
#include <moeverify/hermite.h>
#include <moeverify/io.h>
#include <moeverify/mc.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

mv_traj *
mv_ffi_traj_alloc (void)
{
  mv_init ();
  mv_traj *tr = calloc (1, sizeof *tr);
  if (!tr)
    mv_error_set (MV_ENOMEM, "out of memory");
  return tr;
}

void
mv_ffi_traj_free (mv_traj *tr)
{
  if (!tr)
    return;
  mv_traj_clear (tr);
  free (tr);
}

void
mv_ffi_traj_shape (size_t *dims, const mv_traj *tr)
{
  dims[0] = tr->rows, dims[1] = tr->m, dims[2] = tr->mstar;
  dims[3] = tr->n, dims[4] = tr->final_state ? tr->d : 0;
  dims[5] = (size_t) tr->status;
}

void
mv_ffi_traj_columns (double *t, double *loss, double *grad2, double *energy,
                     const mv_traj *tr)
{
  size_t b = tr->rows * sizeof (double);
  if (t && b)
    memcpy (t, tr->t, b);
  if (loss && b)
    memcpy (loss, tr->loss, b);
  if (grad2 && b)
    memcpy (grad2, tr->grad2, b);
  if (energy && b)
    memcpy (energy, tr->energy, b);
}

void
mv_ffi_traj_align (double *out, const mv_traj *tr, int kind)
{
  for (size_t r = 0; r < tr->rows; r++)
    for (size_t i = 0; i < tr->m; i++)
      for (size_t j = 0; j < tr->mstar; j++)
        *out++ = mv_traj_align (tr, r, kind, i, j);
}

void
mv_ffi_traj_gram (double *out, const mv_traj *tr)
{
  size_t nn = tr->n * tr->n;
  for (size_t r = 0; r < tr->rows; r++)
    memcpy (out + r * nn, mv_traj_gram (tr, r), nn * sizeof *out);
}

int
mv_ffi_traj_final_state (double *out, const mv_traj *tr)
{
  if (!tr->final_state)
    return 0;
  memcpy (out, tr->final_state, 2 * tr->m * tr->d * sizeof *out);
  return 1;
}

/* A progress bar on stderr (io.h), labelled by the method. */
static void
run_progress (void *ctx, double t, double t_end)
{
  mv_io_progress ((const char *) ctx, t / t_end);
}

int
mv_ffi_run (mv_traj *tr, const mv_problem *pb, const char *run_json,
            volatile sig_atomic_t *flag, int progress)
{
  static const char *const LABEL[] = { "reduced flow", "full flow", "sgd" };
  const char *name = pb->name ? pb->name : "<string>";
  json_error_t jerr;
  json_t *run = json_loads (run_json, 0, &jerr);
  char *spec = mv_problem_to_json (pb);
  json_t *base = spec ? json_loads (spec, 0, &jerr) : NULL;
  free (spec);
  json_t *doc = run && base ? json_pack ("{s:o, s:{}, s:o}", "base", base,
                                         "grid", "run", run) : NULL;
  char *text = doc ? json_dumps (doc, JSON_COMPACT | JSON_REAL_PRECISION (17))
    : NULL;
  json_decref (doc);
  if (!doc)
    json_decref (run), json_decref (base);
  if (!text)
    return mv_error_set (run ? MV_ENOMEM : MV_EPARSE, "%s: run: %s", name,
                         run ? "out of memory" : "malformed JSON");
  mv_sweep *sw;
  int st = mv_sweep_parse (&sw, text, name);
  free (text);
  if (st)
    return st;
  mv_sweep_set_interrupt (sw, flag);
  if (progress)
    mv_sweep_set_progress (sw, run_progress, (void *) LABEL[mv_sweep_method (sw)]);
  if (!(st = mv_traj_init (tr, pb->m, pb->mstar)))
    st = mv_sweep_run_traj (tr, pb, sw);
  if (progress)
    mv_io_progress_done ();
  if (st && pb->name && !strstr (mv_error_message (), pb->name))
    mv_error_prefix (pb->name);
  mv_sweep_free (sw);
  return st;
}

int
mv_ffi_mc (double *out, double *gV, double *gW, double *gV_se,
           double *gW_se, const mv_problem *pb, size_t samples,
           size_t batches, unsigned long seed)
{
  int want_grad = gV || gW || gV_se || gW_se;
  mv_mc_result r;
  int st = mv_mc_result_init (&r, pb->m, pb->d, want_grad);
  if (st)
    return st;
  mv_mc_params par;
  mv_mc_params_default (&par);
  par.samples = samples;
  if (batches)
    par.batches = batches;
  par.seed = seed;
  par.want_grad = want_grad;
  if (!(st = mv_mc_estimate (&r, pb, &par)))
    {
      size_t b = pb->m * pb->d * sizeof (double);
      out[0] = r.loss, out[1] = r.loss_se, out[2] = (double) r.samples;
      out[3] = (double) r.batches, out[4] = (double) r.rank;
      if (want_grad)
        {
          if (gV)
            memcpy (gV, r.gV, b);
          if (gW)
            memcpy (gW, r.gW, b);
          if (gV_se)
            memcpy (gV_se, r.gV_se, b);
          if (gW_se)
            memcpy (gW_se, r.gW_se, b);
        }
    }
  else if (pb->name && !strstr (mv_error_message (), pb->name))
    mv_error_prefix (pb->name);
  mv_mc_result_clear (&r);
  return st;
}

int
mv_ffi_coeffs (double *c, long *digits, char **text, unsigned kmax,
               long prec)
{
  mv_init ();
  *text = NULL;
  if (prec < MV_PREC_MIN || prec > MV_PREC_MAX)
    return mv_error_set (MV_EPREC, "coeffs: prec = %ld: out of range [%d, %d]",
                         prec, MV_PREC_MIN, MV_PREC_MAX);
  mv_hermite_table *t = mv_hermite_table_alloc (kmax, (mpfr_prec_t) prec);
  if (!t)
    return MV_ENOMEM;   /* the table's own message */
  size_t cap = (kmax + 1) * ((size_t) prec / 3 + 64), len = 0;
  char *s = malloc (cap);
  int st = s ? MV_OK : mv_error_set (MV_ENOMEM, "coeffs: out of memory");
  for (unsigned k = 0; !st && k <= kmax; k++)
    {
      /* as cmd_coeffs.c prints a row */
      long dg = mv_hermite_coeff_digits (t->c[k], &t->relerr[k]);
      char *cs = mv_io_mpfr_str (t->c[k], dg > 1 ? (int) dg : 1);
      char e[48];
      mv_mag_str (e, sizeof e, &t->relerr[k], 3);
      int n = cs ? snprintf (s + len, cap - len, "%s\t%s\n", cs, e) : -1;
      free (cs);
      if (n < 0 || (size_t) n >= cap - len)
        st = mv_error_set (MV_ENOMEM, "coeffs: out of memory");
      else
        len += (size_t) n;
      c[k] = mpfr_get_d (t->c[k], MPFR_RNDN);
      digits[k] = dg;
    }
  mv_hermite_table_free (t);
  if (st)
    free (s);
  else
    *text = s;
  return st;
}
