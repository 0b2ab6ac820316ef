/* The fuzzers' findings and seeds through the normal build: every file in
 * tests/fuzz/regress/H/ (inputs that once crashed, leaked or tripped UBSan
 * in harness H, kept after the fix) and in the seed corpus
 * tests/fuzz/corpus/H/ goes to the same entry points as the harness
 * (H = spec: mv_problem_parse; sweep: mv_sweep_parse; reference:
 * mv_regress_parse).  Each must succeed or fail cleanly: a documented
 * status and a one-line message that starts with the name it was given.
 * Under --enable-sanitizers any memory error or leak also fails the run. */
#include <moeverify/moeverify.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* The whole file, NUL-terminated (NUL bytes inside stay: the text ends at
 * the first, as for a C string from the harness). */
static char *
slurp (const char *path)
{
  FILE *f = fopen (path, "rb");
  ck_assert_msg (f != NULL, "cannot open %s", path);
  fseek (f, 0, SEEK_END);
  long n = ftell (f);
  fseek (f, 0, SEEK_SET);
  char *s = malloc ((size_t) n + 1);
  ck_assert (s != NULL);
  ck_assert (fread (s, 1, (size_t) n, f) == (size_t) n);
  s[n] = '\0';
  fclose (f);
  return s;
}

/* A failure must be a parse/value/memory status with a one-line message
 * naming the input. */
static void
clean_error (int status, const char *name, const char *path)
{
  const char *msg = mv_error_message ();
  ck_assert_msg (status == MV_EPARSE || status == MV_EINVAL || status == MV_ENOMEM,
                 "%s: status %d (%s)", path, status, msg);
  ck_assert_msg (!strncmp (msg, name, strlen (name)) && msg[strlen (name)] == ':',
                 "%s: message does not start with '%s:': %s", path, name, msg);
  ck_assert_msg (!strchr (msg, '\n'), "%s: message of several lines: %s", path, msg);
}

static int
feed_spec (const char *text, const char *path)
{
  mv_problem pb;
  int s = mv_problem_parse (&pb, text, "fuzz.json");
  if (s)
    {
      clean_error (s, "fuzz.json", path);
      return 0;
    }
  char *canon = mv_problem_to_json (&pb);
  ck_assert_msg (canon != NULL, "%s: no canonical JSON", path);
  mv_problem back;
  ck_assert_msg (mv_problem_parse (&back, canon, "canonical") == MV_OK,
                 "%s: canonical form does not parse: %s", path, mv_error_message ());
  mv_problem_clear (&back);
  free (canon);
  mv_problem_clear (&pb);
  return 1;
}

static int
feed_sweep (const char *text, const char *path)
{
  mv_sweep *sw = NULL;
  int s = mv_sweep_parse (&sw, text, "fuzz-sweep.json");
  if (s)
    {
      ck_assert_msg (sw == NULL, "%s: failed parse left a sweep", path);
      clean_error (s, "fuzz-sweep.json", path);
      return 0;
    }
  ck_assert (sw != NULL && mv_sweep_ntasks (sw) >= 1);
  char *spec = mv_sweep_task_spec (sw, 0);
  ck_assert_msg (spec != NULL, "%s: no spec for task 0", path);
  free (spec);
  free (mv_sweep_csv_header (sw));
  mv_sweep_free (sw);
  return 1;
}

static int
feed_reference (const char *text, const char *path)
{
  mv_regress_file *ref = NULL;
  int s = mv_regress_parse (&ref, text, "fuzz-ref.json");
  if (s)
    {
      ck_assert_msg (ref == NULL, "%s: failed parse left a file", path);
      clean_error (s, "fuzz-ref.json", path);
      return 0;
    }
  ck_assert (mv_regress_nrows (ref) >= 1 && mv_regress_ncols (ref) >= 2);
  mv_regress_free (ref);
  return 1;
}

/* Every regular file of tests/fuzz/DIR/H through feed; returns the count
 * (a missing directory counts 0) and the number accepted in *ok. */
static size_t
feed_dir (const char *dir, const char *h, int (*feed) (const char *, const char *),
          size_t *ok)
{
  const char *top = getenv ("MV_TOP_SRCDIR");
  char path[4096];
  snprintf (path, sizeof path, "%s/tests/fuzz/%s/%s", top ? top : ".", dir, h);
  DIR *d = opendir (path);
  size_t n = 0;
  if (!d)
    return 0;
  struct dirent *e;
  while ((e = readdir (d)))
    {
      if (e->d_name[0] == '.')
        continue;
      char file[8192];
      snprintf (file, sizeof file, "%s/%s", path, e->d_name);
      char *text = slurp (file);
      *ok += (size_t) feed (text, file);
      free (text);
      n++;
    }
  closedir (d);
  return n;
}

/* The seeds: the corpus must be there (make fuzz starts from it) and hold
 * both valid and invalid inputs. */
static void
seeds (const char *h, int (*feed) (const char *, const char *), size_t min_ok)
{
  size_t ok = 0, n = feed_dir ("corpus", h, feed, &ok);
  ck_assert_msg (n >= 3, "tests/fuzz/corpus/%s: %zu files (MV_TOP_SRCDIR set?)", h, n);
  ck_assert_msg (ok >= min_ok, "tests/fuzz/corpus/%s: %zu of %zu accepted, want >= %zu",
                 h, ok, n, min_ok);
}

START_TEST (test_spec)
{
  size_t ok = 0;
  feed_dir ("regress", "spec", feed_spec, &ok);
  seeds ("spec", feed_spec, 4);
}
END_TEST

START_TEST (test_sweep)
{
  size_t ok = 0;
  feed_dir ("regress", "sweep", feed_sweep, &ok);
  seeds ("sweep", feed_sweep, 4);
}
END_TEST

START_TEST (test_reference)
{
  size_t ok = 0;
  feed_dir ("regress", "reference", feed_reference, &ok);
  seeds ("reference", feed_reference, 3);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("fuzz_regress");
  TCase *tc = tcase_create ("inputs");
  tcase_add_test (tc, test_spec);
  tcase_add_test (tc, test_sweep);
  tcase_add_test (tc, test_reference);
  suite_add_tcase (s, tc);
  return mv_test_run (s);
}
