/* ops.h - the overlay's FUSE operations, one table (everything but .init, which the mount's
 * session set-up adds), and what the mount calls around the session. */
#ifndef PRESSFS_OVERLAY_OPS_H
#define PRESSFS_OVERLAY_OPS_H

#include "overlay/inval.h"
#include "overlay/node.h"

extern const struct fuse_lowlevel_ops pfs_ops;

#endif
