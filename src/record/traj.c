/* Trajectory recording shared by the full flow, the reduced flow and SGD:
 * output rows (time, loss, |grad|^2, Gram matrix) and alignment events
 * detected at every accepted step. */
#include <moeverify/traj.h>
#include <moeverify/error.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

const double mv_traj_thresholds[MV_TRAJ_NTHR] = { 0.5, 0.9, 0.99 };

int
mv_traj_init (mv_traj *tr, size_t m, size_t mstar)
{
  memset (tr, 0, sizeof *tr);
  tr->m = m, tr->mstar = mstar, tr->n = 2 * (m + mstar);
  size_t ncross = MV_ALIGN_NKIND * MV_TRAJ_NTHR * m * mstar;
  tr->cross = malloc (ncross * sizeof *tr->cross);
  tr->prev = malloc (MV_ALIGN_NKIND * m * mstar * sizeof *tr->prev);
  tr->norms0 = calloc (tr->n, sizeof *tr->norms0);
  if (!tr->cross || !tr->prev || !tr->norms0)
    {
      mv_traj_clear (tr);
      return mv_error_set (MV_ENOMEM, "trajectory: out of memory");
    }
  for (size_t i = 0; i < ncross; i++)
    tr->cross[i] = NAN;
  tr->t_prev = NAN;
  tr->status = MV_TRAJ_RUNNING;
  return MV_OK;
}

void
mv_traj_clear (mv_traj *tr)
{
  free (tr->t), free (tr->loss), free (tr->grad2), free (tr->energy);
  free (tr->G), free (tr->norms0), free (tr->cross), free (tr->prev);
  free (tr->final_state);
  memset (tr, 0, sizeof *tr);
}

static int
grow (double **a, size_t cap)
{
  double *p = realloc (*a, cap * sizeof *p);
  if (!p)
    return MV_ENOMEM;
  *a = p;
  return MV_OK;
}

int
mv_traj_push (mv_traj *tr, double t, double loss, double grad2, double energy,
              const double *G)
{
  size_t nn = tr->n * tr->n;
  if (tr->rows == tr->cap)
    {
      size_t cap = tr->cap ? 2 * tr->cap : 64;
      if (grow (&tr->t, cap) || grow (&tr->loss, cap) || grow (&tr->grad2, cap)
          || grow (&tr->energy, cap) || grow (&tr->G, cap * nn))
        return mv_error_set (MV_ENOMEM, "trajectory: out of memory");
      tr->cap = cap;
    }
  size_t r = tr->rows++;
  tr->t[r] = t, tr->loss[r] = loss, tr->grad2[r] = grad2, tr->energy[r] = energy;
  memcpy (tr->G + r * nn, G, nn * sizeof *G);
  return MV_OK;
}

void
mv_traj_observe (mv_traj *tr, double t, const double *G)
{
  size_t m = tr->m, ms = tr->mstar, n = tr->n, mm = m * ms;
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < ms; j++)
      {
        double a[MV_ALIGN_NKIND];
        a[MV_ALIGN_ROUTER] = G[i * n + 2 * m + j];
        a[MV_ALIGN_EXPERT] = G[(m + i) * n + 2 * m + ms + j];
        a[MV_ALIGN_BOTH] = fmin (a[0], a[1]);
        for (int k = 0; k < MV_ALIGN_NKIND; k++)
          {
            double prev = tr->prev[k * mm + i * ms + j];
            for (int h = 0; h < MV_TRAJ_NTHR; h++)
              {
                double *c = &tr->cross[((k * MV_TRAJ_NTHR + h) * m + i) * ms + j];
                double th = mv_traj_thresholds[h];
                if (!isnan (*c) || a[k] < th)
                  continue;
                /* first crossing: interpolate within the last step */
                if (isnan (tr->t_prev) || prev >= th || a[k] == prev)
                  *c = t;
                else
                  *c = tr->t_prev + (t - tr->t_prev) * (th - prev) / (a[k] - prev);
              }
            tr->prev[k * mm + i * ms + j] = a[k];
          }
      }
  tr->t_prev = t;
}

double
mv_traj_recovery (const mv_traj *tr, size_t j, long *student)
{
  size_t m = tr->m, ms = tr->mstar;
  double best = NAN;
  long who = -1;
  for (size_t i = 0; i < m; i++)
    {
      double c = tr->cross[((MV_ALIGN_BOTH * MV_TRAJ_NTHR + 1) * m + i) * ms + j];
      if (!isnan (c) && (isnan (best) || c < best))
        best = c, who = (long) i;
    }
  if (student)
    *student = who;
  return best;
}
