/* moeverify coeffs [--kmax K] [--prec BITS] [--verify] [--all] [--json]
 *                  [-o FILE]
 *
 * Hermite coefficients c_k = E[pi(z) He_k(z)] of the logistic sigmoid by
 * the Fourier method, each with the digits its error bound certifies;
 * --verify recomputes them by the direct method and reports agreement. */
#include "cli.h"
#include "base/mpfr_vec.h"
#include "base/textbuf.h"

#include <moeverify/error.h>
#include <moeverify/hermite.h>
#include <moeverify/io.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MV_COEFFS_DEFAULT_KMAX 21
#define MV_COEFFS_DEFAULT_PREC 128
#define MV_COEFFS_KMAX_LIMIT 100000

static const char usage[] =
  "usage: moeverify coeffs [--kmax K] [--prec BITS] [--verify] [--all] "
  "[--json] [-o FILE]\n"
  "  Sigmoid Hermite coefficients c_k = E[pi(z) He_k(z)], k = 0..K, by the\n"
  "  Fourier method, printed with the digits their error bound certifies.\n"
  "  --kmax K      largest k (default 21)\n"
  "  --prec BITS   MPFR precision, " MV_XSTR (MV_PREC_MIN) ".." MV_XSTR (MV_PREC_MAX) " (default 128)\n"
  "  --verify      recompute by the direct method; report agreeing digits\n"
  "                (exit 1 if the two differ beyond their error bounds)\n"
  "  --all         include the even k >= 2 (exactly zero)\n"
  "  --json        JSON array instead of a text table\n"
  "  -o, --output FILE  write atomically to FILE instead of stdout\n";

typedef struct {
  unsigned long kmax;
  mpfr_prec_t prec;
  int verify, all, json;
  const char *output;
} coeffs_opts;

static int
parse_opts (coeffs_opts *o, int argc, char **argv)
{
  mv_cli_args a;
  const char *v;
  memset (o, 0, sizeof *o);
  o->kmax = MV_COEFFS_DEFAULT_KMAX;
  o->prec = MV_COEFFS_DEFAULT_PREC;
  mv_cli_args_init (&a, argc, argv);
  while (mv_cli_next (&a))
    {
      if (mv_cli_is (&a, "-h") || mv_cli_is (&a, "--help"))
        {
          fputs (usage, stdout);
          return -1;
        }
      else if (mv_cli_is (&a, "--kmax"))
        {
          if (!(v = mv_cli_value (&a))
              || mv_cli_parse_ulong ("--kmax", v, 0, MV_COEFFS_KMAX_LIMIT,
                                     &o->kmax))
            return MV_EXIT_USAGE;
        }
      else if (mv_cli_is (&a, "--prec"))
        {
          if (!(v = mv_cli_value (&a)) || mv_cli_parse_prec ("--prec", v,
                                                            &o->prec))
            return MV_EXIT_USAGE;
        }
      else if (mv_cli_is (&a, "--verify") || mv_cli_is (&a, "--all")
               || mv_cli_is (&a, "--json"))
        {
          if (mv_cli_flag (&a))
            return MV_EXIT_USAGE;
          int *flag = mv_cli_is (&a, "--verify") ? &o->verify
            : mv_cli_is (&a, "--all") ? &o->all : &o->json;
          *flag = 1;
        }
      else if (mv_cli_is (&a, "-o") || mv_cli_is (&a, "--output"))
        {
          if (!(o->output = mv_cli_value (&a)))
            return MV_EXIT_USAGE;
        }
      else
        return mv_cli_unknown (&a);
    }
  return 0;
}

/* Comparison of the two methods at one k. */
typedef struct {
  int agree;       /* significant digits on which they agree */
  int consistent;  /* |a - b| within the two claimed error bounds */
} cmp_result;

