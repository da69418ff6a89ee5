/* Experiment `lm-pretrain`: first-order data-parallel pretraining of a small decoder (gpt: specs,
 * src/nn/transformer.h) on the WordNet glosses (and, with data.text_sources=wordnet,fortunes,
 * the entries of Debian's fortunes), with a byte-level BPE tokenizer learned on the
 * training split and saved with the results (/arrays/tokenizer_merges, src/train/vocab.h) so a
 * fine-tuning run uses the same vocabulary.
 *
 * Each step takes train.batch windows of T tokens (in an epoch order from the counter RNG), cut
 * into chunks of train.chunk windows that the ranks share; gradients and losses are summed in
 * fixed point (src/train/lm.h), so parameters and metrics are bit-identical on any number of
 * ranks and under resume. Adam. Metrics per epoch: mean training loss per token, validation
 * loss and perplexity, and the unigram model's validation perplexity beside it. After training:
 * lm.samples continuations of validation glosses' first words, logged. */
#include "src/comm/comm.h"
#include "src/core/digest.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/core/mem.h"
#include "src/core/text.h"
#include "src/data/corpus.h"
#include "src/run/run.h"
#include "src/train/chunks.h"
#include "src/train/dp.h"
#include "src/train/lm.h"
#include "src/train/vocab.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char rl_ini_lm_pretrain[];

static const rl_cfg_spec lm_keys[] = {
    {"model.spec", RL_CFG_STRING, "gpt:L2-D128-H4-T64", 0, -1, NULL, 0,
     "decoder: gpt:L<layers>-D<width>-H<heads>-T<context>, e.g. gpt:L2-D128-H4-T64 (pre-norm "
     "blocks of causal multi-head attention and a GELU MLP of 4·D, learned positions, LM head "
     "tied to the token embedding); the vocabulary is the tokenizer's (text.vocab_size), or pin "
     "it with V<vocab>- first: gpt:V1024-L2-D128-H4-T64 (src/nn/transformer.h)"},
    {"train.epochs", RL_CFG_INT, "1", 1, 100000, NULL, 0, "passes over the training windows"},
    {"train.batch", RL_CFG_INT, "32", 1, 1000000, NULL, 0,
     "windows of T tokens per optimizer step"},
    {"train.lr", RL_CFG_FLOAT, "0.001", 0, 100, NULL, 0, "Adam learning rate"},
    {"train.weight_decay", RL_CFG_FLOAT, "0", 0, 1, NULL, 0,
     "L2 weight decay added to the gradient"},
    {"lm.valid_limit", RL_CFG_INT, "0", 0, 1000000000, NULL, 0,
     "validation windows evaluated after each epoch (the first N; 0: all)"},
    {"lm.samples", RL_CFG_INT, "4", 0, 100, NULL, 0,
     "continuations logged after training, each from the first lm.prompt_tokens tokens of a "
     "validation gloss"},
    {"lm.prompt_tokens", RL_CFG_INT, "3", 1, 64, NULL, 0, "tokens of each sample's prompt"},
    {"lm.sample_tokens", RL_CFG_INT, "32", 1, 1024, NULL, 0,
     "tokens generated per sample at most (a sample stops at the end of its gloss)"},
    {"lm.temperature", RL_CFG_FLOAT, "0.8", 0, 100, NULL, 0,
     "sampling temperature of the continuations (0: greedy); draws from the counter RNG"},
};

static void lm_declare(rl_config *cfg) {
    rl_declare_common_config(cfg);
    rl_corpus_declare_config(cfg);
    rl_corpus_declare_sources_config(cfg);
    train_chunks_declare_config(cfg);
    rl_cfg_declare(cfg, lm_keys, sizeof lm_keys / sizeof lm_keys[0]);
}

static const char *const metric_names[] = {"epoch",     "train_loss",  "valid_loss",
                                           "valid_ppl", "unigram_ppl", "tokens"};

typedef struct {
    const rl_config *cfg;
    rl_corpus corpus;
    rl_bpe tok;
    rl_token_seqs train_seqs, valid_seqs;
    lm_windows train, valid;
    rl_transformer model;
    lm_chunks chunks;
    rl_optimizer opt;
    train_batches batches;
    comm_exact sum;     /* (n_params + 1) a step's gradient, then its loss */
    int64_t epoch_loss; /* fixed-point (RL_FIXED_SUM_FRAC_BITS) sum of the epoch's losses */
    int64_t total_steps, valid_limit;
    double unigram_loss;
    double started;     /* rl_now() at this process's first step, for tokens/s */
    int64_t first_step; /* that step */
} lm_run;

