/* moeverify: exact closed-form loss, gradients and dynamics of soft-routed
 * mixture-of-experts teacher-student models.  Umbrella header. */
#ifndef MOEVERIFY_H
#define MOEVERIFY_H

#include <moeverify/error.h>
#include <moeverify/mag.h>
#include <moeverify/hermite.h>
#include <moeverify/expect.h>
#include <moeverify/problem.h>
#include <moeverify/loss.h>
#include <moeverify/mc.h>
#include <moeverify/mcreg.h>
#include <moeverify/traj.h>
#include <moeverify/checkpoint.h>
#include <moeverify/flow.h>
#include <moeverify/reference.h>
#include <moeverify/sgd.h>
#include <moeverify/io.h>
#include <moeverify/plot.h>
#include <moeverify/sweep.h>
#include <moeverify/check.h>
#include <moeverify/regress.h>
#include <moeverify/specialize.h>
#include <moeverify/cost.h>
#include <moeverify/ffi.h>

/* the only copy of the version: configure.ac reads it from here */
#define MV_VERSION_STRING "0.1.0"
const char *mv_version (void);

#endif
