/* hash.h - FNV-1a, 64-bit: the one string hash of the daemon's and the extension's tables
 * (none of them is exposed to input chosen to collide, nor kept across processes). */
#ifndef PRESSFS_HASH_H
#define PRESSFS_HASH_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A_64_OFFSET UINT64_C(0xcbf29ce484222325)
#define FNV1A_64_PRIME	UINT64_C(0x100000001b3)

/* Continue hash H over the N bytes at P (start from FNV1A_64_OFFSET, or a seed of one's own). */
static inline uint64_t fnv1a_64_more(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * FNV1A_64_PRIME;
	return h;
}

static inline uint64_t fnv1a_64(const void *p, size_t n)
{
	return fnv1a_64_more(FNV1A_64_OFFSET, p, n);
}

#endif
