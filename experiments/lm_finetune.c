/* Experiment `lm-finetune`: fine-tuning a pretrained decoder (a finished `lm-pretrain` run,
 * init.from) on prompt classification of held-out WordNet glosses, as MeZO and ZOQO fine-tune a
 * language model on SST-2: "<gloss> This is about a(n) <label word>", the model scores each
 * class's label word (src/train/prompt.h), prediction = argmax, loss = cross-entropy over the
 * label words' log-likelihoods.
 *
 * Data: only glosses the pretraining never saw: its test split (data.test_fraction, checked
 * against the pretraining run's), cut in two by the same hash: entries whose hash lies in the
 * lower half of the test range are the fine-tuning test set (the first ft.test_per_class of each
 * category in file order, the same for every seed and arm), the upper half the pool the K-shot
 * training set (ft.shots per category, drawn with the run's seed) comes from.
 *
 * Arms (ft.arm; one per run), all on LoRA adapters of the matrices ft.lora_targets lists (default
 * the attention's q and v projections; also k, o and the MLP's fc1, fc2) in every block over a
 * frozen base, from the same start: zeroshot (no update), lora (first order, Adam), mezo (MeZO,
 * fp32), sign (fp32 ZO-SignSGD), zoqoB (ZOQO as the paper: the base's linear layers quantized
 * at B bits per output row, the adapters B-bit codes, perturbations and steps in codes, q =
 * zo.perturbations) and qatB (quantization-aware training of the same quantized adapters with the
 * clipped straight-through gradient, Adam on float masters). The zero-order arms spend
 * 2 · zo.perturbations forward passes on a batch per step; the ranks split the perturbations
 * (or the batch) and exchange two fixed-point losses each (src/train/zo.h), so results are
 * bit-identical on any number of ranks and under resume.
 *
 * ZOQO's forward is integer where the paper quantizes operations (src/nn/qtransformer.h): q, k,
 * v, o and the MLP's two matrices as int8 GEMMs (kernels/int8) of B-bit weight codes and int8
 * inputs (scales calibrated on training prompts), the adapters as int8 products too; softmax,
 * layer norm, GELU, the attention's scores and weighted sums, the embeddings, the tied LM head,
 * biases and the residual stream stay float. QAT computes in float on the same grid values
 * (its straight-through backward needs the float graph).
 *
 * Metrics (every ft.eval_every steps and before the first): test accuracy and loss, forward
 * passes on a batch so far. Finals: start and final accuracy, queries, trainable numbers and
 * their bytes, peak resident memory of the arm (VmHWM from the arm's start) and the memory of
 * its updates (that peak less what was resident before: the data and the fp32 model). */
#include "src/comm/comm.h"
#include "src/core/digest.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/core/mem.h"
#include "src/core/rng.h"
#include "src/data/corpus.h"
#include "src/io/io.h"
#include "src/nn/lora.h"
#include "src/nn/nn.h"
#include "src/nn/qmodel.h"
#include "src/nn/qtransformer.h"
#include "src/nn/transformer.h"
#include "src/run/run.h"
#include "src/train/base_model.h"
#include "src/train/chunks.h"
#include "src/train/dp.h"
#include "src/train/prompt.h"
#include "src/train/vocab.h"
#include "src/train/zo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char rl_ini_lm_finetune[];

static const rl_cfg_spec ft_keys[] = {
    {"ft.arm", RL_CFG_CHOICE, "zoqo8", 0, -1, "zeroshot|lora|mezo|sign|zoqo8|zoqo4|qat8|qat4", 0,
     "how the adapters are trained: zeroshot (not at all), lora (first order, Adam), mezo, sign "
     "(fp32 ZO-SignSGD), zoqoB (ZOQO, base and adapters at B bits), qatB (quantization-aware, "
     "straight-through)"},
    {"ft.template", RL_CFG_STRING, "This is about a(n)", 0, -1, NULL, 0,
     "text between the gloss and the label word (\"<gloss> TEMPLATE <label>\")"},
    {"ft.labels", RL_CFG_STRING, "", 0, -1, NULL, 0,
     "comma list of label words, one per category of data.categories in that order (empty: "
     "each category's name after the dot, e.g. animal)"},
    {"ft.shots", RL_CFG_INT, "16", 1, 1e6, NULL, 0,
     "training examples per category, drawn with the run's seed from the fine-tuning pool"},
    {"ft.test_per_class", RL_CFG_INT, "50", 1, 1e6, NULL, 0,
     "test examples per category (the first of the fine-tuning test half, in file order)"},
    {"ft.max_text_tokens", RL_CFG_INT, "32", 1, 4096, NULL, 0,
     "gloss tokens kept (the first ones; fewer when the context needs it)"},
    {"ft.steps", RL_CFG_INT, "150", 1, 1e9, NULL, 0, "update steps (zeroshot: none)"},
    {"ft.batch", RL_CFG_INT, "8", 1, 1e6, NULL, 0, "training examples per step"},
    {"ft.eval_every", RL_CFG_INT, "50", 1, 1e9, NULL, 0, "steps between test evaluations"},
    {"ft.lr", RL_CFG_FLOAT, "0.001", 0, 10, NULL, 0, "Adam step of the lora and qatB arms"},
    {"ft.lora_rank", RL_CFG_INT, "8", 1, 256, NULL, 0, "rank of the adapters"},
    {"ft.lora_targets", RL_CFG_STRING, "q,v", 0, -1, NULL, RL_CFG_ID_IF_CHANGED,
     "comma list of the matrices of every block that get adapters, among q, k, v, o (attention) "
     "and fc1, fc2 (MLP), e.g. q,v,fc1,fc2"},
    {"ft.lora_range", RL_CFG_FLOAT, "1", 1e-6, 100, NULL, 0,
     "quantized adapters' B entries live in [-range, range] (A's in ±1/sqrt(fan-in))"},
};

