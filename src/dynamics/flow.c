/* Adaptive integration of the gradient flows with GSL odeiv2, shared by
 * the full and the reduced flow: stepper selection, per-component error
 * scaling, output grid, the observers (the trajectory recorder first) at
 * every accepted step and output time, interruption. */
#include "dynamics/flow_priv.h"
#include <moeverify/error.h>
#include <moeverify/hermite.h>
#include <moeverify/io.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The stepper table: the one list of GSL step types (usage texts and error
 * messages are generated from it).  Entry 0 is the default. */
static const struct {
  const char *name;
  const gsl_odeiv2_step_type **type;
  int implicit;                 /* needs the flow's analytic Jacobian */
  int resumable;                /* keeps no state between steps that a
                                   checkpoint does not hold (checkpoint.h) */
} STEPPERS[] = {
  { "rk8pd", &gsl_odeiv2_step_rk8pd, 0, 1 },
  { "rkf45", &gsl_odeiv2_step_rkf45, 0, 1 },
  { "rkck", &gsl_odeiv2_step_rkck, 0, 1 },
  { "rk4", &gsl_odeiv2_step_rk4, 0, 1 },
  { "msadams", &gsl_odeiv2_step_msadams, 0, 0 },
  { "msbdf", &gsl_odeiv2_step_msbdf, 1, 0 },
  { "bsimp", &gsl_odeiv2_step_bsimp, 1, 0 },
  { "rk4imp", &gsl_odeiv2_step_rk4imp, 1, 0 },
};
#define N_STEPPERS (sizeof STEPPERS / sizeof STEPPERS[0])

const char *
mv_flow_stepper_name (size_t i)
{
  return i < N_STEPPERS ? STEPPERS[i].name : NULL;
}

int
mv_flow_stepper_implicit (size_t i)
{
  return i < N_STEPPERS && STEPPERS[i].implicit;
}

int
mv_flow_stepper_resumable (size_t i)
{
  return i < N_STEPPERS && STEPPERS[i].resumable;
}

int
mv_flow_implicit (const mv_flow_params *p)
{
  size_t i;
  return mv_flow_stepper_find (p->stepper, &i) == MV_OK && STEPPERS[i].implicit;
}

const gsl_odeiv2_step_type *
mv_flow_stepper_type (size_t i)
{
  return i < N_STEPPERS ? *STEPPERS[i].type : NULL;
}

int
mv_flow_stepper_find (const char *name, size_t *index)
{
  if (!name)
    name = STEPPERS[0].name;
  for (size_t i = 0; i < N_STEPPERS; i++)
    if (!strcmp (name, STEPPERS[i].name))
      {
        if (index)
          *index = i;
        return MV_OK;
      }
  char list[256] = "";
  for (size_t i = 0, len = 0; i < N_STEPPERS && len < sizeof list; i++)
    len += snprintf (list + len, sizeof list - len, "%s%s", i ? ", " : "", STEPPERS[i].name);
  return mv_error_set (MV_EINVAL, "flow: unknown stepper '%s' (%s)", name, list);
}

void
mv_flow_params_default (mv_flow_params *p)
{
  memset (p, 0, sizeof *p);
  p->stepper = STEPPERS[0].name;
  p->rtol = 1e-9;
  p->atol = 1e-12;
  p->t_end = 100;
  p->prec = MV_PREC_DOUBLE;
  p->n_out = 200;
  p->max_steps = MV_FLOW_MAX_STEPS;
}

double *
mv_flow_times (const mv_flow_params *p, size_t *n)
{
  double *t;
  if (p->times)
    {
      /* the run ends at t_end whatever the last output time: a row there */
      size_t k = p->n_times;
      int end = !k || p->times[k - 1] < p->t_end * (1 - 1e-12);
      t = malloc ((k + 1 + end) * sizeof *t);
      if (!t)
        return NULL;
      t[0] = 0;
      memcpy (t + 1, p->times, k * sizeof *t);
      if (end)
        t[k + 1] = p->t_end;
      *n = k + 1 + end;
      return t;
    }
  /* log-spaced (early dynamics) merged with evenly spaced (plots on a
   * linear time axis), n_out of each */
  size_t k = p->n_out ? p->n_out : 200;
  double t0 = p->t_first > 0 ? p->t_first : 1e-4 * p->t_end;
  t = malloc ((2 * k + 1) * sizeof *t);
  if (!t)
    return NULL;
  size_t a = 0, b = 1, c = 0;
  t[c++] = 0;
  while (a < k || b <= k)
    {
      double tl = a < k ? (k == 1 ? p->t_end : t0 * pow (p->t_end / t0, (double) a / (k - 1)))
                        : INFINITY;
      double tu = b <= k ? p->t_end * (double) b / k : INFINITY;
      double next = fmin (tl, tu);
      if (next == tl)
        a++;
      if (next == tu)
        b++;
      if (next > t[c - 1] * (1 + 1e-12) && next <= p->t_end)
        t[c++] = next;
    }
  t[c - 1] = p->t_end;
  *n = c;
  return t;
}

