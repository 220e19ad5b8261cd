/* keys.c - the store's key builders, from the one key table in store/keys.def. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/keys.h"

enum key_kind {
#define KEY(kind, suffix, nids) KEY_##kind,
#include "store/keys.def"
#undef KEY
};

static const char *const suffixes[] = {
#define KEY(kind, suffix, nids) [KEY_##kind] = suffix,
#include "store/keys.def"
#undef KEY
};

/* PREFIX, the kind's suffix and what FMT adds.  A key that does not fit would address
 * another file: never go on with one. */
__attribute__((format(printf, 4, 5))) static size_t build(char *buf, const char *prefix,
							  enum key_kind kind, const char *fmt, ...)
{
	int n = snprintf(buf, KEY_MAX, "%s%s", prefix, suffixes[kind]);
	va_list ap;
	int m = 0;

	if (n < 0 || n >= KEY_MAX)
		abort();
	if (fmt) {
		va_start(ap, fmt);
		m = vsnprintf(buf + n, KEY_MAX - (size_t)n, fmt, ap);
		va_end(ap);
		if (m < 0 || m >= KEY_MAX - n)
			abort();
	}
	return (size_t)(n + m);
}

int key_prefix(char buf[KEY_MAX], const char *site)
{
	size_t n = site ? strlen(site) : 0;

	if (n < 1 || n > KEY_SITE_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = site[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return -EINVAL;
	}
	snprintf(buf, KEY_MAX, "pressfs:{%s}:", site);
	return 0;
}

size_t key_format(char buf[KEY_MAX], const char *prefix)
{
	return build(buf, prefix, KEY_format, NULL);
}

size_t key_next(char buf[KEY_MAX], const char *prefix)
{
	return build(buf, prefix, KEY_next, NULL);
}

size_t key_dir(char buf[KEY_MAX], const char *prefix, uint64_t ino)
{
	return build(buf, prefix, KEY_dir, "%" PRIu64, ino);
}

size_t key_inode(char buf[KEY_MAX], const char *prefix, uint64_t ino)
{
	return build(buf, prefix, KEY_inode, "%" PRIu64, ino);
}

size_t key_chunk(char buf[KEY_MAX], const char *prefix, uint64_t id)
{
	return build(buf, prefix, KEY_chunk, "%" PRIu64, id);
}

size_t key_inval(char buf[KEY_MAX], const char *prefix)
{
	return build(buf, prefix, KEY_inval, NULL);
}

size_t key_seq(char buf[KEY_MAX], const char *prefix)
{
	return build(buf, prefix, KEY_seq, NULL);
}

size_t key_pool(char buf[KEY_MAX], const char *prefix, uint64_t id, unsigned part)
{
	return build(buf, prefix, KEY_pool, "%" PRIu64 ":%u", id, part);
}

size_t key_peers(char buf[KEY_MAX], const char *prefix)
{
	return build(buf, prefix, KEY_peers, NULL);
}