static void ft_declare(rl_config *cfg) {
    rl_declare_common_config(cfg);
    rl_corpus_declare_config(cfg);
    train_chunks_declare_config(cfg);
    base_model_declare_config(cfg, 0);
    zo_declare_config(cfg);
    rl_cfg_declare(cfg, ft_keys, sizeof ft_keys / sizeof ft_keys[0]);
}

static const char *const metric_names[] = {"test_acc", "test_loss", "queries"};

typedef enum { FT_ZEROSHOT, FT_LORA, FT_MEZO, FT_SIGN, FT_ZOQO, FT_QAT } ft_kind;

typedef struct {
    const rl_config *cfg;
    uint64_t seed;
    const char *arm;
    ft_kind kind;
    int bits, qmax; /* zoqoB, qatB: B and 2^(B-1) - 1 */
    rl_bpe tok;
    prompt_task task;
    prompt_set train, test;
    int64_t *identity; /* 0, 1, 2, ... (the test set's order) */
    rl_transformer model;
    rl_lora_target targets[RL_TF_MATRICES_PER_BLOCK * RL_TF_MAX_LAYERS]; /* ft.lora_targets */
    int n_targets;
    /* the arm (allocated when it starts, so its memory is measured) */
    int chunk;
    rl_transformer_ws ws;
    int32_t *seqs;      /* (chunk · C, max_len) */
    int *first, *last;  /* (chunk · C) the positions the prompt loss reads */
    float *d_logits;    /* first order: (chunk · C · max_len, vocab) */
    rl_lora lora;       /* lora.params: the adapters' values the model computes with */
    rl_qtransformer qt; /* zoqoB: the integer forward */
    size_t n;           /* trainable numbers */
    float *code_step;   /* (n) value of one code (quantized arms; sign's 8-bit step) */
    int8_t *codes;      /* zoqoB: the trained codes */
    float *master;      /* qatB: float masters of the codes */
    rl_optimizer opt;   /* lora, qatB */
    zo_state zo;
    comm_exact sum; /* first order: (n + 1) gradient and loss; zero order: my part of a loss */
    float *grad;    /* first order: (n) */
    train_batches batches;
    const int64_t *batch_idx;
    int bsz, eval_every;
    int64_t steps, queries, start_kb;
} ft_run;

static void arm_free(ft_run *f) {
    rl_transformer_ws_free(&f->ws);
    free(f->seqs);
    free(f->first);
    free(f->last);
    free(f->d_logits);
    rl_lora_free(&f->lora);
    rl_qtransformer_free(&f->qt);
    free(f->code_step);
    free(f->codes);
    free(f->master);
    rl_opt_free(&f->opt);
    zo_free(&f->zo);
    comm_exact_free(&f->sum);
    free(f->grad);
}

static void ft_free(ft_run *f) {
    arm_free(f);
    rl_bpe_free(&f->tok);
    prompt_task_free(&f->task);
    prompt_set_free(&f->train);
    prompt_set_free(&f->test);
    free(f->identity);
    rl_transformer_free(&f->model);
    train_batches_free(&f->batches);
}

/* ---- the pretrained model, its tokenizer and the data ---- */

/* The decoder and tokenizer of the finished lm-pretrain run init.from, checked to have split
 * the glosses as this run does. */