static void lm_free(lm_run *r) {
    lm_chunks_free(&r->chunks);
    rl_transformer_free(&r->model);
    rl_opt_free(&r->opt);
    train_batches_free(&r->batches);
    comm_exact_free(&r->sum);
    rl_token_seqs_free(&r->train_seqs);
    rl_token_seqs_free(&r->valid_seqs);
    rl_bpe_free(&r->tok);
    rl_corpus_free(&r->corpus);
}

/* rl_experiment.check: model.spec parses and fits, with the vocabulary it pins or else
 * text.vocab_size (the tokenizer's may come out smaller; prepare checks against it). */
static int lm_check(const rl_config *cfg) {
    rl_transformer m;
    int rc = rl_transformer_init(&m, rl_cfg_str(cfg, "model.spec"),
                                 (int)rl_cfg_int(cfg, "text.vocab_size"));
    rl_transformer_free(&m);
    return rc < 0 ? rl_fail_context("model.spec") : 0;
}

/* Everything from the config, before anything is written: corpus, tokenizer, windows, model,
 * optimizer, buffers. */
static int prepare(rl_run *run, lm_run *r) {
    const rl_config *cfg = r->cfg = rl_run_config(run);
    if (rl_corpus_load_sources(cfg, &r->corpus) < 0 ||
        rl_bpe_learn(&r->corpus, RL_SPLIT_TRAIN, (int)rl_cfg_int(cfg, "text.vocab_size"), &r->tok) <
            0 ||
        rl_corpus_tokenize(&r->corpus, &r->tok, RL_SPLIT_TRAIN, &r->train_seqs) < 0 ||
        rl_corpus_tokenize(&r->corpus, &r->tok, RL_SPLIT_VALID, &r->valid_seqs) < 0)
        return RL_ERR;
    if (r->tok.vocab_size < rl_cfg_int(cfg, "text.vocab_size") && comm_rank() == 0)
        rl_log_warn("text.vocab_size=%lld, but the training glosses give only %d tokens (every "
                    "pair of adjacent tokens is merged): the vocabulary is %d; any larger "
                    "text.vocab_size is the same model under another run id",
                    (long long)rl_cfg_int(cfg, "text.vocab_size"), r->tok.vocab_size,
                    r->tok.vocab_size);
    if (rl_transformer_init(&r->model, rl_cfg_str(cfg, "model.spec"), r->tok.vocab_size) < 0)
        return rl_fail_context("model.spec");
    int context = r->model.context;
    if (lm_windows_of(&r->train_seqs, context, "training", &r->train) < 0 ||
        lm_windows_of(&r->valid_seqs, context, "validation", &r->valid) < 0)
        return RL_ERR;
    int batch = (int)rl_cfg_int(cfg, "train.batch");
    if (batch > r->train.n)
        return rl_fail("train.batch=%d is more than the %lld training windows of %d tokens",
                       "lower train.batch, or use more text", batch, (long long)r->train.n,
                       context);
    rl_transformer_init_params(&r->model, rl_run_seed(run));
    if (rl_mem_check(sizeof(int64_t) * ((uint64_t)r->train.n + r->model.n_params + 1),
                     "the order of %lld windows and the exact gradient sum",
                     (long long)r->train.n) < 0 ||
        lm_chunks_init(&r->chunks, &r->model, (int)rl_cfg_int(cfg, "train.chunk")) < 0 ||
        rl_opt_init(&r->opt, RL_OPT_ADAM, r->model.n_params, (float)rl_cfg_float(cfg, "train.lr"),
                    0.0f, (float)rl_cfg_float(cfg, "train.weight_decay")) < 0)
        return RL_ERR;
    train_batches_init(&r->batches, r->train.n, batch, rl_run_seed(run));
    r->total_steps = r->batches.per_epoch * rl_cfg_int(cfg, "train.epochs");
    comm_exact_init(&r->sum, r->model.n_params + 1);
    r->valid_limit = rl_cfg_int(cfg, "lm.valid_limit");
    r->unigram_loss = lm_unigram_loss(&r->train, &r->valid, r->valid_limit, r->model.vocab);
    int64_t train_tokens = r->train_seqs.start[r->train_seqs.n];
    int64_t fortunes = 0;
    for (int64_t i = 0; i < r->corpus.n; i++)
        fortunes += r->corpus.entries[i].pos == 'f';
    char source[64] = "wordnet glosses";
    if (fortunes > 0)
        snprintf(source, sizeof source, "%s%lld fortune entries",
                 fortunes < r->corpus.n ? "wordnet glosses + " : "", (long long)fortunes);
    rl_run_add_input(run,
                     "%s: %lld training, %lld validation entries; %lld + %lld tokens (crc %08x)",
                     source, (long long)r->train_seqs.n, (long long)r->valid_seqs.n,
                     (long long)train_tokens, (long long)r->valid_seqs.start[r->valid_seqs.n],
                     rl_crc32(0, r->train_seqs.ids, sizeof(int32_t) * (size_t)train_tokens));
    rl_log_info("lm-pretrain: %s, %zu parameters, vocabulary %d; %lld training windows of %d "
                "tokens (%lld steps of %d), %lld validation windows; unigram validation "
                "perplexity %.1f",
                r->model.spec, r->model.n_params, r->model.vocab, (long long)r->train.n, context,
                (long long)r->total_steps, batch, (long long)r->valid.n, exp(r->unigram_loss));
    return 0;
}

