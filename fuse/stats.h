/* stats.h - the daemon's counters and latency histograms: read by `pressfs status` (JSON in an
 * xattr), the benchmarks, and the Prometheus endpoint of `-o metrics=` (mount/metrics.c).
 *
 * Every function below is called on the request path from any thread: each is a few relaxed
 * atomic additions on static memory, with no lock and no allocation.  One process serves one
 * mount, so the counters are the process's. */
#ifndef PRESSFS_STATS_H
#define PRESSFS_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "policy.h"

enum stat_op {
	OP_LOOKUP,
	OP_FORGET,
	OP_GETATTR,
	OP_SETATTR,
	OP_READLINK,
	OP_MKDIR,
	OP_UNLINK,
	OP_RMDIR,
	OP_SYMLINK,
	OP_RENAME,
	OP_LINK,
	OP_OPEN,
	OP_READ,
	OP_WRITE,
	OP_FLUSH,
	OP_RELEASE,
	OP_FSYNC,
	OP_OPENDIR,
	OP_READDIR,
	OP_RELEASEDIR,
	OP_STATFS,
	OP_GETXATTR,
	OP_LISTXATTR,
	OP_CREATE,
	OP_ACCESS,
	OP_OTHER,
	OP__COUNT
};

/* One request of type OP, counted by its handler (the "requests" of `pressfs status`). */
void stats_count(enum stat_op op);

/* Extra figures besides requests.  New ones go at the end: the JSON keeps its order. */
enum stat_event {
	EV_COMMIT,
	EV_APPEND,
	EV_COPY_UP,
	EV_STORE_ERROR,
	EV_INVAL_RECV,	      /* a change announced by another peer */
	EV_INVAL_SENT_KERNEL, /* an entry or inode the kernel was told to drop */
	EV_OUTAGE_READ,	      /* a lookup, stat or open answered from memory: Redis is down */
	EV_PASSTHROUGH_OPEN,  /* an open the kernel serves from the backing file */
	EV_POOL_MISS,	      /* memcached had nothing for a chunk pressfs asked for */
	EV_POOL_EVICTION,     /* a cache file removed because memcached lost part of it */
	EV_INVAL_PUBLISHED,   /* a change of this peer announced to the others */
	EV_REFUSED_ENTRY,     /* a store entry not served: the policy refuses its path */
	EV_TRUSTED_OPEN,      /* opened on a kept answer, the store not asked */
	EV_RESYNC,	      /* the invalidation stream lost its step: everything dropped */
	EV__COUNT
};
void stats_event(enum stat_event ev);

/* Monotonic nanoseconds: the clock of the latencies below. */
uint64_t stats_clock(void);

/* Latency of one FUSE request: t0 = stats_op_begin() before the handler runs, then
 * stats_op_end(op, t0) after it replied.  mount/timed_ops.c wraps the ops table with these
 * when metrics= is given, so the handlers do not call them. */
uint64_t stats_op_begin(void);
void stats_op_end(enum stat_op op, uint64_t t0);

/* One round trip to Redis (a command, a script, or a pipelined batch) took NS nanoseconds. */
void stats_store_rtt(uint64_t ns);

/* Where file bytes came from or went to.  STAT_LOWER is the image's read-only tree. */
enum stat_class { STAT_LOWER, STAT_SHARED, STAT_CACHE, STAT_LOCAL, STAT__CLASSES };
/* N bytes returned to a reader, or taken from a writer, kept in CLS: where the bytes live, so a
 * cache-class file is STAT_SHARED when the mount has no pool= and keeps it in Redis. */
void stats_read(enum stat_class cls, uint64_t n);
void stats_written(enum stat_class cls, uint64_t n);

/* A write refused by the policy: the class of the rule that matched (POLICY_NONE and line 0
 * when none did) and the rule's line in the policy file. */
void stats_refusal(enum policy_class cls, unsigned rule_line);

/* The counters as one JSON object into BUF; returns the length, or -ERANGE. */
int stats_json(char *buf, size_t size, const char *site, const char *store_url, bool store_up,
	       const char *store_why, bool passthrough);

/* What the Prometheus page says besides the counters. */
struct stats_health {
	bool mounted;
	bool store_up;
	double start_time; /* seconds since the epoch */
};
/* Everything in the Prometheus text exposition format (version 0.0.4) to F, every sample
 * labelled site=SITE and peer=PEER; rule lines of refusals are named with their pattern from
 * POLICY (may be NULL).  Returns 0, or -EIO when F failed. */
int stats_prometheus(FILE *f, const char *site, const char *peer, const struct policy *policy,
		     const struct stats_health *h);

#define STATUS_XATTR "user.pressfs.status"

#endif
