/* `ranklab sweep run SWEEP_DIR --all [--jobs N]`: every cell of a sweep that is not complete,
 * run on this machine as many cells at a time as fit in its cores (or N). Each cell is a child
 * process `mpiexec -n RANKS <this program> sweep run SWEEP_DIR --cell I` (RANKS: the cell's own)
 * in a process group of its own (so a Ctrl-C reaches this process only), its output appended to
 * SWEEP_DIR/logs/cell-NNNN.out. A cell that starts from a cell of another sweep (stages) runs
 * once that cell is complete: an upstream cell that is not is run here first, in its own sweep.
 * This process never calls MPI: it waits for signals (a child ended, or a stop was asked for),
 * starts the next cells and prints progress. A stop (SIGINT, SIGTERM, SIGUSR1/2) is passed to
 * every mpiexec as USR2, which mpiexec passes to the ranks: they agree on a step, checkpoint it
 * and exit 75 (src/run), as in a Slurm array task; a second stop ends them at once. */
#define _GNU_SOURCE /* sched_getaffinity */
#include "src/cli/sweep_internal.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/io/io.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RUN_ALL_USAGE "ranklab sweep run SWEEP_DIR --all [--jobs N]"

/* What became of a cell this command was to run. */
typedef enum {
    ITEM_WAITING,
    ITEM_RUNNING,
    ITEM_COMPLETE,
    ITEM_PRUNED, /* done: early stopping ended it (a cell that starts from it waits) */
    ITEM_FAILED,
    ITEM_STOPPED,
    ITEM_ELSEWHERE,     /* another process (a second `run --all`, a Slurm task) runs the cell */
    ITEM_DONE_ELSEWHERE /* another process completed the cell (or early stopping pruned it) */
} item_state;

/* ITEM_BLOCKED as `after`: the cell starts from a cell that runs elsewhere; it is not run here. */
#define ITEM_BLOCKED (-2)

/* A cell to run: of the sweep given, or of a sweep its cells start from. */
typedef struct {
    const planned *p;
    int64_t cell;
    int64_t after; /* the item whose cell this one starts from (run first), -1, or ITEM_BLOCKED */
    item_state state;
    pid_t pid; /* mpiexec's, also its process group */
    int cpus;  /* ranks x CPUs per rank */
    double started;
    off_t log_start; /* where this attempt's output begins in the log */
} pool_item;

typedef struct {
    const planned *p; /* the sweep given */
    char mpiexec[PATH_MAX];
    char exe[PATH_MAX];
    int cores;
    int jobs;           /* at most this many cells at once (--jobs); 0: as many as fit the cores */
    int openblas_given; /* OPENBLAS_NUM_THREADS was set: every cell keeps it */
    sigset_t child_mask; /* the signal mask the children start with */
    pool_item *items;    /* (n_items) upstream cells before the cells that start from them */
    int64_t n_items;
    int n_running, cpus_running;
    int stops; /* stop signals received */
} cell_pool;

/* "[2024-05-01 12:00:00]" in local time, as the sbatch template's log lines. */
static void local_stamp(char *out, size_t n) {
    time_t now = time(NULL);
    strftime(out, n, "[%F %T]", localtime(&now));
}

/* A number from /sys/devices/system/cpu/cpuCPU/topology/NAME, or -1. */
static long read_topology(int cpu, const char *name) {
    char path[128];
    long value = -1;
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/%s", cpu, name);
    FILE *f = fopen(path, "r");
    if (f && fscanf(f, "%ld", &value) != 1)
        value = -1;
    if (f)
        fclose(f);
    return value;
}

/* The cores this process may run on, counted as Open MPI counts its slots on one machine:
 * hardware threads of one physical core count once (a CPU whose topology is unknown counts
 * alone). */
static int count_cores(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        return n > 0 ? (int)n : 1;
    }
    long seen[CPU_SETSIZE];
    int n = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &set))
            continue;
        long package = read_topology(cpu, "physical_package_id");
        long core = read_topology(cpu, "core_id");
        long key = package >= 0 && core >= 0 ? package << 32 | core : -1 - cpu;
        int known = 0;
        for (int i = 0; i < n && !known; i++)
            known = seen[i] == key;
        if (!known)
            seen[n++] = key;
    }
    return n > 0 ? n : 1;
}

