/* Trustworthy digits of a reference run: the digits of the more accurate
 * run b that every value within 2|a - b| of it shares, truncated toward
 * zero (proofs/reference-integrator.md, "Digit rule"), and the driver that
 * makes the two runs at (p, eps) and (2p, eps^2). */
#include <moeverify/reference.h>
#include <moeverify/error.h>
#include <moeverify/hermite.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "d.ddd...eX" from the first n digits of MPFR's "[-]ddd" and exponent e
 * (value 0.ddd x 10^e). */
static void
format_digits (char *str, size_t len, const char *s, int n, mpfr_exp_t e)
{
  int neg = s[0] == '-';
  const char *dg = s + neg;
  if (n == 1)
    snprintf (str, len, "%s%ce%ld", neg ? "-" : "", dg[0], (long) e - 1);
  else
    snprintf (str, len, "%s%c.%.*se%ld", neg ? "-" : "", dg[0], n - 1, dg + 1, (long) e - 1);
}

/* Length of the common digit prefix of two MPFR digit strings of the same
 * sign and exponent. */
static int
common_prefix (const char *x, const char *y)
{
  int neg = x[0] == '-';
  if (neg != (y[0] == '-'))
    return 0;
  int n = 0;
  for (x += neg, y += neg; x[n] && x[n] == y[n]; n++)
    ;
  return n;
}

/* Truncation toward zero is monotone, so if the ends of [lo, hi] truncate
 * to the same N digits, every value in between does; truncating to M > N
 * digits and keeping N is truncating to N (the exponent cannot change
 * under RNDZ), so one conversion of each end gives the largest such N. */
static void
agree_interval (char *str, size_t len, int *digits, mpfr_t lo, mpfr_t hi, int maxd)
{
  *digits = 0;
  snprintf (str, len, "0");
  if (mpfr_sgn (lo) * mpfr_sgn (hi) <= 0)
    return;                          /* the sign itself is not confirmed */
  mpfr_exp_t el, eh;
  char *sl = mpfr_get_str (NULL, &el, 10, (size_t) maxd, lo, MPFR_RNDZ);
  char *sh = mpfr_get_str (NULL, &eh, 10, (size_t) maxd, hi, MPFR_RNDZ);
  if (sl && sh && el == eh)
    {
      int n = common_prefix (sl, sh);
      int cap = (int) len - 16;      /* sign, point, exponent */
      n = n > cap ? cap : n;
      if (n > 0)
        format_digits (str, len, sl, n, el);
      *digits = n;
    }
  mpfr_free_str (sl), mpfr_free_str (sh);
}

/* The interval both rules speak about: [lo, hi] = b -+ d, d = max(2|a - b|,
 * |b| 2^(1 - min(pa, pb))) (the second term is the rounding of the less
 * precise value, the floor when a = b), and the most digits worth trying. */
typedef struct {
  mpfr_t d, lo, hi;
  int maxd;
} interval;

static int
interval_init (interval *iv, const mpfr_t a, const mpfr_t b, size_t len)
{
  if (len < 24)
    return mv_error_set (MV_EINVAL, "reference: digit buffer of %zu bytes too small", len);
  if (!mpfr_number_p (a) || !mpfr_number_p (b))
    return mv_error_set (MV_EDOM, "reference: a compared value is not finite");
  mpfr_prec_t pa = mpfr_get_prec (a), pb = mpfr_get_prec (b);
  mpfr_prec_t pw = (pa > pb ? pa : pb) + 8;
  mpfr_t r;
  mpfr_init2 (r, pw);
  mpfr_inits2 (pw, iv->d, iv->lo, iv->hi, (mpfr_ptr) 0);
  mpfr_sub (iv->d, a, b, MPFR_RNDA);
  mpfr_abs (iv->d, iv->d, MPFR_RNDU);
  mpfr_mul_2ui (iv->d, iv->d, 1, MPFR_RNDU);
  mpfr_abs (r, b, MPFR_RNDU);
  mpfr_mul_2si (r, r, 1 - (long) (pa < pb ? pa : pb), MPFR_RNDU);
  mpfr_max (iv->d, iv->d, r, MPFR_RNDU);
  mpfr_sub (iv->lo, b, iv->d, MPFR_RNDD);
  mpfr_add (iv->hi, b, iv->d, MPFR_RNDU);
  iv->maxd = 3;
  if (!mpfr_zero_p (iv->d) && !mpfr_zero_p (b))
    {
      double span = (double) (mpfr_get_exp (b) - mpfr_get_exp (iv->d)) * 0.30103 + 3;
      iv->maxd = span > iv->maxd ? (int) span : iv->maxd;
    }
  mpfr_clear (r);
  return MV_OK;
}

