/* Unit tests of src/train/prompt: the label-word scores of padded chunks against a direct
 * computation (each sequence alone, log-softmax by its definition), the loss and accuracy from
 * those scores, the gradient against central differences, and the refused tasks. */
#include "src/core/error.h"
#include "src/nn/transformer.h"
#include "src/train/prompt.h"
#include "tests/unit/harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CONTEXT 24

/* A byte tokenizer (no merges: vocabulary 257), labels " cat", " dogs", " ox". */
static void make_task(rl_bpe *tok, prompt_task *p, int max_text) {
    CU_ASSERT_FATAL(rl_bpe_from_merges(NULL, 0, tok) == RL_OK);
    const char *labels[] = {"cat", "dogs", "ox"};
    CU_ASSERT_FATAL(prompt_task_init(p, tok, "is a", labels, 3, CONTEXT, max_text) == RL_OK);
}

/* Three examples of 3, 7 and 12 text tokens (12 is cut to max_text = 9). */
static void make_set(const prompt_task *p, prompt_set *s) {
    static const int lens[3] = {3, 7, 12};
    prompt_set_init(s, p, 3);
    for (int i = 0; i < 3; i++) {
        int32_t ids[12];
        for (int j = 0; j < lens[i]; j++)
            ids[j] = 97 + (i * 5 + j * 3) % 26;
        prompt_set_put(s, i, ids, lens[i], (i + 1) % 3);
    }
}

/* log p(token | row's logits), by the definition, in double. */
static double log_prob(const float *row, int vocab, int32_t token) {
    double sum = 0.0;
    for (int v = 0; v < vocab; v++)
        sum += exp((double)row[v]);
    return (double)row[token] - log(sum);
}

static void test_scores_against_direct(void) {
    rl_bpe tok;
    prompt_task p;
    prompt_set s;
    make_task(&tok, &p, 9);
    CU_ASSERT_EQUAL(p.template_len, 5); // " is a"
    CU_ASSERT_EQUAL(p.max_text, 9);
    CU_ASSERT_EQUAL(p.max_len, 9 + 5 + 5);
    make_set(&p, &s);
    CU_ASSERT_EQUAL(s.len[2], 9);
    rl_transformer m;
    CU_ASSERT_FATAL(rl_transformer_init(&m, "gpt:L1-D8-H2-T24", tok.vocab_size) == RL_OK);
    rl_transformer_init_params(&m, 5);
    rl_transformer_ws ws;
    CU_ASSERT_FATAL(rl_transformer_ws_init(&ws, &m, 9, RL_TF_FORWARD_ONLY) == RL_OK);
    int64_t idx[3] = {2, 0, 1};
    int32_t seqs[9 * 19];
    int len = prompt_fill(&p, &s, idx, 3, seqs);
    CU_ASSERT_EQUAL(len, 9 + 5 + 5); // example 2 with " dogs"
    const float *logits = rl_transformer_forward(&m, &ws, seqs, 9, len);
    float *kept = malloc(sizeof(float) * 9 * (size_t)len * (size_t)m.vocab);
    memcpy(kept, logits, sizeof(float) * 9 * (size_t)len * (size_t)m.vocab);
    double scores[9];
    int64_t correct = 0;
    double loss = prompt_loss(&p, &s, idx, 3, len, kept, m.vocab, 0.0f, NULL, scores, &correct);
    // the forward of the rows the loss reads: the same scores and loss, bit for bit
    int first[9], last[9];
    prompt_rows(&p, &s, idx, 3, first, last);
    CU_ASSERT(first[0] == 9 + 5 - 1 && last[0] == first[0] + 4 - 1); // " cat" after example 2
    CU_ASSERT_EQUAL(rl_test_rows_differ(&m, &ws, seqs, 9, len, first, last), 0);
    double row_scores[9];
    int64_t row_correct = 0;
    double row_loss = prompt_loss(&p, &s, idx, 3, len,
                                  rl_transformer_forward_rows(&m, &ws, seqs, 9, len, first, last),
                                  m.vocab, 0.0f, NULL, row_scores, &row_correct);
    CU_ASSERT(row_loss == loss && row_correct == correct);
    CU_ASSERT(memcmp(row_scores, scores, sizeof scores) == 0);

    double want_loss = 0.0;
    int64_t want_correct = 0;
    for (int i = 0; i < 3; i++) {
        double want[3];
        int best = 0;
        for (int c = 0; c < 3; c++) { // the sequence alone: text, " is a", the label
            int32_t one[CONTEXT];
            int n = 0;
            for (int j = 0; j < s.len[idx[i]]; j++)
                one[n++] = s.text[idx[i] * s.max_text + j];
            const char *spaced[] = {" is a", " cat", " dogs", " ox"};
            for (const char *ch = spaced[0]; *ch; ch++)
                one[n++] = (unsigned char)*ch;
            int first = n;
            for (const char *ch = spaced[1 + c]; *ch; ch++)
                one[n++] = (unsigned char)*ch;
            const float *alone = rl_transformer_forward(&m, &ws, one, 1, n);
            want[c] = 0.0;
            for (int j = first; j < n; j++)
                want[c] += log_prob(alone + (size_t)(j - 1) * m.vocab, m.vocab, one[j]);
            CU_ASSERT(fabs(scores[i * 3 + c] - want[c]) < 1e-4);
            best = want[c] > want[best] ? c : best;
        }
        int y = s.label[idx[i]];
        want_loss += log(exp(want[0]) + exp(want[1]) + exp(want[2])) - want[y];
        want_correct += best == y;
    }
    CU_ASSERT(fabs(loss - want_loss) < 1e-4);
    CU_ASSERT(loss > 0.0);
    CU_ASSERT_EQUAL(correct, want_correct);
    free(kept);
    rl_transformer_ws_free(&ws);
    rl_transformer_free(&m);
    prompt_set_free(&s);
    prompt_task_free(&p);
    rl_bpe_free(&tok);
}