/* p usable; *stepper its index in the table. */
static int
check_params (const mv_flow_params *p, size_t *stepper)
{
  if (!(p->t_end > 0) || !isfinite (p->t_end))
    return mv_error_set (MV_EINVAL, "flow: t-end must be positive and finite (got %g)", p->t_end);
  if (!(p->rtol > 0) || !(p->atol >= 0) || !isfinite (p->rtol) || !isfinite (p->atol)
      || (p->atol == 0 && p->rtol == 0))
    return mv_error_set (MV_EINVAL, "flow: tolerances must be positive (rtol %g, atol %g)",
                         p->rtol, p->atol);
  if (p->times)
    for (size_t i = 0; i < p->n_times; i++)
      if (!(p->times[i] > (i ? p->times[i - 1] : 0)) || p->times[i] > p->t_end)
        return mv_error_set (MV_EINVAL, "flow: output times must increase within (0, t-end]");
  int s = mv_flow_stepper_find (p->stepper, stepper);
  if (!s && (p->ckpt.path || p->ckpt.resume) && !STEPPERS[*stepper].resumable)
    return mv_error_set (MV_EINVAL, "flow: checkpoints need an explicit Runge-Kutta "
                         "stepper (rk8pd, rkf45, rkck, rk4); %s carries state between "
                         "steps that a checkpoint does not hold", STEPPERS[*stepper].name);
  if (!s && p->ckpt.path && !(p->ckpt.every >= 0))
    return mv_error_set (MV_EINVAL, "flow: checkpoint interval must be >= 0 seconds "
                         "(got %g)", p->ckpt.every);
  return s;
}

int
mv_flow_params_check (const mv_flow_params *p)
{
  size_t stepper;
  return check_params (p, &stepper);
}

/* One run of the driver loop. */
typedef struct {
  mv_traj *tr;
  mv_flow_problem *fp;
  const mv_flow_params *p;
  double *y, *G;
  mv_observer *obs;          /* the recorder, then p->observers */
  size_t n_obs;
  unsigned long tiny;        /* consecutive steps below the time resolution */
  gsl_odeiv2_driver *drv;
  const double *times;       /* output grid (nt), times[0] = 0 */
  size_t nt;
  uint64_t y0_hash;          /* of y at t = 0 (checkpoint identity) */
  double wall_ckpt;          /* mv_io_now () at the last checkpoint */
} flow_run;

/* Steps shorter than this fraction of t_end, this many times in a row,
 * mean the run has stalled: tolerances double precision cannot meet (or a
 * singularity).  One such step per output time is normal (the last step
 * up to it), a thousand in a row is not. */
#define STALL_FRAC (4 * DBL_EPSILON)
#define STALL_STEPS 1000

/* The observables of the state at t (with the loss at a ROW), shown to
 * every observer.  A nonzero status fails the run with its message. */
static int
notify (flow_run *r, int kind, double t)
{
  mv_traj *tr = r->tr;
  mv_flow_problem *fp = r->fp;
  mv_obs_point pt = { kind, t, r->G, NAN, NAN, NAN, fp->d ? r->y : NULL,
                      tr->m, tr->mstar, tr->n, fp->d };
  int row = kind == MV_OBS_ROW;
  int s = fp->observe (fp->ctx, r->y, r->G, row ? &pt.loss : NULL, row ? &pt.grad2 : NULL);
  if (row)
    pt.energy = r->y[fp->sys.dimension - 1];
  if (!s)
    s = mv_observers_notify (r->obs, r->n_obs, &pt);
  if (s == MV_OBS_STOP)
    {
      /* a stopping rule ends the run here; after it stopped, ignored */
      if (tr->status == MV_TRAJ_RUNNING)
        {
          tr->status = MV_TRAJ_DONE;
          snprintf (tr->message, sizeof tr->message, "%s at t = %.6g", mv_error_message (), t);
        }
      return MV_OK;
    }
  if (s)
    {
      tr->status = MV_TRAJ_FAILED;
      snprintf (tr->message, sizeof tr->message, "%s", mv_error_message ());
    }
  return s;
}

