/* resolve.c - finding what the layers hold at a name: the local directory, the store's upper
 * directories (made on demand by copying up lower ones), the lower tree; and outage recall. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "local.h"
#include "overlay/resolve.h"
#include "path.h"
#include "stats.h"

int lower_stat(struct pfs *fs, const char *path, struct stat *st)
{
	if (fstatat(fs->lower_fd, tree_rel(path), st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	/* owner=: an image's directory in which the policy lets something be written below is
	 * the web user's, so that the kernel's permission checks let it create there; the image
	 * itself may stay root's.  Its upper copy, made from these attributes, is too. */
	if (fs->set->owner && S_ISDIR(st->st_mode) &&
	    !(classes_node_flags(fs, path, strlen(path), NULL) & N_STATIC_BELOW)) {
		st->st_uid = fs->set->owner_uid;
		st->st_gid = fs->set->owner_gid;
	}
	return 0;
}

int lower_open(struct pfs *fs, const char *path)
{
	int fd = openat(fs->lower_fd, tree_rel(path), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int lower_opendir(struct pfs *fs, const char *path)
{
	int fd =
	    openat(fs->lower_fd, tree_rel(path), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int write_path(struct pfs *fs, struct node *parent, const char *name, size_t namelen,
	       enum cls_op op, char *path, size_t size, struct cls_verdict *v)
{
	struct cls_verdict mine;
	int len, err = path_check_name(name, namelen);

	if (err)
		return err;
	len = node_child_path(fs, parent, name, namelen, path, size);
	if (len < 0)
		return len;
	err = classes_check(fs, op, path, (size_t)len, NULL, v ? v : &mine);
	return err ? err : len;
}

int upper_dir(struct pfs *fs, struct node *n, uint64_t *sino)
{
	char path[PFS_PATH_MAX];
	uint64_t found = 0;
	int len, err;

	if (n == fs->root) {
		*sino = STORE_ROOT_INO;
		return 0;
	}
	pthread_mutex_lock(&fs->lock);
	found = n->sino;
	err = found || (n->flags & N_STATIC_BELOW);
	pthread_mutex_unlock(&fs->lock);
	if (err) {
		*sino = found;
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
	char path[PFS_PATH_MAX], name[NAME_MAX + 1];
	struct node *parent;
	uint64_t psino, made;
	struct stat lst;
	int err, len, namelen;

	err = upper_dir(fs, n, sino);
	if (err || *sino)
		return err;
	namelen = node_parent_name(fs, n, &parent, name, sizeof(name));
	if (namelen < 0)
		return namelen;
	err = upper_dir_make(fs, parent, &psino);
	if (err)
		goto out;
	len = node_child_path(fs, parent, name, (size_t)namelen, path, sizeof(path));
	if (len < 0) {
		err = len;
		goto out;
	}
	err = lower_stat(fs, path, &lst);
	if (err)
		goto out;
	err = store_copyup_dir_as(fs->store, psino, name, (size_t)namelen, lst.st_mode, lst.st_uid,
				  lst.st_gid, ts_ns(&lst.st_mtim), lst.st_ino, &made);
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

enum cls_entry entry_kind(char type)
{
	return type == STORE_DIR	? CLS_ENTRY_DIR
	       : type == STORE_WHITEOUT ? CLS_ENTRY_WHITEOUT
					: CLS_ENTRY_FILE;
}

int resolve(struct pfs *fs, struct node *parent, const char *name, size_t namelen, const char *path,
	    unsigned pf, struct resolved *r)
{
	unsigned pflags;
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
		if (r->utype >= 0 &&
		    !classes_serve_entry(fs, path, strlen(path), entry_kind((char)r->utype))) {
			store_attr_release(&r->ua); /* put there by something else: absent */
			memset(&r->ua, 0, sizeof(r->ua));
			r->utype = -ENOENT;
		}
	}
	if (r->utype == STORE_WHITEOUT)
		return 0;
	/* lower: the lower tree has something here that no whiteout hides.  Under an upper
	 * entry it is not seen, but removing that entry must then leave a whiteout. */
	pthread_mutex_lock(&fs->lock);
	pflags = parent->flags;
	pthread_mutex_unlock(&fs->lock);
	if ((pflags & N_LOWER) && !(pflags & N_OPAQUE) && lower_stat(fs, path, &r->lst) == 0)
		r->lower = true;
	return 0;
}

/* Outages.  While the store cannot be reached, reads go on with what this node last knew: an
 * upper entry it has seen answers with the attributes the store gave then (node_recall), a name
 * with no upper entry then, or never asked about, with what the lower tree has; the kernel keeps
 * serving the pages it holds (pagecache.c).  Nothing is kept longer because of it (the
 * lifetimes stay those of writable paths), writes still fail with EIO, and the first request
 * after Redis is back sees the truth again.  Only what nothing is known of fails, with EIO. */
int resolve_known(struct pfs *fs, struct node *parent, const char *name, size_t namelen,
		  const char *path, struct resolved *r)
{
	struct node *n;
	bool upper, had_upper;
	unsigned pflags;

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
	pflags = parent->flags;
	pthread_mutex_unlock(&fs->lock);
	if (!upper) {
		if (had_upper || !(pflags & N_LOWER) || (pflags & N_OPAQUE) ||
		    lower_stat(fs, path, &r->lst) != 0)
			return -EIO;
		r->lower = true;
	} else if (r->lower) {
		lower_stat(fs, path, &r->lst); /* a merged directory keeps the lower inode number */
	}
	stats_event(EV_OUTAGE_READ);
	return 0;
}
