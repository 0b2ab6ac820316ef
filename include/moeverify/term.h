/* Loss terms: the objective is a weighted list of term types (MATH.md §1-2,
 * §5).  A term type is a constant struct of function pointers, as GSL's
 * gsl_odeiv2_step_type: the loss drivers (loss.h) never name a concrete
 * term.  Built-in types: mv_loss_term_datafit (the pair sum of L) and
 * mv_loss_term_noise (the label-noise constant); the regularizers of MATH.md
 * §5 (ortho, ortho_gated, var, aux) are added by mv_loss_add_regularizers.  A new term is one file
 * defining a const mv_loss_term_type plus, for the library, one entry in the
 * table of src/loss/terms.c (mv_loss_term_find).
 *
 * Conventions shared by every callback:
 *  - indices and G as in loss.h: unit vectors [v_1..v_m, w_1..w_m,
 *    v*_1..v*_m*, w*_1..w*_m*], n = 2m + 2m*, G n x n row-major symmetric
 *    with unit diagonal;
 *  - callbacks ADD ctx->weight times their contribution to the accumulators
 *    (the drivers zero them and finish them: symmetrise dL/dG, zero its
 *    teacher-teacher block, bound the final summation);
 *  - they return MV_OK or a status with mv_error_set. */
#ifndef MOEVERIFY_TERM_H
#define MOEVERIFY_TERM_H

#include <stddef.h>
#include <mpfr.h>
#include <moeverify/mag.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mv_loss_ws mv_loss_ws;

/* What a term sees of the problem.  ws is there for mv_loss_expect (pair
 * expectations), mv_loss_var and mv_loss_nvar; work is scratch the term may
 * use freely during one call: at least MV_LOSS_SAMPLE_BLOCK * (n + 2)
 * doubles (not shared between threads: one workspace per thread). */
typedef struct {
  size_t m, mstar, n;
  size_t nvar;          /* mv_loss_nvar: free Gram variables (Hessian size) */
  double noise_var;     /* label-noise variance of the call */
  double weight;        /* this term's coefficient in the objective */
  int want_bounds;      /* 0: nobody reads the error bounds (may skip them) */
  mpfr_prec_t wp;       /* working precision of the MPFR path */
  mv_loss_ws *ws;
  double *work;
} mv_loss_term_ctx;

/* Samples per block that the scratch ctx->work is sized for. */
#define MV_LOSS_SAMPLE_BLOCK 64

/* Double-path accumulator.  dLdG (NULL: gradient not wanted) and errG
 * (always set; read only when dLdG is) are n x n: add dvalue/dG_kl (G_kl = G_lk one variable) to entry (k,l) OR
 * (l,k), not both, and a bound on its error to the same entry of errG; the
 * driver adds the transposes.  err bounds the errors of the values added,
 * not their summation into L: nsum counts the roundings of that summation,
 * which the driver bounds by (nsum + 1) 2^-53 abs_terms. */
typedef struct {
  double L;
  double *dLdG;
  double *errG;
  double err;
  double abs_terms;     /* sum of |summands| added to L */
  double nsum;
  unsigned max_terms;   /* most series terms used by any evaluation */
} mv_loss_acc_d;

/* MPFR-path accumulator: the same with L, dLdG at working precision
 * (dLdG entries at the caller's precision) and mv_mag radii, which do not
 * underflow.  The driver bounds the summation by (nsum + 1) 2^-wp abs_terms
 * for L and (nsum + 1) 2^-wp 100 per dL/dG entry (|dP/drho| <= 100). */
typedef struct {
  mpfr_ptr L;
  mpfr_t *dLdG;
  mv_mag *errG;
  mv_mag err;
  double abs_terms;
  double nsum;
  unsigned max_terms;
} mv_loss_acc;

