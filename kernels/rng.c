/* Counter-based random numbers: Philox4x32-10 from Random123. */
#include "kernels/kernels.h"

#include <Random123/philox.h>
#include <math.h>

void kern_philox(const uint32_t key[2], const uint32_t counter[4], uint32_t out[4]) {
    philox4x32_key_t k = {{key[0], key[1]}};
    philox4x32_ctr_t c = {{counter[0], counter[1], counter[2], counter[3]}};
    philox4x32_ctr_t r = philox4x32(c, k);
    for (int i = 0; i < 4; i++)
        out[i] = r.v[i];
}

void kern_fill_uniform(float *x, size_t n, const uint32_t key[2], uint32_t stream, float lo,
                       float hi) {
    const float width = hi - lo;
    size_t i = 0;
    uint32_t block[4];
    for (; i + 4 <= n; i += 4) {
        uint32_t ctr[4] = {stream, (uint32_t)(i / 4), 0, 0};
        kern_philox(key, ctr, block);
        for (int j = 0; j < 4; j++)
            x[i + j] = kern_unit_to_range(kern_u32_to_unit(block[j]), lo, width, hi);
    }
    if (i < n) {
        uint32_t ctr[4] = {stream, (uint32_t)(i / 4), 0, 0};
        kern_philox(key, ctr, block);
        for (int j = 0; i + j < n; j++)
            x[i + j] = kern_unit_to_range(kern_u32_to_unit(block[j]), lo, width, hi);
    }
}