/* The first executable NAME in the directories of PATH. */
static int find_on_path(const char *name, char *out, size_t n) {
    const char *path = getenv("PATH");
    for (const char *dir = path && path[0] ? path : "/usr/bin:/bin";;) {
        size_t len = strcspn(dir, ":");
        snprintf(out, n, "%.*s/%s", (int)len, len ? dir : ".", name);
        if (io_path_kind(out) == IO_PATH_FILE && access(out, X_OK) == 0)
            return 0;
        if (!dir[len])
            break;
        dir += len + 1;
    }
    return rl_fail("%s is not on PATH, and `run --all` starts every cell with it",
                   "install an MPI (Debian: apt-get install openmpi-bin) or put the directory of "
                   "its mpiexec on PATH",
                   name);
}

static int compare_cells(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static const char *signal_name(int sig) {
    return sig == SIGINT    ? "SIGINT"
           : sig == SIGTERM ? "SIGTERM"
           : sig == SIGUSR1 ? "SIGUSR1"
                            : "SIGUSR2";
}

/* Print a progress line "[12:00:00] TEXT" and flush it (the output may be a pipe). */
static void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void progress(const char *fmt, ...) {
    char when[16], line[2048];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%T", localtime(&now));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    printf("[%s] %s\n", when, line);
    fflush(stdout);
}

static void log_path(const pool_item *it, char *out, size_t n) {
    snprintf(out, n, "%s/logs/cell-%04lld.out", it->p->dir, (long long)it->cell);
}

/* "cell 3", or "runs/pretrain cell 3" for a cell of another sweep. */
static const char *item_name(const cell_pool *pl, const pool_item *it, char *out, size_t n) {
    if (it->p == pl->p)
        snprintf(out, n, "cell %lld", (long long)it->cell);
    else
        snprintf(out, n, "%s cell %lld", it->p->dir, (long long)it->cell);
    return out;
}

/* Append a line to a cell's log, as the sbatch template's `say`. */
static void log_say(const pool_item *it, const char *text) {
    char path[PATH_MAX + 64], when[32];
    log_path(it, path, sizeof path);
    local_stamp(when, sizeof when);
    FILE *f = fopen(path, "a");
    if (f) {
        fprintf(f, "%s sweep cell %lld: %s\n", when, (long long)it->cell, text);
        fclose(f);
    }
}

/* The error a failed attempt printed (sweep_log_error), from the log of the cell after offset
 * `from`. */
static void attempt_error(const pool_item *it, off_t from, char *out, size_t n) {
    char path[PATH_MAX + 64];
    log_path(it, path, sizeof path);
    sweep_log_error(path, from, out, n);
}

/* Fork `mpiexec -n RANKS EXE sweep run DIR --cell I` with the cell's ranks (Open MPI allowed to
 * oversubscribe when they are more than the cores; OPENBLAS_NUM_THREADS = its CPUs per rank
 * unless given), its output appended to the cell's log. */
static int start_cell(cell_pool *pl, pool_item *it) {
    char path[PATH_MAX + 64], logs[PATH_MAX + 8], ranks[24], cpus[24], cell_text[24], when[32],
        name[PATH_MAX + 32];
    cell_resources r;
    sweep_cell_resources(&it->p->sw, it->cell, &r);
    log_path(it, path, sizeof path);
    snprintf(logs, sizeof logs, "%s/logs", it->p->dir);
    snprintf(ranks, sizeof ranks, "%d", r.ranks);
    snprintf(cpus, sizeof cpus, "%d", r.cpus_per_rank);
    snprintf(cell_text, sizeof cell_text, "%lld", (long long)it->cell);
    item_name(pl, it, name, sizeof name);
    char *argv[] = {pl->mpiexec,        "-n",     ranks,     pl->exe, "sweep", "run",
                    (char *)it->p->dir, "--cell", cell_text, NULL};
    if (io_make_dir(logs) < 0)
        return RL_ERR;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0664);
    if (fd < 0)
        return rl_fail("%s: cannot open its log %s: %s",
                       "check that the sweep directory is writable", name, path, strerror(errno));
    local_stamp(when, sizeof when);
    dprintf(fd,
            "%s sweep cell %lld: `ranklab sweep run --all` starts %s -n %s %s sweep run %s "
            "--cell %s\n",
            when, (long long)it->cell, pl->mpiexec, ranks, pl->exe, it->p->dir, cell_text);
    off_t log_start = lseek(fd, 0, SEEK_END);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0 ||
            dup2(fd, STDERR_FILENO) < 0)
            _exit(127);
        sigprocmask(SIG_SETMASK, &pl->child_mask, NULL);
        if (r.ranks > pl->cores) /* Open MPI refuses it unless allowed; other MPIs ignore this */
            setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 1);
        if (!pl->openblas_given)
            setenv("OPENBLAS_NUM_THREADS", cpus, 1); /* one BLAS thread per CPU of a rank */
        execv(pl->mpiexec, argv);
        dprintf(STDERR_FILENO, "error: cannot run %s: %s\n", pl->mpiexec, strerror(errno));
        _exit(127);
    }
    int err = errno;
    close(fd);
    if (pid < 0)
        return rl_fail("%s: cannot start a process: %s",
                       "the machine may be short of memory or processes; run the same command "
                       "again later",
                       name, strerror(err));
    setpgid(pid, pid); /* also here: whichever of the two runs first */
    it->state = ITEM_RUNNING;
    it->pid = pid;
    it->cpus = r.ranks * r.cpus_per_rank;
    it->started = rl_now();
    it->log_start = log_start;
    pl->n_running++;
    pl->cpus_running += it->cpus;
    progress("%s started (run id %s; log %s)", name, it->p->rows[it->cell].run_id, path);
    return 0;
}

