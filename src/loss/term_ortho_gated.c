/* Gated orthogonality regularizer (term.h; MATH.md §5,
 * proofs/specialization-regularizers.md): e_i(x) = π(v̄_i·x) He3(w̄_i·x),
 * <e_i,e_k> = P(i,k), the pair expectation of the data fit with
 * (A,B,C,E) = (v_i, w_i, v_k, w_k), and ||e_i||^2 = S_i = P(i,i), the self
 * pair at r_i = G(v_i, w_i):
 *   L_og = Σ_{i≠k} P(i,k)^2 / (S_i S_k) = 2 Σ_{i<k} T_ik.
 * dT/dρ_a = 2 P P_a u - [a = AB] T S_i'/S_i - [a = CE] T S_k'/S_k,
 * u = 1/(S_i S_k).  Error bounds are first order in the bounds of P, S and
 * their derivatives, doubled (the neglected products are below 2^-100
 * relative).  No per-sample form (a ratio of expectations). */
#include "loss/loss_priv.h"
#include <moeverify/error.h>

#include <math.h>
#include <stdlib.h>

static const int RHO_I[MV_NRHO] = { 0, 0, 0, 1, 1, 2 };
static const int RHO_J[MV_NRHO] = { 1, 2, 3, 2, 3, 3 };

static void
pair_index (size_t kk[4], size_t i, size_t k, size_t m)
{
  kk[0] = i, kk[1] = m + i, kk[2] = k, kk[3] = m + k;
}

/* ------------------------------------------------------------ double path */

/* S_i, S_i', bounds (4 m doubles of ctx->work: S, dS, eS, edS) */
static int
selves_d (double *w, const double *G, int flags, const mv_loss_term_ctx *ctx)
{
  size_t m = ctx->m, n = ctx->n;
  for (size_t i = 0; i < m; i++)
    {
      mv_expect_vald v;
      int s = mv_expect_self_d (&v, G[i * n + m + i], flags, ctx->ws->ex);
      if (s)
        return s;
      w[i] = v.P, w[m + i] = (flags & 1) ? v.dP[0] : 0.0;
      w[2 * m + i] = v.err, w[3 * m + i] = v.derr;
    }
  return MV_OK;
}

static int
og_gram_d (mv_loss_acc_d *acc, const double *G, const mv_loss_term_ctx *ctx)
{
  size_t m = ctx->m, n = ctx->n;
  if (m < 2)
    return MV_OK;
  int flags = (acc->dLdG ? 1 : 0) | (ctx->want_bounds ? 0 : MV_EXPECT_NOBOUND);
  double *S = ctx->work, *dS = S + m, *eS = S + 2 * m, *edS = S + 3 * m;
  double w2 = 2.0 * ctx->weight, u53 = ldexp (1.0, -MV_PREC_DOUBLE);
  int s = selves_d (S, G, flags, ctx);
  for (size_t i = 0; i < m && !s; i++)
    for (size_t k = i + 1; k < m && !s; k++)
      {
        size_t kk[4];
        double rho[MV_NRHO];
        mv_expect_vald v;
        pair_index (kk, i, k, m);
        for (int a = 0; a < MV_NRHO; a++)
          rho[a] = G[kk[RHO_I[a]] * n + kk[RHO_J[a]]];
        if ((s = mv_expect_pair_d (&v, rho, flags, ctx->ws->ex)))
          break;
        double P = v.P, u = 1.0 / (S[i] * S[k]), T = P * P * u;
        double q = eS[i] / S[i] + eS[k] / S[k];
        double eT = 2.0 * ((2.0 * fabs (P) * v.err + v.err * v.err) * u + T * q)
                    + 8.0 * u53 * T;
        acc->L += w2 * T;
        acc->abs_terms += fabs (w2 * T);
        acc->err += fabs (w2) * eT;
        acc->nsum += 1;
        if (v.nterms > acc->max_terms)
          acc->max_terms = v.nterms;
        if (!acc->dLdG)
          continue;
        for (int a = 0; a < MV_NRHO; a++)
          {
            double g = 2.0 * P * v.dP[a] * u;
            double e = 2.0 * u * (fabs (v.dP[a]) * v.err + fabs (P) * v.derr
                                  + v.err * v.derr + fabs (P * v.dP[a]) * q);
            size_t j = a == MV_RHO_AB ? i : a == MV_RHO_CE ? k : (size_t) -1;
            if (j != (size_t) -1)
              {
                g -= T * dS[j] / S[j];
                e += (eT * fabs (dS[j]) + T * (edS[j] + fabs (dS[j]) * eS[j] / S[j])) / S[j];
              }
            size_t x = kk[RHO_I[a]] * n + kk[RHO_J[a]];
            acc->dLdG[x] += w2 * g;
            acc->errG[x] += fabs (w2) * (2.0 * e + 16.0 * u53 * fabs (g));
          }
      }
  return s;
}

