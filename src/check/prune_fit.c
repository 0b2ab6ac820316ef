/* Rate fits of a fine-tuning trajectory (prune.h).  The distance to the
 * end point is read off the Gram entries, which carry no cancellation; L
 * does, and its double path cannot resolve L below ~1e-13.  Near the
 * optimum the state is a sum of modes e^{-r_k t} (the rates of J), so one
 * exponential over a window where two modes are comparable lands between
 * their rates (seed 4 of the default level: 1.3 % off); the late window
 * and the two-exponential fit separate them. */
#include "check/prune.h"

#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_multimin.h>

static double
dist_row (const mv_traj *tr, size_t r, const double *Ge, size_t *arg)
{
  size_t n = tr->n, ns = 2 * tr->m;
  const double *G = mv_traj_gram (tr, r);
  double dist = 0;
  for (size_t a = 0; a < ns; a++)
    for (size_t b = a + 1; b < n; b++)
      if (fabs (G[a * n + b] - Ge[a * n + b]) > dist)
        dist = fabs (G[a * n + b] - Ge[a * n + b]), *arg = a * n + b;
  return dist;
}

/* -slope of the least-squares line of log dist against t over the rows
 * with lo < dist < hi; NAN with fewer than 5 rows. */
static double
slope (const mv_traj *tr, double lo, double hi, size_t *rows)
{
  const double *Ge = mv_traj_gram (tr, tr->rows - 1);
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  size_t k = 0, arg = 0;
  for (size_t r = 0; r < tr->rows; r++)
    {
      double dist = dist_row (tr, r, Ge, &arg), x = tr->t[r], y = log (dist);
      if (dist > lo && dist < hi)
        sx += x, sy += y, sxx += x * x, sxy += x * y, k++;
    }
  if (rows)
    *rows = k;
  return k < 5 ? NAN : -(k * sxy - sx * sy) / (k * sxx - sx * sx);
}

/* Data of the two-exponential fit: D2 = |G(t) - G(end)|_F^2 over the free
 * entries, t from the window's start.  Two modes c_1 e^{-r_1 t} v_1 +
 * c_2 e^{-r_2 t} v_2 give exactly D2 = A e^{-2 r_1 t} + C e^{-(r_1 + r_2) t}
 * + B e^{-2 r_2 t} (the cross term because J's modes are not orthogonal),
 * so the fit is exact for two modes, whatever the entries do (the max over
 * entries switches entries and is no sum of exponentials). */
typedef struct {
  double *t, *y;
  size_t k;
  int one;             /* fit one exponential (the rate r_1) instead */
  double c[3];         /* A, C, B of the last evaluation */
} fit2_data;

/* The cost outside the model's domain: finite, so that Nelder-Mead steps
 * back from it (GSL refuses a non-finite start) */
#define PR_WALL 1e300
#define PR_SEEN 0.01   /* share of D2 a mode must carry to be seen (visible) */

/* Relative residual of the best A, C, B for fixed rates (variable
 * projection: 3 x 3 weighted least squares, weights 1/D2). */
static double
fit2_cost (const gsl_vector *x, void *params)
{
  fit2_data *D = params;
  double r1 = gsl_vector_get (x, 0), r2 = gsl_vector_get (x, 1), S[9] = { 0 }, c[3] = { 0 };
  size_t nb = D->one ? 1 : 3;   /* one exponential: A e^{-2 r_1 t} alone */
  if (!(r1 > 0 && (D->one || r2 > r1 * (1 + 1e-4))))
    return PR_WALL;    /* ordered and distinct, so A, C, B are determined */
  for (size_t i = 0; i < D->k; i++)
    {
      double p[3] = { exp (-2 * r1 * D->t[i]), exp (-(r1 + r2) * D->t[i]),
                      exp (-2 * r2 * D->t[i]) };
      for (size_t a = 0; a < nb; a++)
        {
          c[a] += p[a] / D->y[i];
          for (size_t e = 0; e < nb; e++)
            S[nb * a + e] += p[a] * p[e] / (D->y[i] * D->y[i]);
        }
    }
  gsl_matrix_view A = gsl_matrix_view_array (S, nb, nb);
  gsl_vector_view cv = gsl_vector_view_array (c, nb);
  gsl_error_handler_t *h = gsl_set_error_handler_off ();
  int bad = gsl_linalg_HH_svx (&A.matrix, &cv.vector);   /* c: A, C, B */
  gsl_set_error_handler (h);
  /* A = |c_1 v_1|^2, B = |c_2 v_2|^2 > 0 and |C| <= 2 sqrt(AB) (Cauchy-
   * Schwarz): without this, C e^{-(r_1 + r_2) t} alone fits one mode of
   * rate (r_1 + r_2)/2 with any split of the rates */
  bad |= !D->one && !(c[0] > 0 && c[2] > 0 && c[1] * c[1] <= 4 * c[0] * c[2]);
  double res = 0;
  D->c[0] = c[0], D->c[1] = c[1], D->c[2] = c[2];
  for (size_t i = 0; !bad && i < D->k; i++)
    {
      double f = c[0] * exp (-2 * r1 * D->t[i]);
      if (!D->one)
        f += c[1] * exp (-(r1 + r2) * D->t[i]) + c[2] * exp (-2 * r2 * D->t[i]);
      res += (f / D->y[i] - 1) * (f / D->y[i] - 1);
    }
  return bad || !(res < PR_WALL) ? PR_WALL : res;
}

