/* Unit tests of training mechanisms in src/train: milestone schedules of the learning rate and
 * of the MW rate (torch's MultiStepLR convention); mixup's draws and its chunked, weighted
 * objective against the whole batch computed at once; batch norm's statistics summed over a
 * batch's chunks; co-teaching's forget-rate schedule and
 * its small-loss selection on a hand-worked batch (ties, NaN); SimCLR's two views of an image
 * (keyed by seed, epoch, example id and view alone; flip and noise as asked). */
#include "src/comm/comm.h"
#include "src/core/config.h"
#include "src/core/error.h"
#include "src/data/data.h"
#include "src/nn/nn.h"
#include "src/train/chunks.h"
#include "src/train/coteach.h"
#include "src/train/mixup.h"
#include "src/train/schedule.h"
#include "src/train/simclr.h"
#include "tests/unit/harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const rl_cfg_spec schedule_keys[] = {
    {"s.rate", RL_CFG_FLOAT, "0.1", 0, 10, NULL, 0, "base"},
    {"s.milestones", RL_CFG_STRING, "", 0, -1, NULL, 0, "milestones"},
    {"s.gamma", RL_CFG_FLOAT, "0.1", 0, 10, NULL, 0, "factor"},
};

/* The schedule of `milestones` over `epochs` epochs; returns train_schedule_read's status. */
static int read_schedule(train_schedule *s, const char *milestones, int64_t epochs) {
    memset(s, 0, sizeof *s);
    rl_config *cfg = rl_cfg_new();
    rl_cfg_declare(cfg, schedule_keys, sizeof schedule_keys / sizeof schedule_keys[0]);
    char assignment[128];
    snprintf(assignment, sizeof assignment, "s.milestones=%s", milestones);
    int rc = rl_cfg_set_override(cfg, assignment);
    rc = rc ? rc : rl_cfg_resolve(cfg);
    rc = rc ? rc : train_schedule_read(s, cfg, "s.rate", "s.milestones", "s.gamma", epochs);
    rl_cfg_free(cfg);
    return rc;
}

static void test_schedule_multistep(void) {
    /* The authors' learning rate: 0.1 for epochs 0..79, then ×0.1 at 80 and at 120 (given in
     * any order). */
    train_schedule s;
    CU_ASSERT_EQUAL_FATAL(read_schedule(&s, "120, 80", 160), 0);
    const double lr = 0.1, lr1 = lr * 0.1, lr2 = lr1 * 0.1;
    CU_ASSERT_EQUAL(train_schedule_at(&s, 0), lr);
    CU_ASSERT_EQUAL(train_schedule_at(&s, 79), lr);
    CU_ASSERT_EQUAL(train_schedule_at(&s, 80), lr1);
    CU_ASSERT_EQUAL(train_schedule_at(&s, 119), lr1);
    CU_ASSERT_EQUAL(train_schedule_at(&s, 120), lr2);
    CU_ASSERT_EQUAL(train_schedule_at(&s, 159), lr2);
    train_schedule_free(&s);
    /* No milestones: the base at every epoch, the same bits as the key. */
    CU_ASSERT_EQUAL_FATAL(read_schedule(&s, "", 10), 0);
    CU_ASSERT_EQUAL(s.n, 0);
    CU_ASSERT_EQUAL(train_schedule_at(&s, 0), 0.1);
    CU_ASSERT_EQUAL(train_schedule_at(&s, 9), 0.1);
    train_schedule_free(&s);
    train_schedule_free(NULL);
}

static void test_schedule_refusals(void) {
    train_schedule s;
    const char *bad[] = {"0", "11", "3,3", "2,x"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        rl_error_clear();
        CU_ASSERT_EQUAL(read_schedule(&s, bad[k], 10), RL_ERR);
        CU_ASSERT_PTR_NOT_NULL(strstr(rl_error_message(), "s.milestones"));
        CU_ASSERT(rl_error_hint() != NULL && rl_error_hint()[0] != '\0');
        train_schedule_free(&s);
    }
    rl_error_clear();
}

