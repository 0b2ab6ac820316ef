/* Flat entry points (ffi.h): problems and the loss.  The loss calls are
 * those of `moeverify loss` (src/cli/cmd_loss.c) in the same order, with
 * the same formatting of L and the bounds. */
#include "base/mpfr_vec.h"
#include <moeverify/ffi.h>
#include <moeverify/error.h>
#include <moeverify/hermite.h>
#include <moeverify/io.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

mv_problem *
mv_ffi_problem_alloc (void)
{
  mv_init ();
  mv_problem *pb = calloc (1, sizeof *pb);
  if (!pb)
    mv_error_set (MV_ENOMEM, "out of memory");
  return pb;
}

void
mv_ffi_problem_free (mv_problem *pb)
{
  if (!pb)
    return;
  mv_problem_clear (pb);
  free (pb);
}

void
mv_ffi_problem_shape (size_t *dims, double *noise_var, double *reg,
                      const mv_problem *pb)
{
  if (dims)
    dims[0] = pb->d, dims[1] = pb->m, dims[2] = pb->mstar;
  if (noise_var)
    *noise_var = pb->noise_var;
  if (reg)
    reg[0] = pb->reg.aux, reg[1] = pb->reg.ortho,
      reg[2] = pb->reg.ortho_gated, reg[3] = pb->reg.var;
}

mv_loss_ws *
mv_ffi_loss_alloc (size_t m, size_t mstar, const double *reg, long prec)
{
  mv_init ();
  if (prec < MV_PREC_MIN || prec > MV_PREC_MAX)
    {
      mv_error_set (MV_EPREC, "prec = %ld: out of range [%d, %d]", prec,
                    MV_PREC_MIN, MV_PREC_MAX);
      return NULL;
    }
  mv_loss_ws *ws = mv_loss_alloc (m, mstar, (mpfr_prec_t) prec);
  mv_regularizers r = { 0, 0, 0, 0 };
  if (reg)
    r = (mv_regularizers) { reg[0], reg[1], reg[2], reg[3] };
  if (ws && mv_loss_add_regularizers (ws, &r))
    {
      mv_loss_free (ws);
      return NULL;
    }
  return ws;
}

/* info[] and text from an evaluation (L already set at the target
 * precision); the digits exactly as cmd_loss.c counts them. */
static int
report (double *info, char *text, size_t size, const mpfr_t L, int mp,
        const mv_loss_info *li, double grad_digits)
{
  double Ld = mpfr_get_d (L, MPFR_RNDN);
  int digits = mp ? mv_io_digits (L, &li->err)
    : mv_io_digits_d (Ld, mv_mag_get_d (&li->err));
  info[MV_FFI_LOSS_VALUE] = Ld;
  info[MV_FFI_LOSS_DIGITS] = digits;
  info[MV_FFI_LOSS_ERR] = mv_mag_get_d (&li->err);
  info[MV_FFI_LOSS_GRAD_ERR] = mv_mag_get_d (&li->grad_err);
  info[MV_FFI_LOSS_ABS_TERMS] = li->abs_terms;
  info[MV_FFI_LOSS_COND] = li->cond;
  info[MV_FFI_LOSS_MAX_TERMS] = li->max_terms;
  info[MV_FFI_LOSS_PREC] = (double) li->prec;
  info[MV_FFI_LOSS_GRAD_DIGITS] = grad_digits;
  if (!text)
    return MV_OK;
  char *s = mp ? mv_io_mpfr_str (L, digits > 1 ? digits : 1)
    : mv_io_double_str (Ld, digits > 1 ? digits : 1);
  char e1[48], e2[48];
  mv_mag_str (e1, sizeof e1, &li->err, 3);
  mv_mag_str (e2, sizeof e2, &li->grad_err, 3);
  int n = s ? snprintf (text, size, "%s\n%s\n%s", s, e1, e2) : -1;
  free (s);
  if (n < 0)
    return mv_error_set (MV_ENOMEM, "loss: out of memory");
  if ((size_t) n >= size)
    return mv_error_set (MV_EINVAL, "loss: text buffer of %zu bytes is too "
                         "small (%d needed)", size, n + 1);
  return MV_OK;
}

/* The fewest digits over the MPFR gradient (cmd_loss.c's grad_rows). */
static int
grad_digits_mp (mpfr_t *g, size_t n, const mv_mag *err)
{
  int dmin = INT_MAX;
  for (size_t e = 0; e < n; e++)
    {
      int dg = mv_io_digits (g[e], err);
      if (dg < dmin)
        dmin = dg;
    }
  return dmin == INT_MAX ? 0 : dmin;
}

int
mv_ffi_grad_digits_d (const double *gV, const double *gW, size_t n,
                      double err)
{
  int dmin = INT_MAX;
  for (size_t e = 0; e < 2 * n; e++)
    {
      int dg = mv_io_digits_d (e < n ? gV[e] : gW[e - n], err);
      if (dg < dmin)
        dmin = dg;
    }
  return dmin == INT_MAX ? 0 : dmin;
}

static int
check_ws (const mv_loss_ws *ws, size_t m, size_t mstar)
{
  size_t wm, wms;
  if (!ws)
    return mv_error_set (MV_EINVAL, "loss: no workspace");
  mv_loss_shape (ws, &wm, &wms);
  if (wm != m || wms != mstar)
    return mv_error_set (MV_EINVAL, "loss: workspace for m = %zu, m* = %zu "
                         "used with m = %zu, m* = %zu", wm, wms, m, mstar);
  return MV_OK;
}

