/* Models: spec parsing ("mlp:" and "cnn:"), the parameter arena, Kaiming init, and fp32
 * forward/backward through every layer kind (dense and relu here, the others in layers.c). */
#include "kernels/kernels.h"
#include "src/core/error.h"
#include "src/core/mem.h"
#include "src/core/rng.h"
#include "src/nn/layers.h"
#include "src/nn/nn.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SPEC_HINT                                                                                  \
    "use a spec such as \"mlp:784-256-256-10\" or "                                                \
    "\"cnn:1x28x28-conv16k5-gn4-relu-maxpool2-fc10\" or \"vit:1x28x28-P7-L2-D64-H4-C10\" (see "    \
    "src/nn/nn.h)"
#define MLP_PREFIX "mlp:"
#define CNN_PREFIX "cnn:"
#define VIT_PREFIX "vit:"
/* Widest layer accepted: keeps every size, offset and batch · width product far from overflow. */
#define MAX_WIDTH (1 << 24)
#define MAX_KERNEL 15

/* Reads decimal digits at *p into *value (1..max) and moves *p past them. 0 if there are none or
 * the value is out of range, *p left where they start (the caller reports it there). */
static int parse_count(const char **p, long max, long *value) {
    const char *q = *p;
    long v = 0;
    if (*q < '0' || *q > '9')
        return 0;
    for (; *q >= '0' && *q <= '9'; q++) {
        v = v * 10 + (*q - '0');
        if (v > max)
            return 0;
    }
    if (v == 0)
        return 0; /* *p stays at the 0, for the error message */
    *p = q;
    *value = v;
    return 1;
}

/* Appends a layer from the current output shape (for the first layer, the input shape the
 * parser stored in layers[0]) to (c, h, w), with n_weights + n_bias parameters. */
static int add_layer(rl_model *m, rl_layer_kind kind, int size, int c, int h, int w,
                     size_t n_weights, size_t n_bias) {
    if (m->n_layers == RL_MAX_LAYERS)
        return rl_fail("model spec \"%s\" has more than %d layers", SPEC_HINT, m->spec,
                       RL_MAX_LAYERS);
    rl_layer *ly = &m->layers[m->n_layers];
    if (m->n_layers > 0) {
        const rl_layer *prev = &m->layers[m->n_layers - 1];
        ly->in_c = prev->out_c;
        ly->in_h = prev->out_h;
        ly->in_w = prev->out_w;
    }
    ly->kind = kind;
    ly->size = size;
    ly->in = ly->in_c * ly->in_h * ly->in_w;
    if (rl_size_mul(rl_size_mul((uint64_t)c, (uint64_t)h), (uint64_t)w) > MAX_WIDTH)
        return rl_fail("model spec \"%s\": a layer has %d x %d x %d outputs, more than %d",
                       SPEC_HINT, m->spec, c, h, w, MAX_WIDTH);
    ly->out_c = c;
    ly->out_h = h;
    ly->out_w = w;
    ly->out = c * h * w;
    ly->w_off = m->n_params;
    ly->b_off = m->n_params + n_weights;
    m->n_params += n_weights + n_bias;
    m->n_layers++;
    return 0;
}

/* The shape (c, h, w) that the next layer gets: the previous layer's output, or the input. */
static void next_input(const rl_model *m, int *c, int *h, int *w) {
    const rl_layer *prev = m->n_layers ? &m->layers[m->n_layers - 1] : &m->layers[0];
    *c = m->n_layers ? prev->out_c : prev->in_c;
    *h = m->n_layers ? prev->out_h : prev->in_h;
    *w = m->n_layers ? prev->out_w : prev->in_w;
}

/* A convolution of `filters` k x k filters (k odd), stride `stride`, zero padding k/2. */
static int add_conv(rl_model *m, int filters, int k, int stride) {
    int c, h, w, pad = k / 2;
    next_input(m, &c, &h, &w);
    size_t fan_in = (size_t)c * (size_t)(k * k);
    if (add_layer(m, RL_LAYER_CONV, k, filters, (h + 2 * pad - k) / stride + 1,
                  (w + 2 * pad - k) / stride + 1, (size_t)filters * fan_in, (size_t)filters) < 0)
        return RL_ERR;
    m->layers[m->n_layers - 1].stride = stride;
    m->layers[m->n_layers - 1].pad = pad;
    return 0;
}

/* Group norm of `groups` groups (dividing the channels; the caller checked). */
static int add_groupnorm(rl_model *m, int groups) {
    int c, h, w;
    next_input(m, &c, &h, &w);
    return add_layer(m, RL_LAYER_GROUPNORM, groups, c, h, w, (size_t)c, (size_t)c);
}

