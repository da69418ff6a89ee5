/* Memory of this process from /proc, rlimits and cgroup v2: the check before large allocations,
 * saturating size arithmetic, and peak / current resident memory (see mem.h). */
#include "src/core/mem.h"
#include "src/core/error.h"

#include <stdarg.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define CGROUP_ROOT "/sys/fs/cgroup"

uint64_t rl_size_mul(uint64_t a, uint64_t b) {
    uint64_t product;
    return __builtin_mul_overflow(a, b, &product) ? UINT64_MAX : product;
}

uint64_t rl_size_add(uint64_t a, uint64_t b) {
    uint64_t sum;
    return __builtin_add_overflow(a, b, &sum) ? UINT64_MAX : sum;
}

/* The number after "field" on its line of a /proc file, in KiB; -1 if absent. */
static int64_t proc_kb(const char *path, const char *field) {
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[256];
    long long kb = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && sscanf(line + n, " %lld", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* The single number in a cgroup file; 0 if it is absent or "max" (no limit). */
static int read_cgroup_value(const char *dir, const char *file, uint64_t *value) {
    char path[4200];
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
        return 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    unsigned long long v;
    int found = fscanf(f, "%llu", &v) == 1;
    fclose(f);
    *value = v;
    return found;
}

/* memory.max − memory.current of this process's cgroup (v2) and each of its parents, least. */
static uint64_t cgroup_available(void) {
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f)
        return UINT64_MAX;
    char line[4096], dir[4200] = "";
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "0::", 3) == 0) { /* the v2 hierarchy */
            line[strcspn(line, "\n")] = '\0';
            snprintf(dir, sizeof dir, "%s%s", CGROUP_ROOT, line + 3);
        }
    fclose(f);
    uint64_t least = UINT64_MAX, max, current;
    while (strlen(dir) > strlen(CGROUP_ROOT)) {
        if (read_cgroup_value(dir, "memory.max", &max) &&
            read_cgroup_value(dir, "memory.current", &current)) {
            uint64_t left = max > current ? max - current : 0;
            least = left < least ? left : least;
        }
        *strrchr(dir, '/') = '\0';
    }
    return least;
}

