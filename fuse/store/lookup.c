/* lookup.c - the store's reads of names and records: lookup, path resolution, getattr,
 * directory listings and chunk reads. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

#include "store/internal.h"

int store_lookup(struct store *s, uint64_t dir, const char *name, size_t namelen,
		 struct store_attr *a)
{
	struct args args = {0};
	redisReply *r;
	int rc;

	memset(a, 0, sizeof *a);
	rc = check_name(name, namelen);
	if (rc)
		return rc;
	arg_fmt(&args, "%" PRIu64, dir);
	arg_mem(&args, name, namelen);
	rc = script(s, SC_LOOKUP, &args, &r);
	if (rc)
		return rc;
	if (r->type == REDIS_REPLY_INTEGER && r->integer == 0)
		rc = STORE_WHITEOUT;
	else if ((rc = attr_reply(s, SC_LOOKUP, r, a)) == 0)
		rc = a->type;
	freeReplyObject(r);
	return rc;
}

int store_dir_path(struct store *s, uint64_t dir, char *buf, size_t size)
{
	struct args args = {0};
	redisReply *r;
	int rc;

	arg_fmt(&args, "%" PRIu64, dir);
	rc = script(s, SC_WHERE, &args, &r);
	if (rc)
		return rc;
	if (r->type == REDIS_REPLY_INTEGER && r->integer == 0)
		rc = -ENOENT;
	else if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->str[0] != '/' ||
		 memchr(r->str, '\0', r->len))
		rc = refused(s, conn_current(s), "where", r);
	else if (r->len >= size || r->len > INT_MAX)
		rc = -ENAMETOOLONG;
	else {
		memcpy(buf, r->str, r->len);
		buf[r->len] = '\0';
		rc = (int)r->len;
	}
	freeReplyObject(r);
	return rc;
}

int store_resolve_dir(struct store *s, const char *path, size_t len, uint64_t *ino)
{
	struct args args = {0};
	redisReply *r;
	size_t i = 1;
	int rc;

	*ino = 0;
	if (!path || len == 0 || path[0] != '/')
		return -EINVAL;
	while (len > 1 && i <= len) { /* every segment must be a valid name */
		const char *e = memchr(path + i, '/', len - i);
		size_t n = e ? (size_t)(e - path) - i : len - i;

		rc = check_name(path + i, n);
		if (rc)
			return rc;
		i += n + 1;
	}
	arg_mem(&args, path, len);
	rc = script(s, SC_RESOLVE, &args, &r);
	if (rc)
		return rc;
	if (r->type == REDIS_REPLY_INTEGER && r->integer == 0)
		rc = 0;
	else if (!reply_u64(r, ino))
		rc = refused(s, conn_current(s), "resolve", r);
	freeReplyObject(r);
	return rc;
}

int store_getattr(struct store *s, uint64_t ino, struct store_attr *a)
{
	struct args args = {0};
	redisReply *r;
	int rc;

	memset(a, 0, sizeof *a);
	arg_str(&args, "HGETALL");
	arg_key_done(&args, key_inode(arg_key(&args), s->prefix, ino));
	rc = command(s, "getattr", &args, &r);
	if (rc)
		return rc;
	if (r->type != REDIS_REPLY_ARRAY)
		rc = refused(s, conn_current(s), "getattr", r);
	else if (r->elements == 0)
		rc = -ENOENT;
	else if ((rc = attr_parse(r, 0, ino, a)) == -EIO)
		rc = refused(s, conn_current(s), "getattr (damaged inode)", r);
	else if (rc == -EBADMSG)
		rc = bad_record(s, "getattr", "inode", ino);
	freeReplyObject(r);
	return rc;
}

int store_sync(struct store *s)
{
	struct args args = {0};
	redisReply *r;
	int rc;

	arg_str(&args, "PING");
	rc = command(s, "sync", &args, &r);
	if (!rc)
		freeReplyObject(r);
	return rc;
}