static int64_t count_items(const cell_pool *pl, item_state state) {
    int64_t n = 0;
    for (int64_t i = 0; i < pl->n_items; i++)
        n += pl->items[i].state == state;
    return n;
}

/* "3 left (2 running, 1 waiting)" after a cell ended. */
static void left_text(const cell_pool *pl, char *out, size_t n) {
    int64_t waiting = count_items(pl, ITEM_WAITING);
    snprintf(out, n, "%lld left (%d running, %lld waiting)", (long long)(pl->n_running + waiting),
             pl->n_running, (long long)waiting);
}

/* Classify the end of a child and report it. */
static void cell_ended(cell_pool *pl, pool_item *it, int status) {
    double seconds = rl_now() - it->started;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    char what[128], left[96], detail[1024] = "", path[PATH_MAX + 64], name[PATH_MAX + 32];
    item_name(pl, it, name, sizeof name);
    if (WIFSIGNALED(status))
        snprintf(what, sizeof what, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(what, sizeof what, "exit code %d", code);
    cell_state done =
        code == RL_EXIT_OK
            ? sweep_cell_status(it->p, it->cell, SWEEP_DEFAULT_STALE_SECONDS, detail, sizeof detail)
            : CELL_FAILED;
    if (code == RL_EXIT_OK && done != CELL_COMPLETE && done != CELL_PRUNED)
        code = RL_EXIT_ERROR; /* mpiexec said done, the cell directory does not */
    it->state = code == RL_EXIT_OK && done == CELL_PRUNED ? ITEM_PRUNED
                : code == RL_EXIT_OK                      ? ITEM_COMPLETE
                : code == RL_EXIT_STOPPED || pl->stops    ? ITEM_STOPPED
                                                          : ITEM_FAILED;
    /* Refused because another process took the cell (its directory's lock) after this one
     * looked: not a failure of the cell. */
    char holder[1024] = "";
    cell_state now =
        it->state == ITEM_FAILED
            ? sweep_cell_status(it->p, it->cell, SWEEP_DEFAULT_STALE_SECONDS, holder, sizeof holder)
            : CELL_FAILED;
    if (now == CELL_RUNNING)
        it->state = ITEM_ELSEWHERE;
    else if (now == CELL_COMPLETE || now == CELL_PRUNED)
        it->state = ITEM_DONE_ELSEWHERE;
    left_text(pl, left, sizeof left);
    log_path(it, path, sizeof path);
    if (it->state == ITEM_ELSEWHERE || it->state == ITEM_DONE_ELSEWHERE) {
        char said[sizeof what + 64];
        snprintf(said, sizeof said, "%s (the cell %s by another process)", what,
                 now == CELL_RUNNING ? "is run" : "was done");
        log_say(it, said);
        if (now == CELL_RUNNING)
            progress("%s: run by another process, not failed (%s here, %.1f s): %s; %s", name, what,
                     seconds, holder, left);
        else
            progress("%s: done by another process (%s), not failed (%s here, %.1f s); %s", name,
                     sweep_state_name(now), what, seconds, left);
    } else if (it->state == ITEM_COMPLETE) {
        log_say(it, "exit code 0 (complete)");
        progress("%s complete (%.1f s); %s", name, seconds, left);
    } else if (it->state == ITEM_PRUNED) {
        log_say(it, "exit code 0 (pruned by early stopping)");
        progress("%s pruned (%.1f s): %s; %s", name, seconds, detail, left);
    } else if (it->state == ITEM_STOPPED) {
        /* After a stop, a cell whose ranks had no signal handler yet (or a second stop) ends
         * otherwise than with 75: stopped all the same, it resumes or starts again. */
        const char *how =
            code == RL_EXIT_STOPPED ? "stopped after a checkpoint" : "ended by the stop";
        char said[160];
        snprintf(said, sizeof said, "%s (%s)", what, how);
        log_say(it, said);
        progress("%s %s (%s, %.1f s); %s", name, how, what, seconds, left);
    } else {
        if (!detail[0])
            attempt_error(it, it->log_start, detail, sizeof detail);
        char said[160];
        snprintf(said, sizeof said, "%s (failed)", what);
        log_say(it, said);
        progress("%s FAILED (%s, %.1f s); %s\n    %s\n    log: %s", name, what, seconds, left,
                 detail[0] ? detail : "(no output)", path);
    }
}

/* Reap every child that has ended. */
static void reap(cell_pool *pl) {
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int64_t i = 0; i < pl->n_items; i++)
            if (pl->items[i].state == ITEM_RUNNING && pl->items[i].pid == pid) {
                pl->n_running--;
                pl->cpus_running -= pl->items[i].cpus;
                cell_ended(pl, &pl->items[i], status);
                break;
            }
    }
}

