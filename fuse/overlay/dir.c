/* dir.c - directory listings: the local directory, the store and the lower tree merged (upper
 * entries hide lower ones, whiteouts hide them too, nothing listed twice), served in streams
 * that need no handle. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "local.h"
#include "hash.h"
#include "overlay/attr.h"
#include "overlay/dir.h"
#include "overlay/listing.h"
#include "overlay/ofile.h"
#include "overlay/resolve.h"
#include "stats.h"

/* Move N entries of MORE to the end of *UD (MORE's array is freed, its names taken over). */
static int dirents_append(struct store_dirent **ud, size_t *nud, struct store_dirent *more,
			  size_t n)
{
	struct store_dirent *all;

	if (!n) {
		free(more);
		return 0;
	}
	all = realloc(*ud, (*nud + n) * sizeof(*all));
	if (!all) {
		store_dirents_free(more, n);
		return -ENOMEM;
	}
	memcpy(all + *nud, more, n * sizeof(*all));
	free(more);
	*ud = all;
	*nud += n;
	return 0;
}

/* The per-node directory's entries at PATH, as the first entries of *UD (sorted), and into L. */
static int local_entries(struct pfs *fs, const char *path, struct dirlist *l,
			 struct store_dirent **ud, size_t *nud)
{
	int fd = local_opendir(fs, path), err = 0;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0; /* no entries of this node's own here */
	}
	while ((de = readdir(d)) && !err) {
		size_t nl = strlen(de->d_name);
		struct store_dirent *e;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		e = realloc(*ud, (*nud + 1) * sizeof(*e));
		if (!e) {
			err = -ENOMEM;
			break;
		}
		*ud = e;
		e += (*nud)++;
		e->type = de->d_type == DT_DIR ? STORE_DIR : STORE_FILE;
		e->ino = e->lino = 0;
		e->namelen = nl;
		e->name = strdup(de->d_name);
		if (!e->name) {
			(*nud)--;
			err = -ENOMEM;
			break;
		}
		err = listing_add(l, de->d_name, nl, de->d_ino, (mode_t)DTTOIF(de->d_type));
	}
	closedir(d);
	if (*nud)
		qsort(*ud, *nud, sizeof(**ud), dirent_cmp);
	return err;
}

struct pending_scan {
	struct node *dir;
	struct store_dirent *e;
	size_t n;
	int err;
};

/* (under fs->lock) A file created in the directory on this peer and not committed yet. */
static void pending_one(struct node *n, void *arg)
{
	struct pending_scan *ps = arg;
	struct store_dirent *e;

	if (ps->err || n->parent != ps->dir || !file_pending_locked(n) || (n->flags & N_UNLINKED))
		return;
	e = realloc(ps->e, (ps->n + 1) * sizeof(*e));
	if (!e) {
		ps->err = -ENOMEM;
		return;
	}
	ps->e = e;
	e += ps->n;
	e->type = STORE_FILE;
	/* (its st_ino: the number ofile.c's attributes give it) */
	e->ino = attr_ino_new(n->of->ino, n);
	e->lino = 0;
	e->namelen = n->namelen;
	e->name = malloc(n->namelen + 1);
	if (!e->name) {
		ps->err = -ENOMEM;
		return;
	}
	memcpy(e->name, n->name, n->namelen);
	e->name[n->namelen] = '\0';
	ps->n++;
}

/* The files this peer created in N and has not committed yet (they live in n->of until their
 * first close, yet lookup finds them, so listings show them too), appended to *UD and L; they
 * hide the store's and the lower tree's entries of the same name, as in lookup. */
static int pending_entries(struct pfs *fs, struct node *n, struct dirlist *l,
			   struct store_dirent **ud, size_t *nud)
{
	struct pending_scan ps = {.dir = n};
	int err;

