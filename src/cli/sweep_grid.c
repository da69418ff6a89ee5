/* The sweep file and its grid: the file composed with the files it includes, the [sweep]
 * settings and their checks, swept keys and zip groups, the config of each cell, the manifest
 * that `ranklab sweep plan` writes, and opening a planned sweep directory (its manifest checked
 * against its sweep.ini). */
#include "src/cli/sweep_internal.h"
#include "src/core/digest.h"
#include "src/core/error.h"
#include "src/core/rng.h"
#include "src/io/io.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SWEEP_MAX_CELLS 1000000
#define MANIFEST_MAX_BYTES ((size_t)256 << 20)
/* The columns every manifest starts with (then one per swept config key). */
#define MANIFEST_FIRST_COLUMNS "cell\trun_id\tdir"
/* What a value substituted into a batch script may hold (no quoting can be needed, no '%'). */
#define SCRIPT_SAFE "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._+,:=-"
#define SLURM_NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-."

static const rl_cfg_spec setting_keys[] = {
    {"sweep.experiment", RL_CFG_STRING, "", 0, -1, NULL, 0,
     "experiment every cell runs (`ranklab list`)"},
    {"sweep.ranks", RL_CFG_INT, "1", 1, 1e6, NULL, 0,
     "MPI ranks per cell (sbatch --ntasks; mpiexec -n in run --all); a list: per cell"},
    {"sweep.cpus_per_rank", RL_CFG_INT, "1", 1, 1024, NULL, 0,
     "cores per rank (sbatch --cpus-per-task; OPENBLAS_NUM_THREADS); a list: per cell"},
    {"sweep.time", RL_CFG_STRING, "01:00:00", 0, -1, NULL, 0,
     "time limit of a cell, in Slurm's format (sbatch --time; run --all sets none); a list: "
     "per cell"},
    {"sweep.partition", RL_CFG_STRING, "", 0, -1, NULL, 0,
     "Slurm partition (empty: the cluster's default)"},
    {"sweep.throttle", RL_CFG_INT, "0", 0, 1e6, NULL, 0,
     "at most N cells of an array running at once (--array=...%N; 0: no limit)"},
    {"sweep.signal_seconds", RL_CFG_INT, "120", 0, 65535, NULL, 0,
     "Slurm sends USR2 this long before the time limit: checkpoint, exit 75, requeue"},
    {"sweep.max_requeues", RL_CFG_INT, "3", 0, 1000, NULL, 0,
     "requeues of a cell after stops (time limit, preemption, USR2)"},
    {"sweep.samples", RL_CFG_INT, "0", 0, 1e6, NULL, 0,
     "draws of the sampled keys (uniform, loguniform, choice): one axis of N cells"},
    {"sweep.sample_seed", RL_CFG_INT, "0", 0, 4294967295.0, NULL, 0,
     "seed of the draws of sampled keys (the same seed, the same cells)"},
    {"sweep.early_stop", RL_CFG_CHOICE, "none", 0, 0, "none|median", 0,
     "early stopping: median prunes a cell worse than its peers' median at a rung (what it "
     "decides depends on the order cells run in)"},
    {"sweep.rungs", RL_CFG_STRING, "", 0, -1, NULL, 0,
     "early stopping: rows of metrics (train: epochs) at which the rule looks, e.g. 2, 4, 8"},
    {"sweep.metric", RL_CFG_STRING, "test_acc", 0, -1, NULL, 0,
     "early stopping: the metric compared"},
    {"sweep.mode", RL_CFG_CHOICE, "max", 0, 0, "max|min", 0,
     "early stopping: max (higher is better) or min"},
    {"sweep.min_peers", RL_CFG_INT, "2", 1, 1e6, NULL, 0,
     "early stopping: peers that must have reached a rung before the rule decides there"},
};

rl_config *sweep_settings_new(void) {
    rl_config *settings = rl_cfg_new();
    rl_cfg_declare(settings, setting_keys, sizeof setting_keys / sizeof setting_keys[0]);
    return settings;
}

const char *sweep_config_value(const rl_config *cfg, const char *key) {
    const char *value;
    const rl_cfg_spec *s;
    for (size_t i = 0; (s = rl_cfg_item(cfg, i, &value)); i++)
        if (!strcmp(s->key, key))
            return value;
    return NULL;
}

/* ---- checks of settings that go into a batch script ---- */

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
int sweep_check_script_value(const char *what, const char *value) {
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

/* `key = value` of the file `origin`, at `line`; a later file's replaces an earlier one's. */
typedef struct {
    char *key, *value, *origin;
    int line;
} sweep_entry;

typedef struct {
    sweep_entry *at;
    int n;
} entry_list;

typedef struct {
    sweep *sw;
    entry_list fixed;    /* section.name = value, of every section but [sweep] */
    entry_list settings; /* name = value of [sweep], name without a dot */
    int planning;        /* a sweep file being planned, not a planned sweep.ini: checked more */
} parse_ctx;

static const sweep_entry *entry_find(const entry_list *l, const char *key) {
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->at[i].key, key))
            return &l->at[i];
    return NULL;
}