static cmp_result
compare (const mpfr_t a, const mv_mag *ra, const mpfr_t b, const mv_mag *rb,
         mpfr_prec_t prec)
{
  cmp_result res;
  int cap = 1 + (int) floor ((double) (prec - 1) * 0.30102999566398119521);
  mpfr_t diff, scale, bound;
  mpfr_t r;
  mpfr_inits2 (64, diff, scale, bound, r, (mpfr_ptr) 0);
  mpfr_sub (diff, a, b, MPFR_RNDA);
  mpfr_abs (diff, diff, MPFR_RNDN);
  /* bound = |a| ra + |b| rb, rounded up, plus a 1e-9 relative slack for the
   * roundings of this comparison itself */
  mpfr_abs (bound, a, MPFR_RNDU);
  mv_mag_get_mpfr (r, ra);
  mpfr_mul (bound, bound, r, MPFR_RNDU);
  mpfr_abs (scale, b, MPFR_RNDU);
  mv_mag_get_mpfr (r, rb);
  mpfr_mul (scale, scale, r, MPFR_RNDU);
  mpfr_add (bound, bound, scale, MPFR_RNDU);
  mpfr_mul_d (bound, bound, 1 + 1e-9, MPFR_RNDU);
  res.consistent = mpfr_cmp (diff, bound) <= 0;
  if (mpfr_zero_p (diff))
    res.agree = cap;
  else
    {
      mpfr_abs (scale, mpfr_cmpabs (a, b) >= 0 ? a : b, MPFR_RNDN);
      mpfr_div (diff, diff, scale, MPFR_RNDU);
      mpfr_log10 (diff, diff, MPFR_RNDU);
      double g = -mpfr_get_d (diff, MPFR_RNDU);
      res.agree = g < 0 ? 0 : g > cap ? cap : (int) floor (g);
    }
  mpfr_clears (diff, scale, bound, r, (mpfr_ptr) 0);
  return res;
}

/* One run: the tables, the output being built, the inconsistent k. */
typedef struct {
  coeffs_opts o;
  unsigned K;
  mv_hermite_table *t;
  mpfr_t *cd;          /* direct method (--verify) */
  mv_mag *rd;
  json_t *doc;         /* --json */
  mv_textbuf tb;       /* text table */
  char bad_ks[256];
  int nbad;
} coeffs_run;

/* Tables (and the direct method's values); the text header.  Prints the
 * error itself; 0 or MV_EXIT_FAIL. */
static int
run_setup (coeffs_run *r)
{
  const coeffs_opts *o = &r->o;
  if (!(r->t = mv_hermite_table_alloc (r->K, o->prec)))
    return mv_cli_lib_error (), MV_EXIT_FAIL;
  if (o->verify)
    {
      if (!(r->cd = mv_mpfr_vec_new (r->K + 1, o->prec))
          || !(r->rd = malloc ((r->K + 1) * sizeof *r->rd)))
        return mv_cli_error ("coeffs: out of memory"), MV_EXIT_FAIL;
      if (mv_hermite_coeffs_direct (r->cd, r->rd, r->K))
        return mv_cli_lib_error (), MV_EXIT_FAIL;
    }
  if (o->json)
    return (r->doc = json_array ()) ? 0
      : (mv_cli_error ("coeffs: out of memory"), MV_EXIT_FAIL);
  mv_textbuf_printf (&r->tb, "# c_k = E[pi(z) He_k(z)], Fourier method, %ld bits%s\n",
                     (long) o->prec, o->verify ? ", verified by the direct method" : "");
  if (o->verify)
    mv_textbuf_printf (&r->tb, "# %4s  %6s  %5s  %-5s  %s\n", "k", "digits", "agree",
                       "check", "c_k");
  else
    mv_textbuf_printf (&r->tb, "# %4s  %6s  %s\n", "k", "digits", "c_k");
  return 0;
}

