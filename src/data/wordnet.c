/* The WordNet gloss corpus: the data.text_* keys, reading data.{noun,verb,adj,adv} with their
 * lexicographer categories, the hash-fixed splits and keeping a set of categories. */
#include "src/core/digest.h"
#include "src/core/error.h"
#include "src/data/corpus.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const rl_cfg_spec corpus_keys[] = {
    {"data.text_dir", RL_CFG_STRING, "/usr/share/wordnet", 0, 0, NULL, RL_CFG_RUNTIME,
     "directory holding WordNet's data.noun, data.verb, data.adj, data.adv (wordnet-base)"},
    {"data.text_parts", RL_CFG_STRING, "noun,verb,adj,adv", 0, 0, NULL, 0,
     "WordNet parts of speech whose glosses make the corpus (comma-separated)"},
    {"data.valid_fraction", RL_CFG_FLOAT, "0.05", 0, 0.5, NULL, 0,
     "fraction of entries in the validation split (fixed by a hash of each synset)"},
    {"data.test_fraction", RL_CFG_FLOAT, "0.05", 0, 0.5, NULL, 0,
     "fraction of entries in the test split (fixed by a hash of each synset)"},
    {"data.categories", RL_CFG_STRING, "all", 0, 0, NULL, 0,
     "keep only these lexicographer categories, e.g. animal,artifact,food,plant (noun.*), or "
     "verb.motion; all: every entry"},
    {"text.vocab_size", RL_CFG_INT, "1024", RL_BPE_MIN_VOCAB, RL_BPE_MAX_VOCAB, NULL, 0,
     "byte-level BPE vocabulary: 256 bytes + merges learned on the training glosses + 1 "
     "end-of-entry token"},
};

void rl_corpus_declare_config(rl_config *cfg) {
    rl_cfg_declare(cfg, corpus_keys, sizeof corpus_keys / sizeof corpus_keys[0]);
}

/* WordNet's lexnames(5WN) table: lexicographer file number -> name. */
static const char *const category_names[RL_CORPUS_CATEGORIES] = {
    "adj.all",          "adj.pert",           "adv.all",
    "noun.Tops",        "noun.act",           "noun.animal",
    "noun.artifact",    "noun.attribute",     "noun.body",
    "noun.cognition",   "noun.communication", "noun.event",
    "noun.feeling",     "noun.food",          "noun.group",
    "noun.location",    "noun.motive",        "noun.object",
    "noun.person",      "noun.phenomenon",    "noun.plant",
    "noun.possession",  "noun.process",       "noun.quantity",
    "noun.relation",    "noun.shape",         "noun.state",
    "noun.substance",   "noun.time",          "verb.body",
    "verb.change",      "verb.cognition",     "verb.communication",
    "verb.competition", "verb.consumption",   "verb.contact",
    "verb.creation",    "verb.emotion",       "verb.motion",
    "verb.perception",  "verb.possession",    "verb.social",
    "verb.stative",     "verb.weather",       "adj.ppl",
};

const char *rl_corpus_category_name(int category) {
    return category >= 0 && category < RL_CORPUS_CATEGORIES ? category_names[category] : "?";
}

int rl_corpus_category_id(const char *name) {
    for (int k = 0; k < RL_CORPUS_CATEGORIES; k++) {
        const char *full = category_names[k];
        if (!strcmp(name, full) || (!strncmp(full, "noun.", 5) && !strcmp(name, full + 5)))
            return k;
    }
    return -1;
}

/* The split of an entry whose key hashes to crc: crc scaled to [0, 1) against the fractions. */
static rl_split split_of_hash(uint32_t crc, double valid_fraction, double test_fraction) {
    double u = crc / 4294967296.0;
    if (u < test_fraction)
        return RL_SPLIT_TEST;
    return u < test_fraction + valid_fraction ? RL_SPLIT_VALID : RL_SPLIT_TRAIN;
}

rl_split rl_corpus_split_of(char pos, uint32_t synset_offset, double valid_fraction,
                            double test_fraction) {
    char key[16];
    int n = snprintf(key, sizeof key, "%c %08u", pos, (unsigned)synset_offset);
    return split_of_hash(rl_crc32(0, key, (size_t)n), valid_fraction, test_fraction);
}

rl_split rl_corpus_split_of_text(const char *text, size_t len, double valid_fraction,
                                 double test_fraction) {
    return split_of_hash(rl_crc32(0, text, len), valid_fraction, test_fraction);
}

