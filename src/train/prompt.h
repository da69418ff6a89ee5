/* Prompt classification with a causal language model, as MeZO and ZOQO pose SST-2: an example is
 * a text (token ids) and a class; for every class c the model reads
 *
 *     text + template + label word of c        e.g. "a domestic dog ... This is about a(n) animal"
 *
 * and the score of c is the log-likelihood of the label word's tokens after the text and the
 * template, s_c = Σ_j log p(label_c[j] | text, template, label_c[0..j)). The prediction is
 * argmax_c s_c (the first class on ties); the loss is the cross-entropy of softmax(s) against the
 * example's class. The C sequences of an example are rows of one forward, right-padded to the
 * longest of the chunk (causal attention: padding after a position does not change it).
 *
 *     prompt_task p;
 *     prompt_task_init(&p, &tok, "This is about a(n)", labels, 4, model.context, 32);
 *     prompt_set s;
 *     prompt_set_init(&s, &p, n);  prompt_set_put(&s, i, ids, len, class);   // per example
 *     int len = prompt_fill(&p, &s, idx, m, seqs);          // (m · C, len) token ids
 *     prompt_rows(&p, &s, idx, m, first, last);              // the positions the loss reads
 *     const float *logits =
 *         rl_transformer_forward_rows(&model, &ws, seqs, m * C, len, first, last);
 *     double loss = prompt_loss(&p, &s, idx, m, len, logits, V, scale, NULL, NULL, &correct);
 *     // a first-order step: rl_transformer_forward_train, then d_logits instead of NULL
 */
#ifndef RANKLAB_TRAIN_PROMPT_H
#define RANKLAB_TRAIN_PROMPT_H

#include "src/data/corpus.h"

#include <stdint.h>

#define PROMPT_MAX_CLASSES 16

typedef struct {
    int n_classes;
    int template_len;
    int32_t *template_ids;                   /* (template_len) */
    int32_t *label_ids;                      /* every label's tokens, one after the other */
    int label_start[PROMPT_MAX_CLASSES + 1]; /* label c: label_ids[start[c] .. start[c + 1]) */
    int max_text;                            /* text tokens kept (the first ones) */
    int max_len;                             /* the longest sequence (<= the context) */
} prompt_task;

/* The template's tokens (" " + template) and each label's (" " + labels[c]); max_text is the
 * least of `max_text` and what the context leaves after the template and the longest label.
 * Errors with a hint: fewer than 2 or more than PROMPT_MAX_CLASSES classes, two labels with the
 * same tokens, a context too short for one text token. */
int prompt_task_init(prompt_task *p, const rl_bpe *tok, const char *template_text,
                     const char *const *labels, int n_classes, int context, int max_text);
void prompt_task_free(prompt_task *p); /* NULL-safe, leaves p zeroed */

typedef struct {
    int64_t n;
    int max_text;
    int32_t *text;  /* (n, max_text): example i's first len[i] text tokens */
    int32_t *len;   /* (n) */
    int32_t *label; /* (n) its class */
} prompt_set;

void prompt_set_init(prompt_set *s, const prompt_task *p, int64_t n);
/* Example i: the first max_text of ids[0..len) (len >= 1), class `label`. */
void prompt_set_put(prompt_set *s, int64_t i, const int32_t *ids, int64_t len, int label);
void prompt_set_free(prompt_set *s); /* NULL-safe, leaves s zeroed */

/* The C sequences of examples idx[0..m) into seqs (m · C, len), example i's class c at row
 * i · C + c, padded with token 0; returns len, the longest of them. seqs holds m · C · max_len. */
int prompt_fill(const prompt_task *p, const prompt_set *s, const int64_t *idx, int m,
                int32_t *seqs);
/* The positions whose logits prompt_loss reads, per sequence of prompt_fill (row i · C + c):
 * first[r]..last[r], those predicting the label's tokens (for rl_transformer_forward_rows). */
void prompt_rows(const prompt_task *p, const prompt_set *s, const int64_t *idx, int m, int *first,
                 int *last);
/* From the logits (m · C · len, vocab) of prompt_fill's sequences: Σ over the m examples of the
 * cross-entropy of their label scores; *correct (may be NULL) += the examples whose argmax is
 * their class; scores (m, C) (may be NULL) receive s. If d_logits is not NULL it receives
 * scale · ∂loss/∂logits (m · C · len, vocab), zero off the label positions. */
double prompt_loss(const prompt_task *p, const prompt_set *s, const int64_t *idx, int m, int len,
                   const float *logits, int vocab, float scale, float *d_logits, double *scores,
                   int64_t *correct);

#endif
