/* moeverify check [CLAIM...] [--quick|--full] [--seeds N] [--report DIR]
 *                 [--jobs N] [--plan] [--strict] [--prune-rule NAME]
 *
 * Runs the claim checks of the table (check.h) in table order, one line per
 * claim on stdout, and writes DIR/report.md and DIR/report.json.  The exit
 * status says whether the exact identities hold; paper claims get a
 * verdict without changing it unless --strict. */
#include "cli.h"

#include <moeverify/moeverify.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_fmt[] =
  "usage: moeverify check [CLAIM...] [--quick|--full] [--seeds N]\n"
  "                       [--report DIR] [--jobs N] [--plan] [--strict]\n"
  "                       [--prune-rule NAME]\n"
  "  Checks the claims (all by default, in report order) and writes\n"
  "  DIR/report.md and DIR/report.json (DIR default check-report): per claim\n"
  "  statement, provenance, method, measurements with bounds and margins,\n"
  "  verdict and plots.\n"
  "  --quick        all claims in under 2 minutes on two cores\n"
  "  --full         the full scans (under 30 minutes on two cores)\n"
  "                 (default: between the two)\n"
  "  --seeds N      student seeds per setting (default: the level's)\n"
  "  --report DIR   report directory (created if missing)\n"
  "  --jobs N       worker processes for the claims' parameter scans\n"
  "                 (default: the online cores, here %ld).  Each scan is a\n"
  "                 sweep run into DIR/scans/NAME/ as `moeverify sweep` runs\n"
  "                 it; a scan directory with the same sweep.json is resumed\n"
  "  --plan         write the scans' sweep files and print the commands that\n"
  "                 run them (e.g. with mpirun on a cluster) instead of\n"
  "                 running them; no report.  Run the same check again\n"
  "                 without --plan afterwards: it reads the finished rows\n"
  "  --strict       every claim must hold, not only the exact identities\n"
  "  --prune-rule NAME  claim prune: only this pruning rule (default: every\n"
  "                 rule, the first deciding the verdict; --quick: the first)\n"
  "  exit status: 0 every exact identity holds (with --strict: every claim\n"
  "  holds); 1 an exact identity fails (with --strict: a claim does not\n"
  "  hold), a check could not run, or the report could not be written;\n"
  "  2 usage error (e.g. an unknown claim).\n";

/* text word-wrapped to 78 columns, continuation lines indented by ind. */
static void
print_wrapped (const char *text, size_t col, size_t ind)
{
  while (*text)
    {
      size_t w = strcspn (text, " ");
      if (col > ind && col + 1 + w > 78)
        printf ("\n%*s", (int) ind, ""), col = ind;
      else if (col > ind)
        putchar (' '), col++;
      printf ("%.*s", (int) w, text);
      col += w, text += w;
      text += *text == ' ';
    }
  putchar ('\n');
}

/* The usage text, with the pruning rules listed from their table. */
static void
print_usage (void)
{
  printf (usage_fmt, sysconf (_SC_NPROCESSORS_ONLN));
  fputs ("  pruning rules (claim prune; the first is the default):\n", stdout);
  for (size_t i = 0; mv_prune_rule_get (i); i++)
    {
      printf ("    %-10s ", mv_prune_rule_get (i)->name);
      print_wrapped (mv_prune_rule_get (i)->description, 15, 15);
    }
}

static const char *const verdict_words[] = { "HOLDS", "RANGE", "FAILS", "ERROR" };

static void
progress_cb (void *ctx, const char *what, double fraction)
{
  char label[96];
  snprintf (label, sizeof label, "%s: %s", (const char *) ctx, what ? what : "");
  mv_io_progress (label, fraction);
}

/* "identities, mc-path, ..." from the table, for the unknown-claim error. */
static void
claim_names (char *buf, size_t size)
{
  size_t len = 0;
  buf[0] = '\0';
  for (size_t i = 0; mv_check_type_get (i) && len < size; i++)
    len += (size_t) snprintf (buf + len, size - len, "%s%s", i ? ", " : "",
                              mv_check_type_get (i)->name);
}

/* "combined, expert, ..." from the rule table, for the unknown-rule error. */
static void
rule_names (char *buf, size_t size)
{
  size_t len = 0;
  buf[0] = '\0';
  for (size_t i = 0; mv_prune_rule_get (i) && len < size; i++)
    len += (size_t) snprintf (buf + len, size - len, "%s%s", i ? ", " : "",
                              mv_prune_rule_get (i)->name);
}

/* Parse the options; selected[i] marks table entry i.  0, -1 (usage
 * printed) or an exit status. */
