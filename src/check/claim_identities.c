/* Claim "identities" (proofs/claim-identities.md): the exact identities of
 * MATH.md §2-4 at random points and along a full and a reduced flow, each
 * against the tool's own error bound (MPFR radii, the double path's bound,
 * or the integrator's accepted local-error tolerance). */
#include <moeverify/check.h>
#include <moeverify/error.h>
#include <moeverify/flow.h>
#include <moeverify/hermite.h>
#include <moeverify/loss.h>
#include <moeverify/problem.h>
#include <moeverify/traj.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#define PREC 256

/* The worst point of one identity: largest value / bound. */
typedef struct {
  double value, bound;
  size_t n;          /* points compared */
  char where[80];
} worst;

static void
worst_add (worst *w, double value, double bound, const char *where)
{
  w->n++;
  if (w->n == 1 || !(value / bound <= w->value / w->bound))
    {
      w->value = value, w->bound = bound;
      snprintf (w->where, sizeof w->where, "%s", where);
    }
}

/* Margin in digits to spare: log10(bound / value); infinite when the
 * value is exactly 0 (the report prints "inf", JSON null). */
static double
digits (double value, double bound)
{
  return value == 0 && bound > 0 ? INFINITY : log10 (bound / value);
}

static int
measure (mv_check_result *r, const char *name, const worst *w, const char *what)
{
  if (!w->n)
    return MV_OK;
  return mv_check_measure_add (r, name, w->value, w->bound, digits (w->value, w->bound),
                               "%s; margin in digits; worst of %zu at %s", what,
                               w->n, w->where);
}

typedef struct {
  size_t m, ms, d;
  double *V, *W, *Vt, *Wt;       /* doubles, exact in MPFR too */
  mpfr_t *mV, *mW, *mVt, *mWt;   /* PREC-bit copies */
  mpfr_t L, L0, *gV, *gW;   /* L0: the loss at the point itself */
} point;

static void
point_free (point *p)
{
  mpfr_t *a[6] = { p->mV, p->mW, p->mVt, p->mWt, p->gV, p->gW };
  size_t n[6] = { p->m, p->m, p->ms, p->ms, p->m, p->m };
  for (int k = 0; k < 6; k++)
    {
      for (size_t i = 0; a[k] && i < n[k] * p->d; i++)
        mpfr_clear (a[k][i]);
      free (a[k]);
    }
  if (p->V)
    mpfr_clears (p->L, p->L0, (mpfr_ptr) 0);
  free (p->V), free (p->W), free (p->Vt), free (p->Wt);
  memset (p, 0, sizeof *p);
}

static mpfr_t *
mp_array (size_t n)
{
  mpfr_t *a = malloc ((n ? n : 1) * sizeof *a);
  for (size_t i = 0; a && i < n; i++)
    mpfr_init2 (a[i], PREC);
  return a;
}

/* Gaussian vectors of shape (m, m*, d) from seed. */
static int
point_alloc (point *p, size_t m, size_t ms, size_t d, unsigned long seed)
{
  memset (p, 0, sizeof *p);
  p->m = m, p->ms = ms, p->d = d;
  p->V = malloc (m * d * sizeof (double)), p->W = malloc (m * d * sizeof (double));
  p->Vt = malloc (ms * d * sizeof (double)), p->Wt = malloc (ms * d * sizeof (double));
  p->mV = mp_array (m * d), p->mW = mp_array (m * d);
  p->mVt = mp_array (ms * d), p->mWt = mp_array (ms * d);
  p->gV = mp_array (m * d), p->gW = mp_array (m * d);
  gsl_rng *rng = gsl_rng_alloc (gsl_rng_mt19937);
  if (p->V)
    mpfr_inits2 (PREC, p->L, p->L0, (mpfr_ptr) 0);
  if (!p->V || !p->W || !p->Vt || !p->Wt || !p->mV || !p->mW || !p->mVt || !p->mWt
      || !p->gV || !p->gW || !rng)
    {
      gsl_rng_free (rng);
      point_free (p);
      return mv_error_set (MV_ENOMEM, "identities: out of memory");
    }
  gsl_rng_set (rng, seed);
  double *a[4] = { p->V, p->W, p->Vt, p->Wt };
  mpfr_t *b[4] = { p->mV, p->mW, p->mVt, p->mWt };
  size_t n[4] = { m, m, ms, ms };
  for (int k = 0; k < 4; k++)
    for (size_t i = 0; i < n[k] * d; i++)
      {
        a[k][i] = gsl_ran_gaussian (rng, 1.0);
        mpfr_set_d (b[k][i], a[k][i], MPFR_RNDN);
      }
  gsl_rng_free (rng);
  return MV_OK;
}

