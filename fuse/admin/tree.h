/* tree.h - a site's upper layer as a list, for export and dump: every entry of the store
 * below a directory, pre-order, names sorted bytewise, each with the attributes of one
 * store_getattr (so each file's content is one version, read from its immutable chunks). */
#ifndef PRESSFS_ADMIN_TREE_H
#define PRESSFS_ADMIN_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* An entry whose inode getattr did not find: removed meanwhile, or dangling (fsck). */
#define TREE_GONE '?'

struct tree_entry {
	char *path; /* relative to the walk's top: "" for the top, "a/b" below it */
	size_t len;
	size_t depth;
	char type;	     /* enum store_type (STORE_WHITEOUT included), or TREE_GONE */
	uint64_t parent;     /* the directory's inode (0 for the top) */
	uint64_t ref;	     /* the inode the directory entry named */
	struct store_attr a; /* zeroed for a whiteout */
	size_t first;	     /* the entry of the walk's first name of this inode: itself, or
			      * an earlier one when this is a further name (a hard link) */
	uint32_t names;	     /* on a first name: how many entries of the walk name the inode */
};

struct tree {
	struct tree_entry *e;
	size_t n, cap;
	uint64_t files, bytes;	  /* shared-class files and their bytes (each inode once) */
	uint64_t links;		  /* entries that are a further name of an inode listed before */
	uint64_t specials;	  /* FIFOs, sockets and devices (their first names) */
	uint64_t cache_files;	  /* cache-class files: their bytes are in the pool, not here */
	uint64_t whiteouts, gone; /* gone: removed between listing and getattr */
	size_t *map, mapcap;	  /* inode -> its first entry + 1, for the names of one inode */
};

/* Walk the store from directory TOP (its own attributes first).  Returns 0 or -errno (the
 * store failed; the message is printed). */
int tree_walk(struct store *s, uint64_t top, struct tree *t);
void tree_free(struct tree *t);
/* The first entry of the walk naming inode INO (not a directory), or NULL. */
const struct tree_entry *tree_first(const struct tree *t, uint64_t ino);

/* Read entry E's content into SINK (admin_read_file), and when its chunks were freed under
 * it (the file was rewritten and the old version outlived its grace) take the new version
 * with a fresh getattr and start again, calling RESET first.  -ENOENT: the file is gone. */
int tree_read(struct store *s, struct tree_entry *e, void *buf, int (*reset)(void *arg),
	      int (*sink)(void *arg, const void *data, size_t len), void *arg);

#endif
