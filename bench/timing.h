/* Timing of the benchmark programs: the best CPU time (rl_cpu_now, this thread's: the machine is
 * shared, and other jobs stretch wall time but not this) per call of a function over SAMPLES runs
 * of about SAMPLE_SECONDS each, after a warm-up call that also sizes the runs. The Python peers
 * time the same way (bench/benchlib.py best_time).
 *
 *     double seconds = bench_best_time(forward_call, &ctx);
 */
#ifndef RANKLAB_BENCH_TIMING_H
#define RANKLAB_BENCH_TIMING_H

#include "src/core/log.h"

#define BENCH_SAMPLES 7           /* timed runs of each case; the best counts */
#define BENCH_SAMPLE_SECONDS 0.05 /* each run repeats the call for about this long */

typedef void (*bench_call)(void *ctx);

static inline double bench_best_time(bench_call call, void *ctx) {
    double t0 = rl_cpu_now();
    call(ctx); /* warm up, and size the runs */
    double once = rl_cpu_now() - t0;
    int reps = once < BENCH_SAMPLE_SECONDS
                   ? (int)(BENCH_SAMPLE_SECONDS / (once > 1e-7 ? once : 1e-7)) + 1
                   : 1;
    double best = 1e30;
    for (int s = 0; s < BENCH_SAMPLES; s++) {
        t0 = rl_cpu_now();
        for (int r = 0; r < reps; r++)
            call(ctx);
        double per_call = (rl_cpu_now() - t0) / reps;
        best = per_call < best ? per_call : best;
    }
    return best;
}

#endif