/* L (and the gradient into p->gV, p->gW when grad) at PREC bits from the
 * MPFR vectors given. */
static int
mp_loss (point *p, mpfr_t *V, mpfr_t *W, mpfr_t *Vt, mpfr_t *Wt, int grad,
         mv_loss_info *info, mv_loss_ws *ws)
{
  return mv_loss_eval_vec (p->L, grad ? p->gV : NULL, grad ? p->gW : NULL, info,
                           (mpfr_t const *) V, (mpfr_t const *) W,
                           (mpfr_t const *) Vt, (mpfr_t const *) Wt, p->d, 0.0, ws);
}

/* |x - y| as a double (the difference exact for exponents within
 * PREC bits of each other: no rounding enters the measured value). */
static double
mp_diff (const mpfr_t x, const mpfr_t y)
{
  mpfr_t t;
  mpfr_init2 (t, mpfr_get_prec (x) + mpfr_get_prec (y) + 8);
  mpfr_sub (t, x, y, MPFR_RNDN);
  double v = fabs (mpfr_get_d (t, MPFR_RNDN));
  mpfr_clear (t);
  return v;
}

typedef struct {
  worst orth, perm, rot, flip, odd, zero_L, zero_g, zero_Ld, flip_pair;
  worst norm, energy_full, energy_red;
  size_t perm_bitequal, perm_n;
} acc;

/* grad_{u_k} . u_k = 0 for every raw vector, relative to |g_k| |u_k|. */
static void
check_orth (acc *a, point *p, const mv_loss_info *info, const char *where)
{
  mpfr_t s, t;
  mpfr_inits2 (2 * PREC, s, t, (mpfr_ptr) 0);
  double gerr = mv_mag_get_d (&info->grad_err);
  for (size_t k = 0; k < 2 * p->m; k++)
    {
      mpfr_t *g = k < p->m ? p->gV : p->gW;
      const double *u = k < p->m ? p->V : p->W;
      size_t i = k % p->m;
      double gn = 0, un = 0;
      mpfr_set_zero (s, 1);
      for (size_t c = 0; c < p->d; c++)
        {
          mpfr_mul_d (t, g[i * p->d + c], u[i * p->d + c], MPFR_RNDN);
          mpfr_add (s, s, t, MPFR_RNDN);
          double gc = mpfr_get_d (g[i * p->d + c], MPFR_RNDN);
          gn += gc * gc, un += u[i * p->d + c] * u[i * p->d + c];
        }
      gn = sqrt (gn), un = sqrt (un);
      /* each component is off by <= grad_err; the 512-bit sum adds ~d 2^-512 */
      double bound = (sqrt ((double) p->d) * gerr * un + p->d * ldexp (gn * un, -500))
                     / (gn * un);
      worst_add (&a->orth, fabs (mpfr_get_d (s, MPFR_RNDN)) / (gn * un), bound, where);
    }
  mpfr_clears (s, t, (mpfr_ptr) 0);
}

/* Permuting the students (a cyclic shift) leaves L unchanged: double path,
 * against the sum of its two error bounds; bit equality counted. */
static int
check_perm (acc *a, point *p, mv_loss_ws *wsd, const char *where)
{
  size_t m = p->m, d = p->d;
  double *V2 = malloc (m * d * sizeof *V2), *W2 = malloc (m * d * sizeof *W2);
  if (!V2 || !W2)
    {
      free (V2), free (W2);
      return mv_error_set (MV_ENOMEM, "identities: out of memory");
    }
  for (size_t i = 0; i < m; i++)
    {
      memcpy (V2 + i * d, p->V + ((i + 1) % m) * d, d * sizeof *V2);
      memcpy (W2 + i * d, p->W + ((i + 1) % m) * d, d * sizeof *W2);
    }
  double La, Lb;
  mv_loss_info ia, ib;
  int s = mv_loss_eval_vec_d (&La, NULL, NULL, &ia, p->V, p->W, p->Vt, p->Wt, d, 0, wsd);
  if (!s)
    s = mv_loss_eval_vec_d (&Lb, NULL, NULL, &ib, V2, W2, p->Vt, p->Wt, d, 0, wsd);
  if (!s)
    {
      worst_add (&a->perm, fabs (La - Lb), mv_mag_get_d (&ia.err) + mv_mag_get_d (&ib.err),
                 where);
      a->perm_bitequal += La == Lb, a->perm_n++;
    }
  free (V2), free (W2);
  return s;
}

