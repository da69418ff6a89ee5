/* Unit tests of src/core and the ownership arithmetic of src/comm: config (defaults, INI,
 * overrides, canonical text, errors with hints, limits on files, lines, keys and values, keys
 * given twice, includes, run id), error context, counter-based random streams, and block / cyclic
 * ownership of items over ranks (no MPI init needed). */
#define _POSIX_C_SOURCE 200809L /* mkstemp */

#include "src/comm/comm.h"
#include "src/core/config.h"
#include "src/core/error.h"
#include "src/core/rng.h"
#include "src/core/text.h"
#include "tests/unit/harness.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- config ---- */

/* Deliberately not in key order. */
static const rl_cfg_spec keys[] = {
    {"train.lr", RL_CFG_FLOAT, "0.1", 0, 10, NULL, 0, "learning rate"},
    {"train.epochs", RL_CFG_INT, "10", 1, 1000, NULL, 0, "epochs"},
    {"train.shuffle", RL_CFG_BOOL, "true", 1, 0, NULL, 0, "shuffle each epoch"},
    {"data.name", RL_CFG_STRING, "synth", 1, 0, NULL, 0, "dataset"},
    {"train.optim", RL_CFG_CHOICE, "b", 1, 0, "a|b|c", 0, "optimizer"},
    {"run.log_every", RL_CFG_INT, "100", 1, 1e6, NULL, RL_CFG_RUNTIME, "log interval"},
    {"train.scale", RL_CFG_FLOAT, "10", -100, 100, NULL, 0, "a scale"},
};
/* The same keys declared in another order, and in two calls. */
static const rl_cfg_spec keys_rev_a[] = {
    {"train.scale", RL_CFG_FLOAT, "10", -100, 100, NULL, 0, "a scale"},
    {"run.log_every", RL_CFG_INT, "100", 1, 1e6, NULL, RL_CFG_RUNTIME, "log interval"},
    {"train.optim", RL_CFG_CHOICE, "b", 1, 0, "a|b|c", 0, "optimizer"},
};
static const rl_cfg_spec keys_rev_b[] = {
    {"data.name", RL_CFG_STRING, "synth", 1, 0, NULL, 0, "dataset"},
    {"train.shuffle", RL_CFG_BOOL, "true", 1, 0, NULL, 0, "shuffle each epoch"},
    {"train.epochs", RL_CFG_INT, "10", 1, 1000, NULL, 0, "epochs"},
    {"train.lr", RL_CFG_FLOAT, "0.1", 0, 10, NULL, 0, "learning rate"},
};

static rl_config *new_cfg(void) {
    rl_config *cfg = rl_cfg_new();
    rl_cfg_declare(cfg, keys, sizeof keys / sizeof keys[0]);
    return cfg;
}

/* A config with the given overrides (NULL-terminated) applied, resolved; NULL on failure. */
static rl_config *cfg_with(const char *const *overrides) {
    rl_config *cfg = new_cfg();
    for (; overrides && *overrides; overrides++)
        if (rl_cfg_set_override(cfg, *overrides) != RL_OK) {
            rl_cfg_free(cfg);
            return NULL;
        }
    if (rl_cfg_resolve(cfg) != RL_OK) {
        rl_cfg_free(cfg);
        return NULL;
    }
    return cfg;
}

/* Resolves the single override `assignment`, expecting failure; the message must name
 * `in_message` and the hint contain `in_hint` (either may be NULL). */
static void expect_override_error(const char *assignment, const char *in_message,
                                  const char *in_hint) {
    rl_config *cfg = new_cfg();
    rl_error_clear();
    int rc = rl_cfg_set_override(cfg, assignment);
    CU_ASSERT_EQUAL(rc, RL_OK);
    rc = rl_cfg_resolve(cfg);
    CU_ASSERT_EQUAL(rc, RL_ERR);
    if (in_message)
        CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_message(), in_message));
    if (in_hint)
        CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_hint(), in_hint));
    if (rc != RL_ERR || (in_message && !strstr(rl_error_message(), in_message)) ||
        (in_hint && !strstr(rl_error_hint(), in_hint)))
        fprintf(stderr, "\n  override %s: rc %d, message '%s', hint '%s'\n", assignment, rc,
                rl_error_message(), rl_error_hint());
    rl_cfg_free(cfg);
}

/* rc must be RL_ERR with a hint and each of the NULL-terminated strings in the message. */
static void expect_error(int rc, const char *const *in_message) {
    int ok = rc == RL_ERR && rl_error_hint()[0] != '\0';
    for (const char *const *m = in_message; *m; m++)
        ok &= strstr(rl_error_message(), *m) != NULL;
    CU_ASSERT(ok);
    if (!ok)
        fprintf(stderr, "\n  rc %d, message '%.300s', hint '%s', expected '%s'\n", rc,
                rl_error_message(), rl_error_hint(), in_message[0]);
}

/* A new temporary file holding data[0, len); its name goes into path. */
static void temp_file(char path[32], const char *data, size_t len) {
    snprintf(path, 32, "/tmp/ranklab_test_core_XXXXXX");
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(write(fd, data, len), (ssize_t)len);
    close(fd);
}

/* Loads the file into a fresh config; returns rl_cfg_load_file's status. */
static int load_file(const char *path) {
    rl_config *cfg = new_cfg();
    rl_error_clear();
    int rc = rl_cfg_load_file(cfg, path);
    rl_cfg_free(cfg);
    return rc;
}

/* Loads the text into a fresh config; returns rl_cfg_load_text's status. */
static int load_text(const char *text, const char *origin) {
    rl_config *cfg = new_cfg();
    rl_error_clear();
    int rc = rl_cfg_load_text(cfg, text, origin);
    rl_cfg_free(cfg);
    return rc;
}

