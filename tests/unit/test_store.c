/* test_store.c - the shared store (fuse/store.c) against a real, throwaway redis-server: the
 * documented format, atomic publishing, O_APPEND across nodes, invalidation, and what
 * happens when Redis goes away and comes back. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "redis_fixture.h"
#include "store/store.h"
#include "tap.h"

#define MiB (1024 * 1024)

static int64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Log lines are kept (all of them, the listener thread logs too) and echoed as TAP comments. */
static char log_all[65536], last_log[512];
static size_t log_len;
static int log_count, secret_logged;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static void test_log(void *arg, int level, const char *msg)
{
	(void)arg;
	pthread_mutex_lock(&log_lock);
	snprintf(last_log, sizeof last_log, "%s", msg);
	if (log_len < sizeof log_all - 1)
		log_len +=
		    (size_t)snprintf(log_all + log_len, sizeof log_all - log_len, "%s\n", msg);
	if (log_len > sizeof log_all - 1)
		log_len = sizeof log_all - 1;
	log_count++;
	secret_logged += strstr(msg, "s3cret") != NULL;
	pthread_mutex_unlock(&log_lock);
	fprintf(stderr, "# log(%d): %s\n", level, msg);
}

/* Where the log is now, and whether NEEDLE was logged since MARK. */
static size_t log_mark(void)
{
	size_t m;

	pthread_mutex_lock(&log_lock);
	m = log_len;
	pthread_mutex_unlock(&log_lock);
	return m;
}

static bool logged_since(size_t mark, const char *needle)
{
	bool found;

	pthread_mutex_lock(&log_lock);
	found = strstr(log_all + mark, needle) != NULL;
	pthread_mutex_unlock(&log_lock);
	return found;
}

static struct store *open_site(const char *site, const char *node, unsigned timeout_ms)
{
	struct store_config cfg = {.url = fx.url,
				   .site = site,
				   .peer = node,
				   .timeout_ms = timeout_ms,
				   .retry_ms = 200,
				   .pending_ttl_s = 600,
				   .grace_ms = 30000,
				   .log = test_log};
	struct store *s = NULL;
	int rc = store_open(&cfg, &s);

	if (rc)
		printf("# store_open(%s): %d\n", site, rc);
	return s;
}

static int open_rc(const char *url, const char *site)
{
	struct store_config cfg = {.url = url, .site = site, .peer = "t", .log = test_log};
	struct store *s = NULL;
	int rc = store_open(&cfg, &s);

	store_close(s);
	return rc;
}

static char *str_reply(const char *key)
{
	redisReply *r = fx_cmd("GET %s", key);
	char *v = NULL;

	if (r && r->type == REDIS_REPLY_STRING)
		v = strndup(r->str, r->len);
	if (r)
		freeReplyObject(r);
	return v;
}

/* Read LEN bytes of file A at OFF the way the overlay does: chunk by chunk, zero-filling
 * holes and the part of a chunk past its stored end. */
static int read_file(struct store *s, const struct store_attr *a, uint64_t off, size_t len,
		     char *buf)
{
	if (off + len > a->size)
		return -EINVAL;
	memset(buf, 0, len);
	while (len) {
		uint64_t n = off / STORE_CHUNK_SIZE;
		size_t in = off % STORE_CHUNK_SIZE, take = STORE_CHUNK_SIZE - in;

		if (take > len)
			take = len;
		if (n < a->nchunks && a->chunks[n]) {
			ssize_t got = store_read_chunk(s, a->chunks[n], in, take, buf);
			if (got < 0)
				return (int)got;
		}
		buf += take;
		off += take;
		len -= take;
	}
	return 0;
}

static void fill(char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (char)((i * 131 + seed * 7 + (i >> 11)) & 0xff);
}

/* ---- open and format ---- */

static void test_open(void)
{
	struct store *s;
	struct store_attr a = {0};
	char *v;
	redisReply *r;

	is_int(open_rc("http://127.0.0.1:1", "x"), -EINVAL, "url: unknown scheme refused");
	is_int(open_rc("redis://127.0.0.1", "x"), -EINVAL, "url: missing port refused");
	is_int(open_rc("redis://127.0.0.1:0", "x"), -EINVAL, "url: port 0 refused");
	is_int(open_rc("redis://127.0.0.1:99999", "x"), -EINVAL, "url: port > 65535 refused");
	is_int(open_rc("redis://127.0.0.1:6379/x", "x"), -EINVAL, "url: non-numeric db refused");
	is_int(open_rc("redis://user@127.0.0.1:6379", "x"), -EINVAL,
	       "url: user without password refused");
	is_int(open_rc("redis://a:b%zz@127.0.0.1:6379", "x"), -EINVAL,
	       "url: bad %%-escape refused");
	is_int(open_rc("unix://relative/path", "x"), -EINVAL, "url: relative unix path refused");
	is_int(open_rc("redis-sentinel://127.0.0.1:26379", "x"), -EINVAL,
	       "sentinel url: no master name refused");
	is_int(open_rc("redis-sentinel://127.0.0.1:26379/", "x"), -EINVAL,
	       "sentinel url: empty master name refused");
	is_int(open_rc("redis-sentinel://127.0.0.1:26379/a b", "x"), -EINVAL,
	       "sentinel url: malformed master name refused");
	is_int(open_rc("redis-sentinel://127.0.0.1:26379,,127.0.0.1:1/m", "x"), -EINVAL,
	       "sentinel url: empty sentinel address refused");
	is_int(open_rc("redis-sentinel://127.0.0.1:26379,/m", "x"), -EINVAL,
	       "sentinel url: trailing comma refused");
	is_int(open_rc("redis-sentinel://127.0.0.1/m", "x"), -EINVAL,
	       "sentinel url: sentinel without port refused");
	is_int(open_rc("redis-sentinel://127.0.0.1:1/m/x", "x"), -EINVAL,
	       "sentinel url: non-numeric db refused");
	is_int(open_rc("redis-sentinel://u:s3cret@127.0.0.1:1/m", "x"), -EINVAL,
	       "sentinel url: credentials refused");
	ok(strstr(last_log, "password_file") && !strstr(last_log, "s3cret"),
	   "... saying where the password goes, never quoting it (%s)", last_log);
	is_int(open_rc("redis-sentinel://127.0.0.1:1,127.0.0.1:2/m", "x"), -EIO,
	       "sentinel url: no sentinel answers: -EIO");
	{
		char url[160];

		/* a Redis that is no sentinel refuses SENTINEL: no primary, so -EIO */
		snprintf(url, sizeof url, "redis-sentinel://127.0.0.1:1,127.0.0.1:%d/m", fx.port);
		is_int(open_rc(url, "x"), -EIO, "sentinel url: a server that is no sentinel: -EIO");
		ok(strstr(last_log, "does not know master m") != NULL,
		   "... saying the sentinels do not know the master (%s)", last_log);
	}
	is_int(open_rc("redis-cluster://", "x"), -EINVAL, "cluster url: no seed refused");
	is_int(open_rc("redis-cluster://127.0.0.1:1/0", "x"), -EINVAL,
	       "cluster url: a database refused");
	ok(strstr(last_log, "no database but 0") != NULL, "... saying why (%s)", last_log);
	is_int(open_rc("redis-cluster://127.0.0.1:1,", "x"), -EINVAL,
	       "cluster url: trailing comma refused");
	is_int(open_rc("redis-cluster://u:s3cret@127.0.0.1:1", "x"), -EINVAL,
	       "cluster url: credentials refused");
	ok(strstr(last_log, "password_file") && !strstr(last_log, "s3cret"),
	   "... saying where the password goes, never quoting it (%s)", last_log);
	is_int(open_rc("redis-cluster://site@127.0.0.1:1", "x"), -EINVAL,
	       "cluster url: a user without a password refused");
	is_int(open_rc("redis-cluster://127.0.0.1:1,127.0.0.1:2", "x"), -EIO,
	       "cluster url: no seed answers: -EIO");
	{
		char url[160];

		/* a Redis without cluster-enabled refuses CLUSTER SLOTS: no map, so -EIO */
		snprintf(url, sizeof url, "redis-cluster://127.0.0.1:1,127.0.0.1:%d", fx.port);
		is_int(open_rc(url, "x"), -EIO, "cluster url: a server that is no cluster: -EIO");
		ok(strstr(last_log, "CLUSTER SLOTS refused") != NULL,
		   "... saying the node refused CLUSTER SLOTS (%s)", last_log);
	}
	is_int(open_rc(NULL, "x"), -EINVAL, "url: none refused");
	is_int(open_rc(fx.url, "a:b"), -EINVAL, "site with ':' refused");
	is_int(open_rc(fx.url, "{x}"), -EINVAL, "site with braces refused");
	is_int(open_rc(fx.url, ""), -EINVAL, "empty site refused");
	ok(strstr(last_log, "site") != NULL, "a refused site is logged clearly (%s)", last_log);

	s = open_site("main", "n1", 2000);
	ok(s != NULL, "store_open on an empty site");
	v = str_reply("pressfs:{main}:format");
	is_str(v, "1", "format key written");
	free(v);
	is_int(fx_int("HEXISTS pressfs:{main}:d:1 ."), 1, "root directory has its sentinel");
	is_int(store_getattr(s, STORE_ROOT_INO, &a), 0, "getattr of the root");
	is_int(a.type, STORE_DIR, "root is a directory");
	ok(S_ISDIR(a.mode), "root mode has S_IFDIR (%o)", a.mode);
	store_attr_release(&a);
	store_close(s);
	s = open_site("main", "n1", 2000);
	ok(s != NULL, "store_open again on an existing site");
	store_close(s);

	r = fx_cmd("SET pressfs:{future}:format 2");
	freeReplyObject(r);
	is_int(open_rc(fx.url, "future"), -EPROTO, "another format version gives -EPROTO");
	r = fx_cmd("SET pressfs:{nofmt}:next 77");
	freeReplyObject(r);
	is_int(open_rc(fx.url, "nofmt"), -EPROTO, "keys without a format marker give -EPROTO");
	is_int(fx_int("EXISTS pressfs:{nofmt}:format"), 0, "and nothing is written there");
	is_int(open_rc("redis://127.0.0.1:1", "x"), -EIO, "unreachable Redis gives -EIO");

	{
		char url[160];

		snprintf(url, sizeof url, "unix://%s", fx.sock);
		is_int(open_rc(url, "unixsite"), 0, "unix:// socket URL works");
		snprintf(url, sizeof url, "%s/0", fx.url);
		is_int(open_rc(url, "db0"), 0, "redis://host:port/db works");
	}
}

/* The longest site name makes the longest keys: every operation must address exactly its own
 * key, since a truncated key would name another file or none. */
static void test_long_keys(void)
{
	struct store_attr a = {0}, b = {0};
	struct store *s;
	char site[65];

	memset(site, 'x', 64);
	site[64] = '\0';
	s = open_site(site, "long", 2000);
	ok(s != NULL, "store_open with a 64-byte site name");
	if (!s)
		return;
	is_int(store_create(s, STORE_ROOT_INO, "f", 1, S_IFREG | 0644, 0, 0, 's', NULL, &a), 0,
	       "create under the longest prefix");
	is_int(store_getattr(s, a.ino, &b), 0, "getattr finds the inode by its full key");
	is_int(b.ino, a.ino, "and it is the same inode");
	store_attr_release(&a);
	store_attr_release(&b);
	store_close(s);
}

