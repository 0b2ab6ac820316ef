/* STUB: to be replaced */
#include <moeverify/expect.h>
#include <moeverify/error.h>
void mv_expect_val_init (mv_expect_val *v, mpfr_prec_t prec) {}
void mv_expect_val_clear (mv_expect_val *v) {}
int mv_expect_pair (mv_expect_val *out, mpfr_t const rho[MV_NRHO], int want_grad, mv_expect_ws *ws) { return MV_EINVAL; }
int mv_expect_self (mv_expect_val *out, const mpfr_t r, int want_grad, mv_expect_ws *ws) { return MV_EINVAL; }
int mv_expect_pair_d (mv_expect_vald *out, const double rho[MV_NRHO], int want_grad, const mv_expect_ws *ws) { return MV_EINVAL; }
int mv_expect_self_d (mv_expect_vald *out, double r, int want_grad, const mv_expect_ws *ws) { return MV_EINVAL; }
