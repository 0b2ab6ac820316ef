/* moeverify sweep under MPI: rank 0 is the master (it hands out task
 * indices one at a time as ranks report back, and writes the results files
 * exactly as the local engine does), ranks 1.. run tasks.  MPI_Init is
 * called only by the sweep command and only when mpirun launched us, so
 * the other commands never need mpirun.  Without MPI (configure
 * --without-mpi, or none found) the same functions report "no MPI":
 * size 0 from mv_sweep_mpi_init, 0 from mv_sweep_mpi_available, and the
 * command refuses to run under mpirun. */
#include <config.h>
#include "cli.h"
#include "cli/sweep_cli.h"

#include <moeverify/moeverify.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef MV_HAVE_MPI

int mv_sweep_mpi_available (void) { return 0; }
/* mpirun of a binary without MPI: the size and rank it was given, so the
 * command refuses to run N copies of the same sweep into one DIR */
int
mv_sweep_mpi_init (int *rank)
{
  const char *size = getenv ("OMPI_COMM_WORLD_SIZE");
  const char *r = getenv ("OMPI_COMM_WORLD_RANK");
  *rank = r ? atoi (r) : 0;
  return size ? atoi (size) : 0;
}
void mv_sweep_mpi_finalize (void) {}
int mv_sweep_mpi_master (mv_sweep_out *o, int size) { (void) size; return mv_sweep_run_inprocess (o); }
int mv_sweep_mpi_worker (const mv_sweep *sw, const char *dir) { (void) sw, (void) dir; return 0; }
void mv_sweep_mpi_abort_workers (int size) { (void) size; }

#else
#include <mpi.h>

/* worker -> master: READY (int: 1 if the sweep parsed there), ROW (task,
 * JSON line, CSV line); master -> worker: TASK (uint64), STOP (empty) */
enum { TAG_READY = 1, TAG_ROW, TAG_TASK, TAG_STOP };

static int mpi_on;

int
mv_sweep_mpi_available (void)
{
  return 1;
}

int
mv_sweep_mpi_init (int *rank)
{
  *rank = 0;
  /* launched by mpirun (Open MPI, or a PMI/PMIx launcher such as srun)? */
  if (!getenv ("OMPI_COMM_WORLD_SIZE") && !getenv ("PMI_SIZE")
      && !getenv ("PMIX_RANK"))
    return 0;
  int size;
  if (MPI_Init (NULL, NULL) != MPI_SUCCESS)
    return 0;
  mpi_on = 1;
  MPI_Comm_rank (MPI_COMM_WORLD, rank);
  MPI_Comm_size (MPI_COMM_WORLD, &size);
  return size;
}

void
mv_sweep_mpi_finalize (void)
{
  if (mpi_on)
    MPI_Finalize ();
  mpi_on = 0;
}

static void
send_task (int rank, size_t t, size_t ntasks)
{
  uint64_t u = t;
  if (t < ntasks)
    MPI_Send (&u, 1, MPI_UINT64_T, rank, TAG_TASK, MPI_COMM_WORLD);
  else
    MPI_Send (NULL, 0, MPI_BYTE, rank, TAG_STOP, MPI_COMM_WORLD);
}

void
mv_sweep_mpi_abort_workers (int size)
{
  for (int i = 1; i < size; i++)
    {
      int ok;
      MPI_Status st;
      MPI_Recv (&ok, 1, MPI_INT, MPI_ANY_SOURCE, TAG_READY, MPI_COMM_WORLD, &st);
      send_task (st.MPI_SOURCE, 0, 0);
    }
}

/* Wait for the next message (any rank), polling so that Ctrl-C (the flag)
 * is seen; returns its size in bytes. */
static int
wait_message (MPI_Status *st, mv_sweep_out *o)
{
  int flag = 0, n;
  struct timespec nap = { 0, 100000 };   /* 0.1 ms: far below a task */
  double last = mv_io_now ();
  for (;;)
    {
      MPI_Iprobe (MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, st);
      if (flag)
        break;
      nanosleep (&nap, NULL);
      if (mv_io_now () - last > 0.25)
        mv_sweep_out_progress (o), last = mv_io_now ();
    }
  MPI_Get_count (st, MPI_BYTE, &n);
  return n;
}

