/* libFuzzer harness: the option parsing of every subcommand.  The input is
 * split at NUL bytes and newlines into argv (argv[1] the command) and given
 * to the real dispatcher (src/cli/main.c, compiled with main renamed) with
 * mv_cli_parse_only set, so each command parses and checks its options and
 * returns before reading files, creating directories or computing.  Usage
 * texts and one-line errors go to stdout/stderr (run with -close_fd_mask=3
 * to silence them).  Run in a temporary directory. */
#include "cli/cli.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int mv_cli_fuzz_main (int argc, char **argv);   /* main.c's main */

#define FUZZ_MAX_ARGS 64

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *text = malloc (size + 1);
  char *argv[FUZZ_MAX_ARGS + 2];
  if (!text)
    return 0;
  memcpy (text, data, size);
  text[size] = '\0';
  int argc = 0;
  argv[argc++] = (char *) "moeverify";
  char *s = text;
  for (size_t i = 0; i <= size && argc <= FUZZ_MAX_ARGS; i++)
    if (text[i] == '\n' || text[i] == '\0')
      {
        text[i] = '\0';
        argv[argc++] = s;
        s = text + i + 1;
      }
  argv[argc] = NULL;
  /* no command: main would run the whole verification */
  if (argc >= 2)
    {
      mv_cli_parse_only = 1;
      (void) mv_cli_fuzz_main (argc, argv);
    }
  free (text);
  return 0;
}
