/* test_path.c - unit tests for core/path.c: normalising odd spellings, relative paths, names. */
#include <errno.h>
#include <stdlib.h>

#include "path.h"
#include "tap.h"

/* Normalise S into a buffer of SIZE bytes; expect WANT (a string) or the negative errno ERR. */
static void norm(const char *s, size_t len, size_t size, const char *want, long err)
{
	char *out = malloc(size ? size : 1);
	long n;

	memset(out, 'X', size ? size : 1);
	n = path_normalize(s, len, out, size);
	if (want) {
		is_int(n, (long)strlen(want), "normalize \"%.60s\" (%zu bytes) -> length", s, len);
		ok(n >= 0 && strcmp(out, want) == 0, "normalize \"%.60s\" -> \"%.60s\"", s, want);
		if (n >= 0 && strcmp(out, want) != 0)
			printf("#   got \"%s\"\n", out);
	} else {
		is_int(n, err, "normalize \"%.60s\" (%zu bytes, buffer %zu) fails with %ld", s, len,
		       size, err);
	}
	free(out);
}

#define NORM(s, want)	 norm(s, strlen(s), 4096, want, 0)
#define NORM_ERR(s, err) norm(s, strlen(s), 4096, NULL, err)

static void test_normalize(void)
{
	char name[300], buf[700];

	NORM("/", "/");
	NORM("/a/b", "/a/b");
	NORM("a/b", "/a/b");
	NORM("//a///b/", "/a/b");
	NORM(".", "/");
	NORM("./", "/");
	NORM("/./a/./b/.", "/a/b");
	NORM("/a/..", "/");
	NORM("/a/b/../c", "/a/c");
	NORM("a/b/../../c", "/c");
	NORM("/a/b/c/../../..", "/");
	NORM("...", "/...");
	NORM("/.../..a/a..", "/.../..a/a..");
	NORM("/.htaccess", "/.htaccess");
	NORM("/a b/#c", "/a b/#c");
	NORM_ERR("..", -EACCES);
	NORM_ERR("/..", -EACCES);
	NORM_ERR("/../x", -EACCES);
	NORM_ERR("a/../../b", -EACCES);
	NORM_ERR("/a/../../b/c/d", -EACCES);
	NORM_ERR("../a/..", -EACCES);
	NORM_ERR("", -EINVAL);
	norm("/a\0b", 4, 4096, NULL, -EINVAL);
	norm("/ab\0", 4, 4096, NULL, -EINVAL);
	norm("/abcdef", 3, 4096, "/ab", 0); /* only IN_LEN bytes count */

	/* names of 255 and 256 bytes */
	memset(name, 'n', sizeof(name));
	buf[0] = '/';
	memcpy(buf + 1, name, 255);
	buf[256] = '\0';
	norm(buf, 256, 4096, buf, 0);
	memcpy(buf + 1, name, 256);
	buf[257] = '\0';
	norm(buf, 257, 4096, NULL, -ENAMETOOLONG);
	snprintf(buf, sizeof(buf), "/a/%.256s/..", name); /* even a name ".." removes again */
	norm(buf, strlen(buf), 4096, NULL, -ENAMETOOLONG);

	/* output buffer: "/a/b" needs 5 bytes with the NUL */
	norm("/a/b", 4, 5, "/a/b", 0);
	norm("/a/b", 4, 4, NULL, -ENAMETOOLONG);
	norm("/a/b", 4, 0, NULL, -ENAMETOOLONG);
	norm("/", 1, 2, "/", 0);
	norm("/", 1, 1, NULL, -ENAMETOOLONG);
	/* long spelling, short result: only the result has to fit */
	norm("/aaaaaaaaaaaaaaaa/../b", 22, 3, "/b", 0);
	norm("//////x/", 8, 3, "/x", 0);

	/* nothing is written past what fits */
	{
		char small[8];

		memset(small, 'Z', sizeof(small));
		is_int(path_normalize("/abcdefgh", 9, small, 4), -ENAMETOOLONG, "too small: error");
		ok(small[4] == 'Z' && small[7] == 'Z',
		   "too small: no byte written past the buffer");
	}
}

static void rel(const char *root, const char *path, size_t size, const char *want, long err)
{
	char out[256];
	long n;

	memset(out, 'X', sizeof(out));
	n = path_relative_to(root, strlen(root), path, strlen(path), out, size);
	if (want) {
		is_int(n, (long)strlen(want), "relative_to(%s, %s) length", root, path);
		is_str(n >= 0 ? out : NULL, want, "relative_to(%s, %s) = %s", root, path, want);
	} else {
		is_int(n, err, "relative_to(%s, %s, size %zu) fails with %ld", root, path, size,
		       err);
	}
}

static void test_relative(void)
{
	rel("/srv/www", "/srv/www", 256, "/", 0);
	rel("/srv/www", "/srv/www/a/b.php", 256, "/a/b.php", 0);
	rel("/srv/www", "/srv/www2/a", 256, NULL, -ENOENT);
	rel("/srv/www", "/srv/ww", 256, NULL, -ENOENT);
	rel("/srv/www", "/srv", 256, NULL, -ENOENT);
	rel("/srv/www", "/etc/passwd", 256, NULL, -ENOENT);
	rel("/srv/www/", "/srv/www/x", 256, "/x", 0);
	rel("/", "/a/b", 256, "/a/b", 0);
	rel("/", "/", 256, "/", 0);
	rel("/srv/www", "/srv/www/abc", 5, "/abc", 0);
	rel("/srv/www", "/srv/www/abc", 4, NULL, -ENAMETOOLONG);
	rel("/srv/www", "/srv/www", 1, NULL, -ENAMETOOLONG);
	rel("", "/a", 256, NULL, -EINVAL);
	rel("srv", "/srv/a", 256, NULL, -EINVAL);
}

static void test_check_name(void)
{
	char name[300];

	memset(name, 'n', sizeof(name));
	is_int(path_check_name("a", 1), 0, "name \"a\"");
	is_int(path_check_name("...", 3), 0, "name \"...\"");
	is_int(path_check_name(".htaccess", 9), 0, "name \".htaccess\"");
	is_int(path_check_name("a b#*?", 6), 0, "name with spaces and wildcards");
	is_int(path_check_name(name, 255), 0, "name of 255 bytes");
	is_int(path_check_name(name, 256), -ENAMETOOLONG, "name of 256 bytes");
	is_int(path_check_name("", 0), -EINVAL, "empty name");
	is_int(path_check_name(".", 1), -EINVAL, "name \".\"");
	is_int(path_check_name("..", 2), -EINVAL, "name \"..\"");
	is_int(path_check_name("a/b", 3), -EINVAL, "name with '/'");
	is_int(path_check_name("a\0b", 3), -EINVAL, "name with NUL");
	is_int(path_check_name("ab", 1), 0, "only LEN bytes count");
}

int main(void)
{
	test_normalize();
	test_relative();
	test_check_name();
	return tap_done();
}
