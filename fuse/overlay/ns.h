/* ns.h - the operations on names and attributes: mkdir, symlink, unlink, rmdir, link, setattr,
 * readlink, statfs and the status attribute.  Each returns 0 or -errno; ops.c replies. */
#ifndef PRESSFS_OVERLAY_NS_H
#define PRESSFS_OVERLAY_NS_H

#include <sys/statvfs.h>

#include "overlay/node.h"

/* Make a directory (TARGET NULL) or a symlink to TARGET as NAME under PARENT for UID:GID;
 * fills *E, with a lookup count. */
int ns_make(struct pfs *fs, uid_t uid, gid_t gid, struct node *parent, const char *name,
	    mode_t mode, const char *target, struct fuse_entry_param *e);
/* mknod(2) of a FIFO, socket or device node: a store inode with its type and RDEV and no
 * data in the store classes (harmless: the mount is nodev), a real node in the local one. */
int ns_mknod(struct pfs *fs, uid_t uid, gid_t gid, struct node *parent, const char *name,
	     mode_t mode, dev_t rdev, struct fuse_entry_param *e);
/* Remove NAME (when DIR is set a directory) from PARENT: a lower entry is hidden behind a
 * whiteout. */
int ns_remove(struct pfs *fs, struct node *parent, const char *name, bool dir);
/* link(2): NEWNAME under NEWPARENT becomes one more name of N's store inode (the shared
 * class only; -EXDEV from or to another class); fills *E. */
int ns_link(struct pfs *fs, struct node *n, struct node *newparent, const char *newname,
	    struct fuse_entry_param *e);
/* getattr of N (FI: through a handle, which still reaches a local file removed meanwhile). */
int ns_getattr(struct pfs *fs, struct node *n, struct fuse_file_info *fi, struct stat *st);
/* setattr(2) of N (FI: through a handle); fills *ST with the attributes after it. */
int ns_setattr(struct pfs *fs, struct node *n, const struct stat *attr, int to_set,
	       struct fuse_file_info *fi, struct stat *st);
struct fh;
/* fallocate(2) through the write handle FH: mode 0 and FALLOC_FL_KEEP_SIZE reserve the space in
 * the staging file (mode 0 also extends the size, which the commit carries); PUNCH_HOLE zeroes
 * the range; other modes are -EOPNOTSUPP. */
int ns_fallocate(struct pfs *fs, struct fh *fh, int mode, off_t off, off_t len);
/* N's symlink target into BUF (SIZE bytes, NUL-terminated). */
int ns_readlink(struct pfs *fs, struct node *n, char *buf, size_t size);
int ns_statfs(struct pfs *fs, struct statvfs *sv);
/* The root's status attribute (STATUS_XATTR) into BUF: its length, or -errno. */
int ns_status(struct pfs *fs, char *buf, size_t size);

#endif
