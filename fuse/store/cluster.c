/* cluster.c - Redis Cluster routing: the slot of a key (CRC16, hash tags), MOVED and ASK
 * redirections, and the slot map of CLUSTER SLOTS, each checked as strictly as a URL. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/cluster.h"

uint16_t cluster_crc16(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint16_t crc = 0;

	for (size_t i = 0; i < len; i++) {
		crc ^= (uint16_t)(p[i] << 8);
		for (int b = 0; b < 8; b++)
			crc = crc & 0x8000 ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
	}
	return crc;
}

unsigned cluster_slot(const void *key, size_t len)
{
	const char *k = key, *open = memchr(k, '{', len), *close;

	if (open) {
		size_t rest = len - (size_t)(open - k) - 1;

		close = memchr(open + 1, '}', rest);
		if (close && close > open + 1)
			return cluster_crc16(open + 1, (size_t)(close - open - 1)) % CLUSTER_SLOTS;
	}
	return cluster_crc16(k, len) % CLUSTER_SLOTS;
}

/* Decimal digits P[0..LEN) into *V, at most MAX. */
static bool number(const char *p, size_t len, unsigned long max, unsigned long *v)
{
	unsigned long x = 0;

	if (len == 0 || len > 10)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		x = x * 10 + (unsigned long)(p[i] - '0');
	}
	if (x > max)
		return false;
	*v = x;
	return true;
}

/* "host:port", the port after the last ':' (an IPv6 address has colons of its own, and may
 * come bracketed). */
static int endpoint(const char *p, size_t len, char *host, int *port)
{
	const char *colon = NULL;
	unsigned long v;

	for (size_t i = 0; i < len; i++)
		if (p[i] == ':')
			colon = p + i;
	if (!colon || !number(colon + 1, len - (size_t)(colon - p) - 1, 65535, &v) || v == 0)
		return -EINVAL;
	len = (size_t)(colon - p);
	if (len >= 2 && p[0] == '[' && p[len - 1] == ']')
		p++, len -= 2;
	if (len >= CLUSTER_HOSTMAX || memchr(p, ' ', len) || memchr(p, '\0', len))
		return -EINVAL;
	memcpy(host, p, len);
	host[len] = '\0';
	*port = (int)v;
	return 0;
}

int cluster_parse_redirect(const char *err, size_t len, struct cluster_redirect *out)
{
	const char *p, *sp, *end = err + len;
	unsigned long slot;

	memset(out, 0, sizeof *out);
	if (len > 6 && !memcmp(err, "MOVED ", 6))
		p = err + 6;
	else if (len > 4 && !memcmp(err, "ASK ", 4))
		p = err + 4, out->ask = true;
	else
		return -EINVAL;
	sp = memchr(p, ' ', (size_t)(end - p));
	if (!sp || !number(p, (size_t)(sp - p), CLUSTER_SLOTS - 1, &slot))
		return -EINVAL;
	out->slot = (unsigned)slot;
	return endpoint(sp + 1, (size_t)(end - sp - 1), out->host, &out->port);
}

/* The index plus one of HOST:PORT among M's nodes, added when new; 0 when out of memory. */
static uint16_t node_index(struct cluster_map *m, const char *host, int port)
{
	struct cluster_node *n;

	for (size_t i = 0; i < m->nnodes; i++)
		if (m->nodes[i].port == port && !strcmp(m->nodes[i].host, host))
			return (uint16_t)(i + 1);
	if (m->nnodes >= CLUSTER_SLOTS)
		return 0;
	n = realloc(m->nodes, (m->nnodes + 1) * sizeof *n);
	if (!n)
		return 0;
	m->nodes = n;
	snprintf(n[m->nnodes].host, sizeof n->host, "%s", host);
	n[m->nnodes].port = port;
	return (uint16_t)++m->nnodes;
}

static bool is_str(const redisReply *r)
{
	return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS;
}

/* One range [start, end, [host, port, id...], replicas...] of CLUSTER SLOTS. */
static int map_range(struct cluster_map *m, const redisReply *e, const struct cluster_node *asked)
{
	const redisReply *h, *pr;
	char host[CLUSTER_HOSTMAX];
	uint16_t idx;

	if (e->type != REDIS_REPLY_ARRAY || e->elements < 3)
		return -EBADMSG;
	if (e->element[0]->type != REDIS_REPLY_INTEGER ||
	    e->element[1]->type != REDIS_REPLY_INTEGER || e->element[0]->integer < 0 ||
	    e->element[1]->integer >= CLUSTER_SLOTS ||
	    e->element[0]->integer > e->element[1]->integer)
		return -EBADMSG;
	if (e->element[2]->type != REDIS_REPLY_ARRAY || e->element[2]->elements < 2)
		return -EBADMSG;
	h = e->element[2]->element[0];
	pr = e->element[2]->element[1];
	if (!is_str(h) || h->len >= CLUSTER_HOSTMAX || memchr(h->str, '\0', h->len) ||
	    pr->type != REDIS_REPLY_INTEGER || pr->integer <= 0 || pr->integer > 65535)
		return -EBADMSG;
	/* an empty host (or "?": unknown) is the node that answered */
	if (h->len == 0 || (h->len == 1 && h->str[0] == '?'))
		snprintf(host, sizeof host, "%s", asked ? asked->host : "");
	else
		snprintf(host, sizeof host, "%.*s", (int)h->len, h->str);
	if (!host[0])
		return -EBADMSG;
	idx = node_index(m, host, (int)pr->integer);
	if (!idx)
		return -ENOMEM;
	for (long long s = e->element[0]->integer; s <= e->element[1]->integer; s++)
		m->owner[s] = idx;
	return 0;
}

int cluster_map_parse(const redisReply *r, const struct cluster_node *asked, struct cluster_map *m)
{
	int rc = 0;

	memset(m, 0, sizeof *m);
	if (r->type != REDIS_REPLY_ARRAY)
		return -EBADMSG;
	for (size_t i = 0; i < r->elements && !rc; i++)
		rc = map_range(m, r->element[i], asked);
	if (rc)
		cluster_map_free(m);
	return rc;
}

void cluster_map_free(struct cluster_map *m)
{
	free(m->nodes);
	memset(m, 0, sizeof *m);
}

const struct cluster_node *cluster_map_node(const struct cluster_map *m, unsigned slot)
{
	if (slot >= CLUSTER_SLOTS || !m->owner[slot])
		return NULL;
	return &m->nodes[m->owner[slot] - 1];
}

int cluster_map_moved(struct cluster_map *m, const struct cluster_redirect *d,
		      const struct cluster_node *asked)
{
	const char *host = d->host[0] ? d->host : asked ? asked->host : "";
	uint16_t idx;

	if (d->ask || d->slot >= CLUSTER_SLOTS || !host[0])
		return -EINVAL;
	idx = node_index(m, host, d->port);
	if (!idx)
		return -ENOMEM;
	m->owner[d->slot] = idx;
	return 0;
}

unsigned cluster_map_holes(const struct cluster_map *m)
{
	unsigned n = 0;

	for (unsigned s = 0; s < CLUSTER_SLOTS; s++)
		n += !m->owner[s];
	return n;
}
