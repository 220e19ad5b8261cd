/* fsck.c - `pressfs fsck`: check a site's store for damage (orphan chunks and inodes, dangling
 * entries, missing chunks, wrong sizes, link counts that are not the entries naming an inode,
 * leftovers of interrupted writes, entries the policy refuses) and, with --repair, fix what can be
 * fixed without losing a committed file.  Safe while nodes are mounted: what looks orphaned is
 * checked again after a second walk, and is only given an expiry (grace), never deleted outright.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "admin/common.h"
#include "admin/fsck_redis.h"
#include "admin/tree.h"
#include "policy.h"

#define GRACE_MS 60000

/* A set of 64-bit ids (open addressing; 0 is never an id). */
struct idset {
	uint64_t *v;
	size_t cap, n;
};

static int idset_add(struct idset *s, uint64_t id)
{
	if (2 * (s->n + 1) > s->cap) {
		struct idset g = {.cap = s->cap ? s->cap * 2 : 1024};

		g.v = calloc(g.cap, sizeof(*g.v));
		if (!g.v)
			return -ENOMEM;
		for (size_t i = 0; i < s->cap; i++)
			if (s->v[i])
				idset_add(&g, s->v[i]);
		free(s->v);
		*s = g;
	}
	for (size_t i = (size_t)(id * 0x9e3779b97f4a7c15ull) & (s->cap - 1);;
	     i = (i + 1) & (s->cap - 1)) {
		if (s->v[i] == id)
			return 0;
		if (!s->v[i]) {
			s->v[i] = id;
			s->n++;
			return 1;
		}
	}
}

static bool idset_has(const struct idset *s, uint64_t id)
{
	if (!s->cap)
		return false;
	for (size_t i = (size_t)(id * 0x9e3779b97f4a7c15ull) & (s->cap - 1);;
	     i = (i + 1) & (s->cap - 1)) {
		if (s->v[i] == id)
			return true;
		if (!s->v[i])
			return false;
	}
}

struct fsck {
	struct store *s;
	struct raw *raw;
	struct policy *policy;
	bool repair;
	struct idset ikeys, ckeys, dkeys; /* what SCAN saw */
	struct idset inodes, chunks;	  /* what the tree reaches */
	uint64_t found[9], fixed[9];
};

enum kind {
	K_ORPHAN_CHUNK,
	K_ORPHAN_INODE,
	K_ORPHAN_DIR,
	K_DANGLING,
	K_MISSING,
	K_SIZE,
	K_POLICY,
	K_NLINK,
	K_PENDING
};
static const char *const kind_name[] = {"orphan chunk",	  "orphan inode",     "orphan directory",
					"dangling entry", "missing chunk",    "wrong size",
					"policy refuses", "wrong link count", "pending chunks"};

/* One line of the report: KIND, the path (or none) and what is wrong, e.g. "c:%" with A. */
static void finding(struct fsck *f, enum kind k, const char *path, size_t len, const char *what,
		    uint64_t a, const char *rest, bool fixed)
{
	f->found[k]++;
	f->fixed[k] += fixed;
	printf("%-17s ", kind_name[k]);
	if (path) {
		putchar('/');
		admin_quote(stdout, path, len);
		putchar(' ');
	}
	printf("%s%" PRIu64 "%s%s\n", what, a, rest, fixed ? "  [repaired]" : "");
}

static int on_key(void *arg, char kind, uint64_t id)
{
	struct fsck *f = arg;

	if (kind == 'i')
		return idset_add(&f->ikeys, id) < 0 ? -ENOMEM : 0;
	if (kind == 'c')
		return idset_add(&f->ckeys, id) < 0 ? -ENOMEM : 0;
	if (kind == 'd')
		return idset_add(&f->dkeys, id) < 0 ? -ENOMEM : 0;
	return 0;
}

/* What the tree references: its inodes and (shared-class) chunks. */
static int reach(struct tree *t, struct idset *inodes, struct idset *chunks)
{
	for (size_t i = 0; i < t->n; i++) {
		struct tree_entry *e = &t->e[i];

		if (e->type == STORE_WHITEOUT || e->type == TREE_GONE)
			continue;
		if (idset_add(inodes, e->a.ino) < 0)
			return -ENOMEM;
		for (uint32_t c = 0; e->type == STORE_FILE && c < e->a.nchunks; c++)
			if (e->a.chunks[c] && idset_add(chunks, e->a.chunks[c]) < 0)
				return -ENOMEM;
	}
	return 0;
}

