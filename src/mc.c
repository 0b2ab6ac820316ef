/* STUB: to be replaced */
#include <moeverify/mc.h>
#include <moeverify/error.h>
void mv_mc_params_default (mv_mc_params *p) {}
int mv_mc_result_init (mv_mc_result *r, size_t m, size_t d, int want_grad) { return MV_EINVAL; }
void mv_mc_result_clear (mv_mc_result *r) {}
int mv_mc_estimate (mv_mc_result *r, const mv_problem *pb, const mv_mc_params *par) { return MV_EINVAL; }
