/* MPI world, fatal path, ownership arithmetic, exact reductions, stop agreement (see comm.h). */
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/core/mem.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int world_rank = 0, world_size = 1;
static char host[256] = "?";

/* The fatal-error handler of src/core (out of memory) while MPI runs: ends every rank. */
static _Noreturn void end_job(const char *message, const char *hint) {
    comm_fatal("%s%s%s", message, hint && hint[0] ? "\nHINT: " : "", hint ? hint : "");
}

int comm_init(int *argc, char ***argv) {
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return rl_fail("MPI_Init failed", "run under mpiexec, or check the Open MPI install");
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    gethostname(host, sizeof host - 1);
    rl_log_set_rank(world_rank, world_size);
    rl_set_fatal_handler(end_job);
    MPI_Comm node; /* the ranks sharing this node's memory */
    int node_ranks = 1;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) ==
        MPI_SUCCESS) {
        MPI_Comm_size(node, &node_ranks);
        MPI_Comm_free(&node);
    }
    rl_mem_set_node_ranks(node_ranks);
    return 0;
}

void comm_finalize(void) {
    rl_set_fatal_handler(NULL);
    MPI_Finalize();
}

int comm_rank(void) {
    return world_rank;
}

int comm_size(void) {
    return world_size;
}

MPI_Comm comm_world(void) {
    return MPI_COMM_WORLD;
}

const char *comm_host(void) {
    return host;
}

_Noreturn void comm_fatal(const char *fmt, ...) {
    char message[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    fprintf(stderr, "fatal: rank %d on %s: %s\n", world_rank, host, message);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, RL_EXIT_ERROR);
    abort();
}

_Noreturn void comm_fatal_stored_error(void) {
    end_job(rl_error_message(), rl_error_hint());
}

void comm_block_range(int64_t n, int p, int r, int64_t *lo, int64_t *hi) {
    int64_t base = n / p, extra = n % p;
    *lo = r * base + (r < extra ? r : extra);
    *hi = *lo + base + (r < extra ? 1 : 0);
}

void comm_chunk_range(int64_t n, int chunk, int64_t *lo, int64_t *hi) {
    int64_t c_lo, c_hi;
    comm_block_range((n + chunk - 1) / chunk, world_size, world_rank, &c_lo, &c_hi);
    *lo = c_lo * chunk < n ? c_lo * chunk : n;
    *hi = c_hi * chunk < n ? c_hi * chunk : n;
}

int comm_block_owner(int64_t n, int p, int64_t i) {
    int64_t base = n / p, extra = n % p;
    int64_t big = extra * (base + 1); /* items held by the first `extra` ranks */
    if (i < big)
        return (int)(i / (base + 1));
    return (int)(extra + (i - big) / base);
}

int comm_cyclic_owner(int64_t i, int p) {
    return (int)(i % p);
}

int64_t comm_cyclic_count(int64_t n, int p, int r) {
    return n / p + (r < n % p ? 1 : 0);
}

static int check(int rc, const char *what) {
    if (rc == MPI_SUCCESS)
        return 0;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, text, &len);
    return rl_fail("%s failed: %s", "this is an MPI problem; check the job's other ranks", what,
                   text);
}

int comm_sum_i64(int64_t *values, size_t n) {
    for (size_t done = 0; done < n;) {
        int count = n - done > INT_MAX ? INT_MAX : (int)(n - done);
        int rc = MPI_Allreduce(MPI_IN_PLACE, values + done, count, MPI_INT64_T, MPI_SUM,
                               MPI_COMM_WORLD);
        if (check(rc, "MPI_Allreduce(sum)") < 0)
            return RL_ERR;
        done += (size_t)count;
    }
    return 0;
}

int comm_max_i32(int *values, size_t n) {
    return check(MPI_Allreduce(MPI_IN_PLACE, values, (int)n, MPI_INT, MPI_MAX, MPI_COMM_WORLD),
                 "MPI_Allreduce(max)");
}

int comm_max_f64(double *values, size_t n) {
    return check(MPI_Allreduce(MPI_IN_PLACE, values, (int)n, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD),
                 "MPI_Allreduce(max)");
}

int comm_allgather_i64(const int64_t *mine, int k, int64_t *all) {
    return check(MPI_Allgather(mine, k, MPI_INT64_T, all, k, MPI_INT64_T, MPI_COMM_WORLD),
                 "MPI_Allgather");
}

int comm_allgather_blocks(void *all, size_t item_bytes, int64_t lo, int64_t hi) {
    int64_t mine[2] = {lo * (int64_t)item_bytes, (hi - lo) * (int64_t)item_bytes};
    int64_t *ranges = rl_xmalloc(sizeof(int64_t) * 2 * (size_t)world_size);
    int *offsets = rl_xmalloc(sizeof(int) * 2 * (size_t)world_size), *counts = offsets + world_size;
    int rc = comm_allgather_i64(mine, 2, ranges);
    for (int r = 0; rc == 0 && r < world_size; r++) {
        if (ranges[2 * r] + ranges[2 * r + 1] > INT_MAX)
            rc = rl_fail("comm_allgather_blocks: %lld bytes exceed MPI's int counts",
                         "use fewer examples per run",
                         (long long)(ranges[2 * r] + ranges[2 * r + 1]));
        offsets[r] = (int)ranges[2 * r];
        counts[r] = (int)ranges[2 * r + 1];
    }
    if (rc == 0)
        rc = check(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, all, counts, offsets,
                                  MPI_BYTE, MPI_COMM_WORLD),
                   "MPI_Allgatherv");
    free(ranges);
    free(offsets);
    return rc;
}

