/* Config: declared keys, INI files (inih), command-line overrides, validation, run id. */
#include "src/core/config.h"
#include "src/core/error.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_KEYS 256
#define MAX_ASSIGNMENTS 512

typedef struct {
    char *key, *value, *origin;
} assignment;

struct rl_config {
    const rl_cfg_spec *specs[MAX_KEYS]; /* sorted by key after resolve */
    char *values[MAX_KEYS];             /* resolved, canonical text */
    size_t n_specs;
    assignment set[MAX_ASSIGNMENTS];    /* in the order given: later wins */
    size_t n_set;
    int resolved;
};

rl_config *rl_cfg_new(void) {
    return rl_xcalloc(1, sizeof(rl_config));
}

void rl_cfg_free(rl_config *cfg) {
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n_specs; i++)
        free(cfg->values[i]);
    for (size_t i = 0; i < cfg->n_set; i++) {
        free(cfg->set[i].key);
        free(cfg->set[i].value);
        free(cfg->set[i].origin);
    }
    free(cfg);
}

static long find_spec(const rl_config *cfg, const char *key) {
    for (size_t i = 0; i < cfg->n_specs; i++)
        if (strcmp(cfg->specs[i]->key, key) == 0)
            return (long)i;
    return -1;
}

void rl_cfg_declare(rl_config *cfg, const rl_cfg_spec *specs, size_t n) {
    for (size_t i = 0; i < n; i++) {
        long at = find_spec(cfg, specs[i].key);
        if (at >= 0) {
            const rl_cfg_spec *old = cfg->specs[at];
            if (old->type != specs[i].type || strcmp(old->def, specs[i].def) != 0) {
                fprintf(stderr, "bug: config key %s declared twice with different specs\n",
                        specs[i].key);
                abort();
            }
            continue;
        }
        if (cfg->n_specs == MAX_KEYS) {
            fprintf(stderr, "bug: more than %d config keys\n", MAX_KEYS);
            abort();
        }
        cfg->specs[cfg->n_specs++] = &specs[i];
    }
}

static int add_assignment(rl_config *cfg, const char *key, const char *value, const char *origin) {
    if (cfg->n_set == MAX_ASSIGNMENTS)
        return rl_fail("too many config assignments (more than %d)", "simplify the config file",
                       MAX_ASSIGNMENTS);
    assignment *a = &cfg->set[cfg->n_set++];
    a->key = rl_xstrdup(key);
    a->value = rl_xstrdup(value);
    a->origin = rl_xstrdup(origin);
    return 0;
}

typedef struct {
    rl_config *cfg;
    const char *origin;
    int failed;
} ini_context;

static int on_ini_entry(void *user, const char *section, const char *name, const char *value) {
    ini_context *ctx = user;
    char key[256];
    if (!section[0]) {
        ctx->failed = rl_fail("%s: key '%s' is outside any [section]",
                              "put it under a section, e.g. [train] for train.lr", ctx->origin,
                              name);
        return 0;
    }
    snprintf(key, sizeof key, "%s.%s", section, name);
    if (add_assignment(ctx->cfg, key, value, ctx->origin) < 0) {
        ctx->failed = RL_ERR;
        return 0;
    }
    return 1;
}

static int finish_parse(ini_context *ctx, int rc, const char *what) {
    if (ctx->failed)
        return RL_ERR;
    if (rc == -1)
        return rl_fail("cannot open config file %s", "check the path given with -c", what);
    if (rc != 0)
        return rl_fail("%s:%d: not a valid INI line", "lines look like `[section]` or `key = value`",
                       what, rc);
    return 0;
}

int rl_cfg_load_file(rl_config *cfg, const char *path) {
    ini_context ctx = {cfg, path, 0};
    return finish_parse(&ctx, ini_parse(path, on_ini_entry, &ctx), path);
}

int rl_cfg_load_text(rl_config *cfg, const char *text, const char *origin) {
    ini_context ctx = {cfg, origin, 0};
    return finish_parse(&ctx, ini_parse_string(text, on_ini_entry, &ctx), origin);
}

int rl_cfg_set_override(rl_config *cfg, const char *assignment_text) {
    const char *eq = strchr(assignment_text, '=');
    const char *dot = strchr(assignment_text, '.');
    if (!eq || !dot || dot > eq || eq == assignment_text)
        return rl_fail("bad override '%s': expected section.key=value",
                       "for example train.lr=0.01", assignment_text);
    char key[256];
    snprintf(key, sizeof key, "%.*s", (int)(eq - assignment_text), assignment_text);
    return add_assignment(cfg, key, eq + 1, "command line");
}

