/* copy_up.c - copying a lower directory tree up into the store, so that a directory the image
 * ships (uploads/2020, say) can be renamed like one made at run time: files, symlinks and
 * directories the store does not hold yet are published under the upper copy of each
 * directory; what a whiteout hides stays hidden. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pressfs.h"
#include "stats.h"

#define BATCH 8

/* Publish the lower file at PATH as NAME in upper directory DIR. */
static int copy_file(struct pfs *fs, uint64_t dir, const char *path, const char *name,
		     const struct stat *st)
{
	size_t nch = (size_t)((st->st_size + STORE_CHUNK_SIZE - 1) / STORE_CHUNK_SIZE);
	uint64_t *ids = calloc(nch ? nch : 1, sizeof(*ids));
	char *buf = malloc((size_t)BATCH * STORE_CHUNK_SIZE);
	struct store_attr a = {0};
	int fd, err = 0;

	fd = openat(fs->lower_fd, path + 1, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || !ids || !buf) {
		err = fd < 0 ? -errno : -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nch && !err; i += BATCH) {
		const void *data[BATCH];
		size_t lens[BATCH], k = 0;

		for (; k < BATCH && i + k < nch; k++) {
			ssize_t got = pread(fd, buf + k * STORE_CHUNK_SIZE, STORE_CHUNK_SIZE,
					    (off_t)(i + k) * STORE_CHUNK_SIZE);

			if (got <= 0) {
				err = got < 0 ? -errno : -EIO; /* the image never shrinks */
				break;
			}
			data[k] = buf + k * STORE_CHUNK_SIZE;
			lens[k] = (size_t)got;
		}
		if (!err)
			err = store_put_chunks(fs->store, k, data, lens, ids + i);
	}
	if (!err)
		err =
		    store_publish_new(fs->store, dir, name, strlen(name), st->st_mode, st->st_uid,
				      st->st_gid, 's', (uint64_t)st->st_size, nch, ids, false, &a);
	if (!err)
		stats_event(EV_COPY_UP);
out:
	store_attr_release(&a);
	if (fd >= 0)
		close(fd);
	free(buf);
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
	fd = openat(fs->lower_fd, path[1] ? path + 1 : ".",
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		err = -errno;
		if (fd >= 0)
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
		if (fstatat(fs->lower_fd, child + 1, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			err = -errno;
			break;
		}
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
			err = store_copyup_dir(
			    fs->store, dir, de->d_name, strlen(de->d_name), st.st_mode, st.st_uid,
			    st.st_gid, (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
			    &sub);
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
