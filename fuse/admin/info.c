/* info.c - `pressfs info`: what a site holds (files, directories, bytes per class), what Redis
 * has left for it, and the peers that have it mounted (from the registry `P peers`). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin/admin.h"
#include "admin/common.h"
#include "admin/fsck_redis.h"
#include "admin/tree.h"
#include "mount/presence.h"

struct info {
	const char *site;
	struct tree tr;
	uint64_t dirs, links, cache_bytes;
	long long used, max, listeners;
	char policy[64];
	struct store_peer *peers;
	size_t npeers;
	int64_t now_ms;
};

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct store_peer *)a)->name, ((const struct store_peer *)b)->name);
}

/* NAME (any bytes but NUL) as printable ASCII, other bytes as \xNN: it goes to a terminal. */
static const char *printable(char *buf, size_t size, const char *name)
{
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)name; *p && o + 5 < size; p++)
		o += (size_t)snprintf(buf + o, size - o,
				      *p >= ' ' && *p <= '~' && *p != '\\' ? "%c" : "\\x%02x", *p);
	buf[o] = '\0';
	return buf;
}

static int64_t seen_s(const struct info *in, const struct store_peer *p)
{
	return in->now_ms > p->seen_ms ? (in->now_ms - p->seen_ms) / 1000 : 0;
}

static bool stale(const struct info *in, const struct store_peer *p)
{
	return p->bad || seen_s(in, p) > PRESENCE_STALE_S;
}

/* Up from its start to now, or to when it was last seen when that is long ago. */
static int64_t up_s(const struct info *in, const struct store_peer *p)
{
	int64_t end = stale(in, p) ? p->seen_ms : in->now_ms;

	return end > p->start_ms ? (end - p->start_ms) / 1000 : 0;
}

static const char *duration(char *buf, size_t size, int64_t s)
{
	if (s >= 86400)
		snprintf(buf, size, "%" PRId64 "d %" PRId64 "h", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, size, "%" PRId64 "h %02" PRId64 "m", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, size, "%" PRId64 "m %02" PRId64 "s", s / 60, s % 60);
	else
		snprintf(buf, size, "%" PRId64 "s", s);
	return buf;
}

static void print_peers(const struct info *in)
{
	char name[1100], up[32];
	size_t nstale = 0;

	for (size_t i = 0; i < in->npeers; i++)
		nstale += stale(in, &in->peers[i]);
	printf("peers registered:  %zu", in->npeers);
	if (nstale)
		printf(" (%zu stale: not seen for over %d s)", nstale, PRESENCE_STALE_S);
	printf("\n");
	for (size_t i = 0; i < in->npeers; i++) {
		const struct store_peer *p = &in->peers[i];

		printable(name, sizeof(name), p->name);
		if (p->bad) {
			printf("  %s  (a record pressfs did not write), stale\n", name);
			continue;
		}
		printf("  %s  version %s, pid %ld on %s, up %s, last seen %" PRId64 " s ago%s\n",
		       name, p->version[0] ? p->version : "?", p->pid, p->host[0] ? p->host : "?",
		       duration(up, sizeof(up), up_s(in, p)), seen_s(in, p),
		       stale(in, p) ? ", stale" : "");
	}
}

static void print_text(const struct info *in)
{
	char b1[32], b2[32];

	printf("site:              %s\n", in->site);
	printf("files:             %" PRIu64 " shared (%s), %" PRIu64 " cache (%s, in the pool)\n",
	       in->tr.files, admin_bytes(b1, sizeof(b1), in->tr.bytes), in->tr.cache_files,
	       admin_bytes(b2, sizeof(b2), in->cache_bytes));
	printf("directories:       %" PRIu64 "\nsymlinks:          %" PRIu64
	       "\nwhiteouts:         %" PRIu64 "\n",
	       in->dirs, in->links, in->tr.whiteouts);
	printf("redis memory:      %s used",
	       admin_bytes(b1, sizeof(b1), in->used > 0 ? (uint64_t)in->used : 0));
	if (in->max > 0)
		printf(" of maxmemory %s, %s headroom",
		       admin_bytes(b2, sizeof(b2), (uint64_t)in->max),
		       admin_bytes(b1, sizeof(b1),
				   in->max > in->used ? (uint64_t)(in->max - in->used) : 0));
	else
		printf(", no maxmemory set");
	printf(" (the whole server; policy %s%s)\n", in->policy,
	       strcmp(in->policy, "noeviction") ? ": must be noeviction, or files can be lost"
						: "");
	if (in->listeners >= 0)
		printf("peers mounted:     %lld (connections listening for the site's "
		       "invalidations)\n",
		       in->listeners);
	print_peers(in);
	printf("store:             reachable\n");
}

