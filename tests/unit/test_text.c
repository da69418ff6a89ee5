/* Unit tests for the text data (src/data/corpus.h): the WordNet reader on the installed files
 * and on small files (malformed lines, missing files, empty splits), hash-fixed splits, category
 * selection, the fortune reader (separators, CRLF, tabs, bad UTF-8, empty files, the directory's
 * index files) and the mixed wordnet + fortunes corpus, and the byte-level BPE tokenizer
 * (hand-worked merges, determinism, vocabulary size, round trips of every training line, rebuilding
 * from saved merges). */
#include "src/core/error.h"
#include "src/data/corpus.h"
#include "src/train/vocab.h"
#include "tests/unit/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WORDNET_DIR "/usr/share/wordnet"
#define FORTUNES_DIR "/usr/share/games/fortunes"

/* A resolved config with the text keys and the given overrides (NULL-terminated). */
static rl_config *text_config(const char *const *overrides) {
    rl_config *cfg = rl_cfg_new();
    rl_corpus_declare_config(cfg);
    rl_corpus_declare_sources_config(cfg);
    for (; overrides && *overrides; overrides++)
        CU_ASSERT_FATAL(rl_cfg_set_override(cfg, *overrides) == RL_OK);
    CU_ASSERT_FATAL(rl_cfg_resolve(cfg) == RL_OK);
    return cfg;
}

/* Write text to a fresh temporary file; its path goes to path (64 bytes). */
static void write_tmp(char path[64], const char *text) {
    snprintf(path, 64, "/tmp/rl_text_test_XXXXXX");
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
}

static const char small_noun_file[] =
    "  1 This software and database is being provided to you, the LICENSEE, by  \n"
    "  2 Princeton University under the following license.  \n"
    "02084071 05 n 03 dog 0 domestic_dog 0 Canis_familiaris 0 000 | a member of the genus "
    "Canis  \n"
    "07747607 13 n 01 apple 0 000 | fruit with red or yellow or green skin  \n"
    "02958343 06 n 02 car 0 auto 0 000 | a motor vehicle with four wheels  \n"
    "12158031 20 n 01 pumpkin_vine 0 000 | a coarse vine  \n";

static void test_reads_small_file(void) {
    char path[64];
    write_tmp(path, small_noun_file);
    rl_corpus c = {0};
    CU_ASSERT_FATAL(rl_corpus_read_wordnet(path, "noun", 0.2, 0.2, &c) == RL_OK);
    CU_ASSERT_EQUAL(c.n, 4);
    CU_ASSERT_STRING_EQUAL(rl_corpus_gloss(&c, 0), "a member of the genus Canis");
    CU_ASSERT_EQUAL(c.entries[0].synset_offset, 2084071);
    CU_ASSERT_EQUAL(c.entries[0].pos, 'n');
    CU_ASSERT_STRING_EQUAL(rl_corpus_category_name(c.entries[0].category), "noun.animal");
    CU_ASSERT_STRING_EQUAL(rl_corpus_category_name(c.entries[1].category), "noun.food");
    CU_ASSERT_STRING_EQUAL(rl_corpus_category_name(c.entries[2].category), "noun.artifact");
    CU_ASSERT_STRING_EQUAL(rl_corpus_category_name(c.entries[3].category), "noun.plant");
    const char *keep[] = {"animal", "noun.plant"};
    CU_ASSERT(rl_corpus_keep_categories(&c, keep, 2) == RL_OK);
    CU_ASSERT_EQUAL(c.n, 2);
    CU_ASSERT_STRING_EQUAL(rl_corpus_gloss(&c, 1), "a coarse vine");
    const char *unknown[] = {"animals"};
    CU_ASSERT(rl_corpus_keep_categories(&c, unknown, 1) == RL_ERR);
    CU_ASSERT(strstr(rl_error_message(), "'animals'") != NULL);
    const char *other_part[] = {"verb.motion"};
    CU_ASSERT(rl_corpus_keep_categories(&c, other_part, 1) == RL_ERR);
    CU_ASSERT(strstr(rl_error_message(), "none of the 2 glosses loaded is in data.categories") !=
              NULL);
    CU_ASSERT(strstr(rl_error_hint(), "verb in data.text_parts") != NULL);
    CU_ASSERT_EQUAL(c.n, 2);
    rl_corpus_free(&c);
    rl_corpus_free(NULL);
    unlink(path);
}

