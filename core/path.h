/* path.h - normalising the paths pressfs is asked about, so that no spelling of a path can
 * reach outside the site root or past the policy. */
#ifndef PRESSFS_PATH_H
#define PRESSFS_PATH_H

#include <stddef.h>

#define PATH_NAME_MAX 255 /* longest name of one segment, as on Linux */

/* Normalise IN (IN_LEN bytes, absolute or relative to the root) into OUT (OUT_SIZE bytes):
 * a '/'-separated path starting with '/', no empty, "." or ".." segments, no trailing '/'
 * (the root is "/").  ".." is resolved lexically and may not climb above the root.
 * Returns the length written (without the NUL) or a negative errno:
 *   -EINVAL       IN holds a NUL byte or is empty
 *   -EACCES       ".." would leave the root
 *   -ENAMETOOLONG a segment is longer than PATH_NAME_MAX, or the result does not fit OUT */
long path_normalize(const char *in, size_t in_len, char *out, size_t out_size);

/* If PATH (absolute, normalised) is ROOT or lies below it, write the part relative to ROOT
 * ("/" for ROOT itself, else "/a/b") into OUT and return its length; -ENOENT when PATH is
 * outside ROOT; -ENAMETOOLONG when OUT is too small.  ROOT has no trailing '/' ("/" allowed). */
long path_relative_to(const char *root, size_t root_len, const char *path, size_t path_len,
		      char *out, size_t out_size);

/* 0 when NAME (one directory entry) is acceptable: non-empty, not "." or "..", no '/' or NUL,
 * at most PATH_NAME_MAX bytes.  -EINVAL or -ENAMETOOLONG otherwise. */
int path_check_name(const char *name, size_t len);

#endif
