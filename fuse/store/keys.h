/* keys.h - one builder per key of docs/FORMAT.md (the table is store/keys.def); no other
 * code formats a key.  Each writes a NUL-terminated key into BUF (KEY_MAX bytes) and returns
 * its length. */
#ifndef PRESSFS_STORE_KEYS_H
#define PRESSFS_STORE_KEYS_H

#include <stddef.h>
#include <stdint.h>

/* The longest key: the prefix "pressfs:{SITE}:" (9 + 64 + 2 bytes), "m:", a 20-digit id, ':'
 * and a 10-digit part: 118 bytes and the NUL. */
#define KEY_MAX	     128
#define KEY_SITE_MAX 64

/* "pressfs:{SITE}:" for a valid SITE (1-64 of [A-Za-z0-9._-]); -EINVAL otherwise. */
int key_prefix(char buf[KEY_MAX], const char *site);
size_t key_format(char buf[KEY_MAX], const char *prefix);
size_t key_next(char buf[KEY_MAX], const char *prefix);
size_t key_dir(char buf[KEY_MAX], const char *prefix, uint64_t ino);
size_t key_inode(char buf[KEY_MAX], const char *prefix, uint64_t ino);
size_t key_chunk(char buf[KEY_MAX], const char *prefix, uint64_t id);
/* The site's pub/sub channel (not a key, named like one). */
size_t key_inval(char buf[KEY_MAX], const char *prefix);
/* The site's invalidation sequence: the number of the last message published. */
size_t key_seq(char buf[KEY_MAX], const char *prefix);
/* Part PART of chunk ID of a cache-class file, in the memcached pool. */
size_t key_pool(char buf[KEY_MAX], const char *prefix, uint64_t id, unsigned part);
/* The registry of the peers that have the site mounted (a hash: peer id -> record). */
size_t key_peers(char buf[KEY_MAX], const char *prefix);

#endif
