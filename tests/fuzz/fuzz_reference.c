/* libFuzzer harness: a reference file (moeverify-reference-1) through
 * mv_regress_parse and its checksum.  Mutations almost always break the
 * checksum, which is checked first; so the input is also parsed again
 * with its checksum made right, to reach the validation behind it.  A
 * valid file's columns are read (no trajectory is recomputed). */
#include <moeverify/moeverify.h>

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void
parse (const char *text)
{
  mv_regress_file *ref = NULL;
  if (mv_regress_parse (&ref, text, "fuzz-ref.json") == MV_OK && ref)
    {
      size_t nc = mv_regress_ncols (ref);
      for (size_t c = 0; c < nc; c++)
        (void) mv_regress_column (ref, c);
      (void) mv_regress_nrows (ref);
      (void) mv_regress_name (ref);
      mv_regress_free (ref);
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
  parse (text);
  char sum[32];
  json_t *doc = json_loads (text, 0, NULL);
  if (json_is_object (doc) && mv_regress_checksum (sum, text) == MV_OK)
    {
      json_object_set_new (doc, "checksum", json_string (sum));
      char *fixed = json_dumps (doc, JSON_REAL_PRECISION (17));
      if (fixed)
        parse (fixed);
      free (fixed);
    }
  json_decref (doc);
  free (text);
  return 0;
}
