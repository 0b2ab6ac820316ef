/* moeverify regress FILE... [--tap] [--junit OUT]
 *
 * For a downstream CI: recompute every reference file's trajectory with
 * the fast path, compare every value within the file's tolerances, print
 * the worst deviations, and exit non-zero on any violation or bad file. */
#include "cli.h"
#include "base/io_priv.h"

#include <moeverify/moeverify.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
  "usage: moeverify regress FILE... [--tap] [--junit OUT]\n"
  "       moeverify regress --make RECIPE.json -o OUT\n"
  "       moeverify regress FILE... --tolerance-table\n"
  "  Checks reference trajectories (data/reference/*.json, format\n"
  "  " MV_REGRESS_FORMAT "): recomputes each with its fast path (the stored\n"
  "  stepper, rtol, atol) at the stored times and compares the loss,\n"
  "  |grad L|^2 and every Gram entry within the stored tolerances\n"
  "  (|computed - reference| <= abs + rel |reference|).  Prints per file the\n"
  "  values compared, the violations and the worst deviations.\n"
  "  --tap        TAP output instead (one test per file; for prove)\n"
  "  --junit OUT  also write a JUnit XML report to OUT\n"
  "  --tolerance-table  what the fast path achieves: for rtol 1e-6 .. 1e-12\n"
  "               (atol = rtol / 100) the largest deviation from each\n"
  "               reference, per group (loss and |grad L|^2 relative, Gram\n"
  "               entries absolute)\n"
  "  --make RECIPE  write the reference file of a recipe (data/reference/\n"
  "               recipes/*.json: spec, gram0, times, prec, tol, fast path,\n"
  "               tolerances) to OUT: the digits on which MPFR reference runs\n"
  "               at (prec, tol) and (2 prec, tol^2) agree\n"
  "  exit status: 0 every value within tolerance; 1 a violation, or a file\n"
  "  that is missing, damaged (checksum) or malformed (one line naming the\n"
  "  file and the key); 2 usage error.\n";

typedef struct {
  const char *file;
  int ok;                 /* parsed, computed, no violation */
  char msg[8192];         /* the error (a whole path fits), or the summary */
  mv_regress_result res;
} file_result;

/* "quantity at t = T: reference R, computed C, |dev| D > tol" */
static void
describe (char *buf, size_t len, const mv_regress_file *r, const mv_regress_dev *d)
{
  snprintf (buf, len, "%s at t = %.17g: reference %.17g, computed %.17g, |dev| %.3g %s tol %.3g",
            mv_regress_column (r, d->col), d->t, d->ref, d->got, d->dev,
            d->dev <= d->tol ? "<=" : ">", d->tol);
}

static void
run_file (file_result *f)
{
  size_t len;
  char *text;
  mv_regress_file *r = NULL;
  int s = mv_io_read_json (&text, &len, f->file, MV_IO_SMALL_JSON_MAX);
  if (!s)
    s = mv_regress_parse (&r, text, f->file);
  free (text);
  if (!s)
    s = mv_regress_check (&f->res, r);
  if (s)
    {
      snprintf (f->msg, sizeof f->msg, "%s", mv_error_message ());
      mv_regress_free (r);
      return;
    }
  f->ok = f->res.nviolations == 0;
  char worst[512] = "no values";
  if (f->res.nworst)
    describe (worst, sizeof worst, r, &f->res.worst[0]);
  snprintf (f->msg, sizeof f->msg, "%s: %zu values, %zu outside tolerance; worst %s", f->file,
            f->res.nvalues, f->res.nviolations, worst);
  mv_regress_free (r);
}

/* The table: per file its summary and up to three worst deviations. */
static void
print_table (const file_result *f, size_t n)
{
  printf ("%-40s %8s %6s %10s %8s\n", "reference", "values", "bad", "worst", "time");
  for (size_t k = 0; k < n; k++)
    {
      const mv_regress_result *r = &f[k].res;
      if (!r->nvalues)
        {
          printf ("%-40s  ERROR  %s\n", f[k].file, f[k].msg);
          continue;
        }
      const mv_regress_dev *w = &r->worst[0];
      printf ("%-40s %8zu %6zu %10.3g %7.2fs\n", f[k].file, r->nvalues, r->nviolations,
              w->tol > 0 ? w->dev / w->tol : w->dev, r->wall_seconds);
      for (size_t i = 0; i < r->nworst && i < 3; i++)
        {
          const mv_regress_dev *d = &r->worst[i];
          printf ("    %-5s t = %-10.6g col %-4zu ref %-24.17g got %-24.17g |dev| %.3g / tol %.3g\n",
                  d->dev <= d->tol ? "ok" : "FAIL", d->t, d->col, d->ref, d->got, d->dev, d->tol);
        }
    }
}

static void
print_tap (const file_result *f, size_t n)
{
  printf ("1..%zu\n", n);
  for (size_t k = 0; k < n; k++)
    printf ("%s %zu - %s\n", f[k].ok ? "ok" : "not ok", k + 1, f[k].msg);
}

/* XML-escaped s into out. */
static void
xml_text (FILE *out, const char *s)
{
  for (; *s; s++)
    switch (*s)
      {
      case '<': fputs ("&lt;", out); break;
      case '>': fputs ("&gt;", out); break;
      case '&': fputs ("&amp;", out); break;
      case '"': fputs ("&quot;", out); break;
      default: fputc (*s, out);
      }
}

