/* The stall watchdog (watchdog.h, comm.h). The main thread brackets each collective with
 * watchdog_enter / watchdog_leave: a count and a clock reading, nothing else on the hot path; the
 * collective itself is the library's blocking one. A region of collectives made by another
 * library (parallel HDF5's file open, writes and close) counts as one collective. A thread wakes
 * every POLL_SECONDS; while the main thread has been in one collective for NOTICE_SECONDS it tells
 * the collective's other ranks, again every NOTICE_SECONDS, how many collectives of that
 * communicator it has entered and when it said so (a small message on notice_comm, a duplicate of
 * the world that only this thread uses), and reads theirs. After stall_warn seconds it names the
 * ranks that have not reached the collective: first those that are not waiting in a collective
 * (stopped, hung, or still computing), then those that recently said they wait in an earlier one
 * (which a collective complete on some ranks but not yet on others leaves behind); again every
 * stall_warn seconds; after stall_abort seconds it aborts the job with that message (comm_fatal).
 * The time counted is time this process ran: a gap longer than MAX_GAP_SECONDS between two wake-ups
 * (the process was stopped, or not scheduled) is not counted, so a rank stopped and continued does
 * not blame the others. The thread needs MPI_THREAD_MULTIPLE. */
#include "src/comm/watchdog.h"
#include "src/comm/comm.h"
#include "src/core/error.h"
#include "src/core/log.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POLL_SECONDS 0.05
#define NOTICE_SECONDS 1.0
#define NOTICE_FRESH_SECONDS (3 * NOTICE_SECONDS) /* a rank that said it waits still does */
#define MAX_GAP_SECONDS 0.5
#define NOTICE_TAG 7

typedef struct {
    MPI_Comm comm;
    int size;
    int *world_rank;         /* (size): the world rank of each member */
    _Atomic int64_t entered; /* collectives the main thread has entered on comm */
    int64_t *heard;          /* (size): the most collectives each member said it had entered */
    int64_t *latest;         /* (size): the collective of each member's latest notice, */
    double *latest_utc;      /* (size): and when it was sent (UTC seconds) */
} group;

static group groups[WATCH_N_GROUPS];
static int my_rank;
static MPI_Comm notice_comm = MPI_COMM_NULL;
static pthread_t thread;
static int thread_started;
static atomic_int stopping;
static _Atomic double stall_warn, stall_abort; /* seconds; 0: off */
/* What the main thread is in: the group + 1 (0: no collective) and the collective's name. */
static atomic_int inside;
static const char *_Atomic inside_what;
static char phase[160] = "starting"; /* written by the main thread outside collectives only */
static int region_depth;             /* main thread only: > 0 inside a watched region */

void comm_set_stall_limits(double warn_seconds, double abort_seconds) {
    stall_warn = warn_seconds;
    stall_abort = abort_seconds;
    static int told;
    if (!thread_started && (warn_seconds > 0 || abort_seconds > 0) && my_rank == 0 && !told++)
        rl_log_warn("no stall watchdog: the MPI library does not provide MPI_THREAD_MULTIPLE");
}

void comm_set_phase(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(phase, sizeof phase, fmt, ap);
    va_end(ap);
}

void watchdog_enter(watch_group id, const char *what) {
    if (region_depth > 0)
        return;
    atomic_store_explicit(&groups[id].entered, groups[id].entered + 1, memory_order_relaxed);
    atomic_store_explicit(&inside_what, what, memory_order_relaxed);
    atomic_store_explicit(&inside, (int)id + 1, memory_order_release);
}

void watchdog_leave(void) {
    if (region_depth == 0)
        atomic_store_explicit(&inside, 0, memory_order_release);
}

void comm_watch_region_begin(const char *what) {
    watchdog_enter(WATCH_WORLD, what);
    region_depth++;
}

void comm_watch_region_end(void) {
    region_depth--;
    watchdog_leave();
}

/* UTC seconds (notices compare the times of several hosts). */
static double utc_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Receive every notice that has come (int64: group, collectives entered, UTC microseconds). */
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
        group *g = notice[0] >= 0 && notice[0] < WATCH_N_GROUPS ? &groups[notice[0]] : NULL;
        for (int m = 0; g && m < g->size; m++)
            if (g->world_rank[m] == status.MPI_SOURCE) {
                g->heard[m] = notice[1] > g->heard[m] ? notice[1] : g->heard[m];
                g->latest[m] = notice[1];
                g->latest_utc[m] = 1e-6 * (double)notice[2];
            }
    }
}

/* Tell the group's other members how many of its collectives this rank has entered: sends
 * completed before the next ones (sent: one request per member). */
