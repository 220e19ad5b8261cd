/* namei.c - looking names up through the layers, attributes, and the operations on names
 * (symlink, unlink, link, readlink) plus statfs and the status attribute. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "path.h"
#include "pressfs.h"
#include "stats.h"

#define UPPER_INO_BIT (1ull << 62) /* st_ino of upper-only entries, apart from lower's */

static const char *lower_rel(const char *path)
{
	return path[1] ? path + 1 : ".";
}

int lower_stat(struct pfs *fs, const char *path, struct stat *st)
{
	if (fstatat(fs->lower_fd, lower_rel(path), st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

int policy_check_write(struct pfs *fs, const char *path, size_t len)
{
	const struct policy_rule *r = policy_match(fs->policy, path, len);

	if (r && r->cls == POLICY_LOCAL && fs->local_fd < 0) {
		/* Without a per-node directory such a write has nowhere to go: never let it
		 * reach the shared store instead. */
		if (!fs->local_said) {
			fs->local_said = true;
			log_msg(LOG_LVL_WARN,
				"writes to local-class paths (first: %s, rule line %u) "
				"are refused: the mount has no local=DIR",
				path, r->line);
		}
		return -EROFS;
	}
	if (r && r->cls == POLICY_CACHE && !fs->pool && !fs->cache_as_shared_said) {
		fs->cache_as_shared_said = true;
		log_msg(LOG_LVL_INFO,
			"cache-class paths are stored as shared: no cache= pool "
			"given (first: %s)",
			path);
	}
	if (r && policy_class_writable(r->cls))
		return 0;
	log_msg(LOG_LVL_DEBUG, "refused write to %s (%s)", path,
		r ? "denied by the policy" : "no rule makes it writable");
	return -EROFS;
}

int write_path(struct pfs *fs, struct node *parent, const char *name, size_t namelen, char *path,
	       size_t size)
{
	int len, err = path_check_name(name, namelen);

	if (err)
		return err;
	len = node_child_path(fs, parent, name, namelen, path, size);
	if (len < 0)
		return len;
	err = policy_check_write(fs, path, len);
	return err ? err : len;
}

static mode_t strip_write(mode_t mode, unsigned flags)
{
	if (flags & N_WRITABLE)
		return mode;
	if (S_ISDIR(mode) && !(flags & N_STATIC_BELOW))
		return mode; /* something below may be written: keep the directory's bits */
	return mode & ~(mode_t)0222;
}

void attr_from_lower(struct pfs *fs, const struct stat *lst, unsigned flags, struct stat *st)
{
	(void)fs;
	*st = *lst;
	if (!S_ISLNK(st->st_mode))
		st->st_mode = strip_write(st->st_mode, flags);
}

void attr_from_store(struct pfs *fs, const struct store_attr *a, unsigned flags, struct stat *st)
{
	(void)fs;
	memset(st, 0, sizeof(*st));
	st->st_ino = a->ino | UPPER_INO_BIT;
	st->st_mode = S_ISLNK(a->mode) ? a->mode : strip_write(a->mode, flags);
	st->st_nlink = S_ISDIR(a->mode) ? 2 : 1;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_size = (off_t)a->size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((a->size + 511) / 512);
	st->st_mtim.tv_sec = a->mtime_ns / 1000000000;
	st->st_mtim.tv_nsec = a->mtime_ns % 1000000000;
	st->st_atim = st->st_mtim;
	st->st_ctim.tv_sec = a->ctime_ns / 1000000000;
	st->st_ctim.tv_nsec = a->ctime_ns % 1000000000;
}

double attr_timeout_for(const struct node *n)
{
	if (n->flags & N_STATIC)
		return TIMEOUT_FOREVER;
	/* A file may change on another node: its size must be asked for, so that an open after
	 * a close elsewhere never reads a stale length.  Names and directories are covered by
	 * the pub/sub invalidation and a short lifetime. */
	return S_ISREG(n->type) ? 0.0 : TIMEOUT_DIR_ATTR;
}

double entry_timeout_for(unsigned flags)
{
	return (flags & N_STATIC) ? TIMEOUT_FOREVER : TIMEOUT_ENTRY;
}

int upper_dir(struct pfs *fs, struct node *n, uint64_t *sino)
{
	char path[PATH_MAX];
	uint64_t found = 0;
	int len, err;

	if (n == fs->root) {
		*sino = STORE_ROOT_INO;
		return 0;
	}
	if (n->sino || (n->flags & N_STATIC_BELOW)) {
		*sino = n->sino;
		return 0;
	}
	len = node_path(fs, n, path, sizeof(path));
	if (len < 0)
		return len;
	err = store_resolve_dir(fs->store, path, len, &found);
	if (err)
		return err;
	pthread_mutex_lock(&fs->lock);
	node_set_sino(fs, n, found);
	pthread_mutex_unlock(&fs->lock);
	*sino = found;
	return 0;
}

int upper_dir_make(struct pfs *fs, struct node *n, uint64_t *sino)
{
	char path[PATH_MAX];
	struct node *parent;
	uint64_t psino, made;
	struct stat lst;
	int err, len;

	err = upper_dir(fs, n, sino);
	if (err || *sino)
		return err;
	pthread_mutex_lock(&fs->lock);
	parent = n->parent;
	parent->nref++;
	pthread_mutex_unlock(&fs->lock);
	err = upper_dir_make(fs, parent, &psino);
	if (err)
		goto out;
	len = node_path(fs, n, path, sizeof(path));
	if (len < 0) {
		err = len;
		goto out;
	}
	err = lower_stat(fs, path, &lst);
	if (err)
		goto out;
	err = store_copyup_dir(
	    fs->store, psino, n->name, n->namelen, lst.st_mode, lst.st_uid, lst.st_gid,
	    (int64_t)lst.st_mtim.tv_sec * 1000000000 + lst.st_mtim.tv_nsec, &made);
	if (err == -ESTALE) {
		pthread_mutex_lock(&fs->lock);
		node_set_sino(fs, parent, 0);
		pthread_mutex_unlock(&fs->lock);
	}
	if (err)
		goto out;
	pthread_mutex_lock(&fs->lock);
	node_set_sino(fs, n, made);
	pthread_mutex_unlock(&fs->lock);
	*sino = made;
out:
	node_put(fs, parent);
	return err;
}

/* What the layers hold at NAME under PARENT, without touching the node table. */
struct resolved {
	bool local;	      /* the per-node directory has it (lst is its stat) */
	int utype;	      /* store entry type, or -ENOENT */
	struct store_attr ua; /* when utype is a real entry */
	bool lower;	      /* the lower tree has it (and it is not hidden) */
	struct stat lst;
	uint64_t psino; /* the parent's upper directory, 0 if none */
};

static int resolve(struct pfs *fs, struct node *parent, const char *name, size_t namelen,
		   const char *path, unsigned pf, struct resolved *r)
{
	int err;

	memset(r, 0, sizeof(*r));
	r->utype = -ENOENT;
	if (pf & N_LOCAL) {
		/* This node's own: its directory, else what the lower tree has. */
		if (local_stat(fs, path, &r->lst) == 0) {
			r->local = true;
			return 0;
		}
	} else if (!(pf & N_STATIC)) {
		for (int tries = 0; tries < 2; tries++) {
			err = upper_dir(fs, parent, &r->psino);
			if (err)
				return err;
			if (!r->psino)
				break;
			r->utype = store_lookup(fs->store, r->psino, name, namelen, &r->ua);
			if (r->utype != -ESTALE)
				break;
			pthread_mutex_lock(&fs->lock);
			node_set_sino(fs, parent, 0);
			pthread_mutex_unlock(&fs->lock);
			r->utype = -ENOENT;
		}
		if (r->utype < 0 && r->utype != -ENOENT)
			return r->utype;
	}
	if (r->utype == STORE_WHITEOUT)
		return 0;
	/* lower: the lower tree has something here that no whiteout hides.  Under an upper
	 * entry it is not seen, but removing that entry must then leave a whiteout. */
	if ((parent->flags & N_LOWER) && !(parent->flags & N_OPAQUE) &&
	    lower_stat(fs, path, &r->lst) == 0)
		r->lower = true;
	return 0;
}

/* Is the directory the name now holds (R) another than node N?  A directory moved away and made
 * again (a purge by rename) must be a new inode to the kernel: the names it keeps below the old
 * one belong to the tree that moved.  A lower directory gaining its upper copy stays itself. */
static bool other_dir(const struct node *n, const struct resolved *r)
{
	if (!S_ISDIR(n->type) || r->utype != STORE_DIR)
		return false;
	if (n->sino)
		return n->sino != r->ua.ino;
	return r->ua.opaque && !(n->flags & N_OPAQUE);
}

/* Outages.  While the store cannot be reached, reads go on with what this node last knew: an
 * upper entry it has seen answers with the attributes the store gave then (node_recall), a name
 * with no upper entry then, or never asked about, with what the lower tree has; the kernel keeps
 * serving the pages it holds (file.c).  Nothing is kept longer because of it (the lifetimes
 * stay those of writable paths), writes still fail with EIO, and the first request after Redis
 * is back sees the truth again.  Only what nothing is known of fails, with EIO. */
static int resolve_known(struct pfs *fs, struct node *parent, const char *name, size_t namelen,
			 const char *path, struct resolved *r)
{
	struct node *n;
	bool upper, had_upper;

	memset(r, 0, sizeof(*r));
	r->utype = -ENOENT;
	pthread_mutex_lock(&fs->lock);
	n = node_find(fs, parent, name, namelen);
	had_upper = n && n->sino;
	upper = had_upper && node_recall(n, &r->ua);
	if (upper) {
		r->utype = r->ua.type;
		r->lower = (n->flags & N_LOWER) != 0;
	}
	pthread_mutex_unlock(&fs->lock);
	if (!upper) {
		if (had_upper || !(parent->flags & N_LOWER) || (parent->flags & N_OPAQUE) ||
		    lower_stat(fs, path, &r->lst) != 0)
			return -EIO;
		r->lower = true;
	} else if (r->lower) {
		lower_stat(fs, path, &r->lst); /* a merged directory keeps the lower inode number */
	}
	stats_event(EV_OUTAGE_READ);
	return 0;
}

int overlay_lookup(struct pfs *fs, struct node *parent, const char *name, size_t namelen,
		   struct fuse_entry_param *e, struct node **out)
{
	char path[PATH_MAX];
	struct resolved r;
	struct node *n;
	unsigned pf;
	int len, err;
	mode_t type;

	*out = NULL;
	memset(e, 0, sizeof(*e));
	err = path_check_name(name, namelen);
	if (err)
		return err;
	len = node_child_path(fs, parent, name, namelen, path, sizeof(path));
	if (len < 0)
		return len;
	pf = node_policy_flags(fs, path, len, NULL);
	pthread_mutex_lock(&fs->lock);
	n = node_find(fs, parent, name, namelen);
	if (n && file_pending(n)) {
		n = node_child(fs, parent, name, namelen);
		pthread_mutex_unlock(&fs->lock);
		file_attr(n, &e->attr);
		goto reply;
	}
	pthread_mutex_unlock(&fs->lock);
	err = resolve(fs, parent, name, namelen, path, pf, &r);
	if (err == -EIO)
		err = resolve_known(fs, parent, name, namelen, path, &r);
	if (err)
		return err;
	if (!r.local && (r.utype < 0 || r.utype == STORE_WHITEOUT)) {
		if (!r.lower) {
			/* Negative: forever where nothing can appear, else not cached at all. */
			e->ino = 0;
			e->entry_timeout = (pf & N_STATIC) ? TIMEOUT_FOREVER : 0;
			return 0;
		}
	}
	type = r.utype > 0 && r.utype != STORE_WHITEOUT ? (r.ua.mode & S_IFMT)
							: (r.lst.st_mode & S_IFMT);

	pthread_mutex_lock(&fs->lock);
	n = node_find(fs, parent, name, namelen);
	if (n && (n->type != type || other_dir(n, &r)))
		node_unhash(fs, n); /* replaced by another entry: a new inode */
	n = node_child(fs, parent, name, namelen);
	if (!n) {
		pthread_mutex_unlock(&fs->lock);
		store_attr_release(&r.ua);
		return -ENOMEM;
	}
	n->type = type;
	n->flags = pf | (r.lower ? N_LOWER : 0) | (r.local ? N_INLOCAL : 0) |
		   (r.utype == STORE_DIR && r.ua.opaque ? N_OPAQUE : 0);
	if (r.utype > 0 && r.utype != STORE_WHITEOUT) {
		if (n->sino != r.ua.ino)
			n->cached_version = UINT64_MAX;
		node_set_sino(fs, n, r.ua.ino);
	} else {
		node_set_sino(fs, n, 0);
	}
	pthread_mutex_unlock(&fs->lock);

	if (r.utype > 0 && r.utype != STORE_WHITEOUT) {
		attr_from_store(fs, &r.ua, n->flags, &e->attr);
		pthread_mutex_lock(&fs->lock);
		node_remember(n, &r.ua);
		pthread_mutex_unlock(&fs->lock);
		if (r.lower && S_ISDIR(r.lst.st_mode) && S_ISDIR(r.ua.mode))
			e->attr.st_ino = r.lst.st_ino; /* merged directory: keep lower's */
	} else {
		attr_from_lower(fs, &r.lst, n->flags, &e->attr);
	}
	if (n->of && S_ISREG(type)) {
		int64_t sz = file_local_size(n);

		if (sz >= 0)
			e->attr.st_size = sz;
	}
	store_attr_release(&r.ua);
reply:
	e->ino = node_id(fs, n);
	e->generation = n->generation;
	e->entry_timeout = entry_timeout_for(n->flags);
	e->attr_timeout = attr_timeout_for(n);
	*out = n;
	return 0;
}

static void pfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct pfs *fs = fuse_req_userdata(req);
	struct fuse_entry_param e;
	struct node *n;
	int err;

	stats_count(OP_LOOKUP);
	err = overlay_lookup(fs, node_get(fs, parent), name, strlen(name), &e, &n);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_entry(req, &e);
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

/* Fresh attributes of N.  -ESTALE when its entry was replaced or removed elsewhere: the kernel
 * then looks the name up again. */
static int node_getattr(struct pfs *fs, struct node *n, struct stat *st)
{
	char path[PATH_MAX];
	struct store_attr a = {0};
	int len, err;

	len = node_path(fs, n, path, sizeof(path));
	if (len < 0)
		return len;
	if (file_attr(n, st) == 0)
		return 0;
	if (n->flags & N_INLOCAL) {
		err = local_stat(fs, path, st);
		return err == -ENOENT ? -ESTALE : err;
	}
	if (n->sino) {
		err = store_getattr(fs->store, n->sino, &a);
		if (err == -ENOENT)
			return (n->flags & N_UNLINKED) ? -ENOENT : -ESTALE;
		pthread_mutex_lock(&fs->lock);
		if (!err)
			node_remember(n, &a);
		else if (err == -EIO && node_recall(n, &a))
			err = 0; /* an outage: what the store said last */
		pthread_mutex_unlock(&fs->lock);
		if (err)
			return err;
		attr_from_store(fs, &a, n->flags, st);
		store_attr_release(&a);
		if (n->flags & N_LOWER) {
			struct stat lst;

			if (lower_stat(fs, path, &lst) == 0)
				st->st_ino = lst.st_ino;
		}
	} else {
		if (!(n->flags & N_STATIC) && n != fs->root && S_ISREG(n->type)) {
			/* A lower file in a writable area: copied up or removed elsewhere? */
			struct resolved r;

			err = resolve(fs, n->parent, n->name, n->namelen, path, n->flags, &r);
			store_attr_release(&r.ua);
			if (err && err != -EIO)
				return err; /* (an outage: it had no upper entry when last seen) */
			if (!err && r.utype != -ENOENT)
				return -ESTALE;
		}
		err = lower_stat(fs, path, st);
		if (err)
			return err;
		attr_from_lower(fs, st, n->flags, st);
	}
	if (n->of && S_ISREG(n->type)) {
		int64_t sz = file_local_size(n);

		if (sz >= 0)
			st->st_size = sz;
	}
	return 0;
}

static void pfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pfs *fs = fuse_req_userdata(req);
	struct node *n = node_get(fs, ino);
	struct stat st;
	int err;
	(void)fi;

	stats_count(OP_GETATTR);
	err = node_getattr(fs, n, &st);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_attr(req, &st, attr_timeout_for(n));
}

static int64_t ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts_ns(&ts);
}

/* setattr of an entry in the per-node directory. */
static int local_setattr(struct pfs *fs, const char *path, const struct stat *attr, int to_set,
			 struct fuse_file_info *fi)
{
	int fd = local_open(fs, path, O_RDONLY, 0), err = 0;
	(void)fi;

	if (fd < 0)
		return fd;
	if ((to_set & FUSE_SET_ATTR_SIZE)) {
		int wfd = local_open(fs, path, O_WRONLY, 0);

		if (wfd < 0 || ftruncate(wfd, attr->st_size) < 0)
			err = wfd < 0 ? wfd : -errno;
		if (wfd >= 0)
			close(wfd);
	}
	if (!err && (to_set & FUSE_SET_ATTR_MODE) && fchmod(fd, attr->st_mode & 07777) < 0)
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

static void pfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			struct fuse_file_info *fi)
{
	struct pfs *fs = fuse_req_userdata(req);
	struct node *n = node_get(fs, ino);
	struct store_attr in = {0}, out = {0};
	char path[PATH_MAX];
	unsigned mask = 0;
	struct stat st;
	int len, err;

	stats_count(OP_SETATTR);
	len = node_path(fs, n, path, sizeof(path));
	err = len < 0 ? len : policy_check_write(fs, path, len);
	if (err)
		goto out;
	if (n->flags & N_INLOCAL) {
		err = local_setattr(fs, path, attr, to_set, fi);
		if (!err)
			err = node_getattr(fs, n, &st);
		goto out;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (!S_ISREG(n->type)) {
			err = -EISDIR;
			goto out;
		}
		err = file_truncate(fs, n, fi, attr->st_size);
		if (err)
			goto out;
	}
	if (to_set & FUSE_SET_ATTR_MODE) {
		mask |= STORE_SET_MODE;
		in.mode = (n->type & S_IFMT) | (attr->st_mode & 07777);
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		mask |= STORE_SET_UID;
		in.uid = attr->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		mask |= STORE_SET_GID;
		in.gid = attr->st_gid;
	}
	if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) {
		mask |= STORE_SET_MTIME;
		in.mtime_ns = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? now_ns() : ts_ns(&attr->st_mtim);
	}
	if (mask) {
		if (!n->sino) {
			uint64_t sino;

			err = S_ISDIR(n->type) ? upper_dir_make(fs, n, &sino) : copy_up_file(fs, n);
			if (err)
				goto out;
		}
		err = store_setattr(fs->store, n->sino, mask, &in, &out);
		store_attr_release(&out);
		if (err)
			goto out;
	}
	err = node_getattr(fs, n, &st);
out:
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_attr(req, &st, attr_timeout_for(n));
}

