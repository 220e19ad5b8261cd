/* policy.h - the pressfs policy: rules that map WordPress paths to storage classes.
 * Shared by the FUSE daemon and the PHP extension; no globals, no PHP or FUSE headers. */
#ifndef PRESSFS_POLICY_H
#define PRESSFS_POLICY_H

#include <stdbool.h>
#include <stddef.h>

/* Storage classes.  POLICY_NONE is what a path no rule matches gets: read-only, lower only. */
enum policy_class {
	POLICY_NONE = 0,
	POLICY_SHARED,
	POLICY_CACHE,
	POLICY_LOCAL,
	POLICY_DENY,
};

struct policy_rule {
	char *pattern; /* as written, escapes kept; owned by the policy */
	enum policy_class cls;
	bool code;     /* "+code": names PHP or the web server runs or honours may be written */
	unsigned line; /* 1-based line in the policy file */
};

/* Why a policy was rejected.  file is the name given to the parser (not owned). */
struct policy_error {
	const char *file;
	unsigned line;	 /* 1-based; 0 when the error is not tied to a line (I/O) */
	unsigned column; /* 1-based */
	char reason[200];
};

struct policy; /* opaque; immutable once built, safe to share between threads */

/* Parse a policy held in memory.  name is used in error messages only.  On success *out owns a
 * new policy (free with policy_free) and 0 is returned; on failure a negative errno
 * (-EINVAL for a syntax error, -ENOMEM) and *err says where and why.  A bad file is rejected whole.
 */
int policy_parse(const char *name, const char *buf, size_t len, struct policy **out,
		 struct policy_error *err);
/* Read and parse a file; -errno of the failed open/read is reported through err with line 0. */
int policy_load(const char *path, struct policy **out, struct policy_error *err);
void policy_free(struct policy *p);

/* "FILE:LINE:COLUMN: REASON" (or "FILE: REASON" for line 0) into buf; returns snprintf's value. */
int policy_error_format(const struct policy_error *err, char *buf, size_t size);

size_t policy_rule_count(const struct policy *p);
const struct policy_rule *policy_rule_at(const struct policy *p, size_t i);

/* PATH is normalised and relative to the WordPress root, starting with '/' ("/" is the root
 * itself).  Returns the first rule that matches, or NULL (class POLICY_NONE). */
const struct policy_rule *policy_match(const struct policy *p, const char *path, size_t len);
enum policy_class policy_class_of(const struct policy *p, const char *path, size_t len);

/* shared, cache and local take writes; none and deny do not. */
bool policy_class_writable(enum policy_class c);
const char *policy_class_name(enum policy_class c);

/* True when NAME (one file name, LEN bytes, no '/') is one PHP or the web server would execute
 * or honour: the PHP family (.php, .php3 to .php8, .phtml, .phar, .pht, .phps) as any of its
 * extensions, so "x.php.jpg" too (Apache's AddHandler runs it), and .htaccess or .user.ini;
 * case-insensitively, trailing dots and white space ignored ("x.PHP.", "x.php\n"). */
bool policy_code_name(const char *name, size_t len);

/* The judgement of a write to PATH (as for policy_match): 0 when its class takes writes and its
 * last name is no code name or the rule grants code; -EROFS otherwise.  *RULE (when RULE is not
 * NULL) gets the deciding rule, NULL when none matched.  Every front end judges writes with it. */
int policy_judge_write(const struct policy *p, const char *path, size_t len,
		       const struct policy_rule **rule);

/* True when an upper entry may ever exist at PATH: PATH or one of its ancestors is in a
 * writable class (a directory created or renamed there may carry PATH below it).  When false,
 * what the lower tree has at PATH is what every reader will ever see, so it may be cached
 * forever, negative answers included. */
bool policy_may_change(const struct policy *p, const char *path, size_t len);

/* True when a writable rule could match some path strictly below directory DIR, i.e. the
 * listing of DIR may ever differ from the lower tree's. */
bool policy_may_change_below(const struct policy *p, const char *dir, size_t len);

/* True when an upper entry may ever exist at PATH or anywhere below it (policy_may_change() or
 * policy_may_change_below()): a directory where this is false keeps the lower tree's listing
 * forever and takes no new name, so every front end reports it not writable. */
bool policy_tree_may_change(const struct policy *p, const char *path, size_t len);

#endif
