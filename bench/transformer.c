/* Transformer benchmarks (issue 17) on one core: a decoder (gpt: spec, src/nn/transformer.h) on
 * BATCH random sequences of T tokens, loss = next-token cross-entropy; bench/peers/
 * transformer_torch.py times the same cases in torch and bench/run_transformer.py runs both.
 *
 *     OPENBLAS_NUM_THREADS=1 taskset -c 1 build/bench_transformer [SPEC] [VOCAB] [BATCH] [RANK]
 *
 * Output lines (whitespace separated; times in CPU seconds of this thread, best of BENCH_SAMPLES
 * runs: bench/timing.h; memory in KiB):
 *   model SPEC VOCAB PARAMS LORA_PARAMS
 *   time forward|fwd_bwd|mezo|mezo_lora|mezo_prompt|mezo_prompt_lora BATCH SECONDS
 *       forward: logits and the loss; fwd_bwd: forward, loss gradient and backward into zeroed
 *       gradients; mezo: a MeZO step (K = 1, src/train/zo.h: perturb in place from the counter
 *       RNG, two forwards, restore, update) on every parameter; mezo_lora: the same on LoRA
 *       adapters of rank RANK on every block's q and v (W0 + B·A written into the model before
 *       each forward); mezo_prompt, mezo_prompt_lora: the same two on lm-finetune's task instead
 *       of next tokens: BATCH / 4 examples, each read as 4 sequences (text + template + the label
 *       of each class, src/train/prompt.h), loss = the cross-entropy of the label scores, as
 *       lm-finetune's zero-order arms compute it (rl_transformer_forward_rows: the shared text
 *       and template once, the last block and the head only where the loss reads); skipped,
 *       with a note, when the context is shorter than the longest prompt (45 tokens)
 *   memory forward|mezo|mezo_lora|adam BATCH KIB
 *       peak resident set less the resident size before the phase (src/core/mem.h, as zoqo-train's
 *       update_mb), each phase allocating what it needs after the memory of the previous one
 *       was handed back; adam: a first-order step (forward, backward, Adam).
 *   part NAME BATCH SECONDS   the forward and backward by part, for the profile: gemm_fwd (the
 *       forward's products with the weights and the head), gemm_bwd (their weight and input
 *       gradients), attention_fwd|bwd, gelu_fwd (a training forward's: the outputs and the
 *       slopes kept for the backward), gelu_bwd, layernorm_fwd|bwd (all layers), loss (the
 *       cross-entropy), loss_grad (the same with its gradient)
 * The forward and MeZO cases run on a forward-only workspace (src/nn/transformer.h), the
 * first-order ones on a training workspace.
 */
#include "src/nn/transformer.h"
#include "bench/args.h"
#include "bench/timing.h"
#include "kernels/kernels.h"
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/mem.h"
#include "src/core/rng.h"
#include "src/nn/lora.h"
#include "src/nn/nn.h"
#include "src/train/prompt.h"
#include "src/train/zo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] = "usage: bench_transformer [SPEC] [VOCAB] [BATCH] [RANK]\n"
                            "  SPEC   a gpt: spec, default gpt:L2-D128-H4-T64 (lm-pretrain's)\n"
                            "  VOCAB  vocabulary size, 2..65536, default 1024\n"
                            "  BATCH  sequences of T tokens per forward, 1..4096, default 8\n"
                            "  RANK   rank of the LoRA adapters on q and v, 1..256, default 8\n";

static const rl_cfg_spec keys[] = {
    {"bench.spec", RL_CFG_STRING, "gpt:L2-D128-H4-T64", 0, -1, NULL, 0, "decoder spec"},
    {"bench.vocab", RL_CFG_INT, "1024", 2, 65536, NULL, 0, "vocabulary size"},
    {"bench.batch", RL_CFG_INT, "8", 1, 4096, NULL, 0, "sequences per forward"},
    {"bench.rank", RL_CFG_INT, "8", 1, 256, NULL, 0, "LoRA rank"},
};
static const char *const key_names[] = {"bench.spec", "bench.vocab", "bench.batch", "bench.rank"};

