/* test_policy.c - unit tests for core/policy.c: the grammar and its errors, matching, the
 * may-change answers the overlay caches by, and the shipped policies/wordpress.policy. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy.h"
#include "tap.h"

static struct policy *parse(const char *text)
{
	struct policy *p = NULL;
	struct policy_error err;
	int ret = policy_parse("t.policy", text, strlen(text), &p, &err);

	if (ret) {
		char msg[300];

		policy_error_format(&err, msg, sizeof(msg));
		printf("# unexpected parse error: %s\n", msg);
	}
	return p;
}

/* Parse TEXT (LEN bytes) and expect a rejection at LINE:COLUMN whose reason contains WHAT. */
static void bad_len(const char *text, size_t len, unsigned line, unsigned column, const char *what)
{
	struct policy *p = (struct policy *)1;
	struct policy_error err;
	int ret = policy_parse("t.policy", text, len, &p, &err);

	is_int(ret, -EINVAL, "rejected: %s", what);
	ok(p == NULL, "rejected policy is not returned (%s)", what);
	is_int(err.line, line, "%s: line", what);
	is_int(err.column, column, "%s: column", what);
	ok(strstr(err.reason, what) != NULL, "reason \"%s\" says \"%s\"", err.reason, what);
	if (ret == 0)
		policy_free(p);
}

static void bad(const char *text, unsigned line, unsigned column, const char *what)
{
	bad_len(text, strlen(text), line, column, what);
}

static enum policy_class cls(const struct policy *p, const char *path)
{
	return policy_class_of(p, path, strlen(path));
}

#define CLASS(p, path, want) is_str(policy_class_name(cls(p, path)), want, "%s is %s", path, want)

static void test_grammar(void)
{
	struct policy *p;
	struct policy_error err;
	char msg[300];

	p = parse("");
	ok(p != NULL && policy_rule_count(p) == 0, "an empty policy is valid");
	CLASS(p, "/", "none");
	CLASS(p, "/wp-content/uploads/a.jpg", "none");
	ok(!policy_may_change(p, "/", 1), "empty policy: nothing may change");
	ok(!policy_may_change_below(p, "/", 1), "empty policy: nothing may change below /");
	policy_free(p);

	p = parse("\n  \t\n# only a comment\n   # indented comment\r\n");
	ok(p != NULL && policy_rule_count(p) == 0, "blank lines and comments only");
	policy_free(p);

	bad("/a shared\n/c local#not-a-comment\n", 2, 4, "unknown class \"local#not-a-comment\"");

	p = parse("/a shared\n\t/b\tcache   # trailing comment\r\n\n# x\n/d#e deny #c\n/f local");
	ok(p != NULL && policy_rule_count(p) == 4, "four rules, tabs, CRLF, no final newline");
	if (p) {
		const struct policy_rule *r = policy_rule_at(p, 2);

		is_str(r->pattern, "/d#e", "'#' inside a pattern is part of it");
		is_int(r->line, 5, "rule line numbers are kept");
		is_int(r->cls, POLICY_DENY, "class deny");
		is_int(policy_rule_at(p, 1)->cls, POLICY_CACHE, "class cache");
		is_int(policy_rule_at(p, 3)->cls, POLICY_LOCAL, "class local");
		ok(policy_rule_at(p, 4) == NULL, "rule_at past the end is NULL");
		CLASS(p, "/d#e", "deny");
		CLASS(p, "/f", "local");
	}
	policy_free(p);

	bad("a shared\n", 1, 1, "must start with '/'");
	bad("/ok shared\n  *.php deny\n", 2, 3, "must start with '/'");
	bad("\\/a shared\n", 1, 1, "must start with '/'");
	bad("/a//b shared\n", 1, 4, "empty segment");
	bad("//a shared\n", 1, 2, "empty segment");
	bad("/a/ shared\n", 1, 3, "trailing '/'");
	bad("/a/b/ shared\n", 1, 5, "trailing '/'");
	bad("/a/./b shared\n", 1, 4, "'.' segment");
	bad("/a/.. shared\n", 1, 4, "'..' segment");
	bad("/. shared\n", 1, 2, "'.' segment");
	bad("/x/\\.\\. shared\n", 1, 4, "'..' segment");
	bad("/a/**b shared\n", 1, 4, "'**' must be a whole segment");
	bad("/a/b** shared\n", 1, 5, "'**' must be a whole segment");
	bad("/a/*** shared\n", 1, 4, "'**' must be a whole segment");
	bad("/a/x**y/** shared\n", 1, 5, "'**' must be a whole segment");
	bad("/a shard\n", 1, 4, "unknown class \"shard\"");
	bad("/a SHARED\n", 1, 4, "unknown class \"SHARED\"");
	bad("/a none\n", 1, 4, "unknown class \"none\"");
	bad("/ok deny\n/a\n", 2, 3, "missing class");
	bad("/a   # shared\n", 1, 6, "missing class");
	bad("/a shared deny\n", 1, 11, "extra text after the class");
	bad("/a shared x # c\n", 1, 11, "extra text after the class");
	bad("/a\\", 1, 3, "dangling '\\'");
	bad("/a\\\nshared\n", 1, 3, "dangling '\\'");
	bad("/a shared\\\n", 1, 10, "dangling '\\'");
	bad_len("/a\0b shared\n", 12, 1, 3, "NUL byte");
	bad_len("/a shared # x\0y\n", 16, 1, 14, "NUL byte");
	bad_len("/ok deny\n\0\n", 11, 2, 1, "NUL byte");
	bad_len("/a\\\0 shared\n", 12, 1, 4, "NUL byte");
	bad("/a/\\/b shared\n", 1, 4, "'/' cannot be escaped");
	bad("/x shared\n/y deny\n/x deny\n", 3, 1, "duplicate of line 1");
	bad("/a/*.php deny\n\n   /a/*.php shared\n", 3, 4, "duplicate of line 1");
	bad("/a\\b deny\n/ab shared\n", 2, 1, "duplicate of line 1");
	bad("/a/\\*x deny\n/a/\\**x shared\n/a/*x shared\n/a/\\*x local\n", 4, 1,
	    "duplicate of line 1");
	{
		char line[400];

		memset(line, 0, sizeof(line));
		line[0] = '/';
		memset(line + 1, 'x', 256);
		strcat(line, " shared\n");
		bad(line, 1, 2, "longer than 255 bytes");
		line[256] = '*'; /* 255 literal bytes and a '*': can match a 255-byte name */
		p = parse(line);
		ok(p != NULL, "a segment of 255 literal bytes and '*' is accepted");
		policy_free(p);
	}
	/* the first error wins, the whole file is rejected */
	bad("/a shared\n/b bogus\n/c/ shared\n", 2, 4, "unknown class");

	/* error formatting */
	ok(policy_parse("x.policy", "/a\n", 3, &p, &err) == -EINVAL, "missing class again");
	policy_error_format(&err, msg, sizeof(msg));
	is_str(msg, "x.policy:1:3: missing class after the pattern (shared, cache, local or deny)",
	       "formatted error");
	is_int(policy_load("/nonexistent/pressfs.policy", &p, &err), -ENOENT, "load: missing file");
	ok(p == NULL, "load: no policy on error");
	is_int(err.line, 0, "load: I/O error has line 0");
	policy_error_format(&err, msg, sizeof(msg));
	is_str(msg, "/nonexistent/pressfs.policy: No such file or directory", "load: message");
	is_int(policy_load("/", &p, &err), -EISDIR, "load: a directory");
	policy_error_format(&err, msg, sizeof(msg));
	is_str(msg, "/: Is a directory", "load: directory message");
}

