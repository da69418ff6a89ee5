/* Digests of what a run is made from: CRC-32 (zlib's) over buffers of any size, for the data
 * and model digests recorded with a run and checked when it resumes.
 *
 *     uint32_t crc = rl_crc32(0, x, n * sizeof *x);
 *     crc = rl_crc32(crc, y, n * sizeof *y);   // continues the same digest
 */
#ifndef RANKLAB_CORE_DIGEST_H
#define RANKLAB_CORE_DIGEST_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32 of bytes, continuing crc (0 to start). */
uint32_t rl_crc32(uint32_t crc, const void *bytes, size_t n);

#endif
