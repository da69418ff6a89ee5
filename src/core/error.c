/* Errors with hints: one stored message and hint per process (see error.h). */
#include "src/core/error.h"
#include "src/core/log.h"
#include "src/core/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char error_message[2048];
static char error_hint[1024];
static rl_error_class error_class;
static int error_origin = -1;

int rl_fail(const char *fmt, const char *hint, ...) {
    va_list ap;
    va_start(ap, hint);
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    snprintf(error_hint, sizeof error_hint, "%s", hint ? hint : "");
    error_class = RL_ERRC_GENERIC;
    error_origin = -1;
    return RL_ERR;
}

int rl_fail_hint(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_hint, sizeof error_hint, fmt, ap);
    va_end(ap);
    return RL_ERR;
}

int rl_fail_context(const char *fmt, ...) {
    char context[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(context, sizeof context, fmt, ap);
    va_end(ap);
    size_t prefix = strlen(context) + 2, old = strlen(error_message);
    if (prefix + old >= sizeof error_message)
        old = sizeof error_message - prefix - 1;
    memmove(error_message + prefix, error_message, old);
    error_message[prefix + old] = '\0';
    memcpy(error_message, context, prefix - 2);
    memcpy(error_message + prefix - 2, ": ", 2);
    return RL_ERR;
}

const char *rl_error_message(void) {
    return error_message;
}

const char *rl_error_hint(void) {
    return error_hint;
}

void rl_error_clear(void) {
    error_message[0] = '\0';
    error_hint[0] = '\0';
    error_class = RL_ERRC_GENERIC;
    error_origin = -1;
}

void rl_error_set_class(rl_error_class c) {
    error_class = c;
}

rl_error_class rl_error_get_class(void) {
    return error_class;
}

void rl_error_set_origin(int origin) {
    error_origin = origin;
}

int rl_error_get_origin(void) {
    return error_origin;
}

int rl_error_exit_code(void) {
    return error_class == RL_ERRC_NOSPACE ? RL_EXIT_NOSPACE : RL_EXIT_ERROR;
}

static void print_error(const char *message, const char *hint) {
    rl_log_error("%s", message[0] ? message : "unknown error");
    if (hint && hint[0])
        rl_log_error("HINT: %s", hint);
}

void rl_error_print(void) {
    if (error_origin >= 0 && rl_log_rank_id() != 0)
        return; /* relayed from another rank, which prints it, as does rank 0 */
    print_error(error_message, error_hint);
}

static rl_fatal_handler fatal_handler;

void rl_set_fatal_handler(rl_fatal_handler handler) {
    fatal_handler = handler;
}

_Noreturn void rl_fatal(const char *message, const char *hint) {
    if (fatal_handler)
        fatal_handler(message, hint);
    print_error(message, hint);
    exit(RL_EXIT_ERROR);
}

static _Noreturn void out_of_memory(size_t count, size_t size) {
    char message[128];
    uint64_t bytes = rl_size_mul(count, size);
    if (bytes == UINT64_MAX)
        snprintf(message, sizeof message,
                 "out of memory allocating %zu x %zu bytes (more than 2^64)", count, size);
    else
        snprintf(message, sizeof message, "out of memory allocating %llu bytes",
                 (unsigned long long)bytes);
    rl_fatal(message, "reduce the model, batch or data size, run fewer ranks per node, or ask "
                      "for more memory per rank (e.g. sbatch --mem-per-cpu)");
}

_Noreturn void rl_out_of_memory(uint64_t bytes) {
    out_of_memory(1, (size_t)bytes);
}

/* RANKLAB_FAULT_ALLOC=BYTES (tests): allocations of at least BYTES fail. */
int rl_alloc_fault(uint64_t bytes) {
    const char *spec = getenv("RANKLAB_FAULT_ALLOC");
    return spec && bytes >= strtoull(spec, NULL, 10);
}

void *rl_xmalloc(size_t n) {
    void *p = rl_alloc_fault(n) ? NULL : malloc(n ? n : 1);
    if (!p)
        out_of_memory(n, 1);
    return p;
}

void *rl_xcalloc(size_t count, size_t size) {
    void *p = rl_alloc_fault(rl_size_mul(count, size)) ? NULL
                                                       : calloc(count ? count : 1, size ? size : 1);
    if (!p)
        out_of_memory(count, size);
    return p;
}

char *rl_xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = rl_xmalloc(n);
    memcpy(p, s, n);
    return p;
}
