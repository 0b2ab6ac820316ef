/* Population loss and gradient: exact identities (MATH.md §2, §4), the
 * precision ladder, double vs MPFR paths, and finite differences. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_randist.h>
#include <moeverify/moeverify.h>

#define EPI2 "0.293379035858092962737649171281901159"   /* E[pi(z)^2] */

typedef struct {
  size_t m, d;
  mpfr_t L, *gV, *gW;
  mv_loss_info info;
} mp_eval;

static void
mp_eval_run (mp_eval *e, const mv_problem *pb, mpfr_prec_t prec)
{
  e->m = pb->m, e->d = pb->d;
  mpfr_init2 (e->L, prec);
  e->gV = malloc (pb->m * pb->d * sizeof (mpfr_t));
  e->gW = malloc (pb->m * pb->d * sizeof (mpfr_t));
  for (size_t i = 0; i < pb->m * pb->d; i++)
    mpfr_init2 (e->gV[i], prec), mpfr_init2 (e->gW[i], prec);
  mv_loss_ws *ws = mv_loss_alloc (pb->m, pb->mstar, prec);
  ck_assert_msg (ws != NULL, "%s", mv_error_message ());
  int s = mv_loss_eval (e->L, e->gV, e->gW, &e->info, pb, ws);
  ck_assert_msg (s == MV_OK, "%s", mv_error_message ());
  mv_loss_free (ws);
}

static void
mp_eval_clear (mp_eval *e)
{
  mpfr_clear (e->L);
  for (size_t i = 0; i < e->m * e->d; i++)
    mpfr_clear (e->gV[i]), mpfr_clear (e->gW[i]);
  free (e->gV), free (e->gW);
}

static double
d_eval (double *gV, double *gW, mv_loss_info *info, const mv_problem *pb)
{
  mv_loss_ws *ws = mv_loss_alloc (pb->m, pb->mstar, 53);
  ck_assert_ptr_nonnull (ws);
  double L;
  ck_assert_int_eq (mv_loss_eval_d (&L, gV, gW, info, pb, ws), MV_OK);
  mv_loss_free (ws);
  return L;
}

static void
random_rows (double *A, size_t rows, size_t d, gsl_rng *r)
{
  for (size_t i = 0; i < rows * d; i++)
    A[i] = gsl_ran_gaussian (r, 1.0);
}

/* Problem with random explicit teacher and student vectors. */
static void
random_problem (mv_problem *pb, size_t d, size_t m, size_t ms, unsigned long seed)
{
  gsl_rng *r = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (r, seed);
  double *V = malloc (m * d * sizeof *V), *W = malloc (m * d * sizeof *W);
  double *Vt = malloc (ms * d * sizeof *Vt), *Wt = malloc (ms * d * sizeof *Wt);
  random_rows (V, m, d, r), random_rows (W, m, d, r);
  random_rows (Vt, ms, d, r), random_rows (Wt, ms, d, r);
  ck_assert_int_eq (mv_problem_set_d (pb, d, m, ms, V, W, Vt, Wt, 0.0), MV_OK);
  free (V), free (W), free (Vt), free (Wt);
  gsl_rng_free (r);
}

static double
mp_max_abs (mpfr_t *a, size_t n)
{
  double x = 0;
  for (size_t i = 0; i < n; i++)
    x = fmax (x, fabs (mpfr_get_d (a[i], MPFR_RNDN)));
  return x;
}

/* ------------------------------------------------------------------ */

START_TEST (t_student_is_teacher)
{
  size_t d = 6, m = 2;
  gsl_rng *r = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (r, 7);
  double V[12], W[12], Vp[12], Wp[12];
  random_rows (V, m, d, r), random_rows (W, m, d, r);
  /* student = teacher with the experts listed in the other order */
  memcpy (Vp, V + d, d * sizeof *V), memcpy (Vp + d, V, d * sizeof *V);
  memcpy (Wp, W + d, d * sizeof *W), memcpy (Wp + d, W, d * sizeof *W);
  mv_problem pb;
  ck_assert_int_eq (mv_problem_set_d (&pb, d, m, m, Vp, Wp, V, W, 0.0), MV_OK);
  mp_eval e;
  mp_eval_run (&e, &pb, 256);
  double L = fabs (mpfr_get_d (e.L, MPFR_RNDN));
  ck_assert_msg (L <= MV_MAG_D (e.info.err) && L < 1e-70, "L = %g, bound %g", L, MV_MAG_D (e.info.err));
  double g = fmax (mp_max_abs (e.gV, m * d), mp_max_abs (e.gW, m * d));
  ck_assert_msg (g <= MV_MAG_D (e.info.grad_err) && g < 1e-65, "|grad| = %g, bound %g", g, MV_MAG_D (e.info.grad_err));
  mp_eval_clear (&e);
  double gV[12], gW[12];
  mv_loss_info info;
  double Ld = d_eval (gV, gW, &info, &pb);
  ck_assert_msg (fabs (Ld) <= 1e-14 * info.abs_terms, "double L = %g", Ld);
  mv_problem_clear (&pb);
  gsl_rng_free (r);
}
END_TEST