static void test_mixup_draws(void) {
    enum { N = 50 };
    int64_t idx[N];
    for (int i = 0; i < N; i++)
        idx[i] = 1000 + 7 * i;
    train_mixup m, again;
    train_mixup_init(&m, 0.4, N, 11);
    train_mixup_init(&again, 0.4, N, 11);
    train_mixup_draw(&m, idx, N, 5);
    /* λ is Beta(α, α) of the step; the partners are the batch's examples, each once. */
    CU_ASSERT_EQUAL(m.lambda,
                    (float)rl_rng_beta(rl_rng_make(11, RL_RNG_MIXUP_LAMBDA), 5, 0.4, 0.4));
    CU_ASSERT(m.lambda >= 0.0f && m.lambda <= 1.0f);
    int seen[N] = {0}, moved = 0;
    for (int b = 0; b < N; b++) {
        int64_t k = (m.partner[b] - 1000) / 7;
        CU_ASSERT_FATAL(k >= 0 && k < N && m.partner[b] == idx[k]);
        seen[k]++;
        moved += k != b;
    }
    for (int k = 0; k < N; k++)
        CU_ASSERT_EQUAL(seen[k], 1);
    CU_ASSERT(moved > N / 2);
    /* A function of the step: drawn again in another order, the same; another step differs. */
    train_mixup_draw(&again, idx, N, 6);
    CU_ASSERT(again.lambda != m.lambda);
    train_mixup_draw(&again, idx, N, 5);
    CU_ASSERT_EQUAL(again.lambda, m.lambda);
    CU_ASSERT(memcmp(again.partner, m.partner, sizeof idx) == 0);
    train_mixup_free(&m);
    train_mixup_free(&again);
    train_mixup_free(NULL);
}

/* Mixup of a weighted batch cut into chunks of 4 (pairs across chunks) gives the gradient and
 * objective of the whole batch mixed at once: λ·Σ w_i ℓ(y_i) + (1 − λ)·Σ w_p ℓ(y_p), scaled. */
static void test_mixup_objective(void) {
    enum { N = 12, DIM = 4, CLASSES = 3 };
    rl_dataset d;
    rl_model model;
    CU_ASSERT_FATAL(rl_data_make_blobs(N, DIM, CLASSES, 1.0f, 3, 0, &d) == RL_OK);
    CU_ASSERT_FATAL(rl_model_init(&model, "mlp:4-5-3") == 0);
    rl_model_init_params(&model, 1);
    train_chunks c;
    CU_ASSERT_FATAL(train_chunks_init(&c, &model, &d, 4) == 0);
    int64_t idx[N];
    double weights[N];
    for (int i = 0; i < N; i++) {
        idx[i] = N - 1 - i;
        weights[i] = 0.02 + 0.01 * i;
    }
    train_mixup m;
    train_mixup_init(&m, 1.0, N, 5);
    train_mixup_draw(&m, idx, N, 3);
    int crossing = 0;
    for (int b = 0; b < N; b++)
        crossing += m.order[b] / 4 != b / 4;
    CU_ASSERT(crossing > 0);
    train_loss ce = train_loss_for(&d);
    const float scale = 1.0f / N;
    train_objective o = {.loss = &ce,
                         .weights = weights,
                         .weight_scale = 2.0,
                         .scale = scale,
                         .mix_lambda = m.lambda,
                         .mix_partner = m.partner};
    comm_exact e;
    comm_exact_init(&e, model.n_params + 1);
    train_chunks_gradient(&c, &d, idx, N, &o, model.grads, model.n_params, &e);
    CU_ASSERT_FATAL(comm_exact_reduce(&e) == 0);
    float *chunked = malloc(sizeof(float) * model.n_params);
    comm_exact_read(&e, 0, chunked, model.n_params, RL_FIXED_FRAC_BITS);
    double chunked_loss = comm_exact_value(&e, model.n_params, RL_FIXED_SUM_FRAC_BITS);

    /* The whole batch at once. */
    float x[N * DIM], x_partner[N * DIM], w_own[N], w_partner[N], d_out[N * CLASSES],
        d_partner[N * CLASSES];
    int32_t y[N], y_partner[N];
    rl_data_gather(&d, idx, N, x, y, NULL);
    rl_data_gather(&d, m.partner, N, x_partner, y_partner, NULL);
    const float lambda = m.lambda;
    for (int j = 0; j < N * DIM; j++)
        x[j] = lambda * x[j] + (1.0f - lambda) * x_partner[j];
    for (int i = 0; i < N; i++) {
        w_own[i] = (float)(2.0 * weights[idx[i]]);
        w_partner[i] = (float)(2.0 * weights[m.partner[i]]);
    }
    rl_workspace ws;
    CU_ASSERT_FATAL(rl_workspace_init(&ws, &model, N) == 0);
    const float *out = rl_model_forward(&model, &ws, x, N);
    double loss =
        lambda * rl_loss_softmax_ce(out, y, w_own, N, CLASSES, scale * lambda, d_out, NULL) +
        (1.0f - lambda) * rl_loss_softmax_ce(out, y_partner, w_partner, N, CLASSES,
                                             scale * (1.0f - lambda), d_partner, NULL);
    for (int j = 0; j < N * CLASSES; j++)
        d_out[j] += d_partner[j];
    rl_model_zero_grads(&model);
    rl_model_backward(&model, &ws, d_out, N);
    double largest = 0.0, worst = 0.0;
    for (size_t k = 0; k < model.n_params; k++) {
        largest = fmax(largest, fabs(model.grads[k]));
        worst = fmax(worst, fabs(model.grads[k] - chunked[k]));
    }
    CU_ASSERT(largest > 1e-3);
    CU_ASSERT(worst <= 1e-5 * largest);
    CU_ASSERT(fabs(chunked_loss - loss) <= 1e-5 * loss);
    if (worst > 1e-5 * largest || fabs(chunked_loss - loss) > 1e-5 * loss)
        fprintf(stderr, "\n  mixup: gradient differs by %g (largest %g), loss %g vs %g\n", worst,
                largest, chunked_loss, loss);
    rl_workspace_free(&ws);
    free(chunked);
    comm_exact_free(&e);
    train_mixup_free(&m);
    train_chunks_free(&c);
    rl_model_free(&model);
    rl_data_free(&d);
}

