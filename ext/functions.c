/* functions.c - PHP functions that touch files without the stream wrapper (access checks,
 * chmod and friends, move_uploaded_file, glob, realpath, tempnam, links, disk space, SplFileInfo's
 * access checks): their handlers are saved, replaced by ones that judge or route the path, and
 * restored at shutdown. */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "php.h"
#include "SAPI.h"
#include "zend_interfaces.h"
#include "ext/standard/php_filestat.h"

#include "busy.h"
#include "php_pressfs.h"
#include "record.h"
#include "route.h"

#define MSG_SIZE (3 * MAXPATHLEN)

enum hook_id {
	H_FILE_EXISTS,
	H_IS_READABLE,
	H_IS_EXECUTABLE,
	H_IS_WRITABLE,
	H_IS_WRITEABLE,
	H_TOUCH,
	H_CHMOD,
	H_CHOWN,
	H_CHGRP,
	H_LCHOWN,
	H_LCHGRP,
	H_MOVE_UPLOADED_FILE,
	H_GLOB,
	H_REALPATH,
	H_TEMPNAM,
	H_SYMLINK,
	H_LINK,
	H_READLINK,
	H_LINKINFO,
	H_DISK_FREE_SPACE,
	H_DISKFREESPACE,
	H_DISK_TOTAL_SPACE,
	H_COUNT
};

struct hook {
	const char *name;
	zif_handler mine;
	zif_handler orig; /* NULL when the function is not there (or not hooked yet) */
	zend_internal_function *fn;
};

static struct hook hooks[H_COUNT];

#define ORIG(id) hooks[id].orig(INTERNAL_FUNCTION_PARAM_PASSTHRU)

static bool idle(void)
{
	return !PFS_G(active) || pfs_nested();
}

/* ---- arguments ---- */

/* The plain path S names ("file://" stripped), or NULL for another wrapper's URL. */
static const char *plain_path(const char *s)
{
	const char *p = s;

	while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
		p++;
	if (*p == ':' && p - s > 1) {
		if (p[1] == '/' && p[2] == '/')
			return p - s == 4 && strncasecmp(s, "file", 4) == 0 ? p + 3 : NULL;
		if (p - s == 4 && strncasecmp(s, "data", 4) == 0)
			return NULL;
	}
	return s;
}

/* Argument N as a plain path, or NULL when it is missing, not a string, holds a NUL byte or
 * names another wrapper: the original then runs untouched (and complains as it should). */
static const char *path_arg(zend_execute_data *execute_data, uint32_t n)
{
	zval *arg;

	if (ZEND_CALL_NUM_ARGS(execute_data) < n)
		return NULL;
	arg = ZEND_CALL_ARG(execute_data, n);
	if (Z_TYPE_P(arg) != IS_STRING || !Z_STRLEN_P(arg) ||
	    strlen(Z_STRVAL_P(arg)) != Z_STRLEN_P(arg))
		return NULL;
	return plain_path(Z_STRVAL_P(arg));
}

/* For writes: argument N made a string the way the function's own parameter parsing would make
 * it (a Stringable object; a number unless strict_types), in place, so that the path judged is
 * the path used.  NULL: not a plain path (or the conversion threw): leave it to the original. */
static const char *write_path_arg(zend_execute_data *execute_data, uint32_t n)
{
	zval *arg;

	if (ZEND_CALL_NUM_ARGS(execute_data) < n)
		return NULL;
	arg = ZEND_CALL_ARG(execute_data, n);
	if ((Z_TYPE_P(arg) == IS_OBJECT && Z_OBJCE_P(arg)->__tostring) ||
	    ((Z_TYPE_P(arg) == IS_LONG || Z_TYPE_P(arg) == IS_DOUBLE) &&
	     !ZEND_ARG_USES_STRICT_TYPES())) {
		zend_string *str = zval_try_get_string(arg);

		if (!str)
			return NULL;
		zval_ptr_dtor(arg);
		ZVAL_STR(arg, str);
	}
	return path_arg(execute_data, n);
}

/* Run the original with argument N replaced by S (and M by T when M is not 0), then put the
 * script's arguments back.  Returns the errno that explains a failure (pfs_busy_leave()). */
