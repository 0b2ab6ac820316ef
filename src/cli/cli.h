/* Shared declarations of the moeverify command-line tool.
 *
 * Conventions for every subcommand: argv[0] is the subcommand name; exit
 * MV_EXIT_OK (0) on success, MV_EXIT_FAIL (1) when a computation or output
 * fails, MV_EXIT_USAGE (2) for bad options or bad input files.  Errors are
 * one line on stderr, "moeverify: <message>", and nothing is written to the
 * output (documents are built whole, then emitted). */
#ifndef MV_CLI_H
#define MV_CLI_H

#include <signal.h>
#include <stddef.h>
#include <jansson.h>
#include <mpfr.h>
#include <moeverify/flow.h>
#include <moeverify/sgd.h>
#include <moeverify/sweep.h>
#include <moeverify/mag.h>
#include <moeverify/mcreg.h>
#include <moeverify/reference.h>
#include <moeverify/cost.h>

/* Stringify a macro's value (for usage texts). */
#define MV_STR(x) #x
#define MV_XSTR(x) MV_STR (x)

enum { MV_EXIT_OK = 0, MV_EXIT_FAIL = 1, MV_EXIT_USAGE = 2 };

/* Nonzero: every subcommand returns MV_EXIT_OK right after its options are
 * parsed and checked, before reading files or computing (the option-parsing
 * fuzz harness, tests/fuzz/fuzz_cli.c, sets it; 0 otherwise). */
extern int mv_cli_parse_only;

int mv_cmd_coeffs (int argc, char **argv);
int mv_cmd_loss (int argc, char **argv);
int mv_cmd_mc (int argc, char **argv);
/* mc_reg.c: the "regularizers" object of `moeverify mc --regularizers`
 * (compare: with the closed-form terms the library knows). */
json_t *mv_cli_mcreg_json (const mv_mcreg_result *r, const mv_problem *pb,
                           int compare);
int mv_cmd_run (int argc, char **argv);

