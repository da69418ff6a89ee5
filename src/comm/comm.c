/* MPI world, fatal path, ownership arithmetic, exact reductions, stop agreement, the node's
 * shared memory, the stall watchdog of the collectives (see comm.h). */
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/core/mem.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

static int world_rank = 0, world_size = 1;
static char host[256] = "?";
static MPI_Comm node_comm = MPI_COMM_NULL;               /* the ranks sharing this node's memory */
static int node_rank = 0, node_size = 1, node_first = 0; /* node_first: its world rank */

struct comm_node_shared {
    MPI_Win win;
};

/* The stall watchdog. Every collective here is non-blocking, completed by wait_collective: a
 * collective that is not complete at once is tested in a loop that reads the clock. A rank that
 * has waited NOTICE_SECONDS tells the collective's other ranks, and again every NOTICE_SECONDS,
 * how many collectives of that communicator it has reached and when it said so (a small message
 * on notice_comm). After stall_warn seconds it names the ranks that have not reached this
 * collective: first those that are not waiting (stopped, hung, or still computing), then those
 * that recently said they wait in an earlier collective (which a collective complete on some
 * ranks but not yet on others leaves behind); again every stall_warn seconds; after stall_abort
 * seconds it aborts the job with that message. */
#define NOTICE_SECONDS 1.0
#define NOTICE_FRESH_SECONDS (3 * NOTICE_SECONDS) /* a rank that said it waits still does */
#define NOTICE_TAG 7
#define POLL_NANOSECONDS 200000 /* between tests once a wait is older than NOTICE_SECONDS */
#define MAX_TEST_GAP_SECONDS 0.5
typedef enum { GROUP_WORLD, GROUP_NODE, N_GROUPS } group_id;
typedef struct {
    MPI_Comm comm;
    int size;
    int *world_rank; /* (size): the world rank of each member */
    int64_t reached; /* collectives this rank has entered on comm */
    int64_t *heard;  /* (size): the most collectives each member said it had entered */
    int64_t *latest; /* (size): the collective of each member's latest notice, */
    double *latest_utc; /* (size): and when it was sent (UTC seconds) */
} group;
static group groups[N_GROUPS];
static MPI_Comm notice_comm = MPI_COMM_NULL;   /* a duplicate of the world, for notices only */
static double stall_warn = 0, stall_abort = 0; /* seconds; 0: off */
static char phase[160] = "starting";
static void (*fatal_hook)(const char *message);

static void group_init(group *g, MPI_Comm comm) {
    g->comm = comm;
    MPI_Comm_size(comm, &g->size);
    g->world_rank = rl_xmalloc(sizeof(int) * (size_t)g->size);
    g->heard = rl_xcalloc((size_t)g->size, sizeof(int64_t));
    g->latest = rl_xcalloc((size_t)g->size, sizeof(int64_t));
    g->latest_utc = rl_xcalloc((size_t)g->size, sizeof(double));
    MPI_Allgather(&world_rank, 1, MPI_INT, g->world_rank, 1, MPI_INT, comm);
    g->reached = 0;
}

static void group_free(group *g) {
    free(g->world_rank);
    free(g->heard);
    free(g->latest);
    free(g->latest_utc);
    memset(g, 0, sizeof *g);
}

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
    MPI_Comm_dup(MPI_COMM_WORLD, &notice_comm);
    group_init(&groups[GROUP_WORLD], MPI_COMM_WORLD);
    group_init(&groups[GROUP_NODE], node_comm);
    return 0;
}

