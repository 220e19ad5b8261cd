/* fsck_redis.h - what fsck and info need and the store's API does not give: every key of a
 * site, TTLs, memory, and the few raw repairs, sent on the store's own connection to the site's
 * primary with the key names store/keys.h builds (docs/FORMAT.md). */
#ifndef PRESSFS_ADMIN_FSCK_REDIS_H
#define PRESSFS_ADMIN_FSCK_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct raw;

struct store;

/* Raw access to SITE through the calling thread's connection of S (any URL the store takes:
 * its primary, its credentials, its database).  0 or -errno. */
int raw_open(struct store *s, const char *site, struct raw **out);
void raw_close(struct raw *r);

/* Every key of the site: KIND is 'i', 'c' or 'd' with its number, or 0 for the others. */
typedef int (*raw_key_fn)(void *arg, char kind, uint64_t id);
int raw_scan(struct raw *r, raw_key_fn fn, void *arg);

/* PTTL of key KIND:ID in ms: -1 no expiry, -2 no such key, or -errno. */
long long raw_pttl(struct raw *r, char kind, uint64_t id);
/* 1 when inode ID has the field `unlinked`, 0 when not, -errno. */
int raw_inode_unlinked(struct raw *r, uint64_t id);

/* For `pressfs info`: the server's INFO memory fields (bytes; policy into POLICY), and how many
 * connections listen on the site's invalidation channel (one per mounted peer). */
int raw_memory(struct raw *r, long long *used, long long *max, char *policy, size_t psize);
long long raw_listeners(struct raw *r);

/* Repairs. */
int raw_expire(struct raw *r, char kind, uint64_t id, unsigned ms);  /* PEXPIRE */
int raw_unlink_inode(struct raw *r, uint64_t id, unsigned grace_ms); /* unlinked + expire */
int raw_drop_entry(struct raw *r, uint64_t dir, const char *name, size_t len); /* HDEL + E msg */
/* Set inode ID's `nlink` to NLINK (1: the field deleted), with its ctime and ver and an I
 * message, in one script, only while its `ver` is still VERSION and it is not unlinked: 1 when
 * set, 0 when the inode had moved on. */
int raw_set_nlink(struct raw *r, uint64_t id, uint64_t version, uint32_t nlink);
/* A directory's kept link count (`nlink`, 2 + the directories among its entries) against its
 * entries, counted in the same script: 1 when they differ (*STORED the count kept, *COUNTED
 * the right one; with FIX set to the right one, with ver and an I message), 0 when they agree
 * or there is nothing to compare (not a directory, unlinked, no count kept), or -errno. */
int raw_dir_nlink(struct raw *r, uint64_t id, bool fix, uint32_t *stored, uint32_t *counted);

#endif
