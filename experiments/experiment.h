/* Experiments: each registers a name, a description, its config keys (with docs and defaults,
 * embedded from experiments/NAME.ini) and a run function. experiments/run.c holds what every
 * experiment's run shares: the run directory, resume from checkpoints, the metrics history.
 *
 * A run, from the run function's side:
 *
 *     rl_run *run = ...;                         // made by the CLI from the resolved config
 *     ... load data, build the model: every input error happens here, before any write ...
 *     rl_run_add_input(run, "train data %s", digest);  // what the run is made from
 *     rc = rl_run_start(run, names, n_names);     // 1: already complete; resume info filled
 *     loop: rl_run_record(run, step, row);        // metrics to results.h5.partial (rank 0)
 *           rl_run_should_stop(step) -> checkpoint, return RL_STOPPED
 *     rl_run_final(run, "test_acc", acc);         // finals are staged ...
 *     rl_run_finish(run);                         // ... kept in ckpt/final.h5, then written
 *                                                 // into results.h5, status = "complete"
 *
 * Checkpoints: rl_run_checkpoint_begin, io_ckpt_write of the experiment's state,
 * rl_run_checkpoint_commit (adds the metrics history); resuming: rl_run_checkpoint_open (restores
 * the metrics history), io_ckpt_read, io_ckpt_close.
 *
 * A run that fails after its final checkpoint (e.g. the disk fills while writing results.h5)
 * is completed from that checkpoint by running the same command: nothing is recomputed.
 */
#ifndef RANKLAB_EXPERIMENT_H
#define RANKLAB_EXPERIMENT_H

#include "src/core/config.h"
#include "src/io/io.h"

#include <limits.h>
#include <stdint.h>

typedef struct rl_run rl_run;
typedef struct rl_finals rl_finals;

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
    io_lock *lock;       /* rank 0, from rl_run_start to rl_run_free */
    rl_finals *finals;   /* staged by rl_run_final* until rl_run_finish */
    /* what the run is made from (rl_run_add_input), recorded in results and checkpoints and
     * checked when resuming */
    char inputs[IO_INPUTS_MAX];
    /* resume point found by rl_run_start */
    int resuming;
    int64_t resume_step;
    char resume_path[PATH_MAX + 64];
};

/* Fill the fields the CLI knows (config resolved). */
void rl_run_init(rl_run *run, const rl_experiment *exp, rl_config *cfg, const char *out_dir);
void rl_run_free(rl_run *run);

/* Describe an input the run is made from (appended, "; "-separated), before rl_run_start:
 * a dataset's digest, the base model's. A checkpoint of other inputs is refused on resume. */
void rl_run_add_input(rl_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Collective: create the run directory and take its lock, held until rl_run_free; if another
 * run has it: RL_ERR naming the holder, or with `wait`, wait until it is released. rl_run_start
 * takes it (without waiting) when the caller has not. */
int rl_run_lock(rl_run *run, int wait);
/* Collective. Takes the run directory's lock (another run there is refused), then checks it:
 * returns 1 if this run is already complete (nothing to do; also when its final checkpoint
 * completes results.h5), RL_ERR if it holds another config's run or checkpoint, a checkpoint
 * of other inputs, a damaged results.h5, or cannot be written; else 0 after finding the newest
 * good checkpoint (run->resuming, resume_step, resume_path) and opening results.h5.partial.
 * Metric names must outlive the run. */
int rl_run_start(rl_run *run, const char *const *metric_names, int n_metrics);
/* Add a metrics row (all ranks, same values); rank 0 appends it to the results file. */
int rl_run_record(rl_run *run, int64_t step, const double *values);
/* Collective: start the checkpoint of `step` (stamped with run id, inputs, code version). */
int rl_run_checkpoint_begin(rl_run *run, int64_t step, io_ckpt **c);
/* Collective: rc is the caller's status of its writes (agreed over ranks); 0 adds the metrics
 * history and commits, RL_ERR discards the checkpoint (older ones stay). Frees c. */
int rl_run_checkpoint_commit(rl_run *run, io_ckpt *c, int rc);
/* Collective when resuming: open run->resume_path and restore the metrics history from it
 * (rewritten into results.h5.partial). Close with io_ckpt_close. */
int rl_run_checkpoint_open(rl_run *run, io_ckpt **c);
/* Collective, at a step boundary: the agreed stop signal (0 = go on). */
int rl_run_should_stop(int64_t step);
/* Stage final results (rank 0's values; other ranks' calls do nothing). Names are unique. */
int rl_run_final(rl_run *run, const char *name, double value);
/* /arrays/NAME: n floats (copied) with an optional string attribute (attr_name may be NULL). */
int rl_run_final_array(rl_run *run, const char *name, const float *data, int64_t n,
                       const char *attr_name, const char *attr_value);
/* Collective: arrays owned in slices over ranks (see io_results_write_slices_f32); copied. */
int rl_run_final_slices(rl_run *run, int n_arrays, const char *const *names,
                        int64_t global_count, int64_t offset, int64_t count,
                        const float *const *slices);
/* Collective: the final checkpoint (metrics and staged finals), then results.h5 complete. */
int rl_run_finish(rl_run *run);

#endif