/* Nelder-Mead over (r1, r2) from one start; the cost at the end. */
static double
fit2_min (double *r, fit2_data *D, double s1, double s2)
{
  gsl_multimin_function fn = { fit2_cost, 2, D };
  gsl_vector *x = gsl_vector_alloc (2), *st = gsl_vector_alloc (2);
  gsl_multimin_fminimizer *mn = gsl_multimin_fminimizer_alloc (gsl_multimin_fminimizer_nmsimplex2, 2);
  double cost = INFINITY;
  if (x && st && mn)
    {
      gsl_vector_set (x, 0, s1), gsl_vector_set (x, 1, s2);
      gsl_vector_set_all (st, 0.05 * s1);
      if (gsl_multimin_fminimizer_set (mn, &fn, x, st))
        {
          gsl_multimin_fminimizer_free (mn);
          gsl_vector_free (x), gsl_vector_free (st);
          return INFINITY;
        }
      for (int it = 0; it < 3000; it++)
        if (gsl_multimin_fminimizer_iterate (mn)
            || gsl_multimin_test_size (gsl_multimin_fminimizer_size (mn), 1e-9 * s1) != GSL_CONTINUE)
          break;
      r[0] = gsl_vector_get (mn->x, 0), r[1] = gsl_vector_get (mn->x, 1);
      cost = mn->fval < PR_WALL ? mn->fval : INFINITY;
    }
  gsl_multimin_fminimizer_free (mn);
  gsl_vector_free (x), gsl_vector_free (st);
  return cost;
}

/* Both modes of the fit at r must be seen in the data: the slow one
 * carries at least 10 % of D2 at the window's end, the fast one at its
 * start.  Otherwise a tiny slow term fits the last rows' few-ulp
 * deviations (seen: 0.074 beside 0.268 with no such rate in J). */
static int
visible (fit2_data *D, const double *r)
{
  gsl_vector_view x = gsl_vector_view_array ((double *) r, 2);
  if (!(fit2_cost (&x.vector, D) < PR_WALL))
    return 0;
  double te = D->t[D->k - 1];
  return D->c[0] * exp (-2 * r[0] * te) >= PR_SEEN * D->y[D->k - 1] && D->c[2] >= PR_SEEN * D->y[0];
}

static void
fit2 (mv_prune_fit *f, const mv_traj *tr, double lo, double hi)
{
  const double *Ge = mv_traj_gram (tr, tr->rows - 1);
  size_t n = tr->n, ns = 2 * tr->m, arg = 0;
  fit2_data D = { malloc (tr->rows * sizeof (double)), malloc (tr->rows * sizeof (double)), 0, 0,
                  { 0, 0, 0 } };
  double t0 = 0;
  for (size_t r = 0; D.t && D.y && r < tr->rows; r++)
    {
      double dist = dist_row (tr, r, Ge, &arg), d2 = 0;
      if (!(dist > lo && dist < hi))
        continue;
      const double *G = mv_traj_gram (tr, r);
      for (size_t a = 0; a < ns; a++)
        for (size_t b = a + 1; b < n; b++)
          d2 += (G[a * n + b] - Ge[a * n + b]) * (G[a * n + b] - Ge[a * n + b]);
      t0 = D.k ? t0 : tr->t[r];
      D.t[D.k] = tr->t[r] - t0, D.y[D.k++] = d2;
    }
  /* one exponential first: its rate r0 (the mean decay of the window)
   * centres the starts of the two-exponential fit.  Starts outside the
   * model's domain (A, B > 0, C^2 <= 4AB) stay there (the wall is flat),
   * so there are several, close pairs first (two modes of the dense bottom
   * of the spectrum), wider ones after */
  D.one = 1;
  double r[2] = { NAN, NAN }, r0 = NAN, best = INFINITY;
  double c1 = D.k >= 8 && isfinite (f->one) ? fit2_min (r, &D, f->one, 2 * f->one) : INFINITY;
  r0 = r[0], D.one = 0;
  static const double st[][2] = { { 0.98, 1.02 }, { 0.99, 1.05 }, { 0.95, 1.05 }, { 0.95, 1.1 },
                                   { 0.9, 1.1 }, { 0.9, 1.5 }, { 0.8, 1.2 }, { 0.97, 2 } };
  for (size_t k = 0; isfinite (c1) && k < sizeof st / sizeof st[0]; k++)
    {
      double c = fit2_min (r, &D, st[k][0] * r0, st[k][1] * r0);
      if (c < best && visible (&D, r))
        best = c, f->slow = r[0], f->fast = r[1];
    }
  /* a second exponential must earn its keep: below a quarter of the
   * one-exponential residual, else the data show one mode, and two rates
   * straddling it fit the noise */
  if (isfinite (c1) && !(best < 0.25 * c1))
    f->slow = f->fast = r0;
  free (D.t), free (D.y);
}

void
mv_prune_fit_rates (mv_prune_fit *f, const mv_traj *tr, double lo, double hi)
{
  *f = (mv_prune_fit) { INFINITY, NAN, NAN, NAN, NAN, 0 };
  for (size_t r = 0; r < tr->rows; r++)
    f->lmin = fmin (f->lmin, tr->loss[r]);
  if (tr->rows < 2)
    return;
  f->one = slope (tr, lo, hi, &f->rows);
  f->late = slope (tr, lo, sqrt (lo * hi), NULL);
  fit2 (f, tr, lo, hi);
}
