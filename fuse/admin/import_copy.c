/* import_copy.c - the copying half of `pressfs import`: worker threads that upload files in
 * pipelined batches and publish them, and the pass that reads each back and checks its hash. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin/import.h"

/* Resuming: does the store already hold E as the source has it?  A file counts as there when
 * its name holds a regular file of the same size, permission bits, owner and mtime (to the
 * nanosecond): a file gets its mtime in the same atomic step that publishes it (a symlink
 * gets it last, after it is made), so one whose import was cut short has another mtime and
 * is imported again.  Its content is still checked by hash at the end like every other file.
 * Returns true when present. */
static bool already_there(struct import *im, struct entry *e)
{
	const struct store_dirent *de =
	    import_dir_has(&im->e[e->parent], e->rel + e->name_off, e->rel_len - e->name_off);
	struct store_attr a = {0};
	bool same;

	if (!de || de->type == STORE_WHITEOUT)
		return false;
	if (store_getattr(im->store, de->ino, &a) < 0)
		return false;
	same = a.type == e->type && a.size == (uint64_t)e->st.st_size &&
	       a.mtime_ns == mtime_ns(&e->st) && (a.mode & 01777) == (e->st.st_mode & 01777) &&
	       a.uid == e->st.st_uid && a.gid == e->st.st_gid && a.cls == 's';
	if (same)
		e->ino = a.ino;
	else if (de->type == STORE_DIR)
		fail(e, -EISDIR, "a directory of that name is in the store");
	else if (e->type == STORE_SYMLINK || de->type == STORE_SYMLINK)
		store_unlink(im->store, im->e[e->parent].ino, e->rel + e->name_off,
			     e->rel_len - e->name_off, false);
	store_attr_release(&a);
	return same;
}

/* Read source file E whole into BUF (room for its size); updates its stat from the open
 * file.  Returns the bytes read or -errno. */
static long read_source(struct import *im, struct entry *e, char *buf, size_t room)
{
	char path[8192];
	struct stat st;
	size_t got = 0;
	int fd;

	import_src_path(im, e, path, sizeof(path));
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > room) {
		int err = S_ISREG(st.st_mode) ? -EAGAIN : -EINVAL; /* changed since the scan */

		close(fd);
		return err;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	st.st_size = (off_t)got;
	e->st = st;
	if (im->verify) {
		e->hash = admin_hash(buf, got);
		e->hashed = true;
	}
	return (long)got;
}

/* What the store answered for E: its ino, or why it was refused (RC: the whole call's
 * failure at step WHAT, else the file's own answer in F). */
static void published(struct entry *e, const struct store_import_file *f, int rc, const char *what)
{
	if (rc == -EAGAIN)
		fail(e, rc, "publish: its directory was moved in the store meanwhile (run again)");
	else if (rc < 0)
		fail(e, rc, what);
	else if (f->rc < 0)
		fail(e, f->rc, "publish");
	else {
		e->ino = f->ino;
		e->state = S_DONE;
	}
}

/* The store_import_file of E, its content CHUNKS (already uploaded). */
static struct store_import_file import_file(const struct entry *e, size_t nchunks,
					    const uint64_t *ids)
{
	return (struct store_import_file){.name = e->rel + e->name_off,
					  .namelen = e->rel_len - e->name_off,
					  .mode = e->st.st_mode & 07777,
					  .uid = e->st.st_uid,
					  .gid = e->st.st_gid,
					  .mtime_ns = mtime_ns(&e->st),
					  .size = (uint64_t)e->st.st_size,
					  .nchunks = nchunks,
					  .chunks = ids};
}

/* Publish files F[0..N) of directory entry D in one script call, checked against D's site
 * path, where they were judged.  0 or the call's -errno (each file's own in F). */
static int publish(struct import *im, const struct entry *d, struct store_import_file *f, size_t n)
{
	char dp[8192];
	long dl = import_site_path(im, d, dp, sizeof(dp));

	if (dl < 0)
		return (int)dl;
	return store_import_files(im->store, d->ino, dp, (size_t)dl, f, n);
}

/* Chunks of a large file in flight on one connection: enough that Redis never waits for
 * this worker between two windows, with the other workers' streams beside it. */
enum { WINDOW = 2 * BATCH_BYTES / STORE_CHUNK_SIZE };

/* A file too big for a batch: its chunks sent from the page cache a window at a time, then
 * published.  Its hash, when verifying, is taken from the source at the check. */