static void test_cfg_defaults(void) {
    rl_config *cfg = cfg_with(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_EQUAL(rl_cfg_float(cfg, "train.lr"), 0.1);
    CU_ASSERT_EQUAL(rl_cfg_int(cfg, "train.epochs"), 10);
    CU_ASSERT_EQUAL(rl_cfg_bool(cfg, "train.shuffle"), 1);
    CU_ASSERT_STRING_EQUAL(rl_cfg_str(cfg, "data.name"), "synth");
    CU_ASSERT_STRING_EQUAL(rl_cfg_str(cfg, "train.optim"), "b");
    CU_ASSERT_EQUAL(rl_cfg_int(cfg, "run.log_every"), 100);
    CU_ASSERT_EQUAL(rl_cfg_float(cfg, "train.scale"), 10.0);
    char *text = rl_cfg_text(cfg);
    CU_ASSERT_STRING_EQUAL(text, "data.name = synth\n"
                                 "run.log_every = 100\n"
                                 "train.epochs = 10\n"
                                 "train.lr = 0.1\n"
                                 "train.optim = b\n"
                                 "train.scale = 10\n"
                                 "train.shuffle = true\n");
    free(text);
    /* rl_cfg_item walks the same sorted keys. */
    const char *value = NULL;
    const rl_cfg_spec *s = rl_cfg_item(cfg, 0, &value);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_STRING_EQUAL(s->key, "data.name");
    CU_ASSERT_STRING_EQUAL(value, "synth");
    CU_ASSERT_PTR_NULL(rl_cfg_item(cfg, sizeof keys / sizeof keys[0], &value));
    rl_cfg_free(cfg);
}

static void test_cfg_ini_and_overrides(void) {
    rl_config *cfg = new_cfg();
    const char *ini = "; experiment defaults\n"
                      "[train]\n"
                      "lr = 0.5\n"
                      "epochs = 20\n"
                      "shuffle = no\n"
                      "optim = c\n"
                      "[data]\n"
                      "name = mnist\n";
    CU_ASSERT_EQUAL_FATAL(rl_cfg_load_text(cfg, ini, "test.ini"), RL_OK);
    CU_ASSERT_EQUAL(rl_cfg_set_override(cfg, "train.lr=0.25"), RL_OK);
    CU_ASSERT_EQUAL(rl_cfg_set_override(cfg, "train.epochs=30"), RL_OK);
    CU_ASSERT_EQUAL(rl_cfg_set_override(cfg, "train.epochs=40"), RL_OK); /* later wins */
    CU_ASSERT_EQUAL(rl_cfg_set_override(cfg, "train.scale=1e1"), RL_OK);
    CU_ASSERT_EQUAL(rl_cfg_set_override(cfg, "data.name=a=b"), RL_OK); /* '=' in a value */
    CU_ASSERT_EQUAL_FATAL(rl_cfg_resolve(cfg), RL_OK);
    CU_ASSERT_EQUAL(rl_cfg_float(cfg, "train.lr"), 0.25);
    CU_ASSERT_EQUAL(rl_cfg_int(cfg, "train.epochs"), 40);
    CU_ASSERT_EQUAL(rl_cfg_bool(cfg, "train.shuffle"), 0);
    CU_ASSERT_STRING_EQUAL(rl_cfg_str(cfg, "train.optim"), "c");
    CU_ASSERT_STRING_EQUAL(rl_cfg_str(cfg, "data.name"), "a=b");
    CU_ASSERT_EQUAL(rl_cfg_int(cfg, "run.log_every"), 100); /* untouched default */
    char *text = rl_cfg_text(cfg);
    CU_ASSERT_STRING_EQUAL(text, "data.name = a=b\n"
                                 "run.log_every = 100\n"
                                 "train.epochs = 40\n"
                                 "train.lr = 0.25\n"
                                 "train.optim = c\n"
                                 "train.scale = 10\n"
                                 "train.shuffle = false\n");
    free(text);
    rl_cfg_free(cfg);

    /* A later INI (e.g. -c FILE) overrides an earlier one key by key. */
    cfg = new_cfg();
    CU_ASSERT_EQUAL(rl_cfg_load_text(cfg, "[train]\nlr = 0.5\nepochs = 20\n", "a.ini"), RL_OK);
    CU_ASSERT_EQUAL(rl_cfg_load_text(cfg, "[train]\nlr = 0.75\n", "b.ini"), RL_OK);
    CU_ASSERT_EQUAL_FATAL(rl_cfg_resolve(cfg), RL_OK);
    CU_ASSERT_EQUAL(rl_cfg_float(cfg, "train.lr"), 0.75);
    CU_ASSERT_EQUAL(rl_cfg_int(cfg, "train.epochs"), 20);
    rl_cfg_free(cfg);
}

static void test_cfg_load_file(void) {
    char path[32];
    const char *ini = "[train]\nepochs = 7\noptim = a\n";
    temp_file(path, ini, strlen(ini));
    rl_config *cfg = new_cfg();
    CU_ASSERT_EQUAL(rl_cfg_load_file(cfg, path), RL_OK);
    CU_ASSERT_EQUAL_FATAL(rl_cfg_resolve(cfg), RL_OK);
    CU_ASSERT_EQUAL(rl_cfg_int(cfg, "train.epochs"), 7);
    CU_ASSERT_STRING_EQUAL(rl_cfg_str(cfg, "train.optim"), "a");
    rl_cfg_free(cfg);
    unlink(path);

    /* Now the file is gone: the error names the path. */
    cfg = new_cfg();
    rl_error_clear();
    CU_ASSERT_EQUAL(rl_cfg_load_file(cfg, path), RL_ERR);
    CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_message(), path));
    CU_ASSERT(rl_error_hint()[0] != '\0');
    rl_cfg_free(cfg);
}

/* Values are stored in canonical form: bools as true/false, floats as the shortest text that
 * reads back as the same double. */
static void test_cfg_canonical_values(void) {
    static const struct {
        const char *override, *key, *canonical;
    } cases[] = {
        {"train.lr=0.1", "train.lr", "0.1"},
        {"train.lr=1e-1", "train.lr", "0.1"},
        {"train.lr=.10000", "train.lr", "0.1"},
        {"train.lr=0.30000000000000004", "train.lr", "0.30000000000000004"},
        {"train.lr=0.3", "train.lr", "0.3"},
        {"train.lr=1e-7", "train.lr", "1e-07"},
        {"train.lr=0.001", "train.lr", "0.001"},
        {"train.scale=10", "train.scale", "10"},
        {"train.scale=10.000", "train.scale", "10"},
        {"train.scale=-2.5", "train.scale", "-2.5"},
        {"train.scale=100", "train.scale", "100"},
        {"train.shuffle=1", "train.shuffle", "true"},
        {"train.shuffle=YES", "train.shuffle", "true"},
        {"train.shuffle=True", "train.shuffle", "true"},
        {"train.shuffle=0", "train.shuffle", "false"},
        {"train.shuffle=no", "train.shuffle", "false"},
        {"train.epochs=007", "train.epochs", "7"},
        {"train.epochs=+5", "train.epochs", "5"},
        {"train.epochs=1", "train.epochs", "1"}, /* range ends are inclusive */
        {"train.epochs=1000", "train.epochs", "1000"},
        {"train.lr=0", "train.lr", "0"},
        {"train.lr=10", "train.lr", "10"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *ov[] = {cases[c].override, NULL};
        rl_config *cfg = cfg_with(ov);
        CU_ASSERT_PTR_NOT_NULL(cfg);
        if (!cfg) {
            fprintf(stderr, "\n  %s rejected: %s\n", cases[c].override, rl_error_message());
            continue;
        }
        const char *value = NULL;
        const rl_cfg_spec *s;
        int found = 0;
        for (size_t i = 0; (s = rl_cfg_item(cfg, i, &value)); i++)
            if (strcmp(s->key, cases[c].key) == 0) {
                found = 1;
                CU_ASSERT_STRING_EQUAL(value, cases[c].canonical);
            }
        CU_ASSERT(found);
        rl_cfg_free(cfg);
    }
    /* The typed getters read the canonical value back exactly. */
    const char *ov[] = {"train.lr=0.30000000000000004", NULL};
    rl_config *cfg = cfg_with(ov);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_EQUAL(rl_cfg_float(cfg, "train.lr"), 0.1 + 0.2);
    rl_cfg_free(cfg);
}

/* The canonical text is sorted by key, one "key = value" line per declared key. */
static void test_cfg_text_sorted(void) {
    const char *ov[] = {"train.lr=2", "data.name=zzz", NULL};
    rl_config *cfg = cfg_with(ov);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    char *text = rl_cfg_text(cfg);
    char prev[128] = "";
    int lines = 0, sorted = 1;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        CU_ASSERT_PTR_NOT_NULL_FATAL(nl);
        char key[128];
        size_t len = strcspn(line, " ");
        CU_ASSERT_FATAL(len < sizeof key);
        memcpy(key, line, len);
        key[len] = '\0';
        CU_ASSERT(strncmp(line + len, " = ", 3) == 0);
        sorted &= strcmp(prev, key) < 0;
        snprintf(prev, sizeof prev, "%s", key);
        lines++;
        line = nl + 1;
    }
    CU_ASSERT(sorted);
    CU_ASSERT_EQUAL(lines, (int)(sizeof keys / sizeof keys[0]));
    free(text);
    rl_cfg_free(cfg);
}

