/* pool.h - the content of cache-class files, kept in a memcached pool (libmemcached).
 *
 * Names, attributes and chunk lists of cache files live in the Redis store like any other
 * file; only the chunks' bytes live here, under keys made of the site prefix and the chunk id,
 * so two versions of a file never share a key.  A chunk is stored as parts of at most
 * POOL_PART_SIZE bytes (below memcached's default 1 MiB item size), each carrying the chunk's
 * stored length in its flags, so a reader can tell a whole chunk from a part of one.
 * memcached may drop any part at any time: the reader's job is to notice (pool_fetch) and
 * treat the file as gone.  Every function is safe to call from any thread. */
#ifndef PRESSFS_POOL_H
#define PRESSFS_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "store/store.h"

#define POOL_PART_SIZE (512 * 1024)

struct pool;

/* URL is memcached://host:port[,host:port...]; servers are hashed consistently (ketama).
 * PREFIX starts every key ("pressfs:{site}:").  Nothing is connected yet: a pool that is
 * down at mount time only makes cache files look absent.  -EINVAL for a bad url. */
int pool_open(const char *url, const char *prefix, unsigned timeout_ms, struct pool **out);
void pool_close(struct pool *c);
/* Check a url without opening anything: 0 or -EINVAL, with the reason in WHY. */
int pool_parse_url(const char *url, char *why, size_t size);

/* Store chunk ID (LEN bytes, at most STORE_CHUNK_SIZE).  -EIO when a server refused it or
 * could not be reached (the reason: pool_strerror). */
int pool_put(struct pool *c, uint64_t id, const void *data, size_t len);

/* The whole content of file A (a->size bytes, holes as zeros) into BUF.  0 when every part
 * of every chunk is there; -ENOENT when memcached no longer has some part (evicted: the file
 * is gone); -EIO when a server could not be asked (the file only looks absent). */
int pool_fetch(struct pool *c, const struct store_attr *a, char *buf);

/* Bytes [off, off+len) of chunk ID into BUF, zero-filled past its stored length.  -ENOENT
 * when some part is missing, -EIO when a server could not be asked. */
ssize_t pool_read_chunk(struct pool *c, uint64_t id, size_t off, size_t len, void *buf);

/* The reason for this thread's last -EIO, for logs. */
const char *pool_strerror(struct pool *c);

#endif
