/* content.h - cache-class files this peer holds whole: one version's bytes per node, fetched
 * from the pool once and kept (bounded) so that opens and reads ask memcached nothing, and so
 * that a name this peer shows is one it can serve whole even after memcached lost it. */
#ifndef PRESSFS_OVERLAY_CONTENT_H
#define PRESSFS_OVERLAY_CONTENT_H

#include "overlay/node.h"

#define CONTENT_FILE_MAX  (8u << 20)   /* larger cache files are streamed from the pool */
#define CONTENT_TOTAL_MAX (128u << 20) /* all versions held by one peer */

struct content {
	uint64_t ino, version, size;
	unsigned refs; /* under fs->lock: the node's and each handle's */
	char data[];
};

/* The bytes of version A of cache file N, held: from N if it holds that version, else
 * fetched whole from the pool and, room permitting, kept on N.  0 with *OUT (a reference,
 * dropped with content_put), or 0 with *OUT NULL for a file over CONTENT_FILE_MAX (read it
 * with content_stream); -ENOENT when the pool lost part of it (its name is then removed for
 * every peer, as the pool's all-or-nothing promises: the caller then unhashes N and has the
 * kernel drop its entry), -EIO when the pool cannot be asked. */
int content_hold(struct pfs *fs, struct node *n, const struct store_attr *a, struct content **out);
void content_put(struct pfs *fs, struct content *c);
/* A content for version A with one reference, its bytes to be filled by the caller; NULL when
 * A is too large to hold or out of memory. */
struct content *content_alloc(const struct store_attr *a);
/* The writer of C's version holds it (filled): N keeps it, room permitting (a reference of
 * its own; the caller still drops its one). */
void content_offer(struct pfs *fs, struct node *n, struct content *c);
/* Bytes of a streamed (large) cache file, straight from the pool: no whole-file buffer. */
ssize_t content_stream(struct pfs *fs, const struct store_attr *a, char *buf, size_t len,
		       uint64_t off);
/* A node ends: what it holds goes (caller holds fs->lock). */
void content_drop_locked(struct pfs *fs, struct node *n);

#endif