/* The MPFR evaluation (vectors from pb, or V..Wt rounded as
 * mv_loss_eval_vec rounds them), the gradient rounded to double. */
static int
eval_mp (double *info, char *text, size_t size, double *gV, double *gW,
         const mv_problem *pb, const double *const *vec, size_t d,
         double noise_var, mv_loss_ws *ws, mpfr_prec_t prec)
{
  size_t m, ms;
  mv_loss_shape (ws, &m, &ms);
  size_t n = m * d, nt = ms * d, ng = gV || gW ? n : 0;
  mpfr_t L;
  mpfr_init2 (L, prec);
  mpfr_t *mV = mv_mpfr_vec_new (ng, prec), *mW = mv_mpfr_vec_new (ng, prec);
  mpfr_t *x[4] = { NULL, NULL, NULL, NULL };
  int st = mV && mW ? MV_OK : mv_error_set (MV_ENOMEM, "loss: out of memory");
  for (int k = 0; !st && vec && k < 4; k++)
    {
      size_t len = k < 2 ? n : nt;
      /* doubles are exact at any precision >= 53 */
      if (!(x[k] = mv_mpfr_vec_new (len, 53)))
        st = mv_error_set (MV_ENOMEM, "loss: out of memory");
      for (size_t i = 0; !st && i < len; i++)
        mpfr_set_d (x[k][i], vec[k][i], MPFR_RNDN);
    }
  mv_loss_info li;
  memset (&li, 0, sizeof li);
  if (!st)
    st = vec ? mv_loss_eval_vec (L, ng ? mV : NULL, ng ? mW : NULL, &li,
                                 (mpfr_t const *) x[0], (mpfr_t const *) x[1],
                                 (mpfr_t const *) x[2], (mpfr_t const *) x[3],
                                 d, noise_var, ws)
      : mv_loss_eval (L, ng ? mV : NULL, ng ? mW : NULL, &li, pb, ws);
  double gd = NAN;
  if (!st && ng)
    {
      int a = grad_digits_mp (mV, n, &li.grad_err);
      int b = grad_digits_mp (mW, n, &li.grad_err);
      gd = a < b ? a : b;
      for (size_t i = 0; i < n; i++)
        {
          if (gV)
            gV[i] = mpfr_get_d (mV[i], MPFR_RNDN);
          if (gW)
            gW[i] = mpfr_get_d (mW[i], MPFR_RNDN);
        }
    }
  if (!st)
    st = report (info, text, size, L, 1, &li, gd);
  for (int k = 0; k < 4; k++)
    mv_mpfr_vec_free (x[k], k < 2 ? n : nt);
  mv_mpfr_vec_free (mV, ng);
  mv_mpfr_vec_free (mW, ng);
  mpfr_clear (L);
  return st;
}

/* The double path's tail: L into an MPFR value as cmd_loss.c does. */
static int
report_d (double *info, char *text, size_t size, double Ld,
          const mv_loss_info *li)
{
  mpfr_t L;
  mpfr_init2 (L, MV_PREC_DOUBLE);
  mpfr_set_d (L, Ld, MPFR_RNDN);
  int st = report (info, text, size, L, 0, li, NAN);
  mpfr_clear (L);
  return st;
}

int
mv_ffi_loss (double *info, char *text, size_t size, double *gV, double *gW,
             const mv_problem *pb, mv_loss_ws *ws, long prec)
{
  int st = check_ws (ws, pb->m, pb->mstar);
  if (st)
    return st;
  if (prec > MV_PREC_DOUBLE)
    return eval_mp (info, text, size, gV, gW, pb, NULL, pb->d, pb->noise_var,
                    ws, (mpfr_prec_t) prec);
  double Ld = 0;
  mv_loss_info li;
  memset (&li, 0, sizeof li);
  if ((st = mv_loss_eval_d (&Ld, gV, gW, &li, pb, ws)))
    return st;
  return report_d (info, text, size, Ld, &li);
}

int
mv_ffi_loss_vec (double *info, char *text, size_t size, double *gV,
                 double *gW, const double *V, const double *W,
                 const double *Vt, const double *Wt, size_t d,
                 double noise_var, mv_loss_ws *ws, long prec)
{
  size_t m = 0, ms = 0;
  if (ws)
    mv_loss_shape (ws, &m, &ms);
  int st = check_ws (ws, m, ms);
  if (st || (st = mv_problem_check_d (d, m, ms, V, W, Vt, Wt, noise_var)))
    return st;
  if (prec > MV_PREC_DOUBLE)
    {
      const double *const vec[4] = { V, W, Vt, Wt };
      return eval_mp (info, text, size, gV, gW, NULL, vec, d, noise_var, ws,
                      (mpfr_prec_t) prec);
    }
  double Ld = 0;
  mv_loss_info li;
  memset (&li, 0, sizeof li);
  if ((st = mv_loss_eval_vec_d (&Ld, gV, gW, &li, V, W, Vt, Wt, d, noise_var,
                                ws)))
    return st;
  return report_d (info, text, size, Ld, &li);
}

void
mv_ffi_free (void *p)
{
  free (p);
}