static int call_with(INTERNAL_FUNCTION_PARAMETERS, enum hook_id id, uint32_t n, const char *s,
		     uint32_t m, const char *t)
{
	zval *a = ZEND_CALL_ARG(execute_data, n), *b = m ? ZEND_CALL_ARG(execute_data, m) : NULL;
	zval saved_a, saved_b;
	struct pfs_busy saved;
	int err;

	ZVAL_COPY_VALUE(&saved_a, a);
	ZVAL_STRING(a, s);
	if (b) {
		ZVAL_COPY_VALUE(&saved_b, b);
		ZVAL_STRING(b, t);
	}
	pfs_busy_enter(&saved);
	ORIG(id);
	err = pfs_busy_leave(&saved);
	zval_ptr_dtor(a);
	ZVAL_COPY_VALUE(a, &saved_a);
	if (b) {
		zval_ptr_dtor(b);
		ZVAL_COPY_VALUE(b, &saved_b);
	}
	return err;
}

static int call_orig(INTERNAL_FUNCTION_PARAMETERS, enum hook_id id)
{
	struct pfs_busy saved;

	pfs_busy_enter(&saved);
	ORIG(id);
	return pfs_busy_leave(&saved);
}

/* What a write function's original did, for pfs_write_done(): 0 when it returned anything but
 * false (and threw nothing), else the errno of its failure. */
static int outcome(zval *return_value, int err)
{
	if (Z_TYPE_P(return_value) != IS_FALSE && !EG(exception))
		return 0;
	return PFS_FAILED(err);
}

/* ---- reads: routed to pressfs.mount or pressfs.lower ---- */

static void read_routed(INTERNAL_FUNCTION_PARAMETERS, enum hook_id id, bool mount_only)
{
	struct pfs_path p;
	char where[MAXPATHLEN];
	const char *path;
	enum pfs_where w;

	if (idle() || !PFS_G(route_reads) || !(path = path_arg(execute_data, 1))) {
		ORIG(id);
		return;
	}
	w = pfs_route_read(path, false, &p, where);
	if (w == PFS_NATIVE || (mount_only && w != PFS_MOUNT)) {
		ORIG(id);
		return;
	}
	call_with(INTERNAL_FUNCTION_PARAM_PASSTHRU, id, 1, where, 0, NULL);
}

#define READ_HOOK(fn, id, mount_only)                                                              \
	static ZEND_FUNCTION(fn)                                                                   \
	{                                                                                          \
		read_routed(INTERNAL_FUNCTION_PARAM_PASSTHRU, id, mount_only);                     \
	}

READ_HOOK(pfs_file_exists, H_FILE_EXISTS, false)
READ_HOOK(pfs_is_readable, H_IS_READABLE, false)
READ_HOOK(pfs_is_executable, H_IS_EXECUTABLE, false)
READ_HOOK(pfs_readlink, H_READLINK, false)
READ_HOOK(pfs_linkinfo, H_LINKINFO, false)
/* the lower tree's file system says nothing about the mount's free space */
READ_HOOK(pfs_disk_free_space, H_DISK_FREE_SPACE, true)
READ_HOOK(pfs_diskfreespace, H_DISKFREESPACE, true)
READ_HOOK(pfs_disk_total_space, H_DISK_TOTAL_SPACE, true)

/* realpath() of a redirected path resolves it in the mount, that of a path no rule can change in
 * the lower tree (WordPress asks it of every block stylesheet, most of which do not exist, and
 * PHP's realpath cache keeps no failures: each would be a walk through FUSE), and answers with
 * the root's name. */
static ZEND_FUNCTION(pfs_realpath)
{
	struct pfs_path p;
	char where[MAXPATHLEN], back[MAXPATHLEN];
	const char *path;
	size_t n;

	if (idle() || !PFS_G(route_reads) || !(path = path_arg(execute_data, 1)) ||
	    pfs_route_read(path, false, &p, where) == PFS_NATIVE) {
		ORIG(H_REALPATH);
		return;
	}
	call_with(INTERNAL_FUNCTION_PARAM_PASSTHRU, H_REALPATH, 1, where, 0, NULL);
	if (Z_TYPE_P(return_value) == IS_STRING &&
	    (n = pfs_unroute(Z_STRVAL_P(return_value), Z_STRLEN_P(return_value), back,
			     sizeof(back))) != 0) {
		zval_ptr_dtor(return_value);
		RETVAL_STRINGL(back, n);
	}
}

