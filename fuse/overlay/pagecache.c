/* pagecache.c - the kernel page-cache decisions of pagecache.h. */
#include "overlay/pagecache.h"
#include "overlay/inval.h"
#include "stats.h"

#define SETTLE_NS 1000000000ll /* another peer's version this old has no reads of older ones */

/* Lower files (version 0, A NULL) never change, and a version this peer wrote went through
 * its pages: settled at once.  Another peer's version may be read here by a handle of the
 * version before, on pages sized by the kernel for the new one (an open racing the change):
 * it waits a second. */
static bool settled(const struct node *n, const struct store_attr *a)
{
	return !a || a->version == n->written_version || now_ns() - a->ctime_ns >= SETTLE_NS;
}

/* A handle's pages must all be V's and the kernel must have been told V's size.  So: only
 * once V has settled, only while no cached handle of another version is open, and the first
 * such handle drops whatever the cache held (unless this peer wrote V: its writes filled those
 * pages).  Pages an older handle fills after that are dropped again as they are answered
 * (pagecache_read).  Any other handle reads around the cache. */
bool pagecache_decide(struct pfs *fs, struct node *n, const struct store_attr *a,
		      struct fuse_file_info *fi)
{
	uint64_t v = a ? a->version : 0;
	bool cached = false;

	pthread_mutex_lock(&fs->lock);
	if (v == n->told_version && settled(n, a) &&
	    (v == n->cached_version || n->cached_open == 0)) {
		if (v != n->cached_version) {
			n->cached_version = v;
			n->cache_primed = false;
		}
		fi->keep_cache = n->cache_primed;
		n->cache_primed = true;
		n->cached_open++;
		cached = true;
	} else {
		fi->direct_io = 1;
		fi->keep_cache = 0;
	}
	pthread_mutex_unlock(&fs->lock);
	return cached;
}

/* (See "outages" in resolve.c.)  A read that reaches the daemon anyway fails with EIO. */
bool pagecache_outage(struct pfs *fs, struct node *n, struct fuse_file_info *fi)
{
	bool ok;

	pthread_mutex_lock(&fs->lock);
	ok = n->cache_primed && n->cached_version == n->told_version && n->known.valid;
	if (ok) {
		n->cached_open++;
		fi->keep_cache = 1;
	}
	pthread_mutex_unlock(&fs->lock);
	if (ok)
		stats_event(EV_OUTAGE_READ);
	return ok;
}

void pagecache_release(struct pfs *fs, struct node *n)
{
	pthread_mutex_lock(&fs->lock);
	n->cached_open--;
	pthread_mutex_unlock(&fs->lock);
}

bool pagecache_read(struct pfs *fs, struct node *n, uint64_t version)
{
	bool stale;

	pthread_mutex_lock(&fs->lock);
	stale = version != n->cached_version;
	pthread_mutex_unlock(&fs->lock);
	if (stale)
		inval_later(fs, node_id(fs, n));
	return stale;
}
