/* Claim checks (MATH.md §3-4): every claim the tool checks is a check type,
 * a table entry in the style of GSL's step types.  Running one fills a
 * result (what was measured, against which bound, with which margin, and
 * a verdict); `moeverify check` writes report.md and report.json from the
 * results.  Each claim has its file in proofs/ (statement, provenance,
 * derivation where we have one, what is measured, the pass criterion and
 * the ranges tried). */
#ifndef MOEVERIFY_CHECK_H
#define MOEVERIFY_CHECK_H

#include <stddef.h>
#include <moeverify/sweep.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Verdicts.  An exact identity either HOLDS or FAILS; a paper claim may
 * hold only in a RANGE (said plainly in the verdict text).  ERROR: the
 * check itself could not run (its message says why). */
enum { MV_CHECK_HOLDS = 0, MV_CHECK_RANGE, MV_CHECK_FAILS, MV_CHECK_ERROR };
/* Effort: QUICK (all claims together < 2 min on two cores, in make check),
 * DEFAULT, FULL (< 30 min on two cores). */
enum { MV_CHECK_QUICK = 0, MV_CHECK_DEFAULT, MV_CHECK_FULL };

typedef struct {
  int level;             /* MV_CHECK_QUICK, _DEFAULT or _FULL */
  unsigned seeds;        /* student seeds per setting; 0: the level's default */
  const char *dir;       /* report directory (exists): plots go there */
  void (*progress) (void *ctx, const char *what, double fraction);
  void *progress_ctx;
  /* How a claim's parameter scan runs.  A scan is a sweep (sweep.h): text
   * is its sweep file, name a file-name stem unique within one check
   * ("escape-d10000"), sw the parsed sweep.  scan fills rows[t] (each
   * initialised, mv_sweep_row_init) for every task t and returns MV_OK, or
   * an error with its message.  NULL: mv_check_scan runs the tasks in this
   * process, one after another.  The CLI runs them through `moeverify
   * sweep` (worker processes, or files for mpirun; src/cli/check_scan.c). */
  int (*scan) (void *ctx, mv_sweep_row *rows, const mv_sweep *sw,
               const char *text, const char *name);
  void *scan_ctx;
  const char *prune_rule; /* claim "prune": one rule of the pruning-rule
                             table (below) by name; NULL: every rule at the
                             DEFAULT and FULL levels, the default rule at
                             QUICK */
} mv_check_opts;

/* One measured quantity: value against bound; margin is how far inside
 * (> 0) or outside (< 0) the bound the value is, in the units the note
 * states (e.g. "bound - |error|", "digits to spare"). */
typedef struct {
  char *name;
  double value, bound, margin;   /* NAN where not applicable */
  char *note;
} mv_check_measure;

struct mv_check_type;

typedef struct {
  const struct mv_check_type *type;
  int verdict;                   /* MV_CHECK_* */
  char *verdict_text;            /* why, in a sentence or two */
  char *method;                  /* how it was measured (settings, counts) */
  mv_check_measure *m;
  size_t nm, cm;
  char **plots;                  /* file names relative to opts->dir */
  size_t np, cp;
  char *details;                 /* optional markdown (tables) */
  double wall_seconds;
} mv_check_result;

typedef struct mv_check_type {
  const char *name;              /* CLI name: "identities", "escape", ... */
  const char *title;
  const char *statement;         /* the claim, one paragraph */
  const char *provenance;        /* paper claim / derived here, constants */
  const char *proof;             /* its proofs/ file */
  int exact;                     /* an exact identity: a failure makes
                                    `moeverify check` exit non-zero */
  int (*run) (mv_check_result *r, const mv_check_opts *o);
} mv_check_type;

/* The table of claims, in report order: entry i, NULL past the end. */
const mv_check_type *mv_check_type_get (size_t i);
const mv_check_type *mv_check_find (const char *name);

void mv_check_result_init (mv_check_result *r, const mv_check_type *t);
void mv_check_result_clear (mv_check_result *r);
int mv_check_measure_add (mv_check_result *r, const char *name, double value,
                          double bound, double margin, const char *note_fmt, ...)
#if defined(__GNUC__)
  __attribute__ ((format (printf, 6, 7)))
#endif
  ;
int mv_check_plot_add (mv_check_result *r, const char *file);
int mv_check_set_verdict (mv_check_result *r, int verdict, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__ ((format (printf, 3, 4)))
#endif
  ;
int mv_check_set_method (mv_check_result *r, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__ ((format (printf, 2, 3)))
#endif
  ;
int mv_check_set_details (mv_check_result *r, const char *markdown);

/* Run claim t with options o into r (timed; a run that returns an error
 * becomes verdict MV_CHECK_ERROR with its message). */
int mv_check_run (mv_check_result *r, const mv_check_type *t,
                  const mv_check_opts *o);
/* Free the flows the trajectory claims share (computed once per process
 * and kept between claims); the next claim recomputes them.  Not
 * thread-safe: call when no claim runs. */
void mv_check_release (void);

/* A claim's scan (above): parse text, run it through o->scan (or here),
 * *rows (*n of them, task order) to free with mv_check_scan_free.  Rows of
 * tasks that failed are returned as such (status MV_TRAJ_FAILED); the claim
 * decides what they mean. */
int mv_check_scan (mv_sweep_row **rows, size_t *n, const char *text,
                   const char *name, const mv_check_opts *o);
void mv_check_scan_free (mv_sweep_row *rows, size_t n);
/* A scan that keeps trajectories ("keep": "trajectories") has task t's
 * trajectory directory (traj.h, mv_traj_read) at DIR/scans/NAME/tasks/t,
 * DIR = o->dir (required then): whatever runs the scan puts it there, as
 * `moeverify sweep --out DIR/scans/NAME` does.  Its path into buf. */
void mv_check_scan_task_dir (char *buf, size_t len, const mv_check_opts *o,
                             const char *name, size_t t);
/* Pruning rules of claim 7 ("prune"), a table in the style of the claims:
 * a rule keeps one student per teacher.  select fills sel[j] (j < mstar)
 * from the router alignments ra and expert alignments ea (m x mstar,
 * entry i * mstar + j, signed) and the raw expert norms wnorm (m; the flow
 * conserves them, so they are the initial norms).  Every rule chooses per
 * teacher independently, so one student can be kept for two teachers; the
 * claim reports that.  description says what the rule keeps and what it
 * does to a shared teacher (several students with |expert alignment| >=
 * 0.3, none recovered: proofs/claim-terminal.md). */
typedef struct {
  const char *name;
  const char *description;
  void (*select) (size_t *sel, const double *ra, const double *ea,
                  const double *wnorm, size_t m, size_t mstar);
} mv_prune_rule_type;

/* Entry i of the rule table (entry 0 the default), NULL past the end. */
const mv_prune_rule_type *mv_prune_rule_get (size_t i);
/* The rule called name (NULL name: the default); NULL if there is none. */
const mv_prune_rule_type *mv_prune_rule_find (const char *name);

/* report.md and report.json for n results in dir (atomically). */
int mv_check_report_write (const mv_check_result *r, size_t n,
                           const mv_check_opts *o);

#ifdef __cplusplus
}
#endif
#endif
