/* dump.c - `pressfs dump` writes a site's store into one pax archive (tar.h), `pressfs load`
 * restores one into an empty site, in this Redis or another. */
#include <errno.h>
#include <fcntl.h>
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
#include "admin/tree.h"

struct dump_opts {
	struct admin_target t;
	const char *file;
	bool force;
};

/* A file's content is read whole before its header is written (the header says its size,
 * and a file rewritten under the reader is read again at its new size): in memory, spilling
 * into a temporary file past SPOOL_MEM. */
#define SPOOL_MEM (16u << 20)
struct spool {
	char *mem;
	size_t len, cap;
	FILE *tmp;
	uint64_t size;
};

static int spool_sink(void *arg, const void *data, size_t len)
{
	struct spool *sp = arg;

	if (!sp->tmp && sp->len + len > SPOOL_MEM) {
		sp->tmp = tmpfile();
		if (!sp->tmp || (sp->len && fwrite(sp->mem, sp->len, 1, sp->tmp) != 1))
			return -EIO;
		sp->len = 0;
	}
	if (sp->tmp) {
		if (fwrite(data, len, 1, sp->tmp) != 1)
			return -EIO;
	} else {
		if (sp->len + len > sp->cap) {
			size_t cap = (sp->len + len) * 2;
			char *m = realloc(sp->mem, cap);

			if (!m)
				return -ENOMEM;
			sp->mem = m;
			sp->cap = cap;
		}
		memcpy(sp->mem + sp->len, data, len);
		sp->len += len;
	}
	sp->size += len;
	return 0;
}

static int spool_reset(void *arg)
{
	struct spool *sp = arg;

	if (sp->tmp)
		fclose(sp->tmp);
	sp->tmp = NULL;
	sp->len = 0;
	sp->size = 0;
	return 0;
}

static int spool_copy(struct spool *sp, FILE *out, char *buf)
{
	size_t n;

	if (!sp->tmp)
		return sp->len && fwrite(sp->mem, sp->len, 1, out) != 1 ? -EIO : 0;
	rewind(sp->tmp);
	while ((n = fread(buf, 1, STORE_CHUNK_SIZE, sp->tmp)) > 0)
		if (fwrite(buf, n, 1, out) != 1)
			return -EIO;
	return 0;
}

/* The tar type of a special file, or 0. */
static char special_type(char type)
{
	switch (type) {
	case STORE_FIFO:
		return '6';
	case STORE_CHR:
		return '3';
	case STORE_BLK:
		return '4';
	case STORE_SOCK:
		return '0'; /* ustar has no socket: PRESSFS.socket says it */
	}
	return 0;
}

/* Entry I of T into the archive: its headers, and for the first name of a file its data. */
static int dump_entry(struct store *s, FILE *out, struct tree *t, size_t i, struct spool *sp,
		      char *buf)
{
	struct tree_entry *e = &t->e[i];
	struct tar_meta m = {0};
	int rc;

	m.path = e->len ? e->path : ".";
	m.len = e->len ? e->len : 1;
	m.mode = e->a.mode & 07777;
	m.uid = e->a.uid;
	m.gid = e->a.gid;
	m.mtime_ns = e->a.mtime_ns;
	m.atime_ns = e->a.atime_ns;
	m.has_atime = e->a.has_atime;
	m.lino = e->a.lino;
	m.cls = e->a.cls ? e->a.cls : 's';
	if (e->type != STORE_WHITEOUT && e->type != STORE_DIR && e->first != i) {
		m.type = '1'; /* a further name of an inode the archive holds already */
		m.linkname = t->e[e->first].path;
		return tar_write_header(out, &m);
	}
	switch (e->type) {
	case STORE_WHITEOUT:
		m.type = '0';
		m.whiteout = true;
		m.lino = 0;
		return tar_write_header(out, &m);
	case STORE_DIR:
		m.type = '5';
		m.opaque = e->a.opaque;
		return tar_write_header(out, &m);
	case STORE_SYMLINK:
		m.type = '2';
		m.linkname = e->a.target ? e->a.target : "";
		return tar_write_header(out, &m);
	case STORE_FIFO:
	case STORE_SOCK:
	case STORE_CHR:
	case STORE_BLK:
		m.type = special_type(e->type);
		m.socket = e->type == STORE_SOCK;
		m.rdev = e->a.rdev;
		return tar_write_header(out, &m);
	}
	spool_reset(sp);
	rc = tree_read(s, e, buf, spool_reset, spool_sink, sp);
	if (rc < 0)
		return rc;
	m.type = '0';
	m.size = sp->size;
	m.mtime_ns = e->a.mtime_ns; /* a re-read took a newer version */
	m.atime_ns = e->a.atime_ns;
	m.has_atime = e->a.has_atime;
	m.mode = e->a.mode & 07777;
	rc = tar_write_header(out, &m);
	if (!rc)
		rc = spool_copy(sp, out, buf);
	return rc ? rc : tar_write_pad(out, m.size);
}

