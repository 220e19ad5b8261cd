/* route.c - expands PHP paths, judges writes against the policy (by the name used and by where
 * the write lands through symlinks) and routes accesses to pressfs.mount or pressfs.lower. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "php.h"
#include "main/fopen_wrappers.h"

#include "hash.h"
#include "path.h"
#include "php_pressfs.h"
#include "route.h"

/* REL (normalised, below DIR) as a path under DIR, into OUT; a trailing '/' of the name the
 * script used is kept, since it changes what the kernel accepts.  false when too long. */
static bool join(char *out, const struct pfs_dir *dir, const char *rel, size_t rel_len, bool slash)
{
	size_t n = dir->len;

	if (rel_len == 1) /* the root itself */
		rel_len = 0;
	if (n + rel_len + 2 > MAXPATHLEN)
		return false;
	memcpy(out, dir->s, n);
	memcpy(out + n, rel, rel_len);
	n += rel_len;
	if (slash)
		out[n++] = '/';
	out[n] = '\0';
	return true;
}

static long rel_below(const struct pfs_dir *dir, const char *abs, size_t len, char *out)
{
	if (!dir->len)
		return -ENOENT;
	return path_relative_to(dir->s, dir->len, abs, len, out, MAXPATHLEN);
}

/* Whether PATH (LEN bytes, absolute) is already what path_normalize() makes of it: no empty,
 * "." or ".." name, no trailing '/', no name longer than PATH_NAME_MAX.  Most names PHP is given
 * (__DIR__ . '/x', include paths, what realpath() returned) are, and this is one memchr() per
 * name where path_normalize() takes two passes of a loop per byte. */
static bool is_normal(const char *path, size_t len)
{
	const char *p = path, *end = path + len;

	if (len == 1)
		return true; /* "/" */
	for (;;) {
		const char *q = memchr(p + 1, '/', (size_t)(end - p - 1));
		size_t n = (size_t)((q ? q : end) - p - 1);

		if (n == 0 || n > PATH_NAME_MAX ||
		    (p[1] == '.' && (n == 1 || (n == 2 && p[2] == '.'))))
			return false;
		if (!q)
			return true;
		p = q;
	}
}

bool pfs_path_expand(struct pfs_path *p, const char *path)
{
	char tmp[MAXPATHLEN];
	size_t len = strlen(path);
	long n;

	p->rel_len = 0;
	if (len == 0)
		return false;
	if (path[0] == '/' && len < sizeof(p->abs) && is_normal(path, len)) {
		memcpy(p->abs, path, len + 1);
		n = (long)len;
	} else if (path[0] == '/') {
		n = path_normalize(path, len, p->abs, sizeof(p->abs));
		if (n == -EACCES) {
			/* "/.." is "/" to the kernel; let PHP's expansion say the same */
			if (!expand_filepath(path, tmp))
				return false;
			n = path_normalize(tmp, strlen(tmp), p->abs, sizeof(p->abs));
		}
	} else {
		if (!expand_filepath(path, tmp))
			return false;
		n = path_normalize(tmp, strlen(tmp), p->abs, sizeof(p->abs));
	}
	if (n <= 0)
		return false;
	p->abs_len = (size_t)n;

	/* the root as configured, or as realpath() spells it (__FILE__ and include_path
	 * resolution give resolved paths) */
	n = rel_below(&PFS_G(root), p->abs, p->abs_len, p->rel);
	if (n < 0 && PFS_G(root_real).s != PFS_G(root).s)
		n = rel_below(&PFS_G(root_real), p->abs, p->abs_len, p->rel);
	p->rel_len = n > 0 ? (size_t)n : 0;
	return true;
}

static bool trailing_slash(const char *path)
{
	size_t len = strlen(path);

	return len > 1 && path[len - 1] == '/';
}

void pfs_route_reset(void)
{
	memset(PFS_G(frozen), 0, sizeof(PFS_G(frozen)));
	memset(PFS_G(code_dirs), 0, sizeof(PFS_G(code_dirs)));
	memset(PFS_G(code_files), 0, sizeof(PFS_G(code_files)));
}

/* The slot of TAB (N slots) that keeps what was judged of S (LEN bytes, at most the slot's size):
 * the last 16 bytes tell names apart best, two loads rather than a loop. */
static struct pfs_frozen *slot_of(struct pfs_frozen *tab, size_t n, const char *s, size_t len)
{
	uint64_t h = len, w;

