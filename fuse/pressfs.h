/* pressfs.h - what the parts of the overlay daemon share: the mount's context, the settings it
 * was started with, and the functions one part of the overlay offers the others. */
#ifndef PRESSFS_PRESSFS_H
#define PRESSFS_PRESSFS_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "policy.h"
#include "store/store.h"

struct node;
struct ofile;
struct dirlist;
struct pool;

/* What `pressfs mount` was asked for; filled by options.c, owned by main. */
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
};

/* The mount.  One per process; handlers get it from fuse_req_userdata(). */
struct pfs {
	struct settings *set;
	struct policy *policy;
	struct store *store;
	struct pool *pool; /* NULL without pool=: cache-class files are stored as shared */
	bool pool_drop;	   /* pool_fail=drop */
	bool pool_down;	   /* memcached unreachable (said once in the log) */
	struct fuse_session *se;
	int lower_fd;	/* O_PATH|O_DIRECTORY of the lower tree */
	int staging_fd; /* O_DIRECTORY where O_TMPFILE staging files are made */
	int local_fd;	/* -1 without local= */
	struct node *root;
	pthread_mutex_t lock;	   /* the node table: parents, names, hash chains */
	bool cache_as_shared_said; /* said once in the log */
	bool local_said;
};

/* Entry and attribute lifetimes given to the kernel. */
#define TIMEOUT_FOREVER	 (86400.0 * 365) /* paths no rule can make writable */
#define TIMEOUT_ENTRY	 1.0		 /* writable areas: names, plus pub/sub invalidation */
#define TIMEOUT_DIR_ATTR 1.0

/* node.c ---------------------------------------------------------------------------------- */

enum node_flags {
	N_LOWER = 1 << 0,	 /* the lower tree has this path (as a directory, for dirs) */
	N_STATIC = 1 << 1,	 /* no upper entry can ever exist here (policy_may_change false) */
	N_STATIC_BELOW = 1 << 2, /* ...nor anywhere below (listings never change) */
	N_WRITABLE = 1 << 3,	 /* the policy's class here takes writes */
	N_OPAQUE = 1 << 4,	 /* upper directory hides the lower one */
	N_UNLINKED = 1 << 5,	 /* removed; kept alive by the kernel or open files */
	N_LOCAL = 1 << 6,	 /* class local: lives in the per-node directory */
	N_INLOCAL = 1 << 7,	 /* the per-node directory has this entry */
};

/* What the store last said of a node's upper entry: while the store cannot be reached, lookups
 * and stats of it are answered from here (namei.c, "outages"). */
struct known {
	bool valid;
	char type; /* enum store_type */
	uint32_t mode, uid, gid;
	uint64_t size;
	int64_t mtime_ns, ctime_ns;
};

struct node {
	struct node *parent; /* counted in parent->nref */
	char *name;
	size_t namelen;
	uint64_t nlookup; /* the kernel's lookup count */
	uint64_t nref;	  /* children, open handles, the table's own while nlookup > 0 */
	uint64_t generation;
	struct node *hnext; /* (parent, name) hash chain */
	struct node *inext; /* store inode hash chain */
	mode_t type;	    /* S_IFREG, S_IFDIR, S_IFLNK */
	unsigned flags;
	enum policy_class cls;
	uint64_t sino;		 /* store inode of the upper entry, 0 if none (yet) */
	uint64_t cached_version; /* version whose pages the kernel may hold (0: lower) */
	uint64_t told_version;	 /* version whose attributes (size) the kernel was last given */
	bool cache_primed;	 /* the kernel's pages are all of cached_version */
	uint32_t cached_open;	 /* open handles that use the page cache (all of cached_version) */
	struct ofile *of;	 /* write state while open for writing on this node */
	struct dirlist *listing; /* dirs: the listing streams continue from (dir.c), or NULL */
	struct known known;
};

int node_table_init(struct pfs *fs);
void node_table_destroy(struct pfs *fs);
fuse_ino_t node_id(const struct pfs *fs, const struct node *n);
struct node *node_get(struct pfs *fs, fuse_ino_t ino);
/* Find the child NAME of PARENT, or add it; takes one lookup count.  Caller holds fs->lock. */
struct node *node_child(struct pfs *fs, struct node *parent, const char *name, size_t namelen);
/* The child NAME of PARENT if the table has it (no reference taken).  Caller holds fs->lock. */
struct node *node_find(struct pfs *fs, struct node *parent, const char *name, size_t namelen);
void node_forget(struct pfs *fs, struct node *n, uint64_t nlookup);
void node_hold(struct pfs *fs, struct node *n);			   /* nref++ (open handles) */
void node_put(struct pfs *fs, struct node *n);			   /* nref--, frees when unused */
void node_set_sino(struct pfs *fs, struct node *n, uint64_t sino); /* caller holds lock */
/* Move N to (PARENT, NAME) after a rename, dropping whatever stood there.  Holds lock. */
int node_move(struct pfs *fs, struct node *n, struct node *parent, const char *name,
	      size_t namelen);
void node_unhash(struct pfs *fs, struct node *n); /* mark unlinked; caller holds lock */
/* The node's path relative to the root ("/" or "/a/b") into BUF; -ENAMETOOLONG. */
int node_path(struct pfs *fs, struct node *n, char *buf, size_t size);
/* The path of NAME under PARENT. */
int node_child_path(struct pfs *fs, struct node *parent, const char *name, size_t namelen,
		    char *buf, size_t size);