typedef struct {
    rl_transformer *m;
    rl_transformer_ws *ws;
    const int32_t *ids, *targets; /* (batch, T) inputs and their next tokens */
    int batch, len;
    float *d_logits;    /* (batch · T, vocab), first-order cases */
    rl_lora *lora;      /* mezo_lora: the adapters written into m before each forward */
    zo_state *zo;       /* mezo cases */
    rl_optimizer *adam; /* adam_call: the first-order step */
    uint32_t step;      /* MeZO steps taken */
    /* the prompt cases (task not NULL): examples 0..examples of `set` */
    const prompt_task *task;
    const prompt_set *set;
    const int64_t *examples_idx;
    int examples;
    int32_t *seqs;     /* (examples · classes, task->max_len) */
    int *first, *last; /* (examples · classes) */
} bench_case;

/* Mean next-token cross-entropy of the batch (and its gradient into d_logits, after a training
 * forward, when not NULL). */
static double batch_loss(bench_case *c, float *d_logits) {
    int rows = c->batch * c->len;
    const float *logits = d_logits
                              ? rl_transformer_forward_train(c->m, c->ws, c->ids, c->batch, c->len)
                              : rl_transformer_forward(c->m, c->ws, c->ids, c->batch, c->len);
    return rl_loss_softmax_ce(logits, c->targets, NULL, rows, c->m->vocab, 1.0f / (float)rows,
                              d_logits, NULL) /
           rows;
}

/* Mean prompt-classification loss of the examples (the forward of the rows it reads). */
static double prompt_batch_loss(bench_case *c) {
    int len = prompt_fill(c->task, c->set, c->examples_idx, c->examples, c->seqs);
    prompt_rows(c->task, c->set, c->examples_idx, c->examples, c->first, c->last);
    const float *logits = rl_transformer_forward_rows(
        c->m, c->ws, c->seqs, c->examples * c->task->n_classes, len, c->first, c->last);
    return prompt_loss(c->task, c->set, c->examples_idx, c->examples, len, logits, c->m->vocab,
                       0.0f, NULL, NULL, NULL) /
           c->examples;
}

static void forward_call(void *ctx) {
    batch_loss(ctx, NULL);
}

static void fwd_bwd_call(void *ctx) {
    bench_case *c = ctx;
    rl_transformer_zero_grads(c->m);
    batch_loss(c, c->d_logits);
    rl_transformer_backward(c->m, c->ws, c->d_logits, c->batch, c->len);
}

/* zo_loss_fn: the parameters are perturbed in place (the model's arena, or the adapters). */
static int64_t zo_loss(void *ctx, const void *params) {
    bench_case *c = ctx;
    (void)params;
    if (c->lora)
        rl_lora_apply_params(c->lora, c->m->params);
    float loss = (float)(c->task ? prompt_batch_loss(c) : batch_loss(c, NULL));
    int64_t fixed;
    kern_to_fixed(&loss, &fixed, 1, RL_FIXED_FRAC_BITS);
    return fixed;
}

static void mezo_call(void *ctx) {
    bench_case *c = ctx;
    zo_step(c->zo, c->step++, zo_loss, c);
}

static void adam_call(void *ctx) {
    bench_case *c = ctx;
    fwd_bwd_call(c);
    rl_opt_step(c->adam, c->m->params, c->m->grads);
}

/* MeZO on `params` (n floats): μ = 1e-3, lr = 1e-6 (MeZO's), K = 1, Gaussian directions. */
static void mezo_init(zo_state *z, float *params, size_t n) {
    zo_options opt = {.method = ZO_MEZO,
                      .perturbations = 1,
                      .kind = KERN_PERTURB_GAUSSIAN,
                      .mu = 1e-3f,
                      .lr = 1e-6f};
    memcpy(opt.key, rl_rng_make(1, RL_RNG_PERTURB).key, sizeof opt.key);
    zo_init(z, &opt, params, n);
}