/* glob() of a directory served elsewhere runs there; the names come back as the script wrote
 * the pattern. */
static ZEND_FUNCTION(pfs_glob)
{
	struct pfs_path p;
	char where[MAXPATHLEN], pattern[MAXPATHLEN + 2], dir[MAXPATHLEN];
	const char *pat, *wild, *slash;
	size_t dlen, wlen;
	zval *entry;

	if (idle() || !PFS_G(route_reads) || !(pat = path_arg(execute_data, 1))) {
		ORIG(H_GLOB);
		return;
	}
	/* the literal directory the pattern starts with */
	wild = strpbrk(pat, "*?[{\\");
	if (!wild)
		wild = pat + strlen(pat);
	for (slash = wild; slash > pat && slash[-1] != '/'; slash--)
		;
	dlen = (size_t)(slash - pat);
	if (dlen == 0 || dlen >= sizeof(dir)) {
		ORIG(H_GLOB);
		return;
	}
	memcpy(dir, pat, dlen);
	dir[dlen] = '\0';
	if (pfs_route_read(dir, true, &p, where) == PFS_NATIVE) {
		ORIG(H_GLOB);
		return;
	}
	wlen = strlen(where);
	if (snprintf(pattern, sizeof(pattern), "%s/%s", where, pat + dlen) >=
	    (int)sizeof(pattern)) {
		ORIG(H_GLOB);
		return;
	}
	call_with(INTERNAL_FUNCTION_PARAM_PASSTHRU, H_GLOB, 1, pattern, 0, NULL);
	if (Z_TYPE_P(return_value) != IS_ARRAY)
		return;
	ZEND_HASH_FOREACH_VAL(Z_ARRVAL_P(return_value), entry)
	{
		zend_string *name;

		if (Z_TYPE_P(entry) != IS_STRING || Z_STRLEN_P(entry) <= wlen ||
		    memcmp(Z_STRVAL_P(entry), where, wlen) != 0 || Z_STRVAL_P(entry)[wlen] != '/')
			continue;
		name = zend_string_concat2(dir, dlen, Z_STRVAL_P(entry) + wlen + 1,
					   Z_STRLEN_P(entry) - wlen - 1);
		zval_ptr_dtor(entry);
		ZVAL_STR(entry, name);
	}
	ZEND_HASH_FOREACH_END();
}

/* ---- is_writable: false where the policy refuses writes ---- */

/* Whether the policy lets some name be created below directory REL (LEN bytes, below the
 * root): the one core test the overlay also makes before it keeps a lower directory's write
 * bits (not N_STATIC_BELOW), so that both give one answer. */
static bool dir_takes_names(const char *rel, size_t len)
{
	return policy_tree_may_change(PFS_G(policy), rel, len);
}

enum access_answer {
	ACCESS_FALSE, /* the policy refuses: false, whatever the mode bits say */
	ACCESS_ORIG,  /* ask the file system about the path as named */
	ACCESS_WHERE, /* ask it about WHERE (under pressfs.mount) */
};

/* How to answer "is PATH writable?" after V judged a write to it.  A refused name that is a
 * directory in which the policy lets something be created is writable, as on the overlay: the
 * question WordPress asks of "/" before it creates .htaccess, and WP Super Cache of wp-content
 * before wp-cache-config.php.  Where it then lands (its own name, and through a symlink) must
 * take names too.  WHERE has MAXPATHLEN bytes. */
static enum access_answer writable_answer(const struct pfs_verdict *v, char *where)
{
	struct pfs_path landed;
	char real[MAXPATHLEN];
	struct stat st;

