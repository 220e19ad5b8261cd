/* ofile.c - the staging and commit state machine of a file open for writing (ofile.h): chunks
 * staged in a temporary file as they are first written, the base (the store's version or the
 * lower file) read for the rest, and the commit that publishes the result. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "overlay/attr.h"
#include "overlay/chunks.h"
#include "overlay/classes.h"
#include "overlay/ns.h"
#include "overlay/fault.h"
#include "overlay/content.h"
#include "overlay/ofile.h"
#include "overlay/trust.h"
#include "overlay/resolve.h"
#include "pool.h"
#include "stats.h"

/* --- the staging state --------------------------------------------------------------- */

static int of_states(struct ofile *of, size_t n)
{
	uint8_t *s;

	if (n <= of->nstate)
		return 0;
	s = realloc(of->state, n);
	if (!s)
		return -ENOMEM;
	memset(s + of->nstate, CH_BASE, n - of->nstate);
	of->state = s;
	of->nstate = n;
	return 0;
}

static int of_staging(struct pfs *fs, struct ofile *of)
{
	if (of->fd >= 0)
		return 0;
	of->fd = openat(fs->staging_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	return of->fd < 0 ? -errno : 0;
}

/* Part of a cache file's chunk, for a writer that keeps the rest: memcached having lost it
 * fails the write (the file is gone for every reader already). */
static ssize_t pool_chunk(struct pfs *fs, uint64_t id, size_t off, size_t len, char *buf)
{
	ssize_t got = fs->pool ? pool_read_chunk(fs->pool, id, off, len, buf) : -EIO;

	if (got == -ENOENT)
		stats_event(EV_POOL_MISS);
	if (got < 0) {
		log_msg(LOG_LVL_WARN, "cache chunk %llu unavailable (%s): the write fails",
			(unsigned long long)id,
			got == -ENOENT ? "evicted"
			: fs->pool     ? pool_strerror(fs->pool)
				       : "no cache= pool");
		return -EIO;
	}
	return got;
}

/* Bytes [off, off+len) of chunk I as the base has them, zero-filled past its data. */
static ssize_t base_read(struct pfs *fs, struct ofile *of, size_t i, size_t off, size_t len,
			 char *buf)
{
	uint64_t start = (uint64_t)i * CHUNK + off;
	size_t want = start >= of->base_size
			  ? 0
			  : (size_t)(of->base_size - start < len ? of->base_size - start : len);
	ssize_t got = 0;

	/* Only the base's own bytes: anything a chunk holds past the base's size is stale. */
	if (!want || of->pending)
		got = 0;
	else if (of->base_lower)
		got = pread(of->lower_fd, buf, want, (off_t)start);
	else if (i < of->base.nchunks && of->base.chunks[i] && of->cls == 'c')
		got = pool_chunk(fs, of->base.chunks[i], off, want, buf);
	else if (i < of->base.nchunks && of->base.chunks[i])
		got = store_read_chunk(fs->store, of->base.chunks[i], off, want, buf);
	if (got < 0)
		return of->base_lower ? -errno : got;
	if ((size_t)got < len)
		memset(buf + got, 0, len - got);
	return (ssize_t)len;
}

/* Bring chunk I into the staging file so that it can be written in part. */
static int stage_chunk(struct pfs *fs, struct ofile *of, size_t i)
{
	size_t len;
	char *buf;
	ssize_t k;
	int err;

	if (of->state[i] != CH_BASE)
		return 0;
	err = of_staging(fs, of);
	if (err)
		return err;
	if ((uint64_t)i * CHUNK >= of->size) {
		of->state[i] = CH_STAGED;
		return 0;
	}
	len = (size_t)(of->size - (uint64_t)i * CHUNK < CHUNK ? of->size - (uint64_t)i * CHUNK
							      : CHUNK);
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	k = base_read(fs, of, i, 0, len, buf);
	if (k >= 0 && pwrite(of->fd, buf, len, (off_t)i * CHUNK) != (ssize_t)len)
		k = -EIO;
	free(buf);
	if (k < 0)
		return (int)k;
	of->state[i] = CH_STAGED;
	return 0;
}

/* Set the size, keeping the chunks at the old and new end in the staging file so that no
 * stale byte of the base can reappear past a new end. */
int of_resize(struct pfs *fs, struct ofile *of, uint64_t size)
{
	size_t need = nchunks_of(size > of->size ? size : of->size) + 1;
	int err = of_states(of, need);

	if (err)
		return err;
	if (of->size % CHUNK && of->size < size)
		err = stage_chunk(fs, of, (size_t)(of->size / CHUNK));
	if (!err && size % CHUNK && size < of->size)
		err = stage_chunk(fs, of, (size_t)(size / CHUNK));
	if (!err)
		err = of_staging(fs, of);
	if (err)
		return err;
	if (size < of->size && size % CHUNK)
		of->state[size / CHUNK] = CH_DIRTY;
	if (size > of->size && of->size % CHUNK)
		of->state[of->size / CHUNK] = CH_DIRTY;
	for (size_t i = nchunks_of(size); i < of->nstate; i++)
		of->state[i] = CH_BASE;
	/* Beyond the old end the staging file reads as zeros: those chunks are new. */
	for (size_t i = nchunks_of(of->size); i < nchunks_of(size); i++)
		of->state[i] = CH_DIRTY;
	if (ftruncate(of->fd, (off_t)size) < 0)
		return -errno;
	of->size = size;
	of->dirty = true;
	of->append_only = false;
	of->mtime_ns = now_ns();
	return 0;
}

ssize_t of_write(struct pfs *fs, struct ofile *of, const char *buf, size_t len, uint64_t off)
{
	uint64_t end = off + len;
	int err;

	if (end > (uint64_t)INT64_MAX)
		return -EFBIG;
	err = of_states(of, nchunks_of(end) + 1);
	if (!err)
		err = of_staging(fs, of);
	if (err)
		return err;
	if (off != of->size)
		of->append_only = false;
	/* A write past the end leaves a gap that must read as zeros, whatever the base held
	 * there before a truncation: the gap is a resize first. */
	if (off > of->size) {
		err = of_resize(fs, of, off);
		if (err)
			return err;
	}
	/* A partly written chunk that the base holds is staged first. */
	for (size_t i = (size_t)(off / CHUNK); i < nchunks_of(end); i++) {
		uint64_t cs = (uint64_t)i * CHUNK, ce = cs + CHUNK;
		bool whole = off <= cs && (end >= ce || end >= of->size);

		if (of->state[i] == CH_BASE && !whole && cs < of->size) {
			err = stage_chunk(fs, of, i);
			if (err)
				return err;
		}
	}
	if (pwrite(of->fd, buf, len, (off_t)off) != (ssize_t)len)
		return -EIO;
	for (size_t i = (size_t)(off / CHUNK); i < nchunks_of(end); i++)
		of->state[i] = CH_DIRTY;
	if (end > of->size)
		of->size = end;
	of->dirty = true;
	of->mtime_ns = now_ns();
	return (ssize_t)len;
}

ssize_t of_read(struct pfs *fs, struct ofile *of, char *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	if (off >= of->size)
		return 0;
	if (len > of->size - off)
		len = (size_t)(of->size - off);
	while (done < len) {
		uint64_t pos = off + done;
		size_t i = (size_t)(pos / CHUNK), in = (size_t)(pos % CHUNK);
		size_t n = CHUNK - in < len - done ? CHUNK - in : len - done;
		ssize_t k;

		if (i < of->nstate && of->state[i] != CH_BASE) {
			k = pread(of->fd, buf + done, n, (off_t)pos);
			if (k < 0)
				return -errno;
			if ((size_t)k < n)
				memset(buf + done + k, 0, n - k);
		} else {
			k = base_read(fs, of, i, in, n, buf + done);
			if (k < 0)
				return k;
		}
		done += n;
	}
	return (ssize_t)done;
}

/* --- committing ---------------------------------------------------------------------- */

struct upload_src {
	struct pfs *fs;
	struct ofile *of;
};

/* The chunk list of the file as it is now: chunks the base has unchanged are kept, the rest
 * uploaded; never-written chunks of a new file are holes. */
static ssize_t of_chunk(void *arg, size_t i, char *buf, size_t len, uint64_t *keep)
{
	struct upload_src *u = arg;
	struct ofile *of = u->of;
	bool have_base = !of->base_lower && !of->pending;

	/* memcached content is never kept across versions (it may be evicted in between): a
	 * cache file's every chunk but its holes is uploaded again */
	if (have_base && of->state[i] != CH_DIRTY &&
	    (of->cls != 'c' || i >= of->base.nchunks || !of->base.chunks[i])) {
		*keep = i < of->base.nchunks ? of->base.chunks[i] : 0;
		return 0;
	}
	if (of->pending && of->state[i] == CH_BASE) {
		*keep = 0;
		return 0;
	}
	return of_read(u->fs, of, buf, len, (uint64_t)i * CHUNK);
}

/* The verdict on publishing N's content at the path it has now (into PATH, PFS_PATH_MAX
 * bytes). */
static int judge_commit(struct pfs *fs, struct node *n, struct ofile *of, struct cls_verdict *v,
			char *path)
{
	struct cls_facts f = {.committed_cls = of->cls};
	int len = node_path(fs, n, path, PFS_PATH_MAX);

	return len < 0 ? len : classes_check(fs, CLS_COMMIT, path, (size_t)len, &f, v);
}

/* Publish N's content of class CLS under the name N has now (copied under the lock: a rename
 * may move N meanwhile), judged there, and only while the store still has the directory at the
 * path judged (-EAGAIN: another peer moved it since).  The directory's path is this peer's
 * idea of it, or with FROM_STORE the store's: another peer's move reaches this peer's nodes
 * only with its invalidation, and a directory open here may never learn it. */
static int publish_at(struct pfs *fs, struct node *n, struct ofile *of, char cls, size_t nch,
		      const uint64_t *ids, bool merge, struct store_attr *a, bool from_store,
		      bool *asked)
{
	char name[NAME_MAX + 1], path[PFS_PATH_MAX];
	struct cls_facts f = {.committed_cls = of->cls};
	struct cls_verdict v;
	struct node *parent;
	uint64_t psino, lino = 0;
	struct stat lst;
	int namelen, dlen, len, err;

	/* The numbers it is known by (attr_ino): the one reserved at its creation, or, for a
	 * copy-up, the lower file's, which the store keeps as its lino. */
	if (of->base_lower && fstat(of->lower_fd, &lst) == 0)
		lino = lst.st_ino;
	namelen = node_parent_name(fs, n, &parent, name, sizeof(name));
	if (namelen < 0)
		return namelen;
	err = upper_dir_make(fs, parent, &psino);
	if (!err) {
		dlen = from_store ? store_dir_path(fs->store, psino, path, sizeof(path))
				  : node_path(fs, parent, path, sizeof(path));
		err = dlen < 0 ? dlen : 0;
	}
	if (!err) {
		len = snprintf(path + dlen, sizeof(path) - (size_t)dlen, "%s%s",
			       dlen > 1 ? "/" : "", name);
		err = (size_t)len >= sizeof(path) - (size_t)dlen ? -ENAMETOOLONG : 0;
	}
	if (!err)
		err = classes_check(fs, CLS_COMMIT, path, (size_t)(dlen + len), &f, &v);
	if (!err && v.store_cls != cls)
		err = -EIO; /* its chunks went where the other class keeps them */
	fault_pause("publish_judged");
	*asked = !err;
	if (!err)
		err = store_publish_new_at(
		    fs->store, psino, path, (size_t)dlen, name, (size_t)namelen, of->mode, of->uid,
		    of->gid, cls, of->size, nch, ids, merge, of->pending ? of->ino : 0, lino, a);
	if (!err)
		trust_forget(fs, parent); /* a name came to it here: see lookup_made */
	node_put(fs, parent);
	return err;
}

/* Publish a file this node created, or the first version of a lower one: judged again where
 * the store says its directory is now, a few times, while the store says it moved; one that
 * keeps moving fails the commit (-EIO).  Refused before the store ran it, or by the last
 * -EAGAIN, it releases the chunks at once: no call that took them ran. */
static int publish_new(struct pfs *fs, struct node *n, struct ofile *of, char cls, size_t nch,
		       const uint64_t *ids, bool merge, struct store_attr *a)
{
	bool asked = false;
	int err = -EAGAIN;

	for (int i = 0; i < 5 && err == -EAGAIN; i++)
		err = publish_at(fs, n, of, cls, nch, ids, merge, a, i > 0, &asked);
	if (cls == 's' && (err == -EAGAIN || (err && !asked)))
		store_release_chunks(fs->store, nch, ids);
	return err == -EAGAIN ? -EIO : err;
}

/* Publish the node's file.  Caller holds of->lock.  One piece: the three ways a commit goes
 * (an append, a new file, a new version) share their bookkeeping before and after. */
/* A cache file this peer just committed: it holds the bytes (the staged copy), so it keeps
 * them and shows the file whole even if the pool drops it (overlay/content.h). */
static void seed_content(struct pfs *fs, struct node *n, struct ofile *of,
			 const struct store_attr *a)
{
	struct content *c = content_alloc(a);

	if (!c)
		return;
	if (of_read(fs, of, c->data, (size_t)a->size, 0) == (ssize_t)a->size)
		content_offer(fs, n, c);
	content_put(fs, c);
}

int of_commit(struct pfs *fs, struct node *n, struct ofile *of)
{
	struct store_attr a = {0};
	size_t nch = nchunks_of(of->size);
	uint64_t *ids = NULL, sino;
	struct cls_verdict v;
	bool appended, unlinked;
	uint64_t token;
	int err;

	if (!of->dirty)
		return 0;
	token = trust_begin(fs); /* the commit's answer is kept if nothing came meanwhile */
	pthread_mutex_lock(&fs->lock);
	unlinked = (n->flags & N_UNLINKED) != 0;
	sino = n->sino;
	pthread_mutex_unlock(&fs->lock);
	if (unlinked && (of->pending || of->base_lower || !sino)) {
		of->dirty = false; /* removed while open: its data goes with it */
		return 0;
	}
	/* (A store file whose name went still commits by inode: it may have other names, hard
	 * links; if it has none, the store says so and the commit is dropped below.) */
	{
		char path[PFS_PATH_MAX];

		err = judge_commit(fs, n, of, &v, path);
		if (err)
			return err;
	}
	appended = of->append_only && !of->pending && !of->base_lower && sino &&
		   of->size > of->base_size && of->cls == 's';
	if (appended) {
		size_t len = (size_t)(of->size - of->base_size);
		char *buf = malloc(len);
		ssize_t r = buf ? of_read(fs, of, buf, len, of->base_size) : -ENOMEM;

		err = r < 0 ? (int)r : store_append(fs->store, sino, buf, len, of->mtime_ns, &a);
		free(buf);
		if (!err)
			stats_event(EV_APPEND);
		goto done;
	}
	err = of_states(of, nch + 1);
	if (err)
		return err;
	ids = calloc(nch ? nch : 1, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	{
		struct upload_src u = {fs, of};

		err = chunks_upload(fs, of->cls, of->size, nch, of_chunk, &u, ids);
	}
	if (err)
		goto out;
	if (of->pending || of->base_lower) {
		/* A log created here with O_APPEND while another node created it too: both
		 * nodes' lines are kept, as O_APPEND promises, instead of the last close winning.
		 */
		bool merge = of->pending && of->append_only && of->o_append && of->cls == 's';

		err = publish_new(fs, n, of, v.store_cls, nch, ids, merge, &a);
		if (!err && of->base_lower)
			stats_event(EV_COPY_UP);
		/* Merged into another node's log: this node's pages hold only its own lines. */
		if (!err && merge && a.size != of->size)
			appended = true;
	} else {
		err = store_commit(fs->store, sino, of->size, nch, ids, of->mtime_ns, &a);
		if (err == -ENOENT) {
			log_msg(LOG_LVL_DEBUG, "commit of a file removed elsewhere dropped");
			of->dirty = false;
			err = 0;
			goto out;
		}
	}
done:
	if (err)
		goto out;
	/* Close-to-open across peers: once the answer to this PING is here, every peer has the
	 * commit's message on its socket, where an open looks first (store_listen_pending).
	 * The commit is made whatever it says. */
	store_sync(fs->store);
	stats_event(EV_COMMIT);
	pthread_mutex_lock(&fs->lock);
	node_set_sino(fs, n, a.ino);
	if (!appended) {
		/* The kernel's pages and size are what was just written: this version. */
		node_remember(n, &a);
		trust_keep_locked(fs, n, &a, token);
		n->cached_version = a.version;
		n->written_version = a.version;
		n->cache_primed = true;
	} else {
		n->cached_version = UINT64_MAX; /* others' appends are not in its pages */
	}
	pthread_mutex_unlock(&fs->lock);
	if (!appended && of->cls == 'c')
		seed_content(fs, n, of, &a);
	if (of->base_lower) {
		close(of->lower_fd);
		of->lower_fd = -1;
	}
	store_attr_release(&of->base);
	of->base = a;
	memset(&a, 0, sizeof(a));
	of->base_lower = of->pending = false;
	if (appended) {
		/* Others may have appended too: forget the staged copy, read the store's. */
		for (size_t i = 0; i < of->nstate; i++)
			of->state[i] = CH_BASE;
		if (of->fd >= 0 && ftruncate(of->fd, 0) < 0)
			err = -errno;
		of->size = of->base.size;
	} else {
		for (size_t i = 0; i < of->nstate; i++)
			if (of->state[i] == CH_DIRTY)
				of->state[i] = CH_STAGED;
	}
	of->base_size = of->base.size;
	of->dirty = false;
	of->append_only = true;
	of->o_append = true;
out:
	store_attr_release(&a);
	free(ids);
	if (err)
		log_msg(LOG_LVL_WARN, "commit failed: %s (%s)", strerror(-err),
			err == -EIO ? store_strerror(fs->store) : "");
	return err;
}

/* --- ofile lifetime ------------------------------------------------------------------ */

static struct ofile *of_new(void)
{
	struct ofile *of = calloc(1, sizeof(*of));

	if (!of)
		return NULL;
	pthread_mutex_init(&of->lock, NULL);
	of->fd = -1;
	of->lower_fd = -1;
	of->append_only = true;
	of->o_append = true;
	of->cls = 's';
	return of;
}

static void of_free(struct ofile *of)
{
	if (of->fd >= 0)
		close(of->fd);
	if (of->lower_fd >= 0)
		close(of->lower_fd);
	store_attr_release(&of->base);
	free(of->state);
	pthread_mutex_destroy(&of->lock);
	free(of);
}

struct ofile *of_new_pending(mode_t mode, uid_t uid, gid_t gid, char cls)
{
	struct ofile *of = of_new();

	if (!of)
		return NULL;
	of->pending = true;
	of->dirty = true; /* even an empty new file is published on close */
	of->mode = S_IFREG | classes_file_mode(mode);
	of->uid = uid;
	of->gid = gid;
	of->cls = cls;
	of->mtime_ns = now_ns();
	of->nopen = 1;
	return of;
}

struct ofile *of_ref(struct pfs *fs, struct node *n)
{
	struct ofile *of;

	pthread_mutex_lock(&fs->lock);
	of = n->of;
	if (of)
		of->nopen++;
	pthread_mutex_unlock(&fs->lock);
	return of;
}

/* The class a lower file's first version goes to. */
static int copy_up_class(struct pfs *fs, const char *path, size_t len, char *cls)
{
	struct cls_verdict v;
	int err = classes_check(fs, CLS_COPY_UP, path, len, NULL, &v);

	*cls = v.store_cls;
	return err;
}

int of_get(struct pfs *fs, struct node *n, struct ofile **out)
{
	char path[PFS_PATH_MAX];
	struct ofile *of;
	int len, err = 0;

	uint64_t sino;

	of = of_ref(fs, n);
	if (of) {
		*out = of;
		return 0;
	}
	of = of_new();
	if (!of)
		return -ENOMEM;
	len = node_path(fs, n, path, sizeof(path));
	if (len < 0) {
		err = len;
		goto fail;
	}
	sino = node_sino(fs, n);
	if (sino) {
		err = store_getattr(fs->store, sino, &of->base);
		if (err == -ENOENT)
			err = -ESTALE;
		if (err)
			goto fail;
		of->size = of->base_size = of->base.size;
		of->cls = of->base.cls == 'c' ? 'c' : 's';
	} else {
		struct stat st;

		of->lower_fd = lower_open(fs, path);
		if (of->lower_fd < 0) {
			err = of->lower_fd;
			goto fail;
		}
		if (fstat(of->lower_fd, &st) < 0) {
			err = -errno;
			goto fail;
		}
		of->base_lower = true;
		err = copy_up_class(fs, path, (size_t)len, &of->cls);
		if (err)
			goto fail;
		of->size = of->base_size = (uint64_t)st.st_size;
		of->mode = st.st_mode;
		of->uid = st.st_uid;
		of->gid = st.st_gid;
		of->mtime_ns = ts_ns(&st.st_mtim);
	}
	err = of_states(of, nchunks_of(of->size) + 1);
	if (err)
		goto fail;
	of->nopen = 1;
	pthread_mutex_lock(&fs->lock);
	if (n->of) { /* another thread was quicker */
		n->of->nopen++;
		pthread_mutex_unlock(&fs->lock);
		of_free(of);
		*out = n->of;
		return 0;
	}
	n->of = of;
	pthread_mutex_unlock(&fs->lock);
	*out = of;
	return 0;
fail:
	of_free(of);
	return err;
}

int of_put(struct pfs *fs, struct node *n, struct ofile *of)
{
	int err = 0, last;

	pthread_mutex_lock(&fs->lock);
	last = --of->nopen == 0;
	if (last)
		n->of = NULL;
	pthread_mutex_unlock(&fs->lock);
	if (!last)
		return 0;
	pthread_mutex_lock(&of->lock);
	err = of_commit(fs, n, of);
	pthread_mutex_unlock(&of->lock);
	if (err) {
		char path[PFS_PATH_MAX];

		if (node_path(fs, n, path, sizeof(path)) < 0)
			strcpy(path, "?");
		log_msg(LOG_LVL_ERR, "data of %s lost: the last close could not commit it", path);
	}
	of_free(of);
	return err;
}

void of_abandon(struct pfs *fs, struct node *n, struct ofile *of)
{
	if (!n) { /* never attached to a node */
		of_free(of);
		return;
	}
	pthread_mutex_lock(&of->lock);
	of->dirty = false;
	pthread_mutex_unlock(&of->lock);
	of_put(fs, n, of);
}

/* These read n->of under fs->lock: the state is detached from the node under it before it is
 * freed, so it cannot go while they look. */
int64_t file_local_size(struct pfs *fs, struct node *n)
{
	int64_t size;

	pthread_mutex_lock(&fs->lock);
	size = n->of ? (int64_t)n->of->size : -1;
	pthread_mutex_unlock(&fs->lock);
	return size;
}

bool file_pending_locked(const struct node *n)
{
	return n->of && n->of->pending;
}

bool file_pending(struct pfs *fs, struct node *n)
{
	bool pending;

	pthread_mutex_lock(&fs->lock);
	pending = file_pending_locked(n);
	pthread_mutex_unlock(&fs->lock);
	return pending;
}

bool file_open_here(struct pfs *fs, struct node *n)
{
	bool open;

	pthread_mutex_lock(&fs->lock);
	open = n->of != NULL;
	pthread_mutex_unlock(&fs->lock);
	return open;
}

static int attr_locked(struct node *n, struct stat *st)
{
	struct ofile *of = n->of;

	if (!of || !of->pending)
		return -ENOENT;
	memset(st, 0, sizeof(*st));
	st->st_ino = attr_ino_new(of->ino, n);
	st->st_mode = of->mode;
	st->st_nlink = 1;
	st->st_uid = of->uid;
	st->st_gid = of->gid;
	st->st_size = (off_t)of->size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((of->size + 511) / 512);
	st->st_mtim.tv_sec = of->mtime_ns / 1000000000;
	st->st_mtim.tv_nsec = of->mtime_ns % 1000000000;
	st->st_atim = st->st_ctim = st->st_mtim;
	return 0;
}

int file_attr(struct pfs *fs, struct node *n, struct stat *st)
{
	int err;

	pthread_mutex_lock(&fs->lock);
	err = attr_locked(n, st);
	pthread_mutex_unlock(&fs->lock);
	return err;
}

int file_commit(struct pfs *fs, struct node *n)
{
	struct ofile *of;
	int err;

	of = of_ref(fs, n);
	if (!of)
		return 0;
	pthread_mutex_lock(&of->lock);
	err = of_commit(fs, n, of);
	pthread_mutex_unlock(&of->lock);
	of_put(fs, n, of);
	return err;
}

int file_truncate(struct pfs *fs, struct node *n, struct fuse_file_info *fi, off_t size)
{
	struct ofile *of;
	int err = of_get(fs, n, &of);

	if (err)
		return err;
	pthread_mutex_lock(&of->lock);
	err = of_resize(fs, of, (uint64_t)size);
	if (!err && !fi)
		err = of_commit(fs, n, of); /* truncate(2): no close will follow */
	pthread_mutex_unlock(&of->lock);
	if (!err)
		err = of_put(fs, n, of);
	else
		of_put(fs, n, of);
	return err;
}
