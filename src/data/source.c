/* A split read from files once per node into memory its ranks share (see source.h). */
#include "src/data/source.h"
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/mem.h"

#include <stdlib.h>
#include <string.h>

#define LABELS_ALIGN 64 /* the labels follow the examples in the shared memory, aligned */

int data_source_load(int rc, const data_source *src, rl_dataset *out) {
    memset(out, 0, sizeof *out);
    size_t n = (size_t)src->n;
    /* the node's one copy: examples (n, dim) then labels (n) int32; each rank's y and y_clean */
    uint64_t x_bytes = rl_size_mul(rl_size_mul(n, (uint64_t)src->dim), (uint64_t)src->bytes);
    uint64_t labels_at =
        rl_size_mul((rl_size_add(x_bytes, LABELS_ALIGN - 1) / LABELS_ALIGN), LABELS_ALIGN);
    uint64_t node_bytes = rl_size_add(labels_at, rl_size_mul(n, sizeof(int32_t)));
    if (rc == RL_OK &&
        (rl_mem_check_node(node_bytes, "%s", src->what) < 0 ||
         rl_mem_check(rl_size_mul(n, 2 * sizeof(int32_t)), "the labels of %s", src->what) < 0))
        rc = rl_fail_hint("read fewer examples (data.train_limit, data.test_limit), or check the "
                          "file: a damaged header can claim too many or too large examples");
    if (comm_agree_error(rc) < 0)
        return RL_ERR;

    uint8_t *base;
    rc = comm_node_shared_alloc(node_bytes, &out->shared, (void **)&base);
    int32_t *labels = rc == RL_OK ? (int32_t *)(base + labels_at) : NULL;
    if (rc == RL_OK) { /* on every rank of the node alike */
        rc = comm_node_rank() == 0 ? src->read(src, base, labels) : RL_OK;
        comm_node_shared_publish(out->shared);
        if (src->bytes == 1)
            out->x_u8 = base;
        else
            out->x_f32 = (float *)base;
    }
    if (comm_agree_error(rc) < 0) {
        rl_data_free(out);
        return RL_ERR;
    }
    out->n = src->n;
    out->dim = src->dim;
    out->channels = src->channels;
    out->height = src->height;
    out->width = src->width;
    out->classes = src->classes;
    out->y = rl_xmalloc(n * sizeof *out->y);
    out->y_clean = rl_xmalloc(n * sizeof *out->y_clean);
    memcpy(out->y, labels, n * sizeof *out->y);
    memcpy(out->y_clean, labels, n * sizeof *out->y_clean);
    return RL_OK;
}
