/* rename.c - rename within the writable layers: files and whole directories move in one store
 * operation; lower files are copied up first; what the lower tree keeps is hidden. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "local.h"
#include "overlay/classes.h"
#include "overlay/copy_up.h"
#include "overlay/dir.h"
#include "overlay/fault.h"
#include "overlay/listing.h"
#include "overlay/lookup.h"
#include "overlay/ofile.h"
#include "overlay/rename.h"
#include "overlay/trust.h"
#include "overlay/resolve.h"
#include "path.h"
#include "stats.h"

/* Is A the same as, or an ancestor of, B? */
static bool is_ancestor(struct pfs *fs, struct node *a, struct node *b)
{
	bool found = false;

	pthread_mutex_lock(&fs->lock);
	for (struct node *p = b; p; p = p == fs->root ? NULL : p->parent)
		if (p == a) {
			found = true;
			break;
		}
	pthread_mutex_unlock(&fs->lock);
	return found;
}

/* The store directories a moved directory's judgement read, each at the version it had just
 * before its listing was read: the store moves the tree only while they are all unchanged. */
struct walked {
	uint64_t *ino, *ver;
	size_t n, size;
};

static int walked_add(struct pfs *fs, struct walked *w, uint64_t sino)
{
	struct store_attr a = {0};
	int err;

	if (w->n == w->size) {
		size_t size = w->size ? 2 * w->size : 16;
		uint64_t *ino = realloc(w->ino, size * sizeof(*ino)), *ver;

		if (!ino)
			return -ENOMEM;
		w->ino = ino; /* (larger than w->size says until both have grown) */
		ver = realloc(w->ver, size * sizeof(*ver));
		if (!ver)
			return -ENOMEM;
		w->ver = ver;
		w->size = size;
	}
	err = store_getattr(fs->store, sino, &a);
	if (!err) {
		w->ino[w->n] = sino;
		w->ver[w->n++] = a.version;
	}
	store_attr_release(&a);
	return err;
}

static void walked_free(struct walked *w)
{
	free(w->ino);
	free(w->ver);
	memset(w, 0, sizeof(*w));
}

/* May the entry at OLD stand at NEW, where a directory rename carries it? */
static int check_moved_entry(struct pfs *fs, const char *old, size_t oldlen, const char *new,
			     size_t newlen, bool dir)
{
	struct cls_facts f = {.from = old, .fromlen = oldlen, .is_dir = dir};
	struct cls_verdict v;

	return classes_check(fs, CLS_RENAME_CARRIED, new, newlen, &f, &v);
}

/* Everything below the directory moving from OLD to NEW (buffers of PFS_PATH_MAX holding the two
 * paths, OLDLEN and NEWLEN long; restored on return), through check_moved_entry: a rename moves
 * a whole tree at once, and without this a .php file made where PHP may write (w3tc-config/)
 * could be carried into uploads/, where no write could put it.  SINO is the directory's upper
 * part (0: none), LOWER whether its lower part shows (IN_LOCAL: the layer below is the local
 * directory, for a rename within it).  With -EXDEV, rename(2)'s callers copy instead, and every
 * copy is judged on its own.  One piece: one walk over the two layers of one directory, as
 * list_dir merges them.  The store directories it read go into W, for the store to check that
 * none changed before it moves them (another peer may add to them meanwhile). */
