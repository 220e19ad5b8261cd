/* local.h - the local class's backend: this peer's own directory (local=DIR), at the tree's
 * relative paths.  PATH arguments are absolute tree paths ("/a/b"); 0 or -errno, fds owned by
 * the caller. */
#ifndef PRESSFS_LOCAL_H
#define PRESSFS_LOCAL_H

#include <stdbool.h>
#include <sys/stat.h>

#include "pressfs.h"

int local_stat(struct pfs *fs, const char *path, struct stat *st);
int local_parents(struct pfs *fs, const char *path);
int local_open(struct pfs *fs, const char *path, int flags, mode_t mode);
int local_mkdir(struct pfs *fs, const char *path, mode_t mode, uid_t uid, gid_t gid);
/* A FIFO, socket or device node (MODE has its type) owned by UID:GID. */
int local_mknod(struct pfs *fs, const char *path, mode_t mode, dev_t rdev, uid_t uid, gid_t gid);
int local_link(struct pfs *fs, const char *from, const char *to);
int local_remove(struct pfs *fs, const char *path, bool dir);
int local_rename(struct pfs *fs, const char *from, const char *to, unsigned flags);
int local_opendir(struct pfs *fs, const char *path);

#endif
