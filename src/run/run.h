/* The run layer: what every experiment's run shares — the run directory and its lock, what the
 * run is made from, resume from checkpoints, the metrics history addressed by name, one run
 * loop (stop agreement, checkpoint cadence, progress), the finals — and the registry of
 * experiments. Each experiment (experiments/NAME.c) registers a name, a description, its config
 * keys (with docs and defaults, embedded from experiments/NAME.ini) and a run function:
 *
 *     static const rl_experiment my_experiment = {.name = "my-experiment", ...};
 *     RL_EXPERIMENT(my_experiment)
 *
 * `ranklab run` and `ranklab sweep run` both go through rl_run_main. The run function, on its
 * side (rl_run is opaque):
 *
 *     ... load data, build the model: every input error happens here, before any write ...
 *     rl_run_add_input(run, "%s", digest);         // what the run is made from
 *     rc = rl_run_start(run, names, n_names);      // 1: already complete, nothing to do
 *     rc = rl_run_loop(run, &loop, ctx);           // steps, checkpoints, stop signals
 *         inside a step: rl_run_set(run, "test_acc", acc); rl_run_record(run, step);
 *     rl_run_final(run, "test_acc", rl_run_last(run, "test_acc"));  // finals are staged
 *     return rc;                                   // rl_run_main then completes the results
 *
 * Finished runs: finals go first into ckpt/final.h5, then into results.h5. A run that fails
 * after its final checkpoint (e.g. the disk fills while writing results.h5) is completed from
 * that checkpoint by running the same command: nothing is recomputed.
 */
#ifndef RANKLAB_RUN_H
#define RANKLAB_RUN_H

#include "src/core/config.h"
#include "src/io/io.h"

#include <stddef.h>
#include <stdint.h>

typedef struct rl_run rl_run;

typedef struct {
    const char *name;
    const char *summary;     /* one line, for `ranklab list` */
    const char *doc;         /* paragraph for `ranklab run NAME --help` */
    const char *default_ini; /* the embedded experiments/NAME.ini */
    void (*declare)(rl_config *cfg);
    /* Checks of a resolved config that need no data and no file (a model spec's grammar and
     * sizes): run first by `ranklab run` and on every cell by `sweep plan`, so that a sweep's
     * bad cell is refused before it waits in a queue. NULL: none. */
    int (*check)(const rl_config *cfg);
    /* 0 (done: the results are completed by the caller), 1 (already complete), RL_STOPPED or
     * RL_ERR */
    int (*run)(rl_run *run);
} rl_experiment;

/* The registered experiments, sorted by name: by name (NULL if unknown), or the i-th (NULL past
 * the end). */
const rl_experiment *rl_experiment_find(const char *name);
const rl_experiment *rl_experiment_at(int i);
void rl_experiment_register(const rl_experiment *exp);
/* Registers `exp` (an rl_experiment variable) when the program starts. */
#define RL_EXPERIMENT(exp)                                                                     \
    __attribute__((constructor)) static void rl_register_##exp(void) {                         \
        rl_experiment_register(&exp);                                                          \
    }

/* A new config with the experiment's keys declared and its built-in INI loaded (not yet
 * resolved: add files and overrides, then rl_cfg_resolve). NULL with the error stored. */
rl_config *rl_experiment_new_config(const rl_experiment *exp);
/* Keys every experiment honours: run.seed, run.compute, ckpt.every, ckpt.keep,
 * log.progress_seconds, run.stall_warn_seconds, run.stall_abort_seconds. */
void rl_declare_common_config(rl_config *cfg);

/* ---- the entry ---- */

/* What a caller of rl_run_main learns as the run goes (sweep cells keep a heartbeat); called on
 * every rank. Any of the functions may be NULL. */
typedef struct {
    void *ctx;
    void (*locked)(void *ctx, const char *run_dir); /* rl_run_start took the directory's lock */
    void (*ended)(void *ctx, int exit_code);        /* after that, however the run ended */
    /* rl_run_loop is at `step` of `total`: once where it starts (0, or where it resumes), then
     * after each step. */
    void (*progress)(void *ctx, int64_t step, int64_t total);
    /* Early stopping: after a step that recorded metrics rows, rank 0 is asked whether to prune
     * the run, `rows` being recorded (1: prune, with why filled in); the ranks agree on its
     * answer. A pruned run stops there: rl_run_loop returns RL_PRUNED and rl_run_main completes
     * its results with status "pruned" and /pruned holding why (exit code 0). */
    int (*rung)(void *ctx, const rl_run *run, int64_t rows, io_pruned *why);
    const char *rung_metric; /* the metric rung reads: rl_run_start refuses a run without it */
} rl_run_watch;

