/* inval.h - the thread that forwards other peers' changes (the store's pub/sub channel) to the
 * kernel's caches. */
#ifndef PRESSFS_OVERLAY_INVAL_H
#define PRESSFS_OVERLAY_INVAL_H

#include "pressfs.h"

int inval_start(struct pfs *fs);
void inval_stop(struct pfs *fs);
/* Drop the kernel's pages of node INO soon, from the invalidation thread's helper (a request
 * handler must never call the kernel's notify itself: the kernel may be waiting on it). */
void inval_later(struct pfs *fs, fuse_ino_t ino);
/* The same for the kernel's entry NAME of directory node PARENT. */
void inval_entry_later(struct pfs *fs, fuse_ino_t parent, const char *name, size_t namelen);

#endif
