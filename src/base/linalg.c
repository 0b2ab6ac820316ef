/* Gram matrix of a few long rows with 2 x 2 register blocking: each pass
 * over d serves four dot products, which halves the loads of plain dots. */
#include "base/linalg.h"

#include <math.h>

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

/* out_r = sum_l C[r*ldc + l] U_l, r < rows, for the n rows U_l of length d
 * (stride ld).  Four output rows at a time share every load of U_l. */
void
mv_linalg_combine (double *out, size_t ldo, const double *C, size_t ldc,
                   size_t rows, const double *U, size_t n, size_t d, size_t ld)
{
  size_t r = 0;
#ifdef MV_HAVE_V2D
  for (; r + 4 <= rows; r += 4)
    {
      const double *c0 = C + r * ldc, *c1 = c0 + ldc, *c2 = c1 + ldc, *c3 = c2 + ldc;
      double *o0 = out + r * ldo, *o1 = o0 + ldo, *o2 = o1 + ldo, *o3 = o2 + ldo;
      size_t i = 0;
      for (; i + 4 <= d; i += 4)
        {
          mv_v2d a0 = { 0, 0 }, b0 = { 0, 0 }, a1 = { 0, 0 }, b1 = { 0, 0 };
          mv_v2d a2 = { 0, 0 }, b2 = { 0, 0 }, a3 = { 0, 0 }, b3 = { 0, 0 };
          for (size_t l = 0; l < n; l++)
            {
              const double *u = U + l * ld + i;
              mv_v2d x = mv_ld2 (u), y = mv_ld2 (u + 2);
              mv_v2d k0 = { c0[l], c0[l] }, k1 = { c1[l], c1[l] };
              mv_v2d k2 = { c2[l], c2[l] }, k3 = { c3[l], c3[l] };
              a0 += k0 * x, b0 += k0 * y, a1 += k1 * x, b1 += k1 * y;
              a2 += k2 * x, b2 += k2 * y, a3 += k3 * x, b3 += k3 * y;
            }
          mv_st2 (o0 + i, a0), mv_st2 (o0 + i + 2, b0);
          mv_st2 (o1 + i, a1), mv_st2 (o1 + i + 2, b1);
          mv_st2 (o2 + i, a2), mv_st2 (o2 + i + 2, b2);
          mv_st2 (o3 + i, a3), mv_st2 (o3 + i + 2, b3);
        }
      for (; i < d; i++)
        {
          double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
          for (size_t l = 0; l < n; l++)
            {
              double u = U[l * ld + i];
              s0 += c0[l] * u, s1 += c1[l] * u, s2 += c2[l] * u, s3 += c3[l] * u;
            }
          o0[i] = s0, o1[i] = s1, o2[i] = s2, o3[i] = s3;
        }
    }
#endif
  for (; r < rows; r++)
    {
      double *o = out + r * ldo;
      memset (o, 0, d * sizeof *o);
      for (size_t l = 0; l < n; l++)
        {
          double c = C[r * ldc + l];
          const double *u = U + l * ld;
          for (size_t i = 0; i < d; i++)
            o[i] += c * u[i];
        }
    }
}

/* ------------------------------------------------------------ unit Gram */

size_t
mv_linalg_inv_norms (double *inv, const double *U, size_t n, size_t d,
                     size_t ld)
{
  for (size_t k = 0; k < n; k++)
    {
      double nr = sqrt (mv_dot (U + k * ld, U + k * ld, d));
      if (!(nr > 0) || !isfinite (nr) || !isfinite (1.0 / nr))
        return k + 1;
      inv[k] = 1.0 / nr;
    }
  return 0;
}

size_t
mv_linalg_unit_gram (double *G, double *inv, const double *U, size_t n,
                     size_t d, size_t ld)
{
  size_t bad = mv_linalg_inv_norms (inv, U, n, d, ld);
  if (bad)
    return bad;
  mv_linalg_gram (G, U, n, d, ld);
  for (size_t k = 0; k < n; k++)
    {
      G[k * n + k] = 1.0;
      for (size_t l = k + 1; l < n; l++)
        G[k * n + l] = G[l * n + k] = G[k * n + l] * inv[k] * inv[l];
    }
  return 0;
}

size_t
mv_linalg_normalise_gram (double *G, double *nrm, double *U, size_t n,
                          size_t d)
{
  for (size_t k = 0; k < n; k++)
    {
      double *u = U + k * d, r = sqrt (mv_dot (u, u, d));
      nrm[k] = r;
      if (!(r > 0) || !isfinite (r))
        return k + 1;
      for (size_t i = 0; i < d; i++)
        u[i] /= r;
    }
  mv_linalg_gram (G, U, n, d, d);
  for (size_t k = 0; k < n; k++)
    G[k * n + k] = 1.0;
  return 0;
}

