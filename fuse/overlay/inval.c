/* inval.c - keeps this node's kernel caches honest: a dedicated thread listens to the store's
 * invalidation channel and forwards each change made on another node to the kernel.  Never
 * called from a request handler, so the kernel can never wait on us while we wait on it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "overlay/inval.h"
#include "overlay/node.h"
#include "overlay/trust.h"
#include "stats.h"

struct targets {
	fuse_ino_t *ids;
	size_t n, cap;
	bool entries; /* ALL: parents[i] + names[i] too */
	fuse_ino_t *parents;
	char **names;
};

static void add_target(struct targets *t, struct pfs *fs, struct node *n)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		fuse_ino_t *ids = realloc(t->ids, cap * sizeof(*ids));
		fuse_ino_t *par = t->entries ? realloc(t->parents, cap * sizeof(*par)) : NULL;
		char **names = t->entries ? realloc(t->names, cap * sizeof(*names)) : NULL;

		if (ids)
			t->ids = ids;
		if (par)
			t->parents = par;
		if (names)
			t->names = names;
		if (!ids || (t->entries && (!par || !names)))
			return;
		t->cap = cap;
	}
	t->ids[t->n] = node_id(fs, n);
	if (t->entries) {
		t->parents[t->n] = n == fs->root ? 0 : node_id(fs, n->parent);
		t->names[t->n] = n == fs->root ? NULL : strdup(n->name);
	}
	t->n++;
}

struct collect {
	struct targets *t;
	struct pfs *fs;
	const char *name; /* ENTRY: the child of each target that loses its kept answer */
	size_t namelen;
	bool drop_only; /* the kept answers only: nothing to tell the kernel */
};

static void collect_one(struct node *n, void *arg)
{
	struct collect *c = arg;

	trust_drop_locked(n);
	if (c->name) {
		struct node *child = node_find(c->fs, n, c->name, c->namelen);

		if (child)
			trust_drop_locked(child);
	}
	if (!c->drop_only)
		add_target(c->t, c->fs, n);
}

static void collect_changeable(struct node *n, void *arg)
{
	struct collect *c = arg;

	if (!(n->flags & N_STATIC) && !(n->flags & N_UNLINKED))
		add_target(c->t, c->fs, n);
}

/* The negative entries the kernel was told to keep long (inval.h), under fs->lock: a list, so
 * that a resync drops each.  Full, the whole list is handed to the helper thread (below) to
 * drop, and recording starts afresh: a name looked up again costs one more lookup. */
#define NEG_MAX 8192
struct neg {
	struct neg *next;
	fuse_ino_t parent;
	size_t namelen;
	char name[]; /* NUL-terminated: libfuse sends the name with its NUL */
};
static struct {
	struct neg *head;
	size_t n;
} negs;

static void later_negs(struct neg *list);

bool inval_negative_keep_locked(struct pfs *fs, fuse_ino_t parent, const char *name, size_t namelen)
{
	struct neg *g = malloc(sizeof(*g) + namelen + 1);

	(void)fs;
	if (!g)
		return false;
	if (negs.n == NEG_MAX) {
		later_negs(negs.head);
		negs.head = NULL;
		negs.n = 0;
	}
	g->parent = parent;
	g->namelen = namelen;
	memcpy(g->name, name, namelen);
	g->name[namelen] = '\0';
	g->next = negs.head;
	negs.head = g;
	negs.n++;
	return true;
}

/* Every recorded negative entry, taken out of the record (caller holds fs->lock). */
static struct neg *negs_take_locked(void)
{
	struct neg *all = negs.head;

	negs.head = NULL;
	negs.n = 0;
	return all;
}

/* Tell the kernel to drop each entry of LIST, and free it. */
static size_t negs_drop(struct pfs *fs, struct neg *list)
{
	size_t told = 0;

	while (list) {
		struct neg *next = list->next;

		if (fs->se && fuse_lowlevel_notify_inval_entry(fs->se, list->parent, list->name,
							       list->namelen) == 0)
			told++;
		free(list);
		list = next;
	}
	return told;
}

