/* metrics.h - `-o metrics=HOST:PORT`: the mount's Prometheus page (/metrics) and health check
 * (/healthz) on a loopback address, served by a thread of its own that never waits for the
 * FUSE threads, and a prober that asks Redis so /healthz knows without waiting either. */
#ifndef PRESSFS_MOUNT_METRICS_H
#define PRESSFS_MOUNT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "pressfs.h"

struct metrics;

/* "127.0.0.1:PORT" or "[::1]:PORT" into *SS and *LEN.  A numeric address only, and one of the
 * loopback ones unless ANY: the page has no authentication, so visitors must not reach it.
 * 0, or -1 with WHY filled. */
int metrics_parse_addr(const char *spec, bool any, struct sockaddr_storage *ss, socklen_t *len,
		       char *why, size_t whylen);

/* Bind and listen on fs->set->metrics, before the mount is made: a port in use fails the mount
 * with a message on stderr (-1).  Nothing is served until metrics_start. */
int metrics_open(struct pfs *fs, struct metrics **out);
/* Start the threads, once the mount is ready (after fuse_daemonize: threads do not survive a
 * fork).  Connections made earlier wait in the listen queue meanwhile.  0 or -errno. */
int metrics_start(struct metrics *m);
/* Stop the threads, before the session goes (the server asks it whether it has exited).
 * Waits for at most one probe of Redis, so for the store's timeout.  NULL is fine. */
void metrics_stop(struct metrics *m);
/* Stop if need be, close the socket and free M.  NULL is fine. */
void metrics_close(struct metrics *m);

#endif
