/* Writers of io.h: a set of files committed as a unit (all or nothing,
 * the marker last), the cleaning of temporaries left by killed writers,
 * and single atomic writes onto existing files. */
#define _XOPEN_SOURCE 700  /* mkdtemp */
#include "testutil.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <moeverify/io.h>
#include <moeverify/error.h>

static char dir[64];

static void
setup (void)
{
  strcpy (dir, "/tmp/mv_test_io.XXXXXX");
  ck_assert_ptr_nonnull (mkdtemp (dir));
}

static void
teardown (void)
{
  DIR *d = opendir (dir);
  struct dirent *e;
  char p[512];
  while (d && (e = readdir (d)))
    if (strcmp (e->d_name, ".") && strcmp (e->d_name, ".."))
      {
        snprintf (p, sizeof p, "%s/%s", dir, e->d_name);
        if (unlink (p) != 0)
          rmdir (p);
      }
  if (d)
    closedir (d);
  rmdir (dir);
}

/* Names in dir, sorted and joined by spaces. */
static void
listing (char *out, size_t len)
{
  struct dirent **names;
  int n = scandir (dir, &names, NULL, alphasort);
  out[0] = '\0';
  for (int i = 0; i < n; i++)
    {
      if (strcmp (names[i]->d_name, ".") && strcmp (names[i]->d_name, ".."))
        {
          size_t l = strlen (out);
          snprintf (out + l, len - l, "%s%s", l ? " " : "", names[i]->d_name);
        }
      free (names[i]);
    }
  free (names);
}