/* One message, or the stream's state (see store.h).  The kept answers it ends are dropped
 * first, under fs->lock, so that no request trusts them while the kernel is being told. */
static void on_change(void *arg, const char *origin, enum store_inval what, uint64_t ino,
		      const char *name, size_t namelen)
{
	struct pfs *fs = arg;
	struct targets t = {0};
	struct collect c = {.t = &t, .fs = fs};
	struct neg *missed = NULL;

	if (what == STORE_INVAL_LOST) {
		/* Nothing kept is trusted any more, but the kernel keeps what it has: while
		 * the store cannot be reached that is all there is (resolve.c, "outages"), and
		 * the step regained drops it all (below) before anything is trusted again. */
		pthread_mutex_lock(&fs->lock);
		trust_lost_locked(fs);
		pthread_mutex_unlock(&fs->lock);
		return;
	}
	if (what == STORE_INVAL_ALL) {
		pthread_mutex_lock(&fs->lock);
		trust_in_step_locked(fs);
		missed = negs_take_locked(); /* a name made in a message missed may be among them */
		pthread_mutex_unlock(&fs->lock);
		stats_event(EV_RESYNC);
		t.entries = true;
		add_target(&t, fs, fs->root); /* not in the table, and its listing may change */
		node_for_each(fs, collect_changeable, &c);
		goto tell;
	}
	pthread_mutex_lock(&fs->lock);
	trust_message_locked(fs);
	pthread_mutex_unlock(&fs->lock);
	if (what == STORE_INVAL_ENTRY) {
		c.name = name;
		c.namelen = namelen;
	}
	if (origin && !strcmp(origin, fs->set->node_id)) {
		/* Our own change: the kernel saw it happen, but what we kept may be older.  Only
		 * its attributes may be stale, for the other names of a hard-linked inode (each
		 * its own kernel inode here, with the link count it had): those are dropped, its
		 * pages never (a file just written stays warm). */
		c.drop_only = what != STORE_INVAL_INODE;
		node_for_sino(fs, ino, collect_one, &c);
		for (size_t i = 0; i < t.n; i++)
			fuse_lowlevel_notify_inval_inode(fs->se, t.ids[i], -1, 0);
		free(t.ids);
		return;
	}
	stats_event(EV_INVAL_RECV);
	node_for_sino(fs, ino, collect_one, &c);
	if (ino == STORE_ROOT_INO) {
		pthread_mutex_lock(&fs->lock);
		collect_one(fs->root, &c);
		pthread_mutex_unlock(&fs->lock);
	}
tell:
	for (size_t i = 0; i < t.n; i++) {
		if (what == STORE_INVAL_ENTRY) {
			/* The name, and the directory's listing: the kernel keeps listings (dir.c),
			 * and dropping the name alone resets one only when the name was cached. */
			fuse_lowlevel_notify_inval_entry(fs->se, t.ids[i], name, namelen);
			fuse_lowlevel_notify_inval_inode(fs->se, t.ids[i], 0, 0);
		} else {
			fuse_lowlevel_notify_inval_inode(fs->se, t.ids[i], 0, 0);
			if (what == STORE_INVAL_ALL && t.names && t.names[i])
				fuse_lowlevel_notify_inval_entry(fs->se, t.parents[i], t.names[i],
								 strlen(t.names[i]));
		}
		stats_event(EV_INVAL_SENT_KERNEL);
	}
	for (size_t i = negs_drop(fs, missed); i; i--)
		stats_event(EV_INVAL_SENT_KERNEL);
	if (t.names)
		for (size_t i = 0; i < t.n; i++)
			free(t.names[i]);
	free(t.names);
	free(t.parents);
	free(t.ids);
}

/* The queue of inval_later and inval_entry_later, told to the kernel by a thread of its own.
 * Full, the newest requests are refused: each is a courtesy to the kernel's caches, never the
 * only thing keeping them right (the messages do that). */
