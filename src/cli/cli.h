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
 * (or NULL). */
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
/* Create DIR if needed and prove it writable (a probe file is created and
 * removed); prints the error.  Returns 0 or MV_EXIT_USAGE. */
int mv_cli_prepare_dir (const char *dir);
/* SIGINT sets the returned flag instead of killing the process, so long
 * runs can stop cleanly and write a marked partial result. */
volatile sig_atomic_t *mv_cli_catch_sigint (void);
/* Progress callback for flows (bar on a terminal only). */
void mv_cli_flow_progress (void *ctx, double t, double t_end);
int mv_cmd_flow (int argc, char **argv);
/* flow --reduced --reference: both reference runs into tr (the confirming
 * one) and DIR/reference.json; a library status */
int mv_cli_flow_reference (mv_traj *tr, const double *G, const double *nr,
                           const mv_problem *pb, const mv_flow_params *fp, double tol,
                           const char *out, const mv_ref_system_type *type);
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
/* Trajectory commands: create/probe the output directory (*made_dir tells
 * whether it is new) and initialise tr; 0 or an exit status. */
int mv_cli_traj_start (mv_traj *tr, const mv_problem *pb, const char *out,
                       int *made_dir);
/* After the run: on failure report it and remove a new, empty directory;
 * otherwise write the files and print summary(tr, ctx).  Clears tr and
 * returns the exit status (130 when interrupted). */
int mv_cli_traj_finish (mv_traj *tr, const mv_problem *pb, int status,
                        const char *out, int made_dir,
                        void (*summary) (const mv_traj *, const void *),
                        const void *ctx);

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