/* The first stop: USR2 to each mpiexec (the ranks checkpoint and exit 75); later ones: SIGTERM
 * (mpiexec ends its ranks at once). */
static void forward_stop(cell_pool *pl, int sig) {
    int forward = ++pl->stops == 1 ? SIGUSR2 : SIGTERM;
    for (int64_t i = 0; i < pl->n_items; i++)
        if (pl->items[i].state == ITEM_RUNNING)
            kill(pl->items[i].pid, forward);
    if (pl->stops == 1)
        progress("%s: no new cell starts; the %d running ones checkpoint and stop (USR2 to their "
                 "mpiexec). Send it again to end them at once.",
                 signal_name(sig), pl->n_running);
    else
        progress("%s again: ending the %d running cells now (SIGTERM to their mpiexec); they "
                 "resume from their last checkpoint",
                 signal_name(sig), pl->n_running);
}

/* The first item, in order, that may start once it fits (its upstream cell complete), or -1. */
static int64_t next_ready(const cell_pool *pl) {
    for (int64_t i = 0; i < pl->n_items; i++) {
        const pool_item *it = &pl->items[i];
        item_state upstream = it->after >= 0 ? pl->items[it->after].state : ITEM_WAITING;
        if (it->state == ITEM_WAITING &&
            (it->after == -1 || upstream == ITEM_COMPLETE || upstream == ITEM_DONE_ELSEWHERE))
            return i;
    }
    return -1;
}

/* Whether the item may start now: fewer than --jobs cells run, or (without --jobs) its CPUs fit
 * in the cores left (a cell larger than the machine runs alone). */
static int item_fits(const cell_pool *pl, const pool_item *it) {
    if (pl->jobs)
        return pl->n_running < pl->jobs;
    cell_resources r;
    sweep_cell_resources(&it->p->sw, it->cell, &r);
    return pl->n_running == 0 || pl->cpus_running + r.ranks * r.cpus_per_rank <= pl->cores;
}

/* Just before an item starts: whether another process (a second `run --all`, a Slurm task) has
 * taken or finished its cell since this one read the states; the item is then left to it
 * (ITEM_ELSEWHERE, ITEM_DONE_ELSEWHERE). A cell that now waits for its upstream cell (pruned
 * elsewhere) is blocked. */