/* A batch of 5 examples in chunks of 2 (2, 2, 1): batch norm normalizes each chunk with its own
 * statistics, and the summed statistics are Σ_k (m_k / 5) · (the chunk's mean, its unbiased
 * variance), computed here from the examples. */
static void test_batchnorm_chunk_stats(void) {
    enum { N = 5, DIM = 4, CLASSES = 3, CHUNK = 2 };
    rl_dataset d;
    rl_model model;
    CU_ASSERT_FATAL(rl_data_make_blobs(N, DIM, CLASSES, 1.0f, 3, 0, &d) == RL_OK);
    CU_ASSERT_FATAL(rl_model_init(&model, "cnn:4x1x1-bn-fc3") == 0);
    rl_model_init_params(&model, 1);
    CU_ASSERT_EQUAL_FATAL(model.n_stats, 2 * DIM);
    train_chunks c;
    CU_ASSERT_FATAL(train_chunks_init(&c, &model, &d, CHUNK) == 0);
    int64_t idx[N] = {4, 1, 3, 0, 2};
    train_loss ce = train_loss_for(&d);
    train_objective o = {.loss = &ce, .scale = 1.0f / N, .sum_stats = 1};
    comm_exact e;
    comm_exact_init(&e, model.n_params + 1 + model.n_stats);
    train_chunks_gradient(&c, &d, idx, N, &o, model.grads, model.n_params, &e);
    CU_ASSERT_FATAL(comm_exact_reduce(&e) == 0);
    CU_ASSERT_EQUAL(c.ws.train, 0); /* back in evaluation mode */
    float sums[2 * DIM];
    comm_exact_read(&e, model.n_params + 1, sums, 2 * DIM, RL_FIXED_FRAC_BITS);
    float x[N * DIM];
    int32_t y[N];
    rl_data_gather(&d, idx, N, x, y, NULL);
    for (int f = 0; f < DIM; f++) {
        double mean = 0.0, var = 0.0;
        for (int start = 0; start < N; start += CHUNK) {
            int m = start + CHUNK <= N ? CHUNK : N - start;
            double sum = 0.0, sq = 0.0;
            for (int i = start; i < start + m; i++)
                sum += x[i * DIM + f];
            for (int i = start; i < start + m; i++)
                sq += (x[i * DIM + f] - sum / m) * (x[i * DIM + f] - sum / m);
            mean += (double)m / N * (sum / m);
            var += (double)m / N * (m > 1 ? sq / (m - 1) : 0.0);
        }
        CU_ASSERT(fabs(sums[f] - mean) < 1e-5);
        CU_ASSERT(fabs(sums[DIM + f] - var) < 1e-5 * fmax(1.0, var));
        CU_ASSERT(var > 0.01);
    }
    comm_exact_free(&e);
    train_chunks_free(&c);
    rl_model_free(&model);
    rl_data_free(&d);
}

