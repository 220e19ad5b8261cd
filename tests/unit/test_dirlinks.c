/* test_dirlinks.c - a directory's link count in its inode (docs/FORMAT.md, "Directory link
 * counts"), as the scripts keep it, against a real, throwaway redis-server: every script that
 * makes, removes or moves a directory moves it, and a directory without one gets it counted. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "redis_fixture.h"
#include "store/store.h"
#include "tap.h"

#define SITE "dl"

static void quiet_log(void *arg, int level, const char *msg)
{
	(void)arg;
	(void)level;
	(void)msg;
}

static uint64_t mk(struct store *s, uint64_t dir, const char *name, uint32_t mode)
{
	struct store_attr a = {0};
	uint64_t ino = 0;

	if (store_create(s, dir, name, strlen(name), mode, 0, 0, 's', NULL, &a) == 0)
		ino = a.ino;
	store_attr_release(&a);
	return ino;
}

/* The count the store keeps for directory INO (0: none), read as a mount reads it. */
static uint32_t links(struct store *s, uint64_t ino)
{
	struct store_attr a = {0};
	uint32_t n = 0;

	if (store_getattr(s, ino, &a) == 0)
		n = a.nlink;
	store_attr_release(&a);
	return n;
}

static void drop_count(uint64_t ino)
{
	redisReply *r = fx_cmd("HDEL pressfs:{" SITE "}:i:%llu nlink", (unsigned long long)ino);

	if (r)
		freeReplyObject(r);
}

static void test_moves(struct store *s)
{
	uint64_t top, a, b, sub, lowered = 0;

	is_int(links(s, STORE_ROOT_INO), 2, "the root of a new site starts at 2");
	top = mk(s, STORE_ROOT_INO, "top", S_IFDIR | 0755);
	is_int(links(s, top), 2, "a new directory starts at 2");
	is_int(links(s, STORE_ROOT_INO), 3, "mkdir counts it in its parent");
	a = mk(s, top, "a", S_IFDIR | 0755);
	b = mk(s, top, "b", S_IFDIR | 0755);
	ok(mk(s, top, "file", S_IFREG | 0644), "a file");
	is_int(links(s, top), 4, "files do not count");
	sub = mk(s, a, "sub", S_IFDIR | 0755);
	is_int(store_rename(s, a, "sub", 3, b, "sub", 3, 0), 0, "a directory moved across");
	is_int(links(s, a), 2, "the source directory lost it");
	is_int(links(s, b), 3, "the target directory gained it");
	is_int(store_rename(s, b, "sub", 3, b, "sub2", 4, 0), 0, "renamed within one directory");
	is_int(links(s, b), 3, "no count moves");
	is_int(store_rename(s, top, "a", 1, top, "b", 1, 0), -ENOTEMPTY, "refused: nothing moves");
	is_int(links(s, top), 4, "the parent as it was");
	is_int(store_rename(s, b, "sub2", 4, top, "a", 1, 0), 0, "over an empty directory");
	is_int(links(s, top), 4, "the parent gained one and lost the replaced one");
	is_int(links(s, b), 2, "and the source lost it");
	is_int(store_rename(s, top, "file", 4, b, "file", 4, 0), 0, "a file moved");
	is_int(links(s, top) * 10 + links(s, b), 42, "no count moves");
	is_int(store_rmdir(s, top, "a", 1, true), 0, "rmdir, leaving a whiteout");
	is_int(links(s, top), 3, "rmdir takes it away");
	is_int(store_copyup_dir_as(s, top, "lowered", 7, S_IFDIR | 0755, 0, 0, 1, 77, &lowered), 0,
	       "a lower directory copied up");
	is_int(links(s, lowered), 2, "starts at 2");
	is_int(links(s, top), 4, "and counts in its parent");
	(void)sub;
}

static void test_uncounted(struct store *s)
{
	uint64_t old = mk(s, STORE_ROOT_INO, "old", S_IFDIR | 0755);

	mk(s, old, "s1", S_IFDIR | 0755);
	mk(s, old, "s2", S_IFDIR | 0755);
	drop_count(old); /* a directory made before counts were kept */
	is_int(links(s, old), 0, "no count");
	{
		uint32_t n = 0;

		is_int(store_count_subdirs(s, old, &n), 0, "counted from its entries");
		is_int(n, 2, "two subdirectories");
	}
	ok(mk(s, old, "f", S_IFREG | 0644), "a file made in it");
	is_int(links(s, old), 4, "the first change writes the count");
	drop_count(old);
	is_int(store_rmdir(s, old, "s1", 2, false), 0, "rmdir in it, without a count");
	is_int(links(s, old), 3, "counted after the removal, not moved from nothing");
	drop_count(old);
	mk(s, old, "s3", S_IFDIR | 0755);
	is_int(links(s, old), 4, "mkdir in it: counted with the new one");
}

/* The site's ACL user of docs/FORMAT.md runs every command the counts take: the scripts'
 * count of a directory without one, and the overlay's (store_count_subdirs). */
static void test_acl(void)
{
	struct store_config cfg = {.site = "dlacl", .peer = "p", .log = quiet_log};
	redisReply *r = fx_cmd(
	    "ACL SETUSER dl-acl on >pw resetkeys ~pressfs:{dlacl}:* resetchannels "
	    "&pressfs:{dlacl}:* -@all +ping +select +info +script|load +eval +evalsha +get +set "
	    "+incr +incrby +exists +del +getrange +strlen +append +persist +pexpire +pttl "
	    "+hget +hset +hdel +hgetall +hincrby +publish +subscribe");
	struct store *s = NULL;
	char url[128];
	uint64_t d;
	uint32_t n = 0;

	ok(r && r->type == REDIS_REPLY_STATUS, "ACL SETUSER");
	if (r)
		freeReplyObject(r);
	snprintf(url, sizeof url, "redis://dl-acl:pw@127.0.0.1:%d", fx.port);
	cfg.url = url;
	if (store_open(&cfg, &s) != 0) {
		ok(false, "the site's user opens its site");
		return;
	}
	d = mk(s, STORE_ROOT_INO, "d", S_IFDIR | 0755);
	mk(s, d, "sub", S_IFDIR | 0755);
	r = fx_cmd("HDEL pressfs:{dlacl}:i:%llu nlink", (unsigned long long)d);
	if (r)
		freeReplyObject(r);
	is_int(store_count_subdirs(s, d, &n), 0, "an uncounted directory counted under the ACL");
	is_int(n, 1, "one subdirectory");
	ok(mk(s, d, "f", S_IFREG | 0644), "a script counts it under the ACL");
	is_int(links(s, d), 3, "and writes the count");
	store_close(s);
}

int main(void)
{
	struct store_config cfg = {.url = NULL, .site = SITE, .peer = "p", .log = quiet_log};
	struct store *s = NULL;
	int rc = fx_start();

	if (rc) {
		printf("Bail out! cannot start redis-server: %d\n", rc);
		return 1;
	}
	cfg.url = fx.url;
	if (store_open(&cfg, &s) != 0) {
		printf("Bail out! store_open\n");
		return 1;
	}
	test_moves(s);
	test_uncounted(s);
	store_close(s);
	test_acl();
	return tap_done();
}
