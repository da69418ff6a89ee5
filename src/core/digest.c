/* CRC-32 over buffers larger than zlib's 32-bit lengths (see digest.h). */
#include "src/core/digest.h"

#include <zlib.h>

uint32_t rl_crc32(uint32_t crc, const void *bytes, size_t n) {
    const unsigned char *p = bytes;
    uLong c = crc;
    while (n > 0) {
        uInt part = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, part);
        p += part;
        n -= part;
    }
    return (uint32_t)c;
}
