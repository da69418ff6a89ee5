/* Optimizers over the flat parameter arena: SGD with momentum and Adam, both with L2 weight
 * decay added to the gradient, following torch.optim.SGD (dampening 0, no Nesterov) and
 * torch.optim.Adam (bias-corrected, not AdamW). See nn.h. */
#include "src/core/error.h"
#include "src/core/mem.h"
#include "src/nn/nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Adam's betas and eps start at torch's defaults; set them on the struct after init to change
 * them. Adam ignores `momentum`. */
int rl_opt_init(rl_optimizer *o, rl_opt_kind kind, size_t n, float lr, float momentum,
                float weight_decay) {
    memset(o, 0, sizeof *o);
    if (kind != RL_OPT_SGD && kind != RL_OPT_ADAM)
        return rl_fail("unknown optimizer kind %d", "use RL_OPT_SGD or RL_OPT_ADAM", (int)kind);
    if (!(lr >= 0.0f && isfinite(lr)))
        return rl_fail("learning rate must be finite and non-negative (got %g)",
                       "use a learning rate such as 0.1 for SGD or 0.001 for Adam", (double)lr);
    if (!(momentum >= 0.0f && momentum < 1.0f))
        return rl_fail("momentum must be in [0, 1) (got %g)", "use a momentum such as 0.9",
                       (double)momentum);
    if (!(weight_decay >= 0.0f && isfinite(weight_decay)))
        return rl_fail("weight decay must be finite and non-negative (got %g)",
                       "use a weight decay such as 0.0005, or 0 for none", (double)weight_decay);
    if (rl_mem_check(rl_size_mul(n, (kind == RL_OPT_ADAM ? 2 : 1) * sizeof(float)),
                     "the %s state of %zu parameters", kind == RL_OPT_ADAM ? "Adam" : "SGD",
                     n) < 0)
        return rl_fail_hint("use a smaller model, or SGD (half of Adam's state)");
    o->kind = kind;
    o->lr = lr;
    o->momentum = momentum;
    o->weight_decay = weight_decay;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-8f;
    o->n = n;
    o->m = rl_xcalloc(n, sizeof(float)); // (n)
    if (kind == RL_OPT_ADAM)
        o->v = rl_xcalloc(n, sizeof(float)); // (n)
    return 0;
}

void rl_opt_free(rl_optimizer *o) {
    if (!o)
        return;
    free(o->m);
    free(o->v);
    memset(o, 0, sizeof *o);
}

/* v = μv + (g + wd·θ); θ -= lr·v. */
static void sgd_step(rl_optimizer *o, float *params, const float *grads) {
    for (size_t i = 0; i < o->n; i++) {
        float g = grads[i] + o->weight_decay * params[i];
        o->m[i] = o->momentum * o->m[i] + g;
        params[i] -= o->lr * o->m[i];
    }
}

/* g = grad + wd·θ; m = β1·m + (1 − β1)·g; v = β2·v + (1 − β2)·g²;
 * θ -= lr / (1 − β1^t) · m / (√v / √(1 − β2^t) + eps). */
static void adam_step(rl_optimizer *o, float *params, const float *grads) {
    double t = (double)o->t;
    float step_size = (float)(o->lr / (1.0 - pow(o->beta1, t)));
    float bias2_sqrt = (float)sqrt(1.0 - pow(o->beta2, t));
    const float b1 = o->beta1, b2 = o->beta2;
    for (size_t i = 0; i < o->n; i++) {
        float g = grads[i] + o->weight_decay * params[i];
        o->m[i] = b1 * o->m[i] + (1.0f - b1) * g;
        o->v[i] = b2 * o->v[i] + (1.0f - b2) * g * g;
        float denom = sqrtf(o->v[i]) / bias2_sqrt + o->eps;
        params[i] -= step_size * o->m[i] / denom;
    }
}

void rl_opt_step(rl_optimizer *o, float *params, const float *grads) {
    o->t++;
    if (o->kind == RL_OPT_ADAM)
        adam_step(o, params, grads);
    else
        sgd_step(o, params, grads);
}