/* The split of an entry is the same whatever order the file lists the synsets in. */
static void test_split_stable_under_reordering(void) {
    char forward[64], backward[64];
    write_tmp(forward, small_noun_file);
    const char *lines[] = {
        "12158031 20 n 01 pumpkin_vine 0 000 | a coarse vine  \n",
        "02958343 06 n 02 car 0 auto 0 000 | a motor vehicle with four wheels  \n",
        "07747607 13 n 01 apple 0 000 | fruit with red or yellow or green skin  \n",
        "02084071 05 n 03 dog 0 domestic_dog 0 Canis_familiaris 0 000 | a member of the genus "
        "Canis  \n",
    };
    char reversed[1024] = "";
    for (int k = 0; k < 4; k++)
        strcat(reversed, lines[k]);
    write_tmp(backward, reversed);
    rl_corpus a = {0}, b = {0};
    CU_ASSERT_FATAL(rl_corpus_read_wordnet(forward, "noun", 0.3, 0.3, &a) == RL_OK);
    CU_ASSERT_FATAL(rl_corpus_read_wordnet(backward, "noun", 0.3, 0.3, &b) == RL_OK);
    CU_ASSERT_FATAL(a.n == 4 && b.n == 4);
    for (int i = 0; i < 4; i++) {
        const rl_corpus_entry *e = &a.entries[i], *f = &b.entries[3 - i];
        CU_ASSERT_EQUAL(e->synset_offset, f->synset_offset);
        CU_ASSERT_EQUAL(e->split, f->split);
        CU_ASSERT_EQUAL(e->split, rl_corpus_split_of('n', e->synset_offset, 0.3, 0.3));
    }
    rl_corpus_free(&a);
    rl_corpus_free(&b);
    unlink(forward);
    unlink(backward);
}

static void test_refuses_malformed_line(void) {
    static const char *const bad_lines[] = {
        "02084071 05 n 03 dog 0 domestic_dog 0 no gloss separator  \n",
        "0208407x 05 n 01 dog 0 000 | a dog  \n",
        "02084071 77 n 01 dog 0 000 | a dog  \n",
        "02084071 05 v 01 dog 0 000 | a dog  \n",
        "02084071 05 n 01 dog 0 000 |   \n",
    };
    for (size_t k = 0; k < sizeof bad_lines / sizeof bad_lines[0]; k++) {
        char text[2048], path[64];
        snprintf(text, sizeof text, "  1 license  \n%s%s", small_noun_file, bad_lines[k]);
        write_tmp(path, text);
        rl_corpus c = {0};
        CU_ASSERT(rl_corpus_read_wordnet(path, "noun", 0.1, 0.1, &c) == RL_ERR);
        char where[96];
        snprintf(where, sizeof where, "%s line 8 ", path);
        CU_ASSERT(strstr(rl_error_message(), where) != NULL);
        rl_corpus_free(&c);
        unlink(path);
    }
}

/* A file cut short (its last line without the newline every WordNet line ends with) and one
 * with only the license header are refused, naming the file. */
static void test_refuses_cut_or_empty_file(void) {
    char text[2048], path[64];
    snprintf(text, sizeof text, "%s07747608 13 n 01 pear 0 000 | sweet", small_noun_file);
    write_tmp(path, text);
    rl_corpus c = {0};
    CU_ASSERT(rl_corpus_read_wordnet(path, "noun", 0.1, 0.1, &c) == RL_ERR);
    CU_ASSERT(strstr(rl_error_message(), "ends in the middle of line 7") != NULL);
    CU_ASSERT(strstr(rl_error_message(), path) != NULL);
    rl_corpus_free(&c);
    unlink(path);
    write_tmp(path, "  1 This software and database is being provided to you  \n");
    CU_ASSERT(rl_corpus_read_wordnet(path, "noun", 0.1, 0.1, &c) == RL_ERR);
    CU_ASSERT(strstr(rl_error_message(), "holds no synsets") != NULL);
    rl_corpus_free(&c);
    unlink(path);
}

