/* Result rows as CSV and JSON lines, and reading a JSON line back.
 *
 * CSV: task, the grid values (compact JSON text), status, t_final, loss,
 * grad2, recovered, per teacher j recovery_time_j, recovery_student_j,
 * cross50_j, state_j, then steps, rejected, wall_seconds, message.  Numbers are
 * %.17g (exact), "nan" when undefined, as in trajectory.csv.  When m*
 * differs between tasks ("teacher.m" on the grid) the header has the
 * columns of the largest m* of the base and the single-axis specs; a row
 * with fewer teachers leaves the rest empty (a failed spec has none).
 * JSON: one compact object per row, undefined numbers as null, the
 * recovery of every teacher of the row. */
#include "sweep/sweep_priv.h"
#include "base/textbuf.h"

#include <moeverify/error.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const STATUS[] = { "running", "complete", "interrupted",
                                      "failed" };

static const char *
status_word (int status)
{
  return status >= 0 && status < 4 ? STATUS[status] : "failed";
}

/* A CSV field, quoted (quotes doubled) when it holds , " or a line break,
 * or always when force. */
static void
csv_field (mv_textbuf *b, const char *s, int force)
{
  if (!force && !strpbrk (s, ",\"\r\n"))
    {
      mv_textbuf_puts (b, s);
      return;
    }
  mv_textbuf_put (b, "\"", 1);
  for (const char *c = s; *c; c++)
    if (*c == '"')
      mv_textbuf_put (b, "\"\"", 2);
    else
      mv_textbuf_put (b, c, 1);
  mv_textbuf_put (b, "\"", 1);
}

static void
csv_num (mv_textbuf *b, double x)
{
  if (isnan (x))
    mv_textbuf_puts (b, ",nan");
  else
    mv_textbuf_printf (b, ",%.17g", x);
}

/* The text of b (ownership passed), NULL after an allocation failure. */
static char *
take (mv_textbuf *b)
{
  if (!mv_textbuf_ok (b))
    {
      free (b->s);
      mv_error_set (MV_ENOMEM, "sweep: out of memory");
      return NULL;
    }
  return b->s;
}

char *
mv_sweep_csv_header (const mv_sweep *sw)
{
  mv_textbuf b;
  mv_textbuf_init (&b);
  mv_textbuf_puts (&b, "task");
  for (size_t a = 0; a < sw->naxes; a++)
    {
      mv_textbuf_put (&b, ",", 1);
      csv_field (&b, sw->axes[a].path, 0);
    }
  mv_textbuf_puts (&b, ",status,t_final,loss,grad2,recovered");
  for (size_t j = 0; j < sw->mstar_max; j++)
    mv_textbuf_printf (&b, ",recovery_time_%zu,recovery_student_%zu,"
                       "cross50_%zu,state_%zu", j, j, j, j);
  mv_textbuf_puts (&b, ",steps,rejected,wall_seconds,message\n");
  return take (&b);
}

char *
mv_sweep_row_csv (const mv_sweep *sw, const mv_sweep_row *row)
{
  mv_textbuf b;
  mv_textbuf_init (&b);
  mv_textbuf_printf (&b, "%zu", row->task);
  for (size_t a = 0; a < sw->naxes; a++)
    {
      const char *v = mv_sweep_task_value (sw, row->task, a);
      mv_textbuf_put (&b, ",", 1);
      csv_field (&b, v ? v : "", 0);
    }
  mv_textbuf_printf (&b, ",%s", status_word (row->status));
  csv_num (&b, row->t_final);
  csv_num (&b, row->loss);
  csv_num (&b, row->grad2);
  mv_textbuf_printf (&b, ",%zu", row->recovered);
  /* the header's columns: more teachers than it has are cut (JSON has
   * them all) */
  for (size_t j = 0; j < sw->mstar_max; j++)
    if (j < row->mstar)
      {
        csv_num (&b, row->recovery_time[j]);
        mv_textbuf_printf (&b, ",%ld", row->recovery_student[j]);
        csv_num (&b, row->cross50[j]);
        const char *st = mv_traj_state_name (row->state[j]);
        mv_textbuf_printf (&b, ",%s", st ? st : "");
      }
    else
      mv_textbuf_puts (&b, ",,,,");
  mv_textbuf_printf (&b, ",%lu,%lu", row->steps, row->rejected);
  csv_num (&b, row->wall_seconds);
  mv_textbuf_put (&b, ",", 1);
  csv_field (&b, row->message, 1);
  mv_textbuf_put (&b, "\n", 1);
  return take (&b);
}

