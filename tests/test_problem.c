/* Problem specs (problem.h) and the I/O helpers (io.h): both example specs,
 * deterministic generated vectors, orthonormal teachers in double and MPFR,
 * the cross-overlap layout, exact decimal strings, one-line errors naming
 * file and key for every class of bad input, canonical JSON, explicit
 * construction; Gram matrices (from the vectors, and sampled in law without
 * them: distributional agreement, d = 10^9 and 10^12); digit counting,
 * number formatting, atomic writes.  MV_TEST_VERBOSE=1 prints the measured
 * statistics of the Gram-law comparison. */
#include "testutil.h"

#include <dirent.h>
#include <sys/stat.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <moeverify/error.h>
#include <moeverify/io.h>
#include <moeverify/problem.h>

/* ------------------------------------------------------------ helpers */

static mpfr_t *
mp_new (size_t n, mpfr_prec_t prec)
{
  mpfr_t *a = malloc (n * sizeof *a);
  for (size_t i = 0; i < n; i++)
    mpfr_init2 (a[i], prec);
  return a;
}

static void
mp_free (mpfr_t *a, size_t n)
{
  for (size_t i = 0; i < n; i++)
    mpfr_clear (a[i]);
  free (a);
}

static double
dot_d (const double *a, const double *b, size_t d)
{
  double s = 0;
  for (size_t k = 0; k < d; k++)
    s += a[k] * b[k];
  return s;
}

/* max |<x_i, y_j> - target_ij| over rows of X (nx x d) and Y (ny x d);
 * target NULL means the identity. */
static double
gram_dev_d (const double *X, size_t nx, const double *Y, size_t ny, size_t d,
            const double *target)
{
  double dev = 0;
  for (size_t i = 0; i < nx; i++)
    for (size_t j = 0; j < ny; j++)
      {
        double t = target ? target[i * ny + j] : (double) (i == j);
        double e = fabs (dot_d (X + i * d, Y + j * d, d) - t);
        dev = e > dev ? e : dev;
      }
  return dev;
}

/* Same in MPFR at precision prec; target entries are decimal strings. */
static double
gram_dev_mp (mpfr_t *X, size_t nx, mpfr_t *Y, size_t ny, size_t d,
             const char *const *target, mpfr_prec_t prec)
{
  mpfr_t s, t;
  mpfr_inits2 (prec + 64, s, t, (mpfr_ptr) 0);
  double dev = 0;
  for (size_t i = 0; i < nx; i++)
    for (size_t j = 0; j < ny; j++)
      {
        mpfr_set_zero (s, 1);
        for (size_t k = 0; k < d; k++)
          mpfr_fma (s, X[i * d + k], Y[j * d + k], s, MPFR_RNDN);
        if (target)
          mpfr_set_str (t, target[i * ny + j], 10, MPFR_RNDN);
        else
          mpfr_set_ui (t, i == j, MPFR_RNDN);
        mpfr_sub (s, s, t, MPFR_RNDN);
        double e = fabs (mpfr_get_d (s, MPFR_RNDU));
        dev = e > dev ? e : dev;
      }
  mpfr_clears (s, t, (mpfr_ptr) 0);
  return dev;
}

static const char SMALL[] =
  "{\"d\": 3, \"teacher\": {\"m\": 1, \"V\": [[1, 0, 0]], \"W\": [[0, 1, 0]]},"
  " \"student\": {\"m\": 1, \"V\": [[\"0.6\", \"0.8\", \"0\"]],"
  " \"W\": [[0.1, 0.2, 0.9]]}}";

static void
parse_ok (mv_problem *pb, const char *text)
{
  int st = mv_problem_parse (pb, text, "t.json");
  ck_assert_msg (st == MV_OK, "parse failed: %s", mv_error_message ());
}

/* ------------------------------------------------------------ examples */

START_TEST (t_example_small)
{
  mv_problem pb;
  int st = mv_problem_read (&pb, mv_test_data ("example_small.json"));
  ck_assert_msg (st == MV_OK, "%s", mv_error_message ());
  ck_assert_uint_eq (pb.d, 3);
  ck_assert_uint_eq (pb.m, 1);
  ck_assert_uint_eq (pb.mstar, 1);
  ck_assert (pb.noise_var == 0);
  ck_assert_ptr_nonnull (strstr (pb.name, "example_small.json"));
  double V[3], W[3], Vt[3], Wt[3];
  ck_assert_int_eq (mv_problem_vectors_d (V, W, Vt, Wt, &pb), MV_OK);
  ck_assert (V[0] == 0.6 && V[1] == 0.8 && V[2] == 0);
  ck_assert (W[0] == 0.1 && W[1] == 0.2 && W[2] == 0.9);
  ck_assert (Vt[0] == 1 && Vt[1] == 0 && Wt[1] == 1 && Wt[2] == 0);
  mv_problem_clear (&pb);
  ck_assert_ptr_null (pb.priv);
  mv_problem_clear (&pb);  /* clearing twice is harmless */
}
END_TEST

START_TEST (t_example_paper)
{
  mv_problem pb;
  int st = mv_problem_read (&pb, mv_test_data ("example_paper.json"));
  ck_assert_msg (st == MV_OK, "%s", mv_error_message ());
  ck_assert_uint_eq (pb.d, 1000);
  ck_assert_uint_eq (pb.m, 25);
  ck_assert_uint_eq (pb.mstar, 5);
  size_t d = 1000;
  double *V = malloc (25 * d * sizeof *V), *W = malloc (25 * d * sizeof *W);
  double *Vt = malloc (5 * d * sizeof *Vt), *Wt = malloc (5 * d * sizeof *Wt);
  ck_assert_int_eq (mv_problem_vectors_d (V, W, Vt, Wt, &pb), MV_OK);
  /* N(0, I/d) draws: norms near 1; routers orthogonal to their experts */
  for (size_t i = 0; i < 25; i++)
    {
      double nv = sqrt (dot_d (V + i * d, V + i * d, d));
      double nw = sqrt (dot_d (W + i * d, W + i * d, d));
      ck_assert_msg (nw > 0.85 && nw < 1.15, "|w_%zu| = %g", i, nw);
      ck_assert_msg (nv > 0.85 && nv < 1.15, "|v_%zu| = %g", i, nv);
      double c = dot_d (V + i * d, W + i * d, d) / (nv * nw);
      ck_assert_msg (fabs (c) < 1e-15, "cos(v_%zu, w_%zu) = %g", i, i, c);
    }
  /* all 10 teacher vectors mutually orthonormal */
  double *T = malloc (10 * d * sizeof *T);
  memcpy (T, Vt, 5 * d * sizeof *T);
  memcpy (T + 5 * d, Wt, 5 * d * sizeof *T);
  double dev = gram_dev_d (T, 10, T, 10, d, NULL);
  ck_assert_msg (dev < 4e-15, "teacher Gram - I = %g", dev);
  free (V), free (W), free (Vt), free (Wt), free (T);
  mv_problem_clear (&pb);
}
END_TEST

/* ------------------------------------------------------------ generation */

static void
student_d (double *V, double *W, size_t m, size_t d, const char *init)
{
  char text[512];
  snprintf (text, sizeof text, "{\"d\": %zu, \"teacher\": {\"m\": 1, "
            "\"init\": {\"kind\": \"orthonormal\", \"seed\": 5}}, \"student\":"
            " {\"m\": %zu, \"init\": %s}}", d, m, init);
  mv_problem pb;
  parse_ok (&pb, text);
  ck_assert_int_eq (mv_problem_vectors_d (V, W, NULL, NULL, &pb), MV_OK);
  mv_problem_clear (&pb);
}

START_TEST (t_student_deterministic)
{
  enum { M = 4, D = 50 };
  static double V1[M * D], W1[M * D], V2[M * D], W2[M * D], V3[M * D],
    W3[M * D], V4[M * D], W4[M * D];
  student_d (V1, W1, M, D, "{\"kind\": \"gaussian\", \"seed\": 7}");
  student_d (V2, W2, M, D, "{\"kind\": \"gaussian\", \"seed\": 7}");
  student_d (V3, W3, M, D, "{\"kind\": \"gaussian\", \"seed\": 8}");
  student_d (V4, W4, M, D, "{\"kind\": \"gaussian\", \"seed\": 7, "
             "\"router_orthogonal\": false}");
  ck_assert (!memcmp (V1, V2, sizeof V1) && !memcmp (W1, W2, sizeof W1));
  ck_assert (memcmp (W1, W3, sizeof W1) && memcmp (V1, V3, sizeof V1));
  /* same draws: experts identical, routers differ only by the projection */
  ck_assert (!memcmp (W1, W4, sizeof W1));
  for (size_t i = 0; i < M; i++)
    {
      const double *v = V1 + i * D, *w = W1 + i * D, *vh = V4 + i * D;
      double c = dot_d (v, w, D) / sqrt (dot_d (v, v, D) * dot_d (w, w, D));
      ck_assert_msg (fabs (c) < 1e-15, "router_orthogonal: cos = %g", c);
      double ch = dot_d (vh, w, D) / sqrt (dot_d (vh, vh, D)
                                           * dot_d (w, w, D));
      ck_assert_msg (fabs (ch) > 1e-6, "unprojected router cos = %g", ch);
      /* v = vh - (w.vh / w.w) w */
      double a = dot_d (w, vh, D) / dot_d (w, w, D);
      for (size_t k = 0; k < D; k++)
        MV_CHECK_CLOSE_D (v[k], vh[k] - a * w[k], 0, 0, "projection");
    }
}
END_TEST

