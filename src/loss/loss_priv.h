/* Private layout of the loss workspace (loss.c: Gram level, loss_raw.c:
 * raw-parameter level). */
#ifndef MV_LOSS_PRIV_H
#define MV_LOSS_PRIV_H

#include "series/expect_priv.h"
#include <moeverify/loss.h>

/* fixed partition of the pair sum (see gram_d_core) */
#define MV_LOSS_NCHUNK 4

struct mv_loss_ws {
  size_t m, mstar, n;
  mpfr_prec_t prec;
  mv_expect_ws *ex;
  double *errG;            /* per-entry error bounds of dL/dG (double path) */
  mv_mag *errGm;           /* the same for the MPFR path (no underflow) */
  double *chunk_dG, *chunk_eG;  /* per-chunk dL/dG and errG (MV_LOSS_NCHUNK n^2) */
  mv_expect_val val;       /* MPFR pair scratch */
  mpfr_t acc, tmp, proj;
  /* raw-level buffers, (re)sized for the dimension d of the problem */
  size_t d;
  double *Ud, *Gd, *gd, *normd;
  mpfr_t *U, *G, *g, *norm;  /* at the working precision */
  mpfr_t *h;                 /* d scratch values for the chain rule */
  struct mv_loss_fix *fix;   /* fixed-point dot products (loss_raw.c) */
  size_t nU;
};

void mv_loss_free_raw (mv_loss_ws *ws);
void mv_loss_fix_free (struct mv_loss_fix *f);

#endif
