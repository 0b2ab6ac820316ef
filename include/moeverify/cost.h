/* Memory a run will need, estimated from its sizes before anything large
 * is allocated, so a run that cannot fit is refused at once with the
 * estimate in the message instead of failing (or swapping) hours in.
 *
 * The model (DESIGN.md's cost model; n = 2m + 2m* Gram rows): the recorded
 * trajectory holds an n x n Gram matrix per output row; the loss workspace 10 n^2 doubles (dL/dG and its
 * error radius per thread chunk), MPFR values where the precision asks; a
 * full flow's GSL stepper about 24 copies of its 2md + 1 variables, the
 * reduced flow's of its 2m(2m-1)/2 + 4m m* free Gram entries, implicit
 * steppers a dense Jacobian (three copies: J, its LU, scratch); SGD its
 * batch (B x d samples, B x n projections) and raw vectors.  Estimates are
 * checked against measured peak resident sizes in tests/test_cost.sh. */
#ifndef MOEVERIFY_COST_H
#define MOEVERIFY_COST_H

#include <stddef.h>
#include <mpfr.h>
#include <moeverify/flow.h>
#include <moeverify/sgd.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  double bytes;          /* total (the parts below) */
  double traj_bytes;     /* the recorded trajectory */
  double work_bytes;     /* loss workspace, stepper, Jacobian, batch */
  double state_bytes;    /* raw vectors and the integrated state */
  size_t rows;           /* output rows recorded */
} mv_cost;

/* One evaluation of the loss and gradient at prec (MV_PREC_DOUBLE or
 * more); raw: from raw d-vectors (else a Gram matrix). */
void mv_cost_loss (mv_cost *c, size_t m, size_t mstar, size_t d, int raw,
                   mpfr_prec_t prec);
/* A flow (full or reduced) with parameters p (output grid, stepper). */
void mv_cost_flow (mv_cost *c, size_t m, size_t mstar, size_t d, int reduced,
                   const mv_flow_params *p);
/* An SGD run with parameters p. */
void mv_cost_sgd (mv_cost *c, size_t m, size_t mstar, size_t d,
                  const mv_sgd_params *p);

/* MV_OK when c fits in limit bytes (limit <= 0: no limit); else MV_ENOMEM
 * with the message "WHAT: needs about X (trajectory .. for N rows,
 * workspaces .., state ..), more than the limit Y" (no trajectory part
 * for a run that records none). */
int mv_cost_check (const mv_cost *c, double limit, const char *what);
/* The default limit: the machine's physical memory (0 if unknown). */
double mv_cost_default_limit (void);
/* "1.5 GB", "230 MB", ... (decimal units) into buf. */
void mv_cost_format (char *buf, size_t len, double bytes);
/* Parse "512M", "8G", "1.5T", "123456" (bytes), "none" or "0" (no limit:
 * *bytes = 0) into *bytes; MV_EINVAL otherwise. */
int mv_cost_parse (double *bytes, const char *text);

#ifdef __cplusplus
}
#endif
#endif