static void test_missing_package_and_empty_split(void) {
    const char *missing[] = {"data.text_dir=/nonexistent/wordnet", NULL};
    rl_config *cfg = text_config(missing);
    rl_corpus c;
    CU_ASSERT(rl_corpus_load(cfg, &c) == RL_ERR);
    CU_ASSERT(strstr(rl_error_message(), "/nonexistent/wordnet/data.noun") != NULL);
    CU_ASSERT(strstr(rl_error_hint(), "apt-get install wordnet-base") != NULL);
    rl_cfg_free(cfg);

    char path[64];
    write_tmp(path, small_noun_file);
    rl_corpus small = {0};
    CU_ASSERT_FATAL(rl_corpus_read_wordnet(path, "noun", 0.0, 0.0, &small) == RL_OK);
    CU_ASSERT(rl_corpus_check_splits(&small) == RL_ERR);
    CU_ASSERT(strstr(rl_error_message(), "validation split") != NULL);
    CU_ASSERT(strstr(rl_error_hint(), "raise data.valid_fraction") != NULL);
    rl_corpus_free(&small);
    CU_ASSERT_FATAL(rl_corpus_read_wordnet(path, "noun", 0.5, 0.5, &small) == RL_OK);
    CU_ASSERT(rl_corpus_check_splits(&small) == RL_ERR);
    CU_ASSERT(strstr(rl_error_message(), "training split") != NULL);
    CU_ASSERT(strstr(rl_error_hint(), "lower data.valid_fraction + data.test_fraction") != NULL);
    rl_corpus_free(&small);
    unlink(path);
}

static void test_wordnet_corpus(void) {
    const char *overrides[] = {"data.categories=animal,artifact,food,plant", NULL};
    rl_config *cfg = text_config(overrides);
    rl_corpus c;
    CU_ASSERT_FATAL(rl_corpus_load(cfg, &c) == RL_OK);
    /* WordNet 3.0: 7,511 noun.animal, 11,587 noun.artifact, 2,573 noun.food, 8,156 noun.plant. */
    CU_ASSERT(c.n > 20000 && c.n < 40000);
    int64_t per_split[3] = {rl_corpus_count(&c, RL_SPLIT_TRAIN),
                            rl_corpus_count(&c, RL_SPLIT_VALID),
                            rl_corpus_count(&c, RL_SPLIT_TEST)};
    CU_ASSERT_EQUAL(per_split[0] + per_split[1] + per_split[2], c.n);
    CU_ASSERT(per_split[1] > 0.04 * c.n && per_split[1] < 0.06 * c.n);
    CU_ASSERT(per_split[2] > 0.04 * c.n && per_split[2] < 0.06 * c.n);
    int dog_found = 0;
    for (int64_t i = 0; i < c.n; i++) {
        const char *name = rl_corpus_category_name(c.entries[i].category);
        CU_ASSERT(!strcmp(name, "noun.animal") || !strcmp(name, "noun.artifact") ||
                  !strcmp(name, "noun.food") || !strcmp(name, "noun.plant"));
        if (c.entries[i].synset_offset == 2084071) {
            dog_found = 1;
            CU_ASSERT_STRING_EQUAL(name, "noun.animal");
            CU_ASSERT(!strncmp(rl_corpus_gloss(&c, i), "a member of the genus Canis", 27));
        }
    }
    CU_ASSERT(dog_found);
    rl_corpus_free(&c);
    rl_cfg_free(cfg);
}

/* "abab ab" is the words "abab" and " ab": (a, b) occurs 3 times; then (256, 256) and
 * (' ', 256) once each, and ' ' sorts before "ab"; then (256, 256). Nothing is left after. */
