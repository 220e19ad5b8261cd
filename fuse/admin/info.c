/* info.c - `pressfs info`: what a site holds (files, directories, bytes per class), what Redis
 * has left for it, and how many peers have it mounted. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "admin/common.h"
#include "admin/fsck_redis.h"
#include "admin/tree.h"

int info_main(int argc, char **argv)
{
	static const struct option opts[] = {{"store", 1, NULL, 's'},
					     {"site", 1, NULL, 'S'},
					     {"timeout", 1, NULL, 't'},
					     {"help", 0, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	static const char usage[] = "usage: pressfs info --store URL [--site NAME]\n";
	struct admin_target t = {0};
	uint64_t dirs = 0, links = 0, cache_bytes = 0;
	long long used = -1, max = -1, peers;
	char policy[64] = "", b1[32], b2[32];
	struct store *s;
	struct raw *raw;
	struct tree tr;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			t.url = optarg;
			break;
		case 'S':
			t.site = optarg;
			break;
		case 't':
			t.timeout_ms = (unsigned)atoi(optarg);
			break;
		case 'h':
			printf("%s", usage);
			return 0;
		default:
			fprintf(stderr, "%s", usage);
			return 2;
		}
	}
	if (optind != argc || !t.url) {
		fprintf(stderr, "%s", usage);
		return 2;
	}
	if (admin_open(&t, "info", &s) < 0)
		return 1;
	if (tree_walk(s, STORE_ROOT_INO, &tr) < 0 ||
	    raw_open(t.url, t.site ? t.site : "default", t.timeout_ms ? t.timeout_ms : 5000, &raw) <
		0) {
		store_close(s);
		return 1;
	}
	for (size_t i = 0; i < tr.n; i++) {
		dirs += tr.e[i].type == STORE_DIR;
		links += tr.e[i].type == STORE_SYMLINK;
		if (tr.e[i].type == STORE_FILE && tr.e[i].a.cls == 'c')
			cache_bytes += tr.e[i].a.size;
	}
	raw_memory(raw, &used, &max, policy, sizeof(policy));
	peers = raw_listeners(raw);
	printf("site:              %s\n", t.site ? t.site : "default");
	printf("files:             %" PRIu64 " shared (%s), %" PRIu64 " cache (%s, in the pool)\n",
	       tr.files, admin_bytes(b1, sizeof(b1), tr.bytes), tr.cache_files,
	       admin_bytes(b2, sizeof(b2), cache_bytes));
	printf("directories:       %" PRIu64 "\nsymlinks:          %" PRIu64
	       "\nwhiteouts:         %" PRIu64 "\n",
	       dirs, links, tr.whiteouts);
	printf("redis memory:      %s used",
	       admin_bytes(b1, sizeof(b1), used > 0 ? (uint64_t)used : 0));
	if (max > 0)
		printf(" of maxmemory %s, %s headroom", admin_bytes(b2, sizeof(b2), (uint64_t)max),
		       admin_bytes(b1, sizeof(b1), max > used ? (uint64_t)(max - used) : 0));
	else
		printf(", no maxmemory set");
	printf(" (the whole server; policy %s%s)\n", policy,
	       strcmp(policy, "noeviction") ? ": must be noeviction, or files can be lost" : "");
	if (peers >= 0)
		printf("peers mounted:     %lld (connections listening for the site's "
		       "invalidations)\n",
		       peers);
	printf("store:             reachable\n");
	tree_free(&tr);
	raw_close(raw);
	store_close(s);
	return 0;
}