static void import_big(struct import *im, struct entry *e)
{
	size_t n = 0, len[WINDOW];
	uint64_t *ids = NULL, size;
	char path[8192];
	struct stat st;
	int fd, rc = 0;

	import_src_path(im, e, path, sizeof(path));
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		fail(e, -errno, "open");
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		fail(e, -EINVAL, "open: no longer a regular file");
		goto out;
	}
	size = (uint64_t)st.st_size;
	ids = malloc((size / STORE_CHUNK_SIZE + 1) * sizeof(*ids));
	if (!ids) {
		fail(e, -ENOMEM, "memory");
		goto out;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	for (uint64_t off = 0; off < size && !rc; off += STORE_CHUNK_SIZE * WINDOW) {
		size_t k = 0;

		for (uint64_t o = off; o < size && k < WINDOW; o += STORE_CHUNK_SIZE, k++)
			len[k] =
			    size - o < STORE_CHUNK_SIZE ? (size_t)(size - o) : STORE_CHUNK_SIZE;
		rc = store_put_file_chunks(im->store, fd, off, k, len, ids + n);
		if (rc == 0) {
			n += k;
			progress_add(&im->prog, 0,
				     size - off < STORE_CHUNK_SIZE * WINDOW
					 ? size - off
					 : STORE_CHUNK_SIZE * WINDOW);
		}
	}
	if (rc) {
		store_release_chunks(im->store, n, ids);
		fail(e, rc,
		     rc == -ENODATA ? "upload: the file shrank or could not be read" : "upload");
		goto out;
	}
	e->st = st;
	{
		struct store_import_file f = import_file(e, n, ids);

		rc = publish(im, &im->e[e->parent], &f, 1);
		if (rc < 0 && rc != -EIO) /* as in flush */
			store_release_chunks(im->store, n, ids);
		published(e, &f, rc, "publish");
	}
out:
	if (fd >= 0)
		close(fd);
	free(ids);
}

static void import_symlink(struct import *im, struct entry *e)
{
	char path[8192], target[4096];
	struct store_attr a = {0}, in = {0};
	ssize_t n;
	int rc;

	import_src_path(im, e, path, sizeof(path));
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0) {
		fail(e, -errno, "readlink");
		return;
	}
	target[n] = 0;
	e->hash = admin_hash(target, (size_t)n);
	e->hashed = true;
	rc = store_create(im->store, im->e[e->parent].ino, e->rel + e->name_off,
			  e->rel_len - e->name_off, S_IFLNK | 0777, e->st.st_uid, e->st.st_gid, 's',
			  target, &a);
	if (rc < 0) {
		fail(e, rc, "symlink");
		return;
	}
	e->ino = a.ino;
	store_attr_release(&a);
	in.mtime_ns = mtime_ns(&e->st);
	rc = store_setattr(im->store, e->ino, STORE_SET_MTIME, &in, &a);
	store_attr_release(&a);
	if (rc < 0)
		fail(e, rc, "set mtime");
	else
		e->state = S_DONE;
}

/* A worker's batch: small files of one directory read into one buffer, uploaded with one
 * pipelined store_put_chunks, then published with one store_import_files. */
struct batch {
	size_t idx[BATCH_FILES];
	size_t n, used;
	char *buf;
	const void *data[BATCH_FILES + BATCH_BYTES / STORE_CHUNK_SIZE];
	size_t len[BATCH_FILES + BATCH_BYTES / STORE_CHUNK_SIZE];
	uint64_t ids[BATCH_FILES + BATCH_BYTES / STORE_CHUNK_SIZE];
	size_t first[BATCH_FILES], nchunks[BATCH_FILES];
	size_t nch;
	struct store_import_file f[BATCH_FILES];
};

static void flush(struct import *im, struct batch *b)
{
	const char *what = "upload";
	int rc;

	if (b->n == 0)
		return;
	for (size_t i = 0; i < b->n; i++)
		b->f[i] = import_file(&im->e[b->idx[i]], b->nchunks[i], b->ids + b->first[i]);
	rc = store_put_chunks(im->store, b->nch, b->data, b->len, b->ids);
	if (rc == 0) {
		what = "publish";
		rc = publish(im, &im->e[im->e[b->idx[0]].parent], b->f, b->n);
		if (rc < 0 && rc != -EIO) /* refused before any change: the chunks are nobody's */
			store_release_chunks(im->store, b->nch, b->ids);
	}
	for (size_t i = 0; i < b->n; i++) {
		struct entry *e = &im->e[b->idx[i]];

		published(e, &b->f[i], rc, what);
		progress_add(&im->prog, 1, (uint64_t)e->st.st_size);
	}
	b->n = b->used = b->nch = 0;
}

/* Add file E to the batch (flushing first when it does not fit). */
static void add_small(struct import *im, struct batch *b, struct entry *e)
{
	long got;

	if (b->n == BATCH_FILES || b->used + (size_t)e->st.st_size > BATCH_BYTES)
		flush(im, b);
	got = read_source(im, e, b->buf + b->used, BATCH_BYTES - b->used);
	if (got == -EAGAIN) { /* it grew since the scan: take it alone */
		flush(im, b);
		got = read_source(im, e, b->buf, BATCH_BYTES);
	}
	if (got < 0) {
		fail(e, (int)got, "read");
		progress_add(&im->prog, 1, (uint64_t)e->st.st_size);
		return;
	}
	b->idx[b->n] = (size_t)(e - im->e);
	b->first[b->n] = b->nch;
	for (size_t off = 0; off < (size_t)got; off += STORE_CHUNK_SIZE) {
		size_t l = (size_t)got - off;

		b->data[b->nch] = b->buf + b->used + off;
		b->len[b->nch++] = l < STORE_CHUNK_SIZE ? l : STORE_CHUNK_SIZE;
	}
	b->nchunks[b->n] = b->nch - b->first[b->n];
	b->n++;
	b->used += (size_t)got;
}

