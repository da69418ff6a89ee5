/* `ranklab sweep`: a grid of configs of one experiment, planned into a sweep directory,
 * submitted as Slurm job arrays from slurm/sweep.sbatch, run one cell at a time (resuming from
 * checkpoints), checked from the files the cells write, and resubmitted where cells failed.
 *
 * SWEEP_DIR/sweep.ini      copy of the sweep file (the experiment INI plus [sweep])
 * SWEEP_DIR/manifest.tsv   cell, run_id, dir, one column per swept key (canonical values)
 * SWEEP_DIR/cells/NNNN-RUNID/  one run directory per cell (results.h5, ckpt/, sweep-cell.txt)
 * SWEEP_DIR/jobs/          the submitted sbatch scripts and submitted.tsv; logs/ their output
 */
#include "src/cli/sweep.h"
#include "experiments/experiment.h"
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/core/stop.h"
#include "src/io/io.h"

#include <ini.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#define SWEEP_MAX_KEYS 64
#define SWEEP_MAX_CELLS 1000000
#define HEARTBEAT_SECONDS 30
#define DEFAULT_STALE_SECONDS 120
#define EXIT_NOT_COMPLETE 3

static const char *sweep_help =
    "usage:\n"
    "  ranklab sweep plan FILE --dir SWEEP_DIR\n"
    "  ranklab sweep submit SWEEP_DIR [--dry-run] [--template FILE] [--max-array-size N]\n"
    "  mpiexec -n P ranklab sweep run SWEEP_DIR [--cell I]\n"
    "  ranklab sweep status SWEEP_DIR [--stale SECONDS]\n"
    "  ranklab sweep resubmit SWEEP_DIR --failed [--dry-run] [--stale SECONDS] [...]\n"
    "\n"
    "A sweep file is an experiment's INI plus a [sweep] section. In [sweep], keys with a dot\n"
    "take comma lists of values and are swept; the other keys are the settings below:\n"
    "\n"
    "  [sweep]\n"
    "  experiment = train            # the experiment every cell runs (required)\n"
    "  train.lr = 0.1, 0.01          # swept: every combination (a grid) ...\n"
    "  train.batch = 64, 256\n"
    "  zip = train.lr, train.batch   # ... except zipped keys, which move together\n"
    "  run.seed = 1, 2, 3            # (one zip line per group of keys)\n"
    "  ranks = 2\n"
    "  time = 00:30:00\n"
    "  [train]\n"
    "  epochs = 5                    # fixed for every cell\n"
    "\n"
    "Cells are numbered in file order, the last swept key fastest. A value holding a comma is\n"
    "quoted: attack.methods = \"zoqo,sign\", sign. Relative paths in the file (data.dir,\n"
    "init.from) are taken from the directory a cell runs in: where you submit from.\n"
    "\n"
    "plan      resolves every cell (errors before anything is written), writes SWEEP_DIR/\n"
    "          sweep.ini and manifest.tsv (cell, run_id, dir, swept values) and prints the\n"
    "          count and resources. The run id is the one `ranklab run` gives the same config;\n"
    "          a cell runs in SWEEP_DIR/cells/NNNN-RUNID. Planning the same file again is a\n"
    "          no-op; another file into the same directory is refused.\n"
    "submit    writes SWEEP_DIR/jobs/NNN.sbatch from slurm/sweep.sbatch (array of all cells,\n"
    "          split into several arrays above MaxArraySize) and submits it with sbatch;\n"
    "          --dry-run prints the script(s) instead. Logs: SWEEP_DIR/logs/JOB_TASK.out.\n"
    "run       runs one cell on the ranks it is started with; without --cell, I is\n"
    "          SLURM_ARRAY_TASK_ID. A complete cell is skipped, a partial one resumes from its\n"
    "          newest checkpoint. Exit codes as `ranklab run`: 75 = stopped after a checkpoint\n"
    "          (the array script requeues the task, at most sweep.max_requeues times).\n"
    "status    reads the cell directories (not Slurm): complete (results.h5 status complete),\n"
    "          running (heartbeat younger than --stale, default 120 s), failed (started, not\n"
    "          complete, not running), missing (never started). Exit 0 when every cell is\n"
    "          complete, 3 otherwise.\n"
    "resubmit  --failed: submits the failed and missing cells only and prints their array spec\n"
    "          (e.g. 3,7,12-15). Refused while jobs of this sweep are still in the queue.\n"
    "\n"
    "The Python side: /usr/bin/python3 analysis/report.py SWEEP_DIR (tables and plots).\n"
    "\n"
    "settings in [sweep] (written there without the \"sweep.\" prefix):\n";

static const rl_cfg_spec setting_keys[] = {
    {"sweep.experiment", RL_CFG_STRING, "", 0, -1, NULL, 0,
     "experiment every cell runs (`ranklab list`)"},
    {"sweep.ranks", RL_CFG_INT, "1", 1, 1e6, NULL, 0, "MPI ranks per cell (sbatch --ntasks)"},
    {"sweep.cpus_per_rank", RL_CFG_INT, "1", 1, 1024, NULL, 0,
     "cores per rank (sbatch --cpus-per-task; OPENBLAS_NUM_THREADS)"},
    {"sweep.time", RL_CFG_STRING, "01:00:00", 0, -1, NULL, 0,
     "time limit of one cell, in Slurm's format (sbatch --time)"},
    {"sweep.partition", RL_CFG_STRING, "", 0, -1, NULL, 0,
     "Slurm partition (empty: the cluster's default)"},
    {"sweep.throttle", RL_CFG_INT, "0", 0, 1e6, NULL, 0,
     "at most N cells of an array running at once (--array=...%N; 0: no limit)"},
    {"sweep.signal_seconds", RL_CFG_INT, "120", 0, 65535, NULL, 0,
     "Slurm sends USR2 this long before the time limit: checkpoint, exit 75, requeue"},
    {"sweep.max_requeues", RL_CFG_INT, "3", 0, 1000, NULL, 0,
     "requeues of a cell after stops (time limit, preemption, USR2)"},
};

/* ---- small helpers: growing text, files, child processes ---- */

typedef struct {
    char *s;
    size_t len, cap;
} text_buf;

static void text_add(text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(text_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->len + (size_t)need + 1 > b->cap) {
        b->cap = 2 * (b->len + (size_t)need + 1) + 256;
        b->s = realloc(b->s, b->cap);
        if (!b->s)
            abort();
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)need + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)need;
}

static const char *text_str(const text_buf *b) {
    return b->s ? b->s : "";
}

