/* The arms of a fine-tuning comparison (see arm.h): ZOQO, ZO-SignSGD, MeZO, SGD and QAT from one
 * pretrained model. */
#include "src/train/arm.h"
#include "src/comm/comm.h"
#include "src/core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CALIB_EXAMPLES 512 /* examples that set the quantized model's activation scales */

int train_arm_parse(const char *token, int lora, train_arm_spec *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", token);
    int bits = 0, base = 0,
        prefix = !strncmp(token, "zoqo", 4)  ? 4
                 : !strncmp(token, "qat", 3) ? 3
                                             : 0;
    char extra;
    int fields = prefix ? sscanf(token + prefix, "%1d%c%1d%c", &bits, &extra, &base, &extra) : 0;
    int valid = (fields == 1 && strlen(token + prefix) == 1) ||
                (fields == 3 && token[prefix + 1] == 'b' && strlen(token + prefix) == 3);
    if (valid && bits >= 2 && bits <= 8 && (fields == 1 || (base >= 2 && base <= 8))) {
        out->kind = prefix == 4 ? ARM_ZOQO : ARM_QAT;
        out->bits = bits;
        out->base_bits = fields == 3 ? base : 0;
    } else if (!strcmp(token, "sign"))
        out->kind = ARM_SIGN;
    else if (!strcmp(token, "mezo"))
        out->kind = ARM_MEZO;
    else if (!strcmp(token, "sgd"))
        out->kind = ARM_SGD;
    else
        return rl_fail("unknown arm '%s'",
                       "arms are zoqoB and qatB with B from 2 to 8 (e.g. zoqo8, qat4; zoqo4b8: "
                       "4-bit trained codes on an 8-bit base), sign, mezo, sgd",
                       token);
    if (out->kind == ARM_QAT && lora)
        return rl_fail("arm %s trains the last layer, and the target is LoRA adapters",
                       "train the last layer with qat arms, or leave them out", token);
    return 0;
}

/* The ZOQO arm's forward: the integer model with the codes of the moment. */
static const float *int8_forward(void *ctx, const float *x, int n) {
    train_arm *a = ctx;
    return rl_qmodel_forward(&a->q, &a->qws, a->codes, x, n);
}

/* For fp32 arms with adapters, make the model compute with the current adapter values. */
static void sync_fp32(train_arm *a) {
    if (a->spec->kind != ARM_ZOQO && a->setup->lora)
        rl_lora_apply(&a->adapters, &a->work);
}

typedef struct {
    train_arm *a;
    int64_t lo, hi; /* chunks of the batch this rank evaluates */
} loss_ctx;

/* zo_loss_fn: Σ over my chunks of (chunk loss sum / batch), chunk by chunk in fixed point. */
static int64_t batch_loss(void *ctx_, const void *params) {
    loss_ctx *ctx = ctx_;
    train_arm *a = ctx->a;
    const int chunk = a->setup->chunk, classes = a->setup->train->classes;
    sync_fp32(a);
    a->codes = params;
    comm_exact_zero(&a->sum);
    for (int64_t c = ctx->lo; c < ctx->hi; c++) {
        int64_t start = c * chunk;
        int n = (int)(start + chunk <= a->bsz ? chunk : a->bsz - start);
        const float *logits =
            train_chunks_forward(&a->chunks, a->setup->train, a->batch_idx + start, n);
        float l =
            (float)(rl_loss_softmax_ce(logits, a->chunks.yb, NULL, n, classes, 0.0f, NULL, NULL) /
                    a->bsz);
        comm_exact_add(&a->sum, 0, &l, 1, RL_FIXED_FRAC_BITS);
    }
    return comm_exact_raw(&a->sum, 0);
}

int train_arm_evaluate(train_arm *a, const rl_dataset *test, double *loss, double *acc) {
    sync_fp32(a);
    a->codes = a->trainable; /* ZOQO arms (QAT's forward uses its own codes) */
    return train_evaluate(&a->chunks, test, 0, loss, acc);
}

