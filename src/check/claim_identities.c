/* Claim "identities" (proofs/claim-identities.md): placeholder until the check lands. */
#include <moeverify/check.h>
#include <moeverify/error.h>

static int
run (mv_check_result *r, const mv_check_opts *o)
{
  (void) r, (void) o;
  return mv_error_set (MV_EINVAL, "identities: not implemented yet");
}

const mv_check_type mv_check_identities = {
  .name = "identities",
  .title = "identities",
  .statement = "",
  .provenance = "",
  .proof = "proofs/claim-identities.md",
  .exact = 1,
  .run = run,
};