/* d2T/dρ_a dρ_b = 2 u P_a P_b + 2 u P P_ab + 2 P (P_a u_b + P_b u_a) + P^2 u_ab,
 * u_AB = -u S_i'/S_i, u_CE = -u S_k'/S_k,
 * u_AB,AB = u (2 S_i'^2/S_i^2 - S_i''/S_i), u_AB,CE = u S_i' S_k'/(S_i S_k). */
static void
og_pair_hess (double Hp[MV_NRHO][MV_NRHO], const mv_expect_vald *v,
              double hess[MV_NRHO][MV_NRHO], const double si[3], const double sk[3])
{
  double u = 1.0 / (si[0] * sk[0]), P = v->P;
  double ua[MV_NRHO] = { 0 }, uab[MV_NRHO][MV_NRHO] = { { 0 } };
  ua[MV_RHO_AB] = -u * si[1] / si[0];
  ua[MV_RHO_CE] = -u * sk[1] / sk[0];
  uab[MV_RHO_AB][MV_RHO_AB] = u * (2 * si[1] * si[1] / (si[0] * si[0]) - si[2] / si[0]);
  uab[MV_RHO_CE][MV_RHO_CE] = u * (2 * sk[1] * sk[1] / (sk[0] * sk[0]) - sk[2] / sk[0]);
  uab[MV_RHO_AB][MV_RHO_CE] = uab[MV_RHO_CE][MV_RHO_AB] = u * si[1] * sk[1] / (si[0] * sk[0]);
  for (int a = 0; a < MV_NRHO; a++)
    for (int b = 0; b < MV_NRHO; b++)
      Hp[a][b] = 2 * u * (v->dP[a] * v->dP[b] + P * hess[a][b])
                 + 2 * P * (v->dP[a] * ua[b] + v->dP[b] * ua[a]) + P * P * uab[a][b];
}

static int
og_hess_d (double *H, const double *G, const mv_loss_term_ctx *ctx)
{
  size_t m = ctx->m, n = ctx->n, nv = ctx->nvar;
  double *S = ctx->work;    /* S, S', S'' per student */
  double w2 = 2.0 * ctx->weight;
  int s = MV_OK;
  for (size_t i = 0; i < m && !s; i++)
    {
      mv_expect_vald v;
      s = mv_expect_self_hess_d (&v, &S[3 * i + 2], G[i * n + m + i], ctx->ws->ex);
      S[3 * i] = v.P, S[3 * i + 1] = v.dP[0];
    }
  for (size_t i = 0; i < m && !s; i++)
    for (size_t k = i + 1; k < m && !s; k++)
      {
        size_t kk[4], var[MV_NRHO];
        double rho[MV_NRHO], hess[MV_NRHO][MV_NRHO], Hp[MV_NRHO][MV_NRHO];
        mv_expect_vald v;
        pair_index (kk, i, k, m);
        for (int a = 0; a < MV_NRHO; a++)
          {
            rho[a] = G[kk[RHO_I[a]] * n + kk[RHO_J[a]]];
            var[a] = mv_loss_var (ctx->ws, kk[RHO_I[a]], kk[RHO_J[a]]);
          }
        if ((s = mv_expect_pair_hess_d (&v, hess, rho, ctx->ws->ex)))
          break;
        og_pair_hess (Hp, &v, hess, &S[3 * i], &S[3 * k]);
        for (int a = 0; a < MV_NRHO; a++)
          for (int b = 0; b < MV_NRHO; b++)
            H[var[a] * nv + var[b]] += w2 * Hp[a][b];
      }
  return s;
}

/* ------------------------------------------------------------ MPFR path */