static void
put (const char *name, const char *text)
{
  char p[256];
  snprintf (p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen (p, "w");
  ck_assert_ptr_nonnull (f);
  fputs (text, f);
  fclose (f);
}

static void
expect_content (const char *name, const char *text)
{
  char p[256];
  snprintf (p, sizeof p, "%s/%s", dir, name);
  char *got = mv_io_read_file (p, NULL);
  ck_assert_msg (got && !strcmp (got, text), "%s: got '%s', want '%s'", name,
                 got ? got : "(unreadable)", text);
  free (got);
}

START_TEST (t_set_commit)
{
  put ("run.json", "old run");
  put ("a.csv", "old a");
  mv_io_set *s = mv_io_set_alloc (dir);
  ck_assert_ptr_nonnull (s);
  ck_assert_int_eq (mv_io_set_add (s, "a.csv", "new a", 5), MV_OK);
  ck_assert_int_eq (mv_io_set_add (s, "run.json", "new run", 7), MV_OK);
  ck_assert_int_eq (mv_io_set_add (s, "b.svg", "new b", 5), MV_OK);
  /* before the commit nothing visible has changed */
  expect_content ("a.csv", "old a");
  expect_content ("run.json", "old run");
  char l[512];
  listing (l, sizeof l);
  ck_assert_msg (strstr (l, ".b.svg.tmp.") && !strstr (l, " b.svg"), "before commit: %s", l);
  ck_assert_int_eq (mv_io_set_commit (s, "run.json"), MV_OK);
  mv_io_set_free (s);
  expect_content ("a.csv", "new a");
  expect_content ("b.svg", "new b");
  expect_content ("run.json", "new run");
  listing (l, sizeof l);
  ck_assert_str_eq (l, "a.csv b.svg run.json");
}
END_TEST

START_TEST (t_set_failure)
{
  put ("run.json", "old run");
  put ("a.csv", "old a");
  char sub[256];
  snprintf (sub, sizeof sub, "%s/plot.svg", dir);
  ck_assert_int_eq (mkdir (sub, 0777), 0);     /* a target that is not a file */
  mv_io_set *s = mv_io_set_alloc (dir);
  ck_assert_int_eq (mv_io_set_add (s, "a.csv", "new a", 5), MV_OK);
  int st = mv_io_set_add (s, "plot.svg", "svg", 3);
  ck_assert_int_eq (st, MV_EIO);
  ck_assert_msg (strstr (mv_error_message (), "plot.svg: exists and is not a regular file"),
                 "message: %s", mv_error_message ());
  mv_io_set_free (s);            /* given up: no commit */
  rmdir (sub);
  char l[512];
  listing (l, sizeof l);
  ck_assert_str_eq (l, "a.csv run.json");
  expect_content ("a.csv", "old a");
  expect_content ("run.json", "old run");
}
END_TEST

/* A stop part-way through the renames (here a rename that fails) leaves no
 * marker: the old one went first, the new one comes last. */
START_TEST (t_set_partial_commit)
{
  put ("run.json", "old run");
  put ("a.csv", "old a");
  mv_io_set *s = mv_io_set_alloc (dir);
  ck_assert_int_eq (mv_io_set_add (s, "a.csv", "new a", 5), MV_OK);
  ck_assert_int_eq (mv_io_set_add (s, "z.svg", "new z", 5), MV_OK);
  ck_assert_int_eq (mv_io_set_add (s, "run.json", "new run", 7), MV_OK);
  char sub[256];
  snprintf (sub, sizeof sub, "%s/z.svg", dir);
  ck_assert_int_eq (mkdir (sub, 0777), 0);     /* appears after the add */
  put ("z.svg/x", "blocks the rename");
  ck_assert_int_ne (mv_io_set_commit (s, "run.json"), MV_OK);
  mv_io_set_free (s);
  char l[512];
  listing (l, sizeof l);
  ck_assert_str_eq (l, "a.csv z.svg");         /* no run.json, no temporaries */
  expect_content ("a.csv", "new a");
  put ("z.svg/x", "");
  snprintf (sub, sizeof sub, "%s/z.svg/x", dir);
  unlink (sub);
}
END_TEST

/* A pid that no process has (a child that exited and was reaped). */
static long
dead_pid (void)
{
  pid_t p = fork ();
  if (p == 0)
    _exit (0);
  waitpid (p, NULL, 0);
  return (long) p;
}

START_TEST (t_clean_stale)
{
  char name[128];
  long dead = dead_pid ();
  snprintf (name, sizeof name, ".trajectory.csv.tmp.%ld.AbC123", dead);
  put (name, "partial");
  char live[128];
  snprintf (live, sizeof live, ".run.json.tmp.%ld.XyZ789", (long) getppid ());
  put (live, "in progress elsewhere");
  put (".tmp.notours", "x");
  put (".a.tmp.12x.ABCDEF", "x");   /* not a pid */
  put ("results.csv", "keep");
  ck_assert_int_eq (mv_io_clean_stale (dir), 1);
  char l[512], want[512];
  listing (l, sizeof l);
  snprintf (want, sizeof want, ".a.tmp.12x.ABCDEF %s .tmp.notours results.csv", live);
  ck_assert_str_eq (l, want);
  ck_assert_int_eq (mv_io_clean_stale ("/nonexistent/dir"), 0);
}
END_TEST

START_TEST (t_write_atomic_keeps_mode)
{
  put ("x.json", "old");
  char p[256];
  snprintf (p, sizeof p, "%s/x.json", dir);
  ck_assert_int_eq (chmod (p, 0640), 0);
  ck_assert_int_eq (mv_io_write_atomic (p, "new", 3), MV_OK);
  expect_content ("x.json", "new");
  struct stat st;
  ck_assert_int_eq (stat (p, &st), 0);
  ck_assert_int_eq (st.st_mode & 0777, 0640);
  char l[512];
  listing (l, sizeof l);
  ck_assert_str_eq (l, "x.json");
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("io");
  TCase *tc = tcase_create ("core");
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, t_set_commit);
  tcase_add_test (tc, t_set_failure);
  tcase_add_test (tc, t_set_partial_commit);
  tcase_add_test (tc, t_clean_stale);
  tcase_add_test (tc, t_write_atomic_keeps_mode);
  suite_add_tcase (s, tc);
  return mv_test_run (s);
}
