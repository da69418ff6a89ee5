/* Experiments: each registers a name, a description, its config keys (with docs and defaults,
 * embedded from experiments/NAME.ini) and a run function. experiments/run.c holds what every
 * experiment's run shares: the run directory, resume from checkpoints, the metrics history.
 *
 * A run, from the run function's side:
 *
 *     rl_run *run = ...;                         // made by the CLI from the resolved config
 *     ... load data, build the model: every input error happens here, before any write ...
 *     rc = rl_run_start(run, names, n_names);     // 1: already complete; resume info filled
 *     loop: rl_run_record(run, step, row);        // metrics to results.h5.partial (rank 0)
 *           rl_run_should_stop(step) -> checkpoint, return RL_STOPPED
 *     rl_run_finish(run);                         // status = "complete", rename
 */
#ifndef RANKLAB_EXPERIMENT_H
#define RANKLAB_EXPERIMENT_H

#include "src/core/config.h"
#include "src/io/io.h"

#include <limits.h>
#include <stdint.h>

typedef struct rl_run rl_run;

typedef struct {
    const char *name;
    const char *summary;     /* one line, for `ranklab list` */
    const char *doc;         /* paragraph for `ranklab run NAME --help` */
    const char *default_ini; /* the embedded experiments/NAME.ini */
    void (*declare)(rl_config *cfg);
    int (*run)(rl_run *run); /* 0, RL_STOPPED or RL_ERR */
} rl_experiment;

const rl_experiment *rl_experiment_find(const char *name);
const rl_experiment *rl_experiment_at(int i); /* NULL past the end */

/* A new config with the experiment's keys declared and its built-in INI loaded (not yet
 * resolved: add files and overrides, then rl_cfg_resolve). NULL with the error stored. */
rl_config *rl_experiment_new_config(const rl_experiment *exp);

/* Keys every experiment honours: run.seed, ckpt.every, ckpt.keep, log.progress_seconds. */
void rl_declare_common_config(rl_config *cfg);

struct rl_run {
    const rl_experiment *exp;
    rl_config *cfg;
    char run_id[17];
    char run_dir[PATH_MAX];
    char ckpt_dir[PATH_MAX + 8];
    uint64_t seed;
    int64_t ckpt_every;
    int ckpt_keep;
    double t_start;
    /* metrics history (every rank keeps it; rank 0 also writes it) */
    int n_metrics;
    const char *const *metric_names;
    int64_t rows, cap;
    int64_t *row_step;  /* (rows) */
    double *row_values; /* (rows, n_metrics) */
    io_results *results; /* rank 0 */
    /* resume point found by rl_run_start */
    int resuming;
    int64_t resume_step;
    char resume_path[PATH_MAX + 64];
};

/* Fill the fields the CLI knows (config resolved). */
void rl_run_init(rl_run *run, const rl_experiment *exp, rl_config *cfg, const char *out_dir);
void rl_run_free(rl_run *run);

/* Collective. Checks the run directory: returns 1 if this run is already complete (nothing to
 * do), RL_ERR if it holds another config's run or cannot be written, else 0 after creating it,
 * finding the newest good checkpoint (run->resuming, resume_step, resume_path) and opening
 * results.h5.partial. Metric names must outlive the run. */
int rl_run_start(rl_run *run, const char *const *metric_names, int n_metrics);
/* Collective when resuming: restore the metrics history from an open checkpoint and rewrite it
 * into results.h5.partial. */
int rl_run_restore_metrics(rl_run *run, io_ckpt *c);
/* Add a metrics row (all ranks, same values); rank 0 appends it to the results file. */
int rl_run_record(rl_run *run, int64_t step, const double *values);
/* Collective: save the metrics history into a checkpoint being written. */
int rl_run_save_metrics(rl_run *run, io_ckpt *c);
/* Collective, at a step boundary: the agreed stop signal (0 = go on). */
int rl_run_should_stop(int64_t step);
/* Rank 0: final scalars and arrays go through run->results before this; marks complete. */
int rl_run_finish(rl_run *run);

#endif
