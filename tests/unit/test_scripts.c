/* test_scripts.c - the store's Lua scripts against a throwaway redis-server: each joined
 * obj/fuse/store/lua/NAME.lua runs under `redis-cli --eval` as it is, and the keys each
 * script writes and the messages it publishes (seen through MONITOR) are what the table
 * "What each script touches" of docs/FORMAT.md says, read here so the two cannot drift. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "redis_fixture.h"
#include "store/keys.h"
#include "store/store.h"
#include "tap.h"

#define SITE   "sc"
#define PREFIX "pressfs:{" SITE "}:"
#define MAXSET 16

static void quiet_log(void *arg, int level, const char *msg)
{
	(void)arg;
	fprintf(stderr, "# log(%d): %s\n", level, msg);
}

/* ---- a set of short strings ---- */

struct set {
	int n;
	char v[MAXSET][48];
};

static void set_add(struct set *s, const char *v)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], v))
			return;
	if (s->n < MAXSET)
		snprintf(s->v[s->n++], sizeof s->v[0], "%s", v);
}

static void set_join(const struct set *s, char *out, size_t size)
{
	size_t n = 0;

	out[0] = '\0';
	for (int i = 0; i < s->n && n < size; i++)
		n += (size_t)snprintf(out + n, size - n, "%s%s", i ? ", " : "", s->v[i]);
}

/* Same members, in any order. */
static bool set_equal(const struct set *a, const struct set *b)
{
	if (a->n != b->n)
		return false;
	for (int i = 0; i < a->n; i++) {
		bool found = false;

		for (int j = 0; j < b->n; j++)
			found |= !strcmp(a->v[i], b->v[j]);
		if (!found)
			return false;
	}
	return true;
}

/* ---- the doc's table: "| `NAME` | `P k`, `P k` | `E`, `I` |" ---- */

static void split_cell(const char *cell, struct set *out)
{
	const char *p = cell;

	while ((p = strchr(p, '`'))) {
		const char *e = strchr(p + 1, '`');
		char v[48];

		if (!e)
			break;
		snprintf(v, sizeof v, "%.*s", (int)(e - p - 1), p + 1);
		set_add(out, v);
		p = e + 1;
	}
}

static bool doc_row(const char *script, struct set *writes, struct set *pubs)
{
	FILE *f = fopen("docs/FORMAT.md", "r");
	char line[1024], head[64];
	bool found = false;

	memset(writes, 0, sizeof *writes);
	memset(pubs, 0, sizeof *pubs);
	if (!f)
		return false;
	snprintf(head, sizeof head, "| `%s` |", script);
	while (!found && fgets(line, sizeof line, f)) {
		char *c2, *c3;

		if (strncmp(line, head, strlen(head)))
			continue;
		c2 = line + strlen(head);
		c3 = strchr(c2, '|');
		if (!c3)
			break;
		*c3++ = '\0';
		split_cell(c2, writes);
		split_cell(c3, pubs);
		found = true;
	}
	fclose(f);
	return found;
}

/* ---- what a call did, through MONITOR ---- */

static redisContext *mon;

static void monitor_start(void)
{
	struct timeval tv = {5, 0};
	redisReply *r;

	mon = redisConnectWithTimeout("127.0.0.1", fx.port, tv);
	redisSetTimeout(mon, tv);
	r = redisCommand(mon, "MONITOR");
	ok(r && r->type == REDIS_REPLY_STATUS, "MONITOR");
	if (r)
		freeReplyObject(r);
}

/* The first N quoted arguments of a MONITOR line, unescaped enough for keys and the
 * message kind (escapes are kept as the byte after the backslash). */
static int monitor_args(const char *line, char out[][96], int n)
{
	const char *p = strstr(line, "] \"");
	int got = 0;

	if (!p)
		return 0;
	p += 2;
	while (got < n && *p == '"') {
		size_t k = 0;

		p++;
		while (*p && *p != '"') {
			if (*p == '\\' && p[1])
				p++;
			if (k < 95)
				out[got][k++] = *p;
			p++;
		}
		out[got++][k] = '\0';
		if (*p == '"')
			p++;
		if (*p == ' ')
			p++;
	}
	return got;
}

