/* Black-box ℓ∞ attacks by queries of a classifier's logits: ZOQO on the 8-bit pixel grid,
 * fp32 ZO-SignSGD and SignHunter (see blackbox.h). */
#include "src/nn/blackbox.h"
#include "src/core/error.h"
#include "src/nn/nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const rl_blackbox_method_names[RL_BLACKBOX_METHODS] = {"zoqo", "sign", "signhunter"};

void rl_blackbox_init(rl_blackbox *b, const rl_blackbox_options *o) {
    size_t n = (size_t)o->dim;
    memset(b, 0, sizeof *b);
    b->o = *o;
    b->x_adv = rl_xmalloc(sizeof(float) * 2 * n);
    b->fdelta = rl_xmalloc(sizeof(float) * n);
    b->fwork = rl_xmalloc(sizeof(float) * n);
    b->flo = rl_xmalloc(sizeof(float) * n);
    b->fhi = rl_xmalloc(sizeof(float) * n);
    b->delta = rl_xmalloc(n);
    b->dwork = rl_xmalloc(2 * n);
    b->xcode = rl_xmalloc(sizeof(int16_t) * n);
    b->clo = rl_xmalloc(sizeof(int16_t) * n);
    b->chi = rl_xmalloc(sizeof(int16_t) * n);
    b->signs = rl_xmalloc(n);
    b->votes = rl_xmalloc(sizeof(int32_t) * n);
}

void rl_blackbox_free(rl_blackbox *b) {
    free(b->x_adv);
    free(b->fdelta);
    free(b->fwork);
    free(b->flo);
    free(b->fhi);
    free(b->delta);
    free(b->dwork);
    free(b->xcode);
    free(b->clo);
    free(b->chi);
    free(b->signs);
    free(b->votes);
    memset(b, 0, sizeof *b);
}

/* The state of one image's attack: its label, the queries spent, whether one succeeded and
 * which row of the last batch of queries did. */
typedef struct {
    int label;
    int64_t queries;
    int success, hit;
} image_state;

/* Queries: one forward pass of the classifier on images x (rows, dim), rows = 1 or 2 (the two
 * points of a ZO step go in one pass), each row counted as a query. Notes a changed prediction
 * (the first such row in s->hit); loss (rows) receives the losses to ascend. */
static void query(rl_blackbox *b, image_state *s, const float *x, int rows, double *loss) {
    const float *logits = b->o.logits(b->o.ctx, x, rows);
    for (int r = 0; r < rows; r++) {
        const float *z = logits + (size_t)r * (size_t)b->o.classes;
        s->queries++;
        if (!s->success && rl_count_correct(z, &s->label, 1, b->o.classes) == 0) {
            s->success = 1;
            s->hit = r;
        }
        if (!b->o.margin) {
            loss[r] = rl_loss_softmax_ce(z, &s->label, NULL, 1, b->o.classes, 0.0f, NULL, NULL);
            continue;
        }
        double other = -INFINITY;
        for (int j = 0; j < b->o.classes; j++)
            if (j != s->label && z[j] > other)
                other = z[j];
        loss[r] = other - z[s->label];
    }
}

/* Queries an attack may still make for this image (0 once it succeeded), at most 2. */
static int queries_left(const rl_blackbox *b, const image_state *s) {
    if (s->success)
        return 0;
    return b->o.max_queries - s->queries < 2 ? (int)(b->o.max_queries - s->queries) : 2;
}

static int eps_codes(double eps) {
    return (int)floor(eps * 255.0 + 1e-9);
}

static int sign_of(int32_t v) {
    return (v > 0) - (v < 0);
}

/* x_adv (dim) = clamp(x_code + δ, 0, 255) / 255, the data's own pixel values. */
static void codes_to_image(const rl_blackbox *b, const int8_t *delta, float *x_adv) {
    for (int i = 0; i < b->o.dim; i++) {
        int v = b->xcode[i] + delta[i];
        x_adv[i] = (float)(v < 0 ? 0 : v > 255 ? 255 : v) / 255.0f;
    }
}

/* ZOQO: δ in codes on the 8-bit grid. adv (dim, or NULL) receives the δ of the image queried
 * last on success (else of the current iterate), as it acts on the image (pixel range applied). */
static void attack_zoqo(rl_blackbox *b, image_state *s, uint32_t image, double eps, int8_t *adv) {
    const int n = b->o.dim, E = eps_codes(eps);
    for (int i = 0; i < n; i++) {
        b->clo[i] = (int16_t)(-b->xcode[i] > -E ? -b->xcode[i] : -E);
        b->chi[i] = (int16_t)(255 - b->xcode[i] < E ? 255 - b->xcode[i] : E);
    }
    memset(b->delta, 0, (size_t)n);
    int rows;
    for (uint32_t t = 0; (rows = queries_left(b, s)) > 0; t++) {
        double loss[2];
        for (int d = 0; d < rows; d++) {
            int8_t *point = b->dwork + (size_t)d * (size_t)n;
            kern_perturb_codes(point, b->delta, (size_t)n, b->o.key, t, image, b->o.zoqo_kind,
                               b->o.zoqo_m, d ? -1 : +1, E);
            codes_to_image(b, point, b->x_adv + (size_t)d * (size_t)n);
        }
        query(b, s, b->x_adv, rows, loss);
        if (s->success || rows < 2)
            break;
        int g = (loss[0] > loss[1]) - (loss[0] < loss[1]);
        if (g == 0) /* tie: no step */
            continue;
        memset(b->votes, 0, sizeof(int32_t) * (size_t)n);
        kern_perturb_vote(b->votes, (size_t)n, b->o.key, t, image, b->o.zoqo_kind, b->o.zoqo_m, g);
        for (int i = 0; i < n; i++) {
            int v = b->delta[i] + b->o.zoqo_c * sign_of(b->votes[i]);
            b->delta[i] = (int8_t)(v < b->clo[i] ? b->clo[i] : v > b->chi[i] ? b->chi[i] : v);
        }
    }
    const int8_t *last = s->success ? b->dwork + (size_t)s->hit * (size_t)n : b->delta;
    for (int i = 0; adv && i < n; i++) {
        int v = b->xcode[i] + last[i];
        adv[i] = (int8_t)((v < 0 ? 0 : v > 255 ? 255 : v) - b->xcode[i]);
    }
}

