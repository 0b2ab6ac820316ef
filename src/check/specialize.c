/* The specialization regularizers side by side (specialize.h): each
 * objective is a loss workspace holding that term alone, so values and
 * gradients are the terms' own closed forms through the ordinary drivers;
 * cosines of raw gradients come from explicit d-vectors or, without them,
 * from the Gram-level polarisation of the reduced flow's |∇L|²
 * (proofs/claim-specialization.md, "Cosines without d-vectors"). */
#include <moeverify/specialize.h>
#include <moeverify/error.h>
#include <moeverify/term.h>
#include <moeverify/hermite.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct mv_spec_ws {
  size_t m, mstar, n;
  mv_loss_ws *loss[MV_SPEC_NOBJ];
  double *dLdG, *scratch;       /* NOBJ n^2 each */
};

static const char *const names[MV_SPEC_NOBJ] = {
  "L", "L_o", "L_o_gated", "L_v", "L_aux"
};
static const char *const keys[MV_SPEC_NOBJ] = {
  NULL, "ortho", "ortho_gated", "var", "aux"
};

const char *
mv_spec_name (size_t a)
{
  return a < MV_SPEC_NOBJ ? names[a] : NULL;
}

const char *
mv_spec_key (size_t a)
{
  return a < MV_SPEC_NOBJ ? keys[a] : NULL;
}

void
mv_spec_free (mv_spec_ws *ws)
{
  if (!ws)
    return;
  for (size_t a = 0; a < MV_SPEC_NOBJ; a++)
    if (ws->loss[a])
      mv_loss_free (ws->loss[a]);
  free (ws->dLdG);
  free (ws->scratch);
  free (ws);
}

mv_spec_ws *
mv_spec_alloc (size_t m, size_t mstar)
{
  mv_spec_ws *ws = calloc (1, sizeof *ws);
  if (!ws)
    {
      mv_error_set (MV_ENOMEM, "specialize: out of memory");
      return NULL;
    }
  ws->m = m, ws->mstar = mstar, ws->n = 2 * m + 2 * mstar;
  size_t nn = ws->n * ws->n;
  ws->dLdG = malloc (MV_SPEC_NOBJ * nn * sizeof *ws->dLdG);
  ws->scratch = malloc (MV_SPEC_NOBJ * nn * sizeof *ws->scratch);
  int bad = !ws->dLdG || !ws->scratch;
  for (size_t a = 0; !bad && a < MV_SPEC_NOBJ; a++)
    {
      /* L keeps the default [noise, datafit]; the others hold one term */
      if (!(ws->loss[a] = mv_loss_alloc (m, mstar, MV_PREC_DOUBLE)))
        bad = 1;
      else if (a != MV_SPEC_FIT)
        {
          mv_loss_clear_terms (ws->loss[a]);
          bad = mv_loss_add_term (ws->loss[a], mv_loss_term_find (keys[a]), 1.0) != MV_OK;
        }
    }
  if (bad)
    {
      mv_spec_free (ws);
      mv_error_set (MV_ENOMEM, "specialize: cannot set up the objectives (m = %zu)", m);
      return NULL;
    }
  return ws;
}

mv_loss_ws *
mv_spec_loss (mv_spec_ws *ws, size_t a)
{
  return a < MV_SPEC_NOBJ ? ws->loss[a] : NULL;
}

/* Objective a's value and bounds into the optional outputs. */
static void
store (double *val, double *err, double *gerr, size_t a, double L, const mv_loss_info *info)
{
  if (val)
    val[a] = L;
  if (err)
    err[a] = mv_mag_get_d (&info->err);
  if (gerr)
    gerr[a] = mv_mag_get_d (&info->grad_err);
}

int
mv_spec_gram_d (double *val, double *err, double *dLdG, double *gerr,
                const double *G, double noise_var, mv_spec_ws *ws)
{
  size_t nn = ws->n * ws->n;
  for (size_t a = 0; a < MV_SPEC_NOBJ; a++)
    {
      double L;
      mv_loss_info info;
      int s = mv_loss_gram_d (&L, dLdG ? dLdG + a * nn : NULL, &info, G,
                              noise_var, ws->loss[a]);
      if (s)
        return s;
      store (val, err, gerr, a, L, &info);
    }
  return MV_OK;
}

int
mv_spec_raw_d (double *val, double *err, double *grad, double *gerr,
               const double *V, const double *W, const double *Vt,
               const double *Wt, size_t d, double noise_var, mv_spec_ws *ws)
{
  size_t len = 2 * ws->m * d;
  for (size_t a = 0; a < MV_SPEC_NOBJ; a++)
    {
      double L;
      mv_loss_info info;
      double *g = grad ? grad + a * len : NULL;
      int s = mv_loss_eval_vec_d (&L, g, g ? g + ws->m * d : NULL, &info, V, W,
                                  Vt, Wt, d, noise_var, ws->loss[a]);
      if (s)
        return s;
      store (val, err, gerr, a, L, &info);
    }
  return MV_OK;
}

/* <∇A, ∇B> = Σ_k [Σ_j M^A_kj g^B_kj − M^A_kk M^B_kk] / r_k²: with
 * h^X_k = Σ_l g^X_kl ū_l the gradient in ū_k, (g^A G g^B)_kk = h^A_k·h^B_k
 * and M^X_kk = ū_k·h^X_k (g^B symmetric). */
