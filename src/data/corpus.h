/* Text data: the WordNet glosses (Debian's wordnet-base) as a corpus with lexicographer
 * categories and hash-fixed splits, a byte-level BPE tokenizer learned on the training text, and
 * token sequences per split for language models.
 *
 *     rl_corpus c;
 *     if (rl_corpus_load(cfg, &c) < 0) { rl_error_print(); ... }   // data.text_* keys
 *     rl_bpe tok;
 *     rl_bpe_learn(&c, RL_SPLIT_TRAIN, rl_cfg_int(cfg, "text.vocab_size"), &tok);
 *     rl_token_seqs train;
 *     rl_corpus_tokenize(&c, &tok, RL_SPLIT_TRAIN, &train);  // ids of entry i:
 * start[i]..start[i+1]
 *     ...
 *     rl_token_seqs_free(&train); rl_bpe_free(&tok); rl_corpus_free(&c);
 *
 * Each entry is one synset of /usr/share/wordnet/data.{noun,verb,adj,adv}: its gloss (the text
 * after '|'), its part of speech and its lexicographer category (noun.animal, noun.food, ...).
 * The split of an entry is fixed by CRC-32 of its key ("n 02084071": part of speech and synset
 * offset), so it does not depend on file order, on the seed or on which parts are loaded.
 *
 * The tokenizer's merges are plain int32 pairs (rl_bpe.merges) that a run saves with its
 * results through src/io (src/train/vocab.h) and a fine-tuning run rebuilds with
 * rl_bpe_from_merges.
 *
 * Config keys (declared by rl_corpus_declare_config): data.text_dir, data.text_parts,
 * data.valid_fraction, data.test_fraction, data.categories, text.vocab_size.
 */
#ifndef RANKLAB_DATA_CORPUS_H
#define RANKLAB_DATA_CORPUS_H

#include "src/core/config.h"

#include <stddef.h>
#include <stdint.h>

typedef enum { RL_SPLIT_TRAIN, RL_SPLIT_VALID, RL_SPLIT_TEST } rl_split;

typedef struct {
    uint32_t synset_offset; /* byte offset of the synset (or fortune) in its data file */
    char pos;               /* part of speech of the file: 'n', 'v', 'a' or 'r'; 'f': fortune */
    uint8_t category;       /* lexicographer file number, 0..RL_CORPUS_CATEGORIES-1, or
                               RL_CORPUS_NO_CATEGORY (a fortune) */
    uint8_t split;          /* rl_split */
    size_t text;            /* gloss: rl_corpus.text + text, len bytes (NUL-terminated) */
    uint32_t len;
} rl_corpus_entry;

#define RL_CORPUS_CATEGORIES 45
#define RL_CORPUS_NO_CATEGORY 255

typedef struct {
    int64_t n;
    rl_corpus_entry *entries; /* (n) in file order */
    char *text;               /* every gloss, each followed by a NUL */
    size_t text_bytes;
    size_t entries_cap, text_cap; /* allocated entries and text bytes */
} rl_corpus;

void rl_corpus_declare_config(rl_config *cfg);
/* Load the parts of data.text_parts from data.text_dir, assign splits from data.valid_fraction
 * and data.test_fraction, keep only data.categories (unless "all"). Errors name the file and
 * line (a missing file says which package to install; a malformed line says what is wrong), a
 * category that does not exist, and a split left empty. */
int rl_corpus_load(const rl_config *cfg, rl_corpus *out);
/* Append the entries of one WordNet data file (path) of part of speech `part` (noun, verb, adj,
 * adv) to c, splits assigned by the fractions. */
int rl_corpus_read_wordnet(const char *path, const char *part, double valid_fraction,
                           double test_fraction, rl_corpus *c);
/* Append entry e (its split, key and category; text and len are set here) with the len bytes of
 * text. */
void rl_corpus_append(rl_corpus *c, const rl_corpus_entry *e, const char *text, size_t len);

/* ---- fortunes (Debian's fortunes package), extra pretraining text ----
 * A fortune file holds entries separated by lines holding only "%" (CRLF line ends allowed).
 * Each entry's whitespace runs (spaces, tabs, line ends) become one space and its ends are
 * trimmed, so it is one line as a gloss is; empty entries (consecutive %) are skipped. Its split
 * is fixed by CRC-32 of that text (rl_corpus_split_of_text); pos 'f', no category. */
/* Declare data.text_sources and data.fortunes_dir (lm-pretrain only). */
void rl_corpus_declare_sources_config(rl_config *cfg);
/* Append the entries of one fortune file. Errors: unreadable, not valid UTF-8 (naming the
 * line), no entry at all. */
int rl_corpus_read_fortunes(const char *path, double valid_fraction, double test_fraction,
                            rl_corpus *c);
/* Append every fortune file of dir in name order: regular files only, without the .dat and .u8
 * index files or subdirectories such as off/. A missing directory says to install fortunes. */
