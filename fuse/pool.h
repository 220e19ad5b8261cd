/* pool.h - TEMPORARY on branch overlay: the pool names of COMMON.md over today's cache.h, so that
 * the overlay can use them before fuse/cache.[ch] is renamed.  The pool helper's fuse/pool.h
 * replaces this file at the merge (take theirs). */
#ifndef PRESSFS_POOL_SHIM_H
#define PRESSFS_POOL_SHIM_H

#include "cache.h"

struct pool;

#define POOL_PART_SIZE CACHE_PART_SIZE

static inline int pool_open(const char *url, const char *prefix, unsigned timeout_ms,
			    struct pool **out)
{
	return cache_open(url, prefix, timeout_ms, (struct cache **)out);
}
static inline void pool_close(struct pool *p)
{
	cache_close((struct cache *)p);
}
static inline int pool_put(struct pool *p, uint64_t id, const void *data, size_t len)
{
	return cache_put((struct cache *)p, id, data, len);
}
static inline int pool_fetch(struct pool *p, const struct store_attr *a, char *buf)
{
	return cache_fetch((struct cache *)p, a, buf);
}
static inline ssize_t pool_read_chunk(struct pool *p, uint64_t id, size_t off, size_t len,
				      void *buf)
{
	return cache_read_chunk((struct cache *)p, id, off, len, buf);
}
static inline const char *pool_strerror(struct pool *p)
{
	return cache_strerror((struct cache *)p);
}

#endif