/* x -> x - 2 (h.x)/(h.h) h for every row of A (rows x d), at PREC + 64
 * bits (h.h too: a double h.h would leave the reflection orthogonal only to
 * 1e-16). */
static void
reflect (mpfr_t *A, size_t rows, size_t d, const double *h)
{
  mpfr_t s, t, hh;
  mpfr_inits2 (PREC + 64, s, t, hh, (mpfr_ptr) 0);
  mpfr_set_zero (hh, 1);
  for (size_t c = 0; c < d; c++)
    {
      mpfr_set_d (t, h[c], MPFR_RNDN);
      mpfr_mul_d (t, t, h[c], MPFR_RNDN);
      mpfr_add (hh, hh, t, MPFR_RNDN);
    }
  mpfr_div_2ui (hh, hh, 1, MPFR_RNDN);
  for (size_t i = 0; i < rows; i++)
    {
      mpfr_set_zero (s, 1);
      for (size_t c = 0; c < d; c++)
        {
          mpfr_mul_d (t, A[i * d + c], h[c], MPFR_RNDN);
          mpfr_add (s, s, t, MPFR_RNDN);
        }
      mpfr_div (s, s, hh, MPFR_RNDN);
      for (size_t c = 0; c < d; c++)
        {
          mpfr_mul_d (t, s, h[c], MPFR_RNDN);
          mpfr_sub (A[i * d + c], A[i * d + c], t, MPFR_RNDN);
        }
    }
  mpfr_clears (s, t, hh, (mpfr_ptr) 0);
}

/* A common rotation (an even number of random reflections) of every
 * vector leaves L unchanged, at PREC bits. */
static int
check_rot (acc *a, point *p, const mv_loss_info *i0, mv_loss_ws *ws,
           unsigned long seed, const char *where)
{
  size_t m = p->m, ms = p->ms, d = p->d, K = 2 * ((d + 1) / 2);
  mpfr_t *R[4] = { mp_array (m * d), mp_array (m * d), mp_array (ms * d), mp_array (ms * d) };
  mpfr_t *src[4] = { p->mV, p->mW, p->mVt, p->mWt };
  size_t rows[4] = { m, m, ms, ms };
  double *h = malloc (d * sizeof *h);
  gsl_rng *rng = gsl_rng_alloc (gsl_rng_mt19937);
  int s = R[0] && R[1] && R[2] && R[3] && h && rng ? MV_OK
          : mv_error_set (MV_ENOMEM, "identities: out of memory");
  if (!s)
    {
      gsl_rng_set (rng, seed);
      for (int k = 0; k < 4; k++)
        for (size_t i = 0; i < rows[k] * d; i++)
          mpfr_set (R[k][i], src[k][i], MPFR_RNDN);
      for (size_t r = 0; r < K; r++)
        {
          for (size_t c = 0; c < d; c++)
            h[c] = gsl_ran_gaussian (rng, 1.0);
          for (int k = 0; k < 4; k++)
            reflect (R[k], rows[k], d, h);
        }
      mv_loss_info ib;
      s = mp_loss (p, R[0], R[1], R[2], R[3], 0, &ib, ws);
      /* the rotated vectors carry PREC-bit rounding: every correlation moves
         by <= ~K d 2^-PREC, each of the n^2 pair terms by about abs_terms
         times that */
      size_t n = 2 * (m + ms);
      double inp = (double) (K * d * n * n) * ldexp (fmax (1, i0->abs_terms), -PREC + 2);
      if (!s)
        worst_add (&a->rot, mp_diff (p->L, p->L0),
                   mv_mag_get_d (&i0->err) + mv_mag_get_d (&ib.err) + inp, where);
    }
  for (int k = 0; k < 4; k++)
    {
      for (size_t i = 0; R[k] && i < rows[k] * d; i++)
        mpfr_clear (R[k][i]);
      free (R[k]);
    }
  free (h);
  gsl_rng_free (rng);
  return s;
}