/* The whole file as a string (caller frees), or NULL with the error stored. */
static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        rl_fail("cannot read %s", "check the path", path);
        return NULL;
    }
    text_buf b = {0};
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        text_add(&b, "%.*s", (int)got, chunk);
    fclose(f);
    if (!b.s)
        text_add(&b, "%s", "");
    return b.s;
}

/* Write a text file durably: temporary name, fsync, rename, fsync of the directory. */
static int write_text_atomic(const char *dir, const char *name, const char *text) {
    char path[PATH_MAX + 64], tmp[PATH_MAX + 80];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return rl_fail("cannot write %s", "check that the directory is writable", tmp);
    int bad = fputs(text, f) < 0;
    bad |= fclose(f) != 0;
    if (bad)
        return rl_fail("cannot write %s", "check disk space", tmp);
    if (io_fsync_file(tmp) < 0)
        return RL_ERR;
    if (rename(tmp, path) != 0)
        return rl_fail("cannot rename %s to %s", "check the directory", tmp, path);
    return io_fsync_dir(dir);
}

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
    text_buf b = {0};
    char chunk[4096];
    ssize_t got;
    while (pid > 0 && (got = read(fds[0], chunk, sizeof chunk)) > 0)
        text_add(&b, "%.*s", (int)got, chunk);
    close(fds[0]);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return -1;
    *out = b.s ? b.s : rl_xstrdup("");
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* "a, b, \"c,d\"" -> a | b | c,d (trimmed; quotes keep commas). Items are appended. */
static int split_list(const char *text, const char *what, char ***items, int *n) {
    int quoted = 0;
    const char *start = text;
    for (const char *p = text;; p++) {
        if (*p == '"')
            quoted = !quoted;
        if (*p && (quoted || *p != ','))
            continue;
        const char *a = start, *z = p;
        while (a < z && (*a == ' ' || *a == '\t'))
            a++;
        while (z > a && (z[-1] == ' ' || z[-1] == '\t'))
            z--;
        if (z - a >= 2 && *a == '"' && z[-1] == '"') {
            a++;
            z--;
        }
        if (z == a)
            return rl_fail("%s: empty item in the list '%s'",
                           "separate values with commas, e.g. train.lr = 0.1, 0.01", what, text);
        *items = realloc(*items, sizeof(char *) * (size_t)(*n + 1));
        if (!*items)
            abort();
        char *item = rl_xmalloc((size_t)(z - a) + 1);
        memcpy(item, a, (size_t)(z - a));
        item[z - a] = '\0';
        (*items)[(*n)++] = item;
        if (!*p)
            return quoted ? rl_fail("%s: unbalanced quote in '%s'", "close the quote", what, text)
                          : 0;
        start = p + 1;
    }
}

static void free_list(char **items, int n) {
    for (int i = 0; i < n; i++)
        free(items[i]);
    free(items);
}

/* Slurm time ("M", "M:S", "H:M:S", "D-H", "D-H:M", "D-H:M:S") in seconds. */
static int parse_slurm_time(const char *s, long *seconds) {
    long days = 0, f[3] = {0, 0, 0};
    int nf = 0, has_days = strchr(s, '-') != NULL;
    const char *p = s;
    char *end = (char *)s;
    if (has_days) {
        days = strtol(p, &end, 10);
        p = end + 1;
    }
    while (nf < 3 && *p >= '0' && *p <= '9') {
        f[nf++] = strtol(p, &end, 10);
        if (*end != ':')
            break;
        p = end + 1;
    }
    if (nf == 0 || *end || days < 0)
        return rl_fail("sweep.time = '%s' is not a Slurm time",
                       "use MM, HH:MM:SS or D-HH:MM:SS, e.g. time = 02:00:00", s);
    if (has_days)
        *seconds = days * 86400 + f[0] * 3600 + f[1] * 60 + f[2];
    else if (nf == 3)
        *seconds = f[0] * 3600 + f[1] * 60 + f[2];
    else
        *seconds = f[0] * 60 + f[1];
    return 0;
}

/* ---- the sweep file ---- */

typedef struct {
    char *key;     /* "section.name" */
    char **values; /* (n_values) as written */
    int n_values;
    int axis;
} swept_key;

typedef struct {
    char path[PATH_MAX];
    const rl_experiment *exp;
    rl_config *settings; /* sweep.* keys, resolved */
    text_buf base_ini;   /* every section but [sweep] */
    text_buf settings_ini;
    swept_key keys[SWEEP_MAX_KEYS];
    int n_keys;
    char **zips; /* (n_zips) zip lines */
    int n_zips;
    int axis_len[SWEEP_MAX_KEYS];
    int n_axes;
    int64_t n_cells;
} sweep;

typedef struct {
    sweep *sw;
    char section[128]; /* last section written to base_ini */
    int failed;
} parse_ctx;

static int on_sweep_entry(void *user, const char *section, const char *name, const char *value) {
    parse_ctx *ctx = user;
    sweep *sw = ctx->sw;
    if (strcmp(section, "sweep") != 0) {
        if (strcmp(section, ctx->section) != 0) {
            text_add(&sw->base_ini, "[%s]\n", section);
            snprintf(ctx->section, sizeof ctx->section, "%s", section);
        }
        text_add(&sw->base_ini, "%s = %s\n", name, value);
        return 1;
    }
    char what[PATH_MAX + 160];
    snprintf(what, sizeof what, "%s [sweep] %s", sw->path, name);
    if (!strcmp(name, "zip")) {
        sw->zips = realloc(sw->zips, sizeof(char *) * (size_t)(sw->n_zips + 1));
        if (!sw->zips)
            abort();
        sw->zips[sw->n_zips++] = rl_xstrdup(value);
        return 1;
    }
    if (!strchr(name, '.')) {
        text_add(&sw->settings_ini, "%s = %s\n", name, value);
        return 1;
    }
    /* A key given again (or an indented continuation line) adds values to its list. */
    int k = 0;
    while (k < sw->n_keys && strcmp(sw->keys[k].key, name) != 0)
        k++;
    if (k == SWEEP_MAX_KEYS) {
        ctx->failed = rl_fail("%s: more than %d swept keys", "sweep fewer keys at once", sw->path,
                              SWEEP_MAX_KEYS);
        return 0;
    }
    if (k == sw->n_keys)
        sw->keys[sw->n_keys++] = (swept_key){rl_xstrdup(name), NULL, 0, -1};
    if (split_list(value, what, &sw->keys[k].values, &sw->keys[k].n_values) < 0) {
        ctx->failed = RL_ERR;
        return 0;
    }
    return 1;
}

