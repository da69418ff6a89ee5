/* Errors with hints: a failing function stores a message and a HINT saying what to do, and
 * returns a negative status. The caller that decides to stop prints both.
 *
 *     if (n <= 0) return rl_fail("train.batch must be positive (got %d)", "set train.batch=128", n);
 *     ...
 *     if (train_run(&ctx) < 0) { rl_error_print(); return 1; }
 */
#ifndef RANKLAB_CORE_ERROR_H
#define RANKLAB_CORE_ERROR_H

#include <stddef.h>

enum {
    RL_OK = 0,
    RL_ERR = -1,      /* generic failure; message set */
    RL_STOPPED = -2,  /* a stop signal was agreed on and a checkpoint written */
};

/* Exit codes of the `ranklab` program. */
enum {
    RL_EXIT_OK = 0,
    RL_EXIT_ERROR = 1,
    RL_EXIT_USAGE = 2,
    RL_EXIT_STOPPED = 75, /* stopped by a signal after checkpointing; run again to resume */
};

/* Store the message (printf-style) and a hint (may be NULL); return RL_ERR. */
int rl_fail(const char *fmt, const char *hint, ...) __attribute__((format(printf, 1, 3)));
/* Replace the hint of the stored error with a formatted one; returns RL_ERR. */
int rl_fail_hint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prefix the stored message with context ("reading config: ..."); returns RL_ERR. */
int rl_fail_context(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *rl_error_message(void);
const char *rl_error_hint(void);
/* Print "error: MESSAGE" and "HINT: ..." to stderr, prefixed with the rank when known. */
void rl_error_print(void);
void rl_error_clear(void);

/* Allocation that treats out-of-memory as fatal (prints size and aborts). */
void *rl_xmalloc(size_t n);
void *rl_xcalloc(size_t count, size_t size);
char *rl_xstrdup(const char *s);

#endif