	if (len >= 16) {
		memcpy(&w, s + len - 16, 8);
		h = (h ^ w) * UINT64_C(0x9e3779b97f4a7c15);
		memcpy(&w, s + len - 8, 8);
		h = (h ^ w) * UINT64_C(0x9e3779b97f4a7c15);
	} else {
		h = fnv1a_64_more(h, s, len);
	}
	return &tab[(h >> 32) % n];
}

static bool slot_is(const struct pfs_frozen *e, const char *s, size_t len)
{
	return e->len == len && memcmp(e->dir, s, len) == 0;
}

static void slot_set(struct pfs_frozen *e, const char *s, size_t len, bool frozen)
{
	e->len = (unsigned short)len;
	e->frozen = frozen;
	memcpy(e->dir, s, len);
}

/* Whether no rule can make REL's directory, or anything below it, writable: then REL (and a
 * listing of it) is the lower tree's, whatever its name.  The answer for the directory is kept,
 * so that the next access of a file in it costs a compare instead of two policy lookups. */
static bool in_frozen_dir(const struct policy *pol, const char *rel, size_t len)
{
	const char *slash = memrchr(rel, '/', len);
	size_t dlen = slash == rel ? 1 : (size_t)(slash - rel); /* "/x": the root's "/" */
	struct pfs_frozen *e;

	if (len == 1 || dlen > sizeof(e->dir))
		return false; /* the root itself has no directory; too long to keep */
	e = slot_of(PFS_G(frozen), PFS_FROZEN_SLOTS, rel, dlen);
	if (!slot_is(e, rel, dlen))
		slot_set(e, rel, dlen,
			 !policy_may_change(pol, rel, dlen) &&
			     !policy_may_change_below(pol, rel, dlen));
	return e->frozen;
}

enum pfs_where pfs_route_read(const char *path, bool listing, struct pfs_path *p, char *out)
{
	const struct policy *pol = PFS_G(policy);

	if (!PFS_G(route_reads))
		return PFS_NATIVE;
	if (!pfs_path_expand(p, path) || !p->rel_len)
		return PFS_NATIVE;
	/* the fast path: code, templates, CSS, JSON (and never anything under pressfs.mount) */
	if (in_frozen_dir(pol, p->rel, p->rel_len))
		goto lower;
	if (PFS_G(mount).len && policy_class_writable(policy_class_of(pol, p->rel, p->rel_len)))
		return join(out, &PFS_G(mount), p->rel, p->rel_len, trailing_slash(path))
			   ? PFS_MOUNT
			   : PFS_NATIVE;
	if (policy_may_change(pol, p->rel, p->rel_len) ||
	    (listing && policy_may_change_below(pol, p->rel, p->rel_len)))
		return PFS_NATIVE;
lower:
	if (!PFS_G(lower).len ||
	    !join(out, &PFS_G(lower), p->rel, p->rel_len, trailing_slash(path)))
		return PFS_NATIVE;
	PFS_G(lower_reads)++;
	return PFS_LOWER;
}

/* Whether nothing in DIR (absolute, DLEN bytes, as a script names it: not normalised) can ever
 * change: outside the root, or in a directory nothing below which a rule can make writable.
 * Judged once per directory; false (judge the file) when DIR is too long to keep. */
static bool in_code_dir(const char *dir, size_t dlen)
{
	const struct policy *pol = PFS_G(policy);
	struct pfs_frozen *e;
	struct pfs_path d;
	char buf[sizeof(e->dir) + 1];

	if (dlen > sizeof(e->dir))
		return false;
	e = slot_of(PFS_G(code_dirs), PFS_CODE_DIR_SLOTS, dir, dlen);
	if (slot_is(e, dir, dlen))
		return e->frozen;
	memcpy(buf, dir, dlen);
	buf[dlen] = '\0';
	if (!pfs_path_expand(&d, buf))
		return false;
	slot_set(e, dir, dlen,
		 !d.rel_len || (!policy_may_change(pol, d.rel, d.rel_len) &&
				!policy_may_change_below(pol, d.rel, d.rel_len)));
	return e->frozen;
}

