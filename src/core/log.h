/* Rank-aware logging and a progress line for long loops.
 *
 * rl_log_info() prints on rank 0 only; rl_log_rank() prints on every rank with a "[rank r/P]"
 * prefix; errors and warnings print on every rank. src/comm tells the logger the rank.
 *
 *     rl_progress p;
 *     rl_progress_start(&p, "train", total_steps);
 *     for (...) rl_progress_update(&p, step, "loss %.4f", loss);
 *     rl_progress_finish(&p);
 *
 * On a terminal the progress line is rewritten in place; in batch logs (not a tty) a plain
 * line is printed every `log.progress_seconds` seconds.
 */
#ifndef RANKLAB_CORE_LOG_H
#define RANKLAB_CORE_LOG_H

#include <stdint.h>

void rl_log_set_rank(int rank, int size);
int rl_log_rank_id(void);
/* Seconds between plain progress lines when stderr is not a terminal (default 10). */
void rl_log_set_progress_interval(double seconds);

void rl_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void rl_log_rank(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void rl_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void rl_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Monotonic wall-clock seconds. */
double rl_now(void);
/* Seconds of CPU time this thread has used: timings that other jobs sharing the core do not
 * stretch (benchmarks on a shared machine). */
double rl_cpu_now(void);

typedef struct {
    char label[32];
    int64_t total;
    int64_t first_step; /* step at start (non-zero after a resume) */
    double t_start;
    double t_last_print;
    int on_terminal;
    int printed;
} rl_progress;

void rl_progress_start(rl_progress *p, const char *label, int64_t first_step, int64_t total);
void rl_progress_update(rl_progress *p, int64_t step, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void rl_progress_finish(rl_progress *p);

#endif