static int load_pretrained(ft_run *f) {
    /* Keys the shared declarations bring that lm-finetune does not read: a value set for one
     * would change the run id and nothing else. */
    static const char *const unread[][2] = {
        {"text.vocab_size", "the tokenizer is the pretraining run's (init.from)"},
        {"zo.lr_sgd", "lm-finetune has no sgd arm; ft.lr is the lora and qat arms' rate"},
    };
    for (size_t k = 0; k < sizeof unread / sizeof unread[0]; k++)
        if (!rl_cfg_is_default(f->cfg, unread[k][0]))
            return rl_fail("%s is not used by lm-finetune: %s", "leave it out", unread[k][0],
                           unread[k][1]);
    const char *dir = rl_cfg_str(f->cfg, "init.from");
    if (!dir[0])
        return rl_fail("lm-finetune starts from a finished lm-pretrain run, and init.from is empty",
                       "set init.from=runs/lm-pretrain-ID (a run directory)");
    char path[4096];
    snprintf(path, sizeof path, "%s/results.h5", dir);
    io_results_info info;
    if (io_results_check(path, &info) < 0)
        return rl_fail_context("init.from=%s", dir);
    if (strcmp(info.experiment, "lm-pretrain") != 0)
        return rl_fail("init.from=%s is a run of %s, not of lm-pretrain",
                       "set init.from=runs/lm-pretrain-ID (a finished lm-pretrain run)", dir,
                       info.experiment);
    if (strcmp(info.status, "complete") != 0)
        return rl_fail("init.from=%s: the run is %s, not complete",
                       "finish the pretraining run first (running it again resumes it)", dir,
                       info.status);
    static char config_text[65536];
    if (io_results_read_attr(path, "/", "config_text", config_text, sizeof config_text) < 0)
        return rl_fail_hint("init.from must be the directory of a finished lm-pretrain run");
    static const char *const split_keys[] = {"data.test_fraction", "data.valid_fraction"};
    for (int k = 0; k < 2; k++) { /* its line "KEY = VALUE" */
        char line[64];
        snprintf(line, sizeof line, "%s = ", split_keys[k]);
        const char *at = strstr(config_text, line);
        double used = at ? strtod(at + strlen(line), NULL) : NAN;
        if (used != rl_cfg_float(f->cfg, split_keys[k]))
            return rl_fail("%s=%g, and the pretraining run init.from=%s used %g",
                           "set it as the pretraining did, so that the fine-tuning data are "
                           "glosses it never saw",
                           split_keys[k], rl_cfg_float(f->cfg, split_keys[k]), dir, used);
    }
    if (vocab_load(path, &f->tok) < 0)
        return rl_fail_context("init.from");
    float *params = NULL;
    size_t n = 0;
    char spec[128];
    if (io_results_read_array_f32(path, "params", &params, &n, "model", spec, sizeof spec) < 0)
        return rl_fail_hint("init.from must be the directory of a finished lm-pretrain run");
    int rc = rl_transformer_init(&f->model, spec, f->tok.vocab_size);
    if (rc == 0 && n != f->model.n_params)
        rc = rl_fail("init.from=%s holds %zu parameters, and model %s has %zu",
                     "the file may be damaged", dir, n, spec, f->model.n_params);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (!isfinite(params[i]))
            rc = rl_fail("init.from=%s: parameter %zu of its model is %g",
                         "the pretraining diverged or the file was edited: pretrain again", dir, i,
                         (double)params[i]);
    if (rc == 0)
        memcpy(f->model.params, params, sizeof(float) * n);
    free(params);
    return rc < 0 ? rl_fail_context("init.from") : 0;
}

/* The prompt task: data.categories in order, their label words, the template. class_of maps a
 * category id to its class (-1: none). */
static int make_task(ft_run *f, int class_of[RL_CORPUS_CATEGORIES]) {
    const rl_config *cfg = f->cfg;
    if (!strcmp(rl_cfg_str(cfg, "data.categories"), "all"))
        return rl_fail("lm-finetune classifies glosses into data.categories, and it is 'all'",
                       "name 2 to 16 categories, e.g. data.categories=animal,artifact,food,plant");
    char **names = NULL, **labels = NULL;
    int n = 0, n_labels = 0,
        rc = rl_cfg_list(cfg, "data.categories", PROMPT_MAX_CLASSES, &names, &n);
    const char *words[PROMPT_MAX_CLASSES];
    for (int i = 0; i < RL_CORPUS_CATEGORIES; i++)
        class_of[i] = -1;
    for (int c = 0; rc == 0 && c < n; c++) {
        int id = rl_corpus_category_id(names[c]);
        if (id < 0 || class_of[id] >= 0)
            rc = rl_fail("data.categories: '%s' is %s", "name each category once, e.g. animal",
                         names[c], id < 0 ? "not a category" : "given twice");
        else {
            class_of[id] = c;
            const char *name = rl_corpus_category_name(id), *dot = strchr(name, '.');
            words[c] = dot ? dot + 1 : name;
        }
    }
    if (rc == 0 && rl_cfg_str(cfg, "ft.labels")[0]) {
        rc = rl_cfg_list(cfg, "ft.labels", PROMPT_MAX_CLASSES, &labels, &n_labels);
        if (rc == 0 && n_labels != n)
            rc = rl_fail("ft.labels has %d words for %d categories",
                         "give one label word per category of data.categories, in its order",
                         n_labels, n);
        for (int c = 0; rc == 0 && c < n; c++)
            words[c] = labels[c];
    }
    if (rc == 0)
        rc = prompt_task_init(&f->task, &f->tok, rl_cfg_str(cfg, "ft.template"), words, n,
                              f->model.context, (int)rl_cfg_int(cfg, "ft.max_text_tokens"));
    rl_cfg_list_free(names, n);
    rl_cfg_list_free(labels, n_labels);
    return rc;
}

/* The gloss of corpus entry e as example i of s. */
static void put_gloss(ft_run *f, const rl_corpus *corpus, int64_t e, prompt_set *s, int64_t i,
                      int label, int32_t *ids) {
    int64_t n = rl_bpe_encode(&f->tok, rl_corpus_gloss(corpus, e), corpus->entries[e].len, ids);
    prompt_set_put(s, i, ids, n, label);
}