/* Batch norm of the current channels; its running averages go into the stats array. */
static int add_batchnorm(rl_model *m) {
    int c, h, w;
    next_input(m, &c, &h, &w);
    if (add_layer(m, RL_LAYER_BATCHNORM, 0, c, h, w, (size_t)c, (size_t)c) < 0)
        return RL_ERR;
    m->layers[m->n_layers - 1].s_off = m->n_stats;
    m->n_stats += 2 * (size_t)c;
    return 0;
}

/* The norm of a residual block: group norm of `groups` groups, or batch norm (groups 0). */
static int add_block_norm(rl_model *m, int groups) {
    return groups ? add_groupnorm(m, groups) : add_batchnorm(m);
}

/* A residual basic block of `channels` channels, the first conv of stride `stride`, norms of
 * `groups` groups (0: batch norm), then relu. */
static int add_residual_block(rl_model *m, int channels, int stride, int groups) {
    int c, h, w;
    next_input(m, &c, &h, &w);
    int from = m->n_layers, projected = channels != c || stride != 1;
    if (add_conv(m, channels, 3, stride) < 0 || add_block_norm(m, groups) < 0 ||
        add_layer(m, RL_LAYER_RELU, 0, channels, m->layers[m->n_layers - 1].out_h,
                  m->layers[m->n_layers - 1].out_w, 0, 0) < 0 ||
        add_conv(m, channels, 3, 1) < 0 || add_block_norm(m, groups) < 0)
        return RL_ERR;
    const rl_layer *last = &m->layers[m->n_layers - 1];
    if (add_layer(m, RL_LAYER_ADD, projected, channels, last->out_h, last->out_w,
                  projected ? (size_t)channels * c : 0, projected ? (size_t)channels : 0) < 0)
        return RL_ERR;
    rl_layer *add = &m->layers[m->n_layers - 1];
    add->skip_from = from;
    add->skip_c = c;
    add->stride = stride;
    return add_layer(m, RL_LAYER_RELU, 0, add->out_c, add->out_h, add->out_w, 0, 0);
}

/* "784-256-10": dense layers with relus between them. */
static int parse_mlp(rl_model *m, const char *p) {
    int n_sizes = 0;
    for (;;) {
        long size;
        if (!parse_count(&p, MAX_WIDTH, &size))
            return rl_fail("model spec \"%s\": expected a layer size (1..%d) at \"%s\"", SPEC_HINT,
                           m->spec, MAX_WIDTH, p);
        if (n_sizes == 0) {
            m->in_dim = (int)size;
            m->layers[0].in_c = (int)size;
            m->layers[0].in_h = m->layers[0].in_w = 1;
        } else {
            if (n_sizes > 1 && add_layer(m, RL_LAYER_RELU, 0, m->layers[m->n_layers - 1].out_c,
                                         1, 1, 0, 0) < 0)
                return RL_ERR;
            int in = m->n_layers ? m->layers[m->n_layers - 1].out : m->in_dim;
            if (add_layer(m, RL_LAYER_DENSE, 0, (int)size, 1, 1, (size_t)size * in,
                          (size_t)size) < 0)
                return RL_ERR;
        }
        n_sizes++;
        if (*p == '\0')
            break;
        if (*p != '-')
            return rl_fail("model spec \"%s\": unexpected \"%s\" after a layer size", SPEC_HINT,
                           m->spec, p);
        p++;
    }
    if (n_sizes < 2)
        return rl_fail("model spec \"%s\" needs at least an input and an output size", SPEC_HINT,
                       m->spec);
    return 0;
}

/* Does the token at p start with word followed by a count? Advances p past the word. */
static int token_is(const char **p, const char *word) {
    size_t len = strlen(word);
    if (strncmp(*p, word, len) != 0)
        return 0;
    *p += len;
    return 1;
}

