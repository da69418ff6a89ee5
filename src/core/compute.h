/* The compute path of a run and what it depends on.
 *
 * rl_compute_init sets the kernels up for a run: the path of kern_sgemm (run.compute: "exact",
 * the default, whose bits are the same on every CPU; "blas", OpenBLAS's, whose bits depend on
 * the kernel OpenBLAS picks for the CPU), and the ISA level of the project's kernels, the best
 * the CPU supports unless RANKLAB_ISA=generic|avx2|avx512 forces one (tests simulate other CPUs
 * with it). A CPU below AVX2 + FMA is refused: glibc's libm picks other code for exp and log
 * there, so the same bits could not be promised.
 *
 *     if (rl_compute_init(rl_cfg_string(cfg, "run.compute")) < 0) ... // error and hint stored
 *     char fp[RL_FINGERPRINT_MAX];
 *     rl_compute_fingerprint(fp, sizeof fp); // "compute=exact\nisa=avx512 (...)\n..."
 */
#ifndef RANKLAB_CORE_COMPUTE_H
#define RANKLAB_CORE_COMPUTE_H

#include <stddef.h>

#define RL_FINGERPRINT_MAX 2048

/* 0, or RL_ERR with the problem and a hint (an unknown path or RANKLAB_ISA value, an ISA level
 * the CPU lacks, a CPU below AVX2 + FMA). */
int rl_compute_init(const char *path);
/* This process's fingerprint, one "key=value" line each: compute (exact or blas), isa (the level
 * of the project's kernels and how it was chosen), int8 (the int8 kernel variant), blas,
 * blas_core, compiler, libc, cpu, cpu_flags. */
void rl_compute_fingerprint(char *out, size_t n);

#endif
