/* Internal dense kernels shared by the library (not installed).  Dot
 * products have one fixed summation order, so every module that forms the
 * same Gram entry (full loss, flows, problem Gram) gets the same bits. */
#ifndef MV_LINALG_H
#define MV_LINALG_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <moeverify/error.h>

/* *out = a * b, or 0 (false) on overflow. */
static inline int
mv_mul_ok (size_t a, size_t b, size_t *out)
{
  if (a && b > SIZE_MAX / a)
    return 0;
  *out = a * b;
  return 1;
}

/* Workspace arrays: ptr = cnt zeroed elements (at least one, so success is
 * never NULL); on failure st = MV_ENOMEM with a message naming who, and
 * goto label (where the workspace is freed). */
#define MV_ALLOC(ptr, cnt, who, st, label)                                \
  do {                                                                    \
    size_t c_ = (cnt);                                                    \
    (ptr) = calloc (c_ ? c_ : 1, sizeof *(ptr));                          \
    if (!(ptr))                                                           \
      {                                                                   \
        (st) = mv_error_set (MV_ENOMEM, "%s: out of memory (%zu elements)", \
                             (who), c_);                                  \
        goto label;                                                       \
      }                                                                   \
  } while (0)

#if defined(__GNUC__) && !defined(MV_SCALAR)
#define MV_HAVE_V2D 1
/* two-wide SIMD on every x86-64 (generic code elsewhere) */
typedef double mv_v2d __attribute__ ((vector_size (16)));

static inline mv_v2d
mv_ld2 (const double *p)
{
  mv_v2d v;
  memcpy (&v, p, sizeof v);
  return v;
}

static inline void
mv_st2 (double *p, mv_v2d v)
{
  memcpy (p, &v, sizeof v);
}
#endif

/* a . b: lanes (i mod 4) summed as ((l0 + l2) + (l1 + l3)), then the tail */
static inline double
mv_dot (const double *a, const double *b, size_t n)
{
  size_t i = 0;
  double s;
#ifdef MV_HAVE_V2D
  mv_v2d s0 = { 0, 0 }, s1 = { 0, 0 };
  for (; i + 4 <= n; i += 4)
    {
      s0 += mv_ld2 (a + i) * mv_ld2 (b + i);
      s1 += mv_ld2 (a + i + 2) * mv_ld2 (b + i + 2);
    }
  s0 += s1;
  s = s0[0] + s0[1];
#else
  double l0 = 0, l1 = 0, l2 = 0, l3 = 0;
  for (; i + 4 <= n; i += 4)
    {
      l0 += a[i] * b[i], l1 += a[i + 1] * b[i + 1];
      l2 += a[i + 2] * b[i + 2], l3 += a[i + 3] * b[i + 3];
    }
  s = (l0 + l2) + (l1 + l3);
#endif
  for (; i < n; i++)
    s += a[i] * b[i];
  return s;
}

/* G[k*n+l] = U_k . U_l for the n rows of U (length d, stride ld), upper
 * and lower triangle, diagonal included; same bits as mv_dot. */
void mv_linalg_gram (double *G, const double *U, size_t n, size_t d, size_t ld);

/* out_r = sum_l C[r*ldc + l] U_l for r < rows (output stride ldo). */
void mv_linalg_combine (double *out, size_t ldo, const double *C, size_t ldc,
                        size_t rows, const double *U, size_t n, size_t d,
                        size_t ld);

/* The "normalise then Gram" of raw rows without touching them:
 * inv[k] = 1 / sqrt (U_k . U_k) and
 *   G[k*n+l] = G[l*n+k] = ((U_k . U_l) * inv[k]) * inv[l]  (k < l),
 *   G[k*n+k] = 1 (symmetric: the lower index scales first),
 * dot products as mv_linalg_gram (mv_dot bits: pass the padded length to
 * keep padded and unpadded callers apart).  Returns 0, or 1 + the first
 * row whose norm is zero or not finite or whose inverse overflows (G is
 * then not written). */
size_t mv_linalg_unit_gram (double *G, double *inv, const double *U, size_t n,
                            size_t d, size_t ld);

/* The same, in place (the form whose bits the loss, the problem's Gram
 * and hence the reduced flow's G(0) have always had): rows of U (length d,
 * stride d) divided by their norms nrm[k] = sqrt (U_k . U_k), then
 * G = mv_linalg_gram of the unit rows with a unit diagonal.  Returns 0, or
 * 1 + the first row whose norm is zero or not finite (rows before it are
 * already divided; G is not written). */
size_t mv_linalg_normalise_gram (double *G, double *nrm, double *U, size_t n,
                                 size_t d);

/* inv[k] = 1 / sqrt (U_k . U_k), k < n; 0 or 1 + the first bad row as
 * mv_linalg_unit_gram. */
size_t mv_linalg_inv_norms (double *inv, const double *U, size_t n, size_t d,
                            size_t ld);

/* Gradient sums S_j (+)= sum_{s<b} C[s*ldc + j] X_s for j < rows; rows of
 * S and X have dp (a multiple of 4) entries, stride dp.  add = 0 starts
 * from zero.  Every entry is summed over s in order (bitwise the same for
 * any tiling); tiles of 4 rows x 4 columns over blocks of 32 samples. */
void mv_linalg_accum (double *S, const double *C, size_t ldc, const double *X,
                      size_t b, size_t rows, size_t dp, int add);

#endif
