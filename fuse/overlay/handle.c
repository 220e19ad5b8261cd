/* handle.c - open file handles (handle.h): which layer a handle reads, the staging state its
 * writes go to, and the pool's all-or-nothing reads of cache files. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "local.h"
#include "overlay/attr.h"
#include "overlay/chunks.h"
#include "overlay/classes.h"
#include "overlay/content.h"
#include "overlay/fault.h"
#include "overlay/handle.h"
#include "passthrough.h"
#include "overlay/ns.h"
#include "overlay/inval.h"
#include "overlay/lookup.h"
#include "overlay/ofile.h"
#include "overlay/pagecache.h"
#include "overlay/resolve.h"
#include "overlay/trust.h"
#include "pool.h"
#include "stats.h"

static void fh_free(struct pfs *fs, struct fh *fh)
{
	content_put(fs, fh->content);
	if (fh->lower_fd >= 0)
		close(fh->lower_fd);
	store_attr_release(&fh->snap);
	free(fh);
}

/* A cache file is read whole, or not at all: held by this peer (overlay/content.c) or fetched
 * whole from the pool at open; if the pool lost any part of it the file is gone for every
 * peer and the open fails with ENOENT.  A pool that cannot be asked only makes the file look
 * absent here.  Files too large to hold are streamed. */
static int load_cache_file(struct pfs *fs, struct node *n, struct fh *fh)
{
	int err = content_hold(fs, n, &fh->snap, &fh->content);

	if (!err) {
		fh->stream = !fh->content;
		return 0;
	}
	if (err == -ENOENT) {
		char name[NAME_MAX + 1];
		struct node *parent;
		int len = node_parent_name(fs, n, &parent, name, sizeof(name));
		pthread_mutex_lock(&fs->lock);
		node_unhash(fs, n);
		pthread_mutex_unlock(&fs->lock);
		if (len >= 0) {
			/* the kernel keeps entries long: it must not go on showing this one */
			inval_entry_later(fs, node_id(fs, parent), name, (size_t)len);
			node_put(fs, parent);
		}
	}
	return err == -ENOMEM ? err : -ENOENT;
}

/* Close-to-open: is N still the file its name is in the store?  0, or -ESTALE when the name is
 * another file now (the kernel looks it up again), -ENOENT when it is gone.  The parent and name
 * are copied under the lock: a rename may move N meanwhile. */
static int still_named(struct pfs *fs, struct node *n)
{
	char name[NAME_MAX + 1];
	struct fuse_entry_param e;
	struct node *parent, *again;
	int namelen, err;

	namelen = node_parent_name(fs, n, &parent, name, sizeof(name));
	if (namelen < 0)
		return namelen;
	err = overlay_lookup(fs, parent, name, (size_t)namelen, &e, &again);
	node_put(fs, parent);
	if (err)
		return err;
	if (!again)
		return -ENOENT;
	node_forget(fs, again, 1);
	return again != n ? -ESTALE : 0;
}

/* The backing id the kernel reads static file N from, registered from FD on N's first open:
 * the kernel allows one backing file per inode, so a node keeps its id for its life (closed
 * when the node is freed).  0 when passthrough is off or the kernel refused (said once, and
 * not asked again for N: -ELOOP for a lower tree stacked too deep, for one). */
static int static_backing(struct pfs *fs, struct node *n, int fd)
{
	static atomic_bool said;
	int id, mine;

	if (!passthrough_on())
		return 0;
	pthread_mutex_lock(&fs->lock);
	id = n->backing;
	pthread_mutex_unlock(&fs->lock);
	if (id)
		return id > 0 ? id : 0;
	mine = passthrough_open_backing(fd);
	if (mine < 0 && !atomic_exchange(&said, true))
		log_msg(LOG_LVL_WARN, "passthrough: the kernel refused a backing file: %s",
			strerror(-mine));
	pthread_mutex_lock(&fs->lock);
	id = n->backing;
	if (!id)
		n->backing = id = mine > 0 ? mine : -1;
	pthread_mutex_unlock(&fs->lock);
	if (mine > 0 && id != mine)
		passthrough_close_backing(mine); /* another open registered first */
	return id > 0 ? id : 0;
}

int handle_backing(const struct fh *fh)
{
	return fh->backing;
}

/* Open N for the handle FI describes; fills what the kernel should keep in FI.  One piece: the
 * layer a handle reads is chosen once, in this order (local, static, writer, store, lower). */
