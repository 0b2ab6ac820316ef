/* Private to mcreg.c (sampling) and mcreg_stats.c (statistics): the layout
 * of the per-batch sums of the regularizer integrands. */
#ifndef MV_MCREG_PRIV_H
#define MV_MCREG_PRIV_H

#include <stddef.h>
#include <moeverify/mcreg.h>

/* A sums vector of K = 2 nt + 2 m + 1 entries (nt = m(m+1)/2):
 *   [hh: Σ h_i h_k, i <= k][gg: Σ g_i g_k, i <= k][ind: Σ 1(a_i > 0)]
 *   [p: Σ π_i][var: Σ (1/(m-1)) Σ_i (π_i - π̄)²]
 * with h_i = He3(b_i), g_i = π_i h_i; triangle entries row-major. */
typedef struct {
  size_t m, nt, K;
  size_t o_hh, o_gg, o_ind, o_p, o_var;
} mcreg_layout;

void mv_mcreg_layout (mcreg_layout *l, size_t m);
/* index of (i, k), i <= k, in a triangle */
static inline size_t
mv_mcreg_tri (size_t m, size_t i, size_t k)
{
  return i * m - (i * (i + 1)) / 2 + k;   /* = i m - i(i-1)/2 + (k - i) */
}

/* Σ_{i≠k} S_ik² / (S_ii S_kk) over the triangle at S (sample counts
 * cancel). */
double mv_mcreg_ortho (const double *S, size_t m);
/* m Σ_i f_i P_i from sums over n samples */
double mv_mcreg_aux (const double *S, double n, const mcreg_layout *l);

/* Population statistics of r from B batch sums Sb (B x K, batch b of nb[b]
 * samples): batch means for the linear ones, the jackknife over batches for
 * the others.  Allocates its scratch. */
int mv_mcreg_population (mv_mcreg_result *r, const double *Sb,
                         const size_t *nb, size_t B, const mcreg_layout *l);

#endif
