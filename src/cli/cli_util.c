/* Helpers shared by the subcommands: one-line errors, option iteration,
 * strict number parsing, whole-document output (stdout or atomic file). */
#include "cli.h"

#include <moeverify/error.h>
#include <moeverify/hermite.h>
#include <moeverify/io.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int mv_cli_parse_only = 0;

void
mv_cli_error (const char *fmt, ...)
{
  va_list ap;
  fflush (stdout);
  fputs ("moeverify: ", stderr);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
}

void
mv_cli_lib_error (void)
{
  mv_cli_error ("%s", mv_error_message ());
}

/* ------------------------------------------------------------ options */

void
mv_cli_args_init (mv_cli_args *a, int argc, char **argv)
{
  memset (a, 0, sizeof *a);
  a->argc = argc;
  a->argv = argv;
  a->i = 1;
  a->cmd = argc > 0 ? argv[0] : "moeverify";
}

int
mv_cli_next (mv_cli_args *a)
{
  a->opt = a->arg = a->inline_val = NULL;
  a->optlen = 0;
  while (a->i < a->argc)
    {
      const char *s = a->argv[a->i++];
      if (!a->no_more_opts && !strcmp (s, "--"))
        {
          a->no_more_opts = 1;
          continue;
        }
      if (a->no_more_opts || s[0] != '-' || s[1] == '\0')
        {
          a->arg = s;
          return 1;
        }
      a->opt = s;
      const char *eq = s[1] == '-' ? strchr (s, '=') : NULL;
      a->optlen = eq ? (size_t) (eq - s) : strlen (s);
      a->inline_val = eq ? eq + 1 : NULL;
      return 1;
    }
  return 0;
}

int
mv_cli_is (const mv_cli_args *a, const char *name)
{
  return a->opt && strlen (name) == a->optlen
    && !strncmp (a->opt, name, a->optlen);
}

const char *
mv_cli_value (mv_cli_args *a)
{
  for (int k = 0; k < a->nseen; k++)
    if (a->seen_len[k] == a->optlen && !strncmp (a->seen[k], a->opt, a->optlen))
      {
        mv_cli_error ("%s: option %.*s given twice", a->cmd, (int) a->optlen, a->opt);
        return NULL;
      }
  if (a->nseen < (int) (sizeof a->seen / sizeof *a->seen))
    {
      a->seen[a->nseen] = a->opt;
      a->seen_len[a->nseen++] = a->optlen;
    }
  if (a->inline_val)
    return a->inline_val;
  /* "--stepper --out DIR" forgot the value: say so, rather than take
   * "--out" as the stepper and complain about DIR (--opt=--x still works) */
  if (a->i < a->argc && !(a->argv[a->i][0] == '-' && a->argv[a->i][1] == '-'))
    return a->argv[a->i++];
  mv_cli_error ("%s: option %.*s needs a value", a->cmd, (int) a->optlen,
                a->opt);
  return NULL;
}

int
mv_cli_flag (const mv_cli_args *a)
{
  if (!a->inline_val)
    return 0;
  mv_cli_error ("%s: option %.*s takes no value", a->cmd, (int) a->optlen,
                a->opt);
  return MV_EXIT_USAGE;
}

int
mv_cli_unknown (const mv_cli_args *a)
{
  if (a->opt)
    mv_cli_error ("%s: unknown option '%.*s' (see 'moeverify %s --help')",
                  a->cmd, (int) a->optlen, a->opt, a->cmd);
  else
    mv_cli_error ("%s: unexpected argument '%s' (see 'moeverify %s --help')",
                  a->cmd, a->arg, a->cmd);
  return MV_EXIT_USAGE;
}

/* ------------------------------------------------------------ numbers */

int
mv_cli_parse_long (const char *opt, const char *arg, long lo, long hi,
                   long *out)
{
  char *end;
  errno = 0;
  long v = strtol (arg, &end, 10);
  if (!*arg || *end || errno || v < lo || v > hi || arg[0] == ' ')
    {
      mv_cli_error ("%s: expected an integer in %ld..%ld, got '%s'", opt, lo,
                    hi, arg);
      return MV_EXIT_USAGE;
    }
  *out = v;
  return 0;
}

