/* Peak resident memory of this process (Linux): VmHWM from /proc/self/status, and its reset
 * (writing 5 to /proc/self/clear_refs), to measure the peak of one phase of a run. */
#ifndef RANKLAB_CORE_MEM_H
#define RANKLAB_CORE_MEM_H

#include <stdint.h>

/* Peak resident set size in KiB since start or the last reset; -1 if unknown. */
int64_t rl_mem_peak_kb(void);
/* Current resident set size in KiB (VmRSS); -1 if unknown. */
int64_t rl_mem_current_kb(void);
/* Start a new peak from the current resident size; 0 or -1 if the kernel refuses. */
int rl_mem_peak_reset(void);

#endif
