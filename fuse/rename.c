/* rename.c - rename within the writable layers: files and whole directories move in one store
 * operation; lower files are copied up first; what the lower tree keeps is hidden. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "pressfs.h"
#include "stats.h"

/* Is A the same as, or an ancestor of, B? */
static bool is_ancestor(struct pfs *fs, struct node *a, struct node *b)
{
	bool found = false;

	pthread_mutex_lock(&fs->lock);
	for (struct node *p = b; p; p = p == fs->root ? NULL : p->parent)
		if (p == a) {
			found = true;
			break;
		}
	pthread_mutex_unlock(&fs->lock);
	return found;
}

static int do_rename(struct pfs *fs, struct node *sp, const char *sname, struct node *dp,
		     const char *dname, unsigned flags)
{
	size_t slen = strlen(sname), dlen = strlen(dname);
	struct fuse_entry_param e;
	struct node *src = NULL, *dst = NULL;
	char path[PATH_MAX], spath[PATH_MAX];
	uint64_t spino, dpino;
	unsigned sflags = 0;
	int len, err;

	if (flags & ~RENAME_NOREPLACE)
		return -EINVAL;	/* RENAME_EXCHANGE and RENAME_WHITEOUT are not offered */
	len = write_path(fs, sp, sname, slen, spath, sizeof(spath));
	if (len < 0)
		return len;
	len = write_path(fs, dp, dname, dlen, path, sizeof(path));
	if (len < 0)
		return len;

	err = overlay_lookup(fs, sp, sname, slen, &e, &src);
	if (!err && !src)
		err = -ENOENT;
	if (err)
		goto out;
	err = overlay_lookup(fs, dp, dname, dlen, &e, &dst);
	if (err)
		goto out;
	if (src == dst)
		goto out;	/* the same entry: nothing to do */
	if ((src->flags & N_INLOCAL) &&
	    (node_policy_flags(fs, path, len, NULL) & N_LOCAL) &&
	    (!dst || (dst->flags & N_INLOCAL))) {
		/* Within this node's own directory: the local file system does it. */
		err = local_rename(fs, spath, path, flags);
		if (!err) {
			pthread_mutex_lock(&fs->lock);
			err = node_move(fs, src, dp, dname, dlen);
			pthread_mutex_unlock(&fs->lock);
		}
		goto out;
	}
	if ((src->flags & N_INLOCAL) || (dst && (dst->flags & N_INLOCAL))) {
		err = -EXDEV;	/* between this node's own directory and the shared store */
		goto out;
	}
	if ((src->flags & N_LOCAL) != (policy_class_of(fs->policy, path, len) == POLICY_LOCAL &&
				       fs->local_fd >= 0 ? N_LOCAL : 0)) {
		err = -EXDEV;	/* between the node's own directory and the shared store */
		goto out;
	}
	if (fs->cache && (policy_class_of(fs->policy, spath, strlen(spath)) == POLICY_CACHE) !=
			 (policy_class_of(fs->policy, path, len) == POLICY_CACHE)) {
		err = -EXDEV;	/* memcached content must not turn durable, nor the reverse */
		goto out;
	}
	if (S_ISDIR(src->type)) {
		if (is_ancestor(fs, src, dp)) {
			err = -EINVAL;
			goto out;
		}
	}
	if (dst) {
		if (flags & RENAME_NOREPLACE) {
			err = -EEXIST;
			goto out;
		}
		if (S_ISDIR(dst->type) && !S_ISDIR(src->type)) {
			err = -EISDIR;
			goto out;
		}
		if (!S_ISDIR(dst->type) && S_ISDIR(src->type)) {
			err = -ENOTDIR;
			goto out;
		}
		if (S_ISDIR(dst->type)) {
			err = dir_is_empty(fs, dst);
			if (err < 0)
				goto out;
			if (!err) {
				err = -ENOTEMPTY;
				goto out;
			}
			err = 0;
		}
		if (dst->flags & N_LOWER)
			sflags |= STORE_RENAME_OPAQUE;
	}
	/* A file the store does not have yet: publish it where it is, then move it. */
	if (S_ISREG(src->type)) {
		if (file_pending(src) || src->of)
			err = file_commit(fs, src);
		else if (!src->sino)
			err = copy_up_file(fs, src);
		if (err)
			goto out;
	}
	if (S_ISDIR(src->type) && (src->flags & N_LOWER) && !(src->flags & N_OPAQUE)) {
		/* The image's part of the directory moves too: copy it up first, then the
		 * store moves the whole directory at once. */
		err = copy_up_tree(fs, src);
		if (err)
			goto out;
	}
	if (src->flags & N_LOWER)
		sflags |= STORE_RENAME_WHITEOUT;
	if (!S_ISDIR(src->type))
		sflags &= ~STORE_RENAME_OPAQUE;
	err = upper_dir_make(fs, sp, &spino);
	if (!err)
		err = upper_dir_make(fs, dp, &dpino);
	if (!err)
		err = store_rename(fs->store, spino, sname, slen, dpino, dname, dlen, sflags);
	if (err)
		goto out;
	pthread_mutex_lock(&fs->lock);
	err = node_move(fs, src, dp, dname, dlen);
	if (!err) {
		src->flags &= ~(N_LOWER | N_STATIC | N_STATIC_BELOW | N_WRITABLE | N_LOCAL);
		if (sflags & STORE_RENAME_OPAQUE)
			src->flags |= N_OPAQUE;
	}
	pthread_mutex_unlock(&fs->lock);
	if (!err) {
		len = node_path(fs, src, path, sizeof(path));
		if (len > 0)
			src->flags |= node_policy_flags(fs, path, len, &src->cls);
	}
out:
	if (src)
		node_forget(fs, src, 1);
	if (dst)
		node_forget(fs, dst, 1);
	return err;
}

void pfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		const char *newname, unsigned int flags)
{
	struct pfs *fs = fuse_req_userdata(req);

	stats_count(OP_RENAME);
	fuse_reply_err(req, -do_rename(fs, node_get(fs, parent), name, node_get(fs, newparent),
				      newname, flags));
}
