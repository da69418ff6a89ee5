/* Errors with hints: one stored message and hint per process (see error.h). */
#include "src/core/error.h"
#include "src/core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char error_message[2048];
static char error_hint[1024];

int rl_fail(const char *fmt, const char *hint, ...) {
    va_list ap;
    va_start(ap, hint);
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    snprintf(error_hint, sizeof error_hint, "%s", hint ? hint : "");
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
}

void rl_error_print(void) {
    rl_log_error("%s", error_message[0] ? error_message : "unknown error");
    if (error_hint[0])
        rl_log_error("HINT: %s", error_hint);
}

static void out_of_memory(size_t n) {
    fprintf(stderr, "error: out of memory allocating %zu bytes\n"
                    "HINT: reduce the model, batch or data size, or ask for more memory per rank\n",
            n);
    abort();
}

void *rl_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p)
        out_of_memory(n);
    return p;
}

void *rl_xcalloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        out_of_memory(count * size);
    return p;
}

char *rl_xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = rl_xmalloc(n);
    memcpy(p, s, n);
    return p;
}
