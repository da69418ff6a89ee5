/* CUnit runner for every suite registered by tests/unit/test_*.c. Prints CUnit's summary;
 * exits non-zero when any assertion failed. `ranklab_unit SUITE` runs one suite. MPI is
 * initialized (as a single rank) for the code under test that reduces over ranks. */
#include "kernels/isa.h"
#include "src/comm/comm.h"
#include "tests/unit/harness.h"

#include <CUnit/Basic.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SUITES 64

static struct {
    const char *name;
    const rl_test *tests;
} suites[MAX_SUITES];
static int n_suites;

void rl_test_register_suite(const char *name, const rl_test *tests) {
    if (n_suites < MAX_SUITES) {
        suites[n_suites].name = name;
        suites[n_suites].tests = tests;
        n_suites++;
    }
}

int rl_test_close(double a, double b, double tol_eps) {
    double scale = fmax(1.0, fmax(fabs(a), fabs(b)));
    return fabs(a - b) <= tol_eps * FLT_EPSILON * scale;
}

int rl_test_rows_differ(const rl_transformer *m, rl_transformer_ws *ws, const int32_t *ids,
                        int n_seq, int len, const int *first, const int *last) {
    size_t row = (size_t)m->vocab, n = (size_t)n_seq * len * row;
    float *full = malloc(sizeof(float) * n);
    memcpy(full, rl_transformer_forward(m, ws, ids, n_seq, len), sizeof(float) * n);
    for (int s = 0; s < n_seq; s++) // the wanted rows must be written again
        for (int t = first[s]; t <= last[s]; t++)
            for (size_t j = 0; j < row; j++)
                ws->logits[((size_t)s * len + t) * row + j] = NAN;
    const float *got = rl_transformer_forward_rows(m, ws, ids, n_seq, len, first, last);
    int differ = 0;
    for (int s = 0; s < n_seq; s++)
        for (int t = 0; t < len; t++) // wanted rows: recomputed; the others: left as they were
            differ += memcmp(full + ((size_t)s * len + t) * row, got + ((size_t)s * len + t) * row,
                             sizeof(float) * row) != 0;
    free(full);
    return differ;
}

double rl_test_check_grads(float *x, const float *analytic, size_t n, rl_test_loss_fn f, void *ctx,
                           float step) {
    double largest = 0.0;
    for (size_t i = 0; i < n; i++) {
        float saved = x[i];
        float hi = saved + step, lo = saved - step;
        x[i] = hi;
        double f_hi = f(ctx);
        x[i] = lo;
        double f_lo = f(ctx);
        x[i] = saved;
        double numeric = (f_hi - f_lo) / ((double)hi - lo);
        double a = analytic[i];
        double tol = 1e-2 * fmax(fabs(a), fabs(numeric)) + 1e-3;
        CU_ASSERT(fabs(a - numeric) <= tol);
        if (fabs(a - numeric) > tol)
            fprintf(stderr, "\n  gradient %zu: analytic %.6g, numeric %.6g\n", i, a, numeric);
        largest = fmax(largest, fabs(a));
    }
    return largest;
}

void rl_test_each_isa(void (*test)(void)) {
    for (int level = 0; level <= (int)kern_isa_best(); level++) {
        kern_isa_set((kern_isa_level)level);
        test();
    }
    kern_isa_set(kern_isa_best());
}

int main(int argc, char **argv) {
    if (comm_init(&argc, &argv) < 0)
        return 2;
    const char *only = argc > 1 ? argv[1] : NULL;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    for (int s = 0; s < n_suites; s++) {
        if (only && strcmp(only, suites[s].name) != 0)
            continue;
        CU_pSuite suite = CU_add_suite(suites[s].name, NULL, NULL);
        for (const rl_test *t = suites[s].tests; t->name; t++)
            CU_add_test(suite, t->name, t->fn);
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    unsigned ran = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    comm_finalize();
    return (failed == 0 && ran > 0) ? 0 : 1;
}