static void test_bpe_hand_worked_merges(void) {
    const char *lines[] = {"abab ab"};
    rl_bpe t;
    CU_ASSERT_FATAL(rl_bpe_learn_lines(lines, 1, 1000, &t) == RL_OK);
    CU_ASSERT_EQUAL_FATAL(t.n_merges, 3);
    CU_ASSERT_EQUAL(t.vocab_size, 260);
    const int32_t expected[] = {'a', 'b', ' ', 256, 256, 256};
    CU_ASSERT(memcmp(t.merges, expected, sizeof expected) == 0);
    int32_t ids[16];
    CU_ASSERT_EQUAL(rl_bpe_encode(&t, "abab ab", 7, ids), 2);
    CU_ASSERT(ids[0] == 258 && ids[1] == 257);
    CU_ASSERT_EQUAL(rl_bpe_encode(&t, "ba", 2, ids), 2);
    CU_ASSERT(ids[0] == 'b' && ids[1] == 'a');
    rl_bpe_free(&t);
    CU_ASSERT_FATAL(rl_bpe_learn_lines(lines, 1, 258, &t) == RL_OK);
    CU_ASSERT_EQUAL(t.n_merges, 1);
    CU_ASSERT_EQUAL(t.vocab_size, 258);
    rl_bpe_free(&t);
    CU_ASSERT(rl_bpe_learn_lines(lines, 1, 100, &t) == RL_ERR);
    rl_bpe_free(NULL);
}

/* Entries of seqs whose ids are out of range, do not end with the end-of-entry token, do not
 * decode to their text or carry another category; *bytes gets the bytes of their text. */
static int64_t round_trip_failures(const rl_corpus *c, const rl_bpe *t, const rl_token_seqs *seqs,
                                   int64_t *bytes) {
    int64_t failures = 0;
    static char decoded[1 << 16];
    *bytes = 0;
    for (int64_t s = 0; s < seqs->n; s++) {
        const int32_t *ids = seqs->ids + seqs->start[s];
        int64_t len = seqs->start[s + 1] - seqs->start[s];
        const char *gloss = rl_corpus_gloss(c, seqs->entry[s]);
        *bytes += (int64_t)strlen(gloss);
        for (int64_t i = 0; i < len; i++)
            failures += ids[i] < 0 || ids[i] >= t->vocab_size;
        failures += ids[len - 1] != rl_bpe_eot(t);
        failures +=
            rl_bpe_decode(t, ids, len, decoded, sizeof decoded) < 0 || strcmp(decoded, gloss) != 0;
        failures += seqs->category[s] != c->entries[seqs->entry[s]].category;
    }
    return failures;
}

/* On the training glosses: the vocabulary size asked for, the same merges when learned again on
 * the lines in reverse order, every training line round-trips, and the merges rebuild the same
 * tokenizer (as a fine-tuning run does from a saved one). */