int rl_corpus_read_fortunes_dir(const char *dir, double valid_fraction, double test_fraction,
                                rl_corpus *c);
/* The corpus of data.text_sources: WordNet glosses as rl_corpus_load (wordnet), then the
 * fortunes of data.fortunes_dir (fortunes), whatever the order of the list; an empty split is
 * refused. */
int rl_corpus_load_sources(const rl_config *cfg, rl_corpus *out);
/* The split of an entry keyed by its text (as rl_corpus_split_of). */
rl_split rl_corpus_split_of_text(const char *text, size_t len, double valid_fraction,
                                 double test_fraction);

/* Keep only entries whose category is one of names[0..n) ("noun.animal", or "animal" for the
 * noun category of that name); an unknown name is an error listing the valid ones, and so is
 * keeping none. */
int rl_corpus_keep_categories(rl_corpus *c, const char *const *names, int n);
/* Refuse a corpus with an empty split (naming it and what was loaded). */
int rl_corpus_check_splits(const rl_corpus *c);
/* The split of an entry with this key: CRC-32 of "POS OFFSET" (8 digits) scaled to [0, 1):
 * below test_fraction test, below test + valid validation, otherwise train. */
rl_split rl_corpus_split_of(char pos, uint32_t synset_offset, double valid_fraction,
                            double test_fraction);
/* "noun.animal" for category id 0..RL_CORPUS_CATEGORIES-1 (WordNet's lexnames table). */
const char *rl_corpus_category_name(int category);
/* The category id of "noun.animal" (or "animal" for a noun category), -1 if none. */
int rl_corpus_category_id(const char *name);
static inline const char *rl_corpus_gloss(const rl_corpus *c, int64_t i) {
    return c->text + c->entries[i].text;
}
int64_t rl_corpus_count(const rl_corpus *c, rl_split split);
void rl_corpus_free(rl_corpus *c); /* NULL-safe, leaves c zeroed */

/* ---- byte-level BPE ----
 * Ids 0..255 are the bytes, 256 + k is merge k, and vocab_size - 1 is the end-of-entry token
 * (decodes to nothing). Text is split into words before merging (a word starts at a space:
 * "the dog" -> "the", " dog"), so merges never cross a word boundary. Learning merges, one at a
 * time, the pair of adjacent tokens that occurs most often in the training words (weighted by
 * word count); ties go to the pair whose bytes (first token's, then second's) sort first, then to
 * the smaller ids. */
typedef struct {
    int vocab_size; /* 257 + n_merges */
    int n_merges;
    int32_t *merges; /* (n_merges, 2): merge k joins tokens merges[2k], merges[2k+1] */
    uint8_t *bytes;  /* every token's bytes: token t's are bytes[offset[t] .. offset[t + 1]) */
    int64_t *offset; /* (vocab_size): the end-of-entry token has none */
    struct rl_bpe_pair_map *ranks; /* pair -> merge index, for encoding */
} rl_bpe;

#define RL_BPE_MIN_VOCAB 257
#define RL_BPE_MAX_VOCAB 65536
static inline int32_t rl_bpe_eot(const rl_bpe *t) {
    return t->vocab_size - 1;
}

/* Learn up to vocab_size - 257 merges on the glosses of `split` (fewer if no pair is left). */
int rl_bpe_learn(const rl_corpus *c, rl_split split, int vocab_size, rl_bpe *out);
/* Learn on lines[0..n) (each NUL-terminated). */
int rl_bpe_learn_lines(const char *const *lines, int64_t n, int vocab_size, rl_bpe *out);
/* Rebuild a tokenizer from saved merges (n_merges pairs); checks every pair refers to an
 * earlier token. */
int rl_bpe_from_merges(const int32_t *merges, int n_merges, rl_bpe *out);
/* Token ids of the len bytes of s into ids (at most len of them); returns the count. */
int64_t rl_bpe_encode(const rl_bpe *t, const char *s, size_t len, int32_t *ids);
/* Bytes of ids[0..n) into out (out_size, NUL-terminated); returns the byte count, or RL_ERR for
 * an id out of range or an output that does not fit. */
int64_t rl_bpe_decode(const rl_bpe *t, const int32_t *ids, int64_t n, char *out, size_t out_size);
void rl_bpe_free(rl_bpe *t); /* NULL-safe, leaves t zeroed */

/* Token sequences of one split: entry i's ids (its gloss, then the end-of-entry token) are
 * ids[start[i] .. start[i + 1]); category[i] its category, entry[i] its index in the corpus. */
typedef struct {
    int64_t n;
    int64_t *start;    /* (n + 1) */
    int32_t *ids;      /* (start[n]) */
    int32_t *category; /* (n) */
    int64_t *entry;    /* (n) */
} rl_token_seqs;

int rl_corpus_tokenize(const rl_corpus *c, const rl_bpe *t, rl_split split, rl_token_seqs *out);
void rl_token_seqs_free(rl_token_seqs *s); /* NULL-safe, leaves s zeroed */

#endif