static void entry_set(entry_list *l, const char *key, const char *value, const char *origin,
                      int line) {
    sweep_entry *e = (sweep_entry *)entry_find(l, key);
    if (!e) {
        l->at = realloc(l->at, sizeof *l->at * (size_t)(l->n + 1));
        if (!l->at)
            abort();
        e = &l->at[l->n++];
        *e = (sweep_entry){.key = rl_xstrdup(key)};
    }
    free(e->value);
    free(e->origin);
    e->value = rl_xstrdup(value);
    e->origin = rl_xstrdup(origin);
    e->line = line;
}

static void entry_list_free(entry_list *l) {
    for (int i = 0; i < l->n; i++) {
        free(l->at[i].key);
        free(l->at[i].value);
        free(l->at[i].origin);
    }
    free(l->at);
    memset(l, 0, sizeof *l);
}

static int find_key(const sweep *sw, const char *key) {
    for (int k = 0; k < sw->n_keys; k++)
        if (!strcmp(sw->keys[k].key, key))
            return k;
    return -1;
}

static void swept_key_free(swept_key *k) {
    free(k->key);
    free(k->origin);
    free(k->sampler);
    rl_cfg_list_free(k->values, k->n_values);
}

/* The settings that may vary across cells: sweep.ranks, sweep.cpus_per_rank, sweep.time. */
static int is_resource(const char *name) {
    return !strcmp(name, "ranks") || !strcmp(name, "cpus_per_rank") || !strcmp(name, "time");
}

/* A key that a later file fixes is no longer swept by an earlier one. */
static void unsweep_earlier(sweep *sw, const char *key, const char *origin) {
    int k = find_key(sw, key);
    if (k < 0 || !strcmp(sw->keys[k].origin, origin))
        return;
    swept_key_free(&sw->keys[k]);
    memmove(&sw->keys[k], &sw->keys[k + 1], sizeof sw->keys[0] * (size_t)(sw->n_keys - k - 1));
    sw->n_keys--;
}

/* ---- sampled keys ---- */

typedef enum { SAMPLE_UNIFORM, SAMPLE_LOGUNIFORM, SAMPLE_CHOICE } sampler_kind;
static const char *const sampler_names[] = {"uniform", "loguniform", "choice"};