static int check_moved_tree(struct pfs *fs, char *old, size_t oldlen, char *new, size_t newlen,
			    uint64_t sino, bool lower, bool in_local, int depth, struct walked *w)
{
	struct store_dirent *ud = NULL;
	size_t nud = 0;
	DIR *d = NULL;
	int err = 0;

	if (depth > 64)
		return -ELOOP;
	if (sino) {
		err = walked_add(fs, w, sino);
		if (!err)
			err = store_readdir(fs->store, sino, &ud, &nud);
		if (err)
			return err;
		if (nud)
			qsort(ud, nud, sizeof(*ud), dirent_cmp);
	}
	if (lower) {
		int fd = in_local ? local_opendir(fs, old) : lower_opendir(fs, old);

		d = fd >= 0 ? fdopendir(fd) : NULL;
		if (!d && fd >= 0)
			close(fd);
	}
	/* The store's entries, then the lower ones they do not hide. */
	for (size_t i = 0; !err; i++) {
		const struct store_dirent *e = i < nud ? &ud[i] : NULL;
		struct dirent *de = NULL;
		const char *name;
		size_t namelen;
		struct stat st;
		bool dir, sub_lower;

		if (e) {
			if (e->type == STORE_WHITEOUT)
				continue;
			name = e->name;
			namelen = e->namelen;
			dir = e->type == STORE_DIR;
		} else {
			if (!d || !(de = readdir(d)))
				break;
			struct store_dirent key = {.name = de->d_name,
						   .namelen = strlen(de->d_name)};

			if (!strcmp(key.name, ".") || !strcmp(key.name, "..") ||
			    (nud && bsearch(&key, ud, nud, sizeof(*ud), dirent_cmp)))
				continue; /* the store's entry of that name hides it */
			name = key.name;
			namelen = key.namelen;
			dir = de->d_type == DT_DIR ||
			      (de->d_type == DT_UNKNOWN &&
			       fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			       S_ISDIR(st.st_mode));
		}
		if (oldlen + 1 + namelen >= PFS_PATH_MAX || newlen + 1 + namelen >= PFS_PATH_MAX) {
			err = -ENAMETOOLONG;
			break;
		}
		old[oldlen] = new[newlen] = '/';
		memcpy(old + oldlen + 1, name, namelen + 1);
		memcpy(new + newlen + 1, name, namelen + 1);
		err = check_moved_entry(fs, old, oldlen + 1 + namelen, new, newlen + 1 + namelen,
					dir);
		if (!err && dir) {
			/* A store directory shows its lower namesake unless it is opaque. */
			sub_lower =
			    !e ||
			    (d && fstatat(fs->lower_fd, old + 1, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			     S_ISDIR(st.st_mode));
			if (e && sub_lower) {
				struct store_attr a = {0};

				err = store_getattr(fs->store, e->ino, &a);
				sub_lower = !a.opaque;
				store_attr_release(&a);
			}
			if (!err)
				err = check_moved_tree(fs, old, oldlen + 1 + namelen, new,
						       newlen + 1 + namelen, e ? e->ino : 0,
						       sub_lower, in_local, depth + 1, w);
		}
		old[oldlen] = new[newlen] = '\0';
	}
	if (d)
		closedir(d);
	store_dirents_free(ud, nud);
	return err;
}

/* Files open for writing on this peer below the directory that moves: the store does not have
 * their coming content (nor, for a new file, their name) yet, so check_moved_tree cannot see
 * them, and their commit at close would publish them where the rename puts them.  Collected
 * under fs->lock as paths below the directory (node_for_each), judged after it is let go. */
struct open_below {
	struct node *dir;
	char **rel; /* "/a/b.php" below dir */
	size_t n, cap;
	int err;
};

static void find_open_below(struct node *n, void *arg)
{
	struct open_below *ob = arg;
	char buf[PATH_MAX];
	size_t at = sizeof(buf) - 1;
	struct node *p;

	if (!n->of || (n->flags & N_UNLINKED) || ob->err)
		return;
	buf[at] = '\0';
	for (p = n; p && p != ob->dir; p = p->parent) {
		if (!p->parent || p->parent == p || at < p->namelen + 1)
			return; /* the root, or too long to be below DIR */
		at -= p->namelen;
		memcpy(buf + at, p->name, p->namelen);
		buf[--at] = '/';
	}
	if (!p)
		return;
	if (ob->n == ob->cap) {
		size_t cap = ob->cap ? 2 * ob->cap : 8;
		char **more = realloc(ob->rel, cap * sizeof(*more));

		if (!more) {
			ob->err = -ENOMEM;
			return;
		}
		ob->rel = more;
		ob->cap = cap;
	}
	if (!(ob->rel[ob->n] = strdup(buf + at))) {
		ob->err = -ENOMEM;
		return;
	}
	ob->n++;
}

/* Judge every file open below directory SRC (at OLD, moving to NEW) where it will stand. */
static int check_moved_open(struct pfs *fs, struct node *src, const char *old, const char *new)
{
	struct open_below ob = {.dir = src};
	char from[PATH_MAX], to[PATH_MAX];
	int err;

	node_for_each(fs, find_open_below, &ob);
	err = ob.err;
	for (size_t i = 0; i < ob.n && !err; i++) {
		int fl = snprintf(from, sizeof(from), "%s%s", old, ob.rel[i]);
		int tl = snprintf(to, sizeof(to), "%s%s", new, ob.rel[i]);

		if (fl < 0 || tl < 0 || (size_t)fl >= sizeof(from) || (size_t)tl >= sizeof(to))
			err = -ENAMETOOLONG;
		else
			err = check_moved_entry(fs, from, (size_t)fl, to, (size_t)tl, false);
	}
	for (size_t i = 0; i < ob.n; i++)
		free(ob.rel[i]);
	free(ob.rel);
	return err;
}

/* NAME under P as this peer knows it, without asking the store again: the kernel has just
 * looked both names up, and two more lookups are two round trips per rename.  The target while
 * the store's answer on it is trusted (no invalidation since: overlay/trust.h); a file at the
 * source while this peer has its store inode, on the first try (SOURCE), since the store's move
 * refuses (-EAGAIN) unless the source name still holds that inode, and the retry looks it up.
 * An answer a peer's change overtook is no worse than a lookup it overtook: the store does its
 * own checks of what the target holds.  Anything else is looked up through the layers. */
static int rename_lookup(struct pfs *fs, struct node *p, const char *name, size_t len, bool source,
			 struct node **out)
{
	struct fuse_entry_param e;
	struct node *n;

	pthread_mutex_lock(&fs->lock);
	n = node_find(fs, p, name, len);
	if (n && n->sino && !n->of && !(n->flags & (N_UNLINKED | N_INLOCAL)) &&
	    (source ? S_ISREG(n->type) : trust_held(n)))
		n = node_child(fs, p, name, len); /* a lookup count, as overlay_lookup takes */
	else
		n = NULL;
	pthread_mutex_unlock(&fs->lock);
	if (n) {
		*out = n;
		return 0;
	}
	return overlay_lookup(fs, p, name, len, &e, out);
}

/* One piece, in the order rename(2) must check things: the names, both entries, the verdict,
 * what a directory carries, the destination's kind, then the copy-ups and the one store move,
 * which checks that what was judged still holds (-EAGAIN: judge again). */
static int rename_once(struct pfs *fs, struct node *sp, const char *sname, struct node *dp,
		       const char *dname, unsigned flags, bool first)
{
	struct store_rename_check chk = {0};
	struct walked w = {0};
	size_t slen = strlen(sname), dlen = strlen(dname);
	struct node *src = NULL, *dst = NULL;
	char path[PFS_PATH_MAX], spath[PFS_PATH_MAX];
	uint64_t spino, dpino;
	struct cls_facts f = {0};
	struct cls_verdict v;
	unsigned sflags = 0;
	int len, err;

	if (flags & ~RENAME_NOREPLACE)
		return -EINVAL; /* RENAME_EXCHANGE and RENAME_WHITEOUT are not offered */
	err = path_check_name(sname, slen);
	if (!err)
		err = path_check_name(dname, dlen);
	if (err)
		return err;
	err = node_child_path(fs, sp, sname, slen, spath, sizeof(spath));
	if (err < 0)
		return err;
	len = node_child_path(fs, dp, dname, dlen, path, sizeof(path));
	if (len < 0)
		return len;

	err = rename_lookup(fs, sp, sname, slen, first, &src);
	if (!err && !src)
		err = -ENOENT;
	if (err)
		goto out;
	err = rename_lookup(fs, dp, dname, dlen, false, &dst);
	if (err)
		goto out;
	f.from = spath;
	f.fromlen = strlen(spath);
	f.in_local = (src->flags & N_INLOCAL) != 0;
	f.dst_exists = dst != NULL;
	f.dst_in_local = dst && (dst->flags & N_INLOCAL);
	err = classes_check(fs, S_ISDIR(src->type) ? CLS_RENAME_DIR : CLS_RENAME_FILE, path,
			    (size_t)len, &f, &v);
	if (err || src == dst)
		goto out; /* (the same entry: nothing to do) */
	if (v.backend == CLS_LOCAL) {
		/* Within this node's own directory: the local file system does it, once what
		 * the directory carries was judged where it lands. */
		if (S_ISDIR(src->type))
			err = check_moved_tree(fs, spath, strlen(spath), path, (size_t)len, 0, true,
					       true, 0, &w);
		if (!err)
			err = local_rename(fs, spath, path, flags);
		if (!err) {
			pthread_mutex_lock(&fs->lock);
			err = node_move(fs, src, dp, dname, dlen);
			pthread_mutex_unlock(&fs->lock);
		}
		goto out;
	}
	if (S_ISDIR(src->type)) {
		uint64_t ssino;

		if (is_ancestor(fs, src, dp)) {
			err = -EINVAL;
			goto out;
		}
		err = upper_dir(fs, src, &ssino);
		if (!err)
			err = check_moved_tree(fs, spath, strlen(spath), path, (size_t)len, ssino,
					       (src->flags & N_LOWER) && !(src->flags & N_OPAQUE),
					       false, 0, &w);
		if (!err)
			err = check_moved_open(fs, src, spath, path);
		if (err)
			goto out;
	}
	if (dst) {
		if (flags & RENAME_NOREPLACE) {
			err = -EEXIST;
			goto out;
		}
		if (S_ISDIR(dst->type) && !S_ISDIR(src->type)) {
			err = -EISDIR;
			goto out;
		}
		if (!S_ISDIR(dst->type) && S_ISDIR(src->type)) {
			err = -ENOTDIR;
			goto out;
		}
		if (S_ISDIR(dst->type)) {
			err = dir_is_empty(fs, dst);
			if (err < 0)
				goto out;
			if (!err) {
				err = -ENOTEMPTY;
				goto out;
			}
			err = 0;
		}
		if (dst->flags & N_LOWER)
			sflags |= STORE_RENAME_OPAQUE;
	}
	/* A file the store does not have yet: publish it where it is, then move it. */
	if (S_ISREG(src->type)) {
		if (file_open_here(fs, src))
			err = file_commit(fs, src);
		else if (!node_sino(fs, src))
			err = copy_up_file(fs, src);
		if (err)
			goto out;
	}
	if (S_ISDIR(src->type) && (src->flags & N_LOWER) && !(src->flags & N_OPAQUE)) {
		/* The image's part of the directory moves too: copy it up first, then the
		 * store moves the whole directory at once. */
		uint64_t ssino;

		err = copy_up_tree(fs, src);
		if (!err)
			err = upper_dir(fs, src, &ssino);
		/* The copy-up changed the listings the walk read: the store is to check them as
		 * they are now, so they are walked (and judged) again. */
		w.n = 0;
		if (!err)
			err = check_moved_tree(fs, spath, strlen(spath), path, (size_t)len, ssino,
					       true, false, 0, &w);
		if (err)
			goto out;
	}
	if (src->flags & N_LOWER)
		sflags |= STORE_RENAME_WHITEOUT;
	if (!S_ISDIR(src->type))
		sflags &= ~STORE_RENAME_OPAQUE;
	err = upper_dir_make(fs, sp, &spino);
	if (!err)
		err = upper_dir_make(fs, dp, &dpino);
	if (err)
		goto out;
	chk.sino = node_sino(fs, src);
	chk.walked = w.ino;
	chk.vers = w.ver;
	chk.nwalked = w.n;
	chk.dpath = len > (int)dlen + 1 ? path : "/";
	chk.dpathlen = len > (int)dlen + 1 ? (size_t)len - dlen - 1 : 1;
	fault_pause("rename_judged");
	err = store_rename_checked(fs->store, spino, sname, slen, dpino, dname, dlen, sflags, &chk);
	if (err)
		goto out;
	pthread_mutex_lock(&fs->lock);
	err = node_move(fs, src, dp, dname, dlen);
	if (!err) {
		src->flags &= ~(N_LOWER | N_STATIC | N_STATIC_BELOW | N_WRITABLE | N_LOCAL);
		if (sflags & STORE_RENAME_OPAQUE)
			src->flags |= N_OPAQUE;
	}
	pthread_mutex_unlock(&fs->lock);
	if (!err) {
		len = node_path(fs, src, path, sizeof(path));
		if (len > 0)
			src->flags |= classes_node_flags(fs, path, len, &src->cls);
	}
out:
	if (src)
		node_forget(fs, src, 1);
	if (dst)
		node_forget(fs, dst, 1);
	walked_free(&w);
	return err;
}

/* A rename the store refused because something changed what it was judged on is judged
 * again on the store as it is then, a few times.  From the second try this peer's own other
 * changes wait (store_hold_changes): a directory whose tree this peer keeps writing into
 * would otherwise lose every try to its own commits.  A peer that keeps changing it gets
 * -ESTALE, on which the kernel looks both paths up afresh and tries once more itself. */
int overlay_rename(struct pfs *fs, struct node *sp, const char *sname, struct node *dp,
		   const char *dname, unsigned flags)
{
	int err = -EAGAIN;

	for (int i = 0; i < 5 && err == -EAGAIN; i++) {
		if (i) {
			struct timespec pause = {0, 5 * 1000 * 1000 * i};

			nanosleep(&pause, NULL); /* for the other peer's invalidation */
			store_hold_changes(fs->store);
		}
		err = rename_once(fs, sp, sname, dp, dname, flags, i == 0);
		if (i)
			store_release_changes(fs->store);
	}
	if (!err) {
		/* both listings changed here: see lookup_made */
		trust_forget(fs, sp);
		trust_forget(fs, dp);
	}
	return err == -EAGAIN ? -ESTALE : err;
}
