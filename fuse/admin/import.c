/* import.c - `pressfs import`: copy an existing tree (uploads, or a whole wp-content) into a
 * site's store as the policy classes it, without a mount: parallel, resumable, verified. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin/admin.h"
#include "admin/common.h"
#include "path.h"
#include "policy.h"

/* What became of one source entry. */
enum state {
	S_TODO,	    /* to import */
	S_POLICY,   /* skipped: the policy takes no writes there (or a cache path) */
	S_PRESENT,  /* the store already holds it: same type, size, mode and mtime */
	S_DONE,	    /* imported */
	S_FAILED,   /* err says why */
	S_VERIFIED, /* imported or present, and read back identical */
};

struct entry {
	char *rel; /* "" for SRC itself, else "/a/b" below SRC; site path = prefix + rel */
	size_t rel_len;
	size_t name_off; /* the last segment: rel + name_off */
	long parent;	 /* index of the parent directory's entry, -1 for SRC */
	char type;	 /* STORE_FILE, STORE_DIR, STORE_SYMLINK */
	struct stat st;
	const struct policy_rule *rule;
	enum state state;
	bool needed;	  /* directories: must exist in the store */
	bool hashed;	  /* files: hash holds the source content's hash */
	bool present;	  /* found already imported (by an earlier, interrupted run) */
	int err;	  /* -errno of the failure */
	const char *what; /* the step that failed */
	uint64_t ino;	  /* store inode once known */
	uint64_t hash;
	/* directories: their entries in the store when the import began, sorted by name */
	struct store_dirent *have;
	size_t nhave;
};

struct import {
	const char *src;
	char prefix[4096];
	size_t prefix_len;
	struct policy *policy;
	struct store *store;
	bool cache_shared; /* --cache=shared: store cache-class files as shared */
	unsigned jobs;
	struct entry *e;
	size_t n, cap;
	atomic_size_t next; /* the next entry a worker takes */
	struct progress prog;
	uint64_t files, bytes; /* what there is to import */
};

#define BATCH_FILES 64
#define BATCH_BYTES (8u << 20)

