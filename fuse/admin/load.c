/* load.c - `pressfs load`: restore a `pressfs dump` archive into a site's store, which must be
 * empty unless --force (then the archive's entries replace what holds their names). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin/admin.h"
#include "admin/common.h"
#include "admin/tar.h"
#include "path.h"

/* The directories on the path to the entry being loaded (the archive is pre-order). */
struct level {
	char *path;
	size_t len;
	uint64_t ino;
};

struct load {
	struct store *s;
	FILE *in;
	bool force;
	struct level *stack;
	size_t depth, cap;
	struct tar_meta *dirs; /* every directory, for its attributes at the end */
	uint64_t *dir_ino;
	size_t ndirs, dcap;
	char *buf;
	uint64_t files, bytes, whiteouts, nsyms, links, specials;
};

/* The store inode of the parent directory of PATH, from the stack. */
static int parent_of(struct load *l, const char *path, size_t len, uint64_t *ino, const char **name,
		     size_t *nlen)
{
	const char *slash = memrchr(path, '/', len);
	size_t plen = slash ? (size_t)(slash - path) : 0;

	*name = slash ? slash + 1 : path;
	*nlen = len - (size_t)(*name - path);
	if (path_check_name(*name, *nlen) < 0)
		return -EINVAL;
	while (l->depth > 1 && !(l->stack[l->depth - 1].len == plen &&
				 !memcmp(l->stack[l->depth - 1].path, path, plen)))
		free(l->stack[--l->depth].path);
	if (l->stack[l->depth - 1].len != plen)
		return -ENOENT; /* a parent that the archive did not hold before its entries */
	*ino = l->stack[l->depth - 1].ino;
	return 0;
}

static int push_dir(struct load *l, const struct tar_meta *m, uint64_t ino)
{
	if (l->depth == l->cap) {
		struct level *n = realloc(l->stack, (l->cap = l->cap * 2 + 16) * sizeof(*n));

		if (!n)
			return -ENOMEM;
		l->stack = n;
	}
	if (l->ndirs == l->dcap) {
		l->dcap = l->dcap * 2 + 64;
		l->dirs = realloc(l->dirs, l->dcap * sizeof(*l->dirs));
		l->dir_ino = realloc(l->dir_ino, l->dcap * sizeof(*l->dir_ino));
		if (!l->dirs || !l->dir_ino)
			return -ENOMEM;
	}
	l->stack[l->depth].path = malloc(m->len + 1);
	if (!l->stack[l->depth].path)
		return -ENOMEM;
	if (m->len) /* the root's path is empty, and may be NULL */
		memcpy(l->stack[l->depth].path, m->path, m->len);
	l->stack[l->depth].len = m->len;
	l->stack[l->depth++].ino = ino;
	l->dirs[l->ndirs] = *m;
	l->dirs[l->ndirs].path = NULL;
	l->dirs[l->ndirs].linkname = NULL;
	l->dir_ino[l->ndirs++] = ino;
	return 0;
}

/* The entry's mtime, and its atime when the archive has one. */
static int set_times(struct load *l, uint64_t ino, const struct tar_meta *m)
{
	struct store_attr in = {.mtime_ns = m->mtime_ns, .atime_ns = m->atime_ns}, out = {0};
	int rc = store_setattr(l->s, ino, STORE_SET_MTIME | (m->has_atime ? STORE_SET_ATIME : 0),
			       &in, &out);

	store_attr_release(&out);
	return rc;
}

/* The inode the archive's earlier entry PATH (relative, LEN bytes) became. */
static int lookup_path(struct load *l, const char *path, size_t len, uint64_t *ino)
{
	const char *slash = memrchr(path, '/', len), *name = slash ? slash + 1 : path;
	size_t dlen = slash ? (size_t)(slash - path) : 0;
	char *dpath = malloc(dlen + 2);
	struct store_attr a = {0};
	uint64_t dir = 0;
	int rc;

	if (!dpath)
		return -ENOMEM;
	dpath[0] = '/';
	memcpy(dpath + 1, path, dlen);
	dpath[dlen + 1] = 0;
	rc = store_resolve_dir(l->s, dpath, dlen + 1, &dir);
	free(dpath);
	if (!rc && !dir)
		rc = -ENOENT;
	if (!rc)
		rc = store_lookup(l->s, dir, name, len - (size_t)(name - path), &a);
	if (rc == STORE_WHITEOUT || rc == STORE_DIR)
		rc = -EPERM; /* no hard links to these */
	*ino = a.ino;
	store_attr_release(&a);
	return rc < 0 ? rc : 0;
}