static int
parse (int argc, char **argv, mv_check_opts *o, mv_check_scan_ctx *sc, int *strict,
       char *selected, size_t ntypes)
{
  mv_cli_args a;
  mv_cli_args_init (&a, argc, argv);
  const char *v;
  while (mv_cli_next (&a))
    {
      if (!a.opt)
        {
          const mv_check_type *t = mv_check_find (a.arg);
          if (!t)
            {
              char names[512];
              claim_names (names, sizeof names);
              mv_cli_error ("check: unknown claim '%s' (claims: %s)", a.arg, names);
              return MV_EXIT_USAGE;
            }
          for (size_t i = 0; i < ntypes; i++)
            if (mv_check_type_get (i) == t)
              selected[i] = 1;
        }
      else if (mv_cli_is (&a, "-h") || mv_cli_is (&a, "--help"))
        {
          print_usage ();
          return -1;
        }
      else if (mv_cli_is (&a, "--jobs") || mv_cli_is (&a, "-j"))
        {
          unsigned long n;
          if (!(v = mv_cli_value (&a)) || mv_cli_parse_ulong ("--jobs", v, 1, 4096, &n))
            return MV_EXIT_USAGE;
          sc->jobs = (unsigned) n;
        }
      else if (mv_cli_is (&a, "--plan"))
        {
          if (mv_cli_flag (&a))
            return MV_EXIT_USAGE;
          sc->plan = 1;
        }
      else if (mv_cli_is (&a, "--quick") || mv_cli_is (&a, "--full"))
        {
          if (mv_cli_flag (&a))
            return MV_EXIT_USAGE;
          o->level = mv_cli_is (&a, "--quick") ? MV_CHECK_QUICK : MV_CHECK_FULL;
        }
      else if (mv_cli_is (&a, "--strict"))
        {
          if (mv_cli_flag (&a))
            return MV_EXIT_USAGE;
          *strict = 1;
        }
      else if (mv_cli_is (&a, "--seeds"))
        {
          unsigned long n;
          if (!(v = mv_cli_value (&a)) || mv_cli_parse_ulong ("--seeds", v, 1, 100000, &n))
            return MV_EXIT_USAGE;
          o->seeds = (unsigned) n;
        }
      else if (mv_cli_is (&a, "--prune-rule"))
        {
          if (!(v = mv_cli_value (&a)))
            return MV_EXIT_USAGE;
          if (!mv_prune_rule_find (v))
            {
              char names[256];
              rule_names (names, sizeof names);
              mv_cli_error ("check: unknown pruning rule '%s' (rules: %s)", v, names);
              return MV_EXIT_USAGE;
            }
          o->prune_rule = v;
        }
      else if (mv_cli_is (&a, "--report"))
        {
          if (!(v = mv_cli_value (&a)))
            return MV_EXIT_USAGE;
          o->dir = v;
        }
      else
        return mv_cli_unknown (&a);
    }
  return 0;
}

/* The claim's line on stdout: verdict, key measurement, wall time. */
static void
print_line (const mv_check_result *r)
{
  printf ("%-12s %-5s", r->type->name, verdict_words[r->verdict]);
  if (r->nm)
    printf ("  %s = %.4g (bound %.3g, margin %.3g)", r->m[0].name,
            r->m[0].value, r->m[0].bound, r->m[0].margin);
  printf ("  [%.1f s]\n", r->wall_seconds);
  if (r->verdict == MV_CHECK_ERROR && r->verdict_text)
    printf ("  %s\n", r->verdict_text);
  fflush (stdout);
}

int
mv_cmd_check (int argc, char **argv)
{
  size_t ntypes = 0;
  while (mv_check_type_get (ntypes))
    ntypes++;
  char *selected = calloc (ntypes + 1, 1);
  mv_check_result *res = calloc (ntypes + 1, sizeof *res);
  if (!selected || !res)
    {
      free (selected), free (res);
      mv_cli_error ("check: out of memory");
      return MV_EXIT_FAIL;
    }
  mv_check_opts o = { .level = MV_CHECK_DEFAULT, .seeds = 0, .dir = "check-report" };
  long cores = sysconf (_SC_NPROCESSORS_ONLN);
  mv_check_scan_ctx sc = { NULL, cores > 0 ? (unsigned) cores : 1, 0, 0 };
  int strict = 0, st = parse (argc, argv, &o, &sc, &strict, selected, ntypes);
  sc.dir = o.dir;
  o.scan = mv_cli_check_scan, o.scan_ctx = &sc;
  static const char *const report[] = { "report.json", "report.md" };
  if (!st && !mv_cli_parse_only)
    st = mv_cli_prepare_dir (o.dir);
  if (!st && mv_cli_parse_only)
    st = -1;
  if (!st && !sc.plan)
    st = mv_cli_unmark_dir (o.dir, report, 2);
  if (st)
    {
      free (selected), free (res);
      return st < 0 ? MV_EXIT_OK : st;
    }
  int any = 0;
  for (size_t i = 0; i < ntypes; i++)
    any |= selected[i];
  size_t n = 0;
  int exact_ok = 1, all_ok = 1, errors = 0;
  for (size_t i = 0; i < ntypes; i++)
    {
      if (any && !selected[i])
        continue;
      const mv_check_type *t = mv_check_type_get (i);
      if (mv_io_progress_enabled ())
        o.progress = progress_cb, o.progress_ctx = (void *) t->name;
      mv_check_run (&res[n], t, &o);
      mv_io_progress_done ();
      if (!sc.plan)
        print_line (&res[n]);
      if (res[n].verdict != MV_CHECK_HOLDS)
        {
          all_ok = 0;
          exact_ok &= !t->exact;
          errors += res[n].verdict == MV_CHECK_ERROR;
        }
      n++;
    }
  mv_check_release ();
  int ws = sc.plan ? 0 : mv_check_report_write (res, n, &o);
  if (ws)
    mv_cli_lib_error ();
  else if (sc.plan)
    printf ("plan: %zu scans written under %s/scans (the verdicts above are not results); "
            "run them, then this command without --plan\n", sc.planned, o.dir);
  else
    printf ("report: %s/report.md, %s/report.json\n", o.dir, o.dir);
  for (size_t i = 0; i < n; i++)
    mv_check_result_clear (&res[i]);
  free (selected), free (res);
  int ok = sc.plan || (!ws && !errors && exact_ok && (!strict || all_ok));
  return ok ? MV_EXIT_OK : MV_EXIT_FAIL;
}