static void *grow(void *p, size_t bytes) {
    void *q = realloc(p, bytes);
    if (!q)
        rl_fatal("out of memory reading the text corpus",
                 "use fewer data.text_parts or data.text_sources");
    return q;
}

void rl_corpus_append(rl_corpus *c, const rl_corpus_entry *e, const char *text, size_t len) {
    if ((size_t)c->n == c->entries_cap) {
        c->entries_cap = c->entries_cap ? 2 * c->entries_cap : 4096;
        c->entries = grow(c->entries, c->entries_cap * sizeof *c->entries);
    }
    if (c->text_bytes + len + 1 > c->text_cap) {
        c->text_cap = 2 * (c->text_bytes + len + 1) + 65536;
        c->text = grow(c->text, c->text_cap);
    }
    rl_corpus_entry *added = &c->entries[c->n++];
    *added = *e;
    added->text = c->text_bytes;
    added->len = (uint32_t)len;
    memcpy(c->text + c->text_bytes, text, len);
    c->text[c->text_bytes + len] = '\0';
    c->text_bytes += len + 1;
}

static const char *part_pos(const char *part) {
    static const char *const parts[][2] = {
        {"noun", "n"}, {"verb", "v"}, {"adj", "a"}, {"adv", "r"}};
    for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++)
        if (!strcmp(part, parts[k][0]))
            return parts[k][1];
    return NULL;
}

/* One data line "OFFSET LEX_FILENUM SS_TYPE W_CNT WORD LEX_ID ... | GLOSS" into e and the gloss
 * (start, length). Returns NULL when well formed, else what is wrong. */
static const char *parse_line(char *line, char pos, rl_corpus_entry *e, char **gloss,
                              size_t *gloss_len) {
    char *end;
    if (!isdigit((unsigned char)line[0]))
        return "it does not start with a synset offset";
    errno = 0;
    unsigned long offset = strtoul(line, &end, 10);
    if (errno || offset > UINT32_MAX || *end != ' ')
        return "the synset offset is not an 8-digit number";
    unsigned long lex = strtoul(end + 1, &end, 10);
    if (*end != ' ' || lex >= RL_CORPUS_CATEGORIES)
        return "the lexicographer file number is not one of 00..44";
    char ss_type = end[1];
    int type_ok = ss_type == pos || (pos == 'a' && ss_type == 's');
    if (!type_ok || end[2] != ' ')
        return "the synset type does not match the file's part of speech";
    char *bar = strstr(end, " | ");
    if (!bar)
        return "there is no ' | ' before the gloss";
    char *g = bar + 3;
    size_t len = strlen(g);
    while (len > 0 && isspace((unsigned char)g[len - 1]))
        len--;
    if (len == 0)
        return "the gloss after '|' is empty";
    if (len > UINT32_MAX)
        return "the gloss is too long";
    e->synset_offset = (uint32_t)offset;
    e->pos = pos;
    e->category = (uint8_t)lex;
    *gloss = g;
    *gloss_len = len;
    return NULL;
}