bool pfs_route_may_change(const char *path, size_t len, struct pfs_path *p, char *where)
{
	const struct policy *pol = PFS_G(policy);
	const char *slash = len && path[0] == '/' ? memrchr(path, '/', len) : NULL;
	size_t blen = slash ? len - (size_t)(slash - path) - 1 : 0;
	struct pfs_frozen *e = NULL;

	/* the fast path: a file (its last name not "." or "..") in a directory already judged,
	 * or code already judged in one that is not (the root's wp-settings.php, drop-ins) */
	if (blen && !(slash[1] == '.' && (blen == 1 || (blen == 2 && slash[2] == '.')))) {
		if (in_code_dir(path, slash == path ? 1 : (size_t)(slash - path)))
			return false;
		if (len <= sizeof(e->dir)) {
			e = slot_of(PFS_G(code_files), PFS_CODE_FILE_SLOTS, path, len);
			if (slot_is(e, path, len))
				return false;
		}
	}
	if (!pfs_path_expand(p, path) || !p->rel_len || in_frozen_dir(pol, p->rel, p->rel_len) ||
	    !policy_may_change(pol, p->rel, p->rel_len)) {
		if (e) /* only what cannot change is kept */
			slot_set(e, path, len, true);
		return false;
	}
	if (PFS_G(mount).len && policy_class_writable(policy_class_of(pol, p->rel, p->rel_len)) &&
	    join(where, &PFS_G(mount), p->rel, p->rel_len, false))
		return true;
	memcpy(where, p->abs, p->abs_len + 1);
	return true;
}

size_t pfs_unroute(const char *path, size_t len, char *out, size_t size)
{
	char rel[MAXPATHLEN];
	const struct pfs_dir *root = &PFS_G(root_real);
	long n = rel_below(&PFS_G(mount_real), path, len, rel);

	if (n < 0)
		n = rel_below(&PFS_G(mount), path, len, rel);
	if (n < 0)
		n = rel_below(&PFS_G(lower_real), path, len, rel);
	if (n < 0)
		n = rel_below(&PFS_G(lower), path, len, rel);
	if (n < 0)
		return 0;
	if (n == 1)
		n = 0;
	if (root->len + (size_t)n + 1 > size)
		return 0;
	memcpy(out, root->s, root->len);
	memcpy(out + root->len, rel, (size_t)n);
	out[root->len + (size_t)n] = '\0';
	return root->len + (size_t)n;
}

enum landing {
	LAND_UNKNOWN = -1, /* cannot be told (a symlink chain too long to follow): refuse */
	LAND_REFUSED = 0,  /* the kernel refuses the access as well (a loop, ENOTDIR, EACCES) */
	LAND_FOUND = 1,
};

/* REST (at most SIZE bytes) := LINK + "/" + what followed the link in REST (from AFTER). */
static bool splice(char *rest, size_t size, size_t after, const char *link, size_t n)
{
	size_t tail = strlen(rest + after);

	if (n + 1 + tail + 1 > size)
		return false;
	memmove(rest + n + 1, rest + after, tail + 1);
	memcpy(rest, link, n);
	rest[n] = '/';
	return true;
}

/*
 * Where an access to PATH (absolute, as the script wrote it: "..", "." and "//" still in) lands,
 * found as the kernel finds it: name by name, each symlink replaced by its target (relative to
 * its directory, or from "/"), and ".." taking the parent of what the names before it resolved
 * to, so "l/.." is the parent of l's target, and ".." at "/" is "/".  The last name is resolved
 * too when FOLLOW (dangling links included: open(O_CREAT) creates their target) or when a '/'
 * follows it.  Past a name that does not exist, the rest is taken as written (".." lexically),
 * as PHP's expansion opens it.  OUT (MAXPATHLEN) gets the absolute result.
 */
static enum landing real_location(const char *path, bool follow, char *out)
{
	char rest[2 * MAXPATHLEN], link[PATH_MAX + 1];
	size_t rlen = 0, pos = 0, plen = strlen(path);
	bool missing = false;
	int hops = 0;

