/* Claim 6 against d and m (a scan): the fraction of teachers in each
 * terminal state at t_end, and of runs whose every teacher is recovered by
 * one student, for student counts m and dimensions d of the level; each d
 * is one sweep (terminal-d<d>) over student.m and the seeds. */
#include "check/claim_runs.h"

#include <moeverify/error.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The level's settings: per d its horizon and student counts. */
typedef struct {
  size_t d;
  double t_end;
  unsigned m[3];
  size_t nm, seeds;
} term_setting;

static size_t
settings (term_setting *st, const mv_check_opts *o)
{
  if (o->level == MV_CHECK_QUICK)
    return 0;
  size_t ns = o->seeds ? o->seeds : o->level == MV_CHECK_DEFAULT ? 2 : 4;
  if (o->level == MV_CHECK_DEFAULT)
    {
      st[0] = (term_setting) { 1000, 300, { 10, 50 }, 2, ns };
      return 1;
    }
  /* m = 50 costs about 5x m = 10 per unit time: left out at 10^4 */
  st[0] = (term_setting) { 1000, 300, { 10, 25, 50 }, 3, ns };
  st[1] = (term_setting) { 10000, 1000, { 10, 25 }, 2, ns > 3 ? 3 : ns };
  return 2;
}

/* Rows of one m (ns consecutive rows): state counts, runs all recovered. */
static void
count_m (const mv_sweep_row *rows, size_t ns, size_t cnt[MV_TRAJ_NSTATE], size_t *all,
         size_t *teachers)
{
  memset (cnt, 0, MV_TRAJ_NSTATE * sizeof *cnt);
  *all = *teachers = 0;
  for (size_t k = 0; k < ns; k++)
    {
      size_t rec = 0;
      for (size_t j = 0; j < rows[k].mstar; j++)
        if (rows[k].state[j] >= 0)
          {
            cnt[rows[k].state[j]]++, (*teachers)++;
            rec += rows[k].state[j] == MV_TRAJ_STATE_RECOVERED;
          }
      *all += rec == rows[k].mstar;
    }
}

/* One setting: its scan, a table row and a measurement per m. */
static int
one_setting (mv_check_result *res, const term_setting *st, const mv_check_opts *o, char *tab,
             size_t len)
{
  mv_claim_scan sc = { st->d, st->m, st->nm, 2, st->seeds, st->t_end, 8, NULL, NULL, 0 };
  char name[32], *text = mv_claim_scan_text (&sc);
  mv_sweep_row *rows = NULL;
  size_t n = 0;
  snprintf (name, sizeof name, "terminal-d%zu", st->d);
  int s = text ? mv_claim_scan_run (&rows, &n, text, name, o) : MV_ENOMEM;
  for (size_t a = 0; !s && a < st->nm; a++)
    {
      size_t cnt[MV_TRAJ_NSTATE], all, T, q = strlen (tab);
      count_m (rows + a * st->seeds, st->seeds, cnt, &all, &T);
      snprintf (tab + q, len - q, "| %zu | %u | %g | %zu |", st->d, st->m[a], st->t_end,
                st->seeds);
      for (int c = 0; c < MV_TRAJ_NSTATE; c++)
        q = strlen (tab), snprintf (tab + q, len - q, " %.2f |", T ? (double) cnt[c] / T : NAN);
      q = strlen (tab);
      snprintf (tab + q, len - q, " %zu of %zu |\n", all, st->seeds);
      s = mv_check_measure_add (res, "runs fully recovered at (d, m)", (double) all / st->seeds,
                                NAN, NAN, "d = %zu, m = %u, t = %g: %zu of %zu runs have every "
                                "teacher recovered by one student; teachers shared %.2f, not "
                                "escaped %.2f", st->d, st->m[a], st->t_end, all, st->seeds,
                                T ? (double) cnt[MV_TRAJ_STATE_SHARED] / T : NAN,
                                T ? (double) cnt[MV_TRAJ_STATE_NOT_ESCAPED] / T : NAN);
    }
  mv_check_scan_free (rows, n);
  free (text);
  return s;
}

int
mv_claim_terminal_scan (mv_check_result *res, const mv_check_opts *o, char *tab, size_t len)
{
  term_setting st[2];
  size_t ns = settings (st, o), q = strlen (tab);
  if (!ns)
    return MV_OK;
  snprintf (tab + q, len - q, "\nTerminal states against d and m (scans terminal-d*: student "
            "seeds from 2, sampled G(0); fractions of teachers at t):\n\n| d | m | t | runs |");
  for (int c = 0; c < MV_TRAJ_NSTATE; c++)
    q = strlen (tab), snprintf (tab + q, len - q, " %s |", mv_term_names[c]);
  q = strlen (tab);
  snprintf (tab + q, len - q, " runs fully recovered |\n|---|---|---|---|---|---|---|---|---|---|\n");
  int s = MV_OK;
  char first[512] = "";
  for (size_t k = 0; k < ns; k++)    /* every scan asked for (--plan) */
    {
      int sk = one_setting (res, &st[k], o, tab, len);
      if (sk && !s)
        s = sk, snprintf (first, sizeof first, "%s", mv_error_message ());
    }
  return s ? mv_error_set (s, "%s", first) : MV_OK;
}
