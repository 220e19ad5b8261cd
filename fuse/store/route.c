/* route.c - a store on Redis Cluster: the slot map (CLUSTER SLOTS, asked of the nodes already
 * known, then of the seeds), the primary serving the site's slot, and the redirections
 * (MOVED, ASK, TRYAGAIN, CLUSTERDOWN) a cluster answers with while its slots move. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "store/internal.h"

/* A connection to HOST:PORT with the store's timeout and credentials.  NULL with WHY. */
static redisContext *node_connect(struct store *s, const char *host, int port, char *why,
				  size_t whylen)
{
	struct timeval tv = ms_tv(s->timeout_ms);
	redisContext *c = redisConnectWithTimeout(host, port, tv);
	char buf[160];

	if (!c) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	if (c->err || redisSetTimeout(c, tv) != REDIS_OK) {
		snprintf(why, whylen, "node %s:%d: %s", host, port,
			 io_reason(c, s->timeout_ms, buf, sizeof buf));
		redisFree(c);
		return NULL;
	}
	if (s->pass && auth(s, c, buf, sizeof buf)) {
		snprintf(why, whylen, "node %s:%d: %s", host, port, buf);
		redisFree(c);
		return NULL;
	}
	return c;
}

/* The slot map as node HOST:PORT sees it, into *M.  0, or -EIO with WHY (no answer, not a
 * cluster, or the site's slot served by nobody). */
static int ask_map(struct store *s, const char *host, int port, struct cluster_map *m, char *why,
		   size_t whylen)
{
	struct cluster_node asked;
	redisContext *c = node_connect(s, host, port, why, whylen);
	redisReply *r;
	int rc = -EIO;

	if (!c)
		return -EIO;
	snprintf(asked.host, sizeof asked.host, "%s", host);
	asked.port = port;
	r = redisCommand(c, "CLUSTER SLOTS");
	if (!r) {
		char buf[160];

		snprintf(why, whylen, "node %s:%d: %s", host, port,
			 io_reason(c, s->timeout_ms, buf, sizeof buf));
	} else if (r->type == REDIS_REPLY_ERROR) {
		snprintf(why, whylen, "node %s:%d: CLUSTER SLOTS refused: %.80s", host, port,
			 r->str);
	} else if (cluster_map_parse(r, &asked, m)) {
		snprintf(why, whylen, "node %s:%d: malformed CLUSTER SLOTS reply", host, port);
	} else if (!cluster_map_node(m, s->site_slot)) {
		snprintf(why, whylen, "node %s:%d: no primary serves slot %u (the site's)", host,
			 port, s->site_slot);
		cluster_map_free(m);
	} else {
		rc = 0;
	}
	if (r)
		freeReplyObject(r);
	redisFree(c);
	return rc;
}

/* The site's slot is served by HOST:PORT (prim_lock held); a change makes every connection
 * reconnect.  HOW says how it was learnt. */
static void set_owner(struct store *s, const char *host, int port, const char *how)
{
	bool changed = s->prim_port != port || strcmp(s->prim_host, host);

	snprintf(s->prim_host, sizeof s->prim_host, "%s", host);
	s->prim_port = port;
	s->prim_known = true;
	if (changed) {
		atomic_fetch_add(&s->prim_gen, 1);
		slog(s, LOG_NOTICE, "store: cluster: slot %u (site %s) is served by %s:%d (%s)",
		     s->site_slot, s->prefix, host, port, how);
	}
}

/* Ask the nodes of the last map, then the seeds, until one gives a map that serves the
 * site's slot.  0, or -EIO with the last reason in WHY. */
static int refresh(struct store *s, char *why, size_t whylen)
{
	struct cluster_node *cand;
	struct cluster_map m;
	size_t n = 0, known;

	pthread_mutex_lock(&s->prim_lock);
	known = s->cmap.nnodes;
	cand = calloc(known + (size_t)s->url.nsentinels, sizeof *cand);
	if (cand)
		for (; n < known; n++)
			cand[n] = s->cmap.nodes[n];
	pthread_mutex_unlock(&s->prim_lock);
	if (!cand) {
		snprintf(why, whylen, "out of memory");
		return -EIO;
	}
	for (int i = 0; i < s->url.nsentinels; i++, n++) {
		snprintf(cand[n].host, sizeof cand[n].host, "%s", s->url.sentinels[i].host);
		cand[n].port = s->url.sentinels[i].port;
	}
	snprintf(why, whylen, "no seed node given");
	for (size_t i = 0; i < n; i++) {
		const struct cluster_node *o;

		if (ask_map(s, cand[i].host, cand[i].port, &m, why, whylen))
			continue;
		pthread_mutex_lock(&s->prim_lock);
		cluster_map_free(&s->cmap);
		s->cmap = m;
		o = cluster_map_node(&s->cmap, s->site_slot);
		set_owner(s, o->host, o->port, "CLUSTER SLOTS");
		pthread_mutex_unlock(&s->prim_lock);
		free(cand);
		return 0;
	}
	free(cand);
	return -EIO;
}

