/* ns.c - the namespace operations of ns.h: making and removing names, hard links (refused),
 * attributes, symlink targets, statfs and the status attribute. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "local.h"
#include "passthrough.h"
#include "overlay/attr.h"
#include "overlay/classes.h"
#include "overlay/copy_up.h"
#include "overlay/dir.h"
#include "overlay/handle.h"
#include "overlay/lookup.h"
#include "overlay/ns.h"
#include "overlay/inval.h"
#include "overlay/trust.h"
#include "overlay/ofile.h"
#include "overlay/resolve.h"
#include "path.h"
#include "stats.h"

/* The mkdir or mknod of NAME under PARENT in the local directory (symlinks are never made
 * there). */
static int make_local(struct pfs *fs, uid_t uid, gid_t gid, struct node *parent, const char *name,
		      const char *path, mode_t mode, dev_t rdev, struct fuse_entry_param *e)
{
	struct node *n;
	int err = S_ISDIR(mode) ? local_mkdir(fs, path, mode & 07777, uid, gid)
				: local_mknod(fs, path, (mode & S_IFMT) | classes_file_mode(mode),
					      rdev, uid, gid);

	if (!err)
		err = overlay_lookup(fs, parent, name, strlen(name), e, &n);
	if (!err && !n)
		err = -EIO;
	return err;
}

static int make(struct pfs *fs, uid_t uid, gid_t gid, struct node *parent, const char *name,
		mode_t mode, dev_t rdev, const char *target, struct fuse_entry_param *e)
{
	enum cls_op op = S_ISDIR(mode) ? CLS_MKDIR : S_ISLNK(mode) ? CLS_SYMLINK : CLS_CREATE;
	size_t namelen = strlen(name);
	struct store_attr a = {0};
	struct cls_verdict v;
	char path[PFS_PATH_MAX];
	struct resolved r;
	uint64_t psino;
	int len, err;

	len = write_path(fs, parent, name, namelen, op, path, sizeof(path), &v);
	if (len < 0)
		return len;
	err = resolve(fs, parent, name, namelen, path, classes_node_flags(fs, path, len, NULL), &r);
	store_attr_release(&r.ua);
	if (err)
		return err;
	if (resolved_upper(&r) || r.lower || r.local)
		return -EEXIST;
	if (v.backend == CLS_LOCAL)
		return make_local(fs, uid, gid, parent, name, path, mode, rdev, e);
	err = upper_dir_make(fs, parent, &psino);
	if (!err && op == CLS_CREATE && !S_ISREG(mode))
		err = store_mknod(fs->store, psino, name, namelen,
				  (mode & S_IFMT) | classes_file_mode(mode), rdev, uid, gid,
				  v.store_cls, &a);
	else if (!err)
		err = store_create(fs->store, psino, name, namelen,
				   (mode & S_IFMT) |
				       (S_ISDIR(mode) ? mode & 07777 : classes_file_mode(mode)),
				   uid, gid, v.store_cls, target, &a);
	if (!err)
		err = lookup_made(fs, parent, name, &a, e);
	store_attr_release(&a);
	return err;
}

int ns_make(struct pfs *fs, uid_t uid, gid_t gid, struct node *parent, const char *name,
	    mode_t mode, const char *target, struct fuse_entry_param *e)
{
	return make(fs, uid, gid, parent, name, mode, 0, target, e);
}

int ns_mknod(struct pfs *fs, uid_t uid, gid_t gid, struct node *parent, const char *name,
	     mode_t mode, dev_t rdev, struct fuse_entry_param *e)
{
	if ((mode & S_IFMT) == 0)
		mode |= S_IFREG; /* mknod(2) of a plain file: an empty one, at once */
	if (!S_ISREG(mode) && !S_ISFIFO(mode) && !S_ISSOCK(mode) && !S_ISCHR(mode) &&
	    !S_ISBLK(mode))
		return -EINVAL;
	return make(fs, uid, gid, parent, name, mode, rdev, NULL, e);
}

/* Is the directory NAME under PARENT, if the table has it, empty?  0, -ENOTEMPTY or -errno. */
static int check_empty(struct pfs *fs, struct node *parent, const char *name, size_t namelen)
{
	struct node *n;
	int err = 0;

	pthread_mutex_lock(&fs->lock);
	n = node_find(fs, parent, name, namelen);
	if (n)
		n->nref++;
	pthread_mutex_unlock(&fs->lock);
	if (n) {
		err = dir_is_empty(fs, n);
		node_put(fs, n);
		if (err >= 0)
			err = err ? 0 : -ENOTEMPTY;
	}
	return err;
}

