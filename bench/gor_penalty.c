/* Benchmark: GOR penalty + gradient (kern_gor_penalty, kernels/gor.h) on one core for a conv
 * layer W (256, 256·3·3) and a dense layer W (512, 784), G = 1 (soft orthogonality) .. 64 groups,
 * inter grouping (intra too, for comparison). Prints the time per call (best of 25 rounds that go
 * over all cases in turn), GFLOP/s (4·rows·s·cols flops: per group Gram GEMM 2·s²·cols + GEMM
 * 2·s²·cols), and the saving SO / GOR(G) beside the flop ratio G.
 *
 *     OPENBLAS_NUM_THREADS=1 taskset -c 1 build/bench_gor_penalty      (no arguments)
 */
#include "bench/args.h"
#include "kernels/gor.h"
#include "kernels/kernels.h"
#include "src/core/error.h"
#include "src/core/log.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ROUNDS 25           /* timed rounds over all cases; each case's best round counts */
#define SAMPLE_SECONDS 0.01 /* in a round, each case repeats the call for about this long */
#define MAX_CASES 15

typedef struct {
    int rows, cols, groups, intra;
    const float *w;
    float *grad, *scratch;
    int reps;    /* calls per timed sample */
    double best; /* seconds per call */
} bench_case;

/* groups = 0: the memory floor, one pass grad += 1e-6·W (what any G at least costs: the
 * penalty reads W and reads and writes grad). */
static void bench_call(const bench_case *b) {
    if (b->groups == 0) {
        const size_t n = (size_t)b->rows * b->cols;
        for (size_t i = 0; i < n; i++)
            b->grad[i] += 1e-6f * b->w[i];
    } else
        kern_gor_penalty(b->w, b->rows, b->cols, b->groups, b->intra, 1e-6f, b->grad, b->scratch);
}

/* Best seconds per call of each case. The rounds go over all cases in turn, so a burst of load
 * from other jobs on the shared core hits one round of every case rather than one case. */
static void bench_time(bench_case *c, int n) {
    for (int i = 0; i < n; i++) {
        double t0 = rl_now();
        bench_call(&c[i]); /* warm up, and size the samples */
        double once = rl_now() - t0;
        c[i].reps = once < SAMPLE_SECONDS ? (int)(SAMPLE_SECONDS / fmax(once, 1e-7)) + 1 : 1;
        c[i].best = 1e30;
    }
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < n; i++) {
            double t0 = rl_now();
            for (int k = 0; k < c[i].reps; k++)
                bench_call(&c[i]);
            c[i].best = fmin(c[i].best, (rl_now() - t0) / c[i].reps);
        }
}

static const char usage[] =
    "usage: bench_gor_penalty   (no arguments; the layer shapes and group counts are fixed)\n";

int main(int argc, char **argv) {
    int args = bench_args(argc, argv, usage, NULL, NULL, 0);
    if (args != 0)
        return args > 0 ? 0 : 2;
    static const uint32_t key[2] = {0x9e3779b9u, 0x7f4a7c15u};
    const struct {
        int rows, cols;
        const char *what;
    } layers[] = {{256, 2304, "conv 256 x 256x3x3"}, {512, 784, "dense 512 x 784"}};
    const int groups[] = {1, 2, 4, 8, 16, 32, 64};
    const int n_groups = (int)(sizeof groups / sizeof groups[0]);
    for (size_t l = 0; l < sizeof layers / sizeof layers[0]; l++) {
        const int rows = layers[l].rows, cols = layers[l].cols;
        const size_t n = (size_t)rows * cols;
        float *w = rl_xmalloc(n * sizeof(float)), *grad = rl_xcalloc(n, sizeof(float));
        /* G = 1 needs the most scratch */
        float *scratch = rl_xmalloc(kern_gor_scratch_floats(rows, cols, 1, 0) * sizeof(float));
        kern_fill_uniform(w, n, key, (uint32_t)l, -0.05f, 0.05f);
        printf("%s: W (%d, %d), penalty + gradient per call\n", layers[l].what, rows, cols);
        printf("  G    s   inter ms  GFLOP/s  SO/GOR  flop ratio   intra ms\n");
        bench_case c[MAX_CASES]; /* inter for each G, then intra for each G, then the floor */
        for (int q = 0; q <= 2 * n_groups; q++) {
            c[q] = (bench_case){rows, cols, 0, 0, w, grad, scratch, 0, 0.0};
            if (q < 2 * n_groups) {
                c[q].groups = groups[q % n_groups];
                c[q].intra = q >= n_groups;
            }
        }
        bench_time(c, 2 * n_groups + 1);
        for (int q = 0; q < n_groups; q++) {
            const int G = groups[q], s = rows / G;
            double t = c[q].best, flops = 4.0 * rows * (double)s * cols;
            printf("%3d %4d %10.3f %8.1f %7.2fx %10dx %10.3f\n", G, s, 1e3 * t, flops / t / 1e9,
                   c[0].best / t, G, 1e3 * c[n_groups + q].best);
        }
        printf("memory floor (one pass grad += c·W): %.3f ms\n", 1e3 * c[2 * n_groups].best);
        free(w);
        free(grad);
        free(scratch);
    }
    return 0;
}
