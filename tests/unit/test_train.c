/* Unit tests of training mechanisms in src/train: milestone schedules of the learning rate and
 * of the MW rate (torch's MultiStepLR convention). */
#include "src/core/config.h"
#include "src/core/error.h"
#include "src/train/schedule.h"
#include "tests/unit/harness.h"

#include <stdio.h>
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

static const rl_test tests[] = {
    {"milestone schedule follows MultiStepLR", test_schedule_multistep},
    {"milestones outside [1, epochs] or twice are refused", test_schedule_refusals},
    {NULL, NULL},
};

RL_TEST_SUITE("train", tests)
