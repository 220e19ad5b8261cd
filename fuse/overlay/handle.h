/* handle.h - open file handles (struct fh, the kernel's fi->fh): open and create, reads from the
 * layer the handle was opened on, writes into the file's staging state (ofile.h), commit on
 * flush and fsync, release. */
#ifndef PRESSFS_OVERLAY_HANDLE_H
#define PRESSFS_OVERLAY_HANDLE_H

#include <sys/types.h>

#include "overlay/node.h"

struct fh {
	struct node *n; /* held (nref) for the handle's life */
	bool writer;
	bool append;
	bool local;		/* lower_fd is the per-node directory's file */
	bool cached;		/* uses the page cache: counted in n->cached_open */
	int lower_fd;		/* reading a lower file: its descriptor, else -1 */
	struct store_attr snap; /* reading a store file: the version opened */
	bool snap_valid;
	bool outage;		 /* opened while the store was down: the kernel's pages only */
	struct content *content; /* reading a cache file held whole (overlay/content.h) */
	bool stream;		 /* reading a cache file too large to hold: from the pool */
	int backing;		 /* > 0: the kernel reads lower_fd's file itself (passthrough) */
};

/* Open N for the handle FI describes; fills fi->fh and what the kernel should keep in FI. */
int handle_open(struct pfs *fs, struct node *n, struct fuse_file_info *fi);
/* O_CREAT of NAME under P by UID:GID: fills *E (with a lookup count) and FI. */
int handle_create(struct pfs *fs, uid_t uid, gid_t gid, struct node *p, const char *name,
		  mode_t mode, struct fuse_file_info *fi, struct fuse_entry_param *e);
/* The passthrough backing id FH's open must be answered with, or 0. */
int handle_backing(const struct fh *fh);
/* The descriptor a read of FH may be spliced from, or -1. */
int handle_splice_fd(const struct fh *fh);
ssize_t handle_read(struct pfs *fs, struct fh *fh, char *buf, size_t size, off_t off);
ssize_t handle_write(struct pfs *fs, struct fh *fh, const char *buf, size_t size, off_t off);
/* Publish what FH's file has staged (flush, fsync). */
int handle_commit(struct pfs *fs, struct fh *fh);
/* Close FH: the last writer's close commits; frees FH. */
void handle_release(struct pfs *fs, struct fh *fh);

#endif
