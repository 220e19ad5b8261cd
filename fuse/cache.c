/* cache.c - cache-class content in a memcached pool: one libmemcached handle per concurrent
 * user, taken from a small free list, so the daemon's threads never share a connection. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmemcached/memcached.h>

#include "cache.h"

#define MAX_SERVERS	32
#define PARTS_PER_CHUNK (STORE_CHUNK_SIZE / CACHE_PART_SIZE)
#define KEY_MAX		128

struct cache {
	memcached_st *master; /* configured once; never used for requests */
	pthread_mutex_t lock;
	memcached_st **idle; /* clones free for the next caller */
	size_t nidle, cap;
	char prefix[96];
};

static __thread char last_error[224];

static void set_error(const char *what, memcached_st *mc, memcached_return_t rc)
{
	snprintf(last_error, sizeof(last_error), "%s: %s", what,
		 mc ? memcached_last_error_message(mc) : memcached_strerror(NULL, rc));
}

const char *cache_strerror(struct cache *c)
{
	(void)c;
	return last_error;
}

/* One "host:port" of the url into HOST and *PORT. */
static int parse_server(const char *s, size_t len, char *host, size_t hsize, unsigned *port,
			char *why, size_t wsize)
{
	const char *colon = memrchr(s, ':', len);
	char num[8];
	char *end;
	unsigned long p;

	if (!colon || colon == s || (size_t)(colon - s) >= hsize || len - (colon - s) - 1 == 0 ||
	    len - (colon - s) - 1 >= sizeof(num)) {
		snprintf(why, wsize, "'%.*s' is not host:port", (int)len, s);
		return -EINVAL;
	}
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (strchr(host, '[') || strchr(host, ':')) {
		snprintf(why, wsize, "'%s': IPv6 addresses are not supported", host);
		return -EINVAL;
	}
	memcpy(num, colon + 1, len - (colon - s) - 1);
	num[len - (colon - s) - 1] = '\0';
	p = strtoul(num, &end, 10);
	if (*end || p == 0 || p > 65535) {
		snprintf(why, wsize, "'%s' is not a port", num);
		return -EINVAL;
	}
	*port = (unsigned)p;
	return 0;
}

/* Calls fn(arg, host, port) for each server of URL; stops at the first error. */
static int each_server(const char *url, char *why, size_t wsize,
		       int (*fn)(void *, const char *, unsigned), void *arg)
{
	static const char scheme[] = "memcached://";
	const char *p;
	int n = 0;

	if (!url || strncmp(url, scheme, sizeof(scheme) - 1)) {
		snprintf(why, wsize, "expected memcached://host:port[,host:port...]");
		return -EINVAL;
	}
	p = url + sizeof(scheme) - 1;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char host[256];
		unsigned port;
		int err = parse_server(p, len, host, sizeof(host), &port, why, wsize);

		if (err)
			return err;
		if (++n > MAX_SERVERS) {
			snprintf(why, wsize, "more than %d servers", MAX_SERVERS);
			return -EINVAL;
		}
		if (fn) {
			err = fn(arg, host, port);
			if (err) {
				snprintf(why, wsize, "cannot add server %s:%u", host, port);
				return err;
			}
		}
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

int cache_parse_url(const char *url, char *why, size_t size)
{
	return each_server(url, why, size, NULL, NULL);
}

static int add_server(void *arg, const char *host, unsigned port)
{
	return memcached_server_add(arg, host, (in_port_t)port) == MEMCACHED_SUCCESS ? 0 : -EINVAL;
}

int cache_open(const char *url, const char *prefix, unsigned timeout_ms, struct cache **out)
{
	struct cache *c = calloc(1, sizeof(*c));
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
	pthread_mutex_init(&c->lock, NULL);
	c->master = memcached_create(NULL);
	if (!c->master) {
		err = -ENOMEM;
		goto fail;
	}
	err = each_server(url, why, sizeof(why), add_server, c->master);
	if (err) {
		snprintf(last_error, sizeof(last_error), "%s", why);
		goto fail;
	}
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
	*out = c;
	return 0;
fail:
	if (c->master)
		memcached_free(c->master);
	pthread_mutex_destroy(&c->lock);
	free(c);
	return err;
}

void cache_close(struct cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nidle; i++)
		memcached_free(c->idle[i]);
	free(c->idle);
	memcached_free(c->master);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static memcached_st *take(struct cache *c)
{
	memcached_st *mc = NULL;

	pthread_mutex_lock(&c->lock);
	if (c->nidle)
		mc = c->idle[--c->nidle];
	pthread_mutex_unlock(&c->lock);
	if (!mc)
		mc = memcached_clone(NULL, c->master);
	if (!mc)
		snprintf(last_error, sizeof(last_error), "out of memory");
	return mc;
}

static void give_back(struct cache *c, memcached_st *mc)
{
	pthread_mutex_lock(&c->lock);
	if (c->nidle == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		memcached_st **idle = realloc(c->idle, cap * sizeof(*idle));

		if (!idle) {
			pthread_mutex_unlock(&c->lock);
			memcached_free(mc);
			return;
		}
		c->idle = idle;
		c->cap = cap;
	}
	c->idle[c->nidle++] = mc;
	pthread_mutex_unlock(&c->lock);
}

static size_t make_key(const struct cache *c, uint64_t id, unsigned part, char *key)
{
	return (size_t)snprintf(key, KEY_MAX, "%sm:%" PRIu64 ":%u", c->prefix, id, part);
}

int cache_put(struct cache *c, uint64_t id, const void *data, size_t len)
{
	memcached_st *mc;
	int err = 0;

	if (!id || len == 0 || len > STORE_CHUNK_SIZE)
		return -EINVAL;
	mc = take(c);
	if (!mc)
		return -ENOMEM;
	for (unsigned p = 0; (size_t)p * CACHE_PART_SIZE < len; p++) {
		size_t at = (size_t)p * CACHE_PART_SIZE;
		size_t n = len - at < CACHE_PART_SIZE ? len - at : CACHE_PART_SIZE;
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

/* Fetch the N chunks of W in one multi-get.  0, -ENOENT (a part is gone) or -EIO. */
static int fetch(struct cache *c, struct want *w, size_t n)
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
		nkeys += (w[i].len + CACHE_PART_SIZE - 1) / CACHE_PART_SIZE;
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
		for (unsigned p = 0; (size_t)p * CACHE_PART_SIZE < w[i].len; p++) {
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
		at = (size_t)part * CACHE_PART_SIZE;
		expect = stored > at
			     ? (stored - at < CACHE_PART_SIZE ? stored - at : CACHE_PART_SIZE)
			     : 0;
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
		need = (w[i].stored + CACHE_PART_SIZE - 1) / CACHE_PART_SIZE;
		if ((w[i].found & ((1u << need) - 1)) != (1u << need) - 1)
			err = failed ? -EIO : -ENOENT;
		else if (w[i].stored < w[i].len)
			memset(w[i].buf + w[i].stored, 0, w[i].len - w[i].stored);
	}
	return err;
}

int cache_fetch(struct cache *c, const struct store_attr *a, char *buf)
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

ssize_t cache_read_chunk(struct cache *c, uint64_t id, size_t off, size_t len, void *buf)
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