/* Read MONITOR until the line of "ECHO MARK": false on a timeout. */
struct ctx {
	bool init;
	uint64_t dir, ino, next_before;
	uint64_t dir2; /* a rename's other directory */
	uint64_t anc;  /* a directory on the path a rename proved */
	uint64_t old[4];
	uint64_t chunk[8];
};

static bool in(const uint64_t *v, int n, uint64_t x)
{
	for (int i = 0; i < n; i++)
		if (x && v[i] == x)
			return true;
	return false;
}

/* KEY as the doc's placeholder spelling. */
static void classify(const struct ctx *c, const char *key, char *out, size_t size)
{
	size_t pl = strlen(PREFIX);
	uint64_t id;
	char kind;

	if (strncmp(key, PREFIX, pl)) {
		snprintf(out, size, "outside P: %.60s", key);
		return;
	}
	key += pl;
	if (!strcmp(key, "format") || !strcmp(key, "next") || !strcmp(key, "seq")) {
		snprintf(out, size, "P %.60s", key);
		return;
	}
	kind = key[0];
	if (!strchr("idc", kind) || key[1] != ':' || sscanf(key + 2, "%" SCNu64, &id) != 1) {
		snprintf(out, size, "P %.60s (unknown)", key);
		return;
	}
	if (c->init && id == 1)
		snprintf(out, size, "P %c:1", kind);
	else if (kind == 'c' && in(c->chunk, 8, id))
		snprintf(out, size, "P c:<chunk>");
	else if (kind != 'c' && (id == c->dir || (c->dir2 && id == c->dir2)))
		snprintf(out, size, "P %c:<dir>", kind);
	else if (kind != 'c' && id == c->ino)
		snprintf(out, size, "P %c:<ino>", kind);
	else if (kind != 'c' && id == c->anc)
		snprintf(out, size, "P %c:<anc>", kind);
	else if (kind != 'c' && in(c->old, 4, id))
		snprintf(out, size, "P %c:<old>", kind);
	else if (id > c->next_before)
		snprintf(out, size, "P %c:<new>", kind);
	else
		snprintf(out, size, "P %.60s (which?)", key);
}

static const char *const write_cmds[] = {"HSET",    "HDEL",    "HINCRBY", "SET",  "DEL",
					 "PEXPIRE", "PERSIST", "APPEND",  "INCR", "INCRBY"};

static uint64_t next_id(void)
{
	redisReply *r = fx_cmd("GET " PREFIX "next");
	uint64_t v = 0;

	if (r && r->type == REDIS_REPLY_STRING)
		v = strtoull(r->str, NULL, 10);
	if (r)
		freeReplyObject(r);
	return v;
}

static bool monitor_until(const char *mark, const struct ctx *c, struct set *writes,
			  struct set *pubs)
{
	redisReply *e = fx_cmd("ECHO %s", mark);

	if (e)
		freeReplyObject(e);
	for (;;) {
		redisReply *r;
		char args[3][96], key[96];
		int n;

		if (redisGetReply(mon, (void **)&r) != REDIS_OK)
			return false;
		if (r->type != REDIS_REPLY_STATUS) {
			freeReplyObject(r);
			continue;
		}
		n = monitor_args(r->str, args, 3);
		if (n >= 2 && !strcmp(args[0], "ECHO") && !strcmp(args[1], mark)) {
			freeReplyObject(r);
			return true;
		}
		if (writes && strstr(r->str, " lua] ") && n >= 2) {
			if (!strcmp(args[0], "PUBLISH") && n == 3) {
				snprintf(key, sizeof key, "%c", args[2][0]);
				set_add(pubs, key);
			}
			for (size_t i = 0; i < sizeof write_cmds / sizeof write_cmds[0]; i++)
				if (!strcmp(args[0], write_cmds[i])) {
					classify(c, args[1], key, sizeof key);
					set_add(writes, key);
				}
		}
		freeReplyObject(r);
	}
}

static int mark_n;
static struct ctx cur;
static struct set got_w, got_p;

