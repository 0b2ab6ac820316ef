/* Model kernel (model.h).  The expression order matches the historical
 * SGD and Monte-Carlo loops so their results do not move. */
#include "base/model.h"

/* f only: one exp per expert and sample */
static void
eval_f (double *f, const double *P, size_t ldp, const double *inv, size_t b,
        size_t k)
{
  for (size_t s = 0; s < b; s++)
    {
      const double *pr = P + s * ldp;
      double acc = 0;
      for (size_t i = 0; i < k; i++)
        {
          double a = inv ? pr[i] * inv[i] : pr[i];
          double z = inv ? pr[k + i] * inv[k + i] : pr[k + i];
          acc += mv_model_pi (a) * mv_model_he3 (z);
        }
      f[s] = acc;
    }
}

void
mv_model_factors (double *f, double *D, size_t ldd, const double *P,
                  size_t ldp, const double *inv, size_t b, size_t k)
{
  for (size_t s = 0; s < b; s++)
    {
      const double *pr = P + s * ldp;
      double *ds = D + s * ldd;
      double acc = 0;
      for (size_t i = 0; i < k; i++)
        {
          double a = inv ? pr[i] * inv[i] : pr[i];
          double z = inv ? pr[k + i] * inv[k + i] : pr[k + i];
          double pi = mv_model_pi (a), he = mv_model_he3 (z);
          acc += pi * he;
          ds[i] = pi;
          ds[k + i] = he;
        }
      if (f)
        f[s] = acc;
    }
}

void
mv_model_weigh (double *D, size_t ldd, const double *P, size_t ldp,
                const double *inv, const double *wt, size_t b, size_t k)
{
  for (size_t s = 0; s < b; s++)
    {
      const double *pr = P + s * ldp;
      double *ds = D + s * ldd;
      const double w = wt ? wt[s] : 1.0;
      for (size_t i = 0; i < k; i++)
        {
          double z = inv ? pr[k + i] * inv[k + i] : pr[k + i];
          double pi = ds[i], he = ds[k + i];
          ds[i] = w * pi * (1.0 - pi) * he;
          ds[k + i] = w * pi * 3.0 * (z * z - 1.0);
        }
    }
}

void
mv_model_eval (double *f, double *D, size_t ldd, const double *P,
               size_t ldp, const double *inv, size_t b, size_t k)
{
  if (!D)
    {
      if (f)
        eval_f (f, P, ldp, inv, b, k);
      return;
    }
  mv_model_factors (f, D, ldd, P, ldp, inv, b, k);
  mv_model_weigh (D, ldd, P, ldp, inv, NULL, b, k);
}

const char *
mv_model_vec_name (size_t a, size_t m, size_t mstar, size_t *idx)
{
  static const char *const names[4] = {
    "student router v", "student expert w", "teacher router v*",
    "teacher expert w*"
  };
  size_t part = a < m ? 0 : a < 2 * m ? 1 : a < 2 * m + mstar ? 2 : 3;
  size_t start[4] = { 0, m, 2 * m, 2 * m + mstar };
  *idx = a - start[part] + 1;
  return names[part];
}
