/* ops.c - the FUSE operations table and its handlers: each counts the request, finds its nodes,
 * calls the overlay, and replies exactly once. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "passthrough.h"
#include "overlay/attr.h"
#include "overlay/dir.h"
#include "overlay/handle.h"
#include "overlay/lookup.h"
#include "overlay/ns.h"
#include "overlay/ops.h"
#include "overlay/rename.h"
#include "stats.h"

static void reply_entry(fuse_req_t req, int err, const struct fuse_entry_param *e)
{
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_entry(req, e);
}

static void pfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct pfs *fs = fuse_req_userdata(req);
	struct fuse_entry_param e;
	struct node *n;

	stats_count(OP_LOOKUP);
	reply_entry(req, overlay_lookup(fs, node_get(fs, parent), name, strlen(name), &e, &n), &e);
}

static void pfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct pfs *fs = fuse_req_userdata(req);

	stats_count(OP_FORGET);
	node_forget(fs, node_get(fs, ino), nlookup);
	fuse_reply_none(req);
}

static void pfs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct pfs *fs = fuse_req_userdata(req);

	stats_count(OP_FORGET);
	for (size_t i = 0; i < count; i++)
		node_forget(fs, node_get(fs, forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

static void pfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pfs *fs = fuse_req_userdata(req);
	struct node *n = node_get(fs, ino);
	struct stat st;
	int err;
	(void)fi;

	stats_count(OP_GETATTR);
	err = attr_fresh(fs, n, &st);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_attr(req, &st, attr_timeout_for(n));
}

static void pfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			struct fuse_file_info *fi)
{
	struct pfs *fs = fuse_req_userdata(req);
	struct node *n = node_get(fs, ino);
	struct stat st;
	int err;

	stats_count(OP_SETATTR);
	err = ns_setattr(fs, n, attr, to_set, fi, &st);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_attr(req, &st, attr_timeout_for(n));
}

static void pfs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct pfs *fs = fuse_req_userdata(req);
	char target[PATH_MAX];
	int err;

	stats_count(OP_READLINK);
	err = ns_readlink(fs, node_get(fs, ino), target, sizeof(target));
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_readlink(req, target);
}

static void pfs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct pfs *fs = fuse_req_userdata(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fuse_entry_param e;

	stats_count(OP_SYMLINK);
	reply_entry(
	    req,
	    ns_make(fs, ctx->uid, ctx->gid, node_get(fs, parent), name, S_IFLNK | 0777, link, &e),
	    &e);
}

static void pfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct pfs *fs = fuse_req_userdata(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fuse_entry_param e;

	stats_count(OP_MKDIR);
	reply_entry(req,
		    ns_make(fs, ctx->uid, ctx->gid, node_get(fs, parent), name,
			    S_IFDIR | (mode & 07777), NULL, &e),
		    &e);
}

static void pfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct pfs *fs = fuse_req_userdata(req);

	stats_count(OP_UNLINK);
	fuse_reply_err(req, -ns_remove(fs, node_get(fs, parent), name, false));
}

static void pfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct pfs *fs = fuse_req_userdata(req);

	stats_count(OP_RMDIR);
	fuse_reply_err(req, -ns_remove(fs, node_get(fs, parent), name, true));
}

static void pfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct pfs *fs = fuse_req_userdata(req);

	stats_count(OP_LINK);
	fuse_reply_err(req, -ns_link(fs, node_get(fs, ino), node_get(fs, newparent), newname));
}

static void pfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		       const char *newname, unsigned int flags)
{
	struct pfs *fs = fuse_req_userdata(req);

	stats_count(OP_RENAME);
	fuse_reply_err(req, -overlay_rename(fs, node_get(fs, parent), name, node_get(fs, newparent),
					    newname, flags));
}

static void pfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct pfs *fs = fuse_req_userdata(req);
	struct statvfs sv;
	int err;
	(void)ino;

	stats_count(OP_STATFS);
	err = ns_statfs(fs, &sv);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_statfs(req, &sv);
}

static void pfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct pfs *fs = fuse_req_userdata(req);
	char buf[8192];
	int len;

	stats_count(OP_GETXATTR);
	if (ino != FUSE_ROOT_ID || strcmp(name, STATUS_XATTR)) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	len = ns_status(fs, buf, sizeof(buf));
	if (len < 0)
		fuse_reply_err(req, -len);
	else if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < (size_t)len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, buf, len);
}

static void pfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	(void)ino;
	stats_count(OP_LISTXATTR);
	if (size == 0)
		fuse_reply_xattr(req, 0);
	else
		fuse_reply_buf(req, NULL, 0);
}

static void pfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			 size_t size, int flags)
{
	(void)ino;
	(void)name;
	(void)value;
	(void)size;
	(void)flags;
	stats_count(OP_OTHER);
	fuse_reply_err(req, ENOTSUP);
}

static void pfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)ino;
	(void)name;
	stats_count(OP_OTHER);
	fuse_reply_err(req, ENOTSUP);
}

static void pfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pfs *fs = fuse_req_userdata(req);
	int err;

	stats_count(OP_OPEN);
	err = handle_open(fs, node_get(fs, ino), fi);
	if (err) {
		fuse_reply_err(req, -err);
	} else if (handle_backing((struct fh *)fi->fh) > 0) {
		stats_event(EV_PASSTHROUGH_OPEN);
		passthrough_reply_open(req, fi, handle_backing((struct fh *)fi->fh));
	} else {
		fuse_reply_open(req, fi);
	}
}

static void pfs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		       struct fuse_file_info *fi)
{
	struct pfs *fs = fuse_req_userdata(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fuse_entry_param e;
	int err;

	stats_count(OP_CREATE);
	err = handle_create(fs, ctx->uid, ctx->gid, node_get(fs, parent), name, mode, fi, &e);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_create(req, &e, fi);
}

static void pfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct pfs *fs = fuse_req_userdata(req);
	struct fh *fh = (struct fh *)(uintptr_t)fi->fh;
	int fd = handle_splice_fd(fh);
	ssize_t got;
	char *buf;
	(void)ino;

	stats_count(OP_READ);
	if (fd >= 0) {
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);
		uint64_t left = 0;
		struct stat st;

		/* counted before the reply, which may let the handle go */
		if (fstat(fd, &st) == 0 && off < st.st_size)
			left = (uint64_t)(st.st_size - off);
		stats_read(fh->local ? STAT_LOCAL : STAT_LOWER, left < size ? left : size);

		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv.buf[0].fd = fd;
		bv.buf[0].pos = off;
		fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
		return;
	}
	buf = malloc(size ? size : 1);
	got = buf ? handle_read(fs, fh, buf, size, off) : -ENOMEM;
	if (got < 0)
		fuse_reply_err(req, (int)-got);
	else
		fuse_reply_buf(req, buf, (size_t)got);
	free(buf);
}

