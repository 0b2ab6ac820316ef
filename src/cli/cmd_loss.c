/* moeverify loss SPEC.json [--prec BITS] [--fast] [--no-grad] [-o FILE]
 *
 * Closed-form population loss (and raw-parameter gradient) of a spec,
 * printed as JSON with exactly the digits the error bounds support. */
#include "cli.h"
#include "base/textbuf.h"

#include <moeverify/error.h>
#include <moeverify/hermite.h>
#include <moeverify/io.h>
#include <moeverify/loss.h>
#include <moeverify/problem.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MV_LOSS_DEFAULT_PREC 128

static const char usage[] =
  "usage: moeverify loss SPEC.json [--prec BITS] [--fast] [--no-grad] "
  "[-o FILE]\n"
  "                      [--max-memory SIZE]\n"
  "  Closed-form population loss L and its gradient for the problem in\n"
  "  SPEC.json, as JSON.\n"
  "  --prec BITS   MPFR working precision, " MV_XSTR (MV_PREC_MIN) ".." MV_XSTR (MV_PREC_MAX) " (default 128;\n"
  "                " MV_XSTR (MV_PREC_DOUBLE) " selects the double-precision path)\n"
  "  --fast        double-precision path (same as --prec " MV_XSTR (MV_PREC_DOUBLE) ")\n"
  "  --no-grad     loss only\n"
  "  -o, --output FILE  write atomically to FILE instead of stdout\n"
  "  --max-memory SIZE  refuse a run estimated to need more memory (512M,\n"
  "                8G, none; default: the physical memory)\n";

/* Gradient values, double or MPFR, behind one accessor. */
typedef struct {
  int mp;
  double *gd;
  mpfr_t *gm;
  size_t n;
} grad_buf;

/* The gradient as JSON text, in jansson's indented layout (two spaces a
 * level, the object at level 1): 50 000 components go straight from
 * numbers to text, without a JSON tree or an allocation per string.
 * *dmin is lowered to the fewest digits printed. */
static void
grad_rows (mv_textbuf *b, const grad_buf *g, size_t m, size_t d,
           const mv_mag *err, int *dmin)
{
  double errd = mv_mag_get_d (err);
  /* a number, its quotes, comma, indent and newline */
  size_t size = (g->mp ? (size_t) mpfr_get_prec (g->gm[0]) / 3 : 24) + 48;
  mv_textbuf_puts (b, "[\n");
  for (size_t i = 0; i < m; i++)
    {
      mv_textbuf_puts (b, "      [\n");
      for (size_t k = 0; k < d; k++)
        {
          size_t e = i * d + k;
          int dg = g->mp ? mv_io_digits (g->gm[e], err) : mv_io_digits_d (g->gd[e], errd);
          if (dg < *dmin)
            *dmin = dg;
          char *p = mv_textbuf_reserve (b, size);
          if (!p)
            return;
          memcpy (p, "        \"", 9);
          int n = g->mp ? mv_io_mpfr_fmt (p + 9, size - 12, g->gm[e], dg > 1 ? dg : 1)
                        : mv_io_double_fmt (p + 9, size - 12, g->gd[e], dg > 1 ? dg : 1);
          if (n < 0)
            {
              b->oom = 1;
              return;
            }
          b->len += 9 + (size_t) n;
          mv_textbuf_puts (b, k + 1 < d ? "\",\n" : "\"\n");
        }
      mv_textbuf_puts (b, i + 1 < m ? "      ],\n" : "      ]\n");
    }
  mv_textbuf_puts (b, "    ]");
}

static void
grad_text (mv_textbuf *b, const grad_buf *gV, const grad_buf *gW, size_t m,
           size_t d, const mv_mag *err, int *dmin)
{
  /* one allocation for the whole text: no copies while it grows */
  size_t per = (gV->mp ? (size_t) mpfr_get_prec (gV->gm[0]) / 3 : 24) + 16;
  (void) mv_textbuf_reserve (b, 2 * m * d * per + 64 * m + 64);
  mv_textbuf_puts (b, "{\n    \"V\": ");
  grad_rows (b, gV, m, d, err, dmin);
  mv_textbuf_puts (b, ",\n    \"W\": ");
  grad_rows (b, gW, m, d, err, dmin);
  mv_textbuf_puts (b, "\n  }");
}

static void
grad_free (grad_buf *g)
{
  free (g->gd);
  if (g->gm)
    for (size_t i = 0; i < g->n; i++)
      mpfr_clear (g->gm[i]);
  free (g->gm);
  memset (g, 0, sizeof *g);
}

