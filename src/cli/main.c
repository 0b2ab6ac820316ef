/* moeverify: subcommand dispatch.  Without arguments it runs the full
 * verification ("run"). */
#include "cli.h"

#include <moeverify/moeverify.h>

#include <stdio.h>
#include <string.h>

static const char usage[] =
  "usage: moeverify [COMMAND] [OPTIONS]\n"
  "Closed-form loss, gradients and dynamics of soft-routed mixture-of-experts\n"
  "teacher-student models, verified at any precision.\n"
  "\n"
  "commands:\n"
  "  run      the main job: paper setting checked at t = 0, then its flow\n"
  "           (default when no command is given)\n"
  "  loss     population loss and gradient of a spec (closed form)\n"
  "  flow     gradient-flow trajectory (full or dimension-free)\n"
  "  mc       Monte-Carlo estimate of the loss and gradient of a spec\n"
  "  sgd      online mini-batch SGD trajectory (the paper's method)\n"
  "  specialize  regularizers L_o, L_v, L_aux beside L: values and gradient\n"
  "           cosines at a point, along the flow, over a coefficient grid\n"
  "  sweep    parameter sweep: many flows on every core or MPI ranks\n"
  "  check    claim checks of the paper and the exact identities\n"
  "  regress  check reference trajectories (for downstream CI)\n"
  "  coeffs   Hermite coefficients of the sigmoid\n"
  "  help [COMMAND]   this text, or a command's options\n"
  "\n"
  "options:\n"
  "  -h, --help      this text\n"
  "  --version       print the version\n"
  "\n"
  "exit status: 0 success, 1 computation or output failure, 2 usage or\n"
  "input error.\n";

typedef int (*mv_cmd_fn) (int argc, char **argv);

static const struct {
  const char *name;
  mv_cmd_fn fn;
} commands[] = {
  { "check", mv_cmd_check },
  { "coeffs", mv_cmd_coeffs },
  { "flow", mv_cmd_flow },
  { "loss", mv_cmd_loss },
  { "mc", mv_cmd_mc },
  { "regress", mv_cmd_regress },
  { "run", mv_cmd_run },
  { "sgd", mv_cmd_sgd },
  { "specialize", mv_cmd_specialize },
  { "sweep", mv_cmd_sweep },
};

static mv_cmd_fn
find_command (const char *name)
{
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp (name, commands[i].name))
      return commands[i].fn;
  return NULL;
}

int
main (int argc, char **argv)
{
  mv_init ();
  if (argc < 2)
    {
      static char run[] = "run";
      char *args[] = { run, NULL };
      return mv_cli_exit (mv_cmd_run (1, args));
    }
  const char *cmd = argv[1];
  if (!strcmp (cmd, "-h") || !strcmp (cmd, "--help")
      || (!strcmp (cmd, "help") && argc == 2))
    {
      fputs (usage, stdout);
      return mv_cli_exit (MV_EXIT_OK);
    }
  if (!strcmp (cmd, "--version"))
    {
      if (argc > 2)
        {
          mv_cli_error ("--version: unexpected argument '%s'", argv[2]);
          return MV_EXIT_USAGE;
        }
      printf ("moeverify %s\n", mv_version ());
      return mv_cli_exit (MV_EXIT_OK);
    }
  if (!strcmp (cmd, "help"))
    {
      /* "help CMD" is "CMD --help" */
      mv_cmd_fn fn = find_command (argv[2]);
      if (!fn || argc > 3)
        {
          if (fn)
            mv_cli_error ("help: unexpected argument '%s' (usage: moeverify "
                          "help [COMMAND])", argv[3]);
          else
            mv_cli_error ("help: unknown command '%s' (see 'moeverify "
                          "--help')", argv[2]);
          return MV_EXIT_USAGE;
        }
      static char help[] = "--help";
      char *args[] = { argv[2], help, NULL };
      return mv_cli_exit (fn (2, args));
    }
  mv_cmd_fn fn = find_command (cmd);
  if (fn)
    return mv_cli_exit (fn (argc - 1, argv + 1));
  if (cmd[0] == '-')
    mv_cli_error ("unknown option '%s' (see 'moeverify --help')", cmd);
  else
    mv_cli_error ("unknown command '%s' (see 'moeverify --help')", cmd);
  return MV_EXIT_USAGE;
}
