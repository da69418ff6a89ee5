/* Byte-level BPE: learning merges on training text (deterministic: counts, then the pair's
 * bytes), rebuilding a tokenizer from saved merges, encoding and decoding, and the token
 * sequences of a corpus split. */
#include "src/core/digest.h"
#include "src/core/error.h"
#include "src/core/mem.h"
#include "src/data/corpus.h"

#include <stdlib.h>
#include <string.h>

/* ---- an open-addressing map from a token pair to an int64 ---- */

typedef struct rl_bpe_pair_map {
    uint64_t *keys; /* (cap) first << 32 | second, PAIR_EMPTY when free */
    int64_t *values;
    size_t cap, used;
} pair_map;

#define PAIR_EMPTY UINT64_MAX

static uint64_t pair_key(int32_t first, int32_t second) {
    return (uint64_t)(uint32_t)first << 32 | (uint32_t)second;
}

static size_t pair_slot(const pair_map *m, uint64_t key) {
    size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (m->cap - 1);
    while (m->keys[i] != PAIR_EMPTY && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static void pair_map_init(pair_map *m, size_t cap) {
    m->cap = cap;
    m->used = 0;
    m->keys = rl_xmalloc(cap * sizeof *m->keys);
    m->values = rl_xcalloc(cap, sizeof *m->values);
    memset(m->keys, 0xff, cap * sizeof *m->keys);
}

static void pair_map_clear(pair_map *m) {
    if (!m)
        return;
    free(m->keys);
    free(m->values);
    memset(m, 0, sizeof *m);
}

/* The value slot of key, inserted with value 0 if missing (the map grows at half full). */
static int64_t *pair_map_at(pair_map *m, uint64_t key) {
    if (2 * (m->used + 1) > m->cap) {
        pair_map bigger;
        pair_map_init(&bigger, 2 * m->cap);
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i] != PAIR_EMPTY) {
                size_t j = pair_slot(&bigger, m->keys[i]);
                bigger.keys[j] = m->keys[i];
                bigger.values[j] = m->values[i];
            }
        bigger.used = m->used;
        pair_map_clear(m);
        *m = bigger;
    }
    size_t i = pair_slot(m, key);
    if (m->keys[i] == PAIR_EMPTY) {
        m->keys[i] = key;
        m->used++;
    }
    return &m->values[i];
}

static const int64_t *pair_map_find(const pair_map *m, uint64_t key) {
    size_t i = pair_slot(m, key);
    return m->keys[i] == PAIR_EMPTY ? NULL : &m->values[i];
}

/* ---- the tokenizer's tables ---- */

void rl_bpe_free(rl_bpe *t) {
    if (!t)
        return;
    free(t->merges);
    free(t->bytes);
    free(t->offset);
    if (t->ranks) {
        pair_map_clear(t->ranks);
        free(t->ranks);
    }
    memset(t, 0, sizeof *t);
}

int rl_bpe_from_merges(const int32_t *merges, int n_merges, rl_bpe *out) {
    memset(out, 0, sizeof *out);
    if (n_merges < 0 || n_merges > RL_BPE_MAX_VOCAB - RL_BPE_MIN_VOCAB)
        return rl_fail("a BPE tokenizer with %d merges is out of range 0..%d",
                       "the saved tokenizer is damaged; learn it again", n_merges,
                       RL_BPE_MAX_VOCAB - RL_BPE_MIN_VOCAB);
    for (int k = 0; k < n_merges; k++)
        for (int side = 0; side < 2; side++)
            if (merges[2 * k + side] < 0 || merges[2 * k + side] >= 256 + k)
                return rl_fail("BPE merge %d joins token %d, which is not an earlier token",
                               "the saved tokenizer is damaged; learn it again", k,
                               merges[2 * k + side]);
    int tokens = 256 + n_merges;
    out->vocab_size = tokens + 1;
    out->n_merges = n_merges;
    out->merges = rl_xmalloc(sizeof(int32_t) * 2 * (size_t)(n_merges ? n_merges : 1));
    if (n_merges > 0) /* merges may be NULL for a byte-level tokenizer without merges */
        memcpy(out->merges, merges, sizeof(int32_t) * 2 * (size_t)n_merges);
    out->offset = rl_xmalloc(sizeof(int64_t) * (size_t)(tokens + 1));
    out->offset[0] = 0;
    for (int t = 0; t < 256; t++)
        out->offset[t + 1] = t + 1;
    for (int k = 0; k < n_merges; k++) {
        int32_t a = merges[2 * k], b = merges[2 * k + 1];
        out->offset[256 + k + 1] = out->offset[256 + k] + (out->offset[a + 1] - out->offset[a]) +
                                   (out->offset[b + 1] - out->offset[b]);
    }
    out->bytes = rl_xmalloc((size_t)out->offset[tokens]);
    for (int t = 0; t < 256; t++)
        out->bytes[t] = (uint8_t)t;
    for (int k = 0; k < n_merges; k++) {
        int32_t a = merges[2 * k], b = merges[2 * k + 1];
        int64_t len_a = out->offset[a + 1] - out->offset[a];
        uint8_t *dst = out->bytes + out->offset[256 + k];
        memcpy(dst, out->bytes + out->offset[a], (size_t)len_a);
        memcpy(dst + len_a, out->bytes + out->offset[b],
               (size_t)(out->offset[b + 1] - out->offset[b]));
    }
    out->ranks = rl_xmalloc(sizeof *out->ranks);
    pair_map_init(out->ranks, 1024);
    for (int k = 0; k < n_merges; k++)
        *pair_map_at(out->ranks, pair_key(merges[2 * k], merges[2 * k + 1])) = k;
    return RL_OK;
}