static bool pending_name(struct pfs *fs, struct node *parent, const char *name, size_t namelen)
{
	struct node *n;
	bool pending;

	pthread_mutex_lock(&fs->lock);
	n = node_find(fs, parent, name, namelen);
	pending = n && file_pending_locked(n);
	pthread_mutex_unlock(&fs->lock);
	return pending;
}

int ns_remove(struct pfs *fs, struct node *parent, const char *name, bool dir)
{
	char path[PFS_PATH_MAX];
	size_t namelen = strlen(name);
	struct cls_facts f = {0};
	struct cls_verdict v;
	struct resolved r;
	uint64_t psino;
	struct node *n;
	bool isdir;
	int len, err;

	len = write_path(fs, parent, name, namelen, CLS_REMOVE, path, sizeof(path), &v);
	if (len < 0)
		return len;
	err = resolve(fs, parent, name, namelen, path, classes_node_flags(fs, path, len, NULL), &r);
	if (err)
		goto out;
	if (r.local) {
		if (dir != S_ISDIR(r.lst.st_mode)) {
			err = dir ? -ENOTDIR : -EISDIR;
			goto out;
		}
		err = local_remove(fs, path, dir);
		goto unhash;
	}
	if (!resolved_upper(&r) && !r.lower) {
		/* A file created here and still open, not yet in the store: the name goes, the
		 * open file lives on unnamed (its commit is then skipped). */
		err = !dir && pending_name(fs, parent, name, namelen) ? 0 : -ENOENT;
		goto unhash;
	}
	f.exists = true;
	err = classes_check(fs, CLS_REMOVE, path, (size_t)len, &f, &v);
	if (err)
		goto out;
	isdir = resolved_upper(&r) ? r.utype == STORE_DIR : S_ISDIR(r.lst.st_mode);
	if (dir != isdir) {
		err = dir ? -ENOTDIR : -EISDIR;
		goto out;
	}
	if (dir) {
		err = check_empty(fs, parent, name, namelen);
		if (err)
			goto out;
	}
	err = upper_dir_make(fs, parent, &psino);
	if (err)
		goto out;
	if (dir)
		err = store_rmdir(fs->store, psino, name, namelen, r.lower);
	else
		err = store_unlink(fs->store, psino, name, namelen, r.lower);
unhash:
	if (err)
		goto out;
	trust_forget(fs, parent); /* its listing (and link count) changed: see lookup_made */
	pthread_mutex_lock(&fs->lock);
	n = node_find(fs, parent, name, namelen);
	if (n)
		node_unhash(fs, n);
	pthread_mutex_unlock(&fs->lock);
out:
	store_attr_release(&r.ua);
	return err;
}

/* The store inode a link to N names: the file's, published first if it is not in the store
 * yet (created here and open, or a lower file: its copy-up). */
static int link_source(struct pfs *fs, struct node *n, uint64_t *sino)
{
	int err = 0;

	if (file_pending(fs, n))
		err = file_commit(fs, n);
	if (!err && !node_sino(fs, n))
		err = copy_up_file(fs, n);
	*sino = node_sino(fs, n);
	return err ? err : *sino ? 0 : -EIO;
}

int ns_link(struct pfs *fs, struct node *n, struct node *newparent, const char *newname,
	    struct fuse_entry_param *e)
{
	size_t namelen = strlen(newname);
	struct store_attr a = {0};
	char from[PFS_PATH_MAX], path[PFS_PATH_MAX];
	struct cls_facts f = {.in_local = (n->flags & N_INLOCAL) != 0};
	struct cls_verdict v;
	struct resolved r;
	uint64_t sino, psino;
	int len, flen, err;

	if (S_ISDIR(n->type))
		return -EPERM;
	flen = node_path(fs, n, from, sizeof(from));
	if (flen < 0)
		return flen;
	f.from = from;
	f.fromlen = (size_t)flen;
	err = path_check_name(newname, namelen);
	if (err)
		return err;
	len = node_child_path(fs, newparent, newname, namelen, path, sizeof(path));
	if (len < 0)
		return len;
	err = classes_check(fs, CLS_LINK, path, (size_t)len, &f, &v);
	if (err)
		return err;
	err = resolve(fs, newparent, newname, namelen, path,
		      classes_node_flags(fs, path, len, NULL), &r);
	store_attr_release(&r.ua);
	if (err)
		return err;
	if (resolved_upper(&r) || r.lower || r.local)
		return -EEXIST;
	if (v.backend == CLS_LOCAL) {
		struct node *made;

		err = local_link(fs, from, path);
		if (!err)
			err = overlay_lookup(fs, newparent, newname, namelen, e, &made);
		if (!err && !made)
			err = -EIO;
		if (!err)
			inval_later(fs, node_id(fs, n));
		return err;
	}
	err = link_source(fs, n, &sino);
	if (!err)
		err = upper_dir_make(fs, newparent, &psino);
	if (!err)
		err = store_link(fs->store, sino, psino, newname, namelen, &a);
	if (err == -ENOENT && !node_sino(fs, n))
		err = -ESTALE;
	if (!err)
		err = lookup_made(fs, newparent, newname, &a, e);
	store_attr_release(&a);
	/* The kernel keeps the old name's inode apart from the new one's, with the link count it
	 * had, and this peer may keep the store's answer for it (trust.c): drop both, the kernel's
	 * from the invalidation thread. */
	if (!err) {
		trust_forget(fs, n);
		inval_later(fs, node_id(fs, n));
	}
	return err;
}

