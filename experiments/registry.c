/* The list of experiments `ranklab` knows. Add a new one here. */
#include "experiments/experiment.h"

#include <string.h>

extern const rl_experiment rl_experiment_train;
extern const rl_experiment rl_experiment_mw_train;
extern const rl_experiment rl_experiment_zoqo_train;
extern const rl_experiment rl_experiment_zoqo_attack;
extern const rl_experiment rl_experiment_prune_init;
extern const rl_experiment rl_experiment_subset_select;
extern const rl_experiment rl_experiment_gor_train;

static const rl_experiment *const experiments[] = {
    &rl_experiment_train,
    &rl_experiment_mw_train,
    &rl_experiment_zoqo_train,
    &rl_experiment_zoqo_attack,
    &rl_experiment_prune_init,
    &rl_experiment_subset_select,
    &rl_experiment_gor_train,
};

const rl_experiment *rl_experiment_at(int i) {
    int n = (int)(sizeof experiments / sizeof experiments[0]);
    return i >= 0 && i < n ? experiments[i] : NULL;
}

const rl_experiment *rl_experiment_find(const char *name) {
    for (int i = 0; rl_experiment_at(i); i++)
        if (strcmp(rl_experiment_at(i)->name, name) == 0)
            return rl_experiment_at(i);
    return NULL;
}
