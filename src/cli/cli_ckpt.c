/* Checkpoints of the trajectory commands (flow, sgd): DIR/checkpoint.mvck
 * is written while the run goes (every --checkpoint-every seconds, at
 * output rows, and when it is interrupted) and holds, besides the state,
 * the command's arguments and the spec, so that `CMD --resume DIR` alone
 * continues the run (checkpoint.h). */
#include "cli.h"

#include <moeverify/moeverify.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *
mv_cli_ckpt_path (const char *dir)
{
  size_t n = strlen (dir) + sizeof "/" MV_CLI_CKPT_FILE;
  char *p = malloc (n);
  if (p)
    snprintf (p, n, "%s/%s", dir, MV_CLI_CKPT_FILE);
  return p;
}

int
mv_cli_parse_ckpt_every (const char *opt, const char *arg, double *every)
{
  if (!strcmp (arg, "off"))
    {
      *every = -1;
      return 0;
    }
  return mv_cli_parse_double (opt, arg, 0, 1e9, every);
}

char *
mv_cli_ckpt_note (const char *cmd, int argc, char **argv)
{
  json_t *doc = json_object (), *args = json_array ();
  if (!doc || !args)
    {
      json_decref (doc), json_decref (args);
      return NULL;
    }
  for (int i = 1; i < argc; i++)
    json_array_append_new (args, json_string (argv[i]));
  json_object_set_new (doc, "command", json_string (cmd));
  json_object_set_new (doc, "args", args);
  char *s = json_dumps (doc, JSON_COMPACT);
  json_decref (doc);
  return s;
}

const char *
mv_cli_resume_dir (int argc, char **argv)
{
  for (int i = 1; i + 1 < argc; i++)
    {
      if (!strcmp (argv[i], "--"))
        break;
      if (!strcmp (argv[i], "--resume"))
        return argv[i + 1];
    }
  for (int i = 1; i < argc; i++)
    if (!strncmp (argv[i], "--resume=", 9))
      return argv[i] + 9;
  return NULL;
}

/* The stored arguments of note (a command of name cmd) into out (from
 * index 1); their number, or -1 after printing the error. */
static int
stored_args (const char *note, const char *cmd, const char *path, char **out, int cap)
{
  json_error_t err;
  json_t *doc = json_loads (note, 0, &err);
  json_t *args = json_object_get (doc, "args");
  const char *c = json_string_value (json_object_get (doc, "command"));
  int n = 0;
  if (!json_is_array (args) || !c)
    mv_cli_error ("%s: no command line recorded", path), n = -1;
  else if (strcmp (c, cmd))
    mv_cli_error ("%s: checkpoint of a '%s' run, not '%s'", path, c, cmd), n = -1;
  else if ((int) json_array_size (args) >= cap)
    mv_cli_error ("%s: too many recorded arguments", path), n = -1;
  for (size_t i = 0; n >= 0 && i < json_array_size (args); i++)
    {
      const char *s = json_string_value (json_array_get (args, i));
      if (!s || !(out[n] = strdup (s)))
        {
          mv_cli_error ("%s: bad recorded argument", path);
          n = -1;
          break;
        }
      n++;
    }
  json_decref (doc);
  return n;
}

/* Length of option name of arg ("--rtol=1e-9" -> 6), 0 if not an option. */
static size_t
opt_len (const char *arg)
{
  if (arg[0] != '-' || arg[1] == '\0')
    return 0;
  const char *eq = strchr (arg, '=');
  return eq ? (size_t) (eq - arg) : strlen (arg);
}

/* Whether option name a (length la) is given in argv (besides --resume). */
static int
given (const char *a, size_t la, int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    {
      size_t l = opt_len (argv[i]);
      if (l == la && !strncmp (argv[i], a, la) && strncmp (a, "--resume", la))
        return 1;
    }
  return 0;
}

/* Drop from the n recorded arguments the options given again (with their
 * values), so the identity check, not the option parser's "given twice",
 * judges them: an agreeing one passes, another value is refused naming the
 * field.  Returns the new count. */
