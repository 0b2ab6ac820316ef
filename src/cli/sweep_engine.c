/* moeverify sweep: the engines on one machine.  --jobs 1 runs the tasks in
 * this process; --jobs N forks N workers, each connected by two pipes: the
 * parent writes a task index (8 bytes, one atomic pipe write) to an idle
 * worker, the worker answers with one length-prefixed message (task, JSON
 * line, CSV line).  A worker that dies mid-task leaves EOF on its pipe: its
 * task is recorded as failed and a new worker takes its place. */
#include "cli.h"
#include "cli/sweep_cli.h"

#include <moeverify/moeverify.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* ------------------------------------------------------------ one task */

int
mv_sweep_task_lines (const mv_sweep *sw, size_t t, const char *dir,
                     char **json, char **csv)
{
  char tdir[4096];
  const char *traj_dir = NULL;
  *json = *csv = NULL;
  if (mv_sweep_keep_trajectories (sw))
    {
      /* DIR/tasks exists (made by the command); the library makes the leaf */
      snprintf (tdir, sizeof tdir, "%s/tasks/%zu", dir, t);
      traj_dir = tdir;
    }
  mv_sweep_row row;
  int s = mv_sweep_row_init (&row, 0);
  if (!s)
    s = mv_sweep_run_task (&row, sw, t, traj_dir);
  if (!s)
    {
      *json = mv_sweep_row_json (sw, &row);
      *csv = mv_sweep_row_csv (sw, &row);
      if (!*json || !*csv)
        s = MV_ENOMEM;
    }
  mv_sweep_row_clear (&row);
  if (s)
    {
      free (*json), free (*csv);
      *json = *csv = NULL;
    }
  return s;
}

void
mv_sweep_worker_threads (void)
{
#ifdef _OPENMP
  /* the parallelism is across tasks: threads inside each task would only
   * compete for the same cores (the bits do not depend on the count) */
  if (!getenv ("OMP_NUM_THREADS"))
    omp_set_num_threads (1);
#endif
}

/* ------------------------------------ Ctrl-C, SIGTERM, SIGHUP */

static volatile sig_atomic_t sigint_count;
static volatile sig_atomic_t sigint_fatal;   /* second Ctrl-C kills */
static int sigint_bar;                        /* a progress bar may be drawn */

static void
on_sigint (int sig)
{
  static const char first[] =
    "\nmoeverify: interrupted: finishing the running tasks "
    "(interrupt again to abandon them)\n";
  sigint_count++;
  if (sigint_count == 1)
    {
      /* end the progress line first, if there is one */
      ssize_t w = write (2, first + !sigint_bar, sizeof first - 1 - !sigint_bar);
      (void) w;
    }
  else if (sigint_fatal)
    {
      /* in-process: the appended rows are complete, so dying is safe */
      signal (sig, SIG_DFL);
      raise (sig);
    }
}

volatile sig_atomic_t *
mv_sweep_catch_sigint (void)
{
  sigint_bar = mv_io_progress_enabled ();
  mv_cli_on_stop_signals (on_sigint);
  return &sigint_count;
}

/* ------------------------------------------------------------ in-process */

int
mv_sweep_run_inprocess (mv_sweep_out *o)
{
  sigint_fatal = 1;
  size_t t;
  int rc = 0;
  while (!rc && (t = mv_sweep_out_next (o)) < o->ntasks)
    {
      char *json, *csv;
      if (mv_sweep_task_lines (o->sw, t, o->dir, &json, &csv))
        rc = mv_sweep_out_record_failure (o, t, mv_error_message ());
      else
        rc = mv_sweep_out_record (o, t, json, csv);
    }
  sigint_fatal = 0;
  return rc;
}

/* ------------------------------------------------------------ workers */

typedef struct {
  pid_t pid;            /* 0: no process */
  int to, from;         /* parent's ends: task indices out, rows in */
  size_t task;          /* running task, NONE when idle */
  char *buf;            /* the message read so far */
  size_t len, cap;
} worker;

#define NONE ((size_t) -1)

typedef struct {
  uint64_t task, jlen, clen;
} msg_head;

static int
write_full (int fd, const void *data, size_t n)
{
  const char *p = data;
  while (n)
    {
      ssize_t w = write (fd, p, n);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        return -1;
      p += w, n -= (size_t) w;
    }
  return 0;
}