ssize_t store_read_chunk(struct store *s, uint64_t id, size_t off, size_t len, void *buf)
{
	struct args args = {0};
	redisReply *r;
	ssize_t rc;
	int err;

	if (len == 0)
		return 0;
	if (off >= STORE_CHUNK_SIZE)
		return 0;
	if (len > STORE_CHUNK_SIZE - off)
		len = STORE_CHUNK_SIZE - off;
	arg_str(&args, "GETRANGE");
	arg_key_done(&args, key_chunk(arg_key(&args), s->prefix, id));
	arg_fmt(&args, "%zu", off);
	arg_fmt(&args, "%zu", off + len - 1);
	err = command(s, "read", &args, &r);
	if (err)
		return err;
	if (r->type != REDIS_REPLY_STRING || r->len > len) {
		rc = refused(s, conn_current(s), "GETRANGE", r);
	} else if (r->len > 0) {
		memcpy(buf, r->str, r->len);
		rc = (ssize_t)r->len;
	} else {
		/* nothing there: past the stored end (the reader zero-fills), or no chunk at all */
		redisReply *e;

		args.n = 0;
		arg_str(&args, "EXISTS");
		arg_key_done(&args, key_chunk(arg_key(&args), s->prefix, id));
		rc = command(s, "read", &args, &e);
		if (rc == 0) {
			if (e->type != REDIS_REPLY_INTEGER)
				rc = refused(s, conn_current(s), "EXISTS", e);
			else if (e->integer == 0) {
				set_err(conn_current(s), "chunk %" PRIu64 " is missing", id);
				slog(s, LOG_WARNING, "store: chunk %" PRIu64 " is missing", id);
				rc = -EIO;
			}
			freeReplyObject(e);
		}
	}
	freeReplyObject(r);
	return rc;
}

/* ---- listing ---- */

void store_dirents_free(struct store_dirent *d, size_t n)
{
	if (!d)
		return;
	for (size_t i = 0; i < n; i++)
		free(d[i].name);
	free(d);
}

/* The lino of each of the N entries of D (whiteouts have none): one HGET each, pipelined on the
 * connection the listing came from.  A value that is not a number is no lino. */
static int fetch_linos(struct store *s, struct store_dirent *d, size_t n)
{
	struct conn *k = conn_current(s);
	char key[KEY_MAX];
	size_t sent = 0;

	if (!k || !k->c)
		return -EIO;
	for (size_t i = 0; i < n; i++) {
		const char *argv[3] = {"HGET", key, "lino"};
		size_t lens[3] = {4, 0, 4};

		if (d[i].type == STORE_WHITEOUT)
			continue;
		lens[1] = key_inode(key, s->prefix, d[i].ino);
		if (redisAppendCommandArgv(k->c, 3, argv, lens) != REDIS_OK)
			return conn_fail(s, k);
		sent++;
	}
	for (size_t i = 0; i < n && sent; i++) {
		const char *argv[3] = {"HGET", key, "lino"};
		size_t lens[3] = {4, 0, 4};
		redisReply *r;

		if (d[i].type == STORE_WHITEOUT)
			continue;
		lens[1] = key_inode(key, s->prefix, d[i].ino); /* for a cluster's redirection */
		if (route_reply(s, k, 3, argv, lens, &r) != REDIS_OK)
			return conn_fail(s, k);
		sent--;
		if (r->type == REDIS_REPLY_STRING && !parse_u64(r->str, r->len, 10, &d[i].lino))
			d[i].lino = 0;
		freeReplyObject(r);
	}
	return 0;
}

int store_count_subdirs(struct store *s, uint64_t dir, uint32_t *n)
{
	struct args args = {0};
	redisReply *r;
	int rc;

	*n = 0;
	/* HGETALL, not HVALS: the ACL of docs/FORMAT.md allows exactly the commands format 1
	 * uses.  Only directories made before their count was kept are counted this way. */
	arg_str(&args, "HGETALL");
	arg_key_done(&args, key_dir(arg_key(&args), s->prefix, dir));
	rc = command(s, "readdir", &args, &r);
	if (rc)
		return rc;
	if (r->type != REDIS_REPLY_ARRAY) {
		rc = refused(s, conn_current(s), "readdir", r);
	} else if (r->elements == 0) {
		rc = -ENOENT; /* not even the "." sentinel: the directory is gone */
	} else {
		for (size_t i = 1; i < r->elements; i += 2)
			if (r->element[i]->type == REDIS_REPLY_STRING && r->element[i]->len > 1 &&
			    r->element[i]->str[0] == STORE_DIR && *n < UINT32_MAX)
				(*n)++;
	}
	freeReplyObject(r);
	return rc;
}