/* A ROW message: task (8 bytes), JSON line, '\0', CSV line. */
static int
record_row (mv_sweep_out *o, const char *buf, int n, size_t expect)
{
  uint64_t t;
  const char *json = buf + sizeof t, *end = buf + n;
  const char *nul = n > (int) sizeof t ? memchr (json, '\0', (size_t) (end - json)) : NULL;
  if (nul)
    memcpy (&t, buf, sizeof t);
  if (!nul || t != expect)
    return mv_sweep_out_record_failure (o, expect, "bad message from an MPI rank");
  size_t jl = (size_t) (nul - json), cl = (size_t) (end - nul - 1);
  char *j = malloc (jl + 1), *c = malloc (cl + 1);
  if (!j || !c)
    {
      free (j), free (c);
      return mv_cli_error ("out of memory"), MV_EXIT_FAIL;
    }
  memcpy (j, json, jl), j[jl] = '\0';
  memcpy (c, nul + 1, cl), c[cl] = '\0';
  return mv_sweep_out_record (o, expect, j, c);
}

int
mv_sweep_mpi_master (mv_sweep_out *o, int size)
{
  /* the task each rank runs (NONE: idle or stopped) */
  size_t *running = malloc ((size_t) size * sizeof *running);
  char *buf = NULL;
  int cap = 0, active = size - 1, rc = 0;
  if (!running)
    return mv_cli_error ("out of memory"), MV_EXIT_FAIL;
  while (active > 0)
    {
      MPI_Status st;
      int n = wait_message (&st, o), src = st.MPI_SOURCE;
      if (n + 1 > cap)
        {
          cap = 2 * n + 1;
          char *b = realloc (buf, (size_t) cap);
          if (!b)
            {
              mv_cli_error ("out of memory");
              MPI_Abort (MPI_COMM_WORLD, MV_EXIT_FAIL);
            }
          buf = b;
        }
      MPI_Recv (buf, n, MPI_BYTE, src, st.MPI_TAG, MPI_COMM_WORLD, &st);
      int ok = 1;
      if (st.MPI_TAG == TAG_READY)
        memcpy (&ok, buf, sizeof ok);
      else if (!rc)
        rc = record_row (o, buf, n, running[src]);
      /* after an output error, stop everyone: the rows are on disk */
      size_t t = ok && !rc ? mv_sweep_out_next (o) : o->ntasks;
      running[src] = t;
      send_task (src, t, o->ntasks);
      active -= t >= o->ntasks;
    }
  free (running), free (buf);
  return rc;
}

int
mv_sweep_mpi_worker (const mv_sweep *sw, const char *dir)
{
  int ok = sw != NULL;
  mv_sweep_worker_threads ();
  MPI_Send (&ok, sizeof ok, MPI_BYTE, 0, TAG_READY, MPI_COMM_WORLD);
  for (;;)
    {
      uint64_t t;
      MPI_Status st;
      MPI_Recv (&t, 1, MPI_UINT64_T, 0, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
      if (st.MPI_TAG != TAG_TASK)
        return 0;
      char *json, *csv;
      if (mv_sweep_task_lines (sw, (size_t) t, dir, &json, &csv))
        {
          fprintf (stderr, "moeverify: task %zu: %s\n", (size_t) t,
                   mv_error_message ());
          MPI_Abort (MPI_COMM_WORLD, MV_EXIT_FAIL);
        }
      size_t jl = strlen (json), cl = strlen (csv), n = sizeof t + jl + 1 + cl;
      char *msg = malloc (n);
      if (!msg)
        MPI_Abort (MPI_COMM_WORLD, MV_EXIT_FAIL);
      memcpy (msg, &t, sizeof t);
      memcpy (msg + sizeof t, json, jl + 1);
      memcpy (msg + sizeof t + jl + 1, csv, cl);
      MPI_Send (msg, (int) n, MPI_BYTE, 0, TAG_ROW, MPI_COMM_WORLD);
      free (msg), free (json), free (csv);
    }
}

#endif