static void
interval_clear (interval *iv)
{
  mpfr_clears (iv->d, iv->lo, iv->hi, (mpfr_ptr) 0);
}

int
mv_ref_agree (char *str, size_t len, int *digits, const mpfr_t a, const mpfr_t b)
{
  interval iv;
  int s = interval_init (&iv, a, b, len);
  if (s)
    return s;
  agree_interval (str, len, digits, iv.lo, iv.hi, iv.maxd);
  interval_clear (&iv);
  return MV_OK;
}

/* Is every x in [lo, hi] within one unit u = 10^(e - n) of the decimal
 * 0.s x 10^e?  S is converted at precision P with error <= |S| 2^(1-P),
 * which is added to the distances. */
static int
faithful_at (const char *s, int n, mpfr_exp_t e, const interval *iv)
{
  mpfr_prec_t P = mpfr_get_prec (iv->d) + 64;
  char buf[MV_REF_STRLEN + 32];
  snprintf (buf, sizeof buf, "%se%ld", s, (long) e - n);
  mpfr_t S, u, x, slack;
  mpfr_inits2 (P, S, u, x, slack, (mpfr_ptr) 0);
  mpfr_set_str (S, buf, 10, MPFR_RNDN);
  mpfr_abs (slack, S, MPFR_RNDU);
  mpfr_mul_2si (slack, slack, 1 - (long) P, MPFR_RNDU);
  mpfr_set_si (u, (long) e - n, MPFR_RNDN);
  mpfr_exp10 (u, u, MPFR_RNDD);
  int ok = 1;
  for (int k = 0; k < 2 && ok; k++)
    {
      mpfr_sub (x, k ? iv->hi : iv->lo, S, MPFR_RNDA);
      mpfr_abs (x, x, MPFR_RNDU);
      mpfr_add (x, x, slack, MPFR_RNDU);
      ok = mpfr_less_p (x, u);
    }
  mpfr_clears (S, u, x, slack, (mpfr_ptr) 0);
  return ok;
}

int
mv_ref_agree_faithful (char *str, size_t len, int *digits, const mpfr_t a, const mpfr_t b)
{
  interval iv;
  int s = interval_init (&iv, a, b, len);
  if (s)
    return s;
  *digits = 0;
  snprintf (str, len, "0");
  /* u shrinks tenfold per digit, so the first N from the top that holds
   * is the largest */
  int top = iv.maxd < (int) len - 16 ? iv.maxd : (int) len - 16;
  for (int n = top; n >= 1 && mpfr_sgn (iv.lo) * mpfr_sgn (iv.hi) > 0; n--)
    {
      mpfr_exp_t e;
      char *sb = mpfr_get_str (NULL, &e, 10, (size_t) n, b, MPFR_RNDN);
      int ok = sb && faithful_at (sb, n, e, &iv);
      if (ok)
        format_digits (str, len, sb, n, e), *digits = n;
      mpfr_free_str (sb);
      if (ok)
        break;
    }
  interval_clear (&iv);
  return MV_OK;
}

void
mv_ref_agreed_clear (mv_ref_agreed *ag)
{
  free (ag->digits), free (ag->str), free (ag->faithful);
  memset (ag, 0, sizeof *ag);
}

const char *
mv_ref_agreed_str (const mv_ref_agreed *ag, size_t row, size_t q)
{
  return row < ag->rows && q < ag->nq ? ag->str + (row * ag->nq + q) * MV_REF_STRLEN : NULL;
}

