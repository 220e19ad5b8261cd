/* resp.c - the store's commands and replies: argument vectors, one command or one script
 * call (EVALSHA, falling back to EVAL), the zero-copy chunk SET, and the decoding of inode
 * records and script answers. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>

#include "stats.h"
#include "store/internal.h"

/* ---- argument vectors ---- */

void arg_mem(struct args *a, const void *p, size_t len)
{
	a->v[a->n] = p;
	a->l[a->n++] = len;
}

void arg_str(struct args *a, const char *p)
{
	arg_mem(a, p, strlen(p));
}

void arg_fmt(struct args *a, const char *fmt, ...)
{
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(a->num[a->n], sizeof a->num[0], fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof a->num[0])
		abort(); /* never reached: numbers are at most 22 bytes */
	arg_mem(a, a->num[a->n], (size_t)len);
}

char *arg_key(struct args *a)
{
	return a->num[a->n];
}

void arg_key_done(struct args *a, size_t len)
{
	arg_mem(a, a->num[a->n], len);
}

/* ---- calls ---- */

/* A pause between two tries while a cluster's slot moves. */
static void route_pause(void)
{
	struct timespec ts = {0, ROUTE_PAUSE_MS * 1000000L};

	nanosleep(&ts, NULL);
}

int command(struct store *s, const char *what, struct args *a, redisReply **out)
{
	struct cluster_redirect d;
	struct conn *k;
	redisReply *r;
	uint64_t t0;
	int rc, tries = 0;

	*out = NULL;
again:
	rc = conn_get(s, &k);
	if (rc)
		return rc == -EPROTO ? -EIO : rc;
	t0 = stats_clock();
	r = redisCommandArgv(k->c, a->n, a->v, a->l);
	stats_store_rtt(stats_clock() - t0);
	if (!r)
		return conn_fail(s, k);
	/* on a cluster: MOVED, ASK, TRYAGAIN (the store's commands are one key each) */
	switch (tries++ < ROUTE_TRIES ? route_redirect(s, r, &d) : ROUTE_NONE) {
	case ROUTE_AGAIN:
		/* a MOVED of another slot than the site's: sent where it points (the site's
		 * moving moves the connection itself) */
		if (d.port && d.slot != s->site_slot)
			goto resend;
		freeReplyObject(r);
		if (tries > 1)
			route_pause();
		goto again;
	case ROUTE_ASK:
	resend:
		freeReplyObject(r);
		r = route_resend(s, k, &d, a->n, a->v, a->l);
		if (!r)
			return -EIO;
		if (route_redirect(s, r, &d) != ROUTE_NONE) {
			freeReplyObject(r);
			route_pause();
			goto again;
		}
		break;
	case ROUTE_NONE:
		break;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		rc = refused(s, k, what, r);
		freeReplyObject(r);
		return rc;
	}
	*out = r;
	return 0;
}

/* Scripts that change nothing: no WAIT after them. */
static bool read_only(enum script_id which)
{
	return which == SC_INIT || which == SC_LOOKUP || which == SC_RESOLVE;
}

/* durability=: WAIT until s->wait_replicas replicas have everything written so far, on any
 * connection (the replication stream is one, in order: the commit's WAIT covers the chunks
 * written before it).  0, or -EIO saying how many acknowledged.  The change itself stays on
 * the primary: the caller reports a failure it cannot undo, as for a lost reply. */
static int durable(struct store *s, struct conn *k, const char *what)
{
	redisReply *r;
	long long got;

	redisSetTimeout(k->c, ms_tv(s->timeout_ms + s->wait_ms));
	r = redisCommand(k->c, "WAIT %u %u", s->wait_replicas, s->wait_ms);
	if (!r)
		return conn_fail(s, k);
	redisSetTimeout(k->c, ms_tv(s->timeout_ms));
	if (r->type != REDIS_REPLY_INTEGER) {
		int rc = refused(s, k, "WAIT", r);

		freeReplyObject(r);
		return rc;
	}
	got = r->integer;
	freeReplyObject(r);
	if (got >= (long long)s->wait_replicas)
		return 0;
	set_err(k,
		"%s: only %lld of the %u replicas durability= asks for acknowledged within %u ms: "
		"not reported as written",
		what, got, s->wait_replicas, s->wait_ms);
	if (atomic_exchange(&s->last_err_log, mono_ms() / 1000) != mono_ms() / 1000)
		slog(s, LOG_ERR, "store: %s", k->err);
	return -EIO;
}

/* The store whose changes this thread holds (store_hold_changes), if any. */
static __thread struct store *changes_held;

