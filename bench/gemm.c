/* Benchmark: kern_sgemm's exact path (the project's GEMM, one fixed FMA order) against its BLAS
 * path (OpenBLAS) on one core, at the shapes of training: the MLP mlp:784-256-256-10 on chunks
 * of 32 (forward, weight gradient, input gradient; evaluation on 250-row chunks) and the CNN of
 * the tests (conv layers per example: forward, weight gradient, input gradient, as im2col
 * GEMMs). Prints GFLOP/s of each path (2·m·n·k / best time), exact / blas, and the ratio
 * weighted by each shape's share of an MLP and a CNN training step.
 *
 *     OPENBLAS_NUM_THREADS=1 taskset -c 1 build/bench_gemm      (no arguments)
 *     RANKLAB_ISA=avx2 ... to time the exact path's AVX2 micro-kernel
 */
#include "bench/args.h"
#include "kernels/isa.h"
#include "kernels/kernels.h"
#include "src/core/log.h"

#include <stdio.h>
#include <stdlib.h>

#define SAMPLES 7           /* timed runs of each case; the best counts */
#define SAMPLE_SECONDS 0.03 /* each run repeats the call for about this long */

typedef struct {
    const char *what;
    int ta, tb, m, n, k;
    float beta;
    int cnn; /* 0: a shape of the MLP step, 1: of the CNN step */
} gemm_shape;

static const gemm_shape shapes[] = {
    {"mlp fwd 784->256", 0, 1, 32, 256, 784, 1.0f, 0},
    {"mlp fwd 256->256", 0, 1, 32, 256, 256, 1.0f, 0},
    {"mlp fwd 256->10", 0, 1, 32, 10, 256, 1.0f, 0},
    {"mlp dW 256x784", 1, 0, 256, 784, 32, 1.0f, 0},
    {"mlp dW 256x256", 1, 0, 256, 256, 32, 1.0f, 0},
    {"mlp dW 10x256", 1, 0, 10, 256, 32, 1.0f, 0},
    {"mlp dx 256<-256", 0, 0, 32, 256, 256, 0.0f, 0},
    {"mlp dx 256<-10", 0, 0, 32, 256, 10, 0.0f, 0},
    {"mlp eval 784->256", 0, 1, 250, 256, 784, 1.0f, 0},
    {"cnn conv1 fwd", 0, 0, 8, 784, 9, 1.0f, 1},
    {"cnn conv1 dW", 0, 1, 8, 9, 784, 1.0f, 1},
    {"cnn conv2 fwd", 0, 0, 16, 196, 72, 1.0f, 1},
    {"cnn conv2 dW", 0, 1, 16, 72, 196, 1.0f, 1},
    {"cnn conv2 dcol", 1, 0, 72, 196, 16, 0.0f, 1},
    {"cnn fc fwd", 0, 1, 32, 10, 784, 1.0f, 1},
};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])

static const gemm_shape *current;
static float *a, *b, *c;

static void call(void) {
    const gemm_shape *s = current;
    int lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
    kern_sgemm(s->ta, s->tb, s->m, s->n, s->k, 1.0f, a, lda, b, ldb, s->beta, c, s->n);
}

/* Best seconds per call over SAMPLES runs. */
static double best_time(void) {
    double t0 = rl_now();
    call(); /* warm up, and size the runs */
    double once = rl_now() - t0;
    int reps = once < SAMPLE_SECONDS ? (int)(SAMPLE_SECONDS / (once > 1e-7 ? once : 1e-7)) + 1 : 1;
    double best = 1e30;
    for (int s = 0; s < SAMPLES; s++) {
        t0 = rl_now();
        for (int r = 0; r < reps; r++)
            call();
        double per_call = (rl_now() - t0) / reps;
        best = per_call < best ? per_call : best;
    }
    return best;
}

static const char usage[] = "usage: bench_gemm   (no arguments; the shapes are fixed)\n"
                            "RANKLAB_ISA=generic|avx2|avx512 picks the exact path's level.\n";

int main(int argc, char **argv) {
    if (bench_args(argc, argv, usage, NULL, NULL, 0) != 0)
        return argc > 1 && argv[1][0] == '-' && argv[1][1] == 'h' ? 0 : 2;
    const char *forced = getenv("RANKLAB_ISA");
    if (forced && kern_isa_set((kern_isa_level)kern_isa_parse(forced)) < 0) {
        fprintf(stderr, "error: RANKLAB_ISA=%s is not a level this CPU supports\n", forced);
        return 2;
    }
    a = malloc(sizeof(float) * 250 * 784);
    b = malloc(sizeof(float) * 784 * 784);
    c = malloc(sizeof(float) * 784 * 784);
    const uint32_t key[2] = {1, 2};
    kern_fill_uniform(a, 250 * 784, key, 1, -1.0f, 1.0f);
    kern_fill_uniform(b, 784 * 784, key, 2, -1.0f, 1.0f);
    kern_fill_uniform(c, 784 * 784, key, 3, -1.0f, 1.0f);
    printf("kern_sgemm on one core: exact path (%s micro-kernel) vs blas (OpenBLAS, core %s)\n",
           kern_isa_name(kern_isa()), kern_blas_core());
    printf("GFLOP/s = 2·m·n·k / best time; ratio = exact / blas\n\n");
    printf("%-18s %2s %2s %4s %4s %4s %9s %9s %7s\n", "shape", "ta", "tb", "m", "n", "k", "exact",
           "blas", "ratio");
    double time_exact[2] = {0, 0}, time_blas[2] = {0, 0};
    for (size_t i = 0; i < N_SHAPES; i++) {
        current = &shapes[i];
        double flops = 2.0 * current->m * current->n * current->k;
        kern_compute_set(KERN_COMPUTE_EXACT);
        double te = best_time();
        kern_compute_set(KERN_COMPUTE_BLAS);
        double tb = best_time();
        time_exact[current->cnn] += te;
        time_blas[current->cnn] += tb;
        printf("%-18s %2d %2d %4d %4d %4d %9.1f %9.1f %6.2fx\n", current->what, current->ta,
               current->tb, current->m, current->n, current->k, flops / te / 1e9,
               flops / tb / 1e9, tb / te);
    }
    printf("\nall MLP shapes once: exact %.1f us, blas %.1f us, exact / blas rate %.2f\n",
           1e6 * time_exact[0], 1e6 * time_blas[0], time_blas[0] / time_exact[0]);
    printf("all CNN shapes once: exact %.1f us, blas %.1f us, exact / blas rate %.2f\n",
           1e6 * time_exact[1], 1e6 * time_blas[1], time_blas[1] / time_exact[1]);
    free(a);
    free(b);
    free(c);
    return 0;
}