/* A file whose chunk list is longer than its size needs: drop the tail, with a commit of the
 * same size and mtime, only while the file is still at the version we judged. */
static bool trim(struct fsck *f, struct tree_entry *e, uint64_t need)
{
	struct store_attr now = {0}, out = {0};
	bool ok = false;

	if (store_getattr(f->s, e->a.ino, &now) == 0 && now.version == e->a.version)
		ok = store_commit(f->s, e->a.ino, e->a.size, need, e->a.chunks, e->a.mtime_ns,
				  &out) == 0;
	store_attr_release(&now);
	store_attr_release(&out);
	return ok;
}

/* The checks of one entry of the tree. */
static void check_entry(struct fsck *f, struct tree_entry *e)
{
	char path[8192];
	size_t plen = (size_t)snprintf(path, sizeof(path), "/%s", e->path);

	if (e->type == TREE_GONE) {
		/* Gone between readdir and getattr, or dangling: look again. */
		struct store_attr a = {0};
		const char *name = strrchr(e->path, '/');
		size_t off = name ? (size_t)(name - e->path) + 1 : 0;
		int t = store_lookup(f->s, e->parent, e->path + off, e->len - off, &a);
		uint64_t ino = a.ino;

		store_attr_release(&a);
		a.ino = ino;
		/* the name is still there (whatever lookup made of it) and its inode is not */
		if (t != -ENOENT && t != -ESTALE && (t < 0 || a.ino == e->ref) &&
		    store_getattr(f->s, e->ref, &a) == -ENOENT) {
			bool fixed = f->repair && raw_drop_entry(f->raw, e->parent, e->path + off,
								 e->len - off) == 0;

			finding(f, K_DANGLING, e->path, e->len, "names inode ", e->ref,
				", which does not exist", fixed);
		}
		return;
	}
	if (e->type == STORE_WHITEOUT)
		return;
	if (f->policy && e->type != STORE_DIR) {
		const struct policy_rule *r = policy_match(f->policy, path, plen);

		if (!r || !policy_class_writable(r->cls) || r->cls == POLICY_LOCAL) {
			printf("%-17s /", kind_name[K_POLICY]);
			admin_quote(stdout, e->path, e->len);
			printf(" %s (%s%s%u)\n", r ? policy_class_name(r->cls) : "no rule",
			       r ? r->pattern : "", r ? " line " : "", r ? r->line : 0);
			f->found[K_POLICY]++;
		}
	}
	if (e->type == STORE_SYMLINK && (!e->a.target || strlen(e->a.target) != e->a.size))
		finding(f, K_SIZE, e->path, e->len, "symlink size ", e->a.size,
			" is not its target's", false);
	if (e->type != STORE_FILE || e->a.cls == 'c')
		return;
	{
		uint64_t need = (e->a.size + STORE_CHUNK_SIZE - 1) / STORE_CHUNK_SIZE;

		if (e->a.nchunks > need)
			finding(f, K_SIZE, e->path, e->len, "lists ", e->a.nchunks - need,
				" chunks more than its size needs", f->repair && trim(f, e, need));
		for (uint32_t c = 0; c < e->a.nchunks && c < need; c++)
			if (e->a.chunks[c] && !idset_has(&f->ckeys, e->a.chunks[c]) &&
			    raw_pttl(f->raw, 'c', e->a.chunks[c]) == -2)
				finding(f, K_MISSING, e->path, e->len, "chunk ", e->a.chunks[c],
					" is gone: this part of the file is lost", false);
	}
}

/* Keys the tree does not reach.  Candidates from the first walk are checked against a
 * second walk (a file committed meanwhile takes its chunks) and their TTL read again. */
