/* moeverify benchmarks (`make bench`): closed-form loss + gradient in the
 * paper setting (m* = 5, m = 25, d = 1000) in double and MPFR, cost versus
 * m and versus precision, and the Monte-Carlo cost of the same gradient at
 * 1e-3 relative accuracy.  Wall-clock medians on one core. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <moeverify/moeverify.h>

static double
now (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int
cmp (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double
median (double *t, int n)
{
  qsort (t, n, sizeof *t, cmp);
  return t[n / 2];
}

static void
spec (mv_problem *pb, size_t d, size_t m, size_t ms)
{
  char buf[512];
  snprintf (buf, sizeof buf,
            "{\"d\": %zu, \"teacher\": {\"m\": %zu, \"init\": {\"kind\": \"orthonormal\", "
            "\"seed\": 1}}, \"student\": {\"m\": %zu, \"init\": {\"kind\": \"gaussian\", "
            "\"seed\": 2}}}", d, ms, m);
  if (mv_problem_parse (pb, buf, "bench") != MV_OK)
    {
      fprintf (stderr, "bench: %s\n", mv_error_message ());
      exit (1);
    }
}

/* median seconds of loss + gradient on the double path */
static double
time_double (const mv_problem *pb, int reps)
{
  mv_loss_ws *ws = mv_loss_alloc (pb->m, pb->mstar, 53);
  double *gV = malloc (pb->m * pb->d * sizeof *gV), *gW = malloc (pb->m * pb->d * sizeof *gW);
  double L, t[64];
  mv_loss_eval_d (&L, gV, gW, NULL, pb, ws);    /* warm up, size buffers */
  for (int r = 0; r < reps; r++)
    {
      double t0 = now ();
      mv_loss_eval_d (&L, gV, gW, NULL, pb, ws);
      t[r] = now () - t0;
    }
  free (gV), free (gW);
  mv_loss_free (ws);
  return median (t, reps);
}

/* seconds for the tables at prec and for one MPFR loss + gradient */
static void
time_mpfr (const mv_problem *pb, mpfr_prec_t prec, int reps, double *t_tab,
           double *t_eval, unsigned *terms, double *digits)
{
  size_t n = pb->m * pb->d;
  double t0 = now ();
  mv_loss_ws *ws = mv_loss_alloc (pb->m, pb->mstar, prec);
  *t_tab = now () - t0;
  mpfr_t L, *gV = malloc (n * sizeof *gV), *gW = malloc (n * sizeof *gW);
  mpfr_init2 (L, prec);
  for (size_t i = 0; i < n; i++)
    mpfr_init2 (gV[i], prec), mpfr_init2 (gW[i], prec);
  mv_loss_info info;
  double t[16];
  for (int r = 0; r < reps; r++)
    {
      t0 = now ();
      mv_loss_eval (L, gV, gW, &info, pb, ws);
      t[r] = now () - t0;
    }
  *t_eval = median (t, reps);
  *terms = info.max_terms;
  *digits = -log10 (info.err / fabs (mpfr_get_d (L, MPFR_RNDN)));
  mpfr_clear (L);
  for (size_t i = 0; i < n; i++)
    mpfr_clear (gV[i]), mpfr_clear (gW[i]);
  free (gV), free (gW);
  mv_loss_free (ws);
}

/* wall seconds of a flow run; steps and final time through tr */
static double
run_flow (mv_traj *tr, const mv_problem *pb, double T, int reduced, int sample)
{
  mv_flow_params p;
  mv_flow_params_default (&p);
  p.t_end = T;
  mv_traj_init (tr, pb->m, pb->mstar);
  size_t n = 2 * (pb->m + pb->mstar);
  double *G = malloc (n * n * sizeof *G), *nr = malloc (n * sizeof *nr);
  int s;
  if (!reduced)
    s = mv_flow_full (tr, pb, &p);
  else
    {
      s = sample ? mv_problem_gram_sample_d (G, nr, pb) : mv_problem_gram_d (G, nr, pb);
      if (!s)
        s = mv_flow_reduced (tr, G, nr, pb->m, pb->mstar, pb->noise_var, &p);
    }
  free (G), free (nr);
  if (s)
    {
      fprintf (stderr, "bench: %s\n", mv_error_message ());
      exit (1);
    }
  return tr->wall_seconds;
}

