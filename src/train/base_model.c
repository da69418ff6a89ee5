/* The pretrained model experiments start from: a finished `train` run, or one pretrained now;
 * and whether a model fits the data (see base_model.h). */
#include "src/train/base_model.h"
#include "src/run/run.h"
#include "src/core/digest.h"
#include "src/core/error.h"
#include "src/core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const rl_cfg_spec init_keys[] = {
    {"init.from", RL_CFG_STRING, "", 0, -1, NULL, 0,
     "start from the model saved by a finished run (its run directory, /arrays/params); empty: "
     "a random initialization, or for the zero-order experiments a train run pretrained now"},
};

static const rl_cfg_spec pretrain_keys[] = {
    {"init.pretrain_epochs", RL_CFG_INT, "10", 1, 1000, NULL, 0,
     "epochs of the train run pretrained here when init.from is empty"},
};

void base_model_declare_config(rl_config *cfg, int pretrain) {
    rl_cfg_declare(cfg, init_keys, sizeof init_keys / sizeof init_keys[0]);
    if (pretrain)
        rl_cfg_declare(cfg, pretrain_keys, sizeof pretrain_keys / sizeof pretrain_keys[0]);
}

int base_model_pretrain(const rl_config *cfg, int64_t epochs, char *base_dir, size_t size) {
    const rl_experiment *train = rl_experiment_find("train");
    rl_config *tc = train ? rl_experiment_new_config(train) : NULL;
    if (!tc)
        return train ? RL_ERR : rl_fail("the train experiment is not in this program", NULL);
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
        /* Runs started together (cells of a sweep) share this pretraining: one computes it,
         * the others wait for it and find it complete. */
        rl_run_default_dir(train, tc, base_dir, size);
        rl_log_info("pretraining the base model in %s", base_dir);
        int code = rl_run_main(train, tc, NULL, 1, NULL);
        rc = code == RL_EXIT_OK        ? 0
             : code == RL_EXIT_STOPPED ? RL_STOPPED
                                       : rl_fail("pretraining the base model in %s failed (see "
                                                 "its error above)",
                                                 "fix what its error says, or give a finished "
                                                 "run as the base",
                                                 base_dir);
    }
    rl_cfg_free(tc);
    return rc;
}

int base_model_load(rl_model *m, const char *dir, const char *what) {
    char path[4300], spec[sizeof((rl_model *)0)->spec] = "";
    snprintf(path, sizeof path, "%s/results.h5", dir);
    float *params = NULL;
    size_t n = 0;
    if (io_results_read_array_f32(path, "params", &params, &n, "model", spec, sizeof spec) < 0)
        return rl_fail_context("%s=%s", what, dir);
    int rc = 0;
    if (!m->spec[0])
        rc = rl_model_init(m, spec);
    else if (strcmp(spec, m->spec) != 0)
        rc = rl_fail("%s=%s holds model %s, this run builds %s",
                     "set model.spec to the same spec as the run you start from", what, dir, spec,
                     m->spec);
    if (rc == 0 && n != m->n_params)
        rc = rl_fail("%s: %zu parameters for model %s", "the file is damaged", path, n, spec);
    if (rc == 0)
        memcpy(m->params, params, sizeof(float) * n);
    free(params);
    if (rc == 0 && m->n_stats) { /* batch norms' running averages */
        float *stats = NULL;
        if (io_results_read_array_f32(path, "bn_stats", &stats, &n, "model", spec, sizeof spec) < 0)
            return rl_fail_context("%s=%s", what, dir);
        if (n != m->n_stats)
            rc = rl_fail("%s: %zu batch-norm statistics for model %s", "the file is damaged", path,
                         n, spec);
        else
            memcpy(m->stats, stats, sizeof(float) * n);
        free(stats);
    }
    return rc;
}

int base_model_get(const rl_config *cfg, const char *dir, int64_t pretrain_epochs,
                   const rl_dataset *data, rl_model *m) {
    char base_dir[4200];
    snprintf(base_dir, sizeof base_dir, "%s", dir);
    int rc = base_dir[0] ? 0 : base_model_pretrain(cfg, pretrain_epochs, base_dir, sizeof base_dir);
    if (rc != 0)
        return rc;
    memset(m, 0, sizeof *m);
    if (base_model_load(m, base_dir, dir[0] ? "init.from" : "the pretrained base, in") < 0)
        return RL_ERR;
    char what[4300];
    snprintf(what, sizeof what, "the base model in %s,", base_dir);
    if (base_model_check_fit(m, what, data, data->classes) < 0)
        return rl_fail_hint("start from a train run on the same data");
    return 0;
}

int base_model_check_fit(const rl_model *m, const char *what, const rl_dataset *d, int outputs) {
    int c, h, w;
    if (rl_model_input_image(m, &c, &h, &w)) {
        if (d->channels == 0) {
            rl_fail("%s %s takes images of %dx%dx%d, but the data %s has flat features (%d per "
                    "example, no image shape)",
                    NULL, what, m->spec, c, h, w, d->name, d->dim);
            return rl_fail_hint("use an mlp: spec on flat data, e.g. mlp:%d-64-%d, or image "
                                "data (data.name=fashion-mnist)",
                                d->dim, outputs);
        }
        if (c != d->channels || h != d->height || w != d->width) {
            rl_fail("%s %s takes images of %dx%dx%d, but the data %s has images of %dx%dx%d "
                    "(channels x height x width)",
                    NULL, what, m->spec, c, h, w, d->name, d->channels, d->height, d->width);
            return rl_fail_hint("start the cnn: spec with the data's shape: cnn:%dx%dx%d-...",
                                d->channels, d->height, d->width);
        }
    }
    if (m->in_dim != d->dim || m->out_dim != outputs)
        return rl_fail("%s %s takes %d inputs and gives %d outputs; the data %s has %d features "
                       "and needs %d outputs",
                       "match the first and last numbers of the model spec to the data", what,
                       m->spec, m->in_dim, m->out_dim, d->name, d->dim, outputs);
    return 0;
}

void base_model_record_inputs(rl_run *run, const rl_dataset *train, const rl_dataset *test,
                              const char *what, const rl_model *m) {
    char data[512];
    rl_data_describe(train, test, data, sizeof data);
    rl_run_add_input(run, "%s", data);
    if (m)
        rl_run_add_input(run, "%s %s params crc32 %08x", what, m->spec,
                         rl_crc32(0, m->params, sizeof(float) * m->n_params));
    if (m && m->n_stats)
        rl_run_add_input(run, "%s %s bn_stats crc32 %08x", what, m->spec,
                         rl_crc32(0, m->stats, sizeof(float) * m->n_stats));
}
