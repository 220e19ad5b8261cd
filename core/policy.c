/* policy.c - parses pressfs policy files and answers, path by path, which class takes a write.
 * A parsed policy is immutable, so any number of threads may query it; matching never allocates. */
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

/*
 * How a rule is kept for matching.  A pattern is a list of segments:
 *   SEG_LIT   a name without wildcards, stored unescaped, compared with memcmp;
 *   SEG_GLOB  a name with '*' or '?', stored in canonical form: literal '*', '?' and '\' are
 *             preceded by '\', every other byte stands for itself;
 *   SEG_ANY   "**": zero or more whole segments.
 * Matching is iterative (no recursion): '*' inside a segment and '**' across segments each use
 * the classic single-backtrack-point algorithm, which is exact because every other pattern
 * element consumes exactly one byte (resp. one segment).  Its cost is bounded by
 * (path segments x pattern segments) segment tests, whatever the number of '**'.
 *
 * Before any of that, most rules are never looked at: a trie over the literal names rules start
 * with (see struct node) leaves, for a path in a code tree, a handful of candidates or none.  A
 * candidate is then rejected cheaply: its literal prefix (the pattern up to the first wildcard)
 * and literal suffix are compared with memcmp, and the number of segments is checked.
 */
enum seg_kind {
	SEG_LIT,
	SEG_GLOB,
	SEG_ANY,
};

struct seg {
	uint32_t off; /* into crule.code */
	uint32_t len;
	enum seg_kind kind;
};

struct crule {
	struct seg *segs; /* one allocation holds segs, code, prefix, suffix and canon */
	uint32_t nsegs;
	uint32_t first_any; /* index of the first SEG_ANY, nsegs when there is none */
	uint32_t min_segs;  /* segments a matching path has at least (exactly, without '**') */
	bool exact;	    /* no wildcard at all: the path must equal prefix */
	bool tree;	    /* plain names then a final "**": prefix itself or anything below it */
	const char *code;
	const char *prefix; /* literal bytes every matching path starts with */
	uint32_t prefix_len;
	const char *suffix; /* literal bytes every matching path ends with */
	uint32_t suffix_len;
	const char *canon; /* canonical text of the pattern, for duplicate detection */
	uint32_t canon_len;
};

/* Rule indexes in policy order. */
struct rlist {
	uint32_t *idx;
	uint32_t n;
	bool writable; /* some rule in it has a writable class */
};

/*
 * The index: a trie over the literal names that rules start with.  The node of the literal path
 * L (say "/wp-content/themes") keeps, in policy order, the rules that could match L or a path
 * below it (all), and those that could match a path L/X/... where X is the name of none of its
 * children (other).  A lookup walks the path's names down the trie (a binary search per level)
 * and scans only the deepest node's list.  What L itself gets is worked out once, at load time.
 */
struct node {
	const char *name; /* last name of L (NULL for the root); points into a rule's code */
	uint32_t name_len;
	uint32_t nkids;
	struct node *kids; /* sorted by name_cmp */
	struct rlist all, other;
	const struct policy_rule *self; /* the rule L itself matches, or NULL */
	bool below;			/* policy_may_change_below(L) */
};

struct policy {
	size_t n;
	struct policy_rule *rules; /* public view, rules[i].pattern owned */
	struct crule *cr;
	struct node root; /* L = "/" */
};

static const char *const class_names[] = {
    [POLICY_NONE] = "none",   [POLICY_SHARED] = "shared", [POLICY_CACHE] = "cache",
    [POLICY_LOCAL] = "local", [POLICY_DENY] = "deny",
};

bool policy_class_writable(enum policy_class c)
{
	return c == POLICY_SHARED || c == POLICY_CACHE || c == POLICY_LOCAL;
}

const char *policy_class_name(enum policy_class c)
{
	if ((unsigned)c < sizeof(class_names) / sizeof(class_names[0]))
		return class_names[c];
	return "?";
}

