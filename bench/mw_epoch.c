/* One training epoch of the data-parallel trainer on one core, through the same chunked
 * fixed-point step as `train` and `mw-train` (src/train/dp.h); compare with
 * bench/peers/epoch_torch.py (bench/run_mw.sh).
 * Usage: bench_mw_epoch [SPEC] [BATCH] [TRAIN_LIMIT] [CHUNK] [EPOCHS]
 *        (defaults mlp:784-256-256-10 128 20000 32 3); prints the best epoch time. */
#include "bench/args.h"
#include "src/train/dp.h"
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/core/rng.h"

#include <stdio.h>
#include <stdlib.h>

static const char usage[] =
    "usage: bench_mw_epoch [SPEC] [BATCH] [TRAIN_LIMIT] [CHUNK] [EPOCHS]\n"
    "  SPEC         model.spec, default mlp:784-256-256-10\n"
    "  BATCH        train.batch, examples per step, default 128\n"
    "  TRAIN_LIMIT  data.train_limit, Fashion-MNIST training examples (0: all), default 20000\n"
    "  CHUNK        train.chunk, examples per gradient chunk, default 32\n"
    "  EPOCHS       train.epochs, timed epochs, default 3\n"
    "Each is checked like the config key it sets (ranklab run train --help).\n";

/* The positional arguments, in order, and the benchmark's own defaults for two of them. */
static const char *const key_names[] = {"model.spec", "train.batch", "data.train_limit",
                                        "train.chunk", "train.epochs"};
static const char *const bench_defaults[] = {"data.train_limit=20000", "train.epochs=3"};

int main(int argc, char **argv) {
    if (comm_init(&argc, &argv) < 0) {
        rl_error_print();
        return 1;
    }
    rl_config *cfg = rl_cfg_new();
    dp_declare_config(cfg);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof bench_defaults / sizeof bench_defaults[0]; i++)
        rc = rl_cfg_set_override(cfg, bench_defaults[i]);
    int args = rc < 0 ? rc : bench_args(argc, argv, usage, cfg, key_names, 5);
    dp_trainer t;
    if (args == 0 && dp_trainer_init(&t, cfg, 1) < 0) {
        rl_error_print();
        dp_trainer_free(&t);
        args = RL_ERR;
    }
    if (args != 0) {
        rl_cfg_free(cfg);
        comm_finalize();
        return args > 0 ? 0 : 2;
    }
    const char *spec = rl_cfg_str(cfg, "model.spec");
    int batch = (int)rl_cfg_int(cfg, "train.batch"), chunk = (int)rl_cfg_int(cfg, "train.chunk");
    int64_t epochs = rl_cfg_int(cfg, "train.epochs");
    int64_t per_epoch = t.batches.per_epoch;
    double best = 1e30;
    for (int e = 0; e < epochs && rc == 0; e++) {
        double t0 = rl_now();
        for (int64_t s = 0; s < per_epoch && rc == 0; s++)
            rc = dp_step(&t, e * per_epoch + s);
        double dt = rl_now() - t0;
        best = dt < best ? dt : best;
        if (comm_rank() == 0)
            printf("epoch %d: %.3f s (train loss %.4f)\n", e + 1, dt,
                   (double)comm_fixed_to_float(t.epoch_loss, RL_FIXED_SUM_FRAC_BITS) /
                       (double)t.train.n);
        t.epoch_loss = 0;
    }
    if (rc < 0)
        rl_error_print();
    else if (comm_rank() == 0)
        printf("epoch %s batch %d chunk %d n %lld: %.3f s\n", spec, batch, chunk,
               (long long)t.train.n, best);
    dp_trainer_free(&t);
    rl_cfg_free(cfg);
    comm_finalize();
    return rc == 0 ? 0 : 1;
}
