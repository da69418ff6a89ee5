/* Rank-aware logging and the progress line (see log.h). */
#include "src/core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_rank = 0;
static int log_size = 1;
static double progress_interval = 10.0;

void rl_log_set_rank(int rank, int size) {
    log_rank = rank;
    log_size = size;
}

int rl_log_rank_id(void) {
    return log_rank;
}

void rl_log_set_progress_interval(double seconds) {
    progress_interval = seconds;
}

double rl_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double rl_cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void vlog(FILE *f, const char *prefix, int with_rank, const char *fmt, va_list ap) {
    char line[4096];
    vsnprintf(line, sizeof line, fmt, ap);
    if (with_rank && log_size > 1)
        fprintf(f, "%s[rank %d/%d] %s\n", prefix, log_rank, log_size, line);
    else
        fprintf(f, "%s%s\n", prefix, line);
    fflush(f);
}

void rl_log_info(const char *fmt, ...) {
    if (log_rank != 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(stdout, "", 0, fmt, ap);
    va_end(ap);
}

void rl_log_rank(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog(stdout, "", 1, fmt, ap);
    va_end(ap);
}

void rl_log_warn(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog(stderr, "warning: ", 1, fmt, ap);
    va_end(ap);
}

void rl_log_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    /* The hint line reads better without a second "error:" in front of it. */
    vlog(stderr, strncmp(fmt, "HINT", 4) == 0 ? "" : "error: ", 1, fmt, ap);
    va_end(ap);
}

void rl_progress_start(rl_progress *p, const char *label, int64_t first_step, int64_t total) {
    memset(p, 0, sizeof *p);
    snprintf(p->label, sizeof p->label, "%s", label);
    p->total = total;
    p->first_step = first_step;
    p->t_start = rl_now();
    p->t_last_print = p->t_start;
    p->on_terminal = isatty(STDERR_FILENO);
}

static void format_seconds(char *buf, size_t n, double s) {
    if (s < 0 || s > 1e7)
        snprintf(buf, n, "?");
    else if (s >= 3600)
        snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else
        snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
}

void rl_progress_update(rl_progress *p, int64_t step, const char *fmt, ...) {
    if (log_rank != 0)
        return;
    double now = rl_now();
    int last = step >= p->total;
    double min_gap = p->on_terminal ? 0.2 : progress_interval;
    if (!last && now - p->t_last_print < min_gap)
        return;
    p->t_last_print = now;
    char metrics[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(metrics, sizeof metrics, fmt, ap);
    va_end(ap);
    double elapsed = now - p->t_start;
    double rate = elapsed > 0 ? (double)(step - p->first_step) / elapsed : 0.0;
    char eta[32];
    format_seconds(eta, sizeof eta, rate > 0 ? (double)(p->total - step) / rate : -1);
    fprintf(stderr, "%s%s %lld/%lld %s | %.1f steps/s | ETA %s%s", p->on_terminal ? "\r" : "",
            p->label, (long long)step, (long long)p->total, metrics, rate, eta,
            p->on_terminal ? "\033[K" : "\n");
    fflush(stderr);
    p->printed = 1;
}

void rl_progress_finish(rl_progress *p) {
    if (log_rank == 0 && p->on_terminal && p->printed) {
        fputc('\n', stderr);
        fflush(stderr);
    }
}