/* ---- words: text cut before every space ("the dog" -> "the", " dog") ---- */

static size_t word_length(const char *s, size_t len) {
    size_t n = 1;
    while (n < len && s[n] != ' ')
        n++;
    return n;
}

/* Merge every left-to-right occurrence of (a, b) in ids[0..n) into `merged`; returns the new n. */
static int64_t merge_pair(int32_t *ids, int64_t n, int32_t a, int32_t b, int32_t merged) {
    int64_t out = 0;
    for (int64_t i = 0; i < n; i++) {
        if (i + 1 < n && ids[i] == a && ids[i + 1] == b) {
            ids[out++] = merged;
            i++;
        } else {
            ids[out++] = ids[i];
        }
    }
    return out;
}

/* Encode one word: merge the lowest-ranked adjacent pair until none is a merge. */
static int64_t encode_word(const rl_bpe *t, const char *w, size_t len, int32_t *ids) {
    int64_t n = (int64_t)len;
    for (int64_t i = 0; i < n; i++)
        ids[i] = (uint8_t)w[i];
    while (n > 1) {
        int64_t best = -1;
        for (int64_t i = 0; i + 1 < n; i++) {
            const int64_t *rank = pair_map_find(t->ranks, pair_key(ids[i], ids[i + 1]));
            if (rank && (best < 0 || *rank < best))
                best = *rank;
        }
        if (best < 0)
            break;
        n = merge_pair(ids, n, t->merges[2 * best], t->merges[2 * best + 1], 256 + (int32_t)best);
    }
    return n;
}

int64_t rl_bpe_encode(const rl_bpe *t, const char *s, size_t len, int32_t *ids) {
    int64_t n = 0;
    for (size_t at = 0; at < len;) {
        size_t w = word_length(s + at, len - at);
        n += encode_word(t, s + at, w, ids + n);
        at += w;
    }
    return n;
}

int64_t rl_bpe_decode(const rl_bpe *t, const int32_t *ids, int64_t n, char *out, size_t out_size) {
    size_t len = 0;
    for (int64_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->vocab_size)
            return rl_fail("token id %d at position %lld is outside the vocabulary (0..%d)",
                           "decode ids made by this tokenizer", ids[i], (long long)i,
                           t->vocab_size - 1);
        if (ids[i] == rl_bpe_eot(t))
            continue;
        size_t bytes = (size_t)(t->offset[ids[i] + 1] - t->offset[ids[i]]);
        if (len + bytes + 1 > out_size)
            return rl_fail("decoding %lld tokens needs more than %zu bytes",
                           "pass a larger output buffer", (long long)n, out_size);
        memcpy(out + len, t->bytes + t->offset[ids[i]], bytes);
        len += bytes;
    }
    if (out_size > 0)
        out[len] = '\0';
    return (int64_t)len;
}

/* ---- learning ---- */

typedef struct {
    int32_t *ids; /* every distinct word's tokens, word w's at ids[start[w] .. start[w] + len[w]) */
    int64_t *start, *len, *count;
    int64_t n;
} word_table;