/* He3 is odd: negating every expert vector, students' and teachers', maps
 * (f, f*) to (-f, -f*) and leaves L unchanged. */
static int
check_flip_all (acc *a, point *p, const mv_loss_info *i0, mv_loss_ws *ws,
                const char *where)
{
  size_t nw = p->m * p->d, nt = p->ms * p->d;
  for (size_t i = 0; i < nw; i++)
    mpfr_neg (p->mW[i], p->mW[i], MPFR_RNDN);
  for (size_t i = 0; i < nt; i++)
    mpfr_neg (p->mWt[i], p->mWt[i], MPFR_RNDN);
  mv_loss_info ib;
  int s = mp_loss (p, p->mV, p->mW, p->mVt, p->mWt, 0, &ib, ws);
  for (size_t i = 0; i < nw; i++)
    mpfr_neg (p->mW[i], p->mW[i], MPFR_RNDN);
  for (size_t i = 0; i < nt; i++)
    mpfr_neg (p->mWt[i], p->mWt[i], MPFR_RNDN);
  if (!s)
    worst_add (&a->flip, mp_diff (p->L, p->L0),
               mv_mag_get_d (&i0->err) + mv_mag_get_d (&ib.err), where);
  return s;
}

/* L at PREC bits into out with student 0's and/or 1's expert negated
 * (mask bit i: negate w_i); its error bound added to *err. */
static int
loss_flipped (mpfr_t out, double *err, point *p, unsigned mask, mv_loss_ws *ws)
{
  for (size_t i = 0; i < 2; i++)
    if (mask >> i & 1)
      for (size_t c = 0; c < p->d; c++)
        mpfr_neg (p->mW[i * p->d + c], p->mW[i * p->d + c], MPFR_RNDN);
  mv_loss_info info;
  int s = mp_loss (p, p->mV, p->mW, p->mVt, p->mWt, 0, &info, ws);
  for (size_t i = 0; i < 2; i++)
    if (mask >> i & 1)
      for (size_t c = 0; c < p->d; c++)
        mpfr_neg (p->mW[i * p->d + c], p->mW[i * p->d + c], MPFR_RNDN);
  mpfr_set (out, p->L, MPFR_RNDN);
  *err += mv_mag_get_d (&info.err);
  return s;
}

/* Negating w_i negates expert i's output h_i.  L is a quadratic form in the
 * outputs, so its second difference in the signs of experts 0 and 1 is
 * L(++) - L(-+) - L(+-) + L(--) = 4 E[h_0 h_1]; E[h_0 h_1] is measured
 * independently as (L_C - L_B)/2 of the one-student problems "student 0
 * against teacher (v_1, +-w_1)". */
static int
check_odd (acc *a, point *p, mv_loss_ws *ws, mv_loss_ws *ws11, const char *where)
{
  if (p->m < 2)
    return MV_OK;
  mpfr_t D, t, LB, LC;
  /* D and t at 2 PREC + 16 bits: their sums of PREC-bit values are exact */
  mpfr_inits2 (2 * PREC + 16, D, t, (mpfr_ptr) 0);
  mpfr_inits2 (PREC, LB, LC, (mpfr_ptr) 0);
  double err = 0;
  int s = MV_OK;
  static const int sign[4] = { 1, -1, -1, 1 };
  mpfr_set_zero (D, 1);
  for (unsigned mask = 0; mask < 4 && !s; mask++)
    {
      s = loss_flipped (t, &err, p, mask, ws);
      if (sign[mask] > 0)
        mpfr_add (D, D, t, MPFR_RNDN);
      else
        mpfr_sub (D, D, t, MPFR_RNDN);
    }
  mv_loss_info ib, ic;
  size_t d = p->d;
  if (!s)
    s = mv_loss_eval_vec (LB, NULL, NULL, &ib, (mpfr_t const *) p->mV,
                          (mpfr_t const *) p->mW, (mpfr_t const *) p->mV + d,
                          (mpfr_t const *) p->mW + d, d, 0.0, ws11);
  for (size_t c = 0; c < d; c++)
    mpfr_neg (p->mW[d + c], p->mW[d + c], MPFR_RNDN);
  if (!s)
    s = mv_loss_eval_vec (LC, NULL, NULL, &ic, (mpfr_t const *) p->mV,
                          (mpfr_t const *) p->mW, (mpfr_t const *) p->mV + d,
                          (mpfr_t const *) p->mW + d, d, 0.0, ws11);
  for (size_t c = 0; c < d; c++)
    mpfr_neg (p->mW[d + c], p->mW[d + c], MPFR_RNDN);
  if (!s)
    {
      /* 4 E[h0 h1] = 2 (L_C - L_B) */
      mpfr_sub (t, LC, LB, MPFR_RNDN);
      mpfr_mul_2ui (t, t, 1, MPFR_RNDN);
      err += 2 * (mv_mag_get_d (&ib.err) + mv_mag_get_d (&ic.err));
      worst_add (&a->odd, mp_diff (D, t), err, where);
    }
  mpfr_clears (D, t, LB, LC, (mpfr_ptr) 0);
  return s;
}