static void test_bpe_on_wordnet(void) {
    const char *overrides[] = {"data.text_parts=adv,adj", NULL};
    rl_config *cfg = text_config(overrides);
    rl_corpus c;
    CU_ASSERT_FATAL(rl_corpus_load(cfg, &c) == RL_OK);
    rl_bpe t, again, rebuilt;
    CU_ASSERT_FATAL(rl_bpe_learn(&c, RL_SPLIT_TRAIN, 600, &t) == RL_OK);
    CU_ASSERT_EQUAL(t.vocab_size, 600);
    CU_ASSERT_EQUAL(t.n_merges, 600 - 257);

    int64_t n = rl_corpus_count(&c, RL_SPLIT_TRAIN), k = n;
    const char **reversed = malloc(sizeof(char *) * (size_t)n);
    for (int64_t i = 0; i < c.n; i++)
        if (c.entries[i].split == RL_SPLIT_TRAIN)
            reversed[--k] = rl_corpus_gloss(&c, i);
    CU_ASSERT_FATAL(rl_bpe_learn_lines(reversed, n, 600, &again) == RL_OK);
    CU_ASSERT(again.n_merges == t.n_merges &&
              memcmp(again.merges, t.merges, sizeof(int32_t) * 2 * (size_t)t.n_merges) == 0);
    free(reversed);

    rl_token_seqs seqs;
    CU_ASSERT_FATAL(rl_corpus_tokenize(&c, &t, RL_SPLIT_TRAIN, &seqs) == RL_OK);
    CU_ASSERT_EQUAL(seqs.n, n);
    int64_t bytes = 0, failures = round_trip_failures(&c, &t, &seqs, &bytes);
    CU_ASSERT_EQUAL(failures, 0);
    CU_ASSERT(seqs.start[seqs.n] - seqs.n < bytes / 2); /* merges compress the text */

    CU_ASSERT_FATAL(rl_bpe_from_merges(t.merges, t.n_merges, &rebuilt) == RL_OK);
    int32_t a[512], b[512];
    const char *probe = rl_corpus_gloss(&c, 0);
    int64_t na = rl_bpe_encode(&t, probe, strlen(probe), a);
    CU_ASSERT_EQUAL(rl_bpe_encode(&rebuilt, probe, strlen(probe), b), na);
    CU_ASSERT(memcmp(a, b, sizeof(int32_t) * (size_t)na) == 0);
    int32_t bad[] = {'a', 300};
    char decoded[64];
    rl_bpe_free(&rebuilt);
    CU_ASSERT(rl_bpe_from_merges(bad, 1, &rebuilt) == RL_ERR);
    CU_ASSERT(rl_bpe_decode(&t, bad + 1, 1, decoded, sizeof decoded) >= 0);
    int32_t outside = t.vocab_size;
    CU_ASSERT(rl_bpe_decode(&t, &outside, 1, decoded, sizeof decoded) == RL_ERR);

    rl_token_seqs_free(&seqs);
    rl_token_seqs_free(NULL);
    rl_bpe_free(&t);
    rl_bpe_free(&again);
    rl_corpus_free(&c);
    rl_cfg_free(cfg);
}

/* A fortune file with the tricky cases: a leading %, CRLF line ends (also on a separator),
 * consecutive %, an entry of blanks, tabs and indentation, "%%" and "50%" inside an entry (not
 * separators), UTF-8, and a last entry without a trailing % or line end. */
static const char tricky_fortunes[] = "%\n"
                                      "First  entry,\ttabbed\r\n"
                                      "  second line.\r\n"
                                      "%\r\n"
                                      "%\n"
                                      "%\n"
                                      "Caf\xc3\xa9 quote, 50%\n"
                                      "%%\n"
                                      "\t\t-- Author\n"
                                      "%\n"
                                      "  \t \n"
                                      "%\n"
                                      "Trailing entry without percent";

static void test_reads_fortune_file(void) {
    char path[64];
    write_tmp(path, tricky_fortunes);
    rl_corpus c = {0};
    CU_ASSERT_FATAL(rl_corpus_read_fortunes(path, 0.3, 0.3, &c) == RL_OK);
    CU_ASSERT_EQUAL_FATAL(c.n, 3);
    CU_ASSERT_STRING_EQUAL(rl_corpus_gloss(&c, 0), "First entry, tabbed second line.");
    CU_ASSERT_STRING_EQUAL(rl_corpus_gloss(&c, 1), "Caf\xc3\xa9 quote, 50% %% -- Author");
    CU_ASSERT_STRING_EQUAL(rl_corpus_gloss(&c, 2), "Trailing entry without percent");
    for (int64_t i = 0; i < c.n; i++) {
        const char *text = rl_corpus_gloss(&c, i);
        CU_ASSERT_EQUAL(c.entries[i].len, strlen(text));
        CU_ASSERT_EQUAL(c.entries[i].pos, 'f');
        CU_ASSERT_EQUAL(c.entries[i].category, RL_CORPUS_NO_CATEGORY);
        CU_ASSERT_EQUAL(c.entries[i].split, rl_corpus_split_of_text(text, strlen(text), 0.3, 0.3));
    }
    CU_ASSERT_EQUAL(c.entries[0].synset_offset, 2); /* the byte after the leading "%\n" */
    rl_corpus_free(&c);
    unlink(path);
}

/* 60 entries written in one order and in reverse get the same split each, by their text; all
 * three splits occur. */