/* One cnn layer token at *p (advanced past it). */
static int parse_cnn_layer(rl_model *m, const char **p) {
    int c, h, w;
    next_input(m, &c, &h, &w);
    const char *token = *p;
    long a, b;
    if (token_is(p, "conv")) {
        if (!parse_count(p, MAX_WIDTH, &a) || **p != 'k' || (++*p, !parse_count(p, MAX_KERNEL, &b)))
            return rl_fail("model spec \"%s\": bad convolution at \"%s\"", NULL, m->spec, token),
                   rl_fail_hint("write convCkK or convCkKsS: C filters of K x K (K odd, 1..%d), "
                                "stride S, e.g. conv16k3 or conv32k3s2",
                                MAX_KERNEL);
        if (b % 2 == 0)
            return rl_fail("model spec \"%s\": convolution kernel size %ld is even at \"%s\"",
                           "use an odd kernel size (padding K/2 keeps the image size)", m->spec,
                           b, token);
        long stride = 1;
        if (**p == 's' && (++*p, !parse_count(p, MAX_KERNEL, &stride)))
            return rl_fail("model spec \"%s\": bad convolution stride at \"%s\"",
                           "write convCkKsS with S from 1 to 15, e.g. conv32k3s2", m->spec, token);
        return add_conv(m, (int)a, (int)b, (int)stride);
    }
    if (token_is(p, "res")) {
        long stride = 1, repeat = 1;
        b = 0; /* groups of the group norm; 0: batch norm */
        if (!parse_count(p, MAX_WIDTH, &a) ||
            (**p == 's' && (++*p, !parse_count(p, MAX_KERNEL, &stride))) ||
            !(token_is(p, "bn") ||
              (**p == 'g' && (++*p, parse_count(p, MAX_WIDTH, &b)) && a % b == 0)) ||
            (**p == 'x' && (++*p, !parse_count(p, RL_MAX_LAYERS, &repeat))))
            return rl_fail(
                "model spec \"%s\": bad residual block at \"%s\"",
                "write resCgG or resCsSgG (group norm of G groups dividing C), or resCbn "
                "or resCsSbn (batch norm), then xN for N blocks: C channels, stride S, "
                "e.g. res16g4, res32s2g4, res16bn, res32s2bnx5",
                m->spec, token);
        for (long r = 0; r < repeat; r++)
            if (add_residual_block(m, (int)a, r == 0 ? (int)stride : 1, (int)b) < 0)
                return RL_ERR;
        return 0;
    }
    if (token_is(p, "gap"))
        return add_layer(m, RL_LAYER_GLOBALPOOL, 0, c, 1, 1, 0, 0);
    if (token_is(p, "gn")) {
        if (!parse_count(p, MAX_WIDTH, &a) || c % a != 0)
            return rl_fail("model spec \"%s\": group norm at \"%s\" needs a number of groups "
                           "dividing the %d channels",
                           "write gnG with G dividing the channels, e.g. gn4 after conv16k5",
                           m->spec, token, c);
        return add_groupnorm(m, (int)a);
    }
    if (token_is(p, "relu"))
        return add_layer(m, RL_LAYER_RELU, 0, c, h, w, 0, 0);
    if (token_is(p, "bn"))
        return add_batchnorm(m);
    if (token_is(p, "drop")) {
        char *end;
        double rate = strtod(*p, &end); /* digits first: no sign, space, inf or nan */
        if (**p < '0' || **p > '9' || !(rate >= 0.0 && rate < 1.0))
            return rl_fail("model spec \"%s\": bad dropout at \"%s\"",
                           "write dropP with the share P dropped in [0, 1), e.g. drop0.5", m->spec,
                           token);
        *p = end;
        if (add_layer(m, RL_LAYER_DROPOUT, 0, c, h, w, 0, 0) < 0)
            return RL_ERR;
        m->layers[m->n_layers - 1].rate = (float)rate;
        return 0;
    }
    int is_max = token_is(p, "maxpool");
    if (is_max || token_is(p, "avgpool")) {
        if (!parse_count(p, MAX_WIDTH, &a) || a > h || a > w)
            return rl_fail("model spec \"%s\": bad pooling at \"%s\" (the image is %dx%d here)",
                           "write maxpoolS or avgpoolS with S no larger than the image, e.g. "
                           "maxpool2",
                           m->spec, token, h, w);
        return add_layer(m, is_max ? RL_LAYER_MAXPOOL : RL_LAYER_AVGPOOL, (int)a, c,
                         h / (int)a, w / (int)a, 0, 0);
    }
    if (token_is(p, "fc")) {
        if (!parse_count(p, MAX_WIDTH, &a))
            return rl_fail("model spec \"%s\": bad dense layer at \"%s\"",
                           "write fcN for N outputs, e.g. fc10", m->spec, token);
        size_t in = (size_t)c * h * w;
        return add_layer(m, RL_LAYER_DENSE, 0, (int)a, 1, 1, (size_t)a * in, (size_t)a);
    }
    return rl_fail("model spec \"%s\": unknown layer \"%s\"",
                   "layers are convCkK, convCkKsS, gnG, bn, relu, maxpoolS, avgpoolS, gap, "
                   "resCgG, resCsSgG, resCbn, resCsSbn (xN: N blocks), dropP, fcN",
                   m->spec, token);
}