static void test_cfg_unknown_key(void) {
    expect_override_error("train.lrr=0.1", "train.lrr", "'train.lr'");
    expect_override_error("train.epoch=3", "train.epoch", "'train.epochs'");
    expect_override_error("dat.name=x", "dat.name", "'data.name'");

    /* From an INI: the message names the origin too. */
    rl_config *cfg = new_cfg();
    rl_error_clear();
    CU_ASSERT_EQUAL(rl_cfg_load_text(cfg, "[train]\noptimm = a\n", "my.ini"), RL_OK);
    CU_ASSERT_EQUAL(rl_cfg_resolve(cfg), RL_ERR);
    CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_message(), "train.optimm"));
    CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_message(), "my.ini"));
    CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_hint(), "'train.optim'"));
    rl_cfg_free(cfg);
}

static void test_cfg_wrong_type(void) {
    expect_override_error("train.epochs=abc", "train.epochs", NULL);
    expect_override_error("train.epochs=1.5", "train.epochs", NULL);
    expect_override_error("train.epochs=", "train.epochs", NULL);
    expect_override_error("train.epochs=99999999999999999999", "train.epochs", NULL);
    expect_override_error("train.lr=1x", "train.lr", NULL);
    expect_override_error("train.lr=", "train.lr", NULL);
    expect_override_error("train.lr=nan", "train.lr", NULL);
    expect_override_error("train.lr=inf", "train.lr", NULL);
    expect_override_error("train.shuffle=maybe", "train.shuffle", "true");
    expect_override_error("train.shuffle=", "train.shuffle", NULL);
    /* The value itself is quoted in the message. */
    expect_override_error("train.epochs=abc", "abc", NULL);
    expect_override_error("train.lr=1x", "1x", NULL);
    expect_override_error("train.shuffle=maybe", "maybe", NULL);
    /* A comment after a value (ini files have them only on lines of their own). */
    expect_override_error("train.epochs=3 # three", "has a comment after its value",
                          "a line of its own");
    expect_override_error("train.lr=0.1\t# tuned", "has a comment after its value", NULL);
}

static void test_cfg_out_of_range(void) {
    expect_override_error("train.epochs=0", "train.epochs", "[1, 1000]");
    expect_override_error("train.epochs=1001", "train.epochs", "[1, 1000]");
    expect_override_error("train.epochs=-5", "train.epochs", "[1, 1000]");
    expect_override_error("train.lr=10.5", "train.lr", "[0, 10]");
    expect_override_error("train.lr=-0.1", "train.lr", "[0, 10]");
    expect_override_error("train.lr=1e300", "train.lr", "[0, 10]");
    expect_override_error("train.scale=-100.5", "train.scale", "[-100, 100]");
}

static void test_cfg_bad_choice(void) {
    expect_override_error("train.optim=d", "train.optim", "a|b|c");
    expect_override_error("train.optim=ab", "train.optim", "a|b|c");
    expect_override_error("train.optim=a|b", "train.optim", "a|b|c");
    expect_override_error("train.optim=", "train.optim", "a|b|c");
    expect_override_error("train.optim=A", "train.optim", "a|b|c");
    const char *ok[] = {"train.optim=a", NULL};
    rl_config *cfg = cfg_with(ok);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_STRING_EQUAL(rl_cfg_str(cfg, "train.optim"), "a");
    rl_cfg_free(cfg);
}

static void test_cfg_bad_override_syntax(void) {
    const char *bad[] = {"train.lr", "lr=0.1", "=0.1", "lr", "", "epochs=1.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rl_config *cfg = new_cfg();
        rl_error_clear();
        CU_ASSERT_EQUAL(rl_cfg_set_override(cfg, bad[i]), RL_ERR);
        CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_message(), bad[i]));
        CU_ASSERT(rl_error_hint()[0] != '\0');
        rl_cfg_free(cfg);
    }
}

static void test_cfg_bad_ini(void) {
    rl_config *cfg = new_cfg();
    rl_error_clear();
    CU_ASSERT_EQUAL(rl_cfg_load_text(cfg, "lr = 0.1\n[train]\nepochs = 3\n", "nosection.ini"),
                    RL_ERR);
    CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_message(), "nosection.ini"));
    CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_message(), "lr"));
    CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_hint(), "section"));
    rl_cfg_free(cfg);

    cfg = new_cfg();
    rl_error_clear();
    CU_ASSERT_EQUAL(rl_cfg_load_text(cfg, "[train]\nepochs = 3\nthis is not ini\n", "junk.ini"),
                    RL_ERR);
    CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_message(), "junk.ini:3"));
    rl_cfg_free(cfg);
}

/* A directory, an endless device, a file over the size limit, a NUL byte: refused by name. */
static void test_cfg_file_limits(void) {
    char dir[] = "/tmp/ranklab_test_core_XXXXXX", path[32];
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    expect_error(load_file(dir), (const char *[]){dir, "is a directory, not a config file", NULL});
    rmdir(dir);
    expect_error(load_file("/dev/zero"),
                 (const char *[]){"/dev/zero is larger than 1048576 bytes", NULL});

    /* Exactly the limit is read (blank lines and a key at the end), one byte more is not. */
    size_t n = RL_CFG_MAX_FILE_BYTES;
    char *big = rl_xmalloc(n + 1);
    memset(big, '\n', n + 1);
    memcpy(big + n - 19, "[train]\nepochs = 9\n", 19);
    temp_file(path, big, n);
    rl_config *cfg = new_cfg();
    CU_ASSERT_EQUAL(rl_cfg_load_file(cfg, path), RL_OK);
    CU_ASSERT_EQUAL_FATAL(rl_cfg_resolve(cfg), RL_OK);
    CU_ASSERT_EQUAL(rl_cfg_int(cfg, "train.epochs"), 9);
    rl_cfg_free(cfg);
    unlink(path);
    temp_file(path, big, n + 1);
    expect_error(load_file(path), (const char *[]){path, "larger than 1048576 bytes", NULL});
    unlink(path);
    free(big);

    static const char nul[] = "[train]\nepochs = 3\nlr = 0.1\0\n";
    temp_file(path, nul, sizeof nul - 1);
    char where[48];
    snprintf(where, sizeof where, "%s:3: a NUL byte", path);
    expect_error(load_file(path), (const char *[]){where, NULL});
    unlink(path);
}

/* A key twice in one text (one section, two sections of the same name, or an indented line
 * that continues it) is refused naming both lines; other texts and overrides still override. */
