/* timed_ops.c - a timing wrapper around each handler of the ops table, for the latency
 * histograms of `-o metrics=`: the handlers reply before they return, so the time between
 * the call and the return is the request's time in the daemon. */
#include "mount/timed_ops.h"
#include "stats.h"

static struct fuse_lowlevel_ops real; /* the handlers themselves; set once, then read only */

/* timed_NAME(PARAMS): time real.NAME(ARGS) as request OP. */
#define TIMED(name, op, params, args)                                                              \
	static void timed_##name params                                                            \
	{                                                                                          \
		uint64_t t0 = stats_op_begin();                                                    \
		real.name args;                                                                    \
		stats_op_end(op, t0);                                                              \
	}

/* Short names for the parameter types, so that each wrapper below stays one line. */
typedef fuse_req_t R;
typedef fuse_ino_t I;
typedef struct fuse_file_info *F;

TIMED(lookup, OP_LOOKUP, (R r, I p, const char *n), (r, p, n))
TIMED(forget, OP_FORGET, (R r, I i, uint64_t n), (r, i, n))
TIMED(forget_multi, OP_FORGET, (R r, size_t c, struct fuse_forget_data *f), (r, c, f))
TIMED(getattr, OP_GETATTR, (R r, I i, F f), (r, i, f))
TIMED(setattr, OP_SETATTR, (R r, I i, struct stat *a, int s, F f), (r, i, a, s, f))
TIMED(readlink, OP_READLINK, (R r, I i), (r, i))
TIMED(mkdir, OP_MKDIR, (R r, I p, const char *n, mode_t m), (r, p, n, m))
TIMED(unlink, OP_UNLINK, (R r, I p, const char *n), (r, p, n))
TIMED(rmdir, OP_RMDIR, (R r, I p, const char *n), (r, p, n))
TIMED(symlink, OP_SYMLINK, (R r, const char *l, I p, const char *n), (r, l, p, n))
TIMED(rename, OP_RENAME, (R r, I p, const char *n, I np, const char *nn, unsigned fl),
      (r, p, n, np, nn, fl))
TIMED(link, OP_LINK, (R r, I i, I np, const char *nn), (r, i, np, nn))
TIMED(open, OP_OPEN, (R r, I i, F f), (r, i, f))
TIMED(read, OP_READ, (R r, I i, size_t s, off_t o, F f), (r, i, s, o, f))
TIMED(write, OP_WRITE, (R r, I i, const char *b, size_t s, off_t o, F f), (r, i, b, s, o, f))
TIMED(flush, OP_FLUSH, (R r, I i, F f), (r, i, f))
TIMED(release, OP_RELEASE, (R r, I i, F f), (r, i, f))
TIMED(fsync, OP_FSYNC, (R r, I i, int d, F f), (r, i, d, f))
TIMED(opendir, OP_OPENDIR, (R r, I i, F f), (r, i, f))
TIMED(readdir, OP_READDIR, (R r, I i, size_t s, off_t o, F f), (r, i, s, o, f))
TIMED(releasedir, OP_RELEASEDIR, (R r, I i, F f), (r, i, f))
TIMED(statfs, OP_STATFS, (R r, I i), (r, i))
TIMED(setxattr, OP_OTHER, (R r, I i, const char *n, const char *v, size_t s, int fl),
      (r, i, n, v, s, fl))
TIMED(getxattr, OP_GETXATTR, (R r, I i, const char *n, size_t s), (r, i, n, s))
TIMED(listxattr, OP_LISTXATTR, (R r, I i, size_t s), (r, i, s))
TIMED(removexattr, OP_OTHER, (R r, I i, const char *n), (r, i, n))
TIMED(access, OP_ACCESS, (R r, I i, int m), (r, i, m))
TIMED(create, OP_CREATE, (R r, I p, const char *n, mode_t m, F f), (r, p, n, m, f))

#define WRAP(name)                                                                                 \
	do {                                                                                       \
		if (ops->name)                                                                     \
			ops->name = timed_##name;                                                  \
	} while (0)

void timed_ops(struct fuse_lowlevel_ops *ops)
{
	real = *ops;
	WRAP(lookup);
	WRAP(forget);
	WRAP(forget_multi);
	WRAP(getattr);
	WRAP(setattr);
	WRAP(readlink);
	WRAP(mkdir);
	WRAP(unlink);
	WRAP(rmdir);
	WRAP(symlink);
	WRAP(rename);
	WRAP(link);
	WRAP(open);
	WRAP(read);
	WRAP(write);
	WRAP(flush);
	WRAP(release);
	WRAP(fsync);
	WRAP(opendir);
	WRAP(readdir);
	WRAP(releasedir);
	WRAP(statfs);
	WRAP(setxattr);
	WRAP(getxattr);
	WRAP(listxattr);
	WRAP(removexattr);
	WRAP(access);
	WRAP(create);
}
