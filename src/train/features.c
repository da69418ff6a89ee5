/* An encoder's pool features: the collective HDF5 cache, exact moments, the training memory check
 * (features.h). */
#include "src/train/features.h"

#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/core/mem.h"
#include "src/io/io.h"

#include <stdlib.h>

int features_cache_read(const char *cache, const char *key, int64_t n, int k, int64_t lo,
                        int64_t hi, float *f, rl_model *m, const char *who) {
    int found = io_features_read(cache, key, n, k, lo, hi - lo, f, (int64_t)m->n_params, m->params);
    if (comm_agree_error(found < 0 ? found : 0) < 0)
        return RL_ERR;
    int agree = found; // every rank sees the same file; make sure
    if (comm_max_i32(&agree, 1) < 0 || agree != found)
        return rl_fail("ranks disagree on whether %s exists", "use a shared file system", cache);
    if (found && comm_rank() == 0)
        rl_log_info("%s: features from the cache %s", who, cache);
    return found;
}

int features_cache_write(const char *cache, const char *key, const float *all, int64_t n, int k,
                         const rl_model *m, const char *who) {
    int rc = 0;
    if (comm_rank() == 0) {
        rc = io_features_write(cache, key, all, n, k, m->params, (int64_t)m->n_params);
        if (rc == 0)
            rl_log_info("%s: features written to the cache %s", who, cache);
    }
    return comm_agree_error(rc);
}

int features_check_training(const rl_model *m, int64_t n, const char *who, const char *what) {
    uint64_t bytes = rl_size_add(rl_size_mul(m->n_params, 4 * sizeof(float) + 8),
                                 rl_size_mul((uint64_t)n, sizeof(int64_t)));
    if (rl_mem_check(bytes, "training the %s %s (%zu parameters)", who, m->spec, m->n_params) < 0)
        return rl_fail_hint("use a smaller %s", what);
    return 0;
}

int features_moments(const float *f, int64_t n_mine, int k, int64_t n_total, float *mean,
                     double *var) {
    double n = (double)n_total;
    comm_exact sum;
    comm_exact_init(&sum, (size_t)k);
    float *sq = rl_xmalloc(sizeof(float) * (size_t)k);
    for (int64_t i = 0; i < n_mine; i++)
        comm_exact_add(&sum, 0, f + (size_t)i * (size_t)k, (size_t)k, RL_FIXED_FRAC_BITS);
    int rc = comm_exact_reduce(&sum);
    for (int j = 0; j < k; j++)
        mean[j] = (float)(comm_exact_value(&sum, (size_t)j, RL_FIXED_FRAC_BITS) / n);
    comm_exact_zero(&sum);
    for (int64_t i = 0; i < n_mine; i++) {
        const float *fi = f + (size_t)i * (size_t)k;
        for (int j = 0; j < k; j++)
            sq[j] = (fi[j] - mean[j]) * (fi[j] - mean[j]);
        comm_exact_add(&sum, 0, sq, (size_t)k, RL_FIXED_FRAC_BITS);
    }
    rc = rc ? rc : comm_exact_reduce(&sum);
    for (int j = 0; j < k; j++)
        var[j] = comm_exact_value(&sum, (size_t)j, RL_FIXED_FRAC_BITS) / n;
    comm_exact_free(&sum);
    free(sq);
    return rc;
}