START_TEST (t_teacher_mpfr)
{
  static const char text[] =
    "{\"d\": 1000, \"teacher\": {\"m\": 5, \"init\": {\"kind\": "
    "\"orthonormal\", \"seed\": 1}}, \"student\": {\"m\": 1, \"init\": "
    "{\"kind\": \"gaussian\", \"seed\": 2}}}";
  enum { D = 1000, MS = 5 };
  mv_problem pb;
  parse_ok (&pb, text);
  mpfr_t *T = mp_new (2 * MS * D, 256);
  ck_assert_int_eq (mv_problem_vectors (NULL, NULL, T, T + MS * D, &pb),
                    MV_OK);
  double dev = gram_dev_mp (T, 2 * MS, T, 2 * MS, D, NULL, 256);
  ck_assert_msg (dev < 1e-70, "256-bit teacher Gram - I = %g", dev);
  /* same mathematical teacher as the double path */
  static double Vt[MS * D], Wt[MS * D];
  ck_assert_int_eq (mv_problem_vectors_d (NULL, NULL, Vt, Wt, &pb), MV_OK);
  for (size_t i = 0; i < MS * D; i++)
    {
      MV_CHECK_CLOSE_D (mpfr_get_d (T[i], MPFR_RNDN), Vt[i], 0, 1e-14, "v*");
      MV_CHECK_CLOSE_D (mpfr_get_d (T[MS * D + i], MPFR_RNDN), Wt[i], 0,
                        1e-14, "w*");
    }
  mp_free (T, 2 * MS * D);
  mv_problem_clear (&pb);
}
END_TEST

static const char *const CROSS[9] = {
  "0.5", "0", "-0.25",
  "0", "0.3", "0.1",
  "0.125", "0", "0"
};

START_TEST (t_teacher_separate)
{
  static const char text[] =
    "{\"d\": 20, \"teacher\": {\"m\": 3, \"init\": {\"kind\": "
    "\"orthonormal\", \"seed\": 3, \"layout\": \"separate\", \"cross\": "
    "[[0.5, 0, -0.25], [0, \"0.3\", \"0.1\"], [0.125, 0, 0]]}}, "
    "\"student\": {\"m\": 2, \"init\": {\"kind\": \"gaussian\", "
    "\"seed\": 2}}}";
  enum { D = 20, MS = 3 };
  mv_problem pb;
  parse_ok (&pb, text);
  double Vt[MS * D], Wt[MS * D], C[9];
  for (int i = 0; i < 9; i++)
    C[i] = strtod (CROSS[i], NULL);
  ck_assert_int_eq (mv_problem_vectors_d (NULL, NULL, Vt, Wt, &pb), MV_OK);
  double e1 = gram_dev_d (Vt, MS, Vt, MS, D, NULL);
  double e2 = gram_dev_d (Wt, MS, Wt, MS, D, NULL);
  double e3 = gram_dev_d (Vt, MS, Wt, MS, D, C);
  ck_assert_msg (e1 < 1e-15 && e2 < 1e-15 && e3 < 1e-15,
                 "separate layout (double): %g %g %g", e1, e2, e3);
  mpfr_t *T = mp_new (2 * MS * D, 256);
  ck_assert_int_eq (mv_problem_vectors (NULL, NULL, T, T + MS * D, &pb),
                    MV_OK);
  e1 = gram_dev_mp (T, MS, T, MS, D, NULL, 256);
  e2 = gram_dev_mp (T + MS * D, MS, T + MS * D, MS, D, NULL, 256);
  e3 = gram_dev_mp (T, MS, T + MS * D, MS, D, CROSS, 256);
  ck_assert_msg (e1 < 1e-70 && e2 < 1e-70 && e3 < 1e-70,
                 "separate layout (256 bits): %g %g %g", e1, e2, e3);
  mp_free (T, 2 * MS * D);
  mv_problem_clear (&pb);
}
END_TEST

/* ||C||_2 = 1 is allowed: here w*_1 = v*_1 and w*_2 _|_ both v*. */
START_TEST (t_teacher_cross_norm_one)
{
  static const char text[] =
    "{\"d\": 4, \"teacher\": {\"m\": 2, \"init\": {\"kind\": "
    "\"orthonormal\", \"seed\": 3, \"layout\": \"separate\", \"cross\": "
    "[[1, 0], [0, 0]]}}, \"student\": {\"m\": 1, \"init\": {\"kind\": "
    "\"gaussian\", \"seed\": 2}}}";
  mv_problem pb;
  parse_ok (&pb, text);
  double Vt[8], Wt[8], C[4] = { 1, 0, 0, 0 };
  ck_assert_int_eq (mv_problem_vectors_d (NULL, NULL, Vt, Wt, &pb), MV_OK);
  ck_assert (gram_dev_d (Wt, 2, Wt, 2, 4, NULL) < 1e-15);
  ck_assert (gram_dev_d (Vt, 2, Wt, 2, 4, C) < 1e-15);
  mv_problem_clear (&pb);
}
END_TEST

START_TEST (t_decimal_exact)
{
  static const char text[] =
    "{\"d\": 2, \"teacher\": {\"m\": 1, \"V\": [[\"0.1\", 1]], "
    "\"W\": [[\"-1.25e-3\", 36028797018963971]]}, \"student\": {\"m\": 1, "
    "\"V\": [[0.1, \"+.5\"]], \"W\": [[\"1E+2\", 3]]}}";
  mv_problem pb;
  parse_ok (&pb, text);
  mpfr_t V[2], W[2], Vt[2], Wt[2], ref;
  for (int i = 0; i < 2; i++)
    mpfr_inits2 (256, V[i], W[i], Vt[i], Wt[i], (mpfr_ptr) 0);
  mpfr_init2 (ref, 256);
  ck_assert_int_eq (mv_problem_vectors (V, W, Vt, Wt, &pb), MV_OK);
  mpfr_set_str (ref, "0.1", 10, MPFR_RNDN);
  ck_assert (mpfr_equal_p (Vt[0], ref));
  ck_assert (mpfr_cmp_d (Vt[0], 0.1) != 0);  /* not the double 0.1 */
  mpfr_set_str (ref, "-1.25e-3", 10, MPFR_RNDN);
  ck_assert (mpfr_equal_p (Wt[0], ref));
  /* an integer beyond 2^53 is kept exactly for MPFR */
  mpfr_set_str (ref, "36028797018963971", 10, MPFR_RNDN);
  ck_assert (mpfr_equal_p (Wt[1], ref));
  /* a JSON number is the double it denotes */
  ck_assert (mpfr_cmp_d (V[0], 0.1) == 0);
  ck_assert (mpfr_cmp_d (V[1], 0.5) == 0 && mpfr_cmp_ui (W[0], 100) == 0);
  double vd[2], wtd[2];
  ck_assert_int_eq (mv_problem_vectors_d (NULL, NULL, vd, wtd, &pb), MV_OK);
  ck_assert (vd[0] == 0.1 && wtd[0] == -1.25e-3);
  ck_assert (wtd[1] == 36028797018963971.0);
  for (int i = 0; i < 2; i++)
    mpfr_clears (V[i], W[i], Vt[i], Wt[i], (mpfr_ptr) 0);
  mpfr_clear (ref);
  mv_problem_clear (&pb);
}
END_TEST

/* ------------------------------------------------------------ errors */

/* A minimal valid spec with one piece replaced; %s slots: d, teacher,
 * student, extra top-level members. */
#define T_OK "{\"m\": 1, \"V\": [[1, 0, 0]], \"W\": [[0, 1, 0]]}"
#define S_OK "{\"m\": 1, \"V\": [[0, 0, 1]], \"W\": [[1, 1, 0]]}"
#define SPEC(d, t, s, extra) \
  "{\"d\": " d ", \"teacher\": " t ", \"student\": " s extra "}"
#define TINIT(d, m, init) \
  "{\"d\": " d ", \"teacher\": {\"m\": " m ", \"init\": " init "}, " \
  "\"student\": " S_OK "}"
#define SINIT(init) \
  "{\"d\": 3, \"teacher\": " T_OK ", \"student\": {\"m\": 2, \"init\": " \
  init "}}"