static int print_json(const struct info *in)
{
	json_t *o = json_object(), *peers = json_array();
	char name[1100];
	int rc;

	json_object_set_new(o, "site", json_string(in->site));
	json_object_set_new(o, "files", json_integer((json_int_t)in->tr.files));
	json_object_set_new(o, "bytes", json_integer((json_int_t)in->tr.bytes));
	json_object_set_new(o, "cache_files", json_integer((json_int_t)in->tr.cache_files));
	json_object_set_new(o, "cache_bytes", json_integer((json_int_t)in->cache_bytes));
	json_object_set_new(o, "directories", json_integer((json_int_t)in->dirs));
	json_object_set_new(o, "symlinks", json_integer((json_int_t)in->links));
	json_object_set_new(o, "whiteouts", json_integer((json_int_t)in->tr.whiteouts));
	json_object_set_new(o, "redis_used_memory", json_integer(in->used));
	json_object_set_new(o, "redis_maxmemory", json_integer(in->max > 0 ? in->max : 0));
	json_object_set_new(o, "redis_maxmemory_policy", json_string(in->policy));
	/* NUMSUB needs PUBSUB, which the documented per-site ACL does not grant */
	json_object_set_new(o, "listeners",
			    in->listeners >= 0 ? json_integer(in->listeners) : json_null());
	json_object_set_new(o, "stale_after_s", json_integer(PRESENCE_STALE_S));
	for (size_t i = 0; i < in->npeers; i++) {
		const struct store_peer *p = &in->peers[i];
		json_t *e = json_object();

		json_object_set_new(e, "name", json_string(printable(name, sizeof(name), p->name)));
		json_object_set_new(e, "stale", json_boolean(stale(in, p)));
		json_object_set_new(e, "bad_record", json_boolean(p->bad));
		if (!p->bad) {
			json_object_set_new(e, "version", json_string(p->version));
			json_object_set_new(e, "host", json_string(p->host));
			json_object_set_new(e, "pid", json_integer(p->pid));
			json_object_set_new(e, "start_ms", json_integer(p->start_ms));
			json_object_set_new(e, "seen_ms", json_integer(p->seen_ms));
			json_object_set_new(e, "uptime_s", json_integer(up_s(in, p)));
			json_object_set_new(e, "last_seen_s", json_integer(seen_s(in, p)));
		}
		json_array_append_new(peers, e);
	}
	json_object_set_new(o, "peers", peers);
	rc = json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	printf("\n");
	json_decref(o);
	return rc;
}

/* Everything info shows, read from the store (tree, registry) and Redis (memory, NUMSUB). */
static int gather(struct store *s, struct info *in)
{
	struct timespec now;
	struct raw *raw;
	int rc;

	rc = tree_walk(s, STORE_ROOT_INO, &in->tr);
	if (rc < 0)
		return rc;
	rc = raw_open(s, in->site, &raw);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < in->tr.n; i++) {
		in->dirs += in->tr.e[i].type == STORE_DIR;
		in->links += in->tr.e[i].type == STORE_SYMLINK;
		if (in->tr.e[i].type == STORE_FILE && in->tr.e[i].a.cls == 'c')
			in->cache_bytes += in->tr.e[i].a.size;
	}
	in->used = in->max = -1;
	raw_memory(raw, &in->used, &in->max, in->policy, sizeof(in->policy));
	in->listeners = raw_listeners(raw);
	raw_close(raw);
	rc = store_peers(s, &in->peers, &in->npeers);
	if (rc < 0)
		return rc;
	qsort(in->peers, in->npeers, sizeof(*in->peers), by_name);
	clock_gettime(CLOCK_REALTIME, &now);
	in->now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	return 0;
}

int info_main(int argc, char **argv)
{
	static const struct option opts[] = {{"json", 0, NULL, 'j'}, {NULL, 0, NULL, 0}};
	static const char usage[] = "usage: pressfs info --store URL [--site NAME] [--json]\n";
	struct admin_target t = {0};
	struct info in = {0};
	struct store *s;
	bool json = false;
	const struct admin_cmdline cl = {
	    .usage = usage, .opts = opts, .nargs = 0, .on_opt = admin_set_flag, .ctx = &json};
	int c, rc;

	c = admin_parse(argc, argv, &cl, &t);
	if (c < 0)
		return c == ADMIN_HELP ? 0 : 2;
	if (admin_open(&t, "info", &s) < 0)
		return 1;
	in.site = t.site ? t.site : "default";
	rc = gather(s, &in);
	if (rc < 0)
		fprintf(stderr, "pressfs info: reading the store: %s\n", strerror(-rc));
	else if (json)
		rc = print_json(&in);
	else
		print_text(&in);
	store_peers_free(in.peers, in.npeers);
	tree_free(&in.tr);
	store_close(s);
	return rc < 0 ? 1 : 0;
}
