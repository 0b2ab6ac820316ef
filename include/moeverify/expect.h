/* Pair expectations  P = E[pi(A) He3(B) pi(C) He3(E)]  in closed form
 * (MATH.md §2, DESIGN.md; derivation in proofs/pair-expectation.md).
 *
 * P = 36 sum_{30 tuples} rho_AB^a1 rho_AE^a2 rho_BC^b1 rho_CE^b2 rho_BE^e
 *            / (a1! a2! b1! b2! e!) * F_{a1+a2, b1+b2}(rho_AC),
 * F_{p,q}(r) = sum_n c_{n+p} c_{n+q} r^n / n!,   dF_{p,q}/dr = F_{p+1,q+1}.
 *
 * Valid on the closed set of correlation matrices (|rho| <= 1; inputs up to
 * MV_RHO_SLACK outside are rounding in a Gram matrix and are clamped).  Every result carries an absolute error bound
 * (series truncation by a verified envelope of c_k + coefficient error +
 * rounding). */
#ifndef MOEVERIFY_EXPECT_H
#define MOEVERIFY_EXPECT_H

#include <mpfr.h>
#include <moeverify/mag.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Order of the six correlations everywhere in the library. */
enum { MV_RHO_AB = 0, MV_RHO_AC, MV_RHO_AE, MV_RHO_BC, MV_RHO_BE, MV_RHO_CE,
       MV_NRHO };

/* Largest |rho| - 1 accepted (and clamped) as rounding of a computed Gram
 * entry; beyond it a correlation is an error (MV_EDOM). */
#define MV_RHO_SLACK 1e-12

typedef struct mv_expect_ws mv_expect_ws;

/* Tables for target precision prec (bits, MV_PREC_MIN..MV_PREC_MAX): the
 * coefficients, the series weights and the self-pair constants F_{p,q}(1).
 * The double-precision tables are always built; the MPFR ones only when
 * prec > MV_PREC_DOUBLE (the *_d functions are then the only ones usable).
 * NULL on failure (see mv_error_message). */
mv_expect_ws *mv_expect_alloc (mpfr_prec_t prec);
void mv_expect_free (mv_expect_ws *ws);
mpfr_prec_t mv_expect_prec (const mv_expect_ws *ws);
/* Largest number of series terms the tables hold at this precision. */
unsigned mv_expect_max_terms (const mv_expect_ws *ws);

typedef struct {
  mpfr_t P;
  mpfr_t dP[MV_NRHO];  /* partial derivatives in the six correlations */
  mv_mag err;          /* |P - exact| <= err (cannot underflow) */
  mv_mag derr;         /* |dP[i] - exact| <= derr for every i */
  double abs_sum;      /* sum of |terms| of P: scale of cancellation */
  unsigned nterms;     /* series terms used */
} mv_expect_val;

void mv_expect_val_init (mv_expect_val *v, mpfr_prec_t prec);
void mv_expect_val_clear (mv_expect_val *v);

/* General pair; rho in the order MV_RHO_*.  want_grad = 0 skips dP. */
int mv_expect_pair (mv_expect_val *out, mpfr_t const rho[MV_NRHO],
                    int want_grad, mv_expect_ws *ws);

/* Self pair (same expert twice: A = C, B = E, rho_AB = rho_AE = rho_BC =
 * rho_CE = r).  P(r) = E[pi(A)^2 He3(B)^2]; dP[0] receives dP/dr (the total
 * derivative), the other dP are left unset. */
int mv_expect_self (mv_expect_val *out, const mpfr_t r, int want_grad,
                    mv_expect_ws *ws);

/* Double-precision fast path (same formula, double tables). */
typedef struct {
  double P, dP[MV_NRHO], err, derr, abs_sum;
  unsigned nterms;
} mv_expect_vald;

int mv_expect_pair_d (mv_expect_vald *out, const double rho[MV_NRHO],
                      int want_grad, const mv_expect_ws *ws);
int mv_expect_self_d (mv_expect_vald *out, double r, int want_grad,
                      const mv_expect_ws *ws);

/* Second derivatives (double path; d^2F_{p,q}/dr^2 = F_{p+2,q+2}).
 * mv_expect_pair_hess_d fills *out exactly as mv_expect_pair_d with
 * want_grad = 1 (bit for bit) and hess with the symmetric matrix
 * d^2P/drho_a drho_b, a, b in the order MV_RHO_*.  The Hessian carries no
 * error bound of its own: its series are truncated below 2^-60 absolute
 * (3e-18 at the 53-bit tables) and it is otherwise rounded like dP.
 * mv_expect_self_hess_d fills *out exactly as mv_expect_self_d with
 * want_grad = 1 (out->dP[0] = dP/dr) and *d2 with d^2P/dr^2, r entering
 * through rho_AB, rho_AE, rho_BC, rho_CE. */
int mv_expect_pair_hess_d (mv_expect_vald *out, double hess[MV_NRHO][MV_NRHO],
                           const double rho[MV_NRHO], const mv_expect_ws *ws);
int mv_expect_self_hess_d (mv_expect_vald *out, double *d2, double r,
                           const mv_expect_ws *ws);

#ifdef __cplusplus
}
#endif
#endif
