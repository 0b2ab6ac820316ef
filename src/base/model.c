/* Model kernel (model.h).  The expression order matches the historical
 * SGD and Monte-Carlo loops so their results do not move. */
#include "base/model.h"

void
mv_model_eval (double *f, double *D, size_t ldd, const double *P,
               size_t ldp, const double *inv, size_t b, size_t k)
{
  for (size_t s = 0; s < b; s++)
    {
      const double *pr = P + s * ldp;
      double acc = 0;
      for (size_t i = 0; i < k; i++)
        {
          double a = inv ? pr[i] * inv[i] : pr[i];
          double z = inv ? pr[k + i] * inv[k + i] : pr[k + i];
          double pi = mv_model_pi (a), he = mv_model_he3 (z);
          acc += pi * he;
          if (D)
            {
              D[s * ldd + i] = pi * (1.0 - pi) * he;
              D[s * ldd + k + i] = pi * 3.0 * (z * z - 1.0);
            }
        }
      f[s] = acc;
    }
}