void
mv_spec_gram_products_d (double *K, const double *dLdG, const double *G,
                         const double *norms, size_t m, size_t mstar,
                         double *scratch)
{
  size_t n = 2 * m + 2 * mstar, nn = n * n, ns = 2 * m;
  for (size_t a = 0; a < MV_SPEC_NOBJ; a++)
    {
      const double *g = dLdG + a * nn;
      double *M = scratch + a * nn;
      for (size_t k = 0; k < ns; k++)   /* rows k < 2m are all we read */
        for (size_t l = 0; l < n; l++)
          {
            double s = 0;
            for (size_t j = 0; j < n; j++)
              s += g[k * n + j] * G[j * n + l];
            M[k * n + l] = s;
          }
    }
  for (size_t a = 0; a < MV_SPEC_NOBJ; a++)
    for (size_t b = a; b < MV_SPEC_NOBJ; b++)
      {
        const double *MA = scratch + a * nn, *MB = scratch + b * nn;
        const double *gB = dLdG + b * nn;
        double s = 0;
        for (size_t k = 0; k < ns; k++)
          {
            double t = 0;
            for (size_t j = 0; j < n; j++)
              t += MA[k * n + j] * gB[k * n + j];
            t -= MA[k * n + k] * MB[k * n + k];
            s += t / (norms[k] * norms[k]);
          }
        K[a * MV_SPEC_NOBJ + b] = K[b * MV_SPEC_NOBJ + a] = s;
      }
}

double
mv_spec_gram_norm_err (double gerr, const double *norms, size_t m, size_t mstar)
{
  double n = (double) (2 * m + 2 * mstar), s = 0;
  for (size_t k = 0; k < 2 * m; k++)
    {
      double e = n * gerr / norms[k];
      s += e * e;
    }
  return sqrt (s);
}

void
mv_spec_raw_products_d (double *K, const double *grad, size_t len)
{
  for (size_t a = 0; a < MV_SPEC_NOBJ; a++)
    for (size_t b = a; b < MV_SPEC_NOBJ; b++)
      {
        double s = 0;
        for (size_t i = 0; i < len; i++)
          s += grad[a * len + i] * grad[b * len + i];
        K[a * MV_SPEC_NOBJ + b] = K[b * MV_SPEC_NOBJ + a] = s;
      }
}

size_t
mv_spec_cosines (double *cos, const double *K, const double *nerr)
{
  enum { N = MV_SPEC_NOBJ };
  int ok[N];
  size_t bad = 0;
  for (size_t a = 0; a < N; a++)
    {
      /* K_aa can come out a rounding below 0 for a zero gradient */
      double norm = sqrt (fmax (K[a * N + a], 0.0));
      ok[a] = norm > (nerr ? nerr[a] : 0.0);
      bad += !ok[a];
    }
  for (size_t a = 0; a < N; a++)
    for (size_t b = 0; b < N; b++)
      {
        double c = NAN;
        if (ok[a] && ok[b])
          c = a == b ? 1.0
            : fmin (1.0, fmax (-1.0, K[a * N + b] / sqrt (K[a * N + a] * K[b * N + b])));
        cos[a * N + b] = c;
      }
  return bad;
}

int
mv_spec_point_d (double *val, double *err, double *gnorm, double *cos,
                 const double *G, const double *norms, double noise_var,
                 mv_spec_ws *ws)
{
  double gerr[MV_SPEC_NOBJ], nerr[MV_SPEC_NOBJ], K[MV_SPEC_NOBJ * MV_SPEC_NOBJ];
  int s = mv_spec_gram_d (val, err, ws->dLdG, gerr, G, noise_var, ws);
  if (s)
    return s;
  mv_spec_gram_products_d (K, ws->dLdG, G, norms, ws->m, ws->mstar, ws->scratch);
  for (size_t a = 0; a < MV_SPEC_NOBJ; a++)
    {
      nerr[a] = mv_spec_gram_norm_err (gerr[a], norms, ws->m, ws->mstar);
      if (gnorm)
        gnorm[a] = sqrt (fmax (K[a * MV_SPEC_NOBJ + a], 0.0));
    }
  mv_spec_cosines (cos, K, nerr);
  return MV_OK;
}

int
mv_spec_traj_d (double *val, double *cos, const mv_traj *tr, double noise_var,
                mv_spec_ws *ws)
{
  if (tr->m != ws->m || tr->mstar != ws->mstar)
    return mv_error_set (MV_EINVAL, "specialize: trajectory has m = %zu, m* = %zu, "
                         "workspace %zu, %zu", tr->m, tr->mstar, ws->m, ws->mstar);
  if (!strcmp (tr->method, "sgd"))
    return mv_error_set (MV_EINVAL, "specialize: an SGD record: its raw norms move, so the "
                         "Gram rows do not give raw-gradient cosines");
  for (size_t r = 0; r < tr->rows; r++)
    {
      int s = mv_spec_point_d (val ? val + r * MV_SPEC_NOBJ : NULL, NULL, NULL,
                               cos + r * MV_SPEC_NOBJ * MV_SPEC_NOBJ,
                               mv_traj_gram (tr, r), tr->norms0, noise_var, ws);
      if (s)
        return s;
    }
  return MV_OK;
}

size_t
mv_spec_redundant (const mv_traj *tr, size_t row)
{
  size_t extra = 0;
  for (size_t j = 0; j < tr->mstar; j++)
    {
      size_t near = 0;
      for (size_t i = 0; i < tr->m; i++)
        {
          /* student i's closest teacher by |expert alignment| */
          size_t best = 0;
          double bv = -1;
          for (size_t k = 0; k < tr->mstar; k++)
            {
              double v = fabs (mv_traj_align (tr, row, MV_ALIGN_EXPERT, i, k));
              if (v > bv)
                bv = v, best = k;
            }
          near += best == j && bv >= 0.3;
        }
      extra += near > 1 ? near - 1 : 0;
    }
  return extra;
}