static int taken_since(cell_pool *pl, pool_item *it) {
    char detail[1024], name[PATH_MAX + 32];
    cell_state now =
        sweep_cell_status(it->p, it->cell, SWEEP_DEFAULT_STALE_SECONDS, detail, sizeof detail);
    item_name(pl, it, name, sizeof name);
    if (now == CELL_RUNNING) {
        it->state = ITEM_ELSEWHERE;
        progress("%s: run by another process, not started here: %s", name, detail);
    } else if (now == CELL_COMPLETE || now == CELL_PRUNED) {
        it->state = ITEM_DONE_ELSEWHERE;
        progress("%s: done by another process (%s), not started here", name, sweep_state_name(now));
    } else if (now == CELL_WAITING) {
        it->after = ITEM_BLOCKED;
    }
    return now == CELL_RUNNING || now == CELL_COMPLETE || now == CELL_PRUNED || now == CELL_WAITING;
}

/* Start the items in order as they become ready and fit, until all that can run have ended or
 * a stop came. */
static void run_pool(cell_pool *pl) {
    sigset_t watched;
    sigemptyset(&watched);
    sigaddset(&watched, SIGCHLD);
    sigaddset(&watched, SIGTERM);
    sigaddset(&watched, SIGUSR1);
    sigaddset(&watched, SIGUSR2);
    struct sigaction was;
    /* A shell starts background jobs with SIGINT ignored: keep it so. */
    if (sigaction(SIGINT, NULL, &was) == 0 && was.sa_handler != SIG_IGN)
        sigaddset(&watched, SIGINT);
    signal(SIGCHLD, SIG_DFL); /* not SIG_IGN, which would reap the children unseen */
    sigprocmask(SIG_BLOCK, &watched, &pl->child_mask);
    for (;;) {
        int64_t next;
        while (!pl->stops && (next = next_ready(pl)) >= 0 && item_fits(pl, &pl->items[next])) {
            pool_item *it = &pl->items[next];
            if (taken_since(pl, it))
                continue;
            if (start_cell(pl, it) < 0) {
                char name[PATH_MAX + 32];
                it->state = ITEM_FAILED;
                progress("%s FAILED to start: %s", item_name(pl, it, name, sizeof name),
                         rl_error_message());
            }
        }
        if (pl->n_running == 0)
            break;
        siginfo_t info;
        int sig = sigwaitinfo(&watched, &info);
        if (sig == SIGCHLD)
            reap(pl);
        else if (sig > 0)
            forward_stop(pl, sig);
    }
    /* The stop signals stay blocked: one that comes now must not cut the report short. */
}

static int64_t append_item(cell_pool *pl, pool_item item) {
    pl->items = realloc(pl->items, sizeof *pl->items * (size_t)(pl->n_items + 1));
    if (!pl->items)
        abort();
    pl->items[pl->n_items] = item;
    return pl->n_items++;
}

/* The item of (p, cell), added after the item of its upstream cell when that is to run here too
 * (an upstream cell running elsewhere blocks it). */
static int64_t add_item(cell_pool *pl, const planned *p, int64_t cell) {
    for (int64_t i = 0; i < pl->n_items; i++)
        if (pl->items[i].p == p && pl->items[i].cell == cell)
            return i;
    upstream_cell up = {NULL, -1};
    int64_t after = -1;
    char detail[1024];
    if (sweep_cell_upstream(p, cell, &up) == 0 && up.p) {
        cell_state state =
            sweep_cell_status(up.p, up.cell, SWEEP_DEFAULT_STALE_SECONDS, detail, sizeof detail);
        after = state == CELL_COMPLETE  ? -1
                : state == CELL_RUNNING ? ITEM_BLOCKED
                                        : add_item(pl, up.p, up.cell);
    }
    return append_item(pl, (pool_item){.p = p, .cell = cell, .after = after});
}

/* The options: dir, jobs (0: not given). */
static int parse_run_all(int argc, char **argv, const char **dir, long long *jobs, int cores) {
    *dir = NULL;
    *jobs = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--all"))
            continue;
        if (!strcmp(a, "--cell"))
            return rl_fail("--all and --cell exclude each other",
                           "--cell I runs one cell on the ranks mpiexec starts it with; --all "
                           "runs every cell that is not complete, starting mpiexec for each");
        if (!strcmp(a, "--jobs") && i + 1 < argc && !*jobs) {
            if ((*jobs = sweep_parse_whole(argv[++i])) < 1)
                return rl_fail("--jobs '%s' is not a whole number above 0", NULL, argv[i]),
                       rl_fail_hint("--jobs N runs N cells at once, e.g. --jobs 2; without it, "
                                    "as many as the %d cores of this machine hold",
                                    cores);
        } else if (!*dir && a[0] != '-') {
            *dir = a;
        } else {
            return rl_fail("unexpected argument '%s'", NULL, a),
                   rl_fail_hint("usage: %s (ranklab sweep --help)", RUN_ALL_USAGE);
        }
    }
    if (!*dir)
        return rl_fail("no sweep directory given", NULL), rl_fail_hint("usage: %s", RUN_ALL_USAGE);
    if (getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK"))
        return rl_fail("`sweep run --all` was started as an MPI process",
                       "run it as a plain command: it starts mpiexec for each cell itself");
    return 0;
}