	if (v->governed && !v->allowed && PFS_G(mode) == PFS_MODE_ENFORCE) {
		if (v->unknown || !v->p.rel_len || stat(v->p.abs, &st) != 0 ||
		    !S_ISDIR(st.st_mode) || !dir_takes_names(v->p.rel, v->p.rel_len))
			return ACCESS_FALSE;
		if (v->via_link && !dir_takes_names(v->judged, strlen(v->judged)))
			return ACCESS_FALSE;
		if (realpath(v->p.abs, real) && pfs_path_expand(&landed, real) && landed.rel_len &&
		    !dir_takes_names(landed.rel, landed.rel_len))
			return ACCESS_FALSE;
		if (!PFS_G(mount).len)
			return ACCESS_ORIG;
		/* redirected, names created here go to the mount: ask it */
		if ((size_t)snprintf(where, MAXPATHLEN, "%s%s", PFS_G(mount).s,
				     v->p.rel_len == 1 ? "" : v->p.rel) >= MAXPATHLEN)
			return ACCESS_FALSE;
		return ACCESS_WHERE;
	}
	if (!v->redirected)
		return ACCESS_ORIG;
	snprintf(where, MAXPATHLEN, "%s", v->target);
	return ACCESS_WHERE;
}

static void is_writable_impl(INTERNAL_FUNCTION_PARAMETERS, enum hook_id id)
{
	struct pfs_verdict v;
	char where[MAXPATHLEN];
	const char *path;

	if (idle() || !(path = path_arg(execute_data, 1))) {
		ORIG(id);
		return;
	}
	pfs_judge_write(&v, path, PFS_FOLLOW);
	switch (writable_answer(&v, where)) {
	case ACCESS_FALSE:
		pfs_record_answer(&v, hooks[id].name);
		RETURN_FALSE;
	case ACCESS_WHERE:
		call_with(INTERNAL_FUNCTION_PARAM_PASSTHRU, id, 1, where, 0, NULL);
		return;
	case ACCESS_ORIG:
		ORIG(id);
		return;
	}
}

static ZEND_FUNCTION(pfs_is_writable)
{
	is_writable_impl(INTERNAL_FUNCTION_PARAM_PASSTHRU, H_IS_WRITABLE);
}

static ZEND_FUNCTION(pfs_is_writeable)
{
	is_writable_impl(INTERNAL_FUNCTION_PARAM_PASSTHRU, H_IS_WRITEABLE);
}

/* ---- SplFileInfo::isWritable(), isReadable(), isExecutable() ---- */

/* These check the object's path with access() like is_writable() does, so they get the same
 * answers; every internal subclass (SplFileObject, DirectoryIterator...) has its own copy of
 * the method, hence one entry per class. */
struct method_hook {
	zend_internal_function *fn;
	zif_handler orig;
	int how; /* W_OK, R_OK or X_OK */
};
static struct method_hook *methods;
static size_t nmethods;

static ZEND_FUNCTION(pfs_spl_access)
{
	struct method_hook *m = NULL;
	struct pfs_path p;
	char where[MAXPATHLEN];
	const char *path;
	zval name;

	for (size_t i = 0; i < nmethods && !m; i++)
		if (methods[i].fn == &execute_data->func->internal_function)
			m = &methods[i];
	/* a script's subclass copied the method after we hooked it: same name, same original */
	for (size_t i = 0; i < nmethods && !m; i++)
		if (zend_string_equals_ci(methods[i].fn->function_name,
					  execute_data->func->common.function_name))
			m = &methods[i];
	if (!m)
		return; /* cannot happen: only installed from the table */
	if (idle() || ZEND_NUM_ARGS() != 0 || Z_TYPE_P(ZEND_THIS) != IS_OBJECT) {
		m->orig(INTERNAL_FUNCTION_PARAM_PASSTHRU);
		return;
	}
	ZVAL_UNDEF(&name);
	zend_call_method_with_0_params(Z_OBJ_P(ZEND_THIS), Z_OBJCE_P(ZEND_THIS), NULL,
				       "getpathname", &name);
	if (EG(exception)) {
		zval_ptr_dtor(&name);
		return;
	}
	if (Z_TYPE(name) != IS_STRING || !Z_STRLEN(name) ||
	    strlen(Z_STRVAL(name)) != Z_STRLEN(name) || !(path = plain_path(Z_STRVAL(name)))) {
		zval_ptr_dtor(&name);
		m->orig(INTERNAL_FUNCTION_PARAM_PASSTHRU);
		return;
	}
	if (m->how == W_OK) {
		struct pfs_verdict *v = emalloc(sizeof(*v));

		pfs_judge_write(v, path, PFS_FOLLOW);
		switch (writable_answer(v, where)) {
		case ACCESS_FALSE:
			pfs_record_answer(v, "SplFileInfo::isWritable");
			RETVAL_FALSE;
			break;
		case ACCESS_WHERE:
			RETVAL_BOOL(VCWD_ACCESS(where, W_OK) == 0);
			break;
		case ACCESS_ORIG:
			m->orig(INTERNAL_FUNCTION_PARAM_PASSTHRU);
			break;
		}
		efree(v);
	} else if (PFS_G(route_reads) && pfs_route_read(path, false, &p, where) != PFS_NATIVE) {
		RETVAL_BOOL(VCWD_ACCESS(where, m->how) == 0);
	} else {
		m->orig(INTERNAL_FUNCTION_PARAM_PASSTHRU);
	}
	zval_ptr_dtor(&name);
}

