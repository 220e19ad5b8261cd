/* timed_ops.h - the latency of every FUSE request, measured around the handlers of the ops
 * table rather than inside them (stats.h: stats_op_begin / stats_op_end). */
#ifndef PRESSFS_MOUNT_TIMED_OPS_H
#define PRESSFS_MOUNT_TIMED_OPS_H

#include "pressfs.h"

/* Replace each handler of OPS pressfs sets by one that times it and calls it.  The table's
 * original handlers are kept in this module: call once, before fuse_session_new.  Members
 * not listed in timed_ops.c (none of pressfs's today) are left as they are. */
void timed_ops(struct fuse_lowlevel_ops *ops);

#endif
