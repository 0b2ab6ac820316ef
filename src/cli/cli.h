/* Shared declarations of the moeverify command-line tool. */
#ifndef MV_CLI_H
#define MV_CLI_H
int mv_cmd_coeffs (int argc, char **argv);
int mv_cmd_loss (int argc, char **argv);
int mv_cmd_mc (int argc, char **argv);
int mv_cmd_run (int argc, char **argv);
#endif