/* ---- names, entries, whiteouts ---- */

static void test_entries(struct store *s)
{
	struct store_attr a = {0}, b = {0};
	uint64_t dino, ino;
	int rc;

	rc = store_create(s, 1, "file", 4, S_IFREG | 0640, 33, 44, 's', NULL, &a);
	is_int(rc, 0, "create file");
	is_int(a.type, STORE_FILE, "file type");
	is_int(a.mode, S_IFREG | 0640, "file mode");
	is_int(a.uid, 33, "file uid");
	is_int(a.gid, 44, "file gid");
	is_int(a.size, 0, "new file is empty");
	is_int(a.cls, 's', "file class");
	ok(a.ino > 1, "file ino above the root (%llu)", (unsigned long long)a.ino);
	ok(a.mtime_ns > 1600000000LL * 1000000000LL, "mtime set in ns");
	ino = a.ino;
	store_attr_release(&a);

	is_int(store_lookup(s, 1, "file", 4, &a), STORE_FILE, "lookup file");
	is_int(a.ino, ino, "lookup gives the same ino");
	is_int(a.mode, S_IFREG | 0640, "lookup returns attributes too");
	store_attr_release(&a);
	is_int(store_getattr(s, ino, &a), 0, "getattr file");
	is_int(a.gid, 44, "getattr gid");
	store_attr_release(&a);
	is_int(store_create(s, 1, "file", 4, S_IFREG | 0600, 0, 0, 's', NULL, &a), -EEXIST,
	       "create over an existing file: -EEXIST");

	is_int(store_create(s, 1, "dir", 3, S_IFDIR | 0755, 0, 0, 's', NULL, &a), 0, "mkdir");
	is_int(a.type, STORE_DIR, "dir type");
	ok(!a.opaque, "new dir over nothing is not opaque");
	dino = a.ino;
	store_attr_release(&a);
	is_int(store_create(s, 1, "link", 4, S_IFLNK | 0777, 0, 0, 's', "dir/../file", &a), 0,
	       "symlink");
	is_int(a.type, STORE_SYMLINK, "symlink type");
	is_str(a.target, "dir/../file", "symlink target");
	is_int(a.size, 11, "symlink size is the target length");
	store_attr_release(&a);
	is_int(store_lookup(s, 1, "link", 4, &a), STORE_SYMLINK, "lookup symlink");
	is_str(a.target, "dir/../file", "lookup symlink target");
	store_attr_release(&a);
	is_int(store_create(s, 1, "l2", 2, S_IFLNK | 0777, 0, 0, 's', NULL, &a), -EINVAL,
	       "symlink without a target: -EINVAL");
	is_int(store_create(s, 1, "fifo", 4, S_IFIFO | 0777, 0, 0, 's', NULL, &a), -EINVAL,
	       "fifo: -EINVAL");
	is_int(store_create(s, 1, "x", 1, S_IFREG | 0644, 0, 0, 'q', NULL, &a), -EINVAL,
	       "unknown class: -EINVAL");

	is_int(store_lookup(s, 1, "nothing", 7, &a), -ENOENT, "lookup of nothing: -ENOENT");
	is_int(store_lookup(s, 987654, "x", 1, &a), -ESTALE, "lookup in a missing dir: -ESTALE");
	is_int(store_create(s, 987654, "x", 1, S_IFREG | 0644, 0, 0, 's', NULL, &a), -ENOENT,
	       "create in a missing dir: -ENOENT");
	is_int(store_lookup(s, 1, "a/b", 3, &a), -EINVAL, "name with '/': -EINVAL");
	is_int(store_lookup(s, 1, "..", 2, &a), -EINVAL, "'..': -EINVAL");
	is_int(store_lookup(s, 1, ".", 1, &a), -EINVAL, "'.' (the sentinel field): -EINVAL");
	is_int(store_lookup(s, 1, "", 0, &a), -EINVAL, "empty name: -EINVAL");
	is_int(store_lookup(s, 1, "a\0b", 3, &a), -EINVAL, "name with NUL: -EINVAL");

	/* whiteouts */
	is_int(store_unlink(s, dino, "lowerfile", 9, true), 0,
	       "whiteout for a lower-only file (no store entry)");
	is_int(store_lookup(s, dino, "lowerfile", 9, &a), STORE_WHITEOUT, "lookup sees whiteout");
	is_int(store_unlink(s, dino, "lowerfile", 9, true), -ENOENT,
	       "unlink of a whiteout: -ENOENT");
	is_int(store_unlink(s, dino, "nothing", 7, false), -ENOENT, "unlink of nothing: -ENOENT");
	is_int(store_create(s, dino, "lowerfile", 9, S_IFREG | 0644, 0, 0, 's', NULL, &a), 0,
	       "create over a whiteout");
	store_attr_release(&a);
	is_int(store_lookup(s, dino, "lowerfile", 9, &a), STORE_FILE, "whiteout replaced by file");
	store_attr_release(&a);
	is_int(store_rmdir(s, dino, "lowerdir", 8, true), 0, "whiteout for a lower-only dir");
	is_int(store_create(s, dino, "lowerdir", 8, S_IFDIR | 0755, 0, 0, 's', NULL, &a), 0,
	       "mkdir over a whiteout");
	ok(a.opaque, "a directory made over a whiteout is opaque");
	store_attr_release(&a);

	/* unlink */
	is_int(store_unlink(s, 1, "dir", 3, false), -EISDIR, "unlink of a dir: -EISDIR");
	is_int(store_unlink(s, 1, "file", 4, true), 0, "unlink file leaving a whiteout");
	is_int(store_lookup(s, 1, "file", 4, &a), STORE_WHITEOUT, "a whiteout is left");
	is_int(store_getattr(s, ino, &b), 0, "unlinked inode still readable during grace");
	ok(b.unlinked, "and marked unlinked");
	store_attr_release(&b);
	ok(fx_int("PTTL pressfs:{test}:i:%llu", (unsigned long long)ino) > 0,
	   "unlinked inode expires");
	is_int(store_unlink(s, 1, "link", 4, false), 0, "unlink symlink, no whiteout");
	is_int(store_lookup(s, 1, "link", 4, &a), -ENOENT, "nothing left");

	/* copy-up of a lower directory, resolve */
	is_int(store_copyup_dir(s, 1, "wp-content", 10, 0755, 33, 33, 1234567890LL, &dino), 0,
	       "copyup_dir creates");
	is_int(store_copyup_dir(s, 1, "wp-content", 10, 0700, 0, 0, 1, &ino), 0,
	       "copyup_dir again");
	is_int(ino, dino, "copyup_dir returns the existing directory");
	is_int(store_getattr(s, dino, &a), 0, "getattr of a copied-up dir");
	is_int(a.mtime_ns, 1234567890LL, "copied-up dir keeps the lower mtime");
	is_int(a.mode, S_IFDIR | 0755, "and mode");
	ok(!a.opaque, "and is not opaque");
	store_attr_release(&a);
	is_int(store_copyup_dir(s, 1, "file", 4, 0755, 0, 0, 1, &ino), -EEXIST,
	       "copyup_dir over a whiteout: -EEXIST");
	is_int(store_copyup_dir(s, dino, "uploads", 7, 0755, 33, 33, 1, &ino), 0, "nested copyup");
	is_int(store_resolve_dir(s, "/wp-content/uploads", 19, &b.ino), 0, "resolve_dir");
	is_int(b.ino, ino, "resolve_dir finds the nested dir");
	is_int(store_resolve_dir(s, "/", 1, &b.ino), 0, "resolve_dir /");
	is_int(b.ino, 1, "resolve_dir / is the root");
	is_int(store_resolve_dir(s, "/wp-content/nothing", 19, &b.ino), 0, "resolve_dir absent");
	is_int(b.ino, 0, "absent component gives 0");
	is_int(store_resolve_dir(s, "/file", 5, &b.ino), 0, "resolve_dir through a whiteout");
	is_int(b.ino, 0, "whiteout gives 0");
	is_int(store_resolve_dir(s, "//x", 3, &b.ino), -EINVAL, "resolve_dir of '//x': -EINVAL");

	/* setattr */
	a.mode = 0604;
	a.uid = 7;
	a.mtime_ns = 42;
	is_int(store_setattr(s, dino, STORE_SET_MODE | STORE_SET_UID | STORE_SET_MTIME, &a, &b), 0,
	       "setattr");
	is_int(b.mode, S_IFDIR | 0604, "setattr mode keeps the type bits");
	is_int(b.uid, 7, "setattr uid");
	is_int(b.gid, 33, "setattr leaves gid alone");
	is_int(b.mtime_ns, 42, "setattr mtime");
	store_attr_release(&b);
	is_int(store_setattr(s, 999999, STORE_SET_UID, &a, &b), -ENOENT, "setattr of nothing");
}

/* ---- readdir ---- */

static int find_ent(struct store_dirent *d, size_t n, const char *name, size_t len)
{
	int found = -1;

	for (size_t i = 0; i < n; i++)
		if (d[i].namelen == len && memcmp(d[i].name, name, len) == 0)
			found = found < 0 ? (int)i : -2;
	return found;
}

static void test_readdir(struct store *s)
{
	struct store_attr a = {0};
	struct store_dirent *d;
	char n255[256], n256[257];
	uint64_t dir;
	size_t n;
	int i;

	memset(n255, 'x', 255);
	n255[255] = '\0';
	memset(n256, 'y', 256);
	n256[256] = '\0';
	is_int(store_create(s, 1, "rd", 2, S_IFDIR | 0755, 0, 0, 's', NULL, &a), 0, "mkdir rd");
	dir = a.ino;
	store_attr_release(&a);
	is_int(store_readdir(s, dir, &d, &n), 0, "readdir of an empty dir");
	is_int(n, 0, "empty dir has no entries ('.' hidden)");
	store_dirents_free(d, n);

	is_int(store_create(s, dir, "with space", 10, S_IFREG | 0644, 0, 0, 's', NULL, &a), 0,
	       "name with a space");
	store_attr_release(&a);
	is_int(store_create(s, dir, "new\nline", 8, S_IFREG | 0644, 0, 0, 's', NULL, &a), 0,
	       "name with a newline");
	store_attr_release(&a);
	is_int(store_create(s, dir, "\xff\x01 bin", 6, S_IFREG | 0644, 0, 0, 's', NULL, &a), 0,
	       "name with high and control bytes");
	store_attr_release(&a);
	is_int(store_create(s, dir, n255, 255, S_IFREG | 0644, 0, 0, 's', NULL, &a), 0,
	       "255-byte name");
	store_attr_release(&a);
	is_int(store_create(s, dir, n256, 256, S_IFREG | 0644, 0, 0, 's', NULL, &a), -ENAMETOOLONG,
	       "256-byte name: -ENAMETOOLONG");
	is_int(store_create(s, dir, "sub", 3, S_IFDIR | 0755, 0, 0, 's', NULL, &a), 0, "subdir");
	store_attr_release(&a);
	is_int(store_unlink(s, dir, "gone", 4, true), 0, "a whiteout");

	is_int(store_readdir(s, dir, &d, &n), 0, "readdir");
	is_int(n, 6, "all entries, whiteout included");
	i = find_ent(d, n, "with space", 10);
	ok(i >= 0 && d[i].type == STORE_FILE && d[i].ino > 1, "entry with a space");
	ok(find_ent(d, n, "new\nline", 8) >= 0, "entry with a newline");
	ok(find_ent(d, n, "\xff\x01 bin", 6) >= 0, "entry with binary bytes");
	i = find_ent(d, n, n255, 255);
	ok(i >= 0 && d[i].name[255] == '\0', "255-byte entry, NUL-terminated");
	i = find_ent(d, n, "sub", 3);
	ok(i >= 0 && d[i].type == STORE_DIR, "subdir entry");
	i = find_ent(d, n, "gone", 4);
	ok(i >= 0 && d[i].type == STORE_WHITEOUT && d[i].ino == 0, "whiteout entry, ino 0");
	store_dirents_free(d, n);
	is_int(store_readdir(s, 999999, &d, &n), -ENOENT, "readdir of a missing dir: -ENOENT");
}

