/* Prompt classification with a causal language model: label-word scores, loss and its gradient
 * (see prompt.h). */
#include "src/train/prompt.h"

#include "src/core/error.h"
#include "src/nn/nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The tokens of " " + text into a new array (*n of them). */
static int32_t *encode_word(const rl_bpe *tok, const char *text, int *n) {
    size_t len = strlen(text) + 1;
    char *spaced = rl_xmalloc(len + 1);
    snprintf(spaced, len + 1, " %s", text);
    int32_t *ids = rl_xmalloc(sizeof(int32_t) * len);
    *n = (int)rl_bpe_encode(tok, spaced, len, ids);
    free(spaced);
    return ids;
}

static int label_len(const prompt_task *p, int c) {
    return p->label_start[c + 1] - p->label_start[c];
}

int prompt_task_init(prompt_task *p, const rl_bpe *tok, const char *template_text,
                     const char *const *labels, int n_classes, int context, int max_text) {
    memset(p, 0, sizeof *p);
    if (n_classes < 2 || n_classes > PROMPT_MAX_CLASSES)
        return rl_fail("the prompt task has %d class(es); it takes 2 to %d",
                       "name between 2 and 16 categories (data.categories)", n_classes,
                       PROMPT_MAX_CLASSES);
    p->n_classes = n_classes;
    p->template_ids = encode_word(tok, template_text, &p->template_len);
    int total = 0, longest = 0;
    int32_t *ids[PROMPT_MAX_CLASSES], n[PROMPT_MAX_CLASSES];
    for (int c = 0; c < n_classes; c++) {
        ids[c] = encode_word(tok, labels[c], &n[c]);
        total += n[c];
        longest = n[c] > longest ? n[c] : longest;
    }
    p->label_ids = rl_xmalloc(sizeof(int32_t) * (size_t)total);
    for (int c = 0; c < n_classes; c++) {
        p->label_start[c + 1] = p->label_start[c] + n[c];
        memcpy(p->label_ids + p->label_start[c], ids[c], sizeof(int32_t) * (size_t)n[c]);
        free(ids[c]);
    }
    int rc = RL_OK;
    for (int a = 0; a < n_classes && rc == RL_OK; a++)
        for (int b = a + 1; b < n_classes && rc == RL_OK; b++)
            if (label_len(p, a) == label_len(p, b) &&
                !memcmp(p->label_ids + p->label_start[a], p->label_ids + p->label_start[b],
                        sizeof(int32_t) * (size_t)label_len(p, a)))
                rc = rl_fail("label words '%s' and '%s' have the same tokens",
                             "give every class its own label word (ft.labels)", labels[a],
                             labels[b]);
    int room = context - p->template_len - longest;
    p->max_text = max_text < room ? max_text : room;
    p->max_len = p->max_text + p->template_len + longest;
    if (rc == RL_OK && p->max_text < 1)
        rc = rl_fail("a context of %d tokens leaves no room for text after the template (%d "
                     "tokens) and the longest label word (%d)",
                     "use a shorter ft.template or label words, or a model of longer context",
                     context, p->template_len, longest);
    if (rc < 0)
        prompt_task_free(p);
    return rc;
}

void prompt_task_free(prompt_task *p) {
    if (!p)
        return;
    free(p->template_ids);
    free(p->label_ids);
    memset(p, 0, sizeof *p);
}

void prompt_set_init(prompt_set *s, const prompt_task *p, int64_t n) {
    s->n = n;
    s->max_text = p->max_text;
    s->text = rl_xcalloc((size_t)(n ? n : 1) * (size_t)p->max_text, sizeof(int32_t));
    s->len = rl_xcalloc((size_t)(n ? n : 1), sizeof(int32_t));
    s->label = rl_xcalloc((size_t)(n ? n : 1), sizeof(int32_t));
}

void prompt_set_put(prompt_set *s, int64_t i, const int32_t *ids, int64_t len, int label) {
    int kept = len < s->max_text ? (int)len : s->max_text;
    memcpy(s->text + (size_t)i * (size_t)s->max_text, ids, sizeof(int32_t) * (size_t)kept);
    s->len[i] = kept;
    s->label[i] = label;
}