	node_for_each(fs, pending_one, &ps);
	for (size_t i = 0; i < ps.n && !ps.err; i++)
		ps.err = listing_add(l, ps.e[i].name, ps.e[i].namelen, (ino_t)ps.e[i].ino, S_IFREG);
	err = ps.err;
	if (err || !ps.n) {
		store_dirents_free(ps.e, ps.n);
		return err;
	}
	for (size_t i = 0; i < ps.n; i++)
		ps.e[i].ino = 0; /* in UD: a name that hides others, nothing more */
	err = dirents_append(ud, nud, ps.e, ps.n);
	if (!err)
		qsort(*ud, *nud, sizeof(**ud), dirent_cmp);
	return err;
}

/* Drop from SD (*N entries of the directory at PATH, LEN bytes) what the policy refuses to
 * serve there (classes_serve_entry): entries something else than pressfs put in the store.  A
 * dropped name hides nothing, so the lower tree's entry of that name shows. */
static void served_only(struct pfs *fs, const char *path, size_t len, struct store_dirent *sd,
			size_t *n)
{
	char child[PFS_PATH_MAX];
	size_t kept = 0, base = len == 1 ? 0 : len;

	memcpy(child, path, base);
	for (size_t i = 0; i < *n; i++) {
		bool keep = base + 1 + sd[i].namelen < sizeof(child);

		if (keep) {
			child[base] = '/';
			memcpy(child + base + 1, sd[i].name, sd[i].namelen);
			child[base + 1 + sd[i].namelen] = '\0';
			keep = classes_serve_entry(fs, child, base + 1 + sd[i].namelen,
						   entry_kind(sd[i].type));
		}
		if (keep)
			sd[kept++] = sd[i];
		else
			free(sd[i].name);
	}
	*n = kept;
}

/* Is KEY in UD, two sorted runs: this node's own entries [0, NLOCAL), then the store's? */
static bool hidden(const struct store_dirent *key, const struct store_dirent *ud, size_t nlocal,
		   size_t nud)
{
	return (nlocal && bsearch(key, ud, nlocal, sizeof(*ud), dirent_cmp)) ||
	       (nud > nlocal && bsearch(key, ud + nlocal, nud - nlocal, sizeof(*ud), dirent_cmp));
}

/* A lower entry DE that an upper entry of the store hides: when both are directories, the
 * listing gives the upper one the number lookup gives it (attr_ino: a merged directory without
 * a lino of its own shows the lower one's).  AT[i] is the place in L of UD[i], plus one (0: not
 * listed). */
static void merged_ino(struct pfs *fs, const char *dir, struct dirlist *l,
		       const struct store_dirent *ud, const size_t *at, size_t nlocal, size_t nud,
		       const struct store_dirent *key, const struct dirent *de)
{
	const struct store_dirent *u =
	    nud > nlocal ? bsearch(key, ud + nlocal, nud - nlocal, sizeof(*ud), dirent_cmp) : NULL;
	char path[PFS_PATH_MAX];
	struct dent *e;
	struct stat st;

	if (!at || !u || u->type != STORE_DIR || u->lino || !at[u - ud])
		return;
	e = &l->e[at[u - ud] - 1];
	if (de->d_type == DT_UNKNOWN) {
		if (snprintf(path, sizeof(path), "%s/%s", dir[1] ? dir : "", de->d_name) >=
			(int)sizeof(path) ||
		    lower_stat(fs, path, &st) || !S_ISDIR(st.st_mode))
			return;
	} else if (de->d_type != DT_DIR) {
		return;
	}
	e->ino = attr_ino(u->ino, 0, de->d_ino);
}

static mode_t type_of(char t)
{
	switch (t) {
	case STORE_DIR:
		return S_IFDIR;
	case STORE_SYMLINK:
		return S_IFLNK;
	case STORE_FIFO:
		return S_IFIFO;
	case STORE_SOCK:
		return S_IFSOCK;
	case STORE_CHR:
		return S_IFCHR;
	case STORE_BLK:
		return S_IFBLK;
	default:
		return S_IFREG;
	}
}

/* The merged listing of N ("." and ".." excluded).  One piece: the three layers are merged in
 * the order that decides which entry hides which (local, store, lower). */