	if (plen >= sizeof(rest))
		return LAND_UNKNOWN;
	memcpy(rest, path, plen + 1);
	for (;;) {
		size_t s, e, n;
		bool last, slash;
		struct stat st;
		ssize_t ln;

		for (s = pos; rest[s] == '/'; s++)
			;
		if (!rest[s])
			break;
		for (e = s; rest[e] && rest[e] != '/'; e++)
			;
		n = e - s;
		pos = e;
		slash = rest[e] == '/';
		for (last = true; rest[e] && last; e++)
			last = rest[e] == '/';
		if (n == 1 && rest[s] == '.')
			continue;
		if (n == 2 && rest[s] == '.' && rest[s + 1] == '.') {
			while (rlen > 0 && out[--rlen] != '/')
				;
			continue;
		}
		if (rlen + 1 + n >= MAXPATHLEN)
			return LAND_UNKNOWN;
		out[rlen] = '/';
		memcpy(out + rlen + 1, rest + s, n);
		out[rlen + 1 + n] = '\0';
		if (missing || (last && !follow && !slash)) {
			rlen += 1 + n;
			continue;
		}
		if (lstat(out, &st) != 0) {
			if (errno != ENOENT)
				return LAND_REFUSED;
			missing = true;
			rlen += 1 + n;
			continue;
		}
		if (!S_ISLNK(st.st_mode)) {
			if (!last && !S_ISDIR(st.st_mode))
				return LAND_REFUSED; /* ENOTDIR */
			rlen += 1 + n;
			continue;
		}
		if (++hops > 40)
			return LAND_REFUSED; /* ELOOP */
		ln = readlink(out, link, sizeof(link) - 1);
		if (ln < 0)
			return LAND_REFUSED;
		if ((size_t)ln >= sizeof(link) - 1 ||
		    !splice(rest, sizeof(rest), pos, link, (size_t)ln))
			return LAND_UNKNOWN;
		pos = 0;
		if (link[0] == '/')
			rlen = 0;
	}
	if (rlen == 0) {
		out[0] = '/';
		rlen = 1;
	}
	out[rlen] = '\0';
	return LAND_FOUND;
}

/* PATH as the kernel gets it, absolute: relative names start at the cwd.  false: too long. */
static bool raw_absolute(const char *path, char *out)
{
	size_t len = strlen(path), cl;

	if (path[0] == '/') {
		if (len >= 2 * MAXPATHLEN)
			return false;
		memcpy(out, path, len + 1);
		return true;
	}
	if (!VCWD_GETCWD(out, MAXPATHLEN))
		return false;
	cl = strlen(out);
	if (cl + 1 + len >= 2 * MAXPATHLEN)
		return false;
	out[cl] = '/';
	memcpy(out + cl + 1, path, len + 1);
	return true;
}

static void decide(struct pfs_verdict *v, const struct policy_rule *r, const char *rel, size_t len)
{
	v->rule = r;
	v->cls = r ? r->cls : POLICY_NONE;
	memcpy(v->judged, rel, len);
	v->judged[len] = '\0';
}

/* Refuse a write whose landing place cannot be told. */
static void unknown(struct pfs_verdict *v)
{
	v->governed = v->unknown = true;
	v->allowed = false;
	v->rule = NULL;
	v->cls = POLICY_NONE;
	snprintf(v->judged, sizeof(v->judged), "%s", v->p.abs);
}

/* Redirected, a write goes to its lexical name under pressfs.mount; where the name as written
 * lands under the root (".." after a symlink taking the link's parent) must not be refused
 * either, so that the two deployments refuse the same writes.  true: refused (V says why). */
static bool raw_refused(struct pfs_verdict *v, const char *path, unsigned flags)
{
	const struct policy_rule *r;
	char raw[2 * MAXPATHLEN], real[MAXPATHLEN], xrel[MAXPATHLEN];
	long xlen;

	if (is_normal(path, strlen(path)))
		return false; /* no "..": the lexical name is where it lands */
	if (!raw_absolute(path, raw) || real_location(raw, flags & PFS_FOLLOW, real) != LAND_FOUND)
		return false; /* judged as the redirected name alone */
	xlen = rel_below(&PFS_G(root_real), real, strlen(real), xrel);
	if (xlen <= 0 ||
	    ((size_t)xlen == v->p.rel_len && memcmp(xrel, v->p.rel, v->p.rel_len) == 0))
		return false;
	if (policy_judge_write(PFS_G(policy), xrel, (size_t)xlen, &r) == 0)
		return false;
	v->governed = true;
	v->allowed = false;
	v->via_link = true;
	decide(v, r, xrel, (size_t)xlen);
	return true;
}

/* The verdict takes a write both by its name and by where it lands (through symlinks, ".."
 * resolved as the kernel does), each judged by policy_judge_write(): one refusal decides. */
