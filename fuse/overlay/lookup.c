/* lookup.c - LOOKUP: which node a name is, through the layers, and the entry the kernel gets. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "overlay/attr.h"
#include "overlay/classes.h"
#include "overlay/content.h"
#include "overlay/inval.h"
#include "overlay/lookup.h"
#include "overlay/ofile.h"
#include "overlay/resolve.h"
#include "overlay/trust.h"
#include "path.h"

/* Is the directory the name now holds (R) another than node N?  A directory moved away and made
 * again (a purge by rename) must be a new inode to the kernel: the names it keeps below the old
 * one belong to the tree that moved.  A lower directory gaining its upper copy stays itself. */
static bool other_dir(const struct node *n, const struct resolved *r)
{
	if (!S_ISDIR(n->type) || r->utype != STORE_DIR)
		return false;
	if (n->sino)
		return n->sino != r->ua.ino;
	return r->ua.opaque && !(n->flags & N_OPAQUE);
}

/* The node the layers' answer R makes of NAME under PARENT, with a lookup count. */
static struct node *lookup_node(struct pfs *fs, struct node *parent, const char *name,
				size_t namelen, unsigned pf, const struct resolved *r,
				uint64_t token)
{
	mode_t type = resolved_upper(r) ? (r->ua.mode & S_IFMT) : (r->lst.st_mode & S_IFMT);
	struct node *n;

	pthread_mutex_lock(&fs->lock);
	n = node_find(fs, parent, name, namelen);
	if (n && (n->type != type || other_dir(n, r)))
		node_unhash(fs, n); /* replaced by another entry: a new inode */
	n = node_child(fs, parent, name, namelen);
	if (n) {
		n->type = type;
		n->flags = pf | (r->lower ? N_LOWER : 0) | (r->local ? N_INLOCAL : 0) |
			   (r->utype == STORE_DIR && r->ua.opaque ? N_OPAQUE : 0);
		if (resolved_upper(r)) {
			if (n->sino != r->ua.ino)
				n->cached_version = UINT64_MAX;
			node_set_sino(fs, n, r->ua.ino);
			node_remember(n, &r->ua);
			trust_keep_locked(fs, n, &r->ua, token);
		} else {
			node_set_sino(fs, n, 0);
			/* Its parent's upper directory was asked (a change here is a message about
			 * it), or the parent is itself such a kept lower directory (the change
			 * then begins with a copy-up above, whose message drops the whole subtree
			 * from the kernel, each name then looked up again). */
			if (r->lower && !r->local &&
			    (r->psino || parent == fs->root || trust_held(parent)))
				trust_keep_lower_locked(fs, n, token);
			else
				trust_drop_locked(n);
		}
	}
	pthread_mutex_unlock(&fs->lock);
	return n;
}

/* A cache file the kernel is about to be shown: can this peer read it whole?  It then holds
 * it (overlay/content.h), so stat(), open() and read() agree until it changes. */
static bool cache_readable(struct pfs *fs, struct node *n, const struct store_attr *a)
{
	struct content *c;
	int err;

	err = content_hold(fs, n, a, &c);
	content_put(fs, c);
	return err == 0;
}

/* How long the kernel may keep the absence of NAME in PARENT that the store just answered
 * under TOKEN: for ever where nothing can appear; where something can, until a message says
 * so (the maker's, which drops the name from the kernel, or a resync, which drops every
 * recorded one), but only an answer no message came across while the stream was in step. */
static double negative_timeout(struct pfs *fs, struct node *parent, const char *name,
			       size_t namelen, unsigned pf, uint64_t token)
{
	bool kept;

	if (pf & N_STATIC)
		return TIMEOUT_FOREVER;
	pthread_mutex_lock(&fs->lock);
	kept = trust_holds_locked(fs, token) &&
	       inval_negative_keep_locked(fs, node_id(fs, parent), name, namelen);
	pthread_mutex_unlock(&fs->lock);
	return kept ? TIMEOUT_TRUSTED : 0;
}

/* One piece: the layers are asked in the order that decides which hides which (local, pending,
 * store, lower), each answer shaping the one entry the kernel gets. */
int overlay_lookup(struct pfs *fs, struct node *parent, const char *name, size_t namelen,
		   struct fuse_entry_param *e, struct node **out)
{
	char path[PFS_PATH_MAX];
	struct resolved r;
	struct node *n;
	uint64_t token;
	unsigned pf;
	int len, err;

