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
	bool code;	  /* S_POLICY: a code name its writable rule grants no code */
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
	bool verify;	    /* hash the sources as they are read, for the check at the end */
	atomic_size_t next; /* the next job (import) or entry (verify) a worker takes */
	struct progress prog;
	uint64_t files, bytes; /* what there is to import */
	/* the work: the files to import, grouped by directory (order: indexes into e), cut into
	 * jobs of one directory each, at most BATCH_FILES files and BATCH_BYTES */
	size_t *order;
	struct job {
		size_t first, n; /* order[first .. first + n) */
	} * job;
	size_t njobs;
};

/* A batch: the files one script call publishes (store_import_files), their content uploaded
 * in one pipeline before it.  A file over half of BATCH_BYTES is a job of its own, uploaded
 * a batch of chunks at a time. */
#define BATCH_FILES 256
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

/* Cut the files still to do into im->job (after the directories are made).  0 or -ENOMEM. */
int import_plan(struct import *im);
/* Worker threads (each has its own store connection): copy the jobs; read the copied entries
 * back and compare. */
void *import_worker(void *arg);
void *import_verify_worker(void *arg);

#endif