/* Value i faithfully rounded instead, if that keeps more digits. */
static int
faithful_if_more (mv_ref_agreed *ag, size_t i, const mpfr_t a, const mpfr_t b)
{
  char str[MV_REF_STRLEN];
  int dg, s = mv_ref_agree_faithful (str, sizeof str, &dg, a, b);
  if (!s && dg > ag->digits[i])
    {
      memcpy (ag->str + i * MV_REF_STRLEN, str, sizeof str);
      ag->digits[i] = dg, ag->faithful[i] = 1, ag->nfaithful++;
    }
  return s;
}

int
mv_ref_agree_traj (mv_ref_agreed *ag, const mv_ref_traj *a, const mv_ref_traj *b)
{
  memset (ag, 0, sizeof *ag);
  if (a->nq != b->nq || a->rows != b->rows)
    return mv_error_set (MV_EINVAL, "reference: runs differ in shape (%zu x %zu, %zu x %zu)",
                         a->rows, a->nq, b->rows, b->nq);
  for (size_t r = 0; r < a->rows; r++)
    if (a->t[r] != b->t[r])
      return mv_error_set (MV_EINVAL, "reference: runs differ in output time %zu", r);
  size_t cnt = a->rows * a->nq;
  ag->digits = malloc ((cnt ? cnt : 1) * sizeof *ag->digits);
  ag->str = malloc ((cnt ? cnt : 1) * MV_REF_STRLEN);
  ag->faithful = calloc (cnt ? cnt : 1, 1);
  if (!ag->digits || !ag->str || !ag->faithful)
    {
      mv_ref_agreed_clear (ag);
      return mv_error_set (MV_ENOMEM, "reference: out of memory");
    }
  ag->rows = a->rows, ag->nq = a->nq, ag->min_digits = INT_MAX;
  for (size_t i = 0; i < cnt; i++)
    {
      int s = mv_ref_agree (ag->str + i * MV_REF_STRLEN, MV_REF_STRLEN, &ag->digits[i],
                            a->q[i], b->q[i]);
      /* exact zeros in both runs (e.g. energy at t = 0) carry no digits */
      int zero = mpfr_zero_p (a->q[i]) && mpfr_zero_p (b->q[i]);
      if (!s && !zero && ag->digits[i] < MV_REF_FAITHFUL_BELOW)
        s = faithful_if_more (ag, i, a->q[i], b->q[i]);
      if (s)
        return s;
      if (i >= a->nq && !zero && ag->digits[i] < ag->min_digits)
        ag->min_digits = ag->digits[i];
    }
  if (ag->min_digits == INT_MAX)
    ag->min_digits = 0;
  return MV_OK;
}

int
mv_ref_confirmed (mv_ref_traj *a, mv_ref_traj *b, mv_ref_agreed *ag,
                  const mv_ref_system_type *type, const mv_ref_input *in,
                  const mv_ref_params *p)
{
  memset (a, 0, sizeof *a), memset (b, 0, sizeof *b), memset (ag, 0, sizeof *ag);
  if (!(p->tol >= 1e-145))
    return mv_error_set (MV_EINVAL, "reference: tolerance %g below 1e-145 (its square "
                         "is the confirming run's)", p->tol);
  if (2 * p->prec > MV_PREC_MAX)
    return mv_error_set (MV_EPREC, "reference: confirming precision 2 x %ld exceeds %d",
                         (long) p->prec, MV_PREC_MAX);
  int s = mv_ref_run (a, type, in, p);
  if (s || a->status != MV_TRAJ_DONE)
    return s;
  mv_ref_params q = *p;
  q.prec = 2 * p->prec, q.tol = p->tol * p->tol;
  s = mv_ref_run (b, type, in, &q);
  if (s || b->status != MV_TRAJ_DONE)
    return s;
  return mv_ref_agree_traj (ag, a, b);
}

int
mv_ref_reduced_confirmed (mv_ref_traj *a, mv_ref_traj *b, mv_ref_agreed *ag,
                          const double *G0, const double *norms, size_t m,
                          size_t mstar, double noise_var, const mv_ref_params *p)
{
  mv_ref_input in = { .m = m, .mstar = mstar, .noise_var = noise_var, .G0 = G0,
                      .norms = norms };
  return mv_ref_confirmed (a, b, ag, mv_ref_system_reduced, &in, p);
}