/* The test set and the seed's K-shot training set (see the top of the file). */
static int make_sets(ft_run *f, const rl_corpus *corpus, const int class_of[]) {
    const int C = f->task.n_classes;
    int64_t shots = rl_cfg_int(f->cfg, "ft.shots"),
            per_test = rl_cfg_int(f->cfg, "ft.test_per_class");
    double half = rl_cfg_float(f->cfg, "data.test_fraction") / 2;
    int64_t *pool = rl_xmalloc(sizeof(int64_t) * (size_t)(corpus->n ? corpus->n : 1));
    int64_t *test_of = rl_xmalloc(sizeof(int64_t) * (size_t)C * (size_t)per_test);
    int64_t n_pool[PROMPT_MAX_CLASSES] = {0}, n_test[PROMPT_MAX_CLASSES] = {0}, at = 0;
    int64_t pool_start[PROMPT_MAX_CLASSES + 1];
    uint32_t longest = 1;
    /* pool entries grouped by class: count, then place */
    for (int pass = 0; pass < 2; pass++) {
        for (int c = 0, sum = 0; pass == 1 && c <= C; c++) {
            pool_start[c] = sum;
            sum += c < C ? (int)n_pool[c] : 0;
            if (c < C)
                n_pool[c] = 0;
        }
        for (int64_t e = 0; e < corpus->n; e++) {
            const rl_corpus_entry *en = &corpus->entries[e];
            int c = class_of[en->category];
            if (en->split != RL_SPLIT_TEST || c < 0)
                continue;
            longest = en->len > longest ? en->len : longest;
            if (rl_corpus_split_of(en->pos, en->synset_offset, 0.0, half) == RL_SPLIT_TEST) {
                if (pass == 0 && n_test[c] < per_test)
                    test_of[c * per_test + n_test[c]++] = e;
            } else if (pass == 1)
                pool[pool_start[c] + n_pool[c]++] = e;
            else
                n_pool[c]++;
        }
    }
    int rc = 0;
    for (int c = 0; rc == 0 && c < C; c++)
        if (n_test[c] < per_test || n_pool[c] < shots)
            rc = rl_fail("category %d of data.categories has %lld test glosses and %lld to draw "
                         "training glosses from, fewer than ft.test_per_class=%lld or "
                         "ft.shots=%lld",
                         "lower ft.test_per_class or ft.shots, or raise data.test_fraction in "
                         "the pretraining and here",
                         c + 1, (long long)n_test[c], (long long)n_pool[c], (long long)per_test,
                         (long long)shots);
    if (rc == 0) {
        int32_t *ids = rl_xmalloc(sizeof(int32_t) * longest);
        prompt_set_init(&f->test, &f->task, C * per_test);
        prompt_set_init(&f->train, &f->task, C * shots);
        rl_rng rng = rl_rng_make(f->seed, RL_RNG_FEW_SHOT);
        for (int c = 0; c < C; c++) {
            for (int64_t i = 0; i < per_test; i++)
                put_gloss(f, corpus, test_of[c * per_test + i], &f->test, at++, c, ids);
            int64_t *from = pool + pool_start[c];
            for (int64_t j = 0; j < shots; j++) { /* partial Fisher-Yates: draw j */
                int64_t k = j + (int64_t)rl_rng_below(rng, (uint32_t)c, (uint32_t)j,
                                                      (uint64_t)(n_pool[c] - j));
                int64_t e = from[k];
                from[k] = from[j];
                from[j] = e;
                put_gloss(f, corpus, e, &f->train, c * shots + j, c, ids);
            }
        }
        free(ids);
    }
    free(pool);
    free(test_of);
    return rc;
}

static int load_data(ft_run *f) {
    rl_corpus corpus;
    int class_of[RL_CORPUS_CATEGORIES];
    if (rl_corpus_load(f->cfg, &corpus) < 0)
        return RL_ERR;
    int rc = make_task(f, class_of);
    rc = rc ? rc : make_sets(f, &corpus, class_of);
    rl_corpus_free(&corpus);
    return rc;
}

static int parse_arm(ft_run *f) {
    const char *arm = f->arm = rl_cfg_str(f->cfg, "ft.arm");
    static const struct {
        const char *prefix;
        ft_kind kind;
    } kinds[] = {{"zeroshot", FT_ZEROSHOT}, {"lora", FT_LORA}, {"mezo", FT_MEZO},
                 {"sign", FT_SIGN},         {"zoqo", FT_ZOQO}, {"qat", FT_QAT}};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        if (!strncmp(arm, kinds[k].prefix, strlen(kinds[k].prefix))) {
            f->kind = kinds[k].kind;
            f->bits = atoi(arm + strlen(kinds[k].prefix));
            f->qmax = f->bits > 1 ? (1 << (f->bits - 1)) - 1 : 0;
            return 0;
        }
    return rl_fail("unknown arm '%s'", "see ranklab help lm-finetune", arm);
}

/* The arm's workspace: first-order arms keep activations for a backward, the others forward
 * only (one block's activations). */
static rl_tf_ws_kind ws_kind(const ft_run *f) {
    return f->kind == FT_LORA || f->kind == FT_QAT ? RL_TF_TRAINING : RL_TF_FORWARD_ONLY;
}