/* The distinct words of lines with their counts (hash table keyed by the bytes). */
static void collect_words(const char *const *lines, int64_t n_lines, word_table *words) {
    size_t cap = 1 << 16, used = 0;
    const char **word = rl_xcalloc(cap, sizeof *word);
    size_t *word_len = rl_xcalloc(cap, sizeof *word_len);
    int64_t *count = rl_xcalloc(cap, sizeof *count);
    int64_t total_bytes = 0;
    for (int64_t l = 0; l < n_lines; l++) {
        size_t len = strlen(lines[l]);
        for (size_t at = 0; at < len;) {
            const char *w = lines[l] + at;
            size_t wl = word_length(w, len - at);
            at += wl;
            if (2 * (used + 1) > cap) {
                size_t new_cap = 2 * cap;
                const char **nw = rl_xcalloc(new_cap, sizeof *nw);
                size_t *nl = rl_xcalloc(new_cap, sizeof *nl);
                int64_t *nc = rl_xcalloc(new_cap, sizeof *nc);
                for (size_t i = 0; i < cap; i++) {
                    if (!word[i])
                        continue;
                    size_t j = rl_crc32(0, word[i], word_len[i]) & (new_cap - 1);
                    while (nw[j])
                        j = (j + 1) & (new_cap - 1);
                    nw[j] = word[i], nl[j] = word_len[i], nc[j] = count[i];
                }
                free(word), free(word_len), free(count);
                word = nw, word_len = nl, count = nc, cap = new_cap;
            }
            size_t i = rl_crc32(0, w, wl) & (cap - 1);
            while (word[i] && (word_len[i] != wl || memcmp(word[i], w, wl) != 0))
                i = (i + 1) & (cap - 1);
            if (!word[i]) {
                word[i] = w, word_len[i] = wl, used++;
                total_bytes += (int64_t)wl;
            }
            count[i]++;
        }
    }
    words->n = (int64_t)used;
    words->ids = rl_xmalloc(sizeof(int32_t) * (size_t)(total_bytes ? total_bytes : 1));
    words->start = rl_xmalloc(sizeof(int64_t) * (used ? used : 1));
    words->len = rl_xmalloc(sizeof(int64_t) * (used ? used : 1));
    words->count = rl_xmalloc(sizeof(int64_t) * (used ? used : 1));
    /* Table order: a function of the words alone, so the learned merges are too. */
    int64_t w = 0, at = 0;
    for (size_t i = 0; i < cap; i++) {
        if (!word[i])
            continue;
        words->start[w] = at;
        words->len[w] = (int64_t)word_len[i];
        words->count[w] = count[i];
        for (size_t b = 0; b < word_len[i]; b++)
            words->ids[at++] = (uint8_t)word[i][b];
        w++;
    }
    free(word), free(word_len), free(count);
}

/* Add sign · count for every adjacent pair of word w. */
static void count_pairs(pair_map *counts, const word_table *words, int64_t w, int64_t sign) {
    const int32_t *ids = words->ids + words->start[w];
    for (int64_t i = 0; i + 1 < words->len[w]; i++)
        *pair_map_at(counts, pair_key(ids[i], ids[i + 1])) += sign * words->count[w];
}

/* Whether pair x sorts before pair y: first token's bytes, then second's, then ids. */
static int pair_before(const int32_t *token_len, uint8_t *const *token, uint64_t x, uint64_t y) {
    int32_t xs[2] = {(int32_t)(x >> 32), (int32_t)(uint32_t)x};
    int32_t ys[2] = {(int32_t)(y >> 32), (int32_t)(uint32_t)y};
    for (int side = 0; side < 2; side++) {
        int32_t lx = token_len[xs[side]], ly = token_len[ys[side]];
        int c = memcmp(token[xs[side]], token[ys[side]], (size_t)(lx < ly ? lx : ly));
        if (c != 0 || lx != ly)
            return c != 0 ? c < 0 : lx < ly;
    }
    return x < y;
}

