/* fsck_redis.c - fsck's and info's own view of a site's keys, over the store's connection
 * (see fsck_redis.h). */
#include <errno.h>
#include <hiredis.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin/fsck_redis.h"
#include "store/keys.h"
#include "store/store.h"

struct raw {
	redisContext *c;
	char prefix[KEY_MAX];
	size_t plen;
};

static redisReply *cmd(struct raw *r, const char *fmt, ...)
{
	va_list ap;
	redisReply *rep;

	va_start(ap, fmt);
	rep = redisvCommand(r->c, fmt, ap);
	va_end(ap);
	return rep;
}

int raw_open(struct store *s, const char *site, struct raw **out)
{
	struct raw *r = calloc(1, sizeof(*r));
	int rc = -EIO;

	if (!r)
		return -ENOMEM;
	if (key_prefix(r->prefix, site) < 0) {
		free(r);
		return -EINVAL;
	}
	r->plen = strlen(r->prefix);
	r->c = store_raw_context(s, &rc);
	if (!r->c) {
		free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void raw_close(struct raw *r)
{
	free(r); /* the connection is the store's */
}

int raw_scan(struct raw *r, raw_key_fn fn, void *arg)
{
	char cursor[32] = "0", pattern[KEY_MAX + 1];

	snprintf(pattern, sizeof(pattern), "%s*", r->prefix);
	do {
		redisReply *rep = cmd(r, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
		int rc = 0;

		if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
			freeReplyObject(rep);
			return -EIO;
		}
		snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
		for (size_t i = 0; !rc && i < rep->element[1]->elements; i++) {
			const char *k = rep->element[1]->element[i]->str + r->plen;
			size_t kl = rep->element[1]->element[i]->len - r->plen;
			char *endp;
			uint64_t id;

			if (kl > 2 && k[1] == ':' && strchr("icd", k[0])) {
				id = strtoull(k + 2, &endp, 10);
				rc = fn(arg, endp == k + kl ? k[0] : 0, id);
			} else {
				rc = fn(arg, 0, 0);
			}
		}
		freeReplyObject(rep);
		if (rc)
			return rc;
	} while (strcmp(cursor, "0"));
	return 0;
}

/* The key of KIND ('i' inode, 'd' directory, 'c' chunk) and ID, from store/keys.h's
 * builders; SIZE is KEY_MAX. */
static const char *key(const struct raw *r, char *buf, size_t size, char kind, uint64_t id)
{
	(void)size;
	if (kind == 'i')
		key_inode(buf, r->prefix, id);
	else if (kind == 'd')
		key_dir(buf, r->prefix, id);
	else
		key_chunk(buf, r->prefix, id);
	return buf;
}

long long raw_pttl(struct raw *r, char kind, uint64_t id)
{
	char k[KEY_MAX];
	redisReply *rep = cmd(r, "PTTL %s", key(r, k, sizeof(k), kind, id));
	long long v = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -EIO;

	freeReplyObject(rep);
	return v;
}

int raw_inode_unlinked(struct raw *r, uint64_t id)
{
	char k[KEY_MAX];
	redisReply *rep = cmd(r, "HEXISTS %s unlinked", key(r, k, sizeof(k), 'i', id));
	int v = rep && rep->type == REDIS_REPLY_INTEGER ? (int)rep->integer : -EIO;

	freeReplyObject(rep);
	return v;
}

int raw_expire(struct raw *r, char kind, uint64_t id, unsigned ms)
{
	char k[KEY_MAX];
	redisReply *rep = cmd(r, "PEXPIRE %s %u", key(r, k, sizeof(k), kind, id), ms);
	int v = rep && rep->type == REDIS_REPLY_INTEGER ? 0 : -EIO;

	freeReplyObject(rep);
	return v;
}

int raw_unlink_inode(struct raw *r, uint64_t id, unsigned grace_ms)
{
	struct timespec ts;
	redisReply *rep;
	char now[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(now, sizeof(now), "%lld", (long long)ts.tv_sec * 1000000000 + ts.tv_nsec);
	char k[KEY_MAX];

	rep = cmd(r, "HSET %s unlinked %s", key(r, k, sizeof(k), 'i', id), now);
	freeReplyObject(rep);
	return raw_expire(r, 'i', id, grace_ms);
}

int raw_drop_entry(struct raw *r, uint64_t dir, const char *name, size_t len)
{
	/* numbered like every message (docs/FORMAT.md): INCR and PUBLISH in one step */
	static const char pub[] =
	    "local n = redis.call('INCR', KEYS[1]) "
	    "return redis.call('PUBLISH', ARGV[1], 'E:' .. n .. ' ' .. ARGV[2] "
	    ".. ' fsck' .. string.char(0) .. ARGV[3])";
	char k[KEY_MAX], seq[KEY_MAX], chan[KEY_MAX], dirs[24];
	redisReply *rep;

	if (len > 255)
		return -ENAMETOOLONG;
	rep = cmd(r, "HDEL %s %b", key(r, k, sizeof(k), 'd', dir), name, len);
	if (!rep || rep->type != REDIS_REPLY_INTEGER) {
		freeReplyObject(rep);
		return -EIO;
	}
	freeReplyObject(rep);
	key_seq(seq, r->prefix);
	key_inval(chan, r->prefix);
	snprintf(dirs, sizeof(dirs), "%" PRIu64, dir);
	rep = cmd(r, "EVAL %s 1 %s %s %s %b", pub, seq, chan, dirs, name, len);
	freeReplyObject(rep);
	return 0;
}

int raw_set_nlink(struct raw *r, uint64_t id, uint64_t version, uint32_t nlink)
{
	static const char script[] =
	    "local k = KEYS[1]\n"
	    "if redis.call('HGET', k, 'ver') ~= ARGV[1] then return 0 end\n"
	    "if redis.call('HEXISTS', k, 'unlinked') == 1 then return 0 end\n"
	    "local t = redis.call('HGET', k, 'type')\n"
	    "if not t or t == 'd' then return 0 end\n"
	    "if ARGV[2] == '1' then redis.call('HDEL', k, 'nlink')\n"
	    "else redis.call('HSET', k, 'nlink', ARGV[2]) end\n"
	    "redis.call('HSET', k, 'ctime', ARGV[3])\n"
	    "redis.call('HINCRBY', k, 'ver', 1)\n"
	    /* numbered like every message (docs/FORMAT.md): INCR and PUBLISH in one step */
	    "local s = redis.call('INCR', KEYS[2])\n"
	    "redis.call('PUBLISH', ARGV[4], 'I:' .. s .. ' ' .. ARGV[5] .. ' fsck' .. "
	    "string.char(0))\n"
	    "return 1\n";
	char k[KEY_MAX], seq[KEY_MAX], ver[24], n[16], now[32], ch[KEY_MAX], ids[24];
	struct timespec ts;
	redisReply *rep;
	int v;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(now, sizeof(now), "%lld", (long long)ts.tv_sec * 1000000000 + ts.tv_nsec);
	snprintf(ver, sizeof(ver), "%" PRIu64, version);
	snprintf(n, sizeof(n), "%u", nlink);
	key_inval(ch, r->prefix);
	key_seq(seq, r->prefix);
	snprintf(ids, sizeof(ids), "%" PRIu64, id);
	rep = cmd(r, "EVAL %s 2 %s %s %s %s %s %s %s", script, key(r, k, sizeof(k), 'i', id), seq,
		  ver, n, now, ch, ids);
	v = rep && rep->type == REDIS_REPLY_INTEGER ? (int)rep->integer : -EIO;
	freeReplyObject(rep);
	return v;
}

int raw_dir_nlink(struct raw *r, uint64_t id, bool fix, uint32_t *stored, uint32_t *counted)
{
	/* The count and the comparison in one step: a directory made or removed meanwhile by a
	 * peer changes both or neither.  A repair is numbered and announced like any change. */
	static const char script[] =
	    "local k = KEYS[1]\n"
	    "if redis.call('HGET', k, 'type') ~= 'd' then return {-1, 0} end\n"
	    "if redis.call('HEXISTS', k, 'unlinked') == 1 then return {-1, 0} end\n"
	    "local have = redis.call('HGET', k, 'nlink')\n"
	    "if not have then return {-1, 0} end\n"
	    "local n = 2\n"
	    "local e = redis.call('HGETALL', KEYS[2])\n"
	    "for i = 2, #e, 2 do\n"
	    "  if string.sub(e[i], 1, 1) == 'd' then n = n + 1 end\n"
	    "end\n"
	    "local was = tonumber(have) or 0\n"
	    "if was == n or ARGV[1] ~= '1' then return {was, n} end\n"
	    "redis.call('HSET', k, 'nlink', string.format('%d', n))\n"
	    "redis.call('HINCRBY', k, 'ver', 1)\n"
	    "local s = redis.call('INCR', KEYS[3])\n"
	    "redis.call('PUBLISH', ARGV[2], 'I:' .. s .. ' ' .. ARGV[3] .. ' fsck' .. "
	    "string.char(0))\n"
	    "return {was, n}\n";
	char k[KEY_MAX], d[KEY_MAX], seq[KEY_MAX], ch[KEY_MAX], ids[24];
	redisReply *rep;
	int v = -EIO;

	key_inval(ch, r->prefix);
	key_seq(seq, r->prefix);
	snprintf(ids, sizeof(ids), "%" PRIu64, id);
	rep = cmd(r, "EVAL %s 3 %s %s %s %s %s %s", script, key(r, k, sizeof(k), 'i', id),
		  key(r, d, sizeof(d), 'd', id), seq, fix ? "1" : "0", ch, ids);
	if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
	    rep->element[0]->type == REDIS_REPLY_INTEGER &&
	    rep->element[1]->type == REDIS_REPLY_INTEGER) {
		long long was = rep->element[0]->integer, n = rep->element[1]->integer;

		if (was < 0) {
			v = 0; /* gone, or no count kept: nothing to compare */
		} else {
			*stored = was > UINT32_MAX ? UINT32_MAX : (uint32_t)was;
			*counted = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
			v = was != n;
		}
	}
	freeReplyObject(rep);
	return v;
}

/* The value of FIELD in an INFO reply ("field:value\r\n" lines). */
static const char *info_field(const char *info, const char *field, char *out, size_t size)
{
	size_t fl = strlen(field);

	for (const char *p = info; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, field, fl) && p[fl] == ':') {
			size_t n = strcspn(p + fl + 1, "\r\n");

			snprintf(out, size, "%.*s", (int)n, p + fl + 1);
			return out;
		}
	return NULL;
}

int raw_memory(struct raw *r, long long *used, long long *max, char *policy, size_t psize)
{
	redisReply *rep = cmd(r, "INFO memory");
	char v[64];

	if (!rep || rep->type != REDIS_REPLY_STRING) {
		freeReplyObject(rep);
		return -EIO;
	}
	*used = info_field(rep->str, "used_memory", v, sizeof(v)) ? atoll(v) : -1;
	*max = info_field(rep->str, "maxmemory", v, sizeof(v)) ? atoll(v) : -1;
	if (!info_field(rep->str, "maxmemory_policy", policy, psize))
		snprintf(policy, psize, "unknown");
	freeReplyObject(rep);
	return 0;
}

long long raw_listeners(struct raw *r)
{
	char ch[KEY_MAX];
	redisReply *rep;
	long long n = -EIO;

	key_inval(ch, r->prefix);
	rep = cmd(r, "PUBSUB NUMSUB %s", ch);
	if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
	    rep->element[1]->type == REDIS_REPLY_INTEGER)
		n = rep->element[1]->integer;
	freeReplyObject(rep);
	return n;
}
