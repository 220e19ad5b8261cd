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
/* The kernel is about to be told to keep the negative entry NAME of directory node PARENT
 * for long (overlay/lookup.c): recorded, so that a resync of the stream drops it (a name
 * another peer makes is dropped by that peer's message, recorded or not).  False when it
 * cannot be recorded: the kernel must then not keep it.  Caller holds fs->lock. */
bool inval_negative_keep_locked(struct pfs *fs, fuse_ino_t parent, const char *name,
				size_t namelen);

#endif
