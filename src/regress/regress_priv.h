/* A parsed reference file (refdata.c), read by the comparison (regress.c). */
#ifndef MV_REGRESS_PRIV_H
#define MV_REGRESS_PRIV_H

#include <jansson.h>
#include <moeverify/regress.h>
#include <moeverify/flow.h>
#include "spec/problem_priv.h"

struct mv_regress_file {
  char name[MV_NAME_MAX];    /* file name for messages (sanitised) */
  char *spec_json;          /* the spec, compact */
  size_t m, mstar;
  int gram0;                /* MV_GRAM0_* */
  char stepper[16];         /* fast path */
  double rtol, atol;
  int full;                 /* fast path: the full flow (else reduced) */
  mv_regress_tol tol[MV_REGRESS_NGROUP];
  size_t nrows, ncols;      /* ncols = 2 + Gram columns */
  char **cols;
  size_t *kl;               /* Gram index pairs of columns 2.. */
  double *t, *val;          /* val[row * ncols + col], the decimals rounded */
};

#endif
