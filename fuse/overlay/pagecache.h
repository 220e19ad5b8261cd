/* pagecache.h - when the kernel may keep a file's pages (FOPEN_KEEP_CACHE) and when a handle
 * must read around them (direct_io): the bookkeeping in struct node under fs->lock. */
#ifndef PRESSFS_OVERLAY_PAGECACHE_H
#define PRESSFS_OVERLAY_PAGECACHE_H

#include "overlay/node.h"

/* May a handle opened on version V of N use the page cache?  Sets FI's keep_cache/direct_io;
 * true when it does (the caller gives it back with pagecache_release). */
bool pagecache_decide(struct pfs *fs, struct node *n, const struct store_attr *a,
		      struct fuse_file_info *fi);
/* The store cannot be reached as N is opened for reading: true (and FI keeps the cache) when
 * the kernel holds every page of the version it was last told of. */
bool pagecache_outage(struct pfs *fs, struct node *n, struct fuse_file_info *fi);
/* A handle that uses the page cache answers a read of VERSION: when the cache is another
 * version's now, the pages this answer fills are dropped after it (by the invalidation
 * thread, never from the request).  True when they will be. */
bool pagecache_read(struct pfs *fs, struct node *n, uint64_t version);
/* A handle that used the page cache is closed. */
void pagecache_release(struct pfs *fs, struct node *n);

#endif