	*out = NULL;
	memset(e, 0, sizeof(*e));
	err = path_check_name(name, namelen);
	if (err)
		return err;
	len = node_child_path(fs, parent, name, namelen, path, sizeof(path));
	if (len < 0)
		return len;
	pf = classes_node_flags(fs, path, (size_t)len, NULL);
	pthread_mutex_lock(&fs->lock);
	n = node_find(fs, parent, name, namelen);
	if (n && file_pending_locked(n)) {
		n = node_child(fs, parent, name, namelen);
		pthread_mutex_unlock(&fs->lock);
		if (!n)
			return -ENOMEM;
		file_attr(fs, n, &e->attr);
		goto reply;
	}
	pthread_mutex_unlock(&fs->lock);
	token = trust_begin(fs);
	err = resolve(fs, parent, name, namelen, path, pf, &r);
	if (err == -EIO) {
		token = 0; /* an answer from memory is not the store's: never kept as one */
		err = resolve_known(fs, parent, name, namelen, path, &r);
	}
	if (err)
		return err;
	if (!r.local && !resolved_upper(&r) && !r.lower) {
		e->ino = 0;
		e->entry_timeout = negative_timeout(fs, parent, name, namelen, pf, token);
		store_attr_release(&r.ua);
		return 0;
	}
	n = lookup_node(fs, parent, name, namelen, pf, &r, token);
	if (!n) {
		store_attr_release(&r.ua);
		return -ENOMEM;
	}
	if (resolved_upper(&r) && r.utype == STORE_FILE && r.ua.cls == 'c' && !r.local &&
	    !cache_readable(fs, n, &r.ua)) {
		/* What this peer shows it can serve whole: gone for it (and, when the pool lost
		 * it, for every peer), as if never there. */
		pthread_mutex_lock(&fs->lock);
		node_unhash(fs, n);
		pthread_mutex_unlock(&fs->lock);
		node_forget(fs, n, 1);
		store_attr_release(&r.ua);
		e->ino = 0;
		e->entry_timeout = 0;
		return 0;
	}
	if (resolved_upper(&r)) {
		attr_from_store(&r.ua, n->flags, &e->attr);
		if (r.lower && S_ISDIR(r.lst.st_mode) && S_ISDIR(r.ua.mode))
			e->attr.st_ino = attr_ino(r.ua.ino, r.ua.lino, r.lst.st_ino); /* merged */
	} else {
		attr_from_lower(&r.lst, n->flags, &e->attr);
	}
	if (S_ISREG(n->type)) {
		int64_t sz = file_local_size(fs, n);

		if (sz >= 0)
			e->attr.st_size = sz;
	}
	store_attr_release(&r.ua);
	attr_nlink(fs, n, &e->attr);
reply:
	e->ino = node_id(fs, n);
	e->generation = n->generation;
	e->entry_timeout = entry_timeout_node(n);
	e->attr_timeout = attr_timeout_for(n);
	*out = n;
	return 0;
}

int lookup_made(struct pfs *fs, struct node *parent, const char *name, const struct store_attr *a,
		struct fuse_entry_param *e)
{
	char path[PFS_PATH_MAX];
	struct node *n;
	unsigned pf = 0;
	enum policy_class cls = POLICY_NONE;
	int len;

	/* A name was just made in PARENT on this peer: what it kept of PARENT is older (its own
	 * message, which would say so, may come after the caller's next stat). */
	trust_forget(fs, parent);
	len = node_child_path(fs, parent, name, strlen(name), path, sizeof(path));
	if (len > 0)
		pf = classes_node_flags(fs, path, (size_t)len, &cls);
	pthread_mutex_lock(&fs->lock);
	n = node_find(fs, parent, name, strlen(name));
	if (n)
		node_unhash(fs, n);
	n = node_child(fs, parent, name, strlen(name));
	if (n) {
		n->type = a->mode & S_IFMT;
		n->flags = N_OPAQUE | pf;
		n->cls = cls;
		node_set_sino(fs, n, a->ino);
		node_remember(n, a);
		n->cached_version = a->version;
	}
	pthread_mutex_unlock(&fs->lock);
	if (!n)
		return -ENOMEM;
	memset(e, 0, sizeof(*e));
	attr_from_store(a, n->flags, &e->attr);
	e->ino = node_id(fs, n);
	e->generation = n->generation;
	e->entry_timeout = entry_timeout_for(n->flags);
	e->attr_timeout = attr_timeout_for(n);
	return 0;
}