static void
bench_flows (int quick)
{
  mv_problem pb;
  spec (&pb, 1000, 25, 5);
  printf ("\n## Gradient flows, paper setting (rk8pd, rtol 1e-9, atol 1e-12)\n\n");
  printf ("| flow | horizon T | wall | steps (rejected) | RHS evaluations | teachers recovered | L(T) |\n");
  printf ("|---|---|---|---|---|---|---|\n");
  const double Ts[2] = { 150, 200 };
  for (int k = 0; k < 2; k++)
    for (int reduced = 1; reduced >= 0; reduced--)
      {
        if (!reduced && (quick || k == 1))
          continue;
        mv_traj tr;
        double w = run_flow (&tr, &pb, Ts[k], reduced, 0);
        int rec = 0;
        for (size_t j = 0; j < pb.mstar; j++)
          rec += !isnan (mv_traj_recovery (&tr, j, NULL));
        printf ("| %s | %g | %.2f s | %lu (%lu) | %lu | %d of %zu | %.3e |\n",
                reduced ? "reduced" : "full", Ts[k], w, tr.steps, tr.rejected,
                tr.rhs_evals, rec, pb.mstar, tr.loss[tr.rows - 1]);
        fflush (stdout);
        mv_traj_clear (&tr);
      }

  printf ("\n## Reduced flow from an exactly sampled G(0): cost versus d (T = 30)\n\n");
  printf ("| d | wall | steps | RHS evaluations | wall per RHS | L(0) | L(30) |\n"
          "|---|---|---|---|---|---|---|\n");
  const double ds[4] = { 1e3, 1e6, 1e9, 1e12 };
  for (int i = 0; i < 4; i++)
    {
      mv_problem q;
      char buf[512];
      snprintf (buf, sizeof buf,
                "{\"d\": %.0f, \"teacher\": {\"m\": 5, \"init\": {\"kind\": \"orthonormal\", "
                "\"seed\": 1}}, \"student\": {\"m\": 25, \"init\": {\"kind\": \"gaussian\", "
                "\"seed\": 2}}}", ds[i]);
      if (mv_problem_parse (&q, buf, "bench"))
        {
          fprintf (stderr, "bench: %s\n", mv_error_message ());
          exit (1);
        }
      mv_traj tr;
      double w = run_flow (&tr, &q, 30, 1, 1);
      printf ("| %.0e | %.2f s | %lu | %lu | %.0f us | %.6f | %.6f |\n", ds[i], w, tr.steps,
              tr.rhs_evals, 1e6 * w / tr.rhs_evals, tr.loss[0], tr.loss[tr.rows - 1]);
      fflush (stdout);
      mv_traj_clear (&tr);
      mv_problem_clear (&q);
    }

  /* SGD: speed, and how far it is from the flow at a learning rate that
   * tracks it; extrapolate to the flow's first recovery time */
  printf ("\n## Online SGD versus the flow (paper setting, batch 256)\n\n");
  mv_sgd_params sp;
  mv_sgd_params_default (&sp);
  sp.batch = 256;
  sp.lr = 1e-4;
  sp.steps = quick ? 500 : 3000;
  mv_traj st, ft;
  mv_traj_init (&st, pb.m, pb.mstar);
  if (mv_sgd_run (&st, &pb, &sp))
    {
      fprintf (stderr, "bench: %s\n", mv_error_message ());
      exit (1);
    }
  double Tsgd = sp.lr * sp.steps, ws = st.wall_seconds;
  run_flow (&ft, &pb, Tsgd, 1, 0);
  double Lf = ft.loss[ft.rows - 1], Ls = st.loss[st.rows - 1];
  mv_traj fr;
  run_flow (&fr, &pb, 150, 1, 0);
  double trec = mv_traj_recovery (&fr, 0, NULL), wrec = 0;
  mv_traj_clear (&fr);
  mv_traj f2;
  wrec = run_flow (&f2, &pb, trec, 1, 0);
  mv_traj_clear (&f2);
  double steps_per_s = sp.steps / ws, sgd_need = trec / sp.lr / steps_per_s;
  printf ("SGD lr %g: %lu steps (t = %g) in %.2f s = %.0f steps/s; L_sgd(t) = %.6f vs "
          "L_flow(t) = %.6f\n", sp.lr, sp.steps, Tsgd, ws, steps_per_s, Ls, Lf);
  printf ("first teacher recovered by the flow at t = %.3f: reduced flow %.2f s; SGD at "
          "lr %g would need %.3g steps = %.3g s, i.e. %.3g x the reduced flow\n", trec, wrec,
          sp.lr, trec / sp.lr, sgd_need, sgd_need / wrec);
  mv_traj_clear (&st), mv_traj_clear (&ft);
  mv_problem_clear (&pb);
}

