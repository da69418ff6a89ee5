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
#include "src/run/run.h"
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/core/stop.h"
#include "src/io/io.h"

#include <limits.h>
#include <math.h>
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
#define MANIFEST_MAX_BYTES ((size_t)256 << 20)
/* What a value substituted into a batch script may hold (no quoting can be needed, no '%'). */
#define SCRIPT_SAFE "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._+,:=-"
#define SLURM_NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-."

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
    "  experiment = train            ; the experiment every cell runs (required)\n"
    "  train.lr = 0.1, 0.01          ; swept: every combination (a grid) ...\n"
    "  train.batch = 64, 256\n"
    "  zip = train.lr, train.batch   ; ... except zipped keys, which move together\n"
    "  run.seed = 1, 2, 3            ; (one zip line per group of keys)\n"
    "  ranks = 2\n"
    "  time = 00:30:00\n"
    "  [train]\n"
    "  epochs = 5                    ; fixed for every cell\n"
    "\n"
    "Cells are numbered in file order, the last swept key fastest. A value holding a comma is\n"
    "quoted: attack.methods = \"zoqo,sign\", sign. A swept key given again (or continued on an\n"
    "indented line) adds values; any other key given twice is refused. Relative paths in the\n"
    "file (data.dir, init.from) are taken from the directory a cell runs in: where you submit\n"
    "from. Partition, time and the paths that go into the batch script must not need quoting\n"
    "(letters, digits and / . _ + , : = -).\n"
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