/* Start watching one call of the script under test. */
static void watch(struct ctx c)
{
	char mark[32];

	snprintf(mark, sizeof mark, "begin-%d", ++mark_n);
	monitor_until(mark, NULL, NULL, NULL);
	c.next_before = next_id();
	cur = c;
}

static void seen(void)
{
	char mark[32];

	snprintf(mark, sizeof mark, "end-%d", ++mark_n);
	ok(monitor_until(mark, &cur, &got_w, &got_p), "MONITOR saw the call end");
}

static void check(const char *script)
{
	struct set want_w, want_p;
	char a[512], b[512];

	ok(doc_row(script, &want_w, &want_p), "docs/FORMAT.md has a row for %s", script);
	set_join(&got_w, a, sizeof a);
	set_join(&want_w, b, sizeof b);
	ok(set_equal(&got_w, &want_w), "%s writes what FORMAT.md says", script);
	if (!set_equal(&got_w, &want_w))
		printf("#   wrote: %s\n#   doc:   %s\n", a, b);
	set_join(&got_p, a, sizeof a);
	set_join(&want_p, b, sizeof b);
	ok(set_equal(&got_p, &want_p), "%s publishes what FORMAT.md says", script);
	if (!set_equal(&got_p, &want_p))
		printf("#   published: %s\n#   doc:       %s\n", a, b);
	memset(&got_w, 0, sizeof got_w);
	memset(&got_p, 0, sizeof got_p);
}

/* ---- the scenarios: together, every case that writes ---- */

static uint64_t put(struct store *s, const char *data, size_t len)
{
	const void *d[1] = {data};
	size_t l[1] = {len};
	uint64_t id = 0;

	ok(store_put_chunks(s, 1, d, l, &id) == 0, "put a chunk of %zu bytes", len);
	return id;
}

static uint64_t publish(struct store *s, const char *name, uint64_t size, uint64_t chunk,
			bool merge)
{
	struct store_attr a;
	int rc = store_publish_new(s, 1, name, strlen(name), S_IFREG | 0644, 0, 0, 's', size,
				   chunk ? 1 : 0, &chunk, merge, &a);

	ok(rc == 0, "publish %s: %d", name, rc);
	store_attr_release(&a);
	return a.ino;
}

static uint64_t make(struct store *s, const char *name, uint32_t mode)
{
	struct store_attr a;
	int rc = store_create(s, 1, name, strlen(name), mode, 0, 0, 's', NULL, &a);

	ok(rc == 0, "create %s: %d", name, rc);
	store_attr_release(&a);
	return a.ino;
}

static void test_init(void)
{
	struct store_config cfg = {.url = fx.url, .site = SITE, .peer = "p", .log = quiet_log};
	struct store *s = NULL;

	watch((struct ctx){.init = true});
	ok(store_open(&cfg, &s) == 0, "open an empty site");
	seen();
	check("init");
	store_close(s);
}

static void test_reads(struct store *s)
{
	struct store_attr a;
	uint64_t ino;

	make(s, "rdonly", S_IFDIR | 0755);
	watch((struct ctx){.dir = 1});
	store_lookup(s, 1, "rdonly", 6, &a);
	store_attr_release(&a);
	store_lookup(s, 1, "absent", 6, &a);
	seen();
	check("lookup");
	watch((struct ctx){.dir = 1});
	store_resolve_dir(s, "/rdonly", 7, &ino);
	seen();
	check("resolve");
	{
		char path[64];

		watch((struct ctx){.dir = 1});
		is_int(store_dir_path(s, ino, path, sizeof path), 7, "where: the path's length");
		seen();
		check("where");
		is_str(path, "/rdonly", "where: the directory's path");
		is_int(store_dir_path(s, 1, path, sizeof path), 1, "where: the root");
		is_str(path, "/", "where: the root is /");
		is_int(store_dir_path(s, 999999, path, sizeof path), -ENOENT,
		       "where: a directory the store cannot place");
	}
}

