/* The only place that calls MPI: world setup, the fatal-error path, ownership of items over
 * ranks, exact (fixed-point / integer) reductions, ordered float reductions, agreement on stop,
 * memory shared by the ranks of a node.
 *
 *     comm_init(&argc, &argv);
 *     int64_t lo, hi;
 *     comm_block_range(n_chunks, comm_size(), comm_rank(), &lo, &hi);  // my chunks
 *     for (my chunks) kern_add_fixed(chunk_grad, acc, n, RL_FIXED_FRAC_BITS);
 *     comm_sum_i64(acc, n);                                  // exact: same bits for any P
 *     comm_finalize();
 */
#ifndef RANKLAB_COMM_H
#define RANKLAB_COMM_H

#include <stddef.h>
#include <stdint.h>

#include <mpi.h>

#include "kernels/select.h"

/* Fractional bits of the fixed point used for gradient sums (range ±4·10⁶ per sum), and for
 * sums of many losses or squares (range ±2.7·10¹¹). */
#define RL_FIXED_FRAC_BITS 40
#define RL_FIXED_SUM_FRAC_BITS 24

int comm_init(int *argc, char ***argv);
void comm_finalize(void);
int comm_rank(void);
int comm_size(void);
/* The world communicator, for src/io's parallel HDF5 (which calls no MPI function itself). */
MPI_Comm comm_world(void);

/* The stall watchdog of the collectives below (watchdog.c): a rank that has waited warn_seconds
 * in one logs which ranks have not reached it, which collective and the phase (comm_set_phase),
 * again every warn_seconds; after abort_seconds it aborts the job (comm_fatal) with that
 * message. 0 turns either off (both off until this is called). A collective costs two stores
 * more; the watching is done by a thread (MPI_THREAD_MULTIPLE; without it, no watchdog). */
void comm_set_stall_limits(double warn_seconds, double abort_seconds);
/* A region of world collectives that another library makes (src/io's parallel HDF5: file create,
 * open, dataset writes, close) is one collective for the watchdog, named `what` (a string that
 * outlives the region: "the checkpoint write (parallel HDF5)"); src/comm's collectives inside
 * belong to it. Every rank enters the same regions in the same order. */
