/* test_peers.c - the peer registry `P peers` (docs/FORMAT.md) against a real redis-server:
 * records written and read back, removed, records pressfs did not write, and the documented
 * ACL rule (the registry needs no command beyond it). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "redis_fixture.h"
#include "store/store.h"
#include "tap.h"

static void quiet(void *arg, int level, const char *msg)
{
	(void)arg;
	(void)level;
	printf("# store: %s\n", msg);
}

static struct store *open_as(const char *url, const char *peer)
{
	struct store_config cfg = {.url = url, .site = "reg", .peer = peer, .log = quiet};
	struct store *s = NULL;

	return store_open(&cfg, &s) ? NULL : s;
}

static const struct store_peer *find(const struct store_peer *p, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(p[i].name, name))
			return &p[i];
	return NULL;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_records(void)
{
	struct store *a = open_as(fx.url, "peer-a"), *b = open_as(fx.url, "peer b\nx");
	struct store_peer me = {.version = "1.2-3-gabc", .host = "web 1\033", .pid = 4242};
	const struct store_peer *p;
	struct store_peer *all;
	int64_t t0 = now_ms();
	size_t n;

	ok(a && b, "two peers open the site");
	if (!a || !b)
		return;
	me.start_ms = t0 - 5000;
	is_int(store_peer_announce(a, &me), 0, "peer-a announces itself");
	me.pid = 7;
	is_int(store_peer_announce(b, &me), 0, "and a peer whose id holds a space and a newline");
	is_int(store_peers(a, &all, &n), 0, "the registry is read");
	is_int(n, 2, "with both records");
	p = find(all, n, "peer-a");
	ok(p && !p->bad, "peer-a's record parses");
	if (p) {
		is_str(p->version, "1.2-3-gabc", "its version");
		is_str(p->host, "web?1?", "its host, a space and a control byte as '?'");
		is_int(p->pid, 4242, "its pid");
		is_int(p->start_ms, t0 - 5000, "its start");
		ok(p->seen_ms >= t0 && p->seen_ms <= now_ms(), "seen is the time of the write");
	}
	p = find(all, n, "peer b\nx");
	ok(p && p->pid == 7, "an id with any bytes is its own field");
	store_peers_free(all, n);

	is_int(store_peer_forget(b, NULL), 1, "a peer removes its own record");
	is_int(store_peer_forget(b, NULL), 0, "once");
	is_int(store_peers(a, &all, &n), 0, "read again");
	ok(n == 1 && !strcmp(all[0].name, "peer-a"), "only peer-a is left");
	store_peers_free(all, n);
	is_int(store_peer_forget(b, "peer-a"), 1, "another peer may remove it (pruning)");
	store_close(a);
	store_close(b);
}

/* Records a newer pressfs, or someone with access to Redis, may have written. */
static void test_foreign(void)
{
	struct store *s = open_as(fx.url, "reader");
	const struct store_peer *p;
	struct store_peer *all;
	redisReply *r;
	size_t n;

	if (!s)
		return;
	r = fx_cmd("HSET pressfs:{reg}:peers newer %s junk %s empty %s",
		   "zone=eu start=10 seen=20 pid=3 host=h version=9 extra", "garbage", "");
	ok(r && r->type == REDIS_REPLY_INTEGER, "planted three records");
	if (r)
		freeReplyObject(r);
	is_int(store_peers(s, &all, &n), 0, "the registry is read");
	is_int(n, 3, "every field is listed");
	p = find(all, n, "newer");
	ok(p && !p->bad && p->start_ms == 10 && p->seen_ms == 20 && !strcmp(p->version, "9"),
	   "unknown tokens are skipped");
	p = find(all, n, "junk");
	ok(p && p->bad, "a record without start and seen is marked bad");
	p = find(all, n, "empty");
	ok(p && p->bad, "so is an empty one");
	store_peers_free(all, n);
	r = fx_cmd("DEL pressfs:{reg}:peers");
	if (r)
		freeReplyObject(r);
	r = fx_cmd("SET pressfs:{reg}:peers x");
	if (r)
		freeReplyObject(r);
	ok(store_peers(s, &all, &n) < 0 && n == 0, "a key of the wrong type is an error");
	r = fx_cmd("DEL pressfs:{reg}:peers");
	if (r)
		freeReplyObject(r);
	store_close(s);
}

static void test_acl(void)
{
	struct store_peer me = {.version = "v", .host = "h", .pid = 1, .start_ms = 1};
	struct store_peer *all;
	struct store *s;
	char url[128];
	redisReply *r;
	size_t n;

	/* the rule documented in docs/FORMAT.md and docs/SECURITY.md */
	r = fx_cmd("ACL SETUSER site-reg on >pw resetkeys ~pressfs:{reg}:* resetchannels "
		   "&pressfs:{reg}:* -@all +ping +select +info +script|load +eval +evalsha +get "
		   "+set +incr +incrby +exists +del +getrange +strlen +append +persist +pexpire "
		   "+pttl +hget +hset +hdel +hgetall +hincrby +publish +subscribe");
	ok(r && r->type == REDIS_REPLY_STATUS, "ACL SETUSER");
	if (r)
		freeReplyObject(r);
	snprintf(url, sizeof url, "redis://site-reg:pw@127.0.0.1:%d", fx.port);
	s = open_as(url, "limited");
	ok(s != NULL, "the site's user opens its site");
	if (!s)
		return;
	is_int(store_peer_announce(s, &me), 0, "announces itself under the documented rule");
	is_int(store_peers(s, &all, &n), 0, "reads the registry");
	is_int(n, 1, "with its record");
	store_peers_free(all, n);
	is_int(store_peer_forget(s, NULL), 1, "and removes it");
	store_close(s);
}

int main(void)
{
	int rc = fx_start();

	if (rc) {
		printf("Bail out! cannot start redis-server: %d\n", rc);
		return 1;
	}
	test_records();
	test_foreign();
	test_acl();
	return tap_done();
}