typedef struct {
    const prompt_task *p;
    const prompt_set *s;
    const int64_t *idx;
    int len, vocab;
    const float *logits;
} loss_ctx;

static double loss_of_logits(void *ctx) {
    const loss_ctx *l = ctx;
    return prompt_loss(l->p, l->s, l->idx, 3, l->len, l->logits, l->vocab, 0.0f, NULL, NULL, NULL);
}

/* d loss / d logits against central differences, on every logit of the three examples'
 * sequences (zero off the label positions). */
static void test_gradient(void) {
    rl_bpe tok;
    prompt_task p;
    prompt_set s;
    make_task(&tok, &p, 9);
    make_set(&p, &s);
    int64_t idx[3] = {0, 1, 2};
    int32_t seqs[9 * 19];
    int len = prompt_fill(&p, &s, idx, 3, seqs), vocab = tok.vocab_size;
    size_t n = 9 * (size_t)len * (size_t)vocab;
    float *logits = malloc(sizeof(float) * n), *d = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++)
        logits[i] = (float)sin(0.37 * (double)i) * 2.0f;
    prompt_loss(&p, &s, idx, 3, len, logits, vocab, 1.0f, d, NULL, NULL);
    loss_ctx ctx = {&p, &s, idx, len, vocab, logits};
    double largest = rl_test_check_grads(logits, d, n, loss_of_logits, &ctx, 1e-2f);
    CU_ASSERT(largest > 1e-2);
    CU_ASSERT_EQUAL(d[0], 0.0f); // text positions get no gradient
    free(logits);
    free(d);
    prompt_set_free(&s);
    prompt_task_free(&p);
    rl_bpe_free(&tok);
}

static void test_refusals(void) {
    rl_bpe tok;
    prompt_task p;
    CU_ASSERT_FATAL(rl_bpe_from_merges(NULL, 0, &tok) == RL_OK);
    const char *same[] = {"cat", "cat"}, *one[] = {"cat"}, *two[] = {"cat", "dog"};
    CU_ASSERT(prompt_task_init(&p, &tok, "is a", same, 2, CONTEXT, 8) == RL_ERR);
    CU_ASSERT(strstr(rl_error_message(), "same tokens") != NULL);
    CU_ASSERT(rl_error_hint() != NULL);
    CU_ASSERT(prompt_task_init(&p, &tok, "is a", one, 1, CONTEXT, 8) == RL_ERR);
    CU_ASSERT(prompt_task_init(&p, &tok, "is a", two, 2, 9, 8) == RL_ERR); // 5 + 4 leave none
    CU_ASSERT(strstr(rl_error_message(), "no room") != NULL);
    CU_ASSERT_FATAL(prompt_task_init(&p, &tok, "is a", two, 2, 12, 8) == RL_OK);
    CU_ASSERT_EQUAL(p.max_text, 3); // what the context leaves
    prompt_task_free(&p);
    rl_bpe_free(&tok);
}

static const rl_test tests[] = {
    {"label-word scores equal each sequence's log-likelihood alone", test_scores_against_direct},
    {"gradient of the loss against central differences", test_gradient},
    {"tasks refused: equal labels, one class, no room", test_refusals},
    {NULL, NULL},
};
RL_TEST_SUITE("prompt", tests)