int route_primary(struct store *s, char *host, size_t hostlen, int *port, char *why, size_t whylen)
{
	for (int round = 0; round < 2; round++) {
		pthread_mutex_lock(&s->prim_lock);
		if (s->prim_known) {
			snprintf(host, hostlen, "%s", s->prim_host);
			*port = s->prim_port;
			pthread_mutex_unlock(&s->prim_lock);
			return 0;
		}
		pthread_mutex_unlock(&s->prim_lock);
		if (round == 0 && refresh(s, why, whylen))
			return -EIO;
	}
	snprintf(why, whylen, "cluster: the site's node was forgotten meanwhile");
	return -EIO;
}

void route_lost(struct store *s, bool moved)
{
	if (!s->url.cluster)
		return;
	pthread_mutex_lock(&s->prim_lock);
	s->prim_known = false;
	pthread_mutex_unlock(&s->prim_lock);
	if (moved)
		atomic_fetch_add(&s->prim_gen, 1);
}

enum route_verdict route_redirect(struct store *s, const redisReply *r, struct cluster_redirect *d)
{
	if (!s->url.cluster || !r || r->type != REDIS_REPLY_ERROR)
		return ROUTE_NONE;
	if (!cluster_parse_redirect(r->str, r->len, d)) {
		struct cluster_node asked;

		if (d->ask)
			return ROUTE_ASK;
		/* MOVED: the slot is served elsewhere for good.  Believed at once (the next
		 * CLUSTER SLOTS may be asked of a node that has not heard of it yet). */
		pthread_mutex_lock(&s->prim_lock);
		snprintf(asked.host, sizeof asked.host, "%s", s->prim_host);
		asked.port = s->prim_port;
		if (cluster_map_moved(&s->cmap, d, &asked)) {
			s->prim_known = false; /* out of memory: ask for the whole map */
			atomic_fetch_add(&s->prim_gen, 1);
		} else if (d->slot == s->site_slot) {
			const struct cluster_node *o = cluster_map_node(&s->cmap, d->slot);

			set_owner(s, o->host, o->port, "MOVED");
		}
		pthread_mutex_unlock(&s->prim_lock);
		return ROUTE_AGAIN;
	}
	/* TRYAGAIN: a multi-key command in a slot being migrated; CLUSTERDOWN: the cluster
	 * has a slot without a primary (a fail-over in progress): both pass */
	if (!strncmp(r->str, "TRYAGAIN", 8))
		return ROUTE_AGAIN;
	if (!strncmp(r->str, "CLUSTERDOWN", 11)) {
		route_lost(s, false);
		return ROUTE_AGAIN;
	}
	return ROUTE_NONE;
}

redisReply *route_resend(struct store *s, struct conn *k, const struct cluster_redirect *d,
			 int argc, const char **argv, const size_t *lens)
{
	char why[192], host[CLUSTER_HOSTMAX];
	redisContext *c;
	redisReply *r = NULL, *ok = NULL;
	bool got;

	pthread_mutex_lock(&s->prim_lock);
	snprintf(host, sizeof host, "%s", d->host[0] ? d->host : s->prim_host);
	pthread_mutex_unlock(&s->prim_lock);
	c = node_connect(s, host, d->port, why, sizeof why);
	if (!c) {
		set_err(k, "%s %u: %s", d->ask ? "ASK" : "MOVED", d->slot, why);
		return NULL;
	}
	if (d->ask)
		redisAppendCommand(c, "ASKING");
	redisAppendCommandArgv(c, argc, argv, lens);
	got = !d->ask || redisGetReply(c, (void **)&ok) == REDIS_OK;
	if (!got || redisGetReply(c, (void **)&r) != REDIS_OK) {
		set_err(k, "%s %u: node %s:%d: %s", d->ask ? "ASK" : "MOVED", d->slot, host,
			d->port, io_reason(c, s->timeout_ms, why, sizeof why));
		r = NULL;
	}
	if (ok)
		freeReplyObject(ok);
	redisFree(c);
	return r;
}

int route_reply(struct store *s, struct conn *k, int argc, const char **argv, const size_t *lens,
		redisReply **out)
{
	struct cluster_redirect d;
	redisReply *r;

	*out = NULL;
	if (redisGetReply(k->c, (void **)&r) != REDIS_OK)
		return REDIS_ERR;
	switch (route_redirect(s, r, &d)) {
	case ROUTE_AGAIN:
		if (!d.port) /* TRYAGAIN, CLUSTERDOWN: the caller's refusal */
			break;
		__attribute__((fallthrough)); /* MOVED: to the node named */
	case ROUTE_ASK: {
		redisReply *again = route_resend(s, k, &d, argc, argv, lens);

		if (again) { /* else the redirection itself is the answer */
			freeReplyObject(r);
			r = again;
		}
		break;
	}
	case ROUTE_NONE:
		break;
	}
	*out = r;
	return REDIS_OK;
}
