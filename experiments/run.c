/* What every experiment's run shares: common keys, the run directory and its checks, resume
 * from the newest good checkpoint, the metrics history, the stop agreement (see experiment.h). */
#include "experiments/experiment.h"
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/core/stop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const rl_cfg_spec common_keys[] = {
    {"run.seed", RL_CFG_INT, "1", 0, 4294967295.0, NULL, 0,
     "seed of every random draw (initialization, order, noise, perturbations)"},
    {"ckpt.every", RL_CFG_INT, "500", 0, 1e12, NULL, RL_CFG_RUNTIME,
     "write a checkpoint every N steps (0: only when stopped by a signal)"},
    {"ckpt.keep", RL_CFG_INT, "2", 1, 1000, NULL, RL_CFG_RUNTIME,
     "how many of the newest checkpoints to keep"},
    {"log.progress_seconds", RL_CFG_FLOAT, "10", 0.1, 86400, NULL, RL_CFG_RUNTIME,
     "seconds between progress lines in batch logs (a terminal gets a live line)"},
};

rl_config *rl_experiment_new_config(const rl_experiment *exp) {
    rl_config *cfg = rl_cfg_new();
    exp->declare(cfg);
    char origin[96];
    snprintf(origin, sizeof origin, "experiments/%s.ini (built in)", exp->name);
    if (rl_cfg_load_text(cfg, exp->default_ini, origin) < 0) {
        rl_cfg_free(cfg);
        return NULL;
    }
    return cfg;
}

void rl_declare_common_config(rl_config *cfg) {
    rl_cfg_declare(cfg, common_keys, sizeof common_keys / sizeof common_keys[0]);
}

void rl_run_init(rl_run *run, const rl_experiment *exp, rl_config *cfg, const char *out_dir) {
    memset(run, 0, sizeof *run);
    run->exp = exp;
    run->cfg = cfg;
    rl_cfg_run_id(cfg, run->run_id);
    if (out_dir)
        snprintf(run->run_dir, sizeof run->run_dir, "%s", out_dir);
    else
        snprintf(run->run_dir, sizeof run->run_dir, "runs/%s-%s", exp->name, run->run_id);
    snprintf(run->ckpt_dir, sizeof run->ckpt_dir, "%s/ckpt", run->run_dir);
    run->seed = (uint64_t)rl_cfg_int(cfg, "run.seed");
    run->ckpt_every = rl_cfg_int(cfg, "ckpt.every");
    run->ckpt_keep = (int)rl_cfg_int(cfg, "ckpt.keep");
    rl_log_set_progress_interval(rl_cfg_float(cfg, "log.progress_seconds"));
    run->t_start = rl_now();
}

void rl_run_free(rl_run *run) {
    io_results_close(run->results);
    free(run->row_step);
    free(run->row_values);
    run->results = NULL;
    run->row_step = NULL;
    run->row_values = NULL;
}

/* Rank 0: is there a finished run here, or somebody else's? Writes nothing. */
static int inspect_existing(const rl_run *run) {
    char path[PATH_MAX + 32], other[64];
    snprintf(path, sizeof path, "%s/results.h5", run->run_dir);
    if (!io_path_exists(path))
        return 0;
    if (io_results_read_root_attr(path, "run_id", other, sizeof other) < 0)
        return rl_fail_context("existing results in %s", run->run_dir);
    if (strcmp(other, run->run_id) != 0)
        return rl_fail("%s holds a finished run of another config (run id %s, this config %s)",
                       "choose another --out directory, or delete that one", run->run_dir, other,
                       run->run_id);
    return 1;
}

