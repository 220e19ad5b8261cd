/* test_audit.c - `pressfs audit`: the per-writer table from an extension audit log, and policy
 * lines that, put above the rules that refused the writes, really make those writes legal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/admin.h"
#include "policy.h"
#include "tap.h"

static const char *policy_text = "/wp-content/uploads/**/*.php deny\n"
				 "/wp-content/uploads/** shared\n"
				 "/wp-content/plugins/** deny\n"
				 "/wp-content/themes/** deny\n"
				 "/wp-config.php deny\n";

#define REC(op, path, cls, rule, pattern, outcome, who, bytes)                                     \
	"{\"time\":\"2026-11-22T10:00:00.000Z\",\"pid\":1,\"mode\":\"report\",\"op\":\"" op           \
	"\",\"path\":\"" path "\",\"file\":\"/srv" path "\",\"class\":\"" cls "\",\"rule\":" rule      \
	",\"pattern\":" pattern ",\"bytes\":" bytes ",\"outcome\":\"" outcome "\",\"culprit\":\"" who \
	"\",\"culprit_file\":null,\"culprit_line\":0}\n"

static const char *log_text =
	REC("file_put_contents", "/wp-content/plugins/foo/settings.json", "deny", "3",
	    "\"/wp-content/plugins/**\"", "reported", "plugin:foo", "7")
	REC("rename", "/wp-content/plugins/foo/settings.json", "deny", "3",
	    "\"/wp-content/plugins/**\"", "reported", "plugin:foo", "9")
	REC("fopen", "/wp-content/plugins/foo/cache/a.html", "deny", "3", "\"/wp-content/plugins/**\"",
	    "reported", "plugin:foo", "1")
	REC("fopen", "/wp-content/plugins/foo/cache/b.html", "deny", "3", "\"/wp-content/plugins/**\"",
	    "reported", "plugin:foo", "1")
	REC("fopen", "/wp-content/plugins/foo/cache/c d*.html", "deny", "3",
	    "\"/wp-content/plugins/**\"", "reported", "plugin:foo", "1")
	REC("mkdir", "/wp-content/uploads/foo", "shared", "2", "\"/wp-content/uploads/**\"",
	    "allowed", "plugin:foo", "null")
	REC("file_put_contents", "/wp-content/themes/bar/caf\xc3\xa9.css", "deny", "4",
	    "\"/wp-content/themes/**\"", "denied", "theme:bar", "0")
	REC("file_put_contents", "/wp-config.php", "deny", "5", "\"/wp-config.php\"", "reported",
	    "core", "15")
	REC("unlink", "/wp-includes/x \\\"y\\\".txt", "none", "null", "null", "reported", "core",
	    "null")
	/* allowed, then failed (ENOENT): never happened, so neither counted nor suggested */
	REC("file_put_contents", "/wp-content/uploads/nodir/x.txt", "shared", "2",
	    "\"/wp-content/uploads/**\"", "failed", "plugin:foo", "0")
	/* let through in report mode, then refused by the overlay (EROFS): a refusal */
	REC("file_put_contents", "/wp-content/plugins/gone/x.php", "deny", "3",
	    "\"/wp-content/plugins/**\"", "failed", "plugin:gone", "0")
	"{\"not\": \"a record\"}\n"
	"this line is noise\n"
	"Nov 22 10:00:00 host php-fpm: pressfs audit: " REC(
		"fopen", "/wp-content/uploads/x.txt", "shared", "2", "\"/wp-content/uploads/**\"",
		"allowed", "plugin:foo", "5")
	/* an is_writable() answer the policy made false: not a write, not a refusal */
	REC("is_writable", "/wp-content/plugins/asked/readme.txt", "deny", "3",
	    "\"/wp-content/plugins/**\"", "answered-false", "plugin:asked", "0");

/* What the extension writes for a byte that is not UTF-8 (\u00e9 is the byte 0xe9, not é), a
 * name chosen to drive the terminal, and a script in uploads below a folder named like a
 * plugin's (attributed to no plugin), beside a real single-file plugin. */
#define REC2(path, who, file)                                                                      \
	"{\"op\":\"fopen\",\"path\":\"" path "\",\"file\":\"/srv" path                          \
	"\",\"class\":\"deny\",\"rule\":3,\"pattern\":\"/wp-content/plugins/**\",\"bytes\":1,"     \
	"\"outcome\":\"denied\",\"culprit\":\"" who "\",\"culprit_file\":" file "}\n"

