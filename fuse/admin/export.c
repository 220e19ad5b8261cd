/* export.c - `pressfs export`: a site's files into a directory (hard links as links, FIFOs,
 * sockets and devices with mknod where allowed), consistent while peers keep writing: each
 * file is one version, read from the chunks one getattr listed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "admin/admin.h"
#include "admin/common.h"
#include "admin/tar.h"
#include "admin/tree.h"
#include "path.h"

struct out_file {
	int fd;
	off_t off;
};

static int file_sink(void *arg, const void *data, size_t len)
{
	struct out_file *o = arg;

	for (size_t done = 0; done < len;) {
		ssize_t w = pwrite(o->fd, (const char *)data + done, len - done, o->off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		done += (size_t)w;
		o->off += w;
	}
	return 0;
}

static int file_reset(void *arg)
{
	struct out_file *o = arg;

	o->off = 0;
	return ftruncate(o->fd, 0) < 0 ? -errno : 0;
}

static void set_times(int dirfd, const char *name, const struct store_attr *a, int flags)
{
	int64_t t[2] = {a->has_atime ? a->atime_ns : a->mtime_ns, a->mtime_ns};
	struct timespec ts[2];

	for (int i = 0; i < 2; i++) {
		ts[i].tv_sec = t[i] / 1000000000;
		ts[i].tv_nsec = t[i] % 1000000000;
		if (ts[i].tv_nsec < 0) {
			ts[i].tv_sec--;
			ts[i].tv_nsec += 1000000000;
		}
	}
	utimensat(dirfd, name, ts, flags);
}

/* A FIFO, socket or device node; -EPERM when this user may not make it (devices need root). */
static int export_special(int dest, struct tree_entry *e, bool root, const char **what)
{
	static const uint32_t fmt[] = {[STORE_FIFO] = S_IFIFO,
				       [STORE_SOCK] = S_IFSOCK,
				       [STORE_CHR] = S_IFCHR,
				       [STORE_BLK] = S_IFBLK};
	uint32_t f = fmt[(unsigned char)e->type];

	if (mknodat(dest, e->path, f | 0600, f == S_IFCHR || f == S_IFBLK ? e->a.rdev : 0) < 0) {
		*what = "mknod";
		return -errno;
	}
	if (root)
		fchownat(dest, e->path, e->a.uid, e->a.gid, AT_SYMLINK_NOFOLLOW);
	fchmodat(dest, e->path, e->a.mode & 07777, 0);
	set_times(dest, e->path, &e->a, AT_SYMLINK_NOFOLLOW);
	return 0;
}

/* Write entry I of T below DEST (an open directory).  Returns 0, or -errno with *what set. */
static int export_one(struct store *s, int dest, struct tree *t, size_t i, void *buf,
		      const char **what)
{
	struct tree_entry *e = &t->e[i];
	const char *name = e->len ? e->path : ".";
	bool root = geteuid() == 0;
	int rc = 0;

	if (e->type != STORE_DIR && e->first != i) { /* a further name: a hard link */
		if (linkat(dest, t->e[e->first].path, dest, name, 0) < 0) {
			*what = "link";
			return -errno;
		}
		return 0;
	}
	switch (e->type) {
	case STORE_FIFO:
	case STORE_SOCK:
	case STORE_CHR:
	case STORE_BLK:
		return export_special(dest, e, root, what);
	case STORE_DIR:
		if (e->len && mkdirat(dest, name, 0700) < 0) {
			*what = "mkdir";
			return -errno;
		}
		if (root)
			fchownat(dest, name, e->a.uid, e->a.gid, 0);
		fchmodat(dest, name, e->a.mode & 07777, 0);
		return 0;
	case STORE_SYMLINK:
		if (symlinkat(e->a.target ? e->a.target : "", dest, name) < 0) {
			*what = "symlink";
			return -errno;
		}
		if (root)
			fchownat(dest, name, e->a.uid, e->a.gid, AT_SYMLINK_NOFOLLOW);
		set_times(dest, name, &e->a, AT_SYMLINK_NOFOLLOW);
		return 0;
	case STORE_FILE: {
		struct out_file o = {
		    .fd = openat(dest, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
				 0600)};

		if (o.fd < 0) {
			*what = "create";
			return -errno;
		}
		rc = tree_read(s, e, buf, file_reset, file_sink, &o);
		if (rc < 0)
			*what = rc == -ENOENT ? "removed meanwhile" : "reading it from the store";
		if (root)
			fchown(o.fd, e->a.uid, e->a.gid);
		fchmod(o.fd, e->a.mode & 07777);
		close(o.fd);
		if (rc == 0)
			set_times(dest, name, &e->a, 0);
		else
			unlinkat(dest, name, 0);
		return rc;
	}
	}
	return 0;
}

struct cmd {
	struct admin_target t;
	const char *prefix;
	const char *out;
};

static int export_opt(void *ctx, int o, const char *arg)
{
	(void)o;
	((struct cmd *)ctx)->prefix = arg; /* --prefix, its only option */
	return 0;
}

static const struct option export_opts[] = {{"prefix", 1, NULL, 'P'}, {NULL, 0, NULL, 0}};