/* "1x28x28-conv16k5-relu-maxpool2-fc10". */
static int parse_cnn(rl_model *m, const char *p) {
    long dims[3];
    for (int d = 0; d < 3; d++) {
        if (!parse_count(&p, MAX_WIDTH, &dims[d]) || *p != (d < 2 ? 'x' : '-'))
            return rl_fail("model spec \"%s\": expected the input shape CxHxW and a layer at "
                           "\"%s\"",
                           SPEC_HINT, m->spec, p);
        p++;
    }
    uint64_t values = rl_size_mul(rl_size_mul((uint64_t)dims[0], (uint64_t)dims[1]),
                                  (uint64_t)dims[2]);
    if (values > MAX_WIDTH)
        return rl_fail("model spec \"%s\": the input %ldx%ldx%ld has more than %d values",
                       SPEC_HINT, m->spec, dims[0], dims[1], dims[2], MAX_WIDTH);
    m->layers[0].in_c = (int)dims[0];
    m->layers[0].in_h = (int)dims[1];
    m->layers[0].in_w = (int)dims[2];
    m->in_dim = (int)(dims[0] * dims[1] * dims[2]);
    for (;;) {
        if (parse_cnn_layer(m, &p) < 0)
            return RL_ERR;
        if (*p == '\0')
            return 0;
        if (*p != '-')
            return rl_fail("model spec \"%s\": unexpected \"%s\" after a layer", SPEC_HINT,
                           m->spec, p);
        p++;
    }
}

int rl_model_init(rl_model *m, const char *spec) {
    memset(m, 0, sizeof *m);
    if (!spec)
        return rl_fail("no model spec given", SPEC_HINT);
    if (strlen(spec) >= sizeof m->spec)
        return rl_fail("model spec \"%s\" is longer than %zu characters", SPEC_HINT, spec,
                       sizeof m->spec - 1);
    memcpy(m->spec, spec, strlen(spec) + 1);
    if (strncmp(spec, VIT_PREFIX, strlen(VIT_PREFIX)) == 0) {
        if (rl_vit_init(&m->vit, spec) < 0) {
            memset(m, 0, sizeof *m);
            return RL_ERR;
        }
        m->in_dim = m->vit.image_c * m->vit.image_h * m->vit.image_w;
        m->out_dim = m->vit.classes;
        m->n_params = m->vit.n_params;
        m->params = m->vit.params; // one arena: the encoder's
        m->grads = m->vit.grads;
        m->stats = rl_xcalloc(0, sizeof(float));
        return 0;
    }
    int status;
    if (strncmp(spec, MLP_PREFIX, strlen(MLP_PREFIX)) == 0)
        status = parse_mlp(m, spec + strlen(MLP_PREFIX));
    else if (strncmp(spec, CNN_PREFIX, strlen(CNN_PREFIX)) == 0)
        status = parse_cnn(m, spec + strlen(CNN_PREFIX));
    else
        status = rl_fail("unknown model spec \"%s\" (models are \"mlp:\", \"cnn:\" or \"vit:\")",
                         SPEC_HINT, spec);
    if (status < 0) {
        memset(m, 0, sizeof *m);
        return RL_ERR;
    }
    m->out_dim = m->layers[m->n_layers - 1].out;
    if (rl_mem_check(rl_size_mul(m->n_params, 2 * sizeof(float)),
                     "model %s (%zu parameters and their gradients)", spec, m->n_params) < 0) {
        rl_fail_hint("use a smaller model (fewer or narrower layers in the spec), or a node with "
                     "more memory per rank");
        memset(m, 0, sizeof *m);
        return RL_ERR;
    }
    m->params = rl_xcalloc(m->n_params, sizeof(float)); // (n_params)
    m->grads = rl_xcalloc(m->n_params, sizeof(float));  // (n_params)
    m->stats = rl_xcalloc(m->n_stats, sizeof(float));   // (n_stats)
    return 0;
}

int rl_model_input_image(const rl_model *m, int *c, int *h, int *w) {
    if (rl_model_is_vit(m)) {
        *c = m->vit.image_c;
        *h = m->vit.image_h;
        *w = m->vit.image_w;
        return 1;
    }
    *c = m->layers[0].in_c;
    *h = m->layers[0].in_h;
    *w = m->layers[0].in_w;
    return strncmp(m->spec, CNN_PREFIX, strlen(CNN_PREFIX)) == 0;
}

void rl_model_free(rl_model *m) {
    if (!m)
        return;
    free(m->params); // a ViT's arena too (m->vit shares it)
    free(m->grads);
    free(m->stats);
    memset(m, 0, sizeof *m);
}