/* The cells of the items in `state`, sorted, in *out: "1,3-4" when all are of the sweep given,
 * else "1,3 of runs/pretrain; 0 of runs/finetune". Returns how many; *only_given whether all
 * are of the sweep given. */
static int64_t items_text(const cell_pool *pl, item_state state, rl_text *out, int *only_given) {
    int64_t total = 0, *cells = rl_xmalloc(sizeof(int64_t) * (size_t)(pl->n_items + 1));
    *only_given = 1;
    for (int64_t i = 0; i < pl->n_items; i++)
        if (pl->items[i].state == state) {
            total++;
            *only_given &= pl->items[i].p == pl->p;
        }
    for (int64_t i = 0; i < pl->n_items; i++) {
        const planned *p = pl->items[i].p;
        int64_t n = 0, seen = 0;
        for (int64_t j = 0; j < i && !seen; j++)
            seen = pl->items[j].p == p; /* each sweep once, at its first item */
        for (int64_t j = i; j < pl->n_items && !seen; j++)
            if (pl->items[j].p == p && pl->items[j].state == state)
                cells[n++] = pl->items[j].cell;
        if (n == 0)
            continue;
        qsort(cells, (size_t)n, sizeof *cells, compare_cells);
        rl_text_add(out, "%s", out->len ? "; " : "");
        sweep_format_cells(cells, n, 0, out);
        if (!*only_given)
            rl_text_add(out, " of %s", p->dir);
    }
    free(cells);
    return total;
}

/* How many items of the sweep given (given = 1) or of the sweeps it starts from (given = 0)
 * ended complete or pruned here. */
static int64_t count_done_here(const cell_pool *pl, int given) {
    int64_t n = 0;
    for (int64_t i = 0; i < pl->n_items; i++)
        n += (pl->items[i].p == pl->p) == given &&
             (pl->items[i].state == ITEM_COMPLETE || pl->items[i].state == ITEM_PRUNED);
    return n;
}