/* Everything from the config, before anything is written. */
static int prepare(rl_run *run, ft_run *f) {
    const rl_config *cfg = f->cfg = rl_run_config(run);
    f->seed = rl_run_seed(run);
    f->chunk = (int)rl_cfg_int(cfg, "train.chunk");
    f->bsz = (int)rl_cfg_int(cfg, "ft.batch");
    f->eval_every = (int)rl_cfg_int(cfg, "ft.eval_every");
    if (parse_arm(f) < 0 || load_pretrained(f) < 0)
        return RL_ERR;
    f->n_targets = rl_lora_transformer_targets(&f->model, rl_cfg_str(cfg, "ft.lora_targets"),
                                               "ft.lora_targets", f->targets);
    if (f->n_targets < 0 || load_data(f) < 0)
        return RL_ERR;
    f->steps = f->kind == FT_ZEROSHOT ? 0 : rl_cfg_int(cfg, "ft.steps");
    if (f->bsz > f->train.n)
        return rl_fail("ft.batch=%d is more than the %lld training examples",
                       "lower ft.batch or raise ft.shots", f->bsz, (long long)f->train.n);
    const int C = f->task.n_classes;
    uint64_t rows = (uint64_t)f->chunk * (uint64_t)C * (uint64_t)f->task.max_len;
    uint64_t bytes =
        rl_size_add(rl_transformer_ws_bytes(&f->model, f->chunk * C, ws_kind(f)),
                    rl_size_mul(rows, sizeof(int32_t) + sizeof(float) * (uint64_t)f->model.vocab));
    if (rl_mem_check(bytes, "model %s on chunks of %d examples of %d classes", f->model.spec,
                     f->chunk, C) < 0)
        return rl_fail_hint("lower train.chunk");
    train_batches_init(&f->batches, f->train.n, f->bsz, f->seed);
    int64_t most = f->test.n > f->train.n ? f->test.n : f->train.n;
    f->identity = rl_xmalloc(sizeof(int64_t) * (size_t)most);
    for (int64_t i = 0; i < most; i++)
        f->identity[i] = i;
    rl_run_add_input(run,
                     "lm-pretrain run %s (%s, %zu parameters, crc32 %08x; tokenizer %d merges, "
                     "crc32 %08x); wordnet glosses of its test split: "
                     "%lld training (%lld per category, seed %llu), %lld test",
                     rl_cfg_str(cfg, "init.from"), f->model.spec, f->model.n_params,
                     rl_crc32(0, f->model.params, sizeof(float) * f->model.n_params),
                     f->tok.n_merges,
                     rl_crc32(0, f->tok.merges, sizeof(int32_t) * 2 * (size_t)f->tok.n_merges),
                     (long long)f->train.n, (long long)rl_cfg_int(cfg, "ft.shots"),
                     (unsigned long long)f->seed, (long long)f->test.n);
    rl_log_info("lm-finetune: arm %s, %s, %d classes, %lld training and %lld test glosses, "
                "sequences up to %d tokens (template %d)",
                f->arm, f->model.spec, C, (long long)f->train.n, (long long)f->test.n,
                f->task.max_len, f->task.template_len);
    return 0;
}

/* ---- the arm ---- */

/* out = the grid value of x: round(x / step) clamped to ±qmax, times step (element-wise). */
static void snap(const float *x, const float *step, size_t n, int qmax, float *out) {
    for (size_t i = 0; i < n; i++) {
        int8_t code;
        rl_quant_codes(x + i, 1, step[i], qmax, &code);
        out[i] = (float)code * step[i];
    }
}

/* The value of one code of each adapter number at qmax: A's ±1/sqrt(fan-in), B's ±range. */
static void code_steps(const rl_lora *lora, int qmax, float range, float *step) {
    for (int k = 0; k < lora->n_adapted; k++) {
        const rl_lora_target *t = &lora->adapters[k].target;
        size_t na = (size_t)lora->rank * t->cols, nb = (size_t)t->rows * lora->rank;
        for (size_t i = 0; i < na; i++)
            step[lora->adapters[k].a_off + i] = rl_lora_a_bound(t->cols) / (float)qmax;
        for (size_t i = 0; i < nb; i++)
            step[lora->adapters[k].b_off + i] = range / (float)qmax;
    }
}

/* The model computes with the adapters' values of the moment: lora.params from the arm's
 * trainable numbers (params: the codes or floats being evaluated), written into the model. */
static void sync_model(ft_run *f, const void *params) {
    if (f->kind == FT_ZEROSHOT)
        return;
    if (f->kind == FT_ZOQO) { /* the integer forward reads the codes */
        f->qt.adapter_codes = params;
        return;
    }
    if (f->kind == FT_QAT)
        snap(f->master, f->code_step, f->n, f->qmax, f->lora.params);
    rl_lora_apply_params(&f->lora, f->model.params);
}

/* The integer forward's activation scales, from a float forward of the sequences of ft.chunk
 * training examples spread over the set (the same on every rank). */
static void calibrate(ft_run *f) {
    int64_t idx[64];
    int m = f->chunk < 64 ? f->chunk : 64;
    for (int j = 0; j < m; j++)
        idx[j] = (int64_t)j * f->train.n / m;
    rl_lora_apply_params(&f->lora, f->model.params);
    int len = prompt_fill(&f->task, &f->train, idx, m, f->seqs);
    rl_qtransformer_calibrate(&f->qt, &f->model, &f->ws, f->seqs, m * f->task.n_classes, len);
}