static void pfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	struct pfs *fs = fuse_req_userdata(req);
	ssize_t done;
	(void)ino;

	stats_count(OP_WRITE);
	done = handle_write(fs, (struct fh *)(uintptr_t)fi->fh, buf, size, off);
	if (done < 0)
		fuse_reply_err(req, (int)-done);
	else
		fuse_reply_write(req, (size_t)done);
}

static void pfs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pfs *fs = fuse_req_userdata(req);
	(void)ino;

	stats_count(OP_FLUSH);
	fuse_reply_err(req, -handle_commit(fs, (struct fh *)(uintptr_t)fi->fh));
}

static void pfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct pfs *fs = fuse_req_userdata(req);
	(void)ino;
	(void)datasync;

	stats_count(OP_FSYNC);
	fuse_reply_err(req, -handle_commit(fs, (struct fh *)(uintptr_t)fi->fh));
}

static void pfs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pfs *fs = fuse_req_userdata(req);
	(void)ino;

	stats_count(OP_RELEASE);
	handle_release(fs, (struct fh *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* Directory streams need no handle (dir.c): the first OPENDIR says ENOSYS, and the kernel stops
 * asking; RELEASEDIR is then never sent. */
static void pfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	stats_count(OP_OPENDIR);
	fuse_reply_err(req, ENOSYS);
}

static void pfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	struct pfs *fs = fuse_req_userdata(req);
	char *buf = malloc(size ? size : 1);
	size_t used = 0;
	int err;
	(void)fi;

	stats_count(OP_READDIR);
	err = buf ? dir_fill(fs, req, node_get(fs, ino), buf, size, off, &used) : -ENOMEM;
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

static void pfs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	stats_count(OP_RELEASEDIR);
	fuse_reply_err(req, 0);
}

const struct fuse_lowlevel_ops pfs_ops = {
    .lookup = pfs_lookup,
    .forget = pfs_forget,
    .forget_multi = pfs_forget_multi,
    .getattr = pfs_getattr,
    .setattr = pfs_setattr,
    .readlink = pfs_readlink,
    .symlink = pfs_symlink,
    .mkdir = pfs_mkdir,
    .unlink = pfs_unlink,
    .rmdir = pfs_rmdir,
    .link = pfs_link,
    .rename = pfs_rename,
    .statfs = pfs_statfs,
    .getxattr = pfs_getxattr,
    .listxattr = pfs_listxattr,
    .setxattr = pfs_setxattr,
    .removexattr = pfs_removexattr,
    .open = pfs_open,
    .create = pfs_create,
    .read = pfs_read,
    .write = pfs_write,
    .flush = pfs_flush,
    .fsync = pfs_fsync,
    .release = pfs_release,
    .opendir = pfs_opendir,
    .readdir = pfs_readdir,
    .releasedir = pfs_releasedir,
};