static void test_create(struct store *s)
{
	struct store_attr a;
	uint64_t ino;

	watch((struct ctx){.dir = 1});
	ok(store_create(s, 1, "newdir", 6, S_IFDIR | 0755, 0, 0, 's', NULL, &a) == 0, "mkdir");
	store_attr_release(&a);
	seen();
	check("create");
	watch((struct ctx){.dir = 1});
	ok(store_copyup_dir(s, 1, "lowerdir", 8, 0755, 0, 0, 12345, &ino) == 0, "copy-up");
	seen();
	check("copyup_dir");
}

static void test_publish(struct store *s)
{
	uint64_t c1 = put(s, "first", 5), old = publish(s, "pf", 5, c1, false);
	uint64_t c2 = put(s, "second", 6), empty, c3;

	watch((struct ctx){.dir = 1, .old = {old}, .chunk = {c1, c2}});
	publish(s, "pf", 6, c2, false); /* replaces pf */
	seen();
	empty = make(s, "pm", S_IFREG | 0644);
	c3 = put(s, "merged", 6);
	watch((struct ctx){.dir = 1, .old = {empty}, .chunk = {c3}});
	publish(s, "pm", 6, c3, true); /* appended to the empty pm */
	seen();
	check("publish_new");
}

static void test_content(struct store *s)
{
	/* stored longer than the file: a commit that grows it, and an append, must copy */
	uint64_t c1 = put(s, "0123456789abcdefghij", 20), ino = publish(s, "cf", 10, c1, false);
	uint64_t c2 = put(s, "0123456789abcdefghij", 20), ino2 = publish(s, "af", 10, c2, false);
	struct store_attr a;

	watch((struct ctx){.ino = ino, .chunk = {c1}});
	ok(store_commit(s, ino, 15, 1, &c1, 1, &a) == 0, "commit keeping a long chunk");
	store_attr_release(&a);
	seen();
	check("commit");
	watch((struct ctx){.ino = ino2, .chunk = {c2}});
	ok(store_append(s, ino2, "xyz", 3, 1, &a) == 0, "append after a long chunk");
	store_attr_release(&a);
	seen();
	check("append");
	watch((struct ctx){.ino = ino2});
	a.mode = 0600;
	{
		struct store_attr b;

		ok(store_setattr(s, ino2, STORE_SET_MODE, &a, &b) == 0, "chmod");
		store_attr_release(&b);
	}
	seen();
	check("setattr");
}

static void test_remove(struct store *s)
{
	uint64_t c1 = put(s, "gone", 4), f = publish(s, "rf", 4, c1, false);
	uint64_t d = make(s, "rd", S_IFDIR | 0755);

	watch((struct ctx){.dir = 1, .old = {f, d}, .chunk = {c1}});
	ok(store_unlink(s, 1, "rf", 2, false) == 0, "unlink a file");
	ok(store_rmdir(s, 1, "rd", 2, true) == 0, "rmdir, leaving a whiteout");
	seen();
	check("remove");
}

static void test_rename(struct store *s)
{
	uint64_t c1 = put(s, "src", 3), c2 = put(s, "dst", 3);
	uint64_t src = publish(s, "r1", 3, c1, false), dst = publish(s, "r2", 3, c2, false);
	uint64_t da = make(s, "rdA", S_IFDIR | 0755), db = make(s, "rdB", S_IFDIR | 0755);

	watch((struct ctx){.dir = 1, .ino = src, .old = {dst}, .chunk = {c2}});
	ok(store_rename(s, 1, "r1", 2, 1, "r2", 2, 0) == 0, "rename over a file");
	seen();
	watch((struct ctx){.dir = 1, .ino = da, .old = {db}});
	ok(store_rename(s, 1, "rdA", 3, 1, "rdB", 3, STORE_RENAME_OPAQUE) == 0,
	   "rename over an empty directory");
	seen();
	{
		/* below a directory made before `parent` was kept: the path proves its parent */
		uint64_t anc = make(s, "rdZ", S_IFDIR | 0755), c, sub, mv;
		struct store_attr a;
		struct store_rename_check chk = {.dpath = "/rdZ/rdC/sub", .dpathlen = 12};

		ok(store_create(s, anc, "rdC", 3, S_IFDIR | 0755, 0, 0, 's', NULL, &a) == 0,
		   "mkdir rdZ/rdC");
		c = a.ino;
		store_attr_release(&a);
		ok(store_create(s, c, "sub", 3, S_IFDIR | 0755, 0, 0, 's', NULL, &a) == 0,
		   "mkdir rdZ/rdC/sub");
		sub = a.ino;
		store_attr_release(&a);
		ok(store_create(s, c, "mv", 2, S_IFDIR | 0755, 0, 0, 's', NULL, &a) == 0,
		   "mkdir rdZ/rdC/mv");
		mv = a.ino;
		store_attr_release(&a);
		freeReplyObject(fx_cmd("HDEL " PREFIX "i:%" PRIu64 " parent", anc));
		watch((struct ctx){.dir = c, .dir2 = sub, .ino = mv, .anc = anc});
		is_int(store_rename_checked(s, c, "mv", 2, sub, "mv", 2, 0, &chk), 0,
		       "rename below a directory that lacked its parent");
		seen();
	}
	check("rename");
}