/* Open the store and list the site (below --prefix).  Prints what went wrong. */
static int open_and_walk(struct cmd *c, const char *what, struct store **s, struct tree *t)
{
	uint64_t top = STORE_ROOT_INO;
	const char *p = c->prefix ? c->prefix : "/";
	int rc;

	if (admin_open(&c->t, what, s) < 0)
		return -1;
	rc = store_resolve_dir(*s, p, strlen(p), &top);
	if (rc < 0 || !top) {
		fprintf(stderr, "pressfs %s: %s: %s\n", what, p,
			rc < 0 ? strerror(-rc) : "no such directory in the store");
		store_close(*s);
		return -1;
	}
	if (tree_walk(*s, top, t) < 0) {
		store_close(*s);
		return -1;
	}
	return 0;
}

static void report(const char *what, const struct tree *t, uint64_t failed, double secs)
{
	char b[32];

	printf("%s:%*s%" PRIu64 " files, %s in %.1f s\n", what, (int)(18 - strlen(what)), "",
	       t->files - failed, admin_bytes(b, sizeof(b), t->bytes), secs);
	if (t->links)
		printf("hard links:        %" PRIu64 "\n", t->links);
	if (t->whiteouts)
		printf("whiteouts:         %" PRIu64 "%s\n", t->whiteouts,
		       strcmp(what, "exported") ? ""
						: " (hide image files; not representable in a "
						  "directory, dump keeps them)");
	if (t->cache_files)
		printf("cache class:       %" PRIu64
		       " files not copied (their bytes live in the pool; plugins regenerate "
		       "them)\n",
		       t->cache_files);
	if (t->gone)
		printf("removed meanwhile: %" PRIu64 "\n", t->gone);
	printf("failed:            %" PRIu64 "\n", failed);
}

static void print_failure(const char *cmd, const struct tree_entry *e, const char *what, int rc)
{
	fprintf(stderr, "pressfs %s: failed: /", cmd);
	admin_quote(stderr, e->path, e->len);
	fprintf(stderr, ": %s: %s\n", what, strerror(-rc));
}

static bool dir_is_empty(int fd)
{
	DIR *d = fdopendir(dup(fd));
	struct dirent *de;
	bool empty = true;

	while (d && empty && (de = readdir(d)))
		empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	if (d)
		closedir(d);
	return d && empty;
}

int export_main(int argc, char **argv)
{
	struct cmd c = {0};
	struct store *s;
	struct tree t;
	struct progress prog;
	uint64_t failed = 0, made = 0, skipped = 0;
	char *buf, *skips = NULL;
	size_t skips_len = 0;
	FILE *sk = open_memstream(&skips, &skips_len);
	int dest;
	double secs;

	const struct admin_cmdline cl = {
	    .usage =
		"usage: pressfs export DIR --store URL [--site NAME] [--prefix PATH]\n"
		"Copies the site's files (the store's upper layer, below PATH) into DIR, which\n"
		"must not exist or be empty.\n",
	    .opts = export_opts,
	    .nargs = 1,
	    .on_opt = export_opt,
	    .ctx = &c};
	int arg = admin_parse(argc, argv, &cl, &c.t);

	if (arg < 0)
		return arg == ADMIN_HELP ? 0 : 2;
	c.out = argv[arg];
	mkdir(c.out, 0755);
	dest = open(c.out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dest < 0) {
		fprintf(stderr, "pressfs export: %s: %s\n", c.out, strerror(errno));
		return 2;
	}
	if (!dir_is_empty(dest)) {
		fprintf(stderr, "pressfs export: %s is not empty: nothing exported\n", c.out);
		return 2;
	}
	if (open_and_walk(&c, "export", &s, &t) < 0)
		return 1;
	admin_catch_signals();
	buf = malloc(STORE_CHUNK_SIZE);
	progress_start(&prog, "export", t.files, t.bytes);
	for (size_t i = 0; buf && i < t.n && !admin_interrupted; i++) {
		struct tree_entry *e = &t.e[i];
		const char *what = "";
		int rc;

		if (e->type == STORE_WHITEOUT || e->type == TREE_GONE ||
		    (e->type == STORE_FILE && e->a.cls == 'c'))
			continue;
		rc = export_one(s, dest, &t, i, buf, &what);
		if (rc == -EPERM && e->first == i &&
		    (e->type == STORE_CHR || e->type == STORE_BLK)) {
			skipped++; /* a device node, and this user may not make one */
			if (sk) {
				fputs("  skipped /", sk);
				admin_quote(sk, e->path, e->len);
				fprintf(sk, " (%s device %u:%u: mknod needs root)\n",
					e->type == STORE_CHR ? "character" : "block",
					major(e->a.rdev), minor(e->a.rdev));
			}
		} else if (rc < 0 && !(e->len == 0 && rc == -EEXIST)) {
			print_failure("export", e, what, rc);
			failed++;
		} else if (e->first == i && (e->type == STORE_FIFO || e->type == STORE_SOCK ||
					     e->type == STORE_CHR || e->type == STORE_BLK)) {
			made++;
		}
		if (e->type == STORE_FILE && e->first == i)
			progress_add(&prog, 1, e->a.size);
	}
	secs = progress_stop(&prog);
	/* Directories get their mtimes last, deepest first. */
	for (size_t i = t.n; i-- > 0;)
		if (t.e[i].type == STORE_DIR)
			set_times(dest, t.e[i].len ? t.e[i].path : ".", &t.e[i].a, 0);
	report("exported", &t, failed, secs);
	if (made || skipped)
		printf("special files:     %" PRIu64 " made, %" PRIu64 " skipped\n", made, skipped);
	if (sk && fclose(sk) == 0 && skips_len)
		fputs(skips, stdout);
	free(skips);
	free(buf);
	close(dest);
	tree_free(&t);
	store_close(s);
	if (admin_interrupted)
		return 130;
	return failed ? 1 : 0;
}