/* A string answer as a number, or -1; frees R. */
static long long fx_num(redisReply *r)
{
	long long v = r && r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : -1;

	if (r)
		freeReplyObject(r);
	return v;
}

/* The numbers a file is known by: the one reserved for it before its first publish, and the
 * lower number of a copy-up (lino), kept by the inode and given with its directory's entries. */
static void test_numbers(struct store *s)
{
	struct store_attr a = {0}, b = {0};
	struct store_dirent *d;
	uint64_t id, dir, sub;
	size_t n;
	int i;

	is_int(store_create(s, 1, "nums", 4, S_IFDIR | 0755, 0, 0, 's', NULL, &a), 0, "mkdir nums");
	dir = a.ino;
	store_attr_release(&a);
	is_int(store_alloc_ids(s, 1, &id), 0, "reserve a number at create");
	is_int(store_publish_new_as(s, dir, "new", 3, S_IFREG | 0644, 0, 0, 's', 0, 0, NULL, false,
				    id, 0, &a),
	       0, "publish with the reserved number");
	is_int(a.ino, id, "the new inode has it");
	is_int(a.lino, 0, "no lino: not a copy-up");
	store_attr_release(&a);
	is_int(store_publish_new_as(s, dir, "again", 5, S_IFREG | 0644, 0, 0, 's', 0, 0, NULL,
				    false, id, 0, &a),
	       0, "publish with a number an inode has already");
	ok(a.ino != id && a.ino > id, "gets a new number instead");
	store_attr_release(&a);
	is_int(
	    store_publish_new_as(s, dir, "never", 5, S_IFREG | 0644, 0, 0, 's', 0, 0, NULL, false,
				 (uint64_t)fx_num(fx_cmd("GET pressfs:{test}:next")) + 1000, 0, &a),
	    0, "publish with a number the site never handed out");
	ok(a.ino <= (uint64_t)fx_num(fx_cmd("GET pressfs:{test}:next")),
	   "gets a number of the site's");
	store_attr_release(&a);
	is_int(store_publish_new_as(s, dir, "copied", 6, S_IFREG | 0644, 0, 0, 's', 0, 0, NULL,
				    false, 0, 4242, &a),
	       0, "publish a copy-up with its lower number");
	is_int(a.lino, 4242, "lino 4242");
	is_int(fx_num(fx_cmd("HGET pressfs:{test}:i:%llu lino", (unsigned long long)a.ino)), 4242,
	       "kept in the inode as lino");
	is_int(store_getattr(s, a.ino, &b), 0, "getattr of the copy-up");
	is_int(b.lino, 4242, "getattr reads lino");
	store_attr_release(&b);
	is_int(store_lookup(s, dir, "copied", 6, &b), STORE_FILE, "lookup of the copy-up");
	is_int(b.lino, 4242, "lookup reads lino");
	store_attr_release(&b);
	store_attr_release(&a);
	is_int(store_copyup_dir_as(s, dir, "ldir", 4, 0755, 0, 0, 1, 77, &sub), 0,
	       "copy up a lower directory with its number");
	is_int(fx_num(fx_cmd("HGET pressfs:{test}:i:%llu lino", (unsigned long long)sub)), 77,
	       "the directory keeps it as lino");
	is_int(store_readdir(s, dir, &d, &n), 0, "readdir");
	i = find_ent(d, n, "copied", 6);
	ok(i >= 0 && d[i].lino == 4242, "readdir gives the file's lino");
	i = find_ent(d, n, "ldir", 4);
	ok(i >= 0 && d[i].lino == 77, "and the directory's");
	i = find_ent(d, n, "new", 3);
	ok(i >= 0 && d[i].lino == 0 && d[i].ino == id, "and none for the others");
	store_dirents_free(d, n);
}

/* ---- removing and renaming ---- */

static uint64_t mk(struct store *s, uint64_t dir, const char *name, uint32_t mode)
{
	struct store_attr a = {0};
	uint64_t ino = 0;

	if (store_create(s, dir, name, strlen(name), mode, 0, 0, 's',
			 S_ISLNK(mode) ? "target" : NULL, &a) == 0)
		ino = a.ino;
	store_attr_release(&a);
	return ino;
}

static void test_rename(struct store *s)
{
	struct store_attr a = {0};
	uint64_t top, d1, d2, f1, f2, sub;

	top = mk(s, 1, "rn", S_IFDIR | 0755);
	d1 = mk(s, top, "d1", S_IFDIR | 0755);
	d2 = mk(s, top, "d2", S_IFDIR | 0755);
	f1 = mk(s, top, "f1", S_IFREG | 0644);
	f2 = mk(s, top, "f2", S_IFREG | 0644);
	ok(top && d1 && d2 && f1 && f2, "rename fixtures");

	is_int(store_rename(s, top, "f1", 2, top, "f2", 2, STORE_RENAME_NOREPLACE), -EEXIST,
	       "NOREPLACE over a file: -EEXIST");
	is_int(store_rename(s, top, "f1", 2, top, "f2", 2, 0), 0, "rename file over file");
	is_int(store_lookup(s, top, "f2", 2, &a), STORE_FILE, "target exists");
	is_int(a.ino, f1, "target is the moved inode");
	store_attr_release(&a);
	is_int(store_lookup(s, top, "f1", 2, &a), -ENOENT, "source is gone");
	is_int(store_getattr(s, f2, &a), 0, "replaced inode still readable during grace");
	ok(a.unlinked, "replaced inode is unlinked");
	store_attr_release(&a);

	is_int(store_rename(s, top, "d1", 2, d2, "moved", 5, 0), 0, "rename dir into another dir");
	is_int(store_lookup(s, d2, "moved", 5, &a), STORE_DIR, "dir arrived");
	is_int(a.ino, d1, "same inode");
	store_attr_release(&a);
	is_int(store_lookup(s, top, "d1", 2, &a), -ENOENT, "dir left the old parent");

	is_int(store_rename(s, top, "f2", 2, top, "d2", 2, 0), -EISDIR, "file over dir: -EISDIR");
	is_int(store_rename(s, top, "d2", 2, top, "f2", 2, 0), -ENOTDIR, "dir over file: -ENOTDIR");
	sub = mk(s, top, "d3", S_IFDIR | 0755);
	is_int(store_rename(s, top, "d3", 2, top, "d2", 2, 0), -ENOTEMPTY,
	       "dir over a non-empty dir: -ENOTEMPTY");
	is_int(store_rename(s, top, "nothing", 7, top, "x", 1, 0), -ENOENT, "missing source");
	is_int(store_unlink(s, top, "wh", 2, true), 0, "a whiteout");
	is_int(store_rename(s, top, "wh", 2, top, "x", 1, 0), -ENOENT, "whiteout as source");
	is_int(store_rename(s, top, "f2", 2, top, "wh", 2, STORE_RENAME_NOREPLACE), 0,
	       "NOREPLACE over a whiteout is allowed");
	is_int(store_rename(s, top, "wh", 2, top, "f2", 2, STORE_RENAME_WHITEOUT), 0,
	       "rename leaving a whiteout");
	is_int(store_lookup(s, top, "wh", 2, &a), STORE_WHITEOUT, "the whiteout is there");
	is_int(store_lookup(s, top, "f2", 2, &a), STORE_FILE, "and the file moved");
	store_attr_release(&a);

	/* a dir with only whiteouts may be replaced, and rmdir'ed */
	is_int(store_unlink(s, d2, "hidden", 6, true), 0, "whiteout inside d2");
	is_int(store_rename(s, d2, "moved", 5, top, "back", 4, 0), 0, "move dir back");
	is_int(store_rename(s, top, "d3", 2, top, "d2", 2, STORE_RENAME_OPAQUE), 0,
	       "dir over a dir holding only whiteouts");
	is_int(store_lookup(s, top, "d2", 2, &a), STORE_DIR, "replaced");
	is_int(a.ino, sub, "by the moved dir");
	ok(a.opaque, "OPAQUE made it opaque");
	store_attr_release(&a);
	is_int(store_lookup(s, d2, "hidden", 6, &a), -ESTALE, "the replaced dir is gone: -ESTALE");
	is_int(store_rename(s, top, "back", 4, top, "back", 4, 0), 0, "rename onto itself: no-op");
	is_int(store_lookup(s, top, "back", 4, &a), STORE_DIR, "still there");
	store_attr_release(&a);

	/* rmdir */
	mk(s, sub, "child", S_IFREG | 0644);
	is_int(store_rmdir(s, top, "d2", 2, false), -ENOTEMPTY, "rmdir of a non-empty dir");
	is_int(store_unlink(s, sub, "child", 5, true), 0, "unlink its child, leaving a whiteout");
	is_int(store_rmdir(s, top, "d2", 2, true), 0, "rmdir of a dir with only whiteouts");
	is_int(store_lookup(s, top, "d2", 2, &a), STORE_WHITEOUT, "rmdir left a whiteout");
	is_int(fx_int("EXISTS pressfs:{test}:d:%llu", (unsigned long long)sub), 0,
	       "the removed dir's entries are deleted");
	is_int(store_rmdir(s, top, "f2", 2, false), -ENOTDIR, "rmdir of a file: -ENOTDIR");
	is_int(store_rmdir(s, top, "nothing", 7, false), -ENOENT, "rmdir of nothing: -ENOENT");
	is_int(store_rename(s, 999999, "a", 1, top, "b", 1, 0), -ENOENT, "missing source dir");
	is_int(store_rename(s, top, "f2", 2, top, "b", 1, 1u << 7), -EINVAL, "unknown flag");
}

/* ---- file content ---- */

