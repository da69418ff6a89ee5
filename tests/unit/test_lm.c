/* Unit tests of src/train/lm: windows of a token stream, the unigram baseline on a hand example,
 * the chunked gradient and evaluation against one forward of the whole set, and continuations
 * (greedy, sampled from the counter RNG, stopping at the end-of-entry token). */
#include "src/core/error.h"
#include "src/core/rng.h"
#include "src/nn/nn.h"
#include "src/train/lm.h"
#include "tests/unit/harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define VOCAB 11
#define TOKENS 61

static int32_t stream[TOKENS];
static int64_t starts[2] = {0, TOKENS};

static rl_token_seqs one_sequence(void) {
    for (int i = 0; i < TOKENS; i++)
        stream[i] = (int32_t)((i * i + 3 * i) % VOCAB);
    return (rl_token_seqs){.n = 1, .start = starts, .ids = stream};
}

static void test_windows_and_unigram(void) {
    rl_token_seqs s = one_sequence();
    lm_windows w;
    CU_ASSERT_FATAL(lm_windows_of(&s, 8, "training", &w) == RL_OK);
    CU_ASSERT_EQUAL(w.n, 7); // (61 − 1) / 8
    CU_ASSERT_EQUAL(w.len, 8);
    rl_token_seqs short_seq = {.n = 1, .start = (int64_t[]){0, 8}, .ids = stream};
    CU_ASSERT(lm_windows_of(&short_seq, 8, "validation", &w) == RL_ERR);
    CU_ASSERT(strstr(rl_error_message(), "validation split has 8 tokens") != NULL);
    CU_ASSERT(rl_error_hint() != NULL);

    lm_windows train = {.stream = stream, .n = 7, .len = 8},
               valid = {.stream = stream, .n = 2, .len = 8};
    int64_t counts[VOCAB] = {0};
    for (int i = 1; i <= 56; i++)
        counts[stream[i]]++;
    double want = 0.0;
    for (int i = 1; i <= 16; i++)
        want -= log((counts[stream[i]] + 1.0) / (56.0 + VOCAB));
    CU_ASSERT(fabs(lm_unigram_loss(&train, &valid, 0, VOCAB) - want / 16.0) < 1e-12);
    CU_ASSERT(fabs(lm_unigram_loss(&train, &valid, 1, VOCAB) -
                   lm_unigram_loss(&train, &(lm_windows){stream, 1, 8}, 0, VOCAB)) < 1e-15);
}

/* The gradient summed over chunks of 2 windows equals (to rounding) the gradient of one chunk
 * holding all of them; the mean evaluation loss is their mean token loss. */
static void test_chunk_sums(void) {
    rl_token_seqs s = one_sequence();
    lm_windows w;
    CU_ASSERT_FATAL(lm_windows_of(&s, 8, "training", &w) == RL_OK);
    rl_transformer m;
    CU_ASSERT_FATAL(rl_transformer_init(&m, "gpt:L1-D8-H2-T8", VOCAB) == RL_OK);
    rl_transformer_init_params(&m, 3);
    lm_chunks small, whole;
    CU_ASSERT_FATAL(lm_chunks_init(&small, &m, 2) == RL_OK);
    CU_ASSERT_FATAL(lm_chunks_init(&whole, &m, 7) == RL_OK);
    int64_t idx[7] = {6, 0, 3, 1, 5, 2, 4};
    float scale = 1.0f / 56.0f;
    comm_exact a, b;
    comm_exact_init(&a, m.n_params + 1);
    comm_exact_init(&b, m.n_params + 1);
    lm_gradient(&small, &w, idx, 7, scale, &a);
    lm_gradient(&whole, &w, idx, 7, scale, &b);
    CU_ASSERT_FATAL(comm_exact_reduce(&a) == 0 && comm_exact_reduce(&b) == 0);
    float *ga = malloc(sizeof(float) * m.n_params), *gb = malloc(sizeof(float) * m.n_params);
    comm_exact_read(&a, 0, ga, m.n_params, RL_FIXED_FRAC_BITS);
    comm_exact_read(&b, 0, gb, m.n_params, RL_FIXED_FRAC_BITS);
    double largest = 0.0, worst = 0.0;
    for (size_t i = 0; i < m.n_params; i++) {
        largest = fmax(largest, fabs(gb[i]));
        worst = fmax(worst, fabs(ga[i] - gb[i]));
    }
    CU_ASSERT(largest > 1e-3);
    CU_ASSERT(worst < 1e-5 * largest + 1e-9);
    double loss_sum = comm_exact_value(&b, m.n_params, RL_FIXED_SUM_FRAC_BITS);
    CU_ASSERT(fabs(comm_exact_value(&a, m.n_params, RL_FIXED_SUM_FRAC_BITS) - loss_sum) <
              1e-4 * loss_sum);
    CU_ASSERT(fabs(loss_sum / 56.0 - log((double)VOCAB)) < 0.1); // near-uniform at the start
    double mean;
    CU_ASSERT(lm_evaluate(&small, &w, 0, &mean) == 0);
    CU_ASSERT(fabs(mean - loss_sum / 56.0) < 1e-5);
    free(ga);
    free(gb);
    comm_exact_free(&a);
    comm_exact_free(&b);
    lm_chunks_free(&small);
    lm_chunks_free(&whole);
    rl_transformer_free(&m);
}