static char *hget(uint64_t ino, const char *field, char *buf, size_t size)
{
	redisReply *r = fx_cmd("HGET " PREFIX "i:%" PRIu64 " %s", ino, field);

	buf[0] = '\0';
	if (r && r->type == REDIS_REPLY_STRING)
		snprintf(buf, size, "%s", r->str);
	if (r)
		freeReplyObject(r);
	return buf;
}

static uint64_t version(struct store *s, uint64_t ino)
{
	struct store_attr a = {0};
	uint64_t v = store_getattr(s, ino, &a) == 0 ? a.version : 0;

	store_attr_release(&a);
	return v;
}

static uint64_t mkdir_in(struct store *s, uint64_t dir, const char *name)
{
	struct store_attr a;
	int rc = store_create(s, dir, name, strlen(name), S_IFDIR | 0755, 0, 0, 's', NULL, &a);

	ok(rc == 0, "mkdir %s: %d", name, rc);
	store_attr_release(&a);
	return a.ino;
}

/* What a rename or a publish was judged on is checked when it runs (issue 12): each check
 * refuses with -EAGAIN and changes nothing; a directory is never moved below itself. */
static void test_agree(struct store *s)
{
	uint64_t top = mkdir_in(s, 1, "ag"), x = mkdir_in(s, top, "x"), y = mkdir_in(s, top, "y");
	uint64_t inner = mkdir_in(s, x, "inner"), dst = mkdir_in(s, top, "dst"), ver[2], ino[2];
	struct store_rename_check chk = {0};
	struct store_attr a;
	char buf[32];
	uint64_t id, c;
	int rc;

	is_int(strtoull(hget(x, "parent", buf, sizeof buf), NULL, 10), (long long)top,
	       "create keeps a directory's parent");
	ok(store_copyup_dir(s, top, "cu", 2, 0755, 0, 0, 1, &id) == 0, "copy-up ag/cu");
	is_int(strtoull(hget(id, "parent", buf, sizeof buf), NULL, 10), (long long)top,
	       "copyup_dir keeps a directory's parent");

	chk.sino = y;
	is_int(store_rename_checked(s, top, "x", 1, dst, "x", 1, 0, &chk), -EAGAIN,
	       "the source name holds another inode than was judged: -EAGAIN");
	chk.sino = x;
	chk.dpath = "/ag/y";
	chk.dpathlen = 5;
	is_int(store_rename_checked(s, top, "x", 1, dst, "x", 1, 0, &chk), -EAGAIN,
	       "the destination is not at the path judged: -EAGAIN");
	ino[0] = x, ver[0] = version(s, x);
	ino[1] = inner, ver[1] = version(s, inner);
	chk.dpath = "/ag/dst";
	chk.dpathlen = 7;
	chk.walked = ino;
	chk.vers = ver;
	chk.nwalked = 2;
	/* another peer adds code two levels down, after the judgement walked the tree */
	ok(store_create(s, inner, "s.php", 5, S_IFREG | 0644, 0, 0, 's', NULL, &a) == 0,
	   "a peer creates x/inner/s.php");
	store_attr_release(&a);
	is_int(store_rename_checked(s, top, "x", 1, dst, "x", 1, 0, &chk), -EAGAIN,
	       "a directory the judgement walked has changed since: -EAGAIN");
	ok(store_lookup(s, top, "x", 1, &a) >= 0 && a.ino == x, "the refused rename moved nothing");
	store_attr_release(&a);
	ver[1] = version(s, inner);
	is_int(store_rename_checked(s, top, "x", 1, dst, "x", 1, 0, &chk), 0,
	       "judged again on what it is now: moved");
	is_int(strtoull(hget(x, "parent", buf, sizeof buf), NULL, 10), (long long)dst,
	       "a moved directory's parent is its new one");
	{
		char path[64];

		is_int(store_dir_path(s, x, path, sizeof path), 9, "where is it now");
		is_str(path, "/ag/dst/x", "where a moved directory is now");
		is_int(store_dir_path(s, x, path, 5), -ENAMETOOLONG, "where: too long for BUF");
	}

	/* peer A: mv y dst/x/y; peer B: mv dst dst/x/...: the second must be refused */
	memset(&chk, 0, sizeof chk);
	is_int(store_rename_checked(s, top, "y", 1, x, "y", 1, 0, NULL), 0, "mv ag/y ag/dst/x/y");
	is_int(store_rename_checked(s, top, "dst", 3, y, "dst", 3, 0, NULL), -EINVAL,
	       "a directory moved below itself, seen through parent links: -EINVAL");
	chk.dpath = "/ag/dst/x/y";
	chk.dpathlen = 11;
	is_int(store_rename_checked(s, top, "dst", 3, y, "dst", 3, 0, &chk), -EINVAL,
	       "and through the path judged: -EINVAL");
	ok(store_lookup(s, top, "dst", 3, &a) >= 0 && a.ino == dst, "ag/dst stayed where it was");
	store_attr_release(&a);
	freeReplyObject(fx_cmd("HDEL " PREFIX "i:%" PRIu64 " parent", y));
	rc = store_rename_checked(s, top, "cu", 2, y, "cu", 2, 0, NULL);
	is_int(rc, -EXDEV, "an ancestry it cannot prove, with no path: -EXDEV");
	chk.dpath = "/ag/dst/x/y";
	is_int(store_rename_checked(s, top, "cu", 2, y, "cu", 2, 0, &chk), 0,
	       "with the path judged it is proven");
	is_int(strtoull(hget(y, "parent", buf, sizeof buf), NULL, 10), (long long)x,
	       "and the missing parent is filled from it");

	/* publish at close: the directory still is where the name was judged */
	c = put(s, "<?php", 5);
	rc = store_publish_new_at(s, y, "/ag/y", 5, "p.php", 5, S_IFREG | 0644, 0, 0, 's', 5, 1, &c,
				  false, 0, 0, &a);
	is_int(rc, -EAGAIN, "publish into a directory moved since its judgement: -EAGAIN");
	ok(store_lookup(s, y, "p.php", 5, &a) == -ENOENT, "nothing published");
	{
		redisReply *r = fx_cmd("EXISTS " PREFIX "c:%" PRIu64, c);

		ok(r && r->integer == 1, "its chunk kept for the next try");
		freeReplyObject(r);
	}
	rc = store_publish_new_at(s, y, "/ag/dst/x/y", 11, "p.php", 5, S_IFREG | 0644, 0, 0, 's', 5,
				  1, &c, false, 0, 0, &a);
	is_int(rc, 0, "published where the directory is");
	store_attr_release(&a);
}