#define ENTRY(x) SPEC ("3", T_OK, "{\"m\": 1, \"V\": [[1, " x ", 0]], " \
                       "\"W\": [[1, 1, 0]]}", "")

static const struct {
  const char *text;
  int status;
  const char *key;   /* must appear in the message */
} BAD[] = {
  /* malformed documents */
  { "{\"d\": 3,", MV_EPARSE, "line 1, column" },
  { "{\"d\": 3, \"d\": 4}", MV_EPARSE, "duplicate" },
  { "[1, 2]", MV_EPARSE, "top level" },
  { "{\"d\": 99999999999999999999999}", MV_EPARSE, "too big" },
  { "{\"d\": 1e999}", MV_EPARSE, "line 1" },
  /* unknown keys, every level */
  { SPEC ("3", T_OK, S_OK, ", \"foo\": 1"), MV_EPARSE, "t.json: foo: unknown key" },
  { SPEC ("3", "{\"m\": 1, \"V\": [[1,0,0]], \"W\": [[0,1,0]], \"X\": 1}",
          S_OK, ""), MV_EPARSE, "teacher.X: unknown key" },
  { SINIT ("{\"kind\": \"gaussian\", \"seed\": 1, \"sigma\": 2}"), MV_EPARSE,
    "student.init.sigma: unknown key" },
  { TINIT ("4", "1", "{\"kind\": \"orthonormal\", \"seed\": 1, \"q\": 0}"),
    MV_EPARSE, "teacher.init.q: unknown key" },
  { SPEC ("3", T_OK, S_OK, ", \"comment\": 5"), MV_EPARSE, "comment" },
  /* missing keys, wrong types, ranges */
  { "{\"teacher\": " T_OK ", \"student\": " S_OK "}", MV_EPARSE, "d: missing" },
  { "{\"d\": 3, \"student\": " S_OK "}", MV_EPARSE, "teacher: missing" },
  { SPEC ("3", T_OK, "{\"m\": 1, \"V\": [[0, 0, 1]]}", ""), MV_EPARSE,
    "student.W: missing" },
  { SPEC ("3", T_OK, "{\"m\": 1}", ""), MV_EPARSE, "student: missing" },
  { SPEC ("3", "{\"V\": [[1, 0, 0]], \"W\": [[0, 1, 0]]}", S_OK, ""),
    MV_EPARSE, "teacher.m: missing" },
  { SPEC ("0", T_OK, S_OK, ""), MV_EINVAL, "t.json: d: 0 is out of range" },
  { SPEC ("-3", T_OK, S_OK, ""), MV_EINVAL, "t.json: d:" },
  { SPEC ("\"3\"", T_OK, S_OK, ""), MV_EPARSE, "d: expected an integer" },
  { SPEC ("3.0", T_OK, S_OK, ""), MV_EPARSE, "d: expected an integer" },
  { SPEC ("3", "{\"m\": 0, \"V\": [], \"W\": []}", S_OK, ""), MV_EINVAL,
    "teacher.m: 0 is out of range" },
  { SPEC ("3", T_OK, "{\"m\": 0, \"V\": [], \"W\": []}", ""), MV_EINVAL,
    "student.m:" },
  { SPEC ("3", T_OK, S_OK, ", \"noise_var\": -1"), MV_EINVAL, "noise_var" },
  { SPEC ("3", T_OK, S_OK, ", \"noise_var\": \"1\""), MV_EPARSE,
    "noise_var" },
  { SPEC ("3", T_OK, "[]", ""), MV_EPARSE, "student: expected an object" },
  /* shapes */
  { SPEC ("3", T_OK, "{\"m\": 2, \"V\": [[0, 0, 1]], \"W\": [[1, 1, 0]]}",
          ""), MV_EINVAL, "student.V: expected 2 rows, got 1" },
  { SPEC ("3", T_OK, "{\"m\": 1, \"V\": [[0, 0, 1]], \"W\": [[1, 1]]}", ""),
    MV_EINVAL, "student.W[0]: expected 3 entries, got 2" },
  { SPEC ("3", T_OK, "{\"m\": 1, \"V\": [5], \"W\": [[1, 1, 0]]}", ""),
    MV_EPARSE, "student.V[0]: expected an array" },
  { SPEC ("3", T_OK, "{\"m\": 1, \"V\": {}, \"W\": [[1, 1, 0]]}", ""),
    MV_EPARSE, "student.V: expected an array" },
  /* zero vectors, also written as strings */
  { SPEC ("3", "{\"m\": 1, \"V\": [[1, 0, 0]], \"W\": [[0, 0, 0]]}", S_OK,
          ""), MV_EINVAL, "teacher.W[0]: zero vector" },
  { SPEC ("3", T_OK, "{\"m\": 1, \"V\": [[\"0.0\", \"-0\", \"0e5\"]], "
          "\"W\": [[1, 1, 0]]}", ""), MV_EINVAL, "student.V[0]: zero vector" },
  /* the norm rule: |v|^2 a finite normal double, numbers or strings */
  { SPEC ("3", T_OK, "{\"m\": 1, \"V\": [[1e300, 0, 0]], \"W\": [[1, 1, 0]]}",
          ""), MV_EINVAL, "student.V[0]: squared norm overflows" },
  { SPEC ("3", T_OK, "{\"m\": 1, \"V\": [[0, 1, 0]], \"W\": [[1e154, 1e154, "
          "\"1e154\"]]}", ""), MV_EINVAL, "student.W[0]: squared norm overflows" },
  { SPEC ("3", "{\"m\": 1, \"V\": [[1e-320, 0, 0]], \"W\": [[0, 1, 0]]}", S_OK,
          ""), MV_EINVAL, "teacher.V[0]: squared norm 0 underflows" },
  { SPEC ("3", T_OK, "{\"m\": 1, \"V\": [[1e-160, 1e-160, 0]], \"W\": "
          "[[1, 1, 0]]}", ""), MV_EINVAL, "student.V[0]: squared norm 2e-320 underflows" },
  /* a JSON number that jansson would silently store as 0 */
  { SPEC ("3", T_OK, "{\"m\": 1, \"V\": [[1e-400, 1, 0]], \"W\": [[1, 1, 0]]}",
          ""), MV_EPARSE, "line 1, column 94: number 1e-400 underflows to 0" },
  /* entries */
  { ENTRY ("\"nan\""), MV_EINVAL, "student.V[0][1]: \"nan\"" },
  { ENTRY ("\"NaN\""), MV_EINVAL, "student.V[0][1]" },
  { ENTRY ("\"inf\""), MV_EINVAL, "student.V[0][1]" },
  { ENTRY ("\"-Infinity\""), MV_EINVAL, "student.V[0][1]" },
  { ENTRY ("\"1e999\""), MV_EINVAL, "student.V[0][1]: \"1e999\" is outside" },
  { ENTRY ("\"1e-999\""), MV_EINVAL, "student.V[0][1]" },
  { ENTRY ("\" 1\""), MV_EINVAL, "student.V[0][1]" },
  { ENTRY ("\"1 \""), MV_EINVAL, "student.V[0][1]" },
  { ENTRY ("\"0x1p3\""), MV_EINVAL, "student.V[0][1]" },
  { ENTRY ("\"1@3\""), MV_EINVAL, "student.V[0][1]" },
  { ENTRY ("\"\""), MV_EINVAL, "student.V[0][1]" },
  { ENTRY ("\"1e\""), MV_EINVAL, "student.V[0][1]" },
  { ENTRY ("\".\""), MV_EINVAL, "student.V[0][1]" },
  { ENTRY ("\"1\\n2\""), MV_EINVAL, "student.V[0][1]" },
  { ENTRY ("true"), MV_EPARSE, "student.V[0][1]: expected a number" },
  { ENTRY ("null"), MV_EPARSE, "student.V[0][1]" },
  /* init blocks */
  { SPEC ("3", "{\"m\": 1, \"V\": [[1,0,0]], \"W\": [[0,1,0]], \"init\": "
          "{\"kind\": \"orthonormal\", \"seed\": 1}}", S_OK, ""), MV_EINVAL,
    "teacher.init: cannot be combined" },
  { TINIT ("3", "2", "{\"kind\": \"orthonormal\", \"seed\": 1}"), MV_EINVAL,
    "teacher.init: 2m* = 4" },
  { TINIT ("3", "2", "{\"kind\": \"orthonormal\", \"seed\": 1, \"layout\": "
           "\"separate\"}"), MV_EINVAL, "teacher.init:" },
  { TINIT ("4", "1", "{\"kind\": \"gaussian\", \"seed\": 1}"), MV_EINVAL,
    "teacher.init.kind" },
  { TINIT ("4", "1", "{\"seed\": 1}"), MV_EPARSE, "teacher.init.kind: missing" },
  { TINIT ("4", "1", "{\"kind\": \"orthonormal\"}"), MV_EPARSE,
    "teacher.init.seed: missing" },
  { TINIT ("4", "1", "{\"kind\": \"orthonormal\", \"seed\": -1}"), MV_EINVAL,
    "teacher.init.seed" },
  { TINIT ("4", "1", "{\"kind\": \"orthonormal\", \"seed\": 4294967296}"),
    MV_EINVAL, "teacher.init.seed" },
  { TINIT ("4", "1", "{\"kind\": \"orthonormal\", \"seed\": 1, \"layout\": "
           "\"diagonal\"}"), MV_EINVAL, "teacher.init.layout" },
  { TINIT ("4", "1", "{\"kind\": \"orthonormal\", \"seed\": 1, \"cross\": "
           "[[0.5]]}"), MV_EINVAL, "teacher.init.cross: only allowed" },
  { TINIT ("4", "2", "{\"kind\": \"orthonormal\", \"seed\": 1, \"layout\": "
           "\"separate\", \"cross\": [[0.5]]}"), MV_EINVAL,
    "teacher.init.cross: expected 2 rows" },
  { TINIT ("4", "2", "{\"kind\": \"orthonormal\", \"seed\": 1, \"layout\": "
           "\"separate\", \"cross\": [[0.8, 0], [0.8, 0]]}"), MV_EDOM,
    "teacher.init.cross: spectral norm" },
  { TINIT ("4", "1", "{\"kind\": \"orthonormal\", \"seed\": 1, \"layout\": "
           "\"separate\", \"cross\": [[\"nan\"]]}"), MV_EINVAL,
    "teacher.init.cross[0][0]" },
  { TINIT ("4", "1", "[]"), MV_EPARSE, "teacher.init: expected an object" },
  { SINIT ("{\"kind\": \"uniform\", \"seed\": 1}"), MV_EINVAL,
    "student.init.kind" },
  { SINIT ("{\"kind\": \"gaussian\", \"seed\": 1.5}"), MV_EPARSE,
    "student.init.seed" },
  { SINIT ("{\"kind\": \"gaussian\", \"seed\": 1, \"router_orthogonal\": 1}"),
    MV_EPARSE, "student.init.router_orthogonal" },
  { "{\"d\": 1, \"teacher\": {\"m\": 1, \"V\": [[1]], \"W\": [[1]]}, "
    "\"student\": {\"m\": 1, \"init\": {\"kind\": \"gaussian\", \"seed\": "
    "1}}}", MV_EINVAL, "student.init.router_orthogonal: needs d >= 2" },
  /* sizes beyond any memory */
  { "{\"d\": 1000000000, \"teacher\": {\"m\": 1, \"init\": {\"kind\": "
    "\"orthonormal\", \"seed\": 1}}, \"student\": " S_OK "}", MV_EINVAL,
    "teacher.m: 2 x 1000000000" },
  /* (a generated student beside an explicit teacher is still checked at
   * parse; with both generated, forming is refused later: t_gram_huge_d) */
  { "{\"d\": 3, \"teacher\": " T_OK ", \"student\": {\"m\": 400000000, "
    "\"init\": {\"kind\": \"gaussian\", \"seed\": 1}}}", MV_EINVAL,
    "student.m: 400000000 x 3" },
  { SPEC ("10000000000", T_OK, S_OK, ""), MV_EINVAL, "d: 10000000000 is out" },
  { "{\"d\": 10000000000000000, \"teacher\": {\"m\": 1, \"init\": "
    "{\"kind\": \"orthonormal\", \"seed\": 1}}, \"student\": {\"m\": 1, "
    "\"init\": {\"kind\": \"gaussian\", \"seed\": 1}}}", MV_EINVAL,
    "d: 10000000000000000 is out of range [1, 1000000000000000]" },
};
#define NBAD (sizeof BAD / sizeof BAD[0])