static int
write_junit (const char *path, const file_result *f, size_t n, size_t failures)
{
  char tmp[4096];
  snprintf (tmp, sizeof tmp, "%s.tmp", path);
  FILE *out = fopen (tmp, "w");
  if (!out)
    {
      mv_cli_error ("%s: cannot write", path);
      return MV_EXIT_FAIL;
    }
  fprintf (out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"moeverify "
           "regress\" tests=\"%zu\" failures=\"%zu\">\n", n, failures);
  for (size_t k = 0; k < n; k++)
    {
      fputs ("  <testcase classname=\"moeverify.regress\" name=\"", out);
      xml_text (out, f[k].file);
      fprintf (out, "\" time=\"%.3f\">", f[k].res.wall_seconds);
      if (!f[k].ok)
        {
          fputs ("<failure message=\"", out);
          xml_text (out, f[k].msg);
          fputs ("\"/>", out);
        }
      fputs ("</testcase>\n", out);
    }
  fputs ("</testsuite>\n", out);
  if (fclose (out) || rename (tmp, path))
    {
      remove (tmp);
      mv_cli_error ("%s: cannot write", path);
      return MV_EXIT_FAIL;
    }
  return 0;
}

/* Achieved against requested: the worst deviation per group over rtol. */
static int
tolerance_table (const file_result *f, size_t n)
{
  static const double RT[] = { 1e-6, 1e-8, 1e-10, 1e-12 };
  printf ("%-40s %8s %14s %14s %14s\n", "reference", "rtol", "loss (rel)", "grad2 (rel)",
          "gram (abs)");
  int rc = 0;
  for (size_t k = 0; k < n; k++)
    {
      size_t len;
      char *text;
      mv_regress_file *r = NULL;
      int s = mv_io_read_json (&text, &len, f[k].file, MV_IO_SMALL_JSON_MAX);
      if (!s)
        s = mv_regress_parse (&r, text, f[k].file);
      free (text);
      for (size_t i = 0; !s && i < sizeof RT / sizeof RT[0]; i++)
        {
          mv_regress_result res;
          if ((s = mv_regress_check_tol (&res, r, RT[i], RT[i] / 100)))
            break;
          const mv_regress_dev *w = res.worst_group;
          double rl = w[0].dev / fmax (fabs (w[0].ref), 1e-300);
          double rg = w[1].dev / fmax (fabs (w[1].ref), 1e-300);
          printf ("%-40s %8.0e %14.3g %14.3g %14.3g\n", f[k].file, RT[i], rl, rg,
                  w[MV_REGRESS_GRAM].dev);
        }
      if (s)
        mv_cli_lib_error (), rc = MV_EXIT_FAIL;
      mv_regress_free (r);
    }
  return rc;
}

int
mv_cmd_regress (int argc, char **argv)
{
  mv_cli_args a;
  mv_cli_args_init (&a, argc, argv);
  const char *junit = NULL, *make = NULL, *out = NULL;
  int tap = 0, table = 0;
  file_result *f = calloc ((size_t) argc + 1, sizeof *f);
  size_t n = 0;
  if (!f)
    return mv_cli_error ("regress: out of memory"), MV_EXIT_FAIL;
  while (mv_cli_next (&a))
    {
      int bad = 0;
      if (!a.opt)
        f[n++].file = a.arg;
      else if (mv_cli_is (&a, "-h") || mv_cli_is (&a, "--help"))
        return fputs (usage, stdout), free (f), MV_EXIT_OK;
      else if (mv_cli_is (&a, "--tap"))
        bad = mv_cli_flag (&a), tap = 1;
      else if (mv_cli_is (&a, "--tolerance-table"))
        bad = mv_cli_flag (&a), table = 1;
      else if (mv_cli_is (&a, "--junit"))
        bad = !(junit = mv_cli_value (&a));
      else if (mv_cli_is (&a, "--make"))
        bad = !(make = mv_cli_value (&a));
      else if (mv_cli_is (&a, "-o") || mv_cli_is (&a, "--out"))
        bad = !(out = mv_cli_value (&a));
      else
        bad = mv_cli_unknown (&a) != 0;
      if (bad)
        return free (f), MV_EXIT_USAGE;
    }
  if (mv_cli_parse_only)
    return free (f), MV_EXIT_OK;
  if (make || out)
    {
      free (f);
      if (!make || !out || n)
        return mv_cli_error ("regress: --make RECIPE needs -o OUT and no reference files"),
          MV_EXIT_USAGE;
      return mv_cli_regress_make (make, out);
    }
  if (!n)
    return mv_cli_error ("regress: no reference files (see moeverify regress --help)"), free (f),
      MV_EXIT_USAGE;
  if (table)
    {
      int rc = tolerance_table (f, n);
      free (f);
      return rc;
    }
  size_t failures = 0;
  for (size_t k = 0; k < n; k++)
    {
      run_file (&f[k]);
      failures += !f[k].ok;
      if (!f[k].ok && !tap)   /* the one-line message, on stderr too */
        mv_cli_error ("%s", f[k].msg);
    }
  tap ? print_tap (f, n) : print_table (f, n);
  int rc = junit ? write_junit (junit, f, n, failures) : 0;
  if (!tap)
    printf ("regress: %zu files, %zu failed\n", n, failures);
  free (f);
  return rc ? rc : failures ? MV_EXIT_FAIL : MV_EXIT_OK;
}
