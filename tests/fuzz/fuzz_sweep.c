/* libFuzzer harness: a sweep file through mv_sweep_parse, then what the CLI
 * does with a valid one before running tasks: the CSV header, a few task
 * specs (each parsed as a spec), and a row line matched back to its task. */
#include <moeverify/moeverify.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void
task (const mv_sweep *sw, size_t t)
{
  char *spec = mv_sweep_task_spec (sw, t);
  if (!spec)
    return;
  mv_problem pb;
  if (mv_problem_parse (&pb, spec, "task") == MV_OK)
    mv_problem_clear (&pb);
  free (spec);
  for (size_t a = 0; a < mv_sweep_naxes (sw); a++)
    {
      (void) mv_sweep_axis_path (sw, a);
      (void) mv_sweep_task_value (sw, t, a);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *text = malloc (size + 1);
  if (!text)
    return 0;
  memcpy (text, data, size);
  text[size] = '\0';
  mv_sweep *sw = NULL;
  if (mv_sweep_parse (&sw, text, "fuzz-sweep.json") == MV_OK && sw)
    {
      size_t nt = mv_sweep_ntasks (sw);
      for (size_t t = 0; t < nt && t < 3; t++)
        task (sw, t);
      if (nt > 3)
        task (sw, nt - 1);
      char *h = mv_sweep_csv_header (sw);
      free (h);
      (void) mv_sweep_method (sw);
      (void) mv_sweep_gram0 (sw);
      (void) mv_sweep_keep_trajectories (sw);
      (void) mv_sweep_line_task (sw, "{\"task\": 0}");
      (void) mv_sweep_line_task (sw, "0,1,2");
      mv_sweep_free (sw);
    }
  free (text);
  return 0;
}