void comm_watch_region_begin(const char *what);
void comm_watch_region_end(void);
/* What this rank is doing, for the watchdog's messages ("step 12 of 300"). */
void comm_set_phase(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print rank, host and message to stderr and abort the whole job. */
_Noreturn void comm_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Called by comm_fatal with its message before it aborts the job (NULL: nobody): the run layer
 * leaves a failure summary. */
void comm_set_fatal_hook(void (*hook)(const char *message));
/* Print the stored error (with hint) and abort the job: for errors some ranks cannot see. */
_Noreturn void comm_fatal_stored_error(void);

/* Rows per chunk of the passes that split a data set over ranks without a gradient
 * (evaluation, loss passes, features, selection): fixed, so what a chunk computes and in which
 * order the chunks are summed do not depend on the rank count. */
#define RL_ROW_CHUNK 250

/* Block ownership: items [lo, hi) of n for rank r of p; the first n % p ranks get one more. */
void comm_block_range(int64_t n, int p, int r, int64_t *lo, int64_t *hi);
int comm_block_owner(int64_t n, int p, int64_t i);
/* This rank's items [lo, hi) of n cut into chunks of `chunk` items, the chunks split over the
 * ranks by blocks; the chunk boundaries do not depend on the rank count. */
void comm_chunk_range(int64_t n, int chunk, int64_t *lo, int64_t *hi);
/* Cyclic ownership: item i belongs to rank i % p; the number of items rank r holds. */
int comm_cyclic_owner(int64_t i, int p);
int64_t comm_cyclic_count(int64_t n, int p, int r);

/* Exact sums over chunks and ranks, the one way ranklab sums what decides a result: values are
 * added in fixed point (frac_bits fractional bits: RL_FIXED_FRAC_BITS for gradients and means,
 * RL_FIXED_SUM_FRAC_BITS for sums of many losses or squares), which is exact and associative,
 * then summed over ranks in integers, so the result has the same bits for any rank count and
 * any split of the chunks.
 *
 *     comm_exact e;
 *     comm_exact_init(&e, n + 1);
 *     for (my chunks) {
 *         comm_exact_add(&e, 0, chunk_grad, n, RL_FIXED_FRAC_BITS);   // (n) floats
 *         comm_exact_add(&e, n, &chunk_loss, 1, RL_FIXED_SUM_FRAC_BITS);
 *     }
 *     comm_exact_reduce(&e);                                         // collective
 *     comm_exact_read(&e, 0, grad, n, RL_FIXED_FRAC_BITS);
 *     double loss = comm_exact_value(&e, n, RL_FIXED_SUM_FRAC_BITS);
 *     comm_exact_free(&e);
 *
 * Slots may also hold integers (counts: comm_exact_count) and keep raw sums across reductions
 * (comm_exact_raw), e.g. an epoch's loss over its steps. A value that is NaN or beyond the fixed
 * point's range (±2^62 after scaling) cannot be summed exactly: it is counted, the count summed
 * over ranks with the sums, and comm_exact_saturated() tells the caller its sum is no number
 * (e.g. training that diverged), rather than a wrong one. */
typedef struct {
    int64_t *sum; /* (n + 1): the n sums, then the count of values that saturated */
    size_t n;
} comm_exact;

void comm_exact_init(comm_exact *e, size_t n); /* zeroed */
void comm_exact_free(comm_exact *e);           /* NULL-safe */
void comm_exact_zero(comm_exact *e);
/* sum[at + i] += fixed(v[i]) for i < count; returns how many values saturated (beyond ±2^62). */
size_t comm_exact_add(comm_exact *e, size_t at, const float *v, size_t count, int frac_bits);
void comm_exact_count(comm_exact *e, size_t at, int64_t k); /* sum[at] += k (an integer) */
/* Collective: every rank's sums added, on every rank. */
int comm_exact_reduce(comm_exact *e);
/* The sums as floats (rounded to nearest) or one as a double; raw: the integer itself. */
void comm_exact_read(const comm_exact *e, size_t at, float *out, size_t count, int frac_bits);
double comm_exact_value(const comm_exact *e, size_t at, int frac_bits);
int64_t comm_exact_raw(const comm_exact *e, size_t at);
/* Values added since the last zero that were NaN or beyond the range: on every rank after
 * comm_exact_reduce, this rank's before. */
int64_t comm_exact_saturated(const comm_exact *e);
/* A raw fixed-point value kept across reductions (e.g. a running sum of comm_exact_raw), as a
 * float rounded like comm_exact_read. */
float comm_fixed_to_float(int64_t raw, int frac_bits);

/* In-place integer sum over ranks (integer counts; sums of floats go through comm_exact). */
int comm_sum_i64(int64_t *values, size_t n);
int comm_max_i32(int *values, size_t n);
/* In-place maximum over ranks (exact: a maximum does not round). */
int comm_max_f64(double *values, size_t n);
/* Every rank's k values, in rank order: all is (size, k). */
int comm_allgather_i64(const int64_t *mine, int k, int64_t *all);
/* Replicate a block-owned array: this rank holds items [lo, hi) of `all` (items of
 * item_bytes bytes), the ranks' ranges tile the array in rank order; afterwards every rank
 * holds every item. In place. */
int comm_allgather_blocks(void *all, size_t item_bytes, int64_t lo, int64_t hi);

/* Collective, rank-independent global selection: the k smallest (key, id) pairs of the union of
 * every rank's `mine` (n_mine pairs; ids unique over ranks), in increasing (key, id) order, on
 * every rank in out (k). Ties break by id, so the result is the same for any rank count and any
 * split of the items. For the k largest pass negated keys. Reorders mine; k <= the total. */
int comm_select_smallest(kern_pair *mine, int64_t n_mine, int64_t k, kern_pair *out);

/* Collective: the stop signal any rank received (largest signal number), or 0. */
int comm_agree_stop(int local_signal);
/* Collective: 1 if any rank failed (local_failed non-zero); use before writing anything. */
int comm_any_failed(int local_failed);
/* Collective: RL_ERR on every rank if any rank's rc < 0, else 0. A rank that did not fail takes
 * the error (message, hint, class) of the lowest failing rank, so every rank exits with the same
 * code. rl_error_print prints it on that rank and on rank 0 only; another failing rank prints
 * its own error only when it differs (so an error every rank finds, such as a bad config value
 * or a missing data file, is printed once). */
int comm_agree_error(int rc);
int comm_bcast(void *buf, size_t bytes, int root);
void comm_barrier(void);
/* Host name of this rank. */
const char *comm_host(void);
/* Collective: every rank's text, on rank 0 (*all: comm_size() strings, free with
 * comm_texts_free); the other ranks get NULL. */
int comm_gather_texts(const char *mine, char ***all);
void comm_texts_free(char **texts); /* NULL-safe */
/* The MPI library's version string, its first line ("Open MPI v4.1.4, ..."). */
void comm_library_version(char *out, size_t n);

/* Memory shared by the ranks of one node (an MPI-3 shared-memory window over the node's ranks,
 * MPI_COMM_TYPE_SHARED): the node's first rank (comm_node_rank() == 0) holds the bytes and
 * fills them, every rank of the node maps them and, once published, reads them. Allocation,
 * publishing and freeing are collective over the node's ranks.
 *
 *     comm_node_shared *s;
 *     uint8_t *p;                                        // the same memory on the node's ranks
 *     if (comm_node_shared_alloc(bytes, &s, (void **)&p) < 0) ...
 *     if (comm_node_rank() == 0)
 *         fill(p);
 *     comm_node_shared_publish(s);                      // the first rank's writes, seen by all
 *     ... read p ...
 *     comm_node_shared_free(s);
 */
typedef struct comm_node_shared comm_node_shared;
int comm_node_rank(void); /* this rank's place among its node's ranks */
int comm_node_size(void); /* how many ranks share this node */
/* `bytes` (> 0) of memory for the node at *base. RL_ERR on every rank of the node, with the
 * message, when it does not fit where Open MPI keeps it (/dev/shm; checked first, as it would
 * fail later with SIGBUS); when the allocation itself fails, the job ends as when rl_xmalloc
 * runs out of memory (RANKLAB_FAULT_ALLOC injects that). */
int comm_node_shared_alloc(size_t bytes, comm_node_shared **out, void **base);
/* The first rank's writes are visible to every rank of the node after this returns. */
void comm_node_shared_publish(comm_node_shared *s);
void comm_node_shared_free(comm_node_shared *s); /* NULL: nothing, and not collective */

#endif
