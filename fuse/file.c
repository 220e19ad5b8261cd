/* file.c - open files: reads from the lower tree or the store, writes staged in a node-local
 * temporary file and published to the store on close in one atomic commit, and copy-up.
 *
 * All handles of one file on this node share one struct ofile, so that what one process
 * writes another on the same node reads at once; other nodes see it after the close that
 * commits it (close-to-open).  An O_APPEND-only change is committed as an append at the
 * store's current end, so appends from several nodes never overwrite each other. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pool.h"
#include "pressfs.h"
#include "stats.h"

#define CHUNK	     STORE_CHUNK_SIZE
#define UPLOAD_BATCH 8 /* chunks per pipelined upload */

enum chunk_state {
	CH_BASE = 0, /* the base (store chunk or lower file) holds it; nothing staged */
	CH_STAGED,   /* staged copy equals the base: read it locally */
	CH_DIRTY,    /* staged copy is newer than the base: upload on commit */
};

struct ofile {
	pthread_mutex_t lock;
	int nopen;
	int fd;		/* staging file (O_TMPFILE), -1 until needed */
	uint64_t size;	/* the file's size as this node sees it */
	uint8_t *state; /* enum chunk_state per chunk */
	size_t nstate;
	bool base_lower; /* base is the lower file: the first commit copies it up */
	int lower_fd;
	struct store_attr base; /* base is this store file (when !base_lower && !pending) */
	bool pending;		/* created here, not in the store until the first commit */
	bool dirty;
	bool append_only; /* every change since the base was an append at its end */
	bool o_append;	  /* ... and every write came through an O_APPEND handle */
	char cls;	  /* where the content lives: 's' Redis, 'c' memcached */
	uint64_t base_size;
	uint32_t mode, uid, gid;
	int64_t mtime_ns;
};