static void spl_install(void)
{
	static const struct {
		const char *name;
		int how;
	} which[] = {{"iswritable", W_OK}, {"isreadable", R_OK}, {"isexecutable", X_OK}};
	zend_class_entry *base =
	    zend_hash_str_find_ptr(CG(class_table), "splfileinfo", sizeof("splfileinfo") - 1);
	zend_class_entry *ce;

	if (!base)
		return;
	ZEND_HASH_FOREACH_PTR(CG(class_table), ce)
	{
		if (ce->type != ZEND_INTERNAL_CLASS || !instanceof_function(ce, base))
			continue;
		for (size_t i = 0; i < sizeof(which) / sizeof(which[0]); i++) {
			zend_function *fn = zend_hash_str_find_ptr(
			    &ce->function_table, which[i].name, strlen(which[i].name));
			struct method_hook *more;

			if (!fn || fn->type != ZEND_INTERNAL_FUNCTION ||
			    fn->internal_function.handler == ZEND_FN(pfs_spl_access))
				continue;
			more = realloc(methods, (nmethods + 1) * sizeof(*methods));
			if (!more)
				return;
			methods = more;
			methods[nmethods].fn = &fn->internal_function;
			methods[nmethods].orig = fn->internal_function.handler;
			methods[nmethods].how = which[i].how;
			nmethods++;
			fn->internal_function.handler = ZEND_FN(pfs_spl_access);
		}
	}
	ZEND_HASH_FOREACH_END();
}

static void spl_uninstall(void)
{
	for (size_t i = 0; i < nmethods; i++)
		if (methods[i].fn->handler == ZEND_FN(pfs_spl_access))
			methods[i].fn->handler = methods[i].orig;
	free(methods);
	methods = NULL;
	nmethods = 0;
}

/* ---- writes ---- */

/* Judge argument N as a write of OP and run the original accordingly.  Returns true when the
 * original ran, with V describing the write. */
static bool write_hooked(INTERNAL_FUNCTION_PARAMETERS, enum hook_id id, const char *op, uint32_t n,
			 unsigned flags, struct pfs_verdict *v)
{
	char msg[MSG_SIZE];
	const char *path;
	int err;

	if (idle() || !(path = write_path_arg(execute_data, n))) {
		if (!EG(exception))
			ORIG(id);
		return false;
	}
	pfs_judge_write(v, path, flags);
	switch (pfs_write_begin(v, op, msg, sizeof(msg))) {
	case PFS_GO_AS_IS:
		call_orig(INTERNAL_FUNCTION_PARAM_PASSTHRU, id);
		return false;
	case PFS_GO_REFUSE:
		php_error_docref1(NULL, v->p.abs, E_WARNING, "%s", msg);
		RETVAL_FALSE;
		return false;
	case PFS_GO_TARGET:
		break;
	}
	if (v->target != path)
		err = call_with(INTERNAL_FUNCTION_PARAM_PASSTHRU, id, n, v->target, 0, NULL);
	else
		err = call_orig(INTERNAL_FUNCTION_PARAM_PASSTHRU, id);
	pfs_write_done(v, op, NULL, -1, outcome(return_value, err));
	return true;
}

