/* Shared integration loop of the full and reduced flows (flow.c). */
#ifndef MV_FLOW_PRIV_H
#define MV_FLOW_PRIV_H

#include <moeverify/flow.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_odeiv2.h>
#include <stdint.h>

/* Observables of a state: Gram matrix of unit vectors (n x n), and, when
 * L is not NULL, the loss and |grad L|^2.  Returns MV_OK or a status. */
typedef int (*mv_flow_observe_fn) (void *ctx, const double *y, double *G,
                                   double *L, double *grad2);

/* GSL step type of entry i of the stepper table (NULL past the end). */
const gsl_odeiv2_step_type *mv_flow_stepper_type (size_t i);

/* Whether p's stepper is implicit (needs the Jacobian); unknown names are
 * reported by mv_flow_integrate. */
int mv_flow_implicit (const mv_flow_params *p);

typedef struct {
  gsl_odeiv2_system sys;     /* function, jacobian (may be NULL), dimension */
  const double *scale_abs;   /* per-component absolute scales (dimension) */
  mv_flow_observe_fn observe;
  void *ctx;
  unsigned long *rhs_count, *jac_count;
  size_t d;                  /* > 0: y starts with the raw student state
                                (V rows then W rows, 2 m d), shown to the
                                observers as theta */
  uint64_t ident;            /* hash of the data that determine the flow
                                besides y(0) and p (teacher, noise, norms):
                                part of a checkpoint's identity */
} mv_flow_problem;

/* Integrate y (last component: energy Int |grad L|^2) over the output grid
 * of p; the observers (the recorder of tr, then p->observers) see a STEP at
 * t = 0 and after every accepted step, a ROW at every output time, and
 * finish once the record of tr is complete.  y is updated in place. */
int mv_flow_integrate (mv_traj *tr, mv_flow_problem *fp, double *y,
                       const mv_flow_params *p);

#endif