static void test_content(struct store *s)
{
	struct store_attr a = {0}, b = {0};
	size_t size = 3 * MiB - 1000, half = MiB / 2;
	char *want = calloc(1, size), *got = malloc(size);
	const void *data[2];
	size_t len[2];
	uint64_t ids[2], list[3], old[1], ino;
	long long ttl;
	char small[100], *v;

	/* chunk 0 full, chunk 1 a hole, chunk 2 stored shorter than its logical part */
	fill(want, MiB, 1);
	fill(want + 2 * MiB, half, 2);
	data[0] = want;
	len[0] = MiB;
	data[1] = want + 2 * MiB;
	len[1] = half;
	is_int(store_put_chunks(s, 2, data, len, ids), 0, "put_chunks of two chunks");
	ok(ids[0] > 1 && ids[1] > 1 && ids[0] != ids[1], "distinct chunk ids");
	ttl = fx_int("PTTL pressfs:{test}:c:%llu", (unsigned long long)ids[0]);
	ok(ttl > 0 && ttl <= 600000, "an uncommitted chunk has a TTL (%lld ms)", ttl);
	list[0] = ids[0];
	list[1] = 0;
	list[2] = ids[1];
	is_int(
	    store_publish_new(s, 1, "big", 3, S_IFREG | 0644, 1, 2, 's', size, 3, list, false, &a),
	    0, "publish_new of a 3 MiB file with a hole");
	is_int(a.size, size, "size");
	is_int(a.nchunks, 3, "three chunks listed");
	ok(a.nchunks == 3 && a.chunks[0] == ids[0] && a.chunks[1] == 0 && a.chunks[2] == ids[1],
	   "chunk list as published");
	is_int(fx_int("PTTL pressfs:{test}:c:%llu", (unsigned long long)ids[0]), -1,
	       "a committed chunk has no TTL");
	is_int(fx_int("PTTL pressfs:{test}:c:%llu", (unsigned long long)ids[1]), -1,
	       "neither has the short one");
	is_int(read_file(s, &a, 0, size, got), 0, "read back the whole file");
	ok(memcmp(got, want, size) == 0, "byte-identical, hole and short chunk zero-filled");
	is_int(read_file(s, &a, MiB - 10, 20, got), 0, "read across the chunk 0/1 boundary");
	ok(memcmp(got, want + MiB - 10, 20) == 0, "across 0/1 identical");
	is_int(read_file(s, &a, 2 * MiB - 5, 10, got), 0, "read across the hole/chunk 2 boundary");
	ok(memcmp(got, want + 2 * MiB - 5, 10) == 0, "across 1/2 identical");
	is_int(store_read_chunk(s, ids[1], half - 10, 100, got), 10, "short read at a chunk's end");
	is_int(store_read_chunk(s, ids[1], half + 10, 100, got), 0, "read past the stored end: 0");
	is_int(store_read_chunk(s, 999999999, 0, 100, got), -EIO, "missing chunk: -EIO");
	ino = a.ino;
	store_attr_release(&a);

	/* publish_new over the file: the old chunks get the grace TTL */
	memset(small, 'n', sizeof small);
	data[0] = small;
	len[0] = sizeof small;
	is_int(store_put_chunks(s, 1, data, len, ids), 0, "put a small chunk");
	is_int(store_publish_new(s, 1, "big", 3, S_IFREG | 0600, 0, 0, 's', 100, 1, ids, false, &a),
	       0, "publish_new replacing the file");
	ok(a.ino != ino, "a new inode");
	is_int(store_lookup(s, 1, "big", 3, &b), STORE_FILE, "lookup sees the new file");
	is_int(b.ino, a.ino, "the new inode");
	is_int(b.size, 100, "new size");
	store_attr_release(&b);
	ttl = fx_int("PTTL pressfs:{test}:c:%llu", (unsigned long long)list[0]);
	ok(ttl > 0 && ttl <= 30000, "replaced chunks expire after grace (%lld ms)", ttl);
	is_int(store_getattr(s, ino, &b), 0, "replaced inode readable during grace");
	ok(b.unlinked && b.size == size, "with its old content description");
	is_int(read_file(s, &b, 0, size, got), 0, "a reader holding the old list can finish");
	ok(memcmp(got, want, size) == 0, "and reads the old bytes");
	store_attr_release(&b);
	is_int(store_publish_new(s, 1, "rd", 2, S_IFREG | 0600, 0, 0, 's', 0, 0, NULL, false, &b),
	       -EISDIR, "publish_new over a directory: -EISDIR");
	is_int(store_publish_new(s, 1, "big", 3, S_IFREG | 0600, 0, 0, 's', 100, 1, ids, false, &b),
	       -EINVAL, "publish_new with a chunk that belongs to a file: -EINVAL");
	is_int(store_publish_new(s, 1, "x", 1, S_IFREG | 0600, 0, 0, 's', 100, 2, list, false, &b),
	       -EINVAL, "more chunks than the size needs: -EINVAL");

	/* commit: content replaced in place, dropped chunks expire, kept ones do not */
	old[0] = a.chunks[0];
	fill(want, MiB, 3);
	data[0] = want;
	len[0] = MiB;
	data[1] = small;
	len[1] = 50;
	is_int(store_put_chunks(s, 2, data, len, ids), 0, "put two chunks");
	list[0] = ids[0];
	list[1] = ids[1];
	is_int(store_commit(s, a.ino, MiB + 50, 2, list, 777, &b), 0, "commit");
	is_int(b.size, MiB + 50, "committed size");
	is_int(b.mtime_ns, 777, "committed mtime");
	ok(b.version > a.version, "version bumped (%llu > %llu)", (unsigned long long)b.version,
	   (unsigned long long)a.version);
	ttl = fx_int("PTTL pressfs:{test}:c:%llu", (unsigned long long)old[0]);
	ok(ttl > 0 && ttl <= 30000, "the dropped chunk expires (%lld ms)", ttl);
	store_attr_release(&b);
	list[0] = ids[0];
	is_int(store_commit(s, a.ino, MiB, 1, list, 778, &b), 0,
	       "commit a truncation keeping chunk 0");
	is_int(fx_int("PTTL pressfs:{test}:c:%llu", (unsigned long long)ids[0]), -1,
	       "the kept chunk stays");
	ok(fx_int("PTTL pressfs:{test}:c:%llu", (unsigned long long)ids[1]) > 0,
	   "the dropped one expires");
	store_attr_release(&b);
	fx_int("DEL pressfs:{test}:c:%llu", (unsigned long long)ids[1]);
	list[1] = ids[1];
	is_int(store_commit(s, a.ino, MiB + 50, 2, list, 779, &b), -EIO,
	       "commit of a chunk that expired: -EIO");
	is_int(store_getattr(s, a.ino, &b), 0, "getattr after the refused commit");
	is_int(b.size, MiB, "the refused commit changed nothing");
	store_attr_release(&b);
	is_int(store_commit(s, 999999, 0, 0, NULL, 1, &b), -ENOENT, "commit of nothing: -ENOENT");

	/* truncate keeping a chunk, then grow again keeping it: the cut bytes must not return */
	memset(small, 'T', sizeof small);
	data[0] = small;
	len[0] = 100;
	is_int(store_put_chunks(s, 1, data, len, ids), 0, "put 100 bytes");
	is_int(store_commit(s, a.ino, 100, 1, ids, 780, &b), 0, "commit 100 bytes");
	store_attr_release(&b);
	is_int(store_commit(s, a.ino, 40, 1, ids, 781, &b), 0, "truncate to 40 keeping the chunk");
	store_attr_release(&b);
	is_int(store_commit(s, a.ino, 100, 1, ids, 782, &b), 0, "grow to 100 keeping the chunk");
	is_int(read_file(s, &b, 0, 100, got), 0, "read the grown file");
	memset(want, 'T', 40);
	memset(want + 40, 0, 60);
	ok(memcmp(got, want, 100) == 0, "bytes past the truncation read as zeros");
	ok(b.nchunks == 1 && b.chunks[0] != ids[0], "the chunk was replaced by its kept part");
	store_attr_release(&b);
	is_int(store_commit(s, 1, 0, 0, NULL, 1, &b), -EISDIR, "commit of a directory: -EISDIR");
	is_int(store_commit(s, ino, 0, 0, NULL, 1, &b), -ENOENT,
	       "commit of an unlinked inode: -ENOENT (its chunks would leak)");
	v = NULL;
	is_int(store_read_chunk(s, ids[0], 0, 10, got), 10, "read of the kept chunk");
	ok(memcmp(got, want, 10) == 0, "kept chunk content");
	free(v);
	store_attr_release(&a);
	free(want);
	free(got);
}

/* ---- O_APPEND ---- */

