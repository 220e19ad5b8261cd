/* chunks.c - the upload loop of chunks.h: batches of chunks to the store or the pool. */
#include <errno.h>
#include <stdlib.h>

#include "overlay/chunks.h"
#include "pool.h"
#include "stats.h"

void chunks_pool_state(struct pfs *fs, bool down)
{
	bool was = __atomic_exchange_n(&fs->pool_down, down, __ATOMIC_RELAXED);

	if (down && !was)
		log_msg(LOG_LVL_WARN, "memcached cannot be reached: cache files look absent%s (%s)",
			fs->pool_drop ? ", cache writes are dropped" : ", cache writes fail",
			pool_strerror(fs->pool));
	else if (!down && was)
		log_msg(LOG_LVL_INFO, "memcached answers again");
}

/* Chunks of a cache file: ids from the store, bytes to memcached. */
static int put_pool(struct pfs *fs, size_t k, const void *const *data, const size_t *lens,
		    uint64_t *got)
{
	int err;

	if (!fs->pool)
		return -EIO;
	err = store_alloc_ids(fs->store, k, got);
	for (size_t j = 0; j < k && !err; j++) {
		err = pool_put(fs->pool, got[j], data[j], lens[j]);
		chunks_pool_state(fs, err == -EIO);
		if (err) {
			stats_event(EV_STORE_ERROR);
			if (fs->pool_drop)
				err = 0;
		}
	}
	return err;
}

static int put_batch(struct pfs *fs, char cls, size_t k, const void *const *data,
		     const size_t *lens, const size_t *idx, uint64_t *ids)
{
	uint64_t got[UPLOAD_BATCH];
	int err = 0;

	if (k)
		err = cls == 'c' ? put_pool(fs, k, data, lens, got)
				 : store_put_chunks(fs->store, k, data, lens, got);
	for (size_t j = 0; j < k && !err; j++)
		ids[idx[j]] = got[j];
	return err;
}

int chunks_upload(struct pfs *fs, char cls, uint64_t size, size_t nch, chunk_source src, void *arg,
		  uint64_t *ids)
{
	const void *data[UPLOAD_BATCH];
	size_t lens[UPLOAD_BATCH], idx[UPLOAD_BATCH], k = 0;
	char *bufs = malloc((size_t)UPLOAD_BATCH * CHUNK);
	int err = 0;

	if (!bufs)
		return -ENOMEM;
	for (size_t i = 0; i < nch && !err; i++) {
		uint64_t cs = (uint64_t)i * CHUNK;
		size_t len = size - cs < CHUNK ? (size_t)(size - cs) : CHUNK;
		ssize_t r = src(arg, i, bufs + k * CHUNK, len, &ids[i]);

		if (r < 0) {
			err = (int)r;
			break;
		}
		if (r == 0)
			continue; /* kept, or a hole: ids[i] is set */
		data[k] = bufs + k * CHUNK;
		lens[k] = (size_t)r;
		idx[k++] = i;
		if (k == UPLOAD_BATCH) {
			err = put_batch(fs, cls, k, data, lens, idx, ids);
			k = 0;
		}
	}
	if (!err)
		err = put_batch(fs, cls, k, data, lens, idx, ids);
	free(bufs);
	return err;
}
