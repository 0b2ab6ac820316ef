/* Specialization cosines (specialize.h, proofs/claim-specialization.md):
 * the Gram-level inner products of raw gradients against explicit raw
 * gradients (mv_loss_eval_vec_d through the chain rule of the drivers, an
 * independent route: d-vectors, no polarisation formula); the cosine
 * matrix's symmetry, range and diagonal; undefined (NAN) cosines for zero
 * gradients; each objective alone against its term in the loss; the
 * redundant-student count on a constructed record. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_randist.h>
#include <moeverify/moeverify.h>

enum { NO = MV_SPEC_NOBJ };

/* Raw vectors (students with norms 0.3..3, unit teachers), their unit
 * Gram matrix and the raw norms. */
typedef struct {
  size_t m, ms, n, d;
  double *V, *W, *Vt, *Wt, *G, *norms;
} point;

static void
point_make (point *p, size_t m, size_t ms, size_t d, unsigned long seed)
{
  p->m = m, p->ms = ms, p->n = 2 * m + 2 * ms, p->d = d;
  double *U = malloc (p->n * d * sizeof *U);
  p->V = malloc (m * d * sizeof (double));
  p->W = malloc (m * d * sizeof (double));
  p->Vt = malloc (ms * d * sizeof (double));
  p->Wt = malloc (ms * d * sizeof (double));
  p->G = malloc (p->n * p->n * sizeof (double));
  p->norms = malloc (p->n * sizeof (double));
  gsl_rng *r = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (r, seed);
  for (size_t k = 0; k < p->n; k++)
    {
      double nr = 0, scale = k < 2 * m ? 0.3 + 2.7 * gsl_rng_uniform (r) : 1.0;
      for (size_t i = 0; i < d; i++)
        U[k * d + i] = gsl_ran_gaussian (r, 1.0), nr += U[k * d + i] * U[k * d + i];
      nr = sqrt (nr);
      for (size_t i = 0; i < d; i++)
        U[k * d + i] /= nr;
      p->norms[k] = scale;
      double *dst = k < m ? p->V + k * d : k < 2 * m ? p->W + (k - m) * d
        : k < 2 * m + ms ? p->Vt + (k - 2 * m) * d : p->Wt + (k - 2 * m - ms) * d;
      for (size_t i = 0; i < d; i++)
        dst[i] = scale * U[k * d + i];
    }
  for (size_t k = 0; k < p->n; k++)
    for (size_t l = 0; l < p->n; l++)
      {
        double a = 0;
        for (size_t i = 0; i < d; i++)
          a += U[k * d + i] * U[l * d + i];
        p->G[k * p->n + l] = k == l ? 1.0 : a;
      }
  gsl_rng_free (r);
  free (U);
}

static void
point_free (point *p)
{
  free (p->V), free (p->W), free (p->Vt), free (p->Wt), free (p->G), free (p->norms);
}

/* K from explicit raw gradients and from the Gram-level formula. */
static void
both_products (double *Kraw, double *Kgram, const point *p, mv_spec_ws *ws)
{
  size_t len = 2 * p->m * p->d, nn = p->n * p->n;
  double *grad = malloc (NO * len * sizeof *grad);
  double *dLdG = malloc (NO * nn * sizeof *dLdG), *scr = malloc (NO * nn * sizeof *scr);
  double vr[NO], vg[NO];
  ck_assert_int_eq (mv_spec_raw_d (vr, NULL, grad, NULL, p->V, p->W, p->Vt, p->Wt,
                                   p->d, 0.0, ws), MV_OK);
  ck_assert_int_eq (mv_spec_gram_d (vg, NULL, dLdG, NULL, p->G, 0.0, ws), MV_OK);
  for (size_t a = 0; a < NO; a++)
    MV_CHECK_CLOSE_D (vr[a], vg[a], 1e-13, 1e-15, mv_spec_name (a));
  mv_spec_raw_products_d (Kraw, grad, len);
  mv_spec_gram_products_d (Kgram, dLdG, p->G, p->norms, p->m, p->ms, scr);
  free (grad), free (dLdG), free (scr);
}