int rl_corpus_read_wordnet(const char *path, const char *part, double valid_fraction,
                           double test_fraction, rl_corpus *c) {
    const char *pos = part_pos(part);
    if (!pos)
        return rl_fail("'%s' is not a WordNet part of speech", "use noun, verb, adj or adv", part);
    FILE *f = fopen(path, "r");
    if (!f)
        return rl_fail("cannot open the WordNet file %s: %s",
                       "apt-get install wordnet-base (or point data.text_dir at WordNet 3.0's "
                       "dict directory)",
                       path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    int rc = RL_OK;
    int64_t synsets = 0;
    for (int64_t line_no = 1;; line_no++) {
        ssize_t got = getline(&line, &cap, f);
        if (got < 0)
            break;
        if (line[got - 1] != '\n') { /* every WordNet line ends with one */
            rc = rl_fail("%s ends in the middle of line %lld (no newline at its end): the file "
                         "was cut short",
                         "apt-get install --reinstall wordnet-base, or copy the whole file", path,
                         (long long)line_no);
            break;
        }
        if (!strncmp(line, "  ", 2)) /* the license header */
            continue;
        rl_corpus_entry e = {0};
        char *gloss;
        size_t len;
        const char *wrong = parse_line(line, pos[0], &e, &gloss, &len);
        if (wrong) {
            rc = rl_fail("%s line %lld is not a WordNet data line: %s",
                         "the file may be damaged: "
                         "apt-get install --reinstall wordnet-base",
                         path, (long long)line_no, wrong);
            break;
        }
        e.split =
            (uint8_t)rl_corpus_split_of(e.pos, e.synset_offset, valid_fraction, test_fraction);
        rl_corpus_append(c, &e, gloss, len);
        synsets++;
    }
    if (rc == RL_OK && ferror(f))
        rc = rl_fail("reading %s failed", "check the file is readable", path);
    if (rc == RL_OK && synsets == 0)
        rc = rl_fail("%s holds no synsets (no data lines after its license header)",
                     "apt-get install --reinstall wordnet-base, or point data.text_dir at "
                     "WordNet 3.0's dict directory",
                     path);
    free(line);
    fclose(f);
    return rc;
}

int rl_corpus_keep_categories(rl_corpus *c, const char *const *names, int n) {
    uint8_t keep[RL_CORPUS_CATEGORIES] = {0};
    for (int k = 0; k < n; k++) {
        int id = rl_corpus_category_id(names[k]);
        if (id < 0)
            return rl_fail("'%s' is not a WordNet lexicographer category",
                           "use names such as noun.animal (or animal), verb.motion, adj.all "
                           "(WordNet's lexnames)",
                           names[k]);
        keep[id] = 1;
    }
    int64_t kept = 0;
    for (int64_t i = 0; i < c->n; i++)
        if (keep[c->entries[i].category])
            c->entries[kept++] = c->entries[i];
    if (kept == 0)
        return rl_fail("none of the %lld glosses loaded is in data.categories",
                       "a category is read from its part of speech's file: verb.motion needs "
                       "verb in data.text_parts, noun.animal needs noun",
                       (long long)c->n);
    c->n = kept;
    return RL_OK;
}

int64_t rl_corpus_count(const rl_corpus *c, rl_split split) {
    int64_t count = 0;
    for (int64_t i = 0; i < c->n; i++)
        count += c->entries[i].split == split;
    return count;
}

int rl_corpus_check_splits(const rl_corpus *c) {
    static const char *const split_names[] = {"training", "validation", "test"};
    for (int s = RL_SPLIT_TRAIN; s <= RL_SPLIT_TEST; s++)
        if (rl_corpus_count(c, (rl_split)s) == 0)
            return rl_fail("the %s split of the text corpus is empty (%lld entries loaded)",
                           s == RL_SPLIT_TRAIN
                               ? "lower data.valid_fraction + data.test_fraction (the rest "
                                 "is for training), or load more data.text_parts and "
                                 "data.categories"
                               : "raise data.valid_fraction / data.test_fraction, or load "
                                 "more data.text_parts and data.categories",
                           split_names[s], (long long)c->n);
    return RL_OK;
}

int rl_corpus_load(const rl_config *cfg, rl_corpus *out) {
    const char *dir = rl_cfg_str(cfg, "data.text_dir");
    double valid = rl_cfg_float(cfg, "data.valid_fraction");
    double test = rl_cfg_float(cfg, "data.test_fraction");
    const char *categories = rl_cfg_str(cfg, "data.categories");
    memset(out, 0, sizeof *out);
    char **parts = NULL, **names = NULL;
    int n_parts = 0, n_names = 0;
    int rc = rl_cfg_list(cfg, "data.text_parts", 4, &parts, &n_parts);
    for (int k = 0; rc == RL_OK && k < n_parts; k++) {
        char path[4096];
        if (snprintf(path, sizeof path, "%s/data.%s", dir, parts[k]) >= (int)sizeof path)
            rc = rl_fail("data.text_dir is too long (%zu characters)", "use a shorter path",
                         strlen(dir));
        else
            rc = rl_corpus_read_wordnet(path, parts[k], valid, test, out);
    }
    if (rc == RL_OK && strcmp(categories, "all") != 0) {
        rc = rl_cfg_list(cfg, "data.categories", RL_CORPUS_CATEGORIES, &names, &n_names);
        if (rc == RL_OK)
            rc = rl_corpus_keep_categories(out, (const char *const *)names, n_names);
    }
    if (rc == RL_OK)
        rc = rl_corpus_check_splits(out);
    rl_cfg_list_free(parts, n_parts);
    rl_cfg_list_free(names, n_names);
    if (rc < 0)
        rl_corpus_free(out);
    return rc;
}

void rl_corpus_free(rl_corpus *c) {
    if (!c)
        return;
    free(c->entries);
    free(c->text);
    memset(c, 0, sizeof *c);
}