int handle_open(struct pfs *fs, struct node *n, struct fuse_file_info *fi)
{
	int acc = fi->flags & O_ACCMODE;
	bool writer = acc != O_RDONLY || (fi->flags & O_TRUNC);
	char path[PFS_PATH_MAX];
	uint64_t sino, token, told;
	bool stale = false, lower_kept = false;
	struct fh *fh;
	int len, err = 0;

	len = node_path(fs, n, path, sizeof(path));
	if (len < 0)
		return len;
	if (writer) {
		struct cls_facts f = {.in_local = (n->flags & N_INLOCAL) != 0};
		struct cls_verdict v;

		err = classes_check(fs, CLS_OPEN_WRITE, path, (size_t)len, &f, &v);
		if (err)
			return err;
	}
	fh = calloc(1, sizeof(*fh));
	if (!fh)
		return -ENOMEM;
	fh->n = n;
	fh->lower_fd = -1;
	fh->writer = writer;
	fh->append = writer && (fi->flags & O_APPEND);

	if (n->flags & N_INLOCAL) {
		/* This node's own file: only this kernel ever changes it. */
		fh->lower_fd = local_open(fs, path, fi->flags & ~(O_CREAT | O_EXCL), 0);
		if (fh->lower_fd < 0) {
			err = fh->lower_fd == -ENOENT ? -ESTALE : fh->lower_fd;
			goto fail;
		}
		fh->local = true;
		fi->keep_cache = 1;
		goto done;
	}
	if (n->flags & N_STATIC) {
		/* Never changes while mounted: the kernel may keep its pages for ever. */
		fh->lower_fd = lower_open(fs, path);
		if (fh->lower_fd < 0) {
			err = fh->lower_fd;
			goto fail;
		}
		fi->keep_cache = 1;
		fh->backing = static_backing(fs, n, fh->lower_fd);
		goto done;
	}
	if (!writer && trust_get(fs, n, &fh->snap)) {
		/* Nothing was said of it since the store's last answer: that answer stands, and
		 * the kernel's pages of its version with it (README, "Consistency"). */
		fh->snap_valid = true;
		stats_event(EV_TRUSTED_OPEN);
	} else if (!writer && trust_lower(fs, n)) {
		/* Still the lower file: nothing was said of its name since the store said so. */
		lower_kept = true;
		stats_event(EV_TRUSTED_OPEN);
	}
	token = fh->snap_valid ? 0 : trust_begin(fs);
	pthread_mutex_lock(&fs->lock);
	told = n->told_version; /* what the kernel's size is of, before still_named's lookup */
	pthread_mutex_unlock(&fs->lock);
	if (!fh->snap_valid && !lower_kept && !file_pending(fs, n) && !(n->flags & N_UNLINKED)) {
		/* Close-to-open: ask the store which file the name is now.  (A node this node
		 * itself removed or replaced was reached by an open racing that change: like a
		 * local file system, it gets the file it reached, kept for grace_ms.) */
		err = still_named(fs, n);
		if (err)
			goto fail;
	}
	if (writer) {
		struct ofile *of;

		err = of_get(fs, n, &of);
		if (err)
			goto fail;
		if (fi->flags & O_TRUNC) {
			pthread_mutex_lock(&of->lock);
			err = of_resize(fs, of, 0);
			pthread_mutex_unlock(&of->lock);
			if (err) {
				of_put(fs, n, of);
				goto fail;
			}
		}
		if (fh->append)
			fi->direct_io = 1; /* its offsets are the store's end, not the kernel's */
	} else if (fh->snap_valid || (sino = node_sino(fs, n)) != 0) {
		if (!fh->snap_valid) {
			err = store_getattr(fs->store, sino, &fh->snap);
			if (err == -EIO && pagecache_outage(fs, n, fi)) {
				fh->cached = fh->outage = true;
				goto done;
			}
			if (err)
				goto fail;
			fh->snap_valid = true;
			trust_keep(fs, n, &fh->snap, token);
			/* A change whose message is still on its way: the kernel may hold the old
			 * size for a long while yet, so this handle reads around its cache. */
			stale = fh->snap.version != told;
		}
		if (fh->snap.cls == 'c') {
			err = load_cache_file(fs, n, fh);
			if (err)
				goto fail;
		}
	} else if (!file_pending(fs, n)) {
		fh->lower_fd = lower_open(fs, path);
		if (fh->lower_fd < 0) {
			err = fh->lower_fd;
			goto fail;
		}
	}
	{
		const struct store_attr *a = NULL;

		if (fh->snap_valid)
			a = &fh->snap;
		else if (writer && n->of && !n->of->pending && !n->of->base_lower)
			a = &n->of->base;
		if (stale) {
			fi->direct_io = 1;
			fi->keep_cache = 0;
			inval_later(fs, node_id(fs, n));
		} else {
			fh->cached = pagecache_decide(fs, n, a, fi);
		}
	}
done:
	/* A reader's close has nothing to commit (handle_commit): the kernel need not wait for
	 * a FLUSH.  A writer's close still flushes, the commit that close-to-open rests on. */
	fi->noflush = !writer;
	node_hold(fs, n);
	fi->fh = (uintptr_t)fh;
	return 0;
fail:
	fh_free(fs, fh);
	return err;
}

