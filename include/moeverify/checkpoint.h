/* Checkpoints: the complete state of a flow or SGD run at an output row,
 * written atomically so that a run killed at any moment can be continued
 * from its last checkpoint and end BIT-IDENTICAL to an uninterrupted run
 * (every row, event, counter and the final state; only wall time differs).
 *
 * Container: named records, each an array of doubles, of 64-bit unsigned
 * integers, or of bytes (strings).  Names starting "id." are the run's
 * identity (what determines the trajectory: method, spec, stepper,
 * tolerances, output grid, learning rate, batch, seed, ...); resuming
 * compares them with the identity of the run being resumed and refuses
 * with a one-line error naming the first that differs.  "st." records are
 * the state, "tr." the trajectory record, "note." free text for callers
 * (the CLI stores its options there).
 *
 * File format, version 1 (all integers little-endian as written by the
 * machine; a file from a machine of the other byte order is refused):
 *   offset  0  8 bytes   magic "MVCKPT\r\n"
 *           8  u32       version (1)
 *          12  u32       byte-order mark 0x01020304
 *          16  u64       payload length P
 *          24  u64       FNV-1a 64 hash of the P payload bytes
 *          32  P bytes   records, each:
 *                          u32 name length L, L bytes of name (no NUL),
 *                          u8 type ('d' double, 'u' u64, 's' bytes),
 *                          u64 count, count elements (8 bytes each for
 *                          'd' and 'u', the doubles' bit patterns)
 * A file shorter or longer than 32 + P bytes, with a bad magic, version,
 * hash or record layout is refused with a one-line error naming the file.
 *
 * Why resuming is bit-identical (flows): between two accepted steps the
 * driver loop's whole state is (y, t, h, the index k of the next output
 * time, the evolve object's count, failed_steps, last_step and dydt_out:
 * once count > 0, gsl_odeiv2_evolve_apply (GSL 2.x) takes the previous
 * step's dydt_out as this step's dydt_in instead of evaluating it, so
 * dydt_out is state, not scratch).  GSL's explicit Runge-Kutta steppers
 * (rk8pd, rkf45, rkck, rk4) keep nothing between steps (their k-arrays
 * are overwritten before use) and the scaled control is stateless, so the
 * continuation from the saved tuple repeats the same floating-point
 * operations; the right-hand sides depend on y only (no history in their
 * workspaces).  tests/test_checkpoint.c checks it with memcmp at output
 * rows and between steps.  msadams and msbdf keep a history of past
 * steps (order, previous states) that a checkpoint does not hold; bsimp
 * and rk4imp were not shown to keep none: all four are refused
 * (MV_EINVAL).  For SGD the state
 * is the student vectors, their inverse norms, the step index and the
 * mt19937 state (gsl_rng_state, its whole 5 kB). */
#ifndef MOEVERIFY_CHECKPOINT_H
#define MOEVERIFY_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include <moeverify/traj.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MV_CKPT_VERSION 1

enum { MV_CKPT_F64 = 'd', MV_CKPT_U64 = 'u', MV_CKPT_BYTES = 's' };

typedef struct mv_ckpt mv_ckpt;

mv_ckpt *mv_ckpt_alloc (void);
void mv_ckpt_free (mv_ckpt *c);
/* Number of records and the i-th one's name and type (NULL / 0 past the end). */
size_t mv_ckpt_size (const mv_ckpt *c);
const char *mv_ckpt_name (const mv_ckpt *c, size_t i, int *type);

/* Add (or replace) a record; MV_ENOMEM. */
int mv_ckpt_put_f64 (mv_ckpt *c, const char *name, const double *x, size_t n);
int mv_ckpt_put_u64 (mv_ckpt *c, const char *name, const uint64_t *x, size_t n);
int mv_ckpt_put_bytes (mv_ckpt *c, const char *name, const void *x, size_t n);
int mv_ckpt_put_str (mv_ckpt *c, const char *name, const char *s);
int mv_ckpt_put_ulong (mv_ckpt *c, const char *name, unsigned long v);
int mv_ckpt_put_double (mv_ckpt *c, const char *name, double v);

/* The data of record name if it has that type (count in *n), else NULL. */
const void *mv_ckpt_get (const mv_ckpt *c, const char *name, int type, size_t *n);
/* Exactly n elements into x; MV_EPARSE naming the record otherwise. */
int mv_ckpt_get_f64 (const mv_ckpt *c, const char *name, double *x, size_t n);
int mv_ckpt_get_u64 (const mv_ckpt *c, const char *name, uint64_t *x, size_t n);
int mv_ckpt_get_ulong (const mv_ckpt *c, const char *name, unsigned long *v);
/* A bytes record as a malloc'd NUL-terminated string (NULL + error). */
char *mv_ckpt_get_str (const mv_ckpt *c, const char *name);

/* Write atomically (temporary + rename; the old file stays on failure). */
int mv_ckpt_write (const mv_ckpt *c, const char *path);
/* Read path into c (emptied first): MV_EIO if unreadable, MV_EPARSE with
 * a one-line message naming the file if truncated, corrupt or of another
 * version. */
int mv_ckpt_read (mv_ckpt *c, const char *path);

/* Compare the "id." records of saved (a checkpoint) with those of now (the
 * run asked to resume): MV_OK, or MV_EINVAL "checkpoint: <what> differs
 * (checkpoint X, this run Y)" for the first that differs or is missing. */
int mv_ckpt_check_identity (const mv_ckpt *saved, const mv_ckpt *now);

/* FNV-1a 64 of n bytes (identity hashes, the payload checksum). */
uint64_t mv_ckpt_hash (const void *data, size_t n);

/* The trajectory record in c ("tr." records): its first `rows` rows, the
 * raw norms at t = 0, the crossing tables and the step-level event state
 * (prev, t_prev), the counters.  Load restores them into tr (initialised
 * for the same m, m*; MV_EPARSE naming the record if they do not fit). */
int mv_traj_ckpt_save (mv_ckpt *c, const mv_traj *tr, size_t rows);
int mv_traj_ckpt_load (mv_traj *tr, const mv_ckpt *c);

/* Checkpointing options shared by the flows and SGD (flow.h, sgd.h). */
typedef struct {
  const char *path;     /* write checkpoints here (NULL: none) */
  double every;         /* wall seconds between checkpoints: > 0, at the
                           first accepted step (or output row) after that
                           long; 0, at every output row.  One is also
                           written when the run is interrupted (the state
                           before the step it did not take) */
  const char *spec;     /* identity text of the problem (e.g. the spec as
                           mv_problem_to_json gives it; NULL: none), stored
                           whole as note.spec and hashed as id.spec */
  const char *note;     /* stored as note.caller, not compared */
  const mv_ckpt *resume; /* continue from this checkpoint (NULL: from t = 0) */
} mv_ckpt_params;

/* The end of a checkpoint the dynamics built (id. and st. records in c,
 * status s of building them): the trajectory so far, the notes of cp, then
 * written to cp->path; c (may be NULL) is freed.  A failure, here or in s,
 * marks tr failed with the message and is returned. */
int mv_ckpt_finish (mv_ckpt *c, int s, mv_traj *tr, const mv_ckpt_params *cp);

#ifdef __cplusplus
}
#endif
#endif