/* setattr of an entry in the per-node directory. */
static int local_setattr(struct pfs *fs, const char *path, mode_t type, const struct stat *attr,
			 int to_set)
{
	int fd = local_open(fs, path, O_RDONLY, 0), err = 0;

	if (fd < 0)
		return fd;
	if ((to_set & FUSE_SET_ATTR_SIZE)) {
		int wfd = local_open(fs, path, O_WRONLY, 0);

		if (wfd < 0 || ftruncate(wfd, attr->st_size) < 0)
			err = wfd < 0 ? wfd : -errno;
		if (wfd >= 0)
			close(wfd);
	}
	if (!err && (to_set & FUSE_SET_ATTR_MODE) &&
	    fchmod(fd, S_ISDIR(type) ? attr->st_mode & 07777 : classes_file_mode(attr->st_mode)) <
		0)
		err = -errno;
	if (!err && (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) &&
	    fchown(fd, (to_set & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1,
		   (to_set & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1) < 0)
		err = -errno;
	if (!err && (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_ATIME |
			       FUSE_SET_ATTR_ATIME_NOW))) {
		struct timespec ts[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};

		if (to_set & FUSE_SET_ATTR_ATIME_NOW)
			ts[0].tv_nsec = UTIME_NOW;
		else if (to_set & FUSE_SET_ATTR_ATIME)
			ts[0] = attr->st_atim;
		if (to_set & FUSE_SET_ATTR_MTIME_NOW)
			ts[1].tv_nsec = UTIME_NOW;
		else if (to_set & FUSE_SET_ATTR_MTIME)
			ts[1] = attr->st_mtim;
		if (futimens(fd, ts) < 0)
			err = -errno;
	}
	close(fd);
	return err;
}

int ns_getattr(struct pfs *fs, struct node *n, struct fuse_file_info *fi, struct stat *st)
{
	const struct fh *fh = fi ? (const struct fh *)(uintptr_t)fi->fh : NULL;

	if (fh && fh->local && fh->lower_fd >= 0) {
		if (fstat(fh->lower_fd, st) < 0)
			return -errno;
		return 0; /* a real file: its own link count, 0 once removed */
	}
	return attr_fresh(fs, n, st);
}

/* The store's side of a setattr: which fields, and their values. */
static unsigned store_mask(const struct node *n, const struct stat *attr, int to_set,
			   struct store_attr *in)
{
	unsigned mask = 0;

	if (to_set & FUSE_SET_ATTR_MODE) {
		mask |= STORE_SET_MODE;
		in->mode =
		    (n->type & S_IFMT) |
		    (S_ISDIR(n->type) ? attr->st_mode & 07777 : classes_file_mode(attr->st_mode));
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		mask |= STORE_SET_UID;
		in->uid = attr->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		mask |= STORE_SET_GID;
		in->gid = attr->st_gid;
	}
	if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) {
		mask |= STORE_SET_MTIME;
		in->mtime_ns =
		    (to_set & FUSE_SET_ATTR_MTIME_NOW) ? now_ns() : ts_ns(&attr->st_mtim);
	}
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW)) {
		mask |= STORE_SET_ATIME;
		in->atime_ns =
		    (to_set & FUSE_SET_ATTR_ATIME_NOW) ? now_ns() : ts_ns(&attr->st_atim);
	}
	return mask;
}

int ns_setattr(struct pfs *fs, struct node *n, const struct stat *attr, int to_set,
	       struct fuse_file_info *fi, struct stat *st)
{
	struct store_attr in = {0}, out = {0};
	struct cls_facts f = {.in_local = (n->flags & N_INLOCAL) != 0, .is_dir = S_ISDIR(n->type)};
	struct cls_verdict v;
	char path[PFS_PATH_MAX];
	unsigned mask;
	uint64_t sino;
	int len, err;