static void test_append(struct store *s)
{
	struct store_attr a = {0}, b = {0};
	size_t big = MiB + MiB / 2;
	char *want = malloc(3 * MiB), *got = malloc(3 * MiB);
	const void *data[1];
	size_t len[1];
	uint64_t ids[1], list[2], first;
	long long ttl;

	is_int(store_create(s, 1, "log", 3, S_IFREG | 0644, 0, 0, 's', NULL, &a), 0, "create log");
	store_attr_release(&a);
	is_int(store_lookup(s, 1, "log", 3, &a), STORE_FILE, "lookup log");
	is_int(store_append(s, a.ino, "hello", 5, 10, &b), 0, "append to an empty file");
	is_int(b.size, 5, "size 5");
	is_int(b.nchunks, 1, "one chunk");
	first = b.nchunks ? b.chunks[0] : 0;
	store_attr_release(&b);
	is_int(store_append(s, a.ino, " world", 6, 11, &b), 0, "append again");
	ok(b.nchunks == 1 && b.chunks[0] == first, "filled the last chunk in place");
	is_int(b.mtime_ns, 11, "append sets mtime");
	is_int(read_file(s, &b, 0, 11, got), 0, "read");
	ok(memcmp(got, "hello world", 11) == 0, "content");
	store_attr_release(&b);

	fill(want, big, 9);
	memcpy(got, "hello world", 11);
	is_int(store_append(s, a.ino, want, big, 12, &b), 0, "append 1.5 MiB");
	is_int(b.size, 11 + big, "size");
	is_int(b.nchunks, 2, "spilled into a second chunk");
	memcpy(want + 3 * MiB - 11 - big, want, 0);
	{
		char *exp = malloc(11 + big);

		memcpy(exp, "hello world", 11);
		memcpy(exp + 11, want, big);
		is_int(read_file(s, &b, 0, 11 + big, got), 0, "read across the boundary");
		ok(memcmp(got, exp, 11 + big) == 0, "content across the chunk boundary");
		free(exp);
	}
	store_attr_release(&b);

	/* a last chunk stored shorter than its logical length is copied, never appended to */
	memset(want, 'A', 50);
	data[0] = want;
	len[0] = 50;
	is_int(store_put_chunks(s, 1, data, len, ids), 0, "put a 50-byte chunk");
	list[0] = 0;
	list[1] = ids[0];
	is_int(store_commit(s, a.ino, MiB + 100, 2, list, 13, &b), 0,
	       "commit: hole, then 100 bytes of which 50 stored");
	store_attr_release(&b);
	is_int(store_append(s, a.ino, "XYZ", 3, 14, &b), 0, "append after a short chunk");
	is_int(b.size, MiB + 103, "size");
	ok(b.nchunks == 2 && b.chunks[1] != ids[0], "the short chunk was copied");
	ttl = fx_int("PTTL pressfs:{test}:c:%llu", (unsigned long long)ids[0]);
	ok(ttl > 0, "and the original expires after grace (%lld)", ttl);
	is_int(read_file(s, &b, MiB, 103, got), 0, "read the tail");
	memset(want, 'A', 50);
	memset(want + 50, 0, 50);
	memcpy(want + 100, "XYZ", 3);
	ok(memcmp(got, want, 103) == 0, "tail is A*50, 50 zeros, XYZ");
	is_int(read_file(s, &b, 0, 10, got), 0, "read the hole");
	ok(memcmp(got, "\0\0\0\0\0\0\0\0\0\0", 10) == 0, "the hole reads as zeros");
	store_attr_release(&b);

	/* appending past a trailing hole */
	is_int(store_commit(s, a.ino, 2 * MiB + 10, 0, NULL, 15, &b), 0, "commit: all hole");
	store_attr_release(&b);
	is_int(store_append(s, a.ino, "end", 3, 16, &b), 0, "append after a trailing hole");
	is_int(b.nchunks, 3, "list grown to the append");
	ok(b.nchunks == 3 && b.chunks[0] == 0 && b.chunks[1] == 0 && b.chunks[2] != 0,
	   "holes kept explicit");
	is_int(read_file(s, &b, 2 * MiB, 13, got), 0, "read the end");
	ok(memcmp(got, "\0\0\0\0\0\0\0\0\0\0end", 13) == 0, "zeros then the appended bytes");
	store_attr_release(&b);

	is_int(store_append(s, 1, "x", 1, 1, &b), -EISDIR, "append to a dir: -EISDIR");
	is_int(store_append(s, 999999, "x", 1, 1, &b), -ENOENT, "append to nothing: -ENOENT");
	store_attr_release(&a);

	/* publish_new with merge: two nodes created one log with O_APPEND; both keep their lines */
	data[0] = "first\n";
	len[0] = 6;
	is_int(store_put_chunks(s, 1, data, len, ids), 0, "put node A's new log");
	is_int(store_publish_new(s, 1, "merged", 6, S_IFREG | 0644, 0, 0, 's', 6, 1, ids, true, &a),
	       0, "merge publish with no file there creates it");
	is_int(a.size, 6, "size 6");
	data[0] = "second\n";
	len[0] = 7;
	is_int(store_put_chunks(s, 1, data, len, ids), 0, "put node B's new log");
	is_int(store_publish_new(s, 1, "merged", 6, S_IFREG | 0644, 0, 0, 's', 7, 1, ids, true, &b),
	       0, "merge publish over the existing log");
	is_int(b.ino, a.ino, "the existing inode is kept");
	is_int(b.size, 13, "B's bytes were appended");
	is_int(read_file(s, &b, 0, 13, got), 0, "read the merged log");
	ok(memcmp(got, "first\nsecond\n", 13) == 0, "both nodes' lines, whole");
	is_int(fx_int("EXISTS pressfs:{test}:c:%llu", (unsigned long long)ids[0]), 0,
	       "the merged upload's own chunk is freed at once");
	store_attr_release(&b);
	is_int(store_put_chunks(s, 1, data, len, ids), 0, "put a third upload");
	is_int(
	    store_publish_new(s, 1, "merged", 6, S_IFREG | 0644, 0, 0, 's', 7, 1, ids, false, &b),
	    0, "publish without merge");
	ok(b.ino != a.ino && b.size == 7, "replaces the file, as before");
	store_attr_release(&b);
	store_attr_release(&a);
	free(want);
	free(got);
}

#define APPENDERS 4
#define APPENDS	  200
#define LINE_PAD  3000

struct appender {
	int id;
	uint64_t ino;
	int failures;
};

static void *append_thread(void *p)
{
	struct appender *ap = p;
	struct store_attr a = {0};
	char node[16], line[LINE_PAD + 64];
	struct store *s;

	snprintf(node, sizeof node, "appender%d", ap->id);
	s = open_site("test", node, 5000);
	if (!s) {
		ap->failures = APPENDS;
		return NULL;
	}
	for (int i = 0; i < APPENDS; i++) {
		/* lines of varying length, so the 1 MiB boundary falls inside one */
		int pad = (ap->id * 37 + i * 13) % LINE_PAD;
		int n = snprintf(line, sizeof line, "T%d L%03d ", ap->id, i);

		memset(line + n, 'a' + ap->id, (size_t)pad);
		n += pad;
		line[n++] = '\n';
		if (store_append(s, ap->ino, line, (size_t)n, i, &a))
			ap->failures++;
		store_attr_release(&a);
	}
	store_close(s);
	return NULL;
}

static void test_append_concurrency(struct store *s)
{
	struct appender ap[APPENDERS];
	pthread_t th[APPENDERS];
	struct store_attr a = {0};
	int seen[APPENDERS][APPENDS] = {{0}}, bad = 0, dup = 0, missing = 0, failures = 0;
	char *buf, *p, *end;

	is_int(store_create(s, 1, "shared.log", 10, S_IFREG | 0644, 0, 0, 's', NULL, &a), 0,
	       "create the shared log");
	for (int i = 0; i < APPENDERS; i++) {
		ap[i] = (struct appender){.id = i, .ino = a.ino};
		pthread_create(&th[i], NULL, append_thread, &ap[i]);
	}
	for (int i = 0; i < APPENDERS; i++) {
		pthread_join(th[i], NULL);
		failures += ap[i].failures;
	}
	is_int(failures, 0, "%d nodes x %d appends all succeeded", APPENDERS, APPENDS);
	store_attr_release(&a);
	is_int(store_lookup(s, 1, "shared.log", 10, &a), STORE_FILE, "lookup the log");
	ok(a.size > MiB, "the log crossed a chunk boundary (%llu bytes)",
	   (unsigned long long)a.size);
	buf = malloc(a.size + 1);
	is_int(read_file(s, &a, 0, a.size, buf), 0, "read the log");
	buf[a.size] = '\0';
	for (p = buf, end = buf + a.size; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		int t, l, off = 0;

		if (!nl || sscanf(p, "T%d L%d%n", &t, &l, &off) != 2 || p[off++] != ' ' || t < 0 ||
		    t >= APPENDERS || l < 0 || l >= APPENDS) {
			bad++;
			break;
		}
		for (char *q = p + off; q < nl; q++)
			if (*q != 'a' + t)
				bad++;
		if (nl - (p + off) != (t * 37 + l * 13) % LINE_PAD)
			bad++;
		if (seen[t][l]++)
			dup++;
		p = nl + 1;
	}
	for (int t = 0; t < APPENDERS; t++)
		for (int l = 0; l < APPENDS; l++)
			missing += !seen[t][l];
	is_int(bad, 0, "no line torn or interleaved");
	is_int(dup, 0, "no line twice");
	is_int(missing, 0, "no line lost");
	free(buf);
	store_attr_release(&a);
}

/* ---- invalidation ---- */

struct event {
	char origin[64];
	enum store_inval what;
	uint64_t ino;
	char name[300];
	size_t namelen;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct event ev[256];
	int n;
} evq = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void on_inval(void *arg, const char *origin, enum store_inval what, uint64_t ino,
		     const char *name, size_t namelen)
{
	(void)arg;
	pthread_mutex_lock(&evq.lock);
	if (evq.n < 256) {
		struct event *e = &evq.ev[evq.n++];

		snprintf(e->origin, sizeof e->origin, "%s", origin);
		e->what = what;
		e->ino = ino;
		e->namelen = namelen < sizeof e->name ? namelen : sizeof e->name;
		if (name)
			memcpy(e->name, name, e->namelen);
	}
	pthread_cond_broadcast(&evq.cond);
	pthread_mutex_unlock(&evq.lock);
}

/* Wait (up to MS) for an event matching WHAT/INO (and NAME when given); its index or -1. */
static int wait_event(enum store_inval what, uint64_t ino, const char *name, size_t namelen, int ms)
{
	int64_t until = ms_now() + ms;
	int found = -1;

	pthread_mutex_lock(&evq.lock);
	for (;;) {
		for (int i = 0; i < evq.n && found < 0; i++)
			if (evq.ev[i].what == what && evq.ev[i].ino == ino &&
			    (!name || (evq.ev[i].namelen == namelen &&
				       memcmp(evq.ev[i].name, name, namelen) == 0)))
				found = i;
		if (found >= 0 || ms_now() >= until)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&evq.cond, &evq.lock, &ts);
	}
	pthread_mutex_unlock(&evq.lock);
	return found;
}

static void clear_events(void)
{
	pthread_mutex_lock(&evq.lock);
	evq.n = 0;
	pthread_mutex_unlock(&evq.lock);
}

static long long subscribers(const char *site)
{
	char chan[96];
	redisReply *r;
	long long n = -1;

	snprintf(chan, sizeof chan, "pressfs:{%s}:inval", site);
	r = fx_cmd("PUBSUB NUMSUB %s", chan);
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    r->element[1]->type == REDIS_REPLY_INTEGER)
		n = r->element[1]->integer;
	if (r)
		freeReplyObject(r);
	return n;
}

static int wait_subscribed(const char *site, long long n)
{
	for (int i = 0; i < 500; i++) {
		if (subscribers(site) == n)
			return 1;
		usleep(10000);
	}
	return 0;
}

struct listener {
	struct store *s;
	pthread_t th;
	int rc;
};

static void *listen_thread(void *p)
{
	struct listener *l = p;

	l->rc = store_listen(l->s, on_inval, NULL);
	return NULL;
}