START_TEST (t_bad_inputs)
{
  mv_problem pb;
  const char *text = BAD[_i].text;
  int st = mv_problem_parse (&pb, text, "t.json");
  const char *msg = mv_error_message ();
  ck_assert_msg (st == BAD[_i].status, "case %d: status %d, expected %d "
                 "(%s) for %s", _i, st, BAD[_i].status, msg, text);
  ck_assert_msg (!strncmp (msg, "t.json: ", 8), "case %d: message does not "
                 "start with the file name: %s", _i, msg);
  ck_assert_msg (strstr (msg, BAD[_i].key) != NULL, "case %d: message '%s' "
                 "lacks '%s'", _i, msg, BAD[_i].key);
  ck_assert_msg (!strchr (msg, '\n'), "case %d: multi-line message", _i);
  ck_assert_ptr_null (pb.priv);
  ck_assert_ptr_null (pb.name);
  mv_problem_clear (&pb);
}
END_TEST

START_TEST (t_read_errors)
{
  mv_problem pb;
  int st = mv_problem_read (&pb, "/nonexistent/dir/spec.json");
  ck_assert_int_eq (st, MV_EIO);
  ck_assert_ptr_nonnull (strstr (mv_error_message (),
                                 "/nonexistent/dir/spec.json"));
  ck_assert_ptr_null (pb.priv);
  /* the file name in messages is the path given */
  st = mv_problem_read (&pb, mv_test_data ("bad_nan.json"));
  ck_assert_int_eq (st, MV_EINVAL);
  ck_assert_ptr_nonnull (strstr (mv_error_message (), "bad_nan.json: "));
  /* control characters in a key cannot break the line */
  st = mv_problem_parse (&pb, "{\"a\\nb\": 1}", "t.json");
  ck_assert_int_eq (st, MV_EPARSE);
  ck_assert_ptr_null (strchr (mv_error_message (), '\n'));
}
END_TEST

/* Messages: a whole long path kept, a longer message cut with "...",
 * always one line. */
START_TEST (t_error_message_length)
{
  static char path[4097], big[20001];
  memset (path, 'p', 4096);
  path[0] = '/';
  memset (big, 'x', 20000);
  mv_error_set (MV_EINVAL, "%s: d: bad", path);
  ck_assert_uint_eq (strlen (mv_error_message ()), 4096 + 8);
  ck_assert (!strncmp (mv_error_message (), path, 4096));
  mv_error_set (MV_EINVAL, "%s: %s", path, big);
  const char *m = mv_error_message ();
  size_t n = strlen (m);
  ck_assert_msg (n >= 8000 && n < 8192, "length %zu", n);
  ck_assert_str_eq (m + n - 3, "...");
  mv_error_set (MV_EINVAL, "a\nb\rc\x1b");
  ck_assert_str_eq (mv_error_message (), "a?b?c?");
  /* the prefix of a message formatted from the previous one */
  mv_error_set (MV_EINVAL, "k: v");
  mv_error_set (MV_EINVAL, "f: %s", mv_error_message ());
  mv_error_prefix ("g");
  ck_assert_str_eq (mv_error_message (), "g: f: k: v");
  /* a spec read from a 4000-character name keeps it whole */
  mv_problem pb;
  char name[4001];
  memset (name, 'n', 4000);
  name[4000] = '\0';
  ck_assert_int_eq (mv_problem_parse (&pb, "{\"d\": 0}", name), MV_EINVAL);
  ck_assert (!strncmp (mv_error_message (), name, 4000));
  ck_assert_ptr_nonnull (strstr (mv_error_message (), ": d: 0 is out of range"));
}
END_TEST

/* ------------------------------------------------------------ JSON, arrays */

START_TEST (t_to_json)
{
  mv_problem pb, pb2;
  parse_ok (&pb, SMALL);
  char *j = mv_problem_to_json (&pb);
  ck_assert_ptr_nonnull (j);
  ck_assert_ptr_nonnull (strstr (j, "[\"0.6\",\"0.8\",\"0\"]"));
  ck_assert_ptr_nonnull (strstr (j, "\"noise_var\":0.0"));
  parse_ok (&pb2, j);
  char *j2 = mv_problem_to_json (&pb2);
  ck_assert_str_eq (j, j2);  /* canonical form is a fixed point */
  free (j), free (j2);
  mv_problem_clear (&pb2);
  mv_problem_clear (&pb);

  parse_ok (&pb, "{\"comment\": \"x\", \"d\": 4, \"noise_var\": 0.5, "
            "\"student\": {\"m\": 2, \"init\": {\"seed\": 9, \"kind\": "
            "\"gaussian\"}}, \"teacher\": {\"m\": 2, \"init\": {\"kind\": "
            "\"orthonormal\", \"seed\": 4}}}");
  j = mv_problem_to_json (&pb);
  ck_assert_str_eq (j, "{\"d\":4,\"noise_var\":0.5,\"student\":{\"init\":"
                    "{\"kind\":\"gaussian\",\"router_orthogonal\":true,"
                    "\"seed\":9},\"m\":2},\"teacher\":{\"init\":{\"kind\":"
                    "\"orthonormal\",\"layout\":\"all\",\"seed\":4},\"m\":2}}");
  ck_assert (pb.noise_var == 0.5);
  free (j);
  mv_problem_clear (&pb);
}
END_TEST