/* A double as JSON (null when undefined); NULL only without memory. */
static json_t *
jnum (double x)
{
  return isfinite (x) ? json_real (x) : json_null ();
}

/* A teacher state as JSON: its name, or null. */
static json_t *
state_json (int state)
{
  const char *s = mv_traj_state_name (state);
  return s ? json_string (s) : json_null ();
}

/* The "recovery" array of a row. */
static json_t *
recovery_json (const mv_sweep_row *row)
{
  json_t *arr = json_array ();
  for (size_t j = 0; arr && j < row->mstar; j++)
    if (json_array_append_new (arr, json_pack ("{s:o, s:I, s:o, s:o}", "time",
                                               jnum (row->recovery_time[j]),
                                               "student", (json_int_t)
                                               row->recovery_student[j],
                                               "cross50",
                                               jnum (row->cross50[j]), "state",
                                               state_json (row->state[j]))))
      {
        json_decref (arr);
        return NULL;
      }
  return arr;
}

static json_t *
values_json (const mv_sweep *sw, size_t t)
{
  json_t *v = json_object ();
  for (size_t a = 0; v && a < sw->naxes && t < sw->ntasks; a++)
    {
      const mv_sweep_axis *ax = &sw->axes[a];
      if (json_object_set (v, ax->path, json_array_get
                           (ax->values, (t / ax->stride) % ax->n)))
        {
          json_decref (v);
          return NULL;
        }
    }
  return v;
}

char *
mv_sweep_row_json (const mv_sweep *sw, const mv_sweep_row *row)
{
  json_t *doc = json_pack ("{s:I, s:o, s:s, s:o, s:o, s:o, s:I, s:o, s:I, "
                           "s:I, s:o, s:s}",
                           "task", (json_int_t) row->task,
                           "values", values_json (sw, row->task),
                           "status", status_word (row->status),
                           "t_final", jnum (row->t_final),
                           "loss", jnum (row->loss),
                           "grad2", jnum (row->grad2),
                           "recovered", (json_int_t) row->recovered,
                           "recovery", recovery_json (row),
                           "steps", (json_int_t) row->steps,
                           "rejected", (json_int_t) row->rejected,
                           "wall_seconds", jnum (row->wall_seconds),
                           "message", row->message);
  char *s = doc ? json_dumps (doc, JSON_COMPACT | JSON_PRESERVE_ORDER
                              | JSON_REAL_PRECISION (17)) : NULL;
  json_decref (doc);
  if (!s)
    {
      mv_error_set (MV_ENOMEM, "sweep: out of memory");
      return NULL;
    }
  size_t n = strlen (s);
  char *line = realloc (s, n + 2);
  if (!line)
    {
      free (s);
      mv_error_set (MV_ENOMEM, "sweep: out of memory");
      return NULL;
    }
  memcpy (line + n, "\n", 2);
  return line;
}

/* The line's values are task t's (a results file of another sweep is not
 * taken for this one's). */
static int
values_match (const mv_sweep *sw, json_t *values, size_t t)
{
  if (!json_is_object (values) || json_object_size (values) != sw->naxes)
    return 0;
  for (size_t a = 0; a < sw->naxes; a++)
    {
      json_t *v = json_object_get (values, sw->axes[a].path);
      char *s = v ? json_dumps (v, JSON_COMPACT | JSON_ENCODE_ANY
                                | JSON_PRESERVE_ORDER
                                | JSON_REAL_PRECISION (17)) : NULL;
      int ok = s && !strcmp (s, mv_sweep_task_value (sw, t, a));
      free (s);
      if (!ok)
        return 0;
    }
  return 1;
}

