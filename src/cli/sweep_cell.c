/* One cell of a sweep: `ranklab sweep run SWEEP_DIR --cell I` (inside a Slurm array task the
 * cell is SLURM_ARRAY_TASK_ID) runs it on the ranks it was started with, rank 0 keeping a
 * heartbeat file in the cell directory; the state of cells read from their directories, and
 * `ranklab sweep status`. */
#include "src/cli/sweep_internal.h"
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/io/io.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#define HEARTBEAT_SECONDS 30
#define RUN_USAGE "ranklab sweep run SWEEP_DIR [--cell I] | --all [--jobs N]"

/* Rank 0 keeps SWEEP_CELL_FILE in the cell directory: "running ..." touched every
 * HEARTBEAT_SECONDS while the cell runs, then "exited ..." (`sweep status` reads both). Its
 * second line says how far the run is, rewritten every log.progress_seconds:
 *     step 120 of 800 at unix time 1714567920 (from step 40 at 1714567890)
 * from which `sweep status` tells the step reached and the time left. */
#define SWEEP_CELL_FILE "sweep-cell.txt"
#define PROGRESS_FORMAT "step %lld of %lld at unix time %lld (from step %lld at %lld)"

/* The names of cell_state values, as `sweep status` prints them. */
static const char *const state_names[] = {"complete", "running", "failed",
                                          "missing",  "waiting", "pruned"};

const char *sweep_state_name(cell_state state) {
    return state_names[state];
}

typedef struct {
    char dir[PATH_MAX + 8];
    char path[PATH_MAX + 32];
    char first_line[1024]; /* "running on ..." */
    pthread_t thread;
    int started;
    double every; /* seconds between rewrites of the progress line */
    double written;
    int64_t first_step, step, total; /* first_step -1: no progress yet */
    time_t first_time, step_time;
} heartbeat;

/* SWEEP_CELL_FILE: `first` and, once the loop has begun, the progress line. */
static int heartbeat_write(const heartbeat *h, const char *first) {
    char text[2048];
    int len = snprintf(text, sizeof text, "%s", first);
    if (h->first_step >= 0)
        snprintf(text + len, sizeof text - (size_t)len, PROGRESS_FORMAT "\n", (long long)h->step,
                 (long long)h->total, (long long)h->step_time, (long long)h->first_step,
                 (long long)h->first_time);
    return sweep_write_text(h->dir, SWEEP_CELL_FILE, text);
}

static void *heartbeat_loop(void *arg) {
    const heartbeat *h = arg;
    for (;;) {
        sleep(HEARTBEAT_SECONDS);
        utime(h->path, NULL);
    }
    return NULL;
}

