/* tree.c - listing a site's upper layer for export and dump (see tree.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/common.h"
#include "admin/tree.h"

static size_t slot(const struct tree *t, uint64_t ino)
{
	size_t i = (size_t)(ino * 0x9e3779b97f4a7c15ull) & (t->mapcap - 1);

	while (t->map[i] && t->e[t->map[i] - 1].a.ino != ino)
		i = (i + 1) & (t->mapcap - 1);
	return i;
}

/* The entry just pushed names an inode (not a directory): find its first name, or make it
 * the first; *FURTHER tells which. */
static int link_names(struct tree *t, bool *further)
{
	size_t last = t->n - 1, i;

	if (2 * t->n > t->mapcap) {
		size_t old = t->mapcap, *om = t->map;

		t->mapcap = old ? old * 2 : 1024;
		t->map = calloc(t->mapcap, sizeof(*t->map));
		if (!t->map)
			return -ENOMEM;
		for (size_t k = 0; k < old; k++)
			if (om[k])
				t->map[slot(t, t->e[om[k] - 1].a.ino)] = om[k];
		free(om);
	}
	i = slot(t, t->e[last].a.ino);
	*further = t->map[i] != 0;
	if (!t->map[i])
		t->map[i] = last + 1;
	t->e[last].first = t->map[i] - 1;
	t->e[t->e[last].first].names++;
	return 0;
}

/* Count entry E (not a directory) once per inode: a further name counts as a link. */
static int count(struct tree *t, struct tree_entry *e)
{
	bool further = false;
	int rc;

	e->names = 0;
	rc = link_names(t, &further);
	if (rc)
		return rc;
	if (further) {
		t->links++;
	} else if (e->type == STORE_FILE && e->a.cls == 'c') {
		t->cache_files++;
	} else if (e->type == STORE_FILE) {
		t->files++;
		t->bytes += e->a.size;
	} else if (e->type != STORE_SYMLINK) {
		t->specials++;
	}
	return 0;
}

static int push(struct tree *t, const char *path, size_t len, size_t depth, char type,
		uint64_t parent, uint64_t ref, struct store_attr *a)
{
	struct tree_entry *e;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct tree_entry *ne = realloc(t->e, cap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		t->e = ne;
		t->cap = cap;
	}
	e = &t->e[t->n];
	e->path = malloc(len + 1);
	if (!e->path)
		return -ENOMEM;
	memcpy(e->path, path, len);
	e->path[len] = 0;
	e->len = len;
	e->depth = depth;
	e->type = type;
	e->parent = parent;
	e->ref = ref;
	e->first = t->n;
	e->names = 1;
	if (a) {
		e->a = *a;
		memset(a, 0, sizeof(*a)); /* the entry owns chunks and target now */
	} else {
		memset(&e->a, 0, sizeof(e->a));
	}
	t->n++;
	return 0;
}

static int by_name(const void *x, const void *y)
{
	const struct store_dirent *a = x, *b = y;
	size_t n = a->namelen < b->namelen ? a->namelen : b->namelen;
	int c = memcmp(a->name, b->name, n);

	return c ? c : (a->namelen > b->namelen) - (a->namelen < b->namelen);
}

/* The entries of directory INO (whose path PATH, LEN bytes, is already pushed). */
static int walk_dir(struct store *s, uint64_t ino, char *path, size_t len, size_t depth,
		    struct tree *t)
{
	struct store_dirent *d = NULL;
	size_t n = 0;
	int rc = store_readdir(s, ino, &d, &n);

	if (rc == -ENOENT) { /* removed while we walked: it is as if it was never listed */
		t->gone++;
		return 0;
	}
	if (rc < 0) {
		fprintf(stderr, "pressfs: listing /%s in the store: %s\n", path, strerror(-rc));
		return rc;
	}
	qsort(d, n, sizeof(*d), by_name);
	for (size_t i = 0; i < n && !rc; i++) {
		size_t l = len + (len ? 1 : 0) + d[i].namelen;
		struct store_attr a = {0};

		if (l >= 8192) {
			rc = -ENAMETOOLONG;
			break;
		}
		if (len)
			path[len] = '/';
		memcpy(path + len + (len ? 1 : 0), d[i].name, d[i].namelen);
		path[l] = 0;
		if (d[i].type == STORE_WHITEOUT) {
			t->whiteouts++;
			rc = push(t, path, l, depth + 1, STORE_WHITEOUT, ino, 0, NULL);
			continue;
		}
		rc = store_getattr(s, d[i].ino, &a);
		if (rc == -ENOENT) {
			t->gone++;
			rc = push(t, path, l, depth + 1, TREE_GONE, ino, d[i].ino, NULL);
			continue;
		}
		if (rc < 0) {
			fprintf(stderr, "pressfs: reading /%s in the store: %s\n", path,
				strerror(-rc));
			break;
		}
		rc = push(t, path, l, depth + 1, a.type, ino, d[i].ino, &a);
		store_attr_release(&a);
		if (!rc && t->e[t->n - 1].type != STORE_DIR)
			rc = count(t, &t->e[t->n - 1]);
		if (!rc && t->e[t->n - 1].type == STORE_DIR)
			rc = walk_dir(s, t->e[t->n - 1].a.ino, path, l, depth + 1, t);
	}
	path[len] = 0;
	store_dirents_free(d, n);
	return rc;
}

int tree_walk(struct store *s, uint64_t top, struct tree *t)
{
	static char path[8192]; /* the walk is single-threaded */
	struct store_attr a = {0};
	int rc = store_getattr(s, top, &a);

	memset(t, 0, sizeof(*t));
	if (rc < 0) {
		fprintf(stderr, "pressfs: reading the top directory in the store: %s\n",
			strerror(-rc));
		return rc;
	}
	rc = push(t, "", 0, 0, STORE_DIR, 0, top, &a);
	path[0] = 0;
	if (!rc)
		rc = walk_dir(s, top, path, 0, 0, t);
	return rc;
}

void tree_free(struct tree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->e[i].path);
		store_attr_release(&t->e[i].a);
	}
	free(t->e);
	free(t->map);
	memset(t, 0, sizeof(*t));
}

const struct tree_entry *tree_first(const struct tree *t, uint64_t ino)
{
	size_t i;

	if (!t->mapcap)
		return NULL;
	i = slot(t, ino);
	return t->map[i] ? &t->e[t->map[i] - 1] : NULL;
}

int tree_read(struct store *s, struct tree_entry *e, void *buf, int (*reset)(void *arg),
	      int (*sink)(void *arg, const void *data, size_t len), void *arg)
{
	for (int tries = 0;; tries++) {
		int rc = admin_read_file(s, &e->a, buf, sink, arg);
		struct store_attr a = {0};

		if (rc != -EIO || tries == 5)
			return rc;
		/* A chunk is gone: if the file has moved on, read the version it holds now. */
		rc = store_getattr(s, e->a.ino, &a);
		if (rc < 0)
			return rc;
		if (a.version == e->a.version) {
			store_attr_release(&a);
			return -EIO; /* the same version lost a chunk: damage, for fsck */
		}
		store_attr_release(&e->a);
		e->a = a;
		rc = reset(arg);
		if (rc < 0)
			return rc;
	}
}