/* O_CREAT in a local area: the file is made at once in the per-node directory. */
static int create_local(struct pfs *fs, uid_t uid, gid_t gid, struct node *p, const char *name,
			const char *path, mode_t mode, struct fuse_file_info *fi,
			struct fuse_entry_param *e)
{
	struct node *n;
	int fd, err;

	fd = local_open(fs, path, fi->flags | O_CREAT, classes_file_mode(mode));
	if (fd < 0)
		return fd;
	if (fchown(fd, uid, gid) < 0)
		log_msg(LOG_LVL_DEBUG, "local file %s keeps the daemon's owner", path);
	err = overlay_lookup(fs, p, name, strlen(name), e, &n);
	if (!err && !n)
		err = -EIO;
	if (!err) {
		struct fh *fh = calloc(1, sizeof(*fh));

		if (!fh) {
			node_forget(fs, n, 1);
			err = -ENOMEM;
		} else {
			fh->n = n;
			fh->lower_fd = fd;
			fh->local = true;
			fh->writer = (fi->flags & O_ACCMODE) != O_RDONLY;
			node_hold(fs, n);
			fi->fh = (uintptr_t)fh;
			return 0;
		}
	}
	close(fd);
	return err;
}

/* The pending file NAME under P (path PATH, content class CLS), open through FI. */
static int create_pending(struct pfs *fs, uid_t uid, gid_t gid, struct node *p, const char *name,
			  const char *path, size_t len, mode_t mode, char cls,
			  struct fuse_file_info *fi, struct fuse_entry_param *e)
{
	size_t namelen = strlen(name);
	struct ofile *of;
	struct node *n;
	struct fh *fh;

	of = fault_hit("create_of") ? NULL : of_new_pending(mode, uid, gid, cls);
	if (!of)
		return -ENOMEM;
	/* Its store number now, so that its st_ino is the same before and after the first
	 * commit (attr_ino); without one (an outage) it gets its number at the commit. */
	if (store_alloc_ids(fs->store, 1, &of->ino))
		of->ino = 0;
	pthread_mutex_lock(&fs->lock);
	n = node_find(fs, p, name, namelen);
	if (n)
		node_unhash(fs, n);
	n = node_child(fs, p, name, namelen);
	if (n) {
		n->type = S_IFREG;
		n->flags = classes_node_flags(fs, path, len, &n->cls);
		node_set_sino(fs, n, 0);
		n->cached_version = 0;
		n->of = of;
	}
	pthread_mutex_unlock(&fs->lock);
	if (!n) {
		of_abandon(fs, NULL, of);
		return -ENOMEM;
	}
	fh = fault_hit("create_fh") ? NULL : calloc(1, sizeof(*fh));
	if (!fh) {
		/* Nothing may be left behind: not the name, and no empty file published. */
		pthread_mutex_lock(&fs->lock);
		node_unhash(fs, n);
		pthread_mutex_unlock(&fs->lock);
		of_abandon(fs, n, of);
		node_forget(fs, n, 1);
		return -ENOMEM;
	}
	fh->n = n;
	fh->lower_fd = -1;
	fh->writer = true;
	fh->append = (fi->flags & O_APPEND) != 0;
	if (fh->append)
		fi->direct_io = 1;
	node_hold(fs, n);
	fi->fh = (uintptr_t)fh;
	memset(e, 0, sizeof(*e));
	file_attr(fs, n, &e->attr);
	e->ino = node_id(fs, n);
	e->generation = n->generation;
	e->entry_timeout = entry_timeout_for(n->flags);
	e->attr_timeout = attr_timeout_for(n);
	return 0;
}

int handle_create(struct pfs *fs, uid_t uid, gid_t gid, struct node *p, const char *name,
		  mode_t mode, struct fuse_file_info *fi, struct fuse_entry_param *e)
{
	size_t namelen = strlen(name);
	struct cls_verdict v;
	char path[PFS_PATH_MAX];
	uint64_t psino;
	struct node *n;
	int len, err;

	len = write_path(fs, p, name, namelen, CLS_CREATE, path, sizeof(path), &v);
	if (len < 0)
		return len;
	err = overlay_lookup(fs, p, name, namelen, e, &n);
	if (err)
		return err;
	if (n) {
		/* It exists after all (made on another node since the kernel looked). */
		if (fi->flags & O_EXCL)
			err = -EEXIST;
		else
			err = S_ISDIR(n->type) ? -EISDIR : handle_open(fs, n, fi);
		if (err)
			node_forget(fs, n, 1);
		return err;
	}
	if (v.backend == CLS_LOCAL)
		return create_local(fs, uid, gid, p, name, path, mode, fi, e);
	/* Make the parent's upper directory now, so that a store outage shows here. */
	err = upper_dir_make(fs, p, &psino);
	if (err)
		return err;
	return create_pending(fs, uid, gid, p, name, path, (size_t)len, mode, v.store_cls, fi, e);
}

