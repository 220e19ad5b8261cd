/* audit.c - `pressfs audit LOG [--policy FILE]`: reads the extension's JSON-lines audit log and
 * prints, per plugin or theme, what it wrote and what was refused, then the policy lines that
 * would make the refused writes legal.  Plain C: no PHP headers. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "admin/audit_log.h"
#include "hash.h"
#include "policy.h"

/* ---- what is printed: no byte of the log reaches the terminal as a control ---- */

/* Bytes of a valid UTF-8 character at S that is not a C1 control, or 0. */
static size_t printable_utf8(const unsigned char *s)
{
	size_t n = s[0] < 0xc2 ? 0 : s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : s[0] < 0xf5 ? 4 : 0;

	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if (n == 2 && s[0] == 0xc2 && s[1] < 0xa0)
		return 0; /* U+0080-U+009F */
	if ((n == 3 && s[0] == 0xe0 && s[1] < 0xa0) || (n == 4 && s[0] == 0xf0 && s[1] < 0x90) ||
	    (n == 4 && s[0] == 0xf4 && s[1] > 0x8f) || (n == 3 && s[0] == 0xed && s[1] > 0x9f))
		return 0; /* overlong, past U+10FFFF, or a surrogate */
	return n;
}

/* S for the terminal: control characters and bytes that are not UTF-8 as \xNN, or, with
 * AS_WILDCARD, each as '?' (a policy pattern's one-byte wildcard, so that a suggested line still
 * matches the path).  Malloc'd, NULL without memory. */
static char *shown(const char *s, bool as_wildcard)
{
	char *out = malloc(strlen(s) * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n = *p >= 0x80 ? printable_utf8(p) : (*p >= 0x20 && *p != 0x7f);

		if (n) {
			memcpy(o, p, n);
			o += n;
			p += n;
		} else if (as_wildcard) {
			*o++ = '?';
			p++;
		} else {
			o += sprintf(o, "\\x%02x", *p++);
		}
	}
	*o = '\0';
	return out;
}

/* printf's %s for log text: STR shown safely (one of a few rotating buffers). */
static const char *S(const char *str)
{
	static char *ring[8];
	static unsigned next;
	char *s = shown(str, false);

	next = (next + 1) % 8;
	free(ring[next]);
	ring[next] = s;
	return s ? s : "?";
}

/* ---- a string-keyed index ---- */

struct index {
	char **keys;
	size_t *vals;
	size_t cap, n;
};

static uint64_t hash(const char *s)
{
	return fnv1a_64(s, strlen(s));
}

/* The value slot for KEY; a new key gets a copy of KEY and the value NEW_VAL.  NULL: no memory.
 * The slot moves when the index grows: use it before the next call. */
static size_t *index_slot(struct index *ix, const char *key, size_t new_val, bool *added)
{
	size_t i;

	*added = false;
	if (ix->n * 2 >= ix->cap) {
		struct index bigger = {0};

		bigger.cap = ix->cap ? ix->cap * 2 : 64;
		bigger.keys = calloc(bigger.cap, sizeof(char *));
		bigger.vals = calloc(bigger.cap, sizeof(size_t));
		if (!bigger.keys || !bigger.vals) {
			free(bigger.keys);
			free(bigger.vals);
			return NULL;
		}
		for (i = 0; i < ix->cap; i++) {
			size_t k;

			if (!ix->keys[i])
				continue;
			for (k = hash(ix->keys[i]) & (bigger.cap - 1); bigger.keys[k];
			     k = (k + 1) & (bigger.cap - 1))
				;
			bigger.keys[k] = ix->keys[i];
			bigger.vals[k] = ix->vals[i];
		}
		bigger.n = ix->n;
		free(ix->keys);
		free(ix->vals);
		*ix = bigger;
	}
	for (i = hash(key) & (ix->cap - 1); ix->keys[i]; i = (i + 1) & (ix->cap - 1))
		if (!strcmp(ix->keys[i], key))
			return &ix->vals[i];
	ix->keys[i] = strdup(key);
	if (!ix->keys[i])
		return NULL;
	ix->vals[i] = new_val;
	ix->n++;
	*added = true;
	return &ix->vals[i];
}

static void index_free(struct index *ix)
{
	for (size_t i = 0; i < ix->cap; i++)
		free(ix->keys[i]);
	free(ix->keys);
	free(ix->vals);
}

