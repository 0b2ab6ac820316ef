/* libFuzzer harness: a spec (JSON text) through mv_problem_parse, then
 * what every command does next with a valid one: its canonical JSON (parsed
 * back) and, for small sizes only, its vectors and Gram matrix (formed from
 * init blocks: orthonormal, gaussian, explicit). */
#include <moeverify/moeverify.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Forming vectors costs (m + m*) d doubles and the Gram n^2 d: cap it. */
#define FUZZ_MAX_ENTRIES 4096

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *text = malloc (size + 1);
  if (!text)
    return 0;
  memcpy (text, data, size);
  text[size] = '\0';
  mv_problem pb;
  if (mv_problem_parse (&pb, text, "fuzz.json") == MV_OK)
    {
      char *canon = mv_problem_to_json (&pb);
      mv_problem back;
      /* the canonical form of a valid spec is valid */
      if (canon && mv_problem_parse (&back, canon, "canonical") != MV_OK)
        __builtin_trap ();
      if (canon)
        mv_problem_clear (&back);
      free (canon);
      size_t n = 2 * (pb.m + pb.mstar);
      if (pb.d <= FUZZ_MAX_ENTRIES && pb.m + pb.mstar <= 64
          && (pb.m + pb.mstar) * pb.d <= FUZZ_MAX_ENTRIES)
        {
          double *G = malloc (n * n * sizeof *G), *nr = malloc (n * sizeof *nr);
          if (G && nr)
            {
              mv_problem_gram_d (G, nr, &pb);
              mv_problem_gram_sample_d (G, nr, &pb);
            }
          free (G), free (nr);
        }
      mv_problem_clear (&pb);
    }
  free (text);
  return 0;
}
