/* The pretrained model experiments start from: a finished `train` run, or one pretrained now
 * (see base_model.h). */
#include "experiments/base_model.h"
#include "experiments/experiment.h"
#include "src/core/error.h"
#include "src/core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const rl_experiment rl_experiment_train;

int base_model_pretrain(const rl_config *cfg, int64_t epochs, char *base_dir, size_t size) {
    rl_config *tc = rl_experiment_new_config(&rl_experiment_train);
    if (!tc)
        return RL_ERR;
    const char *copied[] = {"run.seed",        "data.dir",   "data.train_limit",
                            "data.test_limit", "ckpt.every", "log.progress_seconds"};
    char assignment[4200];
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof copied / sizeof copied[0]; i++) {
        const char *value;
        for (size_t j = 0; rl_cfg_item(cfg, j, &value); j++)
            if (!strcmp(rl_cfg_item(cfg, j, NULL)->key, copied[i])) {
                snprintf(assignment, sizeof assignment, "%s=%s", copied[i], value);
                rc = rl_cfg_set_override(tc, assignment);
            }
    }
    snprintf(assignment, sizeof assignment, "train.epochs=%lld", (long long)epochs);
    rc = rc ? rc : rl_cfg_set_override(tc, assignment);
    rc = rc ? rc : rl_cfg_resolve(tc);
    if (rc == 0) {
        rl_run run;
        rl_run_init(&run, &rl_experiment_train, tc, NULL);
        rl_log_info("pretraining the base model in %s", run.run_dir);
        rc = rl_experiment_train.run(&run);
        snprintf(base_dir, size, "%s", run.run_dir);
        rl_run_free(&run);
    }
    rl_cfg_free(tc);
    return rc;
}

int base_model_load(rl_model *m, const char *dir) {
    char path[4300], spec[128] = "";
    snprintf(path, sizeof path, "%s/results.h5", dir);
    float *params = NULL;
    size_t n = 0;
    if (io_results_read_array_f32(path, "params", &params, &n, "model", spec, sizeof spec) < 0)
        return rl_fail_context("base model %s", dir);
    int rc = rl_model_init(m, spec);
    if (rc == 0 && n != m->n_params)
        rc = rl_fail("%s: %zu parameters for model %s", "the file is damaged", path, n, spec);
    if (rc == 0)
        memcpy(m->params, params, sizeof(float) * n);
    free(params);
    return rc;
}

int base_model_get(const rl_config *cfg, const char *dir, int64_t pretrain_epochs,
                   const rl_dataset *data, rl_model *m) {
    char base_dir[4200];
    snprintf(base_dir, sizeof base_dir, "%s", dir);
    if (!base_dir[0] && base_model_pretrain(cfg, pretrain_epochs, base_dir, sizeof base_dir) != 0)
        return rl_fail_context("pretraining the base model");
    if (base_model_load(m, base_dir) < 0)
        return RL_ERR;
    if (m->in_dim != data->dim || m->out_dim != data->classes)
        return rl_fail("base model %s does not fit %s (%d features, %d classes)",
                       "start from a train run on the same data", m->spec, data->name, data->dim,
                       data->classes);
    return 0;
}