static int
grad_alloc (grad_buf *g, size_t n, int mp, mpfr_prec_t prec)
{
  memset (g, 0, sizeof *g);
  g->mp = mp;
  if (!mp)
    return (g->gd = malloc ((n ? n : 1) * sizeof *g->gd)) ? 0 : -1;
  if (!(g->gm = malloc ((n ? n : 1) * sizeof *g->gm)))
    return -1;
  for (size_t i = 0; i < n; i++)
    mpfr_init2 (g->gm[i], prec);
  g->n = n;
  return 0;
}

typedef struct {
  const char *spec, *output;
  mpfr_prec_t prec;
  int want_grad;
} loss_opts;

static int
parse_opts (loss_opts *o, int argc, char **argv)
{
  mv_cli_args a;
  const char *v;
  int fast = 0, have_prec = 0;
  memset (o, 0, sizeof *o);
  o->prec = MV_LOSS_DEFAULT_PREC;
  o->want_grad = 1;
  mv_cli_args_init (&a, argc, argv);
  while (mv_cli_next (&a))
    {
      int c = mv_cli_common (&a, &o->spec, usage);
      if (c < 0 || c > 1)
        return c;
      if (c == 1)
        continue;
      if ((c = mv_cli_memory_opt (&a)))
        {
          if (c != 1)
            return c;
          continue;
        }
      if (mv_cli_is (&a, "--prec"))
        {
          if (!(v = mv_cli_value (&a)) || mv_cli_parse_prec ("--prec", v,
                                                            &o->prec))
            return MV_EXIT_USAGE;
          have_prec = 1;
        }
      else if (mv_cli_is (&a, "--fast") || mv_cli_is (&a, "--no-grad"))
        {
          if (mv_cli_flag (&a))
            return MV_EXIT_USAGE;
          if (mv_cli_is (&a, "--fast"))
            fast = 1;
          else
            o->want_grad = 0;
        }
      else if (mv_cli_is (&a, "-o") || mv_cli_is (&a, "--output"))
        {
          if (!(o->output = mv_cli_value (&a)))
            return MV_EXIT_USAGE;
        }
      else
        return mv_cli_unknown (&a);
    }
  if (!o->spec)
    {
      mv_cli_error ("loss: missing SPEC.json (see 'moeverify loss --help')");
      return MV_EXIT_USAGE;
    }
  if (fast && have_prec && o->prec != MV_PREC_DOUBLE)
    {
      mv_cli_error ("loss: --fast is --prec %d; it conflicts with --prec %ld",
                    MV_PREC_DOUBLE, (long) o->prec);
      return MV_EXIT_USAGE;
    }
  if (fast)
    o->prec = MV_PREC_DOUBLE;
  return 0;
}

/* The output document; the gradient is a placeholder string replaced by
 * grad_text in emit (a control character: it cannot come from a value). */
#define GRAD_MARK "\x01"
#define GRAD_MARK_JSON "\n  \"grad\": \"\\u0001\""