/* m = m* = 1, student router orthogonal to every other vector:
 * L = 6 E[pi^2] - (3/2) beta^3 with beta = w.w* (MATH.md §2 check values). */
START_TEST (t_independent_router)
{
  double Vt[5] = { 1, 0, 0, 0, 0 }, Wt[5] = { 0, 1, 0, 0, 0 };
  double V[5] = { 0, 0, 1, 0, 0 }, W[5] = { 0, 0.75, 0, 1, 0 };  /* beta = 0.6 */
  mv_problem pb;
  ck_assert_int_eq (mv_problem_set_d (&pb, 5, 1, 1, V, W, Vt, Wt, 0.0), MV_OK);
  mp_eval e;
  mp_eval_run (&e, &pb, 256);
  mpfr_t ref;
  mpfr_init2 (ref, 256);
  mpfr_set_str (ref, EPI2, 10, MPFR_RNDN);
  mpfr_mul_ui (ref, ref, 6, MPFR_RNDN);
  mpfr_t b3;
  mpfr_init2 (b3, 256);
  mpfr_set_str (b3, "0.216", 10, MPFR_RNDN);       /* 0.6^3 */
  mpfr_mul_d (b3, b3, 1.5, MPFR_RNDN);
  mpfr_sub (ref, ref, b3, MPFR_RNDN);
  mpfr_clear (b3);
  MV_CHECK_DIGITS (e.L, ref, 35, 0, "6E[pi^2] - 1.5 beta^3");
  mpfr_clear (ref);
  mp_eval_clear (&e);

  /* flipping w flips the expert's sign: with student = teacher,
   * L(-w) = 2 P_self = 4 x (1/2) E[f^2] */
  double Wn[5] = { 0, -1, 0, 0, 0 };
  mv_problem_clear (&pb);
  ck_assert_int_eq (mv_problem_set_d (&pb, 5, 1, 1, Vt, Wn, Vt, Wt, 0.0), MV_OK);
  mp_eval_run (&e, &pb, 256);
  mpfr_init2 (ref, 256);
  mpfr_set_str (ref, EPI2, 10, MPFR_RNDN);
  mpfr_mul_ui (ref, ref, 12, MPFR_RNDN);            /* 2 * 6 E[pi^2] */
  MV_CHECK_DIGITS (e.L, ref, 35, 0, "flipped expert");
  mpfr_clear (ref);
  mp_eval_clear (&e);
  mv_problem_clear (&pb);
}
END_TEST

/* Label noise adds s^2/2 to L and nothing to the gradient. */
START_TEST (t_noise)
{
  mv_problem a, b;
  random_problem (&a, 4, 2, 1, 3);
  double *V = malloc (8 * sizeof *V), *W = malloc (8 * sizeof *W);
  double *Vt = malloc (4 * sizeof *V), *Wt = malloc (4 * sizeof *W);
  ck_assert_int_eq (mv_problem_vectors_d (V, W, Vt, Wt, &a), MV_OK);
  ck_assert_int_eq (mv_problem_set_d (&b, 4, 2, 1, V, W, Vt, Wt, 0.25), MV_OK);
  double gV[8], gW[8], hV[8], hW[8];
  mv_loss_info info;
  double La = d_eval (gV, gW, &info, &a), Lb = d_eval (hV, hW, &info, &b);
  MV_CHECK_CLOSE_D (Lb - La, 0.125, 1e-14, 0, "noise adds s^2/2");
  for (int i = 0; i < 8; i++)
    MV_CHECK_CLOSE_D (gV[i], hV[i], 0, 0, "noise: grad V"),
    MV_CHECK_CLOSE_D (gW[i], hW[i], 0, 0, "noise: grad W");
  free (V), free (W), free (Vt), free (Wt);
  mv_problem_clear (&a), mv_problem_clear (&b);
}
END_TEST

