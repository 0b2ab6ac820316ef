/* The loss workspace, its objective (a weighted list of term types,
 * term.h), and the Gram-level drivers that sum the list: L, dL/dG and their
 * error bounds on the double and MPFR paths, the Gram Hessian, and the
 * per-sample objective (MATH.md §2-3). */
#include "loss/loss_priv.h"
#include "base/linalg.h"
#include <moeverify/loss.h>
#include <moeverify/error.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>



mv_loss_ws *
mv_loss_alloc (size_t m, size_t mstar, mpfr_prec_t prec)
{
  mv_init ();
  if (m == 0 || mstar == 0)
    {
      mv_error_set (MV_EINVAL, "loss: need m >= 1 and m* >= 1");
      return NULL;
    }
  mv_loss_ws *ws = calloc (1, sizeof *ws);
  if (!ws)
    {
      mv_error_set (MV_ENOMEM, "loss: out of memory");
      return NULL;
    }
  ws->m = m, ws->mstar = mstar, ws->n = 2 * (m + mstar), ws->prec = prec;
  /* the largest array holds MV_LOSS_NCHUNK n^2 doubles: refuse sizes whose
   * byte count does not fit (a wrapped product would allocate too little) */
  size_t nn, big;
  if (m > SIZE_MAX / 8 || mstar > SIZE_MAX / 8 || !mv_mul_ok (ws->n, ws->n, &nn)
      || !mv_mul_ok (nn, MV_LOSS_NCHUNK * sizeof (double), &big))
    {
      free (ws);
      mv_error_set (MV_ENOMEM, "loss: m = %zu, m* = %zu is too large (the %zu x %zu Gram "
                    "matrix does not fit in memory)", m, mstar, 2 * (m + mstar),
                    2 * (m + mstar));
      return NULL;
    }
  ws->ex = mv_expect_alloc (prec);
  ws->errG = calloc (nn, sizeof *ws->errG);
  ws->errGm = calloc (nn, sizeof *ws->errGm);
  ws->chunk_dG = malloc (big);
  ws->chunk_eG = malloc (big);
  ws->work = malloc (MV_LOSS_SAMPLE_BLOCK * (ws->n + 2) * sizeof *ws->work);
  if (!ws->ex || !ws->errG || !ws->errGm || !ws->chunk_dG || !ws->chunk_eG
      || !ws->work || mv_loss_add_term (ws, mv_loss_term_noise, 1.0)
      || mv_loss_add_term (ws, mv_loss_term_datafit, 1.0))
    {
      if (ws->ex)
        mv_error_set (MV_ENOMEM, "loss: out of memory (m = %zu, m* = %zu: %zu x %zu Gram "
                      "matrix)", m, mstar, ws->n, ws->n);
      mv_loss_free (ws);
      return NULL;
    }
  mv_expect_val_init (&ws->val, ws->ex->wp);
  mpfr_inits2 (ws->ex->wp, ws->acc, ws->tmp, ws->proj, (mpfr_ptr) 0);
  ws->mp_init = 1;
  return ws;
}

void
mv_loss_free_raw (mv_loss_ws *ws)
{
  free (ws->Ud), free (ws->Gd), free (ws->gd), free (ws->normd);
  ws->Ud = ws->Gd = ws->gd = ws->normd = NULL;
  mv_loss_fix_free (ws->fix);
  ws->fix = NULL;
  mpfr_t *arr[5] = { ws->U, ws->G, ws->g, ws->norm, ws->h };
  size_t len[5] = { ws->nU, ws->n * ws->n, ws->n * ws->n, ws->n, ws->d };
  for (int a = 0; a < 5; a++)
    {
      if (arr[a])
        for (size_t i = 0; i < len[a]; i++)
          mpfr_clear (arr[a][i]);
      free (arr[a]);
    }
  ws->U = ws->G = ws->g = ws->norm = ws->h = NULL;
  ws->nU = 0;
  ws->d = 0;
}

void
mv_loss_free (mv_loss_ws *ws)
{
  if (!ws)
    return;
  mv_loss_free_raw (ws);
  if (ws->mp_init)
    {
      mv_expect_val_clear (&ws->val);
      mpfr_clears (ws->acc, ws->tmp, ws->proj, (mpfr_ptr) 0);
    }
  mv_expect_free (ws->ex);
  free (ws->errG), free (ws->errGm), free (ws->chunk_dG), free (ws->chunk_eG);
  free (ws->work), free (ws->terms);
  free (ws);
}

mv_expect_ws *
mv_loss_expect (mv_loss_ws *ws)
{
  return ws->ex;
}