static ssize_t snap_read(struct pfs *fs, const struct store_attr *a, char *buf, size_t len,
			 uint64_t off)
{
	size_t done = 0;

	if (off >= a->size)
		return 0;
	if (len > a->size - off)
		len = (size_t)(a->size - off);
	while (done < len) {
		uint64_t pos = off + done;
		size_t i = (size_t)(pos / CHUNK), in = (size_t)(pos % CHUNK);
		size_t n = CHUNK - in < len - done ? CHUNK - in : len - done;
		ssize_t k = 0;

		if (i < a->nchunks && a->chunks[i]) {
			k = store_read_chunk(fs->store, a->chunks[i], in, n, buf + done);
			if (k < 0)
				return k;
		}
		if ((size_t)k < n)
			memset(buf + done + k, 0, n - k);
		done += n;
	}
	return (ssize_t)done;
}

int handle_splice_fd(const struct fh *fh)
{
	return fh->lower_fd >= 0 && !fh->n->of && !fh->outage ? fh->lower_fd : -1;
}

ssize_t handle_read(struct pfs *fs, struct fh *fh, char *buf, size_t size, off_t off)
{
	enum stat_class cls = STAT_LOWER;
	struct ofile *of;
	ssize_t got;

	if (fh->outage)
		return -EIO;
	of = of_ref(fs, fh->n);
	if (of) {
		pthread_mutex_lock(&of->lock);
		got = of_read(fs, of, buf, size, (uint64_t)off);
		cls = of->cls == 'c' ? STAT_CACHE : STAT_SHARED;
		pthread_mutex_unlock(&of->lock);
		of_put(fs, fh->n, of);
	} else if (fh->content) {
		cls = STAT_CACHE;
		got = 0;
		if ((uint64_t)off < fh->snap.size) {
			got = (ssize_t)((uint64_t)size < fh->snap.size - (uint64_t)off
					    ? size
					    : fh->snap.size - (uint64_t)off);
			memcpy(buf, fh->content->data + off, (size_t)got);
		}
		if (fh->cached)
			pagecache_read(fs, fh->n, fh->snap.version);
	} else if (fh->stream) {
		cls = STAT_CACHE;
		got = content_stream(fs, &fh->snap, buf, size, (uint64_t)off);
	} else if (fh->snap_valid) {
		cls = STAT_SHARED;
		got = snap_read(fs, &fh->snap, buf, size, (uint64_t)off);
		if (fh->cached)
			pagecache_read(fs, fh->n, fh->snap.version);
	} else if (fh->lower_fd >= 0) {
		cls = fh->local ? STAT_LOCAL : STAT_LOWER;
		got = pread(fh->lower_fd, buf, size, off);
		if (got < 0)
			got = -errno;
	} else {
		got = 0;
	}
	if (got > 0)
		stats_read(cls, (uint64_t)got);
	return got;
}

ssize_t handle_write(struct pfs *fs, struct fh *fh, const char *buf, size_t size, off_t off)
{
	struct ofile *of = fh->n->of;
	enum stat_class cls;
	ssize_t done;

	if (fh->local) {
		done = pwrite(fh->lower_fd, buf, size, off);
		if (done < 0)
			return -errno;
		stats_written(STAT_LOCAL, (uint64_t)done);
		return done;
	}
	if (!fh->writer || !of)
		return -EBADF;
	pthread_mutex_lock(&of->lock);
	if (!fh->append)
		of->o_append = false;
	done = of_write(fs, of, buf, size, fh->append ? of->size : (uint64_t)off);
	cls = of->cls == 'c' ? STAT_CACHE : STAT_SHARED;
	pthread_mutex_unlock(&of->lock);
	if (done > 0)
		stats_written(cls, (uint64_t)done);
	return done;
}

int handle_commit(struct pfs *fs, struct fh *fh)
{
	struct ofile *of = fh->n->of;
	int err;

	if (!fh->writer || !of)
		return 0;
	pthread_mutex_lock(&of->lock);
	err = of_commit(fs, fh->n, of);
	pthread_mutex_unlock(&of->lock);
	return err;
}

void handle_release(struct pfs *fs, struct fh *fh)
{
	struct node *n = fh->n;

	if (fh->cached)
		pagecache_release(fs, n);
	if (fh->writer && n->of)
		of_put(fs, n, n->of);
	fh_free(fs, fh);
	node_put(fs, n);
}
