/* node.c - the overlay's inodes: one node per path the kernel knows, named by (parent, name),
 * alive while the kernel's lookup count, open files or children need it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "overlay/content.h"
#include "overlay/listing.h"
#include "hash.h"
#include "passthrough.h"
#include "overlay/node.h"
#include "overlay/trust.h"

static size_t name_hash(const struct pfs *fs, const struct node *parent, const char *name,
			size_t len)
{
	uint64_t h = fnv1a_64_more(FNV1A_64_OFFSET ^ (uintptr_t)parent, name, len);

	return (size_t)(h ^ (h >> 29)) & (fs->tab_size - 1);
}

static size_t sino_hash(const struct pfs *fs, uint64_t sino)
{
	return (size_t)((sino * 0x9e3779b97f4a7c15ull) >> 20) & (fs->tab_size - 1);
}

static void name_insert(struct pfs *fs, struct node *n)
{
	size_t h = name_hash(fs, n->parent, n->name, n->namelen);

	n->hnext = fs->name_tab[h];
	fs->name_tab[h] = n;
}

static void name_remove(struct pfs *fs, struct node *n)
{
	struct node **pp = &fs->name_tab[name_hash(fs, n->parent, n->name, n->namelen)];

	for (; *pp; pp = &(*pp)->hnext)
		if (*pp == n) {
			*pp = n->hnext;
			break;
		}
	n->hnext = NULL;
}

static void sino_insert(struct pfs *fs, struct node *n)
{
	size_t h = sino_hash(fs, n->sino);

	n->inext = fs->sino_tab[h];
	fs->sino_tab[h] = n;
}

static void sino_remove(struct pfs *fs, struct node *n)
{
	struct node **pp = &fs->sino_tab[sino_hash(fs, n->sino)];

	for (; *pp; pp = &(*pp)->inext)
		if (*pp == n) {
			*pp = n->inext;
			break;
		}
	n->inext = NULL;
}

/* Double both tables when they get crowded; failure to grow only costs speed. */
static void tab_grow(struct pfs *fs)
{
	size_t old = fs->tab_size;
	struct node **on = fs->name_tab, **os = fs->sino_tab;
	struct node **nn = calloc(old * 2, sizeof(*nn)), **ns = calloc(old * 2, sizeof(*ns));

	if (!nn || !ns) {
		free(nn);
		free(ns);
		return;
	}
	fs->name_tab = nn;
	fs->sino_tab = ns;
	fs->tab_size = old * 2;
	for (size_t i = 0; i < old; i++) {
		for (struct node *n = on[i], *next; n; n = next) {
			next = n->hnext;
			name_insert(fs, n);
		}
		for (struct node *n = os[i], *next; n; n = next) {
			next = n->inext;
			sino_insert(fs, n);
		}
	}
	free(on);
	free(os);
}

int node_table_init(struct pfs *fs)
{
	struct node *root;

	fs->tab_size = 4096;
	fs->tab_count = 0;
	fs->next_generation = 1;
	fs->name_tab = calloc(fs->tab_size, sizeof(*fs->name_tab));
	fs->sino_tab = calloc(fs->tab_size, sizeof(*fs->sino_tab));
	root = calloc(1, sizeof(*root));
	if (!fs->name_tab || !fs->sino_tab || !root) {
		free(fs->name_tab);
		free(fs->sino_tab);
		fs->name_tab = fs->sino_tab = NULL;
		free(root);
		return -ENOMEM;
	}
	root->name = strdup("");
	root->type = S_IFDIR;
	root->nlookup = 1;
	root->nref = 1; /* never freed before node_table_destroy */
	root->generation = 0;
	root->flags = N_LOWER;
	fs->root = root;
	return 0;
}

void node_table_destroy(struct pfs *fs)
{
	for (size_t i = 0; i < fs->tab_size; i++)
		for (struct node *n = fs->name_tab[i], *next; n; n = next) {
			next = n->hnext;
			listing_drop(&n->listing);
			trust_free(n);
			content_drop_locked(fs, n);
			free(n->name);
			free(n);
		}
	free(fs->name_tab);
	free(fs->sino_tab);
	fs->name_tab = fs->sino_tab = NULL;
	listing_drop(&fs->root->listing);
	free(fs->root->name);
	free(fs->root);
	fs->root = NULL;
}