/* Collective: one Adam step on the windows of step `step`. */
static int train_step(lm_run *r, int64_t step) {
    const int64_t *idx;
    int n = train_batches_at(&r->batches, step, &idx);
    size_t p = r->model.n_params;
    comm_exact_zero(&r->sum);
    lm_gradient(&r->chunks, &r->train, idx, n, 1.0f / ((float)n * (float)r->train.len), &r->sum);
    if (comm_exact_reduce(&r->sum) < 0 || train_check_summed(&r->sum, step) < 0)
        return RL_ERR;
    comm_exact_read(&r->sum, 0, r->model.grads, p, RL_FIXED_FRAC_BITS);
    rl_opt_step(&r->opt, r->model.params, r->model.grads);
    r->epoch_loss += comm_exact_raw(&r->sum, p);
    return 0;
}

static int loop_step(rl_run *run, void *ctx, int64_t step) {
    lm_run *r = ctx;
    if (r->started == 0.0) {
        r->started = rl_now();
        r->first_step = step;
    }
    if (train_step(r, step) < 0)
        return RL_ERR;
    if ((step + 1) % r->batches.per_epoch != 0)
        return 0;
    double valid_loss;
    if (lm_evaluate(&r->chunks, &r->valid, r->valid_limit, &valid_loss) < 0)
        return RL_ERR;
    double epoch_tokens = (double)r->train.n * r->train.len;
    rl_run_set(run, "epoch", (double)((step + 1) / r->batches.per_epoch));
    rl_run_set(run, "train_loss",
               (double)comm_fixed_to_float(r->epoch_loss, RL_FIXED_SUM_FRAC_BITS) / epoch_tokens);
    rl_run_set(run, "valid_loss", valid_loss);
    rl_run_set(run, "valid_ppl", exp(valid_loss));
    rl_run_set(run, "unigram_ppl", exp(r->unigram_loss));
    rl_run_set(run, "tokens", (double)(step + 1) * r->batches.batch * r->train.len);
    r->epoch_loss = 0;
    return rl_run_record(run, step + 1);
}

static int loop_save(rl_run *run, void *ctx, io_ckpt *c, int64_t next) {
    (void)run;
    (void)next;
    lm_run *r = ctx;
    return dp_state_save(c, "", r->model.params, &r->opt, r->model.n_params, r->epoch_loss);
}

static int loop_load(rl_run *run, void *ctx, io_ckpt *c, int64_t *next) {
    (void)run;
    (void)next;
    lm_run *r = ctx;
    return dp_state_load(c, "", r->model.params, &r->opt, r->model.n_params, &r->epoch_loss);
}

static void loop_describe(rl_run *run, void *ctx, int64_t step, char *out, size_t n) {
    const lm_run *r = ctx;
    double seconds = rl_now() - r->started;
    double tokens = (double)(step + 1 - r->first_step) * r->batches.batch * r->train.len;
    char ppl[32];
    snprintf(out, n, "epoch %lld | valid ppl %s (unigram %.1f) | %.0f tokens/s",
             (long long)(step / r->batches.per_epoch + 1),
             rl_run_last_text(run, "valid_ppl", ppl, sizeof ppl), exp(r->unigram_loss),
             seconds > 0.0 ? tokens / seconds : 0.0);
}

/* Logs lm.samples continuations, each of the first lm.prompt_tokens tokens of a validation
 * gloss (glosses spread over the split), on rank 0. */
