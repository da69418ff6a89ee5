/* Fortune entries (Debian's fortunes package) as extra pretraining text: the data.text_sources
 * and data.fortunes_dir keys, reading fortune files (entries between lines holding only "%")
 * with whitespace normalized and hash-fixed splits, and loading the corpus of a list of sources. */
#include "src/core/error.h"
#include "src/core/text.h"
#include "src/data/corpus.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FORTUNE_FILE_MAX_BYTES ((size_t)64 << 20)

static const rl_cfg_spec source_keys[] = {
    {"data.text_sources", RL_CFG_STRING, "wordnet", 0, 0, NULL, RL_CFG_ID_IF_CHANGED,
     "text of the pretraining corpus (comma-separated, order does not matter): wordnet (the "
     "glosses of data.text_parts), fortunes (every entry of the fortune files in "
     "data.fortunes_dir, Debian's fortunes)"},
    {"data.fortunes_dir", RL_CFG_STRING, "/usr/share/games/fortunes", 0, 0, NULL, RL_CFG_RUNTIME,
     "directory of fortune files for data.text_sources=fortunes (its .dat and .u8 index files "
     "and subdirectories such as off/ are skipped)"},
};

void rl_corpus_declare_sources_config(rl_config *cfg) {
    rl_cfg_declare(cfg, source_keys, sizeof source_keys / sizeof source_keys[0]);
}

/* The 1-based line of the first byte of text[0..n) that is not valid UTF-8, 0 if all are. */
static int64_t first_invalid_utf8_line(const char *text, size_t n) {
    const unsigned char *s = (const unsigned char *)text;
    int64_t line = 1;
    for (size_t i = 0; i < n;) {
        size_t len = rl_utf8_sequence(s + i, n - i);
        if (len == 0)
            return line;
        line += s[i] == '\n';
        i += len;
    }
    return 0;
}

static int is_space(char ch) {
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* Whether line[0..len) (without its '\n') is an entry separator: "%", or "%\r". */
static int is_separator(const char *line, size_t len) {
    return (len == 1 || (len == 2 && line[1] == '\r')) && line[0] == '%';
}

/* Append the entry text[0..n) (raw, starting at byte `offset` of its file) with its whitespace
 * runs made single spaces and its ends trimmed, into scratch; nothing for an empty entry.
 * Returns 1 if an entry was added. */
static int add_entry(const char *text, size_t n, size_t offset, double valid_fraction,
                     double test_fraction, char *scratch, rl_corpus *c) {
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_space(text[i]))
            scratch[len++] = text[i];
        else if (len > 0 && scratch[len - 1] != ' ')
            scratch[len++] = ' ';
    }
    if (len > 0 && scratch[len - 1] == ' ')
        len--;
    if (len == 0)
        return 0;
    rl_corpus_entry e = {
        .synset_offset = (uint32_t)offset, .pos = 'f', .category = RL_CORPUS_NO_CATEGORY};
    e.split = (uint8_t)rl_corpus_split_of_text(scratch, len, valid_fraction, test_fraction);
    rl_corpus_append(c, &e, scratch, len);
    return 1;
}

/* The whole file into *text (NUL-terminated) and its size into *n. */
static int read_whole(const char *path, char **text, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return rl_fail("cannot open the fortune file %s: %s",
                       "apt-get install fortunes (or point data.fortunes_dir at a directory of "
                       "fortune files)",
                       path, strerror(errno));
    size_t cap = 65536, len = 0;
    char *buf = rl_xmalloc(cap + 1);
    for (;;) {
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap || len >= FORTUNE_FILE_MAX_BYTES)
            break;
        cap *= 2;
        buf = realloc(buf, cap + 1);
        if (!buf)
            rl_fatal("out of memory reading a fortune file", "use fewer data.text_sources");
    }
    int rc = RL_OK;
    if (ferror(f))
        rc = rl_fail("reading %s failed", "check the file is readable", path);
    else if (len >= FORTUNE_FILE_MAX_BYTES)
        rc = rl_fail("the fortune file %s is larger than %zu MiB",
                     "data.fortunes_dir should hold fortune text files only", path,
                     FORTUNE_FILE_MAX_BYTES >> 20);
    fclose(f);
    buf[len] = '\0';
    if (rc < 0)
        free(buf);
    *text = rc < 0 ? NULL : buf;
    *n = len;
    return rc;
}