/* Edit distance, for "did you mean". */
static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    size_t *row = rl_xmalloc((lb + 1) * sizeof *row);
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t sub = diag + (a[i - 1] != b[j - 1]);
            size_t best = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;
            row[j] = sub < best ? sub : best;
            diag = up;
        }
    }
    size_t d = row[lb];
    free(row);
    return d;
}

static const char *closest_key(const rl_config *cfg, const char *key) {
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < cfg->n_specs; i++) {
        size_t d = edit_distance(key, cfg->specs[i]->key);
        if (d < best_d) {
            best_d = d;
            best = cfg->specs[i]->key;
        }
    }
    return best;
}

static const char *type_name(rl_cfg_type t) {
    switch (t) {
    case RL_CFG_INT: return "int";
    case RL_CFG_FLOAT: return "float";
    case RL_CFG_BOOL: return "bool";
    case RL_CFG_STRING: return "string";
    case RL_CFG_CHOICE: return "choice";
    }
    return "?";
}

static int choice_allowed(const char *choices, const char *value) {
    size_t n = strlen(value);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, value, n) == 0)
            return 1;
        p += len + (bar ? 1 : 0);
    }
    return 0;
}

/* Shortest text that reads back as the same double. */
static void format_double(char *buf, size_t n, double v) {
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* Check `text` against spec; write the canonical form into out. */
static int canonical_value(const rl_cfg_spec *s, const char *text, const char *origin, char *out,
                           size_t out_n) {
    char *end;
    int has_range = s->min <= s->max;
    char range[128] = "";
    if (has_range) {
        char lo[40], hi[40];
        format_double(lo, sizeof lo, s->min);
        format_double(hi, sizeof hi, s->max);
        snprintf(range, sizeof range, "allowed range for %s is [%s, %s]", s->key, lo, hi);
    }
    switch (s->type) {
    case RL_CFG_INT: {
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (errno || end == text || *end)
            return rl_fail("%s: %s = '%s' is not an integer", NULL, origin, s->key, text),
                   rl_fail_hint("give a whole number, e.g. %s=%s", s->key, s->def);
        if (has_range && ((double)v < s->min || (double)v > s->max))
            return rl_fail("%s: %s = %lld is out of range", NULL, origin, s->key, v),
                   rl_fail_hint("%s", range);
        snprintf(out, out_n, "%lld", v);
        return 0;
    }
    case RL_CFG_FLOAT: {
        errno = 0;
        double v = strtod(text, &end);
        if (errno || end == text || *end || !isfinite(v))
            return rl_fail("%s: %s = '%s' is not a number", NULL, origin, s->key, text),
                   rl_fail_hint("give a number, e.g. %s=%s", s->key, s->def);
        if (has_range && (v < s->min || v > s->max))
            return rl_fail("%s: %s = %s is out of range", NULL, origin, s->key, text),
                   rl_fail_hint("%s", range);
        format_double(out, out_n, v == 0.0 ? 0.0 : v); /* -0 reads as 0 */
        return 0;
    }
    case RL_CFG_BOOL:
        if (!strcasecmp(text, "true") || !strcmp(text, "1") || !strcasecmp(text, "yes")) {
            snprintf(out, out_n, "true");
            return 0;
        }
        if (!strcasecmp(text, "false") || !strcmp(text, "0") || !strcasecmp(text, "no")) {
            snprintf(out, out_n, "false");
            return 0;
        }
        return rl_fail("%s: %s = '%s' is not a boolean", "use true or false", origin, s->key,
                       text);
    case RL_CFG_CHOICE:
        if (!choice_allowed(s->choices, text))
            return rl_fail("%s: %s = '%s' is not one of the choices", NULL, origin, s->key, text),
                   rl_fail_hint("choose one of: %s", s->choices);
        snprintf(out, out_n, "%s", text);
        return 0;
    case RL_CFG_STRING:
        snprintf(out, out_n, "%s", text);
        return 0;
    }
    return RL_ERR;
}

static int compare_specs(const void *a, const void *b) {
    const rl_cfg_spec *const *x = a, *const *y = b;
    return strcmp((*x)->key, (*y)->key);
}

int rl_cfg_resolve(rl_config *cfg) {
    qsort(cfg->specs, cfg->n_specs, sizeof cfg->specs[0], compare_specs);
    for (size_t i = 0; i < cfg->n_set; i++) {
        if (find_spec(cfg, cfg->set[i].key) < 0) {
            const char *near = closest_key(cfg, cfg->set[i].key);
            rl_fail("%s: unknown config key '%s'", NULL, cfg->set[i].origin, cfg->set[i].key);
            return rl_fail_hint("did you mean '%s'? (`ranklab show-config EXPERIMENT` lists "
                                "every key)",
                                near ? near : "?");
        }
    }
    char canon[4096];
    for (size_t k = 0; k < cfg->n_specs; k++) {
        const rl_cfg_spec *s = cfg->specs[k];
        const char *text = s->def, *origin = "default";
        for (size_t i = 0; i < cfg->n_set; i++)
            if (strcmp(cfg->set[i].key, s->key) == 0) {
                text = cfg->set[i].value;
                origin = cfg->set[i].origin;
            }
        if (canonical_value(s, text, origin, canon, sizeof canon) < 0)
            return RL_ERR;
        free(cfg->values[k]);
        cfg->values[k] = rl_xstrdup(canon);
    }
    cfg->resolved = 1;
    return 0;
}

static const char *lookup(const rl_config *cfg, const char *key, rl_cfg_type want) {
    long at = find_spec(cfg, key);
    if (at < 0 || !cfg->resolved) {
        fprintf(stderr, "bug: config key %s read but %s\n", key,
                at < 0 ? "never declared" : "config not resolved");
        abort();
    }
    rl_cfg_type have = cfg->specs[at]->type;
    int compatible = have == want || (want == RL_CFG_STRING && have == RL_CFG_CHOICE);
    if (!compatible) {
        fprintf(stderr, "bug: config key %s is %s, read as %s\n", key, type_name(have),
                type_name(want));
        abort();
    }
    return cfg->values[at];
}

int64_t rl_cfg_int(const rl_config *cfg, const char *key) {
    return strtoll(lookup(cfg, key, RL_CFG_INT), NULL, 10);
}

double rl_cfg_float(const rl_config *cfg, const char *key) {
    return strtod(lookup(cfg, key, RL_CFG_FLOAT), NULL);
}

int rl_cfg_bool(const rl_config *cfg, const char *key) {
    return strcmp(lookup(cfg, key, RL_CFG_BOOL), "true") == 0;
}

const char *rl_cfg_str(const rl_config *cfg, const char *key) {
    return lookup(cfg, key, RL_CFG_STRING);
}

const rl_cfg_spec *rl_cfg_item(const rl_config *cfg, size_t i, const char **value) {
    if (i >= cfg->n_specs)
        return NULL;
    if (value)
        *value = cfg->resolved ? cfg->values[i] : cfg->specs[i]->def;
    return cfg->specs[i];
}

char *rl_cfg_text(const rl_config *cfg) {
    size_t cap = 256, len = 0;
    char *text = rl_xmalloc(cap);
    text[0] = '\0';
    for (size_t i = 0; i < cfg->n_specs; i++) {
        const char *v = cfg->values[i] ? cfg->values[i] : cfg->specs[i]->def;
        size_t need = strlen(cfg->specs[i]->key) + strlen(v) + 5;
        while (len + need >= cap) {
            cap *= 2;
            char *grown = realloc(text, cap);
            if (!grown)
                abort();
            text = grown;
        }
        len += (size_t)sprintf(text + len, "%s = %s\n", cfg->specs[i]->key, v);
    }
    return text;
}

void rl_cfg_run_id(const rl_config *cfg, char out[17]) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < cfg->n_specs; i++) {
        if (cfg->specs[i]->flags & RL_CFG_RUNTIME)
            continue;
        const char *parts[3] = {cfg->specs[i]->key, "=", cfg->values[i]};
        for (int p = 0; p < 3; p++)
            for (const unsigned char *c = (const unsigned char *)parts[p]; *c; c++)
                h = (h ^ *c) * 0x100000001b3ull;
        h = (h ^ '\n') * 0x100000001b3ull;
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

void rl_cfg_print_docs(const rl_config *cfg) {
    for (size_t i = 0; i < cfg->n_specs; i++) {
        const rl_cfg_spec *s = cfg->specs[i];
        const char *v = cfg->resolved ? cfg->values[i] : s->def;
        printf("%-24s = %-22s # %s", s->key, v, s->doc);
        printf(" [%s", type_name(s->type));
        if (s->type == RL_CFG_CHOICE)
            printf(": %s", s->choices);
        else if (s->min <= s->max && (s->type == RL_CFG_INT || s->type == RL_CFG_FLOAT))
            printf(", %g..%g", s->min, s->max);
        printf(", default %s%s]\n", s->def, s->flags & RL_CFG_RUNTIME ? ", runtime" : "");
    }
}