static void test_matching(void)
{
	struct policy *p = parse("/exact/name shared\n"
				 "/star/*.php deny\n"
				 "/star/* shared\n"
				 "/q/a?c cache\n"
				 "/esc/a\\ b\\#c\\*d\\?e\\\\f local\n"
				 "/esc/lit\\* deny\n"
				 "/any/** cache\n"
				 "/mid/**/x/*.log local\n"
				 "/two/**/**/z shared\n"
				 "/first/win deny\n"
				 "/first/* shared\n"
				 "/*.txt local\n"
				 "/ deny\n");

	ok(p != NULL, "matching policy parses");
	if (!p)
		return;
	CLASS(p, "/exact/name", "shared");
	CLASS(p, "/exact/nam", "none");
	CLASS(p, "/exact/names", "none");
	CLASS(p, "/exact/name/x", "none");
	CLASS(p, "/exact", "none");
	CLASS(p, "/star/a.php", "deny");
	CLASS(p, "/star/.php", "deny");
	CLASS(p, "/star/.x.php", "deny");
	CLASS(p, "/star/a.phpx", "shared");
	CLASS(p, "/star/a", "shared");
	CLASS(p, "/star/a/b", "none");
	CLASS(p, "/star", "none");
	CLASS(p, "/q/abc", "cache");
	CLASS(p, "/q/a/c", "none");
	CLASS(p, "/q/ac", "none");
	CLASS(p, "/q/abbc", "none");
	CLASS(p, "/esc/a b#c*d?e\\f", "local");
	CLASS(p, "/esc/a b#cXdYe\\f", "none");
	CLASS(p, "/esc/lit*", "deny");
	CLASS(p, "/esc/litx", "none");
	CLASS(p, "/any", "cache");
	CLASS(p, "/any/", "cache"); /* one trailing '/' is forgiven */
	CLASS(p, "/any/a", "cache");
	CLASS(p, "/any/a/b/c", "cache");
	CLASS(p, "/anyx", "none");
	CLASS(p, "/mid/x/a.log", "local");
	CLASS(p, "/mid/a/b/x/a.log", "local");
	CLASS(p, "/mid/x/x/x/a.log", "local");
	CLASS(p, "/mid/a/x/b/a.log", "none");
	CLASS(p, "/mid/x/a.log/x", "none");
	CLASS(p, "/mid/a.log", "none");
	CLASS(p, "/two/z", "shared");
	CLASS(p, "/two/a/b/c/z", "shared");
	CLASS(p, "/two/z/y", "none");
	CLASS(p, "/first/win", "deny");
	CLASS(p, "/first/lose", "shared");
	CLASS(p, "/a.txt", "local");
	CLASS(p, "/exact.txt", "local");
	CLASS(p, "/exact/a.txt", "none");
	CLASS(p, "/", "deny");
	CLASS(p, "/nothing", "none");
	ok(policy_match(p, "", 0) == NULL, "empty path matches nothing");
	ok(policy_match(p, "exact/name", 10) == NULL, "relative path matches nothing");
	ok(policy_match(p, "/exact/name/", 11) != NULL, "LEN is honoured");
	{
		const struct policy_rule *r = policy_match(p, "/first/win", 10);

		ok(r && r->line == 10 && strcmp(r->pattern, "/first/win") == 0,
		   "match returns the first matching rule");
	}
	policy_free(p);
}

