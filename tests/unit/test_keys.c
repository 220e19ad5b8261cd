/* test_keys.c - every key builder of fuse/store/keys.c against the key table of
 * docs/FORMAT.md, read here so the two cannot drift, and the K table the scripts get
 * (obj/fuse/store/lua/keys.lua) against the same builders. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/keys.h"
#include "tap.h"

#define PREFIX "pressfs:{t-1.x_}:"

static size_t b_format(char *buf)
{
	return key_format(buf, PREFIX);
}
static size_t b_next(char *buf)
{
	return key_next(buf, PREFIX);
}
static size_t b_dir(char *buf)
{
	return key_dir(buf, PREFIX, 42);
}
static size_t b_inode(char *buf)
{
	return key_inode(buf, PREFIX, 42);
}
static size_t b_chunk(char *buf)
{
	return key_chunk(buf, PREFIX, 42);
}
static size_t b_inval(char *buf)
{
	return key_inval(buf, PREFIX);
}
static size_t b_seq(char *buf)
{
	return key_seq(buf, PREFIX);
}
static size_t b_pool(char *buf)
{
	return key_pool(buf, PREFIX, 42, 1);
}
static size_t b_peers(char *buf)
{
	return key_peers(buf, PREFIX);
}

/* One builder per documented key, by its spelling in the doc (after "P "). */
static const struct {
	const char *doc;
	const char *lua_kind; /* its entry in the scripts' K table */
	size_t (*build)(char *buf);
} builders[] = {
    {"format", "format", b_format},    {"next", "next", b_next},     {"d:<ino>", "dir", b_dir},
    {"i:<ino>", "inode", b_inode},     {"c:<id>", "chunk", b_chunk}, {"inval", "inval", b_inval},
    {"seq", "seq", b_seq},	       {"m:<id>:<part>", "pool", b_pool},
    {"peers", "peers", b_peers},
};
#define NBUILDERS (sizeof builders / sizeof builders[0])

/* The doc's spelling with <ino>/<id> as 42 and <part> as 1, after PREFIX. */
static void expand(const char *doc, char *out, size_t size)
{
	size_t n = (size_t)snprintf(out, size, "%s", PREFIX);

	while (*doc && n + 3 < size) {
		if (!strncmp(doc, "<ino>", 5) || !strncmp(doc, "<id>", 4)) {
			n += (size_t)snprintf(out + n, size - n, "42");
			doc = strchr(doc, '>') + 1;
		} else if (!strncmp(doc, "<part>", 6)) {
			n += (size_t)snprintf(out + n, size - n, "1");
			doc += 6;
		} else {
			out[n++] = *doc++;
			out[n] = '\0';
		}
	}
}

/* The rows "| `P NAME` | ..." of the "## Keys" table of docs/FORMAT.md. */
static int doc_keys(char names[][64], int max)
{
	FILE *f = fopen("docs/FORMAT.md", "r");
	char line[1024];
	bool in = false;
	int n = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof line, f)) {
		if (!strncmp(line, "## ", 3))
			in = !strncmp(line, "## Keys", 7);
		else if (in && !strncmp(line, "| `P ", 5) && n < max) {
			char *end = strchr(line + 5, '`');

			if (end && end - (line + 5) < 64) {
				*end = '\0';
				snprintf(names[n++], 64, "%.63s", line + 5);
			}
		}
	}
	fclose(f);
	return n;
}

static void test_doc_table(void)
{
	char names[32][64], want[KEY_MAX], got[KEY_MAX];
	bool used[NBUILDERS] = {0};
	int n = doc_keys(names, 32);

	ok(n > 0, "docs/FORMAT.md has a key table (%d rows)", n);
	for (int i = 0; i < n; i++) {
		size_t b = 0;

		while (b < NBUILDERS && strcmp(builders[b].doc, names[i]))
			b++;
		ok(b < NBUILDERS, "documented key `P %s` has a builder", names[i]);
		if (b == NBUILDERS)
			continue;
		used[b] = true;
		expand(names[i], want, sizeof want);
		memset(got, 'x', sizeof got);
		is_int(builders[b].build(got), strlen(want), "`P %s`: length", names[i]);
		is_str(got, want, "`P %s`: spelled as documented", names[i]);
	}
	for (size_t b = 0; b < NBUILDERS; b++)
		ok(used[b], "builder of `P %s` is documented in the key table", builders[b].doc);
}

/* keys.lua's K table: kind = "suffix", the suffix each builder puts after the prefix. */
static void test_lua_table(void)
{
	FILE *f = fopen("obj/fuse/store/lua/keys.lua", "r");
	char line[256], got[KEY_MAX];
	size_t found = 0;

	ok(f != NULL, "obj/fuse/store/lua/keys.lua was built");
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		char kind[32], suffix[32];

		if (sscanf(line, "%31[a-z] = \"%31[^\"]\",", kind, suffix) != 2)
			continue;
		for (size_t b = 0; b < NBUILDERS; b++) {
			if (strcmp(builders[b].lua_kind, kind))
				continue;
			builders[b].build(got);
			ok(!strncmp(got + strlen(PREFIX), suffix, strlen(suffix)) &&
			       strchr("4:", got[strlen(PREFIX) + strlen(suffix)] ?: '4'),
			   "K.%s = \"%s\" is what the C builder puts after the prefix (%s)", kind,
			   suffix, got);
			found++;
		}
	}
	fclose(f);
	is_int(found, NBUILDERS, "every builder's kind is in the scripts' K table");
}

static void test_prefix(void)
{
	char buf[KEY_MAX], key[KEY_MAX];
	char long_site[KEY_SITE_MAX + 2];

	is_int(key_prefix(buf, "a.b_c-9"), 0, "a valid site");
	is_str(buf, "pressfs:{a.b_c-9}:", "prefix is pressfs:{SITE}:");
	is_int(key_prefix(buf, ""), -EINVAL, "empty site refused");
	is_int(key_prefix(buf, "a}b"), -EINVAL, "a brace would break the hash tag");
	is_int(key_prefix(buf, "a:b"), -EINVAL, "a colon is refused");
	memset(long_site, 'x', KEY_SITE_MAX + 1);
	long_site[KEY_SITE_MAX + 1] = '\0';
	is_int(key_prefix(buf, long_site), -EINVAL, "a 65-byte site is refused");
	long_site[KEY_SITE_MAX] = '\0';
	is_int(key_prefix(buf, long_site), 0, "a 64-byte site is taken");
	ok(key_pool(key, buf, UINT64_MAX, 4294967295u) < KEY_MAX,
	   "the longest key fits KEY_MAX (%zu bytes)", strlen(key));
}

int main(void)
{
	test_doc_table();
	test_lua_table();
	test_prefix();
	return tap_done();
}