fuse_ino_t node_id(const struct pfs *fs, const struct node *n)
{
	return n == fs->root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)n;
}

struct node *node_get(struct pfs *fs, fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? fs->root : (struct node *)(uintptr_t)ino;
}

struct node *node_find(struct pfs *fs, struct node *parent, const char *name, size_t namelen)
{
	for (struct node *n = fs->name_tab[name_hash(fs, parent, name, namelen)]; n; n = n->hnext)
		if (n->parent == parent && n->namelen == namelen && !memcmp(n->name, name, namelen))
			return n;
	return NULL;
}

struct node *node_child(struct pfs *fs, struct node *parent, const char *name, size_t namelen)
{
	struct node *n = node_find(fs, parent, name, namelen);

	if (n) {
		if (n->nlookup++ == 0)
			n->nref++;
		return n;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->name = malloc(namelen + 1);
	if (!n->name) {
		free(n);
		return NULL;
	}
	memcpy(n->name, name, namelen);
	n->name[namelen] = '\0';
	n->namelen = namelen;
	n->parent = parent;
	parent->nref++;
	n->nlookup = 1;
	n->nref = 1;
	n->generation = fs->next_generation++;
	name_insert(fs, n);
	if (++fs->tab_count > fs->tab_size * 2)
		tab_grow(fs);
	return n;
}

/* Drop one reference; caller holds fs->lock.  Frees N, and then maybe its parents. */
static void put_locked(struct pfs *fs, struct node *n)
{
	while (n && n != fs->root && --n->nref == 0) {
		struct node *parent = n->parent;

		if (!(n->flags & N_UNLINKED))
			name_remove(fs, n);
		if (n->sino)
			sino_remove(fs, n);
		fs->tab_count--;
		listing_drop(&n->listing); /* no stream can be using it: they hold the node */
		passthrough_close_backing(n->backing);
		trust_free(n);
		content_drop_locked(fs, n);
		free(n->name);
		free(n);
		n = parent;
	}
}

void node_forget(struct pfs *fs, struct node *n, uint64_t nlookup)
{
	pthread_mutex_lock(&fs->lock);
	if (n != fs->root && n->nlookup) {
		n->nlookup = nlookup >= n->nlookup ? 0 : n->nlookup - nlookup;
		if (n->nlookup == 0)
			put_locked(fs, n);
	}
	pthread_mutex_unlock(&fs->lock);
}

void node_hold(struct pfs *fs, struct node *n)
{
	pthread_mutex_lock(&fs->lock);
	n->nref++;
	pthread_mutex_unlock(&fs->lock);
}

void node_put(struct pfs *fs, struct node *n)
{
	pthread_mutex_lock(&fs->lock);
	put_locked(fs, n);
	pthread_mutex_unlock(&fs->lock);
}

void node_set_sino(struct pfs *fs, struct node *n, uint64_t sino)
{
	if (n->sino == sino)
		return;
	n->known.valid = false;
	if (n->sino)
		sino_remove(fs, n);
	n->sino = sino;
	if (sino)
		sino_insert(fs, n);
}

uint64_t node_sino(struct pfs *fs, struct node *n)
{
	uint64_t sino;

	pthread_mutex_lock(&fs->lock);
	sino = n->sino;
	pthread_mutex_unlock(&fs->lock);
	return sino;
}

void node_unhash(struct pfs *fs, struct node *n)
{
	if (n->flags & N_UNLINKED)
		return;
	name_remove(fs, n);
	n->flags |= N_UNLINKED;
}

int node_move(struct pfs *fs, struct node *n, struct node *parent, const char *name, size_t namelen)
{
	struct node *old = node_find(fs, parent, name, namelen);
	struct node *oldparent = n->parent;
	char *copy = malloc(namelen + 1);

	if (!copy)
		return -ENOMEM;
	if (old && old != n)
		node_unhash(fs, old);
	if (!(n->flags & N_UNLINKED))
		name_remove(fs, n);
	memcpy(copy, name, namelen);
	copy[namelen] = '\0';
	free(n->name);
	n->name = copy;
	n->namelen = namelen;
	n->parent = parent;
	parent->nref++;
	n->flags &= ~N_UNLINKED;
	name_insert(fs, n);
	put_locked(fs, oldparent);
	return 0;
}

static int path_locked(struct pfs *fs, struct node *n, char *buf, size_t size)
{
	size_t len = 0;

	/* Measure, then fill from the end: no recursion, no allocation. */
	for (struct node *p = n; p != fs->root; p = p->parent)
		len += 1 + p->namelen;
	if (len == 0) {
		if (size < 2)
			return -ENAMETOOLONG;
		strcpy(buf, "/");
		return 1;
	}
	if (len + 1 > size)
		return -ENAMETOOLONG;
	buf[len] = '\0';
	for (struct node *p = n; p != fs->root; p = p->parent) {
		len -= p->namelen;
		memcpy(buf + len, p->name, p->namelen);
		buf[--len] = '/';
	}
	return 0;
}

int node_path(struct pfs *fs, struct node *n, char *buf, size_t size)
{
	int err;

	pthread_mutex_lock(&fs->lock);
	err = path_locked(fs, n, buf, size);
	pthread_mutex_unlock(&fs->lock);
	return err < 0 ? err : (int)strlen(buf);
}

int node_child_path(struct pfs *fs, struct node *parent, const char *name, size_t namelen,
		    char *buf, size_t size)
{
	int len = node_path(fs, parent, buf, size);

	if (len < 0)
		return len;
	if (len == 1)
		len = 0; /* the root: "/" + name, not "//" + name */
	if ((size_t)len + 1 + namelen + 1 > size)
		return -ENAMETOOLONG;
	buf[len] = '/';
	memcpy(buf + len + 1, name, namelen);
	buf[len + 1 + namelen] = '\0';
	return len + 1 + (int)namelen;
}

int node_parent_name(struct pfs *fs, struct node *n, struct node **parent, char *name, size_t size)
{
	int len = -ENOENT;

	*parent = NULL;
	pthread_mutex_lock(&fs->lock);
	if (n != fs->root) {
		if (n->namelen + 1 > size) {
			len = -ENAMETOOLONG;
		} else {
			memcpy(name, n->name, n->namelen + 1);
			len = (int)n->namelen;
			*parent = n->parent;
			n->parent->nref++;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	return len;
}

void node_for_sino(struct pfs *fs, uint64_t sino, void (*fn)(struct node *, void *), void *arg)
{
	pthread_mutex_lock(&fs->lock);
	for (struct node *n = fs->sino_tab[sino_hash(fs, sino)]; n; n = n->inext)
		if (n->sino == sino)
			fn(n, arg);
	pthread_mutex_unlock(&fs->lock);
}

void node_for_each(struct pfs *fs, void (*fn)(struct node *, void *), void *arg)
{
	pthread_mutex_lock(&fs->lock);
	for (size_t i = 0; i < fs->tab_size; i++)
		for (struct node *n = fs->name_tab[i]; n; n = n->hnext)
			fn(n, arg);
	pthread_mutex_unlock(&fs->lock);
}

void node_remember(struct node *n, const struct store_attr *a)
{
	if (n->tattr.ino != a->ino || n->tattr.version != a->version)
		trust_drop_locked(n); /* another answer: only trust_keep may keep it */
	n->told_version = a->version;
	n->known = (struct known){
	    .valid = true,
	    .type = a->type,
	    .mode = a->mode,
	    .uid = a->uid,
	    .gid = a->gid,
	    .size = a->size,
	    .mtime_ns = a->mtime_ns,
	    .ctime_ns = a->ctime_ns,
	    .lino = a->lino,
	    .nlink = a->nlink,
	};
}

bool node_recall(const struct node *n, struct store_attr *a)
{
	if (!n->sino || !n->known.valid)
		return false;
	*a = (struct store_attr){
	    .ino = n->sino,
	    .type = n->known.type,
	    .opaque = (n->flags & N_OPAQUE) != 0,
	    .mode = n->known.mode,
	    .uid = n->known.uid,
	    .gid = n->known.gid,
	    .size = n->known.size,
	    .mtime_ns = n->known.mtime_ns,
	    .ctime_ns = n->known.ctime_ns,
	    .version = n->told_version,
	    .lino = n->known.lino,
	    .nlink = n->known.nlink,
	};
	return true;
}
