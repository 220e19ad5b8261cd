/* write.c - the store's writes of content and attributes: create, directory copy-up, chunk
 * upload and ids, publish, commit, append and setattr, each one script. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

#include "stats.h"
#include "store/internal.h"

static bool cls_ok(char cls)
{
	return cls == 's' || cls == 'c';
}

static int create_entry(struct store *s, uint64_t dir, const char *name, size_t namelen,
			uint32_t mode, uint64_t rdev, uint32_t uid, uint32_t gid, char cls,
			const char *target, struct store_attr *a)
{
	struct args args = {0};
	redisReply *r;
	char type;
	int rc;

	memset(a, 0, sizeof *a);
	rc = check_name(name, namelen);
	if (rc)
		return rc;
	switch (mode & S_IFMT) {
	case S_IFREG:
		type = STORE_FILE;
		break;
	case S_IFDIR:
		type = STORE_DIR;
		break;
	case S_IFLNK:
		type = STORE_SYMLINK;
		if (!target || !target[0])
			return -EINVAL;
		if (strlen(target) > TARGET_MAX)
			return -ENAMETOOLONG;
		break;
	case S_IFIFO:
		type = STORE_FIFO;
		break;
	case S_IFSOCK:
		type = STORE_SOCK;
		break;
	case S_IFCHR:
		type = STORE_CHR;
		break;
	case S_IFBLK:
		type = STORE_BLK;
		break;
	default:
		return -EINVAL;
	}
	if (!cls_ok(cls))
		return -EINVAL;
	arg_fmt(&args, "%" PRIu64, dir);
	arg_mem(&args, name, namelen);
	arg_mem(&args, &type, 1);
	arg_fmt(&args, "%o", mode);
	arg_fmt(&args, "%" PRIu32, uid);
	arg_fmt(&args, "%" PRIu32, gid);
	arg_mem(&args, &cls, 1);
	arg_str(&args, type == STORE_SYMLINK ? target : "");
	arg_fmt(&args, "%" PRIu64, (type == STORE_CHR || type == STORE_BLK) ? rdev : 0);
	rc = script(s, SC_CREATE, &args, &r);
	if (rc)
		return rc;
	rc = attr_reply(s, SC_CREATE, r, a);
	freeReplyObject(r);
	return rc;
}

int store_create(struct store *s, uint64_t dir, const char *name, size_t namelen, uint32_t mode,
		 uint32_t uid, uint32_t gid, char cls, const char *target, struct store_attr *a)
{
	if (!S_ISREG(mode) && !S_ISDIR(mode) && !S_ISLNK(mode)) {
		memset(a, 0, sizeof *a);
		return -EINVAL;
	}
	return create_entry(s, dir, name, namelen, mode, 0, uid, gid, cls, target, a);
}

int store_mknod(struct store *s, uint64_t dir, const char *name, size_t namelen, uint32_t mode,
		uint64_t rdev, uint32_t uid, uint32_t gid, char cls, struct store_attr *a)
{
	if (!S_ISFIFO(mode) && !S_ISSOCK(mode) && !S_ISCHR(mode) && !S_ISBLK(mode)) {
		memset(a, 0, sizeof *a);
		return -EINVAL;
	}
	return create_entry(s, dir, name, namelen, mode, rdev, uid, gid, cls, NULL, a);
}

int store_link(struct store *s, uint64_t ino, uint64_t dir, const char *name, size_t namelen,
	       struct store_attr *a)
{
	struct args args = {0};
	redisReply *r;
	int rc;

	memset(a, 0, sizeof *a);
	rc = check_name(name, namelen);
	if (rc)
		return rc;
	arg_fmt(&args, "%" PRIu64, ino);
	arg_fmt(&args, "%" PRIu64, dir);
	arg_mem(&args, name, namelen);
	rc = script(s, SC_LINK, &args, &r);
	if (rc)
		return rc;
	rc = attr_reply(s, SC_LINK, r, a);
	freeReplyObject(r);
	return rc;
}

int store_copyup_dir(struct store *s, uint64_t dir, const char *name, size_t namelen, uint32_t mode,
		     uint32_t uid, uint32_t gid, int64_t mtime_ns, uint64_t *ino)
{
	return store_copyup_dir_as(s, dir, name, namelen, mode, uid, gid, mtime_ns, 0, ino);
}

int store_copyup_dir_as(struct store *s, uint64_t dir, const char *name, size_t namelen,
			uint32_t mode, uint32_t uid, uint32_t gid, int64_t mtime_ns, uint64_t lino,
			uint64_t *ino)
{
	struct args args = {0};
	redisReply *r;
	int rc;

	*ino = 0;
	rc = check_name(name, namelen);
	if (rc)
		return rc;
	arg_fmt(&args, "%" PRIu64, dir);
	arg_mem(&args, name, namelen);
	arg_fmt(&args, "%o", S_IFDIR | (mode & 07777));
	arg_fmt(&args, "%" PRIu32, uid);
	arg_fmt(&args, "%" PRIu32, gid);
	arg_fmt(&args, "%" PRId64, mtime_ns);
	arg_fmt(&args, "%" PRIu64, lino);
	rc = script(s, SC_COPYUP_DIR, &args, &r);
	if (rc)
		return rc;
	if (r->type == REDIS_REPLY_INTEGER)
		rc = script_errno(s, SC_COPYUP_DIR, r);
	else if (!reply_u64(r, ino))
		rc = refused(s, conn_current(s), "copyup_dir", r);
	freeReplyObject(r);
	return rc;
}

/* ---- file content ---- */

