/* Reference runs of the reduced flow: GBS in MPFR (gbs.c) on the MPFR
 * right-hand side (flow_reduced_mpfr.c) from G(0) to a list of output
 * times, the record of every quantity at each, and its double copy as an
 * mv_traj (proofs/reference-integrator.md). */
#include <moeverify/reference.h>
#include <moeverify/error.h>
#include <moeverify/hermite.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void
mv_ref_params_default (mv_ref_params *p)
{
  memset (p, 0, sizeof *p);
  p->prec = 256;
  p->tol = 1e-40;
}

size_t
mv_ref_nq (size_t m, size_t mstar)
{
  size_t ns = 2 * m;
  return ns * (ns - 1) / 2 + ns * 2 * mstar + 3;
}

/* vector k of the Gram order [v, w, v*, w*] as "v1", "w*2" */
static void
vec_name (char *buf, size_t len, size_t k, size_t m, size_t mstar)
{
  static const char *const kind[4] = { "v", "w", "v*", "w*" };
  size_t block = k < m ? 0 : k < 2 * m ? 1 : k < 2 * m + mstar ? 2 : 3;
  size_t base = block < 2 ? block * m : 2 * m + (block - 2) * mstar;
  snprintf (buf, len, "%s%zu", kind[block], k - base + 1);
}

void
mv_ref_quantity_name (char *buf, size_t len, size_t q, size_t m, size_t mstar)
{
  static const char *const tail[3] = { "loss", "grad2", "energy" };
  size_t nq = mv_ref_nq (m, mstar), n = 2 * (m + mstar), nv = nq - 3;
  if (q >= nq)
    {
      snprintf (buf, len, "?");
      return;
    }
  if (q >= nv)
    {
      snprintf (buf, len, "%s", tail[q - nv]);
      return;
    }
  size_t k = 0, row = n - 1;       /* rows k hold n - 1 - k variables */
  while (q >= row)
    q -= row, k++, row--;
  char a[16], b[16];
  vec_name (a, sizeof a, k, m, mstar);
  vec_name (b, sizeof b, k + 1 + q, m, mstar);
  snprintf (buf, len, "G[%s,%s]", a, b);
}

void
mv_ref_traj_clear (mv_ref_traj *r)
{
  if (r->q)
    for (size_t i = 0; i < r->cap * r->nq; i++)
      mpfr_clear (r->q[i]);
  free (r->q), free (r->t), free (r->norms), free (r->G0);
  memset (r, 0, sizeof *r);
}

mpfr_ptr
mv_ref_traj_get (const mv_ref_traj *r, size_t row, size_t q)
{
  return row < r->rows && q < r->nq ? r->q[row * r->nq + q] : NULL;
}

static int
traj_init (mv_ref_traj *r, size_t m, size_t mstar, size_t cap, const mv_ref_params *p)
{
  memset (r, 0, sizeof *r);
  r->m = m, r->mstar = mstar, r->n = 2 * (m + mstar), r->nq = mv_ref_nq (m, mstar);
  r->nvar = r->nq - 3, r->cap = cap, r->prec = p->prec, r->tol = p->tol;
  r->t = calloc (cap, sizeof *r->t);
  r->norms = calloc (r->n, sizeof *r->norms);
  r->G0 = calloc (r->n * r->n, sizeof *r->G0);
  r->q = malloc (cap * r->nq * sizeof *r->q);
  if (!r->t || !r->norms || !r->G0 || !r->q)
    {
      free (r->q), r->q = NULL, r->cap = 0;
      return mv_error_set (MV_ENOMEM, "reference: out of memory (%zu rows)", cap);
    }
  for (size_t i = 0; i < cap * r->nq; i++)
    mpfr_init2 (r->q[i], p->prec);
  return MV_OK;
}

static int
check_params (const mv_ref_params *p)
{
  if (p->prec <= MV_PREC_DOUBLE || p->prec > MV_PREC_MAX)
    return mv_error_set (MV_EPREC, "reference: precision %ld outside (%d, %d]",
                         (long) p->prec, MV_PREC_DOUBLE, MV_PREC_MAX);
  if (!(p->tol >= 1e-290 && p->tol <= 1e-3))
    return mv_error_set (MV_EINVAL, "reference: tolerance %g outside [1e-290, 1e-3]", p->tol);
  /* below ~2^(10-p) the error estimate cannot fall under the rounding
   * noise of the table: every step would be rejected */
  if (p->tol < ldexp (1.0, 10 - (int) p->prec))
    return mv_error_set (MV_EINVAL, "reference: tolerance %g below what %ld bits resolve "
                         "(2^%d = %.3g)", p->tol, (long) p->prec, 10 - (int) p->prec,
                         ldexp (1.0, 10 - (int) p->prec));
  if (!p->times || !p->n_times)
    return mv_error_set (MV_EINVAL, "reference: no output times");
  for (size_t i = 0; i < p->n_times; i++)
    if (!(p->times[i] > (i ? p->times[i - 1] : 0)) || !isfinite (p->times[i]))
      return mv_error_set (MV_EINVAL, "reference: output time %zu (%g) is not positive "
                           "and increasing", i, p->times[i]);
  return MV_OK;
}