/* ---- what the log says ---- */

struct op_count {
	char *op;
	unsigned long n;
};

struct writer {
	char *name;
	unsigned long writes, refused, paths;
	long long bytes;
	struct op_count *ops;
	size_t nops;
};

/* One (writer, path) that was refused at least once. */
struct refusal {
	size_t writer;
	char *path, *cls, *pattern;
	long long rule;
	unsigned long n;
	struct op_count *ops; /* the refused operations, by name */
	size_t nops;
};

struct audit {
	struct writer *w;
	size_t nw;
	struct index writers;
	struct index pairs; /* "writer\npath" -> index into r, or (size_t)-2 when never refused */
	struct refusal *r;
	size_t nr;
	unsigned long records, skipped, first_bad;
	unsigned long failed; /* writes let through that then failed: they never happened */
};

/* Make room for element N of an array holding N elements: capacities 8, 16, 32, ... */
static bool grow(void *pp, size_t n, size_t size)
{
	void **p = pp, *q;

	if (n != 0 && (n < 8 || (n & (n - 1)) != 0))
		return true;
	q = realloc(*p, (n ? n * 2 : 8) * size);
	if (!q)
		return false;
	*p = q;
	return true;
}

static int count_op(struct op_count **ops, size_t *nops, const char *op)
{
	for (size_t i = 0; i < *nops; i++)
		if (!strcmp((*ops)[i].op, op)) {
			(*ops)[i].n++;
			return 0;
		}
	if (!grow(ops, *nops, sizeof(**ops)))
		return -ENOMEM;
	(*ops)[*nops].op = strdup(op);
	if (!(*ops)[*nops].op)
		return -ENOMEM;
	(*ops)[(*nops)++].n = 1;
	return 0;
}

static void free_ops(struct op_count *ops, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ops[i].op);
	free(ops);
}

/* A class that takes no writes: what enforce mode refuses. */
static bool refusing_class(const struct record *r)
{
	return r->cls && (!strcmp(r->cls, "deny") || !strcmp(r->cls, "none"));
}

/* Refused in enforce mode: denied there, let through in report mode, or let through and then
 * failed (in report mode with the overlay at the root, the overlay refuses it with EROFS). */
static bool is_refusal(const struct record *r)
{
	return !strcmp(r->outcome, "denied") || !strcmp(r->outcome, "reported") ||
	       (!strcmp(r->outcome, "failed") && refusing_class(r));
}

#define NEVER_REFUSED ((size_t)-2)

static int add(struct audit *a, struct record *r)
{
	struct writer *w;
	size_t wi, *slot;
	char *pair;
	bool added;

	slot = index_slot(&a->writers, r->culprit, a->nw, &added);
	if (!slot)
		return -ENOMEM;
	wi = *slot;
	if (added) {
		if (!grow(&a->w, a->nw, sizeof(*a->w)))
			return -ENOMEM;
		memset(&a->w[a->nw], 0, sizeof(*a->w));
		a->w[a->nw].name = strdup(r->culprit);
		if (!a->w[a->nw++].name)
			return -ENOMEM;
	}
	w = &a->w[wi];
	w->writes++;
	if (r->bytes > 0)
		w->bytes += r->bytes;
	if (count_op(&w->ops, &w->nops, r->op) < 0)
		return -ENOMEM;

	/* one entry per (writer, path): the refusal it is, or NEVER_REFUSED */
	pair = malloc(strlen(r->culprit) + strlen(r->path) + 2);
	if (!pair)
		return -ENOMEM;
	sprintf(pair, "%s\n%s", r->culprit, r->path);
	slot = index_slot(&a->pairs, pair, NEVER_REFUSED, &added);
	free(pair);
	if (!slot)
		return -ENOMEM;
	if (added)
		w->paths++;
	if (!is_refusal(r))
		return 0;
	w->refused++;
	if (*slot == NEVER_REFUSED) {
		struct refusal *f;

		if (!grow(&a->r, a->nr, sizeof(*a->r)))
			return -ENOMEM;
		f = &a->r[a->nr];
		memset(f, 0, sizeof(*f));
		f->writer = wi;
		f->path = strdup(r->path);
		f->cls = strdup(r->cls ? r->cls : "none");
		f->pattern = r->pattern ? strdup(r->pattern) : NULL;
		f->rule = r->rule;
		if (!f->path || !f->cls || (r->pattern && !f->pattern))
			return -ENOMEM;
		*slot = a->nr++;
	}
	a->r[*slot].n++;
	return count_op(&a->r[*slot].ops, &a->r[*slot].nops, r->op);
}