static void test_coteach_schedule(void) {
    /* τ = 0.6 reached at epoch T_k = 10 (0-based), linearly from 0. */
    CU_ASSERT_EQUAL(coteach_forget_rate(0.6, 10, 0), 0.0);
    CU_ASSERT(rl_test_close(coteach_forget_rate(0.6, 10, 5), 0.3, 1));
    CU_ASSERT_EQUAL(coteach_forget_rate(0.6, 10, 10), 0.6);
    CU_ASSERT_EQUAL(coteach_forget_rate(0.6, 10, 50), 0.6);
    CU_ASSERT_EQUAL(coteach_forget_rate(0.6, 0, 0), 0.6); /* no ramp */
    /* ⌊(1 − f)·B⌋ as the authors' int(), at least one example. */
    CU_ASSERT_EQUAL(coteach_keep(128, 0.6), 51);
    CU_ASSERT_EQUAL(coteach_keep(100, 0.0), 100);
    CU_ASSERT_EQUAL(coteach_keep(100, 0.25), 75);
    CU_ASSERT_EQUAL(coteach_keep(3, 0.9), 1);
}

/* A batch of 8 examples (ids not in order), losses with a three-way tie and a NaN: the keep
 * smallest by (loss, id) are 99 (0.1), then the tie at 0.5 by id: 13, 40, 61; then 8 (1.0),
 * 7 (2.0), 5 (3.0) and last 2 (NaN). */
static void test_coteach_selection(void) {
    enum { N = 8, IDS = 100 };
    const int64_t ids[N] = {40, 7, 13, 2, 99, 5, 61, 8};
    const float losses[N] = {0.5f, 2.0f, 0.5f, NAN, 0.1f, 3.0f, 0.5f, 1.0f};
    const int64_t order[N] = {99, 13, 40, 61, 8, 7, 5, 2};
    kern_pair mine[N], chosen[N];
    double selected[IDS];
    for (int64_t keep = 1; keep <= N; keep++) {
        memset(selected, 0, sizeof selected);
        CU_ASSERT_FATAL(coteach_select(losses, ids, N, keep, mine, chosen, selected) == 0);
        int count = 0, right = 1;
        for (int64_t j = 0; j < keep; j++)
            right &= chosen[j].id == order[j];
        for (int i = 0; i < IDS; i++)
            count += selected[i] == 1.0;
        CU_ASSERT(right);
        CU_ASSERT_EQUAL(count, keep);
        for (int64_t j = 0; j < keep; j++)
            CU_ASSERT_EQUAL(selected[order[j]], 1.0);
    }
    /* The batch in another order selects the same examples, in the same order. */
    int64_t ids_rev[N];
    float losses_rev[N];
    for (int i = 0; i < N; i++) {
        ids_rev[i] = ids[N - 1 - i];
        losses_rev[i] = losses[N - 1 - i];
    }
    memset(selected, 0, sizeof selected);
    CU_ASSERT_FATAL(coteach_select(losses_rev, ids_rev, N, 4, mine, chosen, selected) == 0);
    for (int j = 0; j < 4; j++)
        CU_ASSERT_EQUAL(chosen[j].id, order[j]);
}

/* Is image b (h x w) image a mirrored left-right? */
static int mirrored(const float *a, const float *b, int h, int w) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (a[y * w + x] != b[y * w + w - 1 - x])
                return 0;
    return 1;
}