int
main (int argc, char **argv)
{
  int quick = argc > 1 && !strcmp (argv[1], "--quick");
  int flows_only = argc > 1 && !strcmp (argv[1], "--flows");
  mv_init ();
  if (flows_only)
    {
      bench_flows (0);
      return 0;
    }
  mv_problem pb;
  spec (&pb, 1000, 25, 5);
  printf ("# moeverify %s benchmarks (one core, wall clock, median)\n\n", mv_version ());

  printf ("## Paper setting m* = 5, m = 25, d = 1000: loss + full gradient\n\n");
  printf ("| path | tables (once per precision) | loss + gradient | trustworthy digits of L | series terms (max) |\n");
  printf ("|---|---|---|---|---|\n");
  double td = time_double (&pb, 41);
  printf ("| double | - | %.3f ms | ~15 | - |\n", td * 1e3);
  const mpfr_prec_t precs[] = { 64, 128, 256, 512, 1024 };
  int np = quick ? 3 : 5;
  double t256 = 0;
  for (int i = 0; i < np; i++)
    {
      double tt, te, dg;
      unsigned terms;
      time_mpfr (&pb, precs[i], precs[i] >= 512 ? 1 : 3, &tt, &te, &terms, &dg);
      if (precs[i] == 256)
        t256 = te;
      printf ("| MPFR %ld bits | %.3f s | %.3f s | %.0f | %u |\n", (long) precs[i], tt, te, dg, terms);
      fflush (stdout);
    }

  printf ("\n## Cost versus m (m* = 5, d = 1000)\n\n");
  printf ("| m | pairs | double | MPFR 256 bits (eval only) |\n|---|---|---|---|\n");
  const size_t ms[] = { 5, 10, 25, 50, 100 };
  for (int i = 0; i < (quick ? 3 : 5); i++)
    {
      mv_problem q;
      spec (&q, 1000, ms[i], 5);
      double t1 = time_double (&q, 21), tt, te, dg;
      unsigned terms;
      time_mpfr (&q, 256, 1, &tt, &te, &terms, &dg);
      size_t pairs = ms[i] * (ms[i] + 1) / 2 + ms[i] * 5 + 15;
      printf ("| %zu | %zu | %.3f ms | %.3f s |\n", ms[i], pairs, t1 * 1e3, te);
      mv_problem_clear (&q);
    }

  printf ("\n## Monte Carlo versus closed form (paper setting)\n\n");
  mv_mc_params par;
  mv_mc_params_default (&par);
  par.samples = quick ? 20000 : 100000;
  par.seed = 1;
  mv_mc_result res;
  mv_mc_result_init (&res, pb.m, pb.d, 1);
  double t0 = now ();
  if (mv_mc_estimate (&res, &pb, &par) != MV_OK)
    {
      fprintf (stderr, "bench: %s\n", mv_error_message ());
      return 1;
    }
  double tmc = now () - t0, g2 = 0, s2 = 0, L;
  /* |g| from the closed form: the estimate's own norm is inflated by noise */
  size_t nd = pb.m * pb.d;
  double *gV = malloc (nd * sizeof *gV), *gW = malloc (nd * sizeof *gW);
  mv_loss_ws *ws = mv_loss_alloc (pb.m, pb.mstar, 53);
  mv_loss_eval_d (&L, gV, gW, NULL, &pb, ws);
  for (size_t i = 0; i < nd; i++)
    {
      g2 += gV[i] * gV[i] + gW[i] * gW[i];
      s2 += res.gV_se[i] * res.gV_se[i] + res.gW_se[i] * res.gW_se[i];
    }
  mv_loss_free (ws);
  free (gV), free (gW);
  double rel = sqrt (s2 / g2), need = par.samples * pow (rel / 1e-3, 2);
  double tneed = tmc * need / par.samples;
  printf ("%zu samples: %.2f s, relative standard error of the gradient "
          "|se|/|g_closed| = %.3g\n", par.samples, tmc, rel);
  printf ("1e-3 relative accuracy needs ~%.3g samples = %.3g s = %.3g x the "
          "double closed form (%.3f ms), %.3g x the 256-bit closed form\n",
          need, tneed, tneed / td, td * 1e3, tneed / t256);
  double rl = res.loss_se / L, nl = par.samples * pow (rl / 1e-3, 2);
  printf ("loss: relative standard error %.3g; 1e-3 needs ~%.3g samples = %.3g s = "
          "%.3g x the double closed form\n", rl, nl, tmc * nl / par.samples,
          tmc * nl / par.samples / td);
  mv_mc_result_clear (&res);
  mv_problem_clear (&pb);
  if (quick)
    bench_flows (quick);
  return 0;
}
