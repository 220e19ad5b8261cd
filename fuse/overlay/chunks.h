/* chunks.h - putting a file's content into the backend its class has: chunk ids from the store,
 * bytes to the store (shared) or to the pool (cache), UPLOAD_BATCH chunks per round trip.  The
 * one upload loop that commits and copy-up both use. */
#ifndef PRESSFS_OVERLAY_CHUNKS_H
#define PRESSFS_OVERLAY_CHUNKS_H

#include <sys/types.h>

#include "pressfs.h"

#define CHUNK	     STORE_CHUNK_SIZE
#define UPLOAD_BATCH 8 /* chunks per pipelined upload */

static inline size_t nchunks_of(uint64_t size)
{
	return (size_t)((size + CHUNK - 1) / CHUNK);
}

/* Where chunk I (LEN bytes) of a file comes from: fill BUF and return how many of its bytes to
 * upload (> 0), or return 0 to keep the chunk *KEEP names (0: a hole), or -errno. */
typedef ssize_t (*chunk_source)(void *arg, size_t i, char *buf, size_t len, uint64_t *keep);

/* The chunk list IDS (NCH entries) of a file of SIZE bytes whose content class is CLS ('s' the
 * store, 'c' the pool), uploading what SRC gives.  With cache_fail=drop a chunk the pool did
 * not take is left out: the file is published and the first open finds it evicted. */
int chunks_upload(struct pfs *fs, char cls, uint64_t size, size_t nch, chunk_source src, void *arg,
		  uint64_t *ids);

/* Say in the log when the pool stops answering and when it answers again, once each (cache
 * files are on the page-serving path: one line per request would drown the log). */
void chunks_pool_state(struct pfs *fs, bool down);

#endif