/* Adapters of `rank` on every block's q and v. */
static int lora_init(rl_lora *lora, const rl_transformer *m, int rank) {
    rl_tf_matrix mats[RL_TF_MAX_LAYERS * RL_TF_MATRICES_PER_BLOCK];
    rl_lora_target targets[2 * RL_TF_MAX_LAYERS];
    int n = rl_transformer_matrices(m, mats), n_targets = 0;
    for (int i = 0; i < n; i++) {
        const char *name = strrchr(mats[i].name, '.') + 1;
        if (!strcmp(name, "q") || !strcmp(name, "v"))
            targets[n_targets++] = (rl_lora_target){mats[i].w_off, mats[i].rows, mats[i].cols};
    }
    return rl_lora_init_targets(lora, m->params, m->n_params, targets, n_targets, rank, 2, m->spec);
}

/* One part of the forward or backward, on the activations of a training forward (gemm: every
 * weight matrix's product, the head's included, on the same shapes). */
typedef struct {
    bench_case *c;
    int which;
    float *dy, *dx; /* (rows, max(4D, vocab)) each: the products' outputs and gradients */
    float *hidden[RL_TF_MAX_LAYERS]; /* (rows, 4D) each block's MLP hidden layer before GELU */
} part_case;

enum {
    GEMM_FWD,
    GEMM_BWD,
    ATTENTION_FWD,
    ATTENTION_BWD,
    GELU_FWD,
    GELU_BWD,
    LN_FWD,
    LN_BWD,
    LOSS,
    LOSS_GRAD,
    N_PARTS
};
static const char *const part_names[N_PARTS] = {
    "gemm_fwd", "gemm_bwd",      "attention_fwd", "attention_bwd", "gelu_fwd",
    "gelu_bwd", "layernorm_fwd", "layernorm_bwd", "loss",          "loss_grad"};

