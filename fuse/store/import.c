/* import.c - what `pressfs import` adds to the store: many new files of one directory published
 * with their modes, owners and mtimes in one call of import.lua, and chunk uploads sent from
 * a file's page cache. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "store/internal.h"

/* Write all of BUF to K's socket (MORE: more follows at once).  0, or -1 with K's error. */
static int send_all(struct store *s, struct conn *k, const char *buf, size_t len, bool more)
{
	while (len) {
		ssize_t w = send(k->c->fd, buf, len, MSG_NOSIGNAL | (more ? MSG_MORE : 0));

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			set_err(k, "no answer within %u ms", s->timeout_ms);
			return -1;
		}
		if (w < 0) {
			set_err(k, "%s", strerror(errno));
			return -1;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* LEN bytes of FD at *OFF to K's socket, straight from the page cache; a file that ends
 * early is made up with zeros (*SHORTER set) so that the command stays whole.  0 or -1. */
static int send_file(struct store *s, struct conn *k, int fd, off_t *off, size_t len, bool *shorter)
{
	static const char zeros[65536];

	while (len) {
		ssize_t w = *shorter ? 0 : sendfile(k->c->fd, fd, off, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN) {
			*shorter = true; /* a read error of the source: padded, refused below */
			continue;
		}
		if (w < 0) {
			set_err(k, "no answer within %u ms", s->timeout_ms);
			return -1;
		}
		if (w == 0) {
			size_t z = len < sizeof(zeros) ? len : sizeof(zeros);

			*shorter = true;
			if (send_all(s, k, zeros, z, true))
				return -1;
			w = (ssize_t)z;
		}
		len -= (size_t)w;
	}
	return 0;
}

int store_put_file_chunks(struct store *s, int fd, uint64_t off, size_t n, const size_t *len,
			  uint64_t *ids)
{
	char key[KEY_MAX], head[192], tail[64], ttl[24];
	off_t at = (off_t)off;
	bool shorter = false;
	struct conn *k;
	int rc;

	for (size_t i = 0; i < n; i++)
		if (len[i] > STORE_CHUNK_SIZE)
			return -EINVAL;
	if (n == 0)
		return 0;
	rc = store_alloc_ids(s, n, ids);
	if (rc)
		return rc;
	rc = conn_get(s, &k);
	if (rc)
		return rc == -EPROTO ? -EIO : rc;
	snprintf(ttl, sizeof ttl, "%u", s->pending_ttl_s);
	/* every SET goes out before the first "+OK" is read: one round trip in all, as in
	 * store_put_chunks, and the bytes never pass through this process */
	for (size_t i = 0; i < n; i++) {
		size_t kl = key_chunk(key, s->prefix, ids[i]);
		int hl = snprintf(head, sizeof head, "*5\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$%zu\r\n",
				  kl, key, len[i]);
		int tl =
		    snprintf(tail, sizeof tail, "\r\n$2\r\nEX\r\n$%zu\r\n%s\r\n", strlen(ttl), ttl);

		if (send_all(s, k, head, (size_t)hl, true) ||
		    send_file(s, k, fd, &at, len[i], &shorter) ||
		    send_all(s, k, tail, (size_t)tl, i + 1 < n))
			return conn_fail(s, k);
	}
	for (size_t got = 0; got < n; got++) {
		redisReply *r;

		if (redisGetReply(k->c, (void **)&r) != REDIS_OK)
			return conn_fail(s, k);
		if (r->type != REDIS_REPLY_STATUS) {
			if (!rc)
				rc = refused(s, k, "SET chunk", r);
			ids[got] = 0; /* not stored: nothing to release */
		}
		freeReplyObject(r);
	}
	if (!rc && shorter)
		rc = -ENODATA;
	if (rc)
		store_release_chunks(s, n, ids);
	return rc;
}

/* The script's arguments 6 and 7: every name followed by a '/', and one line per file
 * "MODE UID GID SIZE MTIME CHUNK..." (docs/FORMAT.md, import). */
static int pack(const struct store_import_file *f, size_t n, char **names, size_t *nameslen,
		char **recs, size_t *recslen)
{
	size_t nl = 0, rl = 0;
	char *np, *rp;

	for (size_t i = 0; i < n; i++) {
		nl += f[i].namelen + 1;
		rl += 4 + 3 * 21 + 22 + 1 + f[i].nchunks * 21;
	}
	*names = np = malloc(nl + 1);
	*recs = rp = malloc(rl + 1);
	if (!np || !rp) {
		free(np);
		free(rp);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		memcpy(np, f[i].name, f[i].namelen);
		np += f[i].namelen;
		*np++ = '/';
		rp += sprintf(rp, "%04o %" PRIu32 " %" PRIu32 " %" PRIu64 " %" PRId64,
			      f[i].mode & 01777, f[i].uid, f[i].gid, f[i].size, f[i].mtime_ns);
		for (size_t j = 0; j < f[i].nchunks; j++)
			rp += sprintf(rp, " %" PRIu64, f[i].chunks[j]);
		*rp++ = '\n';
	}
	*nameslen = (size_t)(np - *names);
	*recslen = (size_t)(rp - *recs);
	return 0;
}

/* The script's answer: one element per file, an inode number or a negative errno. */
static int answers(struct store *s, const redisReply *r, struct store_import_file *f, size_t n)
{
	if (r->type == REDIS_REPLY_INTEGER)
		return script_errno(s, SC_IMPORT, r);
	if (r->type != REDIS_REPLY_ARRAY || r->elements != n)
		return refused(s, conn_current(s), "import", r);
	for (size_t i = 0; i < n; i++) {
		const redisReply *e = r->element[i];

		if (e->type == REDIS_REPLY_INTEGER && e->integer < 0 && e->integer > -4096)
			f[i].rc = (int)e->integer;
		else if (!reply_u64(e, &f[i].ino) || f[i].ino == 0)
			return refused(s, conn_current(s), "import", r);
	}
	return 0;
}

int store_import_files(struct store *s, uint64_t dir, const char *dirpath, size_t dirpathlen,
		       struct store_import_file *f, size_t n)
{
	struct args args = {0};
	char *names = NULL, *recs = NULL;
	size_t nameslen, recslen;
	redisReply *r;
	int rc;

	if (n == 0)
		return 0;
	if (n > STORE_IMPORT_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		f[i].ino = 0;
		f[i].rc = 0;
		rc = check_name(f[i].name, f[i].namelen);
		if (rc == 0 && (f[i].size > STORE_SIZE_MAX ||
				f[i].nchunks > f[i].size / STORE_CHUNK_SIZE +
						   (f[i].size % STORE_CHUNK_SIZE != 0)))
			rc = -EINVAL;
		if (rc)
			return rc;
	}
	rc = pack(f, n, &names, &nameslen, &recs, &recslen);
	if (rc)
		return rc;
	arg_fmt(&args, "%" PRIu64, dir);
	arg_mem(&args, dirpath ? dirpath : "", dirpath ? dirpathlen : 0);
	arg_mem(&args, names, nameslen);
	arg_mem(&args, recs, recslen);
	rc = script(s, SC_IMPORT, &args, &r);
	free(names);
	free(recs);
	/* Redis refused to run it at all (out of memory): the chunks are all this call's own */
	if (rc == -EIO && conn_current(s) && conn_current(s)->oom)
		for (size_t i = 0; i < n; i++)
			store_release_chunks(s, f[i].nchunks, f[i].chunks);
	if (rc)
		return rc;
	rc = answers(s, r, f, n);
	freeReplyObject(r);
	return rc;
}