/* Permuting the students permutes the gradient and keeps L; a signed
 * permutation of coordinates (an exact rotation) keeps L and rotates the
 * gradient; a general rotation keeps L to rounding. */
START_TEST (t_invariance)
{
  size_t d = 5, m = 3, ms = 2;
  mv_problem a, b;
  random_problem (&a, d, m, ms, 11);
  double V[15], W[15], Vt[10], Wt[10], V2[15], W2[15], Vt2[10], Wt2[10];
  ck_assert_int_eq (mv_problem_vectors_d (V, W, Vt, Wt, &a), MV_OK);
  const int perm[3] = { 2, 0, 1 }, cp[5] = { 3, 0, 4, 1, 2 };
  const double sg[5] = { 1, -1, -1, 1, -1 };
  for (size_t i = 0; i < m; i++)
    for (size_t c = 0; c < d; c++)
      {
        V2[i * d + cp[c]] = sg[c] * V[perm[i] * d + c];
        W2[i * d + cp[c]] = sg[c] * W[perm[i] * d + c];
      }
  for (size_t j = 0; j < ms; j++)
    for (size_t c = 0; c < d; c++)
      {
        Vt2[j * d + cp[c]] = sg[c] * Vt[j * d + c];
        Wt2[j * d + cp[c]] = sg[c] * Wt[j * d + c];
      }
  ck_assert_int_eq (mv_problem_set_d (&b, d, m, ms, V2, W2, Vt2, Wt2, 0.0), MV_OK);
  mp_eval ea, eb;
  mp_eval_run (&ea, &a, 256);
  mp_eval_run (&eb, &b, 256);
  MV_CHECK_DIGITS (ea.L, eb.L, 70, 0, "L under permutation + signed coordinate permutation");
  mpfr_t x;
  mpfr_init2 (x, 256);
  double scale = mp_max_abs (ea.gV, m * d) + mp_max_abs (ea.gW, m * d);
  for (size_t i = 0; i < m; i++)
    for (size_t c = 0; c < d; c++)
      {
        mpfr_mul_d (x, ea.gV[perm[i] * d + c], sg[c], MPFR_RNDN);
        MV_CHECK_DIGITS (x, eb.gV[i * d + cp[c]], 65, scale, "grad V permuted");
        mpfr_mul_d (x, ea.gW[perm[i] * d + c], sg[c], MPFR_RNDN);
        MV_CHECK_DIGITS (x, eb.gW[i * d + cp[c]], 65, scale, "grad W permuted");
      }
  mpfr_clear (x);
  mp_eval_clear (&ea), mp_eval_clear (&eb);

  /* general rotation (Householder), double path */
  double hv[5] = { 0.3, -1.1, 0.7, 0.2, 0.5 }, hn = 0;
  for (int c = 0; c < 5; c++)
    hn += hv[c] * hv[c];
  double *rows[4] = { V, W, Vt, Wt };
  size_t nr[4] = { m, m, ms, ms };
  for (int k = 0; k < 4; k++)
    for (size_t i = 0; i < nr[k]; i++)
      {
        double *u = rows[k] + i * d, p = 0;
        for (size_t c = 0; c < d; c++)
          p += hv[c] * u[c];
        for (size_t c = 0; c < d; c++)
          u[c] -= 2 * p / hn * hv[c];
      }
  mv_problem_clear (&b);
  ck_assert_int_eq (mv_problem_set_d (&b, d, m, ms, V, W, Vt, Wt, 0.0), MV_OK);
  mv_loss_info ia, ib;
  double g[15], h[15];
  double La = d_eval (g, h, &ia, &a), Lb = d_eval (g, h, &ib, &b);
  MV_CHECK_CLOSE_D (La, Lb, 0, 1e-14 * ia.abs_terms, "L under a Householder rotation");
  mv_problem_clear (&a), mv_problem_clear (&b);
}
END_TEST

/* The gradient is orthogonal to each raw vector (so norms are conserved
 * by the flow). */