void
mv_loss_shape (const mv_loss_ws *ws, size_t *m, size_t *mstar)
{
  if (m)
    *m = ws->m;
  if (mstar)
    *mstar = ws->mstar;
}

static void
finish_info (mv_loss_info *info, double L, const mv_mag *err, double abs_terms,
             unsigned max_terms, const mv_loss_ws *ws)
{
  if (!info)
    return;
  mv_mag ge;
  mv_mag_zero (&ge);
  if (ws->prec > MV_PREC_DOUBLE)
    for (size_t i = 0; i < ws->n * ws->n; i++)
      mv_mag_max (&ge, &ge, &ws->errGm[i]);
  else
    {
      double g = 0;
      for (size_t i = 0; i < ws->n * ws->n; i++)
        g = fmax (g, ws->errG[i]);
      mv_mag_set_d (&ge, g);
    }
  info->err = *err;
  info->grad_err = ge;
  info->abs_terms = abs_terms;
  info->cond = L != 0 ? abs_terms / fabs (L) : INFINITY;
  info->max_terms = max_terms;
  info->prec = ws->prec;
}

static void
symmetrize_d (double *g, size_t n)
{
  for (size_t k = 0; k < n; k++)
    for (size_t l = k + 1; l < n; l++)
      {
        double s = g[k * n + l] + g[l * n + k];
        g[k * n + l] = g[l * n + k] = s;
      }
}

size_t
mv_loss_nvar (const mv_loss_ws *ws)
{
  /* upper triangle minus the teacher-teacher block */
  size_t n = ws->n, t = 2 * ws->mstar;
  return n * (n - 1) / 2 - t * (t - 1) / 2;
}

size_t
mv_loss_var (const mv_loss_ws *ws, size_t k, size_t l)
{
  size_t n = ws->n;
  if (k > l)
    {
      size_t t = k;
      k = l;
      l = t;
    }
  /* rows k < 2m of the strict upper triangle, row-major */
  if (k == l || l >= n || k >= 2 * ws->m)
    return (size_t) -1;
  return k * (n - 1) - k * (k - 1) / 2 + (l - k - 1);
}

/* ------------------------------------------------------------ objective */

int
mv_loss_add_term (mv_loss_ws *ws, const mv_loss_term_type *type, double weight)
{
  if (!type || !type->gram_d)
    return mv_error_set (MV_EINVAL, "loss: term %s has no double evaluator",
                         type && type->name ? type->name : "(null)");
  if (!isfinite (weight))
    return mv_error_set (MV_EINVAL, "loss: term %s: weight %g is not finite",
                         type->name, weight);
  if (ws->nterms == ws->cap_terms)
    {
      size_t cap = ws->cap_terms ? 2 * ws->cap_terms : 4;
      mv_loss_term_entry *t = realloc (ws->terms, cap * sizeof *t);
      if (!t)
        return mv_error_set (MV_ENOMEM, "loss: out of memory for the term list");
      ws->terms = t, ws->cap_terms = cap;
    }
  ws->terms[ws->nterms].type = type;
  ws->terms[ws->nterms].weight = weight;
  ws->nterms++;
  return MV_OK;
}

int
mv_loss_add_regularizers (mv_loss_ws *ws, const mv_regularizers *r)
{
  if (!r)
    return MV_OK;
  const mv_loss_term_type *type[4] = { mv_loss_term_aux, mv_loss_term_ortho,
                                       mv_loss_term_ortho_gated, mv_loss_term_var };
  double c[4] = { r->aux, r->ortho, r->ortho_gated, r->var };
  for (int i = 0; i < 4; i++)
    if (!(c[i] >= 0) || isinf (c[i]))
      return mv_error_set (MV_EINVAL, "loss: regularizer %s: coefficient %g "
                           "must be finite and >= 0", type[i]->name, c[i]);
  for (int i = 0; i < 4; i++)
    {
      int s = c[i] != 0 ? mv_loss_add_term (ws, type[i], c[i]) : MV_OK;
      if (s)
        return s;
    }
  return MV_OK;
}

void
mv_loss_clear_terms (mv_loss_ws *ws)
{
  ws->nterms = 0;
}

size_t
mv_loss_nterms (const mv_loss_ws *ws)
{
  return ws->nterms;
}

const mv_loss_term_type *
mv_loss_term (const mv_loss_ws *ws, size_t i, double *weight)
{
  if (i >= ws->nterms)
    return NULL;
  if (weight)
    *weight = ws->terms[i].weight;
  return ws->terms[i].type;
}