void store_hold_changes(struct store *s)
{
	pthread_rwlock_wrlock(&s->changes);
	changes_held = s;
}

void store_release_changes(struct store *s)
{
	changes_held = NULL;
	pthread_rwlock_unlock(&s->changes);
}

static int script_call(struct store *s, enum script_id which, const struct args *a,
		       redisReply **out);

/* A changing script waits while another thread holds the store's changes. */
int script(struct store *s, enum script_id which, const struct args *a, redisReply **out)
{
	bool shared = !read_only(which) && changes_held != s;
	int rc;

	if (shared)
		pthread_rwlock_rdlock(&s->changes);
	rc = script_call(s, which, a, out);
	if (shared)
		pthread_rwlock_unlock(&s->changes);
	return rc;
}

/* EVALSHA first; a Redis that lost its script cache (a restart) gets the text. */
static int script_call(struct store *s, enum script_id which, const struct args *a,
		       redisReply **out)
{
	const struct script *sc = &store_scripts[which];
	const char *argv[ARGS_MAX + 7];
	size_t lens[ARGS_MAX + 7];
	char now[24], grace[16];
	struct cluster_redirect d;
	struct conn *k;
	redisReply *r;
	uint64_t t0;
	int rc, argc, tries = 0;

	*out = NULL;
again:
	rc = conn_get(s, &k);
	if (rc)
		return rc == -EPROTO ? -EIO : rc;
	k->oom = false;
	argc = 0;
	snprintf(now, sizeof now, "%" PRId64, real_ns());
	snprintf(grace, sizeof grace, "%u", s->grace_ms);
	argv[argc] = "EVALSHA", lens[argc++] = 7;
	argv[argc] = k->sha[which], lens[argc++] = 40;
	argv[argc] = "1", lens[argc++] = 1;
	argv[argc] = s->prefix, lens[argc++] = s->prefix_len;
	argv[argc] = now, lens[argc++] = strlen(now);
	argv[argc] = s->peer, lens[argc++] = s->peer_len;
	argv[argc] = grace, lens[argc++] = strlen(grace);
	for (int i = 0; i < a->n; i++)
		argv[argc] = a->v[i], lens[argc++] = a->l[i];

	t0 = stats_clock();
	r = redisCommandArgv(k->c, argc, argv, lens);
	stats_store_rtt(stats_clock() - t0);
	if (!r)
		return conn_fail(s, k);
	if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
		freeReplyObject(r);
		argv[0] = "EVAL", lens[0] = 4;
		argv[1] = sc->text, lens[1] = sc->len;
		t0 = stats_clock();
		r = redisCommandArgv(k->c, argc, argv, lens);
		stats_store_rtt(stats_clock() - t0);
		if (!r)
			return conn_fail(s, k);
	}
	/* On a cluster, a script touches the keys of the site's slot only, undeclared: it
	 * cannot follow an ASK (the slot's keys are split between two nodes until the migration
	 * ends, and the script would see half of them), it waits for the MOVED that ends it. */
	if (tries++ < ROUTE_TRIES && route_redirect(s, r, &d) != ROUTE_NONE) {
		freeReplyObject(r);
		if (tries > 1)
			route_pause();
		goto again;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		rc = refused(s, k, sc->name, r);
		freeReplyObject(r);
		return rc;
	}
	if (s->wait_replicas && !read_only(which) &&
	    !(r->type == REDIS_REPLY_INTEGER && r->integer < 0)) {
		rc = durable(s, k, sc->name);
		if (rc) {
			freeReplyObject(r);
			return rc;
		}
	}
	/* the scripts from create on change the site, and announce it to the other peers */
	if (which >= SC_CREATE && !(r->type == REDIS_REPLY_INTEGER && r->integer < 0))
		stats_event(EV_INVAL_PUBLISHED);
	*out = r;
	return 0;
}

int script_errno(struct store *s, enum script_id which, const redisReply *r)
{
	struct conn *k = conn_current(s);
	const char *name = store_scripts[which].name;

	if (r->type == REDIS_REPLY_INTEGER && r->integer < 0 && r->integer > -4096) {
		if (r->integer == -EIO) {
			set_err(k, "%s: the store refers to data that is gone", name);
			slog(s, LOG_WARNING,
			     "store: %s: a chunk or inode the change refers to is gone (expired "
			     "pending chunk, or a damaged site: run fsck)",
			     name);
		}
		return (int)r->integer;
	}
	return refused(s, k, name, r);
}

/* Send the SET straight from the caller's buffer, sparing hiredis's two copies of each MiB
 * (its output buffer is empty between commands). */