static int list_dir(struct pfs *fs, struct node *n, struct dirlist **out)
{
	struct dirlist *l = calloc(1, sizeof(*l));
	struct store_dirent *ud = NULL;
	char path[PFS_PATH_MAX];
	size_t nud = 0, nlocal, *at = NULL;
	uint64_t sino = 0;
	int err, len;

	if (!l)
		return -ENOMEM;
	len = node_path(fs, n, path, sizeof(path));
	if (len < 0) {
		err = len;
		goto fail;
	}
	if (fs->local_fd >= 0 && !(n->flags & N_STATIC_BELOW)) {
		/* This node's own entries come first and hide the others of the same name. */
		err = local_entries(fs, path, l, &ud, &nud);
		if (err)
			goto fail;
	}
	if (!(n->flags & N_STATIC_BELOW)) {
		err = pending_entries(fs, n, l, &ud, &nud);
		if (err)
			goto fail;
	}
	nlocal = nud;
	if (!(n->flags & N_STATIC_BELOW)) {
		err = upper_dir(fs, n, &sino);
		if (!err && sino) {
			struct store_dirent *sd = NULL;
			size_t nsd = 0;

			err = store_readdir(fs->store, sino, &sd, &nsd);
			if (err == -ENOENT) { /* removed or replaced elsewhere */
				pthread_mutex_lock(&fs->lock);
				node_set_sino(fs, n, 0);
				pthread_mutex_unlock(&fs->lock);
				err = upper_dir(fs, n, &sino);
				if (!err && sino)
					err = store_readdir(fs->store, sino, &sd, &nsd);
			}
			if (!err)
				served_only(fs, path, (size_t)len, sd, &nsd);
			if (!err)
				err = dirents_append(&ud, &nud, sd, nsd);
			else
				store_dirents_free(sd, nsd);
		}
		if (err)
			goto fail;
		if (nud > nlocal) /* (qsort of NULL, even of nothing, is undefined) */
			qsort(ud + nlocal, nud - nlocal, sizeof(*ud), dirent_cmp);
		at = calloc(nud ? nud : 1, sizeof(*at));
		if (!at) {
			err = -ENOMEM;
			goto fail;
		}
		for (size_t i = nlocal; i < nud; i++) {
			if (ud[i].type == STORE_WHITEOUT)
				continue;
			if (nlocal && bsearch(&ud[i], ud, nlocal, sizeof(*ud), dirent_cmp))
				continue; /* this node's own entry of that name wins */
			err = listing_add(l, ud[i].name, ud[i].namelen,
					  attr_ino(ud[i].ino, ud[i].lino, 0), type_of(ud[i].type));
			if (err)
				goto fail;
			at[i] = l->n;
		}
	}
	if ((n->flags & N_LOWER) && !(n->flags & N_OPAQUE)) {
		int fd = lower_opendir(fs, path);
		DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
		struct dirent *de;

		if (!d) {
			if (fd >= 0)
				close(fd);
			goto done; /* a merged directory whose lower part is gone: upper only */
		}
		while ((de = readdir(d))) {
			struct store_dirent key;
			size_t nl = strlen(de->d_name);

			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			key.name = de->d_name;
			key.namelen = nl;
			if (nud && hidden(&key, ud, nlocal, nud)) {
				merged_ino(fs, path, l, ud, at, nlocal, nud, &key, de);
				continue; /* hidden by an upper entry or a whiteout */
			}
			err = listing_add(l, de->d_name, nl, de->d_ino, (mode_t)DTTOIF(de->d_type));
			if (err) {
				closedir(d);
				goto fail;
			}
		}
		closedir(d);
	}
done:
	free(at);
	store_dirents_free(ud, nud);
	*out = l;
	return 0;
fail:
	free(at);
	store_dirents_free(ud, nud);
	listing_free(l);
	return err;
}

int dir_is_empty(struct pfs *fs, struct node *n)
{
	struct dirlist *l;
	int err = list_dir(fs, n, &l);

	if (err)
		return err;
	err = l->n == 0;
	listing_free(l);
	return err;
}

/* The lower subdirectories of the directory at PATH that no entry of store directory SINO hides
 * (a directory of the store's own, a file or a whiteout of the same name): with the store's
 * kept count, the merged link count, for a listing of the lower part and one pipelined round
 * trip instead of a merged listing of the store's part, however many entries that holds.
 * Lower entries whose type readdir does not give are not directories to list_dir either. */