int rl_run_start(rl_run *run, const char *const *metric_names, int n_metrics) {
    run->metric_names = metric_names;
    run->n_metrics = n_metrics;
    int state = comm_rank() == 0 ? inspect_existing(run) : 0;
    if (comm_any_failed(state < 0))
        return state < 0 ? RL_ERR : rl_fail("rank 0 rejected the run directory", "see its error");
    if (comm_bcast(&state, sizeof state, 0) < 0)
        return RL_ERR;
    if (state == 1) {
        rl_log_info("%s is already complete (run id %s); nothing to do", run->run_dir,
                    run->run_id);
        return 1;
    }
    char ckpt_run_id[64];
    int found = io_ckpt_find_latest(run->ckpt_dir, run->resume_path, sizeof run->resume_path,
                                    &run->resume_step, ckpt_run_id);
    if (found < 0)
        return RL_ERR;
    if (found && strcmp(ckpt_run_id, run->run_id) != 0)
        return rl_fail("%s holds a checkpoint of another config (run id %s, this config %s)",
                       "resume with the same config, or choose another --out directory",
                       run->resume_path, ckpt_run_id, run->run_id);
    run->resuming = found;
    int rc = 0;
    if (comm_rank() == 0) {
        io_results_meta meta = {run->exp->name, run->run_id, run->seed, comm_size()};
        rc = io_make_dir(run->run_dir);
        if (rc == 0)
            rc = io_results_create(&run->results, run->run_dir, &meta, run->cfg, metric_names,
                                   n_metrics);
    }
    if (comm_any_failed(rc < 0))
        return rc < 0 ? RL_ERR : rl_fail("rank 0 cannot write the run directory", "see its error");
    if (found)
        rl_log_info("resuming %s from step %lld (%s)", run->run_dir, (long long)run->resume_step,
                    run->resume_path);
    else
        rl_log_info("run %s: %s (run id %s, %d ranks)", run->exp->name, run->run_dir, run->run_id,
                    comm_size());
    return 0;
}

int rl_run_record(rl_run *run, int64_t step, const double *values) {
    if (run->rows == run->cap) {
        run->cap = run->cap ? 2 * run->cap : 64;
        run->row_step = realloc(run->row_step, sizeof(int64_t) * (size_t)run->cap);
        run->row_values =
            realloc(run->row_values, sizeof(double) * (size_t)(run->cap * run->n_metrics));
        if (!run->row_step || !run->row_values)
            return rl_fail("out of memory for the metrics history", NULL);
    }
    run->row_step[run->rows] = step;
    memcpy(run->row_values + run->rows * run->n_metrics, values,
           sizeof(double) * (size_t)run->n_metrics);
    run->rows++;
    return run->results ? io_results_append(run->results, step, values) : 0;
}

int rl_run_save_metrics(rl_run *run, io_ckpt *c) {
    int mine = comm_rank() == 0;
    int64_t rows = run->rows;
    int rc = io_ckpt_write(c, "metrics/step", IO_I64, rows, 0, mine ? rows : 0, run->row_step);
    /* Stored row-major (rows, n_metrics); names are fixed by the experiment. */
    int64_t n = rows * run->n_metrics;
    if (rc == 0)
        rc = io_ckpt_write(c, "metrics/values", IO_F64, n, 0, mine ? n : 0, run->row_values);
    return rc;
}

int rl_run_restore_metrics(rl_run *run, io_ckpt *c) {
    int64_t rows = io_ckpt_size(c, "metrics/step");
    if (rows < 0 || io_ckpt_size(c, "metrics/values") != rows * run->n_metrics)
        return rl_fail("checkpoint %s has no usable metrics history",
                       "it was written by another version; delete the run directory",
                       run->resume_path);
    int64_t *steps = rl_xmalloc(sizeof(int64_t) * (size_t)(rows ? rows : 1));
    double *values = rl_xmalloc(sizeof(double) * (size_t)(rows * run->n_metrics + 1));
    int rc = io_ckpt_read(c, "metrics/step", IO_I64, 0, rows, steps);
    if (rc == 0)
        rc = io_ckpt_read(c, "metrics/values", IO_F64, 0, rows * run->n_metrics, values);
    run->rows = 0;
    for (int64_t r = 0; rc == 0 && r < rows; r++)
        rc = rl_run_record(run, steps[r], values + r * run->n_metrics);
    free(steps);
    free(values);
    return rc;
}

int rl_run_should_stop(int64_t step) {
    rl_stop_inject_fault(step);
    return comm_agree_stop(rl_stop_requested());
}

int rl_run_finish(rl_run *run) {
    int rc = 0;
    if (comm_rank() == 0) {
        rc = io_results_set_final(run->results, "wall_seconds", rl_now() - run->t_start);
        if (rc == 0)
            rc = io_results_complete(run->results);
        else
            io_results_close(run->results);
        run->results = NULL;
    }
    if (comm_any_failed(rc < 0))
        return rc < 0 ? RL_ERR : rl_fail("rank 0 could not complete the results", "see its error");
    return 0;
}