static int
drop_regiven (char **rec, int n, int argc, char **argv)
{
  int k = 0;
  for (int i = 0; i < n; i++)
    {
      size_t l = opt_len (rec[i]);
      if (l && given (rec[i], l, argc, argv))
        {
          /* its value: the next word unless inline or another option */
          int val = !strchr (rec[i], '=') && i + 1 < n && rec[i + 1][0] != '-';
          free (rec[i]);
          if (val)
            free (rec[++i]);
          continue;
        }
      rec[k++] = rec[i];
    }
  return k;
}

int
mv_cli_resume_load (mv_cli_resume *r, const char *cmd, int argc, char **argv)
{
  memset (r, 0, sizeof *r);
  r->dir = mv_cli_resume_dir (argc, argv);
  char *path = mv_cli_ckpt_path (r->dir);
  r->ckpt = mv_ckpt_alloc ();
  char *note = NULL;
  if (!path || !r->ckpt)
    {
      mv_cli_error ("out of memory");
      free (path);
      return MV_EXIT_FAIL;
    }
  if (access (path, F_OK) != 0 && errno == ENOENT)
    {
      mv_cli_error ("%s: no checkpoint (the run finished, or was stopped before "
                    "its first checkpoint: start it again)", path);
      free (path);
      return MV_EXIT_USAGE;
    }
  int s = mv_ckpt_read (r->ckpt, path);
  if (!s && !(note = mv_ckpt_get_str (r->ckpt, "note.caller")))
    s = MV_EPARSE;
  if (!s && !(r->spec_text = mv_ckpt_get_str (r->ckpt, "note.spec")))
    s = MV_EPARSE;
  if (s)
    {
      if (s == MV_EPARSE && !strstr (mv_error_message (), path))
        mv_error_prefix (path);
      mv_cli_lib_error ();
      free (path), free (note);
      return s == MV_ENOMEM ? MV_EXIT_FAIL : MV_EXIT_USAGE;
    }
  /* argv[0], the recorded arguments, then those given besides --resume DIR */
  int cap = argc + 256;
  r->argv = calloc ((size_t) cap + 1, sizeof *r->argv);
  int n = r->argv ? stored_args (note, cmd, path, r->argv + 1, cap - argc) : -1;
  free (note);
  if (n < 0)
    {
      free (path);
      return MV_EXIT_USAGE;
    }
  n = drop_regiven (r->argv + 1, n, argc, argv);
  r->argv[0] = strdup (argv[0]);
  r->argc = 1 + n;
  for (int i = 1; i < argc; i++)
    {
      if (!strcmp (argv[i], "--resume"))
        {
          i++;
          continue;
        }
      if (!strncmp (argv[i], "--resume=", 9))
        continue;
      r->argv[r->argc++] = strdup (argv[i]);
    }
  free (path);
  return 0;
}

void
mv_cli_resume_clear (mv_cli_resume *r)
{
  for (int i = 0; r->argv && i < r->argc; i++)
    free (r->argv[i]);
  free (r->argv);
  free (r->spec_text);
  mv_ckpt_free (r->ckpt);
  memset (r, 0, sizeof *r);
}

int
mv_cli_resume_spec (mv_problem *pb, const mv_cli_resume *r, const char *name)
{
  int s = mv_problem_parse (pb, r->spec_text, name);
  if (!s)
    return 0;
  mv_cli_lib_error ();
  return s == MV_ENOMEM ? MV_EXIT_FAIL : MV_EXIT_USAGE;
}

/* Temporaries of checkpoint writes that a kill interrupted
 * (DIR/.checkpoint.mvck.tmp.XXXXXX, io.c's naming): removed. */
static void
remove_stale (const char *dir)
{
  static const char prefix[] = "." MV_CLI_CKPT_FILE ".tmp.";
  DIR *d = opendir (dir);
  struct dirent *e;
  while (d && (e = readdir (d)))
    if (!strncmp (e->d_name, prefix, sizeof prefix - 1))
      {
        size_t n = strlen (dir) + strlen (e->d_name) + 2;
        char *p = malloc (n);
        if (p)
          snprintf (p, n, "%s/%s", dir, e->d_name), unlink (p);
        free (p);
      }
  if (d)
    closedir (d);
}

void
mv_cli_ckpt_done (const char *dir, int traj_status, int exit_code)
{
  remove_stale (dir);
  if (traj_status != MV_TRAJ_DONE || exit_code != MV_EXIT_OK)
    return;
  char *path = mv_cli_ckpt_path (dir);
  if (path)
    unlink (path);
  free (path);
}