static void test_drop_cache(struct store *s)
{
	struct store_attr a;
	uint64_t id = 0;

	ok(store_alloc_ids(s, 1, &id) == 0, "an id for memcached content");
	ok(store_publish_new(s, 1, "mc", 2, S_IFREG | 0644, 0, 0, 'c', 3, 1, &id, false, &a) == 0,
	   "publish a cache-class file");
	watch((struct ctx){.dir = 1, .old = {a.ino}, .chunk = {id}});
	is_int(store_drop_cache(s, 1, "mc", 2, a.ino, a.version, false), 1, "drop it");
	seen();
	check("drop_cache");
	store_attr_release(&a);
}

/* Many files of one directory in one call (pressfs import): replacing a file, a new one, and
 * each file refused on its own; the directory checked against the path judged. */
static void test_import(struct store *s)
{
	uint64_t c1 = put(s, "old", 3), old = publish(s, "imp1", 3, c1, false);
	uint64_t c2 = put(s, "new one", 7), c3 = put(s, "two", 3), c4 = put(s, "four", 4);
	uint64_t gone = 999999999, c2b;
	struct store_import_file f[3] = {
	    {.name = "imp1",
	     .namelen = 4,
	     .mode = 06640,
	     .uid = 7,
	     .gid = 8,
	     .mtime_ns = 42,
	     .size = 7,
	     .nchunks = 1,
	     .chunks = &c2},
	    {.name = "imp2",
	     .namelen = 4,
	     .mode = 0600,
	     .mtime_ns = -5,
	     .size = 3,
	     .nchunks = 1,
	     .chunks = &c3},
	    {.name = "imp3", .namelen = 4, .mode = 0644, .size = 4, .nchunks = 1, .chunks = &gone},
	};
	struct store_attr a = {0};
	char buf[32];

	is_int(store_import_files(s, 1, "/nowhere", 8, f, 3), -EAGAIN,
	       "import: the directory is not at the path judged: -EAGAIN");
	ok(store_lookup(s, 1, "imp2", 4, &a) == -ENOENT, "import: -EAGAIN published nothing");
	watch((struct ctx){.dir = 1, .old = {old}, .chunk = {c1, c2, c3, gone}});
	is_int(store_import_files(s, 1, "/", 1, f, 3), 0, "import: three files in one call");
	seen();
	check("import");
	ok(f[0].rc == 0 && f[0].ino > 0 && f[1].rc == 0 && f[1].ino > 0,
	   "import: two files published (%d, %d)", f[0].rc, f[1].rc);
	is_int(f[2].rc, -EIO, "import: a file whose chunk is gone is refused on its own");
	ok(store_lookup(s, 1, "imp1", 4, &a) == STORE_FILE && a.ino == f[0].ino && a.size == 7 &&
	       a.mtime_ns == 42 && a.mode == (S_IFREG | 0640) && a.uid == 7 && a.gid == 8,
	   "import: the file replaced, with its mtime, mode (setuid/setgid dropped) and owner");
	store_attr_release(&a);
	ok(store_lookup(s, 1, "imp2", 4, &a) == STORE_FILE && a.mtime_ns == -5,
	   "import: a new file, its mtime kept");
	store_attr_release(&a);
	ok(store_lookup(s, 1, "imp3", 4, &a) == -ENOENT, "import: the refused file is absent");
	is_str(hget(old, "unlinked", buf, sizeof buf)[0] ? "unlinked" : "", "unlinked",
	       "import: the replaced inode is unlinked");
	/* a directory of the name refuses that file only, its chunk deleted */
	mkdir_in(s, 1, "impd");
	c2b = put(s, "x", 1);
	f[0] = (struct store_import_file){
	    .name = "impd", .namelen = 4, .size = 1, .nchunks = 1, .chunks = &c2b};
	f[1].chunks = &c4;
	f[1].size = 4;
	is_int(store_import_files(s, 1, NULL, 0, f, 2), 0, "import: unchecked path");
	is_int(f[0].rc, -EISDIR, "import: a directory of the name: -EISDIR");
	is_int(f[1].rc, 0, "import: the other file of the call is published");
	{
		redisReply *r = fx_cmd("EXISTS " PREFIX "c:%" PRIu64, c2b);

		ok(r && r->integer == 0, "import: the refused file's pending chunk is deleted");
		if (r)
			freeReplyObject(r);
	}
}