static void sweep_free(sweep *sw) {
    rl_cfg_free(sw->settings);
    free(sw->base_ini.s);
    free(sw->settings_ini.s);
    for (int k = 0; k < sw->n_keys; k++) {
        free(sw->keys[k].key);
        free_list(sw->keys[k].values, sw->keys[k].n_values);
    }
    free_list(sw->zips, sw->n_zips);
    memset(sw, 0, sizeof *sw);
}

static int find_key(const sweep *sw, const char *key) {
    for (int k = 0; k < sw->n_keys; k++)
        if (!strcmp(sw->keys[k].key, key))
            return k;
    return -1;
}

/* Axes: one per unzipped key, one per zip group, in the order the keys were given. */
static int build_axes(sweep *sw) {
    int group[SWEEP_MAX_KEYS];
    for (int k = 0; k < sw->n_keys; k++)
        group[k] = -1;
    for (int z = 0; z < sw->n_zips; z++) {
        char **names = NULL;
        int n = 0, rc = split_list(sw->zips[z], "zip", &names, &n);
        if (rc == 0 && n < 2)
            rc = rl_fail("%s: zip = %s names fewer than two keys",
                         "zip lists swept keys that move together: zip = train.lr, train.batch",
                         sw->path, sw->zips[z]);
        for (int i = 0; rc == 0 && i < n; i++) {
            int k = find_key(sw, names[i]);
            if (k < 0)
                rc = rl_fail("%s: zip names %s, which has no list in [sweep]",
                             "give it values in [sweep], e.g. train.lr = 0.1, 0.01", sw->path,
                             names[i]);
            else if (group[k] >= 0)
                rc = rl_fail("%s: %s is in two zip groups", "put each key in one zip line",
                             sw->path, names[i]);
            else if (sw->keys[k].n_values != sw->keys[find_key(sw, names[0])].n_values)
                rc = rl_fail("%s: zipped keys %s and %s have %d and %d values",
                             "zipped keys need lists of the same length", sw->path, names[0],
                             names[i], sw->keys[find_key(sw, names[0])].n_values,
                             sw->keys[k].n_values);
            else
                group[k] = z;
        }
        free_list(names, n);
        if (rc < 0)
            return RL_ERR;
    }
    sw->n_axes = 0;
    sw->n_cells = 1;
    for (int k = 0; k < sw->n_keys; k++) {
        if (sw->keys[k].axis >= 0)
            continue;
        int a = sw->n_axes++;
        for (int j = k; j < sw->n_keys; j++)
            if (j == k || (group[k] >= 0 && group[j] == group[k]))
                sw->keys[j].axis = a;
        sw->axis_len[a] = sw->keys[k].n_values;
        sw->n_cells *= sw->axis_len[a];
        if (sw->n_cells > SWEEP_MAX_CELLS)
            return rl_fail("%s: more than %d cells", "split the sweep into several files", sw->path,
                           SWEEP_MAX_CELLS);
    }
    return 0;
}

static int sweep_load(const char *path, sweep *sw) {
    memset(sw, 0, sizeof *sw);
    snprintf(sw->path, sizeof sw->path, "%s", path);
    parse_ctx ctx = {sw, "", 0};
    text_add(&sw->settings_ini, "[sweep]\n");
    int line = ini_parse(path, on_sweep_entry, &ctx);
    if (ctx.failed)
        return RL_ERR;
    if (line == -1)
        return rl_fail("cannot open sweep file %s", "check the path", path);
    if (line != 0)
        return rl_fail("%s:%d: not a valid INI line",
                       "lines look like `[section]` or `key = value`", path, line);
    sw->settings = rl_cfg_new();
    rl_cfg_declare(sw->settings, setting_keys, sizeof setting_keys / sizeof setting_keys[0]);
    if (rl_cfg_load_text(sw->settings, text_str(&sw->settings_ini), path) < 0 ||
        rl_cfg_resolve(sw->settings) < 0)
        return RL_ERR;
    const char *name = rl_cfg_str(sw->settings, "sweep.experiment");
    if (!name[0])
        return rl_fail("%s: [sweep] names no experiment",
                       "add `experiment = train` (or another from `ranklab list`) to [sweep]",
                       path);
    sw->exp = rl_experiment_find(name);
    if (!sw->exp)
        return rl_fail("%s: unknown experiment '%s'", "`ranklab list` shows the experiments", path,
                       name);
    long seconds;
    if (parse_slurm_time(rl_cfg_str(sw->settings, "sweep.time"), &seconds) < 0)
        return rl_fail_context("%s", path);
    if (rl_cfg_int(sw->settings, "sweep.signal_seconds") >= seconds)
        return rl_fail("%s: sweep.signal_seconds = %lld is not shorter than sweep.time = %s",
                       "the stop signal comes signal_seconds before the time limit: lower it, "
                       "or raise time",
                       path, (long long)rl_cfg_int(sw->settings, "sweep.signal_seconds"),
                       rl_cfg_str(sw->settings, "sweep.time"));
    return build_axes(sw);
}

/* The value index of each swept key in a cell: the last axis moves fastest. */
static void cell_values(const sweep *sw, int64_t cell, int *value_of_key) {
    int64_t rest = cell;
    int digit[SWEEP_MAX_KEYS];
    for (int a = sw->n_axes - 1; a >= 0; a--) {
        digit[a] = (int)(rest % sw->axis_len[a]);
        rest /= sw->axis_len[a];
    }
    for (int k = 0; k < sw->n_keys; k++)
        value_of_key[k] = digit[sw->keys[k].axis];
}

/* The resolved config of a cell: defaults, the sweep file's sections, the cell's values. */
static int cell_config(const sweep *sw, int64_t cell, rl_config **out) {
    rl_config *cfg = rl_experiment_new_config(sw->exp);
    if (!cfg)
        return RL_ERR;
    int value_of[SWEEP_MAX_KEYS];
    cell_values(sw, cell, value_of);
    text_buf cell_ini = {0};
    for (int k = 0; k < sw->n_keys; k++) {
        const char *key = sw->keys[k].key, *dot = strchr(key, '.');
        text_add(&cell_ini, "[%.*s]\n%s = %s\n", (int)(dot - key), key, dot + 1,
                 sw->keys[k].values[value_of[k]]);
    }
    char origin[PATH_MAX + 16];
    snprintf(origin, sizeof origin, "%s [sweep]", sw->path);
    int rc = rl_cfg_load_text(cfg, text_str(&sw->base_ini), sw->path);
    rc = rc ? rc : rl_cfg_load_text(cfg, text_str(&cell_ini), origin);
    rc = rc ? rc : rl_cfg_resolve(cfg);
    free(cell_ini.s);
    if (rc < 0) {
        rl_cfg_free(cfg);
        return rl_fail_context("cell %lld", (long long)cell);
    }
    *out = cfg;
    return 0;
}

