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
	return store_rename_checked(s, sdir, sname, snamelen, ddir, dname, dnamelen, flags, NULL);
}

/* "ino:ver ino:ver ..." of what a directory's judgement walked; NULL when out of memory. */
static char *fmt_walked(const struct store_rename_check *chk, size_t *len)
{
	size_t size = chk->nwalked * 42 + 1, n = 0;
	char *buf = malloc(size);

	if (!buf)
		return NULL;
	buf[0] = '\0';
	for (size_t i = 0; i < chk->nwalked; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%" PRIu64 ":%" PRIu64, i ? " " : "",
				      chk->walked[i], chk->vers[i]);
	*len = n;
	return buf;
}

int store_rename_checked(struct store *s, uint64_t sdir, const char *sname, size_t snamelen,
			 uint64_t ddir, const char *dname, size_t dnamelen, unsigned flags,
			 const struct store_rename_check *chk)
{
	struct args args = {0};
	char *walked = NULL;
	size_t walkedlen = 0;
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
	if (chk) {
		if (chk->nwalked && !(walked = fmt_walked(chk, &walkedlen)))
			return -ENOMEM;
		if (chk->sino)
			arg_fmt(&args, "%" PRIu64, chk->sino);
		else
			arg_str(&args, "");
		arg_mem(&args, chk->dpath ? chk->dpath : "", chk->dpath ? chk->dpathlen : 0);
		arg_mem(&args, walked ? walked : "", walkedlen);
	}
	rc = script(s, SC_RENAME, &args, &r);
	free(walked);
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
