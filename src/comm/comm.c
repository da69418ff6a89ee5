/* MPI world, fatal path, ownership arithmetic, exact reductions, stop agreement, the node's
 * shared memory (see comm.h). Every collective is bracketed for the stall watchdog
 * (watchdog.c). */
#include "src/comm/comm.h"
#include "src/comm/watchdog.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/core/mem.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

static int world_rank = 0, world_size = 1;
static char host[256] = "?";
static MPI_Comm node_comm = MPI_COMM_NULL;               /* the ranks sharing this node's memory */
static int node_rank = 0, node_size = 1, node_first = 0; /* node_first: its world rank */

static void (*fatal_hook)(const char *message);

struct comm_node_shared {
    MPI_Win win;
};

/* The blocking collective `call` of the group, watched by the stall watchdog; its return code. */
#define WATCHED(group, what, call) (watchdog_enter(group, what), watched_result(call))

static int watched_result(int rc) {
    watchdog_leave();
    return rc;
}

/* The fatal-error handler of src/core (out of memory) while MPI runs: ends every rank. */
static _Noreturn void end_job(const char *message, const char *hint) {
    comm_fatal("%s%s%s", message, hint && hint[0] ? "\nHINT: " : "", hint ? hint : "");
}

int comm_init(int *argc, char ***argv) {
    int provided;
    /* Multiple: the stall watchdog's thread calls MPI (point-to-point, on its own communicator). */
    if (MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS)
        return rl_fail("MPI_Init failed", "run under mpiexec, or check the Open MPI install");
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    gethostname(host, sizeof host - 1);
    rl_log_set_rank(world_rank, world_size);
    rl_set_fatal_handler(end_job);
    /* Key 0: the node's ranks keep their world order, so its first rank is its lowest. Errors
     * return, so that comm_node_shared_alloc can say what went wrong. */
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node_comm) !=
        MPI_SUCCESS)
        MPI_Comm_dup(MPI_COMM_SELF, &node_comm); /* each rank a node of its own */
    MPI_Comm_set_errhandler(node_comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(node_comm, &node_rank);
    MPI_Comm_size(node_comm, &node_size);
    node_first = world_rank;
    MPI_Bcast(&node_first, 1, MPI_INT, 0, node_comm);
    rl_mem_set_node_ranks(node_size);
    watchdog_init(node_comm, provided == MPI_THREAD_MULTIPLE);
    return 0;
}

void comm_finalize(void) {
    rl_set_fatal_handler(NULL);
    /* Watched: MPI_Finalize and the watchdog's own finalization wait for every rank unwatched. */
    WATCHED(WATCH_WORLD, "MPI_Barrier before MPI_Finalize", MPI_Barrier(MPI_COMM_WORLD));
    watchdog_finalize();
    if (node_comm != MPI_COMM_NULL)
        MPI_Comm_free(&node_comm);
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
    if (fatal_hook)
        fatal_hook(message);
    MPI_Abort(MPI_COMM_WORLD, RL_EXIT_ERROR);
    abort();
}

void comm_set_fatal_hook(void (*hook)(const char *message)) {
    fatal_hook = hook;
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
        int rc = WATCHED(WATCH_WORLD, "MPI_Allreduce(sum)",
                         MPI_Allreduce(MPI_IN_PLACE, values + done, count, MPI_INT64_T, MPI_SUM,
                                       MPI_COMM_WORLD));
        if (check(rc, "MPI_Allreduce(sum)") < 0)
            return RL_ERR;
        done += (size_t)count;
    }
    return 0;
}

int comm_max_i32(int *values, size_t n) {
    return check(
        WATCHED(WATCH_WORLD, "MPI_Allreduce(max)",
                MPI_Allreduce(MPI_IN_PLACE, values, (int)n, MPI_INT, MPI_MAX, MPI_COMM_WORLD)),
        "MPI_Allreduce(max)");
}

int comm_max_f64(double *values, size_t n) {
    return check(
        WATCHED(WATCH_WORLD, "MPI_Allreduce(max)",
                MPI_Allreduce(MPI_IN_PLACE, values, (int)n, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD)),
        "MPI_Allreduce(max)");
}