/* The soft limit minus what the process already uses (`used_field` of /proc/self/status). */
static uint64_t rlimit_available(int resource, const char *used_field) {
    struct rlimit limit;
    if (getrlimit(resource, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
        return UINT64_MAX;
    int64_t used_kb = proc_kb("/proc/self/status", used_field);
    uint64_t used = used_kb > 0 ? (uint64_t)used_kb * 1024 : 0;
    return limit.rlim_cur > used ? (uint64_t)limit.rlim_cur - used : 0;
}

static int node_ranks = 1;

void rl_mem_set_node_ranks(int ranks) {
    node_ranks = ranks > 0 ? ranks : 1;
}

/* This process's share of what the node (or cgroup) has left. */
static uint64_t share(uint64_t bytes) {
    return bytes == UINT64_MAX ? bytes : bytes / (uint64_t)node_ranks;
}

/* The memory a Slurm job asked for (sbatch --mem or --mem-per-cpu, exported in MB), minus what
 * this process holds; *shared: per node (--mem) rather than per rank. Where cgroups do not
 * enforce it (cgroup v1 is not read here), the job's request still bounds what a rank may plan.
 * node_copy: the whole node's memory (--mem-per-cpu times the node's ranks), for one copy that
 * the node's ranks share. */
static uint64_t slurm_available(int node_copy, int *shared) {
    const char *per_node = getenv("SLURM_MEM_PER_NODE"), *per_cpu = getenv("SLURM_MEM_PER_CPU");
    const char *cpus = getenv("SLURM_CPUS_PER_TASK");
    char *end;
    unsigned long long mb = per_node ? strtoull(per_node, &end, 10)
                            : per_cpu ? strtoull(per_cpu, &end, 10)
                                      : 0;
    if (!mb || *end)
        return UINT64_MAX;
    uint64_t bytes = rl_size_mul(mb, 1u << 20);
    *shared = per_node != NULL;
    if (!per_node && cpus && strtoull(cpus, NULL, 10) > 0)
        bytes = rl_size_mul(bytes, strtoull(cpus, NULL, 10));
    if (*shared && !node_copy)
        bytes = share(bytes);
    else if (!*shared && node_copy)
        bytes = rl_size_mul(bytes, (uint64_t)node_ranks);
    int64_t rss_kb = proc_kb("/proc/self/status", "VmRSS:");
    uint64_t used = rss_kb > 0 ? (uint64_t)rss_kb * 1024 : 0;
    return bytes > used ? bytes - used : 0;
}

/* The least limit; *shared_out: whether the node's ranks share it (MemAvailable, cgroup).
 * node_copy: for one copy that the node's ranks share (rl_mem_check_node): the node's whole
 * memory rather than this process's share, and no data-size limit (shared mappings do not count
 * against RLIMIT_DATA; they do against the address space of every rank that maps them). */
static uint64_t available(int node_copy, const char **source, int *shared_out) {
    int64_t meminfo_kb = proc_kb("/proc/meminfo", "MemAvailable:");
    int slurm_shared = 0;
    uint64_t slurm = slurm_available(node_copy, &slurm_shared);
    uint64_t meminfo = meminfo_kb >= 0 ? (uint64_t)meminfo_kb * 1024 : UINT64_MAX;
    uint64_t cgroup = cgroup_available();
    struct {
        uint64_t bytes;
        const char *name;
        int shared; /* by the ranks of the node */
    } limits[] = {
        {node_copy ? meminfo : share(meminfo), "MemAvailable", 1},
        {rlimit_available(RLIMIT_AS, "VmSize:"), "address-space limit, ulimit -v", 0},
        {node_copy ? UINT64_MAX : rlimit_available(RLIMIT_DATA, "VmData:"),
         "data-size limit, ulimit -d", 0},
        {node_copy ? cgroup : share(cgroup), "cgroup memory.max", 1},
        {slurm, "the Slurm job's memory, SLURM_MEM_PER_NODE or SLURM_MEM_PER_CPU", slurm_shared},
    };
    uint64_t least = UINT64_MAX;
    const char *name = "no limit known";
    int shared = 0;
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++)
        if (limits[i].bytes < least) {
            least = limits[i].bytes;
            name = limits[i].name;
            shared = limits[i].shared;
        }
    if (source)
        *source = name;
    if (shared_out)
        *shared_out = shared;
    return least;
}

uint64_t rl_mem_available(const char **source) {
    return available(0, source, NULL);
}

/* Bytes as GB (10⁹), with enough digits to tell sizes apart. */
static void format_gb(char *out, size_t size, uint64_t bytes) {
    double gb = (double)bytes / 1e9;
    snprintf(out, size, gb >= 100 ? "%.0f GB" : "%.3g GB", gb);
}

/* rl_mem_check and rl_mem_check_node: `what` (formatted) needs `bytes`. */
static int check(int node_copy, uint64_t bytes, const char *what_fmt, va_list ap) {
    const char *source;
    int shared;
    uint64_t left = available(node_copy, &source, &shared);
    if (bytes != UINT64_MAX && bytes <= left) /* UINT64_MAX: a size that overflowed */
        return 0;
    char what[512], need[64] = "more than 2^64 bytes (the size overflows)", have[64];
    vsnprintf(what, sizeof what, what_fmt, ap);
    if (bytes != UINT64_MAX)
        format_gb(need, sizeof need, bytes);
    if (left == UINT64_MAX)
        return rl_fail("%s needs %s", "use smaller sizes", what, need);
    format_gb(have, sizeof have, left);
    char where[96] = "on this node";
    if (!shared)
        snprintf(where, sizeof where, "to this process");
    else if (node_ranks > 1 && node_copy)
        snprintf(where, sizeof where, "on this node for the one copy its %d ranks share",
                 node_ranks);
    else if (node_ranks > 1)
        snprintf(where, sizeof where, "to each of the %d ranks on this node", node_ranks);
    return rl_fail("%s needs %s but only %s are available %s (%s)",
                   "use smaller sizes, fewer ranks per node, or a node (or job) with more "
                   "memory per rank, e.g. sbatch --mem-per-cpu",
                   what, need, have, where, source);
}

int rl_mem_check(uint64_t bytes, const char *what_fmt, ...) {
    va_list ap;
    va_start(ap, what_fmt);
    int rc = check(0, bytes, what_fmt, ap);
    va_end(ap);
    return rc;
}

int rl_mem_check_node(uint64_t bytes, const char *what_fmt, ...) {
    va_list ap;
    va_start(ap, what_fmt);
    int rc = check(1, bytes, what_fmt, ap);
    va_end(ap);
    return rc;
}

int64_t rl_mem_peak_kb(void) {
    return proc_kb("/proc/self/status", "VmHWM:");
}

int64_t rl_mem_current_kb(void) {
    return proc_kb("/proc/self/status", "VmRSS:");
}

int rl_mem_peak_reset(void) {
#ifdef __GLIBC__
    malloc_trim(0); /* freed memory glibc keeps would be reused unseen by the next phase's peak */
#endif
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return -1;
    int rc = fputs("5", f) < 0 ? -1 : 0;
    return fclose(f) == 0 ? rc : -1;
}
