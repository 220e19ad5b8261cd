/* peers.c - the site's peer registry, `P peers` (docs/FORMAT.md): each mount's record of itself
 * (version, host, pid, start, last seen), so that `pressfs info` can name who has the site. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"

#define RECORD_MAX 256

/* SRC as a record value: printable ASCII without spaces (the record's separator), else '?'. */
static void clean(char *dst, size_t size, const char *src, size_t len)
{
	size_t n = len < size - 1 ? len : size - 1;

	for (size_t i = 0; i < n; i++)
		dst[i] = src[i] > ' ' && src[i] <= '~' ? src[i] : '?';
	dst[n] = '\0';
}

int store_peer_announce(struct store *s, const struct store_peer *p)
{
	char rec[RECORD_MAX], version[STORE_PEER_VERSION_MAX], host[STORE_PEER_HOST_MAX];
	struct args args = {0};
	redisReply *r;
	int len, rc;

	clean(version, sizeof version, p->version, strlen(p->version));
	clean(host, sizeof host, p->host, strlen(p->host));
	len = snprintf(rec, sizeof rec,
		       "start=%" PRId64 " seen=%" PRId64 " pid=%ld host=%s version=%s", p->start_ms,
		       real_ns() / 1000000, p->pid, host, version);
	if (len < 0 || (size_t)len >= sizeof rec)
		return -EINVAL; /* not reached: every part is bounded */
	arg_str(&args, "HSET");
	arg_key_done(&args, key_peers(arg_key(&args), s->prefix));
	arg_mem(&args, s->peer, s->peer_len);
	arg_mem(&args, rec, (size_t)len);
	rc = command(s, "peer announce", &args, &r);
	if (rc)
		return rc;
	if (r->type != REDIS_REPLY_INTEGER)
		rc = refused(s, conn_current(s), "peer announce", r);
	freeReplyObject(r);
	return rc;
}

int store_peer_forget(struct store *s, const char *name)
{
	struct args args = {0};
	redisReply *r;
	int rc;

	arg_str(&args, "HDEL");
	arg_key_done(&args, key_peers(arg_key(&args), s->prefix));
	if (name)
		arg_str(&args, name);
	else
		arg_mem(&args, s->peer, s->peer_len);
	rc = command(s, "peer forget", &args, &r);
	if (rc)
		return rc;
	if (r->type != REDIS_REPLY_INTEGER)
		rc = refused(s, conn_current(s), "peer forget", r);
	else
		rc = r->integer > 0;
	freeReplyObject(r);
	return rc;
}

static bool number(const char *v, size_t len, int64_t *out)
{
	return parse_i64(v, len, out) && *out >= 0;
}

/* "start=MS seen=MS pid=N host=H version=V" into *P; tokens it does not know are skipped (a
 * later pressfs may add some), and a record without start and seen is not one of ours. */
static void parse_record(struct store_peer *p, const char *rec, size_t len)
{
	const char *end = rec + len;
	bool start = false, seen = false;
	int64_t v;

	while (rec < end) {
		const char *sp = memchr(rec, ' ', (size_t)(end - rec));
		const char *tok_end = sp ? sp : end;
		const char *eq = memchr(rec, '=', (size_t)(tok_end - rec));

		if (eq) {
			size_t kl = (size_t)(eq - rec), vl = (size_t)(tok_end - eq - 1);

			if (kl == 5 && !memcmp(rec, "start", 5) && number(eq + 1, vl, &v))
				p->start_ms = v, start = true;
			else if (kl == 4 && !memcmp(rec, "seen", 4) && number(eq + 1, vl, &v))
				p->seen_ms = v, seen = true;
			else if (kl == 3 && !memcmp(rec, "pid", 3) && number(eq + 1, vl, &v))
				p->pid = (long)v;
			else if (kl == 4 && !memcmp(rec, "host", 4))
				clean(p->host, sizeof p->host, eq + 1, vl);
			else if (kl == 7 && !memcmp(rec, "version", 7))
				clean(p->version, sizeof p->version, eq + 1, vl);
		}
		rec = tok_end + 1;
	}
	p->bad = !start || !seen;
}

int store_peers(struct store *s, struct store_peer **out, size_t *n)
{
	struct args args = {0};
	struct store_peer *p = NULL;
	redisReply *r;
	size_t m = 0;
	int rc;

	*out = NULL;
	*n = 0;
	arg_str(&args, "HGETALL");
	arg_key_done(&args, key_peers(arg_key(&args), s->prefix));
	rc = command(s, "peers", &args, &r);
	if (rc)
		return rc;
	if (r->type != REDIS_REPLY_ARRAY || r->elements % 2) {
		rc = refused(s, conn_current(s), "peers", r);
		goto out;
	}
	p = calloc(r->elements / 2 + 1, sizeof *p);
	if (!p) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		const redisReply *name = r->element[i], *rec = r->element[i + 1];

		if (!reply_is_str(name) || !reply_is_str(rec) || name->len == 0 ||
		    name->len > PEER_MAX || memchr(name->str, '\0', name->len))
			continue; /* not a peer id pressfs writes */
		p[m].name = strndup(name->str, name->len);
		if (!p[m].name) {
			store_peers_free(p, m);
			p = NULL;
			m = 0;
			rc = -ENOMEM;
			goto out;
		}
		parse_record(&p[m++], rec->str, rec->len);
	}
out:
	freeReplyObject(r);
	*out = p;
	*n = m;
	return rc;
}

void store_peers_free(struct store_peer *p, size_t n)
{
	for (size_t i = 0; p && i < n; i++)
		free(p[i].name);
	free(p);
}
