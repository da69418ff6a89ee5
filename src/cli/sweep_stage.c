/* Stages: a sweep whose cells start from the cells of another, planned sweep. A value
 *
 *     init.from = sweep:DIR?KEY&KEY=VALUE
 *
 * names, for each cell, the one cell of the sweep in DIR (taken from this sweep's directory,
 * e.g. sweep:../pretrain beside it) whose KEY equals this cell's KEY and whose KEY=VALUE holds;
 * without `?` that sweep has a single cell. The reference is resolved whenever the cell's config
 * is (at plan, and each time the directory is opened): init.from becomes the absolute path of
 * the upstream cell's directory, and that path goes into the run id. This file opens the
 * upstream sweeps, keeps the values of their cells for the keys matched, and finds each cell's
 * upstream cell. */
#include "src/cli/sweep_internal.h"
#include "src/core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STAGE_PREFIX "sweep:"
/* Stages below the sweep opened first: deeper is a sweep that names itself, through others. */
#define STAGE_MAX_DEPTH 8
#define STAGE_MAX_KEYS 16

struct stage_ref {
    char *text;              /* "sweep:../pretrain?run.seed" as written */
    char dir[PATH_MAX];      /* DIR taken from this sweep's directory */
    char real_dir[PATH_MAX]; /* its real path, which the cells' init.from start with */
    char **keys, **values;   /* (n_keys) matched keys; the value asked for, or NULL: the cell's */
    int n_keys;
    planned up;
    char **table; /* (up.sw.n_cells, n_keys) the upstream cells' values of the keys */
};

/* base/rel with "." and "dir/.." taken out as text (base need not exist yet, at plan). */
static void join_lexically(const char *base, const char *rel, char *out, size_t n) {
    char joined[2 * PATH_MAX + 2];
    snprintf(joined, sizeof joined, "%s%s%s", rel[0] == '/' ? "" : base, rel[0] == '/' ? "" : "/",
             rel);
    size_t len = 0;
    out[0] = '\0';
    int depth = 0; /* components in out that a ".." may take back */
    for (char *part = strtok(joined, "/"); part; part = strtok(NULL, "/")) {
        if (!strcmp(part, "."))
            continue;
        if (!strcmp(part, "..") && depth > 0) {
            char *slash = strrchr(out, '/');
            len = slash ? (size_t)(slash - out) : 0;
            out[len] = '\0';
            depth--;
            continue;
        }
        if (!strcmp(part, "..") && joined[0] == '/' && len == 0)
            continue; /* "/.." is "/" */
        len +=
            (size_t)snprintf(out + len, n - len, "%s%s", len || joined[0] == '/' ? "/" : "", part);
        depth += strcmp(part, "..") != 0;
    }
    if (!out[0])
        snprintf(out, n, "%s", joined[0] == '/' ? "/" : ".");
}

static void ref_free(stage_ref *r) {
    free(r->text);
    rl_cfg_list_free(r->keys, r->n_keys);
    for (int k = 0; k < r->n_keys; k++)
        free(r->values[k]);
    free(r->values);
    for (int64_t i = 0; r->table && i < r->up.sw.n_cells * r->n_keys; i++)
        free(r->table[i]);
    free(r->table);
    sweep_planned_free(&r->up);
}

void sweep_stages_free(sweep *sw) {
    for (int i = 0; i < sw->n_refs; i++)
        ref_free(&sw->refs[i]);
    free(sw->refs);
    sw->refs = NULL;
    sw->n_refs = 0;
}

/* KEY=VALUE of a reference: VALUE as the upstream experiment reads it (canonical), or an error
 * naming the key. */
static int canonical_upstream_value(const stage_ref *r, const char *key, const char *value,
                                    char **out) {
    rl_config *cfg = rl_experiment_new_config(r->up.sw.exp);
    char assignment[2 * RL_CFG_MAX_VALUE_CHARS];
    snprintf(assignment, sizeof assignment, "%s=%s", key, value);
    int rc = cfg ? rl_cfg_set_override(cfg, assignment) : RL_ERR;
    rc = rc ? rc : rl_cfg_resolve(cfg);
    if (rc == 0)
        *out = rl_xstrdup(sweep_config_value(cfg, key));
    rl_cfg_free(cfg);
    return rc;
}

