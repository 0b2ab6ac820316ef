/* moeverify coeffs [--kmax K] [--prec BITS] [--verify] [--all] [--json]
 *                  [-o FILE]
 *
 * Hermite coefficients c_k = E[pi(z) He_k(z)] of the logistic sigmoid by
 * the Fourier method, each with the digits its error bound certifies;
 * --verify recomputes them by the direct method and reports agreement. */
#include "cli.h"

#include <moeverify/error.h>
#include <moeverify/hermite.h>
#include <moeverify/io.h>

#include <math.h>
#include <stdarg.h>
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

/* Growable text buffer for the table (written only once complete). */
typedef struct {
  char *s;
  size_t len, cap;
  int oom;
} tbuf;

static void
tb_printf (tbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__ ((format (printf, 2, 3)))
#endif
  ;

static void
tb_printf (tbuf *b, const char *fmt, ...)
{
  if (b->oom)
    return;
  va_list ap;
  va_start (ap, fmt);
  int n = vsnprintf (NULL, 0, fmt, ap);
  va_end (ap);
  size_t need = b->len + (size_t) (n > 0 ? n : 0) + 1;
  if (n < 0)
    {
      b->oom = 1;
      return;
    }
  if (need > b->cap)
    {
      char *t = realloc (b->s, 2 * need);
      if (!t)
        {
          b->oom = 1;
          return;
        }
      b->s = t;
      b->cap = 2 * need;
    }
  va_start (ap, fmt);
  vsnprintf (b->s + b->len, b->cap - b->len, fmt, ap);
  va_end (ap);
  b->len += (size_t) n;
}

static mpfr_t *
mp_array (size_t n, mpfr_prec_t prec)
{
  mpfr_t *a = malloc (n * sizeof *a);
  if (a)
    for (size_t i = 0; i < n; i++)
      mpfr_init2 (a[i], prec);
  return a;
}

int
mv_cmd_coeffs (int argc, char **argv)
{
  coeffs_opts o;
  int rc = parse_opts (&o, argc, argv);
  if (rc)
    return rc < 0 ? MV_EXIT_OK : rc;

  unsigned K = (unsigned) o.kmax;
  mpfr_t *cd = NULL;
  mv_mag *rd = NULL;
  json_t *doc = NULL;
  tbuf tb = { 0 };
  char bad_ks[256] = "";
  int nbad = 0;
  rc = MV_EXIT_FAIL;

  mv_hermite_table *t = mv_hermite_table_alloc (K, o.prec);
  if (!t)
    {
      mv_cli_lib_error ();
      goto done;
    }
  if (o.verify)
    {
      if (!(cd = mp_array (K + 1, o.prec)) || !(rd = malloc ((K + 1)
                                                            * sizeof *rd)))
        {
          mv_cli_error ("coeffs: out of memory");
          goto done;
        }
      if (mv_hermite_coeffs_direct (cd, rd, K))
        {
          mv_cli_lib_error ();
          goto done;
        }
    }

  if (o.json && !(doc = json_array ()))
    goto oom;
  if (!o.json)
    {
      tb_printf (&tb, "# c_k = E[pi(z) He_k(z)], Fourier method, %ld bits%s\n",
                 (long) o.prec, o.verify ? ", verified by the direct method"
                 : "");
      if (o.verify)
        tb_printf (&tb, "# %4s  %6s  %5s  %-5s  %s\n", "k", "digits",
                   "agree", "check", "c_k");
      else
        tb_printf (&tb, "# %4s  %6s  %s\n", "k", "digits", "c_k");
    }
  for (unsigned k = 0; k <= K; k++)
    {
      if (!o.all && k >= 2 && k % 2 == 0)
        continue;
      long dg = mv_hermite_coeff_digits (t->c[k], &t->relerr[k]);
      char *cs = mv_io_mpfr_str (t->c[k], dg > 1 ? (int) dg : 1);
      if (!cs)
        goto oom;
      cmp_result cr = { 0, 1 };
      if (o.verify)
        {
          cr = compare (t->c[k], &t->relerr[k], cd[k], &rd[k], o.prec);
          if (!cr.consistent)
            {
              size_t l = strlen (bad_ks);
              if (nbad++ < 8)
                snprintf (bad_ks + l, sizeof bad_ks - l, "%s%u",
                          l ? ", " : "", k);
            }
        }
      if (o.json)
        {
          json_t *e = json_pack ("{s:I, s:s, s:I, s:o}", "k", (json_int_t) k,
                                 "c", cs, "digits", (json_int_t) dg, "relerr",
                                 mv_cli_json_mag (&t->relerr[k]));
          if (e && o.verify)
            {
              long ddg = mv_hermite_coeff_digits (cd[k], &rd[k]);
              json_t *ds = mv_cli_json_str (mv_io_mpfr_str
                                            (cd[k], ddg > 1 ? (int) ddg : 1));
              if (!ds || json_object_set_new (e, "direct", ds)
                  || json_object_set_new (e, "direct_digits",
                                          json_integer (ddg))
                  || json_object_set_new (e, "agree_digits",
                                          json_integer (cr.agree))
                  || json_object_set_new (e, "consistent",
                                          json_boolean (cr.consistent)))
                {
                  json_decref (e);
                  e = NULL;
                }
            }
          free (cs);
          if (!e || json_array_append_new (doc, e))
            goto oom;
        }
      else
        {
          if (o.verify)
            tb_printf (&tb, "%6u  %6ld  %5d  %-5s  %s\n", k, dg, cr.agree,
                       cr.consistent ? "ok" : "FAIL", cs);
          else
            tb_printf (&tb, "%6u  %6ld  %s\n", k, dg, cs);
          free (cs);
          if (tb.oom)
            goto oom;
        }
    }
  rc = o.json ? mv_cli_emit_json (doc, o.output)
    : mv_cli_emit_text (tb.s, tb.len, o.output);
  if (rc == MV_EXIT_OK && nbad)
    {
      mv_cli_error ("coeffs: Fourier and direct methods differ beyond their "
                    "error bounds at k = %s%s", bad_ks, nbad > 8 ? ", ..." : "");
      rc = MV_EXIT_FAIL;
    }
  goto done;
oom:
  mv_cli_error ("coeffs: out of memory");
  rc = MV_EXIT_FAIL;
done:
  json_decref (doc);
  free (tb.s);
  if (cd)
    for (unsigned k = 0; k <= K; k++)
      mpfr_clear (cd[k]);
  free (cd);
  free (rd);
  if (t)
    mv_hermite_table_free (t);
  return rc;
}