typedef struct mv_loss_term_type {
  const char *name;
  /* value, dvalue/dG (when acc->dLdG) and error bounds, double path.
   * Required. */
  int (*gram_d) (mv_loss_acc_d *acc, const double *G,
                 const mv_loss_term_ctx *ctx);
  /* the same in MPFR (G at working precision).  NULL: the term has no
   * MPFR path (mv_loss_gram fails with MV_EINVAL). */
  int (*gram_mpfr) (mv_loss_acc *acc, mpfr_t *G, const mv_loss_term_ctx *ctx);
  /* add weight * d2value/dG_a dG_b to H (nvar x nvar, symmetric, over the
   * mv_loss_var numbering; both (a,b) and (b,a)).  NULL: zero. */
  int (*hess_d) (double *H, const double *G, const mv_loss_term_ctx *ctx);
  /* Per-sample form for Monte Carlo and SGD, E_x[value(x)] = value.  Row
   * s < b of P (stride ldp) holds the unit projections u_k.x in the order
   * of G; eps (NULL: none) the label noise of each sample.  Adds weight *
   * value(x_s) to val[s] and, when D != NULL, weight * dvalue/du_j to
   * D[s * ldd + j] for the 2m student projections j (router a_i, then
   * expert b_i).  ctx->noise_var is 0 here: the noise is in eps.  NULL:
   * no per-sample form (mv_loss_sample_d fails), except for the noise
   * constant, which enters through eps. */
  int (*sample_d) (double *val, double *D, size_t ldd, const double *P,
                   size_t ldp, const double *eps, size_t b,
                   const mv_loss_term_ctx *ctx);
} mv_loss_term_type;

/* L_fit = ½ Σ P(s_i,s_i') − Σ P(s_i,t_j) + ½ Σ P(t_j,t_j') (MATH.md §2);
 * per sample ½ (f − f* − eps)², so E over x and eps is L_fit + s²/2. */
extern const mv_loss_term_type *mv_loss_term_datafit;
/* noise_var / 2 (additive label noise, MATH.md §1): no gradient, no
 * Hessian; sample_d NULL because the noise is in the data-fit sample's
 * residual (eps), whose mean square supplies exactly this constant. */
extern const mv_loss_term_type *mv_loss_term_noise;

/* Specialization regularizers (MATH.md §5, proofs/specialization-
 * regularizers.md; coefficients from the spec's "regularizers", see
 * mv_loss_add_regularizers in loss.h).  Student indices i, k < m.
 * "ortho": L_o = Σ_{i≠k} (w̄_i·w̄_k)^6, the squared normalised overlaps of the
 * ungated expert outputs He3(w̄_i·x); sample_d NULL (ratio of expectations). */
extern const mv_loss_term_type *mv_loss_term_ortho;
/* "ortho_gated": Σ_{i≠k} P(i,k)^2 / (P(i,i) P(k,k)), the same for the gated
 * outputs π(v̄_i·x) He3(w̄_i·x), P the pair expectation of the data fit;
 * sample_d NULL (ratio of expectations). */
extern const mv_loss_term_type *mv_loss_term_ortho_gated;
/* "var": L_v = -E_x[(1/(m-1)) Σ_i (π(v̄_i·x) - π̄(x))^2] (0 when m = 1)
 * = -E[π^2] + (2/(m(m-1))) Σ_{i<k} R(v̄_i·v̄_k), R(ρ) = Σ_n c_n^2 ρ^n/n!;
 * sample_d: the variance of the sample's routing scores. */
extern const mv_loss_term_type *mv_loss_term_var;
/* "aux": L_aux = m Σ_i f_i P_i with f_i = P(v̄_i·x > 0) = ½ and
 * P_i = E[π(v̄_i·x)] = ½: the constant m^2/4, zero gradient (inert under
 * soft routing with symmetric Gaussian inputs); sample_d NULL. */
extern const mv_loss_term_type *mv_loss_term_aux;

/* The known type called name (NULL if none): "datafit", "noise", "ortho",
 * "ortho_gated", "var", "aux". */
const mv_loss_term_type *mv_loss_term_find (const char *name);

#ifdef __cplusplus
}
#endif
#endif