static void log_samples(lm_run *r, uint64_t seed) {
    const rl_config *cfg = r->cfg;
    int samples = (int)rl_cfg_int(cfg, "lm.samples"),
        want = (int)rl_cfg_int(cfg, "lm.prompt_tokens");
    int n_new = (int)rl_cfg_int(cfg, "lm.sample_tokens");
    double temperature = rl_cfg_float(cfg, "lm.temperature");
    if (comm_rank() != 0 || samples == 0)
        return;
    int32_t *out = rl_xmalloc(sizeof(int32_t) * (size_t)(want + n_new));
    size_t text_size = (size_t)(want + n_new) * 64 + 1;
    char *prompt_text = rl_xmalloc(text_size), *text = rl_xmalloc(text_size);
    rl_log_info("samples (temperature %g; prompt | continuation):", temperature);
    for (int s = 0; s < samples; s++) {
        int64_t e = (int64_t)s * r->valid_seqs.n / samples;
        const int32_t *gloss = r->valid_seqs.ids + r->valid_seqs.start[e];
        int64_t len = r->valid_seqs.start[e + 1] - r->valid_seqs.start[e] - 1; // without the end
        int n_prompt = len < want ? (int)len : want;
        if (n_prompt < 1)
            continue;
        int n = lm_generate(&r->model, &r->chunks.ws, gloss, n_prompt, n_new, rl_bpe_eot(&r->tok),
                            temperature, rl_rng_make(seed, RL_RNG_TEXT_SAMPLE), (uint32_t)s, out);
        if (rl_bpe_decode(&r->tok, out, n_prompt, prompt_text, text_size) >= 0 &&
            rl_bpe_decode(&r->tok, out + n_prompt, n - n_prompt, text, text_size) >= 0) {
            rl_utf8_printable(prompt_text);
            rl_utf8_printable(text);
            rl_log_info("  %s | %s", prompt_text, text);
        }
    }
    free(out);
    free(prompt_text);
    free(text);
}

static int write_final(rl_run *run, lm_run *r) {
    int rc = rl_run_final(run, "train_loss", rl_run_last(run, "train_loss"));
    rc = rc ? rc : rl_run_final(run, "valid_loss", rl_run_last(run, "valid_loss"));
    rc = rc ? rc : rl_run_final(run, "valid_ppl", rl_run_last(run, "valid_ppl"));
    rc = rc ? rc : rl_run_final(run, "unigram_ppl", exp(r->unigram_loss));
    rc = rc ? rc : rl_run_final(run, "steps", (double)r->total_steps);
    rc = rc ? rc : rl_run_final(run, "vocab_size", (double)r->tok.vocab_size);
    rc = rc ? rc
            : rl_run_final_array(run, "params", r->model.params, (int64_t)r->model.n_params,
                                 "model", r->model.spec);
    rc = rc ? rc : vocab_final(run, &r->tok);
    if (rc == 0)
        rl_log_info("lm-pretrain: validation perplexity %.2f (unigram %.2f), train loss %.4f "
                    "after %.0f epochs (%lld steps, %.0f s)",
                    rl_run_last(run, "valid_ppl"), exp(r->unigram_loss),
                    rl_run_last(run, "train_loss"), rl_run_last(run, "epoch"),
                    (long long)r->total_steps, rl_run_elapsed(run));
    log_samples(r, rl_run_seed(run));
    return rc;
}

static int lm_pretrain_run(rl_run *run) {
    lm_run r;
    memset(&r, 0, sizeof r);
    int rc = comm_agree_error(prepare(run, &r));
    rc = rc ? rc : rl_run_start(run, metric_names, sizeof metric_names / sizeof metric_names[0]);
    if (rc == 0) {
        rl_loop loop = {.total = r.total_steps,
                        .step = loop_step,
                        .save = loop_save,
                        .load = loop_load,
                        .describe = loop_describe};
        rc = rl_run_loop(run, &loop, &r);
    }
    if (rc == 0)
        rc = comm_agree_error(write_final(run, &r));
    lm_free(&r);
    return rc;
}

static const rl_experiment rl_experiment_lm_pretrain = {
    .name = "lm-pretrain",
    .summary = "first-order data-parallel pretraining of a small decoder on WordNet glosses",
    .doc = "Learns a byte-level BPE tokenizer (text.vocab_size) on the training glosses of\n"
           "WordNet (data.text_*) -- with data.text_sources=wordnet,fortunes also on the entries\n"
           "of Debian's fortunes (data.fortunes_dir; apt-get install fortunes), each one\n"
           "document split by a hash of its text -- then trains model.spec (gpt:L-D-H-T) with Adam "
           "on windows of\n"
           "T tokens for train.epochs epochs. Each batch of train.batch windows is cut into\n"
           "chunks of train.chunk windows that the ranks share; gradients are summed in fixed\n"
           "point, so results are bit-identical on any number of ranks and under resume.\n"
           "Metrics per epoch: train_loss, valid_loss and valid_ppl (per token), unigram_ppl\n"
           "(the unigram model's validation perplexity), tokens trained. The progress line shows\n"
           "tokens/s. Finals: /arrays/params (the model) and /arrays/tokenizer_merges (the\n"
           "vocabulary, for a fine-tuning run); lm.samples continuations are logged.",
    .default_ini = rl_ini_lm_pretrain,
    .declare = lm_declare,
    .check = lm_check,
    .run = lm_pretrain_run,
};

RL_EXPERIMENT(rl_experiment_lm_pretrain)
