/* Adaptive integration of the gradient flows with GSL odeiv2, shared by
 * the full and the reduced flow: stepper selection, per-component error
 * scaling, output grid, events at every accepted step, interruption. */
#include "dynamics/flow_priv.h"
#include <moeverify/error.h>
#include <moeverify/io.h>

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
} STEPPERS[] = {
  { "rk8pd", &gsl_odeiv2_step_rk8pd, 0 },
  { "rkf45", &gsl_odeiv2_step_rkf45, 0 },
  { "rkck", &gsl_odeiv2_step_rkck, 0 },
  { "rk4", &gsl_odeiv2_step_rk4, 0 },
  { "msadams", &gsl_odeiv2_step_msadams, 0 },
  { "msbdf", &gsl_odeiv2_step_msbdf, 1 },
  { "bsimp", &gsl_odeiv2_step_bsimp, 1 },
  { "rk4imp", &gsl_odeiv2_step_rk4imp, 1 },
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
  p->prec = 53;
  p->n_out = 200;
}

double *
mv_flow_times (const mv_flow_params *p, size_t *n)
{
  double *t;
  if (p->times)
    {
      t = malloc ((p->n_times + 1) * sizeof *t);
      if (!t)
        return NULL;
      t[0] = 0;
      memcpy (t + 1, p->times, p->n_times * sizeof *t);
      *n = p->n_times + 1;
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
  return mv_flow_stepper_find (p->stepper, stepper);
}

int
mv_flow_params_check (const mv_flow_params *p)
{
  size_t stepper;
  return check_params (p, &stepper);
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
  size_t nt, n = tr->n, dim = fp->sys.dimension;
  double *times = mv_flow_times (p, &nt);
  double *G = malloc (n * n * sizeof *G);
  double h0 = p->h0 > 0 ? p->h0 : 1e-6 * p->t_end;
  gsl_odeiv2_driver *drv = NULL;
  if (times && G)
    drv = gsl_odeiv2_driver_alloc_scaled_new (&fp->sys, type, h0, p->atol, p->rtol,
                                              1.0, 0.0, fp->scale_abs);
  if (!drv)
    {
      free (times), free (G);
      return mv_error_set (MV_ENOMEM, "flow: out of memory (dimension %zu)", dim);
    }
  snprintf (tr->stepper, sizeof tr->stepper, "%s", mv_flow_stepper_name (si));
  tr->rtol = p->rtol, tr->atol = p->atol, tr->t_end = p->t_end;
  tr->status = MV_TRAJ_RUNNING;
  double wall0 = mv_io_now (), t = 0, h = h0, L, g2;
  s = fp->observe (fp->ctx, y, G, &L, &g2);
  if (!s)
    {
      mv_traj_observe (tr, 0, G);
      s = mv_traj_push (tr, 0, L, g2, y[dim - 1], G);
    }
  for (size_t k = 1; k < nt && !s && tr->status == MV_TRAJ_RUNNING; k++)
    {
      while (t < times[k])
        {
          if (p->interrupt && *p->interrupt)
            {
              tr->status = MV_TRAJ_INTERRUPTED;
              snprintf (tr->message, sizeof tr->message, "interrupted at t = %.6g", t);
              break;
            }
          if (p->max_steps && drv->e->count >= p->max_steps)
            {
              tr->status = MV_TRAJ_FAILED;
              snprintf (tr->message, sizeof tr->message,
                        "step limit %lu reached at t = %.6g", p->max_steps, t);
              break;
            }
          int gs = gsl_odeiv2_evolve_apply (drv->e, drv->c, drv->s, &fp->sys, &t,
                                            times[k], &h, y);
          if (gs != GSL_SUCCESS)
            {
              tr->status = MV_TRAJ_FAILED;
              snprintf (tr->message, sizeof tr->message,
                        "solver failed at t = %.6g (h = %.3g): %s", t, h, gsl_strerror (gs));
              break;
            }
          if ((s = fp->observe (fp->ctx, y, G, NULL, NULL)))
            break;
          mv_traj_observe (tr, t, G);
          if (p->progress)
            p->progress (p->progress_ctx, t, p->t_end);
        }
      if (s)
        break;
      /* the row at the stopping time (grid time, or where we stopped) */
      int s2 = fp->observe (fp->ctx, y, G, &L, &g2);
      if (s2)
        s = s2;
      else
        s = mv_traj_push (tr, t, L, g2, y[dim - 1], G);
    }
  if (!s && tr->status == MV_TRAJ_RUNNING)
    tr->status = MV_TRAJ_DONE;
  tr->steps = drv->e->count;
  tr->rejected = drv->e->failed_steps;
  tr->rhs_evals = *fp->rhs_count;
  tr->jac_evals = fp->jac_count ? *fp->jac_count : 0;
  tr->wall_seconds = mv_io_now () - wall0;
  gsl_odeiv2_driver_free (drv);
  free (times), free (G);
  if (!s && tr->status == MV_TRAJ_FAILED)
    return mv_error_set (MV_ENOCONV, "flow: %s", tr->message);
  return s;
}