START_TEST (t_set_d)
{
  const double V[6] = { 1, 0, 0, 0, 2, 0 }, W[6] = { 0, 1, 0, 0, 0, 3 };
  const double Vt[3] = { 0, 0, 1 }, Wt[3] = { 1, 0, 0 };
  mv_problem pb;
  ck_assert_int_eq (mv_problem_set_d (&pb, 3, 2, 1, V, W, Vt, Wt, 0.25),
                    MV_OK);
  ck_assert (pb.d == 3 && pb.m == 2 && pb.mstar == 1 && pb.noise_var == 0.25);
  double a[6], b[6], c[3], e[3];
  ck_assert_int_eq (mv_problem_vectors_d (a, b, c, e, &pb), MV_OK);
  ck_assert (!memcmp (a, V, sizeof a) && !memcmp (b, W, sizeof b));
  ck_assert (!memcmp (c, Vt, sizeof c) && !memcmp (e, Wt, sizeof e));

  /* the norm rule holds for arrays too: |v|^2 = 3e400 overflows, while
   * 1e154 alone (|v|^2 = 1e308) is accepted */
  const double H[6] = { 1e154, 1e154, 1e154, 0, 1, 0 };
  const double H1[6] = { 1e154, 0, 0, 0, 1, 0 };
  ck_assert_int_eq (mv_problem_set_student_d (&pb, H, W), MV_EINVAL);
  ck_assert_ptr_nonnull (strstr (mv_error_message (), "student.V[0]: squared norm overflows"));
  ck_assert_int_eq (mv_problem_set_student_d (&pb, V, W), MV_OK);
  ck_assert_int_eq (mv_problem_set_student_d (&pb, H1, W), MV_OK);
  ck_assert_int_eq (mv_problem_set_student_d (&pb, V, W), MV_OK);
  /* a zero row is refused and leaves the student untouched */
  const double Z[6] = { 1, 1, 1, 0, 0, 0 }, N[6] = { 0.5, 0, 0, 0, 0, 7 };
  ck_assert_int_eq (mv_problem_set_student_d (&pb, Z, W), MV_EINVAL);
  ck_assert_ptr_nonnull (strstr (mv_error_message (), "student.V[1]"));
  ck_assert_int_eq (mv_problem_vectors_d (a, NULL, NULL, NULL, &pb), MV_OK);
  ck_assert (!memcmp (a, V, sizeof a));
  ck_assert_int_eq (mv_problem_set_student_d (&pb, V, N), MV_OK);
  mpfr_t *mp = mp_new (6, 200);
  ck_assert_int_eq (mv_problem_vectors (NULL, mp, NULL, NULL, &pb), MV_OK);
  for (int i = 0; i < 6; i++)
    ck_assert (mpfr_cmp_d (mp[i], N[i]) == 0);
  mp_free (mp, 6);
  char *j = mv_problem_to_json (&pb);
  ck_assert_ptr_nonnull (strstr (j, "\"W\":[[0.5,0.0,0.0],[0.0,0.0,7.0]]"));
  free (j);
  mv_problem_clear (&pb);

  double nan_row[3] = { 1, NAN, 0 };
  ck_assert_int_eq (mv_problem_set_d (&pb, 3, 1, 1, nan_row, W, Vt, Wt, 0),
                    MV_EINVAL);
  ck_assert_ptr_nonnull (strstr (mv_error_message (), "student.V[0]"));
  ck_assert_ptr_null (pb.priv);
  ck_assert_int_eq (mv_problem_set_d (&pb, 3, 1, 1, V, W, Vt, Wt, -1),
                    MV_EINVAL);
  ck_assert_int_eq (mv_problem_set_d (&pb, 0, 1, 1, V, W, Vt, Wt, 0),
                    MV_EINVAL);
}
END_TEST

/* mv_problem_check_d decides as the norm rule's definition (a sequential
 * double sum of squares, finite and >= DBL_MIN, every entry finite, not
 * all zero), across the fast path's boundaries (sums near 2^-900, 2^900)
 * and the rule's (DBL_MIN, DBL_MAX), for rows of 1 to 1000 entries. */
static int
norm_rule_oracle (const double *x, size_t n)
{
  double s = 0;
  int nonzero = 0;
  for (size_t k = 0; k < n; k++)
    {
      if (!isfinite (x[k]))
        return MV_EINVAL;
      s += x[k] * x[k];
      nonzero |= x[k] != 0;
    }
  return nonzero && isfinite (s) && s >= DBL_MIN ? MV_OK : MV_EINVAL;
}

START_TEST (t_check_d)
{
  static const size_t lens[] = { 1, 3, 8, 9, 1000 };
  double *x = malloc (1000 * sizeof *x), one[1000];
  for (size_t k = 0; k < 1000; k++)
    one[k] = k % 3 == 0;
  unsigned long seed = 12345;
  size_t cases = 0, passed = 0;
  for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++)
    for (int e = -1100; e <= 1030; e += 3)
      for (int kind = 0; kind < 4; kind++)
        {
          size_t n = lens[li];
          for (size_t k = 0; k < n; k++)
            {
              seed = seed * 6364136223846793005UL + 1442695040888963407UL;
              double u = (double) (seed >> 11) / 9007199254740992.0;
              x[k] = ldexp (0.5 + u, e / (kind == 3 ? 1 : 2)) * (k % 2 ? -1 : 1);
            }
          if (kind == 1)
            x[n / 2] = (e % 2) ? NAN : -INFINITY;
          if (kind == 2)
            for (size_t k = 0; k < n; k++)
              x[k] = k + 1 == n ? ldexp (1, e / 2) : 0;
          int want = norm_rule_oracle (x, n);
          int got = mv_problem_check_d (n, 1, 1, x, one, one, one, 0);
          cases++;
          passed += got == want;
          if (got != want)
            ck_abort_msg ("n = %zu, e = %d, kind %d: check_d %d, the rule %d (%s)",
                          n, e, kind, got, want, mv_error_message ());
          if (got)
            ck_assert_ptr_nonnull (strstr (mv_error_message (), "<arrays>: student.V[0]"));
        }
  ck_assert_uint_eq (passed, cases);
  ck_assert_uint_gt (cases, 4000);
  /* the other arrays, the sizes and the noise are checked too */
  ck_assert_int_eq (mv_problem_check_d (3, 1, 1, one, one, one, NULL, 0), MV_EINVAL);
  ck_assert_ptr_nonnull (strstr (mv_error_message (), "teacher.W"));
  ck_assert_int_eq (mv_problem_check_d (3, 1, 1, one, one, one, one, NAN), MV_EINVAL);
  ck_assert_ptr_nonnull (strstr (mv_error_message (), "noise_var"));
  ck_assert_int_eq (mv_problem_check_d (3, 0, 1, one, one, one, one, 0), MV_EINVAL);
  ck_assert_int_eq (mv_problem_check_d (4, 1, 1, one, one, one, one, 0), MV_OK);
  free (x);
}
END_TEST

/* ------------------------------------------------------------ Gram */

/* Spec with generated teacher and student; cross NULL: layout "all". */
static void
gen_spec (char *buf, size_t len, unsigned long long d, size_t ms, size_t m,
          unsigned long tseed, unsigned long sseed, const char *cross,
          int orth)
{
  char lay[256] = "";
  if (cross)
    snprintf (lay, sizeof lay, ", \"layout\": \"separate\", \"cross\": %s",
              cross);
  snprintf (buf, len, "{\"d\": %llu, \"teacher\": {\"m\": %zu, \"init\": "
            "{\"kind\": \"orthonormal\", \"seed\": %lu%s}}, \"student\": "
            "{\"m\": %zu, \"init\": {\"kind\": \"gaussian\", \"seed\": %lu, "
            "\"router_orthogonal\": %s}}}", d, ms, tseed, lay, m, sseed,
            orth ? "true" : "false");
}

/* G symmetric with exact unit diagonal, entries in [-1, 1]. */
static void
check_gram_shape (const double *G, size_t n)
{
  for (size_t k = 0; k < n; k++)
    {
      ck_assert_msg (G[k * n + k] == 1.0, "G[%zu][%zu] = %.17g", k, k,
                     G[k * n + k]);
      for (size_t l = 0; l < n; l++)
        {
          ck_assert_msg (G[k * n + l] == G[l * n + k], "G not symmetric at "
                         "(%zu, %zu)", k, l);
          ck_assert (fabs (G[k * n + l]) <= 1.0);
        }
    }
}

