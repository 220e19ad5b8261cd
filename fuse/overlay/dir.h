/* dir.h - merged directory listings and the streams that read them. */
#ifndef PRESSFS_OVERLAY_DIR_H
#define PRESSFS_OVERLAY_DIR_H

#include "overlay/node.h"

/* Is the merged directory N empty?  1 yes, 0 no, or -errno. */
int dir_is_empty(struct pfs *fs, struct node *n);
/* The link count of the merged directory N: 2 plus its subdirectories in the merged listing
 * (an upper subdirectory hiding a lower one counted once), or -errno.  From its store inode's
 * count (no command), plus, merged with the lower tree, the lower subdirectories the store does
 * not hide (one pipelined round trip); with a local part, or no count kept, from a listing.
 * attr.c keeps the count until the directory's version moves. */
int dir_nlink(struct pfs *fs, struct node *n);
/* READDIR of N from offset OFF: entries into BUF (SIZE bytes) as fuse_add_direntry lays them out
 * for REQ, *FILLED bytes of it; 0 or -errno. */
int dir_fill(struct pfs *fs, fuse_req_t req, struct node *n, char *buf, size_t size, off_t off,
	     size_t *filled);

#endif
