/* pool.c - cache-class content in memcached: libmemcached parses the server list, and
 * libmemcachedutil's connection pool hands each of the daemon's threads a handle of its own. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmemcached/memcached.h>
#include <libmemcachedutil-1.0/util.h>

#include "pool.h"
#include "store/keys.h"

#define MAX_SERVERS	32
#define PARTS_PER_CHUNK (STORE_CHUNK_SIZE / POOL_PART_SIZE)
/* Handles: more than the FUSE loop's threads plus the invalidation thread, so that a caller
 * waits for one only if something is badly wrong. */
#define POOL_MAX  64
#define POOL_WAIT 5 /* seconds */

struct pool {
	memcached_st *master; /* configured once; the pool's handles are its clones */
	memcached_pool_st *handles;
	char prefix[96];
};

static __thread char last_error[224];

static void set_error(const char *what, memcached_st *mc, memcached_return_t rc)
{
	snprintf(last_error, sizeof(last_error), "%s: %s", what,
		 mc ? memcached_last_error_message(mc) : memcached_strerror(NULL, rc));
}

const char *pool_strerror(struct pool *c)
{
	(void)c;
	return last_error;
}

/* The servers of URL, parsed by libmemcached, into *OUT (NULL to only check).  libmemcached's
 * parser takes what it does not understand as a default (a missing or bad port is 11211, a
 * port past 65535 wraps): each server must read back exactly as written, so that a typo is an
 * error at mount time and not a pool on the wrong port. */
static int parse_servers(const char *url, memcached_server_list_st *out, char *why, size_t wsize)
{
	static const char scheme[] = "memcached://";
	memcached_server_list_st list;
	const char *p;
	uint32_t n;
	int err = 0;

	if (!url || strncmp(url, scheme, sizeof(scheme) - 1)) {
		snprintf(why, wsize, "expected memcached://host:port[,host:port...]");
		return -EINVAL;
	}
	p = url + sizeof(scheme) - 1;
	list = memcached_servers_parse(p);
	n = list ? memcached_server_list_count(list) : 0;
	for (uint32_t i = 0; i <= n && !err; i++) {
		size_t len = strcspn(p, ",");
		char back[MEMCACHED_NI_MAXHOST + 8];

		if (i == n) {
			if (*p || p[-1] == ',' || !n) {
				snprintf(why, wsize, "'%s' is not host:port", p);
				err = -EINVAL;
			}
			break;
		}
		snprintf(back, sizeof(back), "%s:%u", list[i].hostname, (unsigned)list[i].port);
		if (strchr(list[i].hostname, '[') || strchr(list[i].hostname, ':')) {
			snprintf(why, wsize, "'%s': IPv6 addresses are not supported",
				 list[i].hostname);
			err = -EINVAL;
		} else if (strlen(back) != len || memcmp(back, p, len) || !list[i].port) {
			snprintf(why, wsize, "'%.*s' is not host:port (port 1-65535)", (int)len, p);
			err = -EINVAL;
		}
		p += len + (p[len] == ',');
	}
	if (!err && n > MAX_SERVERS) {
		snprintf(why, wsize, "more than %d servers", MAX_SERVERS);
		err = -EINVAL;
	}
	if (err || !out)
		memcached_server_list_free(list);
	else
		*out = list;
	return err;
}

int pool_parse_url(const char *url, char *why, size_t size)
{
	return parse_servers(url, NULL, why, size);
}