static void test_cfg_duplicate_keys(void) {
    expect_error(load_text("[train]\nlr = 0.1\nepochs = 2\nlr = 0.2\n", "dup.ini"),
                 (const char *[]){"dup.ini:4: train.lr is set twice", "lines 2 and 4", NULL});
    expect_error(load_text("[train]\nlr = 0.1\n[data]\nname = x\n[train]\nlr = 0.2\n", "two.ini"),
                 (const char *[]){"two.ini:6: train.lr", "lines 2 and 6", NULL});
    expect_error(load_text("[train]\nlr = 0.1\n  0.2\n", "cont.ini"),
                 (const char *[]){"cont.ini:3: train.lr", "lines 2 and 3", NULL});
    CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_hint(), "indent"));
    /* The same name in two sections is two keys. */
    CU_ASSERT_EQUAL(load_text("[train]\nlr = 0.1\n[data]\nlr = 0.2\n", "ok.ini"), RL_OK);

    rl_config *cfg = new_cfg();
    CU_ASSERT_EQUAL(rl_cfg_load_text(cfg, "[train]\nlr = 0.5\n", "a.ini"), RL_OK);
    CU_ASSERT_EQUAL(rl_cfg_load_text(cfg, "[train]\nlr = 0.75\n", "b.ini"), RL_OK);
    CU_ASSERT_EQUAL(rl_cfg_set_override(cfg, "train.lr=0.25"), RL_OK);
    CU_ASSERT_EQUAL(rl_cfg_set_override(cfg, "train.lr=0.125"), RL_OK);
    CU_ASSERT_EQUAL_FATAL(rl_cfg_resolve(cfg), RL_OK);
    CU_ASSERT_EQUAL(rl_cfg_float(cfg, "train.lr"), 0.125);
    rl_cfg_free(cfg);
}

static int log_entry(void *user, const char *origin, const char *section, const char *name,
                     const char *value, int line) {
    (void)origin;
    char *log = user;
    size_t len = strlen(log);
    snprintf(log + len, 256 - len, "%s.%s=%s@%d;", section, name, value, line);
    return strcmp(section, "list") == 0 ? RL_CFG_LIST : 0;
}

/* rl_cfg_walk_ini gives line numbers; a key its callback calls a list may repeat and continue. */
static void test_cfg_walk_lists(void) {
    char log[256] = "";
    CU_ASSERT_EQUAL(
        rl_cfg_walk_ini("[list]\nk = a\n  b\nk = c\n[fixed]\nk = 1\n", "w.ini", log_entry, log),
        RL_OK);
    CU_ASSERT_STRING_EQUAL(log, "list.k=a@2;list.k=b@3;list.k=c@4;fixed.k=1@6;");
    log[0] = '\0';
    rl_error_clear();
    expect_error(rl_cfg_walk_ini("[fixed]\nk = 1\n\nk = 2\n", "w.ini", log_entry, log),
                 (const char *[]){"w.ini:4: fixed.k is set twice", "lines 2 and 4", NULL});
    CU_ASSERT_STRING_EQUAL(log, "fixed.k=1@2;");
}