static void part_call(void *ctx) {
    part_case *pc = ctx;
    bench_case *c = pc->c;
    rl_transformer *m = c->m;
    rl_transformer_ws *ws = c->ws;
    int rows = c->batch * c->len, d = m->width, f = m->hidden, v = m->vocab;
    float *w = m->params, *g = m->grads;
    for (int l = 0; l < m->layers; l++) {
        const rl_tf_block *b = &m->blocks[l];
        rl_tf_block_acts *a = &ws->block[l];
        /* (weight offset, fan-in, outputs, input) of the block's six products */
        const struct {
            size_t w_off;
            int in, out;
            const float *x;
        } mats[6] = {{b->wq, d, d, a->ln1}, {b->wk, d, d, a->ln1}, {b->wv, d, d, a->ln1},
                     {b->wo, d, d, a->att}, {b->w1, d, f, a->ln2}, {b->w2, f, d, a->gelu}};
        switch (pc->which) {
        case GEMM_FWD:
        case GEMM_BWD:
            for (int j = 0; j < 6; j++) {
                int in = mats[j].in, out = mats[j].out;
                if (pc->which == GEMM_FWD)
                    kern_sgemm(0, 1, rows, out, in, 1.0f, mats[j].x, in, w + mats[j].w_off, in,
                               0.0f, pc->dy, out);
                else { /* dW += dyᵀ·x, dx = dy·W */
                    kern_sgemm(1, 0, out, in, rows, 1.0f, pc->dy, out, mats[j].x, in, 1.0f,
                               g + mats[j].w_off, in);
                    kern_sgemm(0, 0, rows, in, out, 1.0f, pc->dy, out, w + mats[j].w_off, in, 0.0f,
                               pc->dx, in);
                }
            }
            break;
        case ATTENTION_FWD:
            rl_attention_forward(a->q, a->k, a->v, c->batch, c->len, d, m->heads, m->causal,
                                 a->probs, a->att);
            break;
        case ATTENTION_BWD:
            rl_attention_backward(a->q, a->k, a->v, a->probs, a->att, c->batch, c->len, d, m->heads,
                                  ws->d_q, ws->d_k, ws->d_v, ws->d_probs);
            break;
        case GELU_FWD:
            rl_gelu_forward(pc->hidden[l], a->gelu, a->gelu_slope, (size_t)rows * f);
            break;
        case GELU_BWD:
            rl_gelu_backward(a->gelu_slope, a->gelu, pc->dx, (size_t)rows * f);
            break;
        case LN_FWD:
            rl_layernorm_forward(a->x, w + b->ln1_g, w + b->ln1_b, rows, d, a->ln1, a->mean1,
                                 a->rstd1);
            rl_layernorm_forward(a->mid, w + b->ln2_g, w + b->ln2_b, rows, d, a->ln2, a->mean2,
                                 a->rstd2);
            break;
        case LN_BWD:
            rl_layernorm_backward(a->x, w + b->ln1_g, a->mean1, a->rstd1, a->ln2, rows, d, ws->d_a,
                                  g + b->ln1_g, g + b->ln1_b);
            rl_layernorm_backward(a->mid, w + b->ln2_g, a->mean2, a->rstd2, a->ln1, rows, d,
                                  ws->d_b, g + b->ln2_g, g + b->ln2_b);
            break;
        }
    }
    switch (pc->which) { /* the final layer norm and the head */
    case GEMM_FWD:
        kern_sgemm(0, 1, rows, v, d, 1.0f, ws->lnf, d, w + m->tok_emb, d, 0.0f, pc->dy, v);
        break;
    case GEMM_BWD:
        kern_sgemm(1, 0, v, d, rows, 1.0f, pc->dy, v, ws->lnf, d, 1.0f, g + m->tok_emb, d);
        kern_sgemm(0, 0, rows, d, v, 1.0f, pc->dy, v, w + m->tok_emb, d, 0.0f, pc->dx, d);
        break;
    case LN_FWD:
        rl_layernorm_forward(ws->x_final, w + m->lnf_g, w + m->lnf_b, rows, d, ws->lnf, ws->mean_f,
                             ws->rstd_f);
        break;
    case LN_BWD:
        rl_layernorm_backward(ws->x_final, w + m->lnf_g, ws->mean_f, ws->rstd_f, ws->lnf, rows, d,
                              ws->d_a, g + m->lnf_g, g + m->lnf_b);
        break;
    case LOSS:
    case LOSS_GRAD:
        rl_loss_softmax_ce(ws->logits, c->targets, NULL, rows, v, 1.0f / (float)rows,
                           pc->which == LOSS_GRAD ? c->d_logits : NULL, NULL);
        break;
    }
}

/* Starts a memory phase: hands back what the allocator keeps, returns the resident KiB. */
static int64_t phase_start(void) {
    rl_mem_peak_reset();
    return rl_mem_current_kb();
}

/* The memory phases, in this order (the gradients, touched first by the first-order step, are
 * resident only from then on); the model's parameters are resident before each and not counted.
 * A forward and the MeZO steps allocate a forward-only workspace, the first-order step a
 * training one. */
static void measure_memory(bench_case c, int rank) {
    rl_transformer_ws ws;
    zo_state zo;
    rl_lora lora;
    rl_optimizer adam;
    c.ws = &ws;
    c.zo = &zo;
    c.adam = &adam;

    int64_t start = phase_start();
    if (rl_transformer_ws_init(&ws, c.m, c.batch, RL_TF_FORWARD_ONLY) < 0)
        comm_fatal_stored_error();
    forward_call(&c);
    printf("memory forward %d %lld\n", c.batch, (long long)(rl_mem_peak_kb() - start));
    rl_transformer_ws_free(&ws);

    start = phase_start();
    if (rl_transformer_ws_init(&ws, c.m, c.batch, RL_TF_FORWARD_ONLY) < 0)
        comm_fatal_stored_error();
    mezo_init(&zo, c.m->params, c.m->n_params);
    mezo_call(&c);
    printf("memory mezo %d %lld\n", c.batch, (long long)(rl_mem_peak_kb() - start));
    zo_free(&zo);
    rl_transformer_ws_free(&ws);

    start = phase_start();
    if (rl_transformer_ws_init(&ws, c.m, c.batch, RL_TF_FORWARD_ONLY) < 0 ||
        lora_init(&lora, c.m, rank) < 0)
        comm_fatal_stored_error();
    mezo_init(&zo, lora.params, lora.n_params);
    c.lora = &lora;
    mezo_call(&c);
    printf("memory mezo_lora %d %lld\n", c.batch, (long long)(rl_mem_peak_kb() - start));
    c.lora = NULL;
    zo_free(&zo);
    rl_lora_free(&lora);
    rl_transformer_ws_free(&ws);

    start = phase_start();
    size_t logits = (size_t)c.batch * c.len * c.m->vocab;
    if (rl_transformer_ws_init(&ws, c.m, c.batch, RL_TF_TRAINING) < 0 ||
        rl_opt_init(&adam, RL_OPT_ADAM, c.m->n_params, 1e-3f, 0.0f, 0.0f) < 0)
        comm_fatal_stored_error();
    c.d_logits = rl_xmalloc(sizeof(float) * logits); // (batch · T, vocab)
    adam_call(&c);
    printf("memory adam %d %lld\n", c.batch, (long long)(rl_mem_peak_kb() - start));
    free(c.d_logits);
    rl_opt_free(&adam);
    rl_transformer_ws_free(&ws);
    fflush(stdout);
}