/* A further name of an inode loaded before (a hard link entry). */
static int load_link(struct load *l, const struct tar_meta *m, uint64_t dir, const char *name,
		     size_t nlen)
{
	struct store_attr a = {0};
	uint64_t ino = 0;
	int rc = m->linkname ? lookup_path(l, m->linkname, strlen(m->linkname), &ino) : -EINVAL;

	if (!rc)
		rc = store_link(l->s, ino, dir, name, nlen, &a);
	if (rc == -EEXIST && l->force && store_unlink(l->s, dir, name, nlen, false) == 0)
		rc = store_link(l->s, ino, dir, name, nlen, &a);
	store_attr_release(&a);
	l->links++;
	return rc;
}

/* A FIFO, socket or device node: a type and an rdev, no data. */
static int load_special(struct load *l, const struct tar_meta *m, uint64_t dir, const char *name,
			size_t nlen)
{
	uint32_t fmt = m->type == '6'	? S_IFIFO
		       : m->type == '3' ? S_IFCHR
		       : m->type == '4' ? S_IFBLK
					: S_IFSOCK;
	uint64_t rdev = fmt == S_IFCHR || fmt == S_IFBLK ? m->rdev : 0;
	struct store_attr a = {0};
	int rc = store_mknod(l->s, dir, name, nlen, fmt | (m->mode & 07777), rdev, m->uid, m->gid,
			     m->cls, &a);

	if (rc == -EEXIST && l->force && store_unlink(l->s, dir, name, nlen, false) == 0)
		rc = store_mknod(l->s, dir, name, nlen, fmt | (m->mode & 07777), rdev, m->uid,
				 m->gid, m->cls, &a);
	if (!rc)
		rc = set_times(l, a.ino, m);
	store_attr_release(&a);
	l->specials++;
	return rc;
}

/* A directory: the copy of a lower one keeps its lino; an opaque one is made over a whiteout
 * (or, with a lino, made aside and renamed into place as opaque). */
static int load_dir(struct load *l, const struct tar_meta *m, uint64_t dir, const char *name,
		    size_t nlen, uint64_t *ino)
{
	uint32_t mode = S_IFDIR | (m->mode & 07777);
	struct store_attr a = {0};
	char tmp[64];
	size_t tlen;
	int rc;

	if (!m->opaque)
		return store_copyup_dir_as(l->s, dir, name, nlen, mode, m->uid, m->gid, m->mtime_ns,
					   m->lino, ino);
	if (!m->lino) {
		rc = store_unlink(l->s, dir, name, nlen, true);
		if (rc == 0 || rc == -ENOENT)
			rc = store_create(l->s, dir, name, nlen, mode, m->uid, m->gid, 's', NULL,
					  &a);
		*ino = a.ino;
		store_attr_release(&a);
		return rc;
	}
	tlen = (size_t)snprintf(tmp, sizeof(tmp), ".pressfs-load-%ld-%" PRIu64, (long)getpid(),
				m->lino);
	rc = store_copyup_dir_as(l->s, dir, tmp, tlen, mode, m->uid, m->gid, m->mtime_ns, m->lino,
				 ino);
	if (!rc)
		rc = store_rename(l->s, dir, tmp, tlen, dir, name, nlen, STORE_RENAME_OPAQUE);
	return rc;
}