/* First-order step on the trainable parameters (sgd, qat): the exact gradient of the batch's
 * chunks. */
static int first_order_step(train_arm *a, uint32_t t) {
    sync_fp32(a);
    const float *grads = a->spec->kind == ARM_QAT ? a->qat.chunk_grad
                         : a->setup->lora
                             ? a->adapters.grads
                             : a->work.grads + ((float *)a->trainable - a->work.params);
    train_loss ce = train_loss_for(a->setup->train);
    train_objective o = {.loss = &ce, .scale = 1.0f / (float)a->bsz};
    comm_exact_zero(&a->sum);
    train_chunks_gradient(&a->chunks, a->setup->train, a->batch_idx, a->bsz, &o, grads,
                          a->n_trainable, &a->sum);
    if (comm_exact_reduce(&a->sum) < 0 || train_check_summed(&a->sum, t) < 0)
        return RL_ERR;
    comm_exact_read(&a->sum, 0, a->grad, a->n_trainable, RL_FIXED_FRAC_BITS);
    rl_opt_step(&a->sgd, a->trainable, a->grad);
    train_arm_reload(a);
    a->zo.queries += 1;
    return 0;
}

int train_arm_step(train_arm *a, uint32_t t, const int64_t *idx, int n) {
    a->batch_idx = idx;
    a->bsz = n;
    if (a->spec->kind == ARM_SGD || a->spec->kind == ARM_QAT)
        return first_order_step(a, t);
    int64_t n_chunks = (n + a->setup->chunk - 1) / a->setup->chunk;
    loss_ctx lc = {a, 0, n_chunks};
    if (a->zo.opt.split_data)
        comm_block_range(n_chunks, comm_size(), comm_rank(), &lc.lo, &lc.hi);
    return zo_step(&a->zo, t, batch_loss, &lc);
}

void train_arm_reload(train_arm *a) {
    if (a->spec->kind == ARM_QAT)
        train_qat_requantize(&a->qat);
}

/* The quantization of the base model with the setup's target: trainable codes at `bits` bits,
 * frozen weights at base_bits (0: the same). */
static int quantize(const train_arm_setup *s, int bits, int base_bits, rl_qmodel *q) {
    rl_qmodel_options opt = {.bits = bits,
                             .target = s->lora ? RL_QTRAIN_LORA : RL_QTRAIN_LAST,
                             .lora_rank = s->lora_rank,
                             .lora_range = s->lora_range,
                             .seed = s->seed,
                             .base_bits = base_bits};
    int calib = s->train->n < CALIB_EXAMPLES ? (int)s->train->n : CALIB_EXAMPLES;
    float *calib_x = rl_xmalloc(sizeof(float) * (size_t)calib * (size_t)s->train->dim);
    rl_data_rows(s->train, 0, calib, calib_x); // (calib, dim)
    int rc = rl_qmodel_quantize(q, s->base, &opt, calib_x, calib);
    free(calib_x);
    return rc;
}

/* ZOQO and QAT: the quantized model; the chunks compute with its integer forward. */
static int quantized_init(train_arm *a) {
    const train_arm_setup *s = a->setup;
    if (train_chunks_init(&a->chunks, s->base, s->train, s->chunk) < 0 ||
        quantize(s, a->spec->bits, a->spec->base_bits, &a->q) < 0)
        return RL_ERR;
    if (a->spec->kind == ARM_QAT) {
        if (train_qat_init(&a->qat, &a->q, a->chunks.rows) < 0)
            return RL_ERR;
        train_qat_attach(&a->qat, &a->chunks);
        a->trainable = a->qat.master;
        a->n_trainable = a->qat.n;
        return 0;
    }
    if (rl_qworkspace_init(&a->qws, &a->q, a->chunks.rows) < 0)
        return RL_ERR;
    a->chunks.forward = int8_forward;
    a->chunks.hook_ctx = a;
    a->trainable = a->q.trainable;
    a->n_trainable = a->q.n_trainable;
    return 0;
}

