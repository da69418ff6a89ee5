/* The pretrained model an experiment starts from: the MLP of a finished `train` run (its
 * /arrays/params), given as a run directory, or pretrained now by the `train` experiment with
 * this run's seed, data and checkpoint keys (it lands in runs/train-ID, so every experiment
 * asking for the same pretraining finds the same run). Shared by zoqo-train and zoqo-attack.
 *
 *     rl_model base;
 *     if (base_model_get(cfg, rl_cfg_str(cfg, "zoqo.base"), 10, &train, &base) < 0) ...
 */
#ifndef RANKLAB_EXPERIMENTS_BASE_MODEL_H
#define RANKLAB_EXPERIMENTS_BASE_MODEL_H

#include "src/core/config.h"
#include "src/data/data.h"
#include "src/nn/nn.h"

#include <stddef.h>
#include <stdint.h>

/* Collective. Run (or find complete) the `train` run of `epochs` epochs with cfg's run.seed,
 * data.dir, data.train_limit, data.test_limit, ckpt.every and log.progress_seconds; its
 * directory goes to base_dir. */
int base_model_pretrain(const rl_config *cfg, int64_t epochs, char *base_dir, size_t size);
/* Load the model of a finished train run in dir into m (initialized here). */
int base_model_load(rl_model *m, const char *dir);
/* Collective. The model of run directory dir, or of a pretraining of pretrain_epochs epochs
 * when dir is empty; checked to fit data (features and classes). */
int base_model_get(const rl_config *cfg, const char *dir, int64_t pretrain_epochs,
                   const rl_dataset *data, rl_model *m);

#endif
