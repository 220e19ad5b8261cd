/* presence.h - this mount's record in the site's peer registry (`P peers`): written once the
 * mount is ready, refreshed by a thread of its own, removed at a clean unmount. */
#ifndef PRESSFS_MOUNT_PRESENCE_H
#define PRESSFS_MOUNT_PRESENCE_H

#include "pressfs.h"

/* How often the record is rewritten, and how long without a refresh `pressfs info` calls a
 * peer stale (six refreshes missed: a loaded machine or a slow Redis misses one or two). */
#define PRESENCE_BEAT_S	 5
#define PRESENCE_STALE_S 30
/* A record not refreshed for this long is removed by the next peer that mounts the site: its
 * mount died without unmounting (kill -9, a lost container) long ago. */
#define PRESENCE_FORGET_S (24 * 3600)

struct presence;

/* After fuse_daemonize (the pid is the daemon's, and threads do not survive a fork): write
 * the record, forget records dead for PRESENCE_FORGET_S, start the refresher.  A store that
 * cannot be reached only delays the record: 0 or -errno (no thread). */
int presence_start(struct pfs *fs, struct presence **out);
/* Stop the refresher and remove the record.  NULL is fine. */
void presence_stop(struct presence *p);

#endif