/* Reserve N consecutive chunk ids on K's connection: *first...*first+n-1. */
static int reserve_ids(struct store *s, struct conn *k, size_t n, uint64_t *first)
{
	size_t want = n > ID_BATCH ? n : ID_BATCH;
	char key[KEY_MAX], num[24];
	const char *argv[3] = {"INCRBY", key, num};
	size_t lens[3];
	redisReply *r;
	uint64_t t0;
	int rc = 0;

	if (k->id_end - k->id_next >= n) {
		*first = k->id_next;
		k->id_next += n;
		return 0;
	}
	lens[0] = 6;
	lens[1] = key_next(key, s->prefix);
	lens[2] = (size_t)snprintf(num, sizeof num, "%zu", want);
	t0 = stats_clock();
	/* route_reply: on a cluster whose site's slot is moving, the ASK is followed */
	if (redisAppendCommandArgv(k->c, 3, argv, lens) != REDIS_OK ||
	    route_reply(s, k, 3, argv, lens, &r) != REDIS_OK)
		return conn_fail(s, k);
	stats_store_rtt(stats_clock() - t0);
	if (r->type != REDIS_REPLY_INTEGER || r->integer < (long long)want) {
		rc = refused(s, k, "INCRBY next", r);
	} else {
		k->id_end = (uint64_t)r->integer + 1;
		k->id_next = k->id_end - want;
		*first = k->id_next;
		k->id_next += n;
	}
	freeReplyObject(r);
	return rc;
}

/* A refused upload or publish: its chunks, which nobody refers to, are deleted now rather
 * than after pending_ttl_s (a full Redis refuses SET and EVAL but takes DEL).  Best effort:
 * what is not deleted still expires. */
static void release_chunks(struct store *s, size_t n, const uint64_t *ids)
{
	struct conn *k = conn_current(s);
	char key[KEY_MAX];
	size_t sent = 0;

	if (!k || !k->c)
		return;
	for (size_t i = 0; i < n; i++) {
		const char *argv[2] = {"DEL", key};
		size_t lens[2] = {3, 0};

		if (!ids[i])
			continue;
		lens[1] = key_chunk(key, s->prefix, ids[i]);
		if (redisAppendCommandArgv(k->c, 2, argv, lens) != REDIS_OK)
			break;
		sent++;
	}
	for (size_t i = 0, j = 0; j < sent; i++) {
		const char *argv[2] = {"DEL", key};
		size_t lens[2] = {3, 0};
		redisReply *r;

		if (!ids[i])
			continue;
		j++;
		lens[1] = key_chunk(key, s->prefix, ids[i]); /* for a cluster's redirection */
		if (route_reply(s, k, 2, argv, lens, &r) != REDIS_OK) {
			conn_fail(s, k);
			return;
		}
		freeReplyObject(r);
	}
}