/* ---- each joined script under redis-cli --eval ---- */

/* Run one script by hand; its output (first line) into OUT.  True when redis-cli exits 0
 * and Redis did not refuse it. */
static bool cli(const char *script, const char *args, char *out, size_t size)
{
	char cmd[1024], all[4096];
	size_t n = 0;
	FILE *p;
	int st;

	snprintf(cmd, sizeof cmd,
		 "redis-cli -p %d --no-raw --eval obj/fuse/store/lua/%s.lua 'pressfs:{cli}:' , "
		 "1700000000000000000 by-hand 1000 %s 2>&1",
		 fx.port, script, args);
	p = popen(cmd, "r");
	if (!p)
		return false;
	n = fread(all, 1, sizeof all - 1, p);
	all[n] = '\0';
	st = pclose(p);
	snprintf(out, size, "%.*s", (int)strcspn(all, "\n"), all);
	if (st != 0 || strstr(all, "ERR"))
		printf("# %s: %s\n", script, all);
	return st == 0 && !strstr(all, "ERR");
}

/* The ino in a reply line: "(integer) 5", "\"5\"" or "1) \"5\"". */
static unsigned long long num(const char *out)
{
	const char *p;

	out += strspn(out, " ");
	if (!strncmp(out, "1) ", 3))
		out += 3;
	p = out + strcspn(out, "0123456789");
	return strtoull(p, NULL, 10);
}