/* '**' backtracking on adversarial input must stay fast (no exponential blow-up). */
static void test_adversarial(void)
{
	char pat[4096], path[16384];
	size_t n = 0, m = 0;
	struct policy *p;

	n += (size_t)snprintf(pat + n, sizeof(pat) - n, "/aaaa");
	for (int i = 0; i < 200; i++)
		n += (size_t)snprintf(pat + n, sizeof(pat) - n, "/**/a*a*a");
	snprintf(pat + n, sizeof(pat) - n, "/b* shared\n"); /* no literal suffix to reject early */
	p = parse(pat);
	ok(p != NULL, "pattern with 200 '**' parses");
	for (int i = 0; i < 2000; i++)
		m += (size_t)snprintf(path + m, sizeof(path) - m, "/aaaa");
	if (p) {
		clock_t t0 = clock();

		ok(policy_match(p, path, m) == NULL, "200 '**' against 2000 segments: no match");
		ok(clock() - t0 < CLOCKS_PER_SEC, "... within a second (%ld us)",
		   (long)((clock() - t0) * 1000000 / CLOCKS_PER_SEC));
		path[m++] = '/';
		path[m++] = 'b';
		ok(policy_match(p, path, m) != NULL, "200 '**' against 2000 segments + b: match");
	}
	policy_free(p);
}

#define MC(p, path, want)                                                                          \
	is_int(policy_may_change(p, path, strlen(path)), want, "may_change(%s)", path)
#define MCB(p, path, want)                                                                         \
	is_int(policy_may_change_below(p, path, strlen(path)), want, "may_change_below(%s)", path)

static void test_may_change(void)
{
	struct policy *p;

	p = parse("/a/b/** deny\n"
		  "/a/** shared\n"
		  "/x/*/y local\n"
		  "/d/e/** deny\n"
		  "/d/e/*/c shared\n"
		  "/f/*/c shared\n"
		  "/f/g/** deny\n"
		  "/m?/n* cache\n"
		  "/sp\\ ace/** shared\n"
		  "/t/temp-* local\n"
		  "/u/x deny\n"
		  "/u/** shared\n");
	ok(p != NULL, "may-change policy parses");
	if (!p)
		return;
	MC(p, "/", 0);
	MC(p, "/a", 1);
	MC(p, "/a/z", 1);
	MC(p, "/a/b", 1);   /* deny itself, but its parent /a is shared */
	MC(p, "/a/b/c", 1); /* same */
	MC(p, "/ab", 0);
	MC(p, "/x", 0);
	MC(p, "/x/q", 0);
	MC(p, "/x/q/y", 1);
	MC(p, "/x/q/y/z/w", 1);
	MC(p, "/x/q/z", 0);
	MC(p, "/d/e/q/c", 0); /* the deny rule above takes it first */
	MC(p, "/mq/nothing", 1);
	MC(p, "/mq", 0);
	MC(p, "/sp ace/f", 1);
	MC(p, "/sp", 0);
	MC(p, "/u/x", 1); /* deny, but /u is shared */
	MC(p, "/unknown/name", 0);
	MC(p, "/a/", 1); /* a trailing '/' is forgiven */
	ok(!policy_may_change(p, "a", 1), "may_change: relative path is false");
	ok(!policy_may_change(p, "", 0), "may_change: empty path is false");

	MCB(p, "/", 1);
	MCB(p, "/a", 1);
	MCB(p, "/a/b", 1); /* /a is shared: /a/b may be renamed away */
	MCB(p, "/x", 1);
	MCB(p, "/x/q", 1);
	MCB(p, "/x/q/z", 0);
	MCB(p, "/x/q/y/z", 1);
	/* conservative: the walk does not see that the deny rule above shadows the shared one */
	MCB(p, "/d", 1);
	MCB(p, "/d/e", 0); /* exact here: the deny rule takes everything below /d/e first */
	MCB(p, "/d/e/q", 0);
	MCB(p, "/f", 1); /* the shared rule comes first */
	MCB(p, "/f/g", 1);
	MCB(p, "/f/h/i", 0);
	MCB(p, "/mq", 1);
	MCB(p, "/mqq", 0);
	MCB(p, "/m", 0);
	MCB(p, "/sp ace", 1);
	MCB(p, "/sp", 0);
	MCB(p, "/t", 1);
	MCB(p, "/t/temp", 0);	/* "/t/temp-*" can only match /t/temp-..., nothing below /t/temp */
	MCB(p, "/t/temp-x", 1); /* writable itself */
	MCB(p, "/t/tem", 0);
	MCB(p, "/q", 0);
	MCB(p, "/unknown/name", 0);
	/* at or below: /x/q/z has neither; /x/q/y is writable itself; /d has something below */
	for (const char *const *t = (const char *const[]){"/", "/a/b", "/x/q/y", "/x/q/z", "/d",
							    "/d/e/q", "/t/temp", "/u/x", NULL};
	     *t; t++)
		is_int(policy_tree_may_change(p, *t, strlen(*t)),
		       policy_may_change(p, *t, strlen(*t)) ||
			   policy_may_change_below(p, *t, strlen(*t)),
		       "tree_may_change(%s) is may_change or may_change_below", *t);
	ok(!policy_tree_may_change(p, "/x/q/z", 6), "tree_may_change(/x/q/z) is false");
	ok(policy_tree_may_change(p, "/x/q/y", 6), "tree_may_change(/x/q/y) is true");
	policy_free(p);

	p = parse("/**/x shared\n");
	ok(p != NULL, "'/**/x' parses");
	MC(p, "/x", 1);
	MC(p, "/a/b", 0);
	MC(p, "/a/x/b", 1);
	MCB(p, "/a/b/c", 1);
	MCB(p, "/", 1);
	policy_free(p);

	p = parse("/ local\n/a deny\n");
	ok(p != NULL, "root rule parses");
	CLASS(p, "/", "local");
	CLASS(p, "/a", "deny");
	MC(p, "/a", 1);
	MC(p, "/a/b/c", 1);
	MCB(p, "/b", 1);
	policy_free(p);

	p = parse("/** deny\n/a shared\n");
	ok(p != NULL, "'/** deny' first parses");
	CLASS(p, "/a", "deny");
	MC(p, "/a", 0);
	MCB(p, "/", 0);
	MCB(p, "/a", 0);
	policy_free(p);

	p = parse("/a deny\n/** shared\n");
	ok(p != NULL, "'/** shared' parses");
	CLASS(p, "/a", "deny");
	MC(p, "/", 1);
	MC(p, "/a", 1);
	policy_free(p);
}