/* The worker process: run the tasks the parent sends until EOF.  Exits
 * with _exit (the parent's stdio buffers are not ours to flush). */
static void
worker_main (const mv_sweep *sw, const char *dir, int in, int out)
{
  uint64_t t;
  for (;;)
    {
      ssize_t r = read (in, &t, sizeof t);
      if (r < 0 && errno == EINTR)
        continue;
      if (r != (ssize_t) sizeof t)
        _exit (0);
      char *json, *csv;
      if (mv_sweep_task_lines (sw, (size_t) t, dir, &json, &csv))
        {
          fprintf (stderr, "moeverify: task %zu: %s\n", (size_t) t,
                   mv_error_message ());
          _exit (MV_EXIT_FAIL);
        }
      msg_head h = { t, strlen (json), strlen (csv) };
      if (write_full (out, &h, sizeof h) || write_full (out, json, h.jlen)
          || write_full (out, csv, h.clen))
        _exit (MV_EXIT_FAIL);
      free (json), free (csv);
    }
}

static int
spawn (worker *w, worker *all, unsigned n, const mv_sweep_out *o)
{
  int down[2], up[2];
  if (pipe (down))
    return -1;
  if (pipe (up))
    {
      close (down[0]), close (down[1]);
      return -1;
    }
  fflush (NULL);
  pid_t pid = fork ();
  if (pid < 0)
    {
      close (down[0]), close (down[1]), close (up[0]), close (up[1]);
      return -1;
    }
  if (pid == 0)
    {
      /* the siblings' pipe ends would hide their EOFs from the parent */
      for (unsigned i = 0; i < n; i++)
        if (all[i].pid)
          close (all[i].to), close (all[i].from);
      close (o->fd_json), close (o->fd_csv);
      close (down[1]), close (up[0]);
      mv_cli_on_stop_signals (SIG_IGN);  /* the parent decides */
      signal (SIGPIPE, SIG_DFL);    /* die with the parent */
      mv_sweep_worker_threads ();
      worker_main (o->sw, o->dir, down[0], up[1]);
    }
  close (down[0]), close (up[1]);
  w->pid = pid, w->to = down[1], w->from = up[0];
  w->task = NONE, w->len = 0;
  return 0;
}

/* Close the worker's pipes and reap it; the reason it ended, if it died,
 * into why. */
static void
retire (worker *w, char *why, size_t size)
{
  int st = 0;
  if (w->to >= 0)
    close (w->to);
  close (w->from);
  while (waitpid (w->pid, &st, 0) < 0 && errno == EINTR)
    ;
  if (why && WIFSIGNALED (st))
    snprintf (why, size, "worker process killed by signal %d (%s)",
              WTERMSIG (st), strsignal (WTERMSIG (st)));
  else if (why)
    snprintf (why, size, "worker process exited with status %d",
              WIFEXITED (st) ? WEXITSTATUS (st) : -1);
  w->pid = 0, w->to = w->from = -1, w->task = NONE;
}

/* Hand w the next task, or close its task pipe so it exits. */
static void
feed (worker *w, mv_sweep_out *o)
{
  size_t t = mv_sweep_out_next (o);
  uint64_t u = t;
  if (t < o->ntasks && !write_full (w->to, &u, sizeof u))
    {
      w->task = t;
      return;
    }
  if (t < o->ntasks)
    o->cursor = t < o->cursor ? t : o->cursor;   /* hand it out again */
  close (w->to);
  w->to = -1;
  w->task = NONE;
}

/* Read what w sent: 1 when its message is complete, 0 when more is to
 * come, -1 at EOF (the worker died) or on a read error. */
static int
receive (worker *w)
{
  if (w->cap - w->len < 65536)
    {
      size_t cap = 2 * w->cap + 65536;
      char *b = realloc (w->buf, cap);
      if (!b)
        return -1;
      w->buf = b, w->cap = cap;
    }
  ssize_t r = read (w->from, w->buf + w->len, w->cap - w->len);
  if (r < 0 && (errno == EINTR || errno == EAGAIN))
    return 0;
  if (r <= 0)
    return -1;
  w->len += (size_t) r;
  msg_head h;
  if (w->len < sizeof h)
    return 0;
  memcpy (&h, w->buf, sizeof h);
  return w->len >= sizeof h + h.jlen + h.clen;
}

