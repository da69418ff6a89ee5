/* Unit-test harness: each tests/unit/test_*.c lists its tests in a table and registers the
 * suite from a constructor; main.c hands every registered suite to CUnit.
 *
 *     static void test_thing(void) { CU_ASSERT_EQUAL(thing(2), 4); }
 *     static const rl_test tests[] = {{"thing doubles", test_thing}, {NULL, NULL}};
 *     RL_TEST_SUITE("core", tests)
 */
#ifndef RANKLAB_TESTS_HARNESS_H
#define RANKLAB_TESTS_HARNESS_H

#include "src/nn/transformer.h"

#include <CUnit/CUnit.h>

#include <stddef.h>

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

/* A loss as a function of values the caller perturbs, for rl_test_check_grads. */
typedef double (*rl_test_loss_fn)(void *ctx);
/* Compares analytic[i] with a central difference of f w.r.t. x[i] (float step `step`, loss in
 * double) for every i < n, asserting |a − numeric| <= 1e-2 · max(|a|, |numeric|) + 1e-3. Returns
 * the largest |analytic[i]|, so a caller can check that the comparison was not between zeros. */
double rl_test_check_grads(float *x, const float *analytic, size_t n, rl_test_loss_fn f, void *ctx,
                           float step);

/* Runs rl_transformer_forward on the sequences, writes NaN over the wanted rows (positions
 * first[s]..last[s]) of ws->logits, then runs rl_transformer_forward_rows on the same ws; returns
 * the rows whose logits then differ from the full forward's in any bit: wanted rows it did not
 * recompute exactly, and other rows it changed. */
int rl_test_rows_differ(const rl_transformer *m, rl_transformer_ws *ws, const int32_t *ids,
                        int n_seq, int len, const int *first, const int *last);

/* Run test() at every ISA level this CPU supports (kernels/isa.h), then go back to the best. */
void rl_test_each_isa(void (*test)(void));

#endif
