/* `ranklab sweep run SWEEP_DIR --all [--jobs N]`: every cell of a sweep that is not complete,
 * run on this machine as many cells at a time as fit in its cores (or N). Each cell is a child
 * process `mpiexec -n RANKS <this program> sweep run SWEEP_DIR --cell I` (RANKS: the cell's own)
 * in a process group of its own (so a Ctrl-C reaches this process only), its output appended to
 * SWEEP_DIR/logs/cell-NNNN.out.
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
/* How much of the end of a failed cell's log is searched for its error. */
#define LOG_TAIL_BYTES 65536

typedef struct {
    int64_t cell;
    pid_t pid; /* mpiexec's, also its process group */
    int cpus;  /* ranks x CPUs per rank */
    double started;
    off_t log_start; /* where this attempt's output begins in the log */
} running_cell;

typedef struct {
    const planned *p;
    char mpiexec[PATH_MAX];
    char exe[PATH_MAX];
    char log_dir[PATH_MAX + 8];
    int cores;
    int jobs;           /* at most this many cells at once (--jobs); 0: as many as fit the cores */
    int openblas_given; /* OPENBLAS_NUM_THREADS was set: every cell keeps it */
    sigset_t child_mask;   /* the signal mask the children start with */
    running_cell *running; /* (n_running) */
    int n_running, cpus_running;
    int64_t waiting; /* cells not started yet */
    int stops;       /* stop signals received */
    int64_t *failed, n_failed, *stopped, n_stopped, n_completed;
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

static void log_path(const cell_pool *pl, int64_t cell, char *out, size_t n) {
    snprintf(out, n, "%s/cell-%04lld.out", pl->log_dir, (long long)cell);
}

/* Append a line to a cell's log, as the sbatch template's `say`. */
static void log_say(const cell_pool *pl, int64_t cell, const char *text) {
    char path[PATH_MAX + 64], when[32];
    log_path(pl, cell, path, sizeof path);
    local_stamp(when, sizeof when);
    FILE *f = fopen(path, "a");
    if (f) {
        fprintf(f, "%s sweep cell %lld: %s\n", when, (long long)cell, text);
        fclose(f);
    }
}

/* The error a failed attempt printed: its first "error: " line (with the HINT line after it),
 * else its last line; from the log of the cell after offset `from`. */
static void attempt_error(const cell_pool *pl, int64_t cell, off_t from, char *out, size_t n) {
    char path[PATH_MAX + 64];
    log_path(pl, cell, path, sizeof path);
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    fseeko(f, 0, SEEK_END);
    off_t end = ftello(f);
    fseeko(f, end - from > LOG_TAIL_BYTES ? end - LOG_TAIL_BYTES : from, SEEK_SET);
    char line[512], last[512] = "";
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (found == 1 && strstr(line, "HINT: ")) {
            snprintf(out + strlen(out), n - strlen(out), "\n    %s", line);
            found = 2;
        } else if (!found && !strncmp(line, "error: ", 7)) {
            snprintf(out, n, "%s", line);
            found = 1;
        } else if (found == 1) {
            found = 2;
        } else if (line[strspn(line, "- ")]) { /* not empty, not a ---- rule */
            snprintf(last, sizeof last, "%s", line);
        }
    }
    fclose(f);
    if (!found)
        snprintf(out, n, "%s", last);
}

/* Fork `mpiexec -n RANKS EXE sweep run DIR --cell I` with the cell's ranks (Open MPI allowed to
 * oversubscribe when they are more than the cores; OPENBLAS_NUM_THREADS = its CPUs per rank
 * unless given), its output appended to the cell's log. */