static int read_log(struct audit *a, FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned long lineno = 0;
	int ret = 0;

	while ((n = getline(&line, &cap, f)) > 0) {
		struct record r;
		const char *s = line;

		lineno++;
		/* the same records, relayed by syslog or PHP's error log */
		if (*s != '{') {
			const char *m = strstr(s, "pressfs audit: {");

			if (!m)
				continue;
			s = m + strlen("pressfs audit: ");
		}
		if (!audit_record_parse(s, (size_t)(line + n - s), &r)) {
			if (!a->skipped++)
				a->first_bad = lineno;
			continue;
		}
		if (!strcmp(r.outcome, "answered-false")) {
			/* an is_writable() the policy made false: an answer, not a write */
			audit_record_free(&r);
			continue;
		}
		a->records++;
		if (audit_attribute(&r) < 0) {
			audit_record_free(&r);
			ret = -ENOMEM;
			break;
		}
		if (!strcmp(r.outcome, "failed") && !refusing_class(&r)) {
			a->failed++; /* a write the policy allows that did not happen */
			audit_record_free(&r);
			continue;
		}
		ret = add(a, &r);
		audit_record_free(&r);
		if (ret < 0)
			break;
	}
	free(line);
	if (!ret && ferror(f))
		ret = -errno;
	return ret;
}

/* ---- suggestions ---- */

static const char *suggested_class(const char *path)
{
	if (strstr(path, "/cache/"))
		return "cache";
	if (strstr(path, "/tmp/") || strstr(path, "/temp/"))
		return "local";
	return "shared";
}

static bool is_code(const char *path)
{
	const char *dot = strrchr(path, '.');

	return dot && !strchr(dot, '/') &&
	       (!strncmp(dot, ".php", 4) || !strcmp(dot, ".phtml") || !strcmp(dot, ".phar"));
}

/* PATH as a policy pattern matching exactly it (wildcards, escapes, blanks and '#' escaped;
 * a byte that cannot be printed becomes the wildcard '?'), malloc'd. */
static char *escape_pattern(const char *path)
{
	char *out = malloc(strlen(path) * 2 + 1), *o = out;

	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)path; *p;) {
		size_t n = *p >= 0x80 ? printable_utf8(p) : (*p >= 0x20 && *p != 0x7f);

		if (!n) {
			*o++ = '?'; /* a control or a stray byte: any one byte, and safe to print */
			p++;
			continue;
		}
		if (strchr("*?[]\\# \t", *p))
			*o++ = '\\';
		memcpy(o, p, n);
		o += n;
		p += n;
	}
	*o = '\0';
	return out;
}

/* Writers with the most refusals first, then by name. */
static int cmp_writer(const void *x, const void *y, void *arg)
{
	const struct writer *w = arg, *a = &w[*(const size_t *)x], *b = &w[*(const size_t *)y];

	if (a->refused != b->refused)
		return a->refused < b->refused ? 1 : -1;
	return strcmp(a->name, b->name);
}

/* Refusals by path, so that one directory's come together. */
static int cmp_refusal_path(const void *x, const void *y, void *arg)
{
	const struct refusal *r = arg;

	return strcmp(r[*(const size_t *)x].path, r[*(const size_t *)y].path);
}

static size_t dir_len(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? (size_t)(slash - path) : 0;
}

/* "# above line N (...)": where the new line must go for PATH to be judged by it first, or
 * "replaces line N" when that rule is PATTERN itself (the policy refuses a rule that can never
 * match). */
static void print_where(const struct refusal *f, const char *pattern, const struct policy *pol)
{
	const struct policy_rule *now = pol ? policy_match(pol, f->path, strlen(f->path)) : NULL;
	const char *cur = now ? now->pattern : !pol && f->rule > 0 ? f->pattern : NULL;
	long long line = now ? (long long)now->line : f->rule;

	printf(" #");
	if (cur && !strcmp(cur, pattern))
		printf(" replaces line %lld (%s)", line, S(cur));
	else if (now)
		printf(" above line %u (%s %s)", now->line, now->pattern,
		       policy_class_name(now->cls));
	else if (cur)
		printf(" above line %lld (%s)", line, S(cur));
	else
		printf(" anywhere: no rule matches it now");
}

