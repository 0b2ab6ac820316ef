/* Memory estimates of runs from their sizes (cost.h), and the guard that
 * refuses a run past a limit with the estimate in the message. */
#define _XOPEN_SOURCE 700  /* sysconf */
#include <moeverify/cost.h>
#include <moeverify/error.h>
#include <moeverify/hermite.h>
#include <moeverify/loss.h>

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define DBL 8.0
/* An MPFR value: the struct and its limbs. */
#define MPFR_BYTES(prec) (32.0 + 8.0 * ceil ((double) (prec) / 64))
/* GSL explicit steppers (rk8pd: 13 stages) and the evolve/control vectors */
#define STEPPER_COPIES 24.0
/* an implicit stepper's dense Jacobian: J, its LU, scratch */
#define JACOBIAN_COPIES 3.0

static void
total (mv_cost *c)
{
  c->bytes = c->traj_bytes + c->work_bytes + c->state_bytes;
}

/* The recorder's rows (its spare capacity is never touched, so it costs
 * address space, not memory). */
static double
traj_bytes (size_t rows, size_t n)
{
  return (double) rows * ((double) n * (double) n + 4) * DBL;
}

void
mv_cost_loss (mv_cost *c, size_t m, size_t mstar, size_t d, int raw, mpfr_prec_t prec)
{
  double n = 2.0 * ((double) m + (double) mstar), nn = n * n;
  memset (c, 0, sizeof *c);
  c->work_bytes = 10 * nn * DBL + 64 * (n + 2) * DBL;
  if (prec != MV_PREC_DOUBLE)
    c->work_bytes += 2 * nn * MPFR_BYTES (prec);          /* G and dL/dG */
  else
    c->work_bytes += 2 * nn * DBL;
  if (raw)
    c->state_bytes = n * (double) d * (prec != MV_PREC_DOUBLE ? MPFR_BYTES (prec) + DBL : 2 * DBL);
  total (c);
}

void
mv_cost_flow (mv_cost *c, size_t m, size_t mstar, size_t d, int reduced,
              const mv_flow_params *p)
{
  double n = 2.0 * ((double) m + (double) mstar), ms = 2.0 * (double) m;
  mv_cost_loss (c, m, mstar, d, !reduced, reduced ? MV_PREC_DOUBLE : p->prec);
  double dim = reduced ? ms * (ms - 1) / 2 + ms * 2.0 * (double) mstar + 1
                       : ms * (double) d + 1;
  size_t nt = 0;
  double *t = mv_flow_times (p, &nt);
  free (t);
  c->rows = nt ? nt : 2 * (p->n_out ? p->n_out : 200) + 1;
  c->traj_bytes = traj_bytes (c->rows, (size_t) n);
  c->work_bytes += STEPPER_COPIES * dim * DBL + n * n * DBL;
  size_t si;
  if (mv_flow_stepper_find (p->stepper, &si) == MV_OK && mv_flow_stepper_implicit (si))
    c->work_bytes += JACOBIAN_COPIES * dim * dim * DBL;
  if (reduced)
    c->state_bytes = 0;
  total (c);
}

void
mv_cost_sgd (mv_cost *c, size_t m, size_t mstar, size_t d, const mv_sgd_params *p)
{
  double n = 2.0 * ((double) m + (double) mstar), B = (double) p->batch, dd = (double) d;
  mv_cost_loss (c, m, mstar, d, 1, MV_PREC_DOUBLE);
  /* output steps are distinct whole steps, plus step 0 */
  size_t k = p->times ? p->n_times : p->n_out;
  c->rows = (k < p->steps ? k : (size_t) p->steps) + 1;
  c->traj_bytes = traj_bytes (c->rows, (size_t) n);
  /* samples and projections of a batch, gradient sums */
  c->work_bytes += (B * dd + 4 * B * n + 2.0 * (double) m * dd + 2 * n * n) * DBL;
  /* the problem's vectors twice (padded), the state and its gradient */
  c->state_bytes += (3 * n * dd + 4.0 * (double) m * dd) * DBL;
  total (c);
}

void
mv_cost_format (char *buf, size_t len, double bytes)
{
  static const char *const unit[] = { "B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB" };
  size_t u = 0;
  while (bytes >= 1000 && u + 1 < sizeof unit / sizeof unit[0])
    bytes /= 1000, u++;
  snprintf (buf, len, u ? "%.3g %s" : "%.0f %s", bytes, unit[u]);
}

int
mv_cost_check (const mv_cost *c, double limit, const char *what)
{
  if (!(limit > 0) || c->bytes <= limit)
    return MV_OK;
  char a[32], tr[32], w[32], s[32], l[32];
  mv_cost_format (a, sizeof a, c->bytes);
  mv_cost_format (tr, sizeof tr, c->traj_bytes);
  mv_cost_format (w, sizeof w, c->work_bytes);
  mv_cost_format (s, sizeof s, c->state_bytes);
  mv_cost_format (l, sizeof l, limit);
  char rows[96] = "";
  if (c->rows)
    snprintf (rows, sizeof rows, "trajectory %s for %zu rows, ", tr, c->rows);
  return mv_error_set (MV_ENOMEM, "%s: needs about %s (%sworkspaces %s, state %s), more "
                       "than the limit %s", what, a, rows, w, s, l);
}

double
mv_cost_default_limit (void)
{
  long pages = sysconf (_SC_PHYS_PAGES), size = sysconf (_SC_PAGESIZE);
  return pages > 0 && size > 0 ? (double) pages * (double) size : 0;
}

int
mv_cost_parse (double *bytes, const char *text)
{
  if (!strcasecmp (text, "none"))
    return *bytes = 0, MV_OK;
  char *end;
  double v = strtod (text, &end);
  double mult = 1;
  if (end == text)
    return mv_error_set (MV_EINVAL, "'%s': expected a size such as 512M, 8G or none", text);
  switch (toupper ((unsigned char) *end))
    {
    case 'K': mult = 1e3; end++; break;
    case 'M': mult = 1e6; end++; break;
    case 'G': mult = 1e9; end++; break;
    case 'T': mult = 1e12; end++; break;
    default: break;
    }
  if (toupper ((unsigned char) *end) == 'B')
    end++;
  if (*end || !(v >= 0) || !isfinite (v * mult))
    return mv_error_set (MV_EINVAL, "'%s': expected a size such as 512M, 8G or none", text);
  *bytes = v * mult;
  return MV_OK;
}