/* Parse "sweep:DIR?KEY&KEY=VALUE", open DIR and read its cells' values of the keys. */
static int ref_open(stage_ref *r, const char *text, const char *sweep_dir, int depth) {
    r->text = rl_xstrdup(text);
    const char *spec = text + strlen(STAGE_PREFIX);
    size_t dir_len = strcspn(spec, "?");
    if (dir_len == 0)
        return rl_fail("init.from = %s names no sweep directory",
                       "init.from = sweep:DIR?KEY, e.g. sweep:../pretrain?run.seed", text);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%.*s", (int)dir_len, spec);
    join_lexically(sweep_dir, dir, r->dir, sizeof r->dir);
    char here[PATH_MAX], there[PATH_MAX];
    if (realpath(sweep_dir, here) && realpath(r->dir, there) && !strcmp(here, there))
        return rl_fail("init.from = %s names this sweep's own directory", NULL, text),
               rl_fail_hint("a stage starts from another sweep's cells: DIR is taken from %s",
                            sweep_dir);
    if (depth >= STAGE_MAX_DEPTH)
        return rl_fail("init.from = %s: stages nest more than %d deep",
                       "does a sweep start from itself, through others?", text, STAGE_MAX_DEPTH);
    if (sweep_planned_open_stage(&r->up, r->dir, depth + 1) < 0)
        return rl_fail_context("init.from = %s (%s)", text, r->dir),
               rl_fail_hint("plan the sweep it starts from first (ranklab sweep plan FILE --dir "
                            "%s); DIR is taken from this sweep's directory, %s",
                            r->dir, sweep_dir);
    if (!realpath(r->dir, r->real_dir))
        return rl_fail("init.from = %s: cannot resolve %s", NULL, text, r->dir);
    const char *query = spec[dir_len] == '?' ? spec + dir_len + 1 : NULL;
    int rc = 0;
    for (const char *term = query; rc == 0 && term;
         term = strchr(term, '&') ? strchr(term, '&') + 1 : NULL) {
        size_t len = strcspn(term, "&"), key_len = strcspn(term, "=&");
        if (key_len == 0 || r->n_keys == STAGE_MAX_KEYS) {
            rc = rl_fail("init.from = %s has %s", NULL, text,
                         key_len ? "more than 16 terms" : "an empty term");
            rl_fail_hint("terms are KEY (the upstream cell's KEY equals this cell's) or KEY=VALUE, "
                         "joined by &: sweep:../pretrain?run.seed&train.lr=0.01");
            break;
        }
        r->keys = realloc(r->keys, sizeof(char *) * (size_t)(r->n_keys + 1));
        r->values = realloc(r->values, sizeof(char *) * (size_t)(r->n_keys + 1));
        if (!r->keys || !r->values)
            abort();
        r->keys[r->n_keys] = rl_xmalloc(key_len + 1);
        snprintf(r->keys[r->n_keys], key_len + 1, "%s", term);
        r->values[r->n_keys] = NULL;
        if (key_len < len) {
            char value[RL_CFG_MAX_VALUE_CHARS + 1];
            snprintf(value, sizeof value, "%.*s", (int)(len - key_len - 1), term + key_len + 1);
            rc = canonical_upstream_value(r, r->keys[r->n_keys], value, &r->values[r->n_keys]);
            if (rc < 0)
                rl_fail_context("init.from = %s", text);
        }
        r->n_keys++;
    }
    if (rc < 0)
        return RL_ERR;
    if (r->n_keys == 0 && r->up.sw.n_cells != 1)
        return rl_fail("init.from = %s: %s has %lld cells, and no key says which", NULL, text,
                       r->dir, (long long)r->up.sw.n_cells),
               rl_fail_hint("name the keys that pick the cell, e.g. %s?run.seed", text);
    r->table = rl_xcalloc((size_t)(r->up.sw.n_cells * r->n_keys) + 1, sizeof(char *));
    for (int64_t u = 0; rc == 0 && r->n_keys && u < r->up.sw.n_cells; u++) {
        rl_config *cfg;
        if ((rc = sweep_cell_config(&r->up.sw, u, &cfg, NULL)) < 0)
            break;
        for (int k = 0; rc == 0 && k < r->n_keys; k++) {
            const char *value = sweep_config_value(cfg, r->keys[k]);
            if (!value)
                rc = rl_fail("init.from = %s: the cells of %s (%s) have no key %s",
                             "match keys of both experiments, e.g. run.seed", text, r->dir,
                             r->up.sw.exp->name, r->keys[k]);
            else
                r->table[u * r->n_keys + k] = rl_xstrdup(value);
        }
        rl_cfg_free(cfg);
    }
    return rc;
}