static const char *config_value(const rl_config *cfg, const char *key) {
    const char *value;
    const rl_cfg_spec *s;
    for (size_t i = 0; (s = rl_cfg_item(cfg, i, &value)); i++)
        if (!strcmp(s->key, key))
            return value;
    return "";
}

/* ---- plan ---- */

typedef struct {
    char run_id[17];
    int64_t cell;
} id_entry;

static int compare_ids(const void *a, const void *b) {
    const id_entry *x = a, *y = b;
    int c = strcmp(x->run_id, y->run_id);
    return c ? c : (x->cell > y->cell) - (x->cell < y->cell);
}

/* Resolve every cell; the manifest text, or RL_ERR before anything is written. */
static int plan_manifest(const sweep *sw, text_buf *manifest) {
    text_add(manifest, "cell\trun_id\tdir");
    for (int k = 0; k < sw->n_keys; k++)
        text_add(manifest, "\t%s", sw->keys[k].key);
    text_add(manifest, "\n");
    id_entry *ids = rl_xmalloc(sizeof(id_entry) * (size_t)sw->n_cells);
    int rc = 0;
    for (int64_t c = 0; rc == 0 && c < sw->n_cells; c++) {
        rl_config *cfg;
        if ((rc = cell_config(sw, c, &cfg)) < 0)
            break;
        ids[c].cell = c;
        rl_cfg_run_id(cfg, ids[c].run_id);
        text_add(manifest, "%lld\t%s\tcells/%04lld-%s", (long long)c, ids[c].run_id, (long long)c,
                 ids[c].run_id);
        for (int k = 0; rc == 0 && k < sw->n_keys; k++) {
            const char *v = config_value(cfg, sw->keys[k].key);
            if (strpbrk(v, "\t\n"))
                rc = rl_fail("%s: a value of %s holds a tab or newline", "use values without tabs",
                             sw->path, sw->keys[k].key);
            text_add(manifest, "\t%s", v);
        }
        text_add(manifest, "\n");
        rl_cfg_free(cfg);
    }
    if (rc == 0) {
        qsort(ids, (size_t)sw->n_cells, sizeof *ids, compare_ids);
        for (int64_t i = 1; rc == 0 && i < sw->n_cells; i++)
            if (!strcmp(ids[i].run_id, ids[i - 1].run_id))
                rc = rl_fail("%s: cells %lld and %lld have the same config (run id %s)",
                             "sweep keys that change the result; runtime keys such as "
                             "ckpt.every do not (`ranklab run EXPERIMENT --help` marks them)",
                             sw->path, (long long)ids[i - 1].cell, (long long)ids[i].cell,
                             ids[i].run_id);
    }
    free(ids);
    return rc;
}

static void print_resources(const sweep *sw, const char *dir) {
    const rl_config *s = sw->settings;
    long ranks = (long)rl_cfg_int(s, "sweep.ranks"),
         cpus = (long)rl_cfg_int(s, "sweep.cpus_per_rank");
    long throttle = (long)rl_cfg_int(s, "sweep.throttle"), seconds = 0;
    const char *partition = rl_cfg_str(s, "sweep.partition");
    parse_slurm_time(rl_cfg_str(s, "sweep.time"), &seconds);
    printf("sweep of %s: %lld cells (", sw->exp->name, (long long)sw->n_cells);
    for (int a = 0; a < sw->n_axes; a++) {
        printf("%s", a ? " x " : "");
        for (int k = 0, first = 1; k < sw->n_keys; k++)
            if (sw->keys[k].axis == a) {
                printf("%s%s", first ? "" : "+", sw->keys[k].key);
                first = 0;
            }
        printf(" %d", sw->axis_len[a]);
    }
    printf("%s) in %s\n", sw->n_axes ? "" : "no swept keys", dir);
    long at_once = throttle && throttle < sw->n_cells ? throttle : (long)sw->n_cells;
    printf("each cell: %ld ranks x %ld CPU per rank, time limit %s, partition %s\n", ranks, cpus,
           rl_cfg_str(s, "sweep.time"), partition[0] ? partition : "(the default)");
    printf("all cells: %lld CPUs, %ld at once%s; at most %.1f CPU-hours\n",
           (long long)sw->n_cells * ranks * cpus, at_once * ranks * cpus,
           throttle ? " (throttle)" : "", (double)sw->n_cells * ranks * cpus * seconds / 3600.0);
}

static int cmd_plan(int argc, char **argv) {
    const char *file = NULL, *dir = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!file && argv[i][0] != '-')
            file = argv[i];
        else
            return rl_fail("unexpected argument '%s'", "ranklab sweep plan FILE --dir SWEEP_DIR",
                           argv[i]);
    }
    if (!file || !dir)
        return rl_fail("plan needs a sweep file and --dir",
                       "ranklab sweep plan FILE --dir SWEEP_DIR (see ranklab sweep --help)");
    sweep sw;
    text_buf manifest = {0};
    char *file_text = NULL, *old_manifest = NULL, *old_file = NULL;
    char path[PATH_MAX + 32];
    int rc = sweep_load(file, &sw);
    rc = rc ? rc : plan_manifest(&sw, &manifest);
    if (rc == 0 && !(file_text = read_text(file)))
        rc = RL_ERR;
    snprintf(path, sizeof path, "%s/manifest.tsv", dir);
    if (rc == 0 && io_path_exists(path)) {
        old_manifest = read_text(path);
        snprintf(path, sizeof path, "%s/sweep.ini", dir);
        old_file = read_text(path);
        if (!old_manifest || !old_file || strcmp(old_manifest, manifest.s) != 0 ||
            strcmp(old_file, file_text) != 0)
            rc = rl_fail("%s already holds the plan of another sweep",
                         "choose another --dir, or delete that directory", dir);
        else
            printf("%s already holds this plan; nothing written\n", dir);
    } else if (rc == 0) {
        rc = io_make_dir(dir);
        rc = rc ? rc : write_text_atomic(dir, "sweep.ini", file_text);
        rc = rc ? rc : write_text_atomic(dir, "manifest.tsv", manifest.s);
    }
    if (rc == 0) {
        print_resources(&sw, dir);
        printf("manifest: %s/manifest.tsv\nnext: ranklab sweep submit %s   (--dry-run shows the "
               "script; or run a cell here: mpiexec -n %lld ranklab sweep run %s --cell 0)\n",
               dir, dir, (long long)rl_cfg_int(sw.settings, "sweep.ranks"), dir);
    }
    free(file_text);
    free(old_manifest);
    free(old_file);
    free(manifest.s);
    sweep_free(&sw);
    return rc;
}

