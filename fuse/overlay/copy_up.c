/* copy_up.c - copy-up: a lower file gets its first upper version (through its open-file state,
 * ofile.c, so that what this peer has staged goes with it), and a lower directory tree is
 * copied up whole, so that a directory the image ships (uploads/2020, say) can be renamed like
 * one made at run time: files, symlinks and directories the store does not hold yet are
 * published under the upper copy of each directory; what a whiteout hides stays hidden.  File
 * content goes to the backend of the class its path has (chunks.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "overlay/chunks.h"
#include "overlay/classes.h"
#include "overlay/copy_up.h"
#include "overlay/ofile.h"
#include "overlay/resolve.h"
#include "stats.h"

int copy_up_file(struct pfs *fs, struct node *n)
{
	struct ofile *of;
	int err = of_get(fs, n, &of);

	if (err)
		return err;
	pthread_mutex_lock(&of->lock);
	if (of->base_lower)
		of->dirty = true;
	err = of_commit(fs, n, of);
	pthread_mutex_unlock(&of->lock);
	of_put(fs, n, of);
	return err;
}

/* A lower file's chunks, as they are. */
static ssize_t lower_chunk(void *arg, size_t i, char *buf, size_t len, uint64_t *keep)
{
	ssize_t got = pread(*(int *)arg, buf, len, (off_t)i * CHUNK);

	(void)keep;
	if (got <= 0)
		return got < 0 ? -errno : -EIO; /* the image never shrinks */
	return got;
}

/* Publish the lower file at PATH as NAME in upper directory DIR. */
static int copy_file(struct pfs *fs, uint64_t dir, const char *path, const char *name,
		     const struct stat *st)
{
	size_t nch = nchunks_of((uint64_t)st->st_size);
	uint64_t *ids = calloc(nch ? nch : 1, sizeof(*ids));
	struct cls_facts f = {.carried = true};
	struct store_attr a = {0};
	struct cls_verdict v;
	int fd, err;

	err = classes_check(fs, CLS_COPY_UP, path, strlen(path), &f, &v);
	if (err) {
		free(ids);
		return err;
	}
	fd = lower_open(fs, path);
	if (fd < 0 || !ids) {
		err = fd < 0 ? fd : -ENOMEM;
		goto out;
	}
	err = chunks_upload(fs, v.store_cls, (uint64_t)st->st_size, nch, lower_chunk, &fd, ids);
	if (!err)
		err = store_publish_new_as(fs->store, dir, name, strlen(name), st->st_mode,
					   st->st_uid, st->st_gid, v.store_cls,
					   (uint64_t)st->st_size, nch, ids, false, 0,
					   (uint64_t)st->st_ino, &a); /* keeps its st_ino */
	if (!err)
		stats_event(EV_COPY_UP);
out:
	store_attr_release(&a);
	if (fd >= 0)
		close(fd);
	free(ids);
	return err;
}

/* Copy up what the lower directory PATH holds into upper directory DIR, recursively. */
static int copy_dir(struct pfs *fs, const char *path, uint64_t dir, int depth)
{
	int fd, err = 0;
	DIR *d;
	struct dirent *de;

	if (depth > 64)
		return -ELOOP;
	fd = lower_opendir(fs, path);
	if (fd < 0)
		return fd;
	d = fdopendir(fd);
	if (!d) {
		err = -errno;
		close(fd);
		return err;
	}
	while (!err && (de = readdir(d))) {
		char child[PATH_MAX], target[PATH_MAX];
		struct store_attr a = {0};
		struct stat st;
		uint64_t sub;
		bool opaque;
		int type;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((size_t)snprintf(child, sizeof(child), "%s/%s", path[1] ? path : "",
				     de->d_name) >= sizeof(child)) {
			err = -ENAMETOOLONG;
			break;
		}
		err = lower_stat(fs, child, &st);
		if (err)
			break;
		type = store_lookup(fs->store, dir, de->d_name, strlen(de->d_name), &a);
		opaque = type == STORE_DIR && a.opaque;
		store_attr_release(&a);
		if (type == STORE_WHITEOUT || (type > 0 && type != STORE_DIR))
			continue; /* hidden, or the store has its own version already */
		if (type < 0 && type != -ENOENT) {
			err = type;
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			err = store_copyup_dir_as(fs->store, dir, de->d_name, strlen(de->d_name),
						  st.st_mode, st.st_uid, st.st_gid,
						  ts_ns(&st.st_mtim), st.st_ino, &sub);
			if (!err && !opaque) /* an opaque copy hides the rest already */
				err = copy_dir(fs, child, sub, depth + 1);
		} else if (type == -ENOENT && S_ISREG(st.st_mode)) {
			err = copy_file(fs, dir, child, de->d_name, &st);
		} else if (type == -ENOENT && S_ISLNK(st.st_mode)) {
			ssize_t k = readlinkat(fs->lower_fd, child + 1, target, sizeof(target) - 1);

			if (k < 0) {
				err = -errno;
				break;
			}
			target[k] = '\0';
			err = store_create(fs->store, dir, de->d_name, strlen(de->d_name),
					   S_IFLNK | 0777, st.st_uid, st.st_gid, 's', target, &a);
			store_attr_release(&a);
		}
		/* Devices, fifos and sockets have no place in a WordPress tree: left behind. */
	}
	closedir(d);
	return err;
}

int copy_up_tree(struct pfs *fs, struct node *n)
{
	char path[PATH_MAX];
	uint64_t sino;
	int len, err;

	len = node_path(fs, n, path, sizeof(path));
	if (len < 0)
		return len;
	err = upper_dir_make(fs, n, &sino);
	if (err)
		return err;
	log_msg(LOG_LVL_INFO, "copying up the lower tree of %s to move it", path);
	return copy_dir(fs, path, sino, 0);
}
