/* A run: common keys, the run directory with its lock and checks, what the run was made from,
 * resume from the newest good checkpoint, the one run loop, and rl_run_main, the entry of
 * `ranklab run` and `sweep run` (see run.h). Metrics are in metrics.c, finals in finals.c. */
#include "src/comm/comm.h"
#include "src/core/compute.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/core/stop.h"
#include "src/core/text.h"
#include "src/run/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RUN_LOCK_POLL_SECONDS 2

static const rl_cfg_spec common_keys[] = {
    {"run.seed", RL_CFG_INT, "1", 0, 4294967295.0, NULL, 0,
     "seed of every random draw (initialization, order, noise, perturbations)"},
    {"run.compute", RL_CFG_CHOICE, "exact", 0, -1, "exact|blas", 0,
     "fp32 GEMM: exact (one fixed order of FMAs: the same bits on every x86-64 CPU with AVX2 + "
     "FMA) or blas (OpenBLAS: its bits depend on the kernel it picks for each CPU)"},
    {"ckpt.every", RL_CFG_INT, "500", 0, 1e12, NULL, RL_CFG_RUNTIME,
     "write a checkpoint every N steps (0: only when stopped by a signal)"},
    {"ckpt.keep", RL_CFG_INT, "2", 1, 1000, NULL, RL_CFG_RUNTIME,
     "how many of the newest checkpoints to keep"},
    {"log.progress_seconds", RL_CFG_FLOAT, "10", 0.1, 86400, NULL, RL_CFG_RUNTIME,
     "seconds between progress lines in batch logs (a terminal gets a live line)"},
    {"run.stall_warn_seconds", RL_CFG_FLOAT, "120", 0, 1e6, NULL, RL_CFG_RUNTIME,
     "a rank waiting this long in a collective logs which ranks have not reached it and where "
     "it is (the step), again every as many seconds (0: off)"},
    {"run.stall_abort_seconds", RL_CFG_FLOAT, "1800", 0, 1e6, NULL, RL_CFG_RUNTIME,
     "a rank waiting this long in a collective aborts the job with that message (0: wait for "
     "ever); longer than any phase one rank spends alone (checkpoints, data loading)"},
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

void rl_run_default_dir(const rl_experiment *exp, const rl_config *cfg, char *out, size_t n) {
    char run_id[17];
    rl_cfg_run_id(cfg, run_id);
    snprintf(out, n, "runs/%s-%s", exp->name, run_id);
}

static rl_run *run_new(const rl_experiment *exp, const rl_config *cfg, const char *out_dir) {
    rl_run *run = rl_xcalloc(1, sizeof *run);
    run->exp = exp;
    run->cfg = cfg;
    rl_cfg_run_id(cfg, run->run_id);
    if (out_dir)
        snprintf(run->run_dir, sizeof run->run_dir, "%s", out_dir);
    else
        rl_run_default_dir(exp, cfg, run->run_dir, sizeof run->run_dir);
    snprintf(run->ckpt_dir, sizeof run->ckpt_dir, "%s/ckpt", run->run_dir);
    run->seed = (uint64_t)rl_cfg_int(cfg, "run.seed");
    run->ckpt_every = rl_cfg_int(cfg, "ckpt.every");
    run->ckpt_keep = (int)rl_cfg_int(cfg, "ckpt.keep");
    rl_log_set_progress_interval(rl_cfg_float(cfg, "log.progress_seconds"));
    comm_set_stall_limits(rl_cfg_float(cfg, "run.stall_warn_seconds"),
                          rl_cfg_float(cfg, "run.stall_abort_seconds"));
    comm_set_phase("the start of the run (data, model, run directory)");
    run->t_start = rl_now();
    run->finals = run_finals_new();
    run->at_step = -1;
    return run;
}

static void run_free(rl_run *run) {
    io_results_close(run->results);
    io_lock_release(run->lock);
    run_finals_free(run->finals);
    run_metrics_free(run);
    free(run);
}

const rl_config *rl_run_config(const rl_run *run) {
    return run->cfg;
}

uint64_t rl_run_seed(const rl_run *run) {
    return run->seed;
}

const char *rl_run_name(const rl_run *run) {
    return run->exp->name;
}

double rl_run_elapsed(const rl_run *run) {
    return rl_now() - run->t_start;
}

void rl_run_add_input(rl_run *run, const char *fmt, ...) {
    size_t len = strlen(run->inputs);
    if (len > 0 && len + 2 < sizeof run->inputs)
        len += (size_t)snprintf(run->inputs + len, sizeof run->inputs - len, "; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(run->inputs + len, sizeof run->inputs - len, fmt, ap);
    va_end(ap);
}

/* The error for a results file or checkpoint at `path` of another config (run id `theirs`):
 * names the keys that changed, read from its config_text, when it has one. */
static int refuse_other_config(const rl_run *run, const char *path, const char *holds,
                               const char *theirs, const char *instead) {
    enum { CONFIG_TEXT_MAX = 1 << 16 };
    char *made_with = rl_xmalloc(CONFIG_TEXT_MAX);
    rl_text changes = {0};
    int n = io_results_read_attr(path, "/", "config_text", made_with, CONFIG_TEXT_MAX) == 0
                ? rl_cfg_changes(run->cfg, made_with, &changes)
                : 0;
    rl_error_clear(); /* an unreadable config_text only leaves the keys unnamed */
    rl_fail("%s holds %s of another config (run id %s, this config %s)%s%s", NULL, path, holds,
            theirs, run->run_id, n ? "; changed since: " : "", rl_text_str(&changes));
    rl_fail_hint("%s", instead);
    rl_text_free(&changes);
    free(made_with);
    return RL_ERR;
}

/* Rank 0: 1 if a finished run of this config is here, 0 if none, RL_ERR if results.h5 is
 * somebody else's, unfinished or damaged. Writes nothing. */
static int inspect_existing(const rl_run *run) {
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/results.h5", run->run_dir);
    if (!io_path_exists(path))
        return 0;
    io_results_info info;
    if (io_results_check(path, &info) < 0)
        return rl_fail_context("existing results in %s", run->run_dir);
    if (strcmp(info.run_id, run->run_id) != 0)
        return refuse_other_config(run, path, "a finished run", info.run_id,
                                   "choose another --out directory, or delete that one");
    if (strcmp(info.inputs, run->inputs) != 0)
        rl_log_warn("%s was made from other inputs than this run's (it: %s; this run: %s): its "
                    "results are not this run's; move it away to run again",
                    path, info.inputs[0] ? info.inputs : "(none recorded)",
                    run->inputs[0] ? run->inputs : "(none)");
    return 1;
}

/* Rank 0: the lock, so two runs never share a directory (IO_LOCK_BUSY if another run has it). */
static int lock_run_dir(rl_run *run) {
    if (io_make_dir(run->run_dir) < 0)
        return RL_ERR;
    char holder[512], when[32];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    const char *job = getenv("SLURM_JOB_ID");
    snprintf(holder, sizeof holder, "%s run %s on %s, pid %d, since %s%s%s", run->exp->name,
             run->run_id, comm_host(), (int)getpid(), when, job ? ", slurm job " : "",
             job ? job : "");
    return io_lock_acquire(run->run_dir, holder, &run->lock);
}

/* Collective: the lock, refused or waited for when another run holds it. */
static int lock_run(rl_run *run, int wait) {
    for (int announced = 0;; announced = 1) {
        int state = comm_rank() == 0 ? lock_run_dir(run) : 0;
        if (!wait && state == IO_LOCK_BUSY)
            state = RL_ERR;
        if (comm_agree_error(state < 0 ? state : 0) < 0 || comm_bcast(&state, sizeof state, 0) < 0)
            return RL_ERR;
        if (state == 0)
            return 0;
        if (!announced)
            rl_log_info("waiting: %s", rl_error_message());
        sleep(RUN_LOCK_POLL_SECONDS); /* every rank sleeps: nobody spins in a collective */
    }
}

void run_checkpoint_info(const rl_run *run, int64_t step, int final, io_ckpt_info *info) {
    memset(info, 0, sizeof *info);
    info->step = step;
    info->final = final;
    snprintf(info->run_id, sizeof info->run_id, "%s", run->run_id);
    snprintf(info->inputs, sizeof info->inputs, "%s", run->inputs);
    snprintf(info->code_version, sizeof info->code_version, "%s", RANKLAB_GIT_SHA);
}

/* Collective: the checkpoint found must be this run's, made from the same inputs. */
static int check_resume_point(const rl_run *run, const io_ckpt_info *info) {
    if (strcmp(info->run_id, run->run_id) != 0)
        return refuse_other_config(
            run, run->resume_path, "a checkpoint", info->run_id,
            "resume with the same config, or choose another --out directory");
    if (strcmp(info->inputs, run->inputs) != 0)
        return rl_fail("%s was made from other inputs than this run's (checkpoint: %s; this "
                       "run: %s)",
                       "resume with the same data files and base model (the keys naming them, "
                       "such as data.dir, data.path, data.text_dir or init.from, and their "
                       "contents), or choose another --out directory",
                       run->resume_path, info->inputs[0] ? info->inputs : "(none recorded)",
                       run->inputs[0] ? run->inputs : "(none)");
    if (strcmp(info->code_version, RANKLAB_GIT_SHA) != 0 && comm_rank() == 0)
        rl_log_warn("%s was written by ranklab %s, this is %s: the resumed run may differ in its "
                    "last bits from an uninterrupted one",
                    run->resume_path, info->code_version, RANKLAB_GIT_SHA);
    return 0;
}

static int open_results(rl_run *run) {
    int rc = 0;
    char *fingerprint = run_fingerprint();
    if (comm_rank() == 0) {
        io_results_meta meta = {run->exp->name, run->run_id, run->inputs,
                                run->seed,      comm_size(), fingerprint};
        rc = io_results_create(&run->results, run->run_dir, &meta, run->cfg, run->metric_names,
                               run->n_metrics);
    }
    free(fingerprint);
    return comm_agree_error(rc);
}

/* The metric that early stopping reads must be one the run records. */
static int check_rung_metric(const rl_run *run, const char *const *names, int n_names) {
    const char *metric = run->watch && run->watch->rung ? run->watch->rung_metric : NULL;
    rl_text known = {0};
    for (int i = 0; metric && i < n_names; i++) {
        if (!strcmp(names[i], metric))
            metric = NULL;
        rl_text_add(&known, "%s%s", i ? ", " : "", names[i]);
    }
    int rc = 0;
    if (metric) {
        rl_fail("early stopping reads the metric %s, which %s does not record", NULL, metric,
                run->exp->name);
        rc = rl_fail_hint("it records: %s (set the sweep's metric to one of them)",
                          rl_text_str(&known));
    }
    rl_text_free(&known);
    return rc;
}

int rl_run_start(rl_run *run, const char *const *names, int n_names) {
    /* The lock only now: input errors are found before, and a refused run writes nothing. */
    if (comm_agree_error(run_metrics_init(run, names, n_names)) < 0 ||
        comm_agree_error(check_rung_metric(run, names, n_names)) < 0 ||
        lock_run(run, run->wait_lock) < 0)
        return RL_ERR;
    run->locked = 1;
    if (run->watch && run->watch->locked)
        run->watch->locked(run->watch->ctx, run->run_dir);
    int state = 0;
    if (comm_rank() == 0) {
        state = inspect_existing(run);
        if (state == 0) {
            io_ckpt_remove_temporaries(run->ckpt_dir);
            io_failure_clear(run->run_dir); /* of an earlier attempt */
        }
    }
    if (comm_agree_error(state) < 0 || comm_bcast(&state, sizeof state, 0) < 0)
        return RL_ERR;
    if (state == 1) {
        rl_log_info("%s is already complete (run id %s); nothing to do", run->run_dir,
                    run->run_id);
        return 1;
    }
    io_ckpt_info info;
    int found = io_ckpt_find_latest(run->ckpt_dir, run->resume_path, sizeof run->resume_path,
                                    &info);
    if (found < 0 || (found && comm_agree_error(check_resume_point(run, &info)) < 0))
        return RL_ERR;
    run->resuming = found;
    run->resume_step = found ? info.step : 0;
    if (open_results(run) < 0)
        return RL_ERR;
    run->started = 1;
    if (found && info.final)
        return run_complete_from_final_checkpoint(run);
    if (found)
        rl_log_info("resuming %s from step %lld (%s)", run->run_dir, (long long)run->resume_step,
                    run->resume_path);
    else
        rl_log_info("run %s: %s (run id %s, %d ranks)", run->exp->name, run->run_dir, run->run_id,
                    comm_size());
    return 0;
}

/* ---- checkpoints and the loop ---- */

int run_checkpoint_commit(rl_run *run, io_ckpt *c, int rc) {
    if (comm_agree_error(rc) < 0) {
        io_ckpt_discard(c);
        return RL_ERR;
    }
    rc = run_metrics_save(run, c);
    return io_ckpt_commit(c, run->ckpt_keep) < 0 || rc < 0 ? RL_ERR : 0;
}

int run_checkpoint_open(rl_run *run, io_ckpt **c) {
    if (comm_agree_error(io_ckpt_open(c, run->resume_path)) < 0)
        return RL_ERR;
    if (comm_agree_error(run_metrics_restore(run, *c)) < 0) {
        io_ckpt_close(*c);
        *c = NULL;
        return RL_ERR;
    }
    return 0;
}

/* Collective: the checkpoint of `step`: the experiment's state and the metrics history. */
static int checkpoint(rl_run *run, const rl_loop *loop, void *ctx, int64_t step) {
    io_ckpt_info info;
    run_checkpoint_info(run, step, 0, &info);
    char *config_text = rl_cfg_text(run->cfg);
    io_ckpt *c;
    int rc = io_ckpt_begin(&c, run->ckpt_dir, &info, config_text);
    free(config_text);
    return rc < 0 ? RL_ERR : run_checkpoint_commit(run, c, loop->save(run, ctx, c, step));
}

/* Collective, after a step that recorded rows: whether early stopping prunes the run (rank 0
 * decides, every rank learns it). */
static int pruned_here(rl_run *run) {
    int prune = 0;
    if (comm_rank() == 0)
        prune = run->watch->rung(run->watch->ctx, run, run->rows, &run->why) == 1;
    if (comm_bcast(&prune, sizeof prune, 0) < 0)
        return RL_ERR;
    if (prune && comm_rank() == 0)
        rl_log_info("pruned by early stopping: %s", run->why.summary);
    run->pruned = prune;
    return prune;
}

int rl_run_loop(rl_run *run, const rl_loop *loop, void *ctx) {
    int64_t step = 0;
    if (run->resuming) {
        io_ckpt *c;
        if (run_checkpoint_open(run, &c) < 0)
            return RL_ERR;
        step = run->resume_step;
        int rc = loop->load ? loop->load(run, ctx, c, &step) : 0;
        io_ckpt_close(c);
        if (comm_agree_error(rc) < 0)
            return RL_ERR;
    }
    rl_progress progress;
    rl_progress_start(&progress, run->exp->name, step, loop->total);
    const rl_run_watch *watch = run->watch && run->watch->progress ? run->watch : NULL;
    if (watch)
        watch->progress(watch->ctx, step, loop->total);
    char line[256] = "";
    run->total_steps = loop->total;
    for (; step < loop->total; step++) {
        run->at_step = step;
        comm_set_phase("step %lld of %lld", (long long)step + 1, (long long)loop->total);
        rl_stop_inject_fault(step);
        int sig = comm_agree_stop(rl_stop_requested());
        if (sig) {
            rl_progress_finish(&progress);
            if (!loop->save) {
                rl_log_info("signal %d at step %lld: %s keeps no checkpoints; it starts over when "
                            "run again",
                            sig, (long long)step, run->exp->name);
                return RL_STOPPED;
            }
            rl_log_info("signal %d: checkpointing at step %lld", sig, (long long)step);
            return checkpoint(run, loop, ctx, step) < 0 ? RL_ERR : RL_STOPPED;
        }
        int64_t rows = run->rows;
        if (comm_agree_error(loop->step(run, ctx, step)) < 0)
            return RL_ERR;
        if (loop->save && run->ckpt_every > 0 && (step + 1) % run->ckpt_every == 0 &&
            step + 1 < loop->total && checkpoint(run, loop, ctx, step + 1) < 0)
            return RL_ERR;
        if (loop->describe)
            loop->describe(run, ctx, step, line, sizeof line);
        rl_progress_update(&progress, step + 1, "%s", line);
        if (watch)
            watch->progress(watch->ctx, step + 1, loop->total);
        /* Early stopping after a row, unless the run is done anyway. */
        int prune = run->watch && run->watch->rung && run->rows > rows && step + 1 < loop->total
                        ? pruned_here(run)
                        : 0;
        if (prune) {
            rl_progress_finish(&progress);
            return prune < 0 ? RL_ERR : RL_PRUNED;
        }
    }
    rl_progress_finish(&progress);
    run->at_step = loop->total;
    comm_set_phase("the end of the run (finals, results)");
    return 0;
}

/* ---- failure summaries ---- */

static const rl_run *summarized_run; /* the run whose end by comm_fatal leaves a summary */

/* This rank's failure summary in the run directory: when, where (host, pid, step) and what; only
 * once the run has started (a run refused for its input or its checkpoints writes nothing). */
static void write_failure(const rl_run *run, const char *message, const char *hint) {
    if (!run->started)
        return;
    struct timespec now;
    struct tm utc;
    char when[32], where[96], text[IO_FAILURE_MAX];
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &utc);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &utc);
    if (run->at_step < 0)
        snprintf(where, sizeof where, "before the first step");
    else if (run->at_step >= run->total_steps)
        snprintf(where, sizeof where, "after the last step (%lld)", (long long)run->total_steps);
    else
        snprintf(where, sizeof where, "at step %lld of %lld", (long long)run->at_step + 1,
                 (long long)run->total_steps);
    snprintf(text, sizeof text, "%s.%03ldZ rank %d of %d on %s, pid %d, %s\nerror: %s\n%s%s%s",
             when, now.tv_nsec / 1000000, comm_rank(), comm_size(), comm_host(), (int)getpid(),
             where, message, hint && hint[0] ? "HINT: " : "", hint ? hint : "",
             hint && hint[0] ? "\n" : "");
    if (io_failure_write(run->run_dir, comm_rank(), text) < 0)
        rl_log_warn("no failure summary in %s: %s", run->run_dir, rl_error_message());
}