static mv_loss_term_ctx
term_ctx (mv_loss_ws *ws, size_t i, double noise_var, int want_bounds)
{
  mv_loss_term_ctx c;
  c.m = ws->m, c.mstar = ws->mstar, c.n = ws->n;
  c.nvar = mv_loss_nvar (ws);
  c.noise_var = noise_var;
  c.weight = ws->terms[i].weight;
  c.want_bounds = want_bounds;
  c.wp = ws->ex->wp;
  c.ws = ws;
  c.work = ws->work;
  return c;
}

/* ------------------------------------------------------------ double path */

/* A term without a per-sample form, other than the noise constant (whose
 * samples are the label noise): SGD adds its closed-form gradient. */
static int
gram_only (const mv_loss_term_type *T)
{
  return !T->sample_d && T != mv_loss_term_noise;
}

/* Sum the terms' value, dL/dG (may be NULL) and (H != NULL) Hessian; the
 * terms add one triangle entry per variable, symmetrised here.  only_gram:
 * sum only the terms without a per-sample form (gram_only). */
static int
gram_d_core (double *L, double *dLdG, double *H, mv_loss_info *info,
             const double *G, double noise_var, mv_loss_ws *ws, int only_gram)
{
  size_t n = ws->n, nn = n * n, nv = mv_loss_nvar (ws);
  mv_loss_acc_d acc = { 0 };
  acc.dLdG = dLdG, acc.errG = ws->errG;
  if (dLdG)
    memset (dLdG, 0, nn * sizeof *dLdG);
  memset (ws->errG, 0, nn * sizeof *ws->errG);
  if (H)
    memset (H, 0, nv * nv * sizeof *H);
  for (size_t i = 0; i < ws->nterms; i++)
    {
      const mv_loss_term_type *T = ws->terms[i].type;
      if (only_gram && !gram_only (T))
        continue;
      mv_loss_term_ctx c = term_ctx (ws, i, noise_var, info != NULL);
      int s = T->gram_d (&acc, G, &c);
      if (!s && H && T->hess_d)
        s = T->hess_d (H, G, &c);
      if (s)
        return s;
    }
  if (dLdG)
    {
      symmetrize_d (dLdG, n);
      /* teacher-teacher entries are constants, not variables (the rho_CE
       * partials of student-teacher pairs land there) */
      for (size_t k = 2 * ws->m; k < n; k++)
        for (size_t l = 2 * ws->m; l < n; l++)
          dLdG[k * n + l] = 0.0;
    }
  symmetrize_d (ws->errG, n);
  /* the final sum itself: nsum roundings of terms bounded by abs_terms */
  double err = acc.err + (acc.nsum + 1.0) * ldexp (acc.abs_terms, -MV_PREC_DOUBLE);
  *L = acc.L;
  mv_mag errm;
  mv_mag_set_d (&errm, err);
  finish_info (info, acc.L, &errm, acc.abs_terms, acc.max_terms, ws);
  return MV_OK;
}

int
mv_loss_gram_d (double *L, double *dLdG, mv_loss_info *info, const double *G,
                double noise_var, mv_loss_ws *ws)
{
  return gram_d_core (L, dLdG, NULL, info, G, noise_var, ws, 0);
}

int
mv_loss_gram_only_d (double *L, double *dLdG, const double *G,
                     double noise_var, mv_loss_ws *ws)
{
  return gram_d_core (L, dLdG, NULL, NULL, G, noise_var, ws, 1);
}

size_t
mv_loss_ngram_only (const mv_loss_ws *ws)
{
  size_t c = 0;
  for (size_t i = 0; i < ws->nterms; i++)
    c += gram_only (ws->terms[i].type) != 0;
  return c;
}

int
mv_loss_gram_hess_d (double *L, double *dLdG, double *H, mv_loss_info *info,
                     const double *G, double noise_var, mv_loss_ws *ws)
{
  return gram_d_core (L, dLdG, H, info, G, noise_var, ws, 0);
}

/* ------------------------------------------------------------ MPFR path */

/* Symmetrise dL/dG and its radii, zero the teacher-teacher block, and add
 * the rounding of the sums: nsum terms of size <= 100 per entry. */