/* dir/name holding text. */
static void write_in(const char *dir, const char *name, const char *text) {
    char path[96];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

/* The run id of the config loaded from the files (NULL-terminated, in order) of dir, or "" when
 * loading fails. */
static void run_id_of_files(const char *dir, const char *const *names, char id[17]) {
    rl_config *cfg = new_cfg();
    int rc = 0;
    for (; rc == 0 && *names; names++) {
        char path[96];
        snprintf(path, sizeof path, "%s/%s", dir, *names);
        rc = rl_cfg_load_file(cfg, path);
    }
    rc = rc ? rc : rl_cfg_resolve(cfg);
    if (rc == 0)
        rl_cfg_run_id(cfg, id);
    else
        id[0] = '\0';
    rl_cfg_free(cfg);
}

/* include = FILE, from the including file's directory, comes first and the including file wins,
 * as with repeated files (-c a -c b); the run id is that of the flat file. Cycles, missing files
 * and chains too deep are refused naming the include line. */
static void test_cfg_include(void) {
    char dir[] = "/tmp/ranklab_test_core_XXXXXX", path[96], flat[17], id[17];
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/sub", dir);
    CU_ASSERT_EQUAL_FATAL(mkdir(path, 0700), 0);
    write_in(dir, "flat.ini", "[train]\nlr = 0.25\nepochs = 3\n[data]\nname = x\n");
    write_in(dir, "sub/base.ini", "[train]\nlr = 0.5\nepochs = 3\n");
    write_in(dir, "sub/data.ini", "[data]\nname = x\n");
    write_in(dir, "top.ini", "include = sub/base.ini, sub/data.ini\n[train]\nlr = 0.25\n");
    write_in(dir, "lines.ini",
             "include = sub/base.ini\ninclude = sub/data.ini\n[train]\nlr = 0.25\n");
    write_in(dir, "sub/mid.ini", "include = base.ini\n[data]\nname = x\n"); /* from sub/ */
    write_in(dir, "nested.ini", "include = sub/mid.ini\n[train]\nlr = 0.25\n");
    write_in(dir, "over.ini", "[train]\nlr = 0.25\n");
    run_id_of_files(dir, (const char *[]){"flat.ini", NULL}, flat);
    CU_ASSERT_EQUAL(strlen(flat), 16);
    const char *const composed[][4] = {{"top.ini", NULL},
                                       {"lines.ini", NULL},
                                       {"nested.ini", NULL},
                                       {"sub/base.ini", "sub/data.ini", "over.ini", NULL}};
    for (size_t i = 0; i < sizeof composed / sizeof composed[0]; i++) {
        run_id_of_files(dir, composed[i], id);
        CU_ASSERT_STRING_EQUAL(id, flat);
    }
    int n_included = -1;
    snprintf(path, sizeof path, "%s/nested.ini", dir);
    char log[256] = "", *text = NULL;
    CU_ASSERT_EQUAL(rl_cfg_walk_file(path, "config file", log_entry, log, &text, &n_included), 0);
    CU_ASSERT_EQUAL(n_included, 2);
    CU_ASSERT_STRING_EQUAL(log, "train.lr=0.5@2;train.epochs=3@3;data.name=x@3;train.lr=0.25@3;");
    CU_ASSERT_STRING_EQUAL(text, "include = sub/mid.ini\n[train]\nlr = 0.25\n");
    free(text);

    write_in(dir, "a.ini", "include = b.ini\n[train]\nlr = 0.1\n");
    write_in(dir, "b.ini", "\ninclude = a.ini\n");
    write_in(dir, "self.ini", "include = self.ini\n");
    write_in(dir, "missing.ini", "include = sub/none.ini\n");
    write_in(dir, "late.ini", "[train]\ninclude = sub/base.ini\n");
    char where[96], missing[96];
    snprintf(where, sizeof where, "%s/b.ini:2: include = %s/a.ini: a cycle", dir, dir);
    snprintf(path, sizeof path, "%s/a.ini", dir);
    expect_error(load_file(path), (const char *[]){where, NULL});
    snprintf(where, sizeof where, "%s/self.ini:1: include = %s/self.ini: a cycle", dir, dir);
    snprintf(path, sizeof path, "%s/self.ini", dir);
    expect_error(load_file(path), (const char *[]){where, NULL});
    snprintf(where, sizeof where, "%s/missing.ini:1: include: cannot open included config", dir);
    snprintf(missing, sizeof missing, "%s/sub/none.ini", dir);
    snprintf(path, sizeof path, "%s/missing.ini", dir);
    expect_error(load_file(path), (const char *[]){where, missing, NULL});
    /* Inside a section, include is a key like any other: an unknown one. */
    rl_config *cfg = new_cfg();
    snprintf(path, sizeof path, "%s/late.ini", dir);
    CU_ASSERT_EQUAL(rl_cfg_load_file(cfg, path), RL_OK);
    expect_error(rl_cfg_resolve(cfg), (const char *[]){"unknown config key 'train.include'", NULL});
    rl_cfg_free(cfg);
    /* A chain of 17 files, each including the next. */
    for (int i = 0; i <= RL_CFG_MAX_INCLUDE_DEPTH; i++) {
        char name[32], line[64];
        snprintf(name, sizeof name, "chain%d.ini", i);
        snprintf(line, sizeof line, "include = chain%d.ini\n", i + 1);
        write_in(dir, name, line);
    }
    write_in(dir, "chain17.ini", "[train]\nlr = 0.5\n");
    snprintf(path, sizeof path, "%s/chain0.ini", dir);
    expect_error(load_file(path), (const char *[]){"chain15.ini:1: include = ",
                                                   "include each other more than 16 deep", NULL});
    snprintf(path, sizeof path, "rm -r %s", dir);
    CU_ASSERT_EQUAL(system(path), 0);
}

/* "[data]\nname = " followed by n x's and `end`; its second line has n + 7 characters. */
static char *long_line_ini(size_t n, const char *end) {
    char *text = rl_xmalloc(n + strlen(end) + 16);
    size_t at = (size_t)sprintf(text, "[data]\nname = ");
    memset(text + at, 'x', n);
    strcpy(text + at + n, end);
    return text;
}

/* A line longer than inih's buffer is refused with its number and the limit, never split; a
 * line at the limit is read whole. */
static void test_cfg_long_lines(void) {
    char *text = long_line_ini(5000, "\n[train]\nlr = 0.5\n");
    expect_error(load_text(text, "long.ini"),
                 (const char *[]){"long.ini:2: line is longer than", "(5007)", NULL});
    free(text);
    int limit = 0;
    const char *at = strstr(rl_error_message(), "longer than ");
    CU_ASSERT_FATAL(at && sscanf(at, "longer than %d characters", &limit) == 1 && limit > 80);

    for (int crlf = 0; crlf < 2; crlf++) {
        text = long_line_ini((size_t)limit - 7, crlf ? "\r\n" : "\n");
        rl_config *cfg = new_cfg();
        CU_ASSERT_EQUAL(rl_cfg_load_text(cfg, text, "limit.ini"), RL_OK);
        CU_ASSERT_EQUAL_FATAL(rl_cfg_resolve(cfg), RL_OK);
        CU_ASSERT_EQUAL(strlen(rl_cfg_str(cfg, "data.name")), (size_t)limit - 7);
        rl_cfg_free(cfg);
        free(text);
    }
    text = long_line_ini((size_t)limit - 6, "\n");
    char expect[64];
    snprintf(expect, sizeof expect, "over.ini:2: line is longer than %d characters", limit);
    expect_error(load_text(text, "over.ini"), (const char *[]){expect, NULL});
    free(text);
}

/* Keys and values over the limits are refused with their length and the limit, not cut. */
static void test_cfg_long_override(void) {
    enum { MAX_VALUE = RL_CFG_MAX_VALUE_CHARS, MAX_KEY = RL_CFG_MAX_KEY_CHARS };
    char *text = rl_xmalloc(MAX_VALUE + 32);
    int at = sprintf(text, "data.name=");
    memset(text + at, 'v', MAX_VALUE + 1);
    text[at + MAX_VALUE] = '\0';
    const char *ok[] = {text, NULL};
    rl_config *cfg = cfg_with(ok);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_EQUAL(strlen(rl_cfg_str(cfg, "data.name")), (size_t)MAX_VALUE);
    rl_cfg_free(cfg);
    text[at + MAX_VALUE] = 'v';
    text[at + MAX_VALUE + 1] = '\0';
    cfg = new_cfg();
    rl_error_clear();
    CU_ASSERT_EQUAL(rl_cfg_set_override(cfg, text), RL_OK);
    expect_error(rl_cfg_resolve(cfg),
                 (const char *[]){"command line: the value of data.name has 4096 characters",
                                  "limit of 4095", NULL});
    rl_cfg_free(cfg);

    /* A key at the limit is unknown (and named whole); one character more is refused. */
    at = sprintf(text, "train.");
    memset(text + at, 'k', MAX_KEY - at);
    strcpy(text + MAX_KEY, "=1");
    cfg = new_cfg();
    rl_error_clear();
    CU_ASSERT_EQUAL(rl_cfg_set_override(cfg, text), RL_OK);
    text[MAX_KEY] = '\0';
    expect_error(rl_cfg_resolve(cfg), (const char *[]){"unknown config key", text, NULL});
    rl_cfg_free(cfg);
    memset(text + at, 'k', MAX_KEY + 1 - at);
    strcpy(text + MAX_KEY + 1, "=1");
    cfg = new_cfg();
    rl_error_clear();
    expect_error(rl_cfg_set_override(cfg, text),
                 (const char *[]){"has 256 characters, more than the limit of 255", NULL});
    rl_cfg_free(cfg);
    free(text);
}

static int is_hex16(const char *id) {
    if (strlen(id) != 16)
        return 0;
    for (int i = 0; i < 16; i++)
        if (!isxdigit((unsigned char)id[i]))
            return 0;
    return 1;
}

/* The run id of a config built from overrides (NULL-terminated); "" on failure. */
static void run_id_of(const char *const *overrides, char out[17]) {
    rl_config *cfg = cfg_with(overrides);
    out[0] = '\0';
    CU_ASSERT_PTR_NOT_NULL(cfg);
    if (cfg) {
        rl_cfg_run_id(cfg, out);
        rl_cfg_free(cfg);
    }
}

static uint64_t fnv1a(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        h = (h ^ *c) * 0x100000001b3ull;
    return h;
}

static void test_cfg_run_id(void) {
    char base[17], again[17], id[17];
    run_id_of(NULL, base);
    CU_ASSERT(is_hex16(base));
    run_id_of(NULL, again);
    CU_ASSERT_STRING_EQUAL(base, again);

    /* FNV-1a 64 of the sorted non-runtime "key=value" lines. */
    char expect[17];
    snprintf(expect, sizeof expect, "%016llx",
             (unsigned long long)fnv1a("data.name=synth\ntrain.epochs=10\ntrain.lr=0.1\n"
                                       "train.optim=b\ntrain.scale=10\ntrain.shuffle=true\n"));
    CU_ASSERT_STRING_EQUAL(base, expect);

    /* Normal keys change the id; a runtime key does not. */
    static const char *const changes[][2] = {
        {"train.lr=0.2", NULL},     {"train.epochs=11", NULL}, {"train.shuffle=false", NULL},
        {"data.name=synth2", NULL}, {"train.optim=a", NULL},   {"train.scale=-10", NULL},
    };
    for (size_t c = 0; c < sizeof changes / sizeof changes[0]; c++) {
        run_id_of(changes[c], id);
        CU_ASSERT(is_hex16(id));
        CU_ASSERT(strcmp(id, base) != 0);
    }
    const char *runtime[] = {"run.log_every=7", NULL};
    run_id_of(runtime, id);
    CU_ASSERT_STRING_EQUAL(id, base);
    /* A key added later (hashed only when set away from its default) keeps the id at its
     * default (however spelled) and is hashed with the others when set. */
    static const rl_cfg_spec added[] = {{"train.added", RL_CFG_FLOAT, "0.5", 0, 1, NULL,
                                         RL_CFG_ID_IF_CHANGED, "a key added later"}};
    const char *added_values[] = {NULL, "train.added=5e-1", "train.added=0.25"};
    for (int v = 0; v < 3; v++) {
        rl_config *cfg = new_cfg();
        rl_cfg_declare(cfg, added, 1);
        CU_ASSERT_FATAL(!added_values[v] || rl_cfg_set_override(cfg, added_values[v]) == RL_OK);
        CU_ASSERT_FATAL(rl_cfg_resolve(cfg) == RL_OK);
        rl_cfg_run_id(cfg, id);
        rl_cfg_free(cfg);
        if (v < 2)
            CU_ASSERT_STRING_EQUAL(id, base);
    }
    snprintf(expect, sizeof expect, "%016llx",
             (unsigned long long)fnv1a("data.name=synth\ntrain.added=0.25\ntrain.epochs=10\n"
                                       "train.lr=0.1\ntrain.optim=b\ntrain.scale=10\n"
                                       "train.shuffle=true\n"));
    CU_ASSERT_STRING_EQUAL(id, expect);

    /* Setting a key to its default, or to an equivalent spelling, keeps the id. */
    const char *same[] = {"train.lr=1e-1", "train.shuffle=yes", "train.epochs=010", NULL};
    run_id_of(same, id);
    CU_ASSERT_STRING_EQUAL(id, base);

    /* The order of overrides of different keys does not matter. */
    const char *order_a[] = {"train.lr=0.2", "train.epochs=5", "data.name=x", NULL};
    const char *order_b[] = {"data.name=x", "train.epochs=5", "train.lr=0.2", NULL};
    char id_a[17], id_b[17];
    run_id_of(order_a, id_a);
    run_id_of(order_b, id_b);
    CU_ASSERT_STRING_EQUAL(id_a, id_b);
    CU_ASSERT(strcmp(id_a, base) != 0);

    /* Nor does the order in which keys were declared. */
    rl_config *cfg = rl_cfg_new();
    rl_cfg_declare(cfg, keys_rev_a, sizeof keys_rev_a / sizeof keys_rev_a[0]);
    rl_cfg_declare(cfg, keys_rev_b, sizeof keys_rev_b / sizeof keys_rev_b[0]);
    rl_cfg_declare(cfg, keys, sizeof keys / sizeof keys[0]); /* identical re-declaration */
    CU_ASSERT_EQUAL_FATAL(rl_cfg_resolve(cfg), RL_OK);
    rl_cfg_run_id(cfg, id);
    CU_ASSERT_STRING_EQUAL(id, base);
    rl_cfg_free(cfg);
}

/* ---- errors ---- */

static void test_error_context_and_hint(void) {
    rl_error_clear();
    CU_ASSERT_STRING_EQUAL(rl_error_message(), "");
    CU_ASSERT_EQUAL(rl_fail("bad thing %d", "do X", 3), RL_ERR);
    CU_ASSERT_STRING_EQUAL(rl_error_message(), "bad thing 3");
    CU_ASSERT_STRING_EQUAL(rl_error_hint(), "do X");
    CU_ASSERT_EQUAL(rl_fail_context("reading %s", "f.ini"), RL_ERR);
    CU_ASSERT_STRING_EQUAL(rl_error_message(), "reading f.ini: bad thing 3");
    CU_ASSERT_STRING_EQUAL(rl_error_hint(), "do X");
    CU_ASSERT_EQUAL(rl_fail_context("run %d", 2), RL_ERR);
    CU_ASSERT_STRING_EQUAL(rl_error_message(), "run 2: reading f.ini: bad thing 3");
    CU_ASSERT_EQUAL(rl_fail_hint("try %s", "Y"), RL_ERR);
    CU_ASSERT_STRING_EQUAL(rl_error_hint(), "try Y");
    CU_ASSERT_STRING_EQUAL(rl_error_message(), "run 2: reading f.ini: bad thing 3");
    CU_ASSERT_EQUAL(rl_fail("no hint", NULL), RL_ERR);
    CU_ASSERT_STRING_EQUAL(rl_error_hint(), "");

    /* A context on a very long message keeps the prefix and stays terminated. */
    char long_msg[4000];
    memset(long_msg, 'x', sizeof long_msg - 1);
    long_msg[sizeof long_msg - 1] = '\0';
    rl_fail("%s", NULL, long_msg);
    rl_fail_context("ctx");
    CU_ASSERT(strncmp(rl_error_message(), "ctx: xxx", 8) == 0);
    CU_ASSERT(strlen(rl_error_message()) < sizeof long_msg);

    /* On a real config error. */
    rl_config *cfg = new_cfg();
    CU_ASSERT_EQUAL(rl_cfg_load_file(cfg, "/nonexistent/ranklab/x.ini"), RL_ERR);
    rl_fail_context("reading config");
    CU_ASSERT(strncmp(rl_error_message(), "reading config: ", 16) == 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_message(), "/nonexistent/ranklab/x.ini"));
    rl_cfg_free(cfg);
    rl_error_clear();
    CU_ASSERT_STRING_EQUAL(rl_error_message(), "");
    CU_ASSERT_STRING_EQUAL(rl_error_hint(), "");
}

