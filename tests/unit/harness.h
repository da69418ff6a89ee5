/* Unit-test harness: each tests/unit/test_*.c lists its tests in a table and registers the
 * suite from a constructor; main.c hands every registered suite to CUnit.
 *
 *     static void test_thing(void) { CU_ASSERT_EQUAL(thing(2), 4); }
 *     static const rl_test tests[] = {{"thing doubles", test_thing}, {NULL, NULL}};
 *     RL_TEST_SUITE("core", tests)
 */
#ifndef RANKLAB_TESTS_HARNESS_H
#define RANKLAB_TESTS_HARNESS_H

#include <CUnit/CUnit.h>

typedef struct {
    const char *name;
    void (*fn)(void);
} rl_test;

void rl_test_register_suite(const char *name, const rl_test *tests);

#define RL_TEST_SUITE(suite_name, table)                                                       \
    __attribute__((constructor)) static void register_suite_##table(void) {                    \
        rl_test_register_suite(suite_name, table);                                             \
    }

/* Relative closeness scaled to float epsilon: |a - b| <= tol_eps · eps · max(1, |a|, |b|). */
int rl_test_close(double a, double b, double tol_eps);

/* Run test() at every ISA level this CPU supports (kernels/isa.h), then go back to the best. */
void rl_test_each_isa(void (*test)(void));

#endif