int comm_allgather_i64(const int64_t *mine, int k, int64_t *all) {
    return check(WATCHED(WATCH_WORLD, "MPI_Allgather",
                         MPI_Allgather(mine, k, MPI_INT64_T, all, k, MPI_INT64_T, MPI_COMM_WORLD)),
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
        rc = check(WATCHED(WATCH_WORLD, "MPI_Allgatherv",
                           MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, all, counts, offsets,
                                          MPI_BYTE, MPI_COMM_WORLD)),
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
    if (check(WATCHED(WATCH_WORLD, "MPI_Allreduce(min) of the error check",
                      MPI_Allreduce(MPI_IN_PLACE, &origin, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD)),
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
    if (comm_bcast(&e, sizeof e, origin) < 0)
        comm_fatal_stored_error();
    if (rc >= 0) { /* this rank did not fail: take the failing rank's error */
        if (origin == 0)
            rl_fail("%s", e.hint, e.message);
        else
            rl_fail("rank %d: %s", e.hint, origin, e.message);
        rl_error_set_class((rl_error_class)e.error_class);
        rl_error_set_origin(origin);
    } else if (world_rank != origin && !strcmp(rl_error_message(), e.message)) {
        rl_error_set_origin(origin); /* the same error as the lowest failing rank's: it prints */
    }
    return RL_ERR;
}

int comm_bcast(void *buf, size_t bytes, int root) {
    return check(WATCHED(WATCH_WORLD, "MPI_Bcast",
                         MPI_Bcast(buf, (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD)),
                 "MPI_Bcast");
}

void comm_barrier(void) {
    WATCHED(WATCH_WORLD, "MPI_Barrier", MPI_Barrier(MPI_COMM_WORLD));
}

int comm_node_rank(void) {
    return node_rank;
}

int comm_node_size(void) {
    return node_size;
}

/* Node rank 0: whether `bytes` fit where Open MPI keeps a shared window of several ranks: a file
 * in osc_sm_backing_directory (default /dev/shm; `mpiexec --mca` passes it to the ranks as
 * OMPI_MCA_osc_sm_backing_directory) that it only ftruncates, so a file system too small for it
 * would fail later, on a store, with SIGBUS. A single rank's window is ordinary memory. */
static int check_backing_space(size_t bytes) {
    const char *dir = getenv("OMPI_MCA_osc_sm_backing_directory");
    if (!dir || !dir[0])
        dir = "/dev/shm";
    struct statvfs fs;
    if (node_size == 1 || statvfs(dir, &fs) != 0)
        return 0;
    uint64_t free_bytes = (uint64_t)fs.f_bavail * fs.f_frsize;
    if (free_bytes >= bytes)
        return 0;
    return rl_fail("%zu bytes of memory shared by the %d ranks of this node do not fit in %s, "
                   "where Open MPI keeps it: %llu bytes are free there",
                   "make that file system larger (docker run --shm-size), or move the memory "
                   "with mpiexec --mca osc_sm_backing_directory DIR (a local file system)",
                   bytes, node_size, dir, (unsigned long long)free_bytes);
}

/* The window stays in one passive-target epoch (lock_all) from allocation to free: the first
 * rank stores into it, MPI_Win_sync and a barrier order those stores before the others' loads
 * (the MPI-3 "unified" memory model of shared windows). */
int comm_node_shared_alloc(size_t bytes, comm_node_shared **out, void **base) {
    *out = NULL;
    *base = NULL;
    int fits = node_rank == 0 ? check_backing_space(bytes) : 0;
    if (check(WATCHED(WATCH_NODE, "MPI_Bcast on the node",
                      MPI_Bcast(&fits, 1, MPI_INT, 0, node_comm)),
              "MPI_Bcast") < 0)
        return RL_ERR;
    if (fits < 0 && node_rank > 0) { /* the first rank says why; this one stays silent */
        rl_fail("rank %d cannot allocate the memory this node's ranks share", "see its message",
                node_first);
        rl_error_set_origin(node_first);
    }
    if (fits < 0)
        return RL_ERR;
    comm_node_shared *s = rl_xmalloc(sizeof *s);
    MPI_Aint size = node_rank == 0 ? (MPI_Aint)bytes : 0, got;
    int disp_unit, rc = rl_alloc_fault(bytes)
                            ? MPI_ERR_NO_MEM
                            : WATCHED(WATCH_NODE, "MPI_Win_allocate_shared",
                                      MPI_Win_allocate_shared(size, 1, MPI_INFO_NULL, node_comm,
                                                              base, &s->win));
    if (rc == MPI_SUCCESS)
        rc = MPI_Win_shared_query(s->win, 0, &got, &disp_unit, base);
    if (rc != MPI_SUCCESS || !*base)
        rl_out_of_memory(bytes);
    MPI_Win_lock_all(MPI_MODE_NOCHECK, s->win);
    *out = s;
    return RL_OK;
}

void comm_node_shared_publish(comm_node_shared *s) {
    MPI_Win_sync(s->win);
    WATCHED(WATCH_NODE, "MPI_Barrier on the node", MPI_Barrier(node_comm));
    MPI_Win_sync(s->win);
}

void comm_node_shared_free(comm_node_shared *s) {
    if (!s)
        return;
    MPI_Win_unlock_all(s->win);
    WATCHED(WATCH_NODE, "MPI_Win_free", MPI_Win_free(&s->win));
    free(s);
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
        rc = check(WATCHED(WATCH_WORLD, "MPI_Allgatherv",
                           MPI_Allgatherv(mine, (int)(keep * (int64_t)sizeof(kern_pair)), MPI_BYTE,
                                          all, counts, offsets, MPI_BYTE, MPI_COMM_WORLD)),
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
    rc = check(WATCHED(WATCH_WORLD, "MPI_Gather",
                       MPI_Gather(&len, 1, MPI_INT, lens, 1, MPI_INT, 0, MPI_COMM_WORLD)),
               "MPI_Gather");
    size_t total = 0;
    for (int r = 0; world_rank == 0 && r < world_size; r++) {
        offsets[r] = (int)total;
        total += (size_t)lens[r];
    }
    char *bytes = world_rank == 0 ? rl_xmalloc(total) : NULL;
    if (rc == 0)
        rc = check(WATCHED(WATCH_WORLD, "MPI_Gatherv",
                           MPI_Gatherv(mine, len, MPI_CHAR, bytes, lens, offsets, MPI_CHAR, 0,
                                       MPI_COMM_WORLD)),
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