int store_dir_has(struct store *s, uint64_t dir, size_t n, const char *const *names,
		  const size_t *lens, bool *has)
{
	char key[KEY_MAX];
	struct conn *k;
	size_t klen;
	int rc;

	for (size_t i = 0; i < n; i++)
		has[i] = false;
	if (!n)
		return 0;
	rc = conn_get(s, &k);
	if (rc)
		return rc;
	klen = key_dir(key, s->prefix, dir);
	for (size_t i = 0; i < n; i++) {
		const char *argv[3] = {"HGET", key, names[i]};
		size_t al[3] = {4, klen, lens[i]};

		if (redisAppendCommandArgv(k->c, 3, argv, al) != REDIS_OK)
			return conn_fail(s, k);
	}
	for (size_t i = 0; i < n; i++) {
		redisReply *r;

		if (redisGetReply(k->c, (void **)&r) != REDIS_OK)
			return conn_fail(s, k);
		if (r->type == REDIS_REPLY_STRING)
			has[i] = true;
		else if (r->type != REDIS_REPLY_NIL && !rc)
			rc = refused(s, k, "readdir", r); /* (the other replies are still read) */
		freeReplyObject(r);
	}
	return rc;
}

int store_readdir(struct store *s, uint64_t dir, struct store_dirent **out, size_t *n)
{
	struct args args = {0};
	struct store_dirent *d = NULL;
	size_t m = 0;
	redisReply *r;
	int rc;

	*out = NULL;
	*n = 0;
	arg_str(&args, "HGETALL");
	arg_key_done(&args, key_dir(arg_key(&args), s->prefix, dir));
	rc = command(s, "readdir", &args, &r);
	if (rc)
		return rc;
	if (r->type != REDIS_REPLY_ARRAY || r->elements % 2) {
		rc = refused(s, conn_current(s), "readdir", r);
		goto out;
	}
	if (r->elements == 0) {
		rc = -ENOENT;
		goto out;
	}
	d = calloc(r->elements / 2, sizeof *d);
	if (!d) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < r->elements; i += 2) {
		const redisReply *f = r->element[i], *v = r->element[i + 1];
		struct store_dirent *e = &d[m];

		if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
			goto bad;
		if (f->len == 1 && f->str[0] == '.')
			continue; /* the sentinel */
		if (v->len < 1)
			goto bad;
		e->type = v->str[0];
		if (e->type == STORE_WHITEOUT) {
			if (v->len != 1)
				goto bad;
		} else if (!strchr("fdlpscb", e->type) ||
			   !parse_u64(v->str + 1, v->len - 1, 10, &e->ino)) {
			goto bad;
		}
		if (check_name(f->str, f->len) || (e->type != STORE_WHITEOUT && e->ino == 0)) {
			/* a name the overlay must never see ("..", "a/b", 300 bytes) */
			bad_record(s, "readdir", "an entry of directory", dir);
			continue;
		}
		e->name = malloc(f->len + 1);
		if (!e->name) {
			rc = -ENOMEM;
			goto fail;
		}
		memcpy(e->name, f->str, f->len);
		e->name[f->len] = '\0';
		e->namelen = f->len;
		m++;
	}
	rc = fetch_linos(s, d, m);
	if (rc)
		goto fail;
	*out = d;
	*n = m;
	goto out;
bad:
	rc = refused(s, conn_current(s), "readdir (damaged directory)", r);
fail:
	store_dirents_free(d, m);
out:
	freeReplyObject(r);
	return rc;
}
