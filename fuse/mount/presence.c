/* presence.c - keeps this mount's record in `P peers` fresh from a thread of its own, one
 * HSET every PRESENCE_BEAT_S seconds: nothing on the FUSE path waits for it. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mount/presence.h"
#include "version.h"

struct presence {
	struct pfs *fs;
	struct store_peer rec;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* stop was asked */
	bool stop;
};

/* Records of peers not seen for PRESENCE_FORGET_S: their mounts are long dead. */
static void forget_dead(struct presence *p)
{
	int64_t now = now_ns() / 1000000;
	struct store_peer *all;
	size_t n;

	if (store_peers(p->fs->store, &all, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (!all[i].bad && now - all[i].seen_ms > (int64_t)PRESENCE_FORGET_S * 1000 &&
		    store_peer_forget(p->fs->store, all[i].name) > 0)
			log_msg(LOG_LVL_INFO, "peer registry: forgot %s, not seen for %lld h",
				all[i].name, (long long)((now - all[i].seen_ms) / 3600000));
	store_peers_free(all, n);
}

static void *presence_main(void *arg)
{
	struct presence *p = arg;
	struct timespec until;

	forget_dead(p);
	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		pthread_mutex_unlock(&p->lock);
		/* an outage is logged by the store; the next beat tries again */
		store_peer_announce(p->fs->store, &p->rec);
		pthread_mutex_lock(&p->lock);
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += PRESENCE_BEAT_S;
		while (!p->stop && pthread_cond_timedwait(&p->cond, &p->lock, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&p->lock);
	/* The record goes before the daemon does; during an outage it stays (and shows stale),
	 * rather than hold the unmount for another timeout. */
	if (!store_down(p->fs->store, NULL, 0))
		store_peer_forget(p->fs->store, NULL);
	return NULL;
}

int presence_start(struct pfs *fs, struct presence **out)
{
	struct presence *p = calloc(1, sizeof(*p));
	pthread_condattr_t ca;
	int err;

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->fs = fs;
	strncpy(p->rec.version, PRESSFS_VERSION, sizeof(p->rec.version) - 1);
	gethostname(p->rec.host, sizeof(p->rec.host) - 1);
	p->rec.pid = (long)getpid();
	p->rec.start_ms = now_ns() / 1000000;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	err = pthread_create(&p->thread, NULL, presence_main, p);
	if (err) {
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->lock);
		free(p);
		return -err;
	}
	*out = p;
	return 0;
}

void presence_stop(struct presence *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL); /* at most one command: the store's timeout */
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