/* The adapters on q and v, and what the arm trains. */
static int arm_init(ft_run *f) {
    const int C = f->task.n_classes;
    size_t rows = (size_t)f->chunk * C * (size_t)f->task.max_len;
    if (rl_transformer_ws_init(&f->ws, &f->model, f->chunk * C, ws_kind(f)) < 0)
        return RL_ERR;
    f->seqs = rl_xmalloc(sizeof(int32_t) * rows);
    f->first = rl_xmalloc(sizeof(int) * (size_t)f->chunk * C);
    f->last = rl_xmalloc(sizeof(int) * (size_t)f->chunk * C);
    if (f->kind == FT_ZEROSHOT)
        return 0;
    if (f->kind == FT_ZOQO || f->kind == FT_QAT) { /* the base on its grid (model.params too) */
        if (rl_qtransformer_init(&f->qt, &f->model, f->bits, f->kind == FT_ZOQO ? (int)rows : 0) <
            0)
            return RL_ERR;
        if (f->kind == FT_QAT) /* QAT computes in float on the grid values */
            rl_qtransformer_free(&f->qt);
    }
    if (rl_lora_init_targets(&f->lora, f->model.params, f->model.n_params, f->targets, f->n_targets,
                             (int)rl_cfg_int(f->cfg, "ft.lora_rank"), f->seed, f->model.spec) < 0)
        return RL_ERR;
    size_t n = f->n = f->lora.n_params;
    float range = (float)rl_cfg_float(f->cfg, "ft.lora_range");
    if (f->kind == FT_ZOQO || f->kind == FT_QAT || f->kind == FT_SIGN) {
        f->code_step = rl_xmalloc(sizeof(float) * n);
        code_steps(&f->lora, f->kind == FT_SIGN ? 127 : f->qmax, range, f->code_step);
    }
    if (f->kind == FT_LORA || f->kind == FT_QAT) {
        f->d_logits = rl_xmalloc(sizeof(float) * rows * (size_t)f->model.vocab);
        f->grad = rl_xmalloc(sizeof(float) * n);
        comm_exact_init(&f->sum, n + 1);
        if (f->kind == FT_QAT) { /* masters start at the adapters' grid values */
            f->master = rl_xmalloc(sizeof(float) * n);
            snap(f->lora.params, f->code_step, n, f->qmax, f->master);
        }
        return rl_opt_init(&f->opt, RL_OPT_ADAM, n, (float)rl_cfg_float(f->cfg, "ft.lr"), 0.0f,
                           0.0f);
    }
    zo_options o;
    zo_method method = f->kind == FT_ZOQO ? ZO_ZOQO : f->kind == FT_SIGN ? ZO_SIGN : ZO_MEZO;
    zo_options_from_config(&o, f->cfg, method, f->seed);
    void *params = f->lora.params;
    if (f->kind == FT_ZOQO) {
        o.qmax = f->qmax;
        f->codes = rl_xmalloc(n);
        for (size_t i = 0; i < n; i++) { /* A's values to codes (B is 0), and back */
            rl_quant_codes(f->lora.params + i, 1, f->code_step[i], f->qmax, f->codes + i);
            f->lora.params[i] = (float)f->codes[i] * f->code_step[i];
        }
        params = f->codes;
        if (rl_qtransformer_adapters(&f->qt, &f->lora, f->qmax, range) < 0)
            return RL_ERR;
        calibrate(f);
        rl_qtransformer_attach(&f->qt, &f->model);
    } else if (f->kind == FT_SIGN && o.lr == 0.0f) { /* one 8-bit code of each number */
        o.lr = 1.0f;
        o.lr_scale = f->code_step;
    }
    comm_exact_init(&f->sum, 1);
    return zo_init(&f->zo, &o, params, n);
}

/* Forward of examples idx[0..m) of s: their loss sum; correct answers added to *correct; the
 * gradient of scale · loss into f->d_logits, and the activations for a backward, when d_logits.
 * *len: the sequences' length. */
static double chunk_loss(ft_run *f, const prompt_set *s, const int64_t *idx, int m, float scale,
                         int d_logits, int64_t *correct, int *len) {
    *len = prompt_fill(&f->task, s, idx, m, f->seqs);
    int n_seq = m * f->task.n_classes;
    prompt_rows(&f->task, s, idx, m, f->first, f->last);
    const float *logits =
        d_logits ? rl_transformer_forward_train(&f->model, &f->ws, f->seqs, n_seq, *len)
                 : rl_transformer_forward_rows(&f->model, &f->ws, f->seqs, n_seq, *len, f->first,
                                               f->last);
    return prompt_loss(&f->task, s, idx, m, *len, logits, f->model.vocab, scale,
                       d_logits ? f->d_logits : NULL, NULL, correct);
}

/* Collective: test loss (mean) and accuracy of the model as it is. */
static int evaluate(ft_run *f, double *loss, double *acc) {
    int64_t lo, hi, correct = 0;
    int len;
    comm_chunk_range(f->test.n, f->chunk, &lo, &hi);
    comm_exact e;
    comm_exact_init(&e, 2);
    for (int64_t start = lo; start < hi; start += f->chunk) {
        int m = (int)(start + f->chunk <= hi ? f->chunk : hi - start);
        float l = (float)chunk_loss(f, &f->test, f->identity + start, m, 0.0f, 0, &correct, &len);
        comm_exact_add(&e, 0, &l, 1, RL_FIXED_SUM_FRAC_BITS);
    }
    comm_exact_count(&e, 1, correct);
    int rc = comm_exact_reduce(&e);
    *loss = comm_exact_saturated(&e) ? NAN
                                     : comm_exact_value(&e, 0, RL_FIXED_SUM_FRAC_BITS) / f->test.n;
    *acc = (double)comm_exact_raw(&e, 1) / (double)f->test.n;
    comm_exact_free(&e);
    return rc;
}