/* ---- a planned sweep directory ---- */

typedef struct {
    char run_id[17];
    char *dir; /* relative to the sweep directory */
} cell_row;

typedef struct {
    char dir[PATH_MAX];
    sweep sw;
    cell_row *rows; /* (sw.n_cells) */
} planned;

static void planned_free(planned *p) {
    for (int64_t c = 0; p->rows && c < p->sw.n_cells; c++)
        free(p->rows[c].dir);
    free(p->rows);
    p->rows = NULL;
    sweep_free(&p->sw);
}

static int read_manifest(planned *p, const char *path) {
    char *text = read_text(path);
    if (!text)
        return rl_fail_hint("plan the sweep first: ranklab sweep plan FILE --dir %s", p->dir);
    p->rows = rl_xcalloc((size_t)p->sw.n_cells, sizeof *p->rows);
    int64_t row = -1;
    int rc = 0;
    for (char *line = strtok(text, "\n"); rc == 0 && line; line = strtok(NULL, "\n"), row++) {
        if (row < 0)
            continue; /* header */
        long long cell;
        char run_id[32], dir[PATH_MAX];
        if (sscanf(line, "%lld\t%31[^\t]\t%4095[^\t\n]", &cell, run_id, dir) != 3 || cell != row ||
            strlen(run_id) != 16 || row >= p->sw.n_cells) {
            rc = rl_fail("%s: line %lld is not the row of cell %lld", NULL, path,
                         (long long)row + 2, (long long)row);
            break;
        }
        memcpy(p->rows[row].run_id, run_id, 17);
        p->rows[row].dir = rl_xstrdup(dir);
    }
    if (rc == 0 && row != p->sw.n_cells)
        rc = rl_fail("%s has %lld cells but its sweep.ini makes %lld", NULL, path, (long long)row,
                     (long long)p->sw.n_cells);
    free(text);
    return rc < 0 ? rl_fail_hint("the sweep directory was edited; plan again into a new one") : 0;
}

static int planned_open(planned *p, const char *dir) {
    memset(p, 0, sizeof *p);
    snprintf(p->dir, sizeof p->dir, "%s", dir);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/sweep.ini", dir);
    if (!io_path_exists(path))
        return rl_fail("%s is not a planned sweep (no sweep.ini)",
                       "ranklab sweep plan FILE --dir SWEEP_DIR creates it", dir);
    if (sweep_load(path, &p->sw) < 0)
        return RL_ERR;
    snprintf(path, sizeof path, "%s/manifest.tsv", dir);
    return read_manifest(p, path);
}

static int cell_path(const planned *p, int64_t cell, const char *name, char *out, size_t n) {
    int len =
        snprintf(out, n, "%s/%s%s%s", p->dir, p->rows[cell].dir, name ? "/" : "", name ? name : "");
    return len < (int)n ? 0 : rl_fail("path too long: %s", "use a shorter sweep directory", out);
}

/* ---- run one cell ---- */

/* Rank 0 keeps SWEEP_CELL_FILE in the cell directory: "running ..." touched every
 * HEARTBEAT_SECONDS while the cell runs, then "exited ..." (`sweep status` reads both). */
#define SWEEP_CELL_FILE "sweep-cell.txt"

typedef struct {
    char dir[PATH_MAX + 8];
    char path[PATH_MAX + 32];
    pthread_t thread;
    int started;
} heartbeat;

static void *heartbeat_loop(void *arg) {
    const heartbeat *h = arg;
    for (;;) {
        sleep(HEARTBEAT_SECONDS);
        utime(h->path, NULL);
    }
    return NULL;
}

static void utc_now(char *out, size_t n) {
    time_t now = time(NULL);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
}

