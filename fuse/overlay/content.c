/* content.c - the held cache-file versions of content.h. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "overlay/chunks.h"
#include "overlay/content.h"
#include "pool.h"
#include "stats.h"

static uint64_t held_bytes; /* under fs->lock: the bytes of every content kept on a node */

void content_put(struct pfs *fs, struct content *c)
{
	bool last;

	if (!c)
		return;
	pthread_mutex_lock(&fs->lock);
	last = --c->refs == 0;
	pthread_mutex_unlock(&fs->lock);
	if (last)
		free(c);
}

void content_drop_locked(struct pfs *fs, struct node *n)
{
	struct content *c = n->content;

	(void)fs;
	if (!c)
		return;
	n->content = NULL;
	held_bytes -= c->size;
	if (--c->refs == 0)
		free(c);
}

/* The pool lost part of A: the name goes for every peer (unless a newer version took it); the
 * caller forgets the node (content_gone). */
static void lost(struct pfs *fs, struct node *n, const struct store_attr *a)
{
	char name[NAME_MAX + 1];
	size_t namelen;
	uint64_t dir;
	bool lower;

	/* the name as it is now, copied: a rename may replace it meanwhile */
	pthread_mutex_lock(&fs->lock);
	dir = n->parent ? n->parent->sino : 0;
	namelen = n->namelen < sizeof(name) ? n->namelen : 0;
	memcpy(name, n->name, namelen);
	lower = (n->flags & N_LOWER) != 0;
	pthread_mutex_unlock(&fs->lock);
	if (dir && namelen &&
	    store_drop_cache(fs->store, dir, name, namelen, a->ino, a->version, lower) == 1) {
		stats_event(EV_POOL_EVICTION);
		log_msg(LOG_LVL_DEBUG, "cache file %.*s evicted: removed", (int)namelen, name);
	}
	pthread_mutex_lock(&fs->lock);
	content_drop_locked(fs, n);
	pthread_mutex_unlock(&fs->lock);
}

/* N's content of A's version, with a reference; NULL if it holds another or none. */
static struct content *held(struct pfs *fs, struct node *n, const struct store_attr *a)
{
	struct content *c;

	pthread_mutex_lock(&fs->lock);
	c = n->content;
	if (c && (c->ino != a->ino || c->version != a->version))
		c = NULL;
	if (c)
		c->refs++;
	pthread_mutex_unlock(&fs->lock);
	return c;
}

/* Keep C on N in place of what N held, if the total leaves room. */
static void keep(struct pfs *fs, struct node *n, struct content *c)
{
	pthread_mutex_lock(&fs->lock);
	if (n->content && n->content->version == c->version && n->content->ino == c->ino)
		goto out; /* another open fetched it meanwhile */
	content_drop_locked(fs, n);
	if (held_bytes + c->size <= CONTENT_TOTAL_MAX && !(n->flags & N_UNLINKED)) {
		c->refs++;
		n->content = c;
		held_bytes += c->size;
	}
out:
	pthread_mutex_unlock(&fs->lock);
}

struct content *content_alloc(const struct store_attr *a)
{
	struct content *c;

	if (a->size > CONTENT_FILE_MAX)
		return NULL;
	c = malloc(sizeof(*c) + (a->size ? (size_t)a->size : 1));
	if (c)
		*c = (struct content){
		    .ino = a->ino, .version = a->version, .size = a->size, .refs = 1};
	return c;
}

void content_offer(struct pfs *fs, struct node *n, struct content *c)
{
	keep(fs, n, c);
}

int content_hold(struct pfs *fs, struct node *n, const struct store_attr *a, struct content **out)
{
	struct content *c;
	int err;

	*out = NULL;
	if (!fs->pool) {
		log_msg(LOG_LVL_DEBUG,
			"inode %llu is a cache file and this mount has no cache= pool",
			(unsigned long long)a->ino);
		return -ENOENT;
	}
	c = held(fs, n, a);
	if (c) {
		*out = c;
		return 0;
	}
	if (a->size > CONTENT_FILE_MAX)
		return 0;
	c = content_alloc(a);
	if (!c)
		return -ENOMEM;
	err = pool_fetch(fs->pool, a, c->data);
	chunks_pool_state(fs, err == -EIO);
	if (err) {
		free(c);
		if (err == -ENOENT) {
			stats_event(EV_POOL_MISS);
			lost(fs, n, a);
		} else if (err == -EIO)
			stats_event(EV_STORE_ERROR);
		return err;
	}
	keep(fs, n, c);
	*out = c;
	return 0;
}

ssize_t content_stream(struct pfs *fs, const struct store_attr *a, char *buf, size_t len,
		       uint64_t off)
{
	size_t done = 0;

	if (off >= a->size)
		return 0;
	if (len > a->size - off)
		len = (size_t)(a->size - off);
	while (done < len) {
		uint64_t pos = off + done;
		size_t i = (size_t)(pos / STORE_CHUNK_SIZE), in = (size_t)(pos % STORE_CHUNK_SIZE);
		size_t k = STORE_CHUNK_SIZE - in < len - done ? STORE_CHUNK_SIZE - in : len - done;

		if (i < a->nchunks && a->chunks[i]) {
			ssize_t got = pool_read_chunk(fs->pool, a->chunks[i], in, k, buf + done);

			if (got < 0)
				return -EIO; /* lost while open: the read fails, never short */
		} else {
			memset(buf + done, 0, k);
		}
		done += k;
	}
	return (ssize_t)done;
}
