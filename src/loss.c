/* STUB: to be replaced */
#include <moeverify/loss.h>
#include <moeverify/error.h>
mv_loss_ws *mv_loss_alloc (size_t m, size_t mstar, mpfr_prec_t prec) { return 0; }
void mv_loss_free (mv_loss_ws *ws) {}
mv_expect_ws *mv_loss_expect (mv_loss_ws *ws) { return 0; }
int mv_loss_gram_d (double *L, double *dLdG, mv_loss_info *info, const double *G, double noise_var, mv_loss_ws *ws) { return MV_EINVAL; }
int mv_loss_gram (mpfr_t L, mpfr_t *dLdG, mv_loss_info *info, mpfr_t *G, double noise_var, mv_loss_ws *ws) { return MV_EINVAL; }
int mv_loss_eval_d (double *L, double *gV, double *gW, mv_loss_info *info, const mv_problem *pb, mv_loss_ws *ws) { return MV_EINVAL; }
int mv_loss_eval (mpfr_t L, mpfr_t *gV, mpfr_t *gW, mv_loss_info *info, const mv_problem *pb, mv_loss_ws *ws) { return MV_EINVAL; }
