/* listing.h - a merged directory listing as dir.c builds and serves it, shared by the streams
 * reading it and kept on the node (node->listing) for those that continue; and the order of
 * store entries by name that listings and renames sort and search them in. */
#ifndef PRESSFS_OVERLAY_LISTING_H
#define PRESSFS_OVERLAY_LISTING_H

#include <stddef.h>
#include <sys/types.h>

struct dent {
	char *name;
	size_t namelen;
	ino_t ino;
	mode_t type;
	off_t pos; /* where a stream stands once it has read this entry (dir.c) */
};

/* Freed with its last reference; refs are counted under fs->lock. */
struct dirlist {
	struct dent *e;
	size_t n, cap;
	unsigned refs;
};

/* Append a copy of NAME; 0 or -ENOMEM. */
int listing_add(struct dirlist *l, const char *name, size_t namelen, ino_t ino, mode_t type);
void listing_free(struct dirlist *l);
/* Drop the reference *LP holds and clear it; the caller holds fs->lock. */
void listing_drop(struct dirlist **lp);

/* qsort/bsearch order of struct store_dirent by name (bytes, then length). */
int dirent_cmp(const void *a, const void *b);

#endif