static void heartbeat_start(heartbeat *h, const char *dir, const char *slurm) {
    memset(h, 0, sizeof *h);
    snprintf(h->dir, sizeof h->dir, "%s", dir);
    snprintf(h->path, sizeof h->path, "%s/" SWEEP_CELL_FILE, dir);
    char line[1024], when[32];
    utc_now(when, sizeof when);
    snprintf(line, sizeof line, "running on %s (pid %d) since %s%s\n", comm_host(), (int)getpid(),
             when, slurm);
    if (io_make_dir(dir) < 0 || write_text_atomic(dir, SWEEP_CELL_FILE, line) < 0) {
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

static void heartbeat_stop(heartbeat *h, int exit_code) {
    if (h->started) {
        pthread_cancel(h->thread);
        pthread_join(h->thread, NULL);
    }
    char line[256], when[32];
    utc_now(when, sizeof when);
    snprintf(line, sizeof line, "exited with code %d (%s) on %s at %s\n", exit_code,
             exit_code == RL_EXIT_OK        ? "complete"
             : exit_code == RL_EXIT_STOPPED ? "stopped after a checkpoint"
                                            : "error",
             comm_host(), when);
    if (h->dir[0] && write_text_atomic(h->dir, SWEEP_CELL_FILE, line) < 0)
        rl_error_print();
}

/* The exit code of the run, or RL_ERR (stored, not printed) if the cell cannot start. */
static int run_cell(planned *p, int64_t cell) {
    rl_config *cfg;
    if (cell_config(&p->sw, cell, &cfg) < 0)
        return RL_ERR;
    char run_id[17], dir[PATH_MAX], slurm[256] = "";
    rl_cfg_run_id(cfg, run_id);
    if (strcmp(run_id, p->rows[cell].run_id) != 0) {
        rl_fail("cell %lld now resolves to run id %s, but the plan says %s", NULL, (long long)cell,
                run_id, p->rows[cell].run_id);
        rl_fail_hint("the program's defaults changed since `sweep plan`: finish with the "
                     "program that planned it, or plan again into a new directory");
        rl_cfg_free(cfg);
        return RL_ERR;
    }
    if (cell_path(p, cell, NULL, dir, sizeof dir) < 0) {
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
                (long long)p->sw.n_cells, run_id, slurm);
    heartbeat hb = {0};
    if (comm_rank() == 0)
        heartbeat_start(&hb, dir, slurm);
    rl_run run;
    rl_run_init(&run, p->sw.exp, cfg, dir);
    rl_stop_install();
    int rc = p->sw.exp->run(&run);
    int code = rc == 0 ? RL_EXIT_OK : rc == RL_STOPPED ? RL_EXIT_STOPPED : RL_EXIT_ERROR;
    if (rc == 0)
        rl_log_info("cell %lld: results in %s/results.h5", (long long)cell, dir);
    if (rc == RL_STOPPED)
        rl_log_info("cell %lld stopped; checkpoint in %s. The array task requeues itself; or run "
                    "`ranklab sweep run %s --cell %lld` again.",
                    (long long)cell, run.ckpt_dir, p->dir, (long long)cell);
    if (rc == RL_ERR)
        rl_error_print();
    if (comm_rank() == 0)
        heartbeat_stop(&hb, code);
    rl_run_free(&run);
    rl_cfg_free(cfg);
    return code;
}

static int cmd_run(int argc, char **argv) {
    const char *dir = NULL, *cell_text = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--cell") && i + 1 < argc)
            cell_text = argv[++i];
        else if (!dir && argv[i][0] != '-')
            dir = argv[i];
        else
            return rl_fail("unexpected argument '%s'", "ranklab sweep run SWEEP_DIR [--cell I]",
                           argv[i]);
    }
    if (!dir)
        return rl_fail("run needs a sweep directory", "ranklab sweep run SWEEP_DIR [--cell I]");
    if (!cell_text && !(cell_text = getenv("SLURM_ARRAY_TASK_ID")))
        return rl_fail("no cell given and SLURM_ARRAY_TASK_ID is not set",
                       "give --cell I (0 <= I < cells), or run inside a Slurm array task");
    planned p;
    if (planned_open(&p, dir) < 0) {
        planned_free(&p);
        return RL_ERR;
    }
    char *end;
    long long cell = strtoll(cell_text, &end, 10);
    if (*end || end == cell_text || cell < 0 || cell >= p.sw.n_cells) {
        rl_fail("cell '%s' is not one of the %lld cells of %s", NULL, cell_text,
                (long long)p.sw.n_cells, dir);
        rl_fail_hint("cells are 0 to %lld (see %s/manifest.tsv)", (long long)p.sw.n_cells - 1, dir);
        planned_free(&p);
        return RL_ERR;
    }
    int code = run_cell(&p, cell);
    planned_free(&p);
    return code;
}

/* ---- status ---- */

typedef enum { CELL_COMPLETE, CELL_RUNNING, CELL_FAILED, CELL_MISSING } cell_state;
static const char *const state_names[] = {"complete", "running", "failed", "missing"};

static cell_state cell_status(const planned *p, int64_t cell, double stale, char *detail,
                              size_t n) {
    char path[PATH_MAX + 64], value[64];
    detail[0] = '\0';
    cell_path(p, cell, "results.h5", path, sizeof path);
    if (io_path_exists(path)) {
        if (io_results_read_root_attr(path, "status", value, sizeof value) < 0) {
            snprintf(detail, n, "%s", rl_error_message());
            return CELL_FAILED;
        }
        char run_id[64] = "";
        io_results_read_root_attr(path, "run_id", run_id, sizeof run_id);
        if (strcmp(run_id, p->rows[cell].run_id) != 0) {
            snprintf(detail, n, "results.h5 holds run id %s, the plan says %s", run_id,
                     p->rows[cell].run_id);
            return CELL_FAILED;
        }
        if (!strcmp(value, "complete"))
            return CELL_COMPLETE;
        snprintf(detail, n, "results.h5 has status '%s'; ", value);
    }
    int started = 0;
    cell_path(p, cell, SWEEP_CELL_FILE, path, sizeof path);
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
        if (!strncmp(line, "running", 7) && age < stale) {
            snprintf(detail + strlen(detail), n - strlen(detail), "%s", line);
            return CELL_RUNNING;
        }
        if (!strncmp(line, "running", 7))
            snprintf(detail + strlen(detail), n - strlen(detail),
                     "no heartbeat for %.0f s (killed?): %s; ", age, line);
        else
            snprintf(detail + strlen(detail), n - strlen(detail), "%s; ", line);
    }
    char ckpt_dir[PATH_MAX + 64], **ckpts;
    int n_ckpt;
    cell_path(p, cell, "ckpt", ckpt_dir, sizeof ckpt_dir);
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
    cell_path(p, cell, "results.h5.partial", path, sizeof path);
    if (n_ckpt == 0 && io_path_exists(path)) {
        snprintf(detail + strlen(detail), n - strlen(detail), "partial results, no checkpoint");
        started = 1;
    }
    return started || detail[0] ? CELL_FAILED : CELL_MISSING;
}

/* Comma list of cells with ranges, each minus offset: 3,7,12-15. */
static void format_cells(const int64_t *cells, int64_t n, int64_t offset, text_buf *out) {
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        while (j + 1 < n && cells[j + 1] == cells[j] + 1)
            j++;
        text_add(out, "%s%lld", i ? "," : "", (long long)(cells[i] - offset));
        if (j > i)
            text_add(out, "-%lld", (long long)(cells[j] - offset));
        i = j + 1;
    }
}

/* Options shared by status, submit and resubmit. */
typedef struct {
    const char *dir;
    const char *template_path;
    long max_array_size; /* 0: ask Slurm */
    double stale;
    int dry_run, failed;
} sweep_opts;

static int parse_opts(int argc, char **argv, sweep_opts *o, const char *usage) {
    memset(o, 0, sizeof *o);
    o->stale = DEFAULT_STALE_SECONDS;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--dry-run"))
            o->dry_run = 1;
        else if (!strcmp(a, "--failed"))
            o->failed = 1;
        else if (!strcmp(a, "--template") && next)
            o->template_path = argv[++i];
        else if (!strcmp(a, "--max-array-size") && next && atol(next) > 0)
            o->max_array_size = atol(argv[++i]);
        else if (!strcmp(a, "--stale") && next && atof(next) > 0)
            o->stale = atof(argv[++i]);
        else if (!o->dir && a[0] != '-')
            o->dir = a;
        else
            return rl_fail("unexpected argument '%s'", NULL, a),
                   rl_fail_hint("usage: %s (ranklab sweep --help)", usage);
    }
    if (!o->dir)
        return rl_fail("no sweep directory given", NULL), rl_fail_hint("usage: %s", usage);
    return 0;
}

/* States of every cell; prints the table when verbose. Counts per state in counts[4]. */
static cell_state *all_states(const planned *p, double stale, int verbose, int64_t counts[4]) {
    cell_state *states = rl_xmalloc(sizeof(cell_state) * (size_t)p->sw.n_cells);
    memset(counts, 0, 4 * sizeof counts[0]);
    if (verbose)
        printf("%-6s %-9s %-16s %s\n", "cell", "state", "run id", "detail");
    for (int64_t c = 0; c < p->sw.n_cells; c++) {
        char detail[1024];
        states[c] = cell_status(p, c, stale, detail, sizeof detail);
        counts[states[c]]++;
        if (verbose)
            printf("%-6lld %-9s %-16s %s\n", (long long)c, state_names[states[c]],
                   p->rows[c].run_id, detail);
    }
    return states;
}