/* A file's data follows its header: upload it a few chunks at a time, then publish it. */
static int load_file(struct load *l, const struct tar_meta *m, uint64_t dir, const char *name,
		     size_t nlen)
{
	enum { PER = 8 };
	uint64_t left = m->size, *ids = calloc(m->size / STORE_CHUNK_SIZE + 1, sizeof(*ids));
	struct store_attr a = {0};
	size_t n = 0;
	int rc = ids ? 0 : -ENOMEM;

	while (!rc && left) {
		const void *data[PER];
		size_t len[PER], k = 0;

		for (; k < PER && left; k++) {
			size_t want = left < STORE_CHUNK_SIZE ? (size_t)left : STORE_CHUNK_SIZE;

			if (fread(l->buf + k * STORE_CHUNK_SIZE, want, 1, l->in) != 1)
				rc = -EPIPE;
			data[k] = l->buf + k * STORE_CHUNK_SIZE;
			len[k] = want;
			left -= want;
		}
		if (!rc)
			rc = store_put_chunks(l->s, k, data, len, ids + n);
		n += k;
	}
	if (!rc && tar_read_pad(l->in, m->size))
		rc = -EPIPE;
	if (!rc)
		rc =
		    store_publish_new_as(l->s, dir, name, nlen, S_IFREG | (m->mode & 07777), m->uid,
					 m->gid, 's', m->size, n, ids, false, 0, m->lino, &a);
	if (!rc)
		rc = set_times(l, a.ino, m);
	store_attr_release(&a);
	free(ids);
	return rc;
}

/* One entry of the archive into the store. */
static int load_entry(struct load *l, struct tar_meta *m)
{
	struct store_attr a = {0};
	const char *name;
	uint64_t dir, ino = 0;
	size_t nlen;
	int rc;

	if (m->len == 1 && m->path[0] == '.') /* the site's root */
		return m->type == '5' ? push_dir(l,
						 &(struct tar_meta){.mode = m->mode,
								    .uid = m->uid,
								    .gid = m->gid,
								    .mtime_ns = m->mtime_ns,
								    .atime_ns = m->atime_ns,
								    .has_atime = m->has_atime},
						 STORE_ROOT_INO)
				      : -EINVAL;
	rc = parent_of(l, m->path, m->len, &dir, &name, &nlen);
	if (rc < 0)
		return rc;
	if (m->whiteout) {
		rc = store_unlink(l->s, dir, name, nlen, true);
		l->whiteouts++;
		return rc == -ENOENT ? 0 : rc;
	}
	switch (m->type) {
	case '5':
		rc = load_dir(l, m, dir, name, nlen, &ino);
		return rc < 0 ? rc : push_dir(l, m, ino);
	case '1':
		return load_link(l, m, dir, name, nlen);
	case '3':
	case '4':
	case '6':
		return load_special(l, m, dir, name, nlen);
	case '2':
		rc = store_create(l->s, dir, name, nlen, S_IFLNK | 0777, m->uid, m->gid, 's',
				  m->linkname ? m->linkname : "", &a);
		if (rc == -EEXIST && l->force && store_unlink(l->s, dir, name, nlen, false) == 0)
			rc = store_create(l->s, dir, name, nlen, S_IFLNK | 0777, m->uid, m->gid,
					  's', m->linkname ? m->linkname : "", &a);
		if (!rc)
			rc = set_times(l, a.ino, m);
		store_attr_release(&a);
		l->nsyms++;
		return rc;
	case '0':
		if (m->socket)
			return load_special(l, m, dir, name, nlen);
		if (m->cls != 's')
			return -EINVAL;
		l->files++;
		l->bytes += m->size;
		return load_file(l, m, dir, name, nlen);
	}
	return -EINVAL;
}

static int site_is_empty(struct store *s)
{
	struct store_dirent *d = NULL;
	size_t n = 0;
	int rc = store_readdir(s, STORE_ROOT_INO, &d, &n);

	store_dirents_free(d, n);
	return rc < 0 ? rc : n == 0;
}

