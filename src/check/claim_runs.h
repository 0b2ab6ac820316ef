/* The flows shared by the trajectory claims (guided, sequential, terminal,
 * phase1, prune): the paper shape (m* = 5, m = 25), teacher orthonormal
 * seed 1, student gaussian seeds 2, 3, ..., reduced flow.  They are scans
 * (check.h) that keep their trajectories, runs-d<d>-t<t_end>[-vectors],
 * read back (mv_traj_read) once per process and cached, so the claims of
 * one `moeverify check` read the same runs and a --full check can run them
 * on every core or a cluster. */
#ifndef MV_CHECK_CLAIM_RUNS_H
#define MV_CHECK_CLAIM_RUNS_H

#include <stddef.h>
#include <moeverify/check.h>
#include <moeverify/traj.h>

typedef struct {
  size_t d;
  unsigned seed;            /* student seed */
  double t_end;
  mv_traj tr;
  double *G0, *norms;       /* initial Gram matrix (n x n) and raw norms */
  /* per (i, j), i * mstar + j: expert alignment at the first step where the
   * router alignment reaches 0.5 (linear interpolation), and that time;
   * NAN if the router never does */
  double *guide_e, *guide_t;
} mv_claim_run;

/* The runs of level o->level (quick: d = 1000, 2 seeds, t_end 150;
 * default: 6 seeds, t_end 300; full: 20 seeds, d = 1000 (t_end 300) and
 * d = 10^4 (t_end 1000)); o->seeds overrides the seed count.  *runs points
 * into the cache (valid until mv_check_release).  Needs o->dir (the
 * trajectories are kept under it). */
int mv_claim_runs_get (const mv_claim_run ***runs, size_t *n,
                       const mv_check_opts *o);
/* A one-line description of the settings, for the result's method. */
int mv_claim_runs_describe (char *buf, size_t len, const mv_check_opts *o);

/* Gram-matrix indices, order [v, w, v*, w*]. */
#define MV_CR_W(m, i) ((m) + (i))
#define MV_CR_WT(m, ms, j) (2 * (m) + (ms) + (j))

/* Initial expert overlap of student i with teacher j and the leading-order
 * escape time 2|w_i|^2 / (9 beta0) (INFINITY if beta0 <= 0). */
double mv_claim_beta0 (const mv_claim_run *r, size_t i, size_t j);
double mv_claim_escape_pred (const mv_claim_run *r, size_t j, size_t *best);

/* Report labels of the teacher states (traj.h, MV_TRAJ_STATE_*). */
extern const char *const mv_term_names[MV_TRAJ_NSTATE];

/* Plots of claim 6 into o->dir (none if o->dir is NULL): terminal-state
 * fractions against t, and the alignment curves of a recovered and a
 * shared teacher with the phases marked. */
int mv_claim_terminal_plots (mv_check_result *res, const mv_claim_run **runs,
                             size_t nr, const mv_check_opts *o);

/* A scan of the paper shape (teacher orthonormal seed 1, m* = 5, gaussian
 * students) at dimension d: grid over student.m (the nm values of ms;
 * nm = 0: m = 25) and student.init.seed from seed0 to seed0 + ns - 1;
 * reduced flow from G(0) made as gram0 says (NULL: "sample") to t_end with
 * n_out output rows (0: the flow's default), stop rule stop (NULL: none),
 * trajectories kept if keep. */
typedef struct {
  size_t d;
  const unsigned *ms;
  size_t nm;
  unsigned seed0;
  size_t ns;
  double t_end;
  size_t n_out;
  const char *stop, *gram0;
  int keep;
} mv_claim_scan;

/* The scan as a sweep file's text, malloc'd (NULL: out of memory, message
 * set). */
char *mv_claim_scan_text (const mv_claim_scan *sc);
/* Run scan text named name (mv_check_scan) and fail, naming the task, if
 * any task failed. */
int mv_claim_scan_run (mv_sweep_row **rows, size_t *n, const char *text, const char *name,
                       const mv_check_opts *o);

/* Least-squares slope of y in x (*c1, intercept *c0) with the half-width
 * of its 95 % t-interval; MV_EINVAL (what names the fit) with < 3 points. */
int mv_claim_fit_exponent (const double *x, const double *y, size_t n, double *c1,
                           double *half, double *c0, const char *what);

/* Claim 6 against d and m (claim_terminal_scan.c): the level's scans,
 * measurements per (d, m), a markdown table appended to tab (len bytes in
 * all).  Nothing at the quick level. */
int mv_claim_terminal_scan (mv_check_result *res, const mv_check_opts *o, char *tab,
                            size_t len);

/* A log-log plot against d into o->dir/file: the runs (log10 d, log10 y),
 * optional predictions logp (NULL: none) labelled plabel, the fit
 * 10^(c0 + c1 log10 d) and a sqrt(d) reference through the fit's left end. */
int mv_claim_plot_vs_d (mv_check_result *r, const mv_check_opts *o, const char *file,
                        const char *title, const char *ylabel, const double *logd,
                        const double *logy, const double *logp, const char *plabel,
                        size_t n, double c0, double c1);

/* Statistics helpers: sorts x in place. */
void mv_claim_quantiles (double *x, size_t n, double *mn, double *med,
                         double *mx);

#endif