int store_put_chunks(struct store *s, size_t n, const void *const *data, const size_t *len,
		     uint64_t *ids)
{
	char key[KEY_MAX], ttl[24];
	struct conn *k;
	uint64_t first = 0, t0;
	size_t got, keylen;
	int rc;

	for (size_t i = 0; i < n; i++)
		if (len[i] > STORE_CHUNK_SIZE || (len[i] && !data[i]))
			return -EINVAL;
	if (n == 0)
		return 0;
	rc = conn_get(s, &k);
	if (rc)
		return rc == -EPROTO ? -EIO : rc;
	rc = reserve_ids(s, k, n, &first);
	if (rc)
		return rc;
	snprintf(ttl, sizeof ttl, "%u", s->pending_ttl_s);
	t0 = stats_clock();
	/* Each SET goes out as soon as it is formatted, the "+OK"s are read at the end: the
	 * upload runs at the socket's pace, one round trip in all. */
	for (size_t i = 0; i < n; i++) {
		ids[i] = first + i;
		keylen = key_chunk(key, s->prefix, ids[i]);
		if (send_set(s, k, key, keylen, data[i], len[i], ttl))
			return conn_fail(s, k);
	}
	rc = 0;
	for (got = 0; got < n; got++) {
		const char *argv[5] = {"SET", key, data[got], "EX", ttl};
		size_t lens[5] = {3, 0, len[got], 2, strlen(ttl)};
		redisReply *r;

		lens[1] = key_chunk(key, s->prefix, ids[got]); /* for a cluster's redirection */
		if (route_reply(s, k, 5, argv, lens, &r) != REDIS_OK)
			return conn_fail(s, k);
		if (r->type != REDIS_REPLY_STATUS) {
			if (!rc)
				rc = refused(s, k, "SET chunk", r);
			ids[got] = 0; /* not stored: nothing to release */
		}
		freeReplyObject(r);
	}
	stats_store_rtt(stats_clock() - t0); /* the batch: one round trip */
	if (rc)
		release_chunks(s, n, ids);
	return rc;
}

int store_alloc_ids(struct store *s, size_t n, uint64_t *ids)
{
	struct conn *k;
	uint64_t first = 0;
	int rc;

	if (n == 0)
		return 0;
	rc = conn_get(s, &k);
	if (rc)
		return rc == -EPROTO ? -EIO : rc;
	rc = reserve_ids(s, k, n, &first);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		ids[i] = first + i;
	return 0;
}

/* "id id id" for a script. */
static char *fmt_ids(size_t n, const uint64_t *ids, size_t *len)
{
	char *buf = malloc(n * 21 + 1), *p = buf;

	if (!buf)
		return NULL;
	*p = '\0';
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, i ? " %" PRIu64 : "%" PRIu64, ids[i]);
	*len = (size_t)(p - buf);
	return buf;
}

static bool chunks_fit(uint64_t size, size_t nchunks)
{
	return nchunks <= size / STORE_CHUNK_SIZE + (size % STORE_CHUNK_SIZE != 0) &&
	       nchunks <= UINT32_MAX;
}

void store_release_chunks(struct store *s, size_t nchunks, const uint64_t *chunks)
{
	release_chunks(s, nchunks, chunks);
}

int store_publish_new(struct store *s, uint64_t dir, const char *name, size_t namelen,
		      uint32_t mode, uint32_t uid, uint32_t gid, char cls, uint64_t size,
		      size_t nchunks, const uint64_t *chunks, bool merge, struct store_attr *a)
{
	return store_publish_new_at(s, dir, NULL, 0, name, namelen, mode, uid, gid, cls, size,
				    nchunks, chunks, merge, 0, 0, a);
}

int store_publish_new_as(struct store *s, uint64_t dir, const char *name, size_t namelen,
			 uint32_t mode, uint32_t uid, uint32_t gid, char cls, uint64_t size,
			 size_t nchunks, const uint64_t *chunks, bool merge, uint64_t ino,
			 uint64_t lino, struct store_attr *a)
{
	return store_publish_new_at(s, dir, NULL, 0, name, namelen, mode, uid, gid, cls, size,
				    nchunks, chunks, merge, ino, lino, a);
}

int store_publish_new_at(struct store *s, uint64_t dir, const char *dirpath, size_t dirpathlen,
			 const char *name, size_t namelen, uint32_t mode, uint32_t uid,
			 uint32_t gid, char cls, uint64_t size, size_t nchunks,
			 const uint64_t *chunks, bool merge, uint64_t ino, uint64_t lino,
			 struct store_attr *a)
{
	struct args args = {0};
	redisReply *r;
	char *list;
	size_t listlen;
	int rc;