static void pfs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct pfs *fs = fuse_req_userdata(req);
	struct node *n = node_get(fs, ino);
	char path[PATH_MAX], target[PATH_MAX];
	struct store_attr a = {0};
	ssize_t k;
	int err;

	stats_count(OP_READLINK);
	err = node_path(fs, n, path, sizeof(path));
	if (err < 0)
		goto out;
	err = 0;
	if (n->sino) {
		err = store_getattr(fs->store, n->sino, &a);
		if (!err && !a.target)
			err = -EINVAL;
		if (!err)
			fuse_reply_readlink(req, a.target);
		store_attr_release(&a);
	} else {
		k = readlinkat(fs->lower_fd, path + 1, target, sizeof(target) - 1);
		if (k < 0) {
			err = -errno;
		} else {
			target[k] = '\0';
			fuse_reply_readlink(req, target);
		}
	}
out:
	if (err)
		fuse_reply_err(req, -err);
}

/* Check that NAME may be made under PARENT: the policy allows it and nothing visible stands
 * there.  Fills *psino with the parent's upper directory, made if needed. */
static int prepare_create(struct pfs *fs, struct node *parent, const char *name, size_t namelen,
			  uint64_t *psino)
{
	char path[PATH_MAX];
	struct resolved r;
	int len, err;

	len = write_path(fs, parent, name, namelen, path, sizeof(path));
	if (len < 0)
		return len;
	err = resolve(fs, parent, name, namelen, path, node_policy_flags(fs, path, len, NULL), &r);
	store_attr_release(&r.ua);
	if (err)
		return err;
	if ((r.utype > 0 && r.utype != STORE_WHITEOUT) || r.lower || r.local)
		return -EEXIST;
	if (node_policy_flags(fs, path, len, NULL) & N_LOCAL) {
		*psino = 0; /* made in this node's own directory */
		return 0;
	}
	return upper_dir_make(fs, parent, psino);
}