static int cmd_status(int argc, char **argv) {
    sweep_opts o;
    planned p;
    if (parse_opts(argc, argv, &o, "ranklab sweep status SWEEP_DIR [--stale SECONDS]") < 0)
        return RL_ERR;
    if (planned_open(&p, o.dir) < 0) {
        planned_free(&p);
        return RL_ERR;
    }
    int64_t counts[4];
    free(all_states(&p, o.stale, 1, counts));
    printf("%lld cells: %lld complete, %lld running, %lld failed, %lld missing\n",
           (long long)p.sw.n_cells, (long long)counts[CELL_COMPLETE],
           (long long)counts[CELL_RUNNING], (long long)counts[CELL_FAILED],
           (long long)counts[CELL_MISSING]);
    if (counts[CELL_MISSING] == p.sw.n_cells)
        printf("next: ranklab sweep submit %s\n", o.dir);
    else if (counts[CELL_FAILED] + counts[CELL_MISSING] > 0)
        printf("next: ranklab sweep resubmit %s --failed   (once its jobs have left the queue)\n",
               o.dir);
    int all_done = counts[CELL_COMPLETE] == p.sw.n_cells;
    planned_free(&p);
    return all_done ? RL_EXIT_OK : EXIT_NOT_COMPLETE;
}

/* ---- submit ---- */

typedef struct {
    const char *name; /* the template's @NAME@ */
    const char *value;
} field;

/* Copy the template, replacing each @NAME@ by its field's value; a line with an empty value is
 * dropped. An unknown @NAME@ is an error (a typo in an edited template). */