/* "moeverify: <formatted>\n" on stderr. */
void mv_cli_error (const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__ ((format (printf, 1, 2)))
#endif
  ;
/* "moeverify: <mv_error_message()>\n" on stderr. */
void mv_cli_lib_error (void);

/* Option iteration.  Accepts "--opt VALUE", "--opt=VALUE", "-o VALUE";
 * "--" ends the options; "-" alone is a positional argument.
 *   mv_cli_args a;  mv_cli_args_init (&a, argc, argv);
 *   while (mv_cli_next (&a)) {
 *     if (!a.opt) ... positional a.arg ...
 *     else if (mv_cli_is (&a, "--prec")) { if (!(v = mv_cli_value (&a))) return 2; }
 *     else if (mv_cli_is (&a, "--fast")) { if (mv_cli_flag (&a)) return 2; }
 *     else return mv_cli_unknown (&a);
 *   }
 * Every error helper prints its own message and returns MV_EXIT_USAGE
 * (or NULL).  An option that takes a value may be given once
 * (mv_cli_value refuses the second). */
typedef struct {
  int argc;
  char **argv;
  int i;               /* next index to read */
  int no_more_opts;    /* after "--" */
  const char *cmd;     /* subcommand name for messages */
  const char *opt;     /* current option name ("--prec"), NULL if positional */
  size_t optlen;       /* length of the option name in opt */
  const char *arg;     /* current positional argument */
  const char *inline_val; /* value after '=', if any */
  /* options that took a value so far: a second one is refused (it
   * would silently override the first) */
  const char *seen[32];
  size_t seen_len[32];
  int nseen;
} mv_cli_args;

void mv_cli_args_init (mv_cli_args *a, int argc, char **argv);
int mv_cli_next (mv_cli_args *a);
int mv_cli_is (const mv_cli_args *a, const char *name);
const char *mv_cli_value (mv_cli_args *a);
int mv_cli_flag (const mv_cli_args *a);
int mv_cli_unknown (const mv_cli_args *a);

/* Strict number parsing: the whole argument must be the number and lie in
 * [lo, hi]; errors name the option.  Return 0 or MV_EXIT_USAGE. */
int mv_cli_parse_long (const char *opt, const char *arg, long lo, long hi,
                       long *out);
int mv_cli_parse_ulong (const char *opt, const char *arg, unsigned long lo,
                        unsigned long hi, unsigned long *out);
int mv_cli_parse_double (const char *opt, const char *arg, double lo,
                         double hi, double *out);
/* --prec BITS in MV_PREC_MIN..MV_PREC_MAX. */
int mv_cli_parse_prec (const char *opt, const char *arg, mpfr_prec_t *out);

/* Serialise doc (indented, keys in insertion order, trailing newline) and
 * write it to stdout (output == NULL or "-") or atomically to output.
 * Prints the error itself; returns 0 or MV_EXIT_FAIL.  Does not free doc. */
int mv_cli_emit_json (const json_t *doc, const char *output);
/* That serialisation (malloc'd, length in *len); NULL when out of memory. */
char *mv_cli_json_text (const json_t *doc, size_t *len);
/* Same for an already built text. */
int mv_cli_emit_text (const char *text, size_t len, const char *output);
/* The same for n pieces written in order (no joined copy). */
int mv_cli_emit_parts (const char *const *text, const size_t *len, size_t n,
                       const char *output);

/* A jansson string from a malloc'd C string (freed here); NULL if s is
 * NULL or on allocation failure. */
json_t *mv_cli_json_str (char *s);
/* An error bound as a string rounded up to 3 digits ("0" only when exact). */
json_t *mv_cli_json_mag (const mv_mag *a);

/* What every spec-taking subcommand accepts: the positional SPEC (once)
 * and -h/--help.  Returns 1 when the current argument was consumed, 0 when
 * it is not one of these, -1 after printing usage, MV_EXIT_USAGE on error. */
int mv_cli_common (mv_cli_args *a, const char **spec, const char *usage);
/* Read a spec; on failure print the one-line error and return the exit
 * status (1 out of memory, 2 bad input), else 0. */
int mv_cli_read_spec (mv_problem *pb, const char *path);
/* --max-memory SIZE (cost.h: 512M, 8G, none): 1 if a is that option (its
 * value kept for mv_cli_memory_guard), 0 if not, MV_EXIT_USAGE if bad. */
int mv_cli_memory_opt (mv_cli_args *a);
/* Refuse a run estimated past --max-memory (default: the physical memory)
 * with the estimate in a one-line error; 0 or MV_EXIT_FAIL. */
int mv_cli_memory_guard (const mv_cost *c, const char *what);
/* The exit status for a library status: 2 for bad input (EINVAL, EPARSE,
 * EPREC, EDOM), 1 for a failed computation or output (ENOMEM, EIO,
 * ENOCONV). */
int mv_cli_exit_of (int status);
/* Create DIR if needed and prove it writable (a probe file is created and
 * removed), removing the temporaries of killed writers from it; prints the
 * error.  Returns 0 or MV_EXIT_USAGE. */
int mv_cli_prepare_dir (const char *dir);
/* Remove the files that mark DIR as holding a finished result (a report,
 * a summary) before a new run writes into it, which writes them last: a
 * run stopped part-way then leaves no marker beside its new files.  0 or
 * MV_EXIT_FAIL (printed). */
int mv_cli_unmark_dir (const char *dir, const char *const *markers, size_t n);
/* The process's exit status from a command's: a stdout that could not be
 * written turns success into MV_EXIT_FAIL (with the error), and on failure
 * the output directories mv_cli_prepare_dir created are removed if empty. */
int mv_cli_exit (int status);
/* SIGINT, SIGTERM and SIGHUP set the returned flag instead of killing the
 * process, so long runs can stop cleanly and write a marked partial result
 * (exit status 130 for all three). */
volatile sig_atomic_t *mv_cli_catch_sigint (void);
/* Install handler (or SIG_DFL) for all three of those signals. */
void mv_cli_on_stop_signals (void (*handler) (int));
/* Progress callback for flows (bar on a terminal only). */
void mv_cli_flow_progress (void *ctx, double t, double t_end);
int mv_cmd_flow (int argc, char **argv);
/* flow --reduced --reference: both reference runs into tr (the confirming
 * one), reference.json and trajectory_digits.csv into set; a library
 * status */
int mv_cli_flow_reference (mv_traj *tr, const double *G, const double *nr,
                           const mv_problem *pb, const mv_flow_params *fp, double tol,
                           mv_io_set *set, const mv_ref_system_type *type);
int mv_cmd_sgd (int argc, char **argv);
int mv_cmd_sweep (int argc, char **argv);
int mv_cmd_specialize (int argc, char **argv);
int mv_cmd_regress (int argc, char **argv);
/* The reference run's quantity (reference.h) of trajectory.csv's column c
 * (0 loss, 1 grad_norm2, 2.. Gram entries kl, mv_traj_gram_columns) for n
 * Gram rows and nvar free entries (cmd_flow_ref.c). */
size_t mv_cli_ref_column_q (size_t c, const size_t *kl, size_t n, size_t nvar);
int mv_cli_ref_input (mv_ref_input *in, double **vec, const double *G, const double *nr,
                      const mv_problem *pb, const mv_ref_system_type *type);
/* moeverify regress --make RECIPE -o OUT (regress_make.c); an exit status. */
int mv_cli_regress_make (const char *recipe, const char *out);
int mv_cmd_check (int argc, char **argv);
/* Recovery summary of a finished trajectory on stdout: a flow header line
 * and one line per teacher (mv_cli_print_teachers alone prints the latter). */
void mv_cli_print_recovery (const mv_traj *tr);
void mv_cli_print_teachers (const mv_traj *tr);
/* The output directory of a trajectory command and the files its run
 * writes there: added to set as they are made, committed together with the
 * trajectory (run.json last), so the directory changes all at once or not
 * at all. */
typedef struct {
  const char *dir;
  int made_dir;          /* created by this command (removed on failure) */
  mv_io_set *set;
} mv_cli_out;
/* Create/probe the output directory dir (removing what killed runs left
 * there) and initialise out and tr; 0 or an exit status. */
int mv_cli_traj_start (mv_traj *tr, const mv_problem *pb, mv_cli_out *out,
                       const char *dir);
/* After the run: on failure report it, drop the set and remove a new,
 * empty directory; otherwise commit the trajectory with the set and print
 * summary(tr, ctx).  Clears tr and out; returns the exit status (130 when
 * interrupted). */
int mv_cli_traj_finish (mv_traj *tr, const mv_problem *pb, int status,
                        mv_cli_out *out,
                        void (*summary) (const mv_traj *, const void *),
                        const void *ctx);

/* Checkpoints of flow and sgd (cli_ckpt.c): DIR/MV_CLI_CKPT_FILE. */
#define MV_CLI_CKPT_FILE "checkpoint.mvck"
#define MV_CLI_CKPT_EVERY 60   /* default seconds between checkpoints */
/* DIR/checkpoint.mvck, malloc'd. */
char *mv_cli_ckpt_path (const char *dir);
/* --checkpoint-every SECONDS (>= 0; "off": -1); 0 or MV_EXIT_USAGE. */
int mv_cli_parse_ckpt_every (const char *opt, const char *arg, double *every);
/* What a checkpoint records of the command line: {"command", "args":
 * argv[1..]} as compact JSON, malloc'd (NULL when out of memory). */
char *mv_cli_ckpt_note (const char *cmd, int argc, char **argv);
/* DIR of --resume DIR (or --resume=DIR) in argv, NULL if absent. */
const char *mv_cli_resume_dir (int argc, char **argv);
/* A run continued from DIR's checkpoint: the recorded command line
 * followed by the options given besides --resume DIR (conflicts show up
 * as a different identity, refused by the library), the spec text. */
typedef struct {
  const char *dir;
  mv_ckpt *ckpt;
  int argc;
  char **argv;
  char *spec_text;
} mv_cli_resume;
/* Load DIR's checkpoint for command cmd; 0 or an exit status (the error
 * printed).  Clear with mv_cli_resume_clear in both cases. */
int mv_cli_resume_load (mv_cli_resume *r, const char *cmd, int argc, char **argv);
void mv_cli_resume_clear (mv_cli_resume *r);
/* The recorded spec as a problem (name for messages); 0 or an exit status. */
int mv_cli_resume_spec (mv_problem *pb, const mv_cli_resume *r, const char *name);
/* After a run: remove the temporaries of interrupted checkpoint writes,
 * and the checkpoint itself once the run is complete and written. */
void mv_cli_ckpt_done (const char *dir, int traj_status, int exit_code);

/* moeverify sweep --plot DIR (sweep_plot.c): SVG summaries of
 * DIR/results.csv in DIR/plots; returns an exit code. */
int mv_cli_sweep_plot (const char *dir);

/* The check command's scan hook (check_scan.c): scans run as `moeverify
 * sweep` into DIR/scans/NAME with jobs workers; plan: only write the sweep
 * files and print the mpirun commands (planned counts them). */
typedef struct {
  const char *dir;
  unsigned jobs;
  int plan;
  size_t planned;
} mv_check_scan_ctx;
int mv_cli_check_scan (void *ctx, mv_sweep_row *rows, const mv_sweep *sw,
                       const char *text, const char *name);

#endif