#define LATER_MAX 64
struct later_one {
	fuse_ino_t ino; /* the inode, or the parent of NAME */
	char *name;	/* NULL: the inode's pages and attributes */
};
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct later_one q[LATER_MAX];
	size_t n;
	struct neg *negs; /* a full record, to drop (inval_negative_keep_locked) */
	bool stop;
	pthread_t th;
	bool running;
} later = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void later_add(fuse_ino_t ino, const char *name, size_t namelen)
{
	char *copy = NULL;

	if (name && !(copy = strndup(name, namelen)))
		return;
	pthread_mutex_lock(&later.lock);
	for (size_t i = 0; i < later.n; i++)
		if (later.q[i].ino == ino && !later.q[i].name && !copy)
			goto out;
	if (later.n < LATER_MAX) {
		later.q[later.n++] = (struct later_one){ino, copy};
		copy = NULL;
	}
	pthread_cond_signal(&later.cond);
out:
	pthread_mutex_unlock(&later.lock);
	free(copy);
}

void inval_later(struct pfs *fs, fuse_ino_t ino)
{
	(void)fs;
	later_add(ino, NULL, 0);
}

void inval_entry_later(struct pfs *fs, fuse_ino_t parent, const char *name, size_t namelen)
{
	(void)fs;
	later_add(parent, name, namelen);
}

/* (Called under fs->lock: later.lock is taken inside fs->lock, never the other way round.) */
static void later_negs(struct neg *list)
{
	struct neg *last = list;

	if (!list)
		return;
	while (last->next)
		last = last->next;
	pthread_mutex_lock(&later.lock);
	last->next = later.negs;
	later.negs = list;
	pthread_cond_signal(&later.cond);
	pthread_mutex_unlock(&later.lock);
}

static void *later_main(void *arg)
{
	struct pfs *fs = arg;

	pthread_mutex_lock(&later.lock);
	while (!later.stop) {
		struct later_one one;

		if (later.negs) {
			struct neg *list = later.negs;

			later.negs = NULL;
			pthread_mutex_unlock(&later.lock);
			for (size_t i = negs_drop(fs, list); i; i--)
				stats_event(EV_INVAL_SENT_KERNEL);
			pthread_mutex_lock(&later.lock);
			continue;
		}
		if (!later.n) {
			pthread_cond_wait(&later.cond, &later.lock);
			continue;
		}
		one = later.q[--later.n];
		pthread_mutex_unlock(&later.lock);
		if (one.name)
			fuse_lowlevel_notify_inval_entry(fs->se, one.ino, one.name,
							 strlen(one.name));
		else
			fuse_lowlevel_notify_inval_inode(fs->se, one.ino, 0, 0);
		free(one.name);
		stats_event(EV_INVAL_SENT_KERNEL);
		pthread_mutex_lock(&later.lock);
	}
	while (later.n)
		free(later.q[--later.n].name);
	pthread_mutex_unlock(&later.lock);
	return NULL;
}

static void freelist(struct neg *list)
{
	while (list) {
		struct neg *next = list->next;

		free(list);
		list = next;
	}
}

static void *listen_main(void *arg)
{
	struct pfs *fs = arg;

	store_listen(fs->store, on_change, fs);
	return NULL;
}

int inval_start(struct pfs *fs)
{
	int err = pthread_create(&fs->inval_thread, NULL, listen_main, fs);

	if (err)
		return -err;
	fs->inval_running = true;
	later.stop = false;
	later.running = pthread_create(&later.th, NULL, later_main, fs) == 0;
	return 0;
}

void inval_stop(struct pfs *fs)
{
	if (!fs->inval_running)
		return;
	store_listen_stop(fs->store);
	pthread_join(fs->inval_thread, NULL);
	fs->inval_running = false;
	if (later.running) {
		pthread_mutex_lock(&later.lock);
		later.stop = true;
		pthread_cond_signal(&later.cond);
		pthread_mutex_unlock(&later.lock);
		pthread_join(later.th, NULL);
		later.running = false;
	}
	pthread_mutex_lock(&fs->lock);
	freelist(negs_take_locked());
	pthread_mutex_unlock(&fs->lock);
	pthread_mutex_lock(&later.lock);
	freelist(later.negs);
	later.negs = NULL;
	pthread_mutex_unlock(&later.lock);
}
