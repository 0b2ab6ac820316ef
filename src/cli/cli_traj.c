/* What the trajectory commands (flow, sgd) share: preparing the output
 * directory, and turning a finished run into files, a summary and an exit
 * status. */
#include "cli.h"

#include <moeverify/moeverify.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
mv_cli_traj_start (mv_traj *tr, const mv_problem *pb, mv_cli_out *out, const char *dir)
{
  struct stat sb;
  out->dir = dir;
  out->made_dir = stat (dir, &sb) != 0 && errno == ENOENT;
  out->set = NULL;
  int rc = mv_cli_prepare_dir (dir);
  if (rc)
    return rc;
  if (!(out->set = mv_io_set_alloc (dir)) || mv_traj_init (tr, pb->m, pb->mstar))
    {
      if (pb->name && !strstr (mv_error_message (), pb->name))
        mv_error_prefix (pb->name);
      mv_cli_lib_error ();
      mv_io_set_free (out->set);
      if (out->made_dir)
        rmdir (dir);
      return MV_EXIT_FAIL;
    }
  return 0;
}

void
mv_cli_print_teachers (const mv_traj *tr)
{
  for (size_t j = 0; j < tr->mstar; j++)
    {
      long st;
      double t = mv_traj_recovery (tr, j, &st);
      if (st >= 0)
        printf ("  teacher %zu recovered by student %ld at t = %.6g\n", j, st, t);
      else
        printf ("  teacher %zu not recovered (no student with router and expert "
                "alignment >= 0.9)\n", j);
    }
}

void
mv_cli_print_recovery (const mv_traj *tr)
{
  size_t last = tr->rows ? tr->rows - 1 : 0;
  printf ("%s flow (%s): %s at t = %.6g, L = %.6e, |grad L|^2 = %.3e, %lu steps "
          "(%lu rejected), %.2f s\n", tr->method, tr->stepper,
          tr->status == MV_TRAJ_DONE ? "finished" : tr->message,
          tr->rows ? tr->t[last] : 0.0, tr->rows ? tr->loss[last] : NAN,
          tr->rows ? tr->grad2[last] : NAN, tr->steps, tr->rejected, tr->wall_seconds);
  mv_cli_print_teachers (tr);
}

int
mv_cli_traj_finish (mv_traj *tr, const mv_problem *pb, int status, mv_cli_out *out,
                    void (*summary) (const mv_traj *, const void *), const void *ctx)
{
  int exit_code = MV_EXIT_OK;
  if (status)
    {
      /* bad parameters, a solver failure or a diverged state: report,
       * write nothing */
      if (pb->name && !strstr (mv_error_message (), pb->name))
        mv_error_prefix (pb->name);
      mv_cli_lib_error ();
      exit_code = tr->rows ? MV_EXIT_FAIL : mv_cli_exit_of (status);
    }
  else
    {
      char *spec = mv_problem_to_json (pb);
      if (!spec || mv_traj_write_set (tr, out->set, spec)
          || mv_io_set_commit (out->set, "run.json"))
        {
          mv_cli_lib_error ();
          exit_code = MV_EXIT_FAIL;
        }
      else
        {
          summary (tr, ctx);
          printf ("trajectory written to %s/\n", out->dir);
          if (tr->status == MV_TRAJ_INTERRUPTED)
            exit_code = 130;
        }
      free (spec);
    }
  /* uncommitted temporaries go; a directory this run made, if empty */
  mv_io_set_free (out->set);
  out->set = NULL;
  if (exit_code && exit_code != 130 && out->made_dir)
    rmdir (out->dir);
  mv_traj_clear (tr);
  return exit_code;
}