/* The parts' inputs: each block's MLP hidden layer before GELU (the forward keeps it after). */
static void part_hidden(part_case *pc) {
    const rl_transformer *m = pc->c->m;
    int rows = pc->c->batch * pc->c->len, d = m->width, f = m->hidden;
    for (int l = 0; l < m->layers; l++) {
        const rl_tf_block *b = &m->blocks[l];
        pc->hidden[l] = rl_xmalloc(sizeof(float) * (size_t)rows * f);
        for (int r = 0; r < rows; r++)
            memcpy(pc->hidden[l] + (size_t)r * f, m->params + b->b1, sizeof(float) * (size_t)f);
        kern_sgemm(0, 1, rows, f, d, 1.0f, pc->c->ws->block[l].ln2, d, m->params + b->w1, d, 1.0f,
                   pc->hidden[l], f);
    }
}

/* Times a MeZO step on every parameter ("time NAME") and on adapters of `rank` on q and v
 * ("time NAME_lora"), on c's workspace and loss. */
static void time_mezo(bench_case c, int rank, const char *name) {
    zo_state zo;
    rl_lora lora;
    c.zo = &zo;
    mezo_init(&zo, c.m->params, c.m->n_params);
    printf("time %s %d %.6e\n", name, c.batch, bench_best_time(mezo_call, &c));
    zo_free(&zo);
    if (lora_init(&lora, c.m, rank) < 0)
        comm_fatal_stored_error();
    mezo_init(&zo, lora.params, lora.n_params);
    c.lora = &lora;
    printf("time %s_lora %d %.6e\n", name, c.batch, bench_best_time(mezo_call, &c));
    zo_free(&zo);
    rl_lora_free(&lora);
}

/* The timed cases. */
static void measure_time(bench_case c, int rank) {
    rl_transformer_ws ws, forward_ws;
    if (rl_transformer_ws_init(&ws, c.m, c.batch, RL_TF_TRAINING) < 0 ||
        rl_transformer_ws_init(&forward_ws, c.m, c.batch, RL_TF_FORWARD_ONLY) < 0)
        comm_fatal_stored_error();
    c.d_logits = rl_xmalloc(sizeof(float) * (size_t)c.batch * c.len * c.m->vocab);
    c.ws = &forward_ws;
    printf("time forward %d %.6e\n", c.batch, bench_best_time(forward_call, &c));
    c.ws = &ws;
    printf("time fwd_bwd %d %.6e\n", c.batch, bench_best_time(fwd_bwd_call, &c));
    size_t widest =
        (size_t)c.batch * c.len * (size_t)(c.m->hidden > c.m->vocab ? c.m->hidden : c.m->vocab);
    part_case pc = {
        &c, 0, rl_xcalloc(widest, sizeof(float)), rl_xcalloc(widest, sizeof(float)), {NULL}};
    part_hidden(&pc);
    for (pc.which = 0; pc.which < N_PARTS; pc.which++) /* on the last forward's activations */
        printf("part %s %d %.6e\n", part_names[pc.which], c.batch, bench_best_time(part_call, &pc));
    free(pc.dy);
    free(pc.dx);
    for (int l = 0; l < c.m->layers; l++)
        free(pc.hidden[l]);
    c.ws = &forward_ws;
    time_mezo(c, rank, "mezo");
    free(c.d_logits);
    rl_transformer_ws_free(&ws);
    rl_transformer_ws_free(&forward_ws);
}