/* Every random-point identity at one point. */
static int
check_point (acc *a, size_t m, size_t ms, size_t d, unsigned long seed,
             mv_loss_ws *ws, mv_loss_ws *wsd, mv_loss_ws *ws11)
{
  point p;
  char where[80];
  snprintf (where, sizeof where, "(m, m*, d) = (%zu, %zu, %zu) seed %lu", m, ms, d, seed);
  int s = point_alloc (&p, m, ms, d, seed);
  if (s)
    return s;
  mv_loss_info i0;
  s = mp_loss (&p, p.mV, p.mW, p.mVt, p.mWt, 1, &i0, ws);
  if (!s)
    {
      mpfr_set (p.L0, p.L, MPFR_RNDN);
      check_orth (a, &p, &i0, where);
      s = check_perm (a, &p, wsd, where);
    }
  if (!s)
    s = check_rot (a, &p, &i0, ws, seed + 1000, where);
  if (!s)
    s = check_flip_all (a, &p, &i0, ws, where);
  if (!s)
    s = check_odd (a, &p, ws, ws11, where);
  point_free (&p);
  return s;
}

/* Student = teacher (experts listed in another order): L = 0 and grad = 0
 * within the PREC-bit bounds, and |L| within the double path's bound. */
static int
check_teacher (acc *a, size_t m, size_t d, unsigned long seed, mv_loss_ws *ws,
               mv_loss_ws *wsd)
{
  point p;
  char where[80];
  snprintf (where, sizeof where, "m = m* = %zu, d = %zu, seed %lu", m, d, seed);
  int s = point_alloc (&p, m, m, d, seed);
  if (s)
    return s;
  for (size_t i = 0; i < m; i++)
    for (size_t c = 0; c < d; c++)
      {
        size_t j = ((i + 1) % m) * d + c;
        p.V[i * d + c] = p.Vt[j], p.W[i * d + c] = p.Wt[j];
        mpfr_set_d (p.mV[i * d + c], p.Vt[j], MPFR_RNDN);
        mpfr_set_d (p.mW[i * d + c], p.Wt[j], MPFR_RNDN);
      }
  mv_loss_info info;
  s = mp_loss (&p, p.mV, p.mW, p.mVt, p.mWt, 1, &info, ws);
  double Ld;
  mv_loss_info id;
  if (!s)
    s = mv_loss_eval_vec_d (&Ld, NULL, NULL, &id, p.V, p.W, p.Vt, p.Wt, d, 0, wsd);
  if (!s)
    {
      double g = 0;
      for (size_t i = 0; i < m * d; i++)
        g = fmax (g, fmax (fabs (mpfr_get_d (p.gV[i], MPFR_RNDN)),
                           fabs (mpfr_get_d (p.gW[i], MPFR_RNDN))));
      worst_add (&a->zero_L, fabs (mpfr_get_d (p.L, MPFR_RNDN)), mv_mag_get_d (&info.err), where);
      worst_add (&a->zero_g, g, mv_mag_get_d (&info.grad_err), where);
      worst_add (&a->zero_Ld, fabs (Ld), mv_mag_get_d (&id.err), where);
      /* negate w of student 0 and of its teacher (1 mod m): still f = f* */
      size_t j = (1 % m) * d;
      for (size_t c = 0; c < d; c++)
        mpfr_neg (p.mW[c], p.mW[c], MPFR_RNDN), mpfr_neg (p.mWt[j + c], p.mWt[j + c], MPFR_RNDN);
      s = mp_loss (&p, p.mV, p.mW, p.mVt, p.mWt, 0, &info, ws);
      if (!s)
        worst_add (&a->flip_pair, fabs (mpfr_get_d (p.L, MPFR_RNDN)),
                   mv_mag_get_d (&info.err), where);
    }
  point_free (&p);
  return s;
}