int
mv_cli_parse_ulong (const char *opt, const char *arg, unsigned long lo,
                    unsigned long hi, unsigned long *out)
{
  char *end;
  errno = 0;
  unsigned long v = strtoul (arg, &end, 10);
  /* strtoul accepts "-1" (wrapping); digits only. */
  if (!(arg[0] >= '0' && arg[0] <= '9') || *end || errno || v < lo || v > hi)
    {
      mv_cli_error ("%s: expected an integer in %lu..%lu, got '%s'", opt, lo,
                    hi, arg);
      return MV_EXIT_USAGE;
    }
  *out = v;
  return 0;
}

int
mv_cli_parse_double (const char *opt, const char *arg, double lo, double hi,
                     double *out)
{
  char *end;
  errno = 0;
  double v = strtod (arg, &end);
  /* decimal only: strtod would also take hex, "nan", "inf" */
  if (!*arg || *end || errno == ERANGE || !isfinite (v) || v < lo || v > hi
      || strspn (arg, "0123456789+-.eE") != strlen (arg))
    {
      mv_cli_error ("%s: expected a number in [%g, %g], got '%s'", opt, lo,
                    hi, arg);
      return MV_EXIT_USAGE;
    }
  *out = v;
  return 0;
}

int
mv_cli_parse_prec (const char *opt, const char *arg, mpfr_prec_t *out)
{
  unsigned long v;
  if (mv_cli_parse_ulong (opt, arg, MV_PREC_MIN, MV_PREC_MAX, &v))
    return MV_EXIT_USAGE;
  *out = (mpfr_prec_t) v;
  return 0;
}

/* ------------------------------------------------------------ output */

int
mv_cli_emit_text (const char *text, size_t len, const char *output)
{
  return mv_cli_emit_parts (&text, &len, 1, output);
}

int
mv_cli_emit_parts (const char *const *text, const size_t *len, size_t n,
                   const char *output)
{
  if (output && strcmp (output, "-"))
    {
      if (mv_io_write_atomic_parts (output, text, len, n))
        {
          mv_cli_lib_error ();
          return MV_EXIT_FAIL;
        }
      return MV_EXIT_OK;
    }
  int bad = 0;
  for (size_t i = 0; i < n && !bad; i++)
    bad = fwrite (text[i], 1, len[i], stdout) != len[i];
  if (bad || fflush (stdout))
    {
      mv_cli_error ("<stdout>: write error: %s", strerror (errno));
      return MV_EXIT_FAIL;
    }
  return MV_EXIT_OK;
}

int
mv_cli_emit_json (const json_t *doc, const char *output)
{
  size_t n;
  char *t = mv_cli_json_text (doc, &n);
  if (!t)
    {
      mv_cli_error ("out of memory serialising the output");
      return MV_EXIT_FAIL;
    }
  int rc = mv_cli_emit_text (t, n, output);
  free (t);
  return rc;
}

char *
mv_cli_json_text (const json_t *doc, size_t *len)
{
  char *s = json_dumps (doc, JSON_INDENT (2) | JSON_PRESERVE_ORDER
                        | JSON_REAL_PRECISION (17));
  size_t n = s ? strlen (s) : 0;
  char *t = s ? realloc (s, n + 2) : NULL;
  if (!t)
    {
      free (s);
      return NULL;
    }
  t[n] = '\n';
  t[n + 1] = '\0';
  *len = n + 1;
  return t;
}

json_t *
mv_cli_json_str (char *s)
{
  if (!s)
    return NULL;
  json_t *j = json_string (s);
  free (s);
  return j;
}

json_t *
mv_cli_json_mag (const mv_mag *a)
{
  char buf[48];
  mv_mag_str (buf, sizeof buf, a, 3);
  return json_string (buf);
}

/* Output directories this process created, removed at exit if a failure
 * left them empty (mv_cli_exit). */
static char *made_dirs[8];
static size_t n_made_dirs;

int
mv_cli_prepare_dir (const char *dir)
{
  if (mkdir (dir, 0777) == 0)
    {
      if (n_made_dirs < sizeof made_dirs / sizeof made_dirs[0])
        made_dirs[n_made_dirs++] = strdup (dir);
    }
  else if (errno != EEXIST)
    {
      mv_cli_error ("%s: cannot create output directory: %s", dir, strerror (errno));
      return MV_EXIT_USAGE;
    }
  mv_io_clean_stale (dir);
  char probe[4096];
  snprintf (probe, sizeof probe, "%s/.moeverify-probe-XXXXXX", dir);
  int fd = mkstemp (probe);
  if (fd < 0)
    {
      mv_cli_error ("%s: output directory is not writable: %s", dir, strerror (errno));
      return MV_EXIT_USAGE;
    }
  close (fd);
  unlink (probe);
  return 0;
}

