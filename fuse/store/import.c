/* import.c - the store's batched publish for `pressfs import`: many new files of one directory,
 * with their modes, owners and mtimes, in one call of the script import.lua. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/internal.h"

/* The script's arguments 6 and 7: every name followed by a '/', and one line per file
 * "MODE UID GID SIZE MTIME CHUNK..." (docs/FORMAT.md, import). */
static int pack(const struct store_import_file *f, size_t n, char **names, size_t *nameslen,
		char **recs, size_t *recslen)
{
	size_t nl = 0, rl = 0;
	char *np, *rp;

	for (size_t i = 0; i < n; i++) {
		nl += f[i].namelen + 1;
		rl += 4 + 3 * 21 + 22 + 1 + f[i].nchunks * 21;
	}
	*names = np = malloc(nl + 1);
	*recs = rp = malloc(rl + 1);
	if (!np || !rp) {
		free(np);
		free(rp);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		memcpy(np, f[i].name, f[i].namelen);
		np += f[i].namelen;
		*np++ = '/';
		rp += sprintf(rp, "%04o %" PRIu32 " %" PRIu32 " %" PRIu64 " %" PRId64,
			      f[i].mode & 01777, f[i].uid, f[i].gid, f[i].size, f[i].mtime_ns);
		for (size_t j = 0; j < f[i].nchunks; j++)
			rp += sprintf(rp, " %" PRIu64, f[i].chunks[j]);
		*rp++ = '\n';
	}
	*nameslen = (size_t)(np - *names);
	*recslen = (size_t)(rp - *recs);
	return 0;
}

/* The script's answer: one element per file, an inode number or a negative errno. */
static int answers(struct store *s, const redisReply *r, struct store_import_file *f, size_t n)
{
	if (r->type == REDIS_REPLY_INTEGER)
		return script_errno(s, SC_IMPORT, r);
	if (r->type != REDIS_REPLY_ARRAY || r->elements != n)
		return refused(s, conn_current(s), "import", r);
	for (size_t i = 0; i < n; i++) {
		const redisReply *e = r->element[i];

		if (e->type == REDIS_REPLY_INTEGER && e->integer < 0 && e->integer > -4096)
			f[i].rc = (int)e->integer;
		else if (!reply_u64(e, &f[i].ino) || f[i].ino == 0)
			return refused(s, conn_current(s), "import", r);
	}
	return 0;
}

int store_import_files(struct store *s, uint64_t dir, const char *dirpath, size_t dirpathlen,
		       struct store_import_file *f, size_t n)
{
	struct args args = {0};
	char *names = NULL, *recs = NULL;
	size_t nameslen, recslen;
	redisReply *r;
	int rc;

	if (n == 0)
		return 0;
	if (n > STORE_IMPORT_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		f[i].ino = 0;
		f[i].rc = 0;
		rc = check_name(f[i].name, f[i].namelen);
		if (rc == 0 && (f[i].size > STORE_SIZE_MAX ||
				f[i].nchunks > f[i].size / STORE_CHUNK_SIZE +
						   (f[i].size % STORE_CHUNK_SIZE != 0)))
			rc = -EINVAL;
		if (rc)
			return rc;
	}
	rc = pack(f, n, &names, &nameslen, &recs, &recslen);
	if (rc)
		return rc;
	arg_fmt(&args, "%" PRIu64, dir);
	arg_mem(&args, dirpath ? dirpath : "", dirpath ? dirpathlen : 0);
	arg_mem(&args, names, nameslen);
	arg_mem(&args, recs, recslen);
	rc = script(s, SC_IMPORT, &args, &r);
	free(names);
	free(recs);
	/* Redis refused to run it at all (out of memory): the chunks are all this call's own */
	if (rc == -EIO && conn_current(s) && conn_current(s)->oom)
		for (size_t i = 0; i < n; i++)
			store_release_chunks(s, f[i].nchunks, f[i].chunks);
	if (rc)
		return rc;
	rc = answers(s, r, f, n);
	freeReplyObject(r);
	return rc;
}
