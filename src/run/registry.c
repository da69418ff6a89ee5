/* The experiments the program knows. Each experiments/NAME.c registers itself with
 * RL_EXPERIMENT (run.h) when the program starts, so no layer below names an experiment; the
 * list is kept sorted by name. */
#include "src/run/run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EXPERIMENTS 64

static const rl_experiment *registered[MAX_EXPERIMENTS];
static int n_registered;

void rl_experiment_register(const rl_experiment *exp) {
    if (n_registered == MAX_EXPERIMENTS || rl_experiment_find(exp->name)) {
        fprintf(stderr, "bug: experiment %s registered twice, or more than %d experiments\n",
                exp->name, MAX_EXPERIMENTS);
        abort();
    }
    int at = n_registered++;
    for (; at > 0 && strcmp(registered[at - 1]->name, exp->name) > 0; at--)
        registered[at] = registered[at - 1];
    registered[at] = exp;
}

const rl_experiment *rl_experiment_at(int i) {
    return i >= 0 && i < n_registered ? registered[i] : NULL;
}

const rl_experiment *rl_experiment_find(const char *name) {
    for (int i = 0; i < n_registered; i++)
        if (strcmp(registered[i]->name, name) == 0)
            return registered[i];
    return NULL;
}
