/* An arm: one way of fine-tuning a pretrained classifier's parameters from the same start, as
 * the ZOQO experiments compare them (METHODS.md §1). What is trained is the last layer's
 * weights or LoRA adapters on every layer (train_arm_setup.lora); the arms:
 *   zoqoB  ZOQO with B-bit codes (2..8): the integer forward of the quantized model
 *          (src/nn/qmodel.h), integer perturbations and steps (src/train/zo.h); zoqoBbC: the
 *          trained codes at B bits on a base (the frozen weights) at C bits;
 *   sign   fp32 ZO-SignSGD (its step one 8-bit code of the weights unless zo.lr_sign is set);
 *   mezo   fp32 ZO-SGD as in MeZO;
 *   sgd    first-order SGD (backpropagation);
 *   qatB   quantization-aware training of the zoqoB model's last layer (src/train/qat.h);
 *          qatBbC as zoqoBbC.
 * A step takes a batch of training examples; the first-order arms sum the exact gradient of its
 * chunks over ranks, the zero-order arms exchange two losses per perturbation (zo.split says
 * whether ranks split the perturbations or the batch). Results do not depend on the rank count.
 *
 *     train_arm_spec spec;
 *     train_arm_parse("zoqo4", lora, &spec);
 *     train_arm arm;
 *     train_arm_init(&arm, &spec, &setup);       // from setup.base, every arm the same start
 *     train_arm_step(&arm, t, batch_idx, bsz);    // collective
 *     train_arm_evaluate(&arm, &test, &loss, &acc);
 *     train_arm_free(&arm);
 */
#ifndef RANKLAB_TRAIN_ARM_H
#define RANKLAB_TRAIN_ARM_H

#include "src/core/config.h"
#include "src/data/data.h"
#include "src/nn/lora.h"
#include "src/nn/nn.h"
#include "src/nn/qmodel.h"
#include "src/train/chunks.h"
#include "src/train/qat.h"
#include "src/train/zo.h"

#include <stdint.h>

typedef enum { ARM_ZOQO, ARM_SIGN, ARM_MEZO, ARM_SGD, ARM_QAT } train_arm_kind;

typedef struct {
    char name[16];
    train_arm_kind kind;
    int bits;      /* zoqo and qat: the trained codes' */
    int base_bits; /* the frozen weights' (0: bits) */
} train_arm_spec;

/* What every arm of a comparison shares. */
typedef struct {
    const rl_config *cfg; /* zo.* keys (zo_options_from_config) */
    uint64_t seed;
    const rl_dataset *train;
    rl_model *base; /* the start (its buffers serve the quantized arms' chunks for shapes) */
    int lora;       /* 1: LoRA adapters on every layer; 0: the last layer's weights */
    int lora_rank;
    float lora_range; /* quantized adapters' B entries live in [-range, range] */
    int chunk;        /* train.chunk */
    float lr_sgd;     /* sgd and qat */
} train_arm_setup;

typedef struct {
    const train_arm_spec *spec;
    const train_arm_setup *setup;
    rl_qmodel q; /* zoqo, qat */
    rl_qworkspace qws;
    const int8_t *codes; /* the codes the ZOQO arm's forward computes with */
    rl_model work;       /* fp32 arms: the model trained */
    train_chunks chunks; /* the arm's forward, loss and gradient on chunks */
    rl_lora adapters;
    void *trainable; /* int8 codes (zoqo) or floats (qat: its master weights) */
    size_t n_trainable;
    zo_state zo; /* zo arms; its queries count the first-order arms' steps too */
    rl_optimizer sgd;
    float *sign_steps; /* sign: each trainable number's 8-bit grid step */
    train_qat qat;
    comm_exact sum; /* first order: the gradient and the loss; zo arms: my part of a loss */
    float *grad;    /* first order: (n_trainable) */
    const int64_t *batch_idx;
    int bsz; /* the step's batch */
} train_arm;

/* "zoqoB", "qatB", "zoqoBbC", "qatBbC" (B, C = 2..8), "sign", "mezo" or "sgd"; qat trains the
 * last layer only. */
int train_arm_parse(const char *token, int lora, train_arm_spec *out);
/* Before anything is written: an error with a hint when the arm cannot start from setup's base
 * model (the quantized arms, and sign with its step from the 8-bit grid, need an int8 version of
 * it, rl_qmodel_check). */
int train_arm_check(const train_arm_spec *spec, const train_arm_setup *setup);
int train_arm_init(train_arm *a, const train_arm_spec *spec, const train_arm_setup *setup);
/* Step t on the n training examples idx (the same on every rank). Collective. */
int train_arm_step(train_arm *a, uint32_t t, const int64_t *idx, int n);
/* Test loss and accuracy of the arm's model of the moment. Collective. */
int train_arm_evaluate(train_arm *a, const rl_dataset *test, double *loss, double *acc);
/* After the trainable values changed from outside (a checkpoint was loaded). */
void train_arm_reload(train_arm *a);
void train_arm_free(train_arm *a);

#endif
