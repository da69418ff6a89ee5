/* Step schedules of a rate over epochs, as torch's MultiStepLR: during epoch e (0-based) the
 * value is base · gamma^k, k the number of milestones m <= e. The data-parallel trainer's
 * learning rate (train.lr_milestones, train.lr_gamma) and mw-train's MW rate (mw.eta_milestones,
 * mw.eta_gamma) follow one. The value is a function of the epoch alone, so a resumed run takes
 * the same values as an uninterrupted one. Lists of epochs (milestones, epochs whose state is
 * saved) are read by train_epoch_list.
 *
 *     train_schedule lr;
 *     if (train_schedule_read(&lr, cfg, "train.lr", "train.lr_milestones", "train.lr_gamma",
 *                             epochs) < 0) ...;            // milestones in [1, epochs]
 *     opt.lr = (float)train_schedule_at(&lr, step / per_epoch);
 *     train_schedule_free(&lr);
 */
#ifndef RANKLAB_TRAIN_SCHEDULE_H
#define RANKLAB_TRAIN_SCHEDULE_H

#include "src/core/config.h"

#include <stdint.h>

typedef struct {
    double base, gamma;
    int n;               /* milestones */
    int64_t *milestones; /* (n) increasing epochs */
} train_schedule;

/* The epochs that key `key` lists: a comma list of whole numbers in [1, epochs], none twice
 * (empty: none), into *out (allocated, also on error; free() it) in increasing order, *n of
 * them. Errors name the key, with a hint. */
int train_epoch_list(const rl_config *cfg, const char *key, int64_t epochs, int64_t **out, int *n);
/* base from the float key base_key, gamma from gamma_key, the milestones from the epoch list
 * milestones_key (train_epoch_list). */
int train_schedule_read(train_schedule *s, const rl_config *cfg, const char *base_key,
                        const char *milestones_key, const char *gamma_key, int64_t epochs);
void train_schedule_free(train_schedule *s); /* NULL-safe */
/* base · gamma^k during epoch `epoch` (0-based), k = #{milestones m <= epoch}, multiplied in
 * milestone order (without milestones: base itself). */
double train_schedule_at(const train_schedule *s, int64_t epoch);

#endif