static int
emit (const json_t *doc, const mv_textbuf *grad, const char *output)
{
  char *s = json_dumps (doc, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
  char *at = s && grad ? strstr (s, GRAD_MARK_JSON) : NULL;
  int rc = MV_EXIT_FAIL;
  if (s && (!grad || (at && mv_textbuf_ok (grad))))
    {
      /* head, the gradient text, the rest, a newline: no joined copy */
      size_t head = at ? (size_t) (at - s) + strlen ("\n  \"grad\": ")
        : strlen (s);
      const char *tail = at ? at + strlen (GRAD_MARK_JSON) : "";
      const char *part[4] = { s, grad ? grad->s : "", tail, "\n" };
      size_t len[4] = { head, grad ? grad->len : 0, strlen (tail), 1 };
      rc = mv_cli_emit_parts (part, len, 4, output);
    }
  else
    mv_cli_error ("out of memory serialising the output");
  free (s);
  return rc;
}

/* Build the whole output document. */
static json_t *
loss_doc (const loss_opts *o, const mv_problem *pb, const mv_loss_info *info,
          const char *loss_s, int loss_digits, int grad_dmin)
{
  int mp = o->prec > MV_PREC_DOUBLE;
  json_t *doc = json_object ();
  if (!doc)
    return NULL;
  int bad = json_object_set_new (doc, "spec", json_string (o->spec))
    || json_object_set_new (doc, "d", json_integer ((json_int_t) pb->d))
    || json_object_set_new (doc, "m", json_integer ((json_int_t) pb->m))
    || json_object_set_new (doc, "mstar",
                            json_integer ((json_int_t) pb->mstar))
    || json_object_set_new (doc, "method", json_string
                            (mp ? "closed-form-mpfr" : "closed-form-double"))
    || json_object_set_new (doc, "precision_bits",
                            json_integer ((json_int_t) o->prec))
    || json_object_set_new (doc, "loss", json_string (loss_s))
    || json_object_set_new (doc, "loss_digits", json_integer (loss_digits))
    || json_object_set_new (doc, "loss_error_bound",
                            mv_cli_json_mag (&info->err))
    || json_object_set_new (doc, "abs_terms",
                            mv_cli_json_str (mv_io_double_str
                                             (info->abs_terms, 6)))
    || json_object_set_new (doc, "condition",
                            mv_cli_json_str (mv_io_double_str (info->cond, 3)))
    || json_object_set_new (doc, "series_terms_max",
                            json_integer ((json_int_t) info->max_terms));
  if (!bad && o->want_grad)
    bad = json_object_set_new (doc, "grad", json_string (GRAD_MARK))
      || json_object_set_new (doc, "grad_error_bound",
                              mv_cli_json_mag (&info->grad_err))
      || json_object_set_new (doc, "grad_digits_min",
                              json_integer (grad_dmin));
  if (bad)
    {
      json_decref (doc);
      return NULL;
    }
  return doc;
}

int
mv_cmd_loss (int argc, char **argv)
{
  loss_opts o;
  int rc = parse_opts (&o, argc, argv);
  if (rc || mv_cli_parse_only)
    return rc < 0 ? MV_EXIT_OK : rc;

  mv_problem pb;
  int st = mv_cli_read_spec (&pb, o.spec);
  if (st)
    return st;
  mv_cost cost;
  mv_cost_loss (&cost, pb.m, pb.mstar, pb.d, 1, o.prec);
  if ((st = mv_cli_memory_guard (&cost, o.spec)))
    {
      mv_problem_clear (&pb);
      return st;
    }
  int mp = o.prec > MV_PREC_DOUBLE;
  size_t n = pb.m * pb.d;
  grad_buf gV, gW;
  memset (&gV, 0, sizeof gV);
  memset (&gW, 0, sizeof gW);
  mv_loss_info info;
  memset (&info, 0, sizeof info);
  mpfr_t L;
  mpfr_init2 (L, o.prec);
  char *loss_s = NULL;
  mv_textbuf grad;
  mv_textbuf_init (&grad);
  json_t *doc = NULL;
  rc = MV_EXIT_FAIL;

  mv_loss_ws *ws = mv_loss_alloc (pb.m, pb.mstar, o.prec);
  /* the spec's objective: L plus its nonzero regularizers */
  if (!ws || mv_loss_add_regularizers (ws, &pb.reg))
    {
      mv_error_prefix (o.spec);
      mv_cli_lib_error ();
      goto done;
    }
  if (o.want_grad && (grad_alloc (&gV, n, mp, o.prec)
                      || grad_alloc (&gW, n, mp, o.prec)))
    {
      mv_cli_error ("%s: out of memory for the gradient", o.spec);
      goto done;
    }
  int digits;
  if (mp)
    {
      st = mv_loss_eval (L, o.want_grad ? gV.gm : NULL,
                         o.want_grad ? gW.gm : NULL, &info, &pb, ws);
      digits = st ? 0 : mv_io_digits (L, &info.err);
    }
  else
    {
      double Ld = 0;
      st = mv_loss_eval_d (&Ld, o.want_grad ? gV.gd : NULL,
                           o.want_grad ? gW.gd : NULL, &info, &pb, ws);
      mpfr_set_d (L, Ld, MPFR_RNDN);
      digits = st ? 0 : mv_io_digits_d (Ld, mv_mag_get_d (&info.err));
    }
  if (st)
    {
      /* make sure the one error line names the spec */
      if (!strstr (mv_error_message (), o.spec))
        mv_error_prefix (o.spec);
      mv_cli_lib_error ();
      goto done;
    }
  int dmin = INT_MAX;
  if (o.want_grad)
    grad_text (&grad, &gV, &gW, pb.m, pb.d, &info.grad_err, &dmin);
  if (!mv_textbuf_ok (&grad))
    {
      mv_cli_error ("%s: out of memory building the output", o.spec);
      goto done;
    }
  if (!(loss_s = mp ? mv_io_mpfr_str (L, digits > 1 ? digits : 1)
                    : mv_io_double_str (mpfr_get_d (L, MPFR_RNDN), digits > 1 ? digits : 1))
      || !(doc = loss_doc (&o, &pb, &info, loss_s, digits, dmin == INT_MAX ? 0 : dmin)))
    {
      mv_cli_error ("%s: out of memory building the output", o.spec);
      goto done;
    }
  rc = emit (doc, o.want_grad ? &grad : NULL, o.output);

done:
  json_decref (doc);
  free (loss_s);
  mv_textbuf_clear (&grad);
  grad_free (&gV);
  grad_free (&gW);
  mpfr_clear (L);
  if (ws)
    mv_loss_free (ws);
  mv_problem_clear (&pb);
  return rc;
}