/* (a) mv_problem_gram_d against the Gram computed here from the vectors. */
static void
gram_by_hand (const mv_problem *pb)
{
  size_t m = pb->m, ms = pb->mstar, d = pb->d, n = 2 * m + 2 * ms;
  double *U = malloc (n * d * sizeof *U), *G = malloc (n * n * sizeof *G);
  double *nr = malloc (n * sizeof *nr);
  ck_assert_int_eq (mv_problem_vectors_d (U, U + m * d, U + 2 * m * d,
                                          U + (2 * m + ms) * d, pb), MV_OK);
  ck_assert_int_eq (mv_problem_gram_d (G, nr, pb), MV_OK);
  check_gram_shape (G, n);
  for (size_t k = 0; k < n; k++)
    {
      double nk = sqrt (dot_d (U + k * d, U + k * d, d));
      if (k < 2 * m)
        MV_CHECK_CLOSE_D (nr[k], nk, 1e-15, 0, "student norm");
      else
        ck_assert (nr[k] == 1.0);
      for (size_t l = 0; l < n; l++)
        {
          double nl = sqrt (dot_d (U + l * d, U + l * d, d));
          double g = dot_d (U + k * d, U + l * d, d) / (nk * nl);
          MV_CHECK_CLOSE_D (G[k * n + l], g, 0, 1e-14, "Gram entry");
        }
    }
  /* the norms argument is optional */
  ck_assert_int_eq (mv_problem_gram_d (G, NULL, pb), MV_OK);
  free (U), free (G), free (nr);
}

START_TEST (t_gram_d)
{
  mv_problem pb;
  int st = mv_problem_read (&pb, mv_test_data ("example_paper.json"));
  ck_assert_msg (st == MV_OK, "%s", mv_error_message ());
  gram_by_hand (&pb);
  mv_problem_clear (&pb);
  parse_ok (&pb, SMALL);
  gram_by_hand (&pb);
  mv_problem_clear (&pb);
  char text[512];
  gen_spec (text, sizeof text, 30, 3, 4, 3, 4,
            "[[0.5, 0, -0.25], [0, \"0.3\", \"0.1\"], [0.125, 0, 0]]", 0);
  parse_ok (&pb, text);
  gram_by_hand (&pb);
  mv_problem_clear (&pb);
}
END_TEST

/* Per-draw statistics of (G, norms); indices v_i = i, w_i = m + i,
 * v*_j = 2m + j, w*_j = 2m + m* + j. */
enum {
  S_WT, S_WT2, S_VT, S_VT2, S_VWT2, S_WVT2, S_WW, S_WW2, S_VV2, S_VW2,
  S_NW2, S_NV2, S_CROSS, S_WT4, S_W0T0, S_OWN2, S_VWSAME, NSTAT
};
static const char *const STAT_NAME[NSTAT] = {
  "w.w* mean", "(w.w*)^2", "v.v* mean", "(v.v*)^2", "(v.w*)^2", "(w.v*)^2",
  "w_i.w_k mean", "(w_i.w_k)^2", "(v_i.v_k)^2", "(v_i.w_k)^2 i!=k",
  "|w|^2", "|v|^2", "(w.v*_0)(w.w*_0)", "(w.w*)^4", "w_0.w*_0",
  "(v_i.w_i)^2 own", "(v.v*_0)(w.w*_0)"
};

static void
gram_stats (double *s, const double *G, const double *nr, size_t m,
            size_t ms)
{
  size_t n = 2 * m + 2 * ms, vt = 2 * m, wt = 2 * m + ms;
#define GG(a, b) G[(a) * n + (b)]
  memset (s, 0, NSTAT * sizeof *s);
  double mm = (double) m * (double) ms, pairs = m * (m - 1) / 2.0;
  for (size_t i = 0; i < m; i++)
    {
      for (size_t j = 0; j < ms; j++)
        {
          double b = GG (m + i, wt + j), a = GG (i, vt + j);
          s[S_WT] += b / mm;
          s[S_WT2] += b * b / mm;
          s[S_WT4] += b * b * b * b / mm;
          s[S_VT] += a / mm;
          s[S_VT2] += a * a / mm;
          s[S_VWT2] += GG (i, wt + j) * GG (i, wt + j) / mm;
          s[S_WVT2] += GG (m + i, vt + j) * GG (m + i, vt + j) / mm;
        }
      for (size_t k = 0; k < m; k++)
        {
          if (k > i)
            {
              s[S_WW] += GG (m + i, m + k) / pairs;
              s[S_WW2] += GG (m + i, m + k) * GG (m + i, m + k) / pairs;
              s[S_VV2] += GG (i, k) * GG (i, k) / pairs;
            }
          if (k != i)
            s[S_VW2] += GG (i, m + k) * GG (i, m + k) / (2 * pairs);
        }
      s[S_NV2] += nr[i] * nr[i] / m;
      s[S_NW2] += nr[m + i] * nr[m + i] / m;
      s[S_CROSS] += GG (m + i, vt) * GG (m + i, wt) / m;
      s[S_OWN2] += GG (i, m + i) * GG (i, m + i) / m;
      s[S_VWSAME] += GG (i, vt) * GG (m + i, vt) / m;
    }
  s[S_W0T0] = GG (m, wt);
#undef GG
}

static void
mean_var (const double *x, size_t N, double *mean, double *var,
          double *se_var)
{
  double a = 0, v = 0, v2 = 0;
  for (size_t k = 0; k < N; k++)
    a += x[k];
  a /= N;
  for (size_t k = 0; k < N; k++)
    v += (x[k] - a) * (x[k] - a);
  v /= N;
  for (size_t k = 0; k < N; k++)
    {
      double e = (x[k] - a) * (x[k] - a) - v;
      v2 += e * e;
    }
  *mean = a;
  *var = v;
  *se_var = sqrt (v2 / (N - 1) / N);
}

/* Z_TOL standard errors: with ~140 comparisons of deterministic draws, a
 * true law difference of a few percent in any moment would fail. */
#define Z_TOL 5.0

/* (b) N draws of mv_problem_gram_d (student seeds 1..N, teacher seeds
 * varied too) against N draws of mv_problem_gram_sample_d (student seeds
 * 10^6 + 1..N): means and variances of every statistic within Z_TOL
 * standard errors.  own_exact: router_orthogonal, v_i.w_i must be 0. */
static void
compare_laws (const char *label, unsigned long long d, size_t ms, size_t m,
              const char *cross, int orth, size_t N, size_t expect_dim)
{
  size_t n = 2 * m + 2 * ms;
  double *A = malloc (NSTAT * N * sizeof *A), *B = malloc (NSTAT * N
                                                           * sizeof *B);
  double *G = malloc (n * n * sizeof *G), *nr = malloc (n * sizeof *nr);
  double *X = malloc (n * (2 * m + 2 * ms) * sizeof *X);
  double s[NSTAT];
  char text[512];
  int verbose = getenv ("MV_TEST_VERBOSE") != NULL;
  for (size_t t = 0; t < N; t++)
    for (int way = 0; way < 2; way++)
      {
        mv_problem pb;
        unsigned long seed = way ? 1000000 + t + 1 : t + 1;
        gen_spec (text, sizeof text, d, ms, m, 7 * (t + 1), seed, cross,
                  orth);
        parse_ok (&pb, text);
        int st = way ? mv_problem_gram_sample_d (G, nr, &pb)
          : mv_problem_gram_d (G, nr, &pb);
        ck_assert_msg (st == MV_OK, "%s", mv_error_message ());
        if (t < 20)
          check_gram_shape (G, n);
        if (way && t < 20)
          {
            /* lowdim: same draws; its Gram is the sample's */
            size_t D;
            ck_assert_int_eq (mv_problem_lowdim_d (X, &D, &pb), MV_OK);
            ck_assert_uint_eq (D, expect_dim);
            for (size_t k = 0; k < n; k++)
              {
                double nk = sqrt (dot_d (X + k * D, X + k * D, D));
                if (k < 2 * m)
                  MV_CHECK_CLOSE_D (nr[k], nk, 1e-15, 0, "lowdim norm");
                for (size_t l = 0; l < n; l++)
                  {
                    double nl = sqrt (dot_d (X + l * D, X + l * D, D));
                    MV_CHECK_CLOSE_D (G[k * n + l], dot_d (X + k * D, X + l
                                                           * D, D) / (nk * nl),
                                      0, 1e-15, "lowdim Gram");
                  }
              }
          }
        for (size_t i = 0; orth && i < m; i++)
          {
            double own = G[i * n + m + i];
            if (way)
              ck_assert_msg (own == 0, "%s: sampled v_%zu.w_%zu = %g", label,
                             i, i, own);
            else
              ck_assert_msg (fabs (own) < 1e-15, "%s: v_%zu.w_%zu = %g",
                             label, i, i, own);
          }
        gram_stats (s, G, nr, m, ms);
        for (int k = 0; k < NSTAT; k++)
          (way ? B : A)[k * N + t] = s[k];
        mv_problem_clear (&pb);
      }
  double zmax = 0;
  for (int k = 0; k < NSTAT; k++)
    {
      if (orth && k == S_OWN2)
        continue;  /* exactly 0 (gram_sample_d) vs < 1e-30, checked above */
      double ma, va, sva, mb, vb, svb;
      mean_var (A + k * N, N, &ma, &va, &sva);
      mean_var (B + k * N, N, &mb, &vb, &svb);
      double zm = (ma - mb) / sqrt ((va + vb) / (N - 1));
      double zv = (va - vb) / sqrt (sva * sva + svb * svb);
      if (verbose)
        fprintf (stderr, "%-10s %-18s mean %+.5e %+.5e z %+5.2f | var "
                 "%.4e %.4e z %+5.2f\n", label, STAT_NAME[k], ma, mb, zm, va,
                 vb, zv);
      ck_assert_msg (fabs (zm) < Z_TOL && fabs (zv) < Z_TOL, "%s: %s: mean "
                     "%.6g vs %.6g (z = %.2f), variance %.6g vs %.6g (z = "
                     "%.2f)", label, STAT_NAME[k], ma, mb, zm, va, vb, zv);
      zmax = fmax (zmax, fmax (fabs (zm), fabs (zv)));
    }
  if (verbose)
    fprintf (stderr, "%-10s N = %zu, max |z| = %.2f\n", label, N, zmax);
  free (A), free (B), free (G), free (nr), free (X);
}

