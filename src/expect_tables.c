/* STUB: to be replaced */
#include <moeverify/expect.h>
#include <moeverify/error.h>
mv_expect_ws *mv_expect_alloc (mpfr_prec_t prec) { return 0; }
void mv_expect_free (mv_expect_ws *ws) {}
mpfr_prec_t mv_expect_prec (const mv_expect_ws *ws) { return 0; }
unsigned mv_expect_max_terms (const mv_expect_ws *ws) { return 0; }