/* DIR/NAME through io_write_text_atomic (temporary name, fsync, rename, fsync of DIR). */
static int write_text_atomic(const char *dir, const char *name, const char *text) {
    char path[PATH_MAX + 64];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return rl_fail("path too long: %s/%s", "use a shorter sweep directory", dir, name);
    return io_write_text_atomic(path, text);
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


/* A whole number of 1 to 18 decimal digits, or -1. */
static long long parse_whole(const char *text) {
    size_t digits = strspn(text, "0123456789");
    return digits >= 1 && digits <= 18 && !text[digits] ? strtoll(text, NULL, 10) : -1;
}

/* A character for a message: 'x', or its name when it does not print. */
static const char *char_name(char c, char out[24]) {
    if (c == ' ')
        return "' ' (a space)";
    if (c == '\t')
        return "a tab";
    if (c == '\n')
        return "a newline";
    if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
        snprintf(out, 24, "the byte 0x%02x", (unsigned char)c);
    else
        snprintf(out, 24, "'%c'", c);
    return out;
}

/* Fails unless every character of value is in `allowed`; the message names what, the value
 * and the first other character. */
static int check_chars(const char *what, const char *value, const char *allowed, const char *hint) {
    size_t at = strspn(value, allowed);
    if (!value[at])
        return 0;
    char name[24];
    return rl_fail("%s '%s' has the character %s", hint, what, value, char_name(value[at], name));
}

/* A path or name that goes into a batch script as is (#SBATCH lines cannot quote). */
static int check_script_value(const char *what, const char *value) {
    return check_chars(what, value, SCRIPT_SAFE,
                       "a batch script holds it as is (#SBATCH lines cannot quote): use only "
                       "letters, digits and / . _ + , : = -");
}

/* sweep.partition: empty, or a comma list of Slurm names. */
static int check_partition(const char *value) {
    const char *hint = "a partition is a Slurm name (letters, digits, _ - .) or a comma list of "
                       "them, e.g. partition = batch or partition = batch,short";
    if (check_chars("sweep.partition =", value, SLURM_NAME_CHARS ",", hint) < 0)
        return RL_ERR;
    if (value[0] && (value[0] == ',' || value[strlen(value) - 1] == ',' || strstr(value, ",,")))
        return rl_fail("sweep.partition = '%s' has an empty name in its list", hint, value);
    return 0;
}

/* Slurm time ("M", "M:S", "H:M:S", "D-H", "D-H:M", "D-H:M:S") in seconds; every field has 1 to
 * 7 digits. */
static int parse_slurm_time(const char *s, long *seconds) {
    long f[4] = {0, 0, 0, 0};
    int n = 0, has_days = 0, ok = 1;
    for (const char *p = s; ok;) {
        size_t digits = strspn(p, "0123456789");
        ok = digits >= 1 && digits <= 7 && n < 4;
        if (!ok)
            break;
        f[n++] = strtol(p, NULL, 10);
        p += digits;
        if (*p == '\0')
            break;
        ok = *p == ':' || (*p == '-' && n == 1);
        has_days |= *p == '-';
        p++;
    }
    if (!ok || n > (has_days ? 4 : 3) || (has_days && n < 2))
        return rl_fail("sweep.time = '%s' is not a Slurm time",
                       "use MM, HH:MM:SS or D-HH:MM:SS, e.g. time = 02:00:00", s);
    if (has_days)
        *seconds = f[0] * 86400 + f[1] * 3600 + f[2] * 60 + f[3];
    else if (n == 3)
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
    char *text; /* the file as read */
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
    char section[128]; /* last section written to base_ini (inih's are shorter) */
} parse_ctx;

/* Fixed keys go to base_ini, settings to settings_ini (each key once, as rl_cfg_walk_ini
 * checks); swept keys and zip lines are lists. */
static int on_sweep_entry(void *user, const char *section, const char *name, const char *value,
                          int line) {
    parse_ctx *ctx = user;
    sweep *sw = ctx->sw;
    if (!section[0])
        return rl_fail("%s:%d: key '%s' is outside any [section]",
                       "settings and swept keys go under [sweep], fixed keys under their section, "
                       "e.g. [train] for train.lr",
                       sw->path, line, name);
    if (strcmp(section, "sweep") != 0) {
        if (strcmp(section, ctx->section) != 0) {
            text_add(&sw->base_ini, "[%s]\n", section);
            snprintf(ctx->section, sizeof ctx->section, "%s", section);
        }
        text_add(&sw->base_ini, "%s=%s\n", name, value);
        return 0;
    }
    char what[PATH_MAX + 160];
    snprintf(what, sizeof what, "%s:%d: [sweep] %s", sw->path, line, name);
    if (!strcmp(name, "zip")) {
        sw->zips = realloc(sw->zips, sizeof(char *) * (size_t)(sw->n_zips + 1));
        if (!sw->zips)
            abort();
        sw->zips[sw->n_zips++] = rl_xstrdup(value);
        return RL_CFG_LIST;
    }
    if (!strchr(name, '.')) {
        text_add(&sw->settings_ini, "%s=%s\n", name, value);
        return 0;
    }
    /* A key given again (or an indented continuation line) adds values to its list. */
    int k = 0;
    while (k < sw->n_keys && strcmp(sw->keys[k].key, name) != 0)
        k++;
    if (k == SWEEP_MAX_KEYS)
        return rl_fail("%s: more than %d swept keys", "sweep fewer keys at once", what,
                       SWEEP_MAX_KEYS);
    if (k == sw->n_keys)
        sw->keys[sw->n_keys++] = (swept_key){rl_xstrdup(name), NULL, 0, -1};
    if (rl_cfg_split_list(value, what, &sw->keys[k].values, &sw->keys[k].n_values) < 0)
        return RL_ERR;
    return RL_CFG_LIST;
}

static void sweep_free(sweep *sw) {
    free(sw->text);
    rl_cfg_free(sw->settings);
    free(sw->base_ini.s);
    free(sw->settings_ini.s);
    for (int k = 0; k < sw->n_keys; k++) {
        free(sw->keys[k].key);
        rl_cfg_list_free(sw->keys[k].values, sw->keys[k].n_values);
    }
    rl_cfg_list_free(sw->zips, sw->n_zips);
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
        int n = 0, rc = rl_cfg_split_list(sw->zips[z], "zip", &names, &n);
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
        rl_cfg_list_free(names, n);
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
    parse_ctx ctx = {sw, ""};
    text_add(&sw->settings_ini, "[sweep]\n");
    sw->text = rl_cfg_read_file(path, "sweep file", RL_CFG_MAX_FILE_BYTES);
    if (!sw->text || rl_cfg_walk_ini(sw->text, path, on_sweep_entry, &ctx) < 0)
        return RL_ERR;
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
    if (parse_slurm_time(rl_cfg_str(sw->settings, "sweep.time"), &seconds) < 0 ||
        check_partition(rl_cfg_str(sw->settings, "sweep.partition")) < 0)
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

/* The directory of a cell inside the sweep directory. */
static void cell_dir_name(int64_t cell, const char *run_id, char out[48]) {
    snprintf(out, 48, "cells/%04lld-%.16s", (long long)cell, run_id);
}

/* The first line of manifest.tsv, without the newline. */
static void manifest_header(const sweep *sw, text_buf *out) {
    text_add(out, "cell\trun_id\tdir");
    for (int k = 0; k < sw->n_keys; k++)
        text_add(out, "\t%s", sw->keys[k].key);
}

/* Resolve every cell; the manifest text, or RL_ERR before anything is written. */
static int plan_manifest(const sweep *sw, text_buf *manifest) {
    manifest_header(sw, manifest);
    text_add(manifest, "\n");
    id_entry *ids = rl_xmalloc(sizeof(id_entry) * (size_t)sw->n_cells);
    int rc = 0;
    for (int64_t c = 0; rc == 0 && c < sw->n_cells; c++) {
        rl_config *cfg;
        if ((rc = cell_config(sw, c, &cfg)) < 0)
            break;
        ids[c].cell = c;
        rl_cfg_run_id(cfg, ids[c].run_id);
        char dir[48];
        cell_dir_name(c, ids[c].run_id, dir);
        text_add(manifest, "%lld\t%s\t%s", (long long)c, ids[c].run_id, dir);
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
        if (!strcmp(argv[i], "--dir") && i + 1 < argc && !dir)
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
    sweep sw = {0};
    text_buf manifest = {0}, abs_dir = {0};
    char *old_manifest = NULL, *old_file = NULL, cwd[PATH_MAX] = "", path[PATH_MAX + 32];
    if (dir[0] != '/' && getcwd(cwd, sizeof cwd))
        text_add(&abs_dir, "%s/", cwd);
    text_add(&abs_dir, "%s", dir);
    int rc = check_script_value("the sweep directory", abs_dir.s);
    free(abs_dir.s);
    rc = rc ? rc : sweep_load(file, &sw);
    rc = rc ? rc : plan_manifest(&sw, &manifest);
    snprintf(path, sizeof path, "%s/manifest.tsv", dir);
    if (rc == 0 && io_path_exists(path)) {
        old_manifest = rl_cfg_read_file(path, "manifest", MANIFEST_MAX_BYTES);
        snprintf(path, sizeof path, "%s/sweep.ini", dir);
        old_file = rl_cfg_read_file(path, "sweep file", RL_CFG_MAX_FILE_BYTES);
        if (!old_manifest || !old_file || strcmp(old_manifest, manifest.s) != 0 ||
            strcmp(old_file, sw.text) != 0)
            rc = rl_fail("%s already holds the plan of another sweep",
                         "choose another --dir, or delete that directory", dir);
        else
            printf("%s already holds this plan; nothing written\n", dir);
    } else if (rc == 0) {
        rc = io_make_dir(dir);
        rc = rc ? rc : write_text_atomic(dir, "sweep.ini", sw.text);
        rc = rc ? rc : write_text_atomic(dir, "manifest.tsv", manifest.s);
    }
    if (rc == 0) {
        print_resources(&sw, dir);
        printf("manifest: %s/manifest.tsv\nnext: ranklab sweep submit %s   (--dry-run shows the "
               "script; or run a cell here: mpiexec -n %lld ranklab sweep run %s --cell 0)\n",
               dir, dir, (long long)rl_cfg_int(sw.settings, "sweep.ranks"), dir);
    }
    free(old_manifest);
    free(old_file);
    free(manifest.s);
    sweep_free(&sw);
    return rc;
}

/* ---- a planned sweep directory ---- */

typedef struct {
    char run_id[17];
} cell_row;

typedef struct {
    char dir[PATH_MAX];
    sweep sw;
    cell_row *rows; /* (sw.n_cells) */
} planned;

static void planned_free(planned *p) {
    free(p->rows);
    p->rows = NULL;
    sweep_free(&p->sw);
}

/* Checks one manifest row (tabs are cut to NULs): the cell number, a run id of 16 hex digits,
 * the directory derived from both, one value per swept key. */
static int check_manifest_row(const planned *p, int64_t row, char *line, const char *where) {
    int n_fields = 1, want_fields = 3 + p->sw.n_keys;
    for (char *c = line; *c; c++)
        if (*c == '\t') {
            *c = '\0';
            n_fields++;
        }
    if (n_fields != want_fields)
        return rl_fail("%s: %d columns, but the header has %d", NULL, where, n_fields, want_fields);
    const char *cell = line, *run_id = cell + strlen(cell) + 1, *dir = run_id + strlen(run_id) + 1;
    char want[48];
    snprintf(want, sizeof want, "%lld", (long long)row);
    if (strcmp(cell, want) != 0)
        return rl_fail("%s: cell '%s' where cell %s belongs", NULL, where, cell, want);
    if (strlen(run_id) != 16 || strspn(run_id, "0123456789abcdef") != 16)
        return rl_fail("%s: run id '%s' of cell %lld is not 16 hex digits", NULL, where, run_id,
                       (long long)row);
    cell_dir_name(row, run_id, want);
    if (strcmp(dir, want) != 0)
        return rl_fail("%s: the directory of cell %lld is '%s', not %s", NULL, where,
                       (long long)row, dir, want);
    return 0;
}

/* Reads the rows plan wrote; the directories come from cell numbers and run ids, so nothing
 * in the manifest leads outside the sweep directory. */
static int read_manifest(planned *p, const char *path) {
    char *text = rl_cfg_read_file(path, "manifest", MANIFEST_MAX_BYTES);
    if (!text)
        return rl_fail_hint("plan the sweep first: ranklab sweep plan FILE --dir %s", p->dir);
    p->rows = rl_xcalloc((size_t)p->sw.n_cells, sizeof *p->rows);
    text_buf header = {0};
    manifest_header(&p->sw, &header);
    char where[PATH_MAX + 64];
    int64_t row = -1;
    int rc = 0;
    for (char *line = text, *next; rc == 0 && *line; line = next, row++) {
        size_t len = strcspn(line, "\n");
        next = line + len + (line[len] == '\n');
        line[len] = '\0';
        snprintf(where, sizeof where, "%s:%lld", path, (long long)row + 2);
        if (row < 0 && strcmp(line, header.s) != 0)
            rc = rl_fail("%s:1: the columns are not cell, run_id, dir and the swept keys of its "
                         "sweep.ini",
                         NULL, path);
        else if (row >= p->sw.n_cells)
            rc = rl_fail("%s: more rows than the %lld cells its sweep.ini makes", NULL, where,
                         (long long)p->sw.n_cells);
        else if (row >= 0 && (rc = check_manifest_row(p, row, line, where)) == 0)
            memcpy(p->rows[row].run_id, line + strlen(line) + 1, 17);
    }
    if (rc == 0 && row != p->sw.n_cells)
        rc = rl_fail("%s has %lld cells but its sweep.ini makes %lld", NULL, path,
                     (long long)(row < 0 ? 0 : row), (long long)p->sw.n_cells);
    free(header.s);
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
    char dir[48];
    cell_dir_name(cell, p->rows[cell].run_id, dir);
    int len = snprintf(out, n, "%s/%s%s%s", p->dir, dir, name ? "/" : "", name ? name : "");
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

/* The heartbeat of a cell, kept by rank 0 once the run directory's lock is taken (so a second
 * task running the cell never overwrites the running one's). */
typedef struct {
    heartbeat hb;
    const char *slurm;
} cell_watch;

static void cell_locked(void *ctx, const char *run_dir) {
    cell_watch *cw = ctx;
    if (comm_rank() == 0)
        heartbeat_start(&cw->hb, run_dir, cw->slurm);
}

static void cell_ended(void *ctx, int exit_code) {
    cell_watch *cw = ctx;
    if (comm_rank() == 0)
        heartbeat_stop(&cw->hb, exit_code);
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
        rl_fail_hint("its sweep.ini or the program's defaults changed since `sweep plan`: "
                     "finish with the plan and program it was made with, or plan again into a new "
                     "directory");
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
    cell_watch cw = {.slurm = slurm};
    rl_run_watch watch = {&cw, cell_locked, cell_ended};
    int code = rl_run_main(p->sw.exp, cfg, dir, 0, &watch);
    if (code == RL_EXIT_STOPPED)
        rl_log_info("cell %lld: the array task requeues itself; or run `ranklab sweep run %s "
                    "--cell %lld` again.",
                    (long long)cell, p->dir, (long long)cell);
    rl_cfg_free(cfg);
    return code;
}

static int cmd_run(int argc, char **argv) {
    const char *dir = NULL, *cell_text = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--cell") && i + 1 < argc && !cell_text)
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
    long long cell = parse_whole(cell_text);
    if (cell < 0 || cell >= p.sw.n_cells) {
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
        else if (!strcmp(a, "--max-array-size") && next) {
            if ((o->max_array_size = (long)parse_whole(argv[++i])) < 1)
                return rl_fail("--max-array-size '%s' is not a whole number above 0",
                               "give Slurm's MaxArraySize (scontrol show config), e.g. "
                               "--max-array-size 1001",
                               next);
        } else if (!strcmp(a, "--stale") && next) {
            char *end;
            o->stale = strtod(argv[++i], &end);
            if (end == next || *end || !isfinite(o->stale) || o->stale <= 0)
                return rl_fail("--stale '%s' is not a number of seconds above 0",
                               "e.g. --stale 300 (a cell without a heartbeat for that long is "
                               "failed)",
                               next);
        } else if (!o->dir && a[0] != '-')
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
    const char *what; /* names a value that comes from outside, for errors; NULL: a number */
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
    const rl_config *s = p->sw.settings;
    char log_dir[PATH_MAX + 8], jobs_dir[PATH_MAX + 8], job_name[PATH_MAX + 8], num[5][24];
    snprintf(log_dir, sizeof log_dir, "%s/logs", abs_dir);
    snprintf(jobs_dir, sizeof jobs_dir, "%s/jobs", abs_dir);
    snprintf(job_name, sizeof job_name, "rl-%s", strrchr(abs_dir, '/') + 1);
    const char *keys[] = {"sweep.ranks", "sweep.cpus_per_rank", "sweep.signal_seconds",
                          "sweep.max_requeues"};
    for (int k = 0; k < 4; k++)
        snprintf(num[k], sizeof num[k], "%lld", (long long)rl_cfg_int(s, keys[k]));
    field fields[] = {
        {"SWEEP_DIR", abs_dir, "the sweep directory"}, /* checked first: it makes the next */
        {"JOB_NAME", job_name, "the job name (from the sweep directory's name)"},
        {"RANKS", num[0], NULL},
        {"CPUS_PER_RANK", num[1], NULL},
        {"SIGNAL_SECONDS", num[2], NULL},
        {"MAX_REQUEUES", num[3], NULL},
        {"TIME", rl_cfg_str(s, "sweep.time"), "sweep.time ="},
        {"PARTITION", rl_cfg_str(s, "sweep.partition"), "sweep.partition ="},
        {"LOG_DIR", log_dir, "the log directory"},
        {"RANKLAB", exe, "the path of the ranklab program"},
        {"OFFSET", num[4], NULL},
        {"ARRAY", NULL, NULL}, /* per block, below */
    };
    enum { N_FIELDS = sizeof fields / sizeof fields[0] };
    /* Nothing substituted may need quoting: the #SBATCH lines cannot quote. */
    for (int f = 0; f < N_FIELDS; f++)
        if (fields[f].what && check_script_value(fields[f].what, fields[f].value) < 0)
            return RL_ERR;
    long max_array = o->max_array_size;
    if ((!max_array && ask_max_array_size(&max_array) < 0) ||
        (!o->dry_run && check_queue(abs_dir) < 0))
        return RL_ERR;
    char *tmpl = load_template(o->template_path, exe, tmpl_path, sizeof tmpl_path);
    if (!tmpl)
        return RL_ERR;
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
