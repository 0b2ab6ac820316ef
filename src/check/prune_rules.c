/* The pruning rules of claim 7 (check.h, mv_prune_rule_type): which
 * student each teacher keeps.  The paper's rule is not known to us
 * (MATH.md §4, item 4), so the claim runs each rule and reports what it
 * does; a new rule is one select function and one table entry. */
#include <moeverify/check.h>

#include <math.h>
#include <string.h>

/* Students "attached" to a teacher for the magnitude rule: the threshold of
 * the terminal-state classes (claim_runs.h), so a shared teacher's students
 * are exactly its candidates. */
#define NORM_ATTACH 0.3

/* Per teacher the student with the largest score(i, j); ties go to the
 * lowest index, so a rule is a deterministic function of its inputs. */
static void
argmax (size_t *sel, const double *ra, const double *ea, size_t m, size_t ms,
        double wr, double we)
{
  for (size_t j = 0; j < ms; j++)
    {
      double best = -INFINITY;
      sel[j] = 0;
      for (size_t i = 0; i < m; i++)
        {
          double s = wr * ra[i * ms + j] + we * ea[i * ms + j];
          if (s > best)
            best = s, sel[j] = i;
        }
    }
}

static void
sel_combined (size_t *sel, const double *ra, const double *ea, const double *wn,
              size_t m, size_t ms)
{
  (void) wn;
  argmax (sel, ra, ea, m, ms, 1.0, 1.0);
}

static void
sel_expert (size_t *sel, const double *ra, const double *ea, const double *wn,
            size_t m, size_t ms)
{
  (void) wn;
  argmax (sel, ra, ea, m, ms, 0.0, 1.0);
}

static void
sel_router (size_t *sel, const double *ra, const double *ea, const double *wn,
            size_t m, size_t ms)
{
  (void) wn;
  argmax (sel, ra, ea, m, ms, 1.0, 0.0);
}

/* Magnitude pruning as in network pruning: keep the largest weights.  The
 * flow conserves raw norms, so "largest" is decided at initialisation; the
 * alignment only says which teacher a student belongs to.  A teacher
 * without an attached student keeps its best expert alignment (otherwise
 * the pruned model would have fewer than m* experts). */
static void
sel_norm (size_t *sel, const double *ra, const double *ea, const double *wn,
          size_t m, size_t ms)
{
  argmax (sel, ra, ea, m, ms, 0.0, 1.0);
  for (size_t j = 0; j < ms; j++)
    {
      double best = -INFINITY;
      for (size_t i = 0; i < m; i++)
        if (fabs (ea[i * ms + j]) >= NORM_ATTACH && wn[i] > best)
          best = wn[i], sel[j] = i;
    }
}

static const mv_prune_rule_type rules[] = {
  { "combined",
    "per teacher the student with the largest router + expert alignment; a shared "
    "teacher keeps the sharing student with the best sum and loses the others",
    sel_combined },
  { "expert",
    "per teacher the student with the largest expert alignment; a shared teacher keeps "
    "its best-aligned expert whatever that student's router does",
    sel_expert },
  { "router",
    "per teacher the student with the largest router alignment; a shared teacher keeps "
    "the student whose router leads, which need not be its best expert",
    sel_router },
  { "norm",
    "per teacher, among the students with |expert alignment| >= 0.3 (the shared-teacher "
    "threshold), the one with the largest raw expert norm (magnitude pruning; the norm is "
    "conserved, so it is the initial one); a shared teacher keeps its heaviest student, "
    "which may be one aligned negatively; a teacher with no such student keeps its best "
    "expert alignment",
    sel_norm },
};

const mv_prune_rule_type *
mv_prune_rule_get (size_t i)
{
  return i < sizeof rules / sizeof rules[0] ? &rules[i] : NULL;
}

const mv_prune_rule_type *
mv_prune_rule_find (const char *name)
{
  if (!name)
    return &rules[0];
  for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
    if (!strcmp (rules[i].name, name))
      return &rules[i];
  return NULL;
}