/* What determines the trajectory ("id." records, checkpoint.h). */
static int
identity (mv_ckpt *c, const flow_run *r)
{
  const mv_flow_params *p = r->p;
  const mv_regularizers *g = p->reg;
  double reg[4] = { g ? g->aux : 0, g ? g->ortho : 0, g ? g->ortho_gated : 0,
                    g ? g->var : 0 };
  uint64_t shape[3] = { r->tr->m, r->tr->mstar, r->fp->sys.dimension };
  uint64_t data[3] = { r->y0_hash, r->fp->ident,
                       mv_ckpt_hash (r->tr->norms0, r->tr->n * sizeof *r->tr->norms0) };
  int s = mv_ckpt_put_str (c, "id.method", r->tr->method);
  if (!s)
    s = mv_ckpt_put_str (c, "id.stepper", r->tr->stepper);
  if (!s)
    s = mv_ckpt_put_u64 (c, "id.shape", shape, 3);
  if (!s)
    s = mv_ckpt_put_u64 (c, "id.initial point", data, 3);
  if (!s && p->ckpt.spec)
    s = mv_ckpt_put_ulong (c, "id.spec", mv_ckpt_hash (p->ckpt.spec, strlen (p->ckpt.spec)));
  if (!s)
    s = mv_ckpt_put_double (c, "id.rtol", p->rtol);
  if (!s)
    s = mv_ckpt_put_double (c, "id.atol", p->atol);
  if (!s)
    s = mv_ckpt_put_double (c, "id.t_end", p->t_end);
  if (!s)
    s = mv_ckpt_put_double (c, "id.h0", p->h0 > 0 ? p->h0 : 1e-6 * p->t_end);
  if (!s)
    s = mv_ckpt_put_ulong (c, "id.max_steps", p->max_steps);
  if (!s)
    s = mv_ckpt_put_ulong (c, "id.prec", (unsigned long) p->prec);
  if (!s)
    s = mv_ckpt_put_f64 (c, "id.output times", r->times, r->nt);
  if (!s)
    s = mv_ckpt_put_f64 (c, "id.regularizers", reg, 4);
  return s;
}

/* Write the loop's state (before the step to t, h towards output time
 * times[next]) to p->ckpt.path; a failure fails the run. */
static int
checkpoint (flow_run *r, size_t next, double t, double h)
{
  const mv_flow_params *p = r->p;
  gsl_odeiv2_evolve *e = r->drv->e;
  mv_ckpt *c = mv_ckpt_alloc ();
  uint64_t ev[2] = { e->count, e->failed_steps };
  uint64_t ev2[2] = { *r->fp->rhs_count, r->fp->jac_count ? *r->fp->jac_count : 0 };
  double th[3] = { t, h, e->last_step };
  int s = c ? identity (c, r) : MV_ENOMEM;
  if (!s)
    s = mv_ckpt_put_f64 (c, "st.y", r->y, r->fp->sys.dimension);
  /* GSL reuses the last step's dydt_out as the next dydt_in once count > 0
   * (before the first step the buffer is unset: zeros written) */
  if (!s && e->count == 0)
    memset (e->dydt_out, 0, r->fp->sys.dimension * sizeof *e->dydt_out);
  if (!s)
    s = mv_ckpt_put_f64 (c, "st.dydt_out", e->dydt_out, r->fp->sys.dimension);
  if (!s)
    s = mv_ckpt_put_f64 (c, "st.t h last", th, 3);
  if (!s)
    s = mv_ckpt_put_ulong (c, "st.next", next);
  if (!s)
    s = mv_ckpt_put_u64 (c, "st.steps failed", ev, 2);
  if (!s)
    s = mv_ckpt_put_u64 (c, "st.rhs jac", ev2, 2);
  if (!s)
    s = mv_ckpt_put_ulong (c, "st.tiny", r->tiny);
  s = mv_ckpt_finish (c, s, r->tr, &p->ckpt);
  r->wall_ckpt = mv_io_now ();
  return s;
}

/* The loop's state from p->ckpt.resume, after checking that it is this
 * run's (y must still hold y(0) for the identity). */
