/* node.h - the overlay's inodes: one struct node per path the kernel knows, named by (parent,
 * name), kept in the table of struct pfs (its lock rules are written there, in pressfs.h). */
#ifndef PRESSFS_OVERLAY_NODE_H
#define PRESSFS_OVERLAY_NODE_H

#include "pressfs.h"

struct ofile;
struct dirlist;
struct content;

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
 * and stats of it are answered from here (overlay/resolve.c, "outages"). */
struct known {
	bool valid;
	char type; /* enum store_type */
	uint32_t mode, uid, gid;
	uint64_t size;
	int64_t mtime_ns, ctime_ns;
	uint64_t lino;
	uint32_t
	    nlink; /* the store's link count; directories: 2 + subdirectories, 0 if none kept */
};

/* Every field is under fs->lock, but for these: `of` may be read without it by a holder of an
 * open handle of the node (the handle keeps it), `cls` is set with the flags. */
struct node {
	struct node *parent; /* counted in parent->nref; may change (rename): copy it */
	char *name;	     /* freed by a rename: copy it under fs->lock before using it */
	size_t namelen;
	uint64_t nlookup; /* the kernel's lookup count */
	uint64_t nref;	  /* children, open handles, the table's own while nlookup > 0 */
	uint64_t generation;
	struct node *hnext; /* (parent, name) hash chain */
	struct node *inext; /* store inode hash chain */
	mode_t type;	    /* S_IFREG, S_IFDIR, S_IFLNK */
	unsigned flags;
	enum policy_class cls;
	uint64_t sino;		  /* store inode of the upper entry, 0 if none (yet) */
	uint64_t cached_version;  /* version whose pages the kernel may hold (0: lower) */
	uint64_t told_version;	  /* version whose attributes (size) the kernel was last given */
	bool cache_primed;	  /* the kernel's pages are all of cached_version */
	uint64_t written_version; /* the last version this peer committed (its pages hold it) */
	uint32_t cached_open;	  /* open handles that use the page cache (all of cached_version) */
	struct ofile *of;	  /* write state while open for writing on this node */
	struct dirlist *listing;  /* dirs: the listing streams continue from (dir.c), or NULL */
	struct known known;
	int backing;  /* passthrough backing id of a static file: 0 none yet, -1 refused */
	bool trusted; /* tattr is what the store holds (overlay/trust.h) */
	struct store_attr tattr; /* the kept answer, with its chunk list; no target */
	struct content *content; /* cache files: the version held whole (overlay/content.h) */
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
uint64_t node_sino(struct pfs *fs, struct node *n);		   /* n->sino, under the lock */
/* Move N to (PARENT, NAME) after a rename, dropping whatever stood there.  Holds lock. */
int node_move(struct pfs *fs, struct node *n, struct node *parent, const char *name,
	      size_t namelen);
void node_unhash(struct pfs *fs, struct node *n); /* mark unlinked; caller holds lock */
/* The node's path relative to the root ("/" or "/a/b") into BUF: its length, -ENAMETOOLONG. */
int node_path(struct pfs *fs, struct node *n, char *buf, size_t size);
/* The path of NAME under PARENT. */
int node_child_path(struct pfs *fs, struct node *parent, const char *name, size_t namelen,
		    char *buf, size_t size);
/* N's parent, with a reference the caller drops with node_put, and its name copied into NAME
 * (SIZE bytes, NUL-terminated), as one consistent snapshot: a rename may change both as soon
 * as the lock is let go.  Returns the name's length; -ENOENT for the root. */
int node_parent_name(struct pfs *fs, struct node *n, struct node **parent, char *name, size_t size);
/* Nodes whose upper entry is store inode SINO: calls fn for each, holding fs->lock. */
void node_for_sino(struct pfs *fs, uint64_t sino, void (*fn)(struct node *, void *), void *arg);
void node_for_each(struct pfs *fs, void (*fn)(struct node *, void *), void *arg);

/* Keep what the store said of N's upper entry (A), and the version the kernel now has.  Caller
 * holds fs->lock. */
void node_remember(struct node *n, const struct store_attr *a);
/* The store attributes N's upper entry had when last seen, into *A (no chunks, no target);
 * false when there is nothing to go on.  Caller holds fs->lock. */
bool node_recall(const struct node *n, struct store_attr *a);

#endif