static const char *policy_file(void)
{
	const char *f = getenv("PRESSFS_POLICY");

	return f ? f : "policies/wordpress.policy";
}

#define WRITE(p, path, want)                                                                      \
	is_int(policy_judge_write(p, path, strlen(path), NULL), want, "write %s: %s", path,        \
	       want ? "EROFS" : "allowed")

/* Code is granted only where a named plugin needs it (section 0 of the default policy). */
static void default_code(const struct policy *p)
{
	static const char *const granted[] = {
	    "/.htaccess",
	    "/wp-content/wp-cache-config.php",
	    "/wp-content/cache/0123456789abcdef0123456789abcdefAbC123.php",
	    "/wp-content/w3tc-config/master.php",
	    "/wp-content/w3tc-config/master-admin.php",
	    "/wp-content/wp-rocket-config/example.org.php",
	    "/wp-content/wflogs/rules.php",
	    "/wp-content/wflogs/ips.php",
	    "/wp-content/wflogs/config.php",
	    "/wp-content/wflogs/.htaccess",
	    "/wp-content/updraft/.htaccess",
	    "/wp-content/uploads/woocommerce_uploads/.htaccess",
	};
	static const char *const refused[] = {
	    "/wp-content/uploads/a.php",
	    "/wp-content/uploads/2024/05/a.PHP",
	    "/wp-content/uploads/2024/05/a.pHp",
	    "/wp-content/uploads/2024/05/a.php.",
	    "/wp-content/uploads/2024/05/a.php.jpg",
	    "/wp-content/uploads/2024/05/a.Phar",
	    "/wp-content/uploads/.htaccess",
	    "/wp-content/uploads/2024/.htaccess",
	    "/wp-content/uploads/2024/05/.HTACCESS",
	    "/wp-content/uploads/woocommerce_uploads/x/.htaccess",
	    "/wp-content/uploads/.user.ini",
	    "/wp-content/cache/c.php",
	    "/wp-content/cache/supercache/example.org/index.php",
	    "/wp-content/cache/tmp/x.php",
	    "/wp-content/cache/.htaccess",
	    "/wp-content/cache/0123456789abcdef0123456789abcdefAbC12.php",
	    "/wp-content/updraft/x.php",
	    "/wp-content/updraft/sub/.htaccess",
	    "/wp-content/wflogs/shell.php",
	    "/wp-content/wflogs/sub/rules.php",
	    "/wp-content/litespeed/css/a.php",
	    "/wp-content/et-cache/1/a.php",
	    "/wp-content/ai1wm-backups/index.php",
	    "/wp-content/backups-dup-lite/x.php",
	    "/wp-content/backups-dup-pro/x.phtml",
	    "/wp-content/languages/loco/plugins/x-fr_FR.l10n.php",
	    "/wp-content/temp-write-test-1.php",
	    "/wp-content/x.php.tmp",
	    "/wp-content/w3tc-config/sub/x.php",
	    "/wp-content/w3tc-config/.htaccess",
	    "/wp-content/debug.php",
	    "/x.php",
	};

	for (size_t i = 0; i < sizeof(granted) / sizeof(granted[0]); i++)
		WRITE(p, granted[i], 0);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		WRITE(p, refused[i], -EROFS);
	WRITE(p, "/wp-content/uploads/2024/05/a.jpg", 0);
	WRITE(p, "/wp-content/cache/supercache/example.org/index.html", 0);
	WRITE(p, "/wp-content/wflogs/GeoLite2-Country.mmdb", 0);
	WRITE(p, "/wp-content/cache/tmp/w3tcAbC123", 0);
}