static void test_fortune_split_independent_of_order(void) {
    enum { N = 60 };
    char forward[N * 40] = "", backward[N * 40] = "", path_a[64], path_b[64];
    for (int k = 0; k < N; k++) {
        char entry[40];
        snprintf(entry, sizeof entry, "fortune number %d\n%%\n", k);
        strcat(forward, entry);
        snprintf(entry, sizeof entry, "fortune number %d\n%%\n", N - 1 - k);
        strcat(backward, entry);
    }
    write_tmp(path_a, forward);
    write_tmp(path_b, backward);
    rl_corpus a = {0}, b = {0};
    CU_ASSERT_FATAL(rl_corpus_read_fortunes(path_a, 0.25, 0.25, &a) == RL_OK);
    CU_ASSERT_FATAL(rl_corpus_read_fortunes(path_b, 0.25, 0.25, &b) == RL_OK);
    CU_ASSERT_EQUAL_FATAL(a.n, N);
    CU_ASSERT_EQUAL_FATAL(b.n, N);
    int64_t per_split[3] = {0, 0, 0};
    for (int k = 0; k < N; k++) {
        CU_ASSERT_STRING_EQUAL(rl_corpus_gloss(&a, k), rl_corpus_gloss(&b, N - 1 - k));
        CU_ASSERT_EQUAL(a.entries[k].split, b.entries[N - 1 - k].split);
        per_split[a.entries[k].split]++;
    }
    CU_ASSERT(per_split[RL_SPLIT_TRAIN] > 0 && per_split[RL_SPLIT_VALID] > 0 &&
              per_split[RL_SPLIT_TEST] > 0);
    rl_corpus_free(&a);
    rl_corpus_free(&b);
    unlink(path_a);
    unlink(path_b);
}

/* Expect rl_corpus_read_fortunes_dir(dir) or rl_corpus_read_fortunes(path) to fail with message
 * and hint fragments. */
static void expect_fortune_refusal(const char *path, int is_dir, const char *message,
                                   const char *hint) {
    rl_corpus c = {0};
    int rc = is_dir ? rl_corpus_read_fortunes_dir(path, 0.1, 0.1, &c)
                    : rl_corpus_read_fortunes(path, 0.1, 0.1, &c);
    CU_ASSERT(rc == RL_ERR);
    CU_ASSERT(strstr(rl_error_message(), message) != NULL);
    CU_ASSERT(strstr(rl_error_hint(), hint) != NULL);
    rl_corpus_free(&c);
}

/* Bad UTF-8 (naming the line), a file of separators and blanks, a missing directory, a directory
 * of index files only; the .dat/.u8 files and a subdirectory such as off/ are skipped; an empty
 * split and an unknown source are refused by rl_corpus_load_sources. */
