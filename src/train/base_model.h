/* The pretrained model an experiment starts from: the MLP of a finished `train` run (its
 * /arrays/params), given as a run directory, or pretrained now by the `train` experiment with
 * this run's seed, data and checkpoint keys (it lands in runs/train-ID, so every experiment
 * asking for the same pretraining finds the same run). Shared by zoqo-train and zoqo-attack.
 * And the check every experiment makes that a model (from a spec or a run) fits its data.
 *
 *     rl_model base;
 *     if (base_model_get(cfg, rl_cfg_str(cfg, "init.from"), 10, &train, &base) < 0) ...
 *     if (base_model_check_fit(&m, "model.spec", &train, train.classes) < 0) ...
 */
#ifndef RANKLAB_TRAIN_BASE_MODEL_H
#define RANKLAB_TRAIN_BASE_MODEL_H

#include "src/run/run.h"
#include "src/core/config.h"
#include "src/data/data.h"
#include "src/nn/nn.h"

#include <stddef.h>
#include <stdint.h>

/* init.from (every experiment that starts from a finished run) and, with `pretrain`,
 * init.pretrain_epochs (the experiments that pretrain one when init.from is empty). */
void base_model_declare_config(rl_config *cfg, int pretrain);
/* Collective. Run (or find complete, or wait for a run computing it) the `train` run of `epochs`
 * epochs with cfg's run.seed, data.dir, data.train_limit, data.test_limit, ckpt.every and
 * log.progress_seconds; its directory goes to base_dir. RL_STOPPED if a signal stopped it
 * (checkpointed: running the same command again resumes it). */
int base_model_pretrain(const rl_config *cfg, int64_t epochs, char *base_dir, size_t size);
/* The parameters a finished run saved (its /arrays/params, and with batch norm the running
 * averages of /arrays/bn_stats) into m: a zeroed m is initialized from the saved spec; an
 * initialized one must have that spec. `what` names where dir came from in errors (init.from,
 * the base model). */
int base_model_load(rl_model *m, const char *dir, const char *what);
/* Collective. The model of run directory dir, or of a pretraining of pretrain_epochs epochs
 * when dir is empty; checked to fit data (base_model_check_fit, data->classes outputs).
 * RL_STOPPED when a signal stopped the pretraining. */
int base_model_get(const rl_config *cfg, const char *dir, int64_t pretrain_epochs,
                   const rl_dataset *data, rl_model *m);
/* Does model m fit data d: a "cnn:" model's input shape is d's image shape (C x H x W; flat data
 * has none), an "mlp:" model takes d's dim features, and m gives `outputs` outputs? Else RL_ERR
 * naming both shapes; `what` names the model in the message (e.g. "model.spec"). */
int base_model_check_fit(const rl_model *m, const char *what, const rl_dataset *d, int outputs);
/* Record with the run what it is made from: the data splits (rl_data_describe) and, if m is not
 * NULL, a model it starts from ("WHAT SPEC params crc32 X"). Before rl_run_start. */
void base_model_record_inputs(rl_run *run, const rl_dataset *train, const rl_dataset *test,
                              const char *what, const rl_model *m);

#endif