START_TEST (t_gradient_orthogonal)
{
  size_t d = 7, m = 3, ms = 2;
  mv_problem pb;
  random_problem (&pb, d, m, ms, 5);
  mp_eval e;
  mp_eval_run (&e, &pb, 256);
  double V[21], W[21], Vt[14], Wt[14];
  ck_assert_int_eq (mv_problem_vectors_d (V, W, Vt, Wt, &pb), MV_OK);
  mpfr_t s;
  mpfr_init2 (s, 256);
  for (size_t i = 0; i < m; i++)
    for (int which = 0; which < 2; which++)
      {
        mpfr_t *g = which ? e.gW : e.gV;
        double *u = which ? W : V, gn = 0, un = 0;
        mpfr_set_zero (s, 1);
        for (size_t c = 0; c < d; c++)
          {
            mpfr_t t;
            mpfr_init2 (t, 256);
            mpfr_mul_d (t, g[i * d + c], u[i * d + c], MPFR_RNDN);
            mpfr_add (s, s, t, MPFR_RNDN);
            mpfr_clear (t);
            double gc = mpfr_get_d (g[i * d + c], MPFR_RNDN);
            gn += gc * gc, un += u[i * d + c] * u[i * d + c];
          }
        double dot = fabs (mpfr_get_d (s, MPFR_RNDN));
        ck_assert_msg (dot <= 1e-70 * sqrt (gn * un) + 1e-75,
                       "student %zu %s: grad.u = %g (|g| %g |u| %g)", i,
                       which ? "w" : "v", dot, sqrt (gn), sqrt (un));
      }
  mpfr_clear (s);
  mp_eval_clear (&e);
  mv_problem_clear (&pb);
}
END_TEST

/* Precision ladder: the result at p bits agrees with the one at 2p bits
 * within the error bound claimed at p bits. */
START_TEST (t_ladder)
{
  size_t d = 6, m = 3, ms = 2;
  mv_problem pb;
  random_problem (&pb, d, m, ms, 17);
  const mpfr_prec_t pr[4] = { 64, 128, 256, 512 };
  mp_eval e[4];
  for (int i = 0; i < 4; i++)
    mp_eval_run (&e[i], &pb, pr[i]);
  for (int i = 0; i < 3; i++)
    {
      ck_assert_msg (MV_MAG_D (e[i].info.err) < ldexp (1.0, 16 - (int) pr[i]),
                     "%ld bits: error bound %g too weak", (long) pr[i], MV_MAG_D (e[i].info.err));
      MV_CHECK_CLOSE_ABS (e[i].L, e[i + 1].L, MV_MAG_D (e[i].info.err) + MV_MAG_D (e[i + 1].info.err), "ladder L");
      for (size_t k = 0; k < m * d; k++)
        {
          double tol = MV_MAG_D (e[i].info.grad_err) + MV_MAG_D (e[i + 1].info.grad_err);
          MV_CHECK_CLOSE_ABS (e[i].gV[k], e[i + 1].gV[k], tol, "ladder grad V");
          MV_CHECK_CLOSE_ABS (e[i].gW[k], e[i + 1].gW[k], tol, "ladder grad W");
        }
    }
  for (int i = 0; i < 4; i++)
    mp_eval_clear (&e[i]);
  mv_problem_clear (&pb);
}
END_TEST

static void
check_double_vs_mpfr (const mv_problem *pb, const char *what)
{
  size_t n = pb->m * pb->d;
  double *gV = malloc (n * sizeof *gV), *gW = malloc (n * sizeof *gW);
  mv_loss_info id;
  double Ld = d_eval (gV, gW, &id, pb);
  mp_eval e;
  mp_eval_run (&e, pb, 256);
  double Lm = mpfr_get_d (e.L, MPFR_RNDN);
  fprintf (stderr, "%s: L = %.17g, condition %.3g, |Ld - L| = %.3g (bound %.3g)\n",
           what, Lm, e.info.cond, fabs (Ld - Lm), MV_MAG_D (id.err));
  MV_CHECK_CLOSE_D (Ld, Lm, 0, 1e-13 * e.info.abs_terms, what);
  MV_CHECK_CLOSE_D (Ld, Lm, 0, MV_MAG_D (id.err), "double L within its own bound");
  double gs = fmax (mp_max_abs (e.gV, n), mp_max_abs (e.gW, n)), worst = 0;
  for (size_t k = 0; k < n; k++)
    {
      worst = fmax (worst, fabs (gV[k] - mpfr_get_d (e.gV[k], MPFR_RNDN)));
      worst = fmax (worst, fabs (gW[k] - mpfr_get_d (e.gW[k], MPFR_RNDN)));
    }
  /* like L, the gradient is a sum of terms of size abs_terms */
  ck_assert_msg (worst <= 1e-13 * fmax (gs, e.info.abs_terms) && worst <= MV_MAG_D (id.grad_err),
                 "%s: gradient double vs mpfr differ by %.3g (max |g| %.3g, bound %.3g)",
                 what, worst, gs, MV_MAG_D (id.grad_err));
  mp_eval_clear (&e);
  free (gV), free (gW);
}