int rl_corpus_read_fortunes(const char *path, double valid_fraction, double test_fraction,
                            rl_corpus *c) {
    char *text = NULL;
    size_t n = 0;
    if (read_whole(path, &text, &n) < 0)
        return RL_ERR;
    int64_t bad_line = first_invalid_utf8_line(text, n);
    if (bad_line > 0) {
        free(text);
        return rl_fail("the fortune file %s is not valid UTF-8 text (line %lld)",
                       "data.fortunes_dir should hold fortune text files only (apt-get install "
                       "--reinstall fortunes)",
                       path, (long long)bad_line);
    }
    char *scratch = rl_xmalloc(n + 1);
    int64_t added = 0;
    size_t entry_start = 0;
    for (size_t line = 0; line < n;) {
        const char *end = memchr(text + line, '\n', n - line);
        size_t line_len = end ? (size_t)(end - (text + line)) : n - line;
        size_t next = line + line_len + (end != NULL);
        if (is_separator(text + line, line_len)) {
            added += add_entry(text + entry_start, line - entry_start, entry_start, valid_fraction,
                               test_fraction, scratch, c);
            entry_start = next;
        }
        line = next;
    }
    added += add_entry(text + entry_start, n - entry_start, entry_start, valid_fraction,
                       test_fraction, scratch, c);
    free(scratch);
    free(text);
    if (added == 0)
        return rl_fail("the fortune file %s holds no entries",
                       "a fortune file holds text entries separated by lines holding only '%'; "
                       "remove the file from data.fortunes_dir",
                       path);
    return RL_OK;
}

static int by_name(const struct dirent **a, const struct dirent **b) {
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int has_suffix(const char *name, const char *suffix) {
    size_t n = strlen(name), k = strlen(suffix);
    return n >= k && !strcmp(name + n - k, suffix);
}

int rl_corpus_read_fortunes_dir(const char *dir, double valid_fraction, double test_fraction,
                                rl_corpus *c) {
    struct dirent **names;
    int n = scandir(dir, &names, NULL, by_name);
    if (n < 0)
        return rl_fail("cannot read the fortunes directory %s: %s",
                       "apt-get install fortunes (or point data.fortunes_dir at a directory of "
                       "fortune files)",
                       dir, strerror(errno));
    int rc = RL_OK, files = 0;
    for (int k = 0; k < n; k++) {
        const char *name = names[k]->d_name;
        char path[4096];
        struct stat st;
        if (rc == RL_OK && name[0] != '.' && !has_suffix(name, ".dat") &&
            !has_suffix(name, ".u8")) {
            if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
                rc = rl_fail("data.fortunes_dir is too long (%zu characters)", "use a shorter path",
                             strlen(dir));
            else if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                rc = rl_corpus_read_fortunes(path, valid_fraction, test_fraction, c);
                files++;
            }
        }
        free(names[k]);
    }
    free(names);
    if (rc == RL_OK && files == 0)
        return rl_fail("the fortunes directory %s holds no fortune files",
                       "apt-get install fortunes (or point data.fortunes_dir at a directory of "
                       "fortune files)",
                       dir);
    return rc;
}

int rl_corpus_load_sources(const rl_config *cfg, rl_corpus *out) {
    memset(out, 0, sizeof *out);
    char **sources = NULL;
    int n_sources = 0, wordnet = 0, fortunes = 0;
    int rc = rl_cfg_list(cfg, "data.text_sources", 2, &sources, &n_sources);
    for (int k = 0; rc == RL_OK && k < n_sources; k++) {
        if (!strcmp(sources[k], "wordnet"))
            wordnet = 1;
        else if (!strcmp(sources[k], "fortunes"))
            fortunes = 1;
        else
            rc = rl_fail("'%s' in data.text_sources is not a text source",
                         "use wordnet, fortunes or wordnet,fortunes", sources[k]);
    }
    rl_cfg_list_free(sources, n_sources);
    if (rc == RL_OK && wordnet)
        rc = rl_corpus_load(cfg, out);
    if (rc == RL_OK && fortunes) {
        rc = rl_corpus_read_fortunes_dir(rl_cfg_str(cfg, "data.fortunes_dir"),
                                         rl_cfg_float(cfg, "data.valid_fraction"),
                                         rl_cfg_float(cfg, "data.test_fraction"), out);
        if (rc == RL_OK)
            rc = rl_corpus_check_splits(out);
    }
    if (rc < 0)
        rl_corpus_free(out);
    return rc;
}