static void test_generate(void) {
    rl_transformer m;
    CU_ASSERT_FATAL(rl_transformer_init(&m, "gpt:L1-D8-H2-T4", VOCAB) == RL_OK);
    rl_transformer_init_params(&m, 9);
    rl_transformer_ws ws;
    CU_ASSERT_FATAL(rl_transformer_ws_init(&ws, &m, 1, RL_TF_FORWARD_ONLY) == RL_OK);
    int32_t prompt[2] = {3, 4}, a[12], b[12], c[12];
    rl_rng rng = rl_rng_make(1, RL_RNG_TEXT_SAMPLE);
    // greedy: the argmax of the last position's logits, the window sliding past T = 4
    CU_ASSERT_EQUAL(lm_generate(&m, &ws, prompt, 2, 10, -1, 0.0, rng, 0, a), 12);
    CU_ASSERT(a[0] == 3 && a[1] == 4);
    const float *logits = rl_transformer_forward(&m, &ws, a + 1, 1, 4);
    int32_t best = 0;
    for (int32_t t = 1; t < VOCAB; t++)
        best = logits[3 * VOCAB + t] > logits[3 * VOCAB + best] ? t : best;
    CU_ASSERT_EQUAL(a[5], best);
    // sampled: the same draws give the same text, another sample index another one
    CU_ASSERT_EQUAL(lm_generate(&m, &ws, prompt, 2, 10, -1, 5.0, rng, 0, b), 12);
    CU_ASSERT_EQUAL(lm_generate(&m, &ws, prompt, 2, 10, -1, 5.0, rng, 0, c), 12);
    CU_ASSERT(memcmp(b, c, sizeof b) == 0);
    CU_ASSERT_EQUAL(lm_generate(&m, &ws, prompt, 2, 10, -1, 5.0, rng, 1, c), 12);
    CU_ASSERT(memcmp(b, c, sizeof b) != 0);
    // stops right after the stop token: greedy's fifth token as the stop
    int first = 2;
    while (a[first] != a[4])
        first++;
    CU_ASSERT_EQUAL(lm_generate(&m, &ws, prompt, 2, 10, a[4], 0.0, rng, 0, c), first + 1);
    CU_ASSERT(memcmp(a, c, sizeof(int32_t) * (size_t)(first + 1)) == 0);
    rl_transformer_ws_free(&ws);
    rl_transformer_free(&m);
}

static const rl_test tests[] = {
    {"windows of a stream, the unigram baseline", test_windows_and_unigram},
    {"chunked gradient and evaluation equal one chunk", test_chunk_sums},
    {"continuations: greedy, sampled, stopping", test_generate},
    {NULL, NULL},
};
RL_TEST_SUITE("lm", tests)
