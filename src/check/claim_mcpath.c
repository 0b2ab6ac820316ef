/* Claim "mc-path" (proofs/claim-mc-path.md): placeholder until the check lands. */
#include <moeverify/check.h>
#include <moeverify/error.h>

static int
run (mv_check_result *r, const mv_check_opts *o)
{
  (void) r, (void) o;
  return mv_error_set (MV_EINVAL, "mc-path: not implemented yet");
}

const mv_check_type mv_check_mc_path = {
  .name = "mc-path",
  .title = "mc-path",
  .statement = "",
  .provenance = "",
  .proof = "proofs/claim-mc-path.md",
  .exact = 0,
  .run = run,
};