/* fp32 arms: a copy of the base; its last layer's weights or adapters are trained. */
static int fp32_init(train_arm *a) {
    const train_arm_setup *s = a->setup;
    const rl_layer *last = &s->base->layers[s->base->n_layers - 1];
    if (rl_model_init(&a->work, s->base->spec) < 0 ||
        train_chunks_init(&a->chunks, &a->work, s->train, s->chunk) < 0)
        return RL_ERR;
    memcpy(a->work.params, s->base->params, sizeof(float) * s->base->n_params);
    if (s->lora) {
        if (rl_lora_init(&a->adapters, &a->work, s->lora_rank, s->seed) < 0)
            return RL_ERR;
        a->trainable = a->adapters.params;
        a->n_trainable = a->adapters.n_params;
        a->chunks.lora = &a->adapters;
    } else {
        a->trainable = a->work.params + last->w_off;
        a->n_trainable = (size_t)last->out * (size_t)last->in;
    }
    return 0;
}

int train_arm_check(const train_arm_spec *spec, const train_arm_setup *setup) {
    int int8 = spec->kind == ARM_ZOQO || spec->kind == ARM_QAT ||
               (spec->kind == ARM_SIGN && rl_cfg_float(setup->cfg, "zo.lr_sign") == 0.0);
    if (!int8 || rl_qmodel_check(setup->base) == 0)
        return 0;
    return rl_fail_hint("arm %s computes on the int8 model: start from a model of dense, conv, "
                        "relu and pool layers ending with fc, or leave the arm out (mezo and sgd "
                        "work on any model; sign with zo.lr_sign set)",
                        spec->name);
}

int train_arm_init(train_arm *a, const train_arm_spec *spec, const train_arm_setup *setup) {
    memset(a, 0, sizeof *a);
    a->spec = spec;
    a->setup = setup;
    int quantized = spec->kind == ARM_ZOQO || spec->kind == ARM_QAT;
    if ((quantized ? quantized_init(a) : fp32_init(a)) < 0)
        return RL_ERR;
    if (spec->kind == ARM_SGD || spec->kind == ARM_QAT) {
        comm_exact_init(&a->sum, a->n_trainable + 1);
        a->grad = rl_xmalloc(sizeof(float) * a->n_trainable);
        return rl_opt_init(&a->sgd, RL_OPT_SGD, a->n_trainable, setup->lr_sgd, 0.0f, 0.0f);
    }
    comm_exact_init(&a->sum, spec->kind == ARM_ZOQO ? 1 : a->n_trainable + 1);
    zo_options opt;
    zo_options_from_config(&opt, setup->cfg,
                           spec->kind == ARM_ZOQO   ? ZO_ZOQO
                           : spec->kind == ARM_MEZO ? ZO_MEZO
                                                    : ZO_SIGN,
                           setup->seed);
    if (spec->kind == ARM_ZOQO)
        opt.qmax = a->q.qmax;
    if (spec->kind == ARM_SIGN && opt.lr == 0.0f) { /* one 8-bit code step, as zoqo8 moves */
        rl_qmodel grid;
        if (quantize(setup, 8, 0, &grid) < 0)
            return RL_ERR;
        a->sign_steps = rl_xmalloc(sizeof(float) * grid.n_trainable);
        rl_qmodel_code_steps(&grid, a->sign_steps);
        rl_qmodel_free(&grid);
        opt.lr = 1.0f;
        opt.lr_scale = a->sign_steps;
    }
    return zo_init(&a->zo, &opt, a->trainable, a->n_trainable);
}

void train_arm_free(train_arm *a) {
    train_chunks_free(&a->chunks);
    rl_qmodel_free(&a->q);
    rl_qworkspace_free(&a->qws);
    rl_model_free(&a->work);
    rl_lora_free(&a->adapters);
    zo_free(&a->zo);
    rl_opt_free(&a->sgd);
    train_qat_free(&a->qat);
    comm_exact_free(&a->sum);
    free(a->grad);
    free(a->sign_steps);
    memset(a, 0, sizeof *a);
}
