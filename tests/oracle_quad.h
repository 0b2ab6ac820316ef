/* Independent quadrature oracle for the pair expectation
 *
 *     P(rho) = E[ pi(A) He3(B) pi(C) He3(E) ],   pi(z) = 1/(1+e^{-z}),
 *                                                He3(z) = z^3 - 3z,
 *
 * (A,B,C,E) jointly Gaussian with unit variances and correlations rho in the
 * library order AB, AC, AE, BC, BE, CE (MV_RHO_* of expect.h).
 *
 * Test-only code.  It shares nothing with the closed form: no Hermite
 * expansion of pi, no diagram formula, no sigmoid coefficients.  Method:
 * (A, C) = (xi1, rho_AC xi1 + s xi2), s = sqrt(1 - rho_AC^2) (a pivot-free,
 * semidefinite-tolerant Cholesky factor of the (A,C) block).  Given (xi1,
 * xi2), (B, E) is Gaussian with means (b1 xi1 + b2 xi2, e1 xi1 + e2 xi2) and
 * covariance [[vB, c], [c, vE]]; E[He3(B) He3(E) | xi1, xi2] is expanded
 * exactly by Isserlis' theorem (a polynomial of degree 6 in xi1, xi2).  The
 * remaining 2-D Gaussian integral (1-D when s = 0) is done by the trapezoidal
 * rule on R^2 (disc cut-off), which converges geometrically because the
 * integrand is entire except for the sigmoid poles, which lie at distance
 * >= pi from the real axis in each variable.  The error estimate is the
 * difference to the trapezoidal sum on the sub-grid of step 2h (a
 * conservative bound: the step-h error is roughly its square).  All
 * arithmetic is MPFR at prec + 24 guard bits.
 *
 * The conditional part is a polynomial identity in the correlations, so for
 * |rho_AC| < 1 the oracle would also evaluate matrices that are not positive
 * semidefinite; it refuses them anyway (tolerance 2^(-prec/2)). */
#ifndef MV_ORACLE_QUAD_H
#define MV_ORACLE_QUAD_H

#include <stdio.h>
#include <mpfr.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Return codes: 0 ok; ORACLE_EDOM: |rho| > 1 or matrix not positive
 * semidefinite; ORACLE_EINVAL: bad precision / options. */
enum { ORACLE_OK = 0, ORACLE_EDOM = 7, ORACLE_EINVAL = 1 };

/* P to (close to) full precision prec (bits); *err_est (may be NULL)
 * receives an estimated absolute error bound (step-h vs step-2h difference
 * plus a rounding allowance).  rho[] may have any precision. */
int oracle_pair (mpfr_t P, double *err_est, const mpfr_t rho[6],
                 mpfr_prec_t prec);

/* Same with explicit step h and cut-off radius L (0 = automatic from prec),
 * for convergence studies. */
int oracle_pair_ex (mpfr_t P, double *err_est, const mpfr_t rho[6],
                    mpfr_prec_t prec, double h, double L);

/* Double-precision convenience wrapper (computes at 128 bits). */
int oracle_pair_d (double *P, double *err_est, const double rho[6]);

/* E[ pi(z)^a z^b ], z ~ N(0,1), by the same 1-D trapezoidal rule
 * (e.g. a=2,b=0: E[pi^2];  a=1,b=1: c_1;  c_3 = M(1,3) - 3 M(1,1)). */
int oracle_sigmoid_moment (mpfr_t r, double *err_est, unsigned a, unsigned b,
                           mpfr_prec_t prec);

/* The automatic step h and cut-off radius L at precision prec for an
 * integrand with a polynomial factor of the given degree (6 for the pair). */
void oracle_default_grid (mpfr_prec_t prec, unsigned degree, double *h,
                          double *L);

#ifdef __cplusplus
}
#endif
#endif