static int add_entry(struct import *im, const char *rel, size_t len, long parent, char type,
		     const struct stat *st)
{
	struct entry *e;

	if (im->n == im->cap) {
		size_t cap = im->cap ? im->cap * 2 : 1024;
		struct entry *ne = realloc(im->e, cap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		im->e = ne;
		im->cap = cap;
	}
	e = &im->e[im->n];
	memset(e, 0, sizeof(*e));
	e->rel = malloc(len + 1);
	if (!e->rel)
		return -ENOMEM;
	memcpy(e->rel, rel, len);
	e->rel[len] = 0;
	e->rel_len = len;
	e->name_off = len ? (size_t)(strrchr(e->rel, '/') - e->rel) + 1 : 0;
	e->parent = parent;
	e->type = type;
	e->st = *st;
	im->n++;
	return 0;
}

/* The site path of entry E ("PREFIX/rel") into BUF; returns its length or -ENAMETOOLONG. */
static long site_path(const struct import *im, const struct entry *e, char *buf, size_t size)
{
	size_t pl = im->prefix_len == 1 ? 0 : im->prefix_len;

	if (pl + e->rel_len + 1 > size)
		return -ENAMETOOLONG;
	memcpy(buf, im->prefix, pl);
	memcpy(buf + pl, e->rel, e->rel_len + 1);
	if (pl + e->rel_len == 0) {
		strcpy(buf, "/");
		return 1;
	}
	return (long)(pl + e->rel_len);
}

static void src_path(const struct import *im, const struct entry *e, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s", im->src, e->rel);
}

/* Walk directory entry DIRI (already added) depth first, pre-order: parents come first. */
static int walk(struct import *im, size_t diri, char *path, size_t plen)
{
	char full[8192];
	DIR *d;
	struct dirent *de;
	int rc = 0;

	snprintf(full, sizeof(full), "%s%.*s", im->src, (int)plen, path);
	d = opendir(full);
	if (!d) {
		im->e[diri].state = S_FAILED;
		im->e[diri].err = -errno;
		im->e[diri].what = "opendir";
		return 0;
	}
	while (!rc && (de = readdir(d))) {
		size_t nl = strlen(de->d_name), idx = im->n;
		struct stat st;
		char type;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (plen + 1 + nl >= 4096) {
			fprintf(stderr, "pressfs import: path too long below %s, skipped\n", full);
			continue;
		}
		path[plen] = '/';
		memcpy(path + plen + 1, de->d_name, nl + 1);
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			memset(&st, 0, sizeof(st));
		type = S_ISDIR(st.st_mode)   ? STORE_DIR
		       : S_ISREG(st.st_mode) ? STORE_FILE
		       : S_ISLNK(st.st_mode) ? STORE_SYMLINK
					     : 0;
		if (!type) {
			fprintf(stderr, "pressfs import: ");
			admin_quote(stderr, path, plen + 1 + nl);
			fprintf(stderr, ": not a file, directory or symlink, skipped\n");
			continue;
		}
		rc = add_entry(im, path, plen + 1 + nl, (long)diri, type, &st);
		if (!rc && type == STORE_DIR)
			rc = walk(im, idx, path, plen + 1 + nl);
	}
	closedir(d);
	path[plen] = 0;
	return rc;
}

/* Judge every entry by the policy, mark the directories that must exist, count the work. */
static void judge(struct import *im)
{
	char sp[8192];

	for (size_t i = 0; i < im->n; i++) {
		struct entry *e = &im->e[i];
		long len = site_path(im, e, sp, sizeof(sp));
		enum policy_class c;

		if (len < 0) {
			e->state = S_FAILED;
			e->err = (int)len;
			e->what = "path";
			continue;
		}
		e->rule = policy_match(im->policy, sp, (size_t)len);
		c = e->rule ? e->rule->cls : POLICY_NONE;
		if (e->state == S_FAILED)
			continue;
		if (c == POLICY_SHARED || (c == POLICY_CACHE && im->cache_shared))
			e->state = S_TODO;
		else
			e->state = S_POLICY;
		if (e->type == STORE_DIR) {
			/* A directory is made when something below it is imported, or when
			 * the policy takes writes at its own path (an empty upload month). */
			if (e->state == S_POLICY)
				continue;
		} else if (e->state != S_TODO) {
			continue;
		} else {
			im->files++;
			im->bytes += (uint64_t)e->st.st_size;
		}
		for (long p = e->type == STORE_DIR ? (long)i : e->parent;
		     p >= 0 && !im->e[p].needed; p = im->e[p].parent)
			im->e[p].needed = true;
	}
}

static int dirent_cmp(const void *a, const void *b)
{
	const struct store_dirent *x = a, *y = b;
	size_t n = x->namelen < y->namelen ? x->namelen : y->namelen;
	int c = memcmp(x->name, y->name, n);

	return c ? c : (x->namelen > y->namelen) - (x->namelen < y->namelen);
}

static const struct store_dirent *dir_has(const struct entry *d, const char *name, size_t len)
{
	struct store_dirent key = {.name = (char *)name, .namelen = len};

	return d->have ? bsearch(&key, d->have, d->nhave, sizeof(key), dirent_cmp) : NULL;
}

/* Make PREFIX's directories and every needed directory in the store (copy-ups: an existing
 * one is kept), and read what each already holds, for resuming.  One thread: directories
 * are few next to files, and each needs its parent first. */
static int make_dirs(struct import *im)
{
	uint64_t ino = STORE_ROOT_INO;
	const char *p = im->prefix + 1;
	struct stat *top = &im->e[0].st;
	int rc;

	while (*p) {
		const char *end = strchr(p, '/');
		size_t nl = end ? (size_t)(end - p) : strlen(p);

		rc = store_copyup_dir(
		    im->store, ino, p, nl, S_IFDIR | (top->st_mode & 07777), top->st_uid,
		    top->st_gid, (int64_t)top->st_mtim.tv_sec * 1000000000 + top->st_mtim.tv_nsec,
		    &ino);
		if (rc < 0) {
			fprintf(stderr, "pressfs import: cannot make %.*s in the store: %s\n",
				(int)(p + nl - im->prefix), im->prefix, strerror(-rc));
			return rc;
		}
		p += nl + (end ? 1 : 0);
	}
	im->e[0].ino = ino;
	for (size_t i = 0; i < im->n; i++) {
		struct entry *e = &im->e[i];

		if (e->type != STORE_DIR || !e->needed || e->state == S_FAILED)
			continue;
		if (i > 0) {
			struct entry *pe = &im->e[e->parent];

			if (!pe->ino) {
				e->state = S_FAILED;
				e->err = -ENOENT;
				e->what = "parent directory";
				continue;
			}
			rc = store_copyup_dir(
			    im->store, pe->ino, e->rel + e->name_off, e->rel_len - e->name_off,
			    S_IFDIR | (e->st.st_mode & 07777), e->st.st_uid, e->st.st_gid,
			    (int64_t)e->st.st_mtim.tv_sec * 1000000000 + e->st.st_mtim.tv_nsec,
			    &e->ino);
			if (rc < 0) {
				e->state = S_FAILED;
				e->err = rc;
				e->what = "mkdir";
				continue;
			}
		}
		rc = store_readdir(im->store, e->ino, &e->have, &e->nhave);
		if (rc < 0) {
			e->state = S_FAILED;
			e->err = rc;
			e->what = "readdir";
			e->ino = 0;
			continue;
		}
		qsort(e->have, e->nhave, sizeof(*e->have), dirent_cmp);
		if (e->state == S_TODO)
			e->state = S_DONE;
	}
	return 0;
}

static int64_t mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static void fail(struct entry *e, int err, const char *what)
{
	e->state = S_FAILED;
	e->err = err;
	e->what = what;
}

/* Resuming: does the store already hold E as the source has it?  A file counts as there when
 * its name holds a regular file of the same size, permission bits, owner and mtime (to the
 * nanosecond): the import sets the mtime last, after the content is published, so a file
 * whose import was cut short has the time of its publish and is imported again.  Its content
 * is still checked by hash at the end like every other file.  Returns true when present. */
static bool already_there(struct import *im, struct entry *e)
{
	const struct store_dirent *de =
	    dir_has(&im->e[e->parent], e->rel + e->name_off, e->rel_len - e->name_off);
	struct store_attr a = {0};
	bool same;

	if (!de || de->type == STORE_WHITEOUT)
		return false;
	if (store_getattr(im->store, de->ino, &a) < 0)
		return false;
	same = a.type == e->type && a.size == (uint64_t)e->st.st_size &&
	       a.mtime_ns == mtime_ns(&e->st) && (a.mode & 07777) == (e->st.st_mode & 07777) &&
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

	src_path(im, e, path, sizeof(path));
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
	e->hash = admin_hash(ADMIN_HASH_INIT, buf, got);
	e->hashed = true;
	return (long)got;
}

/* Name E in the store with content CHUNKS (already uploaded), then give it its mtime. */
static void publish(struct import *im, struct entry *e, size_t nchunks, const uint64_t *ids)
{
	struct store_attr a = {0}, in = {0}, out = {0};
	int rc;

	rc = store_publish_new(im->store, im->e[e->parent].ino, e->rel + e->name_off,
			       e->rel_len - e->name_off, S_IFREG | (e->st.st_mode & 07777),
			       e->st.st_uid, e->st.st_gid, 's', (uint64_t)e->st.st_size, nchunks,
			       ids, false, &a);
	if (rc < 0) {
		fail(e, rc, "publish");
		return;
	}
	e->ino = a.ino;
	store_attr_release(&a);
	in.mtime_ns = mtime_ns(&e->st);
	rc = store_setattr(im->store, e->ino, STORE_SET_MTIME, &in, &out);
	store_attr_release(&out);
	if (rc < 0)
		fail(e, rc, "set mtime");
	else
		e->state = S_DONE;
}

/* A file too big for a batch: read, upload and publish it a few chunks at a time. */
static void import_big(struct import *im, struct entry *e, char *buf)
{
	enum { PER = BATCH_BYTES / STORE_CHUNK_SIZE };
	char path[8192];
	size_t n = 0, cap = 0;
	uint64_t *ids = NULL, h = ADMIN_HASH_INIT, size = 0;
	struct stat st;
	bool eof = false;
	int fd, rc;

	src_path(im, e, path, sizeof(path));
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		fail(e, -errno, "open");
		goto out;
	}
	while (!eof) {
		const void *data[PER];
		size_t len[PER], k = 0;

		while (k < PER && !eof) {
			ssize_t r =
			    pread(fd, buf + k * STORE_CHUNK_SIZE, STORE_CHUNK_SIZE, (off_t)size);

			if (r < 0) {
				fail(e, -errno, "read");
				goto out;
			}
			eof = (size_t)r < STORE_CHUNK_SIZE; /* regular files read whole */
			if (r == 0)
				break;
			data[k] = buf + k * STORE_CHUNK_SIZE;
			len[k] = (size_t)r;
			h = admin_hash(h, data[k], len[k]);
			size += (uint64_t)r;
			k++;
		}
		if (n + k > cap) {
			uint64_t *ni = realloc(ids, (cap = cap * 2 + PER) * sizeof(*ids));

			if (!ni) {
				fail(e, -ENOMEM, "memory");
				goto out;
			}
			ids = ni;
		}
		rc = store_put_chunks(im->store, k, data, len, ids + n);
		if (rc < 0) {
			fail(e, rc, "upload");
			goto out;
		}
		n += k;
		progress_add(&im->prog, 0, size - (uint64_t)(n - k) * STORE_CHUNK_SIZE);
	}
	st.st_size = (off_t)size;
	e->st = st;
	e->hash = h;
	e->hashed = true;
	publish(im, e, n, ids);
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

	src_path(im, e, path, sizeof(path));
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0) {
		fail(e, -errno, "readlink");
		return;
	}
	target[n] = 0;
	e->hash = admin_hash(ADMIN_HASH_INIT, target, (size_t)n);
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

