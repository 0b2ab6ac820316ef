/* moeverify specialize --t-end T: the spec's flow (reduced by default, with
 * the spec's regularizer coefficients), then the values and gradient
 * cosines of L, L_o, L_o_gated, L_v, L_aux at every output row, from the
 * Gram level (specialize.h; raw norms are constant along both flows). */
#include "cli.h"
#include "cli/specialize_cli.h"
#include "base/textbuf.h"

#include <moeverify/moeverify.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NO = MV_SPEC_NOBJ };

static void
put_num (mv_textbuf *b, double x)
{
  char s[40];
  /* undefined (no direction) is an empty field, never "nan" */
  if (isfinite (x))
    snprintf (s, sizeof s, ",%.17g", x);
  else
    snprintf (s, sizeof s, ",");
  mv_textbuf_puts (b, s);
}

static int
write_csv (mv_io_set *set, const mv_traj *tr, const double *val, const double *cos)
{
  mv_textbuf b;
  mv_textbuf_init (&b);
  mv_textbuf_puts (&b, "t");
  for (size_t a = 0; a < NO; a++)
    mv_textbuf_puts (&b, ","), mv_textbuf_puts (&b, mv_spec_name (a));
  for (size_t a = 0; a < NO; a++)
    for (size_t c = a + 1; c < NO; c++)
      {
        char h[64];
        snprintf (h, sizeof h, ",cos_%s_%s", mv_spec_name (a), mv_spec_name (c));
        mv_textbuf_puts (&b, h);
      }
  mv_textbuf_puts (&b, "\n");
  for (size_t r = 0; r < tr->rows; r++)
    {
      char t[40];
      snprintf (t, sizeof t, "%.17g", tr->t[r]);
      mv_textbuf_puts (&b, t);
      for (size_t a = 0; a < NO; a++)
        put_num (&b, val[r * NO + a]);
      for (size_t a = 0; a < NO; a++)
        for (size_t c = a + 1; c < NO; c++)
          put_num (&b, cos[r * NO * NO + a * NO + c]);
      mv_textbuf_puts (&b, "\n");
    }
  int s = !mv_textbuf_ok (&b) ? mv_error_set (MV_ENOMEM, "cosines.csv: out of memory")
    : mv_io_set_add (set, "cosines.csv", b.s, b.len);
  mv_textbuf_clear (&b);
  return s;
}

static int
write_svg (mv_io_set *set, const mv_traj *tr, const double *cos)
{
  char label[96];
  mv_plot *p = mv_plot_alloc ("gradient cosines along the flow", "t",
                              "cosine of raw-parameter gradients");
  double *y = malloc ((tr->rows ? tr->rows : 1) * sizeof *y);
  int s = !p || !y ? mv_error_set (MV_ENOMEM, "cosines.svg: out of memory") : MV_OK;
  if (!s)
    s = mv_plot_set_log (p, 1, 0) || mv_plot_set_yrange (p, -1.05, 1.05)
      || mv_plot_add_hline (p, 0.0, NULL);
  size_t k = 0;
  for (size_t a = 0; !s && a < NO; a++)
    for (size_t c = a + 1; !s && c < NO; c++)
      {
        if (a == MV_SPEC_AUX || c == MV_SPEC_AUX)
          continue;           /* L_aux has no gradient here */
        for (size_t r = 0; r < tr->rows; r++)
          y[r] = cos[r * NO * NO + a * NO + c];
        snprintf (label, sizeof label, "cos(∇%s, ∇%s)", mv_spec_name (a), mv_spec_name (c));
        s = mv_plot_add_series (p, label, tr->t, y, tr->rows, mv_plot_color (k++),
                                a == MV_SPEC_FIT ? 2.0 : 1.2, a != MV_SPEC_FIT);
      }
  if (!s)
    s = mv_plot_write_set (p, set, "cosines.svg");
  mv_plot_free (p);
  free (y);
  return s;
}

int
mv_cli_spec_write_cosines (mv_io_set *set, const mv_traj *tr, const double *val,
                           const double *cos)
{
  int s = write_csv (set, tr, val, cos);
  return s ? s : write_svg (set, tr, cos);
}

/* What the summary prints: per regularizer, min / max of its cosine with
 * ∇L over the rows where it is defined, and how many rows are negative. */
typedef struct {
  const mv_traj *tr;
  const double *val, *cos;
} summary_ctx;

