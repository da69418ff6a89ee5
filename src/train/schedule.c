/* Milestone schedules of a rate over epochs and lists of epochs (see schedule.h). */
#include "src/train/schedule.h"
#include "src/core/error.h"
#include "src/core/mem.h"

#include <stdlib.h>
#include <string.h>

static int compare_epochs(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int train_epoch_list(const rl_config *cfg, const char *key, int64_t epochs, int64_t **out, int *n) {
    *out = rl_xmalloc(sizeof(int64_t) * (size_t)epochs);
    *n = 0;
    const char *text = rl_cfg_str(cfg, key);
    if (!text[strspn(text, " \t")])
        return 0;
    if (rl_cfg_int_list(cfg, key, 1, epochs, (int)epochs, *out, n) < 0)
        return RL_ERR;
    qsort(*out, (size_t)*n, sizeof(int64_t), compare_epochs);
    return 0;
}

int train_schedule_read(train_schedule *s, const rl_config *cfg, const char *base_key,
                        const char *milestones_key, const char *gamma_key, int64_t epochs) {
    memset(s, 0, sizeof *s);
    s->base = rl_cfg_float(cfg, base_key);
    s->gamma = rl_cfg_float(cfg, gamma_key);
    return train_epoch_list(cfg, milestones_key, epochs, &s->milestones, &s->n);
}

void train_schedule_free(train_schedule *s) {
    if (!s)
        return;
    free(s->milestones);
    memset(s, 0, sizeof *s);
}

double train_schedule_at(const train_schedule *s, int64_t epoch) {
    double value = s->base;
    for (int k = 0; k < s->n && s->milestones[k] <= epoch; k++)
        value *= s->gamma;
    return value;
}