/* Print the outcome; the exit code. */
static int report(cell_pool *pl, const char *again) {
    const planned *p = pl->p;
    /* The cells left to other processes: done by now? */
    for (int64_t i = 0; i < pl->n_items; i++) {
        pool_item *it = &pl->items[i];
        char detail[1024];
        if (it->state != ITEM_ELSEWHERE)
            continue;
        cell_state now =
            sweep_cell_status(it->p, it->cell, SWEEP_DEFAULT_STALE_SECONDS, detail, sizeof detail);
        if (now == CELL_COMPLETE || now == CELL_PRUNED)
            it->state = ITEM_DONE_ELSEWHERE;
    }
    rl_text list = {0}, waiting = {0}, by_other = {0};
    int code = RL_EXIT_OK, only_given, waiting_given, by_other_given;
    int64_t n_waiting = items_text(pl, ITEM_WAITING, &waiting, &waiting_given);
    int64_t n_by_other = items_text(pl, ITEM_DONE_ELSEWHERE, &by_other, &by_other_given);
    int64_t n_failed = items_text(pl, ITEM_FAILED, &list, &only_given);
    int all_done = !n_failed && !pl->stops && !count_items(pl, ITEM_STOPPED) &&
                   !count_items(pl, ITEM_ELSEWHERE) && !n_waiting;
    if (n_by_other && !all_done)
        printf("%s %s %s done by another process (a second `run --all`, or a Slurm task)\n",
               n_by_other == 1 ? "cell" : "cells", rl_text_str(&by_other),
               n_by_other == 1 ? "was" : "were");
    if (n_failed) {
        if (only_given)
            rl_fail("%lld of the %lld cells of %s failed: %s", NULL, (long long)n_failed,
                    (long long)p->sw.n_cells, p->dir, rl_text_str(&list));
        else
            rl_fail("%lld cells failed: %s", NULL, (long long)n_failed, rl_text_str(&list));
        rl_fail_hint("the end of each one's log says why (SWEEP_DIR/logs/cell-NNNN.out); fix "
                     "that, then run `%s` again: complete cells are skipped, the others start "
                     "again or resume from their checkpoints",
                     again);
        if (n_waiting)
            printf("not run: %s %s (they start from cells that did not complete)\n",
                   n_waiting == 1 ? "cell" : "cells", rl_text_str(&waiting));
        fflush(stdout);
        rl_error_print();
        code = RL_EXIT_ERROR;
    } else if (pl->stops || count_items(pl, ITEM_STOPPED)) {
        int64_t n_stopped = items_text(pl, ITEM_STOPPED, &list, &only_given);
        printf("stopped: ");
        if (n_stopped)
            printf("cells %s stopped (they resume from their newest checkpoint); ",
                   rl_text_str(&list));
        printf("%lld not started. Run `%s` to resume.\n", (long long)n_waiting, again);
        code = RL_EXIT_STOPPED;
    } else if (!all_done) {
        int64_t n_elsewhere = items_text(pl, ITEM_ELSEWHERE, &list, &only_given);
        if (n_elsewhere) {
            printf("%s %s %s running elsewhere (heartbeat younger than %d s) and left alone: "
                   "`ranklab sweep status %s` follows %s\n",
                   n_elsewhere == 1 ? "cell" : "cells", rl_text_str(&list),
                   n_elsewhere == 1 ? "is" : "are", SWEEP_DEFAULT_STALE_SECONDS, p->dir,
                   n_elsewhere == 1 ? "it" : "them");
        }
        if (n_waiting)
            printf("%s %s %s for the cells %s start%s from, running elsewhere (or pruned): run "
                   "`%s` again once they are complete\n",
                   n_waiting == 1 ? "cell" : "cells", rl_text_str(&waiting),
                   n_waiting == 1 ? "waits" : "wait", n_waiting == 1 ? "it" : "they",
                   n_waiting == 1 ? "s" : "", again);
        code = SWEEP_EXIT_NOT_COMPLETE;
    } else {
        int64_t counts[CELL_N_STATES];
        int64_t n_given = count_done_here(pl, 1), n_upstream = count_done_here(pl, 0);
        free(sweep_all_states(p, SWEEP_DEFAULT_STALE_SECONDS, 0, counts));
        if (counts[CELL_PRUNED])
            printf("all %lld cells of %s are done: %lld complete, %lld pruned by early stopping",
                   (long long)p->sw.n_cells, p->dir, (long long)counts[CELL_COMPLETE],
                   (long long)counts[CELL_PRUNED]);
        else
            printf("all %lld cells of %s are complete", (long long)p->sw.n_cells, p->dir);
        if (n_upstream)
            printf(" (%lld run now, and %lld of the sweeps they start from", (long long)n_given,
                   (long long)n_upstream);
        else if (n_given)
            printf(" (%lld run now", (long long)n_given);
        if (n_by_other)
            printf("%s%s %s done by another process", n_given + n_upstream ? "; " : " (",
                   n_by_other == 1 ? "cell" : "cells", rl_text_str(&by_other));
        printf("%s\n", n_given + n_upstream + n_by_other ? ")" : "; nothing to run");
    }
    rl_text_free(&list);
    rl_text_free(&waiting);
    rl_text_free(&by_other);
    return code;
}

/* "1 rank x 1 CPU per cell", or the range of the cells': "1-4 ranks x 1 CPU per cell"; the most
 * CPUs a cell needs. */
static int cells_size_text(const cell_pool *pl, char *out, size_t size) {
    int lo[2] = {1 << 30, 1 << 30}, hi[2] = {0, 0}, max_cpus = 0;
    for (int64_t i = 0; i < pl->n_items; i++) {
        cell_resources r;
        sweep_cell_resources(&pl->items[i].p->sw, pl->items[i].cell, &r);
        int v[2] = {r.ranks, r.cpus_per_rank};
        for (int k = 0; k < 2; k++) {
            lo[k] = v[k] < lo[k] ? v[k] : lo[k];
            hi[k] = v[k] > hi[k] ? v[k] : hi[k];
        }
        max_cpus = r.ranks * r.cpus_per_rank > max_cpus ? r.ranks * r.cpus_per_rank : max_cpus;
    }
    char ranks[32], cpus[32];
    snprintf(ranks, sizeof ranks, lo[0] == hi[0] ? "%d" : "%d-%d", lo[0], hi[0]);
    snprintf(cpus, sizeof cpus, lo[1] == hi[1] ? "%d" : "%d-%d", lo[1], hi[1]);
    snprintf(out, size, "%s rank%s x %s CPU per cell", ranks, hi[0] == 1 ? "" : "s", cpus);
    return max_cpus;
}