START_TEST (test_gram_vs_raw)
{
  /* several shapes and seeds; d > n so the vectors are generic */
  const size_t shapes[][3] = { { 3, 2, 11 }, { 4, 2, 13 }, { 2, 3, 12 }, { 5, 3, 20 } };
  double worst = 0;
  for (size_t s = 0; s < 4; s++)
    for (unsigned long seed = 1; seed <= 3; seed++)
      {
        point p;
        point_make (&p, shapes[s][0], shapes[s][1], shapes[s][2], 100 * s + seed);
        mv_spec_ws *ws = mv_spec_alloc (p.m, p.ms);
        ck_assert_ptr_nonnull (ws);
        double Kr[NO * NO], Kg[NO * NO], cr[NO * NO], cg[NO * NO];
        both_products (Kr, Kg, &p, ws);
        for (size_t a = 0; a < NO; a++)
          for (size_t b = 0; b < NO; b++)
            {
              double scale = sqrt (Kr[a * NO + a] * Kr[b * NO + b]);
              double e = fabs (Kr[a * NO + b] - Kg[a * NO + b]);
              if (scale > 0 && e / scale > worst)
                worst = e / scale;
              ck_assert_msg (e <= 1e-12 * scale,
                             "K[%s,%s]: raw %.17g gram %.17g (scale %.3g)",
                             mv_spec_name (a), mv_spec_name (b), Kr[a * NO + b],
                             Kg[a * NO + b], scale);
            }
        mv_spec_cosines (cr, Kr, NULL);
        mv_spec_cosines (cg, Kg, NULL);
        for (size_t k = 0; k < NO * NO; k++)
          if (isnan (cr[k]) || isnan (cg[k]))
            ck_assert_msg (isnan (cr[k]) && isnan (cg[k]), "entry %zu: %g vs %g", k,
                           cr[k], cg[k]);
          else
            MV_CHECK_CLOSE_D (cr[k], cg[k], 0, 1e-12, "cosine raw vs gram");
        mv_spec_free (ws);
        point_free (&p);
      }
  fprintf (stderr, "gram vs raw inner products: worst relative %.3g\n", worst);
}
END_TEST

START_TEST (test_cosine_matrix)
{
  point p;
  point_make (&p, 4, 2, 13, 7);
  mv_spec_ws *ws = mv_spec_alloc (p.m, p.ms);
  double val[NO], err[NO], gn[NO], c[NO * NO];
  ck_assert_int_eq (mv_spec_point_d (val, err, gn, c, p.G, p.norms, 0.0, ws), MV_OK);
  for (size_t a = 0; a < NO; a++)
    for (size_t b = 0; b < NO; b++)
      {
        double x = c[a * NO + b];
        if (a == MV_SPEC_AUX || b == MV_SPEC_AUX)
          {
            ck_assert_msg (isnan (x), "cos(%s,%s) = %g, want undefined",
                           mv_spec_name (a), mv_spec_name (b), x);
            continue;
          }
        ck_assert_msg (x >= -1 && x <= 1, "cos out of range: %.17g", x);
        ck_assert (x == c[b * NO + a]);
        if (a == b)
          ck_assert (x == 1.0);
      }
  /* L_aux is the constant m^2/4 with zero gradient */
  ck_assert (val[MV_SPEC_AUX] == 4.0);
  ck_assert (gn[MV_SPEC_AUX] == 0.0);
  for (size_t a = 0; a < MV_SPEC_AUX; a++)
    ck_assert_msg (gn[a] > 0, "%s gradient norm %g", mv_spec_name (a), gn[a]);
  mv_spec_free (ws);
  point_free (&p);
}
END_TEST

/* L_o has zero gradient for one student (no pairs) and for mutually
 * orthogonal experts (its dL/dG is 12 g^5 = 0): cosines undefined. */
