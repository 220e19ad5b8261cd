/* attr.c - attributes: what the store or the lower tree says of a node, with the write bits
 * the policy leaves, and the lifetimes the kernel may keep them for. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "local.h"
#include "overlay/attr.h"
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
	bool kept = trust_get(fs, n, &a);
	int err = 0;

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
	store_attr_release(&a);
	if (n->flags & N_LOWER) {
		struct stat lst;

		if (lower_stat(fs, path, &lst) == 0)
			st->st_ino = lst.st_ino;
	}
	return 0;
}

int attr_fresh(struct pfs *fs, struct node *n, struct stat *st)
{
	char path[PATH_MAX];
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
		if (!(n->flags & N_STATIC) && n != fs->root && S_ISREG(n->type)) {
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
