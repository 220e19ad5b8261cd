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

/* Where a write to ABS (absolute, normalised) lands: the symlinks among its existing ancestors
 * resolved, and in its last name too when FOLLOW, dangling ones included, since open(O_CREAT)
 * follows those and creates their target.  OUT (MAXPATHLEN) gets an absolute path.  false when
 * it cannot be told (a loop, no permission): the kernel will then refuse the write as well. */
static bool real_location(const char *abs, bool follow, char *out)
{
	char cur[MAXPATHLEN], link[MAXPATHLEN], res[PATH_MAX];
	size_t len = strlen(abs), cut;
	int hops;

	memcpy(cur, abs, len + 1);
	for (hops = 0; follow; hops++) {
		struct stat st;
		ssize_t n;
		long m;

		if (hops == 40 || lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode))
			break;
		n = readlink(cur, link, sizeof(link) - 1);
		if (n <= 0)
			return false;
		link[n] = '\0';
		if (link[0] != '/') {
			/* relative to the link's directory */
			char *slash = strrchr(cur, '/');
			size_t dlen = (size_t)(slash - cur);

			if (dlen + 1 + (size_t)n + 1 > sizeof(link))
				return false;
			memmove(link + dlen + 1, link, (size_t)n + 1);
			memcpy(link, cur, dlen);
			link[dlen] = '/';
			n += (ssize_t)dlen + 1;
		}
		m = path_normalize(link, (size_t)n, cur, sizeof(cur));
		if (m <= 0)
			return false;
		len = (size_t)m;
	}
	if (hops == 40)
		return false;

	/* resolve the deepest existing ancestor (CUR itself when following) */
	cut = follow ? len : (size_t)(strrchr(cur, '/') - cur);
	for (;;) {
		char save = cur[cut];
		const char *dir = cut ? cur : "/";
		bool ok;

		cur[cut] = '\0';
		ok = realpath(dir, res) != NULL;
		cur[cut] = save;
		if (ok) {
			size_t rlen = strlen(res), rest = len - cut;

			if (rlen == 1)
				rlen = 0; /* "/" + "/name" */
			if (rlen + rest + 1 > MAXPATHLEN)
				return false;
			memcpy(out, res, rlen);
			memcpy(out + rlen, cur + cut, rest + 1);
			if (!out[0])
				strcpy(out, "/");
			return true;
		}
		if (errno != ENOENT || cut == 0)
			return false;
		while (cut > 0 && cur[--cut] != '/')
			;
	}
}

static void decide(struct pfs_verdict *v, const struct policy_rule *r, const char *rel, size_t len)
{
	v->rule = r;
	v->cls = r ? r->cls : POLICY_NONE;
	memcpy(v->judged, rel, len);
	v->judged[len] = '\0';
}

void pfs_judge_write(struct pfs_verdict *v, const char *path, unsigned flags)
{
	const struct policy *pol = PFS_G(policy);
	const struct policy_rule *rl = NULL, *rx = NULL;
	char real[MAXPATHLEN], xrel[MAXPATHLEN];
	bool have_x = false, in_mount = false, ok_l, ok_x;
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
		if (path[0] && path[0] != '/') {
			v->governed = v->unknown = true;
			v->allowed = false;
			snprintf(v->judged, sizeof(v->judged), "%s", v->p.abs);
		}
		return;
	}
	if (v->p.rel_len) {
		rl = policy_match(pol, v->p.rel, v->p.rel_len);
		if (PFS_G(mount).len && rl && policy_class_writable(rl->cls) &&
		    join(v->tbuf, &PFS_G(mount), v->p.rel, v->p.rel_len, trailing_slash(path))) {
			v->target = v->tbuf;
			v->redirected = true;
		}
	}

	if (real_location(v->redirected ? v->tbuf : v->p.abs, flags & PFS_FOLLOW, real)) {
		/* the mount first: it may lie inside the root */
		xlen = rel_below(&PFS_G(mount_real), real, strlen(real), xrel);
		in_mount = xlen > 0;
		if (xlen < 0)
			xlen = rel_below(&PFS_G(root_real), real, strlen(real), xrel);
	}
	if (xlen > 0 &&
	    ((size_t)xlen != v->p.rel_len || memcmp(xrel, v->p.rel, (size_t)xlen) != 0)) {
		have_x = true;
		rx = policy_match(pol, xrel, (size_t)xlen);
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
	ok_l = !v->p.rel_len || (rl && policy_class_writable(rl->cls));
	ok_x = !have_x || (rx && policy_class_writable(rx->cls));
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
		r = policy_match(pol, rel, end);
		if (!r || !policy_class_writable(r->cls)) {
			v->allowed = false;
			v->via_link = false;
			decide(v, r, rel, end);
			return;
		}
	}
}