/* ---- rng ---- */

static void test_rng_uniform_deterministic(void) {
    rl_rng r = rl_rng_make(42, RL_RNG_SHUFFLE), r2 = rl_rng_make(42, RL_RNG_SHUFFLE);
    int in_range = 1, same = 1;
    double lo = 1.0, hi = 0.0;
    for (uint32_t i = 0; i < 100000; i++) {
        double u = rl_rng_uniform(r, i % 7, i);
        in_range &= u >= 0.0 && u < 1.0;
        same &= u == rl_rng_uniform(r2, i % 7, i);
        lo = fmin(lo, u);
        hi = fmax(hi, u);
    }
    CU_ASSERT(in_range);
    CU_ASSERT(same);
    CU_ASSERT(lo < 1e-3 && hi > 1.0 - 1e-3);

    /* Each of seed, purpose, step and index changes the draw. */
    double base = rl_rng_uniform(r, 3, 9);
    CU_ASSERT(rl_rng_uniform(rl_rng_make(43, RL_RNG_SHUFFLE), 3, 9) != base);
    CU_ASSERT(rl_rng_uniform(rl_rng_make(42ull + (1ull << 32), RL_RNG_SHUFFLE), 3, 9) != base);
    CU_ASSERT(rl_rng_uniform(rl_rng_make(42, RL_RNG_INIT), 3, 9) != base);
    CU_ASSERT(rl_rng_uniform(rl_rng_make(42, RL_RNG_SAMPLE), 3, 9) != base);
    CU_ASSERT(rl_rng_uniform(r, 4, 9) != base);
    CU_ASSERT(rl_rng_uniform(r, 3, 10) != base);
    CU_ASSERT(rl_rng_uniform(r, 9, 3) != base); /* step and index are not interchangeable */

    /* Over many neighbours, nothing collides. */
    int collisions = 0;
    for (uint32_t k = 0; k < 1000; k++) {
        double a = rl_rng_uniform(r, 0, k);
        collisions += a == rl_rng_uniform(r, 1, k);
        collisions += a == rl_rng_uniform(r, 0, k + 1);
        collisions += a == rl_rng_uniform(rl_rng_make(43, RL_RNG_SHUFFLE), 0, k);
        collisions += a == rl_rng_uniform(rl_rng_make(42, RL_RNG_LABEL_NOISE), 0, k);
    }
    CU_ASSERT_EQUAL(collisions, 0);
    /* All purposes give different streams for one seed. */
    for (int p = RL_RNG_INIT; p <= RL_RNG_SAMPLE; p++)
        for (int q = p + 1; q <= RL_RNG_SAMPLE; q++)
            CU_ASSERT(rl_rng_uniform(rl_rng_make(7, (rl_rng_purpose)p), 0, 0) !=
                      rl_rng_uniform(rl_rng_make(7, (rl_rng_purpose)q), 0, 0));
}

