/* local.c - the local class: files that live on this node only, in the directory given by
 * local=DIR, at the same relative paths as in the tree.  Nothing of it reaches the store.
 * pressfs makes every directory here itself and never makes a symlink, so a relative path
 * opened beneath DIR never leaves it; openat2 makes sure of that all the same. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "local.h"

static int open_beneath(struct pfs *fs, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW),
	    .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, fs->local_fd, tree_rel(path), &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

int local_stat(struct pfs *fs, const char *path, struct stat *st)
{
	int fd = open_beneath(fs, path, O_PATH, 0), err = 0;

	if (fd < 0)
		return fd;
	if (fstat(fd, st) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* Make the directories above PATH in the local tree, as the tree above has them: each with the
 * owner and mode of the merged tree's directory it mirrors (fs->tree_dir), so that the users
 * who may write in that directory may write in its local copy too (default_permissions judges
 * the local copy once it exists).  Where the tree cannot say, the daemon's 0755. */
int local_parents(struct pfs *fs, const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; (p = strchr(p, '/')); p++) {
		struct stat st, tree;
		bool mirror;
		mode_t mode;

		*p = '\0';
		if (local_stat(fs, buf, &st) == 0) {
			if (!S_ISDIR(st.st_mode))
				return -ENOTDIR;
			*p = '/';
			continue;
		}
		mirror = fs->tree_dir && fs->tree_dir(fs, buf, &tree) == 0 && S_ISDIR(tree.st_mode);
		mode = mirror ? tree.st_mode & 07777 : 0755;
		if (mkdirat(fs->local_fd, tree_rel(buf), 0700) == 0) {
			/* Owner first, then the mode: never the tree's bits with the daemon's
			 * owner.  A daemon that may not give files away keeps them its own. */
			if (mirror &&
			    fchownat(fs->local_fd, tree_rel(buf), tree.st_uid, tree.st_gid,
				     AT_SYMLINK_NOFOLLOW) < 0 &&
			    errno != EPERM)
				return -errno;
			if (fchmodat(fs->local_fd, tree_rel(buf), mode, 0) < 0)
				return -errno;
		} else if (errno != EEXIST) {
			return -errno;
		}
		if (local_stat(fs, buf, &st) < 0 || !S_ISDIR(st.st_mode))
			return -ENOTDIR;
		*p = '/';
	}
	return 0;
}

int local_open(struct pfs *fs, const char *path, int flags, mode_t mode)
{
	if (flags & O_CREAT) {
		int err = local_parents(fs, path);

		if (err)
			return err;
	}
	return open_beneath(fs, path, flags & (O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC | O_APPEND),
			    mode);
}

int local_mkdir(struct pfs *fs, const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	int err = local_parents(fs, path);

	if (!err && mkdirat(fs->local_fd, tree_rel(path), mode) < 0)
		err = -errno;
	/* The caller's, as in the store: www-data must be able to fill what it made. */
	if (!err && fchownat(fs->local_fd, tree_rel(path), uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		err = -errno;
	return err;
}

int local_remove(struct pfs *fs, const char *path, bool dir)
{
	if (unlinkat(fs->local_fd, tree_rel(path), dir ? AT_REMOVEDIR : 0) < 0)
		return -errno;
	return 0;
}

int local_rename(struct pfs *fs, const char *from, const char *to, unsigned flags)
{
	int err = local_parents(fs, to);

	if (!err && renameat2(fs->local_fd, tree_rel(from), fs->local_fd, tree_rel(to), flags) < 0)
		err = -errno;
	return err;
}

/* A directory of the local tree, to merge into a listing; -ENOENT when it has none. */
int local_opendir(struct pfs *fs, const char *path)
{
	return open_beneath(fs, path, O_RDONLY | O_DIRECTORY, 0);
}