static void heartbeat_start(heartbeat *h, const char *dir, const char *slurm, double every) {
    memset(h, 0, sizeof *h);
    h->first_step = -1;
    h->every = every;
    snprintf(h->dir, sizeof h->dir, "%s", dir);
    snprintf(h->path, sizeof h->path, "%s/" SWEEP_CELL_FILE, dir);
    char when[32];
    sweep_utc_now(when, sizeof when);
    snprintf(h->first_line, sizeof h->first_line, "running on %s (pid %d) since %s%s\n",
             comm_host(), (int)getpid(), when, slurm);
    if (io_make_dir(dir) < 0 || heartbeat_write(h, h->first_line) < 0) {
        rl_log_warn("no heartbeat file (%s); `sweep status` will not see this cell running",
                    rl_error_message());
        return;
    }
    /* The thread blocks every signal: SIGTERM/SIGUSR2 must reach the main thread's handler. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    h->started = pthread_create(&h->thread, NULL, heartbeat_loop, h) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void heartbeat_stop(heartbeat *h, int exit_code, int pruned) {
    if (h->started) {
        pthread_cancel(h->thread);
        pthread_join(h->thread, NULL);
    }
    char line[256], when[32];
    sweep_utc_now(when, sizeof when);
    snprintf(line, sizeof line, "exited with code %d (%s) on %s at %s\n", exit_code,
             exit_code == RL_EXIT_OK && pruned ? "pruned by early stopping"
             : exit_code == RL_EXIT_OK         ? "complete"
             : exit_code == RL_EXIT_STOPPED    ? "stopped after a checkpoint"
                                               : "error",
             comm_host(), when);
    if (h->dir[0] && heartbeat_write(h, line) < 0)
        rl_error_print();
}

/* The loop is at step of total: the progress line, rewritten at most every h->every seconds. */
static void heartbeat_progress(heartbeat *h, int64_t step, int64_t total) {
    time_t now = time(NULL);
    if (h->first_step < 0) {
        h->first_step = step;
        h->first_time = now;
    }
    h->step = step;
    h->total = total;
    h->step_time = now;
    if (h->dir[0] && (step == h->first_step || rl_now() - h->written >= h->every)) {
        h->written = rl_now();
        if (heartbeat_write(h, h->first_line) < 0)
            rl_log_warn("cannot write the heartbeat (%s)", rl_error_message());
    }
}

/* The heartbeat of a cell, kept by rank 0 once the run directory's lock is taken (so a second
 * task running the cell never overwrites the running one's). */
typedef struct {
    heartbeat hb;
    const char *slurm;
    double progress_seconds; /* log.progress_seconds */
    cell_pruner pruner;
} cell_watch;

static void cell_locked(void *ctx, const char *run_dir) {
    cell_watch *cw = ctx;
    if (comm_rank() == 0)
        heartbeat_start(&cw->hb, run_dir, cw->slurm, cw->progress_seconds);
}

static void cell_progress(void *ctx, int64_t step, int64_t total) {
    cell_watch *cw = ctx;
    if (comm_rank() == 0)
        heartbeat_progress(&cw->hb, step, total);
}

static void cell_ended(void *ctx, int exit_code) {
    cell_watch *cw = ctx;
    if (comm_rank() == 0)
        heartbeat_stop(&cw->hb, exit_code, cw->pruner.pruned);
}

static int cell_rung(void *ctx, const rl_run *run, int64_t rows, io_pruned *why) {
    cell_watch *cw = ctx;
    return sweep_prune_decide(&cw->pruner, run, rows, why);
}

/* What the cell runs: its resolved config (caller frees) and directory, checked against the plan
 * and its upstream cell; RL_ERR (stored) if it cannot start. */
static int prepare_cell(planned *p, int64_t cell, rl_config **out, char *dir, size_t n) {
    rl_config *cfg;
    upstream_cell up;
    *out = NULL;
    if (sweep_cell_config(&p->sw, cell, &cfg, &up) < 0)
        return RL_ERR;
    char detail[512];
    cell_state up_state =
        up.p ? sweep_cell_status(up.p, up.cell, SWEEP_DEFAULT_STALE_SECONDS, detail, sizeof detail)
             : CELL_COMPLETE;
    if (up_state != CELL_COMPLETE) {
        rl_fail("cell %lld starts from cell %lld of %s, which is %s%s%s", NULL, (long long)cell,
                (long long)up.cell, up.p->dir, state_names[up_state], detail[0] ? ": " : "",
                detail);
        rl_fail_hint("run that cell first (ranklab sweep run %s --all), or run this sweep with "
                     "--all, which runs the cells it starts from first; submit makes Slurm wait "
                     "for them",
                     up.p->dir);
        rl_cfg_free(cfg);
        return RL_ERR;
    }
    char run_id[17];
    rl_cfg_run_id(cfg, run_id);
    if (strcmp(run_id, p->rows[cell].run_id) != 0) {
        rl_fail("cell %lld now resolves to run id %s, but the plan says %s", NULL, (long long)cell,
                run_id, p->rows[cell].run_id);
        rl_fail_hint("its sweep.ini or the program's defaults changed since `sweep plan`: "
                     "finish with the plan and program it was made with, or plan again into a new "
                     "directory");
        rl_cfg_free(cfg);
        return RL_ERR;
    }
    if (sweep_cell_path(p, cell, NULL, dir, n) < 0) {
        rl_cfg_free(cfg);
        return RL_ERR;
    }
    *out = cfg;
    return 0;
}

/* The exit code of the run, or RL_ERR (stored, not printed) if the cell cannot start. */
static int run_cell(planned *p, int64_t cell) {
    rl_config *cfg;
    char dir[PATH_MAX], slurm[256] = "";
    /* Agreed over the ranks: every rank starts the run, or none. */
    if (comm_agree_error(prepare_cell(p, cell, &cfg, dir, sizeof dir)) < 0) {
        rl_cfg_free(cfg);
        return RL_ERR;
    }
    const char *job = getenv("SLURM_JOB_ID");
    if (job)
        snprintf(slurm, sizeof slurm, ", slurm job %s (array %s_%s), SLURM_RESTART_COUNT=%s", job,
                 getenv("SLURM_ARRAY_JOB_ID") ? getenv("SLURM_ARRAY_JOB_ID") : "-",
                 getenv("SLURM_ARRAY_TASK_ID") ? getenv("SLURM_ARRAY_TASK_ID") : "-",
                 getenv("SLURM_RESTART_COUNT") ? getenv("SLURM_RESTART_COUNT") : "0");
    rl_log_info("sweep %s: cell %lld of %lld (run id %s)%s", p->dir, (long long)cell,
                (long long)p->sw.n_cells, p->rows[cell].run_id, slurm);
    cell_watch cw = {.slurm = slurm, .progress_seconds = rl_cfg_float(cfg, "log.progress_seconds")};
    sweep_pruner_init(&p->sw, &cw.pruner); /* checked when the sweep was opened */
    cw.pruner.p = p;
    cw.pruner.cell = cell;
    rl_run_watch watch = {&cw,
                          cell_locked,
                          cell_ended,
                          cell_progress,
                          cw.pruner.n_rungs ? cell_rung : NULL,
                          cw.pruner.metric};
    int code = rl_run_main(p->sw.exp, cfg, dir, 0, &watch);
    if (code == RL_EXIT_STOPPED)
        rl_log_info("cell %lld stopped: run `ranklab sweep run %s --cell %lld` (or `--all`) again "
                    "to resume it; an array task requeues itself.",
                    (long long)cell, p->dir, (long long)cell);
    rl_cfg_free(cfg);
    return code;
}

/* The sweep directory and the cell of `sweep run` from its arguments; RL_ERR (stored). */
static int parse_run_args(int argc, char **argv, const char **dir, const char **cell_text) {
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--cell") && i + 1 < argc && !*cell_text)
            *cell_text = argv[++i];
        else if (!*dir && argv[i][0] != '-')
            *dir = argv[i];
        else if (!strcmp(argv[i], "--jobs"))
            return rl_fail("--jobs needs --all",
                           "ranklab sweep run SWEEP_DIR --all --jobs N runs N cells at once on "
                           "this machine");
        else
            return rl_fail("unexpected argument '%s'", NULL, argv[i]),
                   rl_fail_hint("usage: %s (ranklab sweep --help)", RUN_USAGE);
    }
    if (!*dir)
        return rl_fail("run needs a sweep directory", NULL), rl_fail_hint("usage: %s", RUN_USAGE);
    if (!*cell_text && !(*cell_text = getenv("SLURM_ARRAY_TASK_ID")))
        return rl_fail("no cell given and SLURM_ARRAY_TASK_ID is not set",
                       "give --cell I (0 <= I < cells), run inside a Slurm array task, or give "
                       "--all to run every incomplete cell on this machine");
    return 0;
}