void rl_model_init_params(rl_model *m, uint64_t seed) {
    if (rl_model_is_vit(m)) {
        rl_transformer_init_params(&m->vit, seed);
        return;
    }
    rl_rng r = rl_rng_make(seed, RL_RNG_INIT);
    for (int l = 0; l < m->n_layers; l++) {
        const rl_layer *ly = &m->layers[l];
        size_t rows = (size_t)rl_layer_rows(ly);
        if (rl_layer_has_matrix(ly)) {
            int fan_in = rl_layer_fan_in(ly);
            float bound = sqrtf(6.0f / (float)fan_in);
            kern_fill_uniform(m->params + ly->w_off, rows * (size_t)fan_in, r.key, (uint32_t)l,
                              -bound, bound);                           // (rows, fan_in)
            memset(m->params + ly->b_off, 0, rows * sizeof(float)); // (rows)
        } else if (ly->kind == RL_LAYER_GROUPNORM || ly->kind == RL_LAYER_BATCHNORM) {
            for (int c = 0; c < ly->out_c; c++)
                m->params[ly->w_off + c] = 1.0f;                             // scale (out_c)
            memset(m->params + ly->b_off, 0, (size_t)ly->out_c * sizeof(float)); // shift (out_c)
        }
        if (ly->kind == RL_LAYER_BATCHNORM)
            for (int c = 0; c < ly->out_c; c++) {
                m->stats[ly->s_off + c] = 0.0f;             // running mean (out_c)
                m->stats[ly->s_off + ly->out_c + c] = 1.0f; // running variance (out_c)
            }
    }
}

void rl_model_scale_weights(rl_model *m, float s) {
    if (rl_model_is_vit(m)) {
        rl_tf_matrix mats[RL_TF_MAX_LAYERS * RL_TF_MATRICES_PER_BLOCK + 2];
        int n = rl_transformer_matrices(&m->vit, mats);
        mats[n++] = (rl_tf_matrix){"patch", m->vit.patch_w, m->vit.width, m->vit.patch_dim};
        mats[n++] = (rl_tf_matrix){"head", m->vit.head_w, m->vit.classes, m->vit.width};
        for (int k = 0; k < n; k++)
            for (size_t i = 0; i < (size_t)mats[k].rows * mats[k].cols; i++)
                m->params[mats[k].w_off + i] *= s;
        return;
    }
    for (int l = 0; l < m->n_layers; l++) {
        const rl_layer *ly = &m->layers[l];
        for (size_t i = 0; i < rl_layer_weight_count(ly); i++)
            m->params[ly->w_off + i] *= s;
    }
}

void rl_model_zero_grads(rl_model *m) {
    memset(m->grads, 0, m->n_params * sizeof(float));
}

/* The 1 x 1 projection conv of a residual ADD layer with size 1: from the input of layer
 * skip_from to the ADD's output shape, with the ADD's parameters. */
static rl_layer projection_of(const rl_model *m, const rl_layer *add) {
    const rl_layer *first = &m->layers[add->skip_from];
    rl_layer proj = {.kind = RL_LAYER_CONV,
                     .in = first->in,
                     .out = add->out,
                     .in_c = first->in_c,
                     .in_h = first->in_h,
                     .in_w = first->in_w,
                     .out_c = add->out_c,
                     .out_h = add->out_h,
                     .out_w = add->out_w,
                     .size = 1,
                     .stride = add->stride,
                     .pad = 0,
                     .w_off = add->w_off,
                     .b_off = add->b_off};
    return proj;
}

/* Floats of the convolution scratch (rl_conv_scratch) of the largest convolution for batches of
 * max_batch: *col for im2col, *out for the GEMM's output (0 without a convolution). */
static void workspace_conv_sizes(const rl_model *m, int max_batch, size_t *col, size_t *out) {
    *col = *out = 0;
    for (int l = 0; l < m->n_layers; l++) {
        rl_layer proj;
        const rl_layer *ly = &m->layers[l];
        if (ly->kind == RL_LAYER_ADD && ly->size == 1) {
            proj = projection_of(m, ly);
            ly = &proj;
        }
        if (ly->kind != RL_LAYER_CONV)
            continue;
        size_t columns = (size_t)rl_conv_group(ly, max_batch) * ly->out_h * ly->out_w;
        size_t col_size = (size_t)rl_layer_fan_in(ly) * columns;
        size_t fan_in = (size_t)rl_layer_fan_in(ly);
        size_t out_size = (size_t)ly->out_c * (columns > fan_in ? columns : fan_in); // and dWᵀ
        *col = col_size > *col ? col_size : *col;
        *out = out_size > *out ? out_size : *out;
    }
}

