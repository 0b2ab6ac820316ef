/* Private layout of the pair-expectation workspace (expect_tables.c builds
 * it, expect.c evaluates with it). */
#ifndef MV_EXPECT_PRIV_H
#define MV_EXPECT_PRIV_H

#include <moeverify/expect.h>
#include <moeverify/hermite.h>

/* Series F_{p,q}, p <= q, p + q even, in three nested groups: values
 * (p + q <= 6, the first MV_NF_VAL), the rho_AC derivative (p + q <= 8,
 * shifted by (1,1); the first MV_NF_GRAD) and the second rho_AC derivative
 * (p + q = 10, shifted by (2,2); all MV_NF).  Callers evaluate only the
 * prefix they need. */
#define MV_NF_VAL 10
#define MV_NF_GRAD 14
#define MV_NF 18
#define MV_NTUPLE 30
/* Internal flag or-ed into want_grad of the double functions: skip the
 * error-bound bookkeeping (flows need values, not bounds); err = derr = NAN. */
#define MV_EXPECT_NOBOUND 2

typedef struct {
  unsigned char a1, a2, b1, b2, e;  /* AB, AE, BC, CE, BE multiplicities */
  unsigned char f, fd, fdd;         /* index of F_{p,q}, F_{p+1,q+1}, F_{p+2,q+2} */
  double kappa;                     /* 36 / (a1! a2! b1! b2! e!) */
} mv_tuple;

struct mv_expect_ws {
  mpfr_prec_t prec;        /* target precision */
  mpfr_prec_t wp;          /* working precision (guard bits) */
  unsigned nmax;           /* series terms available (n < nmax) */
  unsigned nmax_d;         /* terms the double path may use */
  unsigned nmax_hd;        /* terms of the Hessian-only series (double path) */
  mv_hermite_table *coef;  /* c_0 .. c_{nmax+8} at wp */
  unsigned char fp[MV_NF], fq[MV_NF];
  mv_tuple tuple[MV_NTUPLE];
  double kappa_sum;        /* sum of kappa over tuples (C_val) */
  double lkappa_sum;       /* its logarithm */
  mpfr_t *w[MV_NF];        /* w[i][n] = c_{n+p} c_{n+q} / n! (i < MV_NF_GRAD
                              only: the MPFR path has no Hessian; NULL on
                              the double-only path) */
  double *wd[MV_NF];       /* the same rounded to double (all series) */
  double *wpack;           /* wpack[n*MV_NF + j] = wd[par_i[par(n)][j]][n]:
                              the series a term n feeds, contiguous */
  double wabs;             /* max_{i < MV_NF_GRAD} sum_n |w[i][n]| */
  double wabs_i[MV_NF];    /* sum_n |w[i][n]| */
  double der_scale;        /* sum_t kappa_t (wabs[fd] + sum_v ex_v wabs[f]) */
  /* envelope tails, as logarithms (at 2048 bits they are far below the
   * double range): ltail1[n] >= ln max_{i < MV_NF_GRAD} sum_{j>=n} |w_i[j]|,
   * ltailh[n] the same over the Hessian-only series, n <= nmax */
  double *ltail1, *ltailh;
  unsigned char par_i[2][MV_NF];  /* series with p even ([0]) and p odd
                                     ([1]), ascending */
  unsigned char par_n[2];
  mv_mag coef_relerr;      /* max relative error of the c_k used */
  double coef_relerr_d;    /* the same rounded up to double (double path) */
  int mp;                  /* MPFR tables built (prec > MV_PREC_DOUBLE) */
  mpfr_t F1[MV_NF];        /* F_{p,q}(1) for self pairs (MPFR tables) */
  double F1d[MV_NF];
  mv_mag F1_err;           /* |F1 - exact| bound (MPFR, i < MV_NF_GRAD) */
  double F1d_err;          /* |F1d - exact| bound (i < MV_NF_GRAD) */
  /* scratch for one evaluation (no allocation per pair) */
  mpfr_t F[MV_NF], pw, t, u, pows[5][4], rhoc[MV_NRHO];
};

/* The double path's tables (MV_PREC_DOUBLE), computed once by the MPFR code
 * below and compiled in (expect_table53.c, written by tests/gen_table53),
 * so double-only workspaces do no MPFR work; test_expect compares them with
 * a fresh MPFR build bit for bit. */
typedef struct {
  unsigned nmax;
  const double *wd;        /* MV_NF x nmax, row-major */
  double F1d[MV_NF];
  double relerr_man;       /* coef_relerr as an mv_mag */
  long relerr_exp;
} mv_expect_table53;
extern const mv_expect_table53 mv_expect_builtin53;
/* mv_expect_alloc, with the compiled tables when prec is MV_PREC_DOUBLE and
 * use_builtin is set, else built from the MPFR coefficients. */
mv_expect_ws *mv_expect_alloc_tables (mpfr_prec_t prec, int use_builtin);

/* Targets and tails of the series are natural logarithms (-INFINITY as a
 * target: use every tabulated term).  F_{p,q}(r) for the first nf
 * (<= MV_NF_GRAD) series by the truncated series; returns the terms used
 * and the log of the truncation bound (absolute, per series) in *ltail. */
unsigned mv_expect_series (mpfr_t *F, double *ltail, const mpfr_t r, int nf,
                           double ltarget, mv_expect_ws *ws);
unsigned mv_expect_series_d (double *F, double *ltail, double r, int nf,
                             double ltarget, const mv_expect_ws *ws);
/* All MV_NF series in double: the first MV_NF_GRAD exactly as
 * mv_expect_series_d with nf = MV_NF_GRAD (same terms, same roundings), the
 * Hessian-only ones with their own term count; *ltailh is their truncation
 * bound, *nh their term count. */
unsigned mv_expect_series_hd (double *F, double *ltail, double *ltailh,
                              unsigned *nh, double r, double ltarget,
                              const mv_expect_ws *ws);

#endif