START_TEST (test_zero_gradient_undefined)
{
  point p;
  point_make (&p, 1, 2, 9, 3);
  mv_spec_ws *ws = mv_spec_alloc (1, 2);
  double gn[NO], c[NO * NO];
  ck_assert_int_eq (mv_spec_point_d (NULL, NULL, gn, c, p.G, p.norms, 0.0, ws), MV_OK);
  for (size_t a = MV_SPEC_ORTHO; a < NO; a++)
    {
      ck_assert_msg (gn[a] == 0.0, "%s: |grad| = %g for m = 1", mv_spec_name (a), gn[a]);
      for (size_t b = 0; b < NO; b++)
        ck_assert (isnan (c[a * NO + b]) && isnan (c[b * NO + a]));
    }
  ck_assert (c[0] == 1.0);
  mv_spec_free (ws);
  point_free (&p);

  /* orthogonal experts: w_i = e_i, everything else generic */
  point_make (&p, 3, 1, 10, 5);
  size_t m = 3, n = p.n;
  for (size_t i = 0; i < m; i++)
    for (size_t k = 0; k < m; k++)
      if (i != k)
        p.G[(m + i) * n + m + k] = 0.0;
  ws = mv_spec_alloc (3, 1);
  ck_assert_int_eq (mv_spec_point_d (NULL, NULL, gn, c, p.G, p.norms, 0.0, ws), MV_OK);
  ck_assert (gn[MV_SPEC_ORTHO] == 0.0);
  ck_assert (isnan (c[MV_SPEC_FIT * NO + MV_SPEC_ORTHO]));
  ck_assert (!isnan (c[MV_SPEC_FIT * NO + MV_SPEC_VAR]));
  mv_spec_free (ws);
  point_free (&p);
}
END_TEST

/* Each objective alone equals its term's coefficient-1 contribution to
 * the regularized loss: L_reg - L = Σ coef * value, bit-near. */
START_TEST (test_objectives_sum)
{
  point p;
  point_make (&p, 3, 2, 11, 9);
  mv_spec_ws *ws = mv_spec_alloc (3, 2);
  double val[NO], dL[NO * 100 * 1];
  (void) dL;
  ck_assert_int_eq (mv_spec_gram_d (val, NULL, NULL, NULL, p.G, 0.25, ws), MV_OK);
  mv_regularizers r = { 0.5, 2.0, 3.0, 0.75 };
  mv_loss_ws *lw = mv_loss_alloc (3, 2, MV_PREC_DOUBLE);
  ck_assert_int_eq (mv_loss_add_regularizers (lw, &r), MV_OK);
  double L;
  ck_assert_int_eq (mv_loss_gram_d (&L, NULL, NULL, p.G, 0.25, lw), MV_OK);
  double want = val[MV_SPEC_FIT] + r.aux * val[MV_SPEC_AUX] + r.ortho * val[MV_SPEC_ORTHO]
    + r.ortho_gated * val[MV_SPEC_ORTHO_GATED] + r.var * val[MV_SPEC_VAR];
  MV_CHECK_CLOSE_D (L, want, 1e-14, 1e-15, "regularized L vs sum of objectives");
  mv_loss_free (lw);
  mv_spec_free (ws);
  point_free (&p);
}
END_TEST

/* Two students on teacher 0 (one recovered), one on teacher 1, one idle:
 * one redundant student. */
START_TEST (test_redundant)
{
  size_t m = 4, ms = 2, n = 2 * m + 2 * ms;
  mv_traj tr;
  ck_assert_int_eq (mv_traj_init (&tr, m, ms), MV_OK);
  double *G = calloc (n * n, sizeof *G);
  for (size_t k = 0; k < n; k++)
    G[k * n + k] = 1.0;
  const double al[4][2] = { { 0.95, 0.0 }, { -0.4, 0.1 }, { 0.0, 0.97 }, { 0.1, 0.2 } };
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < ms; j++)
      {
        size_t a = m + i, b = 2 * m + ms + j;
        G[a * n + b] = G[b * n + a] = al[i][j];
      }
  ck_assert_int_eq (mv_traj_push (&tr, 0.0, 0.0, 0.0, 0.0, G), MV_OK);
  ck_assert_uint_eq (mv_spec_redundant (&tr, 0), 1);
  /* a flow record is read; an SGD record is refused (its norms move) */
  for (size_t k = 0; k < n; k++)
    tr.norms0[k] = 1.0;
  mv_spec_ws *ws = mv_spec_alloc (m, ms);
  double val[NO], cos[NO * NO];
  ck_assert_int_eq (mv_spec_traj_d (val, cos, &tr, 0.0, ws), MV_OK);
  snprintf (tr.method, sizeof tr.method, "sgd");
  ck_assert_int_eq (mv_spec_traj_d (val, cos, &tr, 0.0, ws), MV_EINVAL);
  mv_spec_free (ws);
  free (G);
  mv_traj_clear (&tr);
}
END_TEST


