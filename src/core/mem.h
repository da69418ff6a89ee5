/* Memory of this process (Linux): what it may still get, checked before any large allocation,
 * with size arithmetic that cannot wrap around; and its peak resident set (VmHWM from
 * /proc/self/status, reset by writing 5 to /proc/self/clear_refs) to measure one phase of a run.
 *
 * Every size that comes from config values or file headers goes through rl_mem_check before
 * anything is allocated. Compute it with rl_size_mul / rl_size_add: they saturate at
 * UINT64_MAX instead of wrapping, so an absurd size stays absurd and is refused.
 *
 *     uint64_t bytes = rl_size_mul(rl_size_mul((uint64_t)n, (uint64_t)dim), sizeof(float));
 *     if (rl_mem_check(bytes, "%lld examples of %d features", (long long)n, dim) < 0)
 *         return RL_ERR;   // "... need 53.2 GB but only 23.4 GB are available on this node"
 *     float *x = rl_xmalloc(bytes);                                    // (n, dim)
 */
#ifndef RANKLAB_CORE_MEM_H
#define RANKLAB_CORE_MEM_H

#include <stdint.h>

/* a · b and a + b, or UINT64_MAX when the result does not fit 64 bits. */
uint64_t rl_size_mul(uint64_t a, uint64_t b);
uint64_t rl_size_add(uint64_t a, uint64_t b);

/* How many processes (ranks) share this node's memory: src/comm sets it at comm_init (default
 * 1). Each gets an equal share of MemAvailable and of the cgroup limit. */
void rl_mem_set_node_ranks(int ranks);
/* Bytes this process can still get: the least of its share of MemAvailable (/proc/meminfo),
 * RLIMIT_AS and RLIMIT_DATA (ulimit -v, -d) minus what the process already maps, its share
 * of the cgroup v2 memory.max minus memory.current of its cgroup and their parents, and of the
 * memory its Slurm job asked for (SLURM_MEM_PER_NODE, or SLURM_MEM_PER_CPU × cpus per task)
 * minus what it holds. UINT64_MAX if none is known. `source` (may be NULL) receives the name
 * of the binding limit. */
uint64_t rl_mem_available(const char **source);
/* 0 if `bytes` fit in rl_mem_available(); else RL_ERR with the message "WHAT needs N GB but
 * only M GB are available on this node (LIMIT)" ("to each of the P ranks on this node" when
 * several share it, "to this process" for an rlimit) and a hint; WHAT is printf-formatted. */
int rl_mem_check(uint64_t bytes, const char *what_fmt, ...) __attribute__((format(printf, 2, 3)));
/* rl_mem_check for one copy the node's ranks share (comm_node_shared memory, allocated once per
 * node): `bytes` against what the whole node has left (MemAvailable, the cgroup, the Slurm job's
 * memory on the node) rather than one rank's share, and against the address-space limit (each
 * rank maps it); the message says "... available on this node for the one copy its P ranks
 * share". */
int rl_mem_check_node(uint64_t bytes, const char *what_fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Peak resident set size in KiB since start or the last reset; -1 if unknown. */
int64_t rl_mem_peak_kb(void);
/* Current resident set size in KiB (VmRSS); -1 if unknown. */
int64_t rl_mem_current_kb(void);
/* Start a new peak from the current resident size, after handing the memory the allocator keeps
 * for reuse back to the kernel (glibc malloc_trim), so that a phase's peak less the resident size
 * at its start is what the phase allocates, not what an earlier phase left free; 0 or -1 if the
 * kernel refuses. */
int rl_mem_peak_reset(void);

#endif
