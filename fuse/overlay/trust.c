/* trust.c - the kept answers of trust.h: the consistency contract of README ("Consistency")
 * rests on the rule that an answer is kept only when no invalidation message came while it
 * was being fetched, and only while the invalidation stream is in step. */
#include <stdlib.h>
#include <string.h>

#include "overlay/trust.h"

uint64_t trust_begin(struct pfs *fs)
{
	uint64_t t;

	pthread_mutex_lock(&fs->lock);
	t = fs->in_step ? fs->trust_gen : 0;
	pthread_mutex_unlock(&fs->lock);
	return t;
}

bool trust_holds_locked(const struct pfs *fs, uint64_t token)
{
	return token && fs->in_step && token == fs->trust_gen;
}

void trust_drop_locked(struct node *n)
{
	__atomic_store_n(&n->trusted, false, __ATOMIC_RELAXED);
}

void trust_forget(struct pfs *fs, struct node *n)
{
	pthread_mutex_lock(&fs->lock);
	trust_drop_locked(n);
	pthread_mutex_unlock(&fs->lock);
}

void trust_free(struct node *n)
{
	free(n->tattr.chunks);
	n->tattr.chunks = NULL;
	n->trusted = false;
}

void trust_keep_locked(struct pfs *fs, struct node *n, const struct store_attr *a, uint64_t token)
{
	uint64_t *chunks = NULL;

	trust_drop_locked(n);
	if (!trust_holds_locked(fs, token) || a->unlinked ||
	    (a->type != STORE_FILE && a->type != STORE_DIR))
		return;
	if (a->nchunks) {
		chunks = malloc(a->nchunks * sizeof(*chunks));
		if (!chunks)
			return;
		memcpy(chunks, a->chunks, a->nchunks * sizeof(*chunks));
	}
	free(n->tattr.chunks);
	n->tattr = *a;
	n->tattr.chunks = chunks;
	n->tattr.target = NULL;
	__atomic_store_n(&n->trusted, true, __ATOMIC_RELAXED);
}

void trust_keep_lower_locked(struct pfs *fs, struct node *n, uint64_t token)
{
	trust_drop_locked(n);
	if (!trust_holds_locked(fs, token))
		return;
	free(n->tattr.chunks);
	memset(&n->tattr, 0, sizeof(n->tattr)); /* type 0: the answer is "no upper entry" */
	__atomic_store_n(&n->trusted, true, __ATOMIC_RELAXED);
}

bool trust_lower(struct pfs *fs, struct node *n)
{
	bool ok;

	if (store_listen_pending(fs->store))
		return false;
	pthread_mutex_lock(&fs->lock);
	ok = n->trusted && fs->in_step && !(n->flags & N_UNLINKED) && (n->flags & N_LOWER) &&
	     !n->sino && !n->tattr.type;
	pthread_mutex_unlock(&fs->lock);
	return ok;
}

void trust_keep(struct pfs *fs, struct node *n, const struct store_attr *a, uint64_t token)
{
	pthread_mutex_lock(&fs->lock);
	trust_keep_locked(fs, n, a, token);
	pthread_mutex_unlock(&fs->lock);
}

bool trust_get(struct pfs *fs, struct node *n, struct store_attr *a)
{
	bool ok;

	memset(a, 0, sizeof(*a));
	if (store_listen_pending(fs->store))
		return false; /* a message may be about to end it: ask */
	pthread_mutex_lock(&fs->lock);
	ok = n->trusted && fs->in_step && !(n->flags & N_UNLINKED) && n->tattr.type &&
	     n->sino == n->tattr.ino;
	if (ok) {
		*a = n->tattr;
		a->chunks = NULL;
		if (n->tattr.nchunks) {
			a->chunks = malloc(n->tattr.nchunks * sizeof(*a->chunks));
			if (a->chunks)
				memcpy(a->chunks, n->tattr.chunks,
				       n->tattr.nchunks * sizeof(*a->chunks));
			else
				ok = false;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	if (!ok)
		memset(a, 0, sizeof(*a));
	return ok;
}

bool trust_held(const struct node *n)
{
	return __atomic_load_n(&n->trusted, __ATOMIC_RELAXED);
}

void trust_message_locked(struct pfs *fs)
{
	fs->trust_gen++;
}

/* Every node of the table, and the root (which is not in it). */
static void drop_all_locked(struct pfs *fs)
{
	for (size_t i = 0; i < fs->tab_size; i++)
		for (struct node *n = fs->name_tab[i]; n; n = n->hnext)
			trust_drop_locked(n);
	trust_drop_locked(fs->root);
}

void trust_lost_locked(struct pfs *fs)
{
	fs->trust_gen++;
	fs->in_step = false;
	drop_all_locked(fs);
}

void trust_in_step_locked(struct pfs *fs)
{
	fs->trust_gen++;
	fs->in_step = true;
	drop_all_locked(fs);
}