/* lm-finetune's prompt shapes with the default pretrained tokenizer (WordNet glosses of 12..32
 * tokens, mean 22; the template " This is about a(n)" of 9 tokens; the labels animal, artifact,
 * food, plant of 2, 4, 2 and 1 tokens) on random tokens: example i has a text of
 * prompt_text_len(i) tokens and class i mod 4 (bench/peers/transformer_torch.py builds the same
 * shapes). */
#define PROMPT_CLASSES 4
#define PROMPT_TEMPLATE 9
#define PROMPT_MAX_TEXT 32
static const int prompt_label_len[PROMPT_CLASSES] = {2, 4, 2, 1};

static int prompt_text_len(int i) {
    return 12 + (7 * i) % 21;
}

/* The task and `examples` examples of it: text and template tokens uniform in the vocabulary,
 * the labels' the last ones of it. */
static void prompt_make(prompt_task *p, prompt_set *s, int examples, int vocab) {
    rl_rng r = rl_rng_make(19, RL_RNG_SYNTH_DATA);
    int n_labels = 0;
    memset(p, 0, sizeof *p);
    p->n_classes = PROMPT_CLASSES;
    p->template_len = PROMPT_TEMPLATE;
    p->max_text = PROMPT_MAX_TEXT;
    for (int c = 0; c < PROMPT_CLASSES; c++) {
        p->label_start[c] = n_labels;
        n_labels += prompt_label_len[c];
        p->label_start[c + 1] = n_labels;
    }
    p->max_len = PROMPT_MAX_TEXT + PROMPT_TEMPLATE + 4; // the longest label has 4 tokens
    p->template_ids = rl_xmalloc(sizeof(int32_t) * PROMPT_TEMPLATE);
    p->label_ids = rl_xmalloc(sizeof(int32_t) * (size_t)n_labels);
    for (int j = 0; j < PROMPT_TEMPLATE; j++)
        p->template_ids[j] = (int32_t)(rl_rng_uniform(r, 0, (uint32_t)j) * vocab);
    for (int j = 0; j < n_labels; j++) // every label token distinct: no label shares a prefix
        p->label_ids[j] = vocab - 1 - j;
    prompt_set_init(s, p, examples);
    for (int i = 0; i < examples; i++) {
        int32_t text[PROMPT_MAX_TEXT];
        for (int j = 0; j < prompt_text_len(i); j++)
            text[j] = (int32_t)(rl_rng_uniform(r, 2 + (uint32_t)i, (uint32_t)j) * vocab);
        prompt_set_put(s, i, text, prompt_text_len(i), i % PROMPT_CLASSES);
    }
}

/* The prompt cases: MeZO on every parameter and on the q, v adapters, on batch / 4 examples
 * (none, with a note, when the context is shorter than the longest prompt or the vocabulary
 * smaller than the labels' tokens). */