int sweep_cmd_run_cell(int argc, char **argv) {
    const char *dir = NULL, *cell_text = NULL;
    planned p;
    memset(&p, 0, sizeof p);
    int rc = parse_run_args(argc, argv, &dir, &cell_text);
    if (rc == 0)
        rc = sweep_planned_open(&p, dir);
    long long cell = rc == 0 ? sweep_parse_whole(cell_text) : -1;
    if (rc == 0 && (cell < 0 || cell >= p.sw.n_cells)) {
        rl_fail("cell '%s' is not one of the %lld cells of %s", NULL, cell_text,
                (long long)p.sw.n_cells, dir);
        rc = rl_fail_hint("cells are 0 to %lld (see %s/manifest.tsv)", (long long)p.sw.n_cells - 1,
                          dir);
    }
    /* Agreed over the ranks: printed once (sweep.c), and every rank runs the cell or none. */
    int code = comm_agree_error(rc) < 0 ? RL_ERR : run_cell(&p, cell);
    sweep_planned_free(&p);
    return code;
}

/* ---- status ---- */

/* Whether a heartbeat line "running on HOST (pid N) ..." names a process of this machine that no
 * longer exists: killed before it could write how it ended (kill -9, a second stop signal to
 * `run --all`), so the cell is not running whatever the age of the file. */