static int orphans(struct fsck *f)
{
	struct idset inodes2 = {0}, chunks2 = {0};
	uint64_t pending = 0;
	struct tree t2;
	int rc = tree_walk(f->s, STORE_ROOT_INO, &t2);

	if (!rc)
		rc = reach(&t2, &inodes2, &chunks2);
	tree_free(&t2);
	for (size_t i = 0; !rc && i < f->ckeys.cap; i++) {
		uint64_t id = f->ckeys.v[i];
		long long ttl;

		if (!id || idset_has(&f->chunks, id) || idset_has(&chunks2, id))
			continue;
		ttl = raw_pttl(f->raw, 'c', id);
		if (ttl > 0)
			pending++;
		else if (ttl == -1)
			finding(f, K_ORPHAN_CHUNK, NULL, 0, "c:", id, " belongs to no file",
				f->repair && raw_expire(f->raw, 'c', id, GRACE_MS) == 0);
	}
	for (size_t i = 0; !rc && i < f->ikeys.cap; i++) {
		uint64_t id = f->ikeys.v[i];

		if (!id || id == STORE_ROOT_INO || idset_has(&f->inodes, id) ||
		    idset_has(&inodes2, id) || raw_pttl(f->raw, 'i', id) != -1 ||
		    raw_inode_unlinked(f->raw, id) != 0)
			continue;
		finding(f, K_ORPHAN_INODE, NULL, 0, "i:", id, " has no directory entry",
			f->repair && raw_unlink_inode(f->raw, id, GRACE_MS) == 0);
	}
	for (size_t i = 0; !rc && i < f->dkeys.cap; i++) {
		uint64_t id = f->dkeys.v[i];

		if (!id || idset_has(&f->inodes, id) || idset_has(&inodes2, id) ||
		    raw_pttl(f->raw, 'i', id) != -2 || raw_pttl(f->raw, 'd', id) != -1)
			continue;
		finding(f, K_ORPHAN_DIR, NULL, 0, "d:", id, " has no inode",
			f->repair && raw_expire(f->raw, 'd', id, GRACE_MS) == 0);
	}
	if (pending) {
		f->found[K_PENDING] = pending;
		printf("%-17s %" PRIu64
		       " chunks of writes in progress or interrupted, or of replaced "
		       "versions in their grace: Redis reclaims them when they expire\n",
		       kind_name[K_PENDING], pending);
	}
	free(inodes2.v);
	free(chunks2.v);
	return rc;
}

/* Whether every name of the inode of first entry E saw one version of it: then VERSION. */
static bool one_version(const struct tree *t, const struct tree_entry *e, uint64_t *version)
{
	size_t first = (size_t)(e - t->e);

	for (size_t i = first; i < t->n; i++)
		if (t->e[i].type != TREE_GONE && t->e[i].type != STORE_WHITEOUT &&
		    t->e[i].type != STORE_DIR && t->e[i].first == first &&
		    t->e[i].a.version != e->a.version)
			return false;
	*version = e->a.version;
	return true;
}

/* Each inode's nlink against the entries of the walk that name it.  Too low, removing one
 * name would free the inode under the others; too high, it is never freed.  A repair sets
 * the count found, only when a second walk found the same names and the inode is still at the
 * version every name saw in the first walk (checked again in the script that sets it): then no
 * name was added, moved or removed from before the second walk began until the repair, and
 * the second walk's count is exact. */
static int check_links(struct fsck *f, struct tree *t)
{
	struct tree t2 = {0};
	bool walked = false;
	int rc = 0;

	for (size_t i = 0; !rc && i < t->n; i++) {
		struct tree_entry *e = &t->e[i];
		const struct tree_entry *e2;
		uint64_t version;
		bool fixed = false;
		char rest[96];

		if (e->type == TREE_GONE || e->type == STORE_WHITEOUT || e->type == STORE_DIR ||
		    e->first != i || e->a.nlink == e->names || e->a.unlinked)
			continue;
		if (f->repair && one_version(t, e, &version)) {
			if (!walked) {
				rc = tree_walk(f->s, STORE_ROOT_INO, &t2);
				walked = !rc;
			}
			e2 = walked ? tree_first(&t2, e->a.ino) : NULL;
			fixed = e2 && e2->names == e->names &&
				raw_set_nlink(f->raw, e->a.ino, version, e->names) == 1;
		}
		snprintf(rest, sizeof(rest), ", but %u entries name inode %" PRIu64, e->names,
			 e->a.ino);
		finding(f, K_NLINK, e->path, e->len, "nlink ", e->a.nlink, rest, fixed);
	}
	tree_free(&t2);
	return rc;
}