int sweep_cmd_run_all(int argc, char **argv) {
    const char *dir;
    long long jobs_given;
    int cores = count_cores();
    if (parse_run_all(argc, argv, &dir, &jobs_given, cores) < 0)
        return RL_ERR;
    planned p;
    cell_pool pl = {.p = &p, .cores = cores, .openblas_given = !!getenv("OPENBLAS_NUM_THREADS")};
    if (sweep_planned_open(&p, dir) < 0 ||
        find_on_path("mpiexec", pl.mpiexec, sizeof pl.mpiexec) < 0) {
        sweep_planned_free(&p);
        return RL_ERR;
    }
    if (!realpath("/proc/self/exe", pl.exe)) { /* the children run this same program */
        sweep_planned_free(&p);
        return rl_fail("cannot resolve the path of this program: %s", NULL, strerror(errno));
    }

    int64_t counts[CELL_N_STATES], n_given = 0;
    cell_state *states = sweep_all_states(&p, SWEEP_DEFAULT_STALE_SECONDS, 0, counts);
    for (int64_t c = 0; c < p.sw.n_cells; c++)
        if (CELL_TO_RUN(states[c]) && ++n_given)
            add_item(&pl, &p, c);
    int64_t n_elsewhere = counts[CELL_RUNNING];
    char size[96];
    int max_cpus = cells_size_text(&pl, size, sizeof size);
    pl.jobs = (int)(jobs_given < pl.n_items ? jobs_given : pl.n_items);
    printf("sweep %s: %lld cells: %lld complete, ", dir, (long long)p.sw.n_cells,
           (long long)counts[CELL_COMPLETE]);
    if (n_elsewhere)
        printf("%lld running elsewhere, ", (long long)n_elsewhere);
    if (pl.n_items > n_given)
        printf("%lld to run here after %lld cells of the sweeps they start from, ",
               (long long)n_given, (long long)(pl.n_items - n_given));
    else if (pl.n_items)
        printf("%lld to run here, ", (long long)n_given);
    if (pl.n_items && pl.jobs)
        printf("%d at a time (--jobs; %d cores, %s)\n", pl.jobs, cores, size);
    else if (pl.n_items)
        printf("as many at a time as fit in the %d cores (%s)\n", cores, size);
    else
        printf("none to run here\n");
    if (pl.n_items && max_cpus > cores)
        printf("note: a cell needs %d CPUs and this machine has %d cores: it runs alone, and Open "
               "MPI may oversubscribe (OMPI_MCA_rmaps_base_oversubscribe=1)\n",
               max_cpus, cores);
    if (pl.n_items && pl.jobs && (long long)pl.jobs * max_cpus > cores)
        printf("note: %d cells x up to %d CPUs > %d cores: they share the cores (slower; the "
               "results are the same)\n",
               pl.jobs, max_cpus, cores);

    char again[PATH_MAX + 96];
    if (jobs_given)
        snprintf(again, sizeof again, "ranklab sweep run %s --all --jobs %lld", dir, jobs_given);
    else
        snprintf(again, sizeof again, "ranklab sweep run %s --all", dir);
    int run_here = pl.n_items > 0;
    /* The cells running elsewhere are followed, not started: report says how they ended. */
    for (int64_t c = 0; c < p.sw.n_cells; c++)
        if (states[c] == CELL_RUNNING)
            append_item(&pl, (pool_item){.p = &p, .cell = c, .after = -1, .state = ITEM_ELSEWHERE});
    free(states);
    if (run_here) {
        printf("logs: %s/logs/cell-NNNN.out; Ctrl-C or SIGTERM stops the cells at a checkpoint "
               "(`%s` resumes)\n",
               dir, again);
        run_pool(&pl);
    }
    int rc = report(&pl, again);
    free(pl.items);
    sweep_planned_free(&p);
    return rc;
}
