/* Unit tests of the black-box attacks of src/nn/blackbox.h on a linear two-class victim of 16
 * pixels: every method flips a weakly classified image within the budget and reports exactly
 * the forward passes it made (plus the clean one); ZOQO's δ stays on the pixel grid, in the
 * ε-ball and the pixel range, and fools the victim; a victim that cannot be fooled costs
 * exactly the budget; the perturbations are a function of the image's counter. */
#include "src/nn/blackbox.h"
#include "tests/unit/harness.h"

#include <math.h>
#include <string.h>

enum { DIM = 16 };

/* z0 = Σ_i w_i x_i with w = +1 on the first half and −1 on the second; z1 = bias. */
typedef struct {
    float bias, logits[4];
    int64_t rows_queried;
} linear_victim;

static const float *victim_logits(void *ctx, const float *x, int rows) {
    linear_victim *v = ctx;
    for (int r = 0; r < rows; r++) {
        float z0 = 0.0f;
        for (int i = 0; i < DIM; i++)
            z0 += (i < DIM / 2 ? 1.0f : -1.0f) * x[r * DIM + i];
        v->logits[2 * r] = z0;
        v->logits[2 * r + 1] = v->bias;
    }
    v->rows_queried += rows;
    return v->logits;
}

/* The clean image: 153/255 on the first half, 102/255 on the second, so z0 = 1.6. */
static void clean_image(float *x) {
    for (int i = 0; i < DIM; i++)
        x[i] = (i < DIM / 2 ? 153.0f : 102.0f) / 255.0f;
}

static rl_blackbox_options options(linear_victim *v, int64_t max_queries) {
    rl_blackbox_options o = {.logits = victim_logits,
                             .ctx = v,
                             .dim = DIM,
                             .classes = 2,
                             .margin = 1,
                             .max_queries = max_queries,
                             .zoqo_m = 4,
                             .zoqo_c = 2,
                             .zoqo_kind = KERN_PERTURB_RADEMACHER,
                             .sign_kind = KERN_PERTURB_GAUSSIAN,
                             .sign_mu = 4.0f / 255.0f,
                             .sign_lr = 2.0f / 255.0f,
                             .key = {11, 12}};
    return o;
}

static void test_success_and_query_count(void) {
    float x[DIM];
    clean_image(x);
    for (int m = 0; m < RL_BLACKBOX_METHODS; m++) {
        linear_victim v = {.bias = 1.0f};
        rl_blackbox_options o = options(&v, 2000);
        rl_blackbox b;
        rl_blackbox_init(&b, &o);
        int8_t adv[DIM];
        int64_t q = rl_blackbox_attack(&b, (rl_blackbox_method)m, x, 0, 3, 0.2, adv);
        CU_ASSERT(q > 1 && q <= 2000);
        CU_ASSERT_EQUAL(q, 1 + v.rows_queried); /* every forward pass row, the clean one too */
        if (m == RL_BLACKBOX_ZOQO) {
            float fooled[DIM];
            for (int i = 0; i < DIM; i++) {
                int code = (int)lrintf(x[i] * 255.0f) + adv[i];
                CU_ASSERT(adv[i] >= -51 && adv[i] <= 51 && code >= 0 && code <= 255);
                fooled[i] = (float)code / 255.0f;
            }
            const float *z = victim_logits(&v, fooled, 1);
            CU_ASSERT(z[1] > z[0]);
        }
        rl_blackbox_free(&b);
    }
}

static void test_unfoolable_victim_spends_the_budget(void) {
    float x[DIM];
    clean_image(x);
    for (int m = 0; m < RL_BLACKBOX_METHODS; m++) {
        for (int64_t cap = 1; cap <= 301; cap += 300) {
            linear_victim v = {.bias = -100.0f};
            rl_blackbox_options o = options(&v, cap);
            rl_blackbox b;
            rl_blackbox_init(&b, &o);
            CU_ASSERT_EQUAL(rl_blackbox_attack(&b, (rl_blackbox_method)m, x, 0, 3, 0.1, NULL), -1);
            CU_ASSERT_EQUAL(v.rows_queried, cap - 1);
            rl_blackbox_free(&b);
        }
    }
}

static void test_perturbations_keyed_by_image(void) {
    float x[DIM];
    clean_image(x);
    int64_t first[8], again[8];
    int differ = 0;
    for (int pass = 0; pass < 2; pass++)
        for (uint32_t image = 0; image < 8; image++) {
            linear_victim v = {.bias = 1.0f};
            rl_blackbox_options o = options(&v, 5000);
            rl_blackbox b;
            rl_blackbox_init(&b, &o);
            int64_t q = rl_blackbox_attack(&b, RL_BLACKBOX_SIGN, x, 0, image, 0.2, NULL);
            (pass ? again : first)[image] = q;
            differ += pass == 0 && image > 0 && q != first[0];
            rl_blackbox_free(&b);
        }
    CU_ASSERT(memcmp(first, again, sizeof first) == 0);
    CU_ASSERT(differ > 0);
}

static const rl_test tests[] = {
    {"every method fools a weak victim and counts its queries", test_success_and_query_count},
    {"an unfoolable victim costs exactly the budget", test_unfoolable_victim_spends_the_budget},
    {"perturbations are keyed by the image's counter", test_perturbations_keyed_by_image},
    {NULL, NULL},
};
RL_TEST_SUITE("blackbox", tests)