/* The length of NAME in a value NAME(...) (a draw expression, NAME a word), or 0. */
static size_t call_name_len(const char *value) {
    size_t len = strlen(value), name = strspn(value, "abcdefghijklmnopqrstuvwxyz"
                                                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
    size_t open = name + strspn(value + name, " \t");
    return name > 0 && value[open] == '(' && value[len - 1] == ')' ? name : 0;
}

/* The kind of a value NAME(...) whose NAME is a sampler, or -1 (a list item). */
static int sampler_kind_of(const char *value) {
    size_t name = call_name_len(value);
    if (name == 0)
        return -1;
    for (int kind = 0; kind < 3; kind++)
        if (strlen(sampler_names[kind]) == name && !strncmp(value, sampler_names[kind], name))
            return kind;
    return -1;
}

/* A number for a sampler's bound, or fails naming the expression. */
static int sampler_bound(const char *text, const char *what, double *out) {
    char *end;
    *out = strtod(text, &end);
    if (end == text || *end || !isfinite(*out))
        return rl_fail("%s: '%s' is not a number",
                       "uniform(a, b) and loguniform(a, b) take two "
                       "numbers, a < b, e.g. loguniform(1e-5, 1e-1)",
                       what, text);
    return 0;
}

/* The type of an experiment's key, or -1 when it has none of that name. */
static int key_type(const rl_experiment *exp, const char *key) {
    rl_config *cfg = rl_experiment_new_config(exp);
    const rl_cfg_spec *spec = NULL;
    for (size_t i = 0; cfg && (spec = rl_cfg_item(cfg, i, NULL)); i++)
        if (!strcmp(spec->key, key))
            break;
    int type = spec ? (int)spec->type : -1;
    rl_cfg_free(cfg);
    return type;
}

/* Draw the n values of a sampled key: sample i from Philox keyed by (seed, RL_RNG_SWEEP_SAMPLE)
 * at counter (i, CRC-32 of the key), so that a key's draws do not depend on the other keys or
 * the order of the file. Numbers keep 6 significant digits (whole numbers for integer keys). */
static int draw_samples(const rl_experiment *exp, swept_key *k, int64_t n, uint64_t seed,
                        const char *origin) {
    char what[PATH_MAX + 600], *open = strchr(k->sampler, '('), **args = NULL;
    snprintf(what, sizeof what, "%s: [sweep] %s = %s", origin, k->key, k->sampler);
    int kind = sampler_kind_of(k->sampler), n_args = 0;
    char *inner = rl_xstrdup(open + 1);
    inner[strlen(inner) - 1] = '\0';
    int rc = rl_cfg_split_list(inner, what, &args, &n_args);
    free(inner);
    double lo = 0, hi = 0;
    int type = key_type(exp, k->key);
    if (rc == 0 && kind != SAMPLE_CHOICE) {
        if (n_args != 2)
            rc = rl_fail("%s: %s takes two bounds, not %d", "e.g. loguniform(1e-5, 1e-1)", what,
                         sampler_names[kind], n_args);
        rc = rc ? rc : sampler_bound(args[0], what, &lo);
        rc = rc ? rc : sampler_bound(args[1], what, &hi);
        if (rc == 0 && !(lo < hi && (kind == SAMPLE_UNIFORM || lo > 0)))
            rc = rl_fail("%s: the bounds must be %s", "e.g. loguniform(1e-5, 1e-1)", what,
                         kind == SAMPLE_UNIFORM ? "a < b" : "0 < a < b");
        if (rc == 0 && type != RL_CFG_INT && type != RL_CFG_FLOAT && type >= 0)
            rc =
                rl_fail("%s: %s is not a number", "sample it with choice(a, b, ...)", what, k->key);
    }
    uint32_t index = rl_crc32(0, k->key, strlen(k->key));
    rl_rng rng = rl_rng_make(seed, RL_RNG_SWEEP_SAMPLE);
    k->values = rc ? NULL : rl_xmalloc(sizeof(char *) * (size_t)n);
    for (int64_t i = 0; rc == 0 && i < n; i++, k->n_values++) {
        char text[64];
        double u = rl_rng_uniform(rng, (uint32_t)i, index);
        double x = kind == SAMPLE_UNIFORM ? lo + u * (hi - lo) : lo * pow(hi / lo, u);
        if (type == RL_CFG_INT)
            snprintf(text, sizeof text, "%lld", llround(x));
        else
            snprintf(text, sizeof text, "%.6g", x);
        k->values[i] = rl_xstrdup(
            kind == SAMPLE_CHOICE ? args[rl_rng_below(rng, (uint32_t)i, index, (uint64_t)n_args)]
                                  : text);
    }
    rl_cfg_list_free(args, n_args);
    return rc;
}

/* Expand every sampled key into sweep.samples draws. */
static int expand_samples(sweep *sw) {
    int64_t n = rl_cfg_int(sw->settings, "sweep.samples");
    uint64_t seed = (uint64_t)rl_cfg_int(sw->settings, "sweep.sample_seed");
    int n_sampled = 0;
    for (int k = 0; k < sw->n_keys; k++) {
        if (!sw->keys[k].sampler)
            continue;
        if (n == 0)
            return rl_fail("%s: %s = %s is sampled, but samples is 0", NULL, sw->path,
                           sw->keys[k].key, sw->keys[k].sampler),
                   rl_fail_hint("add `samples = N` to [sweep]: N draws of the sampled keys");
        if (draw_samples(sw->exp, &sw->keys[k], n, seed, sw->keys[k].origin) < 0)
            return RL_ERR;
        n_sampled++;
    }
    if (n > 0 && n_sampled == 0)
        return rl_fail("%s: samples = %lld, but no key is sampled", NULL, sw->path, (long long)n),
               rl_fail_hint("sample a key in [sweep], e.g. train.lr = loguniform(1e-4, 1e-1), or "
                            "remove samples");
    return 0;
}

/* A key of one file both swept in [sweep] and fixed in its own section: which would win is not
 * for plan to guess. */
static int refuse_swept_and_fixed(const char *key, const char *origin, int swept_line,
                                  int fixed_line) {
    const char *dot = strchr(key, '.');
    rl_fail("%s: %s is both swept ([sweep], line %d) and fixed ([%.*s] %s, line %d)", NULL, origin,
            key, swept_line, (int)(dot - key), key, dot + 1, fixed_line);
    return rl_fail_hint("keep one of the two lines: the list in [sweep] gives each cell one of its "
                        "values; the line in [%.*s] gives every cell the same",
                        (int)(dot - key), key);
}

/* Fixed keys and settings are collected (each once per file, as rl_cfg_walk_file checks; a later
 * file replaces an earlier one's); swept keys and zip lines are lists. */
static int on_sweep_entry(void *user, const char *origin, const char *section, const char *name,
                          const char *value, int line) {
    parse_ctx *ctx = user;
    sweep *sw = ctx->sw;
    if (!section[0])
        return rl_fail("%s:%d: key '%s' is outside any [section]",
                       "settings and swept keys go under [sweep], fixed keys under their section, "
                       "e.g. [train] for train.lr (only `include = FILE` stands before them)",
                       origin, line, name);
    char key[2 * RL_CFG_MAX_KEY_CHARS + 2];
    snprintf(key, sizeof key, "%s.%s", section, name);
    if (strcmp(section, "sweep") != 0) {
        int k = find_key(sw, key);
        if (ctx->planning && k >= 0 && !strcmp(sw->keys[k].origin, origin))
            return refuse_swept_and_fixed(key, origin, sw->keys[k].line, line);
        unsweep_earlier(sw, key, origin);
        entry_set(&ctx->fixed, key, value, origin, line);
        return 0;
    }
    char what[PATH_MAX + 160];
    snprintf(what, sizeof what, "%s:%d: [sweep] %s", origin, line, name);
    if (!strcmp(name, "zip")) {
        sw->zips = realloc(sw->zips, sizeof(char *) * (size_t)(sw->n_zips + 1));
        if (!sw->zips)
            abort();
        sw->zips[sw->n_zips++] = rl_xstrdup(value);
        return RL_CFG_LIST;
    }
    /* A resource setting with a list of values is swept like a key (zip it with one that changes
     * the result: cells that differ in resources only have the same run id). */
    int k = find_key(sw, name);
    if (!strchr(name, '.') && !(is_resource(name) && (strchr(value, ',') || k >= 0))) {
        unsweep_earlier(sw, name, origin);
        entry_set(&ctx->settings, name, value, origin, line);
        return 0;
    }
    const sweep_entry *fixed = entry_find(&ctx->fixed, name);
    if (ctx->planning && fixed && !strcmp(fixed->origin, origin))
        return refuse_swept_and_fixed(name, origin, line, fixed->line);
    /* A key given again in its file (or an indented continuation line) adds values to its
     * list; given in a later file, it replaces the list (in its place in the order). */
    if (k < 0 && sw->n_keys == SWEEP_MAX_KEYS)
        return rl_fail("%s: more than %d swept keys", "sweep fewer keys at once", what,
                       SWEEP_MAX_KEYS);
    int fresh = k < 0 || strcmp(sw->keys[k].origin, origin) != 0;
    if (k >= 0 && fresh)
        swept_key_free(&sw->keys[k]);
    k = k < 0 ? sw->n_keys++ : k;
    if (fresh)
        sw->keys[k] = (swept_key){
            .key = rl_xstrdup(name), .axis = -1, .origin = rl_xstrdup(origin), .line = line};
    swept_key *sk = &sw->keys[k];
    int sampled = sampler_kind_of(value) >= 0;
    if (ctx->planning && !sampled && call_name_len(value))
        return rl_fail("%s: '%.*s' is not a known sampler (they are %s, %s and %s)",
                       "e.g. train.lr = loguniform(1e-4, 1e-1), or give a list of values: "
                       "train.lr = 0.1, 0.01",
                       what, (int)call_name_len(value), value, sampler_names[0], sampler_names[1],
                       sampler_names[2]);
    if (sk->sampler || (sampled && sk->n_values))
        return rl_fail("%s: a sampled key takes one draw expression and no list",
                       "give either a list (train.lr = 0.1, 0.01) or one expression "
                       "(train.lr = loguniform(1e-4, 1e-1))",
                       what);
    if (sampled) {
        sk->sampler = rl_xstrdup(value);
        return RL_CFG_LIST;
    }
    return rl_cfg_split_list(value, what, &sk->values, &sk->n_values) < 0 ? RL_ERR : RL_CFG_LIST;
}

/* "[section]\nname=value\n" for each entry, sections in the order they first come. */
static void entries_ini(const entry_list *l, const char *sep, rl_text *out) {
    for (int i = 0; i < l->n; i++) {
        const char *dot = strchr(l->at[i].key, '.');
        int first = 1;
        for (int j = 0; j < i && first; j++)
            first = strncmp(l->at[j].key, l->at[i].key, (size_t)(dot - l->at[i].key + 1)) != 0;
        if (!first)
            continue;
        rl_text_add(out, "[%.*s]\n", (int)(dot - l->at[i].key), l->at[i].key);
        for (int j = i; j < l->n; j++)
            if (!strncmp(l->at[j].key, l->at[i].key, (size_t)(dot - l->at[i].key + 1)))
                rl_text_add(out, "%s%s%s\n", strchr(l->at[j].key, '.') + 1, sep, l->at[j].value);
    }
}

/* The sweep file with its includes resolved, for SWEEP_DIR/sweep.ini: what it sets, one file. */
static char *composed_text(const sweep *sw, const parse_ctx *ctx, int n_included) {
    rl_text t = {0};
    rl_text_add(&t,
                "# %s with the %d file%s it includes, as `ranklab sweep plan` read it\n[sweep]\n",
                sw->path, n_included, n_included == 1 ? "" : "s");
    for (int i = 0; i < ctx->settings.n; i++)
        rl_text_add(&t, "%s = %s\n", ctx->settings.at[i].key, ctx->settings.at[i].value);
    for (int k = 0; k < sw->n_keys; k++) {
        rl_text_add(&t, "%s = %s", sw->keys[k].key, sw->keys[k].sampler ? sw->keys[k].sampler : "");
        for (int v = 0; v < sw->keys[k].n_values; v++) {
            const char *value = sw->keys[k].values[v];
            rl_text_add(&t, strchr(value, ',') ? "%s\"%s\"" : "%s%s", v ? ", " : "", value);
        }
        rl_text_add(&t, "\n");
    }
    for (int z = 0; z < sw->n_zips; z++)
        rl_text_add(&t, "zip = %s\n", sw->zips[z]);
    entries_ini(&ctx->fixed, " = ", &t);
    return t.s;
}

static void sweep_free(sweep *sw) {
    sweep_stages_free(sw);
    free(sw->text);
    rl_cfg_free(sw->settings);
    rl_text_free(&sw->base_ini);
    rl_text_free(&sw->settings_ini);
    for (int k = 0; k < sw->n_keys; k++)
        swept_key_free(&sw->keys[k]);
    rl_cfg_list_free(sw->zips, sw->n_zips);
    memset(sw, 0, sizeof *sw);
}

/* Axes: one per unzipped key, one per zip group, one for the sampled keys (sample i of each), in
 * the order the keys were given. */
static int build_axes(sweep *sw) {
    int group[SWEEP_MAX_KEYS];
    for (int k = 0; k < sw->n_keys; k++)
        group[k] = sw->keys[k].sampler ? sw->n_zips : -1;
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
            else if (sw->keys[k].sampler)
                rc = rl_fail("%s: zip names %s, which is sampled",
                             "sampled keys move together already (draw i of each): zip lists only",
                             sw->path, names[i]);
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

/* A value of sweep.time: a Slurm time longer than sweep.signal_seconds. */
static int check_time(const sweep *sw, const char *time) {
    long seconds;
    if (parse_slurm_time(time, &seconds) < 0)
        return RL_ERR;
    long long signal = (long long)rl_cfg_int(sw->settings, "sweep.signal_seconds");
    if (signal >= seconds)
        return rl_fail("sweep.signal_seconds = %lld is not shorter than sweep.time = %s",
                       "the stop signal comes signal_seconds before the time limit: lower it, "
                       "or raise time",
                       signal, time);
    return 0;
}

/* Each value of a swept resource checked as the setting would be, and made canonical. */
static int check_resource_values(const sweep *sw, swept_key *k) {
    char origin[PATH_MAX + 32];
    snprintf(origin, sizeof origin, "%s [sweep]", k->origin);
    for (int v = 0; v < k->n_values; v++) {
        rl_config *one = sweep_settings_new();
        rl_text text = {0};
        rl_text_add(&text, "[sweep]\n%s=%s\n", k->key, k->values[v]);
        int rc = rl_cfg_load_text(one, text.s, origin);
        rc = rc ? rc : rl_cfg_resolve(one);
        if (rc == 0) {
            char key[32];
            snprintf(key, sizeof key, "sweep.%s", k->key);
            free(k->values[v]);
            k->values[v] = rl_xstrdup(sweep_config_value(one, key));
            rc = strcmp(k->key, "time") ? 0 : check_time(sw, k->values[v]);
        }
        rl_text_free(&text);
        rl_cfg_free(one);
        if (rc < 0)
            return rl_fail_context("%s", origin);
    }
    return 0;
}

/* The [sweep] settings resolved and checked, and the swept resources' values. */
static int load_settings(sweep *sw) {
    const char *path = sw->path;
    sw->settings = sweep_settings_new();
    if (rl_cfg_load_text(sw->settings, rl_text_str(&sw->settings_ini), path) < 0 ||
        rl_cfg_resolve(sw->settings) < 0)
        return RL_ERR;
    const char *name = rl_cfg_str(sw->settings, "sweep.experiment");
    if (!name[0])
        return rl_fail("%s names no experiment: a sweep file needs a [sweep] section with "
                       "`experiment = NAME`",
                       "add `[sweep]` and `experiment = train` (or another from `ranklab list`)",
                       path);
    sw->exp = rl_experiment_find(name);
    if (!sw->exp)
        return rl_fail("%s: unknown experiment '%s'", "`ranklab list` shows the experiments", path,
                       name);
    if (check_time(sw, rl_cfg_str(sw->settings, "sweep.time")) < 0 ||
        check_partition(rl_cfg_str(sw->settings, "sweep.partition")) < 0)
        return rl_fail_context("%s", path);
    for (int k = 0; k < sw->n_keys; k++)
        if (!strchr(sw->keys[k].key, '.') && check_resource_values(sw, &sw->keys[k]) < 0)
            return RL_ERR;
    cell_pruner pruner;
    return sweep_pruner_init(sw, &pruner);
}

/* The sweep file at path, for the sweep directory dir (depth: how many stages below the sweep
 * being planned or opened it is). planning: path is a sweep file to plan (a key swept and fixed
 * in one file is refused); else the sweep.ini of a planned sweep, read as it was planned (its
 * files composed into one may sweep and fix a key: the sweep wins). */
static int sweep_load(const char *path, const char *dir, int depth, int planning, sweep *sw) {
    memset(sw, 0, sizeof *sw);
    snprintf(sw->path, sizeof sw->path, "%s", path);
    parse_ctx ctx = {sw, {0}, {0}, planning};
    int n_included = 0;
    int rc = rl_cfg_walk_file(path, "sweep file", on_sweep_entry, &ctx, &sw->text, &n_included);
    if (rc == 0 && n_included > 0) {
        free(sw->text);
        sw->text = composed_text(sw, &ctx, n_included);
    }
    char *fixed_from = NULL;
    for (int i = 0; i < ctx.fixed.n; i++)
        if (!strcmp(ctx.fixed.at[i].key, "init.from"))
            fixed_from = rl_xstrdup(ctx.fixed.at[i].value);
    entries_ini(&ctx.fixed, "=", &sw->base_ini);
    rl_text_add(&sw->settings_ini, "[sweep]\n");
    for (int i = 0; i < ctx.settings.n; i++)
        rl_text_add(&sw->settings_ini, "%s=%s\n", ctx.settings.at[i].key, ctx.settings.at[i].value);
    entry_list_free(&ctx.fixed);
    entry_list_free(&ctx.settings);
    rc = rc ? rc : load_settings(sw);
    rc = rc ? rc : expand_samples(sw);
    rc = rc ? rc : sweep_stages_open(sw, fixed_from, dir, depth);
    free(fixed_from);
    return rc < 0 ? RL_ERR : build_axes(sw);
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

int sweep_cell_config(const sweep *sw, int64_t cell, rl_config **out, upstream_cell *up) {
    rl_config *cfg = rl_experiment_new_config(sw->exp);
    if (!cfg)
        return RL_ERR;
    int value_of[SWEEP_MAX_KEYS];
    cell_values(sw, cell, value_of);
    rl_text cell_ini = {0};
    for (int k = 0; k < sw->n_keys; k++) {
        const char *key = sw->keys[k].key, *dot = strchr(key, '.');
        if (dot)
            rl_text_add(&cell_ini, "[%.*s]\n%s = %s\n", (int)(dot - key), key, dot + 1,
                        sw->keys[k].values[value_of[k]]);
    }
    char origin[PATH_MAX + 16];
    snprintf(origin, sizeof origin, "%s [sweep]", sw->path);
    int rc = rl_cfg_load_text(cfg, rl_text_str(&sw->base_ini), sw->path);
    rc = rc ? rc : rl_cfg_load_text(cfg, rl_text_str(&cell_ini), origin);
    rc = rc ? rc : rl_cfg_resolve(cfg);
    rc = rc ? rc : sweep_stage_resolve(sw, cfg, up);
    rl_text_free(&cell_ini);
    if (rc < 0) {
        rl_cfg_free(cfg);
        return rl_fail_context("cell %lld", (long long)cell);
    }
    *out = cfg;
    return 0;
}

void sweep_cell_resources(const sweep *sw, int64_t cell, cell_resources *out) {
    int value_of[SWEEP_MAX_KEYS];
    cell_values(sw, cell, value_of);
    out->ranks = (int)rl_cfg_int(sw->settings, "sweep.ranks");
    out->cpus_per_rank = (int)rl_cfg_int(sw->settings, "sweep.cpus_per_rank");
    snprintf(out->time, sizeof out->time, "%s", rl_cfg_str(sw->settings, "sweep.time"));
    for (int k = 0; k < sw->n_keys; k++) {
        const char *value = sw->keys[k].values[value_of[k]];
        if (!strcmp(sw->keys[k].key, "ranks"))
            out->ranks = atoi(value);
        else if (!strcmp(sw->keys[k].key, "cpus_per_rank"))
            out->cpus_per_rank = atoi(value);
        else if (!strcmp(sw->keys[k].key, "time"))
            snprintf(out->time, sizeof out->time, "%s", value);
    }
}

int sweep_resource_groups(const sweep *sw, cell_resources **tuples, int **group_of_cell) {
    int n = 0;
    *tuples = NULL;
    *group_of_cell = rl_xmalloc(sizeof(int) * (size_t)sw->n_cells);
    for (int64_t c = 0; c < sw->n_cells; c++) {
        cell_resources r;
        sweep_cell_resources(sw, c, &r);
        int g = 0;
        while (g < n &&
               !((*tuples)[g].ranks == r.ranks && (*tuples)[g].cpus_per_rank == r.cpus_per_rank &&
                 !strcmp((*tuples)[g].time, r.time)))
            g++;
        if (g == n) {
            *tuples = realloc(*tuples, sizeof **tuples * (size_t)(n + 1));
            if (!*tuples)
                abort();
            (*tuples)[n++] = r;
        }
        (*group_of_cell)[c] = g;
    }
    return n;
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

void sweep_cell_dir_name(int64_t cell, const char *run_id, char out[48]) {
    snprintf(out, 48, "cells/%04lld-%.16s", (long long)cell, run_id);
}

/* The first line of manifest.tsv, without the newline. */
static void manifest_header(const sweep *sw, rl_text *out) {
    rl_text_add(out, MANIFEST_FIRST_COLUMNS);
    for (int k = 0; k < sw->n_keys; k++)
        if (strchr(sw->keys[k].key, '.'))
            rl_text_add(out, "\t%s", sw->keys[k].key);
}

/* The swept keys that are config keys (not resources): the manifest's columns after dir. */
static int n_config_keys(const sweep *sw) {
    int n = 0;
    for (int k = 0; k < sw->n_keys; k++)
        n += strchr(sw->keys[k].key, '.') != NULL;
    return n;
}

/* Resolve every cell; the manifest text, or RL_ERR before anything is written. */
static int plan_manifest(const sweep *sw, rl_text *manifest) {
    manifest_header(sw, manifest);
    rl_text_add(manifest, "\n");
    id_entry *ids = rl_xmalloc(sizeof(id_entry) * (size_t)sw->n_cells);
    int rc = 0;
    for (int64_t c = 0; rc == 0 && c < sw->n_cells; c++) {
        rl_config *cfg;
        if ((rc = sweep_cell_config(sw, c, &cfg, NULL)) < 0)
            break;
        if (sw->exp->check && sw->exp->check(cfg) < 0) {
            rl_cfg_free(cfg);
            rc = rl_fail_context("cell %lld", (long long)c);
            break;
        }
        ids[c].cell = c;
        rl_cfg_run_id(cfg, ids[c].run_id);
        char dir[48];
        sweep_cell_dir_name(c, ids[c].run_id, dir);
        rl_text_add(manifest, "%lld\t%s\t%s", (long long)c, ids[c].run_id, dir);
        for (int k = 0; rc == 0 && k < sw->n_keys; k++) {
            if (!strchr(sw->keys[k].key, '.'))
                continue;
            const char *v = sweep_config_value(cfg, sw->keys[k].key);
            if (strpbrk(v, "\t\n"))
                rc = rl_fail("%s: a value of %s holds a tab or newline", "use values without tabs",
                             sw->path, sw->keys[k].key);
            rl_text_add(manifest, "\t%s", v);
        }
        rl_text_add(manifest, "\n");
        rl_cfg_free(cfg);
    }
    if (rc == 0) {
        qsort(ids, (size_t)sw->n_cells, sizeof *ids, compare_ids);
        for (int64_t i = 1; rc == 0 && i < sw->n_cells; i++)
            if (!strcmp(ids[i].run_id, ids[i - 1].run_id)) {
                rc = rl_fail("%s: cells %lld and %lld have the same config (run id %s)",
                             "sweep keys that change the result; runtime keys such as "
                             "ckpt.every do not (`ranklab run EXPERIMENT --help` marks them)",
                             sw->path, (long long)ids[i - 1].cell, (long long)ids[i].cell,
                             ids[i].run_id);
                if (rl_cfg_int(sw->settings, "sweep.samples"))
                    rl_fail_hint("draws of choice(...) can repeat: lower samples, change "
                                 "sample_seed, or list those values as a grid");
                else if (n_config_keys(sw) < sw->n_keys)
                    rl_fail_hint("ranks, cpus_per_rank and time do not change the result: zip "
                                 "their lists with a key that does (zip = model.spec, ranks)");
            }
    }
    free(ids);
    return rc;
}

/* The first swept key on axis a. */
static int k_of_axis(const sweep *sw, int a) {
    int k = 0;
    while (sw->keys[k].axis != a)
        k++;
    return k;
}

static void print_resources(const sweep *sw, const char *dir) {
    const rl_config *s = sw->settings;
    long throttle = (long)rl_cfg_int(s, "sweep.throttle");
    const char *partition = rl_cfg_str(s, "sweep.partition");
    printf("sweep of %s: %lld cells (", sw->exp->name, (long long)sw->n_cells);
    for (int a = 0; a < sw->n_axes; a++) {
        printf("%s", a ? " x " : "");
        for (int k = 0, first = 1; k < sw->n_keys; k++)
            if (sw->keys[k].axis == a) {
                printf("%s%s", first ? "" : "+", sw->keys[k].key);
                first = 0;
            }
        printf(" %d%s", sw->axis_len[a], sw->keys[k_of_axis(sw, a)].sampler ? " samples" : "");
    }
    printf("%s) in %s\n", sw->n_axes ? "" : "no swept keys", dir);
    cell_resources *tuples;
    int *group, n_groups = sweep_resource_groups(sw, &tuples, &group);
    int64_t *cells = rl_xmalloc(sizeof(int64_t) * (size_t)sw->n_cells);
    long long cpus = 0, at_once = 0;
    double cpu_hours = 0;
    for (int g = 0; g < n_groups; g++) {
        int64_t n = 0;
        for (int64_t c = 0; c < sw->n_cells; c++)
            if (group[c] == g)
                cells[n++] = c;
        long seconds = 0, per_cell = (long)tuples[g].ranks * tuples[g].cpus_per_rank;
        parse_slurm_time(tuples[g].time, &seconds);
        cpus += n * per_cell;
        at_once += (throttle && throttle < n ? throttle : n) * per_cell; /* throttle: per array */
        cpu_hours += (double)n * per_cell * seconds / 3600.0;
        rl_text list = {0};
        sweep_format_cells(cells, n, 0, &list);
        printf("%s%s: %d ranks x %d CPU per rank, time limit %s\n",
               n_groups == 1 ? "each cell" : "cells ", n_groups == 1 ? "" : list.s, tuples[g].ranks,
               tuples[g].cpus_per_rank, tuples[g].time);
        rl_text_free(&list);
    }
    printf("partition %s; all cells: %lld CPUs, %lld at once%s; at most %.1f CPU-hours\n",
           partition[0] ? partition : "(the default)", cpus, at_once, throttle ? " (throttle)" : "",
           cpu_hours);
    free(cells);
    free(tuples);
    free(group);
}

/* Before plan writes anything: --dir must be missing or an empty directory (a directory that
 * holds this sweep's own plan is the caller's no-op). old_manifest and old_file are the
 * manifest.tsv and sweep.ini found there, NULL where there is none. */
static int check_plan_dir(const char *dir, const char *old_manifest, const char *old_file) {
    io_path_kind_t kind = io_path_kind(dir);
    if (kind == IO_PATH_MISSING)
        return 0;
    if (kind != IO_PATH_DIR)
        return rl_fail("--dir %s exists and is not a directory",
                       "choose another --dir: a new or empty directory", dir);
    rl_text names = {0};
    long n = io_dir_entries(dir, &names, 4);
    int rc = 0;
    if (n < 0)
        rc = rl_fail("cannot read the directory %s: %s",
                     "check its permissions, or choose another --dir", dir, strerror(errno));
    else if (n > 0 && old_manifest && old_file &&
             !strncmp(old_manifest, MANIFEST_FIRST_COLUMNS, strlen(MANIFEST_FIRST_COLUMNS)))
        rc = rl_fail("%s already holds the plan of another sweep",
                     "choose another --dir (`ranklab sweep status DIR` shows that sweep)", dir);
    else if (n > 0)
        rc = rl_fail("%s is not empty and holds no sweep plan: it has %s%s",
                     "plan into a new or empty directory: choose another --dir", dir, names.s,
                     n > 4 ? ", ..." : "");
    rl_text_free(&names);
    return rc;
}

int sweep_cmd_plan(int argc, char **argv) {
    const char *file = NULL, *dir = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 == argc)
            return rl_fail("--dir needs a value: the sweep directory to plan into",
                           "ranklab sweep plan FILE --dir SWEEP_DIR");
        else if (!strcmp(argv[i], "--dir") && !dir)
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
    rl_text manifest = {0}, abs_dir = {0};
    char *old_manifest = NULL, *old_file = NULL, cwd[PATH_MAX] = "", path[PATH_MAX + 32];
    if (dir[0] != '/' && getcwd(cwd, sizeof cwd))
        rl_text_add(&abs_dir, "%s/", cwd);
    rl_text_add(&abs_dir, "%s", dir);
    int rc = sweep_check_script_value("the sweep directory", abs_dir.s);
    rl_text_free(&abs_dir);
    rc = rc ? rc : sweep_load(file, dir, 0, 1, &sw);
    rc = rc ? rc : plan_manifest(&sw, &manifest);
    snprintf(path, sizeof path, "%s/manifest.tsv", dir);
    if (rc == 0 && io_path_exists(path)) {
        old_manifest = rl_cfg_read_file(path, "manifest", MANIFEST_MAX_BYTES);
        snprintf(path, sizeof path, "%s/sweep.ini", dir);
        old_file = io_path_exists(path)
                       ? rl_cfg_read_file(path, "sweep file", RL_CFG_MAX_FILE_BYTES)
                       : NULL;
    }
    int same_plan = rc == 0 && old_manifest && old_file && !strcmp(old_manifest, manifest.s) &&
                    !strcmp(old_file, sw.text);
    if (same_plan) {
        printf("%s already holds this plan; nothing written\n", dir);
    } else if (rc == 0) {
        rc = check_plan_dir(dir, old_manifest, old_file);
        rc = rc ? rc : io_make_dir(dir);
        rc = rc ? rc : sweep_write_text(dir, "sweep.ini", sw.text);
        rc = rc ? rc : sweep_write_text(dir, "manifest.tsv", manifest.s);
    }
    if (rc == 0) {
        print_resources(&sw, dir);
        printf("manifest: %s/manifest.tsv\nnext: ranklab sweep submit %s   (Slurm; --dry-run "
               "shows the script)\n  or on this machine: ranklab sweep run %s --all [--jobs N]\n",
               dir, dir, dir);
    }
    free(old_manifest);
    free(old_file);
    rl_text_free(&manifest);
    sweep_free(&sw);
    return rc;
}

/* ---- a planned sweep directory ---- */

void sweep_planned_free(planned *p) {
    free(p->rows);
    p->rows = NULL;
    sweep_free(&p->sw);
}

/* Checks one manifest row (tabs are cut to NULs): the cell number, a run id of 16 hex digits,
 * the directory derived from both, one value per swept key. */
static int check_manifest_row(const planned *p, int64_t row, char *line, const char *where) {
    int n_fields = 1, want_fields = 3 + n_config_keys(&p->sw);
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
    sweep_cell_dir_name(row, run_id, want);
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
    rl_text header = {0};
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
    rl_text_free(&header);
    free(text);
    return rc < 0 ? rl_fail_hint("the sweep directory was edited; plan again into a new one") : 0;
}

int sweep_planned_open_stage(planned *p, const char *dir, int depth) {
    memset(p, 0, sizeof *p);
    snprintf(p->dir, sizeof p->dir, "%s", dir);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/sweep.ini", dir);
    if (!io_path_exists(path))
        return rl_fail("%s is not a planned sweep (no sweep.ini)",
                       "ranklab sweep plan FILE --dir SWEEP_DIR creates it", dir);
    if (sweep_load(path, dir, depth, 0, &p->sw) < 0)
        return RL_ERR;
    snprintf(path, sizeof path, "%s/manifest.tsv", dir);
    return read_manifest(p, path);
}

int sweep_planned_open(planned *p, const char *dir) {
    return sweep_planned_open_stage(p, dir, 0);
}

int sweep_cell_path(const planned *p, int64_t cell, const char *name, char *out, size_t n) {
    char dir[48];
    sweep_cell_dir_name(cell, p->rows[cell].run_id, dir);
    int len = snprintf(out, n, "%s/%s%s%s", p->dir, dir, name ? "/" : "", name ? name : "");
    return len < (int)n ? 0 : rl_fail("path too long: %s", "use a shorter sweep directory", out);
}