static void test_cli(void)
{
	char out[256], args[256];
	unsigned long long f;

	ok(cli("init", "1", out, sizeof out) && num(out) == 1, "init.lua: a new site (%s)", out);
	ok(cli("create", "1 sub d 40755 0 0 s ''", out, sizeof out), "create.lua (%s)", out);
	ok(cli("lookup", "1 sub", out, sizeof out) && num(out) > 1, "lookup.lua (%s)", out);
	ok(cli("resolve", "/sub", out, sizeof out) && num(out) > 1, "resolve.lua (%s)", out);
	ok(cli("where", "1", out, sizeof out) && !strcmp(out, "\"/\""), "where.lua (%s)", out);
	ok(cli("copyup_dir", "1 up 40755 0 0 5", out, sizeof out) && num(out) > 1,
	   "copyup_dir.lua (%s)", out);
	ok(cli("publish_new", "1 f 100644 0 0 s 0 '' 0", out, sizeof out) && num(out) > 1,
	   "publish_new.lua (%s)", out);
	f = num(out);
	snprintf(args, sizeof args, "%llu 0 '' 7", f);
	ok(cli("commit", args, out, sizeof out) && num(out) == f, "commit.lua (%s)", out);
	snprintf(args, sizeof args, "%llu hello 8", f);
	ok(cli("append", args, out, sizeof out) && num(out) == f, "append.lua (%s)", out);
	snprintf(args, sizeof args, "%llu 0600 '' '' ''", f);
	ok(cli("setattr", args, out, sizeof out) && num(out) == f, "setattr.lua (%s)", out);
	ok(cli("rename", "1 f 1 g 0 0 0", out, sizeof out) && !strcmp(out, "(integer) 0"),
	   "rename.lua (%s)", out);
	ok(cli("remove", "1 g 0 f", out, sizeof out) && !strcmp(out, "(integer) 0"),
	   "remove.lua (%s)", out);
	ok(cli("drop_cache", "1 nothing 5 1 0", out, sizeof out) && !strcmp(out, "(integer) 0"),
	   "drop_cache.lua (%s)", out);
	ok(cli("import", "1 / 'i1/i2/' '0644 0 0 0 5\n0600 0 0 0 -6'", out, sizeof out) &&
	       num(out) > 1,
	   "import.lua (%s)", out);
	ok(cli("remove", "1 g 0 f", out, sizeof out) && num(out) == ENOENT,
	   "remove.lua answers -ENOENT for a name that is gone (%s)", out);
}

int main(void)
{
	struct store_config cfg = {.url = NULL, .site = SITE, .peer = "p", .log = quiet_log};
	struct store *s = NULL;

	if (fx_start()) {
		printf("1..0 # SKIP redis-server did not start\n");
		return 0;
	}
	test_cli();
	monitor_start();
	test_init();
	cfg.url = fx.url;
	if (store_open(&cfg, &s)) {
		ok(0, "open the site");
		return tap_done();
	}
	test_reads(s);
	test_create(s);
	test_publish(s);
	test_content(s);
	test_remove(s);
	test_rename(s);
	test_agree(s);
	test_drop_cache(s);
	test_import(s);
	store_close(s);
	return tap_done();
}