static int lower_subdirs_shown(struct pfs *fs, const char *path, uint64_t sino, uint32_t *out)
{
	enum { BATCH = 256 };
	const char *names[BATCH];
	size_t lens[BATCH], k = 0;
	bool has[BATCH];
	struct dirent *de;
	int fd = lower_opendir(fs, path), err = 0;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	char *held[BATCH];

	*out = 0;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0; /* its lower part is gone: upper only, as list_dir has it */
	}
	for (;;) {
		de = readdir(d);
		if (de &&
		    (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")))
			continue;
		if (de) {
			/* (readdir may reuse its buffer: the batch keeps copies) */
			held[k] = strdup(de->d_name);
			if (!held[k]) {
				err = -ENOMEM;
				break;
			}
			names[k] = held[k];
			lens[k] = strlen(held[k]);
			k++;
		}
		if (k == BATCH || (!de && k)) {
			err = store_dir_has(fs->store, sino, k, names, lens, has);
			for (size_t i = 0; i < k; i++) {
				*out += !err && !has[i];
				free(held[i]);
			}
			k = 0;
		}
		if (err || !de)
			break;
	}
	for (size_t i = 0; i < k; i++)
		free(held[i]);
	closedir(d);
	return err;
}

int dir_nlink(struct pfs *fs, struct node *n)
{
	struct dirlist *l;
	uint64_t sino = 0;
	uint32_t kept = 0;
	bool merged, lower;
	int err, nlink = 2;

	pthread_mutex_lock(&fs->lock);
	merged = (n->flags & (N_LOWER | N_INLOCAL)) != 0 || !n->sino;
	lower = (n->flags & (N_LOWER | N_OPAQUE)) == N_LOWER;
	sino = n->sino;
	if (n->known.valid && n->known.type == STORE_DIR && !(n->flags & N_INLOCAL))
		kept = n->known.nlink;
	pthread_mutex_unlock(&fs->lock);
	/* The store part's count is its inode's own, kept by the scripts that make, remove and
	 * move directories (docs/FORMAT.md), as this peer was last told it: no command. */
	if (sino && lower && kept >= 2 && kept < INT_MAX / 2) {
		/* Merged with the lower tree: the lower part's subdirectories it does not hide. */
		char path[PFS_PATH_MAX];
		uint32_t shown;

		err = node_path(fs, n, path, sizeof(path));
		if (err >= 0)
			err = lower_subdirs_shown(fs, path, sino, &shown);
		if (!err)
			return shown < (uint32_t)(INT_MAX - kept) ? (int)(kept + shown) : INT_MAX;
	} else if (sino && kept >= 2) {
		/* The store's alone, or an opaque directory hiding its lower part: its count. */
		return kept < (uint32_t)INT_MAX ? (int)kept : INT_MAX;
	}
	if (!merged) {
		/* Only the store has it, made before directories kept a count: its entries
		 * counted in one command, until the next change in it writes its count. */
		uint32_t sub;

		err = store_count_subdirs(fs->store, sino, &sub);
		if (err)
			return err;
		return sub < (uint32_t)INT_MAX - 2 ? 2 + (int)sub : INT_MAX;
	}
	err = list_dir(fs, n, &l);
	if (err)
		return err;
	for (size_t i = 0; i < l->n; i++)
		if (S_ISDIR(l->e[i].type) && nlink < INT_MAX)
			nlink++;
	listing_free(l);
	return nlink;
}

/* Directory streams without handles.  The first OPENDIR is answered with ENOSYS, and from then
 * on the kernel opens and closes directories without asking (no OPENDIR, no RELEASEDIR) and
 * keeps what it has read of each listing in its own cache (FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR,
 * the kernel's defaults when there is no open), so a warm listing costs the daemon nothing.
 * That cache is dropped by the kernel itself when this node changes the directory, and by the
 * invalidation thread (notify_inval_inode on the directory) when another node does.
 *
 * With no handle, a stream is known only by the offset it asks from.  An entry's offset is a
 * hash of its name (the listing is served in hash order, as ext4 does): a stream continues
 * after the last name it was given in whatever listing is current, so an entry that stays in
 * the directory is never missed or repeated, however the directory changes meanwhile.  Offset
 * 1 is ".", 2 is "..", entries have 3 and above.  The listing built at offset 0 is kept on the
 * node for the requests that continue it, and let go once a stream has read to its end. */

static off_t name_pos(const char *name, size_t len)
{
	uint64_t h = fnv1a_64(name, len);

	h ^= h >> 31;
	h &= INT64_MAX;
	return (off_t)(h < 3 ? h + 3 : h);
}

static int cmp_pos(const void *a, const void *b)
{
	const struct dent *x = a, *y = b;

	return (x->pos > y->pos) - (x->pos < y->pos);
}

/* The listing of N for a stream at OFF, with a reference: the node's current one if OFF
 * continues a stream, else (offset 0, or the node has none) a new one, which becomes
 * current.  Caller releases it with listing_put. */
static int listing_get(struct pfs *fs, struct node *n, off_t off, struct dirlist **out)
{
	struct dirlist *l, *old = NULL;
	int err;

	if (off) {
		pthread_mutex_lock(&fs->lock);
		l = n->listing;
		if (l)
			l->refs++;
		pthread_mutex_unlock(&fs->lock);
		if (l) {
			*out = l;
			return 0;
		}
	}
	err = list_dir(fs, n, &l);
	if (err)
		return err;
	for (size_t i = 0; i < l->n; i++)
		l->e[i].pos = name_pos(l->e[i].name, l->e[i].namelen);
	if (l->n)
		qsort(l->e, l->n, sizeof(*l->e), cmp_pos);
	l->refs = 2; /* the node's and the caller's */
	pthread_mutex_lock(&fs->lock);
	if (n->listing && --n->listing->refs == 0)
		old = n->listing;
	n->listing = l;
	pthread_mutex_unlock(&fs->lock);
	if (old)
		listing_free(old);
	*out = l;
	return 0;
}

static void listing_put(struct pfs *fs, struct dirlist *l)
{
	bool last;

	pthread_mutex_lock(&fs->lock);
	last = --l->refs == 0;
	pthread_mutex_unlock(&fs->lock);
	if (last)
		listing_free(l);
}

/* A stream read L to its end: the node need not keep it for continuations any more. */
static void listing_done(struct pfs *fs, struct node *n, struct dirlist *l)
{
	bool last = false;

	pthread_mutex_lock(&fs->lock);
	if (n->listing == l) {
		n->listing = NULL;
		last = --l->refs == 0;
	}
	pthread_mutex_unlock(&fs->lock);
	if (last)
		listing_free(l);
}

int dir_fill(struct pfs *fs, fuse_req_t req, struct node *n, char *buf, size_t size, off_t off,
	     size_t *filled)
{
	struct dirlist *l = NULL;
	size_t used = 0, lo, hi, group_used = 0;
	int err;

	err = listing_get(fs, n, off, &l);
	if (err)
		return err;
	for (; off < 2; off++) {
		struct stat st = {.st_ino = 1, .st_mode = S_IFDIR};
		size_t k =
		    fuse_add_direntry(req, buf + used, size - used, off ? ".." : ".", &st, off + 1);

		if (k > size - used)
			goto reply;
		used += k;
	}
	/* The first entry after OFF (offset 2 is "..", before every entry). */
	lo = 0;
	hi = l->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->e[mid].pos <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < l->n; i++) {
		struct stat st = {.st_ino = l->e[i].ino, .st_mode = l->e[i].type};
		size_t k;

		if (i == lo || l->e[i].pos != l->e[i - 1].pos)
			group_used = used; /* names of one hash go in one reply if they can */
		k = fuse_add_direntry(req, buf + used, size - used, l->e[i].name, &st, l->e[i].pos);
		if (k > size - used) {
			if (group_used)
				used = group_used;
			goto reply;
		}
		used += k;
	}
	if (!used)
		listing_done(fs, n, l); /* read to the end */
reply:
	*filled = used;
	listing_put(fs, l);
	return 0;
}