static int start_cell(cell_pool *pl, int64_t cell) {
    char path[PATH_MAX + 64], ranks[24], cpus[24], cell_text[24], when[32];
    cell_resources r;
    sweep_cell_resources(&pl->p->sw, cell, &r);
    log_path(pl, cell, path, sizeof path);
    snprintf(ranks, sizeof ranks, "%d", r.ranks);
    snprintf(cpus, sizeof cpus, "%d", r.cpus_per_rank);
    snprintf(cell_text, sizeof cell_text, "%lld", (long long)cell);
    char *argv[] = {pl->mpiexec,        "-n",     ranks,     pl->exe, "sweep", "run",
                    (char *)pl->p->dir, "--cell", cell_text, NULL};
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0664);
    if (fd < 0)
        return rl_fail("cell %lld: cannot open its log %s: %s",
                       "check that the sweep directory is writable", (long long)cell, path,
                       strerror(errno));
    local_stamp(when, sizeof when);
    dprintf(fd,
            "%s sweep cell %lld: `ranklab sweep run --all` starts %s -n %s %s sweep run %s "
            "--cell %s\n",
            when, (long long)cell, pl->mpiexec, ranks, pl->exe, pl->p->dir, cell_text);
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
        return rl_fail("cell %lld: cannot start a process: %s",
                       "the machine may be short of memory or processes; run the same command "
                       "again later",
                       (long long)cell, strerror(err));
    setpgid(pid, pid); /* also here: whichever of the two runs first */
    pl->running[pl->n_running++] =
        (running_cell){cell, pid, r.ranks * r.cpus_per_rank, rl_now(), log_start};
    pl->cpus_running += r.ranks * r.cpus_per_rank;
    progress("cell %lld started (run id %s; log %s)", (long long)cell, pl->p->rows[cell].run_id,
             path);
    return 0;
}

/* "3 left (2 running, 1 waiting)" after a cell ended. */
static void left_text(const cell_pool *pl, char *out, size_t n) {
    snprintf(out, n, "%lld left (%d running, %lld waiting)",
             (long long)(pl->n_running + pl->waiting), pl->n_running, (long long)pl->waiting);
}

/* Classify the end of a child and report it. */
static void cell_ended(cell_pool *pl, running_cell c, int status) {
    double seconds = rl_now() - c.started;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    char what[128], left[96], detail[1024] = "", path[PATH_MAX + 64];
    if (WIFSIGNALED(status))
        snprintf(what, sizeof what, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(what, sizeof what, "exit code %d", code);
    if (code == RL_EXIT_OK && sweep_cell_status(pl->p, c.cell, SWEEP_DEFAULT_STALE_SECONDS, detail,
                                                sizeof detail) != CELL_COMPLETE)
        code = RL_EXIT_ERROR; /* mpiexec said done, the cell directory does not */
    left_text(pl, left, sizeof left);
    log_path(pl, c.cell, path, sizeof path);
    if (code == RL_EXIT_OK) {
        pl->n_completed++;
        log_say(pl, c.cell, "exit code 0 (complete)");
        progress("cell %lld complete (%.1f s); %s", (long long)c.cell, seconds, left);
    } else if (code == RL_EXIT_STOPPED || pl->stops) {
        /* After a stop, a cell whose ranks had no signal handler yet (or a second stop) ends
         * otherwise than with 75: stopped all the same, it resumes or starts again. */
        pl->stopped[pl->n_stopped++] = c.cell;
        char said[160];
        snprintf(said, sizeof said, "%s (%s)", what,
                 code == RL_EXIT_STOPPED ? "stopped after a checkpoint" : "ended by the stop");
        log_say(pl, c.cell, said);
        progress("cell %lld %s (%s, %.1f s); %s", (long long)c.cell,
                 code == RL_EXIT_STOPPED ? "stopped after a checkpoint" : "ended by the stop", what,
                 seconds, left);
    } else {
        pl->failed[pl->n_failed++] = c.cell;
        if (!detail[0])
            attempt_error(pl, c.cell, c.log_start, detail, sizeof detail);
        char said[160];
        snprintf(said, sizeof said, "%s (failed)", what);
        log_say(pl, c.cell, said);
        progress("cell %lld FAILED (%s, %.1f s); %s\n    %s\n    log: %s", (long long)c.cell, what,
                 seconds, left, detail[0] ? detail : "(no output)", path);
    }
}

/* Reap every child that has ended. */
static void reap(cell_pool *pl) {
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < pl->n_running; i++)
            if (pl->running[i].pid == pid) {
                running_cell c = pl->running[i];
                pl->running[i] = pl->running[--pl->n_running];
                pl->cpus_running -= c.cpus;
                cell_ended(pl, c, status);
                break;
            }
    }
}

/* The first stop: USR2 to each mpiexec (the ranks checkpoint and exit 75); later ones: SIGTERM
 * (mpiexec ends its ranks at once). */