/* ---------------------------------------------------------------------------------------------
 * Matching
 */

/* One name against a SEG_GLOB segment in canonical form. */
static bool glob_name(const char *pat, size_t plen, const char *s, size_t slen)
{
	size_t p = 0, i = 0, star_p = SIZE_MAX, star_i = 0;

	while (i < slen) {
		if (p < plen) {
			char c = pat[p];

			if (c == '*') {
				star_p = ++p;
				star_i = i;
				continue;
			}
			if (c == '?') {
				p++;
				i++;
				continue;
			}
			if (c == '\\') {
				if (pat[p + 1] == s[i]) {
					p += 2;
					i++;
					continue;
				}
			} else if (c == s[i]) {
				p++;
				i++;
				continue;
			}
		}
		if (star_p == SIZE_MAX)
			return false;
		p = star_p;
		i = ++star_i;
	}
	while (p < plen && pat[p] == '*')
		p++;
	return p == plen;
}

static bool seg_match(const struct crule *r, const struct seg *sg, const char *s, size_t slen)
{
	if (sg->kind == SEG_LIT)
		return sg->len == slen && memcmp(r->code + sg->off, s, slen) == 0;
	return glob_name(r->code + sg->off, sg->len, s, slen);
}

/*
 * A path cursor is the index of the '/' in front of the current segment; the segment runs to the
 * next '/' or to the end.  "/" has no segment at all: its cursor starts at the end.
 */
static size_t first_cursor(size_t len)
{
	return len == 1 ? 1 : 0;
}

static size_t seg_end(const char *path, size_t len, size_t pos)
{
	const char *e = memchr(path + pos + 1, '/', len - pos - 1);

	return e ? (size_t)(e - path) : len;
}

static size_t count_segs(const char *path, size_t len)
{
	size_t n = 0;

	for (size_t pos = first_cursor(len); pos < len; pos = seg_end(path, len, pos))
		n++;
	return n;
}

/* The whole pattern against the whole path (segment by segment, '**' with backtracking). */
static bool rule_match(const struct crule *r, const char *path, size_t len)
{
	size_t pos = first_cursor(len), mark = 0;
	uint32_t p = 0, star = UINT32_MAX;

	while (pos < len) {
		if (p < r->nsegs) {
			const struct seg *sg = &r->segs[p];
			size_t end;

			if (sg->kind == SEG_ANY) {
				star = p++;
				mark = pos;
				continue;
			}
			end = seg_end(path, len, pos);
			if (seg_match(r, sg, path + pos + 1, end - pos - 1)) {
				p++;
				pos = end;
				continue;
			}
		}
		if (star == UINT32_MAX)
			return false;
		/* let the last '**' take one more segment and retry what follows it */
		p = star + 1;
		mark = seg_end(path, len, mark);
		pos = mark;
	}
	while (p < r->nsegs && r->segs[p].kind == SEG_ANY)
		p++;
	return p == r->nsegs;
}

/* The cheap tests first, then the segment walk.  *nsegs caches the path's segment count. */
static bool rule_test(const struct crule *r, const char *path, size_t len, long *nsegs)
{
	if (len < r->prefix_len || memcmp(path, r->prefix, r->prefix_len) != 0)
		return false;
	if (r->exact)
		return len == r->prefix_len;
	if (r->tree)
		return len == r->prefix_len || path[r->prefix_len] == '/' || r->prefix_len == 0;
	if (len < r->suffix_len ||
	    memcmp(path + len - r->suffix_len, r->suffix, r->suffix_len) != 0)
		return false;
	if (*nsegs < 0)
		*nsegs = (long)count_segs(path, len);
	if (r->first_any == r->nsegs ? (size_t)*nsegs != r->nsegs : (size_t)*nsegs < r->min_segs)
		return false;
	return rule_match(r, path, len);
}