/* UTC seconds (notices compare the times of several hosts). */
static double utc_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Receive every notice that has come (int64: group, collectives reached, UTC microseconds). */
static void read_notices(void) {
    for (;;) {
        int waiting = 0;
        MPI_Status status;
        MPI_Iprobe(MPI_ANY_SOURCE, NOTICE_TAG, notice_comm, &waiting, &status);
        if (!waiting)
            return;
        int64_t notice[3];
        MPI_Recv(notice, 3, MPI_INT64_T, status.MPI_SOURCE, NOTICE_TAG, notice_comm,
                 MPI_STATUS_IGNORE);
        group *g = notice[0] >= 0 && notice[0] < N_GROUPS ? &groups[notice[0]] : NULL;
        for (int m = 0; g && m < g->size; m++)
            if (g->world_rank[m] == status.MPI_SOURCE) {
                g->heard[m] = notice[1] > g->heard[m] ? notice[1] : g->heard[m];
                g->latest[m] = notice[1];
                g->latest_utc[m] = 1e-6 * (double)notice[2];
            }
    }
}

void comm_finalize(void) {
    rl_set_fatal_handler(NULL);
    if (notice_comm != MPI_COMM_NULL) {
        MPI_Barrier(notice_comm); /* every notice sent has come: receive them */
        read_notices();
        MPI_Comm_free(&notice_comm);
    }
    for (int i = 0; i < N_GROUPS; i++)
        group_free(&groups[i]);
    if (node_comm != MPI_COMM_NULL)
        MPI_Comm_free(&node_comm);
    MPI_Finalize();
}

void comm_set_fatal_hook(void (*hook)(const char *message)) {
    fatal_hook = hook;
}

void comm_set_stall_limits(double warn_seconds, double abort_seconds) {
    stall_warn = warn_seconds;
    stall_abort = abort_seconds;
}