static int fill_template(const char *tmpl, const char *origin, const field *fields, int n,
                         text_buf *out) {
    for (const char *line = tmpl; *line;) {
        size_t len = strcspn(line, "\n");
        text_buf filled = {0};
        int drop = 0;
        for (const char *c = line; c < line + len; c++) {
            size_t name_len = *c == '@' ? strspn(c + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") : 0;
            if (name_len == 0 || c[1 + name_len] != '@') {
                text_add(&filled, "%c", *c);
                continue;
            }
            int i = 0;
            while (i < n && (strlen(fields[i].name) != name_len ||
                             strncmp(fields[i].name, c + 1, name_len) != 0))
                i++;
            if (i == n) {
                free(filled.s);
                return rl_fail("%s: unknown field @%.*s@",
                               "use the fields of slurm/sweep.sbatch (@RANKS@, @TIME@, ...)",
                               origin, (int)name_len, c + 1);
            }
            drop |= !fields[i].value[0];
            text_add(&filled, "%s", fields[i].value);
            c += name_len + 1;
        }
        if (!drop)
            text_add(out, "%s\n", text_str(&filled));
        free(filled.s);
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
    char *text = read_text(path), resolved[PATH_MAX];
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

/* Fails when jobs of this sweep (their --comment is the sweep path) are still in the queue. */
static int check_queue(const char *abs_dir) {
    char *argv[] = {"squeue", "--me", "-h", "-o", "%A\t%k", NULL}, *text;
    int rc = run_capture(argv, &text);
    if (rc != 0) {
        free(text);
        return rl_fail("squeue failed (exit %d)", "is Slurm reachable from here?", rc);
    }
    text_buf ids = {0}; /* " 12 13 " */
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *tab = strchr(line, '\t'), word[64];
        *(tab ? tab : line) = '\0';
        snprintf(word, sizeof word, " %s ", line);
        if (tab && !strcmp(tab + 1, abs_dir) && !strstr(text_str(&ids), word))
            text_add(&ids, "%s", ids.len ? word + 1 : word);
    }
    free(text);
    if (ids.len) {
        ids.s[--ids.len] = '\0';
        rl_fail("jobs of this sweep are still in the queue:%s", NULL, ids.s);
        rc = rl_fail_hint("wait until they are done (squeue --me), or cancel them (scancel%s); "
                          "cells pending in Slurm look missing to `sweep status`",
                          ids.s);
    }
    free(ids.s);
    return rc;
}

/* Write SWEEP_DIR/jobs/NNN.sbatch, sbatch it, note it in jobs/submitted.tsv. */
static int sbatch_script(const char *jobs_dir, const char *script, const char *cells) {
    int k = 0;
    char name[32], path[PATH_MAX + 64], when[32];
    do {
        snprintf(name, sizeof name, "%03d.sbatch", ++k);
        snprintf(path, sizeof path, "%s/%s", jobs_dir, name);
    } while (io_path_exists(path));
    if (write_text_atomic(jobs_dir, name, script) < 0)
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
    utc_now(when, sizeof when);
    snprintf(path, sizeof path, "%s/submitted.tsv", jobs_dir);
    FILE *f = fopen(path, "a");
    if (f) {
        fprintf(f, "%s\t%s\t%s\t%s\n", when, job_id, name, cells);
        fclose(f);
    }
    printf("submitted job %s: cells %s (%s)\n", job_id, cells, name);
    free(job_id);
    return 0;
}

/* One array job per block of MaxArraySize cells (task id = cell - block offset), from the
 * template; --dry-run prints the scripts. cells are sorted. */
static int submit_cells(planned *p, const int64_t *cells, int64_t n, const sweep_opts *o) {
    char abs_dir[PATH_MAX], exe[PATH_MAX], tmpl_path[PATH_MAX + 64];
    if (!realpath(p->dir, abs_dir) || !realpath("/proc/self/exe", exe))
        return rl_fail("cannot resolve the path of %s", "check the sweep directory", p->dir);
    if (abs_dir[strspn(abs_dir, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                "0123456789/._+,:=-")])
        return rl_fail("the sweep directory %s has characters a batch script cannot hold",
                       "use a path of letters, digits and / . _ - + , : =", abs_dir);
    long max_array = o->max_array_size;
    if ((!max_array && ask_max_array_size(&max_array) < 0) ||
        (!o->dry_run && check_queue(abs_dir) < 0))
        return RL_ERR;
    char *tmpl = load_template(o->template_path, exe, tmpl_path, sizeof tmpl_path);
    if (!tmpl)
        return RL_ERR;
    const rl_config *s = p->sw.settings;
    char log_dir[PATH_MAX + 8], jobs_dir[PATH_MAX + 8], job_name[128], num[5][24];
    snprintf(log_dir, sizeof log_dir, "%s/logs", abs_dir);
    snprintf(jobs_dir, sizeof jobs_dir, "%s/jobs", abs_dir);
    snprintf(job_name, sizeof job_name, "rl-%s", strrchr(abs_dir, '/') + 1);
    const char *keys[] = {"sweep.ranks", "sweep.cpus_per_rank", "sweep.signal_seconds",
                          "sweep.max_requeues"};
    for (int k = 0; k < 4; k++)
        snprintf(num[k], sizeof num[k], "%lld", (long long)rl_cfg_int(s, keys[k]));
    field fields[] = {
        {"JOB_NAME", job_name},
        {"SWEEP_DIR", abs_dir},
        {"RANKS", num[0]},
        {"CPUS_PER_RANK", num[1]},
        {"SIGNAL_SECONDS", num[2]},
        {"MAX_REQUEUES", num[3]},
        {"TIME", rl_cfg_str(s, "sweep.time")},
        {"PARTITION", rl_cfg_str(s, "sweep.partition")},
        {"LOG_DIR", log_dir},
        {"RANKLAB", exe},
        {"OFFSET", num[4]},
        {"ARRAY", NULL}, /* per block, below */
    };
    enum { N_FIELDS = sizeof fields / sizeof fields[0] };
    int rc = 0;
    if (!o->dry_run && (io_make_dir(log_dir) < 0 || io_make_dir(jobs_dir) < 0))
        rc = RL_ERR;
    for (int64_t i = 0, j; rc == 0 && i < n; i = j) {
        int64_t offset = cells[i] / max_array * max_array;
        j = i;
        while (j < n && cells[j] < offset + max_array)
            j++;
        text_buf spec = {0}, array = {0}, script = {0};
        format_cells(cells + i, j - i, 0, &spec);
        format_cells(cells + i, j - i, offset, &array);
        if (rl_cfg_int(s, "sweep.throttle"))
            text_add(&array, "%%%lld", (long long)rl_cfg_int(s, "sweep.throttle"));
        snprintf(num[4], sizeof num[4], "%lld", (long long)offset);
        fields[N_FIELDS - 1].value = array.s;
        rc = fill_template(tmpl, tmpl_path, fields, N_FIELDS, &script);
        if (rc == 0 && o->dry_run)
            printf("# ---- array job for cells %s, from %s (--dry-run: not submitted)\n%s", spec.s,
                   tmpl_path, script.s);
        else if (rc == 0)
            rc = sbatch_script(jobs_dir, script.s, spec.s);
        free(spec.s);
        free(array.s);
        free(script.s);
    }
    if (rc == 0 && !o->dry_run)
        printf("logs: %s/JOB_TASK.out; progress: ranklab sweep status %s\n", log_dir, p->dir);
    free(tmpl);
    return rc;
}

static int cmd_submit(int argc, char **argv, int resubmit) {
    sweep_opts o;
    const char *usage = resubmit ? "ranklab sweep resubmit SWEEP_DIR --failed [--dry-run]"
                                 : "ranklab sweep submit SWEEP_DIR [--dry-run]";
    if (parse_opts(argc, argv, &o, usage) < 0)
        return RL_ERR;
    if (resubmit && !o.failed)
        return rl_fail("resubmit needs --failed", "ranklab sweep resubmit SWEEP_DIR --failed "
                                                  "(resubmits the failed and missing cells)");
    planned p;
    if (planned_open(&p, o.dir) < 0) {
        planned_free(&p);
        return RL_ERR;
    }
    int64_t *cells = rl_xmalloc(sizeof(int64_t) * (size_t)p.sw.n_cells), n = 0;
    int64_t counts[4] = {0, 0, 0, 0};
    cell_state *states = resubmit ? all_states(&p, o.stale, 0, counts) : NULL;
    for (int64_t c = 0; c < p.sw.n_cells; c++)
        if (!resubmit || states[c] == CELL_FAILED || states[c] == CELL_MISSING)
            cells[n++] = c;
    int rc = 0;
    if (n == 0) {
        printf("nothing to resubmit: %lld complete, %lld running of %lld cells\n",
               (long long)counts[CELL_COMPLETE], (long long)counts[CELL_RUNNING],
               (long long)p.sw.n_cells);
    } else {
        if (resubmit) {
            text_buf spec = {0};
            format_cells(cells, n, 0, &spec);
            printf("resubmitting %lld of %lld cells (%lld failed, %lld missing): %s\n",
                   (long long)n, (long long)p.sw.n_cells, (long long)counts[CELL_FAILED],
                   (long long)counts[CELL_MISSING], spec.s);
            free(spec.s);
        }
        rc = submit_cells(&p, cells, n, &o);
    }
    free(states);
    free(cells);
    planned_free(&p);
    return rc;
}

static void print_help(void) {
    fputs(sweep_help, stdout);
    rl_config *settings = rl_cfg_new();
    rl_cfg_declare(settings, setting_keys, sizeof setting_keys / sizeof setting_keys[0]);
    rl_cfg_resolve(settings);
    rl_cfg_print_docs(settings);
    rl_cfg_free(settings);
}

int cli_sweep_main(int argc, char **argv) {
    const char *sub = argc > 0 ? argv[0] : NULL;
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h") || !strcmp(argv[i], "help")) {
            print_help();
            return RL_EXIT_OK;
        }
    int rc;
    if (!sub) {
        print_help();
        return RL_EXIT_USAGE;
    } else if (!strcmp(sub, "run")) {
        if (comm_init(&argc, &argv) < 0) {
            rl_error_print();
            return RL_EXIT_ERROR;
        }
        rc = cmd_run(argc - 1, argv + 1);
        if (rc == RL_ERR)
            rl_error_print();
        comm_finalize();
        return rc == RL_ERR ? RL_EXIT_USAGE : rc;
    } else if (!strcmp(sub, "plan")) {
        rc = cmd_plan(argc - 1, argv + 1);
    } else if (!strcmp(sub, "submit") || !strcmp(sub, "resubmit")) {
        rc = cmd_submit(argc - 1, argv + 1, !strcmp(sub, "resubmit"));
    } else if (!strcmp(sub, "status")) {
        rc = cmd_status(argc - 1, argv + 1);
        if (rc >= 0)
            return rc;
    } else {
        rc = rl_fail("unknown sweep command '%s'",
                     "the commands are plan, submit, run, status, resubmit (ranklab sweep --help)",
                     sub);
    }
    if (rc < 0)
        rl_error_print();
    return rc < 0 ? RL_EXIT_ERROR : RL_EXIT_OK;
}