static void forward_stop(cell_pool *pl, int sig) {
    int forward = ++pl->stops == 1 ? SIGUSR2 : SIGTERM;
    for (int i = 0; i < pl->n_running; i++)
        kill(pl->running[i].pid, forward);
    if (pl->stops == 1)
        progress("%s: no new cell starts; the %d running ones checkpoint and stop (USR2 to their "
                 "mpiexec). Send it again to end them at once.",
                 signal_name(sig), pl->n_running);
    else
        progress("%s again: ending the %d running cells now (SIGTERM to their mpiexec); they "
                 "resume from their last checkpoint",
                 signal_name(sig), pl->n_running);
}

/* Whether the cell may start now: fewer than --jobs cells run, or (without --jobs) its CPUs fit
 * in the cores left (a cell larger than the machine runs alone). */
static int cell_fits(const cell_pool *pl, int64_t cell) {
    if (pl->jobs)
        return pl->n_running < pl->jobs;
    cell_resources r;
    sweep_cell_resources(&pl->p->sw, cell, &r);
    return pl->n_running == 0 || pl->cpus_running + r.ranks * r.cpus_per_rank <= pl->cores;
}

/* Start the cells in todo, in order, as they fit, until all have ended or a stop came. */
static void run_pool(cell_pool *pl, const int64_t *todo, int64_t n_todo) {
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
    int64_t next = 0;
    for (;;) {
        while (!pl->stops && next < n_todo && cell_fits(pl, todo[next])) {
            int64_t cell = todo[next++];
            pl->waiting = n_todo - next;
            if (start_cell(pl, cell) < 0) {
                pl->failed[pl->n_failed++] = cell;
                progress("cell %lld FAILED to start: %s", (long long)cell, rl_error_message());
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

/* Print the outcome; the exit code. */
static int report(cell_pool *pl, const int64_t *elsewhere, int64_t n_elsewhere, const char *again) {
    const planned *p = pl->p;
    rl_text list = {0};
    int code = RL_EXIT_OK;
    if (pl->n_failed) {
        qsort(pl->failed, (size_t)pl->n_failed, sizeof(int64_t), compare_cells);
        sweep_format_cells(pl->failed, pl->n_failed, 0, &list);
        rl_fail("%lld of the %lld cells of %s failed: %s", NULL, (long long)pl->n_failed,
                (long long)p->sw.n_cells, p->dir, rl_text_str(&list));
        rl_fail_hint("the end of each one's log says why (%s/cell-NNNN.out); fix that, then run "
                     "`%s` again: complete cells are skipped, the others start again or resume "
                     "from their checkpoints",
                     pl->log_dir, again);
        fflush(stdout);
        rl_error_print();
        code = RL_EXIT_ERROR;
    } else if (pl->stops || pl->n_stopped) {
        if (pl->n_stopped)
            qsort(pl->stopped, (size_t)pl->n_stopped, sizeof(int64_t), compare_cells);
        sweep_format_cells(pl->stopped, pl->n_stopped, 0, &list);
        printf("stopped: ");
        if (pl->n_stopped)
            printf("cells %s stopped (they resume from their newest checkpoint); ",
                   rl_text_str(&list));
        printf("%lld not started. Run `%s` to resume.\n", (long long)pl->waiting, again);
        code = RL_EXIT_STOPPED;
    } else if (n_elsewhere) {
        sweep_format_cells(elsewhere, n_elsewhere, 0, &list);
        printf("%s %s %s running elsewhere (heartbeat younger than %d s) and left alone: "
               "`ranklab sweep status %s` follows %s\n",
               n_elsewhere == 1 ? "cell" : "cells", rl_text_str(&list),
               n_elsewhere == 1 ? "is" : "are", SWEEP_DEFAULT_STALE_SECONDS, p->dir,
               n_elsewhere == 1 ? "it" : "them");
        code = SWEEP_EXIT_NOT_COMPLETE;
    } else {
        printf("all %lld cells of %s are complete", (long long)p->sw.n_cells, p->dir);
        if (pl->n_completed)
            printf(" (%lld run now)\n", (long long)pl->n_completed);
        else
            printf("; nothing to run\n");
    }
    rl_text_free(&list);
    return code;
}

/* "1 rank x 1 CPU per cell", or the range of the cells': "1-4 ranks x 1 CPU per cell". */
static void cells_size_text(const planned *p, const int64_t *cells, int64_t n, int *max_cpus,
                            char *out, size_t size) {
    int lo[2] = {1 << 30, 1 << 30}, hi[2] = {0, 0};
    *max_cpus = 0;
    for (int64_t i = 0; i < n; i++) {
        cell_resources r;
        sweep_cell_resources(&p->sw, cells[i], &r);
        int v[2] = {r.ranks, r.cpus_per_rank};
        for (int k = 0; k < 2; k++) {
            lo[k] = v[k] < lo[k] ? v[k] : lo[k];
            hi[k] = v[k] > hi[k] ? v[k] : hi[k];
        }
        *max_cpus = r.ranks * r.cpus_per_rank > *max_cpus ? r.ranks * r.cpus_per_rank : *max_cpus;
    }
    char ranks[32], cpus[32];
    snprintf(ranks, sizeof ranks, lo[0] == hi[0] ? "%d" : "%d-%d", lo[0], hi[0]);
    snprintf(cpus, sizeof cpus, lo[1] == hi[1] ? "%d" : "%d-%d", lo[1], hi[1]);
    snprintf(out, size, "%s rank%s x %s CPU per cell", ranks, hi[0] == 1 ? "" : "s", cpus);
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
    snprintf(pl.log_dir, sizeof pl.log_dir, "%s/logs", dir);

    int64_t counts[4], n_todo = 0, n_elsewhere = 0;
    cell_state *states = sweep_all_states(&p, SWEEP_DEFAULT_STALE_SECONDS, 0, counts);
    int64_t *todo = rl_xmalloc(sizeof(int64_t) * (size_t)p.sw.n_cells);
    int64_t *elsewhere = rl_xmalloc(sizeof(int64_t) * (size_t)p.sw.n_cells);
    for (int64_t c = 0; c < p.sw.n_cells; c++) {
        if (states[c] == CELL_FAILED || states[c] == CELL_MISSING)
            todo[n_todo++] = c;
        else if (states[c] == CELL_RUNNING)
            elsewhere[n_elsewhere++] = c;
    }
    free(states);
    int max_cpus;
    char size[96];
    cells_size_text(&p, todo, n_todo, &max_cpus, size, sizeof size);
    pl.jobs = (int)(jobs_given < n_todo ? jobs_given : n_todo);
    printf("sweep %s: %lld cells: %lld complete, ", dir, (long long)p.sw.n_cells,
           (long long)counts[CELL_COMPLETE]);
    if (n_elsewhere)
        printf("%lld running elsewhere, ", (long long)n_elsewhere);
    if (n_todo && pl.jobs)
        printf("%lld to run here, %d at a time (--jobs; %d cores, %s)\n", (long long)n_todo,
               pl.jobs, cores, size);
    else if (n_todo)
        printf("%lld to run here, as many at a time as fit in the %d cores (%s)\n",
               (long long)n_todo, cores, size);
    else
        printf("none to run here\n");
    if (n_todo && max_cpus > cores)
        printf("note: a cell needs %d CPUs and this machine has %d cores: it runs alone, and Open "
               "MPI may oversubscribe (OMPI_MCA_rmaps_base_oversubscribe=1)\n",
               max_cpus, cores);
    if (n_todo && pl.jobs && (long long)pl.jobs * max_cpus > cores)
        printf("note: %d cells x up to %d CPUs > %d cores: they share the cores (slower; the "
               "results are the same)\n",
               pl.jobs, max_cpus, cores);

    char again[PATH_MAX + 96];
    if (jobs_given)
        snprintf(again, sizeof again, "ranklab sweep run %s --all --jobs %lld", dir, jobs_given);
    else
        snprintf(again, sizeof again, "ranklab sweep run %s --all", dir);
    int rc = RL_EXIT_OK;
    if (n_todo && io_make_dir(pl.log_dir) < 0) {
        rc = RL_ERR;
    } else if (n_todo) {
        printf("logs: %s/cell-NNNN.out; Ctrl-C or SIGTERM stops the cells at a checkpoint (`%s` "
               "resumes)\n",
               pl.log_dir, again);
        pl.running = rl_xmalloc(sizeof(running_cell) * (size_t)n_todo);
        pl.failed = rl_xmalloc(sizeof(int64_t) * (size_t)n_todo);
        pl.stopped = rl_xmalloc(sizeof(int64_t) * (size_t)n_todo);
        run_pool(&pl, todo, n_todo);
    }
    if (rc == RL_EXIT_OK)
        rc = report(&pl, elsewhere, n_elsewhere, again);
    free(pl.running);
    free(pl.failed);
    free(pl.stopped);
    free(todo);
    free(elsewhere);
    sweep_planned_free(&p);
    return rc;
}
