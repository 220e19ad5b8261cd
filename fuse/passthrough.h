/* passthrough.h - FUSE passthrough (Linux >= 6.9) on a libfuse that has no API for it: reads of
 * a file opened this way are served by the kernel from a backing file, with no daemon request.
 *
 * libfuse 3.14 knows protocol 7.38; passthrough is 7.40.  This module sits between libfuse and
 * /dev/fuse (fuse_session_custom_io): it offers FUSE_PASSTHROUGH in the INIT reply when the
 * kernel asked for it, and turns an OPEN reply into a passthrough one for the handler that says
 * so.  It relies on libfuse's worker threads answering a request in the thread that read it,
 * which holds for every handler that replies before it returns (all of pressfs's do); a reply
 * is patched only when its unique id is the one this thread last read, so a reply sent from
 * elsewhere is passed on untouched, never patched wrongly.
 *
 * Limits, from the kernel: the daemon needs CAP_SYS_ADMIN; the backing file's file system may be
 * stacked at most PASSTHROUGH_STACK_DEPTH - 1 deep (an image on overlayfs is 1); not with the
 * writeback cache; one backing file per inode for as long as it is open (so a node keeps one
 * backing id for its life); covers read, write, splice and mmap, not getattr. */
#ifndef PRESSFS_PASSTHROUGH_H
#define PRESSFS_PASSTHROUGH_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 312
#endif
#include <fuse_lowlevel.h>
#include <stdbool.h>

#define PASSTHROUGH_STACK_DEPTH 2

/* Put the layer between SE and its /dev/fuse descriptor.  Call after fuse_session_mount and
 * before the session loop.  WANT false leaves every message untouched (passthrough=off).
 * 0 or -errno. */
int passthrough_attach(struct fuse_session *se, bool want);

/* True once INIT has been answered with passthrough on (the kernel offered it, and it was
 * wanted).  Before INIT, and on kernels without it, false. */
bool passthrough_on(void);

/* Register FD (opened for reading) as a backing file: returns a backing id > 0, or -errno
 * (-EPERM without CAP_SYS_ADMIN, -ELOOP when FD's file system is stacked too deep, -ENOTTY or
 * -EINVAL on kernels without it).  The kernel holds its own reference: FD may be closed. */
int passthrough_open_backing(int fd);
void passthrough_close_backing(int id);

/* fuse_reply_open() that makes the open a passthrough one onto backing id ID (> 0). */
int passthrough_reply_open(fuse_req_t req, const struct fuse_file_info *fi, int id);

/* How many OPEN replies were turned into passthrough ones (for status). */
unsigned long passthrough_opens(void);

#endif
