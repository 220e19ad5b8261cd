/* attr.c - attributes: what the store or the lower tree says of a node, with the write bits
 * the policy leaves, and the lifetimes the kernel may keep them for. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "local.h"
#include "overlay/attr.h"
#include "overlay/dir.h"
#include "overlay/ofile.h"
#include "overlay/resolve.h"
#include "overlay/trust.h"

static mode_t strip_write(mode_t mode, unsigned flags)
{
	if (flags & N_WRITABLE)
		return mode;
	if (S_ISDIR(mode) && !(flags & N_STATIC_BELOW))
		return mode; /* something below may be written: keep the directory's bits */
	return mode & ~(mode_t)0222;
}

void attr_from_lower(const struct stat *lst, unsigned flags, struct stat *st)
{
	*st = *lst;
	if (!S_ISLNK(st->st_mode))
		st->st_mode = strip_write(st->st_mode, flags);
}

void attr_from_store(const struct store_attr *a, unsigned flags, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = attr_ino(a->ino, a->lino, 0);
	st->st_mode = S_ISLNK(a->mode) ? a->mode : strip_write(a->mode, flags);
	st->st_nlink = a->unlinked ? 0 : S_ISDIR(a->mode) ? 2 : a->nlink ? a->nlink : 1;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_size = (off_t)a->size;
	st->st_rdev = (dev_t)a->rdev;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((a->size + 511) / 512);
	st->st_mtim.tv_sec = a->mtime_ns / 1000000000;
	st->st_mtim.tv_nsec = a->mtime_ns % 1000000000;
	if (a->has_atime) { /* set by utimensat; never touched by a read */
		st->st_atim.tv_sec = a->atime_ns / 1000000000;
		st->st_atim.tv_nsec = a->atime_ns % 1000000000;
	} else {
		st->st_atim = st->st_mtim;
	}
	st->st_ctim.tv_sec = a->ctime_ns / 1000000000;
	st->st_ctim.tv_nsec = a->ctime_ns % 1000000000;
}

double attr_timeout_for(const struct node *n)
{
	if (n->flags & N_STATIC)
		return TIMEOUT_FOREVER;
	if (trust_held(n))
		return TIMEOUT_TRUSTED; /* until an invalidation says otherwise */
	/* A file may change on another node: its size must be asked for, so that an open after
	 * a close elsewhere never reads a stale length.  Names and directories are covered by
	 * the pub/sub invalidation and a short lifetime. */
	return S_ISREG(n->type) ? 0.0 : TIMEOUT_DIR_ATTR;
}

double entry_timeout_for(unsigned flags)
{
	return (flags & N_STATIC) ? TIMEOUT_FOREVER : TIMEOUT_ENTRY;
}

double entry_timeout_node(const struct node *n)
{
	return trust_held(n) ? TIMEOUT_TRUSTED : entry_timeout_for(n->flags);
}

/* A lower file in a writable area: copied up or removed elsewhere?  0 when it is still the
 * lower file, -ESTALE when not, or -errno. */
static int lower_still(struct pfs *fs, struct node *n, const char *path)
{
	char name[NAME_MAX + 1];
	struct node *parent;
	struct resolved r;
	int namelen, err;

	namelen = node_parent_name(fs, n, &parent, name, sizeof(name));
	if (namelen < 0)
		return namelen;
	err = resolve(fs, parent, name, (size_t)namelen, path, n->flags, &r);
	store_attr_release(&r.ua);
	node_put(fs, parent);
	if (err && err != -EIO)
		return err; /* (an outage: it had no upper entry when last seen) */
	if (!err && r.utype != -ENOENT)
		return -ESTALE;
	return 0;
}

static int attr_upper(struct pfs *fs, struct node *n, uint64_t sino, const char *path,
		      struct stat *st)
{
	struct store_attr a = {0};
	uint64_t token = 0;
	bool kept;
	int err = 0;

	/* Served only where the policy would have let it be made: otherwise it is no more
	 * than a name looked up again (and found absent) is. */
	if (!classes_serve_entry(fs, path, strlen(path),
				 S_ISDIR(n->type) ? CLS_ENTRY_DIR : CLS_ENTRY_FILE))
		return -ESTALE;
	kept = trust_get(fs, n, &a);
	if (!kept) {
		token = trust_begin(fs);
		err = store_getattr(fs->store, sino, &a);
	}
	if (err == -ENOENT)
		return (n->flags & N_UNLINKED) ? -ENOENT : -ESTALE;
	pthread_mutex_lock(&fs->lock);
	if (!err && !kept) {
		node_remember(n, &a);
		trust_keep_locked(fs, n, &a, token);
	} else if (err == -EIO && node_recall(n, &a))
		err = 0; /* an outage: what the store said last */
	pthread_mutex_unlock(&fs->lock);
	if (err)
		return err;
	attr_from_store(&a, n->flags, st);
	if (S_ISDIR(a.mode) && (n->flags & N_LOWER)) {
		struct stat lst;

		if (lower_stat(fs, path, &lst) == 0 && S_ISDIR(lst.st_mode))
			st->st_ino = attr_ino(a.ino, a.lino, lst.st_ino);
	}
	store_attr_release(&a);
	return 0;
}

