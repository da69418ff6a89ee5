/* Unit tests of the size limits: saturating size arithmetic, rl_mem_check against this
 * process's memory (MemAvailable, an address-space rlimit, the share of a node's ranks), the
 * out-of-memory path of rl_xmalloc (an error and exit code, not SIGABRT), and models,
 * workspaces and synthetic data whose sizes are refused before anything is allocated. The
 * cases that change rlimits or end the process run in a forked child. */
#define _POSIX_C_SOURCE 200809L /* pipe, fork */

#include "src/core/error.h"
#include "src/core/mem.h"
#include "src/data/data.h"
#include "src/nn/nn.h"
#include "tests/unit/harness.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define PB ((uint64_t)1 << 50) /* more than any node has */

/* The stored error names every word in `words` (NULL-terminated) and has a hint. */
static int error_names(const char *const *words) {
    for (; *words; words++)
        if (!strstr(rl_error_message(), *words))
            return 0;
    return rl_error_hint()[0] != '\0';
}

/* Run fn in a forked child with stderr captured into out (NUL-terminated); returns the
 * child's wait status. */
static int run_child(void (*fn)(void), char *out, size_t size) {
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        fn();
        _exit(0);
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t n;
    while (got + 1 < size && (n = read(fds[0], out + got, size - 1 - got)) > 0)
        got += (size_t)n;
    out[got] = '\0';
    close(fds[0]);
    int status = -1;
    waitpid(pid, &status, 0);
    return status;
}

/* ---- size arithmetic ---- */

static void test_size_arithmetic(void) {
    CU_ASSERT_EQUAL(rl_size_mul(0, UINT64_MAX), 0);
    CU_ASSERT_EQUAL(rl_size_mul(3, 7), 21);
    CU_ASSERT_EQUAL(rl_size_mul((uint64_t)1 << 32, (uint64_t)1 << 31), (uint64_t)1 << 63);
    CU_ASSERT_EQUAL(rl_size_mul((uint64_t)1 << 32, (uint64_t)1 << 32), UINT64_MAX);
    CU_ASSERT_EQUAL(rl_size_mul(UINT64_MAX, 2), UINT64_MAX);
    CU_ASSERT_EQUAL(rl_size_add(UINT64_MAX - 1, 1), UINT64_MAX);
    CU_ASSERT_EQUAL(rl_size_add(UINT64_MAX, 1), UINT64_MAX);
    CU_ASSERT_EQUAL(rl_size_add(40, 2), 42);
    /* A saturated size stays saturated through further products and sums. */
    uint64_t huge = rl_size_mul(rl_size_mul(2147483647u, 4294967295u), 16777216u);
    CU_ASSERT_EQUAL(huge, UINT64_MAX);
    CU_ASSERT_EQUAL(rl_size_add(rl_size_mul(huge, sizeof(float)), 16), UINT64_MAX);
}

/* ---- rl_mem_check ---- */

static void test_mem_check(void) {
    const char *source = NULL;
    uint64_t available = rl_mem_available(&source);
    CU_ASSERT(available > ((uint64_t)1 << 20)); /* a test machine has a megabyte */
    CU_ASSERT_PTR_NOT_NULL(source);
    CU_ASSERT_EQUAL(rl_mem_check(1 << 20, "a megabyte"), 0);
    CU_ASSERT_EQUAL(rl_mem_check(0, "nothing"), 0);

    rl_error_clear();
    CU_ASSERT_EQUAL(rl_mem_check(2 * PB, "%d widgets of %s", 12, "2 PB"), RL_ERR);
    const char *words[] = {"12 widgets of 2 PB needs 2251800 GB but only", "GB are available",
                           source, NULL};
    CU_ASSERT(error_names(words));

    /* A size that overflowed is refused even when no limit is known. */
    rl_error_clear();
    CU_ASSERT_EQUAL(rl_mem_check(UINT64_MAX, "an overflowing size"), RL_ERR);
    const char *overflow[] = {"an overflowing size needs more than 2^64 bytes", NULL};
    CU_ASSERT(error_names(overflow));
}