void comm_set_phase(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(phase, sizeof phase, fmt, ap);
    va_end(ap);
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

/* Tell the group's other members how many of its collectives this rank has reached. */
static void send_notices(const group *g, group_id id, MPI_Request *sent) {
    static int64_t notice[N_GROUPS][3]; /* outlives the sends */
    notice[id][0] = id;
    notice[id][1] = g->reached;
    notice[id][2] = (int64_t)(utc_now() * 1e6);
    for (int m = 0; m < g->size; m++)
        if (g->world_rank[m] != world_rank)
            MPI_Isend(notice[id], 3, MPI_INT64_T, g->world_rank[m], NOTICE_TAG, notice_comm,
                      &sent[m]);
}

/* Appends ", R" to a list of ranks (with " (in collective C)" when in > 0); counts them. */
static void list_rank(char *list, size_t n, int *count, int rank, int64_t in) {
    size_t len = strlen(list);
    if (in > 0)
        snprintf(list + len, n - len, "%s%d (in collective %lld)", *count ? ", " : "", rank,
                 (long long)in);
    else
        snprintf(list + len, n - len, "%s%d", *count ? ", " : "", rank);
    ++*count;
}

/* "ranks 2, 5 have not reached MPI_Allreduce (collective 57 of the world's ranks, at step 3 of
 * 30) in 12 s; rank 0 (in collective 56) waits in an earlier one": the members not heard of as
 * having reached this collective, those not heard from in this wait first. */
static void describe_stall(const group *g, group_id id, const char *what, double waited, char *out,
                           size_t n) {
    char silent[512] = "", behind[640] = "", where[320];
    int n_silent = 0, n_behind = 0;
    double now = utc_now();
    for (int m = 0; m < g->size; m++) {
        if (g->heard[m] >= g->reached || g->world_rank[m] == world_rank)
            continue;
        if (now - g->latest_utc[m] < NOTICE_FRESH_SECONDS)
            list_rank(behind, sizeof behind, &n_behind, g->world_rank[m], g->latest[m]);
        else
            list_rank(silent, sizeof silent, &n_silent, g->world_rank[m], 0);
    }
    snprintf(where, sizeof where, "%s (collective %lld of the %s ranks, at %s)", what,
             (long long)g->reached, id == GROUP_WORLD ? "world's" : "node's", phase);
    if (n_silent)
        snprintf(out, n, "rank%s %s %s not reached %s in %.0f s%s%s%s%s", n_silent == 1 ? "" : "s",
                 silent, n_silent == 1 ? "has" : "have", where, waited, n_behind ? "; rank" : "",
                 n_behind == 1 ? " "
                 : n_behind    ? "s "
                               : "",
                 behind,
                 n_behind == 1 ? " waits in an earlier one"
                 : n_behind    ? " wait in earlier ones"
                               : "");
    else if (n_behind)
        snprintf(out, n, "rank%s %s %s not reached %s in %.0f s, waiting in earlier ones",
                 n_behind == 1 ? "" : "s", behind, n_behind == 1 ? "has" : "have", where, waited);
    else /* every notice came, yet the collective has not completed */
        snprintf(out, n, "every rank has reached %s, which has not completed in %.0f s", where,
                 waited);
}

/* Complete the collective `req` (started by MPI_I* on the group's communicator): at once when it
 * is complete at the first test, else testing it under the stall watchdog. */
static int wait_collective(MPI_Request *req, group_id id, const char *what) {
    group *g = &groups[id];
    g->reached++;
    int done = 0, rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS || done)
        return rc;
    if (stall_warn <= 0 && stall_abort <= 0)
        return MPI_Wait(req, MPI_STATUS_IGNORE);
    double waited = 0, last = rl_now(), next_warning = stall_warn, next_notice = NOTICE_SECONDS;
    MPI_Request *sent = NULL;
    const struct timespec pause = {0, POLL_NANOSECONDS};
    while (rc == MPI_SUCCESS && !done) {
        /* A longer gap between two tests is time this rank was not running (stopped itself, or
         * not scheduled): it does not count as waiting for the others. */
        double now = rl_now();
        waited += now - last < MAX_TEST_GAP_SECONDS ? now - last : MAX_TEST_GAP_SECONDS;
        last = now;
        if (waited >= NOTICE_SECONDS) {
            if (!sent) {
                sent = rl_xmalloc(sizeof(MPI_Request) * (size_t)g->size);
                for (int m = 0; m < g->size; m++)
                    sent[m] = MPI_REQUEST_NULL;
            }
            int delivered = 0;
            if (waited >= next_notice &&
                MPI_Testall(g->size, sent, &delivered, MPI_STATUSES_IGNORE) == MPI_SUCCESS &&
                delivered) {
                send_notices(g, id, sent);
                next_notice = waited + NOTICE_SECONDS;
            }
            read_notices();
            char stall[1024];
            if (stall_abort > 0 && waited >= stall_abort) {
                describe_stall(g, id, what, waited, stall, sizeof stall);
                comm_fatal("stall: %s; aborting the job (run.stall_abort_seconds = %g)", stall,
                           stall_abort);
            }
            if (stall_warn > 0 && waited >= next_warning) {
                describe_stall(g, id, what, waited, stall, sizeof stall);
                rl_log_warn("stall: %s (run.stall_warn_seconds = %g%s)", stall, stall_warn,
                            stall_abort > 0 ? "; the job aborts at run.stall_abort_seconds" : "");
                next_warning += stall_warn;
            }
            nanosleep(&pause, NULL);
        }
        rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
    }
    if (sent) {
        MPI_Waitall(g->size, sent, MPI_STATUSES_IGNORE);
        free(sent);
    }
    return rc;
}

/* check() of a collective begun with MPI_I* (its return code `begun`), completed by
 * wait_collective. */
static int complete(int begun, MPI_Request *req, group_id id, const char *what) {
    return check(begun == MPI_SUCCESS ? wait_collective(req, id, what) : begun, what);
}

int comm_sum_i64(int64_t *values, size_t n) {
    for (size_t done = 0; done < n;) {
        int count = n - done > INT_MAX ? INT_MAX : (int)(n - done);
        MPI_Request req;
        int rc = MPI_Iallreduce(MPI_IN_PLACE, values + done, count, MPI_INT64_T, MPI_SUM,
                                MPI_COMM_WORLD, &req);
        if (complete(rc, &req, GROUP_WORLD, "MPI_Allreduce(sum)") < 0)
            return RL_ERR;
        done += (size_t)count;
    }
    return 0;
}