static void test_rng_order_independent(void) {
    rl_rng r = rl_rng_make(2024, RL_RNG_PERTURB);
    double first5 = rl_rng_uniform(r, 3, 5);
    double normal5 = rl_rng_normal(r, 3, 5);
    uint64_t below5 = rl_rng_below(r, 3, 5, 1000003);
    double seq[10];
    for (uint32_t i = 0; i < 10; i++)
        seq[i] = rl_rng_uniform(r, 3, i);
    CU_ASSERT_EQUAL(seq[5], first5);
    /* Backwards, interleaved with draws from other streams. */
    for (int i = 9; i >= 0; i--) {
        (void)rl_rng_uniform(rl_rng_make(1, RL_RNG_INIT), 0, (uint32_t)i);
        CU_ASSERT_EQUAL(rl_rng_uniform(r, 3, (uint32_t)i), seq[i]);
    }
    CU_ASSERT_EQUAL(rl_rng_normal(r, 3, 5), normal5);
    CU_ASSERT_EQUAL(rl_rng_below(r, 3, 5, 1000003), below5);
    /* Distinct draws, so the comparisons above were not between equal constants. */
    int distinct = 1;
    for (int i = 0; i < 10; i++)
        for (int j = i + 1; j < 10; j++)
            distinct &= seq[i] != seq[j];
    CU_ASSERT(distinct);
    /* rl_rng_block is the source: block 0 gives the uniform's words, other blocks differ. */
    uint32_t b0[4], b1[4], b0_again[4];
    rl_rng_block(r, 3, 5, 0, b0);
    rl_rng_block(r, 3, 5, 1, b1);
    rl_rng_block(r, 3, 5, 0, b0_again);
    CU_ASSERT(memcmp(b0, b0_again, sizeof b0) == 0);
    CU_ASSERT(memcmp(b0, b1, sizeof b0) != 0);
}

static void test_rng_below(void) {
    static const uint64_t ns[] = {1, 2, 3, 7, 10, 1000, 1000003, (1ull << 40) + 3, UINT64_MAX};
    rl_rng r = rl_rng_make(5, RL_RNG_SAMPLE);
    for (size_t c = 0; c < sizeof ns / sizeof ns[0]; c++) {
        int ok = 1;
        for (uint32_t i = 0; i < 20000; i++)
            ok &= rl_rng_below(r, (uint32_t)c, i, ns[c]) < ns[c];
        CU_ASSERT(ok);
    }
    /* n = 2^40 + 3: the draws reach the upper half too (a 64-bit draw, not 32). */
    int upper = 0;
    for (uint32_t i = 0; i < 1000; i++)
        upper += rl_rng_below(r, 99, i, (1ull << 40) + 3) >= (1ull << 39);
    CU_ASSERT(upper > 400 && upper < 600);

    /* Ten bins, 100000 draws: chi-square with 9 degrees of freedom (p = 1e-4 at 33.7). */
    enum { BINS = 10, DRAWS = 100000 };
    long count[BINS] = {0};
    for (uint32_t i = 0; i < DRAWS; i++)
        count[rl_rng_below(r, 1000, i, BINS)]++;
    double chi2 = 0.0, expect = (double)DRAWS / BINS;
    for (int b = 0; b < BINS; b++)
        chi2 += (count[b] - expect) * (count[b] - expect) / expect;
    CU_ASSERT(chi2 < 33.7);
    /* And for a bin count that is not a power of two or ten, via n = 7. */
    long count7[7] = {0};
    for (uint32_t i = 0; i < 70000; i++)
        count7[rl_rng_below(r, 1001, i, 7)]++;
    chi2 = 0.0;
    for (int b = 0; b < 7; b++)
        chi2 += (count7[b] - 10000.0) * (count7[b] - 10000.0) / 10000.0;
    CU_ASSERT(chi2 < 27.9); /* 6 dof, p = 1e-4 */
}

static void test_rng_normal_moments(void) {
    enum { N = 100000 };
    rl_rng r = rl_rng_make(77, RL_RNG_PERTURB);
    double sum = 0.0, sum2 = 0.0;
    long beyond2 = 0;
    int finite = 1;
    for (uint32_t i = 0; i < N; i++) {
        double z = rl_rng_normal(r, 0, i);
        finite &= isfinite(z);
        sum += z;
        sum2 += z * z;
        beyond2 += fabs(z) > 2.0;
    }
    double mean = sum / N, var = sum2 / N - mean * mean;
    CU_ASSERT(finite);
    CU_ASSERT(fabs(mean) < 0.02);
    CU_ASSERT(fabs(var - 1.0) < 0.03);
    /* P(|z| > 2) = 0.0455 for a normal (0.0 for, say, a scaled uniform). */
    CU_ASSERT(fabs((double)beyond2 / N - 0.0455) < 0.005);
    if (fabs(mean) >= 0.02 || fabs(var - 1.0) >= 0.03)
        fprintf(stderr, "\n  normal: mean %.4f var %.4f\n", mean, var);
}

/* Beta(a, b) draws over N steps: mean a/(a + b) and variance ab/((a + b)²(a + b + 1)) within
 * five standard errors (the variance's from the fourth central moment of the same draws); the
 * draws lie in [0, 1] and are functions of the step. Shapes below and above 1 (the boosted and
 * the plain gamma) and a skewed pair. */
static void test_rng_beta_moments(void) {
    enum { N = 40000 };
    const double shapes[][2] = {{0.2, 0.2}, {1.0, 1.0}, {4.0, 4.0}, {2.0, 5.0}, {0.5, 3.0}};
    rl_rng r = rl_rng_make(5, RL_RNG_MIXUP_LAMBDA);
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        double a = shapes[k][0], b = shapes[k][1];
        double mean = a / (a + b), var = a * b / ((a + b) * (a + b) * (a + b + 1.0));
        double sum = 0.0, sum2 = 0.0, sum4 = 0.0;
        int in_range = 1;
        static double x[N];
        for (uint32_t i = 0; i < N; i++) {
            x[i] = rl_rng_beta(r, i, a, b);
            in_range &= x[i] >= 0.0 && x[i] <= 1.0;
            sum += x[i];
        }
        double m = sum / N;
        for (uint32_t i = 0; i < N; i++) {
            double d2 = (x[i] - m) * (x[i] - m);
            sum2 += d2;
            sum4 += d2 * d2;
        }
        double v = sum2 / N, se_mean = sqrt(v / N), se_var = sqrt((sum4 / N - v * v) / N);
        CU_ASSERT(in_range);
        CU_ASSERT(fabs(m - mean) < 5.0 * se_mean);
        CU_ASSERT(fabs(v - var) < 5.0 * se_var);
        CU_ASSERT(rl_rng_beta(r, 17, a, b) == x[17]);
        if (fabs(m - mean) >= 5.0 * se_mean || fabs(v - var) >= 5.0 * se_var)
            fprintf(stderr, "\n  Beta(%g, %g): mean %.5f (%.5f), variance %.5f (%.5f)\n", a, b, m,
                    mean, v, var);
    }
    /* Another stream, another draw; a tiny shape stays a number. */
    CU_ASSERT(rl_rng_beta(rl_rng_make(6, RL_RNG_MIXUP_LAMBDA), 3, 1.0, 1.0) !=
              rl_rng_beta(r, 3, 1.0, 1.0));
    double tiny = rl_rng_beta(r, 0, 1e-3, 1e-3);
    CU_ASSERT(tiny >= 0.0 && tiny <= 1.0);
}

