/* Reference trajectories and the regression check (`moeverify regress`).
 *
 * A reference file (JSON, format "moeverify-reference-1") holds a spec, how
 * its reference trajectory was made (integrator, precision, tolerance, the
 * confirming run), the fast path to check against it (stepper, rtol,
 * atol), per-quantity tolerances, and at each recorded time the loss,
 * |grad L|^2 and every Gram entry of trajectory.csv as decimal strings
 * (every printed digit confirmed), with a checksum of the whole document.
 * mv_regress_parse validates all of it; mv_regress_check recomputes the
 * trajectory with the fast path and compares every value within its
 * tolerance. */
#ifndef MOEVERIFY_REGRESS_H
#define MOEVERIFY_REGRESS_H

#include <stddef.h>
#include <stdint.h>
#include <moeverify/traj.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MV_REGRESS_FORMAT "moeverify-reference-1"

/* Quantity groups, each with its tolerance |dev| <= abs + rel |ref|. */
enum { MV_REGRESS_LOSS = 0, MV_REGRESS_GRAD2, MV_REGRESS_GRAM, MV_REGRESS_NGROUP };

typedef struct {
  double rel, abs;
} mv_regress_tol;

typedef struct mv_regress_file mv_regress_file;

/* Parse and validate the text of a reference file (name: for messages).
 * Every problem (not JSON, a missing or mistyped key, a value that is not
 * a finite decimal, rows of the wrong length, times not ascending, a
 * checksum that does not match) is an error "NAME: KEY: problem"; *ref is
 * NULL then. */
int mv_regress_parse (mv_regress_file **ref, const char *text, const char *name);
void mv_regress_free (mv_regress_file *ref);

/* The checksum of a reference document: FNV-1a (64 bits) of its compact,
 * key-sorted JSON without the "checksum" key, as "fnv1a64:<16 hex>". */
int mv_regress_checksum (char out[32], const char *text);

size_t mv_regress_nrows (const mv_regress_file *ref);
size_t mv_regress_ncols (const mv_regress_file *ref);   /* loss, grad_norm2, Gram entries */
const char *mv_regress_column (const mv_regress_file *ref, size_t c);
const char *mv_regress_name (const mv_regress_file *ref);

/* What a reference file holds, for writing one (mv_regress_format). */
typedef struct {
  const char *description;
  const char *spec_json;       /* a spec document */
  int gram0;                   /* MV_GRAM0_* (flow.h) */
  const char *reference_json;  /* how the values were made: a JSON object
                                  (integrator, precision, tolerance, the
                                  confirming run, ...) */
  const char *stepper;         /* the fast path to check against */
  double rtol, atol;
  mv_regress_tol tol[MV_REGRESS_NGROUP];
  size_t nrows;
  const char *const *t;        /* nrows decimal strings, "0" first */
  const char *const *values;   /* nrows x (2 + Gram columns) decimal strings:
                                  loss, grad_norm2, mv_traj_gram_columns order */
  int full;                    /* 1: the fast path is the full flow of the raw
                                  vectors ("fast.flow": "full"); 0: reduced */
} mv_regress_data;

/* The text of a reference file for d (its checksum included), malloc'd;
 * NULL with a message if d is inconsistent (it is parsed back). */
char *mv_regress_format (const mv_regress_data *d, const char *name);

/* One compared value. */
typedef struct {
  size_t row, col;
  double t, ref, got, dev, tol;   /* tol = abs + rel |ref|; ratio dev/tol */
} mv_regress_dev;

typedef struct {
  size_t nvalues, nviolations;
  mv_regress_dev worst[8];   /* the largest dev/tol first (nworst of them) */
  size_t nworst;
  mv_regress_dev worst_group[MV_REGRESS_NGROUP];   /* per group; col = (size_t) -1 if none */
  double wall_seconds;
} mv_regress_result;

/* Recompute the reference's trajectory with its fast path (GSL reduced
 * flow at the stored stepper, rtol and atol, output at the stored times)
 * and compare every value.  A flow that fails is an error. */
int mv_regress_check (mv_regress_result *res, const mv_regress_file *ref);

/* The same with the fast path at another rtol and atol (what a
 * tolerance achieves against the reference). */
int mv_regress_check_tol (mv_regress_result *res, const mv_regress_file *ref, double rtol,
                          double atol);

/* The same comparison against a trajectory computed elsewhere (rows at
 * exactly the reference's times, in order). */
int mv_regress_compare (mv_regress_result *res, const mv_regress_file *ref, const mv_traj *tr);

#ifdef __cplusplus
}
#endif
#endif