/* Record w's complete message and make w idle. */
static int
deliver (worker *w, mv_sweep_out *o)
{
  msg_head h;
  memcpy (&h, w->buf, sizeof h);
  char *json = strndup (w->buf + sizeof h, h.jlen);
  char *csv = strndup (w->buf + sizeof h + h.jlen, h.clen);
  size_t t = w->task;
  w->task = NONE, w->len = 0;
  if (!json || !csv || h.task != t)
    {
      free (json), free (csv);
      return mv_sweep_out_record_failure (o, t, "bad message from a worker process");
    }
  return mv_sweep_out_record (o, t, json, csv);
}

/* One poll round over the busy workers; 0, an exit status, or -1 when
 * none is busy (all done). */
static int
poll_round (worker *w, unsigned n, struct pollfd *pfd, mv_sweep_out *o)
{
  unsigned np = 0;
  for (unsigned i = 0; i < n; i++)
    if (w[i].pid && w[i].task != NONE)
      pfd[np].fd = w[i].from, pfd[np].events = POLLIN, pfd[np++].revents = 0;
  if (!np)
    return -1;
  /* the timeout bounds the wait for a Ctrl-C that lands before poll */
  int k = poll (pfd, np, 250);
  if (k < 0 && errno != EINTR)
    {
      mv_cli_error ("sweep: poll: %s", strerror (errno));
      return MV_EXIT_FAIL;
    }
  if (k <= 0)
    {
      mv_sweep_out_progress (o);
      return 0;
    }
  for (unsigned i = 0, j = 0; i < n && j < np; i++)
    {
      if (!(w[i].pid && w[i].task != NONE && w[i].from == pfd[j].fd))
        continue;
      if (!pfd[j++].revents)
        continue;
      int r = receive (&w[i]), rc = 0;
      if (r > 0 && !(rc = deliver (&w[i], o)))
        feed (&w[i], o);
      else if (r < 0)
        {
          size_t t = w[i].task;
          char why[160];
          retire (&w[i], why, sizeof why);
          rc = mv_sweep_out_record_failure (o, t, why);
          if (!rc && !*o->sigint)
            {
              if (spawn (&w[i], w, n, o))
                {
                  mv_cli_error ("sweep: cannot start a worker process: %s",
                                strerror (errno));
                  return MV_EXIT_FAIL;
                }
              feed (&w[i], o);
            }
        }
      if (rc)
        return rc;
    }
  return 0;
}

int
mv_sweep_run_local (mv_sweep_out *o, unsigned jobs)
{
  size_t left = o->ntasks - o->ndone;
  if (jobs > left)
    jobs = (unsigned) left;
  if (jobs <= 1)
    return mv_sweep_run_inprocess (o);
  worker *w = calloc (jobs, sizeof *w);
  struct pollfd *pfd = calloc (jobs, sizeof *pfd);
  if (!w || !pfd)
    {
      free (w), free (pfd);
      return mv_cli_error ("out of memory"), MV_EXIT_FAIL;
    }
  for (unsigned i = 0; i < jobs; i++)
    w[i].to = w[i].from = -1, w[i].task = NONE;
  /* a write to a dead worker must be an error, not our death */
  void (*old_pipe) (int) = signal (SIGPIPE, SIG_IGN);
  int rc = 0;
  for (unsigned i = 0; i < jobs && !rc; i++)
    {
      if (spawn (&w[i], w, jobs, o))
        {
          mv_cli_error ("sweep: cannot start a worker process: %s", strerror (errno));
          rc = MV_EXIT_FAIL;
        }
      else
        feed (&w[i], o);
    }
  while (!rc && *o->sigint < 2)
    if ((rc = poll_round (w, jobs, pfd, o)) < 0)
      {
        rc = 0;
        break;
      }
  /* abandoned or failed: the running tasks stay unrecorded (resumable) */
  for (unsigned i = 0; i < jobs; i++)
    if (w[i].pid)
      {
        if (w[i].task != NONE)
          kill (w[i].pid, SIGKILL);
        retire (&w[i], NULL, 0);
      }
  for (unsigned i = 0; i < jobs; i++)
    free (w[i].buf);
  free (w), free (pfd);
  signal (SIGPIPE, old_pipe);
  return rc;
}
