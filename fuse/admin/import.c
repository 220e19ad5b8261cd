/* import.c - `pressfs import`: copy an existing tree (uploads, or a whole wp-content) into a
 * site's store as the policy classes it, without a mount: parallel, resumable, verified. */
#include <dirent.h>
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
#include "admin/import.h"
#include "path.h"
#include "policy.h"

static int add_entry(struct import *im, const char *rel, size_t len, long parent, char type,
		     const struct stat *st)
{
	struct entry *e;

	if (im->n == im->cap) {
		size_t cap = im->cap ? im->cap * 2 : 1024;
		struct entry *ne = realloc(im->e, cap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		im->e = ne;
		im->cap = cap;
	}
	e = &im->e[im->n];
	memset(e, 0, sizeof(*e));
	e->rel = malloc(len + 1);
	if (!e->rel)
		return -ENOMEM;
	memcpy(e->rel, rel, len);
	e->rel[len] = 0;
	e->rel_len = len;
	e->name_off = len ? (size_t)(strrchr(e->rel, '/') - e->rel) + 1 : 0;
	e->parent = parent;
	e->type = type;
	e->st = *st;
	im->n++;
	return 0;
}

long import_site_path(const struct import *im, const struct entry *e, char *buf, size_t size)
{
	size_t pl = im->prefix_len == 1 ? 0 : im->prefix_len;

	if (pl + e->rel_len + 1 > size)
		return -ENAMETOOLONG;
	memcpy(buf, im->prefix, pl);
	memcpy(buf + pl, e->rel, e->rel_len + 1);
	if (pl + e->rel_len == 0) {
		strcpy(buf, "/");
		return 1;
	}
	return (long)(pl + e->rel_len);
}

void import_src_path(const struct import *im, const struct entry *e, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s", im->src, e->rel);
}

int import_dirent_cmp(const void *a, const void *b)
{
	const struct store_dirent *x = a, *y = b;
	size_t n = x->namelen < y->namelen ? x->namelen : y->namelen;
	int c = memcmp(x->name, y->name, n);

	return c ? c : (x->namelen > y->namelen) - (x->namelen < y->namelen);
}

const struct store_dirent *import_dir_has(const struct entry *d, const char *name, size_t len)
{
	struct store_dirent key = {.name = (char *)name, .namelen = len};

	return d->have ? bsearch(&key, d->have, d->nhave, sizeof(key), import_dirent_cmp) : NULL;
}

/* Walk directory entry DIRI (already added) depth first, pre-order: parents come first. */
static int walk(struct import *im, size_t diri, char *path, size_t plen)
{
	char full[8192];
	DIR *d;
	struct dirent *de;
	int rc = 0;

	snprintf(full, sizeof(full), "%s%.*s", im->src, (int)plen, path);
	d = opendir(full);
	if (!d) {
		im->e[diri].state = S_FAILED;
		im->e[diri].err = -errno;
		im->e[diri].what = "opendir";
		return 0;
	}
	while (!rc && (de = readdir(d))) {
		size_t nl = strlen(de->d_name), idx = im->n;
		struct stat st;
		char type;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (plen + 1 + nl >= 4096) {
			fprintf(stderr, "pressfs import: path too long below %s, skipped\n", full);
			continue;
		}
		path[plen] = '/';
		memcpy(path + plen + 1, de->d_name, nl + 1);
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			memset(&st, 0, sizeof(st));
		type = S_ISDIR(st.st_mode)   ? STORE_DIR
		       : S_ISREG(st.st_mode) ? STORE_FILE
		       : S_ISLNK(st.st_mode) ? STORE_SYMLINK
					     : 0;
		if (!type) {
			fprintf(stderr, "pressfs import: ");
			admin_quote(stderr, path, plen + 1 + nl);
			fprintf(stderr, ": not a file, directory or symlink, skipped\n");
			continue;
		}
		rc = add_entry(im, path, plen + 1 + nl, (long)diri, type, &st);
		if (!rc && type == STORE_DIR)
			rc = walk(im, idx, path, plen + 1 + nl);
	}
	closedir(d);
	path[plen] = 0;
	return rc;
}

/* Judge every entry by the policy, mark the directories that must exist, count the work. */
static void judge(struct import *im)
{
	char sp[8192];

	for (size_t i = 0; i < im->n; i++) {
		struct entry *e = &im->e[i];
		long len = import_site_path(im, e, sp, sizeof(sp));
		enum policy_class c;

		if (len < 0) {
			e->state = S_FAILED;
			e->err = (int)len;
			e->what = "path";
			continue;
		}
		e->rule = policy_match(im->policy, sp, (size_t)len);
		c = e->rule ? e->rule->cls : POLICY_NONE;
		if (e->state == S_FAILED)
			continue;
		if (c == POLICY_SHARED || (c == POLICY_CACHE && im->cache_shared))
			e->state = S_TODO;
		else
			e->state = S_POLICY;
		/* wall 1, as on a mount: a code name the rule grants no code is refused (the
		 * store side checks the directory is still where it was judged) */
		if (e->state == S_TODO && e->type != STORE_DIR &&
		    policy_judge_write(im->policy, sp, (size_t)len, NULL) < 0) {
			e->state = S_POLICY;
			e->code = true;
		}
		if (e->type == STORE_DIR) {
			/* A directory is made when something below it is imported, or when
			 * the policy takes writes at its own path (an empty upload month). */
			if (e->state == S_POLICY)
				continue;
		} else if (e->state != S_TODO) {
			continue;
		} else {
			im->files++;
			im->bytes += (uint64_t)e->st.st_size;
		}
		for (long p = e->type == STORE_DIR ? (long)i : e->parent;
		     p >= 0 && !im->e[p].needed; p = im->e[p].parent)
			im->e[p].needed = true;
	}
}

/* Make PREFIX's directories and every needed directory in the store (copy-ups: an existing
 * one is kept), and read what each already holds, for resuming.  One thread: directories
 * are few next to files, and each needs its parent first. */
static int make_dirs(struct import *im)
{
	uint64_t ino = STORE_ROOT_INO;
	const char *p = im->prefix + 1;
	struct stat *top = &im->e[0].st;
	int rc;

	while (*p) {
		const char *end = strchr(p, '/');
		size_t nl = end ? (size_t)(end - p) : strlen(p);

		rc = store_copyup_dir(
		    im->store, ino, p, nl, S_IFDIR | (top->st_mode & 07777), top->st_uid,
		    top->st_gid, (int64_t)top->st_mtim.tv_sec * 1000000000 + top->st_mtim.tv_nsec,
		    &ino);
		if (rc < 0) {
			fprintf(stderr, "pressfs import: cannot make %.*s in the store: %s\n",
				(int)(p + nl - im->prefix), im->prefix, strerror(-rc));
			return rc;
		}
		p += nl + (end ? 1 : 0);
	}
	im->e[0].ino = ino;
	for (size_t i = 0; i < im->n; i++) {
		struct entry *e = &im->e[i];

		if (e->type != STORE_DIR || !e->needed || e->state == S_FAILED)
			continue;
		if (i > 0) {
			struct entry *pe = &im->e[e->parent];

			if (!pe->ino) {
				e->state = S_FAILED;
				e->err = -ENOENT;
				e->what = "parent directory";
				continue;
			}
			rc = store_copyup_dir(
			    im->store, pe->ino, e->rel + e->name_off, e->rel_len - e->name_off,
			    S_IFDIR | (e->st.st_mode & 07777), e->st.st_uid, e->st.st_gid,
			    (int64_t)e->st.st_mtim.tv_sec * 1000000000 + e->st.st_mtim.tv_nsec,
			    &e->ino);
			if (rc < 0) {
				e->state = S_FAILED;
				e->err = rc;
				e->what = "mkdir";
				continue;
			}
		}
		rc = store_readdir(im->store, e->ino, &e->have, &e->nhave);
		if (rc < 0) {
			e->state = S_FAILED;
			e->err = rc;
			e->what = "readdir";
			e->ino = 0;
			continue;
		}
		qsort(e->have, e->nhave, sizeof(*e->have), import_dirent_cmp);
		if (e->state == S_TODO)
			e->state = S_DONE;
	}
	return 0;
}

static int by_dir(const void *a, const void *b, void *arg)
{
	const struct entry *e = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	if (e[x].parent != e[y].parent)
		return e[x].parent < e[y].parent ? -1 : 1;
	return (x > y) - (x < y);
}

int import_plan(struct import *im)
{
	size_t n = 0, bytes = 0;
	bool open_alone = false; /* the last job holds a large file: nothing joins it */

	im->order = malloc((im->n ? im->n : 1) * sizeof(*im->order));
	im->job = malloc((im->n ? im->n : 1) * sizeof(*im->job));
	if (!im->order || !im->job)
		return -ENOMEM;
	for (size_t i = 0; i < im->n; i++)
		if (im->e[i].type != STORE_DIR && im->e[i].state == S_TODO)
			im->order[n++] = i;
	qsort_r(im->order, n, sizeof(*im->order), by_dir, im->e);
	im->njobs = 0;
	for (size_t i = 0; i < n; i++) {
		const struct entry *e = &im->e[im->order[i]];
		struct job *j = im->njobs ? &im->job[im->njobs - 1] : NULL;
		size_t size = (size_t)e->st.st_size;
		bool alone = size > BATCH_BYTES / 2;

		if (!j || alone || open_alone || j->n == BATCH_FILES ||
		    bytes + size > BATCH_BYTES || im->e[im->order[j->first]].parent != e->parent) {
			j = &im->job[im->njobs++];
			*j = (struct job){.first = i};
			bytes = 0;
			open_alone = alone;
		}
		j->n++;
		bytes += size;
	}
	return 0;
}

static void run_workers(struct import *im, void *(*fn)(void *))
{
	pthread_t t[64];
	unsigned n = im->jobs > 64 ? 64 : im->jobs;

	atomic_store(&im->next, 0);
	for (unsigned i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, fn, im)) {
			n = i;
			break;
		}
	if (n == 0)
		fn(im);
	for (unsigned i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

/* Directories get their source mtime last, deepest first: every entry made in them moved
 * it. */
static void set_dir_times(struct import *im)
{
	for (size_t i = im->n; i-- > 0;) {
		struct entry *e = &im->e[i];
		struct store_attr in = {0}, out = {0};
		int rc;

		if (e->type != STORE_DIR || !e->ino || e->state == S_FAILED)
			continue;
		in.mtime_ns = mtime_ns(&e->st);
		rc = store_setattr(im->store, e->ino, STORE_SET_MTIME, &in, &out);
		store_attr_release(&out);
		if (rc < 0)
			fail(e, rc, "set directory mtime");
	}
}

/* Is entry I skipped, for rule R (and a code name, CODE)? */
static bool skipped_as(const struct import *im, size_t i, const struct policy_rule *r, bool code)
{
	const struct entry *e = &im->e[i];

	return e->state == S_POLICY && e->type != STORE_DIR && e->rule == r && e->code == code;
}

/* The skipped entries, grouped by the rule that decided (NULL: no rule), a code name its
 * writable rule grants no code apart. */
static void print_skipped(struct import *im, FILE *f)
{
	char sp[8192];
	bool *shown = calloc(im->n, 1);

	for (size_t i = 0; shown && i < im->n; i++) {
		const struct policy_rule *r = im->e[i].rule;
		bool code = im->e[i].code;
		size_t count = 0, ex = 0;

		if (shown[i] || !skipped_as(im, i, r, code))
			continue;
		for (size_t j = i; j < im->n; j++)
			if (!shown[j] && skipped_as(im, j, r, code)) {
				shown[j] = true;
				count++;
			}
		if (r)
			fprintf(
			    f, "  %-6s line %u: %s  %zu %s%s\n", policy_class_name(r->cls), r->line,
			    r->pattern, count, count == 1 ? "entry" : "entries",
			    code ? " (code names: the rule grants no code)"
			    : r->cls == POLICY_CACHE
				? " (cache class: plugins regenerate it; --cache=shared imports it)"
				: "");
		else
			fprintf(f, "  none   no rule (read-only)  %zu %s\n", count,
				count == 1 ? "entry" : "entries");
		for (size_t j = i; j < im->n && ex < 3; j++)
			if (skipped_as(im, j, r, code)) {
				long l = import_site_path(im, &im->e[j], sp, sizeof(sp));

				fputs("      e.g. ", f);
				admin_quote(f, sp, l > 0 ? (size_t)l : 0);
				fputc('\n', f);
				ex++;
			}
	}
	free(shown);
}

static int summary(struct import *im, double secs, bool verified)
{
	uint64_t imported = 0, present = 0, policy = 0, failed = 0, ok = 0, dirs = 0, bytes = 0;
	char b[32], b2[32], sp[8192];

	for (size_t i = 0; i < im->n; i++) {
		struct entry *e = &im->e[i];

		if (e->state == S_FAILED) {
			long l = import_site_path(im, e, sp, sizeof(sp));

			failed++;
			fputs("pressfs import: failed: ", stderr);
			admin_quote(stderr, sp, l > 0 ? (size_t)l : 0);
			fprintf(stderr, ": %s: %s\n", e->what, strerror(-e->err));
			continue;
		}
		if (e->type == STORE_DIR) {
			dirs += e->ino != 0;
			continue;
		}
		policy += e->state == S_POLICY;
		ok += e->state == S_VERIFIED;
		if (e->present) {
			present++;
		} else if (e->state == S_DONE || e->state == S_VERIFIED) {
			imported++;
			bytes += (uint64_t)e->st.st_size;
		}
	}
	printf("imported:          %" PRIu64 " files, %s in %.1f s (%.0f files/s, %s/s)\n",
	       imported, admin_bytes(b, sizeof(b), bytes), secs,
	       secs > 0 ? (double)imported / secs : 0.0,
	       admin_bytes(b2, sizeof(b2), secs > 0 ? (uint64_t)((double)bytes / secs) : 0));
	printf("already there:     %" PRIu64 " files (same size, mode, owner and mtime)\n",
	       present);
	printf("directories:       %" PRIu64 "\n", dirs);
	printf("skipped by policy: %" PRIu64 "\n", policy);
	print_skipped(im, stdout);
	printf("failed:            %" PRIu64 "\n", failed);
	if (verified)
		printf("verified:          %" PRIu64 " files read back from the store, identical\n",
		       ok);
	return failed ? 1 : 0;
}

static const char import_usage[] =
    "usage: pressfs import SRC --store URL --policy FILE [--site NAME]\n"
    "                      [--prefix /wp-content/uploads] [--jobs N] [--cache=skip|shared]\n"
    "                      [--timeout MS] [--no-verify]\n"
    "Copies the tree SRC into the site's store at PREFIX, as the policy classes each path.\n"
    "Run it again after an interruption: what is already there is kept.\n";

struct import_args {
	struct import *im;
	const char *policy, *prefix;
};

static int import_opt(void *ctx, int c, const char *arg)
{
	struct import_args *a = ctx;
	char *end;
	unsigned long n;

	switch (c) {
	case 'p':
		a->policy = arg;
		return 0;
	case 'P':
		a->prefix = arg;
		return 0;
	case 'j':
		errno = 0;
		n = strtoul(arg, &end, 10);
		if (errno || end == arg || *end || n < 1 || n > 256) {
			fprintf(stderr, "pressfs import: --jobs %s: expected 1-256\n", arg);
			return -1;
		}
		a->im->jobs = (unsigned)n;
		return 0;
	case 'n':
		a->im->verify = false;
		return 0;
	default: /* 'c' */
		if (strcmp(arg, "skip") && strcmp(arg, "shared")) {
			fprintf(stderr, "pressfs import: --cache is skip or shared\n");
			return -1;
		}
		a->im->cache_shared = !strcmp(arg, "shared");
		return 0;
	}
}

/* `pressfs import`: options, the scan, the workers, the verification and the summary, in the
 * order they run.  One piece: every step reads the counters the one before filled. */
int import_main(int argc, char **argv)
{
	static const struct option opts[] = {{"policy", 1, NULL, 'p'},	  {"prefix", 1, NULL, 'P'},
					     {"jobs", 1, NULL, 'j'},	  {"cache", 1, NULL, 'c'},
					     {"no-verify", 0, NULL, 'n'}, {NULL, 0, NULL, 0}};
	struct admin_target t = {0};
	struct import im = {.jobs = 8, .verify = true};
	struct policy_error perr;
	const char *policy, *prefix;
	char msg[512], path[4096] = "";
	struct stat st;
	double secs;
	struct import_args a = {.im = &im, .prefix = "/wp-content/uploads"};
	const struct admin_cmdline cl = {.usage = import_usage,
					 .shortopts = "j:",
					 .opts = opts,
					 .nargs = 1,
					 .on_opt = import_opt,
					 .ctx = &a};
	int c, rc;

	c = admin_parse(argc, argv, &cl, &t);
	if (c < 0)
		return c == ADMIN_HELP ? 0 : 2;
	if (!a.policy) {
		fprintf(stderr, "pressfs import: --policy FILE is required\n%s", import_usage);
		return 2;
	}
	policy = a.policy;
	prefix = a.prefix;
	im.src = argv[c];
	if (stat(im.src, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "pressfs import: %s: not a directory\n", im.src);
		return 2;
	}
	rc = (int)path_normalize(prefix, strlen(prefix), im.prefix, sizeof(im.prefix));
	if (rc < 0 || prefix[0] != '/') {
		fprintf(stderr, "pressfs import: --prefix %s: not an absolute path in the site\n",
			prefix);
		return 2;
	}
	im.prefix_len = (size_t)rc;
	if (policy_load(policy, &im.policy, &perr) < 0) {
		policy_error_format(&perr, msg, sizeof(msg));
		fprintf(stderr, "pressfs import: %s\n", msg);
		return 2;
	}
	if (admin_open(&t, "import", &im.store) < 0)
		return 1;
	admin_catch_signals();
	rc = add_entry(&im, "", 0, -1, STORE_DIR, &st);
	if (!rc)
		rc = walk(&im, 0, path, 0);
	if (rc < 0) {
		fprintf(stderr, "pressfs import: scanning %s: %s\n", im.src, strerror(-rc));
		return 1;
	}
	judge(&im);
	if (im.e[0].needed && make_dirs(&im) < 0)
		return 1;
	if (import_plan(&im) < 0) {
		fprintf(stderr, "pressfs import: %s\n", strerror(ENOMEM));
		return 1;
	}
	progress_start(&im.prog, "import", im.files, im.bytes);
	run_workers(&im, import_worker);
	secs = progress_stop(&im.prog);
	if (!admin_interrupted) {
		set_dir_times(&im);
		if (im.verify) {
			progress_start(&im.prog, "verify", im.files, im.bytes);
			run_workers(&im, import_verify_worker);
			progress_stop(&im.prog);
		}
	}
	rc = summary(&im, secs, im.verify && !admin_interrupted);
	if (admin_interrupted) {
		printf("interrupted:       run the same command again to go on\n");
		rc = 130;
	}
	for (size_t i = 0; i < im.n; i++) {
		free(im.e[i].rel);
		store_dirents_free(im.e[i].have, im.e[i].nhave);
	}
	free(im.e);
	free(im.order);
	free(im.job);
	store_close(im.store);
	policy_free(im.policy);
	return rc;
}