/* The widest activation: the input or a layer's output. */
static int workspace_widest(const rl_model *m) {
    int widest = m->in_dim;
    for (int l = 0; l < m->n_layers; l++)
        widest = m->layers[l].out > widest ? m->layers[l].out : widest;
    return widest;
}

uint64_t rl_workspace_bytes(const rl_model *m, int max_batch) {
    if (rl_model_is_vit(m))
        return rl_transformer_ws_bytes(&m->vit, max_batch, RL_TF_TRAINING);
    uint64_t values = (uint64_t)m->in_dim + 3 * (uint64_t)workspace_widest(m); // act[0], grad_a/b,
                                                                               // skip_grad
    for (int l = 0; l < m->n_layers; l++)
        values += (uint64_t)m->layers[l].out; // act[l + 1]
    values = rl_size_mul(values, (uint64_t)(max_batch > 0 ? max_batch : 0));
    values = rl_size_add(values, m->n_stats); // batch_stats
    size_t col_size, out_size;
    workspace_conv_sizes(m, max_batch > 0 ? max_batch : 1, &col_size, &out_size);
    values = rl_size_add(values, (uint64_t)col_size + out_size); // col, conv_out
    return rl_size_mul(values, sizeof(float));
}

int rl_workspace_init(rl_workspace *ws, const rl_model *m, int max_batch) {
    memset(ws, 0, sizeof *ws);
    if (max_batch <= 0)
        return rl_fail("workspace batch size must be positive (got %d)",
                       "set the batch size to at least 1", max_batch);
    if (rl_mem_check(rl_workspace_bytes(m, max_batch),
                     "the activations of model %s for %d examples at a time", m->spec,
                     max_batch) < 0)
        return rl_fail_hint("lower the examples per chunk or batch (e.g. train.chunk), or use a "
                            "smaller model");
    ws->max_batch = max_batch;
    if (rl_model_is_vit(m))
        return rl_transformer_ws_init(&ws->vit, &m->vit, max_batch, RL_TF_TRAINING);
    size_t b = (size_t)max_batch, widest = (size_t)workspace_widest(m);
    size_t col_size, out_size;
    workspace_conv_sizes(m, max_batch, &col_size, &out_size);
    ws->act[0] = rl_xcalloc(b * (size_t)m->in_dim, sizeof(float)); // (B, in_dim)
    for (int l = 0; l < m->n_layers; l++)
        ws->act[l + 1] = rl_xcalloc(b * (size_t)m->layers[l].out, sizeof(float)); // (B, out)
    ws->grad_a = rl_xcalloc(b * widest, sizeof(float)); // (B, widest)
    ws->grad_b = rl_xcalloc(b * widest, sizeof(float)); // (B, widest)
    ws->skip_grad = rl_xcalloc(b * widest, sizeof(float)); // (B, widest)
    if (col_size) {
        ws->col = rl_xcalloc(col_size, sizeof(float));      // (fan_in, group · out_h · out_w)
        ws->conv_out = rl_xcalloc(out_size, sizeof(float)); // (out_c, group · out_h · out_w)
    }
    ws->batch_stats = rl_xcalloc(m->n_stats, sizeof(float)); // (n_stats)
    return 0;
}

void rl_workspace_free(rl_workspace *ws) {
    if (!ws)
        return;
    for (int i = 0; i <= RL_MAX_LAYERS; i++)
        free(ws->act[i]);
    free(ws->grad_a);
    free(ws->grad_b);
    free(ws->skip_grad);
    free(ws->col);
    free(ws->conv_out);
    free(ws->batch_stats);
    rl_transformer_ws_free(&ws->vit);
    memset(ws, 0, sizeof *ws);
}

/* y = x · Wᵀ + b. */
static void dense_forward(const rl_layer *ly, const float *params, const float *x, float *y,
                          int batch) {
    const float *w = params + ly->w_off; // (out, in)
    const float *b = params + ly->b_off; // (out)
    for (int i = 0; i < batch; i++)
        memcpy(y + (size_t)i * ly->out, b, (size_t)ly->out * sizeof(float)); // (B, out) = b
    kern_sgemm(0, 1, batch, ly->out, ly->in, 1.0f, x, ly->in, w, ly->in, 1.0f, y, ly->out);
}