static void test_fortune_refusals_and_directory(void) {
    char path[64];
    write_tmp(path, "fine\n%\nbad \xff byte\n%\n");
    expect_fortune_refusal(path, 0, "not valid UTF-8 text (line 3)", "fortune text files");
    unlink(path);
    write_tmp(path, "%\n\t\n%\r\n%\n");
    expect_fortune_refusal(path, 0, "holds no entries", "separated by lines holding only '%'");
    unlink(path);
    expect_fortune_refusal("/nonexistent/fortunes", 1, "/nonexistent/fortunes",
                           "apt-get install fortunes");

    char dir[64] = "/tmp/rl_fortunes_test_XXXXXX", file[128];
    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    static const char *const index_files[] = {"jokes.dat", "jokes.u8"};
    for (int k = 0; k < 2; k++) {
        snprintf(file, sizeof file, "%s/%s", dir, index_files[k]);
        FILE *f = fopen(file, "wb");
        CU_ASSERT_FATAL(f != NULL);
        fputs("\x01\x02\xff binary index\n", f);
        fclose(f);
    }
    expect_fortune_refusal(dir, 1, "holds no fortune files", "apt-get install fortunes");
    snprintf(file, sizeof file, "%s/off", dir);
    CU_ASSERT_FATAL(mkdir(file, 0700) == 0);
    snprintf(file, sizeof file, "%s/off/rude", dir);
    FILE *f = fopen(file, "wb");
    CU_ASSERT_FATAL(f != NULL);
    fputs("offensive\n%\n", f);
    fclose(f);
    snprintf(file, sizeof file, "%s/jokes", dir);
    f = fopen(file, "wb");
    CU_ASSERT_FATAL(f != NULL);
    fputs(tricky_fortunes, f);
    fclose(f);
    rl_corpus c = {0};
    CU_ASSERT(rl_corpus_read_fortunes_dir(dir, 0.3, 0.3, &c) == RL_OK);
    CU_ASSERT_EQUAL(c.n, 3);
    rl_corpus_free(&c);

    char dir_key[96];
    snprintf(dir_key, sizeof dir_key, "data.fortunes_dir=%s", dir);
    const char *one_source[] = {"data.text_sources=fortunes", dir_key, "data.valid_fraction=0.01",
                                "data.test_fraction=0.01", NULL};
    rl_config *cfg = text_config(one_source);
    CU_ASSERT(rl_corpus_load_sources(cfg, &c) == RL_ERR);
    CU_ASSERT(strstr(rl_error_message(), "split of the text corpus is empty (3 entries") != NULL);
    CU_ASSERT_EQUAL(c.n, 0);
    rl_cfg_free(cfg);
    const char *unknown[] = {"data.text_sources=wordnet,gcide", NULL};
    cfg = text_config(unknown);
    CU_ASSERT(rl_corpus_load_sources(cfg, &c) == RL_ERR);
    CU_ASSERT(strstr(rl_error_message(), "'gcide' in data.text_sources") != NULL);
    rl_cfg_free(cfg);

    static const char *const made[] = {"off/rude", "off", "jokes", "jokes.dat", "jokes.u8"};
    for (int k = 0; k < 5; k++) {
        snprintf(file, sizeof file, "%s/%s", dir, made[k]);
        CU_ASSERT(remove(file) == 0);
    }
    CU_ASSERT(rmdir(dir) == 0);
}

/* The installed fortunes with the adverb glosses: both kinds of entry in the training split, the
 * order of data.text_sources does not matter, the default is WordNet alone, and the tokenizer
 * learned on the mixed training split round-trips every training entry. */
static void test_mixed_corpus_round_trips(void) {
    const char *mixed[] = {"data.text_parts=adv", "data.text_sources=wordnet,fortunes", NULL};
    const char *reordered[] = {"data.text_parts=adv", "data.text_sources=fortunes,wordnet", NULL};
    const char *wordnet_only[] = {"data.text_parts=adv", NULL};
    rl_config *cfg = text_config(mixed), *cfg_reordered = text_config(reordered),
              *cfg_wordnet = text_config(wordnet_only);
    rl_corpus c, again, adverbs;
    CU_ASSERT_FATAL(rl_corpus_load_sources(cfg, &c) == RL_OK);
    CU_ASSERT_FATAL(rl_corpus_load_sources(cfg_reordered, &again) == RL_OK);
    CU_ASSERT_FATAL(rl_corpus_load_sources(cfg_wordnet, &adverbs) == RL_OK);
    CU_ASSERT(again.n == c.n && again.text_bytes == c.text_bytes &&
              memcmp(again.text, c.text, c.text_bytes) == 0);
    int64_t fortunes_in_train = 0, glosses_in_train = 0;
    for (int64_t i = 0; i < c.n; i++)
        if (c.entries[i].split == RL_SPLIT_TRAIN) {
            fortunes_in_train += c.entries[i].pos == 'f';
            glosses_in_train += c.entries[i].pos == 'r';
        }
    CU_ASSERT(fortunes_in_train > 5000); /* fortunes 1.99: 15,217 entries in 43 files */
    CU_ASSERT_EQUAL(glosses_in_train, rl_corpus_count(&adverbs, RL_SPLIT_TRAIN));
    CU_ASSERT_EQUAL(c.n - adverbs.n, fortunes_in_train + rl_corpus_count(&c, RL_SPLIT_VALID) +
                                         rl_corpus_count(&c, RL_SPLIT_TEST) -
                                         rl_corpus_count(&adverbs, RL_SPLIT_VALID) -
                                         rl_corpus_count(&adverbs, RL_SPLIT_TEST));

    rl_bpe t;
    rl_token_seqs seqs;
    CU_ASSERT_FATAL(rl_bpe_learn(&c, RL_SPLIT_TRAIN, 600, &t) == RL_OK);
    CU_ASSERT_FATAL(rl_corpus_tokenize(&c, &t, RL_SPLIT_TRAIN, &seqs) == RL_OK);
    CU_ASSERT_EQUAL(seqs.n, rl_corpus_count(&c, RL_SPLIT_TRAIN));
    int64_t bytes;
    CU_ASSERT_EQUAL(round_trip_failures(&c, &t, &seqs, &bytes), 0);
    CU_ASSERT(seqs.start[seqs.n] - seqs.n < bytes / 2);
    rl_token_seqs_free(&seqs);
    rl_bpe_free(&t);
    rl_corpus_free(&c);
    rl_corpus_free(&again);
    rl_corpus_free(&adverbs);
    rl_cfg_free(cfg);
    rl_cfg_free(cfg_reordered);
    rl_cfg_free(cfg_wordnet);
}