static void measure_prompt_time(bench_case c, int rank) {
    prompt_task task;
    prompt_set set;
    int examples = c.batch / PROMPT_CLASSES > 0 ? c.batch / PROMPT_CLASSES : 1;
    int n_labels = 0;
    for (int k = 0; k < PROMPT_CLASSES; k++)
        n_labels += prompt_label_len[k];
    if (PROMPT_MAX_TEXT + PROMPT_TEMPLATE + 4 > c.m->context || n_labels >= c.m->vocab) {
        fprintf(stderr,
                "bench_transformer: no prompt cases: they need a context of %d tokens and a "
                "vocabulary of more than %d\n",
                PROMPT_MAX_TEXT + PROMPT_TEMPLATE + 4, n_labels);
        return;
    }
    prompt_make(&task, &set, examples, c.m->vocab);
    int64_t *idx = rl_xmalloc(sizeof(int64_t) * (size_t)examples);
    for (int i = 0; i < examples; i++)
        idx[i] = i;
    int n_seq = examples * PROMPT_CLASSES;
    rl_transformer_ws ws;
    if (rl_transformer_ws_init(&ws, c.m, n_seq, RL_TF_FORWARD_ONLY) < 0)
        comm_fatal_stored_error();
    c.ws = &ws;
    c.task = &task;
    c.set = &set;
    c.examples_idx = idx;
    c.examples = examples;
    c.seqs = rl_xmalloc(sizeof(int32_t) * (size_t)n_seq * (size_t)task.max_len);
    c.first = rl_xmalloc(sizeof(int) * (size_t)n_seq);
    c.last = rl_xmalloc(sizeof(int) * (size_t)n_seq);
    time_mezo(c, rank, "mezo_prompt");
    free(c.seqs);
    free(c.first);
    free(c.last);
    free(idx);
    prompt_task_free(&task);
    prompt_set_free(&set);
    rl_transformer_ws_free(&ws);
}

/* batch sequences of len + 1 tokens uniform in the vocabulary: inputs and next tokens. */
static void fill_tokens(int32_t *ids, int32_t *targets, int batch, int len, int vocab) {
    rl_rng r = rl_rng_make(17, RL_RNG_SYNTH_DATA);
    for (int s = 0; s < batch; s++) {
        int32_t prev = (int32_t)(rl_rng_uniform(r, (uint32_t)s, 0) * vocab);
        for (int t = 0; t < len; t++) {
            int32_t next = (int32_t)(rl_rng_uniform(r, (uint32_t)s, (uint32_t)t + 1) * vocab);
            ids[(size_t)s * len + t] = prev;
            targets[(size_t)s * len + t] = next;
            prev = next;
        }
    }
}

int main(int argc, char **argv) {
    if (comm_init(&argc, &argv) < 0) {
        rl_error_print();
        return 1;
    }
    rl_config *cfg = rl_cfg_new();
    rl_cfg_declare(cfg, keys, sizeof keys / sizeof keys[0]);
    int args = bench_args(argc, argv, usage, cfg, key_names, 4);
    rl_transformer m = {0};
    if (args == 0 && rl_transformer_init(&m, rl_cfg_str(cfg, "bench.spec"),
                                         (int)rl_cfg_int(cfg, "bench.vocab")) < 0) {
        rl_error_print();
        fputs(usage, stderr);
        args = RL_ERR;
    }
    int batch = args == 0 ? (int)rl_cfg_int(cfg, "bench.batch") : 0;
    int rank = args == 0 ? (int)rl_cfg_int(cfg, "bench.rank") : 0;
    rl_cfg_free(cfg);
    if (args != 0) {
        comm_finalize();
        return args > 0 ? 0 : 2;
    }
    rl_transformer_init_params(&m, 1);
    int len = m.context;
    size_t tokens = (size_t)batch * len;
    int32_t *ids = rl_xmalloc(sizeof(int32_t) * tokens);     // (batch, T)
    int32_t *targets = rl_xmalloc(sizeof(int32_t) * tokens); // (batch, T)
    fill_tokens(ids, targets, batch, len, m.vocab);
    rl_lora probe;
    if (lora_init(&probe, &m, rank) < 0)
        comm_fatal_stored_error();
    printf("model %s %d %zu %zu\n", m.spec, m.vocab, m.n_params, probe.n_params);
    rl_lora_free(&probe);
    bench_case c = {.m = &m, .ids = ids, .targets = targets, .batch = batch, .len = len};
    measure_memory(c, rank);
    measure_time(c, rank);
    measure_prompt_time(c, rank);
    free(ids);
    free(targets);
    rl_transformer_free(&m);
    comm_finalize();
    return 0;
}