int comm_max_i32(int *values, size_t n) {
    MPI_Request req;
    int rc = MPI_Iallreduce(MPI_IN_PLACE, values, (int)n, MPI_INT, MPI_MAX, MPI_COMM_WORLD, &req);
    return complete(rc, &req, GROUP_WORLD, "MPI_Allreduce(max)");
}

int comm_max_f64(double *values, size_t n) {
    MPI_Request req;
    int rc =
        MPI_Iallreduce(MPI_IN_PLACE, values, (int)n, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD, &req);
    return complete(rc, &req, GROUP_WORLD, "MPI_Allreduce(max)");
}

int comm_allgather_i64(const int64_t *mine, int k, int64_t *all) {
    MPI_Request req;
    int rc = MPI_Iallgather(mine, k, MPI_INT64_T, all, k, MPI_INT64_T, MPI_COMM_WORLD, &req);
    return complete(rc, &req, GROUP_WORLD, "MPI_Allgather");
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
    MPI_Request req;
    if (rc == 0) {
        rc = MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, all, counts, offsets, MPI_BYTE,
                             MPI_COMM_WORLD, &req);
        rc = complete(rc, &req, GROUP_WORLD, "MPI_Allgatherv");
    }
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
    MPI_Request req;
    int begun = MPI_Iallreduce(MPI_IN_PLACE, &origin, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD, &req);
    if (complete(begun, &req, GROUP_WORLD, "MPI_Allreduce(min) of the error check") < 0)
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
    MPI_Request req;
    int rc = MPI_Ibcast(buf, (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD, &req);
    return complete(rc, &req, GROUP_WORLD, "MPI_Bcast");
}

void comm_barrier(void) {
    MPI_Request req;
    if (MPI_Ibarrier(MPI_COMM_WORLD, &req) == MPI_SUCCESS)
        wait_collective(&req, GROUP_WORLD, "MPI_Barrier");
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
    MPI_Request req;
    int rc = MPI_Ibcast(&fits, 1, MPI_INT, 0, node_comm, &req);
    if (complete(rc, &req, GROUP_NODE, "MPI_Bcast on the node") < 0)
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
    int disp_unit;
    rc = rl_alloc_fault(bytes)
             ? MPI_ERR_NO_MEM
             : MPI_Win_allocate_shared(size, 1, MPI_INFO_NULL, node_comm, base, &s->win);
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
    MPI_Request req;
    if (MPI_Ibarrier(node_comm, &req) == MPI_SUCCESS)
        wait_collective(&req, GROUP_NODE, "MPI_Barrier on the node");
    MPI_Win_sync(s->win);
}

void comm_node_shared_free(comm_node_shared *s) {
    if (!s)
        return;
    MPI_Win_unlock_all(s->win);
    MPI_Win_free(&s->win);
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
    MPI_Request req;
    if (rc == 0) {
        rc = MPI_Iallgatherv(mine, (int)(keep * (int64_t)sizeof(kern_pair)), MPI_BYTE, all, counts,
                             offsets, MPI_BYTE, MPI_COMM_WORLD, &req);
        rc = complete(rc, &req, GROUP_WORLD, "MPI_Allgatherv");
    }
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
    MPI_Request req;
    rc = MPI_Igather(&len, 1, MPI_INT, lens, 1, MPI_INT, 0, MPI_COMM_WORLD, &req);
    rc = complete(rc, &req, GROUP_WORLD, "MPI_Gather");
    size_t total = 0;
    for (int r = 0; world_rank == 0 && r < world_size; r++) {
        offsets[r] = (int)total;
        total += (size_t)lens[r];
    }
    char *bytes = world_rank == 0 ? rl_xmalloc(total) : NULL;
    if (rc == 0) {
        rc = MPI_Igatherv(mine, len, MPI_CHAR, bytes, lens, offsets, MPI_CHAR, 0, MPI_COMM_WORLD,
                          &req);
        rc = complete(rc, &req, GROUP_WORLD, "MPI_Gatherv");
    }
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