static int
restore (flow_run *r, size_t *next, double *t, double *h)
{
  const mv_ckpt *c = r->p->ckpt.resume;
  gsl_odeiv2_evolve *e = r->drv->e;
  mv_ckpt *now = mv_ckpt_alloc ();
  uint64_t ev[2], ev2[2];
  double th[3];
  unsigned long k;
  int s = now ? identity (now, r) : MV_ENOMEM;
  if (!s)
    s = mv_ckpt_check_identity (c, now);
  mv_ckpt_free (now);
  if (!s)
    s = mv_ckpt_get_f64 (c, "st.y", r->y, r->fp->sys.dimension);
  if (!s)
    s = mv_ckpt_get_f64 (c, "st.dydt_out", e->dydt_out, r->fp->sys.dimension);
  if (!s)
    s = mv_ckpt_get_f64 (c, "st.t h last", th, 3);
  if (!s)
    s = mv_ckpt_get_ulong (c, "st.next", &k);
  if (!s)
    s = mv_ckpt_get_u64 (c, "st.steps failed", ev, 2);
  if (!s)
    s = mv_ckpt_get_u64 (c, "st.rhs jac", ev2, 2);
  if (!s)
    s = mv_ckpt_get_ulong (c, "st.tiny", &r->tiny);
  if (!s && (k < 1 || k >= r->nt || !(th[0] >= r->times[k - 1] && th[0] < r->times[k])))
    s = mv_error_set (MV_EPARSE, "checkpoint: time %g and output %lu do not fit the "
                      "output grid", th[0], k);
  if (!s)
    s = mv_traj_ckpt_load (r->tr, c);
  if (s)
    return s;
  *next = k, *t = th[0], *h = th[1];
  e->last_step = th[2];
  e->count = ev[0], e->failed_steps = ev[1];
  *r->fp->rhs_count = ev2[0];
  if (r->fp->jac_count)
    *r->fp->jac_count = ev2[1];
  return MV_OK;
}

/* Accepted steps up to times[k] (or until the run stops), each shown as a
 * STEP.  An interruption writes a checkpoint first when asked for. */
static int
advance (flow_run *r, double *t, double *h, size_t k)
{
  mv_traj *tr = r->tr;
  const mv_flow_params *p = r->p;
  gsl_odeiv2_driver *drv = r->drv;
  double t1 = r->times[k];
  while (*t < t1)
    {
      if (p->interrupt && *p->interrupt)
        {
          if (p->ckpt.path)
            {
              int s = checkpoint (r, k, *t, *h);
              if (s)
                return s;
            }
          tr->status = MV_TRAJ_INTERRUPTED;
          snprintf (tr->message, sizeof tr->message, "interrupted at t = %.6g", *t);
          return MV_OK;
        }
      if (p->max_steps && drv->e->count >= p->max_steps)
        {
          tr->status = MV_TRAJ_FAILED;
          snprintf (tr->message, sizeof tr->message,
                    "step limit %lu reached at t = %.6g", p->max_steps, *t);
          return MV_OK;
        }
      int gs = gsl_odeiv2_evolve_apply (drv->e, drv->c, drv->s, &r->fp->sys, t, t1, h, r->y);
      if (gs != GSL_SUCCESS)
        {
          tr->status = MV_TRAJ_FAILED;
          snprintf (tr->message, sizeof tr->message,
                    "solver failed at t = %.6g (h = %.3g): %s", *t, *h, gsl_strerror (gs));
          return MV_OK;
        }
      r->tiny = drv->e->last_step < STALL_FRAC * p->t_end ? r->tiny + 1 : 0;
      if (r->tiny >= STALL_STEPS)
        {
          tr->status = MV_TRAJ_FAILED;
          snprintf (tr->message, sizeof tr->message, "stalled at t = %.6g: %d steps in a "
                    "row shorter than %.3g (rtol %g, atol %g beyond double precision?)",
                    *t, STALL_STEPS, STALL_FRAC * p->t_end, p->rtol, p->atol);
          return MV_OK;
        }
      int s = notify (r, MV_OBS_STEP, *t);
      if (s || tr->status != MV_TRAJ_RUNNING)
        return s;
      /* a due checkpoint need not wait for the next output time (at one,
       * run_grid takes it after the ROW) */
      if (p->ckpt.path && p->ckpt.every > 0 && *t < t1
          && mv_io_now () - r->wall_ckpt >= p->ckpt.every && (s = checkpoint (r, k, *t, *h)))
        return s;
      if (p->progress)
        p->progress (p->progress_ctx, *t, p->t_end);
    }
  return MV_OK;
}

