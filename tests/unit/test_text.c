/* Unit tests for the text data (src/data/corpus.h): the WordNet reader on the installed files
 * and on small files (malformed lines, missing files, empty splits), hash-fixed splits, category
 * selection, and the byte-level BPE tokenizer (hand-worked merges, determinism, vocabulary size,
 * round trips of every training line, rebuilding from saved merges). */
#include "src/core/error.h"
#include "src/data/corpus.h"
#include "src/train/vocab.h"
#include "tests/unit/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WORDNET_DIR "/usr/share/wordnet"

/* A resolved config with the text keys and the given overrides (NULL-terminated). */
static rl_config *text_config(const char *const *overrides) {
    rl_config *cfg = rl_cfg_new();
    rl_corpus_declare_config(cfg);
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
    int64_t failures = 0, bytes = 0;
    char decoded[4096];
    for (int64_t s = 0; s < seqs.n; s++) {
        const int32_t *ids = seqs.ids + seqs.start[s];
        int64_t len = seqs.start[s + 1] - seqs.start[s];
        const char *gloss = rl_corpus_gloss(&c, seqs.entry[s]);
        bytes += (int64_t)strlen(gloss);
        for (int64_t i = 0; i < len; i++)
            failures += ids[i] < 0 || ids[i] >= t.vocab_size;
        failures += ids[len - 1] != rl_bpe_eot(&t);
        failures +=
            rl_bpe_decode(&t, ids, len, decoded, sizeof decoded) < 0 || strcmp(decoded, gloss) != 0;
        failures += seqs.category[s] != c.entries[seqs.entry[s]].category;
    }
    CU_ASSERT_EQUAL(failures, 0);
    CU_ASSERT(seqs.start[seqs.n] - seqs.n < bytes / 2); /* merges compress the text */

    CU_ASSERT_FATAL(rl_bpe_from_merges(t.merges, t.n_merges, &rebuilt) == RL_OK);
    int32_t a[512], b[512];
    const char *probe = rl_corpus_gloss(&c, 0);
    int64_t na = rl_bpe_encode(&t, probe, strlen(probe), a);
    CU_ASSERT_EQUAL(rl_bpe_encode(&rebuilt, probe, strlen(probe), b), na);
    CU_ASSERT(memcmp(a, b, sizeof(int32_t) * (size_t)na) == 0);
    int32_t bad[] = {'a', 300};
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
    {"missing package and empty split refused", test_missing_package_and_empty_split},
    {"WordNet corpus: categories and split fractions", test_wordnet_corpus},
    {"BPE: hand-worked merges, vocabulary size", test_bpe_hand_worked_merges},
    {"BPE on WordNet: deterministic, round trips, rebuilt", test_bpe_on_wordnet},
    {"tokenizer saved with the results and loaded back", test_vocab_saved_with_results},
    {NULL, NULL},
};
RL_TEST_SUITE("text", tests)
