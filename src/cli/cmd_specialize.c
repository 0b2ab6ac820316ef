/* moeverify specialize SPEC.json [--t-end T [--full]] [--grid G] [--out DIR]
 *
 * The specialization regularizers side by side (specialize.h): at the
 * spec's point, their values and the cosines of their raw gradients with
 * the data fit's and each other's; along the spec's flow, those cosines
 * over time; over a grid of coefficients (a sweep through the check
 * command's scan machinery), escape times, recovery order, terminal
 * states, redundant students and final loss (specialize_grid.c). */
#include "cli.h"
#include "cli/specialize_cli.h"

#include <moeverify/moeverify.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
  "usage: moeverify specialize SPEC.json [--t-end T [--full | --from DIR0]] [--grid G]\n"
  "                            [--out DIR] [--jobs N] [-o FILE] [--max-memory SIZE]\n"
  "  The specialization regularizers L_o (ungated), L_o_gated, L_v, L_aux of\n"
  "  MATH.md 5 beside the data fit L.  Without --t-end or --grid: JSON with\n"
  "  their values at the spec's point and the pairwise cosines of their\n"
  "  gradients in the raw student parameters (null: a zero gradient).\n"
  "  --t-end T   the spec's flow (objective with the spec's \"regularizers\")\n"
  "              to T; DIR gets the trajectory files, cosines.csv (values and\n"
  "              cosines at every output row) and cosines.svg; a summary on\n"
  "              stdout\n"
  "  --reduced   dimension-free flow (default); cosines from the Gram level\n"
  "  --full      full flow of the raw vectors instead\n"
  "  --from DIR0 with --t-end: start the reduced flow from the last row of the\n"
  "              trajectory directory DIR0 (same m, m*; its raw norms) instead of\n"
  "              the spec's point, e.g. to switch regularizers on at a plain\n"
  "              flow's end state\n"
  "  --grid G    a grid of coefficients run as a sweep (needs --t-end): G is a\n"
  "              JSON file {PATH: [v, ...] | {\"from\", \"to\"[, \"step\"]}, ...}\n"
  "              or inline \"ortho=0,0.1,1;var=0,1\"; a PATH without a dot is a\n"
  "              key of \"regularizers\" (aux, ortho, ortho_gated, var), others\n"
  "              are spec paths (\"student.init.seed\"); \"default\" is\n"
  "              " MV_SPEC_DEFAULT_GRID "\n"
  "              DIR gets grid.csv, grid.md, plots/ and scans/grid/ (the sweep)\n"
  "  --out DIR   output directory (default specialize-out)\n"
  "  --jobs N    worker processes for --grid (default 1)\n"
  "  -o FILE     the point's JSON into FILE instead of stdout\n"
  "  --max-memory SIZE  refuse a run estimated to need more memory (512M,\n"
  "              8G, none; default: the physical memory)\n";

static int
parse_opts (mv_spec_opts *o, int argc, char **argv)
{
  mv_cli_args a;
  const char *v;
  unsigned long jobs;
  memset (o, 0, sizeof *o);
  o->out = "specialize-out";
  o->jobs = 1;
  mv_cli_args_init (&a, argc, argv);
  while (mv_cli_next (&a))
    {
      int c = mv_cli_common (&a, &o->spec, usage);
      if (c < 0 || c > 1)
        return c;
      if (c == 1)
        continue;
      if (mv_cli_is (&a, "--t-end"))
        {
          if (!(v = mv_cli_value (&a)) || mv_cli_parse_double ("--t-end", v, 1e-300,
                                                                1e300, &o->t_end))
            return MV_EXIT_USAGE;
        }
      else if ((c = mv_cli_memory_opt (&a)))
        {
          if (c != 1)
            return c;
        }
      else if (mv_cli_is (&a, "--full") || mv_cli_is (&a, "--reduced"))
        {
          if (mv_cli_flag (&a))
            return MV_EXIT_USAGE;
          o->full = mv_cli_is (&a, "--full");
        }
      else if (mv_cli_is (&a, "--grid"))
        {
          if (!(o->grid = mv_cli_value (&a)))
            return MV_EXIT_USAGE;
        }
      else if (mv_cli_is (&a, "--from"))
        {
          if (!(o->from = mv_cli_value (&a)))
            return MV_EXIT_USAGE;
        }
      else if (mv_cli_is (&a, "--out"))
        {
          if (!(o->out = mv_cli_value (&a)))
            return MV_EXIT_USAGE;
        }
      else if (mv_cli_is (&a, "-o") || mv_cli_is (&a, "--output"))
        {
          if (!(o->output = mv_cli_value (&a)))
            return MV_EXIT_USAGE;
        }
      else if (mv_cli_is (&a, "--jobs"))
        {
          if (!(v = mv_cli_value (&a)) || mv_cli_parse_ulong ("--jobs", v, 1, 1024, &jobs))
            return MV_EXIT_USAGE;
          o->jobs = (unsigned) jobs;
        }
      else
        return mv_cli_unknown (&a);
    }
  if (!o->spec)
    {
      mv_cli_error ("specialize: missing SPEC.json (see 'moeverify specialize --help')");
      return MV_EXIT_USAGE;
    }
  if (o->grid && !(o->t_end > 0))
    {
      mv_cli_error ("specialize: --grid needs --t-end (the flows' end time)");
      return MV_EXIT_USAGE;
    }
  if (o->from && (!(o->t_end > 0) || o->grid || o->full))
    {
      mv_cli_error ("specialize: --from needs --t-end and the reduced flow (no --grid, --full)");
      return MV_EXIT_USAGE;
    }
  return 0;
}