/* Nodes whose upper entry is store inode SINO: calls fn for each, holding fs->lock. */
void node_for_sino(struct pfs *fs, uint64_t sino, void (*fn)(struct node *, void *), void *arg);
void node_for_each(struct pfs *fs, void (*fn)(struct node *, void *), void *arg);

/* Keep what the store said of N's upper entry (A), and the version the kernel now has.  Caller
 * holds fs->lock. */
void node_remember(struct node *n, const struct store_attr *a);
/* The store attributes N's upper entry had when last seen, into *A (no chunks, no target);
 * false when there is nothing to go on.  Caller holds fs->lock. */
bool node_recall(const struct node *n, struct store_attr *a);

/* The flags a path gets from the policy (N_STATIC, N_STATIC_BELOW, N_WRITABLE, N_LOCAL). */
unsigned node_policy_flags(struct pfs *fs, const char *path, size_t len, enum policy_class *cls);

/* namei.c ---------------------------------------------------------------------------------- */

/* Resolve (or confirm) the upper directory of dir node N: fills n->sino, 0 when none. */
int upper_dir(struct pfs *fs, struct node *n, uint64_t *sino);
/* Make sure dir node N has an upper directory (copying up its lower ancestors). */
int upper_dir_make(struct pfs *fs, struct node *n, uint64_t *sino);
void attr_from_store(struct pfs *fs, const struct store_attr *a, unsigned flags, struct stat *st);
void attr_from_lower(struct pfs *fs, const struct stat *lst, unsigned flags, struct stat *st);
double attr_timeout_for(const struct node *n);
double entry_timeout_for(unsigned flags);
int lower_stat(struct pfs *fs, const char *path, struct stat *st);
/* Writes at PATH are allowed by the policy?  0 or -EROFS (logged at debug level). */
int policy_check_write(struct pfs *fs, const char *path, size_t len);
/* The path of NAME under PARENT into PATH, for a write there: the name is valid and the policy
 * takes writes at it.  Returns the path's length, or -EINVAL, -ENAMETOOLONG, -EROFS. */
int write_path(struct pfs *fs, struct node *parent, const char *name, size_t namelen, char *path,
	       size_t size);

/* Per-request lookup of NAME under PARENT, as the kernel's LOOKUP wants it. */
int overlay_lookup(struct pfs *fs, struct node *parent, const char *name, size_t namelen,
		   struct fuse_entry_param *e, struct node **out);

/* file.c ----------------------------------------------------------------------------------- */
/* Set the size of N (truncate(2) without a handle, or ftruncate through FH). */
int file_truncate(struct pfs *fs, struct node *n, struct fuse_file_info *fi, off_t size);
/* Copy a lower file of writable class up into the store (content, mode, times). */
int copy_up_file(struct pfs *fs, struct node *n);
/* Copy what the lower tree holds under directory N up into the store (for a rename). */
int copy_up_tree(struct pfs *fs, struct node *n);
/* Current size of N if this node has it open for writing, else -1. */
int64_t file_local_size(struct node *n);
/* A file created on this node and not yet in the store. */
bool file_pending(struct node *n);
/* Attributes of such a file; -ENOENT if N is not one. */
int file_attr(struct node *n, struct stat *st);
/* Commit what this node has written to N, if anything. */
int file_commit(struct pfs *fs, struct node *n);

/* namei.c / dir.c helpers shared with rename.c */
void make_entry(fuse_req_t req, struct node *parent, const char *name, mode_t mode,
		const char *target);
int remove_entry(struct pfs *fs, struct node *parent, const char *name, bool dir);
extern const struct fuse_lowlevel_ops pfs_ops_namei;

/* dir.c / rename.c: handlers --------------------------------------------------------------- */
void pfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void pfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void pfs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void pfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void pfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void pfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		const char *newname, unsigned int flags);
/* Let go of what dir.c keeps on node N, which is being freed.  Caller holds fs->lock. */
void dir_forget(struct node *n);
/* Is the merged directory N empty?  1 yes, 0 no, or -errno. */
int dir_is_empty(struct pfs *fs, struct node *n);

void pfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void pfs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		struct fuse_file_info *fi);
void pfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void pfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
	       struct fuse_file_info *fi);
void pfs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void pfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void pfs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);

/* local.c: the per-node directory of the local class, at the tree's relative paths ------- */
int local_stat(struct pfs *fs, const char *path, struct stat *st);
int local_parents(struct pfs *fs, const char *path);
int local_open(struct pfs *fs, const char *path, int flags, mode_t mode);
int local_mkdir(struct pfs *fs, const char *path, mode_t mode, uid_t uid, gid_t gid);
int local_remove(struct pfs *fs, const char *path, bool dir);
int local_rename(struct pfs *fs, const char *from, const char *to, unsigned flags);
int local_opendir(struct pfs *fs, const char *path);

/* inval.c ---------------------------------------------------------------------------------- */
int inval_start(struct pfs *fs);
void inval_stop(struct pfs *fs);

/* log.c ------------------------------------------------------------------------------------ */
enum { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };
int log_open(const char *file, int foreground, int debug);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_store(void *arg, int level, const char *msg);

#endif