/* ---- ownership ---- */

static const int64_t own_n[] = {0, 1, 5, 10, 11, 1000, 1001};
static const int own_p[] = {1, 2, 3, 4, 7};

static void test_block_ownership(void) {
    for (size_t a = 0; a < sizeof own_n / sizeof own_n[0]; a++)
        for (size_t b = 0; b < sizeof own_p / sizeof own_p[0]; b++) {
            int64_t n = own_n[a];
            int p = own_p[b];
            int64_t next = 0, smallest = INT64_MAX, largest = -1;
            int tiles = 1, owner_ok = 1, first_bigger = 1;
            for (int r = 0; r < p; r++) {
                int64_t lo = -1, hi = -1;
                comm_block_range(n, p, r, &lo, &hi);
                tiles &= lo == next && hi >= lo;
                next = hi;
                int64_t size = hi - lo;
                smallest = size < smallest ? size : smallest;
                largest = size > largest ? size : largest;
                /* The first n % p ranks get the extra item. */
                first_bigger &= size == n / p + (r < n % p ? 1 : 0);
                for (int64_t i = lo; i < hi; i++)
                    owner_ok &= comm_block_owner(n, p, i) == r;
            }
            CU_ASSERT(tiles);
            CU_ASSERT_EQUAL(next, n);
            CU_ASSERT(largest - smallest <= 1);
            CU_ASSERT(first_bigger);
            CU_ASSERT(owner_ok);
            if (!tiles || next != n || !owner_ok || !first_bigger)
                fprintf(stderr, "\n  block ownership wrong for n=%lld p=%d\n", (long long)n, p);
        }
}

static void test_cyclic_ownership(void) {
    for (size_t a = 0; a < sizeof own_n / sizeof own_n[0]; a++)
        for (size_t b = 0; b < sizeof own_p / sizeof own_p[0]; b++) {
            int64_t n = own_n[a];
            int p = own_p[b];
            int64_t counted[7] = {0}, total = 0;
            int in_range = 1;
            for (int64_t i = 0; i < n; i++) {
                int r = comm_cyclic_owner(i, p);
                in_range &= r >= 0 && r < p && r == (int)(i % p);
                if (r >= 0 && r < p)
                    counted[r]++;
            }
            CU_ASSERT(in_range);
            int counts_ok = 1;
            for (int r = 0; r < p; r++) {
                int64_t c = comm_cyclic_count(n, p, r);
                counts_ok &= c == counted[r];
                total += c;
            }
            CU_ASSERT(counts_ok);
            CU_ASSERT_EQUAL(total, n);
        }
}

/* rl_cfg_changes names the keys of the run id whose values differ from an earlier config text
 * (not the runtime ones; a key the earlier text lacks shows "(none)"); rl_cfg_is_default. */
static void test_cfg_changes(void) {
    const char *earlier_overrides[] = {"train.lr=0.5", "run.log_every=7", NULL};
    rl_config *earlier = cfg_with(earlier_overrides);
    CU_ASSERT_FATAL(earlier != NULL);
    char *earlier_text = rl_cfg_text(earlier);
    const char *now_overrides[] = {"train.lr=0.25", "train.epochs=3", "run.log_every=9", NULL};
    rl_config *now = cfg_with(now_overrides);
    CU_ASSERT_FATAL(now != NULL);
    rl_text changes = {0};
    CU_ASSERT_EQUAL(rl_cfg_changes(now, earlier_text, &changes), 2);
    CU_ASSERT_STRING_EQUAL(rl_text_str(&changes), "train.epochs: 10 -> 3; train.lr: 0.5 -> 0.25");
    rl_text_free(&changes);
    CU_ASSERT_EQUAL(rl_cfg_changes(earlier, earlier_text, &changes), 0);
    CU_ASSERT_EQUAL(rl_cfg_changes(now, "train.lr = 0.25\n", &changes), 5);
    CU_ASSERT_PTR_NOT_NULL(strstr(rl_text_str(&changes), "train.epochs: (none) -> 3"));
    rl_text_free(&changes);
    CU_ASSERT(rl_cfg_is_default(now, "train.scale") && !rl_cfg_is_default(now, "train.lr"));
    free(earlier_text);
    rl_cfg_free(earlier);
    rl_cfg_free(now);
}

/* Log text from generated bytes: invalid UTF-8 and control characters become '?'. */
static void test_utf8_printable(void) {
    char text[] = "caf\xc3\xa9 \xe2\x82 cut\x1b[31m \xf0\x9f\x99\x82 end\xc3";
    rl_utf8_printable(text);
    CU_ASSERT_STRING_EQUAL(text, "caf\xc3\xa9 ?? cut?[31m \xf0\x9f\x99\x82 end?");
    const unsigned char overlong[] = {0xc0, 0xaf}, surrogate[] = {0xed, 0xa0, 0x80};
    CU_ASSERT_EQUAL(rl_utf8_sequence(overlong, 2), 0);
    CU_ASSERT_EQUAL(rl_utf8_sequence(surrogate, 3), 0);
}

static const rl_test tests[] = {
    {"config defaults resolve, typed getters, sorted text", test_cfg_defaults},
    {"config INI sets values, overrides win, later wins", test_cfg_ini_and_overrides},
    {"config loads a file; a missing file names the path", test_cfg_load_file},
    {"config values are canonical (shortest floats, true/false)", test_cfg_canonical_values},
    {"config text is sorted by key", test_cfg_text_sorted},
    {"config unknown key names the closest declared key", test_cfg_unknown_key},
    {"config wrong type names the key", test_cfg_wrong_type},
    {"config out of range gives the range", test_cfg_out_of_range},
    {"config bad choice lists the choices", test_cfg_bad_choice},
    {"config override syntax errors", test_cfg_bad_override_syntax},
    {"config INI errors: key outside a section, bad line", test_cfg_bad_ini},
    {"config files: directory, /dev/zero, size limit, NUL byte", test_cfg_file_limits},
    {"config key twice in one file names both lines", test_cfg_duplicate_keys},
    {"config INI walk: line numbers, list keys repeat", test_cfg_walk_lists},
    {"config include and repeated files: the flat file's run id; cycles refused", test_cfg_include},
    {"config INI line over inih's buffer names line and limit", test_cfg_long_lines},
    {"config over-long key or value refused, never cut", test_cfg_long_override},
    {"config run id: hex, stable, runtime keys, keys added later (ID_IF_CHANGED) at their default "
     "and order "
     "ignored",
     test_cfg_run_id},
    {"config changes since an earlier config name the run id's keys", test_cfg_changes},
    {"UTF-8: sequences checked, text made printable for a log", test_utf8_printable},
    {"error context prefixes the message, hints replace", test_error_context_and_hint},
    {"rng uniform in [0,1), deterministic, every input matters", test_rng_uniform_deterministic},
    {"rng draws do not depend on request order", test_rng_order_independent},
    {"rng below(n) is < n and uniform", test_rng_below},
    {"rng normal has mean 0 and variance 1", test_rng_normal_moments},
    {"rng beta has the mean and variance of Beta(a, b)", test_rng_beta_moments},
    {"block ownership tiles [0, n) and owner agrees", test_block_ownership},
    {"cyclic ownership: owners and counts agree", test_cyclic_ownership},
    {NULL, NULL},
};

RL_TEST_SUITE("core", tests)
