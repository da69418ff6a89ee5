/* Experiment `train`: first-order, data-parallel training (SGD or Adam) of an MLP or a CNN.
 *
 * The data-parallel machinery (exact chunked step, evaluation, checkpoints, resume) lives in
 * src/train/dp.c; this file names the experiment. Metrics per epoch: train loss
 * (mean over the epoch's batches, before each update), test loss and test accuracy. The final
 * model is saved in /arrays/params so later runs can start from it with init.from=RUN_DIR. */
#include "src/train/dp.h"
#include "src/core/error.h"

extern const char rl_ini_train[];

static const char *const metric_names[] = {DP_METRICS};

static int train_run(rl_run *run) {
    static const dp_hooks hooks = {0};
    return dp_run(run, metric_names, sizeof metric_names / sizeof metric_names[0], &hooks);
}

static const rl_experiment rl_experiment_train = {
    .name = "train",
    .summary = "first-order data-parallel training (SGD/Adam) of an MLP or CNN; saves the model",
    .doc = "Trains model.spec on data.name with train.optim for train.epochs epochs. Each batch\n"
           "is cut into chunks of train.chunk examples that the ranks share; gradients are\n"
           "summed in fixed point, so results are bit-identical on any number of ranks.\n"
           "Metrics per epoch: train_loss, test_loss, test_acc. The final parameters go to\n"
           "/arrays/params; start another run from them with init.from=RUN_DIR.",
    .default_ini = rl_ini_train,
    .declare = dp_declare_config,
    .check = dp_check_config,
    .run = train_run,
};

RL_EXPERIMENT(rl_experiment_train)