typedef struct {
  mpfr_t *S;              /* S_i at wp */
  double *Sd, *dSd;       /* S_i, S_i' in double (bounded, for the radii) */
  mpfr_t *dS;
  mv_mag *eS, *edS;
  size_t m;
} og_selves;

static void
selves_free (og_selves *o)
{
  for (size_t i = 0; o->S && i < o->m; i++)
    mpfr_clears (o->S[i], o->dS[i], (mpfr_ptr) 0);
  free (o->S), free (o->dS), free (o->Sd), free (o->dSd), free (o->eS), free (o->edS);
}

static int
selves_mp (og_selves *o, mpfr_t *G, int grad, const mv_loss_term_ctx *ctx)
{
  size_t m = ctx->m, n = ctx->n;
  o->m = 0;
  o->S = malloc (m * sizeof *o->S), o->dS = malloc (m * sizeof *o->dS);
  o->Sd = malloc (m * sizeof *o->Sd), o->dSd = malloc (m * sizeof *o->dSd);
  o->eS = malloc (m * sizeof *o->eS), o->edS = malloc (m * sizeof *o->edS);
  if (!o->S || !o->dS || !o->Sd || !o->dSd || !o->eS || !o->edS)
    return mv_error_set (MV_ENOMEM, "ortho_gated: out of memory");
  mv_expect_val *v = &ctx->ws->val;
  for (size_t i = 0; i < m; i++, o->m++)
    {
      mpfr_inits2 (ctx->wp, o->S[i], o->dS[i], (mpfr_ptr) 0);
      int s = mv_expect_self (v, G[i * n + m + i], grad, ctx->ws->ex);
      if (s)
        return s;
      mpfr_set (o->S[i], v->P, MPFR_RNDN);
      if (grad)
        mpfr_set (o->dS[i], v->dP[0], MPFR_RNDN);
      else
        mpfr_set_zero (o->dS[i], 1);
      o->Sd[i] = mpfr_get_d (o->S[i], MPFR_RNDN);
      o->dSd[i] = mpfr_get_d (o->dS[i], MPFR_RNDN);
      o->eS[i] = v->err, o->edS[i] = v->derr;
    }
  return MV_OK;
}

/* r += a b */
static void
mag_addmul (mv_mag *r, const mv_mag *a, const mv_mag *b)
{
  mv_mag t;
  mv_mag_mul (&t, a, b);
  mv_mag_add (r, r, &t);
}

/* r += |x| 2^e */
static void
mag_add_mpfr (mv_mag *r, mpfr_srcptr x, long e)
{
  mv_mag t;
  mv_mag_set_mpfr (&t, x);
  mv_mag_mul_2exp (&t, &t, e);
  mv_mag_add (r, r, &t);
}