/* Along a regularized full flow the raw norms stay those of t = 0, so the
 * record's Gram rows with norms0 give the raw cosines: at the last row,
 * mv_spec_traj_d against explicit raw gradients of the final raw state. */
START_TEST (test_traj_full_end)
{
  mv_problem pb;
  ck_assert_int_eq (mv_problem_parse (&pb, "{\"d\": 9, \"teacher\": {\"m\": 2, \"init\": "
                                      "{\"kind\": \"orthonormal\", \"seed\": 1}}, \"student\": "
                                      "{\"m\": 3, \"init\": {\"kind\": \"gaussian\", \"seed\": 4}}, "
                                      "\"regularizers\": {\"ortho\": 0.3, \"var\": 0.5}}", "t"),
                    MV_OK);
  mv_traj tr;
  ck_assert_int_eq (mv_traj_init (&tr, 3, 2), MV_OK);
  mv_flow_params p;
  mv_flow_params_default (&p);
  p.t_end = 4, p.n_out = 10, p.reg = &pb.reg;
  p.rtol = 1e-11, p.atol = 1e-13;
  ck_assert_int_eq (mv_flow_full (&tr, &pb, &p), MV_OK);
  ck_assert_ptr_nonnull (tr.final_state);
  size_t m = 3, d = 9, R = tr.rows;
  double *val = malloc (R * NO * sizeof *val), *cos = malloc (R * NO * NO * sizeof *cos);
  mv_spec_ws *ws = mv_spec_alloc (3, 2);
  ck_assert_int_eq (mv_spec_traj_d (val, cos, &tr, 0.0, ws), MV_OK);
  double Vt[2 * 9], Wt[2 * 9], grad[NO * 2 * 3 * 9], K[NO * NO], cr[NO * NO], gerr[NO];
  ck_assert_int_eq (mv_problem_vectors_d (NULL, NULL, Vt, Wt, &pb), MV_OK);
  const double *th = tr.final_state;
  ck_assert_int_eq (mv_spec_raw_d (NULL, NULL, grad, gerr, th, th + m * d, Vt, Wt, d, 0.0, ws),
                    MV_OK);
  mv_spec_raw_products_d (K, grad, 2 * m * d);
  mv_spec_cosines (cr, K, NULL);
  double worst = 0;
  for (size_t k = 0; k < NO * NO; k++)
    {
      double cg = cos[(R - 1) * NO * NO + k];
      if (isnan (cr[k]) || isnan (cg))
        {
          ck_assert_msg (isnan (cr[k]) && isnan (cg), "entry %zu: raw %g gram %g", k, cr[k], cg);
          continue;
        }
      worst = fmax (worst, fabs (cr[k] - cg));
      /* the record holds G rounded from the raw state: 1e-12 is generous */
      MV_CHECK_CLOSE_D (cr[k], cg, 0, 1e-12, "cosine at the end of the full flow");
    }
  fprintf (stderr, "full flow end: Gram-level vs raw cosines, worst %.3g\n", worst);
  free (val), free (cos);
  mv_spec_free (ws);
  mv_traj_clear (&tr);
  mv_problem_clear (&pb);
}
END_TEST

static Suite *
specialize_suite (void)
{
  Suite *s = suite_create ("specialize");
  TCase *tc = tcase_create ("core");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_gram_vs_raw);
  tcase_add_test (tc, test_cosine_matrix);
  tcase_add_test (tc, test_zero_gradient_undefined);
  tcase_add_test (tc, test_objectives_sum);
  tcase_add_test (tc, test_redundant);
  tcase_add_test (tc, test_traj_full_end);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return mv_test_run (specialize_suite ());
}
