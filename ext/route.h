/* route.h - where a PHP file access lands: the path as the script names it, its place below
 * pressfs.root, the policy's verdict on a write, and the tree that really serves it. */
#ifndef PFS_ROUTE_H
#define PFS_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "php.h"

#include "policy.h"

/* A path as PHP would open it.  Lives on the caller's stack; nothing to free. */
struct pfs_path {
	char abs[MAXPATHLEN]; /* expanded against the cwd and normalised */
	size_t abs_len;
	char rel[MAXPATHLEN]; /* below the root ("/" is the root itself) */
	size_t rel_len;	      /* 0: abs is not below the root */
};

/* Expand PATH (no "file://") the way PHP does before opening it.  false when PHP could not
 * expand it either (empty, too long): the access is then left to PHP, which fails it. */
bool pfs_path_expand(struct pfs_path *p, const char *path);

enum pfs_where {
	PFS_NATIVE = 0, /* the path itself */
	PFS_MOUNT,	/* the same relative path under pressfs.mount */
	PFS_LOWER,	/* the same relative path under pressfs.lower */
};

/* Where a read-only access of PATH (an open, a stat; a listing when LISTING) is served.  For
 * PFS_MOUNT and PFS_LOWER, OUT (MAXPATHLEN bytes) holds the path to use and P the path as
 * named.  Costs one test when neither pressfs.mount nor pressfs.lower is set. */
enum pfs_where pfs_route_read(const char *path, bool listing, struct pfs_path *p, char *out);

/* Whether the PHP file PATH (LEN bytes; absolute, or relative to the cwd; no "file://") may ever
 * differ from the lower tree's: it lies where a rule can make a write land (policy_may_change()).
 * When it may, P holds its name and WHERE (MAXPATHLEN bytes) the file that really serves it
 * (under pressfs.mount when redirected).  Code, in a directory nothing below which can change,
 * costs one compare of that directory's name. */
bool pfs_route_may_change(const char *path, size_t len, struct pfs_path *p, char *where);

/* Forget what pfs_route_read() learnt of the policy (the configuration changed). */
void pfs_route_reset(void);

/* Map a path under pressfs.mount or pressfs.lower (as realpath or glob return it) back to the
 * root the script sees.  Returns the new length written to OUT, or 0 when PATH is not there. */
size_t pfs_unroute(const char *path, size_t len, char *out, size_t size);

#define PFS_FOLLOW 1u /* the operation follows a symlink in the last name (open, chmod) */

/* The policy's verdict on a write. */
struct pfs_verdict {
	struct pfs_path p;
	bool governed;	 /* the write touches the root, by its name or where it lands */
	bool allowed;	 /* the policy lets it happen */
	bool redirected; /* target is under pressfs.mount */
	bool via_link;	 /* judged is where the write lands through a symlink, not its name */
	bool unknown;	 /* a relative name too long to expand: where it lands cannot be told */
	const struct policy_rule *rule; /* the deciding rule; NULL when none matched */
	enum policy_class cls;
	char judged[MAXPATHLEN]; /* the relative path the deciding rule was matched against */
	const char *target;	 /* what the original operation gets: the path or tbuf */
	char tbuf[MAXPATHLEN];
};

/* Judge a write to PATH (no "file://"); FLAGS: PFS_FOLLOW. */
void pfs_judge_write(struct pfs_verdict *v, const char *path, unsigned flags);

/* Judge the creation of directory PATH with every missing parent (mkdir -p): the first
 * component the policy refuses decides; otherwise as pfs_judge_write(PATH). */
void pfs_judge_mkdir_p(struct pfs_verdict *v, const char *path);

#endif
