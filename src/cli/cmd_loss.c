#include "cli.h"
int mv_cmd_loss (int argc, char **argv) { (void) argc; (void) argv; return 1; }