/* The link counts of the store directories last counted, by inode and version: a directory
 * is listed again only once its entries changed (its version moves with every one of them;
 * its lower part never changes), not on every lookup of a hot directory. */
#define NLINK_SLOTS 256
static struct {
	pthread_mutex_t lock;
	struct {
		uint64_t sino, version;
		nlink_t nlink;
	} e[NLINK_SLOTS];
} nlinks = {.lock = PTHREAD_MUTEX_INITIALIZER};

static nlink_t nlink_cached(uint64_t sino, uint64_t version)
{
	size_t i = (size_t)(sino % NLINK_SLOTS);
	nlink_t k = 0;

	pthread_mutex_lock(&nlinks.lock);
	if (nlinks.e[i].sino == sino && nlinks.e[i].version == version)
		k = nlinks.e[i].nlink;
	pthread_mutex_unlock(&nlinks.lock);
	return k;
}

static void nlink_keep(uint64_t sino, uint64_t version, nlink_t k)
{
	size_t i = (size_t)(sino % NLINK_SLOTS);

	pthread_mutex_lock(&nlinks.lock);
	nlinks.e[i].sino = sino;
	nlinks.e[i].version = version;
	nlinks.e[i].nlink = k;
	pthread_mutex_unlock(&nlinks.lock);
}

void attr_nlink(struct pfs *fs, struct node *n, struct stat *st)
{
	uint64_t sino, version;
	unsigned flags;
	nlink_t k;
	int got;

	pthread_mutex_lock(&fs->lock);
	flags = n->flags;
	sino = n->sino;
	version = n->told_version;
	pthread_mutex_unlock(&fs->lock);
	if ((flags & N_UNLINKED) && !S_ISDIR(st->st_mode) && !sino) {
		/* (a store file's own count says 0, or what its other names keep) */
		st->st_nlink = 0;
		return;
	}
	/* The lower tree's or the local directory's own count is right where the store has no
	 * part of the directory. */
	if (!S_ISDIR(st->st_mode) || (flags & (N_STATIC | N_INLOCAL)) || !sino)
		return;
	k = nlink_cached(sino, version);
	if (!k) {
		got = dir_nlink(fs, n);
		if (got <= 0)
			return;
		k = (nlink_t)got;
		nlink_keep(sino, version, k);
	}
	st->st_nlink = k;
}

static int attr_fresh_(struct pfs *fs, struct node *n, struct stat *st);

int attr_fresh(struct pfs *fs, struct node *n, struct stat *st)
{
	int err = attr_fresh_(fs, n, st);

	if (!err)
		attr_nlink(fs, n, st);
	return err;
}

static int attr_fresh_(struct pfs *fs, struct node *n, struct stat *st)
{
	char path[PFS_PATH_MAX];
	uint64_t sino;
	int len, err;

	len = node_path(fs, n, path, sizeof(path));
	if (len < 0)
		return len;
	if (file_attr(fs, n, st) == 0)
		return 0;
	if (n->flags & N_INLOCAL) {
		err = local_stat(fs, path, st);
		return err == -ENOENT ? -ESTALE : err;
	}
	sino = node_sino(fs, n);
	if (sino) {
		err = attr_upper(fs, n, sino, path, st);
		if (err)
			return err;
	} else {
		if (!(n->flags & N_STATIC) && n != fs->root && S_ISREG(n->type) &&
		    !trust_lower(fs, n)) {
			err = lower_still(fs, n, path);
			if (err)
				return err;
		}
		err = lower_stat(fs, path, st);
		if (err)
			return err;
		attr_from_lower(st, n->flags, st);
	}
	if (S_ISREG(n->type)) {
		int64_t sz = file_local_size(fs, n);

		if (sz >= 0)
			st->st_size = sz;
	}
	return 0;
}

int attr_tree_dir(struct pfs *fs, const char *path, struct stat *st)
{
	struct store_attr a = {0};
	uint64_t ino = 0;
	int err;

	err = store_resolve_dir(fs->store, path, strlen(path), &ino);
	if (!err && ino && store_getattr(fs->store, ino, &a) == 0) {
		attr_from_store(&a, N_WRITABLE, st);
		store_attr_release(&a);
		return 0;
	}
	err = lower_stat(fs, path, st);
	if (!err && !S_ISDIR(st->st_mode))
		err = -ENOTDIR;
	return err;
}