void prompt_set_free(prompt_set *s) {
    if (!s)
        return;
    free(s->text);
    free(s->len);
    free(s->label);
    memset(s, 0, sizeof *s);
}

int prompt_fill(const prompt_task *p, const prompt_set *s, const int64_t *idx, int m,
                int32_t *seqs) {
    const int C = p->n_classes;
    int len = 0;
    for (int i = 0; i < m; i++)
        for (int c = 0; c < C; c++) {
            int n = s->len[idx[i]] + p->template_len + label_len(p, c);
            len = n > len ? n : len;
        }
    for (int i = 0; i < m; i++) {
        const int32_t *text = s->text + (size_t)idx[i] * (size_t)s->max_text;
        int t = s->len[idx[i]];
        for (int c = 0; c < C; c++) {
            int32_t *row = seqs + ((size_t)i * C + c) * (size_t)len;
            memset(row, 0, sizeof(int32_t) * (size_t)len);
            memcpy(row, text, sizeof(int32_t) * (size_t)t);
            memcpy(row + t, p->template_ids, sizeof(int32_t) * (size_t)p->template_len);
            memcpy(row + t + p->template_len, p->label_ids + p->label_start[c],
                   sizeof(int32_t) * (size_t)label_len(p, c));
        }
    }
    return len;
}

void prompt_rows(const prompt_task *p, const prompt_set *s, const int64_t *idx, int m, int *first,
                 int *last) {
    const int C = p->n_classes;
    for (int i = 0; i < m; i++)
        for (int c = 0; c < C; c++) {
            int r = i * C + c;
            first[r] = s->len[idx[i]] + p->template_len - 1;
            last[r] = first[r] + label_len(p, c) - 1;
        }
}

double prompt_loss(const prompt_task *p, const prompt_set *s, const int64_t *idx, int m, int len,
                   const float *logits, int vocab, float scale, float *d_logits, double *scores,
                   int64_t *correct) {
    const int C = p->n_classes;
    if (d_logits)
        memset(d_logits, 0, sizeof(float) * (size_t)m * C * (size_t)len * (size_t)vocab);
    double total = 0.0, score[PROMPT_MAX_CLASSES];
    for (int i = 0; i < m; i++) {
        int y = s->label[idx[i]];
        /* label token j of class c is predicted at row (i·C + c)·len + first + j */
        size_t first = (size_t)s->len[idx[i]] + (size_t)p->template_len - 1;
        size_t rows[PROMPT_MAX_CLASSES];
        int best = 0;
        double top = -INFINITY;
        for (int c = 0; c < C; c++) {
            rows[c] = ((size_t)i * C + c) * (size_t)len + first;
            score[c] = -rl_loss_softmax_ce(logits + rows[c] * (size_t)vocab,
                                           p->label_ids + p->label_start[c], NULL, label_len(p, c),
                                           vocab, 0.0f, NULL, NULL);
            if (score[c] > top) {
                top = score[c];
                best = c;
            }
        }
        double sum = 0.0;
        for (int c = 0; c < C; c++)
            sum += exp(score[c] - top);
        double lse = top + log(sum);
        total += lse - score[y];
        if (correct)
            *correct += best == y;
        if (scores)
            memcpy(scores + (size_t)i * C, score, sizeof(double) * (size_t)C);
        if (!d_logits)
            continue;
        /* ∂loss/∂s_c = softmax(s)_c − [c = y]; ∂s_c/∂logits = −(softmax(logits) − onehot) */
        for (int c = 0; c < C; c++) {
            double g = (double)scale * (exp(score[c] - lse) - (c == y));
            rl_loss_softmax_ce(logits + rows[c] * (size_t)vocab, p->label_ids + p->label_start[c],
                               NULL, label_len(p, c), vocab, (float)-g,
                               d_logits + rows[c] * (size_t)vocab, NULL);
        }
    }
    return total;
}
