/* Gram matrix of a few long rows with 2 x 2 register blocking: each pass
 * over d serves four dot products, which halves the loads of plain dots. */
#include "linalg.h"

#ifdef MV_HAVE_V2D
static void
block2x2 (double out[4], const double *a0, const double *a1, const double *b0,
          const double *b1, size_t d)
{
  mv_v2d s00 = { 0, 0 }, t00 = { 0, 0 }, s01 = { 0, 0 }, t01 = { 0, 0 };
  mv_v2d s10 = { 0, 0 }, t10 = { 0, 0 }, s11 = { 0, 0 }, t11 = { 0, 0 };
  size_t i = 0;
  for (; i + 4 <= d; i += 4)
    {
      mv_v2d x0 = mv_ld2 (a0 + i), x1 = mv_ld2 (a0 + i + 2);
      mv_v2d y0 = mv_ld2 (a1 + i), y1 = mv_ld2 (a1 + i + 2);
      mv_v2d p0 = mv_ld2 (b0 + i), p1 = mv_ld2 (b0 + i + 2);
      mv_v2d q0 = mv_ld2 (b1 + i), q1 = mv_ld2 (b1 + i + 2);
      s00 += x0 * p0, t00 += x1 * p1;
      s01 += x0 * q0, t01 += x1 * q1;
      s10 += y0 * p0, t10 += y1 * p1;
      s11 += y0 * q0, t11 += y1 * q1;
    }
  s00 += t00, s01 += t01, s10 += t10, s11 += t11;
  double r[4] = { s00[0] + s00[1], s01[0] + s01[1], s10[0] + s10[1], s11[0] + s11[1] };
  for (; i < d; i++)
    {
      r[0] += a0[i] * b0[i], r[1] += a0[i] * b1[i];
      r[2] += a1[i] * b0[i], r[3] += a1[i] * b1[i];
    }
  memcpy (out, r, sizeof r);
}
#endif

void
mv_linalg_gram (double *G, const double *U, size_t n, size_t d, size_t ld)
{
  size_t k = 0;
#ifdef MV_HAVE_V2D
  for (; k + 2 <= n; k += 2)
    {
      const double *a0 = U + k * ld, *a1 = a0 + ld;
      size_t l = k;
      for (; l + 2 <= n; l += 2)
        {
          double r[4];
          block2x2 (r, a0, a1, U + l * ld, U + (l + 1) * ld, d);
          G[k * n + l] = G[l * n + k] = r[0];
          G[k * n + l + 1] = G[(l + 1) * n + k] = r[1];
          G[(k + 1) * n + l] = G[l * n + k + 1] = r[2];
          G[(k + 1) * n + l + 1] = G[(l + 1) * n + k + 1] = r[3];
        }
      for (; l < n; l++)
        {
          G[k * n + l] = G[l * n + k] = mv_dot (a0, U + l * ld, d);
          G[(k + 1) * n + l] = G[l * n + k + 1] = mv_dot (a1, U + l * ld, d);
        }
    }
#endif
  for (; k < n; k++)
    for (size_t l = k; l < n; l++)
      G[k * n + l] = G[l * n + k] = mv_dot (U + k * ld, U + l * ld, d);
}
