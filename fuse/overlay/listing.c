/* listing.c - the merged listing's storage (see listing.h); no lock, no I/O. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "overlay/listing.h"
#include "store/store.h"

int listing_add(struct dirlist *l, const char *name, size_t namelen, ino_t ino, mode_t type)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct dent *e = realloc(l->e, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		l->e = e;
		l->cap = cap;
	}
	l->e[l->n].name = malloc(namelen + 1);
	if (!l->e[l->n].name)
		return -ENOMEM;
	memcpy(l->e[l->n].name, name, namelen);
	l->e[l->n].name[namelen] = '\0';
	l->e[l->n].namelen = namelen;
	l->e[l->n].ino = ino;
	l->e[l->n].type = type;
	l->e[l->n].pos = 0;
	l->n++;
	return 0;
}

void listing_free(struct dirlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->e[i].name);
	free(l->e);
	free(l);
}

void listing_drop(struct dirlist **lp)
{
	if (*lp && --(*lp)->refs == 0)
		listing_free(*lp);
	*lp = NULL;
}

int dirent_cmp(const void *a, const void *b)
{
	const struct store_dirent *x = a, *y = b;
	size_t n = x->namelen < y->namelen ? x->namelen : y->namelen;
	int c = memcmp(x->name, y->name, n);

	return c ? c : (x->namelen > y->namelen) - (x->namelen < y->namelen);
}
