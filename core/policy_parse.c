/* policy_parse.c - reads a pressfs policy file: one rule a line, checked whole, compiled for
 * the matcher of policy.c; a bad file is rejected with its file, line and column. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"
#include "path.h"
#include "policy.h"

#include "policy_int.h"

/* ---------------------------------------------------------------------------------------------
 * Parsing
 */

struct parser {
	const char *name;
	const char *line; /* start of the current line */
	unsigned lineno;
	struct policy_error *err;
	struct policy *p;
	size_t cap;
	/* duplicate detection: open addressing over rule indexes + 1 (0 is empty) */
	uint32_t *hash;
	size_t hash_cap;
};

__attribute__((format(printf, 3, 4))) static int fail(struct parser *ps, const char *at,
						      const char *fmt, ...)
{
	va_list ap;

	ps->err->line = ps->lineno;
	ps->err->column = (unsigned)(at - ps->line) + 1;
	va_start(ap, fmt);
	vsnprintf(ps->err->reason, sizeof(ps->err->reason), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static void fail_plain(struct policy_error *err, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail_plain(struct policy_error *err, unsigned line, const char *fmt, ...)
{
	va_list ap;

	err->line = line;
	err->column = line ? 1 : 0;
	va_start(ap, fmt);
	vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
	va_end(ap);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Scan one token from *s (not at a space, not at the end); escapes keep spaces inside it. */
static int scan_token(struct parser *ps, const char **s, const char *e)
{
	const char *q = *s;

	while (q < e && !is_space(*q)) {
		if (*q == '\0')
			return fail(ps, q, "NUL byte");
		if (*q == '\\') {
			if (q + 1 == e)
				return fail(ps, q, "dangling '\\' at the end of the line");
			if (q[1] == '\0')
				return fail(ps, q + 1, "NUL byte");
			q += 2;
			continue;
		}
		q++;
	}
	*s = q;
	return 0;
}

static const char *skip_space(const char *s, const char *e)
{
	while (s < e && is_space(*s))
		s++;
	return s;
}

/* A comment runs to the end of the line; it may hold anything but NUL. */
static int check_comment(struct parser *ps, const char *s, const char *e)
{
	const char *nul = memchr(s, '\0', (size_t)(e - s));

	return nul ? fail(ps, nul, "NUL byte") : 0;
}

static bool is_wild(char c)
{
	return c == '*' || c == '?' || c == '\\';
}

/*
 * Compile pattern token T (n bytes, escapes still in) into R.  Errors point at the byte at fault.
 * Layout of the one allocation: segs[nsegs], then code, prefix, suffix and canon, each at most
 * 2n + 2 bytes.  One piece: a single pass over the token fills all five at once.
 */
static int compile(struct parser *ps, const char *t, size_t n, struct crule *r)
{
	size_t nsegs = 0, cl = 0, canl = 0, pl = 0;
	char *code, *prefix, *suffix, *canon;
	bool wild_seen = false;

	if (t[0] != '/')
		return fail(ps, t,
			    "pattern must start with '/' (it is relative to the WordPress root)");
	for (size_t i = 0; i < n; i++)
		nsegs += t[i] == '/';
	if (n == 1)
		nsegs = 0; /* "/": the root itself */

	r->segs = malloc(nsegs * sizeof(struct seg) + 4 * (2 * n + 2));
	if (!r->segs)
		return -ENOMEM;
	code = (char *)(r->segs + nsegs);
	prefix = code + 2 * n + 2;
	suffix = prefix + 2 * n + 2;
	canon = suffix + 2 * n + 2;
	r->nsegs = 0;
	r->first_any = UINT32_MAX;
	r->min_segs = 0;

	for (size_t i = 1; n > 1;) {
		size_t start = i, min = 0, code_start = cl;
		const char *run = NULL; /* first '*' of an unescaped "**" inside the segment */
		bool wild = false, prev_star = false;
		struct seg *sg = &r->segs[r->nsegs];

		canon[canl++] = '/';
		while (i < n && t[i] != '/') {
			if (t[i] == '\\') {
				if (t[i + 1] == '/')
					return fail(
					    ps, t + i,
					    "'/' cannot be escaped: a name never holds '/'");
				if (is_wild(t[i + 1]))
					canon[canl++] = '\\';
				canon[canl++] = t[i + 1];
				code[cl++] =
				    t[i + 1]; /* re-escaped below if the segment is a glob */
				min++;
				i += 2;
				prev_star = false;
				continue;
			}
			if (t[i] == '*' && prev_star && !run)
				run = t + i - 1;
			if (t[i] == '*' || t[i] == '?') {
				wild = true;
				min += t[i] == '?';
			} else {
				min++;
			}
			prev_star = t[i] == '*';
			canon[canl++] = t[i];
			code[cl++] = t[i];
			i++;
		}
		if (i == start) {
			if (i == n)
				return fail(ps, t + i - 1, "trailing '/'");
			return fail(ps, t + i, "empty segment ('//')");
		}
		if (i - start == 2 && t[start] == '*' && t[start + 1] == '*') {
			sg->kind = SEG_ANY;
			cl = code_start;
		} else if (run) {
			return fail(ps, run,
				    "'**' must be a whole segment (use '*' within a name)");
		} else if (!wild) {
			size_t len = cl - code_start;

			if ((len == 1 || len == 2) && memcmp(code + code_start, "..", len) == 0)
				return fail(ps, t + start, "'%.*s' segment: paths are normalised",
					    (int)len, "..");
			sg->kind = SEG_LIT;
		} else {
			/* redo the segment in canonical glob form: escapes only before * ? \ */
			cl = code_start;
			for (size_t j = start; j < i; j++) {
				if (t[j] == '\\') {
					j++;
					if (is_wild(t[j]))
						code[cl++] = '\\';
				}
				code[cl++] = t[j];
			}
			sg->kind = SEG_GLOB;
		}
		if (min > PATH_NAME_MAX)
			return fail(ps, t + start, "segment can never match: longer than %d bytes",
				    PATH_NAME_MAX);
		sg->off = (uint32_t)code_start;
		sg->len = (uint32_t)(cl - code_start);

		/* literal prefix: whole literal segments, then a glob's bytes up to its wildcard */
		if (!wild_seen) {
			if (sg->kind == SEG_LIT) {
				prefix[pl++] = '/';
				memcpy(prefix + pl, code + sg->off, sg->len);
				pl += sg->len;
			} else if (sg->kind == SEG_GLOB) {
				prefix[pl++] = '/';
				for (size_t j = sg->off; j < sg->off + sg->len; j++) {
					char c = code[j];

					if (c == '*' || c == '?')
						break;
					if (c == '\\')
						c = code[++j];
					prefix[pl++] = c;
				}
			}
			wild_seen = sg->kind != SEG_LIT;
		}
		if (sg->kind == SEG_ANY) {
			if (r->first_any == UINT32_MAX)
				r->first_any = r->nsegs;
		} else {
			r->min_segs++;
		}
		r->nsegs++;
		if (i == n)
			break;
		i++; /* the '/' */
	}
	if (n == 1) {
		prefix[pl++] = '/';
		canon[canl++] = '/';
	}
	if (r->first_any == UINT32_MAX)
		r->first_any = r->nsegs;
	r->exact = !wild_seen;
	r->tree = r->nsegs && r->first_any == r->nsegs - 1 && r->min_segs == r->nsegs - 1;
	for (uint32_t k = 0; r->tree && k + 1 < r->nsegs; k++)
		r->tree = r->segs[k].kind == SEG_LIT;

	/* literal suffix: from the last segment */
	r->suffix_len = 0;
	if (r->nsegs) {
		const struct seg *last = &r->segs[r->nsegs - 1];

		if (last->kind == SEG_LIT) {
			suffix[0] = '/';
			memcpy(suffix + 1, code + last->off, last->len);
			r->suffix_len = last->len + 1;
		} else if (last->kind == SEG_GLOB) {
			/* bytes after the last unescaped wildcard, unescaped */
			size_t from = last->off;

			for (size_t j = last->off; j < last->off + last->len; j++) {
				if (code[j] == '\\')
					j++;
				else if (code[j] == '*' || code[j] == '?')
					from = j + 1;
			}
			for (size_t j = from; j < last->off + last->len; j++) {
				if (code[j] == '\\')
					j++;
				suffix[r->suffix_len++] = code[j];
			}
		}
	}
	r->code = code;
	r->prefix = prefix;
	r->prefix_len = (uint32_t)pl;
	r->suffix = suffix;
	r->canon = canon;
	r->canon_len = (uint32_t)canl;
	return 0;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
	return fnv1a_64(s, n);
}

static int hash_grow(struct parser *ps)
{
	size_t cap = ps->hash_cap ? ps->hash_cap * 2 : 64;
	uint32_t *h = calloc(cap, sizeof(*h));

	if (!h)
		return -ENOMEM;
	for (size_t i = 0; i < ps->hash_cap; i++) {
		uint32_t v = ps->hash[i];
		size_t j;

		if (!v)
			continue;
		j = hash_bytes(ps->p->cr[v - 1].canon, ps->p->cr[v - 1].canon_len) & (cap - 1);
		while (h[j])
			j = (j + 1) & (cap - 1);
		h[j] = v;
	}
	free(ps->hash);
	ps->hash = h;
	ps->hash_cap = cap;
	return 0;
}

/* Record rule K (already compiled); 0, or the 1-based line of an identical earlier pattern. */
static unsigned hash_add(struct parser *ps, size_t k)
{
	const struct crule *r = &ps->p->cr[k];
	size_t j = hash_bytes(r->canon, r->canon_len) & (ps->hash_cap - 1);

	while (ps->hash[j]) {
		const struct crule *o = &ps->p->cr[ps->hash[j] - 1];

		if (o->canon_len == r->canon_len && memcmp(o->canon, r->canon, r->canon_len) == 0)
			return ps->p->rules[ps->hash[j] - 1].line;
		j = (j + 1) & (ps->hash_cap - 1);
	}
	ps->hash[j] = (uint32_t)k + 1;
	return 0;
}

static int grow_rules(struct parser *ps)
{
	struct policy *p = ps->p;
	size_t cap = ps->cap ? ps->cap * 2 : 32;
	struct policy_rule *rules;
	struct crule *cr;

	if (cap > UINT32_MAX / 2)
		return -ENOMEM;
	rules = realloc(p->rules, cap * sizeof(*rules));
	if (!rules)
		return -ENOMEM;
	p->rules = rules;
	cr = realloc(p->cr, cap * sizeof(*cr));
	if (!cr)
		return -ENOMEM;
	p->cr = cr;
	ps->cap = cap;
	return 0;
}

static enum policy_class class_from(const char *s, size_t n)
{
	for (int c = POLICY_SHARED; c <= POLICY_DENY; c++)
		if (strlen(policy_class_name((enum policy_class)c)) == n &&
		    memcmp(policy_class_name((enum policy_class)c), s, n) == 0)
			return (enum policy_class)c;
	return POLICY_NONE;
}

/* Printable rendering of an offending token for a message: at most 40 bytes, others as \xNN. */
static void quote(char *out, size_t size, const char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 5 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == 40) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (c >= 0x20 && c < 0x7f)
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
	}
	out[o] = '\0';
}

/* One rule line, S to E: the pattern, the class and its modifier, then the trailing comment,
 * each checked where it stands so an error points at its column.  One piece: a left-to-right
 * scan of one line. */
static int parse_line(struct parser *ps, const char *s, const char *e)
{
	struct policy *p = ps->p;
	const char *pat, *pat_end, *cls, *cls_end, *plus;
	struct crule *r;
	enum policy_class c;
	unsigned dup;
	int ret;

	s = skip_space(s, e);
	if (s == e || *s == '#')
		return check_comment(ps, s, e);
	pat = s;
	ret = scan_token(ps, &s, e);
	if (ret)
		return ret;
	pat_end = s;

	if (p->n == ps->cap) {
		ret = grow_rules(ps);
		if (ret)
			return ret;
	}
	r = &p->cr[p->n];
	memset(r, 0, sizeof(*r));
	memset(&p->rules[p->n], 0, sizeof(p->rules[0]));
	ret = compile(ps, pat, (size_t)(pat_end - pat), r);
	if (ret)
		goto err_rule;

	s = skip_space(s, e);
	if (s == e || *s == '#') {
		ret = fail(ps, s, "missing class after the pattern (shared, cache, local or deny)");
		goto err_rule;
	}
	cls = s;
	ret = scan_token(ps, &s, e);
	if (ret)
		goto err_rule;
	cls_end = s;
	plus = memchr(cls, '+', (size_t)(cls_end - cls));
	c = class_from(cls, (size_t)((plus ? plus : cls_end) - cls));
	if (c == POLICY_NONE) {
		char q[200];

		quote(q, sizeof(q), cls, (size_t)((plus ? plus : cls_end) - cls));
		ret = fail(ps, cls, "unknown class \"%s\" (shared, cache, local or deny)", q);
		goto err_rule;
	}
	if (plus) {
		char q[200];

		quote(q, sizeof(q), plus + 1, (size_t)(cls_end - plus - 1));
		if ((size_t)(cls_end - plus - 1) != 4 || memcmp(plus + 1, "code", 4) != 0) {
			ret = fail(ps, plus + 1,
				   "unknown modifier \"%s\" (the one there is: +code)", q);
			goto err_rule;
		}
		if (!policy_class_writable(c)) {
			ret =
			    fail(ps, plus, "+code on a class that takes no writes grants nothing");
			goto err_rule;
		}
	}
	s = skip_space(s, e);
	if (s < e && *s != '#') {
		ret = fail(ps, s, "extra text after the class (a comment starts with '#')");
		goto err_rule;
	}
	ret = check_comment(ps, s, e);
	if (ret)
		goto err_rule;

	if (2 * (p->n + 1) > ps->hash_cap) {
		ret = hash_grow(ps);
		if (ret)
			goto err_rule;
	}
	dup = hash_add(ps, p->n);
	if (dup) {
		ret = fail(ps, pat, "duplicate of line %u: this rule could never match", dup);
		goto err_rule;
	}
	p->rules[p->n].pattern = strndup(pat, (size_t)(pat_end - pat));
	if (!p->rules[p->n].pattern) {
		ret = -ENOMEM;
		goto err_rule;
	}
	p->rules[p->n].cls = c;
	p->rules[p->n].code = plus != NULL;
	p->rules[p->n].line = ps->lineno;
	p->n++;
	return 0;

err_rule:
	free(r->segs);
	r->segs = NULL;
	return ret;
}

int policy_parse(const char *name, const char *buf, size_t len, struct policy **out,
		 struct policy_error *err)
{
	struct policy_error dummy;
	struct parser ps = {.name = name, .err = err ? err : &dummy};
	const char *s = buf, *end = buf + len;
	int ret = 0;

	memset(ps.err, 0, sizeof(*ps.err));
	ps.err->file = name;
	*out = NULL;
	ps.p = calloc(1, sizeof(*ps.p));
	if (!ps.p) {
		ret = -ENOMEM;
		goto fail;
	}
	while (len && s <= end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *e = nl ? nl : end;

		ps.lineno++;
		ps.line = s;
		ret = parse_line(&ps, s, e);
		if (ret)
			goto fail;
		if (!nl)
			break;
		s = nl + 1;
	}
	ret = policy_index_build(ps.p);
	if (ret)
		goto fail;
	free(ps.hash);
	*out = ps.p;
	return 0;

fail:
	if (ret == -ENOMEM)
		fail_plain(ps.err, 0, "out of memory");
	free(ps.hash);
	policy_free(ps.p);
	return ret;
}

#define POLICY_MAX_SIZE (16u << 20)

int policy_load(const char *path, struct policy **out, struct policy_error *err)
{
	struct policy_error dummy;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd, ret;

	if (!err)
		err = &dummy;
	memset(err, 0, sizeof(*err));
	err->file = path;
	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto fail_errno;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nb;

			if (cap >= POLICY_MAX_SIZE) {
				close(fd);
				free(buf);
				fail_plain(err, 0, "larger than %u bytes: not a policy file",
					   POLICY_MAX_SIZE);
				return -EFBIG;
			}
			cap = cap ? cap * 2 : 8192;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				ret = -ENOMEM;
				close(fd);
				goto fail_errno;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			close(fd);
			goto fail_errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	ret = policy_parse(path, buf ? buf : "", len, out, err);
	free(buf);
	return ret;

fail_errno:
	free(buf);
	errno = -ret;
	fail_plain(err, 0, "%m"); /* strerror_r differs between GNU and XSI builds */
	err->file = path;
	return ret;
}

int policy_error_format(const struct policy_error *err, char *buf, size_t size)
{
	const char *file = err->file ? err->file : "(policy)";

	if (err->line == 0)
		return snprintf(buf, size, "%s: %s", file, err->reason);
	return snprintf(buf, size, "%s:%u:%u: %s", file, err->line, err->column, err->reason);
}