/* A number or JSON null (undefined). */
static json_t *
num_or_null (double x)
{
  return isfinite (x) ? json_real (x) : json_null ();
}

/* {"objectives": [names], "matrix": [[...], ...]} */
json_t *
mv_cli_spec_cos_json (const double *cos)
{
  json_t *o = json_object (), *names = json_array (), *mat = json_array ();
  for (size_t a = 0; a < MV_SPEC_NOBJ; a++)
    {
      json_array_append_new (names, json_string (mv_spec_name (a)));
      json_t *row = json_array ();
      for (size_t b = 0; b < MV_SPEC_NOBJ; b++)
        json_array_append_new (row, num_or_null (cos[a * MV_SPEC_NOBJ + b]));
      json_array_append_new (mat, row);
    }
  json_object_set_new (o, "objectives", names);
  json_object_set_new (o, "matrix", mat);
  return o;
}

json_t *
mv_cli_spec_reg_json (const mv_regularizers *r)
{
  json_t *o = json_object ();
  json_object_set_new (o, "aux", json_real (r->aux));
  json_object_set_new (o, "ortho", json_real (r->ortho));
  json_object_set_new (o, "ortho_gated", json_real (r->ortho_gated));
  json_object_set_new (o, "var", json_real (r->var));
  return o;
}

/* {"value": "...", "digits": k, "error_bound": "..."} as `loss` prints L. */
static json_t *
value_json (double v, double err)
{
  int dg = mv_io_digits_d (v, err);
  json_t *o = json_object ();
  json_object_set_new (o, "value", mv_cli_json_str (mv_io_double_str (v, dg > 1 ? dg : 1)));
  json_object_set_new (o, "digits", json_integer (dg));
  mv_mag e;
  mv_mag_set_d (&e, err);
  json_object_set_new (o, "error_bound", mv_cli_json_mag (&e));
  return o;
}

/* Raw cosines when the vectors can be formed; the Gram-level ones always
 * (their largest difference is reported: the formula checked in place). */
static int
point_doc (json_t **doc, const mv_spec_opts *o, const mv_problem *pb)
{
  size_t m = pb->m, n = 2 * m + 2 * pb->mstar;
  double val[MV_SPEC_NOBJ], err[MV_SPEC_NOBJ], gn[MV_SPEC_NOBJ];
  double cg[MV_SPEC_NOBJ * MV_SPEC_NOBJ], cr[MV_SPEC_NOBJ * MV_SPEC_NOBJ];
  double *G = malloc (n * n * sizeof *G), *nr = malloc (n * sizeof *nr);
  char how[64] = "";
  mv_spec_ws *ws = mv_spec_alloc (m, pb->mstar);
  int s = !G || !nr || !ws ? mv_error_set (MV_ENOMEM, "%s: out of memory", o->spec)
    : mv_flow_gram0 (G, nr, how, sizeof how, pb, MV_GRAM0_AUTO);
  if (!s)
    s = mv_spec_point_d (val, err, gn, cg, G, nr, pb->noise_var, ws);
  int rawok = 0;
  double maxdiff = 0;
  /* d-vectors only when small: five gradients of 2md doubles each */
  if (!s && strstr (how, "sample") == NULL && 2.0 * (double) m * (double) pb->d <= 1e7)
    s = mv_cli_spec_raw_cosines (cr, &maxdiff, cg, pb, ws), rawok = !s;
  if (s)
    goto done;
  json_t *d = json_object (), *vals = json_object (), *norms = json_object ();
  json_object_set_new (d, "spec", json_string (o->spec));
  json_object_set_new (d, "d", json_integer ((json_int_t) pb->d));
  json_object_set_new (d, "m", json_integer ((json_int_t) m));
  json_object_set_new (d, "mstar", json_integer ((json_int_t) pb->mstar));
  json_object_set_new (d, "regularizers", mv_cli_spec_reg_json (&pb->reg));
  json_object_set_new (d, "method", json_string ("closed-form-double"));
  json_object_set_new (d, "point", json_string (how));
  for (size_t a = 0; a < MV_SPEC_NOBJ; a++)
    {
      json_object_set_new (vals, mv_spec_name (a), value_json (val[a], err[a]));
      json_object_set_new (norms, mv_spec_name (a), json_real (gn[a]));
    }
  json_object_set_new (d, "values", vals);
  json_object_set_new (d, "grad_norms", norms);
  json_object_set_new (d, "cosines", mv_cli_spec_cos_json (rawok ? cr : cg));
  json_object_set_new (d, "cosines_from", json_string
                       (rawok ? "raw gradients (d-vectors)"
                        : "Gram level (proofs/claim-specialization.md)"));
  if (rawok)
    json_object_set_new (d, "cosines_gram_vs_raw_max_diff", json_real (maxdiff));
  *doc = d;
done:
  free (G), free (nr);
  mv_spec_free (ws);
  return s;
}