static void test_default_policy(void)
{
	struct policy *p = NULL;
	struct policy_error err;
	char msg[300];
	int ret = policy_load(policy_file(), &p, &err);

	policy_error_format(&err, msg, sizeof(msg));
	is_int(ret, 0, "%s loads (%s)", policy_file(), ret ? msg : "ok");
	if (ret)
		return;
	ok(policy_rule_count(p) >= 30, "default policy has %zu rules", policy_rule_count(p));
	default_code(p);

	/* code and static files: never change, cached forever */
	MC(p, "/wp-includes/x.php", 0);
	MC(p, "/wp-includes/version.php", 0);
	MC(p, "/wp-admin/index.php", 0);
	MC(p, "/index.php", 0);
	MC(p, "/wp-content/themes/twentytwentythree/style.css", 0);
	MC(p, "/wp-content/themes/twentytwentythree/theme.json", 0);
	MC(p, "/wp-content/plugins/akismet/akismet.php", 0);
	MC(p, "/wp-content/plugins", 0);
	MC(p, "/wp-content/mu-plugins/x.php", 0);
	MC(p, "/wp-content/languages/plugins/akismet-de_DE.mo", 0);
	MC(p, "/wp-config.php", 0);
	MC(p, "/wp-content", 0);
	MC(p, "/", 0);
	MC(p, "/wp-content/index.php", 0);
	/* writable areas */
	MC(p, "/wp-content/uploads/2026/11/a.jpg", 1);
	MC(p, "/wp-content/uploads", 1);
	MC(p, "/.htaccess", 1);
	MC(p, "/wp-content/cache/supercache/example.com/index.html", 1);
	MC(p, "/wp-content/debug.log", 1);
	MC(p, "/wp-content/wflogs/ips.php", 1);
	MC(p, "/wp-content/languages/loco/plugins/x-de_DE.po", 1);

	MCB(p, "/", 1);
	MCB(p, "/wp-content", 1);
	MCB(p, "/wp-content/uploads", 1);
	MCB(p, "/wp-content/uploads/2026/11", 1);
	MCB(p, "/wp-content/cache", 1);
	MCB(p, "/wp-content/languages", 1);
	MCB(p, "/wp-includes", 0);
	MCB(p, "/wp-includes/js", 0);
	MCB(p, "/wp-admin", 0);
	MCB(p, "/wp-admin/css", 0);
	MCB(p, "/wp-content/plugins", 0);
	MCB(p, "/wp-content/plugins/akismet", 0);
	MCB(p, "/wp-content/themes", 0);
	MCB(p, "/wp-content/themes/twentytwentythree/parts", 0);
	MCB(p, "/wp-content/mu-plugins", 0);
	MCB(p, "/wp-content/upgrade", 0);
	MCB(p, "/wp-content/languages/plugins", 0);

	/* the write map, row by row of WRITE-PATTERNS.md */
	CLASS(p, "/wp-content/uploads/2026/11/x.jpg", "shared");	 /* 1 */
	CLASS(p, "/wp-content/uploads/2026/11/x-300x200.jpg", "shared"); /* 2 */
	CLASS(p, "/wp-content/uploads/2026/11", "shared");		 /* 3 */
	CLASS(p, "/wp-content/uploads/2026", "shared");
	CLASS(p, "/wp-content/uploads", "shared");
	CLASS(p, "/wp-content/temp-write-test-65f1c0a1b2c3d4-12345678", "local");	/* 4 */
	CLASS(p, "/.htaccess", "shared");						/* 5 */
	CLASS(p, "/wp-content/cache/supercache/example.com/about/index.html", "cache"); /* 6 */
	CLASS(p, "/wp-content/cache/supercache/example.com/about/123abc.tmp", "cache");
	CLASS(p, "/wp-content/cache/wp-rocket/example.com/index-https.html", "cache");
	CLASS(p, "/wp-content/cache/page_enhanced/example.com/_index_slash_ssl.html", "cache");
	CLASS(p, "/wp-content/cache/tmp/w3tc-abc", "shared"); /* 7 */
	CLASS(p, "/wp-content/w3tc-config/master.php", "shared");
	CLASS(p, "/wp-content/cache/all/index.html", "cache"); /* 8 */
	CLASS(p, "/wp-content/cache/tmpWpfc/1700000000/index.html", "cache");
	CLASS(p, "/wp-content/cache/autoptimize/css/autoptimize_abc.css", "shared"); /* 9 */
	CLASS(p, "/wp-content/uploads/elementor/css/post-12.css", "shared");
	CLASS(p, "/wp-content/litespeed/css/abc.css", "shared"); /* 10 */
	CLASS(p, "/wp-content/wflogs/config.php", "shared");
	CLASS(p, "/wp-content/wflogs/ips.php", "shared");				   /* 11 */
	CLASS(p, "/wp-content/uploads/wc-logs/fatal-errors-2026-11-01-abc.log", "shared"); /* 12 */
	CLASS(p, "/wp-content/debug.log", "shared");
	CLASS(p, "/wp-content/updraft/updraftplus-probe.tmp", "shared");		/* 13 */
	CLASS(p, "/wp-content/themes/twentytwentythree/acf-json/group_1.json", "deny"); /* 14 */
	CLASS(p, "/wp-content/uploads/woocommerce_uploads/.htaccess", "shared");	/* 15 */
	CLASS(p, "/wp-content/uploads/gravity_forms/index.html", "shared");
	CLASS(p, "/wp-content/uploads/wpforms/web.config", "shared");
	CLASS(p, "/wp-content/advanced-cache.php", "deny"); /* 16 */
	CLASS(p, "/wp-content/object-cache.php", "deny");
	CLASS(p, "/wp-content/db.php", "deny");
	CLASS(p, "/wp-config.php", "deny"); /* 17 */
	CLASS(p, "/wp-cache-config.php", "none");
	CLASS(p, "/wp-content/wp-cache-config.php", "shared"); /* 18 */
	CLASS(p, "/wp-content/wflogs/attack-data.php", "shared");
	CLASS(p, "/wp-content/wp-rocket-config/example.com.php", "shared");
	CLASS(p, "/.user.ini", "deny"); /* 19 */
	CLASS(p, "/wordfence-waf.php", "deny");
	CLASS(p, "/wp-content/uploads/gravity_forms/tmp/abc_input_3_f.part", "shared"); /* 20 */
	CLASS(p, "/wp-content/ai1wm-backups/site-20261101.wpress", "shared");
	CLASS(p, "/wp-content/updraft/backup_2026-11-01_db.gz.zip.tmp", "shared");
	CLASS(p, "/wp-content/uploads/wpcf7_uploads/1234567/cv.pdf", "local"); /* 21 */
	CLASS(p, "/wp-content/uploads/wpcf7_uploads", "local");
	CLASS(p, "/wp-content/uploads/elementor/tmp/kit.zip", "local");
	CLASS(p, "/wp-content/uploads/2026/11/x.jpg.tmp", "shared"); /* 22 */
	CLASS(p, "/wp-content/uploads/2026/11/x.jpg.bak", "shared");
	CLASS(p, "/wp-content/upgrade/akismet-abc.tmp", "deny"); /* 23 */
	CLASS(p, "/wp-content/upgrade", "deny");
	CLASS(p, "/wp-content/plugins/akismet/akismet.php", "deny");
	CLASS(p, "/wp-content/plugins", "deny");
	CLASS(p, "/.maintenance", "deny");
	CLASS(p, "/wp-content/languages/loco/plugins/woocommerce-de_DE.po", "shared"); /* 24 */
	CLASS(p, "/wp-content/languages/plugins/akismet-de_DE.mo", "deny");
	CLASS(p, "/wp-content/uploads/wp-personal-data-exports/export-abc.zip", "shared"); /* 25 */
	/* executable code in writable places */
	CLASS(p, "/wp-content/uploads/2026/11/shell.php", "deny");
	CLASS(p, "/wp-content/uploads/shell.php", "deny");
	CLASS(p, "/wp-content/uploads/a/b/c/d/e/.x.php", "deny");
	CLASS(p, "/wp-content/uploads/x.php5", "deny");
	CLASS(p, "/wp-content/uploads/x.phtml", "deny");
	CLASS(p, "/wp-content/uploads/x.phar", "deny");
	CLASS(p, "/wp-content/uploads/2026/.user.ini", "deny");
	CLASS(p, "/wp-content/cache/.user.ini", "deny");
	CLASS(p, "/wp-content/uploads/2026/11/php.jpg", "shared");
	/* the rest of the map */
	CLASS(p, "/wp-content/cache/wp_cache_mutex.lock", "local");
	CLASS(p, "/wp-content/cache/min/1/abc.js", "shared");
	CLASS(p, "/wp-content/cache/minify/abc.css", "shared");
	CLASS(p, "/wp-content/cache/object/000/abc", "cache");
	CLASS(p, "/wp-content/cache/db/000/abc", "cache");
	CLASS(p, "/wp-content/cache/wp-cache-abcdef.php", "cache");
	CLASS(p, "/wp-content/cache", "cache");
	CLASS(p, "/wp-content/download-abc123.tmp", "local");
	CLASS(p, "/wp-content/uploads/fonts/inter.woff2", "shared");
	CLASS(p, "/wp-content/uploads/sites/2/2026/11/x.jpg", "shared");
	CLASS(p, "/wp-includes/version.php", "none");
	CLASS(p, "/wp-admin/index.php", "none");
	CLASS(p, "/index.php", "none");
	CLASS(p, "/wp-content", "none");
	CLASS(p, "/", "none");
	policy_free(p);
}

