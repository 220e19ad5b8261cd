/* pressfs.h - what every part of the daemon shares: the settings the mount was started with, the
 * mount's context (struct pfs, with its lock rules), and two small helpers (log.c's log aside). */
#ifndef PRESSFS_PRESSFS_H
#define PRESSFS_PRESSFS_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "policy.h"
#include "store/store.h"

struct node;
struct pool;

/* What `pressfs mount` was asked for; filled by mount.c's options, owned by mount_main. */
struct settings {
	char *store_url;
	char *mountpoint;
	char *lower; /* the read-only WordPress tree */
	char *policy_file;
	char *site;
	char *local; /* per-node directory for the local class (optional) */
	char *node_id;
	char *log_file;
	char *staging;	 /* where open files are staged before a commit */
	char *pool_url;	 /* memcached://host:port[,...] for the cache class (optional) */
	char *pool_fail; /* "error" (default) or "drop": a cache write memcached refuses */
	unsigned timeout_ms;
	int foreground;
	int debug;
	int show_help;
	char *password_file; /* password_file=: the store's password (see mount/secret.h) */
	char *durability;    /* durability=N[:MS] as given; parsed into the three below */
	bool durability_set;
	unsigned durability_replicas, durability_ms;
	char *passthrough; /* passthrough=: "auto" (default) or "off" (see passthrough.h) */
	char *owner;	   /* owner=USER[:GROUP]: who the image's writable directories show */
	uid_t owner_uid;   /* ...resolved by the option checks */
	gid_t owner_gid;
	char *metrics;	 /* metrics=HOST:PORT: the Prometheus and health endpoint (optional) */
	int metrics_any; /* metrics_any: HOST may be other than loopback */
};

/* The mount.  One per process; handlers get it from fuse_req_userdata().
 *
 * Locks.  fs->lock guards the node table (the hash chains, every node's parent, name, namelen,
 * nlookup, nref, sino, flags, type, of and listing pointers, the page-cache fields of
 * overlay/pagecache.c, the kept answers of overlay/trust.c and in_step, trust_gen) and nothing
 * else: it is held for a few memory operations only, never across a call to the store, the pool,
 * the lower tree or the local directory.  A name or parent needed across such a call is copied
 * (with a reference on the parent) while it is held: node_parent_name(), node_path().  of->lock
 * (overlay/ofile.h) guards one open file's staging state and is held across network calls (a
 * commit).  Order: of->lock, then fs->lock; never of->lock while holding fs->lock.  The rest of
 * struct pfs is set before the session starts and only read afterwards, except the fields marked
 * atomic. */
struct pfs {
	struct settings *set;
	struct policy *policy;
	struct store *store;
	struct pool *pool; /* NULL without pool=: cache-class files are stored as shared */
	bool pool_drop;	   /* pool_fail=drop */
	bool pool_down;	   /* atomic: memcached unreachable (said once in the log) */
	struct fuse_session *se;
	int lower_fd;	/* O_PATH|O_DIRECTORY of the lower tree */
	int staging_fd; /* O_DIRECTORY where O_TMPFILE staging files are made */
	int local_fd;	/* -1 without local= */
	/* The merged tree's directory PATH (upper, else lower): local.c makes its copies so. */
	int (*tree_dir)(struct pfs *fs, const char *path, struct stat *st);

	pthread_mutex_t lock; /* see above */
	struct node *root;
	struct node **name_tab, **sino_tab; /* (parent, name) and store-inode hash chains */
	size_t tab_size, tab_count;
	uint64_t next_generation;
	bool in_step;	    /* the invalidation stream misses nothing (overlay/trust.h) */
	uint64_t trust_gen; /* messages seen: an answer fetched across one is not kept */

	bool pool_as_shared_said; /* atomic: said once in the log */
	bool local_said;	  /* atomic */

	pthread_t inval_thread; /* overlay/inval.c; only the thread that mounts touches these */
	bool inval_running;
};

/* The longest tree path (from the mount's root) the daemon builds.  The kernel limits what a
 * caller passes (PATH_MAX) and each name (NAME_MAX), not the depth below the mount: a tree made
 * with relative paths may be deeper than PATH_MAX, and the policy must still see its whole
 * path.  The lower tree and the local directory are reached by such paths too, and the kernel
 * refuses those longer than PATH_MAX there: below that depth only the store holds entries. */
#define PFS_PATH_MAX (16 * 4096)

/* The lower tree's (or the local directory's) relative spelling of an absolute tree path. */
static inline const char *tree_rel(const char *path)
{
	return path[1] ? path + 1 : ".";
}

static inline int64_t ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static inline int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts_ns(&ts);
}

/* log.c ------------------------------------------------------------------------------------ */
enum { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };
int log_open(const char *file, int foreground, int debug);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_store(void *arg, int level, const char *msg);

#endif