static void send_notices(const group *g, watch_group id, int64_t entered, MPI_Request *sent) {
    static int64_t notice[3]; /* outlives the sends */
    int done = 0;
    if (MPI_Testall(g->size, sent, &done, MPI_STATUSES_IGNORE) != MPI_SUCCESS || !done)
        return;
    notice[0] = id;
    notice[1] = entered;
    notice[2] = (int64_t)(utc_now() * 1e6);
    for (int m = 0; m < g->size; m++)
        if (g->world_rank[m] != my_rank)
            MPI_Isend(notice, 3, MPI_INT64_T, g->world_rank[m], NOTICE_TAG, notice_comm, &sent[m]);
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
 * having reached this collective, those not waiting first. */
static void describe_stall(const group *g, watch_group id, int64_t entered, const char *what,
                           double waited, char *out, size_t n) {
    char silent[512] = "", behind[640] = "", where[320];
    int n_silent = 0, n_behind = 0;
    double now = utc_now();
    for (int m = 0; m < g->size; m++) {
        if (g->heard[m] >= entered || g->world_rank[m] == my_rank)
            continue;
        if (now - g->latest_utc[m] < NOTICE_FRESH_SECONDS)
            list_rank(behind, sizeof behind, &n_behind, g->world_rank[m], g->latest[m]);
        else
            list_rank(silent, sizeof silent, &n_silent, g->world_rank[m], 0);
    }
    snprintf(where, sizeof where, "%s (collective %lld of the %s ranks, at %s)", what,
             (long long)entered, id == WATCH_WORLD ? "world's" : "node's", phase);
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

static void *watch(void *unused) {
    (void)unused;
    const struct timespec pause = {0, (long)(POLL_SECONDS * 1e9)};
    int64_t watched = -1; /* the collective being timed: its group's entered count, */
    int watched_group = 0;
    double waited = 0, next_notice = 0, next_warning = 0, last = rl_now();
    MPI_Request *sent[WATCH_N_GROUPS];
    for (int i = 0; i < WATCH_N_GROUPS; i++) {
        sent[i] = malloc(sizeof(MPI_Request) * (size_t)groups[i].size);
        for (int m = 0; sent[i] && m < groups[i].size; m++)
            sent[i][m] = MPI_REQUEST_NULL;
    }
    while (!atomic_load(&stopping) && sent[WATCH_WORLD] && sent[WATCH_NODE]) {
        nanosleep(&pause, NULL);
        double now = rl_now(), gap = now - last < MAX_GAP_SECONDS ? now - last : MAX_GAP_SECONDS;
        last = now;
        read_notices();
        int in = atomic_load_explicit(&inside, memory_order_acquire);
        if (in == 0)
            continue;
        group *g = &groups[in - 1];
        int64_t entered = atomic_load_explicit(&g->entered, memory_order_relaxed);
        if (in != watched_group || entered != watched) { /* another collective: a new clock */
            watched_group = in;
            watched = entered;
            waited = 0;
            next_notice = NOTICE_SECONDS;
            next_warning = stall_warn;
            continue;
        }
        waited += gap;
        double warn = stall_warn, abort_after = stall_abort;
        if ((warn <= 0 && abort_after <= 0) || waited < next_notice)
            continue;
        send_notices(g, (watch_group)(in - 1), entered, sent[in - 1]);
        next_notice = waited + NOTICE_SECONDS;
        char stall[1024];
        const char *what = atomic_load_explicit(&inside_what, memory_order_relaxed);
        if (abort_after > 0 && waited >= abort_after) {
            describe_stall(g, (watch_group)(in - 1), entered, what, waited, stall, sizeof stall);
            comm_fatal("stall: %s; aborting the job (run.stall_abort_seconds = %g)", stall,
                       abort_after);
        }
        if (warn > 0 && waited >= next_warning) {
            describe_stall(g, (watch_group)(in - 1), entered, what, waited, stall, sizeof stall);
            rl_log_warn("stall: %s (run.stall_warn_seconds = %g%s)", stall, warn,
                        abort_after > 0 ? "; the job aborts at run.stall_abort_seconds" : "");
            next_warning += warn;
        }
    }
    for (int i = 0; i < WATCH_N_GROUPS; i++) {
        if (sent[i])
            MPI_Waitall(groups[i].size, sent[i], MPI_STATUSES_IGNORE);
        free(sent[i]);
    }
    return NULL;
}

static void group_init(group *g, MPI_Comm comm) {
    g->comm = comm;
    MPI_Comm_size(comm, &g->size);
    g->world_rank = rl_xmalloc(sizeof(int) * (size_t)g->size);
    g->heard = rl_xcalloc((size_t)g->size, sizeof(int64_t));
    g->latest = rl_xcalloc((size_t)g->size, sizeof(int64_t));
    g->latest_utc = rl_xcalloc((size_t)g->size, sizeof(double));
    MPI_Allgather(&my_rank, 1, MPI_INT, g->world_rank, 1, MPI_INT, comm);
}

static void group_free(group *g) {
    free(g->world_rank);
    free(g->heard);
    free(g->latest);
    free(g->latest_utc);
    memset(g, 0, sizeof *g);
}

void watchdog_init(MPI_Comm node_comm, int threaded) {
    MPI_Comm_rank(MPI_COMM_WORLD, &my_rank);
    group_init(&groups[WATCH_WORLD], MPI_COMM_WORLD);
    group_init(&groups[WATCH_NODE], node_comm);
    if (!threaded)
        return;
    MPI_Comm_dup(MPI_COMM_WORLD, &notice_comm);
    /* The thread blocks every signal: stop signals must reach the main thread's handler. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    thread_started = pthread_create(&thread, NULL, watch, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void watchdog_finalize(void) {
    if (thread_started) {
        atomic_store(&stopping, 1);
        pthread_join(thread, NULL);
        thread_started = 0;
    }
    if (notice_comm != MPI_COMM_NULL) {
        MPI_Barrier(notice_comm); /* every notice sent has come: receive them */
        read_notices();
        MPI_Comm_free(&notice_comm);
    }
    for (int i = 0; i < WATCH_N_GROUPS; i++)
        group_free(&groups[i]);
}