/* zo_loss_fn: Σ over the batch's chunks this rank evaluates of (chunk loss / batch). */
static int64_t batch_loss(void *ctx, const void *params) {
    ft_run *f = ctx;
    sync_model(f, params);
    int64_t n_chunks = (f->bsz + f->chunk - 1) / f->chunk, lo = 0, hi = n_chunks;
    if (f->zo.opt.split_data)
        comm_block_range(n_chunks, comm_size(), comm_rank(), &lo, &hi);
    comm_exact_zero(&f->sum);
    int len;
    for (int64_t k = lo; k < hi; k++) {
        int64_t start = k * f->chunk;
        int m = (int)(start + f->chunk <= f->bsz ? f->chunk : f->bsz - start);
        float l = (float)(chunk_loss(f, &f->train, f->batch_idx + start, m, 0.0f, 0, NULL, &len) /
                          f->bsz);
        comm_exact_add(&f->sum, 0, &l, 1, RL_FIXED_FRAC_BITS);
    }
    return comm_exact_raw(&f->sum, 0);
}

/* Collective: one first-order step (lora, qatB) on the batch: the adapters' exact gradient
 * summed over the ranks' chunks, then Adam (qatB: on the masters, the straight-through gradient
 * of the grid values, zero where a master lies beyond the grid). */
static int first_order_step(ft_run *f, int64_t step) {
    sync_model(f, f->lora.params);
    int64_t n_chunks = (f->bsz + f->chunk - 1) / f->chunk, lo, hi;
    comm_block_range(n_chunks, comm_size(), comm_rank(), &lo, &hi);
    comm_exact_zero(&f->sum);
    for (int64_t k = lo; k < hi; k++) {
        int64_t start = k * f->chunk;
        int m = (int)(start + f->chunk <= f->bsz ? f->chunk : f->bsz - start), len;
        float l = (float)chunk_loss(f, &f->train, f->batch_idx + start, m, 1.0f / (float)f->bsz, 1,
                                    NULL, &len);
        rl_transformer_zero_grads(&f->model);
        rl_transformer_backward(&f->model, &f->ws, f->d_logits, m * f->task.n_classes, len);
        rl_lora_backward_grads(&f->lora, f->model.grads);
        comm_exact_add(&f->sum, 0, f->lora.grads, f->n, RL_FIXED_FRAC_BITS);
        comm_exact_add(&f->sum, f->n, &l, 1, RL_FIXED_SUM_FRAC_BITS);
    }
    if (comm_exact_reduce(&f->sum) < 0 || train_check_summed(&f->sum, step) < 0)
        return RL_ERR;
    comm_exact_read(&f->sum, 0, f->grad, f->n, RL_FIXED_FRAC_BITS);
    if (f->kind == FT_QAT) {
        for (size_t i = 0; i < f->n; i++)
            if (fabsf(f->master[i]) > (float)f->qmax * f->code_step[i])
                f->grad[i] = 0.0f;
        rl_opt_step(&f->opt, f->master, f->grad);
    } else
        rl_opt_step(&f->opt, f->lora.params, f->grad);
    f->queries++;
    return 0;
}

static int record(rl_run *run, ft_run *f, int64_t step) {
    double loss, acc;
    sync_model(f, f->kind == FT_ZOQO ? (const void *)f->codes : f->lora.params);
    if (evaluate(f, &loss, &acc) < 0)
        return RL_ERR;
    rl_run_set(run, "test_acc", acc);
    rl_run_set(run, "test_loss", loss);
    rl_run_set(run, "queries", (double)(f->queries + f->zo.queries));
    return rl_run_record(run, step);
}

static int loop_step(rl_run *run, void *ctx, int64_t step) {
    ft_run *f = ctx;
    if (step == 0 && record(run, f, 0) < 0)
        return RL_ERR;
    if (f->kind == FT_ZEROSHOT)
        return 0;
    f->bsz = train_batches_at(&f->batches, step, &f->batch_idx);
    int rc = f->kind == FT_LORA || f->kind == FT_QAT
                 ? first_order_step(f, step)
                 : zo_step(&f->zo, (uint32_t)step, batch_loss, f);
    if (rc < 0)
        return RL_ERR;
    if ((step + 1) % f->eval_every == 0 || step + 1 == f->steps)
        return record(run, f, step + 1);
    return 0;
}

/* The trainable numbers' checkpoint type and buffer. */
static io_type trained_type(const ft_run *f) {
    return f->kind == FT_ZOQO ? IO_I8 : IO_F32;
}

static void *trained(ft_run *f) {
    return f->kind == FT_ZOQO  ? (void *)f->codes
           : f->kind == FT_QAT ? (void *)f->master
                               : (void *)f->lora.params;
}

static int loop_save(rl_run *run, void *ctx, io_ckpt *c, int64_t next) {
    (void)run;
    (void)next;
    ft_run *f = ctx;
    if (f->kind == FT_ZEROSHOT)
        return 0;
    if (f->kind == FT_LORA || f->kind == FT_QAT)
        return dp_state_save(c, "ft/", trained(f), &f->opt, f->n, f->queries);
    int root = comm_rank() == 0;
    int64_t n = (int64_t)f->n, counters[2] = {f->zo.queries, f->zo.ties};
    int rc = io_ckpt_write(c, "ft/trained", trained_type(f), n, 0, root ? n : 0, trained(f));
    return rc ? rc : io_ckpt_write(c, "ft/counters", IO_I64, 2, 0, root ? 2 : 0, counters);
}