/* What an observer collects along a flow, at its output rows. */
typedef struct {
  int full;
  size_t m, n, rows;
  mv_loss_ws *wsd;
  double *dLdG, norm0[64];
  double L0, err0, errmax;
  double drift, disc, sens, ymax, Emax;
} flow_obs;

static int
flow_observe (void *ctx, const mv_obs_point *pt)
{
  flow_obs *f = ctx;
  if (pt->kind != MV_OBS_ROW)
    return MV_OK;
  double L, sens = 0, y = 0;
  mv_loss_info info;
  int s = mv_loss_gram_d (&L, f->dLdG, &info, pt->G, 0.0, f->wsd);
  if (s)
    return s;
  double err = mv_mag_get_d (&info.err);
  if (f->rows++ == 0)
    f->L0 = pt->loss, f->err0 = err;
  f->errmax = fmax (f->errmax, err);
  f->disc = fmax (f->disc, fabs (f->L0 - pt->loss - pt->energy));
  f->Emax = fmax (f->Emax, pt->energy);
  if (f->full && pt->theta)
    {
      for (size_t k = 0; k < 2 * f->m; k++)
        {
          double u = 0;
          for (size_t c = 0; c < pt->d; c++)
            u += pt->theta[k * pt->d + c] * pt->theta[k * pt->d + c];
          y += u, u = sqrt (u);
          if (f->rows == 1)
            f->norm0[k] = u;
          f->drift = fmax (f->drift, fabs (u / f->norm0[k] - 1));
        }
      sens = sqrt (pt->grad2);
    }
  else
    /* the reduced state: G_kl, k < l, k a student */
    for (size_t k = 0; k < 2 * f->m; k++)
      for (size_t l = k + 1; l < f->n; l++)
        sens += f->dLdG[k * f->n + l] * f->dLdG[k * f->n + l],
        y += pt->G[k * f->n + l] * pt->G[k * f->n + l];
  if (!f->full)
    sens = sqrt (sens);
  f->sens = fmax (f->sens, sens), f->ymax = fmax (f->ymax, sqrt (y));
  return MV_OK;
}

/* Bounds from GSL's step control (scaled: |local error_i| <= 1.1 (atol
 * scale_i + rtol |y_i|) on every accepted step; the full flow's scale is
 * |u_k|/sqrt(d), the reduced flow's 1).  An invariant I of the exact flow
 * drifts by at most the sum of |grad I| x the local errors. */
static void
flow_bounds (acc *a, const flow_obs *f, const mv_traj *tr, size_t nstate,
             const char *where)
{
  double nacc = (double) (tr->steps - tr->rejected);
  double dy = f->full ? 1.1 * (tr->atol + tr->rtol) * f->ymax
              : 1.1 * (tr->atol * sqrt ((double) nstate) + tr->rtol * f->ymax);
  double dE = 1.1 * (tr->atol + tr->rtol * f->Emax);
  worst_add (f->full ? &a->energy_full : &a->energy_red, f->disc,
             nacc * (f->sens * dy + dE) + f->err0 + f->errmax, where);
  if (f->full)
    worst_add (&a->norm, f->drift, nacc * 1.1 * (tr->atol + tr->rtol)
               + 4.0 * (double) tr->d * DBL_EPSILON, where);
}

static const char FLOW_SPEC[] =
  "{\"d\": 10, \"teacher\": {\"m\": 2, \"init\": {\"kind\": \"orthonormal\", \"seed\": 1}},"
  " \"student\": {\"m\": 3, \"init\": {\"kind\": \"gaussian\", \"seed\": 2}}}";

