/* cluster.h - Redis Cluster routing, the pieces a cluster store is built on (hiredis 0.14 has
 * none): the slot of a key, MOVED/ASK redirections, and the slot map CLUSTER SLOTS gives.
 * The store uses them in route.c (a redis-cluster:// URL). */
#ifndef PRESSFS_STORE_CLUSTER_H
#define PRESSFS_STORE_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#define CLUSTER_SLOTS	16384
#define CLUSTER_HOSTMAX 256

/* CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0), the checksum the slots are taken of. */
uint16_t cluster_crc16(const void *buf, size_t len);
/* The slot of KEY: of its hash tag when it has one (the bytes between the first '{' and the
 * first '}' after it, when that is not empty), else of the whole key. */
unsigned cluster_slot(const void *key, size_t len);

/* "MOVED <slot> <host>:<port>" (the slot has moved for good: update the map) or
 * "ASK <slot> <host>:<port>" (this one command, preceded by ASKING, goes there). */
struct cluster_redirect {
	bool ask;
	unsigned slot;
	char host[CLUSTER_HOSTMAX]; /* "" when the server did not say: the node that answered */
	int port;
};
/* Parse the error reply ERR[0..LEN) (no leading '-').  0, or -EINVAL when it is not a
 * well-formed redirection (any other error, a slot out of range, a bad port). */
int cluster_parse_redirect(const char *err, size_t len, struct cluster_redirect *out);

struct cluster_node {
	char host[CLUSTER_HOSTMAX];
	int port;
};
/* Which primary serves each slot. */
struct cluster_map {
	uint16_t owner[CLUSTER_SLOTS]; /* index in nodes plus one; 0: no node serves it */
	size_t nnodes;
	struct cluster_node *nodes;
};
/* The reply of CLUSTER SLOTS into *M (zeroed first; ASKED is the node that gave it, whose
 * host stands for an empty one).  0, -EBADMSG for a malformed reply, -ENOMEM. */
int cluster_map_parse(const redisReply *r, const struct cluster_node *asked, struct cluster_map *m);
void cluster_map_free(struct cluster_map *m);
/* The primary of SLOT, or NULL when none serves it. */
const struct cluster_node *cluster_map_node(const struct cluster_map *m, unsigned slot);
/* A MOVED reply: SLOT is now served by D's node (added to the map if new).  0, -ENOMEM. */
int cluster_map_moved(struct cluster_map *m, const struct cluster_redirect *d,
		      const struct cluster_node *asked);
/* How many slots have no primary (a map to refresh before trusting it). */
unsigned cluster_map_holes(const struct cluster_map *m);

/* Chunks are to spread over the primaries with a hash tag of their own, "pressfs:{SITE/ID}:c"
 * (a KEY of keys.def once a cluster store uses it), while the site's metadata
 * ("pressfs:{SITE}:...") stays in one slot for the single-slot scripts. */

#endif