START_TEST (t_double_vs_mpfr_paper)
{
  mv_problem pb;
  const char *spec = "{\"d\": 1000, \"teacher\": {\"m\": 5, \"init\": {\"kind\": "
    "\"orthonormal\", \"seed\": 1}}, \"student\": {\"m\": 25, \"init\": "
    "{\"kind\": \"gaussian\", \"seed\": 2}}}";
  ck_assert_msg (mv_problem_parse (&pb, spec, "paper") == MV_OK, "%s", mv_error_message ());
  check_double_vs_mpfr (&pb, "paper setting");
  mv_problem_clear (&pb);
}
END_TEST

/* Near the teacher L is a small difference of large terms. */
START_TEST (t_double_vs_mpfr_near_teacher)
{
  size_t d = 8, m = 2;
  gsl_rng *r = gsl_rng_alloc (gsl_rng_mt19937);
  gsl_rng_set (r, 23);
  double V[16], W[16], Vs[16], Ws[16];
  random_rows (V, m, d, r), random_rows (W, m, d, r);
  for (int i = 0; i < 16; i++)
    Vs[i] = V[i] + 1e-4 * gsl_ran_gaussian (r, 1), Ws[i] = W[i] + 1e-4 * gsl_ran_gaussian (r, 1);
  mv_problem pb;
  ck_assert_int_eq (mv_problem_set_d (&pb, d, m, m, Vs, Ws, V, W, 0.0), MV_OK);
  check_double_vs_mpfr (&pb, "near teacher");
  mv_problem_clear (&pb);
  gsl_rng_free (r);
}
END_TEST

/* Gradient against 6th-order central differences at 256 bits.  Dyadic
 * vectors and step make every perturbed point exact. */
START_TEST (t_finite_differences)
{
  size_t d = 4, m = 2, ms = 1;
  double V[8] = { 0.5, -0.25, 0.75, 0.125, -0.375, 0.5, 0.25, -0.625 };
  double W[8] = { 0.25, 0.875, -0.5, 0.375, 0.625, -0.125, 0.5, 0.75 };
  double Vt[4] = { 0.75, 0.25, -0.125, 0.5 }, Wt[4] = { -0.25, 0.5, 0.625, 0.375 };
  mv_problem pb;
  ck_assert_int_eq (mv_problem_set_d (&pb, d, m, ms, V, W, Vt, Wt, 0.0), MV_OK);
  mpfr_prec_t prec = 256;
  mp_eval e;
  mp_eval_run (&e, &pb, prec);
  mv_loss_ws *ws = mv_loss_alloc (m, ms, prec);
  const double h = ldexp (1.0, -14);
  const int off[6] = { -3, -2, -1, 1, 2, 3 };
  const double cf[6] = { -1, 9, -45, 45, -9, 1 };
  mpfr_t L, fd;
  mpfr_inits2 (prec, L, fd, (mpfr_ptr) 0);
  double gscale = fmax (mp_max_abs (e.gV, m * d), mp_max_abs (e.gW, m * d));
  for (int which = 0; which < 2; which++)
    for (size_t k = 0; k < m * d; k++)
      {
        mpfr_set_zero (fd, 1);
        for (int j = 0; j < 6; j++)
          {
            double Vp[8], Wp[8];
            memcpy (Vp, V, sizeof V), memcpy (Wp, W, sizeof W);
            (which ? Wp : Vp)[k] += off[j] * h;
            ck_assert_int_eq (mv_problem_set_student_d (&pb, Vp, Wp), MV_OK);
            ck_assert_int_eq (mv_loss_eval (L, NULL, NULL, NULL, &pb, ws), MV_OK);
            mpfr_mul_d (L, L, cf[j], MPFR_RNDN);
            mpfr_add (fd, fd, L, MPFR_RNDN);
          }
        mpfr_div_d (fd, fd, 60 * h, MPFR_RNDN);
        MV_CHECK_DIGITS (fd, (which ? e.gW : e.gV)[k], 20, gscale, "gradient vs finite differences");
      }
  mpfr_clears (L, fd, (mpfr_ptr) 0);
  mv_loss_free (ws);
  mp_eval_clear (&e);
  mv_problem_clear (&pb);
}
END_TEST