int
mv_cli_exit (int status)
{
  /* a full or closed stdout loses the summary: that is a failure too */
  if ((fflush (stdout) != 0 || ferror (stdout)) && !status)
    {
      mv_cli_error ("<stdout>: write error: %s", strerror (errno ? errno : EIO));
      status = MV_EXIT_FAIL;
    }
  for (size_t i = 0; i < n_made_dirs; i++)
    {
      if (status && made_dirs[i])
        rmdir (made_dirs[i]);     /* only if empty */
      free (made_dirs[i]);
    }
  n_made_dirs = 0;
  return status;
}

static volatile sig_atomic_t mv_cli_interrupted;

static void
on_sigint (int sig)
{
  (void) sig;
  mv_cli_interrupted = 1;
}

/* What timeout(1), job schedulers and a closed terminal send are treated
 * like Ctrl-C: the computed part is kept. */
static const int STOP_SIGNALS[] = { SIGINT, SIGTERM, SIGHUP };

void
mv_cli_on_stop_signals (void (*handler) (int))
{
  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sigemptyset (&sa.sa_mask);
  for (size_t i = 0; i < sizeof STOP_SIGNALS / sizeof STOP_SIGNALS[0]; i++)
    sigaction (STOP_SIGNALS[i], &sa, NULL);
}

volatile sig_atomic_t *
mv_cli_catch_sigint (void)
{
  mv_cli_on_stop_signals (on_sigint);
  return &mv_cli_interrupted;
}

void
mv_cli_flow_progress (void *ctx, double t, double t_end)
{
  mv_io_progress ((const char *) ctx, t / t_end);
}

int
mv_cli_common (mv_cli_args *a, const char **spec, const char *usage)
{
  if (!a->opt)
    {
      if (*spec)
        return mv_cli_unknown (a);
      *spec = a->arg;
      return 1;
    }
  if (mv_cli_is (a, "-h") || mv_cli_is (a, "--help"))
    {
      fputs (usage, stdout);
      return -1;
    }
  return 0;
}

int
mv_cli_unmark_dir (const char *dir, const char *const *markers, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      char path[4096];
      snprintf (path, sizeof path, "%s/%s", dir, markers[i]);
      if (unlink (path) != 0 && errno != ENOENT)
        {
          mv_cli_error ("%s: cannot remove the previous result: %s", path, strerror (errno));
          return MV_EXIT_FAIL;
        }
    }
  return 0;
}

/* --max-memory: < 0 until given (then the default applies), 0 for none */
static double max_memory = -1;

int
mv_cli_memory_opt (mv_cli_args *a)
{
  if (!mv_cli_is (a, "--max-memory"))
    return 0;
  const char *v = mv_cli_value (a);
  if (!v)
    return MV_EXIT_USAGE;
  if (mv_cost_parse (&max_memory, v))
    {
      mv_cli_error ("--max-memory: %s", mv_error_message ());
      return MV_EXIT_USAGE;
    }
  return 1;
}

int
mv_cli_memory_guard (const mv_cost *c, const char *what)
{
  double limit = max_memory >= 0 ? max_memory : mv_cost_default_limit ();
  if (!mv_cost_check (c, limit, what))
    return 0;
  mv_cli_error ("%s; %s", mv_error_message (), max_memory >= 0
                ? "raise --max-memory (or 'none')"
                : "the default is the physical memory; --max-memory SIZE overrides it");
  return MV_EXIT_FAIL;
}

int
mv_cli_exit_of (int status)
{
  switch (status)
    {
    case MV_OK:
      return MV_EXIT_OK;
    case MV_EINVAL: case MV_EPARSE: case MV_EPREC: case MV_EDOM:
      return MV_EXIT_USAGE;
    default:            /* out of memory, i/o, no convergence */
      return MV_EXIT_FAIL;
    }
}

int
mv_cli_read_spec (mv_problem *pb, const char *path)
{
  int s = mv_problem_read (pb, path);
  if (!s)
    return 0;
  mv_cli_lib_error ();
  return s == MV_EIO ? MV_EXIT_USAGE : mv_cli_exit_of (s);
}
