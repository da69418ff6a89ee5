/* Config: declared keys, INI files (read with limits, walked with inih, composed with
 * `include`), command-line overrides, validation, run id. */
#include "src/core/config.h"
#include "src/core/error.h"
#include "src/core/text.h"

#include <assert.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define MAX_KEYS 256
#define MAX_ASSIGNMENTS 512

typedef struct {
    char *key, *value, *origin;
} assignment;

struct rl_config {
    const rl_cfg_spec *specs[MAX_KEYS]; /* sorted by key after resolve */
    char *values[MAX_KEYS];             /* resolved, canonical text */
    size_t n_specs;
    assignment set[MAX_ASSIGNMENTS]; /* in the order given: later wins */
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

/* "section.name" (caller frees). */
static char *join_key(const char *section, const char *name) {
    size_t n = strlen(section) + strlen(name) + 2;
    char *key = rl_xmalloc(n);
    snprintf(key, n, "%s.%s", section, name);
    return key;
}

static int add_assignment(rl_config *cfg, const char *key, const char *value, const char *origin) {
    size_t key_len = strlen(key);
    if (key_len > RL_CFG_MAX_KEY_CHARS)
        return rl_fail("%s: the key '%.40s...' has %zu characters, more than the limit of %d",
                       "keys look like section.name, e.g. train.lr (`ranklab show-config "
                       "EXPERIMENT` lists them)",
                       origin, key, key_len, RL_CFG_MAX_KEY_CHARS);
    if (cfg->n_set == MAX_ASSIGNMENTS)
        return rl_fail("too many config assignments (more than %d)", "simplify the config file",
                       MAX_ASSIGNMENTS);
    assignment *a = &cfg->set[cfg->n_set++];
    a->key = rl_xstrdup(key);
    a->value = rl_xstrdup(value);
    a->origin = rl_xstrdup(origin);
    return 0;
}

char *rl_cfg_read_file(const char *path, const char *what, size_t max_bytes) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        rl_fail("cannot open %s %s: %s", "check the path", what, path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        rl_fail("%s is a directory, not a %s", NULL, path, what);
        rl_fail_hint("give the path of the %s itself, e.g. %s/NAME.ini", what, path);
        return NULL;
    }
    size_t cap = max_bytes < 65536 ? max_bytes + 1 : 65536, len = 0, got;
    char *text = rl_xmalloc(cap + 1);
    /* Read at most max_bytes + 1: enough to tell that a file (or /dev/zero) is too large. */
    while ((got = fread(text + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len > max_bytes)
            break;
        if (len == cap) {
            cap = cap > max_bytes / 2 ? max_bytes + 1 : 2 * cap;
            char *grown = realloc(text, cap + 1);
            if (!grown)
                abort();
            text = grown;
        }
    }
    int read_errno = ferror(f) ? errno : 0;
    fclose(f);
    text[len] = '\0';
    const char *nul = memchr(text, '\0', len);
    if (!read_errno && len <= max_bytes && !nul)
        return text;
    if (read_errno) {
        rl_fail("cannot read %s %s: %s", "check the path", what, path, strerror(read_errno));
    } else if (len > max_bytes) {
        rl_fail("%s %s is larger than %zu bytes", NULL, what, path, max_bytes);
        rl_fail_hint("a %s is short text: is %s the right file?", what, path);
    } else {
        int line = 1;
        for (const char *c = text; c < nul; c++)
            line += *c == '\n';
        rl_fail("%s:%d: a NUL byte in a %s", NULL, path, line, what);
        rl_fail_hint("a %s is text: is %s the right file?", what, path);
    }
    free(text);
    return NULL;
}

/* ---- walking INI text with inih ---- */

typedef struct {
    char *key; /* "section.name" */
    int line;
    int list;
} seen_key;

/* The files being walked, outermost first (real paths where known), for rl_cfg_walk_file. */
typedef struct {
    char *paths[RL_CFG_MAX_INCLUDE_DEPTH + 1];
    int depth;
    int n_included;
} include_stack;

typedef struct {
    const char *at; /* the next line of the text */
    const char *origin;
    int line;     /* of the line inih is working on */
    int indented; /* it starts with a space or tab (inih: continues the key above) */
    rl_cfg_ini_fn fn;
    void *user;
    include_stack *includes; /* NULL: a text, where `include` is a key like any other */
    seen_key seen[MAX_ASSIGNMENTS];
    size_t n_seen;
    int failed;
} ini_walk;

static int walk_text(const char *text, const char *origin, rl_cfg_ini_fn fn, void *user,
                     include_stack *includes);

/* inih's reader: one line per call, counted; a line that does not fit the buffer inih gives
 * (`size` with room for "\r\n\0") is refused instead of being split in two. */
static char *walk_read_line(char *buf, int size, void *stream) {
    ini_walk *w = stream;
    if (w->failed || !*w->at)
        return NULL;
    size_t len = strcspn(w->at, "\n"), end = len + (w->at[len] == '\n');
    size_t chars = len - (len > 0 && w->at[len - 1] == '\r');
    w->line++;
    if (chars > (size_t)size - 3) {
        w->failed = rl_fail("%s:%d: line is longer than %d characters (%zu)", NULL, w->origin,
                            w->line, size - 3, chars);
        rl_fail_hint("shorten it: in a sweep file a list goes on over indented lines below its "
                     "key; a config value can be given on the command line as "
                     "section.key=value (up to %d characters)",
                     RL_CFG_MAX_VALUE_CHARS);
        return NULL;
    }
    memcpy(buf, w->at, end);
    buf[end] = '\0';
    w->indented = *w->at == ' ' || *w->at == '\t';
    w->at += end;
    return buf;
}

/* Walk the file at path (a new level of includes), its own text into *text when wanted. `where`
 * names the include line that asked for it ("" for the outermost file). */
static int walk_file_at(const char *path, const char *what, const char *where, rl_cfg_ini_fn fn,
                        void *user, include_stack *includes, char **text) {
    char real[PATH_MAX];
    const char *key = realpath(path, real) ? real : path;
    for (int i = 0; i < includes->depth; i++)
        if (!strcmp(includes->paths[i], key)) {
            rl_fail("%s: include = %s: a cycle, that file is already being read", NULL, where,
                    path);
            return rl_fail_hint("a file cannot include itself, directly or through others: "
                                "remove one of the include lines");
        }
    if (includes->depth == RL_CFG_MAX_INCLUDE_DEPTH)
        return rl_fail("%s: include = %s: files include each other more than %d deep",
                       "flatten the chain of includes", where, path, RL_CFG_MAX_INCLUDE_DEPTH);
    char *own = rl_cfg_read_file(path, what, RL_CFG_MAX_FILE_BYTES);
    if (!own)
        return where[0] ? rl_fail_context("%s: include", where) : RL_ERR;
    includes->paths[includes->depth++] = rl_xstrdup(key);
    int rc = walk_text(own, path, fn, user, includes);
    free(includes->paths[--includes->depth]);
    if (text && rc == 0)
        *text = own;
    else
        free(own);
    return rc;
}

/* `include = FILE[, FILE...]` of the file being walked: each walked in turn, from the directory
 * of the including file. */
static int include_files(ini_walk *w, const char *value) {
    char where[PATH_MAX + 32], **names = NULL;
    int n = 0;
    snprintf(where, sizeof where, "%s:%d", w->origin, w->line);
    int rc = rl_cfg_split_list(value, where, &names, &n);
    const char *slash = strrchr(w->origin, '/');
    for (int i = 0; rc == 0 && i < n; i++) {
        char path[PATH_MAX];
        if (names[i][0] == '/' || !slash)
            snprintf(path, sizeof path, "%s", names[i]);
        else
            snprintf(path, sizeof path, "%.*s/%s", (int)(slash - w->origin), w->origin, names[i]);
        rc = walk_file_at(path, "included config file", where, w->fn, w->user, w->includes, NULL);
        w->includes->n_included += rc == 0;
    }
    rl_cfg_list_free(names, n);
    return rc < 0 ? RL_ERR : RL_CFG_LIST;
}

static int walk_entry(void *user, const char *section, const char *name, const char *value) {
    ini_walk *w = user;
    if (w->failed)
        return 0;
    char *key = join_key(section, name);
    size_t at = 0;
    while (at < w->n_seen && strcmp(w->seen[at].key, key) != 0)
        at++;
    if (at < w->n_seen && !w->seen[at].list) {
        w->failed = rl_fail("%s:%d: %s is set twice in this file (lines %d and %d)", NULL,
                            w->origin, w->line, key, w->seen[at].line, w->line);
        if (w->indented)
            rl_fail_hint("an indented line continues the value of the key above it, and "
                         "multi-line values are not supported: remove the indentation");
        else
            rl_fail_hint("keep one of the two lines (a later -c file or a section.key=value "
                         "override may still change %s)",
                         key);
    } else if (at == w->n_seen && w->n_seen == MAX_ASSIGNMENTS) {
        w->failed = rl_fail("%s:%d: more than %d keys", "simplify the config file", w->origin,
                            w->line, MAX_ASSIGNMENTS);
    } else {
        int rc = w->includes && !section[0] && !strcmp(name, "include")
                     ? include_files(w, value)
                     : w->fn(w->user, w->origin, section, name, value, w->line);
        if (rc < 0)
            w->failed = RL_ERR;
        else if (at == w->n_seen)
            w->seen[w->n_seen++] = (seen_key){rl_xstrdup(key), w->line, rc == RL_CFG_LIST};
    }
    free(key);
    return !w->failed;
}

static int walk_text(const char *text, const char *origin, rl_cfg_ini_fn fn, void *user,
                     include_stack *includes) {
    ini_walk *w = rl_xcalloc(1, sizeof *w);
    *w = (ini_walk){.at = text, .origin = origin, .fn = fn, .user = user, .includes = includes};
    int rc = ini_parse_stream(walk_read_line, w, walk_entry, w);
    int failed = w->failed;
    for (size_t i = 0; i < w->n_seen; i++)
        free(w->seen[i].key);
    free(w);
    if (failed)
        return RL_ERR;
    if (rc != 0)
        return rl_fail("%s:%d: not a valid INI line",
                       "lines look like `[section]` or `key = value`", origin, rc);
    return 0;
}

int rl_cfg_walk_ini(const char *text, const char *origin, rl_cfg_ini_fn fn, void *user) {
    return walk_text(text, origin, fn, user, NULL);
}

int rl_cfg_walk_file(const char *path, const char *what, rl_cfg_ini_fn fn, void *user, char **text,
                     int *n_included) {
    include_stack includes = {0};
    if (text)
        *text = NULL;
    int rc = walk_file_at(path, what, "", fn, user, &includes, text);
    if (n_included)
        *n_included = includes.n_included;
    return rc;
}

static int on_ini_entry(void *user, const char *origin, const char *section, const char *name,
                        const char *value, int line) {
    rl_config *cfg = user;
    if (!section[0])
        return rl_fail("%s:%d: key '%s' is outside any [section]",
                       "put it under a section, e.g. [train] for train.lr (only `include = FILE` "
                       "stands before the first section of a file)",
                       origin, line, name);
    char *key = join_key(section, name);
    int rc = add_assignment(cfg, key, value, origin);
    free(key);
    return rc;
}

int rl_cfg_load_file(rl_config *cfg, const char *path) {
    return rl_cfg_walk_file(path, "config file", on_ini_entry, cfg, NULL, NULL);
}

int rl_cfg_load_text(rl_config *cfg, const char *text, const char *origin) {
    return rl_cfg_walk_ini(text, origin, on_ini_entry, cfg);
}

int rl_cfg_set_override(rl_config *cfg, const char *assignment_text) {
    const char *eq = strchr(assignment_text, '=');
    const char *dot = strchr(assignment_text, '.');
    if (!eq || !dot || dot > eq || eq == assignment_text)
        return rl_fail("bad override '%s': expected section.key=value", "for example train.lr=0.01",
                       assignment_text);
    size_t key_len = (size_t)(eq - assignment_text);
    char *key = rl_xmalloc(key_len + 1);
    memcpy(key, assignment_text, key_len);
    key[key_len] = '\0';
    int rc = add_assignment(cfg, key, eq + 1, "command line");
    free(key);
    return rc;
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
    case RL_CFG_INT:
        return "int";
    case RL_CFG_FLOAT:
        return "float";
    case RL_CFG_BOOL:
        return "bool";
    case RL_CFG_STRING:
        return "string";
    case RL_CFG_CHOICE:
        return "choice";
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

/* The hint for a value out of the range of s; returns RL_ERR. */
static int range_hint(const rl_cfg_spec *s) {
    char lo[40], hi[40];
    format_double(lo, sizeof lo, s->min);
    format_double(hi, sizeof hi, s->max);
    return rl_fail_hint("allowed range for %s is [%s, %s]", s->key, lo, hi);
}

/* Check `text` against spec; write the canonical form into out (RL_CFG_MAX_VALUE_CHARS + 1). */
static int canonical_value(const rl_cfg_spec *s, const char *text, const char *origin, char *out,
                           size_t out_n) {
    char *end;
    size_t len = strlen(text);
    if (len > RL_CFG_MAX_VALUE_CHARS || len >= out_n)
        return rl_fail("%s: the value of %s has %zu characters, more than the limit of %d", NULL,
                       origin, s->key, len, RL_CFG_MAX_VALUE_CHARS),
               rl_fail_hint("give %s a value of at most %d characters", s->key,
                            RL_CFG_MAX_VALUE_CHARS);
    if (s->type != RL_CFG_STRING && (strstr(text, " #") || strstr(text, "\t#")))
        return rl_fail("%s: %s = '%s' has a comment after its value",
                       "put a comment on a line of its own (starting with # or ;)", origin, s->key,
                       text);
    int has_range = s->min <= s->max;
    switch (s->type) {
    case RL_CFG_INT: {
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (errno || end == text || *end)
            return rl_fail("%s: %s = '%s' is not an integer", NULL, origin, s->key, text),
                   rl_fail_hint("give a whole number, e.g. %s=%s", s->key, s->def);
        if (has_range && ((double)v < s->min || (double)v > s->max))
            return rl_fail("%s: %s = %lld is out of range", NULL, origin, s->key, v), range_hint(s);
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
                   range_hint(s);
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
        return rl_fail("%s: %s = '%s' is not a boolean", "use true or false", origin, s->key, text);
    case RL_CFG_CHOICE:
        if (!choice_allowed(s->choices, text))
            return rl_fail("%s: %s = '%s' is not one of the choices", NULL, origin, s->key, text),
                   rl_fail_hint("choose one of: %s", s->choices);
        memcpy(out, text, len + 1);
        return 0;
    case RL_CFG_STRING:
        memcpy(out, text, len + 1);
        return 0;
    }
    return RL_ERR;
}

static int compare_specs(const void *a, const void *b) {
    const rl_cfg_spec *const *x = a, *const *y = b;
    return strcmp((*x)->key, (*y)->key);
}

int rl_cfg_split_list(const char *text, const char *what, char ***items, int *n) {
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
        char **grown = realloc(*items, sizeof(char *) * (size_t)(*n + 1));
        if (!grown)
            return rl_fail("out of memory splitting the list %s", NULL, what);
        *items = grown;
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

void rl_cfg_list_free(char **items, int n) {
    for (int i = 0; i < n; i++)
        free(items[i]);
    free(items);
}

int rl_cfg_list(const rl_config *cfg, const char *key, int max_items, char ***items, int *n) {
    *items = NULL;
    *n = 0;
    const char *text = rl_cfg_str(cfg, key);
    if (!text[strspn(text, " \t")])
        return rl_fail("%s is empty", "give one value or more, separated by commas", key);
    int rc = rl_cfg_split_list(text, key, items, n);
    if (rc == 0 && *n > max_items)
        rc = rl_fail("%s lists %d values, more than the %d allowed", "list fewer values", key, *n,
                     max_items);
    for (int i = 0; rc == 0 && i < *n; i++)
        for (int j = 0; rc == 0 && j < i; j++)
            if (!strcmp((*items)[i], (*items)[j]))
                rc = rl_fail("%s lists '%s' twice", "list each value once", key, (*items)[i]);
    if (rc < 0) {
        rl_cfg_list_free(*items, *n);
        *items = NULL;
        *n = 0;
    }
    return rc;
}

int rl_cfg_int_list(const rl_config *cfg, const char *key, int64_t lo, int64_t hi, int max_items,
                    int64_t *values, int *n) {
    char **items;
    int count;
    if (rl_cfg_list(cfg, key, max_items, &items, &count) < 0)
        return RL_ERR;
    int rc = 0;
    *n = 0;
    for (int k = 0; rc == 0 && k < count; k++) {
        char *end;
        errno = 0;
        long long v = strtoll(items[k], &end, 10);
        if (errno || *end || v < lo || v > hi) {
            rc = rl_fail("%s: '%s' is not a whole number in [%lld, %lld]", NULL, key, items[k],
                         (long long)lo, (long long)hi);
            rl_fail_hint("give a comma list of whole numbers, e.g. %s=%lld,%lld", key,
                         (long long)lo, (long long)hi);
            break;
        }
        for (int j = 0; rc == 0 && j < *n; j++)
            if (values[j] == v)
                rc = rl_fail("%s lists %lld twice", "list each value once", key, v);
        values[(*n)++] = v;
    }
    rl_cfg_list_free(items, count);
    return rc;
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
    char canon[RL_CFG_MAX_VALUE_CHARS + 1];
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
    rl_text text = {0};
    for (size_t i = 0; i < cfg->n_specs; i++)
        rl_text_add(&text, "%s = %s\n", cfg->specs[i]->key,
                    cfg->values[i] ? cfg->values[i] : cfg->specs[i]->def);
    return text.s ? text.s : rl_xstrdup("");
}

int rl_cfg_changes(const rl_config *cfg, const char *earlier, rl_text *out) {
    int changes = 0;
    for (size_t i = 0; i < cfg->n_specs; i++) {
        const rl_cfg_spec *s = cfg->specs[i];
        if (s->flags & RL_CFG_RUNTIME)
            continue;
        const char *now = cfg->values[i] ? cfg->values[i] : s->def, *then = NULL;
        size_t key_len = strlen(s->key), then_len = 0;
        for (const char *line = earlier; line && *line; line = strchr(line, '\n')) {
            line += *line == '\n';
            if (!strncmp(line, s->key, key_len) && !strncmp(line + key_len, " = ", 3)) {
                then = line + key_len + 3;
                then_len = strcspn(then, "\n");
                break;
            }
        }
        if (then && strlen(now) == then_len && !strncmp(now, then, then_len))
            continue;
        rl_text_add(out, "%s%s: %.*s -> %s", changes ? "; " : "", s->key, then ? (int)then_len : 6,
                    then ? then : "(none)", now);
        changes++;
    }
    return changes;
}

/* Whether `value` (canonical) is the canonical form of the spec's default. */
static int is_default(const rl_cfg_spec *s, const char *value) {
    char def[RL_CFG_MAX_VALUE_CHARS + 1];
    return canonical_value(s, s->def, "default", def, sizeof def) == 0 && !strcmp(value, def);
}

int rl_cfg_is_default(const rl_config *cfg, const char *key) {
    long at = find_spec(cfg, key);
    assert(at >= 0 && cfg->values[at]);
    return is_default(cfg->specs[at], cfg->values[at]);
}

void rl_cfg_run_id(const rl_config *cfg, char out[17]) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < cfg->n_specs; i++) {
        if (cfg->specs[i]->flags & RL_CFG_RUNTIME)
            continue;
        if (cfg->specs[i]->flags & RL_CFG_ID_IF_CHANGED &&
            is_default(cfg->specs[i], cfg->values[i]))
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
        printf(", default %s%s]\n", s->def,
               s->flags & RL_CFG_RUNTIME         ? ", runtime"
               : s->flags & RL_CFG_ID_IF_CHANGED ? ", in the run id when not the default"
                                                 : "");
    }
}
