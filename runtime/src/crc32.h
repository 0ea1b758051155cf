/* CRC-32 as in zlib (and Python's zlib.crc32), used for the .pnn file checksum. */
#ifndef PNN_CRC32_H
#define PNN_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continues `crc` (0 to start) over `size` bytes: pnn_crc32(pnn_crc32(0, a), b) is the
 * CRC of a followed by b. */
uint32_t pnn_crc32(uint32_t crc, const void *data, size_t size);

#endif /* PNN_CRC32_H */