int sweep_stages_open(sweep *sw, const char *fixed_from, const char *sweep_dir, int depth) {
    int from = 0;
    while (from < sw->n_keys && strcmp(sw->keys[from].key, "init.from") != 0)
        from++;
    int n_candidates = (from < sw->n_keys ? sw->keys[from].n_values : 0) + 1;
    for (int i = 0; i < n_candidates; i++) {
        const char *value = i == n_candidates - 1 ? fixed_from : sw->keys[from].values[i];
        if (!value || strncmp(value, STAGE_PREFIX, strlen(STAGE_PREFIX)) != 0)
            continue;
        int known = 0;
        for (int j = 0; j < sw->n_refs && !known; j++)
            known = !strcmp(sw->refs[j].text, value);
        if (known)
            continue;
        sw->refs = realloc(sw->refs, sizeof *sw->refs * (size_t)(sw->n_refs + 1));
        if (!sw->refs)
            abort();
        stage_ref *r = &sw->refs[sw->n_refs++];
        memset(r, 0, sizeof *r);
        if (ref_open(r, value, sweep_dir, depth) < 0)
            return rl_fail_context("%s", sw->path);
    }
    return 0;
}

int sweep_stage_resolve(const sweep *sw, rl_config *cfg, upstream_cell *up) {
    const char *from = sweep_config_value(cfg, "init.from");
    if (up)
        *up = (upstream_cell){NULL, -1};
    if (!from || strncmp(from, STAGE_PREFIX, strlen(STAGE_PREFIX)) != 0)
        return 0;
    const stage_ref *r = NULL;
    for (int i = 0; i < sw->n_refs && !r; i++)
        r = !strcmp(sw->refs[i].text, from) ? &sw->refs[i] : NULL;
    if (!r) /* a value that is neither fixed nor swept in the sweep file */
        return rl_fail("init.from = %s: stages are named in the sweep file", NULL, from),
               rl_fail_hint("give init.from in [sweep] or in [init] of the sweep file");
    const char *mine[STAGE_MAX_KEYS];
    for (int k = 0; k < r->n_keys; k++)
        if (!(mine[k] = r->values[k] ? r->values[k] : sweep_config_value(cfg, r->keys[k])))
            return rl_fail("init.from = %s matches %s, which %s has no key of", NULL, r->text,
                           r->keys[k], sw->exp->name),
                   rl_fail_hint("match keys of both experiments, e.g. run.seed");
    int64_t found = -1, n_found = 0;
    for (int64_t u = 0; u < r->up.sw.n_cells; u++) {
        int k = 0;
        while (k < r->n_keys && !strcmp(r->table[u * r->n_keys + k], mine[k]))
            k++;
        if (k == r->n_keys && n_found++ == 0)
            found = u;
        else if (k == r->n_keys) {
            rl_fail("init.from = %s: cells %lld and %lld of %s both match", NULL, r->text,
                    (long long)found, (long long)u, r->dir);
            return rl_fail_hint("name more keys, so that one cell matches: %s&KEY (or KEY=VALUE)",
                                r->text);
        }
    }
    if (found < 0) {
        rl_text wanted = {0};
        for (int k = 0; k < r->n_keys; k++)
            rl_text_add(&wanted, "%s%s = %s", k ? ", " : "", r->keys[k], mine[k]);
        rl_fail("init.from = %s: no cell of %s has %s", NULL, r->text, r->dir, wanted.s);
        rl_text_free(&wanted);
        return rl_fail_hint("its cells are listed in %s/manifest.tsv", r->dir);
    }
    char name[48], path[PATH_MAX + 64], assignment[PATH_MAX + 96];
    sweep_cell_dir_name(found, r->up.rows[found].run_id, name);
    snprintf(path, sizeof path, "%s/%s", r->real_dir, name);
    snprintf(assignment, sizeof assignment, "init.from=%s", path);
    if (up)
        *up = (upstream_cell){&r->up, found};
    return rl_cfg_set_override(cfg, assignment) < 0 ? RL_ERR : rl_cfg_resolve(cfg);
}

int sweep_cell_upstream(const planned *p, int64_t cell, upstream_cell *up) {
    *up = (upstream_cell){NULL, -1};
    if (p->sw.n_refs == 0)
        return 0;
    rl_config *cfg;
    if (sweep_cell_config(&p->sw, cell, &cfg, up) < 0)
        return RL_ERR;
    rl_cfg_free(cfg);
    return 0;
}