/* Each store directory's kept link count against its entries.  Compared in the store, in
 * one script per directory, not against the walk: a peer that makes or removes a directory
 * while fsck runs moves the count and the entries together. */
static int check_dir_links(struct fsck *f, struct tree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		struct tree_entry *e = &t->e[i];
		uint32_t stored = 0, counted = 0;
		char rest[96];
		int v;

		if (e->type != STORE_DIR || !e->a.nlink)
			continue;
		v = raw_dir_nlink(f->raw, e->a.ino, f->repair, &stored, &counted);
		if (v < 0)
			return v;
		if (!v)
			continue;
		snprintf(rest, sizeof(rest), ", but directory %" PRIu64 " has %u subdirectories",
			 e->a.ino, counted - 2);
		finding(f, K_NLINK, e->path, e->len, "nlink ", stored, rest, f->repair);
	}
	return 0;
}

static int fsck_opt(void *ctx, int c, const char *arg)
{
	struct fsck *f = ctx;
	struct policy_error perr;
	char msg[512];

	if (c == 'r') {
		f->repair = true;
		return 0;
	}
	if (policy_load(arg, &f->policy, &perr) < 0) { /* --policy */
		policy_error_format(&perr, msg, sizeof(msg));
		fprintf(stderr, "pressfs fsck: %s\n", msg);
		return -1;
	}
	return 0;
}

/* `pressfs fsck`: options, one walk, the report, then (with --repair) the second walk that
 * confirms each orphan before touching it.  One piece: the steps share their counters. */
int fsck_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"policy", 1, NULL, 'p'}, {"repair", 0, NULL, 'r'}, {NULL, 0, NULL, 0}};
	static const char usage[] =
	    "usage: pressfs fsck --store URL [--site NAME] [--policy FILE] [--repair]\n"
	    "Checks the site's store; --repair fixes what can be fixed without losing a file.\n";
	struct admin_target t = {0};
	struct fsck f = {0};
	struct tree tr;
	uint64_t bad = 0, left = 0;
	const struct admin_cmdline cl = {
	    .usage = usage, .opts = opts, .nargs = 0, .on_opt = fsck_opt, .ctx = &f};
	int c, rc;

	c = admin_parse(argc, argv, &cl, &t);
	if (c < 0)
		return c == ADMIN_HELP ? 0 : 2;
	if (admin_open(&t, "fsck", &f.s) < 0)
		return 1;
	rc = raw_open(f.s, t.site ? t.site : "default", &f.raw);
	if (!rc)
		rc =
		    raw_scan(f.raw, on_key, &f); /* keys first: what the walk adds later is newer */
	if (!rc)
		rc = tree_walk(f.s, STORE_ROOT_INO, &tr);
	if (rc < 0) {
		fprintf(stderr, "pressfs fsck: reading the store: %s\n", strerror(-rc));
		return 1;
	}
	rc = reach(&tr, &f.inodes, &f.chunks);
	for (size_t i = 0; !rc && i < tr.n; i++)
		check_entry(&f, &tr.e[i]);
	if (!rc)
		rc = check_links(&f, &tr);
	if (!rc)
		rc = check_dir_links(&f, &tr);
	if (!rc)
		rc = orphans(&f);
	printf("checked:           %" PRIu64 " files, %" PRIu64 " keys\n", tr.files,
	       (uint64_t)(f.ikeys.n + f.ckeys.n + f.dkeys.n));
	for (int k = 0; k < K_PENDING; k++) {
		bad += f.found[k];
		left += f.found[k] - f.fixed[k];
		if (f.found[k])
			printf("%-17s  %" PRIu64 " found, %" PRIu64 " repaired\n", kind_name[k],
			       f.found[k], f.fixed[k]);
	}
	printf("damage:            %" PRIu64 " found, %" PRIu64 " left\n", bad, left);
	tree_free(&tr);
	raw_close(f.raw);
	store_close(f.s);
	policy_free(f.policy);
	free(f.ikeys.v);
	free(f.ckeys.v);
	free(f.dkeys.v);
	free(f.inodes.v);
	free(f.chunks.v);
	return rc < 0 ? 1 : left ? 1 : 0;
}
