/* remove.c - the store's namespace changes that take names away: unlink, rmdir, rename and
 * the drop of a cache-class file memcached lost. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

#include "store/internal.h"

static int remove_entry(struct store *s, uint64_t dir, const char *name, size_t namelen,
			bool whiteout, char want)
{
	struct args args = {0};
	redisReply *r;
	int rc;

	rc = check_name(name, namelen);
	if (rc)
		return rc;
	arg_fmt(&args, "%" PRIu64, dir);
	arg_mem(&args, name, namelen);
	arg_str(&args, whiteout ? "1" : "0");
	arg_mem(&args, &want, 1);
	rc = script(s, SC_REMOVE, &args, &r);
	if (rc)
		return rc;
	rc = r->type == REDIS_REPLY_INTEGER && r->integer == 0 ? 0 : script_errno(s, SC_REMOVE, r);
	freeReplyObject(r);
	return rc;
}

int store_unlink(struct store *s, uint64_t dir, const char *name, size_t namelen, bool whiteout)
{
	return remove_entry(s, dir, name, namelen, whiteout, 'f');
}

int store_rmdir(struct store *s, uint64_t dir, const char *name, size_t namelen, bool whiteout)
{
	return remove_entry(s, dir, name, namelen, whiteout, 'd');
}

int store_rename(struct store *s, uint64_t sdir, const char *sname, size_t snamelen, uint64_t ddir,
		 const char *dname, size_t dnamelen, unsigned flags)
{
	struct args args = {0};
	redisReply *r;
	int rc;

	rc = check_name(sname, snamelen);
	if (!rc)
		rc = check_name(dname, dnamelen);
	if (rc)
		return rc;
	if (flags & ~(STORE_RENAME_NOREPLACE | STORE_RENAME_WHITEOUT | STORE_RENAME_OPAQUE))
		return -EINVAL;
	arg_fmt(&args, "%" PRIu64, sdir);
	arg_mem(&args, sname, snamelen);
	arg_fmt(&args, "%" PRIu64, ddir);
	arg_mem(&args, dname, dnamelen);
	arg_str(&args, flags & STORE_RENAME_NOREPLACE ? "1" : "0");
	arg_str(&args, flags & STORE_RENAME_WHITEOUT ? "1" : "0");
	arg_str(&args, flags & STORE_RENAME_OPAQUE ? "1" : "0");
	rc = script(s, SC_RENAME, &args, &r);
	if (rc)
		return rc;
	rc = r->type == REDIS_REPLY_INTEGER && r->integer == 0 ? 0 : script_errno(s, SC_RENAME, r);
	freeReplyObject(r);
	return rc;
}

int store_drop_cache(struct store *s, uint64_t dir, const char *name, size_t namelen, uint64_t ino,
		     uint64_t version, bool whiteout)
{
	struct args args = {0};
	redisReply *r;
	int rc = check_name(name, namelen);

	if (rc)
		return rc;
	arg_fmt(&args, "%" PRIu64, dir);
	arg_mem(&args, name, namelen);
	arg_fmt(&args, "%" PRIu64, ino);
	arg_fmt(&args, "%" PRIu64, version);
	arg_str(&args, whiteout ? "1" : "0");
	rc = script(s, SC_DROP_CACHE, &args, &r);
	if (rc)
		return rc;
	if (r->type == REDIS_REPLY_INTEGER && (r->integer == 0 || r->integer == 1))
		rc = (int)r->integer;
	else
		rc = script_errno(s, SC_DROP_CACHE, r);
	freeReplyObject(r);
	return rc;
}