void pfs_judge_write(struct pfs_verdict *v, const char *path, unsigned flags)
{
	const struct policy *pol = PFS_G(policy);
	const struct policy_rule *rl = NULL, *rx = NULL;
	char real[MAXPATHLEN], xrel[MAXPATHLEN], raw[2 * MAXPATHLEN];
	bool have_x = false, in_mount = false, ok_l = true, ok_x = true;
	enum landing land;
	long xlen = -1;

	v->governed = v->redirected = v->via_link = v->unknown = false;
	v->allowed = true;
	v->rule = NULL;
	v->cls = POLICY_NONE;
	v->judged[0] = '\0';
	v->target = path;

	if (!pfs_path_expand(&v->p, path)) {
		/* An absolute name PHP cannot expand is one the kernel refuses too.  A relative one
		 * (under a cwd deeper than MAXPATHLEN) still reaches the kernel through the calls
		 * that do not expand (unlink, rename, rmdir...): refused, since where it lands
		 * cannot be told. */
		snprintf(v->p.abs, sizeof(v->p.abs), "%s", path);
		v->p.abs_len = strlen(v->p.abs);
		if (path[0] && path[0] != '/')
			unknown(v);
		return;
	}
	if (v->p.rel_len) {
		ok_l = policy_judge_write(pol, v->p.rel, v->p.rel_len, &rl) == 0;
		if (PFS_G(mount).len && rl && policy_class_writable(rl->cls) &&
		    join(v->tbuf, &PFS_G(mount), v->p.rel, v->p.rel_len, trailing_slash(path))) {
			v->target = v->tbuf;
			v->redirected = true;
		}
	}

	if (v->redirected && raw_refused(v, path, flags))
		return;
	/* what the operation is given: the redirected name, or the name as written (PHP's
	 * expansion and the kernel both resolve it physically) */
	if (v->redirected)
		land = real_location(v->tbuf, flags & PFS_FOLLOW, real);
	else
		land = raw_absolute(path, raw) ? real_location(raw, flags & PFS_FOLLOW, real)
					       : LAND_UNKNOWN;
	if (land == LAND_UNKNOWN) {
		unknown(v);
		return;
	}
	if (land == LAND_FOUND) {
		/* the mount first: it may lie inside the root */
		xlen = rel_below(&PFS_G(mount_real), real, strlen(real), xrel);
		in_mount = xlen > 0;
		if (xlen < 0)
			xlen = rel_below(&PFS_G(root_real), real, strlen(real), xrel);
	}
	if (xlen > 0 &&
	    ((size_t)xlen != v->p.rel_len || memcmp(xrel, v->p.rel, (size_t)xlen) != 0)) {
		have_x = true;
		ok_x = policy_judge_write(pol, xrel, (size_t)xlen, &rx) == 0;
		if (!v->p.rel_len && !in_mount && PFS_G(mount).len && rx &&
		    policy_class_writable(rx->cls) &&
		    join(v->tbuf, &PFS_G(mount), xrel, (size_t)xlen, trailing_slash(path))) {
			/* named outside the root, lands inside it: send it where the root's
			 * writes go */
			v->target = v->tbuf;
			v->redirected = true;
		}
	}

	v->governed = v->p.rel_len || have_x;
	if (!v->governed)
		return;
	v->allowed = ok_l && ok_x;
	if (!ok_l || (ok_x && v->p.rel_len)) {
		decide(v, rl, v->p.rel, v->p.rel_len);
	} else {
		decide(v, rx, xrel, (size_t)xlen);
		v->via_link = true;
	}
}

void pfs_judge_mkdir_p(struct pfs_verdict *v, const char *path)
{
	const struct policy *pol = PFS_G(policy);
	const char *rel;
	size_t end;

	pfs_judge_write(v, path, 0);
	if (!v->governed || !v->allowed || !v->p.rel_len)
		return;
	/* the missing ancestors, top down: each is a directory the call creates */
	rel = v->p.rel;
	for (end = 1; end < v->p.rel_len; end++) {
		const struct policy_rule *r;
		char where[MAXPATHLEN];
		struct stat st;

		if (rel[end] != '/')
			continue;
		if (!join(where, v->redirected ? &PFS_G(mount) : &PFS_G(root), rel, end, false))
			return;
		if (stat(where, &st) == 0)
			continue;
		if (policy_judge_write(pol, rel, end, &r) != 0) {
			v->allowed = false;
			v->via_link = false;
			decide(v, r, rel, end);
			return;
		}
	}
}