static void write_fatal_failure(const char *message) {
    write_failure(summarized_run, message, NULL);
}

/* ---- the entry ---- */

int rl_run_main(const rl_experiment *exp, rl_config *cfg, const char *out_dir, int wait_lock,
                const rl_run_watch *watch) {
    rl_run *run = run_new(exp, cfg, out_dir);
    run->wait_lock = wait_lock;
    run->watch = watch;
    summarized_run = run;
    comm_set_fatal_hook(write_fatal_failure);
    rl_stop_install();
    int rc = comm_agree_error(rl_compute_init(rl_cfg_str(cfg, "run.compute")));
    if (rc == 0 && exp->check)
        rc = comm_agree_error(exp->check(cfg));
    if (rc == 0)
        rc = exp->run(run);
    if (run->pruned) /* whatever the run function made of RL_PRUNED */
        rc = run_finish_pruned(run);
    else if (rc == 0)
        rc = run_finish(run);
    int code = rc >= 0 ? RL_EXIT_OK : rc == RL_STOPPED ? RL_EXIT_STOPPED : rl_error_exit_code();
    if (rc >= 0)
        rl_log_info("results: %s/results.h5%s", run->run_dir,
                    run->pruned ? " (status pruned)" : "");
    else if (rc == RL_STOPPED)
        rl_log_info("stopped; checkpoint in %s. Run the same command to resume.", run->ckpt_dir);
    else {
        rl_error_print();
        if (rl_error_get_origin() < 0) /* this rank's own error, not one relayed from another */
            write_failure(run, rl_error_message(), rl_error_hint());
    }
    if (watch && watch->ended && run->locked)
        watch->ended(watch->ctx, code);
    comm_set_fatal_hook(NULL);
    summarized_run = NULL;
    run_free(run);
    return code;
}