/* The merges saved in a results file rebuild the same tokenizer; a file without them is refused. */
static void test_vocab_saved_with_results(void) {
    const char *lines[] = {"the dog barked at the other dog", "a dog is an animal"};
    rl_bpe t, loaded;
    CU_ASSERT_FATAL(rl_bpe_learn_lines(lines, 2, 280, &t) == RL_OK);
    char dir[64] = "/tmp/rl_vocab_test_XXXXXX", path[96];
    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    rl_config *cfg = text_config(NULL);
    io_results_meta meta = {.experiment = "test", .run_id = "0", .inputs = "", .world_size = 1};
    io_results *r;
    CU_ASSERT_FATAL(io_results_create(&r, dir, &meta, cfg, NULL, 0) == RL_OK);
    CU_ASSERT_FATAL(vocab_save(r, &t) == RL_OK);
    CU_ASSERT_FATAL(io_results_complete(r) == RL_OK);
    snprintf(path, sizeof path, "%s/results.h5", dir);
    CU_ASSERT_FATAL(vocab_load(path, &loaded) == RL_OK);
    CU_ASSERT_EQUAL(loaded.vocab_size, t.vocab_size);
    CU_ASSERT(memcmp(loaded.merges, t.merges, sizeof(int32_t) * 2 * (size_t)t.n_merges) == 0);
    rl_bpe_free(&loaded);
    CU_ASSERT_FATAL(io_results_create(&r, dir, &meta, cfg, NULL, 0) == RL_OK);
    CU_ASSERT_FATAL(io_results_complete(r) == RL_OK);
    CU_ASSERT(vocab_load(path, &loaded) == RL_ERR);
    CU_ASSERT(strstr(rl_error_message(), "tokenizer_merges") != NULL);
    unlink(path);
    CU_ASSERT(rmdir(dir) == 0);
    rl_cfg_free(cfg);
    rl_bpe_free(&t);
}

static const rl_test tests[] = {
    {"reads a small WordNet file with categories", test_reads_small_file},
    {"split is stable under file reordering", test_split_stable_under_reordering},
    {"malformed lines refused with the line number", test_refuses_malformed_line},
    {"a file cut short or without synsets refused", test_refuses_cut_or_empty_file},
    {"missing package and empty split refused", test_missing_package_and_empty_split},
    {"WordNet corpus: categories and split fractions", test_wordnet_corpus},
    {"BPE: hand-worked merges, vocabulary size", test_bpe_hand_worked_merges},
    {"BPE on WordNet: deterministic, round trips, rebuilt", test_bpe_on_wordnet},
    {"fortune file: separators, CRLF, tabs, trailing entry", test_reads_fortune_file},
    {"fortune split by hash of the entry, not file order", test_fortune_split_independent_of_order},
    {"fortunes: bad UTF-8, no entries, missing, index files", test_fortune_refusals_and_directory},
    {"wordnet + fortunes corpus: tokenizer round trips", test_mixed_corpus_round_trips},
    {"tokenizer saved with the results and loaded back", test_vocab_saved_with_results},
    {NULL, NULL},
};
RL_TEST_SUITE("text", tests)