/* fp32 ZO-SignSGD: δ continuous in the ball, Gaussian perturbations of radius μ. */
static void attack_sign(rl_blackbox *b, image_state *s, const float *x, uint32_t image,
                        double eps) {
    const int n = b->o.dim;
    const float e = (float)eps;
    for (int i = 0; i < n; i++) {
        b->flo[i] = fmaxf(-e, -x[i]);
        b->fhi[i] = fminf(e, 1.0f - x[i]);
    }
    memset(b->fdelta, 0, sizeof(float) * (size_t)n);
    int rows;
    for (uint32_t t = 0; (rows = queries_left(b, s)) > 0; t++) {
        double loss[2];
        for (int d = 0; d < rows; d++) {
            float *point = b->x_adv + (size_t)d * (size_t)n;
            memcpy(b->fwork, b->fdelta, sizeof(float) * (size_t)n);
            kern_perturb_axpy(b->fwork, (size_t)n, b->o.key, t, image, b->o.sign_kind, 1,
                              d ? -b->o.sign_mu : b->o.sign_mu);
            for (int i = 0; i < n; i++)
                point[i] = fminf(fmaxf(x[i] + fminf(fmaxf(b->fwork[i], -e), e), 0.0f), 1.0f);
        }
        query(b, s, b->x_adv, rows, loss);
        if (s->success || rows < 2)
            break;
        int g = (loss[0] > loss[1]) - (loss[0] < loss[1]);
        if (g == 0)
            continue;
        memset(b->votes, 0, sizeof(int32_t) * (size_t)n);
        kern_perturb_vote(b->votes, (size_t)n, b->o.key, t, image, b->o.sign_kind, 1, g);
        for (int i = 0; i < n; i++) {
            float v = b->fdelta[i] + b->o.sign_lr * (float)sign_of(b->votes[i]);
            b->fdelta[i] = fminf(fmaxf(v, b->flo[i]), b->fhi[i]);
        }
    }
}

/* SignHunter: hierarchical sign flips of δ = ε·s, greedy on the loss. */
static void attack_signhunter(rl_blackbox *b, image_state *s, const float *x, double eps) {
    const int n = b->o.dim;
    const float e = (float)eps;
    int levels = 0; /* ⌈log2 n⌉ */
    while ((1 << levels) < n)
        levels++;
    for (int i = 0; i < n; i++) {
        b->signs[i] = 1;
        b->x_adv[i] = fminf(x[i] + e, 1.0f);
    }
    double best, loss;
    if (queries_left(b, s) == 0)
        return;
    query(b, s, b->x_adv, 1, &best);
    int h = 0, chunk_i = 0;
    while (queries_left(b, s) > 0) {
        int chunk = (n + (1 << h) - 1) >> h;
        int start = chunk_i * chunk, end = start + chunk < n ? start + chunk : n;
        for (int i = start; i < end; i++) {
            b->signs[i] = (int8_t)-b->signs[i];
            b->x_adv[i] = fminf(fmaxf(x[i] + e * b->signs[i], 0.0f), 1.0f);
        }
        query(b, s, b->x_adv, 1, &loss);
        if (loss >= best) {
            best = loss;
        } else {
            for (int i = start; i < end; i++) {
                b->signs[i] = (int8_t)-b->signs[i];
                b->x_adv[i] = fminf(fmaxf(x[i] + e * b->signs[i], 0.0f), 1.0f);
            }
        }
        if (++chunk_i == 1 << h || end == n) {
            chunk_i = 0;
            h = h == levels ? 0 : h + 1;
        }
    }
}

int64_t rl_blackbox_attack(rl_blackbox *b, rl_blackbox_method method, const float *x, int label,
                           uint32_t image, double eps, int8_t *adv) {
    image_state s = {label, 1, 0, 0}; /* the clean query, made by the caller */
    for (int i = 0; i < b->o.dim; i++)
        b->xcode[i] = (int16_t)lrintf(x[i] * 255.0f);
    if (method == RL_BLACKBOX_ZOQO)
        attack_zoqo(b, &s, image, eps, adv);
    else if (method == RL_BLACKBOX_SIGN)
        attack_sign(b, &s, x, image, eps);
    else
        attack_signhunter(b, &s, x, eps);
    return s.success ? s.queries : -1;
}