/* Raw-gradient cosines of pb's vectors into cr, and their largest
 * difference from the Gram-level cg. */
int
mv_cli_spec_raw_cosines (double *cr, double *maxdiff, const double *cg,
                         const mv_problem *pb, mv_spec_ws *ws)
{
  size_t m = pb->m, ms = pb->mstar, d = pb->d, len = 2 * m * d;
  double *V = malloc (m * d * sizeof *V), *W = malloc (m * d * sizeof *W);
  double *Vt = malloc (ms * d * sizeof *Vt), *Wt = malloc (ms * d * sizeof *Wt);
  double *grad = malloc (MV_SPEC_NOBJ * len * sizeof *grad);
  double gerr[MV_SPEC_NOBJ], nerr[MV_SPEC_NOBJ], K[MV_SPEC_NOBJ * MV_SPEC_NOBJ];
  int s = !V || !W || !Vt || !Wt || !grad
    ? mv_error_set (MV_ENOMEM, "%s: out of memory for the raw gradients", pb->name)
    : mv_problem_vectors_d (V, W, Vt, Wt, pb);
  if (!s)
    s = mv_spec_raw_d (NULL, NULL, grad, gerr, V, W, Vt, Wt, d, pb->noise_var, ws);
  if (!s)
    {
      mv_spec_raw_products_d (K, grad, len);
      for (size_t a = 0; a < MV_SPEC_NOBJ; a++)
        nerr[a] = sqrt ((double) len) * gerr[a];
      mv_spec_cosines (cr, K, nerr);
      *maxdiff = 0;
      for (size_t k = 0; k < MV_SPEC_NOBJ * MV_SPEC_NOBJ; k++)
        if (isfinite (cr[k]) && isfinite (cg[k]) && fabs (cr[k] - cg[k]) > *maxdiff)
          *maxdiff = fabs (cr[k] - cg[k]);
    }
  free (V), free (W), free (Vt), free (Wt), free (grad);
  return s;
}

int
mv_cmd_specialize (int argc, char **argv)
{
  mv_spec_opts o;
  int rc = parse_opts (&o, argc, argv);
  if (rc || mv_cli_parse_only)
    return rc < 0 ? MV_EXIT_OK : rc;
  mv_problem pb;
  if ((rc = mv_cli_read_spec (&pb, o.spec)))
    return rc;
  mv_cost cost;
  mv_cost_loss (&cost, pb.m, pb.mstar, pb.d, 1, MV_PREC_DOUBLE);
  if (o.grid)
    rc = mv_cli_spec_grid (&o, &pb);
  else if (o.t_end > 0)
    rc = mv_cli_spec_flow (&o, &pb);
  else if (!(rc = mv_cli_memory_guard (&cost, o.spec)))
    {
      json_t *doc = NULL;
      int s = point_doc (&doc, &o, &pb);
      if (s)
        {
          if (!strstr (mv_error_message (), o.spec))
            mv_error_prefix (o.spec);
          mv_cli_lib_error ();
          rc = s == MV_ENOMEM ? MV_EXIT_FAIL : MV_EXIT_USAGE;
        }
      else
        rc = mv_cli_emit_json (doc, o.output);
      json_decref (doc);
    }
  mv_problem_clear (&pb);
  return rc;
}
