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
  tr->cross_other = malloc (ncross * sizeof *tr->cross_other);
  tr->prev = malloc (MV_ALIGN_NKIND * m * mstar * sizeof *tr->prev);
  tr->norms0 = calloc (tr->n, sizeof *tr->norms0);
  if (!tr->cross || !tr->cross_other || !tr->prev || !tr->norms0)
    {
      mv_traj_clear (tr);
      return mv_error_set (MV_ENOMEM, "trajectory: out of memory");
    }
  for (size_t i = 0; i < ncross; i++)
    tr->cross[i] = tr->cross_other[i] = NAN;
  tr->t_prev = NAN;
  tr->status = MV_TRAJ_RUNNING;
  return MV_OK;
}

void
mv_traj_clear (mv_traj *tr)
{
  free (tr->t), free (tr->loss), free (tr->grad2), free (tr->energy);
  free (tr->G), free (tr->norms0), free (tr->cross), free (tr->cross_other);
  free (tr->prev);
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

/* Alignment of student i with teacher j in an n x n Gram matrix. */
static double
align (const double *G, size_t m, size_t ms, int kind, size_t i, size_t j)
{
  size_t n = 2 * (m + ms);
  double r = G[i * n + 2 * m + j], e = G[(m + i) * n + 2 * m + ms + j];
  return kind == MV_ALIGN_ROUTER ? r : kind == MV_ALIGN_EXPERT ? e : fmin (r, e);
}

static double *
cross_at (const mv_traj *tr, int kind, size_t h, size_t i, size_t j)
{
  return &tr->cross[((kind * MV_TRAJ_NTHR + h) * tr->m + i) * tr->mstar + j];
}

const double *
mv_traj_gram (const mv_traj *tr, size_t row)
{
  return row < tr->rows ? tr->G + row * tr->n * tr->n : NULL;
}

double
mv_traj_align (const mv_traj *tr, size_t row, int kind, size_t i, size_t j)
{
  if (row >= tr->rows || i >= tr->m || j >= tr->mstar)
    return NAN;
  return align (mv_traj_gram (tr, row), tr->m, tr->mstar, kind, i, j);
}

double
mv_obs_align (const mv_obs_point *pt, int kind, size_t i, size_t j)
{
  if (i >= pt->m || j >= pt->mstar)
    return NAN;
  return align (pt->G, pt->m, pt->mstar, kind, i, j);
}

double
mv_traj_crossing (const mv_traj *tr, int kind, size_t h, size_t i, size_t j)
{
  if (kind < 0 || kind >= MV_ALIGN_NKIND || h >= MV_TRAJ_NTHR || i >= tr->m || j >= tr->mstar)
    return NAN;
  return *cross_at (tr, kind, h, i, j);
}

void
mv_traj_observe (mv_traj *tr, double t, const double *G)
{
  size_t m = tr->m, ms = tr->mstar, mm = m * ms;
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < ms; j++)
      {
        double a[MV_ALIGN_NKIND];
        for (int k = 0; k < MV_ALIGN_NKIND; k++)
          a[k] = align (G, m, ms, k, i, j);
        for (int k = 0; k < MV_ALIGN_NKIND; k++)
          {
            double prev = tr->prev[k * mm + i * ms + j];
            /* the other kind (router <-> expert), none for BOTH */
            int ko = k == MV_ALIGN_ROUTER ? MV_ALIGN_EXPERT : k == MV_ALIGN_EXPERT
                     ? MV_ALIGN_ROUTER : -1;
            for (int h = 0; h < MV_TRAJ_NTHR; h++)
              {
                double *c = cross_at (tr, k, h, i, j);
                double th = mv_traj_thresholds[h];
                if (!isnan (*c) || a[k] < th)
                  continue;
                /* first crossing: interpolate within the last step */
                int at = isnan (tr->t_prev) || prev >= th || a[k] == prev;
                double f = at ? 1 : (th - prev) / (a[k] - prev);
                *c = at ? t : tr->t_prev + (t - tr->t_prev) * (th - prev) / (a[k] - prev);
                if (ko >= 0)
                  {
                    double po = tr->prev[ko * mm + i * ms + j];
                    tr->cross_other[c - tr->cross] = at ? a[ko] : po + f * (a[ko] - po);
                  }
              }
            tr->prev[k * mm + i * ms + j] = a[k];
          }
      }
  tr->t_prev = t;
}

double
mv_traj_crossing_other (const mv_traj *tr, int kind, size_t h, size_t i, size_t j)
{
  if (isnan (mv_traj_crossing (tr, kind, h, i, j)))
    return NAN;
  return tr->cross_other[cross_at (tr, kind, h, i, j) - tr->cross];
}

double
mv_traj_recovery (const mv_traj *tr, size_t j, long *student)
{
  size_t m = tr->m;
  double best = NAN;
  long who = -1;
  for (size_t i = 0; i < m; i++)
    {
      double c = *cross_at (tr, MV_ALIGN_BOTH, MV_TRAJ_THR_90, i, j);
      if (!isnan (c) && (isnan (best) || c < best))
        best = c, who = (long) i;
    }
  if (student)
    *student = who;
  return best;
}

int
mv_traj_state (const mv_traj *tr, size_t row, size_t j)
{
  size_t nrec = 0, n03 = 0;
  double emax = 0;
  for (size_t i = 0; i < tr->m; i++)
    {
      double a = mv_traj_align (tr, row, MV_ALIGN_ROUTER, i, j);
      double e = mv_traj_align (tr, row, MV_ALIGN_EXPERT, i, j);
      nrec += a >= 0.9 && e >= 0.9;
      n03 += fabs (e) >= 0.3;
      emax = fmax (emax, fabs (e));
    }
  if (nrec >= 1)
    return n03 <= 1 ? MV_TRAJ_STATE_RECOVERED : MV_TRAJ_STATE_REDUNDANT;
  if (n03 >= 2)
    return MV_TRAJ_STATE_SHARED;
  return emax < 0.5 ? MV_TRAJ_STATE_NOT_ESCAPED : MV_TRAJ_STATE_ESCAPING;
}

const char *
mv_traj_state_name (int state)
{
  static const char *const names[MV_TRAJ_NSTATE] = {
    "recovered", "redundant", "shared", "not_escaped", "escaping"
  };
  return state >= 0 && state < MV_TRAJ_NSTATE ? names[state] : NULL;
}
