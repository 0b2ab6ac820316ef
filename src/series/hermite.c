/* Probabilists' Hermite polynomials by the three-term recurrence
 * He_{k+1}(x) = x He_k(x) - k He_{k-1}(x). */
#include <moeverify/hermite.h>

void
mv_hermite_all_d (double *he, unsigned kmax, double x)
{
  he[0] = 1.0;
  if (kmax == 0)
    return;
  he[1] = x;
  for (unsigned k = 1; k < kmax; k++)
    he[k + 1] = x * he[k] - k * he[k - 1];
}

void
mv_hermite_all (mpfr_t *he, unsigned kmax, const mpfr_t x, mpfr_rnd_t rnd)
{
  mpfr_set_ui (he[0], 1, rnd);
  if (kmax == 0)
    return;
  mpfr_set (he[1], x, rnd);
  for (unsigned k = 1; k < kmax; k++)
    {
      /* he[k+1] = x*he[k] - k*he[k-1], without a temporary */
      mpfr_mul_ui (he[k + 1], he[k - 1], k, rnd);
      mpfr_fms (he[k + 1], x, he[k], he[k + 1], rnd);
    }
}

double
mv_hermite_eval_d (unsigned k, double x)
{
  double a = 1.0, b = x;
  if (k == 0)
    return a;
  for (unsigned j = 1; j < k; j++)
    {
      double c = x * b - j * a;
      a = b;
      b = c;
    }
  return b;
}