/* STEP and ROW at t = 0, then for each output time the steps up to it and
 * its ROW (or a ROW where the run stopped early: interrupted, failed, or
 * stopped by an observer at a STEP); a checkpoint after a ROW when one is
 * due.  A resumed run starts at output time `next` from (t, h). */
static int
run_grid (flow_run *r, size_t next, double t, double h)
{
  const mv_ckpt_params *cp = &r->p->ckpt;
  int s = MV_OK;
  if (next == 0)
    {
      s = notify (r, MV_OBS_STEP, 0);
      if (!s)
        s = notify (r, MV_OBS_ROW, 0);
      next = 1;
    }
  for (size_t k = next; k < r->nt && !s && r->tr->status == MV_TRAJ_RUNNING; k++)
    {
      s = advance (r, &t, &h, k);
      if (!s)
        s = notify (r, MV_OBS_ROW, t);
      if (!s && cp->path && k + 1 < r->nt && r->tr->status == MV_TRAJ_RUNNING
          && mv_io_now () - r->wall_ckpt >= cp->every)
        s = checkpoint (r, k + 1, t, h);
    }
  return s;
}

int
mv_flow_integrate (mv_traj *tr, mv_flow_problem *fp, double *y, const mv_flow_params *p)
{
  size_t si = 0;
  int s = check_params (p, &si);
  if (s)
    return s;
  if (mv_flow_stepper_implicit (si) && !fp->sys.jacobian)
    return mv_error_set (MV_EINVAL, "flow: stepper '%s' needs a Jacobian, which this flow "
                         "does not provide (dimension too large); use an explicit one "
                         "such as %s", mv_flow_stepper_name (si), mv_flow_stepper_name (0));
  const gsl_odeiv2_step_type *type = mv_flow_stepper_type (si);
  size_t nt, n = tr->n, dim = fp->sys.dimension, n_obs = 1 + p->n_observers;
  double *times = mv_flow_times (p, &nt);
  double *G = malloc (n * n * sizeof *G);
  mv_observer *obs = malloc (n_obs * sizeof *obs);
  double h0 = p->h0 > 0 ? p->h0 : 1e-6 * p->t_end;
  gsl_odeiv2_driver *drv = NULL;
  if (times && G && obs)
    drv = gsl_odeiv2_driver_alloc_scaled_new (&fp->sys, type, h0, p->atol, p->rtol,
                                              1.0, 0.0, fp->scale_abs);
  if (!drv)
    {
      free (times), free (G), free (obs);
      return mv_error_set (MV_ENOMEM, "flow: out of memory (dimension %zu)", dim);
    }
  mv_traj_observer (&obs[0], tr);
  if (p->n_observers)
    memcpy (obs + 1, p->observers, p->n_observers * sizeof *obs);
  snprintf (tr->stepper, sizeof tr->stepper, "%s", mv_flow_stepper_name (si));
  tr->rtol = p->rtol, tr->atol = p->atol, tr->t_end = p->t_end;
  tr->status = MV_TRAJ_RUNNING;
  double wall0 = mv_io_now ();
  flow_run r = { tr, fp, p, y, G, obs, n_obs, 0, drv, times, nt,
                 mv_ckpt_hash (y, dim * sizeof *y), wall0 };
  size_t next = 0;
  double t = 0, h = h0;
  if (p->ckpt.resume && (s = restore (&r, &next, &t, &h)))
    {
      gsl_odeiv2_driver_free (drv);
      free (times), free (G), free (obs);
      return s;
    }
  s = run_grid (&r, next, t, h);
  if (!s && tr->status == MV_TRAJ_RUNNING)
    tr->status = MV_TRAJ_DONE;
  tr->steps = drv->e->count;
  tr->rejected = drv->e->failed_steps;
  tr->rhs_evals = *fp->rhs_count;
  tr->jac_evals = fp->jac_count ? *fp->jac_count : 0;
  tr->wall_seconds = mv_io_now () - wall0;
  mv_observers_finish (obs, n_obs, tr);
  gsl_odeiv2_driver_free (drv);
  free (times), free (G), free (obs);
  if (!s && tr->status == MV_TRAJ_FAILED)
    return mv_error_set (MV_ENOCONV, "flow: %s", tr->message);
  return s;
}