/* ------------------------------------------------------------ systems */

static void *
red_alloc (const mv_ref_input *in, mpfr_prec_t prec)
{
  mv_ref_red *w = mv_ref_red_alloc (in->G0, in->norms, in->m, in->mstar, in->noise_var, prec);
  if (w && in->reg && mv_loss_add_regularizers (mv_ref_red_loss (w), in->reg))
    mv_ref_red_free (w), w = NULL;
  return w;
}

static int
red_observe (mpfr_t *q, mpfr_t *y, void *sys)
{
  mv_ref_red *w = sys;
  size_t nv = mv_ref_red_dim (w) - 1;
  for (size_t a = 0; a < nv; a++)
    mpfr_set (q[a], y[a], MPFR_RNDN);
  return mv_ref_red_observe (q[nv], q[nv + 1], NULL, y, w);
}

static void *
full_alloc (const mv_ref_input *in, mpfr_prec_t prec)
{
  mv_ref_full *w = mv_ref_full_alloc (in->V, in->W, in->Vt, in->Wt, in->m, in->mstar, in->d,
                                      in->noise_var, prec);
  if (w && in->reg && mv_loss_add_regularizers (mv_ref_full_loss (w), in->reg))
    mv_ref_full_free (w), w = NULL;
  return w;
}

static const mv_ref_system_type reduced_type = {
  "reduced", "reduced flow, Gragg-Bulirsch-Stoer in MPFR (proofs/reference-integrator.md)",
  red_alloc, (void (*) (void *)) mv_ref_red_free, (size_t (*) (const void *)) mv_ref_red_dim,
  (void (*) (mpfr_t *, const void *)) mv_ref_red_state0, mv_ref_red_rhs, red_observe,
};

static const mv_ref_system_type full_type = {
  "full", "full flow (raw vectors), Gragg-Bulirsch-Stoer in MPFR "
  "(proofs/reference-integrator.md)",
  full_alloc, (void (*) (void *)) mv_ref_full_free, (size_t (*) (const void *)) mv_ref_full_dim,
  (void (*) (mpfr_t *, const void *)) mv_ref_full_state0, mv_ref_full_rhs,
  (int (*) (mpfr_t *, mpfr_t *, void *)) mv_ref_full_observe,
};

const mv_ref_system_type *mv_ref_system_reduced = &reduced_type;
const mv_ref_system_type *mv_ref_system_full = &full_type;

const mv_ref_system_type *
mv_ref_system_find (const char *name)
{
  static const mv_ref_system_type *const known[] = { &reduced_type, &full_type };
  for (size_t i = 0; name && i < sizeof known / sizeof *known; i++)
    if (!strcmp (known[i]->name, name))
      return known[i];
  return NULL;
}

/* ------------------------------------------------------------ runs */

typedef struct {
  const mv_ref_system_type *type;
  void *sys;
  mv_gbs_ws *gbs;
  mpfr_t *y;
  size_t dim;
  mpfr_t t, t1;
} run_ctx;

/* Row r of the record at state y (time t). */
static int
record_row (mv_ref_traj *r, double t, run_ctx *c)
{
  mpfr_t *q = r->q + r->rows * r->nq;
  int s = c->type->observe (q, c->y, c->sys);
  if (s)
    return s;
  mpfr_set (q[r->nvar + 2], c->y[c->dim - 1], MPFR_RNDN);
  r->t[r->rows++] = t;
  return MV_OK;
}

static void
run_free (run_ctx *c)
{
  if (c->y)
    {
      for (size_t i = 0; i < c->dim; i++)
        mpfr_clear (c->y[i]);
      free (c->y);
    }
  mv_gbs_free (c->gbs);
  if (c->sys)
    c->type->free (c->sys);
  mpfr_clears (c->t, c->t1, (mpfr_ptr) 0);
}

static int
run_setup (run_ctx *c, const mv_ref_system_type *type, const mv_ref_input *in,
           const mv_ref_params *p)
{
  memset (c, 0, sizeof *c);
  c->type = type;
  mpfr_inits2 (p->prec, c->t, c->t1, (mpfr_ptr) 0);
  mpfr_set_zero (c->t, 1);
  if (!(c->sys = type->alloc (in, p->prec)))
    return MV_EINVAL;
  c->dim = type->dim (c->sys);
  if (!(c->gbs = mv_gbs_alloc (c->dim, p->kmax, p->prec)))
    return MV_EINVAL;
  if (!(c->y = malloc (c->dim * sizeof *c->y)))
    return mv_error_set (MV_ENOMEM, "reference: out of memory");
  for (size_t i = 0; i < c->dim; i++)
    mpfr_init2 (c->y[i], p->prec);
  type->state0 (c->y, c->sys);
  return MV_OK;
}

/* the run's progress callback after every GBS step */
static void
step_progress (void *ctx, double t)
{
  const mv_ref_params *p = ctx;
  p->progress (p->progress_ctx, t, p->times[p->n_times - 1]);
}

/* Integrate output interval by interval; an interrupt leaves the rows
 * reached. */