static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static const struct node *kid_for(const struct node *n, const char *name, size_t len)
{
	size_t lo = 0, hi = n->nkids;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = name_cmp(name, len, n->kids[mid].name, n->kids[mid].name_len);

		if (c == 0)
			return &n->kids[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Walk PATH's names down the trie: returns the deepest node reached and in *pos the cursor of the
 * first name without a node (LEN when PATH itself is a node). */
static const struct node *descend(const struct policy *p, const char *path, size_t len, size_t *pos)
{
	const struct node *n = &p->root;
	size_t at = first_cursor(len);

	while (at < len) {
		size_t end = seg_end(path, len, at);
		const struct node *k = kid_for(n, path + at + 1, end - at - 1);

		if (!k)
			break;
		n = k;
		at = end;
	}
	*pos = at;
	return n;
}

static const struct policy_rule *match_list(const struct policy *p, const struct rlist *l,
					    const char *path, size_t len)
{
	long nsegs = -1;

	for (uint32_t i = 0; i < l->n; i++) {
		uint32_t k = l->idx[i];

		if (rule_test(&p->cr[k], path, len, &nsegs))
			return &p->rules[k];
	}
	return NULL;
}

/* Accept what callers are told to pass (normalised, starting with '/'); forgive one trailing '/'.
 */
static bool path_ok(const char *path, size_t *len)
{
	if (!path || *len == 0 || path[0] != '/')
		return false;
	if (*len > 1 && path[*len - 1] == '/')
		(*len)--;
	return true;
}

const struct policy_rule *policy_match(const struct policy *p, const char *path, size_t len)
{
	const struct node *n;
	size_t pos;

	if (!p || !path_ok(path, &len))
		return NULL;
	n = descend(p, path, len, &pos);
	if (pos == len)
		return n->self;
	return match_list(p, &n->other, path, len);
}

enum policy_class policy_class_of(const struct policy *p, const char *path, size_t len)
{
	const struct policy_rule *r = policy_match(p, path, len);

	return r ? r->cls : POLICY_NONE;
}

/* One extension (the bytes between two dots), as the PHP family spells them. */
static bool php_ext(const char *s, size_t n)
{
	static const char *const exts[] = {"php", "phtml", "phar", "pht", "phps"};
	char low[8];

	if (n < 3 || n >= sizeof(low))
		return false;
	for (size_t i = 0; i < n; i++)
		low[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 'a' - 'A' : s[i]);
	if (n == 4 && memcmp(low, "php", 3) == 0 && low[3] >= '3' && low[3] <= '8')
		return true; /* .php3 to .php8 */
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
		if (strlen(exts[i]) == n && memcmp(low, exts[i], n) == 0)
			return true;
	return false;
}

static bool same_nocase(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

/* Apache's mod_mime gives a file the handler of each of its extensions, wherever they stand
 * ("x.php.jpg" runs as PHP under "AddHandler ... .php"), and a FilesMatch "\.php$" (PCRE's '$'
 * matches before a final newline) takes "x.php\n": so every dot-separated part after the first
 * counts, and trailing dots and white space are not part of the name. */
bool policy_code_name(const char *name, size_t len)
{
	const char *dot, *end;

	while (len && (name[len - 1] == '.' || name[len - 1] == ' ' || name[len - 1] == '\t' ||
		       name[len - 1] == '\n' || name[len - 1] == '\r' || name[len - 1] == '\v' ||
		       name[len - 1] == '\f'))
		len--;
	if (same_nocase(name, len, ".htaccess") || same_nocase(name, len, ".user.ini"))
		return true;
	end = name + len;
	for (dot = memchr(name, '.', len); dot;
	     dot = memchr(dot + 1, '.', (size_t)(end - dot - 1))) {
		const char *next = memchr(dot + 1, '.', (size_t)(end - dot - 1));

		if (php_ext(dot + 1, (size_t)((next ? next : end) - dot - 1)))
			return true;
		if (!next)
			break;
	}
	return false;
}

int policy_judge_write(const struct policy *p, const char *path, size_t len,
		       const struct policy_rule **rule)
{
	const struct policy_rule *r = policy_match(p, path, len);
	const char *base;

	if (rule)
		*rule = r;
	if (!r || !policy_class_writable(r->cls))
		return -EROFS;
	if (r->code)
		return 0;
	while (len > 1 && path[len - 1] == '/')
		len--;
	base = memrchr(path, '/', len);
	base = base ? base + 1 : path;
	return policy_code_name(base, len - (size_t)(base - path)) ? -EROFS : 0;
}

static bool writable_rule(const struct policy_rule *r)
{
	return r && policy_class_writable(r->cls);
}

bool policy_may_change(const struct policy *p, const char *path, size_t len)
{
	const struct node *n;
	size_t at;

	if (!p || !path_ok(path, &len))
		return false;
	/* the ancestors that are trie nodes: their class is known */
	n = &p->root;
	if (writable_rule(n->self))
		return true;
	at = first_cursor(len);
	while (at < len) {
		size_t end = seg_end(path, len, at);
		const struct node *k = kid_for(n, path + at + 1, end - at - 1);

		if (!k)
			break;
		n = k;
		at = end;
		if (writable_rule(n->self))
			return true;
	}
	if (at == len || !n->other.writable)
		return false;
	/* the others: only rules of n->other can match them */
	for (size_t end = seg_end(path, len, at);; end = seg_end(path, len, end)) {
		if (writable_rule(match_list(p, &n->other, path, end)))
			return true;
		if (end == len)
			return false;
	}
}

enum below {
	BELOW_NONE, /* matches nothing strictly below the directory */
	BELOW_SOME, /* may match something strictly below it */
	BELOW_ALL,  /* matches everything strictly below it */
};

/* What rule R can match strictly below directory DIR: walk the pattern's segments up to its first
 * '**' against DIR's names. */
static enum below rule_below(const struct crule *r, const char *dir, size_t len)
{
	size_t pos = first_cursor(len), cmp = len < r->prefix_len ? len : r->prefix_len;
	uint32_t i = 0;

	/* below "/" every path qualifies; below "/a" only paths starting "/a/" */
	if (len > 1 &&
	    (memcmp(dir, r->prefix, cmp) != 0 || (r->prefix_len > len && r->prefix[len] != '/')))
		return BELOW_NONE;
	while (pos < len) {
		size_t end;

		if (i == r->first_any) {
			if (i == r->nsegs)
				return BELOW_NONE; /* the pattern ends before DIR does */
			return i + 1 == r->nsegs ? BELOW_ALL : BELOW_SOME;
		}
		end = seg_end(dir, len, pos);
		if (!seg_match(r, &r->segs[i], dir + pos + 1, end - pos - 1))
			return BELOW_NONE;
		i++;
		pos = end;
	}
	if (i == r->nsegs)
		return BELOW_NONE; /* matches DIR itself at most */
	return i == r->first_any && i + 1 == r->nsegs ? BELOW_ALL : BELOW_SOME;
}

/* Could a writable rule of L (which holds every rule that can match below DIR) take a path below
 * DIR?  First match counts: a read-only rule taking everything below DIR ends the search. */
static bool writable_below(const struct policy *p, const struct rlist *l, const char *dir,
			   size_t len)
{
	if (!l->writable)
		return false;
	for (uint32_t i = 0; i < l->n; i++) {
		uint32_t k = l->idx[i];
		enum below w = rule_below(&p->cr[k], dir, len);

		if (w == BELOW_NONE)
			continue;
		if (policy_class_writable(p->rules[k].cls))
			return true;
		if (w == BELOW_ALL)
			return false;
	}
	return false;
}

bool policy_may_change_below(const struct policy *p, const char *dir, size_t len)
{
	const struct node *n;
	size_t pos;

	if (!p || !path_ok(dir, &len))
		return false;
	n = descend(p, dir, len, &pos);
	if (pos == len)
		return n->below;
	return policy_may_change(p, dir, len) || writable_below(p, &n->other, dir, len);
}

size_t policy_rule_count(const struct policy *p)
{
	return p ? p->n : 0;
}

const struct policy_rule *policy_rule_at(const struct policy *p, size_t i)
{
	return p && i < p->n ? &p->rules[i] : NULL;
}

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
 * 2n + 2 bytes.
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
		if (strlen(class_names[c]) == n && memcmp(class_names[c], s, n) == 0)
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

/*
 * Building the trie.  It stops growing at TRIE_MAX_DEPTH names, and when the lists would hold more
 * than TRIE_BUDGET entries in all (rules with '**' are copied into every node below them): a node
 * without children is still exact, its "other" list simply holds more rules.
 */
#define TRIE_MAX_DEPTH 16
#define TRIE_BUDGET    (1u << 22)

struct build {
	struct policy *p;
	char *path; /* L of the node being built */
	size_t budget;
};

static int list_add(const struct policy *p, struct rlist *l, uint32_t k)
{
	if ((l->n & (l->n - 1)) == 0) { /* grow at powers of two */
		uint32_t *idx = realloc(l->idx, (l->n ? 2 * (size_t)l->n : 1) * sizeof(*idx));

		if (!idx)
			return -ENOMEM;
		l->idx = idx;
	}
	l->idx[l->n++] = k;
	l->writable |= policy_class_writable(p->rules[k].cls);
	return 0;
}

/* Can rule R, listed at a node of depth D, match a path whose name number D+1 is NAME (NULL: a
 * name that is no child's)? */
static bool via_name(const struct crule *r, uint32_t d, const char *name, size_t len)
{
	if (r->first_any < d)
		return true; /* a '**' before: it may match anything below */
	if (d >= r->nsegs)
		return false; /* the pattern ends at the node */
	if (r->segs[d].kind == SEG_ANY)
		return true;
	if (!name)
		return r->segs[d].kind == SEG_GLOB;
	return seg_match(r, &r->segs[d], name, len);
}

/* A rule of a node's list whose next name is plain: which child it goes to. */
struct lit {
	const char *name;
	uint32_t len;
	uint32_t pos; /* in the node's list, i.e. policy order */
};

static int cmp_lit(const void *a, const void *b)
{
	const struct lit *x = a, *y = b;
	int c = name_cmp(x->name, x->len, y->name, y->len);

	return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

static int build_node(struct build *b, struct node *n, uint32_t d, size_t plen, bool anc);

/*
 * The children of N (D names deep, L = b->path[0..plen)): one per plain name that rules have
 * next.  A child's list is, in policy order, the rules naming it (one group of the sorted plain
 * names) merged with those that may take any name there ('**' at or before it, or a glob that
 * matches its name): so the cost is the sum of the lists built, never rules x children.
 */
static int build_kids(struct build *b, struct node *n, uint32_t d, size_t plen, bool anc)
{
	const struct policy *p = b->p;
	struct lit *lit;
	uint32_t *wild, nl = 0, nw = 0, nk = 0;
	int ret = -ENOMEM;

	if (!n->all.n)
		return 0;
	lit = malloc(n->all.n * sizeof(*lit));
	wild = malloc(n->all.n * sizeof(*wild));
	if (!lit || !wild)
		goto out;
	for (uint32_t i = 0; i < n->all.n; i++) {
		const struct crule *r = &p->cr[n->all.idx[i]];

		if (r->first_any > d && d < r->nsegs && r->segs[d].kind == SEG_LIT)
			lit[nl++] = (struct lit){r->code + r->segs[d].off, r->segs[d].len, i};
		else if (r->first_any < d || (d < r->nsegs && r->segs[d].kind != SEG_LIT))
			wild[nw++] = i;
	}
	ret = 0;
	if (!nl)
		goto out;
	qsort(lit, nl, sizeof(*lit), cmp_lit);
	for (uint32_t i = 0; i < nl; i++)
		nk += i == 0 || name_cmp(lit[i - 1].name, lit[i - 1].len, lit[i].name, lit[i].len);
	/* every child tests every wild rule: past the budget, the rules stay in "other" */
	if ((uint64_t)nk * nw > b->budget)
		goto out;
	ret = -ENOMEM;
	n->kids = calloc(nk, sizeof(*n->kids));
	if (!n->kids)
		goto out;
	ret = 0;
	for (uint32_t g = 0; g < nl && !ret;) {
		struct node *kid = &n->kids[n->nkids++];
		size_t klen = (plen == 1 ? 0 : plen) + 1 + lit[g].len;
		uint32_t e = g, w = 0;

		kid->name = lit[g].name;
		kid->name_len = lit[g].len;
		while (e < nl && !name_cmp(lit[e].name, lit[e].len, kid->name, kid->name_len))
			e++;
		while (!ret && (g < e || w < nw)) {
			uint32_t i;

			if (w == nw || (g < e && lit[g].pos < wild[w])) {
				i = lit[g++].pos;
			} else {
				i = wild[w++];
				if (!via_name(&p->cr[n->all.idx[i]], d, kid->name, kid->name_len))
					continue;
			}
			ret = list_add(p, &kid->all, n->all.idx[i]);
		}
		if (ret)
			break;
		b->budget -= b->budget < kid->all.n ? b->budget : kid->all.n;
		b->path[klen - kid->name_len - 1] = '/';
		memcpy(b->path + klen - kid->name_len, kid->name, kid->name_len);
		ret = build_node(b, kid, d + 1, klen, anc);
	}
out:
	free(lit);
	free(wild);
	return ret;
}

/* N->all is set; fill in the rest of N, whose L is b->path[0..plen), D names deep.  ANC says
 * whether a proper ancestor of L is in a writable class. */
static int build_node(struct build *b, struct node *n, uint32_t d, size_t plen, bool anc)
{
	const struct policy *p = b->p;
	int ret;

	n->self = match_list(p, &n->all, b->path, plen);
	anc = anc || writable_rule(n->self);
	n->below = anc || writable_below(p, &n->all, b->path, plen);

	if (d < TRIE_MAX_DEPTH && b->budget >= n->all.n) {
		ret = build_kids(b, n, d, plen, anc);
		if (ret)
			return ret;
	}
	/* other: what a path through a name that is no child's may meet */
	for (uint32_t i = 0; i < n->all.n; i++) {
		uint32_t k = n->all.idx[i];
		const struct crule *r = &p->cr[k];
		bool in = via_name(r, d, NULL, 0);

		if (!in && r->first_any >= d && d < r->nsegs && r->segs[d].kind == SEG_LIT)
			in = !kid_for(n, r->code + r->segs[d].off, r->segs[d].len);
		if (in) {
			ret = list_add(p, &n->other, k);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int build_trie(struct policy *p)
{
	struct build b = {.p = p, .budget = TRIE_BUDGET};
	int ret;

	for (size_t k = 0; k < p->n; k++) {
		ret = list_add(p, &p->root.all, (uint32_t)k);
		if (ret)
			return ret;
	}
	/* L is a chain of plain names (at most PATH_NAME_MAX bytes each) taken from several rules
	 */
	b.path = malloc(TRIE_MAX_DEPTH * (PATH_NAME_MAX + 1) + 2);
	if (!b.path)
		return -ENOMEM;
	b.path[0] = '/';
	ret = build_node(&b, &p->root, 0, 1, false);
	free(b.path);
	return ret;
}

static void free_node(struct node *n)
{
	for (uint32_t j = 0; j < n->nkids; j++)
		free_node(&n->kids[j]);
	free(n->kids);
	free(n->all.idx);
	free(n->other.idx);
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	for (size_t k = 0; k < p->n; k++) {
		free(p->rules[k].pattern);
		free(p->cr[k].segs);
	}
	free_node(&p->root);
	free(p->rules);
	free(p->cr);
	free(p);
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
	ret = build_trie(ps.p);
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