/* The directory a run of cfg uses without --out: runs/EXPERIMENT-RUNID. */
void rl_run_default_dir(const rl_experiment *exp, const rl_config *cfg, char *out, size_t n);
/* Collective. Run exp with the resolved cfg in out_dir (NULL: the default directory), complete
 * the results (as "pruned" when watch's rung pruned it), log the outcome. The run takes the
 * directory's lock in rl_run_start, after its input is checked (wait_lock: wait for another run
 * holding it; else refuse). Returns the program's exit code (RL_EXIT_*); errors are printed. */
int rl_run_main(const rl_experiment *exp, rl_config *cfg, const char *out_dir, int wait_lock,
                const rl_run_watch *watch);

/* ---- inside a run function ---- */

const rl_config *rl_run_config(const rl_run *run);
uint64_t rl_run_seed(const rl_run *run);
const char *rl_run_name(const rl_run *run); /* the experiment's, for messages */
double rl_run_elapsed(const rl_run *run);   /* seconds since the run started */

/* Describe an input the run is made from (appended, "; "-separated), before rl_run_start:
 * a dataset's digest, the base model's. A checkpoint of other inputs is refused on resume. */
void rl_run_add_input(rl_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Collective. Takes the run directory's lock (another run holding it is refused, or waited
 * for: rl_run_main's wait_lock), then checks the directory: returns 1 if this run is already
 * complete (nothing to do; also when its final checkpoint completes results.h5), RL_ERR if it
 * holds another config's run or checkpoint, a checkpoint of other inputs, a damaged
 * results.h5, or cannot be written; else 0 after finding the newest good checkpoint and
 * opening results.h5.partial with the metrics `names` (which must outlive the run). */
int rl_run_start(rl_run *run, const char *const *names, int n_names);

/* Metrics: a row is set by name, then recorded (every rank, the same values); rank 0 appends it
 * to results.h5. Naming a metric that rl_run_start was not given is a bug (abort). */
void rl_run_set(rl_run *run, const char *metric, double value);
/* Record the row set since the last one, at `step`; RL_ERR if a metric was not set. */
int rl_run_record(rl_run *run, int64_t step);
int64_t rl_run_rows(const rl_run *run);
/* The value of `metric` in row `row` (0-based), or in the last row (NAN when there is none). */
double rl_run_value(const rl_run *run, int64_t row, const char *metric);
double rl_run_last(const rl_run *run, const char *metric);
/* The last value of `metric` as progress lines show it ("%.4f"), or "—" before the first row. */
const char *rl_run_last_text(const rl_run *run, const char *metric, char *out, size_t n);

/* The run loop: steps [first, total) where first is 0, or where the newest checkpoint left off.
 * Before each step the ranks agree on stop signals (SIGTERM, SIGUSR1/2): then the state is
 * checkpointed and the loop returns RL_STOPPED. After step s, a checkpoint every ckpt.every
 * steps; a progress line; RL_PRUNED when early stopping (rl_run_watch's rung) prunes the run,
 * which the run function returns as it is (as any negative status). Without `save` there are no
 * checkpoints: a stopped run starts over. */
typedef struct {
    int64_t total;
    /* Collective: step `step`. */
    int (*step)(rl_run *run, void *ctx, int64_t step);
    /* Collective: the experiment's state, before step `next`, into a checkpoint (the run adds
     * the metrics); and back from one (the run has restored the metrics), *next being the step
     * to continue from (the checkpoint's, which load may change). */
    int (*save)(rl_run *run, void *ctx, io_ckpt *c, int64_t next);
    int (*load)(rl_run *run, void *ctx, io_ckpt *c, int64_t *next);
    /* The progress line's text after step (NULL: none). */
    void (*describe)(rl_run *run, void *ctx, int64_t step, char *out, size_t n);
} rl_loop;
int rl_run_loop(rl_run *run, const rl_loop *loop, void *ctx);

/* Finals, staged until the run completes (rank 0's values; other ranks' calls do nothing). Names
 * are unique. */
int rl_run_final(rl_run *run, const char *name, double value);
/* /arrays/NAME: n floats (copied) with an optional string attribute (attr_name may be NULL). */
int rl_run_final_array(rl_run *run, const char *name, const float *data, int64_t n,
                       const char *attr_name, const char *attr_value);
/* Collective: arrays owned in slices over ranks (see io_results_write_slices_f32); copied. */
int rl_run_final_slices(rl_run *run, int n_arrays, const char *const *names,
                        int64_t global_count, int64_t offset, int64_t count,
                        const float *const *slices);

#endif
