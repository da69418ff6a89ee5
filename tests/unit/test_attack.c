/* Unit tests of the ℓ∞ attack of src/nn/attack.h: adversarial examples stay inside the ε-ball
 * around the clean input and inside [0, 1], raise the loss, FGSM is one signed gradient step,
 * and PGD does at least as much damage as FGSM here; the random start is uniform in the ball,
 * a function of (round, example id) only. */
#include "src/core/rng.h"
#include "src/nn/attack.h"
#include "tests/unit/harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { N = 8, DIM = 6, CLASSES = 3 };
static const int64_t ids[N] = {0, 1, 2, 3, 4, 5, 6, 7};

/* mlp:6-5-3 with pixels in [0, 1] (some at 0 and 1 to hit the box), inputs xb, labels yb. */
typedef struct {
    rl_model model;
    rl_workspace ws;
    float xb[N * DIM], d_out[N * CLASSES];
    int32_t yb[N];
    rl_attack_scratch scratch;
    rl_rng rng;
} fixture;

static void attack_setup(fixture *t, float *clean) {
    memset(t, 0, sizeof *t);
    CU_ASSERT_FATAL(rl_model_init(&t->model, "mlp:6-5-3") == 0);
    rl_model_init_params(&t->model, 7);
    CU_ASSERT_FATAL(rl_workspace_init(&t->ws, &t->model, N) == 0);
    rl_attack_scratch_init(&t->scratch, N, DIM, CLASSES);
    t->rng = rl_rng_make(5, RL_RNG_ATTACK);
    rl_rng r = rl_rng_make(3, RL_RNG_SYNTH_DATA);
    for (int i = 0; i < N * DIM; i++)
        clean[i] = i % 7 == 0 ? 0.0f : i % 7 == 1 ? 1.0f : (float)rl_rng_uniform(r, 0, (uint32_t)i);
    for (int i = 0; i < N; i++)
        t->yb[i] = i % CLASSES;
}

static void attack(fixture *t, const rl_attack *a, const int64_t *idx, uint32_t round) {
    rl_attack_inputs(a, &t->model, &t->ws, t->xb, t->yb, idx, N, t->rng, round, &t->scratch);
}

static double attack_loss(fixture *t) {
    const float *out = rl_model_forward(&t->model, &t->ws, t->xb, N);
    return rl_loss_softmax_ce(out, t->yb, NULL, N, CLASSES, 0.0f, NULL, NULL);
}

static void attack_free(fixture *t) {
    rl_model_free(&t->model);
    rl_workspace_free(&t->ws);
    rl_attack_scratch_free(&t->scratch);
}

static void test_attack_ball_box_and_damage(void) {
    fixture t;
    float clean[N * DIM];
    attack_setup(&t, clean);
    memcpy(t.xb, clean, sizeof clean);
    double loss_clean = attack_loss(&t);
    const float eps = 0.1f;
    rl_attack fgsm = {.eps = eps, .alpha = eps, .steps = 1};
    rl_attack pgd = {.eps = eps, .alpha = 0.025f, .steps = 10};
    double loss[2];
    for (int k = 0; k < 2; k++) {
        memcpy(t.xb, clean, sizeof clean);
        attack(&t, k == 0 ? &fgsm : &pgd, ids, 0);
        CU_ASSERT_EQUAL(memcmp(t.scratch.x0, clean, sizeof clean), 0); /* the clean copy is kept */
        int moved = 0;
        for (int i = 0; i < N * DIM; i++) {
            /* the ball's bounds as floats (|x' − x| itself may round one ulp above ε) */
            CU_ASSERT(t.xb[i] >= clean[i] - eps && t.xb[i] <= clean[i] + eps);
            CU_ASSERT(t.xb[i] >= 0.0f && t.xb[i] <= 1.0f);
            moved += t.xb[i] != clean[i];
        }
        CU_ASSERT(moved > N * DIM / 2);
        loss[k] = attack_loss(&t);
        CU_ASSERT(loss[k] > loss_clean);
    }
    CU_ASSERT(loss[1] >= loss[0] - 1e-6);
    /* FGSM is clip(x + ε·sign(∇_x ℓ), 0, 1) with the gradient at the clean input. */
    memcpy(t.xb, clean, sizeof clean);
    const float *out = rl_model_forward(&t.model, &t.ws, t.xb, N);
    rl_loss_softmax_ce(out, t.yb, NULL, N, CLASSES, 1.0f, t.d_out, NULL);
    float grad[N * DIM];
    rl_model_input_grad(&t.model, &t.ws, t.d_out, N, grad);
    attack(&t, &fgsm, ids, 0);
    for (int i = 0; i < N * DIM; i++) {
        float step = grad[i] > 0 ? eps : grad[i] < 0 ? -eps : 0.0f;
        CU_ASSERT_EQUAL(t.xb[i], fminf(fmaxf(clean[i] + step, 0.0f), 1.0f));
    }
    for (size_t i = 0; i < t.model.n_params; i++)
        CU_ASSERT_EQUAL(t.model.grads[i], 0.0f);
    attack_free(&t);
}

/* steps = 0 leaves the random start: inside the ball and the box, spread over the ball, the same
 * for an example whatever its position in the batch, another for another round. */
static void test_random_start(void) {
    fixture t;
    float clean[N * DIM], start[N * DIM];
    attack_setup(&t, clean);
    const float eps = 0.25f;
    rl_attack noise = {.eps = eps, .alpha = 0.0f, .steps = 0, .random_start = 1};
    memcpy(t.xb, clean, sizeof clean);
    attack(&t, &noise, ids, 3);
    memcpy(start, t.xb, sizeof start);
    int inside = 1, below = 0, above = 0;
    for (int i = 0; i < N * DIM; i++) {
        inside &= start[i] >= clean[i] - eps && start[i] <= clean[i] + eps && start[i] >= 0.0f &&
                  start[i] <= 1.0f;
        below += start[i] < clean[i] - eps / 2;
        above += start[i] > clean[i] + eps / 2;
    }
    CU_ASSERT(inside);
    CU_ASSERT(below > 4 && above > 4);
    /* Examples 5 and 2 swapped: each keeps its own noise. */
    int64_t swapped[N] = {0, 1, 5, 3, 4, 2, 6, 7};
    float clean_swapped[N * DIM];
    memcpy(clean_swapped, clean, sizeof clean);
    memcpy(clean_swapped + 2 * DIM, clean + 5 * DIM, DIM * sizeof(float));
    memcpy(clean_swapped + 5 * DIM, clean + 2 * DIM, DIM * sizeof(float));
    memcpy(t.xb, clean_swapped, sizeof clean);
    attack(&t, &noise, swapped, 3);
    CU_ASSERT(memcmp(t.xb + 2 * DIM, start + 5 * DIM, DIM * sizeof(float)) == 0);
    CU_ASSERT(memcmp(t.xb + 5 * DIM, start + 2 * DIM, DIM * sizeof(float)) == 0);
    CU_ASSERT(memcmp(t.xb, start, 2 * DIM * sizeof(float)) == 0);
    memcpy(t.xb, clean, sizeof clean);
    attack(&t, &noise, ids, 4);
    CU_ASSERT(memcmp(t.xb, start, sizeof start) != 0);
    attack_free(&t);
}

static const rl_test tests[] = {
    {"attacks stay in the eps-ball and [0, 1] and raise the loss", test_attack_ball_box_and_damage},
    {"the random start is uniform in the ball and keyed by (round, example id)",
     test_random_start},
    {NULL, NULL},
};
RL_TEST_SUITE("attack", tests)