/* The line as a JSON document when it is a complete row of this sweep
 * (task in range, every key, the task's values); *t its task. */
static json_t *
line_doc (const mv_sweep *sw, const char *line, size_t *t)
{
  static const char *const KEYS[] = { "status", "t_final", "loss", "grad2",
                                      "recovered", "recovery", "steps",
                                      "rejected", "wall_seconds", "message",
                                      NULL };
  *t = (size_t) -1;
  if (!line)
    return NULL;
  json_error_t err;
  json_t *doc = json_loads (line, 0, &err);
  json_t *task = json_object_get (doc, "task");
  int ok = json_is_integer (task) && json_integer_value (task) >= 0
    && (size_t) json_integer_value (task) < sw->ntasks;
  for (const char *const *k = KEYS; ok && *k; k++)
    ok = json_object_get (doc, *k) != NULL;
  ok = ok && json_is_array (json_object_get (doc, "recovery"))
    && json_is_string (json_object_get (doc, "message"))
    && values_match (sw, json_object_get (doc, "values"),
                     (size_t) json_integer_value (task));
  if (!ok)
    {
      json_decref (doc);
      return NULL;
    }
  *t = (size_t) json_integer_value (task);
  return doc;
}

size_t
mv_sweep_line_task (const mv_sweep *sw, const char *line)
{
  size_t t;
  json_decref (line_doc (sw, line, &t));
  return t;
}

/* A number of a row (null: NAN). */
static double
num (json_t *obj, const char *key)
{
  json_t *v = json_object_get (obj, key);
  return json_is_number (v) ? json_number_value (v) : NAN;
}

static unsigned long
uint_of (json_t *obj, const char *key)
{
  json_t *v = json_object_get (obj, key);
  return json_is_integer (v) && json_integer_value (v) > 0
    ? (unsigned long) json_integer_value (v) : 0;
}

int
mv_sweep_row_parse (mv_sweep_row *row, const mv_sweep *sw, const char *line)
{
  size_t t;
  json_t *doc = line_doc (sw, line, &t);
  if (!doc)
    return mv_error_set (MV_EPARSE, "%s: not a complete result row of this "
                         "sweep", sw->name);
  json_t *rec = json_object_get (doc, "recovery");
  int st = mv_sweep_row_resize (row, json_array_size (rec));
  if (st)
    {
      json_decref (doc);
      return st;
    }
  row->task = t;
  const char *status = json_string_value (json_object_get (doc, "status"));
  row->status = MV_TRAJ_FAILED;
  for (int k = 0; status && k < 4; k++)
    if (!strcmp (status, STATUS[k]))
      row->status = k;
  snprintf (row->message, sizeof row->message, "%s",
            json_string_value (json_object_get (doc, "message")));
  row->t_final = num (doc, "t_final");
  row->loss = num (doc, "loss");
  row->grad2 = num (doc, "grad2");
  row->wall_seconds = num (doc, "wall_seconds");
  row->steps = uint_of (doc, "steps");
  row->rejected = uint_of (doc, "rejected");
  row->recovered = uint_of (doc, "recovered");
  for (size_t j = 0; j < row->mstar; j++)
    {
      json_t *e = json_array_get (rec, j);
      json_t *s = json_object_get (e, "student");
      row->recovery_time[j] = num (e, "time");
      row->recovery_student[j] = json_is_integer (s)
        ? (long) json_integer_value (s) : -1;
      row->cross50[j] = num (e, "cross50");
      const char *st = json_string_value (json_object_get (e, "state"));
      row->state[j] = -1;
      for (int k = 0; st && k < MV_TRAJ_NSTATE; k++)
        if (!strcmp (st, mv_traj_state_name (k)))
          row->state[j] = k;
    }
  json_decref (doc);
  return MV_OK;
}
