/* Problem specs (problem.h) and the I/O helpers (io.h): both example specs,
 * deterministic generated vectors, orthonormal teachers in double and MPFR,
 * the cross-overlap layout, exact decimal strings, one-line errors naming
 * file and key for every class of bad input, canonical JSON, explicit
 * construction; digit counting, number formatting, atomic writes. */
#include "testutil.h"

#include <dirent.h>
#include <sys/stat.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
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
  { "{\"d\": 1000000, \"teacher\": {\"m\": 1, \"init\": {\"kind\": "
    "\"orthonormal\", \"seed\": 1}}, \"student\": {\"m\": 5000, \"init\": "
    "{\"kind\": \"gaussian\", \"seed\": 1}}}", MV_EINVAL,
    "student.m: 5000 x 1000000" },
  { SPEC ("10000000000", T_OK, S_OK, ""), MV_EINVAL, "d: 10000000000 is out" },
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
  ck_assert_int_eq (mv_io_digits (x, 0), 77);
  /* property: x printed with N digits is within one unit of its last digit
   * of any value within abserr of x */
  srand (12345);
  for (int t = 0; t < 2000; t++)
    {
      double xv = ((double) rand () / RAND_MAX - 0.5) * pow (10, rand () % 40
                                                              - 20);
      double err = fabs (xv) * pow (10, -(double) (rand () % 3000) / 100.0);
      mpfr_set_d (x, xv, MPFR_RNDN);
      int n = mv_io_digits (x, err);
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
  tcase_add_test (tc, t_to_json);
  tcase_add_test (tc, t_set_d);
  suite_add_tcase (s, tc);
  TCase *io = tcase_create ("io");
  tcase_add_test (io, t_io_digits);
  tcase_add_test (io, t_io_str);
  tcase_add_test (io, t_io_files);
  suite_add_tcase (s, io);
  return mv_test_run (s);
}