/* ------------------------------------------------------------ gradient sums */

/* Samples per block of mv_linalg_accum: their coefficients (4 rows x 32)
 * and the 4 x 4 tile stay in L1 while X streams past. */
#define ACCUM_SCHUNK 32

#ifdef MV_HAVE_V2D
/* One tile: rows j..j+nr (nr = 4, or 1 for the tail) x columns t..t+4. */
static void
accum_tile4 (double *S, const double *C, size_t ldc, const double *X,
             size_t s0, size_t s1, size_t j, size_t t, size_t dp, int from0)
{
  double *S0 = S + j * dp + t, *S1 = S0 + dp, *S2 = S1 + dp, *S3 = S2 + dp;
  mv_v2d a00, a01, a10, a11, a20, a21, a30, a31;
  if (from0)
    a00 = a01 = a10 = a11 = a20 = a21 = a30 = a31 = (mv_v2d) { 0, 0 };
  else
    {
      a00 = mv_ld2 (S0), a01 = mv_ld2 (S0 + 2);
      a10 = mv_ld2 (S1), a11 = mv_ld2 (S1 + 2);
      a20 = mv_ld2 (S2), a21 = mv_ld2 (S2 + 2);
      a30 = mv_ld2 (S3), a31 = mv_ld2 (S3 + 2);
    }
  for (size_t s = s0; s < s1; s++)
    {
      const double *x = X + s * dp + t, *c = C + s * ldc + j;
      mv_v2d y0 = mv_ld2 (x), y1 = mv_ld2 (x + 2);
      mv_v2d c0 = { c[0], c[0] }, c1 = { c[1], c[1] };
      mv_v2d c2 = { c[2], c[2] }, c3 = { c[3], c[3] };
      a00 += c0 * y0, a01 += c0 * y1;
      a10 += c1 * y0, a11 += c1 * y1;
      a20 += c2 * y0, a21 += c2 * y1;
      a30 += c3 * y0, a31 += c3 * y1;
    }
  mv_st2 (S0, a00), mv_st2 (S0 + 2, a01);
  mv_st2 (S1, a10), mv_st2 (S1 + 2, a11);
  mv_st2 (S2, a20), mv_st2 (S2 + 2, a21);
  mv_st2 (S3, a30), mv_st2 (S3 + 2, a31);
}

static void
accum_tile1 (double *S, const double *C, size_t ldc, const double *X,
             size_t s0, size_t s1, size_t j, size_t t, size_t dp, int from0)
{
  double *S0 = S + j * dp + t;
  mv_v2d a0 = { 0, 0 }, a1 = { 0, 0 };
  if (!from0)
    a0 = mv_ld2 (S0), a1 = mv_ld2 (S0 + 2);
  for (size_t s = s0; s < s1; s++)
    {
      const double *x = X + s * dp + t;
      mv_v2d c = { C[s * ldc + j], C[s * ldc + j] };
      a0 += c * mv_ld2 (x), a1 += c * mv_ld2 (x + 2);
    }
  mv_st2 (S0, a0), mv_st2 (S0 + 2, a1);
}

void
mv_linalg_accum (double *S, const double *C, size_t ldc, const double *X,
                 size_t b, size_t rows, size_t dp, int add)
{
  if (b == 0 && !add)
    memset (S, 0, rows * dp * sizeof *S);
  for (size_t s0 = 0; s0 < b; s0 += ACCUM_SCHUNK)
    {
      const size_t s1 = s0 + ACCUM_SCHUNK < b ? s0 + ACCUM_SCHUNK : b;
      const int from0 = s0 == 0 && !add;
      for (size_t t = 0; t < dp; t += 4)
        {
          size_t j = 0;
          for (; j + 4 <= rows; j += 4)
            accum_tile4 (S, C, ldc, X, s0, s1, j, t, dp, from0);
          for (; j < rows; j++)
            accum_tile1 (S, C, ldc, X, s0, s1, j, t, dp, from0);
        }
    }
}
#else
void
mv_linalg_accum (double *S, const double *C, size_t ldc, const double *X,
                 size_t b, size_t rows, size_t dp, int add)
{
  if (!add)
    memset (S, 0, rows * dp * sizeof *S);
  for (size_t s = 0; s < b; s++)
    for (size_t j = 0; j < rows; j++)
      {
        double c = C[s * ldc + j];
        const double *x = X + s * dp;
        double *o = S + j * dp;
        for (size_t t = 0; t < dp; t++)
          o[t] += c * x[t];
      }
}
#endif
