/* policy.c - answers, path by path, which class takes a write (the parser is policy_parse.c).
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

#include "policy_int.h"

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

bool policy_tree_may_change(const struct policy *p, const char *path, size_t len)
{
	return policy_may_change(p, path, len) || policy_may_change_below(p, path, len);
}

size_t policy_rule_count(const struct policy *p)
{
	return p ? p->n : 0;
}

const struct policy_rule *policy_rule_at(const struct policy *p, size_t i)
{
	return p && i < p->n ? &p->rules[i] : NULL;
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

int policy_index_build(struct policy *p)
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