static void suggest_line(const struct refusal *f, const char *pattern, bool code,
			 const struct policy *pol)
{
	printf("%-44s %-6s", pattern, suggested_class(f->path));
	print_where(f, pattern, pol);
	if (code)
		printf("; PHP code: a writable copy would run, think twice");
	printf("\n");
}

/* One writer's lines: a path alone, or DIR/"**" when three or more refused paths share DIR (with
 * a line keeping PHP code out of it, unless the code is what was written). */
static void suggest(const struct refusal *r, const size_t *idx, size_t n, const struct policy *pol)
{
	for (size_t g = 0; g < n;) {
		const struct refusal *f = &r[idx[g]];
		size_t dl = dir_len(f->path), end = g + 1;
		bool code = is_code(f->path);

		while (end < n && dir_len(r[idx[end]].path) == dl &&
		       !strncmp(r[idx[end]].path, f->path, dl))
			code |= is_code(r[idx[end++]].path);
		if (end - g >= 3 && dl > 0) {
			char *dir = strndup(f->path, dl), *pat = dir ? escape_pattern(dir) : NULL;
			char *line = pat ? malloc(strlen(pat) + sizeof("/**/*.php")) : NULL;

			if (line) {
				printf("# %zu refused paths below %s\n", end - g, S(dir));
				if (!code) {
					sprintf(line, "%s/**/*.php", pat);
					printf(
					    "%-44s deny   # keeps PHP code out of the next line\n",
					    line);
				}
				sprintf(line, "%s/**", pat);
				suggest_line(f, line, code, pol);
			}
			free(line);
			free(pat);
			free(dir);
		} else {
			for (size_t k = g; k < end; k++) {
				const struct refusal *e = &r[idx[k]];
				char *pat = escape_pattern(e->path);

				if (pat)
					suggest_line(e, pat, is_code(e->path), pol);
				free(pat);
			}
		}
		g = end;
	}
}

/* The report, section by section in the order it is read (totals, writers, refusals, the
 * suggested rules): one piece, since each section only prints what the parse gathered. */
static void print_report(struct audit *a, const char *log, const struct policy *pol,
			 const char *policy_file)
{
	size_t *order = malloc(a->nw * sizeof(*order));
	bool any_suggestion = false;
	int width;

	printf("pressfs audit: %s: %lu record%s from %zu writer%s", log, a->records,
	       a->records == 1 ? "" : "s", a->nw, a->nw == 1 ? "" : "s");
	if (a->skipped)
		printf(" (%lu line%s not understood, the first at line %lu)", a->skipped,
		       a->skipped == 1 ? "" : "s", a->first_bad);
	if (a->failed)
		printf(" (%lu failed write%s left out: %s not happen)", a->failed,
		       a->failed == 1 ? "" : "s", a->failed == 1 ? "it did" : "they did");
	printf("\n");
	if (!a->nw || !order) {
		free(order);
		return;
	}

	for (size_t i = 0; i < a->nw; i++)
		order[i] = i;
	qsort_r(order, a->nw, sizeof(*order), cmp_writer, a->w);

	/* The writer column as wide as its longest name (plugin slugs can be long). */
	width = 28;
	for (size_t i = 0; i < a->nw; i++)
		if (strlen(S(a->w[i].name)) > (size_t)width)
			width = (int)strlen(S(a->w[i].name));
	printf("\n%-*s %6s %7s %7s %10s  %s\n", width, "WRITER", "PATHS", "WRITES", "REFUSED",
	       "BYTES", "OPERATIONS");
	for (size_t i = 0; i < a->nw; i++) {
		const struct writer *w = &a->w[order[i]];

		printf("%-*s %6lu %7lu %7lu %10lld  ", width, S(w->name), w->paths, w->writes,
		       w->refused, w->bytes);
		for (size_t k = 0; k < w->nops; k++)
			printf("%s%s %lu", k ? ", " : "", S(w->ops[k].op), w->ops[k].n);
		printf("\n");
	}

	if (!a->nr) {
		printf("\nNo write was refused: the policy already allows everything recorded.\n");
		free(order);
		return;
	}

	printf("\nRefused writes (denied in enforce mode, let through in report mode):\n");
	for (size_t i = 0; i < a->nw; i++) {
		bool header = false;

		for (size_t k = 0; k < a->nr; k++) {
			const struct refusal *f = &a->r[k];

			if (f->writer != order[i])
				continue;
			if (!header) {
				printf("  %s\n", S(a->w[order[i]].name));
				header = true;
			}
			printf("    %-50s %-6s ", S(f->path), S(f->cls));
			for (size_t j = 0; j < f->nops; j++)
				printf("%s%s x%lu", j ? ", " : "", S(f->ops[j].op), f->ops[j].n);
			printf("  ");
			if (f->rule > 0)
				printf("(line %lld: %s)\n", f->rule,
				       f->pattern ? S(f->pattern) : "?");
			else
				printf("(no rule matches)\n");
		}
	}

	printf("\nPolicy lines that would make these writes legal; put each above the rule it "
	       "names%s%s:\n",
	       policy_file ? " in " : "", policy_file ? policy_file : "");
	for (size_t i = 0; i < a->nw; i++) {
		size_t *mine = malloc(a->nr * sizeof(*mine)), n = 0;

		if (!mine)
			break;
		for (size_t k = 0; k < a->nr; k++) {
			const struct refusal *f = &a->r[k];

			if (f->writer != order[i])
				continue;
			if (pol) {
				const struct policy_rule *now =
				    policy_match(pol, f->path, strlen(f->path));

				if (now && policy_class_writable(now->cls))
					continue; /* the policy given allows it already */
			}
			mine[n++] = k;
		}
		if (n) {
			printf("# %s\n", S(a->w[order[i]].name));
			any_suggestion = true;
			qsort_r(mine, n, sizeof(*mine), cmp_refusal_path, a->r);
			suggest(a->r, mine, n, pol);
		}
		free(mine);
	}
	if (!any_suggestion)
		printf("(none: %s allows every refused write already)\n", policy_file);
	free(order);
}