/* A worker's batch: small files read into one buffer, uploaded with one pipelined
 * store_put_chunks, then published one by one. */
struct batch {
	size_t idx[BATCH_FILES];
	size_t n, used;
	char *buf;
	const void *data[BATCH_FILES + BATCH_BYTES / STORE_CHUNK_SIZE];
	size_t len[BATCH_FILES + BATCH_BYTES / STORE_CHUNK_SIZE];
	uint64_t ids[BATCH_FILES + BATCH_BYTES / STORE_CHUNK_SIZE];
	size_t first[BATCH_FILES], nchunks[BATCH_FILES];
	size_t nch;
};

static void flush(struct import *im, struct batch *b)
{
	int rc = store_put_chunks(im->store, b->nch, b->data, b->len, b->ids);

	for (size_t i = 0; i < b->n; i++) {
		struct entry *e = &im->e[b->idx[i]];

		if (rc < 0)
			fail(e, rc, "upload");
		else
			publish(im, e, b->nchunks[i], b->ids + b->first[i]);
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

static void *import_worker(void *arg)
{
	struct import *im = arg;
	struct batch *b = calloc(1, sizeof(*b));

	if (!b || !(b->buf = malloc(BATCH_BYTES))) {
		free(b);
		return (void *)(intptr_t)-ENOMEM;
	}
	for (;;) {
		size_t i = atomic_fetch_add(&im->next, 1);
		struct entry *e;

		if (i >= im->n || admin_interrupted)
			break;
		e = &im->e[i];
		if (e->state != S_TODO || e->type == STORE_DIR)
			continue;
		if (!im->e[e->parent].ino) {
			fail(e, -ENOENT, "parent directory");
			continue;
		}
		if (already_there(im, e)) {
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
			import_big(im, e, b->buf);
			progress_add(&im->prog, 1, 0);
		} else {
			add_small(im, b, e);
		}
	}
	flush(im, b);
	free(b->buf);
	free(b);
	return NULL;
}

static int hash_sink(void *arg, const void *data, size_t len)
{
	uint64_t *h = arg;

	*h = admin_hash(*h, data, len);
	return 0;
}

/* Hash the source file of E (a file whose import was found done by an earlier run). */
static int hash_source(struct import *im, struct entry *e, char *buf)
{
	char path[8192];
	uint64_t h = ADMIN_HASH_INIT;
	ssize_t r;
	int fd;

	src_path(im, e, path, sizeof(path));
	if (e->type == STORE_SYMLINK) {
		r = readlink(path, buf, STORE_CHUNK_SIZE);
		if (r < 0)
			return -errno;
		e->hash = admin_hash(h, buf, (size_t)r);
		e->hashed = true;
		return 0;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	while ((r = read(fd, buf, STORE_CHUNK_SIZE)) > 0)
		h = admin_hash(h, buf, (size_t)r);
	close(fd);
	if (r < 0)
		return -EIO;
	e->hash = h;
	e->hashed = true;
	return 0;
}

/* Read every imported or present file back from the store and compare its hash, size and
 * mtime with the source's. */
static void *verify_worker(void *arg)
{
	struct import *im = arg;
	char *buf = malloc(STORE_CHUNK_SIZE);

	for (size_t i; buf && (i = atomic_fetch_add(&im->next, 1)) < im->n && !admin_interrupted;) {
		struct entry *e = &im->e[i];
		struct store_attr a = {0};
		uint64_t h = ADMIN_HASH_INIT;
		int rc;

		if (e->type == STORE_DIR || (e->state != S_DONE && e->state != S_PRESENT))
			continue;
		rc = e->hashed ? 0 : hash_source(im, e, buf);
		if (rc < 0) {
			fail(e, rc, "verify: reading the source");
			goto next;
		}
		rc = store_getattr(im->store, e->ino, &a);
		if (rc == 0 && e->type == STORE_SYMLINK)
			h = admin_hash(h, a.target ? a.target : "", a.size);
		else if (rc == 0)
			rc = admin_read_file(im->store, &a, buf, hash_sink, &h);
		if (rc < 0)
			fail(e, rc, "verify: reading it back");
		else if (h != e->hash || a.mtime_ns != mtime_ns(&e->st) || a.type != e->type)
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

static void run_workers(struct import *im, void *(*fn)(void *))
{
	pthread_t t[64];
	unsigned n = im->jobs > 64 ? 64 : im->jobs;

	atomic_store(&im->next, 0);
	for (unsigned i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, fn, im)) {
			n = i;
			break;
		}
	if (n == 0)
		fn(im);
	for (unsigned i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

/* Directories get their source mtime last, deepest first: every entry made in them moved
 * it. */
static void set_dir_times(struct import *im)
{
	for (size_t i = im->n; i-- > 0;) {
		struct entry *e = &im->e[i];
		struct store_attr in = {0}, out = {0};
		int rc;

		if (e->type != STORE_DIR || !e->ino || e->state == S_FAILED)
			continue;
		in.mtime_ns = mtime_ns(&e->st);
		rc = store_setattr(im->store, e->ino, STORE_SET_MTIME, &in, &out);
		store_attr_release(&out);
		if (rc < 0)
			fail(e, rc, "set directory mtime");
	}
}

/* The skipped entries, grouped by the rule that decided (NULL: no rule). */
static void print_skipped(struct import *im, FILE *f)
{
	char sp[8192];
	bool *shown = calloc(im->n, 1);

	for (size_t i = 0; shown && i < im->n; i++) {
		const struct policy_rule *r = im->e[i].rule;
		size_t count = 0, ex = 0;

		if (shown[i] || im->e[i].state != S_POLICY || im->e[i].type == STORE_DIR)
			continue;
		for (size_t j = i; j < im->n; j++)
			if (!shown[j] && im->e[j].state == S_POLICY && im->e[j].rule == r &&
			    im->e[j].type != STORE_DIR) {
				shown[j] = true;
				count++;
			}
		if (r)
			fprintf(
			    f, "  %-6s line %u: %s  %zu %s%s\n", policy_class_name(r->cls), r->line,
			    r->pattern, count, count == 1 ? "entry" : "entries",
			    r->cls == POLICY_CACHE
				? " (cache class: plugins regenerate it; --cache=shared imports it)"
				: "");
		else
			fprintf(f, "  none   no rule (read-only)  %zu %s\n", count,
				count == 1 ? "entry" : "entries");
		for (size_t j = i; j < im->n && ex < 3; j++)
			if (im->e[j].state == S_POLICY && im->e[j].rule == r &&
			    im->e[j].type != STORE_DIR) {
				long l = site_path(im, &im->e[j], sp, sizeof(sp));

				fputs("      e.g. ", f);
				admin_quote(f, sp, l > 0 ? (size_t)l : 0);
				fputc('\n', f);
				ex++;
			}
	}
	free(shown);
}

static int summary(struct import *im, double secs, bool verified)
{
	uint64_t imported = 0, present = 0, policy = 0, failed = 0, ok = 0, dirs = 0, bytes = 0;
	char b[32], b2[32], sp[8192];

	for (size_t i = 0; i < im->n; i++) {
		struct entry *e = &im->e[i];

		if (e->state == S_FAILED) {
			long l = site_path(im, e, sp, sizeof(sp));

			failed++;
			fputs("pressfs import: failed: ", stderr);
			admin_quote(stderr, sp, l > 0 ? (size_t)l : 0);
			fprintf(stderr, ": %s: %s\n", e->what, strerror(-e->err));
			continue;
		}
		if (e->type == STORE_DIR) {
			dirs += e->ino != 0;
			continue;
		}
		policy += e->state == S_POLICY;
		ok += e->state == S_VERIFIED;
		if (e->present) {
			present++;
		} else if (e->state == S_DONE || e->state == S_VERIFIED) {
			imported++;
			bytes += (uint64_t)e->st.st_size;
		}
	}
	printf("imported:          %" PRIu64 " files, %s in %.1f s (%.0f files/s, %s/s)\n",
	       imported, admin_bytes(b, sizeof(b), bytes), secs,
	       secs > 0 ? (double)imported / secs : 0.0,
	       admin_bytes(b2, sizeof(b2), secs > 0 ? (uint64_t)((double)bytes / secs) : 0));
	printf("already there:     %" PRIu64 " files (same size, mode, owner and mtime)\n",
	       present);
	printf("directories:       %" PRIu64 "\n", dirs);
	printf("skipped by policy: %" PRIu64 "\n", policy);
	print_skipped(im, stdout);
	printf("failed:            %" PRIu64 "\n", failed);
	if (verified)
		printf("verified:          %" PRIu64 " files read back from the store, identical\n",
		       ok);
	return failed ? 1 : 0;
}

static void import_usage(FILE *f)
{
	fprintf(f, "usage: pressfs import SRC --store URL --policy FILE [--site NAME]\n"
		   "                      [--prefix /wp-content/uploads] [--jobs N] "
		   "[--cache=skip|shared]\n"
		   "                      [--timeout MS] [--no-verify]\n"
		   "Copies the tree SRC into the site's store at PREFIX, as the policy classes "
		   "each path.\n"
		   "Run it again after an interruption: what is already there is kept.\n");
}

int import_main(int argc, char **argv)
{
	static const struct option opts[] = {{"store", 1, NULL, 's'},	{"site", 1, NULL, 'S'},
					     {"policy", 1, NULL, 'p'},	{"prefix", 1, NULL, 'P'},
					     {"jobs", 1, NULL, 'j'},	{"cache", 1, NULL, 'c'},
					     {"timeout", 1, NULL, 't'}, {"no-verify", 0, NULL, 'n'},
					     {"help", 0, NULL, 'h'},	{NULL, 0, NULL, 0}};
	struct admin_target t = {0};
	struct import im = {.jobs = 4};
	struct policy_error perr;
	const char *policy = NULL, *prefix = "/wp-content/uploads";
	char msg[512], path[4096] = "";
	bool verify = true;
	struct stat st;
	double secs;
	int c, rc;

	while ((c = getopt_long(argc, argv, "j:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			t.url = optarg;
			break;
		case 'S':
			t.site = optarg;
			break;
		case 'p':
			policy = optarg;
			break;
		case 'P':
			prefix = optarg;
			break;
		case 'j':
			im.jobs = (unsigned)atoi(optarg);
			break;
		case 't':
			t.timeout_ms = (unsigned)atoi(optarg);
			break;
		case 'n':
			verify = false;
			break;
		case 'c':
			if (strcmp(optarg, "skip") && strcmp(optarg, "shared")) {
				fprintf(stderr, "pressfs import: --cache is skip or shared\n");
				return 2;
			}
			im.cache_shared = !strcmp(optarg, "shared");
			break;
		case 'h':
			import_usage(stdout);
			return 0;
		default:
			import_usage(stderr);
			return 2;
		}
	}
	if (optind + 1 != argc || !t.url || !policy || im.jobs < 1) {
		import_usage(stderr);
		return 2;
	}
	im.src = argv[optind];
	if (stat(im.src, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "pressfs import: %s: not a directory\n", im.src);
		return 2;
	}
	rc = (int)path_normalize(prefix, strlen(prefix), im.prefix, sizeof(im.prefix));
	if (rc < 0 || prefix[0] != '/') {
		fprintf(stderr, "pressfs import: --prefix %s: not an absolute path in the site\n",
			prefix);
		return 2;
	}
	im.prefix_len = (size_t)rc;
	if (policy_load(policy, &im.policy, &perr) < 0) {
		policy_error_format(&perr, msg, sizeof(msg));
		fprintf(stderr, "pressfs import: %s\n", msg);
		return 2;
	}
	if (admin_open(&t, "import", &im.store) < 0)
		return 1;
	admin_catch_signals();
	rc = add_entry(&im, "", 0, -1, STORE_DIR, &st);
	if (!rc)
		rc = walk(&im, 0, path, 0);
	if (rc < 0) {
		fprintf(stderr, "pressfs import: scanning %s: %s\n", im.src, strerror(-rc));
		return 1;
	}
	judge(&im);
	if (im.e[0].needed && make_dirs(&im) < 0)
		return 1;
	progress_start(&im.prog, "import", im.files, im.bytes);
	run_workers(&im, import_worker);
	secs = progress_stop(&im.prog);
	if (!admin_interrupted) {
		set_dir_times(&im);
		if (verify) {
			progress_start(&im.prog, "verify", im.files, im.bytes);
			run_workers(&im, verify_worker);
			progress_stop(&im.prog);
		}
	}
	rc = summary(&im, secs, verify && !admin_interrupted);
	if (admin_interrupted) {
		printf("interrupted:       run the same command again to go on\n");
		rc = 130;
	}
	for (size_t i = 0; i < im.n; i++) {
		free(im.e[i].rel);
		store_dirents_free(im.e[i].have, im.e[i].nhave);
	}
	free(im.e);
	store_close(im.store);
	policy_free(im.policy);
	return rc;
}