/* One pair i < k into acc (t1..t3: scratch at wp). */
static void
og_pair_mp (mv_loss_acc *acc, const mv_expect_val *v, size_t i, size_t k,
            const size_t kk[4], const og_selves *o, const mv_loss_term_ctx *ctx,
            mpfr_t t1, mpfr_t t2, mpfr_t T)
{
  size_t n = ctx->n;
  long lw = -(long) ctx->wp;
  double w2 = 2.0 * ctx->weight, u = 1.0 / (o->Sd[i] * o->Sd[k]);
  mpfr_mul (t1, o->S[i], o->S[k], MPFR_RNDN);    /* 1/u */
  mpfr_sqr (T, v->P, MPFR_RNDN);
  mpfr_div (T, T, t1, MPFR_RNDN);
  mv_mag mP, mT, q, eT, a;
  mv_mag_set_mpfr (&mP, v->P), mv_mag_set_mpfr (&mT, T);
  mv_mag_mul_d (&q, &o->eS[i], 1.0 / o->Sd[i]);
  mv_mag_addmul_d (&q, &o->eS[k], 1.0 / o->Sd[k]);
  /* eT = 2 [(2|P| eP + eP^2) u + T q] + 2^-wp 16 T */
  mv_mag_mul (&eT, &mP, &v->err);
  mv_mag_mul_2exp (&eT, &eT, 1);
  mag_addmul (&eT, &v->err, &v->err);
  mv_mag_mul_d (&eT, &eT, u);
  mag_addmul (&eT, &mT, &q);
  mv_mag_mul_2exp (&eT, &eT, 1);
  mag_add_mpfr (&eT, T, lw + 4);
  mpfr_mul_d (t2, T, w2, MPFR_RNDN);
  mpfr_add (acc->L, acc->L, t2, MPFR_RNDN);
  acc->abs_terms += fabs (mpfr_get_d (t2, MPFR_RNDA));
  mv_mag_addmul_d (&acc->err, &eT, fabs (w2));
  acc->nsum += 1;
  if (!acc->dLdG)
    return;
  for (int r = 0; r < MV_NRHO; r++)
    {
      mv_mag mPa, e;
      mv_mag_set_mpfr (&mPa, v->dP[r]);
      /* g = 2 P P_a / (S_i S_k) */
      mpfr_mul (t2, v->P, v->dP[r], MPFR_RNDN);
      mpfr_div (t2, t2, t1, MPFR_RNDN);
      mpfr_mul_2ui (t2, t2, 1, MPFR_RNDN);
      mv_mag_mul (&e, &mPa, &v->err);
      mag_addmul (&e, &mP, &v->derr);
      mag_addmul (&e, &v->err, &v->derr);
      mv_mag_mul (&a, &mP, &mPa);
      mag_addmul (&e, &a, &q);
      mv_mag_mul_d (&e, &e, 2.0 * u);
      size_t j = r == MV_RHO_AB ? i : r == MV_RHO_CE ? k : (size_t) -1;
      if (j != (size_t) -1)
        {
          /* t1 is free once g's quotient is done; restored after */
          mpfr_mul (t1, T, o->dS[j], MPFR_RNDN);
          mpfr_div (t1, t1, o->S[j], MPFR_RNDN);
          mpfr_sub (t2, t2, t1, MPFR_RNDN);
          mpfr_mul (t1, o->S[i], o->S[k], MPFR_RNDN);
          /* (eT |S'| + T (eS' + |S'| eS / S)) / S */
          mv_mag b;
          mv_mag_mul_d (&b, &o->eS[j], fabs (o->dSd[j]) / o->Sd[j]);
          mv_mag_add (&b, &b, &o->edS[j]);
          mv_mag_mul (&b, &b, &mT);
          mv_mag_addmul_d (&b, &eT, fabs (o->dSd[j]));
          mv_mag_addmul_d (&e, &b, 1.0 / o->Sd[j]);
        }
      mv_mag_mul_2exp (&e, &e, 1);
      mag_add_mpfr (&e, t2, lw + 5);
      mpfr_mul_d (t2, t2, w2, MPFR_RNDN);
      size_t x = kk[RHO_I[r]] * n + kk[RHO_J[r]];
      mpfr_add (acc->dLdG[x], acc->dLdG[x], t2, MPFR_RNDN);
      mv_mag_addmul_d (&acc->errG[x], &e, fabs (w2));
    }
}

static int
og_gram_mpfr (mv_loss_acc *acc, mpfr_t *G, const mv_loss_term_ctx *ctx)
{
  size_t m = ctx->m, n = ctx->n;
  if (m < 2)
    return MV_OK;
  og_selves o = { 0 };
  int grad = acc->dLdG != NULL;
  int s = selves_mp (&o, G, grad, ctx);
  mv_expect_val *v = &ctx->ws->val;
  mpfr_t rho[MV_NRHO], t1, t2, T;
  mpfr_inits2 (ctx->wp, t1, t2, T, (mpfr_ptr) 0);
  for (size_t i = 0; i < m && !s; i++)
    for (size_t k = i + 1; k < m && !s; k++)
      {
        size_t kk[4];
        pair_index (kk, i, k, m);
        for (int a = 0; a < MV_NRHO; a++)
          rho[a][0] = G[kk[RHO_I[a]] * n + kk[RHO_J[a]]][0];  /* shallow view */
        if ((s = mv_expect_pair (v, (mpfr_t const *) rho, grad, ctx->ws->ex)))
          break;
        if (v->nterms > acc->max_terms)
          acc->max_terms = v->nterms;
        og_pair_mp (acc, v, i, k, kk, &o, ctx, t1, t2, T);
      }
  mpfr_clears (t1, t2, T, (mpfr_ptr) 0);
  selves_free (&o);
  return s;
}

static const mv_loss_term_type og_type = {
  "ortho_gated", og_gram_d, og_gram_mpfr, og_hess_d, NULL
};
const mv_loss_term_type *mv_loss_term_ortho_gated = &og_type;