	memset(a, 0, sizeof *a);
	rc = check_name(name, namelen);
	if (rc)
		return rc;
	if ((mode & S_IFMT) && (mode & S_IFMT) != S_IFREG)
		return -EINVAL;
	if (!cls_ok(cls) || !chunks_fit(size, nchunks) || size > STORE_SIZE_MAX)
		return -EINVAL;
	list = fmt_ids(nchunks, chunks, &listlen);
	if (!list)
		return -ENOMEM;
	arg_fmt(&args, "%" PRIu64, dir);
	arg_mem(&args, name, namelen);
	arg_fmt(&args, "%o", S_IFREG | (mode & 07777));
	arg_fmt(&args, "%" PRIu32, uid);
	arg_fmt(&args, "%" PRIu32, gid);
	arg_mem(&args, &cls, 1);
	arg_fmt(&args, "%" PRIu64, size);
	arg_mem(&args, list, listlen);
	arg_mem(&args, merge ? "1" : "0", 1);
	arg_fmt(&args, "%" PRIu64, ino);
	arg_fmt(&args, "%" PRIu64, lino);
	arg_mem(&args, dirpath ? dirpath : "", dirpath ? dirpathlen : 0);
	rc = script(s, SC_PUBLISH_NEW, &args, &r);
	free(list);
	/* Redis refused to run it at all (out of memory): its chunks are all this call's own.
	 * (The script releases them itself on every refusal of its own.) */
	if (rc == -EIO && conn_current(s) && conn_current(s)->oom && cls == 's')
		release_chunks(s, nchunks, chunks);
	if (rc)
		return rc;
	rc = attr_reply(s, SC_PUBLISH_NEW, r, a);
	freeReplyObject(r);
	return rc;
}

int store_commit(struct store *s, uint64_t ino, uint64_t size, size_t nchunks,
		 const uint64_t *chunks, int64_t mtime_ns, struct store_attr *a)
{
	struct args args = {0};
	redisReply *r;
	char *list;
	size_t listlen;
	int rc;

	memset(a, 0, sizeof *a);
	if (!chunks_fit(size, nchunks) || size > STORE_SIZE_MAX)
		return -EINVAL;
	list = fmt_ids(nchunks, chunks, &listlen);
	if (!list)
		return -ENOMEM;
	arg_fmt(&args, "%" PRIu64, ino);
	arg_fmt(&args, "%" PRIu64, size);
	arg_mem(&args, list, listlen);
	arg_fmt(&args, "%" PRId64, mtime_ns);
	rc = script(s, SC_COMMIT, &args, &r);
	free(list);
	if (rc)
		return rc;
	rc = attr_reply(s, SC_COMMIT, r, a);
	freeReplyObject(r);
	return rc;
}

/* One script call: LEN (at most STORE_APPEND_PIECE) bytes at the end of INO. */
static int append_piece(struct store *s, uint64_t ino, const void *data, size_t len,
			int64_t mtime_ns, struct store_attr *a)
{
	struct args args = {0};
	redisReply *r;
	int rc;

	arg_fmt(&args, "%" PRIu64, ino);
	arg_mem(&args, data, len);
	arg_fmt(&args, "%" PRId64, mtime_ns);
	rc = script(s, SC_APPEND, &args, &r);
	if (rc)
		return rc;
	rc = attr_reply(s, SC_APPEND, r, a);
	freeReplyObject(r);
	return rc;
}

/* In pieces of at most STORE_APPEND_PIECE, so that no script call holds Redis (and every site
 * on it) for longer than one MiB takes, and no append is too large to be taken. */
int store_append(struct store *s, uint64_t ino, const void *data, size_t len, int64_t mtime_ns,
		 struct store_attr *a)
{
	const char *p = data;
	int rc = 0;

	if (len == 0)
		return store_getattr(s, ino, a);
	memset(a, 0, sizeof *a);
	if (!data)
		return -EINVAL;
	for (size_t off = 0; off < len && !rc; off += STORE_APPEND_PIECE) {
		size_t n = len - off < STORE_APPEND_PIECE ? len - off : STORE_APPEND_PIECE;

		store_attr_release(a);
		rc = append_piece(s, ino, p + off, n, mtime_ns, a);
	}
	return rc;
}

int store_setattr(struct store *s, uint64_t ino, unsigned mask, const struct store_attr *in,
		  struct store_attr *out)
{
	struct args args = {0};
	redisReply *r;
	int rc;

	memset(out, 0, sizeof *out);
	arg_fmt(&args, "%" PRIu64, ino);
	/* each attribute a script argument, "" for one left as it is */
	arg_fmt(&args, (mask & STORE_SET_MODE) ? "%04o" : "", in->mode & 07777);
	arg_fmt(&args, (mask & STORE_SET_UID) ? "%" PRIu32 : "", in->uid);
	arg_fmt(&args, (mask & STORE_SET_GID) ? "%" PRIu32 : "", in->gid);
	arg_fmt(&args, (mask & STORE_SET_MTIME) ? "%" PRId64 : "", in->mtime_ns);
	arg_fmt(&args, (mask & STORE_SET_ATIME) ? "%" PRId64 : "", in->atime_ns);
	rc = script(s, SC_SETATTR, &args, &r);
	if (rc)
		return rc;
	rc = attr_reply(s, SC_SETATTR, r, out);
	freeReplyObject(r);
	return rc;
}
