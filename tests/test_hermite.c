#include "testutil.h"
#include <stdlib.h>
START_TEST (t_placeholder) { ck_assert_int_eq (1, 1); } END_TEST
int main (void) { Suite *s = suite_create ("hermite"); TCase *tc = tcase_create ("core"); tcase_add_test (tc, t_placeholder); suite_add_tcase (s, tc); return mv_test_run (s); }