/*
 * Differential test: random policies and paths against a naive recursive reference matcher that
 * follows the grammar's definition word for word, and may_change against its definition.
 */
static unsigned long rnd_state = 88172645463325252UL;

static unsigned rnd(unsigned n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (unsigned)(rnd_state % n);
}

static bool ref_name(const char *p, const char *pe, const char *s, const char *se)
{
	if (p == pe)
		return s == se;
	if (*p == '*')
		return ref_name(p + 1, pe, s, se) || (s < se && ref_name(p, pe, s + 1, se));
	if (*p == '?')
		return s < se && ref_name(p + 1, pe, s + 1, se);
	if (*p == '\\')
		p++;
	return s < se && *s == *p && ref_name(p + 1, pe, s + 1, se);
}

/* pattern and path as arrays of segments (text without '/') */
static bool ref_segs(char **ps, int np, char **ss, int ns)
{
	if (np == 0)
		return ns == 0;
	if (strcmp(ps[0], "**") == 0)
		return ref_segs(ps + 1, np - 1, ss, ns) ||
		       (ns > 0 && ref_segs(ps, np, ss + 1, ns - 1));
	return ns > 0 && ref_name(ps[0], ps[0] + strlen(ps[0]), ss[0], ss[0] + strlen(ss[0])) &&
	       ref_segs(ps + 1, np - 1, ss + 1, ns - 1);
}

static const char *const pat_segs[] = {"a",   "b",   "*",     "?",     "a*",  "*b", "**",
				       "a?b", "\\*", "x.php", "*.php", "*a*", "b*a"};
static const char *const path_segs[] = {"a", "b", "ab", "ba", "aab", "*", "x.php", "a.php", "bba"};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct rpolicy {
	int n;
	int np[5];
	char *ps[5][6];
	enum policy_class c[5];
};

static enum policy_class ref_class(const struct rpolicy *rp, char **ss, int ns)
{
	for (int i = 0; i < rp->n; i++)
		if (ref_segs((char **)rp->ps[i], rp->np[i], ss, ns))
			return rp->c[i];
	return POLICY_NONE;
}

static bool ref_may_change(const struct rpolicy *rp, char **ss, int ns)
{
	for (int k = 0; k <= ns; k++)
		if (policy_class_writable(ref_class(rp, ss, k)))
			return true;
	return false;
}

static int join(char *buf, char **ss, int ns)
{
	int n = 0;

	buf[0] = '\0';
	for (int i = 0; i < ns; i++)
		n += sprintf(buf + n, "/%s", ss[i]);
	if (ns == 0)
		n = sprintf(buf, "/");
	return n;
}