int rl_bpe_learn_lines(const char *const *lines, int64_t n, int vocab_size, rl_bpe *out) {
    memset(out, 0, sizeof *out);
    if (vocab_size < RL_BPE_MIN_VOCAB || vocab_size > RL_BPE_MAX_VOCAB)
        return rl_fail("text.vocab_size=%d is outside %d..%d",
                       "the vocabulary holds the 256 bytes, the merges and an end-of-entry token",
                       vocab_size, RL_BPE_MIN_VOCAB, RL_BPE_MAX_VOCAB);
    int max_merges = vocab_size - RL_BPE_MIN_VOCAB;
    word_table words;
    collect_words(lines, n, &words);
    pair_map counts;
    pair_map_init(&counts, 1 << 16);
    for (int64_t w = 0; w < words.n; w++)
        count_pairs(&counts, &words, w, 1);
    /* Each token's bytes, to break ties: bytes 0..255, then each merge's. */
    int32_t *token_len = rl_xmalloc(sizeof(int32_t) * (size_t)(256 + max_merges));
    uint8_t **token = rl_xmalloc(sizeof(uint8_t *) * (size_t)(256 + max_merges));
    int32_t *merges = rl_xmalloc(sizeof(int32_t) * 2 * (size_t)(max_merges ? max_merges : 1));
    for (int t = 0; t < 256; t++) {
        token_len[t] = 1;
        token[t] = rl_xmalloc(1);
        token[t][0] = (uint8_t)t;
    }
    int n_merges = 0;
    while (n_merges < max_merges) {
        uint64_t best = PAIR_EMPTY;
        int64_t best_count = 0;
        for (size_t i = 0; i < counts.cap; i++) {
            int64_t c = counts.values[i];
            if (counts.keys[i] == PAIR_EMPTY || c <= 0 || c < best_count)
                continue;
            if (c > best_count || pair_before(token_len, token, counts.keys[i], best))
                best = counts.keys[i], best_count = c;
        }
        if (best == PAIR_EMPTY)
            break;
        int32_t a = (int32_t)(best >> 32), b = (int32_t)(uint32_t)best, merged = 256 + n_merges;
        merges[2 * n_merges] = a;
        merges[2 * n_merges + 1] = b;
        token_len[merged] = token_len[a] + token_len[b];
        token[merged] = rl_xmalloc((size_t)token_len[merged]);
        memcpy(token[merged], token[a], (size_t)token_len[a]);
        memcpy(token[merged] + token_len[a], token[b], (size_t)token_len[b]);
        for (int64_t w = 0; w < words.n; w++) {
            int32_t *ids = words.ids + words.start[w];
            int has = 0;
            for (int64_t i = 0; i + 1 < words.len[w] && !has; i++)
                has = ids[i] == a && ids[i + 1] == b;
            if (!has)
                continue;
            count_pairs(&counts, &words, w, -1);
            words.len[w] = merge_pair(ids, words.len[w], a, b, merged);
            count_pairs(&counts, &words, w, 1);
        }
        n_merges++;
    }
    for (int t = 0; t < 256 + n_merges; t++)
        free(token[t]);
    free(token);
    free(token_len);
    pair_map_clear(&counts);
    free(words.ids), free(words.start), free(words.len), free(words.count);
    int rc = rl_bpe_from_merges(merges, n_merges, out);
    free(merges);
    return rc;
}

int rl_bpe_learn(const rl_corpus *c, rl_split split, int vocab_size, rl_bpe *out) {
    int64_t n = rl_corpus_count(c, split);
    const char **lines = rl_xmalloc(sizeof(char *) * (size_t)(n ? n : 1));
    int64_t k = 0;
    for (int64_t i = 0; i < c->n; i++)
        if (c->entries[i].split == split)
            lines[k++] = rl_corpus_gloss(c, i);
    int rc = rl_bpe_learn_lines(lines, n, vocab_size, out);
    free(lines);
    return rc;
}

/* ---- token sequences of a split ---- */

void rl_token_seqs_free(rl_token_seqs *s) {
    if (!s)
        return;
    free(s->start);
    free(s->ids);
    free(s->category);
    free(s->entry);
    memset(s, 0, sizeof *s);
}

int rl_corpus_tokenize(const rl_corpus *c, const rl_bpe *t, rl_split split, rl_token_seqs *out) {
    memset(out, 0, sizeof *out);
    int64_t n = rl_corpus_count(c, split), bytes = 0;
    for (int64_t i = 0; i < c->n; i++)
        if (c->entries[i].split == split)
            bytes += c->entries[i].len + 1; /* at most one token per byte, and the end token */
    if (rl_mem_check((uint64_t)bytes * sizeof(int32_t), "token ids of %lld glosses", (long long)n) <
        0)
        return RL_ERR;
    out->start = rl_xmalloc(sizeof(int64_t) * (size_t)(n + 1));
    out->ids = rl_xmalloc(sizeof(int32_t) * (size_t)(bytes ? bytes : 1));
    out->category = rl_xmalloc(sizeof(int32_t) * (size_t)(n ? n : 1));
    out->entry = rl_xmalloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    int64_t k = 0, at = 0;
    for (int64_t i = 0; i < c->n; i++) {
        const rl_corpus_entry *e = &c->entries[i];
        if (e->split != split)
            continue;
        out->start[k] = at;
        at += rl_bpe_encode(t, rl_corpus_gloss(c, i), e->len, out->ids + at);
        out->ids[at++] = rl_bpe_eot(t);
        out->category[k] = e->category;
        out->entry[k] = i;
        k++;
    }
    out->start[n] = at;
    out->n = n;
    return RL_OK;
}