static void test_inval(struct store *s)
{
	struct listener l = {.rc = 99};
	struct store_attr a = {0}, b = {0};
	const char name[] = "inv\n a m e";
	size_t nl = sizeof name - 1;
	int64_t t0;
	int i;

	l.s = open_site("test", "nodeL", 2000);
	ok(l.s != NULL, "listener's store");
	pthread_create(&l.th, NULL, listen_thread, &l);
	ok(wait_subscribed("test", 1), "listener subscribed");

	is_int(store_create(s, 1, name, nl, S_IFREG | 0644, 0, 0, 's', NULL, &a), 0,
	       "create a file with a newline and spaces in its name");
	i = wait_event(STORE_INVAL_ENTRY, 1, name, nl, 2000);
	ok(i >= 0, "entry event for (root, name) arrived, name binary-safe");
	if (i >= 0)
		is_str(evq.ev[i].origin, "nodeA", "origin is the changing node");
	is_int(store_commit(s, a.ino, 0, 0, NULL, 5, &b), 0, "commit");
	store_attr_release(&b);
	i = wait_event(STORE_INVAL_INODE, a.ino, NULL, 0, 2000);
	ok(i >= 0, "inode event for the committed file");
	if (i >= 0)
		ok(evq.ev[i].namelen == 0, "inode events carry no name");
	is_int(store_rename(s, 1, name, nl, 1, "renamed", 7, 0), 0, "rename");
	ok(wait_event(STORE_INVAL_ENTRY, 1, "renamed", 7, 2000) >= 0, "entry event for the target");
	is_int(store_setattr(s, a.ino, STORE_SET_MODE, &a, &b), 0, "setattr");
	store_attr_release(&b);
	ok(wait_event(STORE_INVAL_INODE, a.ino, NULL, 0, 2000) >= 0, "inode event for setattr");

	clear_events();
	fx_int("PUBLISH pressfs:{test}:inval %s", "X garbage");
	ok(wait_event(STORE_INVAL_ALL, 0, NULL, 0, 2000) >= 0,
	   "a message it cannot parse means 'forget everything'");

	/* a number skipped, or a last message that never came: "forget everything" too */
	clear_events();
	fx_int("EVAL %s 0", "redis.call('INCR', 'pressfs:{test}:seq') "
			    "local n = redis.call('INCR', 'pressfs:{test}:seq') "
			    "return redis.call('PUBLISH', 'pressfs:{test}:inval', "
			    "'I:' .. n .. ' 5 other' .. string.char(0))");
	ok(wait_event(STORE_INVAL_ALL, 0, NULL, 0, 2000) >= 0,
	   "a message whose sequence number skips means 'forget everything'");
	is_int(store_setattr(s, a.ino, STORE_SET_MODE, &a, &b), 0, "setattr after the gap");
	store_attr_release(&b);
	ok(wait_event(STORE_INVAL_INODE, a.ino, NULL, 0, 2000) >= 0,
	   "the next change is delivered again after a gap");
	clear_events();
	fx_int("INCR pressfs:{test}:seq");
	ok(wait_event(STORE_INVAL_ALL, 0, NULL, 0, 4000) >= 0,
	   "the periodic check finds a message that never came");

	/* the subscription is cut: the listener reconnects and says "forget everything" */
	clear_events();
	fx_int("CLIENT KILL TYPE pubsub");
	ok(wait_event(STORE_INVAL_ALL, 0, NULL, 0, 3000) >= 0, "STORE_INVAL_ALL after a reconnect");
	ok(wait_subscribed("test", 1), "listener subscribed again");
	is_int(store_unlink(s, 1, "renamed", 7, false), 0, "unlink");
	ok(wait_event(STORE_INVAL_ENTRY, 1, "renamed", 7, 2000) >= 0,
	   "events flow again after the reconnect");

	t0 = ms_now();
	store_listen_stop(l.s);
	pthread_join(l.th, NULL);
	ok(ms_now() - t0 < 1000, "store_listen_stop returns promptly (%lld ms)",
	   (long long)(ms_now() - t0));
	is_int(l.rc, 0, "store_listen returned 0");
	store_listen_stop(l.s);
	t0 = ms_now();
	is_int(store_listen(l.s, on_inval, NULL), 0, "a stop that came first is honoured");
	ok(ms_now() - t0 < 1000, "store_listen returned at once");
	store_close(l.s);
	store_attr_release(&a);
}

/* ---- isolation with ACLs ---- */

static void test_acl(void)
{
	struct store_attr a = {0};
	struct store *s;
	char url[128];
	redisReply *r;
	size_t mark;

	/* the rule documented in docs/FORMAT.md */
	r = fx_cmd(
	    "ACL SETUSER site-acl on >s3cret:pw resetkeys ~pressfs:{acl}:* resetchannels "
	    "&pressfs:{acl}:* -@all +ping +select +info +script|load +eval +evalsha +get +set "
	    "+incr +incrby +exists +del +getrange +strlen +append +persist +pexpire +pttl "
	    "+hget +hset +hdel +hgetall +hincrby +publish +subscribe");
	ok(r && r->type == REDIS_REPLY_STATUS, "ACL SETUSER (%s)",
	   r && r->type == REDIS_REPLY_ERROR ? r->str : "ok");
	if (r)
		freeReplyObject(r);
	snprintf(url, sizeof url, "redis://site-acl:s3cret%%3Apw@127.0.0.1:%d", fx.port);
	{
		struct store_config cfg = {
		    .url = url, .site = "acl", .peer = "acl-node", .log = test_log};

		is_int(store_open(&cfg, &s), 0, "the site's user opens its own site");
		if (s) {
			is_int(store_create(s, 1, "f", 1, S_IFREG | 0644, 0, 0, 's', NULL, &a), 0,
			       "and writes to it");
			store_attr_release(&a);
			is_int(store_lookup(s, 1, "f", 1, &a), STORE_FILE, "and reads it");
			store_attr_release(&a);
			{
				uint32_t sub = 99;

				is_int(store_count_subdirs(s, 1, &sub), 0,
				       "and counts a directory's subdirectories (HVALS)");
				is_int(sub, 0, "... none");
			}
			store_close(s);
		}
		cfg.site = "main";
		mark = log_mark();
		is_int(store_open(&cfg, &s), -EIO, "but cannot open another site");
		ok(logged_since(mark, "NOPERM"), "the refusal is logged");
	}
	snprintf(url, sizeof url, "redis://site-acl:wrong@127.0.0.1:%d", fx.port);
	mark = log_mark();
	is_int(open_rc(url, "acl"), -EIO, "a wrong password gives -EIO");
	ok(logged_since(mark, "AUTH refused"), "and says AUTH failed");
}

static void hset_bin(const char *key, const char *f, size_t flen, const char *v, size_t vlen)
{
	const char *argv[4] = {"HSET", key, f, v};
	size_t lens[4] = {4, strlen(key), flen, vlen};

	ok(fx_argv(4, argv, lens) == 0, "planted a field of %zu bytes", flen);
}

static int count_since(size_t mark, const char *needle)
{
	int n = 0;

	pthread_mutex_lock(&log_lock);
	for (const char *p = log_all + mark; (p = strstr(p, needle)); p++)
		n++;
	pthread_mutex_unlock(&log_lock);
	return n;
}

/* Names and records pressfs never writes, planted in Redis by someone else: invisible
 * (absent), never served as they are, counted, logged once. */
static void test_validate(struct store *s)
{
	struct store_attr a = {0};
	struct store_dirent *d = NULL;
	uint64_t dir, f, g, h, l, before = store_bad_records(s);
	unsigned long long ud;
	char longname[301], *list, dir_key[64], fval[32];
	size_t n = 0, mark = log_mark();
	redisReply *r;

	dir = mk(s, 1, "planted", S_IFDIR | 0755);
	f = mk(s, dir, "good", S_IFREG | 0644);
	ud = (unsigned long long)dir;
	ok(dir && f, "fixtures");
	snprintf(dir_key, sizeof dir_key, "pressfs:{test}:d:%llu", ud);
	snprintf(fval, sizeof fval, "f%llu", (unsigned long long)f);
	fx_int("HSET pressfs:{test}:d:%llu a/b f%llu", ud, (unsigned long long)f);
	fx_int("HSET pressfs:{test}:d:%llu .. d1", ud);
	hset_bin(dir_key, "", 0, fval, strlen(fval));
	hset_bin(dir_key, "n\0ul", 4, fval, strlen(fval));
	memset(longname, 'x', 300);
	longname[300] = '\0';
	fx_int("HSET pressfs:{test}:d:%llu %s f%llu", ud, longname, (unsigned long long)f);
	fx_int("HSET pressfs:{test}:d:%llu zero f0", ud);
	is_int(store_readdir(s, dir, &d, &n), 0, "readdir of a directory with planted names");
	is_int(n, 1, "only the good name is listed");
	if (n == 1)
		is_str(d[0].name, "good", "and it is the good one");
	store_dirents_free(d, n);
	ok(store_bad_records(s) >= before + 6, "the six bad names are counted (%llu)",
	   (unsigned long long)(store_bad_records(s) - before));

	/* a chunk list longer than the size can need: refused before it is allocated */
	g = mk(s, dir, "longlist", S_IFREG | 0644);
	list = malloc(2 * 200000 + 1);
	for (size_t i = 0; i < 200000; i++)
		memcpy(list + 2 * i, "1 ", 2);
	list[2 * 200000] = '\0';
	r = fx_cmd("HSET pressfs:{test}:i:%llu size 10 chunks %s", (unsigned long long)g, list);
	freeReplyObject(r);
	free(list);
	is_int(store_getattr(s, g, &a), -ENOENT, "200000 chunks for 10 bytes: absent");
	is_int(store_lookup(s, dir, "longlist", 8, &a), -ENOENT, "lookup of it: absent");
	fx_int("HSET pressfs:{test}:i:%llu size 10 chunks %s", (unsigned long long)g, "7 8");
	is_int(store_getattr(s, g, &a), 0, "one chunk more than the size needs is still taken");
	store_attr_release(&a);
	fx_int("HSET pressfs:{test}:i:%llu size 10 chunks %s", (unsigned long long)g, "7 8 9");
	is_int(store_getattr(s, g, &a), -ENOENT, "two more are not");
	fx_int("HSET pressfs:{test}:i:%llu size 9007199254740993 chunks %s", (unsigned long long)g,
	       "");
	is_int(store_getattr(s, g, &a), -ENOENT, "a size past 2^53: absent");

	/* devices, and the setuid/setgid bits, are never served */
	h = mk(s, dir, "dev", S_IFREG | 0644);
	fx_int("HSET pressfs:{test}:i:%llu mode 20666", (unsigned long long)h);
	is_int(store_getattr(s, h, &a), -ENOENT, "a character device: absent");
	is_int(store_lookup(s, dir, "dev", 3, &a), -ENOENT, "lookup of it: absent");
	fx_int("HSET pressfs:{test}:i:%llu mode 60666", (unsigned long long)h);
	is_int(store_getattr(s, h, &a), -ENOENT, "a block device: absent");
	fx_int("HSET pressfs:{test}:i:%llu mode 40755", (unsigned long long)h);
	is_int(store_getattr(s, h, &a), -ENOENT, "a file whose mode says directory: absent");
	fx_int("HSET pressfs:{test}:i:%llu mode 106755", (unsigned long long)h);
	is_int(store_getattr(s, h, &a), 0, "a setuid+setgid file is served");
	is_int(a.mode, S_IFREG | 0755, "without its setuid and setgid bits");
	store_attr_release(&a);
	is_int(store_lookup(s, dir, "dev", 3, &a), STORE_FILE, "lookup of it too");
	is_int(a.mode, S_IFREG | 0755, "without them");
	store_attr_release(&a);

	/* symlinks: the target is the size, has no NUL */
	l = mk(s, dir, "ln", S_IFLNK | 0777);
	fx_int("HSET pressfs:{test}:i:%llu size 99", (unsigned long long)l);
	is_int(store_getattr(s, l, &a), -ENOENT, "a symlink whose size is not its target's");
	snprintf(dir_key, sizeof dir_key, "pressfs:{test}:i:%llu", (unsigned long long)l);
	hset_bin(dir_key, "size", 4, "3", 1);
	hset_bin(dir_key, "target", 6, "a\0b", 3);
	is_int(store_getattr(s, l, &a), -ENOENT, "a target holding a NUL");

	is_int(count_since(mark, "fails validation"), 1, "logged once, however many");
	is_int(store_getattr(s, f, &a), 0, "good records are still served");
	store_attr_release(&a);
}

static long long used_memory(void)
{
	redisReply *r = fx_cmd("INFO memory");
	long long v = -1;
	const char *p = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, "used_memory:") : NULL;

	if (p)
		v = atoll(p + 12);
	if (r)
		freeReplyObject(r);
	return v;
}

static uint64_t put1(struct store *s, const char *data, size_t len)
{
	const void *d[1] = {data};
	size_t l[1] = {len};
	uint64_t id = 0;

	ok(store_put_chunks(s, 1, d, l, &id) == 0, "put a chunk");
	return id;
}

#define chunk_exists(id) fx_int("EXISTS pressfs:{test}:c:%llu", (unsigned long long)(id))

