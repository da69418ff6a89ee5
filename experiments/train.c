/* Experiment `train`: first-order, data-parallel training (SGD or Adam) of an MLP or a CNN.
 *
 * The data-parallel machinery (exact chunked step, evaluation, checkpoints, resume) lives in
 * experiments/dp.c; this file names the metrics and records them. Metrics per epoch: train loss
 * (mean over the epoch's batches, before each update), test loss and test accuracy. The final
 * model is saved in /arrays/params so later runs can start from it with init.from=RUN_DIR. */
#include "experiments/dp.h"
#include "src/core/error.h"

extern const char rl_ini_train[];

static const char *const metric_names[] = {"epoch", "train_loss", "test_loss", "test_acc"};
enum { N_METRICS = 4 };

static int train_epoch_end(rl_run *run, dp_trainer *t, int64_t epoch, void *ctx) {
    (void)ctx;
    double row[N_METRICS];
    if (dp_row_head(t, epoch, row) < 0)
        return RL_ERR;
    return rl_run_record(run, (epoch + 1) * t->batches_per_epoch, row);
}

static int train_run(rl_run *run) {
    static const dp_hooks hooks = {.epoch_end = train_epoch_end, .finish = dp_write_final};
    return dp_run(run, metric_names, N_METRICS, &hooks);
}

const rl_experiment rl_experiment_train = {
    .name = "train",
    .summary = "first-order data-parallel training (SGD/Adam) of an MLP or CNN; saves the model",
    .doc = "Trains model.spec on data.name with train.optim for train.epochs epochs. Each batch\n"
           "is cut into chunks of train.chunk examples that the ranks share; gradients are\n"
           "summed in fixed point, so results are bit-identical on any number of ranks.\n"
           "Metrics per epoch: train_loss, test_loss, test_acc. The final parameters go to\n"
           "/arrays/params; start another run from them with init.from=RUN_DIR.",
    .default_ini = rl_ini_train,
    .declare = dp_declare_config,
    .run = train_run,
};