static const char *bytes_log =
	REC2("/wp-content/plugins/x/caf\\u00e9.css", "plugin:x", "\"/srv/wp-content/plugins/x/x.php\"")
	REC2("/wp-content/plugins/x/\\u001b[2J\\u009b1m.txt", "plugin:x",
	     "\"/srv/wp-content/plugins/x/x.php\"")
	REC2("/wp-content/plugins/y/a.txt", "plugin:akismet",
	     "\"/srv/wp-content/uploads/wp-content/plugins/akismet/s.php\"")
	REC2("/wp-content/plugins/y/b.txt", "plugin:hello", "\"/srv/wp-content/plugins/hello.php\"")
	REC2("/wp-content/plugins/y/c.txt", "plugin:kept", "\"/opt/wp-content/plugins/kept/k.php\"");

static int run(int argc, char **argv, char **out);

static void test_bytes_and_attribution(void)
{
	char logp[] = "/tmp/pressfs-test-audit-bytes-XXXXXX";
	int fd = mkstemp(logp);
	char *out;

	if (write(fd, bytes_log, strlen(bytes_log)) != (ssize_t)strlen(bytes_log))
		return;
	close(fd);
	is_int(run(2, (char *[]){"audit", logp, NULL}, &out), 0, "audit of the bytes log");
	ok(strstr(out, "5 records") != NULL, "every record is read");
	ok(strstr(out, "/wp-content/plugins/x/caf\\xe9.css") != NULL,
	   "\\u00e9 is the byte 0xe9 (shown as \\xe9), not the character");
	ok(!strstr(out, "caf\xc3\xa9"), "and never the two bytes of UTF-8's e-acute");
	ok(strstr(out, "/wp-content/plugins/x/caf?.css ") != NULL,
	   "the suggestion matches the byte with '?'");
	ok(!strchr(out, '\x1b') && !strstr(out, "\xc2\x9b"), "no control character is printed");
	ok(strstr(out, "/wp-content/plugins/x/\\x1b[2J\\x9b1m.txt") != NULL,
	   "controls are shown escaped");
	ok(strstr(out, "/wp-content/plugins/x/?\\[2J?1m.txt ") != NULL,
	   "and are one-byte wildcards in the suggestion");
	ok(!strstr(out, "akismet"), "a script in uploads is not the plugin its folder is named like");
	ok(strstr(out, "plugin:hello") != NULL, "a single-file plugin is itself");
	ok(strstr(out, "plugin:kept") != NULL, "a script outside the site's root keeps its name");
	free(out);
	unlink(logp);
}

