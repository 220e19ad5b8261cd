/* path.c - lexical normalisation of the paths pressfs is asked about, so that no spelling of a
 * path ("//", ".", "..", trailing '/') reaches outside the site root or past the policy. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "path.h"

/*
 * path_normalize works from the right: a ".." cancels the next real name to its left, so after
 * one right-to-left pass we know which names survive, whether ".." climbed above the root (some
 * ".." is left over), and the exact length of the result, without writing anything.  A second
 * identical pass then writes the surviving names from the end of the result backwards.  Hence
 * nothing is written when the result does not fit, and no scratch memory is needed.
 */

/* One name ending just before IN[END]; returns its start (the byte after its '/' or 0). */
static size_t name_start(const char *in, size_t end)
{
	size_t s = end;

	while (s > 0 && in[s - 1] != '/')
		s--;
	return s;
}

/* Walk IN right to left; with OUT, write the surviving names ending at OUT[total]. */
static long walk(const char *in, size_t in_len, char *out, size_t total)
{
	size_t end = in_len, skip = 0, len = 0, w = total;

	for (;;) {
		size_t s = name_start(in, end), n = end - s;

		if (n > PATH_NAME_MAX)
			return -ENAMETOOLONG;
		if (n == 2 && in[s] == '.' && in[s + 1] == '.') {
			skip++;
		} else if (n == 0 || (n == 1 && in[s] == '.')) {
			/* "//", "/./", leading or trailing '/': nothing */
		} else if (skip) {
			skip--;
		} else {
			len += n + 1;
			if (out) {
				w -= n;
				memcpy(out + w, in + s, n);
				out[--w] = '/';
			}
		}
		if (s == 0)
			break;
		end = s - 1;
	}
	if (skip)
		return -EACCES;
	return (long)(len ? len : 1);
}

long path_normalize(const char *in, size_t in_len, char *out, size_t out_size)
{
	long len;

	if (!in || in_len == 0 || memchr(in, '\0', in_len))
		return -EINVAL;
	len = walk(in, in_len, NULL, 0);
	if (len < 0)
		return len;
	if ((size_t)len >= out_size)
		return -ENAMETOOLONG;
	out[0] = '/'; /* the root, when no name survives */
	walk(in, in_len, out, (size_t)len);
	out[len] = '\0';
	return len;
}

long path_relative_to(const char *root, size_t root_len, const char *path, size_t path_len,
		      char *out, size_t out_size)
{
	const char *rel;
	size_t n;

	if (!root || !path || root_len == 0 || root[0] != '/' || path_len == 0 || path[0] != '/')
		return -EINVAL;
	while (root_len > 1 && root[root_len - 1] == '/')
		root_len--; /* forgive "/srv/www/" */
	if (root_len == 1) {
		rel = path;
		n = path_len;
	} else if (path_len < root_len || memcmp(path, root, root_len) != 0) {
		return -ENOENT;
	} else if (path_len == root_len) {
		rel = "/";
		n = 1;
	} else if (path[root_len] == '/') {
		rel = path + root_len;
		n = path_len - root_len;
	} else {
		return -ENOENT; /* "/srv/www2" is not below "/srv/www" */
	}
	if (n >= out_size)
		return -ENAMETOOLONG;
	memcpy(out, rel, n);
	out[n] = '\0';
	return (long)n;
}

int path_check_name(const char *name, size_t len)
{
	if (!name || len == 0)
		return -EINVAL;
	if (memchr(name, '/', len) || memchr(name, '\0', len))
		return -EINVAL;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return -EINVAL;
	if (len > PATH_NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}