int comm_agree_stop(int local_signal) {
    int sig = local_signal;
    if (comm_max_i32(&sig, 1) < 0)
        comm_fatal_stored_error();
    return sig;
}

int comm_any_failed(int local_failed) {
    int failed = local_failed != 0;
    if (comm_max_i32(&failed, 1) < 0)
        comm_fatal_stored_error();
    return failed;
}

int comm_agree_error(int rc) {
    int origin = rc < 0 ? world_rank : INT_MAX;
    if (check(MPI_Allreduce(MPI_IN_PLACE, &origin, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD),
              "MPI_Allreduce(min)") < 0)
        comm_fatal_stored_error();
    if (origin == INT_MAX)
        return 0;
    struct {
        int error_class;
        char message[1536];
        char hint[1024];
    } e;
    memset(&e, 0, sizeof e);
    if (world_rank == origin) {
        e.error_class = (int)rl_error_get_class();
        snprintf(e.message, sizeof e.message, "%s", rl_error_message());
        snprintf(e.hint, sizeof e.hint, "%s", rl_error_hint());
    }
    if (check(MPI_Bcast(&e, sizeof e, MPI_BYTE, origin, MPI_COMM_WORLD), "MPI_Bcast") < 0)
        comm_fatal_stored_error();
    if (rc >= 0) { /* this rank did not fail: take the failing rank's error */
        if (origin == 0)
            rl_fail("%s", e.hint, e.message);
        else
            rl_fail("rank %d: %s", e.hint, origin, e.message);
        rl_error_set_class((rl_error_class)e.error_class);
        rl_error_set_origin(origin);
    }
    return RL_ERR;
}

int comm_bcast(void *buf, size_t bytes, int root) {
    return check(MPI_Bcast(buf, (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
}

void comm_barrier(void) {
    MPI_Barrier(MPI_COMM_WORLD);
}

int comm_select_smallest(kern_pair *mine, int64_t n_mine, int64_t k, kern_pair *out) {
    int64_t keep = n_mine < k ? n_mine : k;
    kern_select_smallest(mine, (size_t)n_mine, (size_t)keep);
    int64_t *counts64 = rl_xmalloc(sizeof(int64_t) * (size_t)world_size);
    int *offsets = rl_xmalloc(sizeof(int) * 2 * (size_t)world_size), *counts = offsets + world_size;
    int rc = comm_allgather_i64(&keep, 1, counts64);
    int64_t total = 0;
    for (int r = 0; rc == 0 && r < world_size; r++) {
        int64_t bytes = (total + counts64[r]) * (int64_t)sizeof(kern_pair);
        if (bytes > INT_MAX)
            rc = rl_fail("comm_select_smallest: %lld candidates exceed MPI's int counts",
                         "select fewer items, or on fewer ranks", (long long)(bytes / (int64_t)sizeof(kern_pair)));
        offsets[r] = (int)(total * (int64_t)sizeof(kern_pair));
        counts[r] = (int)(counts64[r] * (int64_t)sizeof(kern_pair));
        total += counts64[r];
    }
    if (rc == 0 && total < k)
        rc = rl_fail("comm_select_smallest: asked for %lld of %lld items", NULL, (long long)k,
                     (long long)total);
    kern_pair *all = rc == 0 ? rl_xmalloc(sizeof(kern_pair) * (size_t)(total + 1)) : NULL;
    if (rc == 0)
        rc = check(MPI_Allgatherv(mine, (int)(keep * (int64_t)sizeof(kern_pair)), MPI_BYTE, all,
                                  counts, offsets, MPI_BYTE, MPI_COMM_WORLD),
                   "MPI_Allgatherv");
    if (rc == 0) {
        kern_select_smallest(all, (size_t)total, (size_t)k);
        memcpy(out, all, sizeof(kern_pair) * (size_t)k);
    }
    free(all);
    free(counts64);
    free(offsets);
    return rc;
}

int comm_gather_texts(const char *mine, char ***all) {
    *all = NULL;
    int len = (int)strlen(mine) + 1, rc;
    int *lens = rl_xmalloc(sizeof(int) * 2 * (size_t)world_size), *offsets = lens + world_size;
    rc = check(MPI_Gather(&len, 1, MPI_INT, lens, 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Gather");
    size_t total = 0;
    for (int r = 0; world_rank == 0 && r < world_size; r++) {
        offsets[r] = (int)total;
        total += (size_t)lens[r];
    }
    char *bytes = world_rank == 0 ? rl_xmalloc(total) : NULL;
    if (rc == 0)
        rc = check(
            MPI_Gatherv(mine, len, MPI_CHAR, bytes, lens, offsets, MPI_CHAR, 0, MPI_COMM_WORLD),
            "MPI_Gatherv");
    if (rc == 0 && world_rank == 0) {
        char **texts = rl_xcalloc((size_t)world_size + 1, sizeof(char *));
        for (int r = 0; r < world_size; r++)
            texts[r] = rl_xstrdup(bytes + offsets[r]);
        *all = texts;
    }
    free(bytes);
    free(lens);
    return rc;
}

void comm_texts_free(char **texts) {
    for (size_t i = 0; texts && texts[i]; i++)
        free(texts[i]);
    free(texts);
}

void comm_library_version(char *out, size_t n) {
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(version, &len);
    version[strcspn(version, "\n")] = '\0';
    snprintf(out, n, "%s", version);
}