struct fh {
	struct node *n;
	bool writer;
	bool append;
	bool local;		/* lower_fd is the per-node directory's file */
	bool cached;		/* uses the page cache: counted in n->cached_open */
	int lower_fd;		/* reading a lower file: its descriptor, else -1 */
	struct store_attr snap; /* reading a store file: the version opened */
	bool snap_valid;
	bool outage; /* opened while the store was down: the kernel's pages only */
	char *blob;  /* reading a cache file: all of it, fetched at open */
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static size_t nchunks_of(uint64_t size)
{
	return (size_t)((size + CHUNK - 1) / CHUNK);
}

static int lower_open(struct pfs *fs, const char *path)
{
	int fd = openat(fs->lower_fd, path[1] ? path + 1 : ".", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

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

/* Log memcached's outages once each (cache files are on the page-serving path: one line per
 * request would drown the log), and say when it answers again. */
static void cache_state(struct pfs *fs, bool down)
{
	bool was = __atomic_exchange_n(&fs->pool_down, down, __ATOMIC_RELAXED);

	if (down && !was)
		log_msg(LOG_LVL_WARN, "memcached cannot be reached: cache files look absent%s (%s)",
			fs->pool_drop ? ", cache writes are dropped" : ", cache writes fail",
			pool_strerror(fs->pool));
	else if (!down && was)
		log_msg(LOG_LVL_INFO, "memcached answers again");
}

/* Part of a cache file's chunk, for a writer that keeps the rest: memcached having lost it
 * fails the write (the file is gone for every reader already). */
static ssize_t cache_chunk(struct pfs *fs, uint64_t id, size_t off, size_t len, char *buf)
{
	ssize_t got = fs->pool ? pool_read_chunk(fs->pool, id, off, len, buf) : -EIO;

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
		got = cache_chunk(fs, of->base.chunks[i], off, want, buf);
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
static int of_resize(struct pfs *fs, struct ofile *of, uint64_t size)
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

static ssize_t of_write(struct pfs *fs, struct ofile *of, const char *buf, size_t len, uint64_t off)
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

static ssize_t of_read(struct pfs *fs, struct ofile *of, char *buf, size_t len, uint64_t off)
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

/* Chunks of a cache file: ids from the store, bytes to memcached.  With pool_fail=drop a
 * chunk memcached did not take is left out: the file is published and the first open finds
 * it evicted. */
static int put_cache(struct pfs *fs, size_t k, const void *const *data, const size_t *lens,
		     uint64_t *got)
{
	int err;

	if (!fs->pool)
		return -EIO;
	err = store_alloc_ids(fs->store, k, got);
	for (size_t j = 0; j < k && !err; j++) {
		err = pool_put(fs->pool, got[j], data[j], lens[j]);
		cache_state(fs, err == -EIO);
		if (err) {
			stats_event(EV_STORE_ERROR);
			if (fs->pool_drop)
				err = 0;
		}
	}
	return err;
}

static int put_batch(struct pfs *fs, struct ofile *of, size_t k, const void *const *data,
		     const size_t *lens, const size_t *idx, uint64_t *ids)
{
	uint64_t got[UPLOAD_BATCH];
	int err = 0;

	if (k)
		err = of->cls == 'c' ? put_cache(fs, k, data, lens, got)
				     : store_put_chunks(fs->store, k, data, lens, got);
	for (size_t j = 0; j < k && !err; j++)
		ids[idx[j]] = got[j];
	return err;
}

/* The chunk list of the file as it is now: chunks the base has unchanged are kept, the rest
 * uploaded (pipelined, UPLOAD_BATCH at a time); never-written chunks of a new file are holes. */
static int upload(struct pfs *fs, struct ofile *of, size_t nch, uint64_t *ids)
{
	bool have_base = !of->base_lower && !of->pending;
	const void *data[UPLOAD_BATCH];
	size_t lens[UPLOAD_BATCH], idx[UPLOAD_BATCH], k = 0;
	char *bufs = malloc((size_t)UPLOAD_BATCH * CHUNK);
	int err = 0;

	if (!bufs)
		return -ENOMEM;
	for (size_t i = 0; i < nch && !err; i++) {
		uint64_t cs = (uint64_t)i * CHUNK;
		size_t len = of->size - cs < CHUNK ? (size_t)(of->size - cs) : CHUNK;
		ssize_t r;

		/* memcached content is never kept across versions (it may be evicted in
		 * between): a cache file's every chunk but its holes is uploaded again */
		if (have_base && of->state[i] != CH_DIRTY &&
		    (of->cls != 'c' || i >= of->base.nchunks || !of->base.chunks[i])) {
			ids[i] = i < of->base.nchunks ? of->base.chunks[i] : 0;
			continue;
		}
		if (of->pending && of->state[i] == CH_BASE) {
			ids[i] = 0;
			continue;
		}
		r = of_read(fs, of, bufs + k * CHUNK, len, cs);
		if (r < 0) {
			err = (int)r;
			break;
		}
		data[k] = bufs + k * CHUNK;
		lens[k] = len;
		idx[k++] = i;
		if (k == UPLOAD_BATCH) {
			err = put_batch(fs, of, k, data, lens, idx, ids);
			k = 0;
		}
	}
	if (!err)
		err = put_batch(fs, of, k, data, lens, idx, ids);
	free(bufs);
	return err;
}

/* Publish the node's file.  Caller holds of->lock. */
static int of_commit(struct pfs *fs, struct node *n, struct ofile *of)
{
	struct store_attr a = {0};
	size_t nch = nchunks_of(of->size);
	uint64_t *ids = NULL;
	bool appended;
	int err;

	if (!of->dirty)
		return 0;
	if (n->flags & N_UNLINKED) {
		of->dirty = false; /* removed while open: its data goes with it */
		return 0;
	}
	appended = of->append_only && !of->pending && !of->base_lower && n->sino &&
		   of->size > of->base_size && of->cls == 's';
	if (appended) {
		size_t len = (size_t)(of->size - of->base_size);
		char *buf = malloc(len);
		ssize_t r = buf ? of_read(fs, of, buf, len, of->base_size) : -ENOMEM;

		err = r < 0 ? (int)r : store_append(fs->store, n->sino, buf, len, of->mtime_ns, &a);
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
	err = upload(fs, of, nch, ids);
	if (err)
		goto out;
	if (of->pending || of->base_lower) {
		/* A log created here with O_APPEND while another node created it too: both
		 * nodes' lines are kept, as O_APPEND promises, instead of the last close winning.
		 */
		bool merge = of->pending && of->append_only && of->o_append && of->cls == 's';
		uint64_t psino;
		struct node *parent;

		pthread_mutex_lock(&fs->lock);
		parent = n->parent;
		parent->nref++;
		pthread_mutex_unlock(&fs->lock);
		err = upper_dir_make(fs, parent, &psino);
		if (!err)
			err = store_publish_new(fs->store, psino, n->name, n->namelen, of->mode,
						of->uid, of->gid, of->cls, of->size, nch, ids,
						merge, &a);
		node_put(fs, parent);
		if (!err && of->base_lower)
			stats_event(EV_COPY_UP);
		/* Merged into another node's log: this node's pages hold only its own lines. */
		if (!err && merge && a.size != of->size)
			appended = true;
	} else {
		err = store_commit(fs->store, n->sino, of->size, nch, ids, of->mtime_ns, &a);
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
	stats_event(EV_COMMIT);
	pthread_mutex_lock(&fs->lock);
	node_set_sino(fs, n, a.ino);
	if (!appended) {
		/* The kernel's pages and size are what was just written: this version. */
		node_remember(n, &a);
		n->cached_version = a.version;
		n->cache_primed = true;
	} else {
		n->cached_version = UINT64_MAX; /* others' appends are not in its pages */
	}
	pthread_mutex_unlock(&fs->lock);
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

/* The node's shared write state, made from the file as the layers hold it now.  Takes one
 * open count; drop it with of_put. */
static int of_get(struct pfs *fs, struct node *n, struct ofile **out)
{
	char path[PATH_MAX];
	struct ofile *of;
	int len, err = 0;

	pthread_mutex_lock(&fs->lock);
	of = n->of;
	if (of)
		of->nopen++;
	pthread_mutex_unlock(&fs->lock);
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
	if (n->sino) {
		err = store_getattr(fs->store, n->sino, &of->base);
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
		of->cls = fs->pool && policy_class_of(fs->policy, path, (size_t)len) == POLICY_CACHE
			      ? 'c'
			      : 's';
		of->size = of->base_size = (uint64_t)st.st_size;
		of->mode = st.st_mode;
		of->uid = st.st_uid;
		of->gid = st.st_gid;
		of->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
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

/* Drop an open count; the last one commits what is left and frees the state. */
static int of_put(struct pfs *fs, struct node *n, struct ofile *of)
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
	if (err)
		log_msg(LOG_LVL_ERR, "data of %s lost: the last close could not commit it",
			n->name);
	of_free(of);
	return err;
}

int64_t file_local_size(struct node *n)
{
	struct ofile *of = n->of;

	return of ? (int64_t)of->size : -1;
}

bool file_pending(struct node *n)
{
	return n->of && n->of->pending;
}

int copy_up_file(struct pfs *fs, struct node *n)
{
	struct ofile *of;
	int err = of_get(fs, n, &of);

	if (err)
		return err;
	pthread_mutex_lock(&of->lock);
	if (of->base_lower)
		of->dirty = true;
	err = of_commit(fs, n, of);
	pthread_mutex_unlock(&of->lock);
	of_put(fs, n, of);
	return err;
}

int file_commit(struct pfs *fs, struct node *n)
{
	struct ofile *of;
	int err;

	pthread_mutex_lock(&fs->lock);
	of = n->of;
	if (of)
		of->nopen++;
	pthread_mutex_unlock(&fs->lock);
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

/* --- handlers ------------------------------------------------------------------------ */

static void fh_free(struct fh *fh)
{
	free(fh->blob);
	if (fh->lower_fd >= 0)
		close(fh->lower_fd);
	store_attr_release(&fh->snap);
	free(fh);
}

/* A cache file is read whole at open, or not at all: if memcached lost any part of it, the
 * file is gone, for every node (its entry is removed, unless a newer version took the name
 * meanwhile), and the open fails with ENOENT.  A pool that cannot be asked only makes the
 * file look absent here. */
static int cache_load(struct pfs *fs, struct node *n, struct fh *fh)
{
	const struct store_attr *a = &fh->snap;
	int err;

	if (!fs->pool) {
		log_msg(LOG_LVL_DEBUG, "%s is a cache file and this mount has no cache= pool",
			n->name);
		return -ENOENT;
	}
	if (a->size > SIZE_MAX - 1)
		return -EFBIG;
	fh->blob = malloc(a->size ? (size_t)a->size : 1);
	if (!fh->blob)
		return -ENOMEM;
	err = pool_fetch(fs->pool, a, fh->blob);
	cache_state(fs, err == -EIO);
	if (!err)
		return 0;
	free(fh->blob);
	fh->blob = NULL;
	if (err == -ENOENT) {
		char name[NAME_MAX + 1];
		size_t namelen;
		uint64_t dir;
		bool lower;

		/* the name as it is now, copied: a rename may replace it meanwhile */
		pthread_mutex_lock(&fs->lock);
		dir = n->parent ? n->parent->sino : 0;
		namelen = n->namelen < sizeof(name) ? n->namelen : 0;
		memcpy(name, n->name, namelen);
		lower = (n->flags & N_LOWER) != 0;
		pthread_mutex_unlock(&fs->lock);
		if (dir && namelen &&
		    store_drop_cache(fs->store, dir, name, namelen, a->ino, a->version, lower) == 1)
			log_msg(LOG_LVL_DEBUG, "cache file %.*s evicted: removed", (int)namelen,
				name);
		pthread_mutex_lock(&fs->lock);
		node_unhash(fs, n);
		pthread_mutex_unlock(&fs->lock);
	} else if (err == -EIO) {
		stats_event(EV_STORE_ERROR);
	}
	return err == -ENOMEM ? err : -ENOENT;
}

#define SETTLE_NS 1000000000ll /* a version this old has no reads of older ones in flight */

/* May a handle opened on version V of N use the kernel's page cache?  Its pages must all be
 * V's and the kernel must have been told V's size.  So: only once V has settled (a readahead
 * of a closed handle on an older version can still be answered, and fill pages, just after
 * a change), only while no cached handle of another version is open, and the first such
 * handle drops whatever the cache held.  Any other handle reads around the cache. */
static bool cache_decide(struct pfs *fs, struct node *n, uint64_t v, bool settled,
			 struct fuse_file_info *fi)
{
	bool cached = false;

	pthread_mutex_lock(&fs->lock);
	if (v == n->told_version && settled && (v == n->cached_version || n->cached_open == 0)) {
		if (v != n->cached_version) {
			n->cached_version = v;
			n->cache_primed = false;
		}
		fi->keep_cache = n->cache_primed;
		n->cache_primed = true;
		n->cached_open++;
		cached = true;
	} else {
		fi->direct_io = 1;
		fi->keep_cache = 0;
	}
	pthread_mutex_unlock(&fs->lock);
	return cached;
}

static bool settled(const struct store_attr *a)
{
	return now_ns() - a->ctime_ns >= SETTLE_NS;
}

/* The store cannot be reached as N is opened for reading: if the kernel holds all the pages of
 * the version it was last told of, let it go on serving them (see "outages" in namei.c); a read
 * that reaches the daemon anyway fails with EIO. */
static bool outage_open(struct pfs *fs, struct node *n, struct fh *fh, struct fuse_file_info *fi)
{
	bool ok;

	pthread_mutex_lock(&fs->lock);
	ok = n->cache_primed && n->cached_version == n->told_version && n->known.valid;
	if (ok) {
		n->cached_open++;
		fh->cached = fh->outage = true;
		fi->keep_cache = 1;
	}
	pthread_mutex_unlock(&fs->lock);
	if (ok)
		stats_event(EV_OUTAGE_READ);
	return ok;
}

/* Open N for the handle FI describes; fills what the kernel should keep in FI. */
static int open_node(struct pfs *fs, struct node *n, struct fuse_file_info *fi)
{
	int acc = fi->flags & O_ACCMODE;
	bool writer = acc != O_RDONLY || (fi->flags & O_TRUNC);
	char path[PATH_MAX];
	struct fh *fh;
	int len, err = 0;

	len = node_path(fs, n, path, sizeof(path));
	if (len < 0)
		return len;
	if (writer) {
		err = policy_check_write(fs, path, len);
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
		/* Never changes while mounted: the kernel may keep its pages and skip FLUSH. */
		fh->lower_fd = lower_open(fs, path);
		if (fh->lower_fd < 0) {
			err = fh->lower_fd;
			goto fail;
		}
		fi->keep_cache = 1;
		fi->noflush = 1;
		goto done;
	}
	if (!file_pending(n) && !(n->flags & N_UNLINKED)) {
		/* Close-to-open: ask the store which file the name is now.  (A node this node
		 * itself removed or replaced was reached by an open racing that change: like a
		 * local file system, it gets the file it reached, kept for grace_ms.) */
		struct fuse_entry_param e;
		struct node *again;

		err = overlay_lookup(fs, n->parent, n->name, n->namelen, &e, &again);
		if (err)
			goto fail;
		if (!again) {
			err = -ENOENT;
			goto fail;
		}
		node_forget(fs, again, 1);
		if (again != n) {
			err = -ESTALE; /* the name is another file now: look it up again */
			goto fail;
		}
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
	} else if (n->sino) {
		err = store_getattr(fs->store, n->sino, &fh->snap);
		if (err == -EIO && outage_open(fs, n, fh, fi))
			goto done;
		if (err)
			goto fail;
		fh->snap_valid = true;
		if (fh->snap.cls == 'c') {
			err = cache_load(fs, n, fh);
			if (err)
				goto fail;
		}
	} else if (!file_pending(n)) {
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
		/* Lower files (version 0) never change: always settled. */
		fh->cached = cache_decide(fs, n, a ? a->version : 0, a ? settled(a) : true, fi);
	}
done:
	node_hold(fs, n);
	fi->fh = (uintptr_t)fh;
	return 0;
fail:
	fh_free(fh);
	return err;
}

void pfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pfs *fs = fuse_req_userdata(req);
	int err;

	stats_count(OP_OPEN);
	err = open_node(fs, node_get(fs, ino), fi);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_open(req, fi);
}

/* O_CREAT in a local area: the file is made at once in the per-node directory. */
static void create_local(fuse_req_t req, struct pfs *fs, struct node *p, const char *name,
			 const char *path, mode_t mode, struct fuse_file_info *fi)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fuse_entry_param e;
	struct node *n;
	int fd, err;

	fd = local_open(fs, path, fi->flags | O_CREAT, mode & 07777);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	if (fchown(fd, ctx->uid, ctx->gid) < 0)
		log_msg(LOG_LVL_DEBUG, "local file %s keeps the daemon's owner", path);
	err = overlay_lookup(fs, p, name, strlen(name), &e, &n);
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
			fuse_reply_create(req, &e, fi);
			return;
		}
	}
	close(fd);
	fuse_reply_err(req, -err);
}

void pfs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		struct fuse_file_info *fi)
{
	struct pfs *fs = fuse_req_userdata(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct node *p = node_get(fs, parent), *n;
	size_t namelen = strlen(name);
	struct fuse_entry_param e;
	char path[PATH_MAX];
	struct ofile *of;
	uint64_t psino;
	int len, err;

	stats_count(OP_CREATE);
	len = write_path(fs, p, name, namelen, path, sizeof(path));
	err = len < 0 ? len : 0;
	if (err)
		goto out;
	err = overlay_lookup(fs, p, name, namelen, &e, &n);
	if (err)
		goto out;
	if (n) {
		/* It exists after all (made on another node since the kernel looked). */
		if (fi->flags & O_EXCL) {
			node_forget(fs, n, 1);
			err = -EEXIST;
			goto out;
		}
		err = S_ISDIR(n->type) ? -EISDIR : open_node(fs, n, fi);
		if (err) {
			node_forget(fs, n, 1);
			goto out;
		}
		fuse_reply_create(req, &e, fi);
		return;
	}
	if (node_policy_flags(fs, path, len, NULL) & N_LOCAL) {
		create_local(req, fs, p, name, path, mode, fi);
		return;
	}
	/* Make the parent's upper directory now, so that a store outage shows here. */
	err = upper_dir_make(fs, p, &psino);
	if (err)
		goto out;
	of = of_new();
	if (!of) {
		err = -ENOMEM;
		goto out;
	}
	of->pending = true;
	of->dirty = true; /* even an empty new file is published on close */
	of->mode = S_IFREG | (mode & 07777);
	of->uid = ctx->uid;
	of->gid = ctx->gid;
	of->mtime_ns = now_ns();
	of->nopen = 1;

	pthread_mutex_lock(&fs->lock);
	n = node_find(fs, p, name, namelen);
	if (n)
		node_unhash(fs, n);
	n = node_child(fs, p, name, namelen);
	if (n) {
		n->type = S_IFREG;
		n->flags = node_policy_flags(fs, path, len, &n->cls);
		of->cls = fs->pool && n->cls == POLICY_CACHE ? 'c' : 's';
		node_set_sino(fs, n, 0);
		n->cached_version = 0;
		n->of = of;
	}
	pthread_mutex_unlock(&fs->lock);
	if (!n) {
		of_free(of);
		err = -ENOMEM;
		goto out;
	}
	{
		struct fh *fh = calloc(1, sizeof(*fh));

		if (!fh) {
			of_put(fs, n, of);
			node_forget(fs, n, 1);
			err = -ENOMEM;
			goto out;
		}
		fh->n = n;
		fh->lower_fd = -1;
		fh->writer = true;
		fh->append = (fi->flags & O_APPEND) != 0;
		if (fh->append)
			fi->direct_io = 1;
		node_hold(fs, n);
		fi->fh = (uintptr_t)fh;
	}
	memset(&e, 0, sizeof(e));
	e.ino = node_id(fs, n);
	e.generation = n->generation;
	e.attr.st_ino = (ino_t)(uintptr_t)n | (1ull << 63);
	e.attr.st_mode = of->mode;
	e.attr.st_nlink = 1;
	e.attr.st_uid = of->uid;
	e.attr.st_gid = of->gid;
	e.attr.st_blksize = 4096;
	e.attr.st_mtim.tv_sec = of->mtime_ns / 1000000000;
	e.attr.st_mtim.tv_nsec = of->mtime_ns % 1000000000;
	e.attr.st_atim = e.attr.st_ctim = e.attr.st_mtim;
	e.entry_timeout = entry_timeout_for(n->flags);
	e.attr_timeout = attr_timeout_for(n);
	fuse_reply_create(req, &e, fi);
	return;
out:
	fuse_reply_err(req, -err);
}

int file_attr(struct node *n, struct stat *st)
{
	struct ofile *of = n->of;

	if (!of || !of->pending)
		return -ENOENT;
	memset(st, 0, sizeof(*st));
	st->st_ino = (ino_t)(uintptr_t)n | (1ull << 63);
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

void pfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct pfs *fs = fuse_req_userdata(req);
	struct fh *fh = (struct fh *)(uintptr_t)fi->fh;
	struct ofile *of;
	char *buf;
	ssize_t got;
	(void)ino;

	stats_count(OP_READ);
	if (fh->outage) {
		fuse_reply_err(req, EIO);
		return;
	}
	if (fh->lower_fd >= 0 && !fh->n->of) {
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);

		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv.buf[0].fd = fh->lower_fd;
		bv.buf[0].pos = off;
		fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
		return;
	}
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	of = fh->n->of;
	if (of)
		of->nopen++;
	pthread_mutex_unlock(&fs->lock);
	if (of) {
		pthread_mutex_lock(&of->lock);
		got = of_read(fs, of, buf, size, (uint64_t)off);
		pthread_mutex_unlock(&of->lock);
		of_put(fs, fh->n, of);
	} else if (fh->blob) {
		got = 0;
		if ((uint64_t)off < fh->snap.size) {
			got = (ssize_t)((uint64_t)size < fh->snap.size - (uint64_t)off
					    ? size
					    : fh->snap.size - (uint64_t)off);
			memcpy(buf, fh->blob + off, (size_t)got);
		}
	} else if (fh->snap_valid) {
		got = snap_read(fs, &fh->snap, buf, size, (uint64_t)off);
	} else if (fh->lower_fd >= 0) {
		got = pread(fh->lower_fd, buf, size, off);
		if (got < 0)
			got = -errno;
	} else {
		got = 0;
	}
	if (got < 0)
		fuse_reply_err(req, (int)-got);
	else
		fuse_reply_buf(req, buf, (size_t)got);
	free(buf);
}

void pfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
	       struct fuse_file_info *fi)
{
	struct pfs *fs = fuse_req_userdata(req);
	struct fh *fh = (struct fh *)(uintptr_t)fi->fh;
	struct ofile *of = fh->n->of;
	ssize_t done;
	(void)ino;

	stats_count(OP_WRITE);
	if (fh->local) {
		done = pwrite(fh->lower_fd, buf, size, off);
		if (done < 0)
			fuse_reply_err(req, errno);
		else
			fuse_reply_write(req, (size_t)done);
		return;
	}
	if (!fh->writer || !of) {
		fuse_reply_err(req, EBADF);
		return;
	}
	pthread_mutex_lock(&of->lock);
	if (!fh->append)
		of->o_append = false;
	done = of_write(fs, of, buf, size, fh->append ? of->size : (uint64_t)off);
	pthread_mutex_unlock(&of->lock);
	if (done < 0)
		fuse_reply_err(req, (int)-done);
	else
		fuse_reply_write(req, (size_t)done);
}

static int commit_handle(struct pfs *fs, struct fh *fh)
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

void pfs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pfs *fs = fuse_req_userdata(req);
	(void)ino;

	stats_count(OP_FLUSH);
	fuse_reply_err(req, -commit_handle(fs, (struct fh *)(uintptr_t)fi->fh));
}

void pfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct pfs *fs = fuse_req_userdata(req);
	(void)ino;
	(void)datasync;

	stats_count(OP_FSYNC);
	fuse_reply_err(req, -commit_handle(fs, (struct fh *)(uintptr_t)fi->fh));
}

void pfs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pfs *fs = fuse_req_userdata(req);
	struct fh *fh = (struct fh *)(uintptr_t)fi->fh;
	struct node *n = fh->n;
	(void)ino;

	stats_count(OP_RELEASE);
	if (fh->cached) {
		pthread_mutex_lock(&fs->lock);
		n->cached_open--;
		pthread_mutex_unlock(&fs->lock);
	}
	if (fh->writer && n->of)
		of_put(fs, n, n->of);
	fh_free(fh);
	node_put(fs, n);
	fuse_reply_err(req, 0);
}