static json_t *
row_json (const coeffs_run *r, unsigned k, const char *cs, long dg, cmp_result cr)
{
  json_t *e = json_pack ("{s:I, s:s, s:I, s:o}", "k", (json_int_t) k, "c", cs,
                         "digits", (json_int_t) dg, "relerr",
                         mv_cli_json_mag (&r->t->relerr[k]));
  if (!e || !r->o.verify)
    return e;
  long ddg = mv_hermite_coeff_digits (r->cd[k], &r->rd[k]);
  json_t *ds = mv_cli_json_str (mv_io_mpfr_str (r->cd[k], ddg > 1 ? (int) ddg : 1));
  if (!ds || json_object_set_new (e, "direct", ds)
      || json_object_set_new (e, "direct_digits", json_integer (ddg))
      || json_object_set_new (e, "agree_digits", json_integer (cr.agree))
      || json_object_set_new (e, "consistent", json_boolean (cr.consistent)))
    {
      json_decref (e);
      return NULL;
    }
  return e;
}

/* One coefficient into the output; -1 when out of memory. */
static int
run_row (coeffs_run *r, unsigned k)
{
  const mv_hermite_table *t = r->t;
  long dg = mv_hermite_coeff_digits (t->c[k], &t->relerr[k]);
  char *cs = mv_io_mpfr_str (t->c[k], dg > 1 ? (int) dg : 1);
  if (!cs)
    return -1;
  cmp_result cr = { 0, 1 };
  if (r->o.verify)
    {
      cr = compare (t->c[k], &t->relerr[k], r->cd[k], &r->rd[k], r->o.prec);
      size_t l = strlen (r->bad_ks);
      if (!cr.consistent && r->nbad++ < 8)
        snprintf (r->bad_ks + l, sizeof r->bad_ks - l, "%s%u", l ? ", " : "", k);
    }
  int bad = 0;
  if (r->o.json)
    {
      json_t *e = row_json (r, k, cs, dg, cr);
      bad = !e || json_array_append_new (r->doc, e);
    }
  else if (r->o.verify)
    mv_textbuf_printf (&r->tb, "%6u  %6ld  %5d  %-5s  %s\n", k, dg, cr.agree,
                       cr.consistent ? "ok" : "FAIL", cs);
  else
    mv_textbuf_printf (&r->tb, "%6u  %6ld  %s\n", k, dg, cs);
  free (cs);
  return bad || !mv_textbuf_ok (&r->tb) ? -1 : 0;
}

static void
run_clear (coeffs_run *r)
{
  json_decref (r->doc);
  mv_textbuf_clear (&r->tb);
  mv_mpfr_vec_free (r->cd, r->cd ? r->K + 1 : 0);
  free (r->rd);
  mv_hermite_table_free (r->t);
}

int
mv_cmd_coeffs (int argc, char **argv)
{
  coeffs_run r;
  memset (&r, 0, sizeof r);
  int rc = parse_opts (&r.o, argc, argv);
  if (rc || mv_cli_parse_only)
    return rc < 0 ? MV_EXIT_OK : rc;
  r.K = (unsigned) r.o.kmax;
  mv_textbuf_init (&r.tb);
  rc = run_setup (&r);
  for (unsigned k = 0; !rc && k <= r.K; k++)
    if ((r.o.all || k < 2 || k % 2 == 1) && run_row (&r, k))
      {
        mv_cli_error ("coeffs: out of memory");
        rc = MV_EXIT_FAIL;
      }
  if (!rc)
    rc = r.o.json ? mv_cli_emit_json (r.doc, r.o.output)
      : mv_cli_emit_text (r.tb.s, r.tb.len, r.o.output);
  if (rc == MV_EXIT_OK && r.nbad)
    {
      mv_cli_error ("coeffs: Fourier and direct methods differ beyond their "
                    "error bounds at k = %s%s", r.bad_ks, r.nbad > 8 ? ", ..." : "");
      rc = MV_EXIT_FAIL;
    }
  run_clear (&r);
  return rc;
}