static int heartbeat_process_gone(const char *line) {
    char host[256], here[256] = "";
    long pid;
    if (sscanf(line, "running on %255s (pid %ld)", host, &pid) != 2 || pid <= 0 ||
        gethostname(here, sizeof here - 1) != 0 || strcmp(host, here) != 0)
        return 0;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Whether the cell starts from an upstream cell that is not complete; detail (what the cell's
 * own files say) is then prefixed with it. */
static int upstream_waited_for(const planned *p, int64_t cell, double stale, char *detail,
                               size_t n) {
    upstream_cell up;
    char own[1024], up_detail[512];
    if (sweep_cell_upstream(p, cell, &up) < 0 || !up.p)
        return 0;
    cell_state state = sweep_cell_status(up.p, up.cell, stale, up_detail, sizeof up_detail);
    if (state == CELL_COMPLETE)
        return 0;
    snprintf(own, sizeof own, "%s", detail);
    snprintf(detail, n, "waits for %s cell %lld (%s)%s%s", up.p->dir, (long long)up.cell,
             state_names[state], own[0] ? "; " : "", own);
    return 1;
}

/* Whether a rank of the cell left a failure summary; detail is then prefixed with the first:
 * "first failure: 2026-11-30T09:50:00.123Z rank 2 of 4 on HOST, pid N, at step 57 of 1800:
 * MESSAGE; ". */
static int first_failure(const planned *p, int64_t cell, char *detail, size_t n) {
    char dir[PATH_MAX], text[IO_FAILURE_MAX], own[1024];
    if (sweep_cell_path(p, cell, NULL, dir, sizeof dir) < 0 ||
        !io_failure_first(dir, text, sizeof text))
        return 0;
    char *error = strstr(text, "\nerror: ");
    text[strcspn(text, "\n")] = '\0';
    if (error)
        error[strcspn(error + 1, "\n") + 1] = '\0';
    snprintf(own, sizeof own, "%s", detail);
    snprintf(detail, n, "first failure: %s: %s; %s", text,
             error ? error + strlen("\nerror: ") : "(no message)", own);
    return 1;
}

/* The newest log of a cell: SWEEP_DIR/logs/cell-NNNN.out (`run --all`) or the
 * SWEEP_DIR/logs/JOB_TASK.out of an array task that ran it (task = cell - the array's offset,
 * both from jobs/submitted.tsv); 0 if it has none. */
static int newest_log(const planned *p, int64_t cell, char *path, size_t n) {
    char candidate[PATH_MAX + 128], row[PATH_MAX + 256], job[64];
    long long offset;
    time_t newest = 0;
    struct stat st;
    path[0] = '\0';
    snprintf(candidate, sizeof candidate, "%s/logs/cell-%04lld.out", p->dir, (long long)cell);
    if (stat(candidate, &st) == 0) {
        newest = st.st_mtime;
        snprintf(path, n, "%s", candidate);
    }
    snprintf(candidate, sizeof candidate, "%s/jobs/submitted.tsv", p->dir);
    FILE *f = fopen(candidate, "r");
    while (f && fgets(row, sizeof row, f)) /* when, job, name, cells, offset */
        if (sscanf(row, "%*[^\t]\t%63[^\t]\t%*[^\t]\t%*[^\t]\t%lld", job, &offset) == 2 &&
            offset <= cell) {
            snprintf(candidate, sizeof candidate, "%s/logs/%s_%lld.out", p->dir, job,
                     (long long)cell - offset);
            if (stat(candidate, &st) == 0 && st.st_mtime >= newest) {
                newest = st.st_mtime;
                snprintf(path, n, "%s", candidate);
            }
        }
    if (f)
        fclose(f);
    return path[0] != '\0';
}

/* Whether the cell's last attempt failed before it took its directory (a bad data path, a value
 * only checked at start): its newest log has an "error: " line after the line that started the
 * attempt (written by `run --all` or the sbatch template); detail is then
 * "failed at start: MESSAGE; HINT: ... (log PATH)" (as printed: by rank 0, "[rank 0/2] MESSAGE").
 */
static int failed_at_start(const planned *p, int64_t cell, char *detail, size_t n) {
    char path[PATH_MAX + 128], line[1024], pool_start[64], task_start[64], error[768];
    if (!newest_log(p, cell, path, sizeof path))
        return 0;
    snprintf(pool_start, sizeof pool_start, "sweep cell %lld: `ranklab sweep run", (long long)cell);
    snprintf(task_start, sizeof task_start, "sweep cell %lld: job ", (long long)cell);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    off_t attempt = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, pool_start) || strstr(line, task_start))
            attempt = ftello(f);
    fclose(f);
    if (!sweep_log_error(path, attempt, error, sizeof error))
        return 0;
    char *hint = strstr(error, "\n    "); /* its HINT line */
    if (hint)
        *hint = '\0';
    snprintf(detail, n, "failed at start: %s%s%s (log %s)", error + strlen("error: "),
             hint ? "; " : "", hint ? hint + strlen("\n    ") : "", path);
    return 1;
}