/* The ranks of a node share MemAvailable: each gets its part. */
static void test_mem_node_share(void) {
    const char *source;
    uint64_t alone = rl_mem_available(&source);
    if (strcmp(source, "MemAvailable") != 0)
        return; /* another limit binds here; the share only divides node-wide limits */
    rl_mem_set_node_ranks(1 << 20);
    uint64_t shared = rl_mem_available(NULL);
    rl_error_clear();
    int rc = rl_mem_check(alone / 2, "half of the node");
    rl_mem_set_node_ranks(1);
    CU_ASSERT(shared <= alone / (1 << 19)); /* MemAvailable may move a little meanwhile */
    CU_ASSERT_EQUAL(rc, RL_ERR);
    const char *words[] = {"to each of the 1048576 ranks on this node", NULL};
    CU_ASSERT(error_names(words));
    /* One copy the node's ranks share is checked against the whole node, not a share. */
    rl_mem_set_node_ranks(1 << 20);
    int fits = rl_mem_check_node(alone / 2, "half of the node, shared");
    rc = rl_mem_check_node(alone * 2, "twice the node, shared");
    rl_mem_set_node_ranks(1);
    CU_ASSERT_EQUAL(fits, 0);
    CU_ASSERT_EQUAL(rc, RL_ERR);
    const char *node_words[] = {"twice the node, shared needs",
                                "on this node for the one copy its 1048576 ranks share", NULL};
    CU_ASSERT(error_names(node_words));
}

/* Child: an address-space limit 64 MiB above what the process maps; exits 0 when
 * rl_mem_available and rl_mem_check honour it. */
static void child_rlimit(void) {
    long long size_kb = 0;
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        sscanf(line, "VmSize: %lld", &size_kb);
    if (f)
        fclose(f);
    struct rlimit limit;
    if (size_kb <= 0 || getrlimit(RLIMIT_AS, &limit) != 0)
        _exit(2);
    limit.rlim_cur = (rlim_t)size_kb * 1024 + (64 << 20);
    if (setrlimit(RLIMIT_AS, &limit) != 0)
        _exit(2);
    const char *source;
    uint64_t available = rl_mem_available(&source);
    if (available > (64 << 20) || strcmp(source, "address-space limit, ulimit -v") != 0)
        _exit(3);
    if (rl_mem_check(256 << 20, "a quarter gigabyte") != RL_ERR ||
        !strstr(rl_error_message(), "are available to this process (address-space limit"))
        _exit(4);
    _exit(rl_mem_check(1 << 20, "a megabyte") == 0 ? 0 : 5);
}

static void test_mem_rlimit(void) {
    char out[256];
    int status = run_child(child_rlimit, out, sizeof out);
    CU_ASSERT(WIFEXITED(status));
    CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
}

/* ---- out of memory ---- */

static void child_malloc(void) {
    rl_set_fatal_handler(NULL); /* as without MPI */
    rl_xmalloc(SIZE_MAX / 2);
}

static void child_calloc(void) {
    rl_set_fatal_handler(NULL);
    rl_xcalloc(SIZE_MAX / 4, 16);
}

static void exit_seven(const char *message, const char *hint) {
    fprintf(stderr, "handler: %s | %s\n", message, hint);
    _exit(7);
}

static void child_handler(void) {
    rl_set_fatal_handler(exit_seven); /* what src/comm registers, in small */
    rl_xmalloc(SIZE_MAX / 2);
}

/* Out of memory prints the size and a hint and exits with RL_EXIT_ERROR, not SIGABRT; a
 * registered handler (src/comm's ends the MPI job) gets the message and the hint. */
static void test_out_of_memory(void) {
    char out[1024];
    int status = run_child(child_malloc, out, sizeof out);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == RL_EXIT_ERROR);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(out, "error: out of memory allocating 9223372036854775807 bytes"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\nHINT: "));

    status = run_child(child_calloc, out, sizeof out);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == RL_EXIT_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "x 16 bytes (more than 2^64)"));

    status = run_child(child_handler, out, sizeof out);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 7);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(out, "handler: out of memory allocating 9223372036854775807 bytes | "));
}