int dump_main(int argc, char **argv)
{
	struct dump_opts o = {0};
	struct spool sp = {0};
	struct progress prog;
	struct store *s;
	struct tree t;
	uint64_t failed = 0;
	char *buf = malloc(STORE_CHUNK_SIZE), b[32];
	FILE *out;
	double secs;
	int rc = 0;

	const struct admin_cmdline cl = {
	    .usage = "usage: pressfs dump FILE|- --store URL [--site NAME] [--force]\n"
		     "Writes the site's store into one tar archive (FILE; - is stdout); --force\n"
		     "replaces an existing FILE.\n",
	    .opts = admin_force_opts,
	    .nargs = 1,
	    .on_opt = admin_set_flag,
	    .ctx = &o.force};
	int arg = admin_parse(argc, argv, &cl, &o.t);

	if (arg < 0) {
		free(buf);
		return arg == ADMIN_HELP ? 0 : 2;
	}
	o.file = argv[arg];
	if (!strcmp(o.file, "-")) {
		out = stdout;
	} else {
		int fd = open(o.file, O_WRONLY | O_CREAT | O_CLOEXEC | (o.force ? O_TRUNC : O_EXCL),
			      0600);

		out = fd < 0 ? NULL : fdopen(fd, "w");
		if (!out) {
			fprintf(stderr, "pressfs dump: %s: %s\n", o.file, strerror(errno));
			return 2;
		}
	}
	if (admin_open(&o.t, "dump", &s) < 0)
		return 1;
	if (tree_walk(s, STORE_ROOT_INO, &t) < 0)
		return 1;
	admin_catch_signals();
	progress_start(&prog, "dump", t.files, t.bytes);
	rc = tar_write_global(out, o.t.site ? o.t.site : "default");
	for (size_t i = 0; !rc && i < t.n && !admin_interrupted; i++) {
		struct tree_entry *e = &t.e[i];
		int r;

		if (e->type == TREE_GONE || (e->type == STORE_FILE && e->a.cls == 'c'))
			continue;
		r = buf ? dump_entry(s, out, &t, i, &sp, buf) : -ENOMEM;
		if (r == -ENOENT) { /* removed after it was listed */
			t.gone++;
		} else if (r == -EIO && ferror(out)) {
			rc = r;
		} else if (r < 0) {
			fprintf(stderr, "pressfs dump: failed: /");
			admin_quote(stderr, e->path, e->len);
			fprintf(stderr, ": %s\n", strerror(-r));
			failed++;
		}
		if (e->type == STORE_FILE && e->first == i)
			progress_add(&prog, 1, e->a.size);
	}
	if (!rc)
		rc = tar_write_end(out);
	secs = progress_stop(&prog);
	if (out != stdout && fclose(out) != 0)
		rc = -EIO;
	if (rc < 0)
		fprintf(stderr, "pressfs dump: writing %s: %s\n", o.file, strerror(-rc));
	fprintf(out == stdout ? stderr : stdout,
		"dumped:            %" PRIu64 " files, %s in %.1f s; %" PRIu64
		" hard links, %" PRIu64 " special files, %" PRIu64 " whiteouts, %" PRIu64
		" cache-class files left out, %" PRIu64
		" removed meanwhile\nfailed:            %" PRIu64 "\n",
		t.files - failed, admin_bytes(b, sizeof(b), t.bytes), secs, t.links, t.specials,
		t.whiteouts, t.cache_files, t.gone, failed);
	spool_reset(&sp);
	free(sp.mem);
	free(buf);
	tree_free(&t);
	store_close(s);
	if (admin_interrupted)
		return 130;
	return rc < 0 || failed ? 1 : 0;
}