/* Reply with the entry just made in the store. */
static void reply_new_entry(fuse_req_t req, struct pfs *fs, struct node *parent, const char *name,
			    const struct store_attr *a)
{
	struct fuse_entry_param e;
	struct node *n;

	pthread_mutex_lock(&fs->lock);
	n = node_find(fs, parent, name, strlen(name));
	if (n)
		node_unhash(fs, n);
	n = node_child(fs, parent, name, strlen(name));
	if (n) {
		n->type = a->mode & S_IFMT;
		n->flags = N_OPAQUE;
		node_set_sino(fs, n, a->ino);
		node_remember(n, a);
		n->cached_version = a->version;
	}
	pthread_mutex_unlock(&fs->lock);
	if (!n) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	{
		char path[PATH_MAX];
		int len = node_path(fs, n, path, sizeof(path));

		if (len > 0)
			n->flags |= node_policy_flags(fs, path, len, &n->cls);
	}
	memset(&e, 0, sizeof(e));
	attr_from_store(fs, a, n->flags, &e.attr);
	e.ino = node_id(fs, n);
	e.generation = n->generation;
	e.entry_timeout = entry_timeout_for(n->flags);
	e.attr_timeout = attr_timeout_for(n);
	fuse_reply_entry(req, &e);
}

/* mkdir in the per-node directory (symlinks are not made there: see local.c). */
static void make_local_entry(fuse_req_t req, struct pfs *fs, struct node *parent, const char *name,
			     mode_t mode, const char *target)
{
	struct fuse_entry_param e;
	struct node *n;
	int err;
	(void)target;

	if (!S_ISDIR(mode)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	{
		char path[PATH_MAX];
		int len = node_child_path(fs, parent, name, strlen(name), path, sizeof(path));

		const struct fuse_ctx *ctx = fuse_req_ctx(req);

		err = len < 0 ? len : local_mkdir(fs, path, mode & 07777, ctx->uid, ctx->gid);
	}
	if (!err)
		err = overlay_lookup(fs, parent, name, strlen(name), &e, &n);
	if (!err && !n)
		err = -EIO;
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_entry(req, &e);
}

/* Make a directory or a symlink in the store and reply with its entry. */
void make_entry(fuse_req_t req, struct node *parent, const char *name, mode_t mode,
		const char *target)
{
	struct pfs *fs = fuse_req_userdata(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct store_attr a = {0};
	uint64_t psino;
	int err;

	err = prepare_create(fs, parent, name, strlen(name), &psino);
	if (!err && !psino) {
		make_local_entry(req, fs, parent, name, mode, target);
		return;
	}
	if (!err)
		err = store_create(fs->store, psino, name, strlen(name), mode, ctx->uid, ctx->gid,
				   's', target, &a);
	if (err)
		fuse_reply_err(req, -err);
	else
		reply_new_entry(req, fs, parent, name, &a);
	store_attr_release(&a);
}

static void pfs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct pfs *fs = fuse_req_userdata(req);

	stats_count(OP_SYMLINK);
	make_entry(req, node_get(fs, parent), name, S_IFLNK | 0777, link);
}

/* Remove NAME (any kind, when DIR is set a directory) from PARENT: shared by unlink and
 * rmdir.  A lower entry is hidden behind a whiteout. */
int remove_entry(struct pfs *fs, struct node *parent, const char *name, bool dir)
{
	char path[PATH_MAX];
	size_t namelen = strlen(name);
	struct resolved r;
	uint64_t psino;
	struct node *n;
	int len, err;

	len = write_path(fs, parent, name, namelen, path, sizeof(path));
	if (len < 0)
		return len;
	err = resolve(fs, parent, name, namelen, path, node_policy_flags(fs, path, len, NULL), &r);
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
	if ((r.utype < 0 || r.utype == STORE_WHITEOUT) && !r.lower) {
		err = -ENOENT;
		goto out;
	}
	if (node_policy_flags(fs, path, len, NULL) & N_LOCAL) {
		err = -EROFS; /* a lower entry in a local area: no node may hide it alone */
		goto out;
	}
	{
		bool isdir = r.utype > 0 && r.utype != STORE_WHITEOUT ? r.utype == STORE_DIR
								      : S_ISDIR(r.lst.st_mode);

		if (dir && !isdir) {
			err = -ENOTDIR;
			goto out;
		}
		if (!dir && isdir) {
			err = -EISDIR;
			goto out;
		}
	}
	if (dir) {
		pthread_mutex_lock(&fs->lock);
		n = node_find(fs, parent, name, namelen);
		if (n)
			n->nref++;
		pthread_mutex_unlock(&fs->lock);
		if (n) {
			err = dir_is_empty(fs, n);
			node_put(fs, n);
			if (err < 0)
				goto out;
			if (err == 0) {
				err = -ENOTEMPTY;
				goto out;
			}
			err = 0;
		}
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
	pthread_mutex_lock(&fs->lock);
	n = node_find(fs, parent, name, namelen);
	if (n)
		node_unhash(fs, n);
	pthread_mutex_unlock(&fs->lock);
out:
	store_attr_release(&r.ua);
	return err;
}

static void pfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct pfs *fs = fuse_req_userdata(req);

	stats_count(OP_UNLINK);
	fuse_reply_err(req, -remove_entry(fs, node_get(fs, parent), name, false));
}

static void pfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	(void)ino;
	(void)newparent;
	(void)newname;
	stats_count(OP_LINK);
	fuse_reply_err(req, EPERM); /* the store has no hard links */
}

static void pfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct pfs *fs = fuse_req_userdata(req);
	struct statvfs sv;
	(void)ino;

	stats_count(OP_STATFS);
	/* The staging area is where every write passes first: its free space is what a write
	 * can count on.  Names are limited as on Linux. */
	if (fstatvfs(fs->staging_fd, &sv) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	sv.f_namemax = PATH_NAME_MAX;
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
	{
		char why[160];
		bool down = store_down(fs->store, why, sizeof(why));

		len = stats_json(buf, sizeof(buf), fs->set->site, fs->set->store_url, !down, why);
	}
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

const struct fuse_lowlevel_ops pfs_ops_namei = {
    .lookup = pfs_lookup,
    .forget = pfs_forget,
    .forget_multi = pfs_forget_multi,
    .getattr = pfs_getattr,
    .setattr = pfs_setattr,
    .readlink = pfs_readlink,
    .symlink = pfs_symlink,
    .unlink = pfs_unlink,
    .link = pfs_link,
    .statfs = pfs_statfs,
    .getxattr = pfs_getxattr,
    .listxattr = pfs_listxattr,
    .setxattr = pfs_setxattr,
    .removexattr = pfs_removexattr,
};