/* ---- sizes refused before allocating ---- */

/* Each of these would abort in rl_xcalloc if it tried to allocate; refusing returns RL_ERR. */
static void test_model_sizes(void) {
    rl_model m;
    rl_error_clear();
    CU_ASSERT_EQUAL(rl_model_init(&m, "mlp:784-16777216-16777216-10"), RL_ERR);
    const char *words[] = {"model mlp:784-16777216-16777216-10 (",
                           "parameters and their gradients) needs", NULL};
    CU_ASSERT(error_names(words));
    CU_ASSERT(m.params == NULL && m.n_params == 0);

    /* The input shape's product used to overflow a long before it was compared. */
    rl_error_clear();
    CU_ASSERT_EQUAL(rl_model_init(&m, "cnn:16777216x16777216x16777216-fc10"), RL_ERR);
    const char *shape[] = {"the input 16777216x16777216x16777216 has more than 16777216 values",
                           NULL};
    CU_ASSERT(error_names(shape));

    CU_ASSERT_FATAL(rl_model_init(&m, "mlp:1000-1000-10") == RL_OK);
    rl_workspace ws;
    /* input, dense, relu, dense outputs, and three scratch rows of the widest (1000): backward's
     * two and a residual shortcut's */
    uint64_t per_example = (1000 + 1000 + 1000 + 10 + 3 * 1000) * sizeof(float);
    CU_ASSERT_EQUAL(rl_workspace_bytes(&m, 7), 7 * per_example);
    rl_error_clear();
    CU_ASSERT_EQUAL(rl_workspace_init(&ws, &m, INT_MAX), RL_ERR);
    const char *batch[] = {"mlp:1000-1000-10 for 2147483647 examples at a time needs", NULL};
    CU_ASSERT(error_names(batch));
    CU_ASSERT(ws.act[0] == NULL);
    CU_ASSERT_EQUAL(rl_workspace_init(&ws, &m, 16), RL_OK);
    rl_workspace_free(&ws);

    rl_optimizer o;
    rl_error_clear();
    CU_ASSERT_EQUAL(rl_opt_init(&o, RL_OPT_ADAM, (size_t)PB, 0.001f, 0.0f, 0.0f), RL_ERR);
    const char *adam[] = {"the Adam state of 1125899906842624 parameters needs", NULL};
    CU_ASSERT(error_names(adam));
    CU_ASSERT(o.m == NULL);
    rl_model_free(&m);
}

static void test_synthetic_sizes(void) {
    rl_dataset d;
    rl_error_clear();
    CU_ASSERT_EQUAL(rl_data_make_blobs(4294967295LL, 1 << 20, 4, 1.0f, 1, 0, &d), RL_ERR);
    const char *words[] = {"blobs: 4294967295 training examples of 1048576 features needs", NULL};
    CU_ASSERT(error_names(words));
    CU_ASSERT(d.x_f32 == NULL);
    rl_error_clear();
    CU_ASSERT_EQUAL(rl_data_make_linreg(4294967295LL, 1 << 20, 0.1f, 1, 1, &d), RL_ERR);
    const char *linreg[] = {"linreg: 4294967295 test examples", NULL};
    CU_ASSERT(error_names(linreg));
    CU_ASSERT_EQUAL(rl_data_make_blobs(10, 3, 2, 1.0f, 1, 0, &d), RL_OK);
    CU_ASSERT(d.channels == 0 && d.height == 0 && d.width == 0); /* flat */
    rl_data_free(&d);
}

static const rl_test tests[] = {
    {"size arithmetic saturates", test_size_arithmetic},
    {"rl_mem_check names sizes and the limit", test_mem_check},
    {"ranks of a node share its memory", test_mem_node_share},
    {"an address-space rlimit binds", test_mem_rlimit},
    {"out of memory is an error, not SIGABRT", test_out_of_memory},
    {"huge models and workspaces are refused", test_model_sizes},
    {"huge synthetic data is refused", test_synthetic_sizes},
    {NULL, NULL},
};
RL_TEST_SUITE("limits", tests)