int send_set(struct store *s, struct conn *k, const char *key, size_t keylen, const void *data,
	     size_t len, const char *ttl)
{
	char head[192], tail[64];
	int hl = snprintf(head, sizeof head, "*5\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$%zu\r\n", keylen,
			  key, len);
	int tl = snprintf(tail, sizeof tail, "\r\n$2\r\nEX\r\n$%zu\r\n%s\r\n", strlen(ttl), ttl);
	struct iovec iov[3] = {{head, (size_t)hl}, {(void *)data, len}, {tail, (size_t)tl}};
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 3};

	while (msg.msg_iovlen) {
		ssize_t w = sendmsg(k->c->fd, &msg, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				set_err(k, "no answer within %u ms", s->timeout_ms);
			else
				set_err(k, "%s", strerror(errno));
			return -1;
		}
		while (msg.msg_iovlen && (size_t)w >= msg.msg_iov->iov_len) {
			w -= (ssize_t)msg.msg_iov->iov_len;
			msg.msg_iov++;
			msg.msg_iovlen--;
		}
		if (msg.msg_iovlen) {
			msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + w;
			msg.msg_iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* ---- inode records ---- */

void store_attr_release(struct store_attr *a)
{
	free(a->chunks);
	free(a->target);
	a->chunks = NULL;
	a->target = NULL;
	a->nchunks = 0;
}

/* The chunk list of a file of A->size bytes (known before: see attr_parse).  A list longer
 * than the size needs, plus one, is refused before anything is allocated for it. */
static int parse_chunks(const char *p, size_t len, struct store_attr *a)
{
	size_t n = 0, i = 0;

	for (size_t j = 0; j < len; j++)
		if (p[j] != ' ' && (j == 0 || p[j - 1] == ' '))
			n++;
	if (n == 0)
		return 0;
	if (n > a->size / STORE_CHUNK_SIZE + 2)
		return -EBADMSG;
	a->chunks = calloc(n, sizeof *a->chunks);
	if (!a->chunks)
		return -ENOMEM;
	while (i < len) {
		size_t j = i;

		while (j < len && p[j] != ' ')
			j++;
		if (j > i && !parse_u64(p + i, j - i, 10, &a->chunks[a->nchunks++]))
			return -EIO;
		i = j + 1;
	}
	return 0;
}

/* One field F = V of an inode record into *A.  0, -EIO for a malformed value, -ENOMEM. */
static int attr_field(const redisReply *f, const redisReply *v, struct store_attr *a)
{
	const char *n = f->str;
	uint64_t u;

	if (!strcmp(n, "type")) {
		if (v->len != 1 || !strchr("fdlpscb", v->str[0]))
			return -EIO;
		a->type = v->str[0];
	} else if (!strcmp(n, "cls")) {
		if (v->len != 1)
			return -EIO;
		a->cls = v->str[0];
	} else if (!strcmp(n, "mode")) {
		if (!parse_u64(v->str, v->len, 8, &u) || u > UINT32_MAX)
			return -EIO;
		a->mode = (uint32_t)u;
	} else if (!strcmp(n, "uid") || !strcmp(n, "gid")) {
		if (!parse_u64(v->str, v->len, 10, &u) || u > UINT32_MAX)
			return -EIO;
		*(n[0] == 'u' ? &a->uid : &a->gid) = (uint32_t)u;
	} else if (!strcmp(n, "nlink")) {
		if (!parse_u64(v->str, v->len, 10, &u) || u < 1 || u > UINT32_MAX)
			return -EIO;
		a->nlink = (uint32_t)u;
	} else if (!strcmp(n, "rdev")) {
		if (!parse_u64(v->str, v->len, 10, &a->rdev))
			return -EIO;
	} else if (!strcmp(n, "size")) {
		if (!parse_u64(v->str, v->len, 10, &a->size))
			return -EIO;
	} else if (!strcmp(n, "mtime")) {
		if (!parse_i64(v->str, v->len, &a->mtime_ns))
			return -EIO;
	} else if (!strcmp(n, "atime")) {
		if (!parse_i64(v->str, v->len, &a->atime_ns))
			return -EIO;
		a->has_atime = true;
	} else if (!strcmp(n, "ctime")) {
		if (!parse_i64(v->str, v->len, &a->ctime_ns))
			return -EIO;
	} else if (!strcmp(n, "ver")) {
		if (!parse_u64(v->str, v->len, 10, &a->version))
			return -EIO;
	} else if (!strcmp(n, "lino")) {
		if (!parse_u64(v->str, v->len, 10, &a->lino))
			return -EIO;
	} else if (!strcmp(n, "opaque")) {
		a->opaque = v->len == 1 && v->str[0] == '1';
	} else if (!strcmp(n, "unlinked")) {
		a->unlinked = true;
	} else if (!strcmp(n, "chunks")) {
		if (a->chunks)
			return -EIO;
		return parse_chunks(v->str, v->len, a);
	} else if (!strcmp(n, "target")) {
		if (a->target)
			return -EIO;
		if (memchr(v->str, '\0', v->len))
			return -EBADMSG;
		a->target = strndup(v->str, v->len);
		if (!a->target)
			return -ENOMEM;
	} /* fields this version does not know are left alone */
	return 0;
}

/* What a record must be to be served (docs/FORMAT.md, "Records read back"): the type bits
 * of mode agree with type, sizes within what a write can make, a symlink's target its size,
 * special files without data.  Setuid and setgid are never served. */
static int attr_check(struct store_attr *a)
{
	static const uint32_t fmt[] = {
	    ['f'] = S_IFREG,  ['d'] = S_IFDIR, ['l'] = S_IFLNK, ['p'] = S_IFIFO,
	    ['s'] = S_IFSOCK, ['c'] = S_IFCHR, ['b'] = S_IFBLK};

	if ((a->mode & S_IFMT) != fmt[(unsigned char)a->type])
		return -EBADMSG;
	a->mode &= ~(uint32_t)(S_ISUID | S_ISGID);
	if (a->type == STORE_FILE && a->size > STORE_SIZE_MAX)
		return -EBADMSG;
	if (a->type == STORE_SYMLINK &&
	    (a->size != strlen(a->target) || a->size == 0 || a->size > TARGET_MAX))
		return -EBADMSG;
	if (a->type != STORE_FILE && a->nchunks)
		return -EBADMSG;
	if (a->type != STORE_CHR && a->type != STORE_BLK && a->rdev)
		return -EBADMSG;
	if (strchr("pscb", a->type) && a->size)
		return -EBADMSG; /* directories and special files hold no data */
	return 0;
}

int attr_parse(const redisReply *r, size_t from, uint64_t ino, struct store_attr *a)
{
	int rc = -EIO;

	memset(a, 0, sizeof *a);
	a->ino = ino;
	if (r->type != REDIS_REPLY_ARRAY || (r->elements - from) % 2)
		return -EIO;
	if (ino == 0)
		return -EBADMSG;
	/* the size first: it bounds the chunk list */
	for (size_t i = from; i + 1 < r->elements; i += 2) {
		const redisReply *f = r->element[i], *v = r->element[i + 1];

		if (f->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING &&
		    !strcmp(f->str, "size") && !parse_u64(v->str, v->len, 10, &a->size))
			return -EIO;
	}
	for (size_t i = from; i + 1 < r->elements; i += 2) {
		const redisReply *f = r->element[i], *v = r->element[i + 1];

		if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
			goto fail;
		rc = attr_field(f, v, a);
		if (rc)
			goto fail;
		rc = -EIO;
	}
	if (!a->type || (a->type == STORE_SYMLINK && !a->target))
		goto fail;
	if (!a->nlink && a->type != STORE_DIR)
		a->nlink = 1;
	rc = attr_check(a);
	if (rc)
		goto fail;
	return 0;
fail:
	store_attr_release(a);
	return rc;
}

int attr_reply(struct store *s, enum script_id which, const redisReply *r, struct store_attr *a)
{
	uint64_t ino;
	int rc;

	if (r->type == REDIS_REPLY_INTEGER)
		return script_errno(s, which, r);
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || !reply_u64(r->element[0], &ino))
		return refused(s, conn_current(s), store_scripts[which].name, r);
	rc = attr_parse(r, 1, ino, a);
	if (rc == -EIO)
		return refused(s, conn_current(s), store_scripts[which].name, r);
	if (rc == -EBADMSG)
		return bad_record(s, store_scripts[which].name, "inode", ino);
	return rc;
}

int bad_record(struct store *s, const char *what, const char *kind, uint64_t id)
{
	if (atomic_fetch_add(&s->bad_records, 1) == 0)
		slog(s, LOG_WARNING,
		     "store: %s: %s %" PRIu64 " of site %s fails validation (a name or record "
		     "pressfs never writes): treated as absent; further ones are only counted",
		     what, kind, id, s->prefix);
	return -ENOENT;
}

uint64_t store_bad_records(struct store *s)
{
	return atomic_load(&s->bad_records);
}
