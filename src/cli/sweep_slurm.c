/* Slurm: `ranklab sweep submit` fills the batch script template (slurm/sweep.sbatch) with the
 * sweep's settings and submits one array job per resource tuple (ranks, CPUs per rank, time)
 * and block of at most MaxArraySize cells;
 * `resubmit --failed` does the same for the failed and missing cells only. Both refuse while
 * jobs of the sweep are still in the queue. */
#include "src/cli/sweep_internal.h"
#include "src/core/error.h"
#include "src/io/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Run argv (searched in PATH) and capture its stdout (caller frees). Returns the exit code,
 * 127 if the program cannot be started, -1 if it died of a signal. */
static int run_capture(char *const argv[], char **out) {
    int fds[2];
    *out = NULL;
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    rl_text b = {0};
    char chunk[4096];
    ssize_t got;
    while (pid > 0 && (got = read(fds[0], chunk, sizeof chunk)) > 0)
        rl_text_add(&b, "%.*s", (int)got, chunk);
    close(fds[0]);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return -1;
    *out = b.s ? b.s : rl_xstrdup("");
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

typedef struct {
    const char *name; /* the template's @NAME@ */
    const char *value;
    const char *what; /* names a value that comes from outside, for errors; NULL: a number */
} field;

/* Copy the template, replacing each @NAME@ by its field's value; a line with an empty value is
 * dropped. An unknown @NAME@ is an error (a typo in an edited template). */
static int fill_template(const char *tmpl, const char *origin, const field *fields, int n,
                         rl_text *out) {
    for (const char *line = tmpl; *line;) {
        size_t len = strcspn(line, "\n");
        rl_text filled = {0};
        int drop = 0;
        for (const char *c = line; c < line + len; c++) {
            size_t name_len = *c == '@' ? strspn(c + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") : 0;
            if (name_len == 0 || c[1 + name_len] != '@') {
                rl_text_add(&filled, "%c", *c);
                continue;
            }
            int i = 0;
            while (i < n && (strlen(fields[i].name) != name_len ||
                             strncmp(fields[i].name, c + 1, name_len) != 0))
                i++;
            if (i == n) {
                rl_text_free(&filled);
                return rl_fail("%s: unknown field @%.*s@",
                               "use the fields of slurm/sweep.sbatch (@RANKS@, @TIME@, ...)",
                               origin, (int)name_len, c + 1);
            }
            drop |= !fields[i].value[0];
            rl_text_add(&filled, "%s", fields[i].value);
            c += name_len + 1;
        }
        if (!drop)
            rl_text_add(out, "%s\n", rl_text_str(&filled));
        rl_text_free(&filled);
        line += len + (line[len] == '\n');
    }
    return 0;
}

/* The template: --template, $RANKLAB_SLURM_TEMPLATE, or slurm/sweep.sbatch beside the build. */
static char *load_template(const char *given, const char *exe, char *path, size_t n) {
    if (given)
        snprintf(path, n, "%s", given);
    else if (getenv("RANKLAB_SLURM_TEMPLATE"))
        snprintf(path, n, "%s", getenv("RANKLAB_SLURM_TEMPLATE"));
    else
        snprintf(path, n, "%.*s/../slurm/sweep.sbatch", (int)(strrchr(exe, '/') - exe), exe);
    char *text = rl_cfg_read_file(path, "Slurm template", RL_CFG_MAX_FILE_BYTES),
         resolved[PATH_MAX];
    if (text && realpath(path, resolved))
        snprintf(path, n, "%s", resolved);
    if (!text)
        rl_fail_hint("give the template with --template FILE or RANKLAB_SLURM_TEMPLATE (the "
                     "source tree has slurm/sweep.sbatch)");
    return text;
}

static int ask_max_array_size(long *out) {
    char *argv[] = {"scontrol", "show", "config", NULL}, *text;
    int rc = run_capture(argv, &text);
    const char *at = text ? strstr(text, "MaxArraySize") : NULL;
    if (rc != 0 || !at || sscanf(at, "MaxArraySize = %ld", out) != 1 || *out < 1)
        rc = rl_fail("cannot read MaxArraySize from `scontrol show config` (exit %d)",
                     "is Slurm reachable from here? (slurm/local-cluster.sh up starts one here; "
                     "--max-array-size N skips this question)",
                     rc);
    free(text);
    return rc;
}

/* The ids (squeue's `format`: %A each job, %F an array's base id) of this user's jobs in the
 * queue whose --comment is abs_dir (a sweep's directory), as " 12 13 " in *ids. */
static int queued_jobs(const char *abs_dir, const char *format, rl_text *ids) {
    char spec[16], *text;
    snprintf(spec, sizeof spec, "%s\t%%k", format);
    char *argv[] = {"squeue", "--me", "-h", "-o", spec, NULL};
    int rc = run_capture(argv, &text);
    if (rc != 0) {
        free(text);
        return rl_fail("squeue failed (exit %d)", "is Slurm reachable from here?", rc);
    }
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *tab = strchr(line, '\t'), word[64];
        *(tab ? tab : line) = '\0';
        snprintf(word, sizeof word, " %s ", line);
        if (tab && !strcmp(tab + 1, abs_dir) && !strstr(rl_text_str(ids), word))
            rl_text_add(ids, "%s", ids->len ? word + 1 : word);
    }
    free(text);
    return 0;
}

/* Fails when jobs of this sweep (their --comment is the sweep path) are still in the queue. */
static int check_queue(const char *abs_dir) {
    rl_text ids = {0};
    int rc = queued_jobs(abs_dir, "%A", &ids);
    if (rc == 0 && ids.len) {
        ids.s[--ids.len] = '\0';
        rl_fail("jobs of this sweep are still in the queue:%s", NULL, ids.s);
        rc = rl_fail_hint("wait until they are done (squeue --me), or cancel them (scancel%s); "
                          "cells pending in Slurm look missing to `sweep status`",
                          ids.s);
    }
    rl_text_free(&ids);
    return rc;
}

/* ---- stages: Slurm dependencies ---- */

/* What a cell waits for in Slurm: the array job holding its upstream cell (job 0: nothing) and
 * that cell's task id in it (-1: unknown). */
typedef struct {
    long long job;
    int64_t task;
} cell_dependency;

/* Whether the cell list "0-3,7" (as submitted.tsv has it) holds cell. */
static int cells_hold(const char *list, int64_t cell) {
    for (const char *at = list; *at;) {
        char *end;
        long long lo = strtoll(at, &end, 10), hi = lo;
        if (*end == '-')
            hi = strtoll(end + 1, &end, 10);
        if (cell >= lo && cell <= hi)
            return 1;
        at = *end == ',' ? end + 1 : "";
    }
    return 0;
}

/* The newest job of up's jobs/submitted.tsv that holds the cell and is in `queued` (" 12 13 "). */
static cell_dependency queued_job_of(const planned *up, int64_t cell, const char *queued) {
    cell_dependency found = {0, -1};
    char path[PATH_MAX + 32], *line = NULL;
    size_t size = 0;
    snprintf(path, sizeof path, "%s/jobs/submitted.tsv", up->dir);
    FILE *f = fopen(path, "r");
    while (f && getline(&line, &size, f) > 0) {
        char *field[5] = {NULL}, *save = NULL, word[80];
        field[0] = strtok_r(line, "\t\n", &save);
        for (int i = 1; i < 5 && field[i - 1]; i++)
            field[i] = strtok_r(NULL, "\t\n", &save);
        if (!field[3])
            continue;
        snprintf(word, sizeof word, " %s ", field[1]);
        if (strstr(queued, word) && cells_hold(field[3], cell))
            found = (cell_dependency){atoll(field[1]), field[4] ? cell - atoll(field[4]) : -1};
    }
    free(line);
    if (f)
        fclose(f);
    return found;
}

/* The dependency of each cell to submit: none when it starts from no cell or from a complete
 * one, else the queued job of that cell; an error when that cell is neither complete nor
 * queued (Slurm would wait forever). */
static int find_dependencies(const planned *p, const int64_t *cells, int64_t n,
                             cell_dependency *deps) {
    int n_sweeps = p->sw.n_refs; /* the upstream sweeps: each one's queue is asked once */
    rl_text *queued = rl_xcalloc((size_t)n_sweeps + 1, sizeof *queued);
    const planned **asked = rl_xcalloc((size_t)n_sweeps + 1, sizeof *asked);
    int rc = 0;
    for (int64_t i = 0; rc == 0 && i < n; i++) {
        upstream_cell up;
        char detail[512], abs_up[PATH_MAX];
        deps[i] = (cell_dependency){0, -1};
        if ((rc = sweep_cell_upstream(p, cells[i], &up)) < 0 || !up.p)
            continue;
        cell_state state =
            sweep_cell_status(up.p, up.cell, SWEEP_DEFAULT_STALE_SECONDS, detail, sizeof detail);
        if (state == CELL_COMPLETE)
            continue;
        int k = 0;
        while (asked[k] && asked[k] != up.p)
            k++;
        if (!asked[k]) {
            asked[k] = up.p;
            rc = realpath(up.p->dir, abs_up) ? queued_jobs(abs_up, "%F", &queued[k]) : RL_ERR;
            rl_text_add(&queued[k], " ");
        }
        if (rc == 0)
            deps[i] = queued_job_of(up.p, up.cell, queued[k].s);
        if (rc == 0 && deps[i].job == 0) {
            rl_fail("cell %lld starts from cell %lld of %s, which is %s and in no queued job of "
                    "that sweep%s%s",
                    NULL, (long long)cells[i], (long long)up.cell, up.p->dir,
                    sweep_state_name(state), detail[0] ? ": " : "", detail);
            rc = rl_fail_hint("submit that sweep first (ranklab sweep submit %s, or resubmit %s "
                              "--failed), then this one: Slurm starts each cell after the cell it "
                              "starts from",
                              up.p->dir, up.p->dir);
        }
    }
    for (int k = 0; k < n_sweeps; k++)
        rl_text_free(&queued[k]);
    free(queued);
    free(asked);
    return rc;
}

/* --dependency for cells[0, n) of one array (offset: its task ids' start), all waiting for job:
 * aftercorr when task t waits for task t of that job (arrays that pair 1:1), else afterok. */
static void dependency_text(const int64_t *cells, const cell_dependency *deps, int64_t n,
                            int64_t offset, char *out, size_t size) {
    int pairs = 1;
    for (int64_t i = 0; i < n && pairs; i++)
        pairs = deps[i].task == cells[i] - offset;
    snprintf(out, size, "%s:%lld", pairs ? "aftercorr" : "afterok", deps[0].job);
}

/* Write SWEEP_DIR/jobs/NNN.sbatch, sbatch it, note it in jobs/submitted.tsv (when, job, script,
 * cells, offset of its task ids). */
static int sbatch_script(const char *jobs_dir, const char *script, const char *cells,
                         int64_t offset) {
    int k = 0;
    char name[32], path[PATH_MAX + 64], when[32];
    do {
        snprintf(name, sizeof name, "%03d.sbatch", ++k);
        snprintf(path, sizeof path, "%s/%s", jobs_dir, name);
    } while (io_path_exists(path));
    if (sweep_write_text(jobs_dir, name, script) < 0)
        return RL_ERR;
    char *job_id, *argv[] = {"sbatch", "--parsable", path, NULL};
    int code = run_capture(argv, &job_id);
    if (code != 0) {
        free(job_id);
        return rl_fail("sbatch %s failed (exit %d)",
                       code == 127 ? "sbatch is not installed here: run on a Slurm login node, or "
                                     "start one with slurm/local-cluster.sh up"
                                   : "see sbatch's message above",
                       path, code);
    }
    job_id[strcspn(job_id, ";\n")] = '\0';
    sweep_utc_now(when, sizeof when);
    snprintf(path, sizeof path, "%s/submitted.tsv", jobs_dir);
    FILE *f = fopen(path, "a");
    if (f) {
        fprintf(f, "%s\t%s\t%s\t%s\t%lld\n", when, job_id, name, cells, (long long)offset);
        fclose(f);
    }
    printf("submitted job %s: cells %s (%s)\n", job_id, cells, name);
    free(job_id);
    return 0;
}

/* One array job per resource tuple, upstream job waited for (stages) and block of MaxArraySize
 * cells (task id = cell - block offset), from the template; --dry-run prints the scripts. cells
 * are sorted. */
static int submit_cells(planned *p, const int64_t *cells, int64_t n, const sweep_opts *o) {
    char abs_dir[PATH_MAX], exe[PATH_MAX], tmpl_path[PATH_MAX + 64];
    if (!realpath(p->dir, abs_dir) || !realpath("/proc/self/exe", exe))
        return rl_fail("cannot resolve the path of %s", "check the sweep directory", p->dir);
    const rl_config *s = p->sw.settings;
    char log_dir[PATH_MAX + 8], jobs_dir[PATH_MAX + 8], job_name[PATH_MAX + 8], num[5][24];
    snprintf(log_dir, sizeof log_dir, "%s/logs", abs_dir);
    snprintf(jobs_dir, sizeof jobs_dir, "%s/jobs", abs_dir);
    snprintf(job_name, sizeof job_name, "rl-%s", strrchr(abs_dir, '/') + 1);
    snprintf(num[2], sizeof num[2], "%lld", (long long)rl_cfg_int(s, "sweep.signal_seconds"));
    snprintf(num[3], sizeof num[3], "%lld", (long long)rl_cfg_int(s, "sweep.max_requeues"));
    field fields[] = {
        {"SWEEP_DIR", abs_dir, "the sweep directory"}, /* checked first: it makes the next */
        {"JOB_NAME", job_name, "the job name (from the sweep directory's name)"},
        {"PARTITION", rl_cfg_str(s, "sweep.partition"), "sweep.partition ="},
        {"LOG_DIR", log_dir, "the log directory"},
        {"RANKLAB", exe, "the path of the ranklab program"},
        {"SIGNAL_SECONDS", num[2], NULL},
        {"MAX_REQUEUES", num[3], NULL},
        {"RANKS", num[0], NULL}, /* per resource tuple, below */
        {"CPUS_PER_RANK", num[1], NULL},
        {"TIME", NULL, NULL},
        {"OFFSET", num[4], NULL}, /* per array, below */
        {"DEPENDENCY", NULL, NULL},
        {"KILL_ON_INVALID_DEP", NULL, NULL},
        {"ARRAY", NULL, NULL},
    };
    enum { N_FIELDS = sizeof fields / sizeof fields[0], F_TIME = N_FIELDS - 5 };
    /* Nothing substituted may need quoting: the #SBATCH lines cannot quote (the time was checked
     * at plan). */
    for (int f = 0; f < F_TIME; f++)
        if (fields[f].what && sweep_check_script_value(fields[f].what, fields[f].value) < 0)
            return RL_ERR;
    long max_array = o->max_array_size;
    if ((!max_array && ask_max_array_size(&max_array) < 0) ||
        (!o->dry_run && check_queue(abs_dir) < 0))
        return RL_ERR;
    char *tmpl = load_template(o->template_path, exe, tmpl_path, sizeof tmpl_path);
    if (!tmpl)
        return RL_ERR;
    cell_resources *tuples;
    int *group;
    sweep_resource_groups(&p->sw, &tuples, &group);
    cell_dependency *deps = rl_xcalloc((size_t)n + 1, sizeof *deps);
    cell_dependency *my_deps = rl_xcalloc((size_t)n + 1, sizeof *my_deps);
    int64_t *mine = rl_xmalloc(sizeof(int64_t) * (size_t)(n + 1));
    int rc = find_dependencies(p, cells, n, deps);
    if (rc == 0 && !o->dry_run && (io_make_dir(log_dir) < 0 || io_make_dir(jobs_dir) < 0))
        rc = RL_ERR;
    /* One array per resource tuple and job waited for, split into blocks of MaxArraySize. */
    for (int64_t first = 0; rc == 0 && first < n; first++) {
        int g = group[cells[first]];
        long long job = deps[first].job;
        int64_t n_mine = 0, seen = 0;
        for (int64_t i = 0; i < first && !seen; i++)
            seen = group[cells[i]] == g && deps[i].job == job; /* that array is written */
        for (int64_t i = first; i < n && !seen; i++)
            if (group[cells[i]] == g && deps[i].job == job) {
                my_deps[n_mine] = deps[i];
                mine[n_mine++] = cells[i];
            }
        snprintf(num[0], sizeof num[0], "%d", tuples[g].ranks);
        snprintf(num[1], sizeof num[1], "%d", tuples[g].cpus_per_rank);
        fields[F_TIME].value = tuples[g].time;
        for (int64_t i = 0, j; rc == 0 && i < n_mine; i = j) {
            int64_t offset = mine[i] / max_array * max_array;
            j = i;
            while (j < n_mine && mine[j] < offset + max_array)
                j++;
            rl_text spec = {0}, array = {0}, script = {0};
            char dependency[96] = "";
            if (job)
                dependency_text(mine + i, my_deps + i, j - i, offset, dependency,
                                sizeof dependency);
            sweep_format_cells(mine + i, j - i, 0, &spec);
            sweep_format_cells(mine + i, j - i, offset, &array);
            if (rl_cfg_int(s, "sweep.throttle"))
                rl_text_add(&array, "%%%lld", (long long)rl_cfg_int(s, "sweep.throttle"));
            snprintf(num[4], sizeof num[4], "%lld", (long long)offset);
            fields[N_FIELDS - 3].value = dependency;
            fields[N_FIELDS - 2].value = job ? "yes" : ""; /* a failed upstream cancels the cell */
            fields[N_FIELDS - 1].value = array.s;
            rc = fill_template(tmpl, tmpl_path, fields, N_FIELDS, &script);
            if (rc == 0 && o->dry_run)
                printf("# ---- array job for cells %s, from %s (--dry-run: not submitted)\n%s",
                       spec.s, tmpl_path, script.s);
            else if (rc == 0)
                rc = sbatch_script(jobs_dir, script.s, spec.s, offset);
            rl_text_free(&spec);
            rl_text_free(&array);
            rl_text_free(&script);
        }
    }
    if (rc == 0 && !o->dry_run)
        printf("logs: %s/JOB_TASK.out; progress: ranklab sweep status %s\n", log_dir, p->dir);
    free(mine);
    free(deps);
    free(my_deps);
    free(tuples);
    free(group);
    free(tmpl);
    return rc;
}

int sweep_cmd_submit(int argc, char **argv, int resubmit) {
    sweep_opts o;
    const char *usage = resubmit ? "ranklab sweep resubmit SWEEP_DIR --failed [--dry-run]"
                                 : "ranklab sweep submit SWEEP_DIR [--dry-run]";
    if (sweep_parse_opts(argc, argv, &o, usage) < 0)
        return RL_ERR;
    if (resubmit && !o.failed)
        return rl_fail("resubmit needs --failed", "ranklab sweep resubmit SWEEP_DIR --failed "
                                                  "(resubmits the failed and missing cells)");
    planned p;
    if (sweep_planned_open(&p, o.dir) < 0) {
        sweep_planned_free(&p);
        return RL_ERR;
    }
    int64_t *cells = rl_xmalloc(sizeof(int64_t) * (size_t)p.sw.n_cells), n = 0;
    int64_t counts[CELL_N_STATES] = {0};
    cell_state *states = resubmit ? sweep_all_states(&p, o.stale, 0, counts) : NULL;
    for (int64_t c = 0; c < p.sw.n_cells; c++)
        if (!resubmit || CELL_TO_RUN(states[c]))
            cells[n++] = c;
    int rc = 0;
    if (n == 0) {
        printf("nothing to resubmit: %lld complete, %lld running of %lld cells\n",
               (long long)counts[CELL_COMPLETE], (long long)counts[CELL_RUNNING],
               (long long)p.sw.n_cells);
    } else {
        if (resubmit) {
            rl_text spec = {0};
            sweep_format_cells(cells, n, 0, &spec);
            printf("resubmitting %lld of %lld cells (%lld failed, %lld missing", (long long)n,
                   (long long)p.sw.n_cells, (long long)counts[CELL_FAILED],
                   (long long)counts[CELL_MISSING]);
            if (counts[CELL_WAITING])
                printf(", %lld waiting", (long long)counts[CELL_WAITING]);
            printf("): %s\n", spec.s);
            rl_text_free(&spec);
        }
        rc = submit_cells(&p, cells, n, &o);
    }
    free(states);
    free(cells);
    sweep_planned_free(&p);
    return rc;
}
