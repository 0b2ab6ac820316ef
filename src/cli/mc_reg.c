/* `moeverify mc --regularizers [--batch T]`: the Monte-Carlo estimates of
 * the specialization regularizers (mcreg.h) as the "regularizers" object of
 * the mc document, population and per-batch definitions side by side; with
 * --compare, each population estimate against the closed-form term of the
 * same name when the library has one (mv_loss_term_find). */
#include "cli.h"

#include <moeverify/error.h>
#include <moeverify/hermite.h>
#include <moeverify/io.h>
#include <moeverify/loss.h>
#include <moeverify/mcreg.h>
#include <moeverify/problem.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define REG_DIGITS 6

static json_t *
num (double x, int digits)
{
  if (!isfinite (x))
    return json_null ();
  return mv_cli_json_str (mv_io_double_str (x, digits));
}

/* Closed form of the term `name` alone (weight 1) at the problem's point:
 * 0 and *L set, or 1 when the library has no such term (or it fails: the
 * comparison is then left out, the estimate still printed). */
static int
closed_term (double *L, const char *name, const mv_problem *pb)
{
  const mv_loss_term_type *T = mv_loss_term_find (name);
  if (!T)
    return 1;
  mv_loss_ws *ws = mv_loss_alloc (pb->m, pb->mstar, MV_PREC_DOUBLE);
  if (!ws)
    return 1;
  mv_loss_clear_terms (ws);
  int st = mv_loss_add_term (ws, T, 1.0);
  if (!st)
    st = mv_loss_eval_d (L, NULL, NULL, NULL, pb, ws);
  mv_loss_free (ws);
  return st ? 1 : 0;
}

/* {"value", "stderr"[, "bias_removed"][, "closed", "z"]} */
static json_t *
stat_json (const mv_mc_stat *s, const double *bias, const char *closed_name,
           const mv_problem *pb)
{
  json_t *o = json_object ();
  if (!o)
    return NULL;
  int bad = json_object_set_new (o, "value", num (s->value, REG_DIGITS))
    || json_object_set_new (o, "stderr", num (s->se, 3));
  if (!bad && bias)
    bad = json_object_set_new (o, "bias_removed", num (*bias, 3));
  double L;
  if (!bad && closed_name && !closed_term (&L, closed_name, pb))
    bad = json_object_set_new (o, "closed", num (L, 17))
      || json_object_set_new (o, "z", num ((s->value - L) / s->se, 4));
  if (bad)
    {
      json_decref (o);
      return NULL;
    }
  return o;
}

/* [[strings]] of an m x m matrix */
static json_t *
square_json (const double *a, size_t m, int digits)
{
  json_t *rows = json_array ();
  for (size_t i = 0; rows && i < m; i++)
    {
      json_t *row = json_array ();
      if (!row || json_array_append_new (rows, row))
        {
          json_decref (rows);
          return NULL;
        }
      for (size_t k = 0; k < m; k++)
        if (json_array_append_new (row, num (a[i * m + k], digits)))
          {
            json_decref (rows);
            return NULL;
          }
    }
  return rows;
}

static json_t *
per_batch_json (const mv_mcreg_result *r, const mv_problem *pb)
{
  if (!r->tokens)
    return json_null ();
  return json_pack ("{s:I, s:I, s:o, s:o, s:o, s:o}",
                    "tokens", (json_int_t) r->tokens,
                    "batches", (json_int_t) r->token_batches,
                    "ortho", stat_json (&r->ortho_batch, NULL, NULL, pb),
                    "ortho_gated", stat_json (&r->ortho_gated_batch, NULL,
                                              NULL, pb),
                    "var", stat_json (&r->var_batch, NULL, NULL, pb),
                    "aux", stat_json (&r->aux_batch, NULL, NULL, pb));
}

json_t *
mv_cli_mcreg_json (const mv_mcreg_result *r, const mv_problem *pb,
                   int compare)
{
  const size_t m = r->m;
  json_t *pop = json_pack
    ("{s:o, s:o, s:o, s:o}",
     "ortho", stat_json (&r->ortho, &r->ortho_bias, compare ? "ortho" : NULL,
                         pb),
     "ortho_gated", stat_json (&r->ortho_gated, &r->ortho_gated_bias,
                               compare ? "ortho_gated" : NULL, pb),
     "var", stat_json (&r->var, NULL, compare ? "var" : NULL, pb),
     "aux", stat_json (&r->aux, &r->aux_bias, compare ? "aux" : NULL, pb));
  if (!pop)
    return NULL;
  return json_pack ("{s:s, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o}",
                    "method", "monte-carlo",
                    "samples", (json_int_t) r->samples,
                    "batches", (json_int_t) r->batches,
                    "span_rank", (json_int_t) r->rank,
                    "population", pop,
                    "expert_cosines", square_json (r->cos, m, REG_DIGITS),
                    "expert_cosines_stderr", square_json (r->cos_se, m, 3),
                    "gated_expert_cosines", square_json (r->cos_g, m,
                                                         REG_DIGITS),
                    "gated_expert_cosines_stderr", square_json (r->cos_g_se,
                                                                m, 3),
                    "per_batch", per_batch_json (r, pb));
}