/* Directories get their mode, owner and mtime last, deepest first. */
static int finish_dirs(struct load *l)
{
	for (size_t i = l->ndirs; i-- > 0;) {
		struct store_attr in = {0}, out = {0};
		int rc;

		in.mode = S_IFDIR | (l->dirs[i].mode & 07777);
		in.uid = l->dirs[i].uid;
		in.gid = l->dirs[i].gid;
		in.mtime_ns = l->dirs[i].mtime_ns;
		in.atime_ns = l->dirs[i].atime_ns;
		rc =
		    store_setattr(l->s, l->dir_ino[i],
				  STORE_SET_MODE | STORE_SET_UID | STORE_SET_GID | STORE_SET_MTIME |
				      (l->dirs[i].has_atime ? STORE_SET_ATIME : 0),
				  &in, &out);
		store_attr_release(&out);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* `pressfs load`: options, the empty-site check, then the archive's entries in order, each
 * restored as it comes.  One piece: a stream read once, front to back. */
int load_main(int argc, char **argv)
{
	static const char usage[] =
	    "usage: pressfs load FILE|- --store URL [--site NAME] [--force]\n"
	    "Restores a `pressfs dump` archive (FILE; - is stdin) into the site, which must be\n"
	    "empty unless --force.\n";
	struct admin_target t = {0};
	struct load l = {0};
	struct tar_meta m = {0};
	struct progress prog;
	char format[16] = "", b[32];
	const char *why = NULL;
	double secs;
	const struct admin_cmdline cl = {.usage = usage,
					 .opts = admin_force_opts,
					 .nargs = 1,
					 .on_opt = admin_set_flag,
					 .ctx = &l.force};
	int c, rc;

	c = admin_parse(argc, argv, &cl, &t);
	if (c < 0)
		return c == ADMIN_HELP ? 0 : 2;
	l.in = strcmp(argv[c], "-") ? fopen(argv[c], "rbe") : stdin;
	if (!l.in) {
		fprintf(stderr, "pressfs load: %s: %s\n", argv[c], strerror(errno));
		return 2;
	}
	if (admin_open(&t, "load", &l.s) < 0)
		return 1;
	rc = site_is_empty(l.s);
	if (rc < 0) {
		fprintf(stderr, "pressfs load: reading the site: %s\n", strerror(-rc));
		return 1;
	}
	if (!rc && !l.force) {
		fprintf(stderr,
			"pressfs load: site %s is not empty: nothing loaded (--force "
			"replaces what the archive names, keeps the rest)\n",
			t.site ? t.site : "default");
		return 1;
	}
	l.buf = malloc(8 * STORE_CHUNK_SIZE);
	if (!l.buf)
		return 1;
	progress_start(&prog, "load", 0, 0);
	rc = 0;
	while (!rc && (rc = tar_read_header(l.in, &m, format, sizeof(format), &why)) == 1) {
		if (strcmp(format, TAR_FORMAT)) {
			why = "not a pressfs dump of format " TAR_FORMAT;
			rc = -EINVAL;
			break;
		}
		if (l.depth == 0 && !(m.len == 1 && m.path[0] == '.')) {
			why = "the archive does not begin with the site's root";
			rc = -EINVAL;
			break;
		}
		rc = load_entry(&l, &m);
		if (rc < 0) {
			fprintf(stderr, "pressfs load: /");
			admin_quote(stderr, m.path, m.len);
			fprintf(stderr, ": %s\n",
				rc == -EPIPE ? "the archive ends in its data" : strerror(-rc));
			why = "";
			break;
		}
		if (m.type == '0' && !m.whiteout)
			progress_add(&prog, 1, m.size);
	}
	if (rc == 0)
		rc = finish_dirs(&l);
	secs = progress_stop(&prog);
	if (rc < 0 && why && *why)
		fprintf(stderr, "pressfs load: %s: %s\n", argv[c], why);
	else if (rc < 0 && !why)
		fprintf(stderr, "pressfs load: %s\n", strerror(-rc));
	printf("loaded:            %" PRIu64 " files, %s in %.1f s; %zu directories, %" PRIu64
	       " symlinks, %" PRIu64 " hard links, %" PRIu64 " special files, %" PRIu64
	       " whiteouts\n",
	       l.files, admin_bytes(b, sizeof(b), l.bytes), secs, l.ndirs, l.nsyms, l.links,
	       l.specials, l.whiteouts);
	if (rc < 0)
		printf("failed:            the load stopped early; the site holds what came "
		       "before\n");
	tar_meta_free(&m);
	while (l.depth)
		free(l.stack[--l.depth].path);
	free(l.stack);
	free(l.dirs);
	free(l.dir_ino);
	free(l.buf);
	store_close(l.s);
	if (l.in != stdin)
		fclose(l.in);
	return rc < 0 ? 1 : 0;
}