#define WRITE_HOOK(fn, id, op, n, flags)                                                           \
	static ZEND_FUNCTION(fn)                                                                   \
	{                                                                                          \
		struct pfs_verdict v;                                                              \
		write_hooked(INTERNAL_FUNCTION_PARAM_PASSTHRU, id, op, n, flags, &v);              \
	}

WRITE_HOOK(pfs_touch, H_TOUCH, "touch", 1, PFS_FOLLOW)
WRITE_HOOK(pfs_chmod, H_CHMOD, "chmod", 1, PFS_FOLLOW)
WRITE_HOOK(pfs_chown, H_CHOWN, "chown", 1, PFS_FOLLOW)
WRITE_HOOK(pfs_chgrp, H_CHGRP, "chgrp", 1, PFS_FOLLOW)
WRITE_HOOK(pfs_lchown, H_LCHOWN, "lchown", 1, 0)
WRITE_HOOK(pfs_lchgrp, H_LCHGRP, "lchgrp", 1, 0)
WRITE_HOOK(pfs_symlink, H_SYMLINK, "symlink", 2, 0)

/* link(): the new name is a write, and so is the target, which becomes writable through it. */
static ZEND_FUNCTION(pfs_link)
{
	struct pfs_verdict *t, *l;
	char msg[MSG_SIZE];
	const char *target, *link;
	enum pfs_go gt, gl;

	if (idle() || !(target = write_path_arg(execute_data, 1)) ||
	    !(link = write_path_arg(execute_data, 2))) {
		if (!EG(exception))
			ORIG(H_LINK);
		return;
	}
	t = emalloc(sizeof(*t));
	l = emalloc(sizeof(*l));
	pfs_judge_write(t, target, PFS_FOLLOW);
	pfs_judge_write(l, link, 0);
	gl = pfs_write_begin(l, "link", msg, sizeof(msg));
	gt = gl == PFS_GO_REFUSE || (t->governed && t->allowed)
		 ? PFS_GO_AS_IS
		 : pfs_write_begin(t, "link-target", msg, sizeof(msg));
	if (gl == PFS_GO_REFUSE || gt == PFS_GO_REFUSE) {
		php_error_docref1(NULL, link, E_WARNING, "%s", msg);
		RETVAL_FALSE;
	} else if (gl == PFS_GO_AS_IS && !t->redirected) {
		call_orig(INTERNAL_FUNCTION_PARAM_PASSTHRU, H_LINK);
	} else {
		int err = call_with(INTERNAL_FUNCTION_PARAM_PASSTHRU, H_LINK, 1,
				    t->redirected ? t->target : target, 2, l->target);

		pfs_write_done(l, "link", t->p.abs, -1, outcome(return_value, err));
	}
	efree(t);
	efree(l);
}

/* move_uploaded_file(): only a real upload moves; its destination is judged like any write. */
static ZEND_FUNCTION(pfs_move_uploaded_file)
{
	struct pfs_verdict v;
	char msg[MSG_SIZE];
	const char *from, *to;
	zval *zfrom;
	struct stat st;
	long long bytes = -1;
	int err;

	if (idle() || !(from = path_arg(execute_data, 1)) ||
	    !(to = write_path_arg(execute_data, 2))) {
		if (!EG(exception))
			ORIG(H_MOVE_UPLOADED_FILE);
		return;
	}
	zfrom = ZEND_CALL_ARG(execute_data, 1);
	if (!SG(rfc1867_uploaded_files) ||
	    !zend_hash_exists(SG(rfc1867_uploaded_files), Z_STR_P(zfrom))) {
		ORIG(H_MOVE_UPLOADED_FILE); /* false, quietly, as for any non-upload */
		return;
	}
	if (stat(from, &st) == 0)
		bytes = st.st_size;
	pfs_judge_write(&v, to, PFS_FOLLOW);
	switch (pfs_write_begin(&v, "move_uploaded_file", msg, sizeof(msg))) {
	case PFS_GO_AS_IS:
		call_orig(INTERNAL_FUNCTION_PARAM_PASSTHRU, H_MOVE_UPLOADED_FILE);
		return;
	case PFS_GO_REFUSE:
		php_error_docref1(NULL, v.p.abs, E_WARNING, "%s", msg);
		RETURN_FALSE;
	case PFS_GO_TARGET:
		break;
	}
	if (v.target != to)
		err = call_with(INTERNAL_FUNCTION_PARAM_PASSTHRU, H_MOVE_UPLOADED_FILE, 2, v.target,
				0, NULL);
	else
		err = call_orig(INTERNAL_FUNCTION_PARAM_PASSTHRU, H_MOVE_UPLOADED_FILE);
	pfs_write_done(&v, "move_uploaded_file", from, bytes, outcome(return_value, err));
}