static void test_differential(void)
{
	int policies = 0, match_bad = 0, mc_bad = 0, mcb_unsafe = 0, mcb_loose = 0, mcb_total = 0;
	char text[512], path[128], first[1024] = "";

	for (int iter = 0; iter < 3000; iter++) {
		struct rpolicy rp = {.n = 1 + (int)rnd(4)};
		struct policy *p = NULL;
		struct policy_error err;
		int t = 0;

		for (int i = 0; i < rp.n; i++) {
			rp.np[i] = (int)rnd(5) + (i == 0); /* "/" alone now and then */
			rp.c[i] = (enum policy_class)(1 + rnd(4));
			for (int j = 0; j < rp.np[i]; j++)
				rp.ps[i][j] = (char *)pat_segs[rnd(NELEM(pat_segs))];
			t += join(text + t, rp.ps[i], rp.np[i]);
			t += sprintf(text + t, " %s\n", policy_class_name(rp.c[i]));
		}
		if (policy_parse("r", text, (size_t)t, &p, &err) != 0)
			continue; /* a duplicate pattern: fine */
		policies++;
		for (int q = 0; q < 40; q++) {
			char *ss[6];
			int ns = (int)rnd(6), n;
			enum policy_class want, got;

			for (int j = 0; j < ns; j++)
				ss[j] = (char *)path_segs[rnd(NELEM(path_segs))];
			n = join(path, ss, ns);
			want = ref_class(&rp, ss, ns);
			got = policy_class_of(p, path, (size_t)n);
			if (got != want && !match_bad++)
				snprintf(first, sizeof(first), "class_of(%s) = %s, want %s in:\n%s",
					 path, policy_class_name(got), policy_class_name(want),
					 text);
			if (policy_may_change(p, path, (size_t)n) != ref_may_change(&rp, ss, ns) &&
			    !mc_bad++)
				snprintf(first, sizeof(first), "may_change(%s) wrong in:\n%s", path,
					 text);

			/* may_change_below must be true when some path below (depth <= 2) may
			 * change */
			if (ns <= 3) {
				bool below = false,
				     got_b = policy_may_change_below(p, path, (size_t)n);

				for (unsigned a = 0; a < NELEM(path_segs) && !below; a++) {
					ss[ns] = (char *)path_segs[a];
					below = ref_may_change(&rp, ss, ns + 1);
					for (unsigned b = 0; b < NELEM(path_segs) && !below; b++) {
						ss[ns + 1] = (char *)path_segs[b];
						below = ref_may_change(&rp, ss, ns + 2);
					}
				}
				below = below || ref_may_change(&rp, ss, ns);
				mcb_total++;
				if (below && !got_b && !mcb_unsafe++)
					snprintf(first, sizeof(first),
						 "may_change_below(%s) false in:\n%s", path, text);
				mcb_loose += !below && got_b;
			}
		}
		policy_free(p);
	}
	ok(policies > 2000, "%d random policies parsed", policies);
	is_int(match_bad, 0, "class_of agrees with the reference matcher");
	is_int(mc_bad, 0, "may_change agrees with its definition");
	is_int(mcb_unsafe, 0, "may_change_below is never false where a write can land below");
	printf("# may_change_below said true without a writable path within two levels: %d of %d\n",
	       mcb_loose, mcb_total);
	if (first[0])
		printf("# first mismatch: %s", first);
}

/* Patterns deeper than the index goes (16 names) still match exactly. */
static void test_deep(void)
{
	char text[512], path[256];
	struct policy *p;
	int n = 0;

	for (int i = 0; i < 20; i++)
		n += sprintf(text + n, "/d%d", i);
	strcpy(path, text);
	n += sprintf(text + n, "/** local\n");
	n += sprintf(text + n, "%s/x/y deny\n", path); /* shadowed by the line above */
	n += sprintf(text + n, "/d0/*/d2/r* shared\n");
	p = parse(text);
	ok(p != NULL, "20-name patterns parse");
	if (!p)
		return;
	CLASS(p, path, "local");
	strcat(path, "/x/y");
	CLASS(p, path, "local");
	path[strlen(path) - 4] = '\0';
	path[strlen(path) - 1] = '\0'; /* ".../d1" instead of ".../d19" */
	CLASS(p, path, "none");
	MC(p, path, 0);
	MCB(p, path, 0);
	CLASS(p, "/d0/d1/d2/d3", "none");
	CLASS(p, "/d0/d1/d2/r3", "shared");
	CLASS(p, "/d0/q/d2/r", "shared");
	CLASS(p, "/d0/q/d2/r/s", "none");
	MC(p, "/d0/q/d2/r/s", 1);
	MCB(p, "/d0/q", 1);
	MCB(p, "/d0/q/d3", 0);
	policy_free(p);
}

/* "+code", the names it is about, and the one judgement of a write both front ends use. */
static void test_code(void)
{
	static const char *const code[] = {
	    "x.php",   "X.PHP",	     "a.pHp",	   "x.php3",	"x.php8",     "x.PHTML",
	    "x.phar",  "x.pht",	     "x.phps",	   ".htaccess", ".HTAccess",  ".user.ini",
	    ".USER.INI", "x.php.",   "x.php. . ",  "x.php\n",	"x.php.jpg",  "a.b.PhP.png",
	    ".php",    ".htaccess.", ".htaccess ", "x.phtml\t"};
	static const char *const plain[] = {
	    "x.jpg", "php",	 "x.phpx", "x.php9", "x.php2", "xphp",	      "x.ph",
	    "x.ph p", "x.php~", "htaccess", ".htaccess2", "user.ini", "x.user.ini", "a.phpt",
	    "",	     ".",	 "x.html", "x.pdf",  "x.php_.jpg"};
	const struct policy_rule *r;
	struct policy *p;

	for (size_t i = 0; i < sizeof(code) / sizeof(code[0]); i++)
		ok(policy_code_name(code[i], strlen(code[i])), "code name: \"%s\"", code[i]);
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		ok(!policy_code_name(plain[i], strlen(plain[i])), "not code: \"%s\"", plain[i]);

	p = parse("/c/cfg.php shared+code\n/c/g/** cache+code\n/c/l/** local+code\n/c/** "
		  "shared\n/d/** deny\n");
	ok(p != NULL, "+code parses on shared, cache and local");
	if (!p)
		return;
	r = policy_rule_at(p, 0);
	ok(r->code && r->cls == POLICY_SHARED, "shared+code: class shared, code granted");
	ok(policy_rule_at(p, 1)->code && policy_rule_at(p, 1)->cls == POLICY_CACHE, "cache+code");
	ok(policy_rule_at(p, 2)->code && policy_rule_at(p, 2)->cls == POLICY_LOCAL, "local+code");
	ok(!policy_rule_at(p, 3)->code, "no modifier, no code");
	is_int(policy_judge_write(p, "/c/cfg.php", 10, &r), 0, "a granted code name is written");
	ok(r == policy_rule_at(p, 0), "judged by the rule that matched");
	is_int(policy_judge_write(p, "/c/x.php", 8, &r), -EROFS, "code without the grant: EROFS");
	ok(r == policy_rule_at(p, 3), "the rule is given back with the refusal");
	is_int(policy_judge_write(p, "/c/x.PhP.", 9, NULL), -EROFS, "any case, trailing dot");
	is_int(policy_judge_write(p, "/c/sub/.htaccess", 16, NULL), -EROFS, ".htaccess");
	is_int(policy_judge_write(p, "/c/sub/.user.ini/", 17, NULL), -EROFS, "trailing '/'");
	is_int(policy_judge_write(p, "/c/x.jpg", 8, NULL), 0, "not code: the class decides");
	is_int(policy_judge_write(p, "/c/x.php.d/y.jpg", 16, NULL), 0,
	       "only the last name counts (a directory named x.php may hold pictures)");
	is_int(policy_judge_write(p, "/c/g/a/b.php", 12, NULL), 0, "cache+code grants below it");
	is_int(policy_judge_write(p, "/c/l/.htaccess", 14, NULL), 0, "local+code");
	is_int(policy_judge_write(p, "/d/x.txt", 8, &r), -EROFS, "deny");
	ok(r == policy_rule_at(p, 4), "deny's rule");
	is_int(policy_judge_write(p, "/x.txt", 6, &r), -EROFS, "no rule: read-only");
	ok(r == NULL, "no rule");
	policy_free(p);

	bad("/a deny+code\n", 1, 8, "+code on a class that takes no writes");
	bad("/a shared+exec\n", 1, 11, "unknown modifier \"exec\"");
	bad("/a shared+\n", 1, 11, "unknown modifier \"\"");
	bad("/a shared+code+code\n", 1, 11, "unknown modifier \"code+code\"");
	bad("/a +code\n", 1, 4, "unknown class \"\"");
	bad("/a Shared+code\n", 1, 4, "unknown class \"Shared\"");
}

