/* Inside the run layer: the run's state, which experiments see only through run.h, and what
 * run.c, metrics.c and finals.c share. */
#ifndef RANKLAB_RUN_INTERNAL_H
#define RANKLAB_RUN_INTERNAL_H

#include "src/run/run.h"

#include <limits.h>

typedef struct rl_finals rl_finals;

struct rl_run {
    const rl_experiment *exp;
    const rl_config *cfg;
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
    char *names_text; /* "name\n" per metric, as checkpoints store them */
    int64_t rows, cap;
    int64_t *row_step;   /* (rows) */
    double *row_values;  /* (rows, n_metrics) */
    double *pending;     /* (n_metrics) the row being set */
    unsigned char *is_set; /* (n_metrics) */
    io_results *results; /* rank 0 */
    io_lock *lock;       /* rank 0, taken by rl_run_start */
    int wait_lock;       /* wait for another run holding the directory, rather than refuse */
    int locked;          /* every rank: rl_run_start took the lock */
    int started;         /* every rank: rl_run_start passed its checks and opened the results */
    int64_t at_step, total_steps; /* where rl_run_loop is: -1 before it, total_steps after */
    const rl_run_watch *watch;
    int pruned; /* every rank: early stopping ended the run (why: rank 0's) */
    io_pruned why;
    rl_finals *finals;   /* staged by rl_run_final* until the run completes */
    /* what the run is made from (rl_run_add_input), recorded in results and checkpoints and
     * checked when resuming */
    char inputs[IO_INPUTS_MAX];
    /* resume point found by rl_run_start */
    int resuming;
    int64_t resume_step;
    char resume_path[PATH_MAX + 64];
};

/* metrics.c: the history's rows, their storage in checkpoints. */
int run_metrics_init(rl_run *run, const char *const *names, int n_names);
void run_metrics_free(rl_run *run);
int run_metrics_append(rl_run *run, int64_t step, const double *values);
int run_metrics_save(rl_run *run, io_ckpt *c);    /* collective */
int run_metrics_restore(rl_run *run, io_ckpt *c); /* collective */

/* fingerprint.c, collective: the run's fingerprint, "key=value" lines merged over the ranks,
 * on rank 0 (caller frees); NULL on the other ranks (and on rank 0 if the gather failed). */
char *run_fingerprint(void);

/* run.c: the stamp of a checkpoint of this run. */
void run_checkpoint_info(const rl_run *run, int64_t step, int final, io_ckpt_info *info);
/* Collective: commit a checkpoint begun with the run's stamp, with the metrics history (rc: the
 * caller's status, agreed over ranks; RL_ERR discards it). */
int run_checkpoint_commit(rl_run *run, io_ckpt *c, int rc);
/* Collective: open the resume checkpoint and restore the metrics history from it. */
int run_checkpoint_open(rl_run *run, io_ckpt **c);

/* finals.c: staging, the final checkpoint, and completing results.h5. */
rl_finals *run_finals_new(void);
void run_finals_free(rl_finals *f);
/* Collective: final checkpoint, finals into results.h5, status "complete". */
int run_finish(rl_run *run);
/* Collective, when the newest checkpoint is final: results.h5 from it; returns 1. */
int run_complete_from_final_checkpoint(rl_run *run);
/* Collective: results.h5 of a pruned run: its metrics, /pruned, status "pruned". */
int run_finish_pruned(rl_run *run);

#endif