cell_state sweep_cell_status(const planned *p, int64_t cell, double stale, char *detail, size_t n) {
    char path[PATH_MAX + 64], value[64];
    detail[0] = '\0';
    sweep_cell_path(p, cell, "results.h5", path, sizeof path);
    if (io_path_exists(path)) {
        if (io_results_read_attr(path, "/", "status", value, sizeof value) < 0) {
            snprintf(detail, n, "%s", rl_error_message());
            return CELL_FAILED;
        }
        char run_id[64] = "";
        io_results_read_attr(path, "/", "run_id", run_id, sizeof run_id);
        if (strcmp(run_id, p->rows[cell].run_id) != 0) {
            snprintf(detail, n, "results.h5 holds run id %s, the plan says %s", run_id,
                     p->rows[cell].run_id);
            return CELL_FAILED;
        }
        if (!strcmp(value, "complete"))
            return CELL_COMPLETE;
        if (!strcmp(value, "pruned")) {
            if (io_results_read_attr(path, "pruned", "summary", detail, n) < 0)
                snprintf(detail, n, "%s", rl_error_message());
            return CELL_PRUNED;
        }
        snprintf(detail, n, "results.h5 has status '%s'; ", value);
    }
    int started = 0;
    sweep_cell_path(p, cell, SWEEP_CELL_FILE, path, sizeof path);
    struct stat st;
    char line[512] = "";
    if (stat(path, &st) == 0) {
        started = 1;
        FILE *f = fopen(path, "r");
        if (f && fgets(line, sizeof line, f))
            line[strcspn(line, "\n")] = '\0';
        if (f)
            fclose(f);
        double age = difftime(time(NULL), st.st_mtime);
        int gone = heartbeat_process_gone(line);
        if (!strncmp(line, "running", 7) && age < stale && !gone) {
            snprintf(detail + strlen(detail), n - strlen(detail), "%s", line);
            return CELL_RUNNING;
        }
        if (gone)
            snprintf(detail + strlen(detail), n - strlen(detail),
                     "its process is gone (killed?): %s; ", line);
        else if (!strncmp(line, "running", 7))
            snprintf(detail + strlen(detail), n - strlen(detail),
                     "no heartbeat for %.0f s (killed?): %s; ", age, line);
        else
            snprintf(detail + strlen(detail), n - strlen(detail), "%s; ", line);
    }
    char ckpt_dir[PATH_MAX + 64], **ckpts;
    int n_ckpt;
    sweep_cell_path(p, cell, "ckpt", ckpt_dir, sizeof ckpt_dir);
    io_ckpt_list(ckpt_dir, &ckpts, &n_ckpt);
    if (n_ckpt > 0) {
        const char *name = strrchr(ckpts[0], '/');
        snprintf(detail + strlen(detail), n - strlen(detail), "newest checkpoint %s",
                 name ? name + 1 : ckpts[0]);
        started = 1;
    }
    for (int i = 0; i < n_ckpt; i++)
        free(ckpts[i]);
    free(ckpts);
    sweep_cell_path(p, cell, "results.h5.partial", path, sizeof path);
    if (n_ckpt == 0 && io_path_exists(path)) {
        snprintf(detail + strlen(detail), n - strlen(detail), "partial results, no checkpoint");
        started = 1;
    }
    int failed = first_failure(p, cell, detail, n) ||
                 (!started && !detail[0] && failed_at_start(p, cell, detail, n));
    cell_state state = started || failed || detail[0] ? CELL_FAILED : CELL_MISSING;
    return upstream_waited_for(p, cell, stale, detail, n) ? CELL_WAITING : state;
}

