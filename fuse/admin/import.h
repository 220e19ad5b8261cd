/* import.h - what the parts of `pressfs import` share: the entries of the source tree and
 * the state of one run (import.c scans, judges and reports; import_copy.c copies and
 * verifies). */
#ifndef PRESSFS_ADMIN_IMPORT_H
#define PRESSFS_ADMIN_IMPORT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "admin/common.h"
#include "policy.h"

/* What became of one source entry. */
enum state {
	S_TODO,	    /* to import */
	S_POLICY,   /* skipped: the policy takes no writes there (or a cache path) */
	S_PRESENT,  /* the store already holds it: same type, size, mode and mtime */
	S_DONE,	    /* imported */
	S_FAILED,   /* err says why */
	S_VERIFIED, /* imported or present, and read back identical */
};

struct entry {
	char *rel; /* "" for SRC itself, else "/a/b" below SRC; site path = prefix + rel */
	size_t rel_len;
	size_t name_off; /* the last segment: rel + name_off */
	long parent;	 /* index of the parent directory's entry, -1 for SRC */
	char type;	 /* STORE_FILE, STORE_DIR, STORE_SYMLINK */
	struct stat st;
	const struct policy_rule *rule;
	enum state state;
	bool needed;	  /* directories: must exist in the store */
	bool hashed;	  /* files: hash holds the source content's hash */
	bool present;	  /* found already imported (by an earlier, interrupted run) */
	int err;	  /* -errno of the failure */
	const char *what; /* the step that failed */
	uint64_t ino;	  /* store inode once known */
	uint64_t hash;
	/* directories: their entries in the store when the import began, sorted by name */
	struct store_dirent *have;
	size_t nhave;
};

struct import {
	const char *src;
	char prefix[4096];
	size_t prefix_len;
	struct policy *policy;
	struct store *store;
	bool cache_shared; /* --cache=shared: store cache-class files as shared */
	unsigned jobs;
	struct entry *e;
	size_t n, cap;
	atomic_size_t next; /* the next entry a worker takes */
	struct progress prog;
	uint64_t files, bytes; /* what there is to import */
};

#define BATCH_FILES 64
#define BATCH_BYTES (8u << 20)

/* Nanoseconds since the epoch of ST's mtime; mark E failed at step WHAT. */
static inline int64_t mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static inline void fail(struct entry *e, int err, const char *what)
{
	e->state = S_FAILED;
	e->err = err;
	e->what = what;
}

/* The site path of entry E ("PREFIX/rel") into BUF; returns its length or -ENAMETOOLONG. */
long import_site_path(const struct import *im, const struct entry *e, char *buf, size_t size);
/* The source path of entry E ("SRC/rel"). */
void import_src_path(const struct import *im, const struct entry *e, char *buf, size_t size);
/* Bytewise order of store_dirent names, and a lookup in a directory's sorted entries. */
int import_dirent_cmp(const void *a, const void *b);
const struct store_dirent *import_dir_has(const struct entry *d, const char *name, size_t len);

/* Worker threads (each has its own store connection): copy the entries still to do; read
 * the copied ones back and compare. */
void *import_worker(void *arg);
void *import_verify_worker(void *arg);

#endif
