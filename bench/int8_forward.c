/* Benchmark: int8 GEMM (kern_gemm_s8, weights packed inside every call) vs OpenBLAS sgemm
 * (kern_sgemm) on one core, for the dense layers of an MLP forward: C (B, 256) = X (B, K) · Wᵀ
 * with K = 784 and 256, batch B = 16, 64, 128, 256. Prints GFLOP-equivalents per second
 * (2·B·256·K / time, best of several timed runs) and the int8/fp32 speed ratio.
 *
 *     OPENBLAS_NUM_THREADS=1 build/bench_int8_forward      # RANKLAB_KERNEL=avx2 to force one
 */
#include "bench/args.h"
#include "kernels/int8.h"
#include "kernels/kernels.h"
#include "src/core/log.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SAMPLES 7           /* timed runs of each kernel; the best counts */
#define SAMPLE_SECONDS 0.03 /* each run repeats the call for about this long */

typedef struct {
    int m, n, k;
    const float *x, *w;
    float *y;
    const int8_t *xq, *wq;
    int32_t *acc;
    void *scratch;
    const kern_int8_ops *ops; /* NULL: sgemm */
} bench_case;

static void bench_call(const bench_case *b) {
    if (b->ops)
        b->ops->gemm_s8(b->m, b->n, b->k, b->xq, b->wq, b->acc, b->scratch);
    else
        kern_sgemm(0, 1, b->m, b->n, b->k, 1.0f, b->x, b->k, b->w, b->k, 0.0f, b->y, b->n);
}

/* Best seconds per call over SAMPLES runs. */
static double bench_time(const bench_case *b) {
    int reps = 1;
    double t0 = rl_now();
    bench_call(b); /* warm up, and size the runs */
    double once = rl_now() - t0;
    if (once < SAMPLE_SECONDS)
        reps = (int)(SAMPLE_SECONDS / (once > 1e-7 ? once : 1e-7)) + 1;
    double best = 1e30;
    for (int s = 0; s < SAMPLES; s++) {
        t0 = rl_now();
        for (int r = 0; r < reps; r++)
            bench_call(b);
        double per_call = (rl_now() - t0) / reps;
        best = per_call < best ? per_call : best;
    }
    return best;
}

static const char usage[] =
    "usage: bench_int8_forward   (no arguments; the shapes are fixed)\n"
    "RANKLAB_KERNEL=ref|avx2|avx512vnni picks the int8 kernel, if this CPU supports it.\n";

int main(int argc, char **argv) {
    int args = bench_args(argc, argv, usage, NULL, NULL, 0);
    if (args != 0)
        return args > 0 ? 0 : 2;
    static const int batches[] = {16, 64, 128, 256}, ks[] = {784, 256};
    static const char *const names[] = {"avx512vnni", "avx2"};
    const int n = 256, max_m = 256, max_k = 784;
    const char *forced = getenv("RANKLAB_KERNEL");
    if (forced && strcmp(forced, kern_int8_isa()) != 0) {
        fprintf(stderr,
                "error: RANKLAB_KERNEL=%s is not available here (the int8 kernels run %s)\n"
                "HINT: use one of ref, avx2, avx512vnni that this CPU supports, or unset it.\n",
                forced, kern_int8_isa());
        return 2;
    }
    openblas_set_num_threads(1);
    const uint32_t key[2] = {2024u, 11u};
    float *x = malloc((size_t)max_m * max_k * 4), *w = malloc((size_t)n * max_k * 4);
    float *y = malloc((size_t)max_m * n * 4);
    int8_t *xq = malloc((size_t)max_m * max_k), *wq = malloc((size_t)n * max_k);
    int32_t *acc = malloc((size_t)max_m * n * 4);
    void *scratch = aligned_alloc(64, (kern_gemm_s8_scratch_size(max_m, n, max_k) + 63) / 64 * 64);
    if (!x || !w || !y || !xq || !wq || !acc || !scratch) {
        fprintf(stderr, "error: out of memory\nHINT: free some memory and retry.\n");
        return 1;
    }
    kern_fill_uniform(x, (size_t)max_m * max_k, key, 1, -1.0f, 1.0f);
    kern_fill_uniform(w, (size_t)n * max_k, key, 2, -0.1f, 0.1f);
    kern_quantize_s8(x, (size_t)max_m * max_k, 1.0f / 127, xq);
    kern_quantize_s8(w, (size_t)n * max_k, 0.1f / 127, wq);

    printf("int8 GEMM vs fp32 sgemm, one core, C (B, %d) = X (B, K) · Wᵀ; int8 dispatch: %s\n", n,
           kern_int8_isa());
    printf("GFLOP-equivalents/s (2·B·N·K / best time); ratio = dispatched int8 / sgemm\n\n");
    printf("%5s %5s %10s", "K", "B", "sgemm");
    for (size_t v = 0; v < sizeof names / sizeof names[0]; v++)
        if (kern_int8_variant(names[v]))
            printf(" %11s", names[v]);
    printf(" %7s\n", "ratio");
    for (size_t ik = 0; ik < sizeof ks / sizeof ks[0]; ik++)
        for (size_t ib = 0; ib < sizeof batches / sizeof batches[0]; ib++) {
            int m = batches[ib], k = ks[ik];
            double flop = 2.0 * m * n * k;
            bench_case b = {m, n, k, x, w, y, xq, wq, acc, scratch, NULL};
            double fp32 = flop / bench_time(&b) * 1e-9, chosen = 0.0;
            printf("%5d %5d %10.1f", k, m, fp32);
            for (size_t v = 0; v < sizeof names / sizeof names[0]; v++) {
                if (!(b.ops = kern_int8_variant(names[v])))
                    continue;
                double g = flop / bench_time(&b) * 1e-9;
                if (strcmp(names[v], kern_int8_isa()) == 0)
                    chosen = g;
                printf(" %11.1f", g);
            }
            if (chosen == 0.0) { /* the reference was chosen */
                b.ops = kern_int8_variant(kern_int8_isa());
                chosen = flop / bench_time(&b) * 1e-9;
            }
            printf(" %6.2fx\n", chosen / fp32);
            fflush(stdout);
        }
    free(x);
    free(w);
    free(y);
    free(xq);
    free(wq);
    free(acc);
    free(scratch);
    return 0;
}