/* NaN passes through (it is not < 0), so a diverging run shows up in the loss. */
static void relu_forward(const float *restrict x, float *restrict y, size_t n) {
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

/* out = in + the shortcut (the input of layer skip_from, or its projection). */
static void add_forward(const rl_model *m, rl_workspace *ws, const rl_layer *ly, const float *in,
                        float *out, int batch) {
    const float *skip = ws->act[ly->skip_from]; // (B, skip_c, ...)
    size_t n = (size_t)batch * (size_t)ly->out;
    if (ly->size == 1) {
        rl_layer proj = projection_of(m, ly);
        rl_conv_forward(&proj, m->params, skip, out, batch,
                        &(rl_conv_scratch){ws->col, ws->conv_out});
        for (size_t i = 0; i < n; i++)
            out[i] += in[i];
    } else {
        for (size_t i = 0; i < n; i++)
            out[i] = in[i] + skip[i];
    }
}

/* The dropout mask's key of layer l for the examples of the last forward. */
static rl_dropout_key dropout_key(const rl_workspace *ws, int l) {
    assert(ws->ids);
    return (rl_dropout_key){.rng = ws->dropout_rng, .round = ws->round, .ids = ws->ids, .layer = l};
}

const float *rl_model_forward(const rl_model *m, rl_workspace *ws, const float *x, int batch) {
    assert(batch >= 0 && batch <= ws->max_batch);
    if (rl_model_is_vit(m))
        return batch ? rl_vit_forward_train(&m->vit, &ws->vit, x, batch) : ws->vit.logits;
    memcpy(ws->act[0], x, (size_t)batch * (size_t)m->in_dim * sizeof(float)); // (B, in_dim)
    for (int l = 0; l < m->n_layers; l++) {
        const rl_layer *ly = &m->layers[l];
        const float *in = ws->act[l]; // (B, in)
        float *out = ws->act[l + 1];  // (B, out)
        switch (ly->kind) {
        case RL_LAYER_DENSE:
            dense_forward(ly, m->params, in, out, batch);
            break;
        case RL_LAYER_RELU:
            relu_forward(in, out, (size_t)batch * (size_t)ly->out);
            break;
        case RL_LAYER_CONV:
            rl_conv_forward(ly, m->params, in, out, batch,
                            &(rl_conv_scratch){ws->col, ws->conv_out});
            break;
        case RL_LAYER_MAXPOOL:
        case RL_LAYER_AVGPOOL:
            rl_pool_forward(ly, in, out, batch);
            break;
        case RL_LAYER_GROUPNORM:
            rl_groupnorm_forward(ly, m->params, in, out, batch);
            break;
        case RL_LAYER_GLOBALPOOL:
            rl_globalpool_forward(ly, in, out, batch);
            break;
        case RL_LAYER_ADD:
            add_forward(m, ws, ly, in, out, batch);
            break;
        case RL_LAYER_BATCHNORM:
            rl_batchnorm_forward(ly, m->params, m->stats + ly->s_off,
                                 ws->train ? ws->batch_stats + ly->s_off : NULL, in, out, batch);
            break;
        case RL_LAYER_DROPOUT: {
            rl_dropout_key key = ws->train ? dropout_key(ws, l) : (rl_dropout_key){0};
            if (ws->train)
                rl_dropout_forward(ly, &key, in, out, batch);
            else
                memcpy(out, in, (size_t)batch * ly->out * sizeof(float));
            break;
        }
        }
    }
    return ws->act[m->n_layers]; // (B, out_dim)
}

/* dW += dyᵀ · x and db += column sums of dy, summed row by row. */
static void dense_backward_params(const rl_layer *ly, float *grads, const float *x, const float *dy,
                                  int batch) {
    float *dw = grads + ly->w_off; // (out, in)
    float *db = grads + ly->b_off; // (out)
    kern_sgemm(1, 0, ly->out, ly->in, batch, 1.0f, dy, ly->out, x, ly->in, 1.0f, dw, ly->in);
    for (int i = 0; i < batch; i++) {
        const float *row = dy + (size_t)i * ly->out; // (out)
        for (int j = 0; j < ly->out; j++)
            db[j] += row[j];
    }
}

/* dx = dy where the forward output y was positive, else 0. */
static void relu_backward(const float *restrict y, const float *restrict dy, float *restrict dx,
                          size_t n) {
    for (size_t i = 0; i < n; i++) {
        float g = dy[i]; // loaded whatever y is, so that the loop vectorizes
        dx[i] = y[i] > 0.0f ? g : 0.0f;
    }
}

/* Backward from d_out: adds parameter gradients into grads if not NULL, writes dLoss/dInput
 * (batch, in_dim) into d_x if not NULL. */
static void model_backward(const rl_model *m, rl_workspace *ws, const float *d_out, int batch,
                           float *grads, float *d_x) {
    assert(batch >= 0 && batch <= ws->max_batch);
    if (rl_model_is_vit(m)) {
        if (batch)
            rl_vit_backward(&m->vit, &ws->vit, d_out, batch, grads, d_x);
        return;
    }
    const float *dy = d_out; // (B, out) of layer l
    int skip_into = -1;      // the layer whose input gradient gets ws->skip_grad added
    for (int l = m->n_layers - 1; l >= 0; l--) {
        const rl_layer *ly = &m->layers[l];
        const float *x = ws->act[l]; // (B, in) the layer's forward input
        // dLoss/d(input of layer l); NULL at the first layer when the input gradient is not wanted
        float *dx = l > 0 ? (dy == ws->grad_a ? ws->grad_b : ws->grad_a) : d_x; // (B, in)
        switch (ly->kind) {
        case RL_LAYER_DENSE:
            if (grads)
                dense_backward_params(ly, grads, x, dy, batch);
            if (dx)
                kern_sgemm(0, 0, batch, ly->in, ly->out, 1.0f, dy, ly->out,
                           m->params + ly->w_off, ly->in, 0.0f, dx, ly->in);
            break;
        case RL_LAYER_RELU:
            if (dx)
                relu_backward(ws->act[l + 1], dy, dx, (size_t)batch * (size_t)ly->out);
            break;
        case RL_LAYER_CONV:
            rl_conv_backward(ly, m->params, grads, x, dy, dx, batch,
                             &(rl_conv_scratch){ws->col, ws->conv_out});
            break;
        case RL_LAYER_MAXPOOL:
        case RL_LAYER_AVGPOOL:
            if (dx)
                rl_pool_backward(ly, x, dy, dx, batch);
            break;
        case RL_LAYER_GROUPNORM:
            rl_groupnorm_backward(ly, m->params, grads, x, dy, dx, batch);
            break;
        case RL_LAYER_GLOBALPOOL:
            if (dx)
                rl_globalpool_backward(ly, dy, dx, batch);
            break;
        case RL_LAYER_ADD:
            skip_into = ly->skip_from;
            if (ly->size == 1) {
                rl_layer proj = projection_of(m, ly);
                rl_conv_backward(&proj, m->params, grads, ws->act[ly->skip_from], dy, ws->skip_grad,
                                 batch, &(rl_conv_scratch){ws->col, ws->conv_out});
            } else {
                memcpy(ws->skip_grad, dy, (size_t)batch * ly->out * sizeof(float));
            }
            memcpy(dx, dy, (size_t)batch * ly->out * sizeof(float)); // l > 0: dx is scratch
            break;
        case RL_LAYER_BATCHNORM:
            rl_batchnorm_backward(ly, m->params, m->stats + ly->s_off, ws->train, grads, x, dy, dx,
                                  batch);
            break;
        case RL_LAYER_DROPOUT: {
            rl_dropout_key key = ws->train ? dropout_key(ws, l) : (rl_dropout_key){0};
            if (dx && ws->train)
                rl_dropout_backward(ly, &key, dy, dx, batch);
            else if (dx)
                memcpy(dx, dy, (size_t)batch * ly->out * sizeof(float));
            break;
        }
        }
        if (l == skip_into && dx)
            for (size_t i = 0; i < (size_t)batch * ly->in; i++)
                dx[i] += ws->skip_grad[i];
        dy = dx;
    }
}

void rl_model_backward(rl_model *m, rl_workspace *ws, const float *d_out, int batch) {
    model_backward(m, ws, d_out, batch, m->grads, NULL);
}

void rl_model_input_grad(const rl_model *m, rl_workspace *ws, const float *d_out, int batch,
                         float *d_x) {
    model_backward(m, ws, d_out, batch, NULL, d_x);
}

void rl_model_add_batch_stats(const rl_model *m, const rl_workspace *ws, int n, float weight,
                              float *out) {
    for (int l = 0; l < m->n_layers; l++) {
        const rl_layer *ly = &m->layers[l];
        if (ly->kind != RL_LAYER_BATCHNORM)
            continue;
        double values = (double)n * ly->out_h * ly->out_w;
        float unbias = values > 1.0 ? (float)(values / (values - 1.0)) : 0.0f;
        const float *mean = ws->batch_stats + ly->s_off, *var = mean + ly->out_c; // (out_c) each
        for (int c = 0; c < ly->out_c; c++) {
            out[ly->s_off + c] += weight * mean[c];
            out[ly->s_off + ly->out_c + c] += weight * (unbias * var[c]);
        }
    }
}

void rl_model_update_stats(rl_model *m, const float *sums, float momentum) {
    for (size_t i = 0; i < m->n_stats; i++)
        m->stats[i] = (1.0f - momentum) * m->stats[i] + momentum * sums[i];
}