/* Whether tempnam() made its file (the name in RV) in DIR: when DIR cannot take it, PHP makes
 * it in the system's temp dir instead, with a notice. */
static bool made_in(const zval *rv, const char *dir)
{
	char parent[MAXPATHLEN];
	const char *slash;
	struct stat a, b;

	if (Z_TYPE_P(rv) != IS_STRING || !(slash = strrchr(Z_STRVAL_P(rv), '/')) ||
	    (size_t)(slash - Z_STRVAL_P(rv)) >= sizeof(parent))
		return false;
	memcpy(parent, Z_STRVAL_P(rv), (size_t)(slash - Z_STRVAL_P(rv)));
	parent[slash - Z_STRVAL_P(rv)] = '\0';
	return stat(parent[0] ? parent : "/", &a) == 0 && stat(dir, &b) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* PATH with its last name replaced by BASE, in place (PATH is MAXPATHLEN bytes); *LEN follows
 * when not NULL.  Left alone when the result would not fit. */
static void set_base(char *path, size_t *len, const char *base)
{
	char *slash = strrchr(path, '/');
	size_t dir = slash ? (size_t)(slash - path) + 1 : 0, n = strlen(base);

	if (dir + n >= MAXPATHLEN)
		return;
	memcpy(path + dir, base, n + 1);
	if (len)
		*len = dir + n;
}

/* V, judged as tempnam()'s template, renamed after the file it made (MADE, in the template's
 * directory): the audit names the file that now exists, which a later rename or unlink names. */
static void name_made(struct pfs_verdict *v, const char *made)
{
	const char *base = strrchr(made, '/');

	base = base ? base + 1 : made;
	set_base(v->p.abs, &v->p.abs_len, base);
	if (v->p.rel_len)
		set_base(v->p.rel, &v->p.rel_len, base);
	set_base(v->judged, NULL, base);
	if (v->redirected)
		set_base(v->tbuf, NULL, base);
}

/* tempnam(): a new file in the directory; judged as DIR/PREFIXXXXXXX would be. */
static ZEND_FUNCTION(pfs_tempnam)
{
	struct pfs_verdict v;
	char msg[MSG_SIZE], probe[MAXPATHLEN], dir[MAXPATHLEN];
	const char *path, *prefix = "", *base;
	size_t dlen;
	bool made;
	int err;

	if (idle() || !(path = write_path_arg(execute_data, 1))) {
		if (!EG(exception))
			ORIG(H_TEMPNAM);
		return;
	}
	if (ZEND_CALL_NUM_ARGS(execute_data) >= 2 &&
	    Z_TYPE_P(ZEND_CALL_ARG(execute_data, 2)) == IS_STRING)
		prefix = Z_STRVAL_P(ZEND_CALL_ARG(execute_data, 2));
	base = strrchr(prefix, '/');
	base = base ? base + 1 : prefix;
	if (snprintf(probe, sizeof(probe), "%s/%.63sXXXXXX", path, base) >= (int)sizeof(probe)) {
		ORIG(H_TEMPNAM);
		return;
	}
	pfs_judge_write(&v, probe, 0);
	switch (pfs_write_begin(&v, "tempnam", msg, sizeof(msg))) {
	case PFS_GO_AS_IS:
		call_orig(INTERNAL_FUNCTION_PARAM_PASSTHRU, H_TEMPNAM);
		return;
	case PFS_GO_REFUSE:
		php_error_docref1(NULL, path, E_WARNING, "%s", msg);
		RETURN_FALSE;
	case PFS_GO_TARGET:
		break;
	}
	if (!v.redirected) {
		err = call_orig(INTERNAL_FUNCTION_PARAM_PASSTHRU, H_TEMPNAM);
		made = made_in(return_value, path);
	} else {
		/* the directory under the mount; the name comes back under the root */
		dlen = (size_t)(strrchr(v.target, '/') - v.target);
		memcpy(dir, v.target, dlen);
		dir[dlen] = '\0';
		err = call_with(INTERNAL_FUNCTION_PARAM_PASSTHRU, H_TEMPNAM, 1, dir, 0, NULL);
		made = made_in(return_value, dir);
		if (made && Z_STRLEN_P(return_value) > dlen &&
		    memcmp(Z_STRVAL_P(return_value), dir, dlen) == 0 &&
		    Z_STRVAL_P(return_value)[dlen] == '/') {
			zend_string *name =
			    zend_string_concat2(path, strlen(path), Z_STRVAL_P(return_value) + dlen,
						Z_STRLEN_P(return_value) - dlen);

			zval_ptr_dtor(return_value);
			RETVAL_STR(name);
		}
	}
	if (made)
		name_made(&v, Z_STRVAL_P(return_value));
	pfs_write_done(&v, "tempnam", NULL, 0, made ? 0 : PFS_FAILED(err));
}

/* ---- installing ---- */

static void def(enum hook_id id, const char *name, zif_handler mine)
{
	hooks[id].name = name;
	hooks[id].mine = mine;
}

void pfs_functions_install(void)
{
	def(H_FILE_EXISTS, "file_exists", ZEND_FN(pfs_file_exists));
	def(H_IS_READABLE, "is_readable", ZEND_FN(pfs_is_readable));
	def(H_IS_EXECUTABLE, "is_executable", ZEND_FN(pfs_is_executable));
	def(H_IS_WRITABLE, "is_writable", ZEND_FN(pfs_is_writable));
	def(H_IS_WRITEABLE, "is_writeable", ZEND_FN(pfs_is_writeable));
	def(H_TOUCH, "touch", ZEND_FN(pfs_touch));
	def(H_CHMOD, "chmod", ZEND_FN(pfs_chmod));
	def(H_CHOWN, "chown", ZEND_FN(pfs_chown));
	def(H_CHGRP, "chgrp", ZEND_FN(pfs_chgrp));
	def(H_LCHOWN, "lchown", ZEND_FN(pfs_lchown));
	def(H_LCHGRP, "lchgrp", ZEND_FN(pfs_lchgrp));
	def(H_MOVE_UPLOADED_FILE, "move_uploaded_file", ZEND_FN(pfs_move_uploaded_file));
	def(H_GLOB, "glob", ZEND_FN(pfs_glob));
	def(H_REALPATH, "realpath", ZEND_FN(pfs_realpath));
	def(H_TEMPNAM, "tempnam", ZEND_FN(pfs_tempnam));
	def(H_SYMLINK, "symlink", ZEND_FN(pfs_symlink));
	def(H_LINK, "link", ZEND_FN(pfs_link));
	def(H_READLINK, "readlink", ZEND_FN(pfs_readlink));
	def(H_LINKINFO, "linkinfo", ZEND_FN(pfs_linkinfo));
	def(H_DISK_FREE_SPACE, "disk_free_space", ZEND_FN(pfs_disk_free_space));
	def(H_DISKFREESPACE, "diskfreespace", ZEND_FN(pfs_diskfreespace));
	def(H_DISK_TOTAL_SPACE, "disk_total_space", ZEND_FN(pfs_disk_total_space));

	for (int i = 0; i < H_COUNT; i++) {
		zend_function *fn = zend_hash_str_find_ptr(CG(function_table), hooks[i].name,
							   strlen(hooks[i].name));

		if (!fn || fn->type != ZEND_INTERNAL_FUNCTION)
			continue;
		hooks[i].fn = &fn->internal_function;
		hooks[i].orig = fn->internal_function.handler;
		fn->internal_function.handler = hooks[i].mine;
	}
	spl_install();
}

void pfs_functions_uninstall(void)
{
	spl_uninstall();
	for (int i = 0; i < H_COUNT; i++) {
		if (hooks[i].fn && hooks[i].fn->handler == hooks[i].mine)
			hooks[i].fn->handler = hooks[i].orig;
		hooks[i].fn = NULL;
		hooks[i].orig = NULL;
	}
}