static void
summary (const mv_traj *tr, const void *vctx)
{
  const summary_ctx *c = vctx;
  mv_cli_print_recovery (tr);
  if (tr->rows)
    {
      /* the record's L is the flow's objective; the parts at the end */
      const double *v = c->val + (tr->rows - 1) * NO;
      printf ("  at t = %.6g: L (data fit) = %.6e, L_o = %.6e, L_o_gated = %.6e, L_v = %.6e, "
              "L_aux = %.6g\n", tr->t[tr->rows - 1], v[MV_SPEC_FIT], v[MV_SPEC_ORTHO],
              v[MV_SPEC_ORTHO_GATED], v[MV_SPEC_VAR], v[MV_SPEC_AUX]);
    }
  for (size_t a = MV_SPEC_ORTHO; a < NO; a++)
    {
      double lo = INFINITY, hi = -INFINITY, tlo = NAN;
      size_t neg = 0, def = 0;
      for (size_t r = 0; r < tr->rows; r++)
        {
          double x = c->cos[r * NO * NO + MV_SPEC_FIT * NO + a];
          if (!isfinite (x))
            continue;
          def++, neg += x < 0;
          if (x < lo)
            lo = x, tlo = tr->t[r];
          hi = fmax (hi, x);
        }
      if (!def)
        printf ("  cos(∇L, ∇%s): undefined (zero gradient) on every row\n", mv_spec_name (a));
      else
        printf ("  cos(∇L, ∇%s): min %.4f at t = %.4g, max %.4f; negative on %zu of %zu "
                "rows\n", mv_spec_name (a), lo, tlo, hi, neg, def);
    }
}

/* G and norms of the last row of the trajectory directory dir (a flow's:
 * its norms are those of every row). */
static int
start_from (double *G, double *nr, char *how, size_t howlen, const char *dir,
            const mv_problem *pb)
{
  mv_traj prev;
  int s = mv_traj_read (&prev, dir);
  if (s)
    return s;
  size_t n = 2 * pb->m + 2 * pb->mstar;
  if (prev.m != pb->m || prev.mstar != pb->mstar || !prev.rows)
    s = mv_error_set (MV_EINVAL, "%s: m = %zu, m* = %zu, %zu rows; the spec has m = %zu, "
                      "m* = %zu", dir, prev.m, prev.mstar, prev.rows, pb->m, pb->mstar);
  else if (!strcmp (prev.method, "sgd"))
    s = mv_error_set (MV_EINVAL, "%s: an SGD record (its raw norms move)", dir);
  else
    {
      memcpy (G, mv_traj_gram (&prev, prev.rows - 1), n * n * sizeof *G);
      memcpy (nr, prev.norms0, n * sizeof *nr);
      snprintf (how, howlen, "last row of %s (t = %.6g)", dir, prev.t[prev.rows - 1]);
    }
  mv_traj_clear (&prev);
  return s;
}

int
mv_cli_spec_flow (const mv_spec_opts *o, const mv_problem *pb)
{
  mv_flow_params p;
  mv_flow_params_default (&p);
  p.t_end = o->t_end;
  mv_cost cost;
  mv_cost_flow (&cost, pb->m, pb->mstar, pb->d, !o->full, &p);
  mv_traj tr;
  mv_cli_out out;
  int rc = mv_cli_memory_guard (&cost, o->spec);
  if (!rc)
    rc = mv_cli_traj_start (&tr, pb, &out, o->out);
  if (rc)
    return rc;
  size_t n = 2 * pb->m + 2 * pb->mstar;
  p.reg = &pb->reg;
  p.interrupt = mv_cli_catch_sigint ();
  p.progress = mv_cli_flow_progress;
  double *G = NULL, *nr = NULL, *val = NULL, *cos = NULL;
  mv_spec_ws *ws = NULL;
  int s;
  if (o->full)
    s = mv_flow_full (&tr, pb, &p);
  else
    {
      G = malloc (n * n * sizeof *G), nr = malloc (n * sizeof *nr);
      s = !G || !nr ? mv_error_set (MV_ENOMEM, "out of memory")
        : o->from ? start_from (G, nr, tr.init, sizeof tr.init, o->from, pb)
        : mv_flow_gram0 (G, nr, tr.init, sizeof tr.init, pb, MV_GRAM0_AUTO);
      if (!s)
        s = mv_flow_reduced (&tr, G, nr, pb->m, pb->mstar, pb->noise_var, &p);
    }
  if (!s)
    {
      val = malloc ((tr.rows + 1) * NO * sizeof *val);
      cos = malloc ((tr.rows + 1) * NO * NO * sizeof *cos);
      ws = mv_spec_alloc (pb->m, pb->mstar);
      s = !val || !cos || !ws ? mv_error_set (MV_ENOMEM, "out of memory")
        : mv_spec_traj_d (val, cos, &tr, pb->noise_var, ws);
      if (!s)
        s = mv_cli_spec_write_cosines (out.set, &tr, val, cos);
    }
  summary_ctx sc = { &tr, val, cos };
  rc = mv_cli_traj_finish (&tr, pb, s, &out, summary, &sc);
  free (G), free (nr), free (val), free (cos);
  mv_spec_free (ws);
  return rc;
}