/* simclr_views: without crop and noise each view is the image or its mirror, about half of them
 * mirrored, the two views drawn independently; a chunk's views are each image's alone (any
 * chunking, any rank); another epoch draws anew; noise of std σ adds residuals of std σ. */
static void test_simclr_views(void) {
    enum { N = 200, H = 4, W = 4, DIM = H * W };
    rl_dataset d;
    CU_ASSERT_FATAL(rl_data_make_blobs(N, DIM, 2, 1.0f, 3, 0, &d) == RL_OK);
    d.channels = 1, d.height = H, d.width = W;
    simclr_training t = {.pad = 0, .noise = 0.0, .seed = 7};
    int64_t ids[N];
    for (int i = 0; i < N; i++)
        ids[i] = N - 1 - i;
    float *x = malloc(sizeof(float) * N * DIM), *v = malloc(sizeof(float) * 2 * N * DIM);
    float *alone = malloc(sizeof(float) * 2 * DIM), *later = malloc(sizeof(float) * 2 * N * DIM);
    float scratch[DIM];
    rl_data_gather(&d, ids, N, x, NULL, NULL);
    simclr_views(&t, &d, 2, ids, N, v, scratch);
    simclr_views(&t, &d, 3, ids, N, later, scratch);
    int flips[2] = {0, 0}, views_differ = 0, epoch_differs = 0, chunk_same = 1;
    for (int i = 0; i < N; i++) {
        const float *img = x + i * DIM, *v0 = v + i * DIM, *v1 = v + (N + i) * DIM;
        for (int k = 0; k < 2; k++) {
            const float *vk = k ? v1 : v0;
            int flip = mirrored(img, vk, H, W);
            CU_ASSERT(flip || memcmp(img, vk, sizeof(float) * DIM) == 0);
            flips[k] += flip;
        }
        views_differ += memcmp(v0, v1, sizeof(float) * DIM) != 0;
        epoch_differs += memcmp(v0, later + i * DIM, sizeof(float) * DIM) != 0;
        simclr_views(&t, &d, 2, &ids[i], 1, alone, scratch);
        chunk_same &= memcmp(alone, v0, sizeof(float) * DIM) == 0 &&
                      memcmp(alone + DIM, v1, sizeof(float) * DIM) == 0;
    }
    CU_ASSERT(chunk_same);
    for (int k = 0; k < 2; k++)
        CU_ASSERT(flips[k] > N / 2 - 40 && flips[k] < N / 2 + 40);
    CU_ASSERT(views_differ > N / 4);
    CU_ASSERT(epoch_differs > N / 4);

    simclr_training noisy = t;
    noisy.noise = 0.5;
    simclr_views(&noisy, &d, 2, ids, N, later, scratch);
    double sum = 0.0, sq = 0.0;
    for (int i = 0; i < 2 * N * DIM; i++) {
        double r = (double)later[i] - v[i]; /* the same flips: only the noise differs */
        sum += r;
        sq += r * r;
    }
    double mean = sum / (2 * N * DIM), sd = sqrt(sq / (2 * N * DIM) - mean * mean);
    CU_ASSERT(fabs(mean) < 0.03 && fabs(sd - 0.5) < 0.03);
    free(x);
    free(v);
    free(alone);
    free(later);
    rl_data_free(&d);
}

static const rl_test tests[] = {
    {"milestone schedule follows MultiStepLR", test_schedule_multistep},
    {"milestones outside [1, epochs] or twice are refused", test_schedule_refusals},
    {"mixup draws λ and a permutation of the batch per step", test_mixup_draws},
    {"mixup in chunks equals the weighted objective of the whole batch", test_mixup_objective},
    {"batch norm statistics summed over a batch's chunks", test_batchnorm_chunk_stats},
    {"co-teaching's forget rate ramps to τ; keep = floor((1 − f)·B)", test_coteach_schedule},
    {"co-teaching selects the smallest (loss, id) pairs of a hand-worked batch",
     test_coteach_selection},
    {"SimCLR views: keyed by (seed, epoch, id, view), flips, noise of the asked std",
     test_simclr_views},
    {NULL, NULL},
};

RL_TEST_SUITE("train", tests)