/* "45s", "3m20s", "2h05m", "3d04h". */
static void format_duration(double seconds, char *out, size_t n) {
    long long s = (long long)(seconds + 0.5);
    if (s < 60)
        snprintf(out, n, "%llds", s);
    else if (s < 3600)
        snprintf(out, n, "%lldm%02llds", s / 60, s % 60);
    else if (s < 86400)
        snprintf(out, n, "%lldh%02lldm", s / 3600, s % 3600 / 60);
    else
        snprintf(out, n, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
}

/* The step of the cell's newest checkpoint (ckpt/step-NNNNNNNNNN.h5; ckpt/final.h5 is at the
 * last step, `total`), or -1 when it has none. */
static long long newest_checkpoint_step(const planned *p, int64_t cell, long long total) {
    char ckpt_dir[PATH_MAX + 64], **ckpts;
    int n_ckpt;
    long long step = -1;
    sweep_cell_path(p, cell, "ckpt", ckpt_dir, sizeof ckpt_dir);
    io_ckpt_list(ckpt_dir, &ckpts, &n_ckpt);
    if (n_ckpt > 0) {
        const char *name = strrchr(ckpts[0], '/');
        name = name ? name + 1 : ckpts[0];
        if (!strcmp(name, IO_CKPT_FINAL_NAME))
            step = total > 0 ? total : -1;
        else if (sscanf(name, "step-%lld.h5", &step) != 1)
            step = -1;
    }
    io_ckpt_list_free(ckpts, n_ckpt);
    return step;
}

/* From the progress line of the cell's heartbeat: the step reached ("120/800"; the newest
 * checkpoint's step when that is further, the heartbeat being rewritten only every
 * log.progress_seconds) and, while it runs, the time left at the rate since it started (or
 * resumed): "3m20s", "?" before a rate is known; "-" where there is nothing to say. */
static void progress_text(const planned *p, int64_t cell, cell_state state, char *step,
                          size_t step_n, char *eta, size_t eta_n) {
    char path[PATH_MAX + 64], line[1024];
    long long at_step = 0, total = 0, at = 0, from_step = 0, from = 0;
    snprintf(step, step_n, "-");
    snprintf(eta, eta_n, "-");
    sweep_cell_path(p, cell, SWEEP_CELL_FILE, path, sizeof path);
    FILE *f = fopen(path, "r");
    int found = f && fgets(line, sizeof line, f) && fgets(line, sizeof line, f) &&
                sscanf(line, PROGRESS_FORMAT, &at_step, &total, &at, &from_step, &from) == 5;
    if (f)
        fclose(f);
    long long checkpointed = newest_checkpoint_step(p, cell, found ? total : 0);
    if (!found) {
        if (checkpointed >= 0)
            snprintf(step, step_n, "%lld/?", checkpointed);
        return;
    }
    snprintf(step, step_n, "%lld/%lld", checkpointed > at_step ? checkpointed : at_step, total);
    if (state != CELL_RUNNING)
        return;
    if (at_step <= from_step || at <= from) {
        snprintf(eta, eta_n, "?");
        return;
    }
    double rate = (double)(at_step - from_step) / (double)(at - from); /* steps per second */
    double left = (double)(total - at_step) / rate - difftime(time(NULL), (time_t)at);
    format_duration(left > 0 ? left : 0, eta, eta_n);
}

cell_state *sweep_all_states(const planned *p, double stale, int verbose,
                             int64_t counts[CELL_N_STATES]) {
    cell_state *states = rl_xmalloc(sizeof(cell_state) * (size_t)p->sw.n_cells);
    memset(counts, 0, CELL_N_STATES * sizeof counts[0]);
    if (verbose)
        printf("%-6s %-9s %-13s %-8s %-16s %s\n", "cell", "state", "step", "eta", "run id",
               "detail");
    for (int64_t c = 0; c < p->sw.n_cells; c++) {
        char detail[1024], step[48], eta[48];
        states[c] = sweep_cell_status(p, c, stale, detail, sizeof detail);
        counts[states[c]]++;
        if (!verbose)
            continue;
        progress_text(p, c, states[c], step, sizeof step, eta, sizeof eta);
        printf("%-6lld %-9s %-13s %-8s %-16s %s\n", (long long)c, state_names[states[c]], step, eta,
               p->rows[c].run_id, detail);
    }
    return states;
}

int sweep_cmd_status(int argc, char **argv) {
    sweep_opts o;
    planned p;
    if (sweep_parse_opts(argc, argv, &o, "ranklab sweep status SWEEP_DIR [--stale SECONDS]") < 0)
        return RL_ERR;
    if (sweep_planned_open(&p, o.dir) < 0) {
        sweep_planned_free(&p);
        return RL_ERR;
    }
    int64_t counts[CELL_N_STATES];
    free(sweep_all_states(&p, o.stale, 1, counts));
    printf("%lld cells: %lld complete, %lld running, %lld failed, %lld missing",
           (long long)p.sw.n_cells, (long long)counts[CELL_COMPLETE],
           (long long)counts[CELL_RUNNING], (long long)counts[CELL_FAILED],
           (long long)counts[CELL_MISSING]);
    if (p.sw.n_refs)
        printf(", %lld waiting", (long long)counts[CELL_WAITING]);
    if (counts[CELL_PRUNED] || strcmp(rl_cfg_str(p.sw.settings, "sweep.early_stop"), "none"))
        printf(", %lld pruned", (long long)counts[CELL_PRUNED]);
    printf("\n");
    if (counts[CELL_MISSING] + counts[CELL_WAITING] == p.sw.n_cells)
        printf("next: ranklab sweep submit %s\n  or on this machine: ranklab sweep run %s --all\n",
               o.dir, o.dir);
    else if (counts[CELL_FAILED] + counts[CELL_MISSING] + counts[CELL_WAITING] > 0)
        printf("next: ranklab sweep resubmit %s --failed   (once its jobs have left the queue)\n"
               "  or on this machine: ranklab sweep run %s --all\n",
               o.dir, o.dir);
    int all_done = counts[CELL_COMPLETE] + counts[CELL_PRUNED] == p.sw.n_cells;
    sweep_planned_free(&p);
    return all_done ? RL_EXIT_OK : SWEEP_EXIT_NOT_COMPLETE;
}
