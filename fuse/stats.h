/* stats.h - request counters by type, read by `pressfs status` and the benchmarks. */
#ifndef PRESSFS_STATS_H
#define PRESSFS_STATS_H

#include <stdbool.h>
#include <stddef.h>

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

void stats_count(enum stat_op op);
/* Extra figures besides requests: commits, copy-ups, store errors, invalidations. */
enum stat_event {
	EV_COMMIT,
	EV_APPEND,
	EV_COPY_UP,
	EV_STORE_ERROR,
	EV_INVAL_RECV,
	EV_INVAL_SENT_KERNEL,
	EV_OUTAGE_READ,
	EV_TRUSTED_OPEN, /* opened on a kept answer, the store not asked */
	EV_RESYNC,	 /* the invalidation stream lost its step: everything dropped */
	EV__COUNT
};
void stats_event(enum stat_event ev);
/* The counters as one JSON object into BUF; returns the length, or -ERANGE. */
int stats_json(char *buf, size_t size, const char *site, const char *store_url, bool store_up,
	       const char *store_why);

#define STATUS_XATTR "user.pressfs.status"

#endif