START_TEST (t_gram_law_all)
{
  /* d - r = 36 >= 2m: Bartlett path */
  compare_laws ("all", 40, 2, 3, NULL, 1, 2000, 4 + 6);
}
END_TEST

START_TEST (t_gram_law_cross)
{
  compare_laws ("cross", 40, 2, 3, "[[0.5, -0.3], [0.2, 0.6]]", 0, 2000,
                4 + 6);
}
END_TEST

START_TEST (t_gram_law_small_d)
{
  /* d - r = 4 < 2m = 6: complement parts drawn directly */
  compare_laws ("small-d", 8, 2, 3, NULL, 1, 1000, 8);
  /* ||C|| = 1: w*_0 = v*_0, teacher rank r = 3 */
  compare_laws ("rank3", 40, 2, 3, "[[1, 0], [0, 0]]", 1, 1000, 3 + 6);
  compare_laws ("rank3-d6", 6, 2, 3, "[[1, 0], [0, 0]]", 0, 1000, 6);
}
END_TEST

static double
now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* (c) d far beyond memory: parses, samples in O(1), refuses vectors. */
START_TEST (t_gram_huge_d)
{
  static const unsigned long long DS[2] = { 1000000000ULL,
                                            1000000000000ULL };
  enum { MS = 5, M = 25, N = 2 * M + 2 * MS };
  static double G[N * N], nr[N], G2[N * N];
  char text[512];
  for (int c = 0; c < 2; c++)
    {
      mv_problem pb;
      double d = (double) DS[c], t0 = now_s ();
      gen_spec (text, sizeof text, DS[c], MS, M, 1, 2, NULL, 1);
      parse_ok (&pb, text);
      double t1 = now_s ();
      ck_assert_int_eq (mv_problem_gram_sample_d (G, nr, &pb), MV_OK);
      double t2 = now_s ();
      ck_assert_msg (t1 - t0 < 0.5 && t2 - t1 < 0.5, "d = %g: parse %g s, "
                     "sample %g s", d, t1 - t0, t2 - t1);
      check_gram_shape (G, N);
      /* overlaps N(0, 1/d)-sized: rms of the 125 expert-teacher overlaps
       * within 30% of d^-1/2 (5 sd of an rms of 125), none beyond 10 sd */
      double ss = 0, mx = 0;
      for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < MS; j++)
          {
            double b = G[(M + i) * N + 2 * M + MS + j];
            ss += b * b;
            mx = fmax (mx, fabs (b));
          }
      double rms = sqrt (ss / (M * MS)) * sqrt (d);
      ck_assert_msg (rms > 0.7 && rms < 1.3 && mx * sqrt (d) < 10,
                     "d = %g: rms overlap %g / sqrt(d), max %g / sqrt(d)", d,
                     rms, mx * sqrt (d));
      for (size_t k = 0; k < 2 * M; k++)
        ck_assert_msg (fabs (nr[k] * nr[k] - 1) < 1e-3, "d = %g: |u_%zu|^2 "
                       "= %.17g", d, k, nr[k] * nr[k]);
      if (getenv ("MV_TEST_VERBOSE"))
        fprintf (stderr, "d = %.0e: parse %.2e s, sample %.2e s, rms "
                 "overlap %.3f/sqrt(d), max %.3f/sqrt(d), |w_0|^2 - 1 = "
                 "%.3e\n", d, t1 - t0, t2 - t1, rms, mx * sqrt (d),
                 nr[M] * nr[M] - 1);
      /* deterministic in the student seed; the teacher seed is irrelevant */
      mv_problem pb2;
      gen_spec (text, sizeof text, DS[c], MS, M, 99, 2, NULL, 1);
      parse_ok (&pb2, text);
      ck_assert_int_eq (mv_problem_gram_sample_d (G2, NULL, &pb2), MV_OK);
      ck_assert (!memcmp (G, G2, sizeof G));
      mv_problem_clear (&pb2);
      /* forming vectors is refused before any output is touched */
      double one[1];
      mpfr_t mp[1];
      mpfr_init2 (mp[0], 64);
      char want[128];
      snprintf (want, sizeof want, "t.json: d = %llu: too large to form "
                "vectors; use the reduced flow", DS[c]);
      ck_assert_int_eq (mv_problem_vectors_d (one, one, NULL, NULL, &pb),
                        MV_EINVAL);
      ck_assert_str_eq (mv_error_message (), want);
      ck_assert_int_eq (mv_problem_vectors_d (NULL, NULL, one, one, &pb),
                        MV_EINVAL);
      ck_assert_str_eq (mv_error_message (), want);
      ck_assert_int_eq (mv_problem_vectors (mp, NULL, NULL, NULL, &pb),
                        MV_EINVAL);
      ck_assert_str_eq (mv_error_message (), want);
      ck_assert_int_eq (mv_problem_gram_d (G, nr, &pb), MV_EINVAL);
      ck_assert_str_eq (mv_error_message (), want);
      mpfr_clear (mp[0]);
      char *j = mv_problem_to_json (&pb);
      char dj[64];
      snprintf (dj, sizeof dj, "\"d\":%llu,", DS[c]);
      ck_assert_ptr_nonnull (strstr (j, dj));
      free (j);
      mv_problem_clear (&pb);
    }

  /* formerly refused at parse: a 5000 x 10^6 student */
  mv_problem pb;
  gen_spec (text, sizeof text, 1000000, 1, 5000, 1, 1, NULL, 1);
  parse_ok (&pb, text);
  double one[1];
  ck_assert_int_eq (mv_problem_vectors_d (one, NULL, NULL, NULL, &pb),
                    MV_EINVAL);
  ck_assert_str_eq (mv_error_message (), "t.json: d = 1000000: too large to "
                    "form vectors; use the reduced flow");
  /* its teacher alone is small enough */
  double *Vt = malloc (1000000 * sizeof *Vt), *Wt = malloc (1000000
                                                            * sizeof *Wt);
  ck_assert_int_eq (mv_problem_vectors_d (NULL, NULL, Vt, Wt, &pb), MV_OK);
  MV_CHECK_CLOSE_D (dot_d (Vt, Vt, 1000000), 1, 0, 1e-13, "|v*|^2");
  free (Vt), free (Wt);
  mv_problem_clear (&pb);
}
END_TEST

/* (d) sampling needs both agents generated. */
START_TEST (t_gram_sample_errors)
{
  mv_problem pb;
  double G[36], X[36];
  size_t D;
  parse_ok (&pb, SMALL);
  ck_assert_int_eq (mv_problem_gram_sample_d (G, NULL, &pb), MV_EINVAL);
  ck_assert_str_eq (mv_error_message (), "t.json: teacher: "
                    "mv_problem_gram_sample_d needs teacher.init "
                    "(orthonormal), got explicit vectors");
  ck_assert_int_eq (mv_problem_lowdim_d (X, &D, &pb), MV_EINVAL);
  mv_problem_clear (&pb);
  /* generated teacher, explicit student */
  parse_ok (&pb, "{\"d\": 3, \"teacher\": {\"m\": 1, \"init\": {\"kind\": "
            "\"orthonormal\", \"seed\": 1}}, \"student\": " S_OK "}");
  ck_assert_int_eq (mv_problem_gram_sample_d (G, NULL, &pb), MV_EINVAL);
  ck_assert_ptr_nonnull (strstr (mv_error_message (), "t.json: student: "));
  mv_problem_clear (&pb);
  /* generated student replaced by explicit vectors */
  char text[512];
  gen_spec (text, sizeof text, 3, 1, 1, 1, 1, NULL, 1);
  parse_ok (&pb, text);
  ck_assert_int_eq (mv_problem_gram_sample_d (G, NULL, &pb), MV_OK);
  const double V[3] = { 1, 0, 0 }, W[3] = { 0, 1, 1 };
  ck_assert_int_eq (mv_problem_set_student_d (&pb, V, W), MV_OK);
  ck_assert_int_eq (mv_problem_gram_sample_d (G, NULL, &pb), MV_EINVAL);
  ck_assert_ptr_nonnull (strstr (mv_error_message (), "student"));
  double nr[6];
  ck_assert_int_eq (mv_problem_gram_d (G, nr, &pb), MV_OK);
  ck_assert (nr[0] == 1 && G[1] == 0 && nr[1] == sqrt (2.0));
  mv_problem_clear (&pb);
  ck_assert_int_eq (mv_problem_gram_sample_d (G, NULL, &pb), MV_EINVAL);
  ck_assert_int_eq (mv_problem_gram_d (G, NULL, NULL), MV_EINVAL);
}
END_TEST