static int loop_load(rl_run *run, void *ctx, io_ckpt *c, int64_t *next) {
    (void)run;
    (void)next;
    ft_run *f = ctx;
    if (f->kind == FT_ZEROSHOT)
        return 0;
    if (f->kind == FT_LORA || f->kind == FT_QAT)
        return dp_state_load(c, "ft/", trained(f), &f->opt, f->n, &f->queries);
    int64_t counters[2];
    if (io_ckpt_size(c, "ft/trained") != (int64_t)f->n)
        return rl_fail("the checkpoint holds other adapters", "delete the run directory");
    int rc = io_ckpt_read(c, "ft/trained", trained_type(f), 0, (int64_t)f->n, trained(f));
    rc = rc ? rc : io_ckpt_read(c, "ft/counters", IO_I64, 0, 2, counters);
    f->zo.queries = counters[0];
    f->zo.ties = counters[1];
    return rc;
}

static void loop_describe(rl_run *run, void *ctx, int64_t step, char *out, size_t n) {
    (void)step;
    const ft_run *f = ctx;
    char acc[32];
    snprintf(out, n, "%s | test acc %s", f->arm,
             rl_run_last_text(run, "test_acc", acc, sizeof acc));
}

static int write_final(rl_run *run, ft_run *f) {
    double peak = (double)rl_mem_peak_kb() / 1024.0;
    double update = (double)(rl_mem_peak_kb() - f->start_kb) / 1024.0;
    double bytes = (double)f->n * (f->kind == FT_ZOQO ? 1.0 : 4.0);
    char name[64];
    int rc = rl_run_final(run, "start_acc", rl_run_value(run, 0, "test_acc"));
    rc = rc ? rc : rl_run_final(run, "test_acc", rl_run_last(run, "test_acc"));
    rc = rc ? rc : rl_run_final(run, "test_loss", rl_run_last(run, "test_loss"));
    rc = rc ? rc : rl_run_final(run, "queries", rl_run_last(run, "queries"));
    rc = rc ? rc : rl_run_final(run, "ties", (double)f->zo.ties);
    rc = rc ? rc : rl_run_final(run, "trainable", (double)f->n);
    rc = rc ? rc : rl_run_final(run, "trainable_bytes", bytes);
    snprintf(name, sizeof name, "peak_mb_%s", f->arm);
    rc = rc ? rc : rl_run_final(run, name, peak);
    snprintf(name, sizeof name, "update_mb_%s", f->arm);
    rc = rc ? rc : rl_run_final(run, name, update);
    if (rc == 0)
        rl_log_info("lm-finetune %s: test accuracy %.2f%% -> %.2f%% after %lld steps (%.0f "
                    "queries), %zu trainable numbers, peak %.1f MB, updates %.1f MB, %.0f s",
                    f->arm, 100 * rl_run_value(run, 0, "test_acc"),
                    100 * rl_run_last(run, "test_acc"), (long long)f->steps,
                    rl_run_last(run, "queries"), f->n, peak, update, rl_run_elapsed(run));
    return rc;
}

static int lm_finetune_run(rl_run *run) {
    ft_run f;
    memset(&f, 0, sizeof f);
    int rc = comm_agree_error(prepare(run, &f));
    rc = rc ? rc : rl_run_start(run, metric_names, sizeof metric_names / sizeof metric_names[0]);
    if (rc == 0) { /* the arm's memory is measured from here */
        rl_mem_peak_reset();
        f.start_kb = rl_mem_current_kb();
        rc = comm_agree_error(arm_init(&f));
    }
    if (rc == 0) {
        rl_loop loop = {.total = f.kind == FT_ZEROSHOT ? 1 : f.steps,
                        .step = loop_step,
                        .save = loop_save,
                        .load = loop_load,
                        .describe = loop_describe};
        rc = rl_run_loop(run, &loop, &f);
    }
    if (rc == 0)
        rc = comm_agree_error(write_final(run, &f));
    ft_free(&f);
    return rc;
}

static const rl_experiment rl_experiment_lm_finetune = {
    .name = "lm-finetune",
    .summary = "ZOQO vs MeZO, ZO-SignSGD, LoRA and QAT fine-tuning a decoder on prompts",
    .doc = "Fine-tunes the decoder of a finished lm-pretrain run (init.from) on prompt\n"
           "classification of WordNet glosses it never saw (its test split): \"<gloss>\n"
           "ft.template <label word>\" for each of data.categories, the model scores each label\n"
           "word, prediction = argmax, loss = cross-entropy over the label scores. ft.shots\n"
           "training glosses per category (drawn with the seed), ft.test_per_class test glosses\n"
           "(fixed). ft.arm trains LoRA adapters on the matrices of every block ft.lora_targets\n"
           "lists (default q,v; any of q, k, v, o, fc1, fc2): zeroshot (none), lora (Adam), mezo,\n"
           "sign (fp32 ZO-SignSGD), zoqoB (ZOQO: base and adapters at B bits, int8 GEMMs for\n"
           "the linear layers, zo.* keys), qatB (quantization-aware, straight-through).\n"
           "Zero-order arms spend 2 * zo.perturbations forward passes on a batch per step;\n"
           "ranks split the perturbations (zo.split); bit-identical on any number of ranks and\n"
           "under resume.\n"
           "Finals: start_acc, test_acc, queries, trainable numbers and bytes, peak_mb_ARM and\n"
           "update_mb_ARM (memory of the arm's updates).",
    .default_ini = rl_ini_lm_finetune,
    .declare = ft_declare,
    .run = lm_finetune_run,
};

RL_EXPERIMENT(rl_experiment_lm_finetune)
