/* Private layout of the loss workspace (loss.c: workspace and the Gram-level
 * drivers over the term list; term_datafit.c, term_noise.c: the built-in
 * terms; term_ortho.c, term_ortho_gated.c, term_var.c, term_aux.c: the
 * specialization regularizers; terms.c: the table of known types; loss_raw.c: raw-parameter
 * level; loss_hess_raw.c: raw Hessian). */
#ifndef MV_LOSS_PRIV_H
#define MV_LOSS_PRIV_H

#include "series/expect_priv.h"
#include <moeverify/loss.h>

/* fixed partition of the pair sum (see term_datafit.c) */
#define MV_LOSS_NCHUNK 4

typedef struct {
  const mv_loss_term_type *type;
  double weight;
} mv_loss_term_entry;

struct mv_loss_ws {
  size_t m, mstar, n;
  mpfr_prec_t prec;
  mv_expect_ws *ex;
  int mp_init;             /* val, acc, tmp, proj initialised (free clears) */
  mv_loss_term_entry *terms;  /* the objective, summed in order */
  size_t nterms, cap_terms;
  double *work;            /* term scratch, MV_LOSS_SAMPLE_BLOCK (n + 2) */
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

/* loss_raw.c, for loss_hess_raw.c: problem shape check; unit vectors
 * (ws->Ud), norms (ws->normd) and Gram matrix (ws->Gd) of a problem; chain
 * rule from dL/dG in ws->gd to the raw gradient (li: Gram-level info in,
 * raw-level info out). */
int mv_loss_check_shape (const mv_problem *pb, const mv_loss_ws *ws);
int mv_loss_unit_gram_d (const mv_problem *pb, mv_loss_ws *ws);
int mv_loss_unit_gram_vec_d (const double *V, const double *W, const double *Vt,
                             const double *Wt, size_t d, mv_loss_ws *ws);
void mv_loss_raw_grad_d (double *gV, double *gW, mv_loss_info *li, size_t d,
                         mv_loss_ws *ws);

#endif
