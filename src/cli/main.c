#include <stdio.h>
#include <string.h>
#include "cli.h"
int main (int argc, char **argv)
{
  if (argc > 1 && !strcmp (argv[1], "coeffs")) return mv_cmd_coeffs (argc - 1, argv + 1);
  if (argc > 1 && !strcmp (argv[1], "loss")) return mv_cmd_loss (argc - 1, argv + 1);
  if (argc > 1 && !strcmp (argv[1], "mc")) return mv_cmd_mc (argc - 1, argv + 1);
  return mv_cmd_run (argc - 1, argv + 1);
}
