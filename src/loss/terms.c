/* The table of known term types (term.h): a new library term is one file
 * defining its mv_loss_term_type and one entry here. */
#include "loss/loss_priv.h"

#include <string.h>

static const mv_loss_term_type *const *const known[] = {
  &mv_loss_term_datafit,
  &mv_loss_term_noise,
  &mv_loss_term_ortho,
  &mv_loss_term_ortho_gated,
  &mv_loss_term_var,
  &mv_loss_term_aux,
};

const mv_loss_term_type *
mv_loss_term_find (const char *name)
{
  for (size_t i = 0; name && i < sizeof known / sizeof *known; i++)
    if (strcmp ((*known[i])->name, name) == 0)
      return *known[i];
  return NULL;
}
