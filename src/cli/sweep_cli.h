/* moeverify sweep: shared state of the command (cmd_sweep.c), its engines
 * (sweep_engine.c: in-process and worker processes; sweep_mpi.c: MPI ranks)
 * and the results writer (sweep_out.c).
 *
 * Every engine hands out task indices from mv_sweep_out_next and gives each
 * finished task's two lines (JSON and CSV, as the library formats them) to
 * mv_sweep_out_record, so the results files do not depend on the engine. */
#ifndef MV_SWEEP_CLI_H
#define MV_SWEEP_CLI_H

#include <signal.h>
#include <stddef.h>
#include <moeverify/sweep.h>

/* Exit status when every task ran but some failed (all rows written). */
#define MV_EXIT_TASKS_FAILED 3
/* Exit status after Ctrl-C (the files are left resumable). */
#define MV_EXIT_INTERRUPTED 130

typedef struct {
  const mv_sweep *sw;
  const char *dir;
  size_t ntasks;
  char **json, **csv;      /* per task: its lines (NULL until recorded) */
  size_t cursor;           /* tasks below it are recorded or handed out */
  size_t ndone, nfailed;   /* recorded (failed: status != done), all runs */
  size_t nresumed;         /* recorded before this run */
  int fd_json, fd_csv;     /* results.jsonl / results.csv, O_APPEND */
  double t0;               /* start of this run (progress rate) */
  volatile sig_atomic_t *sigint;  /* number of SIGINTs received */
} mv_sweep_out;

/* Open DIR's results for appending (resume: keep the complete rows of the
 * previous run; otherwise refuse non-empty results).  Prints the error;
 * returns 0 or an exit status. */
int mv_sweep_out_open (mv_sweep_out *o, const mv_sweep *sw, const char *dir,
                       int resume);
/* Next task to hand out (skipping recorded ones), or ntasks when none is
 * left or after Ctrl-C. */
size_t mv_sweep_out_next (mv_sweep_out *o);
/* Append task t's lines (each one write(), so a kill leaves at most a torn
 * last line) and keep them for the sorted rewrite.  Takes ownership of
 * json and csv.  Prints the error; returns 0 or MV_EXIT_FAIL. */
int mv_sweep_out_record (mv_sweep_out *o, size_t t, char *json, char *csv);
/* A failed row for task t (a worker that died, ...); 0 or MV_EXIT_FAIL. */
int mv_sweep_out_record_failure (mv_sweep_out *o, size_t t, const char *why);
/* Progress line on a terminal. */
void mv_sweep_out_progress (mv_sweep_out *o);
/* Close and free without writing (a sweep that could not start); safe on
 * a zeroed o with fd_json = fd_csv = -1. */
void mv_sweep_out_free (mv_sweep_out *o);
/* Rewrite both files sorted by task (atomically), print the summary and
 * free o; returns the sweep's exit status given the engine's (0 or an
 * error status). */
int mv_sweep_out_close (mv_sweep_out *o, int engine_status);

/* Run task t in this process into its two lines (malloc'd); the task
 * directory DIR/tasks/<t> when the sweep keeps trajectories.  A task that
 * fails is still a row; nonzero only when no row could be made (out of
 * memory): a failed row is made by the caller then. */
int mv_sweep_task_lines (const mv_sweep *sw, size_t t, const char *dir,
                         char **json, char **csv);
/* In a worker process or MPI rank: one OpenMP thread per task unless
 * OMP_NUM_THREADS says otherwise. */
void mv_sweep_worker_threads (void);
/* The SIGINT counter (a handler that counts instead of killing). */
volatile sig_atomic_t *mv_sweep_catch_sigint (void);

/* Engines: run every task o->next hands out; 0 or an exit status. */
int mv_sweep_run_inprocess (mv_sweep_out *o);
int mv_sweep_run_local (mv_sweep_out *o, unsigned jobs);

/* Run sweep sw (its file's text, len bytes; file names it in messages)
 * into dir as `moeverify sweep FILE --out DIR --jobs N [--resume]` does;
 * 0 or that command's exit status (messages printed). */
int mv_cli_sweep_run (const mv_sweep *sw, const char *file, const char *text,
                      size_t len, const char *dir, unsigned jobs, int resume);

/* MPI (in a binary configured without MPI they report "no MPI").
 * mv_sweep_mpi_init: when launched by mpirun (environment), MPI_Init and
 * return the world size (rank in *rank); 0 otherwise (not under MPI). */
int mv_sweep_mpi_available (void);
int mv_sweep_mpi_init (int *rank);
void mv_sweep_mpi_finalize (void);
/* Rank 0: hand out tasks to ranks 1..size-1 and record their rows. */
int mv_sweep_mpi_master (mv_sweep_out *o, int size);
/* Ranks > 0: tell the master whether the sweep parsed here (ok), then run
 * what it hands out until it says stop. */
int mv_sweep_mpi_worker (const mv_sweep *sw, const char *dir);
/* Rank 0 when it cannot start (bad file, bad DIR): stop the workers. */
void mv_sweep_mpi_abort_workers (int size);

#endif
