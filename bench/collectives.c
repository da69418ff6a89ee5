/* Benchmark: what the stall watchdog costs a collective. comm_sum_i64 (MPI_Allreduce bracketed
 * for the watchdog, whose thread runs, src/comm/watchdog.c) against its peer, the bare
 * MPI_Allreduce, in the same process (both under MPI_THREAD_MULTIPLE, which the watchdog needs),
 * for sums of 1 .. 262,144 int64 (a gradient of 262k parameters), in rounds that alternate which
 * goes first; each case's best round counts. Run on 2 ranks:
 *
 *     OPENBLAS_NUM_THREADS=1 mpiexec -n 2 build/bench_collectives     (no arguments)
 *
 * The peer calls MPI here, outside src/comm: it is what is measured against. */
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUNDS 15
#define SAMPLE_SECONDS 0.05 /* each case repeats the sum for about this long per round */

static const int sizes[] = {1, 1024, 32768, 262144};
#define N_SIZES (int)(sizeof sizes / sizeof sizes[0])

/* Seconds per sum of `reps` sums of n values: watched (comm_sum_i64) or blocking (the peer). */
static double time_sums(int64_t *values, int n, int reps, int watched) {
    comm_barrier();
    double t0 = rl_now();
    for (int r = 0; r < reps; r++) {
        if (watched)
            comm_sum_i64(values, (size_t)n);
        else
            MPI_Allreduce(MPI_IN_PLACE, values, n, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
    }
    double seconds = (rl_now() - t0) / reps;
    comm_max_f64(&seconds, 1); /* the slowest rank's time */
    return seconds;
}

int main(int argc, char **argv) {
    if (argc > 1) {
        printf("usage: mpiexec -n 2 bench_collectives   (no arguments)\n");
        return strcmp(argv[1], "--help") && strcmp(argv[1], "-h") ? 2 : 0;
    }
    if (comm_init(&argc, &argv) < 0) {
        rl_error_print();
        return 1;
    }
    comm_set_stall_limits(120, 1800); /* the defaults of run.stall_*_seconds */
    int64_t *values = rl_xcalloc((size_t)sizes[N_SIZES - 1], sizeof(int64_t));
    double best[N_SIZES][2];
    int reps[N_SIZES];
    for (int s = 0; s < N_SIZES; s++) {
        double once = time_sums(values, sizes[s], 3, 0);
        reps[s] = once > 0 ? (int)(SAMPLE_SECONDS / once) + 1 : 1000;
        comm_bcast(&reps[s], sizeof reps[s], 0);
        best[s][0] = best[s][1] = 1e30;
    }
    for (int round = 0; round < ROUNDS; round++)
        for (int s = 0; s < N_SIZES; s++)
            for (int turn = 0; turn < 2; turn++) {
                int watched = (turn + round) % 2; /* each goes first every other round */
                double t = time_sums(values, sizes[s], reps[s], watched);
                best[s][watched] = t < best[s][watched] ? t : best[s][watched];
            }
    if (comm_rank() == 0) {
        printf("| int64 values | comm_sum_i64 (watched) | MPI_Allreduce (peer) | ratio |\n"
               "|---|---|---|---|\n");
        for (int s = 0; s < N_SIZES; s++)
            printf("| %d | %.2f µs | %.2f µs | %.2f |\n", sizes[s], best[s][1] * 1e6,
                   best[s][0] * 1e6, best[s][1] / best[s][0]);
    }
    free(values);
    comm_finalize();
    return 0;
}