static void
gram_finish_grad (mpfr_t *dLdG, double nsum, mv_loss_ws *ws)
{
  size_t n = ws->n;
  if (dLdG)
    {
      for (size_t k = 0; k < n; k++)
        for (size_t l = k + 1; l < n; l++)
          {
            mpfr_add (dLdG[k * n + l], dLdG[k * n + l], dLdG[l * n + k], MPFR_RNDN);
            mpfr_set (dLdG[l * n + k], dLdG[k * n + l], MPFR_RNDN);
          }
      for (size_t k = 2 * ws->m; k < n; k++)
        for (size_t l = 2 * ws->m; l < n; l++)
          mpfr_set_zero (dLdG[k * n + l], 1);
    }
  mv_mag t1;
  mv_mag_set_d_2exp (&t1, (nsum + 1.0) * 100.0, -(long) ws->ex->wp);
  for (size_t k = 0; k < n; k++)
    for (size_t l = k + 1; l < n; l++)
      {
        mv_mag *a = &ws->errGm[k * n + l], *b = &ws->errGm[l * n + k];
        mv_mag_add (a, a, b);
        mv_mag_add (a, a, &t1);
        *b = *a;
      }
}

int
mv_loss_gram (mpfr_t L, mpfr_t *dLdG, mv_loss_info *info, mpfr_t *G,
              double noise_var, mv_loss_ws *ws)
{
  size_t n = ws->n;
  if (dLdG)
    for (size_t i = 0; i < n * n; i++)
      mpfr_set_zero (dLdG[i], 1);
  for (size_t i = 0; i < n * n; i++)
    mv_mag_zero (&ws->errGm[i]);
  mpfr_set_zero (ws->acc, 1);
  mv_loss_acc acc = { ws->acc, dLdG, ws->errGm, { 0, 0 }, 0, 0, 0 };
  mv_mag_zero (&acc.err);
  for (size_t i = 0; i < ws->nterms; i++)
    {
      const mv_loss_term_type *T = ws->terms[i].type;
      if (!T->gram_mpfr)
        return mv_error_set (MV_EINVAL, "loss: term %s has no MPFR evaluator "
                             "(use the double path, --fast)", T->name);
      mv_loss_term_ctx c = term_ctx (ws, i, noise_var, 1);
      int s = T->gram_mpfr (&acc, G, &c);
      if (s)
        return s;
    }
  gram_finish_grad (dLdG, acc.nsum, ws);
  /* rounding of the sum: nsum terms bounded by abs_terms */
  mv_mag t1, err = acc.err;
  mv_mag_set_d_2exp (&t1, (acc.nsum + 1.0) * acc.abs_terms, -(long) ws->ex->wp);
  mv_mag_add (&err, &err, &t1);
  mpfr_set (L, ws->acc, MPFR_RNDN);
  /* rounding L (and dL/dG) to the caller's precision */
  mv_mag_set_mpfr (&t1, L);
  mv_mag_mul_2exp (&t1, &t1, -(long) mpfr_get_prec (L));
  mv_mag_add (&err, &err, &t1);
  finish_info (info, mpfr_get_d (L, MPFR_RNDN), &err, acc.abs_terms,
               acc.max_terms, ws);
  return MV_OK;
}

/* ------------------------------------------------------------ per sample */

/* The per-sample sum; skip_gram: skip the terms without a per-sample form
 * instead of refusing them. */
static int
sample_core (double *val, double *D, size_t ldd, const double *P, size_t ldp,
             const double *eps, size_t b, mv_loss_ws *ws, int skip_gram)
{
  size_t m2 = 2 * ws->m;
  if (ldp < ws->n || (D && ldd < m2))
    return mv_error_set (MV_EINVAL, "loss: sample strides ldp = %zu, ldd = %zu "
                         "below n = %zu, 2m = %zu", ldp, ldd, ws->n, m2);
  for (size_t s = 0; s < b; s++)
    {
      val[s] = 0.0;
      if (D)
        memset (D + s * ldd, 0, m2 * sizeof *D);
    }
  for (size_t i = 0; i < ws->nterms; i++)
    {
      const mv_loss_term_type *T = ws->terms[i].type;
      if (T == mv_loss_term_noise)
        continue;   /* its samples are eps in the data-fit residual */
      if (!T->sample_d)
        {
          if (skip_gram)
            continue;
          return mv_error_set (MV_EINVAL, "loss: term %s has no per-sample "
                               "form", T->name);
        }
      mv_loss_term_ctx c = term_ctx (ws, i, 0.0, 0);
      int s = T->sample_d (val, D, ldd, P, ldp, eps, b, &c);
      if (s)
        return s;
    }
  return MV_OK;
}

int
mv_loss_sample_d (double *val, double *D, size_t ldd, const double *P,
                  size_t ldp, const double *eps, size_t b, mv_loss_ws *ws)
{
  return sample_core (val, D, ldd, P, ldp, eps, b, ws, 0);
}

int
mv_loss_sample_partial_d (double *val, double *D, size_t ldd,
                          const double *P, size_t ldp, const double *eps,
                          size_t b, mv_loss_ws *ws)
{
  return sample_core (val, D, ldd, P, ldp, eps, b, ws, 1);
}