int pool_open(const char *url, const char *prefix, unsigned timeout_ms, struct pool **out)
{
	struct pool *c = calloc(1, sizeof(*c));
	memcached_server_list_st servers = NULL;
	char why[200];
	int err;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	if (strlen(prefix) >= sizeof(c->prefix)) {
		free(c);
		return -EINVAL;
	}
	strcpy(c->prefix, prefix);
	err = parse_servers(url, &servers, why, sizeof(why));
	if (err) {
		snprintf(last_error, sizeof(last_error), "%s", why);
		goto fail;
	}
	err = -ENOMEM;
	c->master = memcached_create(NULL);
	if (!c->master || memcached_server_push(c->master, servers) != MEMCACHED_SUCCESS)
		goto fail;
	if (!timeout_ms)
		timeout_ms = 200;
	/* Consistent hashing: adding or losing a server moves only its share of the keys. */
	memcached_behavior_set(c->master, MEMCACHED_BEHAVIOR_DISTRIBUTION,
			       MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA);
	memcached_behavior_set(c->master, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
	memcached_behavior_set(c->master, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
	/* A dead server costs milliseconds, then is skipped for a second before a retry. */
	memcached_behavior_set(c->master, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, timeout_ms);
	memcached_behavior_set(c->master, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, timeout_ms);
	memcached_behavior_set(c->master, MEMCACHED_BEHAVIOR_SND_TIMEOUT, timeout_ms * 1000ull);
	memcached_behavior_set(c->master, MEMCACHED_BEHAVIOR_RCV_TIMEOUT, timeout_ms * 1000ull);
	memcached_behavior_set(c->master, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, 1);
	memcached_behavior_set(c->master, MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT, 1);
	/* Clones are made as threads ask for them; none connects before its first request. */
	c->handles = memcached_pool_create(c->master, 1, POOL_MAX);
	if (!c->handles)
		goto fail;
	memcached_server_list_free(servers);
	*out = c;
	return 0;
fail:
	memcached_server_list_free(servers);
	if (c->master)
		memcached_free(c->master);
	free(c);
	return err;
}

void pool_close(struct pool *c)
{
	if (!c)
		return;
	memcached_pool_destroy(c->handles);
	memcached_free(c->master);
	free(c);
}

static memcached_st *take(struct pool *c)
{
	struct timespec wait = {POOL_WAIT, 0};
	memcached_return_t rc;
	memcached_st *mc = memcached_pool_fetch(c->handles, &wait, &rc);

	if (!mc)
		set_error("memcached pool", NULL, rc);
	return mc;
}

static void give_back(struct pool *c, memcached_st *mc)
{
	memcached_pool_release(c->handles, mc);
}

static size_t make_key(const struct pool *c, uint64_t id, unsigned part, char *key)
{
	return key_pool(key, c->prefix, id, part);
}

int pool_put(struct pool *c, uint64_t id, const void *data, size_t len)
{
	memcached_st *mc;
	int err = 0;

	if (!id || len == 0 || len > STORE_CHUNK_SIZE)
		return -EINVAL;
	mc = take(c);
	if (!mc)
		return -ENOMEM;
	for (unsigned p = 0; (size_t)p * POOL_PART_SIZE < len; p++) {
		size_t at = (size_t)p * POOL_PART_SIZE;
		size_t n = len - at < POOL_PART_SIZE ? len - at : POOL_PART_SIZE;
		char key[KEY_MAX];
		size_t klen = make_key(c, id, p, key);
		memcached_return_t rc =
		    memcached_set(mc, key, klen, (const char *)data + at, n, 0, (uint32_t)len);

		if (rc != MEMCACHED_SUCCESS) {
			set_error("memcached set", mc, rc);
			err = -EIO;
			break;
		}
	}
	give_back(c, mc);
	return err;
}

/* What one chunk's fetch found: its stored length (from any part's flags) and which parts. */
struct want {
	uint64_t id;
	size_t len; /* logical length: the stored length may not exceed it */
	char *buf;  /* len bytes */
	uint32_t stored;
	bool known, bad;
	unsigned found; /* bit per part */
};

static struct want *want_of(struct want *w, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (w[i].id == id)
			return &w[i];
	return NULL;
}

/* Fetch the N chunks of W in one multi-get.  0, -ENOENT (a part is gone) or -EIO.  One piece:
 * the request and the reading of its results share the key table they are matched by. */
static int fetch(struct pool *c, struct want *w, size_t n)
{
	size_t nkeys = 0;
	char(*keys)[KEY_MAX];
	const char **kp;
	size_t *kl;
	memcached_st *mc;
	memcached_result_st res;
	memcached_return_t rc, mrc;
	bool failed = false;
	int err = 0;

	for (size_t i = 0; i < n; i++)
		nkeys += (w[i].len + POOL_PART_SIZE - 1) / POOL_PART_SIZE;
	if (!nkeys)
		return 0;
	keys = malloc(nkeys * sizeof(*keys));
	kp = malloc(nkeys * sizeof(*kp));
	kl = malloc(nkeys * sizeof(*kl));
	mc = keys && kp && kl ? take(c) : NULL;
	if (!mc) {
		free(keys);
		free(kp);
		free(kl);
		return -ENOMEM;
	}
	nkeys = 0;
	for (size_t i = 0; i < n; i++)
		for (unsigned p = 0; (size_t)p * POOL_PART_SIZE < w[i].len; p++) {
			kl[nkeys] = make_key(c, w[i].id, p, keys[nkeys]);
			kp[nkeys] = keys[nkeys];
			nkeys++;
		}
	mrc = memcached_mget(mc, kp, kl, nkeys);
	if (mrc != MEMCACHED_SUCCESS) {
		set_error("memcached get", mc, mrc);
		failed = true;
	}
	if (!memcached_result_create(mc, &res)) {
		give_back(c, mc);
		free(keys);
		free(kp);
		free(kl);
		return -ENOMEM;
	}
	rc = MEMCACHED_END;
	while (memcached_fetch_result(mc, &res, &rc)) {
		const char *key = memcached_result_key_value(&res);
		size_t keylen = memcached_result_key_length(&res);
		uint32_t stored = memcached_result_flags(&res);
		size_t vlen = memcached_result_length(&res);
		char tail[KEY_MAX];
		uint64_t id;
		unsigned part;
		struct want *x;
		size_t at, expect;

		if (keylen >= sizeof(tail) || keylen <= strlen(c->prefix))
			continue;
		memcpy(tail, key + strlen(c->prefix), keylen - strlen(c->prefix));
		tail[keylen - strlen(c->prefix)] = '\0';
		if (sscanf(tail, "m:%" SCNu64 ":%u", &id, &part) != 2 || part >= PARTS_PER_CHUNK)
			continue;
		x = want_of(w, n, id);
		if (!x)
			continue;
		at = (size_t)part * POOL_PART_SIZE;
		expect =
		    stored > at ? (stored - at < POOL_PART_SIZE ? stored - at : POOL_PART_SIZE) : 0;
		/* Every part must agree on the chunk's length and hold exactly its share. */
		if (stored == 0 || stored > x->len || (x->known && x->stored != stored) ||
		    vlen != expect) {
			x->bad = true;
			continue;
		}
		x->known = true;
		x->stored = stored;
		memcpy(x->buf + at, memcached_result_value(&res), vlen);
		x->found |= 1u << part;
	}
	if (rc != MEMCACHED_END && rc != MEMCACHED_SUCCESS && rc != MEMCACHED_NOTFOUND) {
		set_error("memcached get", mc, rc);
		failed = true;
	}
	memcached_result_free(&res);
	give_back(c, mc);
	free(keys);
	free(kp);
	free(kl);

	for (size_t i = 0; i < n && !err; i++) {
		unsigned need;

		if (!w[i].known || w[i].bad) {
			err = failed ? -EIO : -ENOENT;
			continue;
		}
		need = (w[i].stored + POOL_PART_SIZE - 1) / POOL_PART_SIZE;
		if ((w[i].found & ((1u << need) - 1)) != (1u << need) - 1)
			err = failed ? -EIO : -ENOENT;
		else if (w[i].stored < w[i].len)
			memset(w[i].buf + w[i].stored, 0, w[i].len - w[i].stored);
	}
	return err;
}

int pool_fetch(struct pool *c, const struct store_attr *a, char *buf)
{
	struct want *w = calloc(a->nchunks ? a->nchunks : 1, sizeof(*w));
	size_t n = 0;
	int err;

	if (!w)
		return -ENOMEM;
	if ((uint64_t)a->nchunks * STORE_CHUNK_SIZE < a->size)
		memset(buf + (size_t)a->nchunks * STORE_CHUNK_SIZE, 0,
		       (size_t)(a->size - (uint64_t)a->nchunks * STORE_CHUNK_SIZE));
	for (uint32_t i = 0; i < a->nchunks; i++) {
		uint64_t at = (uint64_t)i * STORE_CHUNK_SIZE;
		size_t len =
		    a->size - at < STORE_CHUNK_SIZE ? (size_t)(a->size - at) : STORE_CHUNK_SIZE;

		if (at >= a->size)
			break;
		if (!a->chunks[i]) {
			memset(buf + at, 0, len); /* a hole */
			continue;
		}
		w[n].id = a->chunks[i];
		w[n].len = len;
		w[n].buf = buf + at;
		n++;
	}
	err = fetch(c, w, n);
	free(w);
	return err;
}

ssize_t pool_read_chunk(struct pool *c, uint64_t id, size_t off, size_t len, void *buf)
{
	struct want w = {.id = id, .len = STORE_CHUNK_SIZE};
	int err;

	if (off >= STORE_CHUNK_SIZE)
		return 0;
	if (len > STORE_CHUNK_SIZE - off)
		len = STORE_CHUNK_SIZE - off;
	w.buf = malloc(STORE_CHUNK_SIZE);
	if (!w.buf)
		return -ENOMEM;
	err = fetch(c, &w, 1);
	if (!err)
		memcpy(buf, w.buf + off, len);
	free(w.buf);
	return err ? err : (ssize_t)len;
}
