/* One training epoch of the data-parallel trainer on one core, through the same chunked
 * fixed-point step as `train` and `mw-train` (experiments/dp.h); compare with
 * bench/peers/epoch_torch.py (bench/run_mw.sh).
 * Usage: bench_mw_epoch [SPEC] [BATCH] [TRAIN_LIMIT] [CHUNK] [EPOCHS]
 *        (defaults mlp:784-256-256-10 128 20000 32 3); prints the best epoch time. */
#include "experiments/dp.h"
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/core/rng.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (comm_init(&argc, &argv) < 0)
        return 1;
    const char *spec = argc > 1 ? argv[1] : "mlp:784-256-256-10";
    int batch = argc > 2 ? atoi(argv[2]) : 128;
    int limit = argc > 3 ? atoi(argv[3]) : 20000;
    int chunk = argc > 4 ? atoi(argv[4]) : 32;
    int epochs = argc > 5 ? atoi(argv[5]) : 3;
    char kv[4][96];
    snprintf(kv[0], sizeof kv[0], "model.spec=%s", spec);
    snprintf(kv[1], sizeof kv[1], "train.batch=%d", batch);
    snprintf(kv[2], sizeof kv[2], "data.train_limit=%d", limit);
    snprintf(kv[3], sizeof kv[3], "train.chunk=%d", chunk);
    rl_config *cfg = rl_cfg_new();
    dp_declare_config(cfg);
    int rc = 0;
    for (int i = 0; i < 4 && rc == 0; i++)
        rc = rl_cfg_set_override(cfg, kv[i]);
    dp_trainer t;
    rc = rc ? rc : rl_cfg_resolve(cfg);
    rc = rc ? rc : dp_trainer_init(&t, cfg, 1);
    if (rc < 0) {
        rl_error_print();
        return 1;
    }
    rl_rng shuffle = rl_rng_make(1, RL_RNG_SHUFFLE);
    double best = 1e30;
    for (int e = 0; e < epochs && rc == 0; e++) {
        rl_data_epoch_order(t.train.n, shuffle, (uint32_t)e, t.order);
        double t0 = rl_now();
        for (int64_t s = 0; s < t.batches_per_epoch && rc == 0; s++)
            rc = dp_step(&t, e * t.batches_per_epoch + s);
        double dt = rl_now() - t0;
        best = dt < best ? dt : best;
        if (comm_rank() == 0)
            printf("epoch %d: %.3f s (train loss %.4f)\n", e + 1, dt,
                   (double)t.epoch_loss / (double)((int64_t)1 << RL_FIXED_SUM_FRAC_BITS) /
                       (double)t.train.n);
        t.epoch_loss = 0;
    }
    if (comm_rank() == 0)
        printf("epoch %s batch %d chunk %d n %lld: %.3f s\n", spec, batch, chunk,
               (long long)t.train.n, best);
    dp_trainer_free(&t);
    rl_cfg_free(cfg);
    comm_finalize();
    return rc == 0 ? 0 : 1;
}