/* Gram-level MPFR and double agree; dL/dG vs finite differences in G. */
START_TEST (t_gram_level)
{
  size_t m = 2, ms = 1, n = 2 * (m + ms), d = 6;
  mv_problem pb;
  random_problem (&pb, d, m, ms, 31);
  double U[36];
  ck_assert_int_eq (mv_problem_vectors_d (U, U + m * d, U + 2 * m * d, U + (2 * m + ms) * d, &pb), MV_OK);
  for (size_t k = 0; k < n; k++)
    {
      double s = 0;
      for (size_t i = 0; i < d; i++)
        s += U[k * d + i] * U[k * d + i];
      for (size_t i = 0; i < d; i++)
        U[k * d + i] /= sqrt (s);
    }
  double G[36], g[36];
  for (size_t k = 0; k < n; k++)
    for (size_t l = 0; l < n; l++)
      {
        double s = 0;
        for (size_t i = 0; i < d; i++)
          s += U[k * d + i] * U[l * d + i];
        G[k * n + l] = k == l ? 1.0 : s;
      }
  mv_loss_ws *ws = mv_loss_alloc (m, ms, 128);
  double L;
  mv_loss_info info;
  ck_assert_int_eq (mv_loss_gram_d (&L, g, &info, G, 0.0, ws), MV_OK);
  mpfr_t Gm[36], gm[36], Lm;
  for (int i = 0; i < 36; i++)
    mpfr_init2 (Gm[i], 128), mpfr_set_d (Gm[i], G[i], MPFR_RNDN), mpfr_init2 (gm[i], 128);
  mpfr_init2 (Lm, 128);
  ck_assert_int_eq (mv_loss_gram (Lm, gm, &info, Gm, 0.0, ws), MV_OK);
  MV_CHECK_CLOSE_D (L, mpfr_get_d (Lm, MPFR_RNDN), 1e-14, 0, "gram L double vs mpfr");
  for (int i = 0; i < 36; i++)
    MV_CHECK_CLOSE_D (g[i], mpfr_get_d (gm[i], MPFR_RNDN), 1e-13, 1e-15, "dL/dG double vs mpfr");
  /* dL/dG_kl by central differences of the Gram-level loss (k < l, student rows) */
  double h = 1e-5;
  for (size_t k = 0; k < 2 * m; k++)
    for (size_t l = k + 1; l < n; l++)
      {
        double Lp, Lmn, Gp[36];
        memcpy (Gp, G, sizeof G);
        Gp[k * n + l] = Gp[l * n + k] = G[k * n + l] + h;
        mv_loss_gram_d (&Lp, NULL, NULL, Gp, 0.0, ws);
        Gp[k * n + l] = Gp[l * n + k] = G[k * n + l] - h;
        mv_loss_gram_d (&Lmn, NULL, NULL, Gp, 0.0, ws);
        MV_CHECK_CLOSE_D ((Lp - Lmn) / (2 * h), g[k * n + l], 1e-7, 1e-8, "dL/dG vs FD");
      }
  for (int i = 0; i < 36; i++)
    mpfr_clear (Gm[i]), mpfr_clear (gm[i]);
  mpfr_clear (Lm);
  mv_loss_free (ws);
  mv_problem_clear (&pb);
}
END_TEST

START_TEST (t_bad_input)
{
  ck_assert_ptr_null (mv_loss_alloc (0, 1, 128));
  ck_assert_ptr_null (mv_loss_alloc (1, 1, 20));
  mv_problem pb;
  random_problem (&pb, 3, 2, 1, 1);
  mv_loss_ws *ws = mv_loss_alloc (1, 1, 53);
  double L;
  ck_assert_int_eq (mv_loss_eval_d (&L, NULL, NULL, NULL, &pb, ws), MV_EINVAL);
  mv_loss_free (ws);
  mv_problem_clear (&pb);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("loss");
  TCase *tc = tcase_create ("identities");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, t_student_is_teacher);
  tcase_add_test (tc, t_independent_router);
  tcase_add_test (tc, t_noise);
  tcase_add_test (tc, t_invariance);
  tcase_add_test (tc, t_gradient_orthogonal);
  tcase_add_test (tc, t_bad_input);
  suite_add_tcase (s, tc);
  TCase *tn = tcase_create ("numerics");
  tcase_set_timeout (tn, 300);
  tcase_add_test (tn, t_ladder);
  tcase_add_test (tn, t_double_vs_mpfr_paper);
  tcase_add_test (tn, t_double_vs_mpfr_near_teacher);
  tcase_add_test (tn, t_finite_differences);
  tcase_add_test (tn, t_gram_level);
  suite_add_tcase (s, tn);
  return mv_test_run (s);
}
