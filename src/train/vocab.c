/* Saving a run's BPE merge table with its results and rebuilding the tokenizer from it. */
#include "src/train/vocab.h"

#include "src/core/error.h"

#include <stdio.h>
#include <stdlib.h>

#define VOCAB_ARRAY "tokenizer_merges"
#define VOCAB_ATTR "tokenizer"
#define VOCAB_WHAT 96

/* The merge table as floats (n_merges, 2) (*n of them, caller frees) and its description. */
static float *merge_pairs(const rl_bpe *t, size_t *n, char what[VOCAB_WHAT]) {
    *n = 2 * (size_t)t->n_merges;
    float *pairs = rl_xmalloc(sizeof(float) * (*n ? *n : 1)); // (n_merges, 2)
    for (size_t i = 0; i < *n; i++)
        pairs[i] = (float)t->merges[i];
    snprintf(what, VOCAB_WHAT, "byte-level BPE: %d merges, vocabulary %d", t->n_merges,
             t->vocab_size);
    return pairs;
}

int vocab_save(io_results *r, const rl_bpe *t) {
    size_t n;
    char what[VOCAB_WHAT];
    float *pairs = merge_pairs(t, &n, what);
    int rc = io_results_write_array_f32(r, VOCAB_ARRAY, pairs, n, VOCAB_ATTR, what);
    free(pairs);
    return rc;
}

int vocab_final(rl_run *run, const rl_bpe *t) {
    size_t n;
    char what[VOCAB_WHAT];
    float *pairs = merge_pairs(t, &n, what);
    int rc = rl_run_final_array(run, VOCAB_ARRAY, pairs, (int64_t)n, VOCAB_ATTR, what);
    free(pairs);
    return rc;
}

int vocab_load(const char *results_path, rl_bpe *out) {
    float *pairs = NULL;
    size_t n = 0;
    char what[VOCAB_WHAT];
    if (io_results_read_array_f32(results_path, VOCAB_ARRAY, &pairs, &n, VOCAB_ATTR, what,
                                  sizeof what) < 0)
        return rl_fail_hint("point at the results.h5 of a run that learned a tokenizer");
    int rc = n % 2 == 0 ? RL_OK
                        : rl_fail("%s: /arrays/" VOCAB_ARRAY " has %zu ids, not pairs",
                                  "the file may be damaged", results_path, n);
    int32_t *merges = rl_xmalloc(sizeof(int32_t) * (n ? n : 1));
    for (size_t i = 0; rc == RL_OK && i < n; i++) {
        merges[i] = (int32_t)pairs[i];
        if ((float)merges[i] != pairs[i])
            rc = rl_fail("%s: /arrays/" VOCAB_ARRAY " holds %g, not a token id",
                         "the file may be damaged", results_path, (double)pairs[i]);
    }
    int n_merges = n / 2 > RL_BPE_MAX_VOCAB ? RL_BPE_MAX_VOCAB : (int)(n / 2); /* refused */
    if (rc == RL_OK && rl_bpe_from_merges(merges, n_merges, out) < 0)
        rc = rl_fail_context("%s", results_path);
    free(merges);
    free(pairs);
    return rc;
}