static int
run_intervals (mv_ref_traj *r, run_ctx *c, const mv_ref_params *p)
{
  mv_gbs_params gp;
  mv_gbs_params_default (&gp);
  gp.tol = p->tol, gp.max_steps = p->max_steps, gp.interrupt = p->interrupt;
  if (p->progress)
    gp.progress = step_progress, gp.progress_ctx = (void *) p;
  int s = record_row (r, 0.0, c);
  for (size_t i = 0; !s && i < p->n_times; i++)
    {
      mpfr_set_d (c->t1, p->times[i], MPFR_RNDN);
      s = mv_gbs_evolve (c->y, c->t, c->t1, c->type->rhs, c->sys, &gp, c->gbs);
      if (!s && mpfr_less_p (c->t, c->t1))
        {
          r->status = MV_TRAJ_INTERRUPTED;
          break;
        }
      if (!s)
        s = record_row (r, p->times[i], c);
    }
  return s;
}

int
mv_ref_run (mv_ref_traj *r, const mv_ref_system_type *type, const mv_ref_input *in,
            const mv_ref_params *p)
{
  memset (r, 0, sizeof *r);
  int s = check_params (p);
  if (s)
    return s;
  struct timespec t0, t1;
  clock_gettime (CLOCK_MONOTONIC, &t0);
  run_ctx c;
  s = run_setup (&c, type, in, p);
  if (!s)
    s = traj_init (r, in->m, in->mstar, p->n_times + 1, p);
  if (!s)
    {
      r->system = type;
      memcpy (r->norms, in->norms, r->n * sizeof *r->norms);
      for (size_t k = 2 * in->m; k < r->n; k++)
        r->norms[k] = 1.0;              /* teachers: unit (reference.h) */
      memcpy (r->G0, in->G0, r->n * r->n * sizeof *in->G0);
      r->status = MV_TRAJ_RUNNING;
      s = run_intervals (r, &c, p);
      const mv_gbs_stats *st = mv_gbs_stats_get (c.gbs);
      r->steps = st->steps, r->rejected = st->rejected, r->rhs_evals = st->rhs_evals;
      if (r->status != MV_TRAJ_INTERRUPTED)
        r->status = s ? MV_TRAJ_FAILED : MV_TRAJ_DONE;
    }
  run_free (&c);
  clock_gettime (CLOCK_MONOTONIC, &t1);
  r->wall_seconds = (double) (t1.tv_sec - t0.tv_sec) + 1e-9 * (double) (t1.tv_nsec - t0.tv_nsec);
  return s;
}

int
mv_ref_reduced (mv_ref_traj *r, const double *G0, const double *norms, size_t m,
                size_t mstar, double noise_var, const mv_ref_params *p)
{
  mv_ref_input in = { .m = m, .mstar = mstar, .noise_var = noise_var, .G0 = G0,
                      .norms = norms };
  return mv_ref_run (r, mv_ref_system_reduced, &in, p);
}

/* Gram matrix of row `row` in double, rounded to nearest; the teacher
 * block (constant) from G0. */
static void
row_gram (double *G, const mv_ref_traj *r, size_t row)
{
  size_t n = r->n, ns = 2 * r->m, a = 0;
  memcpy (G, r->G0, n * n * sizeof *G);
  for (size_t k = 0; k < ns; k++)
    for (size_t l = k + 1; l < n; l++, a++)
      G[k * n + l] = G[l * n + k] = mpfr_get_d (r->q[row * r->nq + a], MPFR_RNDN);
}

int
mv_ref_traj_to_traj (mv_traj *tr, const mv_ref_traj *r)
{
  size_t n = r->n, nv = r->nvar;
  if (tr->m != r->m || tr->mstar != r->mstar)
    return mv_error_set (MV_EINVAL, "reference: trajectory is for m = %zu, m* = %zu",
                         tr->m, tr->mstar);
  double *G = malloc (n * n * sizeof *G);
  if (!G)
    return mv_error_set (MV_ENOMEM, "reference: out of memory");
  int s = MV_OK;
  for (size_t row = 0; !s && row < r->rows; row++)
    {
      row_gram (G, r, row);
      mpfr_t *q = r->q + row * r->nq;
      mv_traj_observe (tr, r->t[row], G);
      s = mv_traj_push (tr, r->t[row], mpfr_get_d (q[nv], MPFR_RNDN),
                        mpfr_get_d (q[nv + 1], MPFR_RNDN),
                        mpfr_get_d (q[nv + 2], MPFR_RNDN), G);
    }
  free (G);
  for (size_t k = 0; k < n; k++)
    tr->norms0[k] = r->norms[k];
  snprintf (tr->method, sizeof tr->method, "%s", r->system ? r->system->name : "reduced");
  snprintf (tr->stepper, sizeof tr->stepper, "gbs-mpfr%ld", (long) r->prec);
  tr->rtol = tr->atol = r->tol;
  tr->t_end = r->rows ? r->t[r->rows - 1] : 0;
  tr->steps = r->steps, tr->rejected = r->rejected, tr->rhs_evals = r->rhs_evals;
  tr->wall_seconds = r->wall_seconds;
  tr->status = r->status;
  return s;
}
