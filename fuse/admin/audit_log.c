/* audit_log.c - reading the extension's audit log: one JSON object a line (jansson), with the
 * extension's escapes for bytes that are not UTF-8, and who wrote each record. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "admin/audit_log.h"

void audit_record_free(struct record *r)
{
	free(r->op);
	free(r->path);
	free(r->cls);
	free(r->outcome);
	free(r->culprit);
	free(r->pattern);
	free(r->file);
	free(r->culprit_file);
	memset(r, 0, sizeof(*r));
}

/* ---- the extension's JSON, parsed by jansson ---- */

/* The extension writes valid UTF-8 as it is and every other byte as \u00XX (ext/record.c,
 * json_str): \u0080-\u00ff are bytes, not characters.  jansson reads them as characters, so
 * before parsing they become U+10FC80-U+10FCFF (private use, a surrogate pair), which
 * unmask() turns back into the byte.  Returns a malloc'd copy of LINE, or NULL. */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#define BYTE_MARK_LEAD 0xf4 /* UTF-8 of U+10FC80-U+10FCFF: f4 8f b2 80 ... f4 8f b3 bf */
static char *mask_bytes(const char *line, size_t len, size_t *outlen)
{
	char *out = malloc(len * 2 + 1), *o = out; /* 6 bytes become at most 12 */

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		int hi = len - i >= 6 ? hexval(line[i + 4]) : -1,
		    lo = hi >= 0 ? hexval(line[i + 5]) : -1;

		if (line[i] == '\\' && i + 1 < len && line[i + 1] == '\\') {
			*o++ = line[i++];
			*o++ = line[i];
			continue;
		}
		if (line[i] == '\\' && hi >= 8 && lo >= 0 && line[i + 1] == 'u' &&
		    line[i + 2] == '0' && line[i + 3] == '0') {
			o += sprintf(o, "\\udbff\\udc%02x", hi << 4 | lo);
			i += 5;
			continue;
		}
		*o++ = line[i];
	}
	*o = '\0';
	*outlen = (size_t)(o - out);
	return out;
}

/* The masked bytes of S back in place (S only shrinks). */
static void unmask(char *s)
{
	char *o = s;

	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		if (p[0] == BYTE_MARK_LEAD && p[1] == 0x8f && (p[2] == 0xb2 || p[2] == 0xb3) &&
		    (p[3] & 0xc0) == 0x80) {
			*o++ = (char)(0x80 | (p[2] & 1) << 6 | (p[3] & 0x3f));
			p += 4;
		} else {
			*o++ = (char)*p++;
		}
	}
	*o = '\0';
}

/* KEY of object O as a malloc'd C string: NULL when absent, null or not a string, or when it
 * holds a NUL (which no path or name can). */
static char *take_string(json_t *o, const char *key, bool *bad)
{
	json_t *v = json_object_get(o, key);
	char *s;

	if (!json_is_string(v))
		return NULL;
	if (strlen(json_string_value(v)) != json_string_length(v)) {
		*bad = true;
		return NULL;
	}
	s = strdup(json_string_value(v));
	if (!s)
		*bad = true;
	else
		unmask(s);
	return s;
}

static long long take_int(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		return (long long)json_integer_value(v);
	if (json_is_real(v))
		return (long long)json_real_value(v);
	return -1;
}

/* Fill R from one line; false when the line is not a JSON object with a path and an outcome. */
bool audit_record_parse(const char *line, size_t len, struct record *r)
{
	size_t mlen;
	char *masked = mask_bytes(line, len, &mlen);
	json_t *o = masked ? json_loadb(masked, mlen, JSON_ALLOW_NUL, NULL) : NULL;
	bool bad = false;

	free(masked);
	memset(r, 0, sizeof(*r));
	if (!json_is_object(o)) {
		json_decref(o);
		return false;
	}
	r->op = take_string(o, "op", &bad);
	r->path = take_string(o, "path", &bad);
	r->cls = take_string(o, "class", &bad);
	r->outcome = take_string(o, "outcome", &bad);
	r->culprit = take_string(o, "culprit", &bad);
	r->pattern = take_string(o, "pattern", &bad);
	r->file = take_string(o, "file", &bad);
	r->culprit_file = take_string(o, "culprit_file", &bad);
	r->rule = take_int(o, "rule");
	r->bytes = take_int(o, "bytes");
	json_decref(o);
	if (bad || !r->path || !r->outcome)
		goto bad;
	if (!r->culprit && !(r->culprit = strdup("core")))
		goto bad;
	if (!r->op && !(r->op = strdup("?")))
		goto bad;
	return true;
bad:
	audit_record_free(r);
	return false;
}

/* ---- who wrote it: by the path below the site's root ---- */

static const struct {
	const char *dir, *kind;
} places[] = {
    {"/wp-content/plugins/", "plugin"},
    {"/wp-content/mu-plugins/", "mu-plugin"},
    {"/wp-content/themes/", "theme"},
};

/* The writer of the code at BELOW, a path that starts at the site's root (or at a wp-content
 * directory kept elsewhere): "plugin:akismet", or "core" for anything not in a plugin or
 * theme directory.  Malloc'd. */
static char *writer_of(const char *below)
{
	for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++) {
		size_t dl = strlen(places[i].dir), n;
		const char *slug = below + dl;
		char *out;

		if (strncmp(below, places[i].dir, dl))
			continue;
		n = strcspn(slug, "/");
		if (!slug[n] && n > 4 && !strcmp(slug + n - 4, ".php"))
			n -= 4; /* a single-file plugin: hello.php is "hello" */
		if (!n)
			break;
		if (asprintf(&out, "%s:%.*s", places[i].kind, (int)n, slug) < 0)
			return NULL;
		return out;
	}
	return strdup("core");
}

/* The extension names the writer by the first plugin or theme directory found anywhere in
 * the script's path, so uploads/wp-content/plugins/akismet/x.php passes for akismet.  Name it
 * again from the script's path below the site's root (FILE without its PATH), or, for a script
 * outside the root (Debian keeps wp-content in /var/lib/wordpress), from its first wp-content
 * directory.  0, or -ENOMEM. */
int audit_attribute(struct record *r)
{
	size_t fl, pl;
	const char *below = NULL;
	char *who;

	if (!r->culprit_file || !strcmp(r->culprit, "core"))
		return 0;
	fl = r->file ? strlen(r->file) : 0;
	pl = strlen(r->path);
	if (fl > pl && !strcmp(r->file + fl - pl, r->path) &&
	    !strncmp(r->culprit_file, r->file, fl - pl) && r->culprit_file[fl - pl] == '/')
		below = r->culprit_file + (fl - pl);
	else if ((below = strstr(r->culprit_file, "/wp-content/")))
		;
	else
		return 0;
	who = writer_of(below);
	if (!who)
		return -ENOMEM;
	free(r->culprit);
	r->culprit = who;
	return 0;
}
