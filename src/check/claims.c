/* The table of claims (check.h), in report order.  A new claim is one file
 * (src/check/claim_NAME.c, its proofs/claim-NAME.md) plus one line in the
 * extern list and one in the table. */
#include <moeverify/check.h>

#include <string.h>

extern const mv_check_type mv_check_identities, mv_check_mc_path;
extern const mv_check_type mv_check_escape;
extern const mv_check_type mv_check_guided, mv_check_sequential, mv_check_terminal;
extern const mv_check_type mv_check_phase1, mv_check_prune;
extern const mv_check_type mv_check_specialize;

static const mv_check_type *const claims[] = {
  &mv_check_identities,
  &mv_check_escape,
  &mv_check_guided,
  &mv_check_sequential,
  &mv_check_phase1,
  &mv_check_terminal,
  &mv_check_prune,
  &mv_check_mc_path,
  &mv_check_specialize,
};

const mv_check_type *
mv_check_type_get (size_t i)
{
  return i < sizeof claims / sizeof claims[0] ? claims[i] : NULL;
}

const mv_check_type *
mv_check_find (const char *name)
{
  if (!name)
    return NULL;
  for (size_t i = 0; i < sizeof claims / sizeof claims[0]; i++)
    if (!strcmp (claims[i]->name, name))
      return claims[i];
  return NULL;
}