/* One entry of a job: found there already, a symlink, a large file, or one for the batch. */
static void import_one(struct import *im, struct batch *b, struct entry *e)
{
	if (!im->e[e->parent].ino) {
		fail(e, -ENOENT, "parent directory");
		progress_add(&im->prog, 1, (uint64_t)e->st.st_size);
	} else if (already_there(im, e)) {
		e->state = S_PRESENT;
		e->present = true;
		progress_add(&im->prog, 1, (uint64_t)e->st.st_size);
	} else if (e->state == S_FAILED) {
		progress_add(&im->prog, 1, (uint64_t)e->st.st_size);
	} else if (e->type == STORE_SYMLINK) {
		import_symlink(im, e);
		progress_add(&im->prog, 1, (uint64_t)e->st.st_size);
	} else if ((size_t)e->st.st_size > BATCH_BYTES / 2) {
		flush(im, b);
		import_big(im, e);
		progress_add(&im->prog, 1, 0);
	} else {
		add_small(im, b, e);
	}
}

void *import_worker(void *arg)
{
	struct import *im = arg;
	struct batch *b = calloc(1, sizeof(*b));

	if (!b || !(b->buf = malloc(BATCH_BYTES))) {
		free(b);
		return (void *)(intptr_t)-ENOMEM;
	}
	for (;;) {
		size_t j = atomic_fetch_add(&im->next, 1);

		if (j >= im->njobs || admin_interrupted)
			break;
		for (size_t i = 0; i < im->job[j].n; i++)
			import_one(im, b, &im->e[im->order[im->job[j].first + i]]);
		flush(im, b); /* a batch never spans two jobs: each is of one directory */
	}
	free(b->buf);
	free(b);
	return NULL;
}

static int hash_sink(void *arg, const void *data, size_t len)
{
	admin_hash_add(arg, data, len);
	return 0;
}

/* Hash the source file of E (a file whose import was found done by an earlier run). */
static int hash_source(struct import *im, struct entry *e, char *buf)
{
	char path[8192];
	struct admin_hash h;
	ssize_t r;
	int fd;

	import_src_path(im, e, path, sizeof(path));
	if (e->type == STORE_SYMLINK) {
		r = readlink(path, buf, STORE_CHUNK_SIZE);
		if (r < 0)
			return -errno;
		e->hash = admin_hash(buf, (size_t)r);
		e->hashed = true;
		return 0;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	admin_hash_init(&h);
	while ((r = read(fd, buf, STORE_CHUNK_SIZE)) > 0)
		admin_hash_add(&h, buf, (size_t)r);
	close(fd);
	if (r < 0)
		return -EIO;
	e->hash = admin_hash_end(&h);
	e->hashed = true;
	return 0;
}

/* Read every imported or present file back from the store and compare its hash, size and
 * mtime with the source's. */
void *import_verify_worker(void *arg)
{
	struct import *im = arg;
	char *buf = malloc(STORE_CHUNK_SIZE);

	for (size_t i; buf && (i = atomic_fetch_add(&im->next, 1)) < im->n && !admin_interrupted;) {
		struct entry *e = &im->e[i];
		struct store_attr a = {0};
		struct admin_hash h;
		uint64_t got = 0;
		int rc;

		if (e->type == STORE_DIR || (e->state != S_DONE && e->state != S_PRESENT))
			continue;
		rc = e->hashed ? 0 : hash_source(im, e, buf);
		if (rc < 0) {
			fail(e, rc, "verify: reading the source");
			goto next;
		}
		rc = store_getattr(im->store, e->ino, &a);
		admin_hash_init(&h);
		if (rc == 0 && e->type == STORE_SYMLINK)
			admin_hash_add(&h, a.target ? a.target : "", a.size);
		else if (rc == 0)
			rc = admin_read_file(im->store, &a, buf, hash_sink, &h);
		got = admin_hash_end(&h);
		if (rc < 0)
			fail(e, rc, "verify: reading it back");
		else if (got != e->hash || a.mtime_ns != mtime_ns(&e->st) || a.type != e->type)
			fail(e, -EIO, "verify: what the store holds differs from the source");
		else
			e->state = S_VERIFIED;
		store_attr_release(&a);
	next:
		progress_add(&im->prog, 1, (uint64_t)e->st.st_size);
	}
	free(buf);
	return NULL;
}