/* A full and a reduced flow of FLOW_SPEC to t_end. */
static int
check_flows (acc *a, double t_end, mv_loss_ws *wsd)
{
  mv_problem pb;
  int s = mv_problem_parse (&pb, FLOW_SPEC, "identities flow");
  if (s)
    return s;
  size_t n = 2 * (pb.m + pb.mstar), nvar = 0;
  double *G0 = malloc (n * n * sizeof *G0), *nr = malloc (n * sizeof *nr);
  double *dLdG = malloc (n * n * sizeof *dLdG);
  s = G0 && nr && dLdG ? mv_flow_gram0 (G0, nr, NULL, 0, &pb, MV_GRAM0_VECTORS)
      : mv_error_set (MV_ENOMEM, "identities: out of memory");
  for (size_t k = 0; k < 2 * pb.m; k++)
    nvar += n - k - 1;
  for (int full = 1; full >= 0 && !s; full--)
    {
      flow_obs f = { .full = full, .m = pb.m, .n = n, .wsd = wsd, .dLdG = dLdG };
      mv_observer obs = { "identities", flow_observe, NULL, &f };
      mv_flow_params par;
      mv_flow_params_default (&par);
      par.t_end = t_end, par.n_out = 60;
      par.observers = &obs, par.n_observers = 1;
      mv_traj tr;
      s = mv_traj_init (&tr, pb.m, pb.mstar);
      if (!s)
        s = full ? mv_flow_full (&tr, &pb, &par)
            : mv_flow_reduced (&tr, G0, nr, pb.m, pb.mstar, 0.0, &par);
      if (!s)
        {
          char where[80];
          snprintf (where, sizeof where, "%s flow, t <= %g, %lu steps", full ? "full" : "reduced",
                    t_end, tr.steps - tr.rejected);
          flow_bounds (a, &f, &tr, full ? 2 * pb.m * pb.d + 1 : nvar + 1, where);
        }
      mv_traj_clear (&tr);
    }
  free (G0), free (nr), free (dLdG);
  mv_problem_clear (&pb);
  return s;
}

static const size_t SHAPES[][3] = { { 2, 1, 6 }, { 3, 2, 7 }, { 5, 3, 12 },
                                    { 4, 2, 20 }, { 6, 3, 30 } };

static void
progress (const mv_check_opts *o, const char *what, double f)
{
  if (o->progress)
    o->progress (o->progress_ctx, what, f);
}

/* The random points of every shape the level uses. */
static int
check_points (acc *a, const mv_check_opts *o, size_t nshapes, unsigned npts)
{
  int s = MV_OK;
  mv_loss_ws *ws11 = mv_loss_alloc (1, 1, PREC);
  if (!ws11)
    return MV_ENOMEM;
  for (size_t k = 0; k < nshapes && !s; k++)
    {
      size_t m = SHAPES[k][0], ms = SHAPES[k][1], d = SHAPES[k][2];
      mv_loss_ws *ws = mv_loss_alloc (m, ms, PREC), *wsd = mv_loss_alloc (m, ms, MV_PREC_DOUBLE);
      mv_loss_ws *wt = mv_loss_alloc (ms, ms, PREC), *wtd = mv_loss_alloc (ms, ms, MV_PREC_DOUBLE);
      s = ws && wsd && wt && wtd ? MV_OK : MV_ENOMEM;
      for (unsigned j = 0; j < npts && !s; j++)
        {
          progress (o, "random points", (k * npts + j) / (double) (nshapes * npts));
          s = check_point (a, m, ms, d, 1 + 7919 * k + j, ws, wsd, ws11);
          if (!s)
            s = check_teacher (a, ms, d, 2 + 7919 * k + j, wt, wtd);
        }
      mv_loss_free (ws), mv_loss_free (wsd), mv_loss_free (wt), mv_loss_free (wtd);
    }
  mv_loss_free (ws11);
  return s;
}