/* Run audit_main with stdout captured; returns the exit status, *out is malloc'd. */
static int run(int argc, char **argv, char **out)
{
	char path[] = "/tmp/pressfs-test-audit-out-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDOUT_FILENO), rc;
	FILE *f;
	long n;

	fflush(stdout);
	dup2(fd, STDOUT_FILENO);
	rc = audit_main(argc, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	f = fdopen(fd, "r");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	*out = calloc(1, (size_t)n + 1);
	if (fread(*out, 1, (size_t)n, f) != (size_t)n)
		(*out)[0] = '\0';
	fclose(f);
	unlink(path);
	return rc;
}

static bool writable(const struct policy *p, const char *path)
{
	const struct policy_rule *r = policy_match(p, path, strlen(path));

	return r && policy_class_writable(r->cls);
}

int main(void)
{
	char logp[] = "/tmp/pressfs-test-audit-log-XXXXXX", polp[] = "/tmp/pressfs-test-audit-pol-XXXXXX";
	int fd = mkstemp(logp), pfd = mkstemp(polp);
	char *out, *lines, *s, *combined;
	struct policy *p;
	struct policy_error err;
	int rc;

	if (write(fd, log_text, strlen(log_text)) != (ssize_t)strlen(log_text) ||
	    write(pfd, policy_text, strlen(policy_text)) != (ssize_t)strlen(policy_text))
		return 1;
	close(fd);
	close(pfd);

	rc = run(2, (char *[]){"audit", logp, NULL}, &out);
	is_int(rc, 0, "audit of a log exits 0");
	ok(strstr(out, "12 records from 4 writers") != NULL, "counts the records and the writers");
	ok(strstr(out, "(1 line not understood, the first at line 12)") != NULL,
	   "says which lines it did not understand");
	ok(strstr(out, "(1 failed write left out: it did not happen)") != NULL,
	   "says how many failed writes it left out");
	ok(!strstr(out, "plugin:asked"), "an is_writable() answer is neither a write nor a refusal");
	ok(!strstr(out, "nodir"), "a failed write the policy allows is neither counted nor suggested");
	ok(strstr(out, "plugin:gone") && strstr(out, "/wp-content/plugins/gone/x.php"),
	   "a refused-class write that then failed is a refusal");
	ok(strstr(out, "plugin:foo                        6       7       5         24  "
		       "file_put_contents 1, rename 1, fopen 4, mkdir 1") != NULL,
	   "per writer: paths, writes, refused, bytes, operations");
	ok(strstr(out, "file_put_contents x1, rename x1") != NULL,
	   "a path refused for several operations names each");
	ok(strstr(out, "theme:bar") && strstr(out, "/wp-content/themes/bar/caf\xc3\xa9.css"),
	   "UTF-8 is printed as it is");
	ok(strstr(out, "/wp-config.php") && strstr(out, "PHP code: a writable copy would run"),
	   "a refused PHP file is flagged");
	ok(strstr(out, "# 3 refused paths below /wp-content/plugins/foo/cache") != NULL,
	   "three refused names in one directory become one pattern");

	/* The suggested lines, put above the policy, make every refused write legal and keep
	 * PHP out of the directory pattern. */
	lines = strstr(out, "Policy lines that would make");
	ok(lines != NULL, "prints policy lines");
	combined = calloc(1, strlen(out) + strlen(policy_text) + 1);
	for (s = lines ? strchr(lines, '\n') : NULL; s && *++s;) {
		char *e = strchr(s, '\n');

		if (!e)
			break;
		if (*s != '#')
			strncat(combined, s, (size_t)(e - s + 1));
		s = e;
	}
	/* "replaces line 5": the suggestion takes that rule's place */
	ok(strstr(out, "/wp-config.php                               shared # replaces line 5 "
		       "(/wp-config.php)") != NULL,
	   "a rule for exactly the refused path is replaced, not shadowed (a policy refuses that)");
	for (const char *l = policy_text; *l;) {
		const char *e = strchr(l, '\n') + 1;

		if (strncmp(l, "/wp-config.php ", 15) != 0)
			strncat(combined, l, (size_t)(e - l));
		l = e;
	}
	rc = policy_parse("suggestions", combined, strlen(combined), &p, &err);
	is_int(rc, 0, "the suggested lines parse (escapes included)");
	if (rc != 0) {
		char msg[300];

		policy_error_format(&err, msg, sizeof(msg));
		printf("# %s\n", msg);
	}
	if (rc == 0) {
		ok(writable(p, "/wp-content/plugins/foo/settings.json"), "settings.json is now legal");
		ok(writable(p, "/wp-content/plugins/foo/cache/c d*.html"),
		   "a name with a blank and a star is now legal, escaped");
		ok(writable(p, "/wp-content/plugins/foo/cache/new.html"), "so is its directory");
		ok(!writable(p, "/wp-content/plugins/foo/cache/x.php"), "but not PHP in it");
		ok(!writable(p, "/wp-content/plugins/foo/foo.php"), "nor the plugin's code");
		ok(writable(p, "/wp-includes/x \"y\".txt"), "a path no rule matched gets a line too");
		policy_free(p);
	}
	free(combined);
	free(out);

	/* --policy: what the given policy allows already is left out */
	rc = run(4, (char *[]){"audit", logp, "--policy", polp, NULL}, &out);
	is_int(rc, 0, "--policy works");
	ok(strstr(out, "above line 3 (/wp-content/plugins/** deny)") != NULL,
	   "names the rule of the given policy");
	free(out);

	test_bytes_and_attribution();

	rc = run(2, (char *[]){"audit", "/nonexistent/audit.log", NULL}, &out);
	is_int(rc, 1, "a missing log is an error");
	free(out);
	rc = run(1, (char *[]){"audit", NULL}, &out);
	is_int(rc, 2, "no log: usage");
	free(out);
	unlink(logp);
	unlink(polp);
	return tap_done();
}