/* ------------------------------------------------------------ io */

START_TEST (t_io_digits)
{
  ck_assert_int_eq (mv_io_digits_d (1.5, 1e-10), 10);
  ck_assert_int_eq (mv_io_digits_d (123.456, 0.01), 4);
  ck_assert_int_eq (mv_io_digits_d (1.0, 0.6), 0);
  ck_assert_int_eq (mv_io_digits_d (0.0, 1e-10), 0);
  ck_assert_int_eq (mv_io_digits_d (1.0, 0.0), 16);
  ck_assert_int_eq (mv_io_digits_d (1.0, INFINITY), 0);
  ck_assert_int_eq (mv_io_digits_d (NAN, 1e-3), 0);
  ck_assert_int_eq (mv_io_digits_d (1.0, 1e-300), 16);  /* capped */
  mpfr_t x, y, r;
  mpfr_inits2 (256, x, y, r, (mpfr_ptr) 0);
  mpfr_set_ui (x, 1, MPFR_RNDN);
  mv_mag me;
  mv_mag_zero (&me);
  ck_assert_int_eq (mv_io_digits (x, &me), 77);
  /* property: x printed with N digits is within one unit of its last digit
   * of any value within abserr of x */
  srand (12345);
  for (int t = 0; t < 2000; t++)
    {
      double xv = ((double) rand () / RAND_MAX - 0.5) * pow (10, rand () % 40
                                                              - 20);
      double err = fabs (xv) * pow (10, -(double) (rand () % 3000) / 100.0);
      mpfr_set_d (x, xv, MPFR_RNDN);
      mv_mag_set_d (&me, err);
      int n = mv_io_digits (x, &me);
      if (n == 0)
        continue;
      char *s = mv_io_mpfr_str (x, n);
      mpfr_set_str (y, s, 10, MPFR_RNDN);
      free (s);
      /* unit of the last digit of x */
      long e = (long) floor (log10 (fabs (xv)));
      mpfr_set_ui (r, 10, MPFR_RNDN);
      mpfr_pow_si (r, r, e - n + 1, MPFR_RNDN);
      mpfr_sub (y, y, x, MPFR_RNDN);
      mpfr_abs (y, y, MPFR_RNDN);
      mpfr_add_d (y, y, err, MPFR_RNDU);
      ck_assert_msg (mpfr_cmp (y, r) <= 0, "x = %.17g, err = %g, %d digits",
                     xv, err, n);
      /* and not absurdly conservative */
      ck_assert_msg (n >= (int) floor (log10 (fabs (xv) / err)) - 1
                     || n == 16, "x = %.17g err = %g: only %d digits", xv, err,
                     n);
    }
  mpfr_clears (x, y, r, (mpfr_ptr) 0);
}
END_TEST

START_TEST (t_io_str)
{
  static const struct { double x; int n; const char *s; } CASES[] = {
    { 1.0 / 3, 5, "3.3333e-1" }, { -12345.678, 4, "-1.235e4" },
    { 0.0, 5, "0" }, { 1e-5, 1, "1e-5" }, { 1.0, 3, "1.00e0" },
    { 9.99, 2, "1.0e1" }, { 2.5e300, 2, "2.5e300" }, { 42, 0, "4e1" },
    { -0.0, 3, "0" }, { INFINITY, 3, "inf" }, { NAN, 3, "nan" },
  };
  for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++)
    {
      char *s = mv_io_double_str (CASES[i].x, CASES[i].n);
      ck_assert_str_eq (s, CASES[i].s);
      free (s);
    }
  mpfr_t x;
  mpfr_init2 (x, 300);
  mpfr_const_pi (x, MPFR_RNDN);
  char *s = mv_io_mpfr_str (x, 60);
  ck_assert_str_eq (s, "3.14159265358979323846264338327950288419716939937510"
                    "582097494e0");
  free (s);
  mpfr_clear (x);
}
END_TEST

static int
dir_entries (const char *dir)
{
  DIR *d = opendir (dir);
  int n = 0;
  struct dirent *e;
  while ((e = readdir (d)))
    n += strcmp (e->d_name, ".") && strcmp (e->d_name, "..");
  closedir (d);
  return n;
}

START_TEST (t_io_files)
{
  char dir[] = "/tmp/mv_test_io_XXXXXX", path[128], bad[160];
  ck_assert_ptr_nonnull (mkdtemp (dir));
  snprintf (path, sizeof path, "%s/out.json", dir);
  ck_assert_int_eq (mv_io_write_atomic (path, "hello\n", 6), MV_OK);
  ck_assert_int_eq (mv_io_write_atomic (path, "abc", 3), MV_OK);
  size_t len;
  char *t = mv_io_read_file (path, &len);
  ck_assert_ptr_nonnull (t);
  ck_assert_uint_eq (len, 3);
  ck_assert_str_eq (t, "abc");
  free (t);
  ck_assert_int_eq (dir_entries (dir), 1);  /* no temporaries left */
  snprintf (bad, sizeof bad, "%s/missing/out.json", dir);
  ck_assert_int_eq (mv_io_write_atomic (bad, "x", 1), MV_EIO);
  ck_assert_ptr_nonnull (strstr (mv_error_message (), bad));
  /* a directory as target: rename fails, temp removed, target untouched */
  snprintf (bad, sizeof bad, "%s/sub", dir);
  ck_assert_int_eq (mkdir (bad, 0700), 0);
  ck_assert_int_eq (mv_io_write_atomic (bad, "x", 1), MV_EIO);
  ck_assert_ptr_nonnull (strstr (mv_error_message (), bad));
  ck_assert_int_eq (dir_entries (dir), 2);
  ck_assert_ptr_null (mv_io_read_file (bad, NULL));
  ck_assert_ptr_nonnull (strstr (mv_error_message (), bad));
  ck_assert_ptr_null (mv_io_read_file ("/nonexistent/x", NULL));
  ck_assert_ptr_nonnull (strstr (mv_error_message (), "/nonexistent/x"));
  rmdir (bad);
  unlink (path);
  rmdir (dir);
  /* progress output is off when stderr is not a terminal; calls are safe */
  mv_io_progress ("x", 0.5);
  mv_io_progress_done ();
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("problem");
  TCase *tc = tcase_create ("spec");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, t_example_small);
  tcase_add_test (tc, t_example_paper);
  tcase_add_test (tc, t_student_deterministic);
  tcase_add_test (tc, t_teacher_mpfr);
  tcase_add_test (tc, t_teacher_separate);
  tcase_add_test (tc, t_teacher_cross_norm_one);
  tcase_add_test (tc, t_decimal_exact);
  tcase_add_loop_test (tc, t_bad_inputs, 0, (int) NBAD);
  tcase_add_test (tc, t_read_errors);
  tcase_add_test (tc, t_error_message_length);
  tcase_add_test (tc, t_to_json);
  tcase_add_test (tc, t_set_d);
  tcase_add_test (tc, t_check_d);
  suite_add_tcase (s, tc);
  /* ~2 s natively; generous for valgrind */
  TCase *gram = tcase_create ("gram");
  tcase_set_timeout (gram, 600);
  tcase_add_test (gram, t_gram_d);
  tcase_add_test (gram, t_gram_law_all);
  tcase_add_test (gram, t_gram_law_cross);
  tcase_add_test (gram, t_gram_law_small_d);
  tcase_add_test (gram, t_gram_huge_d);
  tcase_add_test (gram, t_gram_sample_errors);
  suite_add_tcase (s, gram);
  TCase *io = tcase_create ("io");
  tcase_add_test (io, t_io_digits);
  tcase_add_test (io, t_io_str);
  tcase_add_test (io, t_io_files);
  suite_add_tcase (s, io);
  return mv_test_run (s);
}