	len = node_path(fs, n, path, sizeof(path));
	err = len < 0 ? len : classes_check(fs, CLS_SETATTR, path, (size_t)len, &f, &v);
	if (err)
		return err;
	if (v.backend == CLS_LOCAL) {
		err = local_setattr(fs, path, n->type, attr, to_set);
		return err ? err : attr_fresh(fs, n, st);
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (!S_ISREG(n->type))
			return -EISDIR;
		err = file_truncate(fs, n, fi, attr->st_size);
		if (err)
			return err;
	}
	mask = store_mask(n, attr, to_set, &in);
	if (mask) {
		sino = node_sino(fs, n);
		if (!sino) {
			err = S_ISDIR(n->type) ? upper_dir_make(fs, n, &sino) : copy_up_file(fs, n);
			if (err)
				return err;
			sino = node_sino(fs, n);
		}
		err = store_setattr(fs->store, sino, mask, &in, &out);
		store_attr_release(&out);
		if (err)
			return err;
	}
	trust_forget(fs, n); /* what was kept is from before this change */
	return attr_fresh(fs, n, st);
}

/* Zero [off, end) of OF, the part below its size (PUNCH_HOLE): written as zeros, so that the
 * commit publishes them; a whole chunk of zeros costs a staging write, not a store one. */
static int punch(struct pfs *fs, struct ofile *of, uint64_t off, uint64_t end)
{
	static const char zeros[65536];
	ssize_t k;

	if (end > of->size)
		end = of->size;
	while (off < end) {
		size_t n = end - off < sizeof(zeros) ? (size_t)(end - off) : sizeof(zeros);

		k = of_write(fs, of, zeros, n, off);
		if (k < 0)
			return (int)k;
		off += (uint64_t)k;
	}
	return 0;
}

int ns_fallocate(struct pfs *fs, struct fh *fh, int mode, off_t off, off_t len)
{
	struct ofile *of = fh->n->of;
	uint64_t end;
	int err = 0;

	if (off < 0 || len <= 0)
		return -EINVAL;
	if (off > INT64_MAX - len)
		return -EFBIG;
	end = (uint64_t)off + (uint64_t)len;
	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE))
		return -EOPNOTSUPP;
	if ((mode & FALLOC_FL_PUNCH_HOLE) && !(mode & FALLOC_FL_KEEP_SIZE))
		return -EOPNOTSUPP;
	if (fh->local)
		return fallocate(fh->lower_fd, mode, off, len) < 0 ? -errno : 0;
	if (!fh->writer || !of)
		return -EBADF;
	if (end > STORE_SIZE_MAX && !(mode & FALLOC_FL_KEEP_SIZE))
		return -EFBIG;
	pthread_mutex_lock(&of->lock);
	if (mode & FALLOC_FL_PUNCH_HOLE) {
		err = punch(fs, of, (uint64_t)off, end);
	} else {
		if (!(mode & FALLOC_FL_KEEP_SIZE) && end > of->size)
			err = of_resize(fs, of, end); /* (makes the staging file) */
		/* The space, reserved where the data waits for its commit: ENOSPC now, not at
		 * the close.  A staging file not made yet has nothing to reserve for. */
		if (!err && of->fd >= 0 && fallocate(of->fd, FALLOC_FL_KEEP_SIZE, off, len) < 0 &&
		    errno != EOPNOTSUPP)
			err = -errno;
	}
	pthread_mutex_unlock(&of->lock);
	return err;
}

int ns_readlink(struct pfs *fs, struct node *n, char *buf, size_t size)
{
	struct store_attr a = {0};
	char path[PFS_PATH_MAX];
	uint64_t sino;
	ssize_t k;
	int err;

	err = node_path(fs, n, path, sizeof(path));
	if (err < 0)
		return err;
	sino = node_sino(fs, n);
	if (sino) {
		err = store_getattr(fs->store, sino, &a);
		if (!err && !a.target)
			err = -EINVAL;
		if (!err && strlen(a.target) >= size)
			err = -ENAMETOOLONG;
		if (!err)
			strcpy(buf, a.target);
		store_attr_release(&a);
		return err;
	}
	k = readlinkat(fs->lower_fd, tree_rel(path), buf, size - 1);
	if (k < 0)
		return -errno;
	buf[k] = '\0';
	return 0;
}

int ns_statfs(struct pfs *fs, struct statvfs *sv)
{
	/* The staging area is where every write passes first: its free space is what a write
	 * can count on.  Names are limited as on Linux. */
	if (fstatvfs(fs->staging_fd, sv) < 0)
		return -errno;
	sv->f_namemax = PATH_NAME_MAX;
	return 0;
}

int ns_status(struct pfs *fs, char *buf, size_t size)
{
	char why[160];
	bool down = store_down(fs->store, why, sizeof(why));

	return stats_json(buf, size, fs->set->site, fs->set->store_url, !down, why,
			  passthrough_on());
}
