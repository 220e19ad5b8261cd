/* dir.c - directories: merged listings of the lower tree and the store (upper entries hide
 * lower ones, whiteouts hide them too, nothing listed twice), mkdir and rmdir. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pressfs.h"
#include "stats.h"

struct dent {
	char *name;
	size_t namelen;
	ino_t ino;
	mode_t type;
};

struct dirlist {
	struct dent *e;
	size_t n, cap;
};

static int list_add(struct dirlist *l, const char *name, size_t namelen, ino_t ino, mode_t type)
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
	l->n++;
	return 0;
}

static void list_free(struct dirlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->e[i].name);
	free(l->e);
	free(l);
}

static int cmp_dirent(const void *a, const void *b)
{
	const struct store_dirent *x = a, *y = b;
	size_t n = x->namelen < y->namelen ? x->namelen : y->namelen;
	int c = memcmp(x->name, y->name, n);

	return c ? c : (x->namelen > y->namelen) - (x->namelen < y->namelen);
}

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
		return 0;	/* no entries of this node's own here */
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
		e->ino = 0;
		e->namelen = nl;
		e->name = strdup(de->d_name);
		if (!e->name) {
			(*nud)--;
			err = -ENOMEM;
			break;
		}
		err = list_add(l, de->d_name, nl, de->d_ino, (mode_t)DTTOIF(de->d_type));
	}
	closedir(d);
	qsort(*ud, *nud, sizeof(**ud), cmp_dirent);
	return err;
}

/* Is KEY in UD, two sorted runs: this node's own entries [0, NLOCAL), then the store's? */
static bool hidden(const struct store_dirent *key, const struct store_dirent *ud, size_t nlocal,
		   size_t nud)
{
	return (nlocal && bsearch(key, ud, nlocal, sizeof(*ud), cmp_dirent)) ||
	       (nud > nlocal && bsearch(key, ud + nlocal, nud - nlocal, sizeof(*ud), cmp_dirent));
}

static mode_t type_of(char t)
{
	return t == STORE_DIR ? S_IFDIR : t == STORE_SYMLINK ? S_IFLNK : S_IFREG;
}

/* The merged listing of N ("." and ".." excluded). */
static int list_dir(struct pfs *fs, struct node *n, struct dirlist **out)
{
	struct dirlist *l = calloc(1, sizeof(*l));
	struct store_dirent *ud = NULL;
	char path[PATH_MAX];
	size_t nud = 0, nlocal;
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
	nlocal = nud;
	if (!(n->flags & N_STATIC_BELOW)) {
		err = upper_dir(fs, n, &sino);
		if (!err && sino) {
			struct store_dirent *sd = NULL;
			size_t nsd = 0;

			err = store_readdir(fs->store, sino, &sd, &nsd);
			if (err == -ENOENT) {	/* removed or replaced elsewhere */
				pthread_mutex_lock(&fs->lock);
				node_set_sino(fs, n, 0);
				pthread_mutex_unlock(&fs->lock);
				err = upper_dir(fs, n, &sino);
				if (!err && sino)
					err = store_readdir(fs->store, sino, &sd, &nsd);
			}
			if (!err)
				err = dirents_append(&ud, &nud, sd, nsd);
			else
				store_dirents_free(sd, nsd);
		}
		if (err)
			goto fail;
		qsort(ud + nlocal, nud - nlocal, sizeof(*ud), cmp_dirent);
		for (size_t i = nlocal; i < nud; i++) {
			if (ud[i].type == STORE_WHITEOUT)
				continue;
			if (nlocal && bsearch(&ud[i], ud, nlocal, sizeof(*ud), cmp_dirent))
				continue;	/* this node's own entry of that name wins */
			err = list_add(l, ud[i].name, ud[i].namelen, ud[i].ino | (1ull << 62),
				       type_of(ud[i].type));
			if (err)
				goto fail;
		}
	}
	if ((n->flags & N_LOWER) && !(n->flags & N_OPAQUE)) {
		int fd = openat(fs->lower_fd, path[1] ? path + 1 : ".",
				O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
		struct dirent *de;

		if (!d) {
			if (fd >= 0)
				close(fd);
			goto done;	/* a merged directory whose lower part is gone: upper only */
		}
		while ((de = readdir(d))) {
			struct store_dirent key;
			size_t nl = strlen(de->d_name);

			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			key.name = de->d_name;
			key.namelen = nl;
			if (nud && hidden(&key, ud, nlocal, nud))
				continue;	/* hidden by an upper entry or a whiteout */
			err = list_add(l, de->d_name, nl, de->d_ino, (mode_t)DTTOIF(de->d_type));
			if (err) {
				closedir(d);
				goto fail;
			}
		}
		closedir(d);
	}
done:
	store_dirents_free(ud, nud);
	*out = l;
	return 0;
fail:
	store_dirents_free(ud, nud);
	list_free(l);
	return err;
}

int dir_is_empty(struct pfs *fs, struct node *n)
{
	struct dirlist *l;
	int err = list_dir(fs, n, &l);

	if (err)
		return err;
	err = l->n == 0;
	list_free(l);
	return err;
}

void pfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pfs *fs = fuse_req_userdata(req);
	struct node *n = node_get(fs, ino);
	struct dirlist *l;
	int err;

	stats_count(OP_OPENDIR);
	err = list_dir(fs, n, &l);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	if (n->flags & N_STATIC_BELOW) {
		fi->cache_readdir = 1;	/* the listing can never change while mounted */
		fi->keep_cache = 1;
	}
	fi->fh = (uintptr_t)l;
	fuse_reply_open(req, fi);
}

void pfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi)
{
	struct dirlist *l = (struct dirlist *)(uintptr_t)fi->fh;
	char *buf = malloc(size);
	size_t used = 0;

	stats_count(OP_READDIR);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* Offsets: 0 ".", 1 "..", then 2 + index into the listing. */
	for (size_t i = (size_t)off; i < l->n + 2; i++) {
		struct stat st = {0};
		const char *name = i == 0 ? "." : i == 1 ? ".." : l->e[i - 2].name;
		size_t k;

		st.st_ino = i < 2 ? 1 : l->e[i - 2].ino;
		st.st_mode = i < 2 ? S_IFDIR : l->e[i - 2].type;
		k = fuse_add_direntry(req, buf + used, size - used, name, &st, (off_t)(i + 1));
		if (k > size - used)
			break;
		used += k;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

void pfs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	stats_count(OP_RELEASEDIR);
	list_free((struct dirlist *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

void pfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct pfs *fs = fuse_req_userdata(req);

	stats_count(OP_MKDIR);
	make_entry(req, node_get(fs, parent), name, S_IFDIR | (mode & 07777), NULL);
}

void pfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct pfs *fs = fuse_req_userdata(req);

	stats_count(OP_RMDIR);
	fuse_reply_err(req, -remove_entry(fs, node_get(fs, parent), name, true));
}