static void audit_free(struct audit *a)
{
	for (size_t i = 0; i < a->nw; i++) {
		free_ops(a->w[i].ops, a->w[i].nops);
		free(a->w[i].name);
	}
	free(a->w);
	for (size_t i = 0; i < a->nr; i++) {
		free(a->r[i].path);
		free(a->r[i].cls);
		free(a->r[i].pattern);
		free_ops(a->r[i].ops, a->r[i].nops);
	}
	free(a->r);
	index_free(&a->writers);
	index_free(&a->pairs);
}

static int usage(void)
{
	fprintf(stderr,
		"usage: pressfs audit LOG [--policy FILE]\n"
		"  LOG     the extension's pressfs.audit_log ('-' for standard input); lines\n"
		"          relayed by syslog or PHP's error log are understood too\n"
		"  --policy FILE\n"
		"          judge the refused writes against FILE instead of the policy that\n"
		"          was in force, and leave out what FILE already allows\n");
	return 2;
}

int audit_main(int argc, char **argv)
{
	const char *log = NULL, *policy_file = NULL;
	struct policy *pol = NULL;
	struct audit a;
	FILE *f;
	int ret;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--policy") && i + 1 < argc)
			policy_file = argv[++i];
		else if (!strncmp(argv[i], "--policy=", 9))
			policy_file = argv[i] + 9;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return usage();
		else if (!log && (argv[i][0] != '-' || !strcmp(argv[i], "-")))
			log = argv[i];
		else
			return usage();
	}
	if (!log)
		return usage();
	if (policy_file) {
		struct policy_error err;
		char msg[512];

		if (policy_load(policy_file, &pol, &err) < 0) {
			policy_error_format(&err, msg, sizeof(msg));
			fprintf(stderr, "pressfs audit: %s\n", msg);
			return 1;
		}
	}
	f = strcmp(log, "-") ? fopen(log, "r") : stdin;
	if (!f) {
		fprintf(stderr, "pressfs audit: %s: %s\n", log, strerror(errno));
		policy_free(pol);
		return 1;
	}
	memset(&a, 0, sizeof(a));
	ret = read_log(&a, f);
	if (f != stdin)
		fclose(f);
	if (ret < 0)
		fprintf(stderr, "pressfs audit: %s: %s\n", log, strerror(-ret));
	else
		print_report(&a, log, pol, policy_file);
	audit_free(&a);
	policy_free(pol);
	return ret < 0 ? 1 : 0;
}
