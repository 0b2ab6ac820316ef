/* The trajectory record's part of a checkpoint (checkpoint.h). */
#include <moeverify/checkpoint.h>
#include <moeverify/error.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
mv_traj_ckpt_save (mv_ckpt *c, const mv_traj *tr, size_t rows)
{
  size_t nn = tr->n * tr->n, mm = tr->m * tr->mstar;
  size_t ncross = MV_ALIGN_NKIND * MV_TRAJ_NTHR * mm;
  uint64_t cnt[4] = { tr->steps, tr->rejected, tr->rhs_evals, tr->jac_evals };
  uint64_t shape[2] = { tr->m, tr->mstar };
  if (rows > tr->rows)
    rows = tr->rows;
  int s = mv_ckpt_put_u64 (c, "tr.shape", shape, 2);
  if (!s)
    s = mv_ckpt_put_f64 (c, "tr.t", tr->t, rows);
  if (!s)
    s = mv_ckpt_put_f64 (c, "tr.loss", tr->loss, rows);
  if (!s)
    s = mv_ckpt_put_f64 (c, "tr.grad2", tr->grad2, rows);
  if (!s)
    s = mv_ckpt_put_f64 (c, "tr.energy", tr->energy, rows);
  if (!s)
    s = mv_ckpt_put_f64 (c, "tr.G", tr->G, rows * nn);
  if (!s)
    s = mv_ckpt_put_f64 (c, "tr.norms0", tr->norms0, tr->n);
  if (!s)
    s = mv_ckpt_put_f64 (c, "tr.cross", tr->cross, ncross);
  if (!s)
    s = mv_ckpt_put_f64 (c, "tr.cross_other", tr->cross_other, ncross);
  if (!s)
    s = mv_ckpt_put_f64 (c, "tr.prev", tr->prev, MV_ALIGN_NKIND * mm);
  if (!s)
    s = mv_ckpt_put_double (c, "tr.t_prev", tr->t_prev);
  if (!s)
    s = mv_ckpt_put_u64 (c, "tr.counters", cnt, 4);
  return s;
}

int
mv_traj_ckpt_load (mv_traj *tr, const mv_ckpt *c)
{
  size_t nn = tr->n * tr->n, mm = tr->m * tr->mstar, rows;
  size_t ncross = MV_ALIGN_NKIND * MV_TRAJ_NTHR * mm;
  uint64_t shape[2], cnt[4];
  int s = mv_ckpt_get_u64 (c, "tr.shape", shape, 2);
  if (s)
    return s;
  if (shape[0] != tr->m || shape[1] != tr->mstar)
    return mv_error_set (MV_EINVAL, "checkpoint: trajectory for m = %llu, m* = %llu, "
                         "this run has m = %zu, m* = %zu", (unsigned long long) shape[0],
                         (unsigned long long) shape[1], tr->m, tr->mstar);
  if (!mv_ckpt_get (c, "tr.t", MV_CKPT_F64, &rows))
    return mv_error_set (MV_EPARSE, "checkpoint: record tr.t missing");
  tr->rows = 0;
  /* rows through the ordinary push, so capacity grows as in a run */
  const double *t = mv_ckpt_get (c, "tr.t", MV_CKPT_F64, NULL);
  size_t nl = 0, ng = 0, ne = 0, nG = 0;
  const double *L = mv_ckpt_get (c, "tr.loss", MV_CKPT_F64, &nl);
  const double *g2 = mv_ckpt_get (c, "tr.grad2", MV_CKPT_F64, &ng);
  const double *E = mv_ckpt_get (c, "tr.energy", MV_CKPT_F64, &ne);
  const double *G = mv_ckpt_get (c, "tr.G", MV_CKPT_F64, &nG);
  if (!L || !g2 || !E || !G || nl != rows || ng != rows || ne != rows || nG != rows * nn)
    return mv_error_set (MV_EPARSE, "checkpoint: trajectory rows inconsistent");
  for (size_t r = 0; r < rows; r++)
    if ((s = mv_traj_push (tr, t[r], L[r], g2[r], E[r], G + r * nn)))
      return s;
  if ((s = mv_ckpt_get_f64 (c, "tr.norms0", tr->norms0, tr->n))
      || (s = mv_ckpt_get_f64 (c, "tr.cross", tr->cross, ncross))
      || (s = mv_ckpt_get_f64 (c, "tr.cross_other", tr->cross_other, ncross))
      || (s = mv_ckpt_get_f64 (c, "tr.prev", tr->prev, MV_ALIGN_NKIND * mm))
      || (s = mv_ckpt_get_f64 (c, "tr.t_prev", &tr->t_prev, 1))
      || (s = mv_ckpt_get_u64 (c, "tr.counters", cnt, 4)))
    return s;
  tr->steps = cnt[0], tr->rejected = cnt[1], tr->rhs_evals = cnt[2], tr->jac_evals = cnt[3];
  return MV_OK;
}

int
mv_ckpt_finish (mv_ckpt *c, int s, mv_traj *tr, const mv_ckpt_params *cp)
{
  if (!s)
    s = mv_traj_ckpt_save (c, tr, tr->rows);
  if (!s && cp->spec)
    s = mv_ckpt_put_str (c, "note.spec", cp->spec);
  if (!s && cp->note)
    s = mv_ckpt_put_str (c, "note.caller", cp->note);
  if (!s)
    s = mv_ckpt_write (c, cp->path);
  mv_ckpt_free (c);
  if (s)
    {
      tr->status = MV_TRAJ_FAILED;
      snprintf (tr->message, sizeof tr->message, "%s", mv_error_message ());
    }
  return s;
}