/* A refused commit or publish releases the chunks it was given at once; a full Redis
 * (noeviction) gets its memory back instead of refusing every write for pending_ttl. */
static void test_release(struct store *s)
{
	struct store_attr a = {0};
	uint64_t dir, f, c1, c2, own, list[2];
	static char big[MiB];
	const void *data[8];
	size_t lens[8];
	uint64_t ids[8] = {0};
	long long used;
	int left = 0;

	dir = mk(s, 1, "rel", S_IFDIR | 0755);
	own = put1(s, "own", 3);
	ok(store_publish_new(s, dir, "f", 1, S_IFREG | 0644, 0, 0, 's', 3, 1, &own, false, &a) == 0,
	   "a file with one chunk");
	f = a.ino;
	store_attr_release(&a);

	/* a commit refused for a missing chunk: the other, pending one goes at once */
	c1 = put1(s, "new", 3);
	c2 = put1(s, "gone", 4);
	fx_int("DEL pressfs:{test}:c:%llu", (unsigned long long)c2);
	list[0] = c1;
	list[1] = c2;
	is_int(store_commit(s, f, 2 * MiB, 2, list, 1, &a), -EIO, "commit with a missing chunk");
	is_int(chunk_exists(c1), 0, "its pending chunk is released at once");
	list[0] = own;
	list[1] = c2;
	is_int(store_commit(s, f, 2 * MiB, 2, list, 1, &a), -EIO, "again, keeping the file's own");
	is_int(chunk_exists(own), 1, "the file's own chunk is never released");
	is_int(fx_int("PTTL pressfs:{test}:c:%llu", (unsigned long long)own), -1, "nor expires");

	/* a publish into a directory that is gone */
	c1 = put1(s, "orphan", 6);
	is_int(
	    store_publish_new(s, 987654, "x", 1, S_IFREG | 0644, 0, 0, 's', 6, 1, &c1, false, &a),
	    -ENOENT, "publish into a removed directory");
	is_int(chunk_exists(c1), 0, "its chunk is released at once");

	/* a commit of a file removed elsewhere: its own chunk lives out its grace */
	c1 = put1(s, "late", 4);
	is_int(store_unlink(s, dir, "f", 1, false), 0, "the file is removed elsewhere");
	list[0] = own;
	list[1] = c1;
	is_int(store_commit(s, f, 2 * MiB, 2, list, 1, &a), -ENOENT, "commit of it");
	is_int(chunk_exists(c1), 0, "the new chunk is released");
	is_int(chunk_exists(own), 1, "the removed file's own chunk stays for its grace");

	/* Redis full (maxmemory, noeviction): an upload that does not fit leaves nothing */
	used = used_memory();
	ok(used > 0, "used_memory %lld", used);
	fx_int("CONFIG SET maxmemory-policy noeviction");
	fx_int("CONFIG SET maxmemory %lld", used + 3 * MiB);
	for (int i = 0; i < 8; i++) {
		data[i] = big;
		lens[i] = MiB;
	}
	is_int(store_put_chunks(s, 8, data, lens, ids), -EIO, "8 MiB into 3 MiB of room: -EIO");
	for (int i = 0; i < 8; i++)
		left += ids[i] && chunk_exists(ids[i]) == 1;
	is_int(left, 0, "none of the chunks that fitted is left behind");
	fx_int("CONFIG SET maxmemory 0");
	c1 = put1(s, big, MiB);
	fx_int("CONFIG SET maxmemory %lld", used_memory() - MiB / 2);
	is_int(
	    store_publish_new(s, 1, "full", 4, S_IFREG | 0644, 0, 0, 's', MiB, 1, &c1, false, &a),
	    -EIO, "a publish Redis is too full to run");
	is_int(chunk_exists(c1), 0, "its chunk is released");
	fx_int("CONFIG SET maxmemory 0");
	c1 = put1(s, "after", 5);
	is_int(store_publish_new(s, 1, "after", 5, S_IFREG | 0644, 0, 0, 's', 5, 1, &c1, false, &a),
	       0, "and the next write works");
	store_attr_release(&a);
}

/* An O_APPEND commit goes in pieces of at most 1 MiB per script call: with Redis taking no
 * argument past 1 MiB + 64 KiB, a 3 MiB append still lands, whole and in order. */
static void test_append_pieces(struct store *s)
{
	size_t len = 3 * MiB + 5;
	char *want = malloc(len), *got = malloc(len + 7);
	struct store_attr a = {0}, b = {0};

	fill(want, len, 9);
	is_int(store_create(s, 1, "pieces", 6, S_IFREG | 0644, 0, 0, 's', NULL, &a), 0, "a log");
	is_int(store_append(s, a.ino, "start:", 6, 1, &b), 0, "a first line");
	store_attr_release(&b);
	fx_int("CONFIG SET proto-max-bulk-len %d", MiB + 64 * 1024);
	is_int(store_append(s, a.ino, want, len, 2, &b), 0,
	       "a 3 MiB append under a 1 MiB + 64 KiB argument limit");
	fx_int("CONFIG SET proto-max-bulk-len %d", 512 * MiB);
	is_int(b.size, len + 6, "the whole of it is in the file");
	if (b.size == len + 6) {
		is_int(read_file(s, &b, 0, len + 6, got), 0, "read it back");
		ok(!memcmp(got, "start:", 6) && !memcmp(got + 6, want, len), "in order, intact");
	}
	store_attr_release(&a);
	store_attr_release(&b);
	free(want);
	free(got);
}

/* A Redis that may evict keys is refused at open, unless allowed. */
static void test_eviction(void)
{
	struct store_config cfg = {.url = fx.url, .site = "evict", .peer = "p", .log = test_log};
	struct store *s = NULL;
	size_t mark = log_mark();

	fx_int("CONFIG SET maxmemory-policy allkeys-lru");
	is_int(store_open(&cfg, &s), -EPERM, "allkeys-lru: refused");
	ok(logged_since(mark, "maxmemory-policy allkeys-lru: it may evict keys"),
	   "saying why, and what to do");
	is_int(fx_int("EXISTS pressfs:{evict}:format"), 0, "the site is not created");
	fx_int("CONFIG SET maxmemory-policy volatile-ttl");
	is_int(store_open(&cfg, &s), -EPERM, "volatile-ttl: refused (pending chunks have TTLs)");
	cfg.allow_evicting = true;
	mark = log_mark();
	is_int(store_open(&cfg, &s), 0, "allow_evicting: opened");
	ok(logged_since(mark, "allowed by allow_evicting"), "with a warning");
	store_close(s);
	fx_int("CONFIG SET maxmemory-policy noeviction");
	cfg.allow_evicting = false;
	is_int(store_open(&cfg, &s), 0, "noeviction: opened");
	store_close(s);
}

/* The format key vanishes under a running mount (evicted, or deleted with keys left): said
 * as lost data, once, not as a version mismatch; the site's other keys are not trusted. */
static void test_format_lost(void)
{
	struct store *s = open_site("lost", "p", 2000);
	struct store_attr a = {0};
	size_t mark;

	ok(s != NULL, "open a site");
	if (!s)
		return;
	is_int(store_create(s, 1, "f", 1, S_IFREG | 0644, 0, 0, 's', NULL, &a), 0, "a file");
	store_attr_release(&a);
	fx_int("DEL pressfs:{lost}:format");
	mark = log_mark();
	fx_int("CLIENT KILL TYPE normal"); /* the store reconnects, and finds no format */
	usleep(100000);
	for (int i = 0; i < 3; i++) {
		is_int(store_lookup(s, 1, "f", 1, &a), -EIO, "lookup %d: -EIO", i);
		usleep(300000); /* past retry_ms: each one tries again */
	}
	is_int(count_since(mark, "the store lost data (format key missing): was Redis flushed or "
				 "evicting?"),
	       1, "logged once as lost data");
	ok(!logged_since(mark, "format other"), "not as a version mismatch");
	is_int(fx_int("EXISTS pressfs:{lost}:format"), 0, "nothing re-created over the keys left");
	store_close(s);
}

/* AUTH from the config's user and password, the URL's still working; no password in any
 * log line. */
static void test_auth_config(void)
{
	struct store_config cfg = {.site = "acl", .peer = "p", .log = test_log};
	char url[128], bad[160];
	struct store *s = NULL;
	size_t mark;

	snprintf(url, sizeof url, "redis://127.0.0.1:%d", fx.port);
	cfg.url = url;
	cfg.user = "site-acl";
	cfg.password = "s3cret:pw";
	is_int(store_open(&cfg, &s), 0, "user and password from the config");
	store_close(s);
	s = NULL;
	snprintf(url, sizeof url, "redis://site-acl:wrong-in-url@127.0.0.1:%d", fx.port);
	is_int(store_open(&cfg, &s), 0, "the config's password wins over the URL's");
	store_close(s);
	s = NULL;
	cfg.password = "wrong-s3cret-cfg";
	mark = log_mark();
	is_int(store_open(&cfg, &s), -EIO, "a wrong config password gives -EIO");
	ok(logged_since(mark, "AUTH refused"), "and says AUTH failed");
	cfg.password = NULL;
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", fx.port);
	is_int(store_open(&cfg, &s), -EINVAL, "a user without a password is refused");

	/* messages about a bad URL never quote its credentials */
	cfg.user = NULL;
	snprintf(bad, sizeof bad, "redis://u:s3cret-noport@127.0.0.1");
	cfg.url = bad;
	is_int(store_open(&cfg, &s), -EINVAL, "a URL without a port is refused");
	snprintf(bad, sizeof bad, "redis://u:s3cret/slash@127.0.0.1:x");
	is_int(store_open(&cfg, &s), -EINVAL, "a password with a raw '/' in a bad URL");
	snprintf(bad, sizeof bad, "redis://u:s3cret-db@127.0.0.1:1/x");
	is_int(store_open(&cfg, &s), -EINVAL, "a bad database number");
	snprintf(bad, sizeof bad, "redis://u:s3cret-host@bad_host:1");
	is_int(store_open(&cfg, &s), -EINVAL, "a bad host name");
}

/* ---- Redis going away and coming back ---- */