/*
 * Many rules: the index that keeps compiling linear (children grouped by name) must give what a
 * naive first-match scan gives, on random paths.  Rules share prefixes, as real ones do, with
 * wildcards and '**' mixed in at every depth.
 */
static void test_many(void)
{
	enum { NRULES = 6000, NPATHS = 3000, NAMES = 400 };
	static char *segs[NRULES][6];
	static int nsegs[NRULES];
	static enum policy_class c[NRULES];
	static char names[NAMES][8];
	char *text = malloc((size_t)NRULES * 80), path[256];
	struct policy *p = NULL;
	struct policy_error err;
	size_t t = 0;
	int bad_n = 0, n;

	for (int i = 0; i < NAMES; i++)
		snprintf(names[i], sizeof(names[i]), "n%d", i);
	for (int i = 0; i < NRULES; i++) {
		nsegs[i] = 1 + (int)rnd(5);
		for (int j = 0; j < nsegs[i]; j++) {
			unsigned k = rnd(10);

			if (j == 0)
				segs[i][j] = names[rnd(3)]; /* few first names: big lists */
			else if (k < 7)
				segs[i][j] = names[rnd(NAMES)];
			else
				segs[i][j] = (char *)pat_segs[rnd(NELEM(pat_segs))];
		}
		c[i] = (enum policy_class)(1 + rnd(4));
		t += (size_t)join(text + t, segs[i], nsegs[i]);
		t += (size_t)sprintf(text + t, " %s\n", policy_class_name(c[i]));
	}
	/* duplicates are refused: drop them by keeping only the first of each */
	for (;;) {
		int ret = policy_parse("many", text, t, &p, &err);
		char *line, *next;

		if (ret == 0)
			break;
		if (ret != -EINVAL || !strstr(err.reason, "duplicate")) {
			ok(0, "many rules parse: %s", err.reason);
			free(text);
			return;
		}
		line = text;
		for (unsigned l = 1; l < err.line; l++)
			line = strchr(line, '\n') + 1;
		next = strchr(line, '\n') + 1;
		memset(line, '#', (size_t)(next - line - 1)); /* a comment now */
		segs[err.line - 1][0] = NULL;
	}
	ok(policy_rule_count(p) > NRULES / 2, "%zu rules parsed", policy_rule_count(p));
	for (int q = 0; q < NPATHS; q++) {
		char *ss[6];
		int ns = 1 + (int)rnd(5);
		enum policy_class want = POLICY_NONE, got;

		for (int j = 0; j < ns; j++)
			ss[j] = j == 0 ? names[rnd(4)]
			       : rnd(4)	       ? names[rnd(NAMES)]
				       : (char *)path_segs[rnd(NELEM(path_segs))];
		n = join(path, ss, ns);
		for (int i = 0; i < NRULES; i++)
			if (segs[i][0] && ref_segs(segs[i], nsegs[i], ss, ns)) {
				want = c[i];
				break;
			}
		got = policy_class_of(p, path, (size_t)n);
		if (got != want && !bad_n++)
			printf("# class_of(%s) = %s, want %s\n", path, policy_class_name(got),
			       policy_class_name(want));
	}
	is_int(bad_n, 0, "with %d rules, class_of agrees with a naive scan on %d paths", NRULES,
	       NPATHS);
	policy_free(p);

	/* 100k rules below one directory (a site per line): linear, however many */
	t = 0;
	free(text);
	text = malloc(100000 * 48);
	for (int i = 0; i < 100000; i++)
		t += (size_t)sprintf(text + t, "/wp-content/uploads/site%d/** %s\n", i,
				     i % 2 ? "shared" : "deny");
	ok(policy_parse("big", text, t, &p, &err) == 0, "100000 rules parse");
	if (p) {
		CLASS(p, "/wp-content/uploads/site99999/a.jpg", "shared");
		CLASS(p, "/wp-content/uploads/site4/a.jpg", "deny");
		CLASS(p, "/wp-content/uploads/site100000/a.jpg", "none");
		policy_free(p);
	}
	free(text);
}

int main(void)
{
	test_grammar();
	test_matching();
	test_adversarial();
	test_may_change();
	test_default_policy();
	test_differential();
	test_deep();
	test_code();
	test_many();
	return tap_done();
}
