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
#include <stdint.h>

enum {
    RL_OK = 0,
    RL_ERR = -1,     /* generic failure; message set */
    RL_STOPPED = -2, /* a stop signal was agreed on and a checkpoint written */
    RL_PRUNED = -3,  /* early stopping ended the run; its results are completed as "pruned" */
};

/* Exit codes of the `ranklab` program. */
enum {
    RL_EXIT_OK = 0,
    RL_EXIT_ERROR = 1,
    RL_EXIT_USAGE = 2,
    RL_EXIT_NOSPACE = 74, /* a write failed because the disk is full; older files are intact */
    RL_EXIT_STOPPED = 75, /* stopped by a signal after checkpointing; run again to resume */
};

/* What kind of failure the stored error is, where a caller acts on it (the exit code). */
typedef enum {
    RL_ERRC_GENERIC = 0,
    RL_ERRC_NOSPACE, /* the disk (or quota) is full */
} rl_error_class;

/* Store the message (printf-style) and a hint (may be NULL); return RL_ERR. */
int rl_fail(const char *fmt, const char *hint, ...) __attribute__((format(printf, 1, 3)));
/* Replace the hint of the stored error with a formatted one; returns RL_ERR. */
int rl_fail_hint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prefix the stored message with context ("reading config: ..."); returns RL_ERR. */
int rl_fail_context(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *rl_error_message(void);
const char *rl_error_hint(void);
/* The class of the stored error: rl_fail sets RL_ERRC_GENERIC; set another after it. */
void rl_error_set_class(rl_error_class c);
rl_error_class rl_error_get_class(void);
/* The error was relayed from rank `origin` (src/comm's agreement): only that rank and rank 0
 * print it, so P ranks do not print P copies. -1: this rank's own. */
void rl_error_set_origin(int origin);
int rl_error_get_origin(void);
/* The program's exit code for a stored error (RL_EXIT_NOSPACE for a full disk, else
 * RL_EXIT_ERROR). */
int rl_error_exit_code(void);
/* Print "error: MESSAGE" and "HINT: ..." to stderr, prefixed with the rank when known. */
void rl_error_print(void);
void rl_error_clear(void);

/* Fatal errors (out of memory): rl_fatal hands the message and hint to the registered handler
 * (src/comm registers one at comm_init that prints the rank and host and ends the whole job),
 * or, with none, prints "error: MESSAGE" and "HINT: ..." and exits with RL_EXIT_ERROR. */
typedef void (*rl_fatal_handler)(const char *message, const char *hint);
void rl_set_fatal_handler(rl_fatal_handler handler); /* NULL: the default */
_Noreturn void rl_fatal(const char *message, const char *hint);

/* Allocation that treats out-of-memory as fatal ("out of memory allocating N bytes", through
 * rl_fatal). Sizes from config or file headers are checked with rl_mem_check (mem.h) first.
 * Fault injection for tests: RANKLAB_FAULT_ALLOC=BYTES makes every allocation of at least
 * BYTES fail as if out of memory. */
void *rl_xmalloc(size_t n);
void *rl_xcalloc(size_t count, size_t size);
char *rl_xstrdup(const char *s);
/* For other allocators (src/comm's memory shared by a node's ranks): whether RANKLAB_FAULT_ALLOC
 * makes an allocation of `bytes` fail, and the end rl_xmalloc makes when one does. */
int rl_alloc_fault(uint64_t bytes);
_Noreturn void rl_out_of_memory(uint64_t bytes);

#endif