static void test_outage(void)
{
	struct store_attr a = {0}, b = {0};
	struct listener l = {.rc = 99};
	const unsigned timeout = 300;
	struct store *s;
	int64_t t0, dt;
	int rc, fails;
	size_t mark;
	uint64_t ino;

	s = open_site("outage", "nodeO", timeout);
	ok(s != NULL, "store with a 300 ms timeout");
	if (!s)
		return;
	l.s = open_site("outage", "nodeOL", timeout);
	pthread_create(&l.th, NULL, listen_thread, &l);
	ok(wait_subscribed("outage", 1), "listener subscribed");
	is_int(store_create(s, 1, "kept", 4, S_IFREG | 0644, 0, 0, 's', NULL, &a), 0, "create");
	ino = a.ino;
	store_attr_release(&a);
	is_int(store_append(s, ino, "durable", 7, 1, &a), 0, "append");
	store_attr_release(&a);
	is_int(fx_int("EXISTS pressfs:{outage}:format"), 1, "site exists");
	{
		redisReply *r = fx_cmd("SAVE");
		ok(r && r->type == REDIS_REPLY_STATUS, "SAVE a snapshot for the restart");
		if (r)
			freeReplyObject(r);
	}

	/* a hung server: the call times out, it does not hang */
	fx_pause(1);
	t0 = ms_now();
	rc = store_getattr(s, ino, &a);
	dt = ms_now() - t0;
	is_int(rc, -EIO, "hung Redis: -EIO");
	ok(dt >= timeout - 50 && dt < timeout + 700, "after the timeout (%lld ms)", (long long)dt);
	ok(strlen(store_strerror(s)) > 0, "store_strerror says why (%s)", store_strerror(s));
	t0 = ms_now();
	rc = store_lookup(s, 1, "kept", 4, &a);
	dt = ms_now() - t0;
	is_int(rc, -EIO, "within retry_ms: -EIO");
	ok(dt < 100, "at once (%lld ms)", (long long)dt);
	usleep(250000);
	t0 = ms_now();
	rc = store_getattr(s, ino, &a);
	dt = ms_now() - t0;
	is_int(rc, -EIO, "reconnect to a hung Redis: -EIO");
	ok(dt < 2 * timeout + 700, "bounded by the timeouts (%lld ms)", (long long)dt);
	fx_pause(0);
	usleep(250000);
	is_int(store_getattr(s, ino, &a), 0, "Redis answers again: the call succeeds");
	store_attr_release(&a);

	/* killed: fail fast, log once */
	fx_stop(SIGKILL);
	mark = log_mark();
	fails = 0;
	t0 = ms_now();
	for (int i = 0; i < 20; i++)
		fails += store_getattr(s, ino, &a) == -EIO;
	dt = ms_now() - t0;
	is_int(fails, 20, "killed Redis: every call -EIO");
	ok(dt < 200, "20 calls fail fast (%lld ms)", (long long)dt);
	usleep(250000);
	t0 = ms_now();
	rc = store_create(s, 1, "x", 1, S_IFREG | 0644, 0, 0, 's', NULL, &a);
	dt = ms_now() - t0;
	is_int(rc, -EIO, "a retry after retry_ms: -EIO");
	ok(dt < 150, "refused at once (%lld ms)", (long long)dt);
	pthread_mutex_lock(&log_lock);
	{
		int n = 0;

		for (char *p = log_all + mark; (p = strstr(p, "shared files give EIO")); p++)
			n++;
		is_int(n, 1, "the outage is logged once");
	}
	pthread_mutex_unlock(&log_lock);
	mark = log_mark();

	/* restarted on the same port, with the snapshot: the same handle works again */
	clear_events();
	is_int(fx_start(), 0, "restart redis-server on the same port");
	usleep(250000);
	is_int(store_lookup(s, 1, "kept", 4, &a), STORE_FILE, "lookup works without reopening");
	is_int(a.ino, ino, "same file");
	is_int(read_file(s, &a, 0, 7, (char[8]){0}), 0, "content readable");
	store_attr_release(&a);
	ok(logged_since(mark, "reachable again"), "recovery logged");
	ok(wait_event(STORE_INVAL_ALL, 0, NULL, 0, 3000) >= 0,
	   "the listener reconnected and sent STORE_INVAL_ALL");

	/* the restarted server has no scripts: EVALSHA falls back to EVAL */
	fx_int("SCRIPT FLUSH");
	is_int(store_lookup(s, 1, "kept", 4, &a), STORE_FILE, "scripts reload after SCRIPT FLUSH");
	store_attr_release(&a);
	is_int(store_append(s, ino, "!", 1, 2, &a), 0, "mutations too");
	is_int(a.size, 8, "append after restart");
	store_attr_release(&a);

	/* restarted empty (no snapshot): the site is re-created, loudly */
	fx_stop(SIGKILL);
	unlink(fx.rdb);
	mark = log_mark();
	is_int(fx_start(), 0, "restart redis-server empty");
	usleep(250000);
	is_int(store_getattr(s, STORE_ROOT_INO, &b), 0, "root re-created after data loss");
	store_attr_release(&b);
	ok(logged_since(mark, "the store lost data (format key missing): was Redis flushed or "
			      "evicting?"),
	   "data loss logged as such");
	ok(!logged_since(mark, "format other"), "not as a version mismatch");
	is_int(store_lookup(s, 1, "kept", 4, &a), -ENOENT, "the lost file is gone");

	store_listen_stop(l.s);
	pthread_join(l.th, NULL);
	store_close(l.s);
	store_close(s);
}

/* ---- a damaged site: wrong types and garbage give -EIO, never a crash ---- */

static void test_damage(struct store *s)
{
	struct store_attr a = {0};
	struct store_dirent *d;
	uint64_t dir, f;
	size_t n;

	dir = mk(s, 1, "damaged", S_IFDIR | 0755);
	f = mk(s, dir, "f", S_IFREG | 0644);
	ok(dir && f, "fixtures");
	fx_int("HSET pressfs:{test}:i:%llu mode xyz", (unsigned long long)f);
	is_int(store_getattr(s, f, &a), -EIO, "garbage mode: -EIO");
	is_int(store_lookup(s, dir, "f", 1, &a), -EIO, "lookup of it: -EIO");
	fx_int("HSET pressfs:{test}:i:%llu mode 100644", (unsigned long long)f);
	fx_int("HSET pressfs:{test}:i:%llu chunks 12x", (unsigned long long)f);
	is_int(store_getattr(s, f, &a), -EIO, "garbage chunk list: -EIO");
	fx_int("DEL pressfs:{test}:i:%llu", (unsigned long long)f);
	fx_int("SET pressfs:{test}:i:%llu string", (unsigned long long)f);
	is_int(store_getattr(s, f, &a), -EIO, "inode of the wrong type: -EIO");
	is_int(store_lookup(s, dir, "f", 1, &a), -EIO, "lookup of it: -EIO");
	is_int(store_append(s, f, "x", 1, 1, &a), -EIO, "append to it: -EIO");
	is_int(store_unlink(s, dir, "f", 1, false), -EIO, "unlink of it: -EIO");
	fx_int("HSET pressfs:{test}:d:%llu g q12", (unsigned long long)dir);
	is_int(store_readdir(s, dir, &d, &n), -EIO, "garbage entry: readdir -EIO");
	is_int(store_lookup(s, dir, "g", 1, &a), -EIO, "lookup of a dangling entry: -EIO");
	fx_int("DEL pressfs:{test}:d:%llu", (unsigned long long)dir);
	fx_int("SADD pressfs:{test}:d:%llu x", (unsigned long long)dir);
	is_int(store_readdir(s, dir, &d, &n), -EIO, "directory of the wrong type: -EIO");
	is_int(store_create(s, dir, "n", 1, S_IFREG | 0644, 0, 0, 's', NULL, &a), -EIO,
	       "create in it: -EIO");
	fx_int("SADD pressfs:{test}:c:4242 x");
	is_int(store_read_chunk(s, 4242, 0, 10, (char[10]){0}), -EIO, "chunk of the wrong type");
	is_int(store_getattr(s, STORE_ROOT_INO, &a), 0, "the connection is still fine");
	store_attr_release(&a);
}

/* The cache class's metadata: content ids from store_alloc_ids, never looked for in Redis, and
 * store_drop_cache removing an evicted file only while the name still holds that version. */
static void test_cache_meta(struct store *s)
{
	struct store_attr a = {0}, b = {0};
	uint64_t ids[3], more[1];

	is_int(store_alloc_ids(s, 3, ids), 0, "three fresh ids");
	ok(ids[1] == ids[0] + 1 && ids[2] == ids[1] + 1, "consecutive");
	is_int(store_alloc_ids(s, 1, more), 0, "one more");
	ok(more[0] > ids[2], "never handed out twice");
	is_int(fx_int("EXISTS pressfs:{test}:c:%llu", (unsigned long long)ids[0]), 0,
	       "nothing stored under them in Redis");
	is_int(store_publish_new(s, 1, "page.html", 9, S_IFREG | 0644, 0, 0, 'c', 3 * MiB, 3, ids,
				 false, &a),
	       0, "publish a cache file whose chunks are elsewhere");
	is_int(a.cls, 'c', "it says where its content lives");
	is_int(a.nchunks, 3, "with its chunk list");
	is_int(store_publish_new(s, 1, "bad.html", 8, S_IFREG | 0644, 0, 0, 's', 10, 1, more, false,
				 &b),
	       -EIO, "the same for a shared file: its chunk is missing");
	store_attr_release(&b);
	is_int(store_commit(s, a.ino, 10, 1, more, 5, &b), 0, "commit new content to a cache file");
	is_int(store_drop_cache(s, 1, "page.html", 9, a.ino, a.version, false), 0,
	       "drop of an older version: the name keeps the newer one");
	is_int(store_lookup(s, 1, "page.html", 9, &a), STORE_FILE, "still there");
	store_attr_release(&a);
	is_int(store_drop_cache(s, 1, "page.html", 9, b.ino + 1000, b.version, false), 0,
	       "drop of another inode: nothing");
	is_int(store_drop_cache(s, 1, "page.html", 9, b.ino, b.version, false), 1,
	       "drop of the current version");
	is_int(store_lookup(s, 1, "page.html", 9, &a), -ENOENT, "gone");
	is_int(store_getattr(s, b.ino, &a), 0, "its inode lingers for readers (grace)");
	ok(a.unlinked, "marked unlinked");
	store_attr_release(&a);
	store_attr_release(&b);
	is_int(store_alloc_ids(s, 1, ids), 0, "an id");
	is_int(
	    store_publish_new(s, 1, "w.html", 6, S_IFREG | 0644, 0, 0, 'c', 5, 1, ids, false, &a),
	    0, "another cache file");
	is_int(store_drop_cache(s, 1, "w.html", 6, a.ino, a.version, true), 1,
	       "dropped, leaving a whiteout (a lower file of that name stays hidden)");
	is_int(store_lookup(s, 1, "w.html", 6, &b), STORE_WHITEOUT, "a whiteout");
	store_attr_release(&a);
	is_int(
	    store_publish_new(s, 1, "s.html", 6, S_IFREG | 0644, 0, 0, 's', 0, 0, NULL, false, &a),
	    0, "a shared file");
	is_int(store_drop_cache(s, 1, "s.html", 6, a.ino, a.version, false), 0,
	       "is never dropped as a cache file");
	store_attr_release(&a);
}

int main(void)
{
	struct store *s;
	int rc;

	rc = fx_start();
	if (rc) {
		printf("Bail out! cannot start redis-server: %d\n", rc);
		return 1;
	}
	test_open();
	test_long_keys();
	s = open_site("test", "nodeA", 2000);
	if (!s) {
		printf("Bail out! store_open\n");
		return 1;
	}
	test_entries(s);
	test_readdir(s);
	test_numbers(s);
	test_rename(s);
	test_content(s);
	test_append(s);
	test_append_concurrency(s);
	test_cache_meta(s);
	test_inval(s);
	test_damage(s);
	test_validate(s);
	test_release(s);
	test_append_pieces(s);
	store_close(s);
	test_acl();
	test_auth_config();
	test_eviction();
	test_format_lost();
	test_outage();
	is_int(secret_logged, 0, "no log line held a password (every one used holds s3cret)");
	return tap_done();
}