static int
report (mv_check_result *r, const acc *a)
{
  const worst *w[] = { &a->norm, &a->energy_full, &a->energy_red, &a->zero_L, &a->zero_g,
                       &a->zero_Ld, &a->perm, &a->rot, &a->flip, &a->flip_pair, &a->odd,
                       &a->orth };
  static const char *const names[] = {
    "norm conservation (full flow)", "energy identity (full flow)",
    "energy identity (reduced flow)", "L = 0 at student = teacher",
    "grad L = 0 at student = teacher", "L = 0 at student = teacher (double)",
    "permutation invariance (double)", "rotation invariance", "global sign flip",
    "sign flip of a matched pair", "sign flip of one expert", "gradient orthogonality" };
  static const char *const what[] = {
    "max_t max_k | |u_k(t)|/|u_k(0)| - 1 |; bound: accepted steps x 1.1 (atol + rtol) + 4 d eps",
    "max_t |L(0) - L(t) - E(t)|; bound: accepted steps x local tolerance x |grad L| + L errors",
    "as above, reduced flow (state: Gram entries)",
    "|L| at 256 bits; bound: its own error radius",
    "max |grad component| at 256 bits; bound: its own error radius",
    "|L| on the double path; bound: its own error bound",
    "|L(perm) - L| (cyclic shift of students); bound: sum of both double bounds",
    "|L(Qx) - L| at 256 bits, Q a product of random reflections; bound: both radii + input rounding",
    "|L(-w, -w*) - L| at 256 bits; bound: both radii",
    "|L| at student = teacher with w of student 0 and of its teacher negated, 256 bits; bound: its radius",
    "|L(++) - L(-+) - L(+-) + L(--) - 4 E[h_0 h_1]| at 256 bits; bound: sum of radii",
    "max |grad_u L . u| / (|grad_u L| |u|) at 256 bits; bound: sqrt(d) x gradient radius / |grad|" };
  size_t nw = sizeof w / sizeof w[0], nfail = 0;
  double minm = INFINITY;
  char failed[512] = "";
  for (size_t i = 0; i < nw; i++)
    if (w[i]->n)
      {
        minm = fmin (minm, digits (w[i]->value, w[i]->bound));
        if (!(w[i]->value <= w[i]->bound))
          snprintf (failed + strlen (failed), sizeof failed - strlen (failed), "%s%s",
                    nfail++ ? ", " : "", names[i]);
      }
  int s = mv_check_measure_add (r, "smallest margin", minm, 0, minm,
                                "digits to spare of the tightest identity (> 0: all hold)");
  for (size_t i = 0; i < nw && !s; i++)
    s = measure (r, names[i], w[i], what[i]);
  if (!s && a->perm_n)
    s = mv_check_measure_add (r, "permutation: bit-identical L", (double) a->perm_bitequal,
                              NAN, NAN, "of %zu points (summation order may change the "
                              "last bits; not required)", a->perm_n);
  if (s)
    return s;
  if (nfail)
    return mv_check_set_verdict (r, MV_CHECK_FAILS, "Outside their bounds: %s.", failed);
  return mv_check_set_verdict (r, MV_CHECK_HOLDS, "Every identity holds within the tool's "
                               "own error bounds, the tightest with %.1f digits to spare.", minm);
}

static int
run (mv_check_result *r, const mv_check_opts *o)
{
  size_t nshapes = o->level == MV_CHECK_QUICK ? 3 : o->level == MV_CHECK_DEFAULT ? 4 : 5;
  unsigned npts = o->seeds ? o->seeds : o->level == MV_CHECK_QUICK ? 1
                  : o->level == MV_CHECK_DEFAULT ? 3 : 10;
  double t_end = o->level == MV_CHECK_QUICK ? 20 : o->level == MV_CHECK_DEFAULT ? 60 : 200;
  acc a;
  memset (&a, 0, sizeof a);
  mv_loss_ws *wsd = mv_loss_alloc (3, 2, MV_PREC_DOUBLE);
  if (!wsd)
    return MV_ENOMEM;
  progress (o, "flows", 0);
  int s = check_flows (&a, t_end, wsd);
  mv_loss_free (wsd);
  if (!s)
    s = check_points (&a, o, nshapes, npts);
  if (!s)
    s = mv_check_set_method (r, "%u random Gaussian point(s) per shape (m, m*, d) in "
                             "{(2,1,6), (3,2,7), (5,3,12)%s%s}, closed form at %d bits and on "
                             "the double path; student = teacher for m = m* = 1, 2, 3; a full "
                             "and a reduced flow (d = 10, m* = 2, m = 3, rk8pd, rtol 1e-9, "
                             "atol 1e-12) to t = %g, checked at 60 output rows.", npts,
                             nshapes > 3 ? ", (4,2,20)" : "", nshapes > 4 ? ", (6,3,30)" : "",
                             PREC, t_end);
  if (!s)
    s = report (r, &a);
  progress (o, "done", 1);
  return s;
}

const mv_check_type mv_check_identities = {
  .name = "identities",
  .title = "Exact identities",
  .statement = "Norm conservation under the full flow, the energy identity dL/dt = -|grad L|^2, "
    "L = 0 and grad L = 0 at student = teacher, invariance under permuting the students and "
    "under a common rotation of all vectors, the sign flip w -> -w negating an expert's output "
    "(He3 is odd), and grad_u L orthogonal to every raw vector u hold to working precision.",
  .provenance = "Derived here (MATH.md §2-4).",
  .proof = "proofs/claim-identities.md",
  .exact = 1,
  .run = run,
};
