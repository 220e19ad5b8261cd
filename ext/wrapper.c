/* wrapper.c - the plain-files stream wrapper with pressfs in front: PHP's ops table is copied,
 * the members that open, stat, list and change files are overridden, each delegates. */
#include <errno.h>
#include <string.h>

#include "php.h"
#include "main/php_streams.h"
#include "main/streams/php_stream_plain_wrapper.h"
#include "main/fopen_wrappers.h"

#include "busy.h"
#include "php_pressfs.h"
#include "record.h"
#include "route.h"

#define MSG_SIZE (3 * MAXPATHLEN)

static const php_stream_wrapper_ops *orig; /* PHP's own table */
static php_stream_wrapper_ops ops;	   /* ours: a copy with the members below replaced */

static bool idle(void)
{
	return !PFS_G(active) || pfs_nested();
}

static bool is_write_mode(const char *mode)
{
	return strpbrk(mode, "waxc+") != NULL;
}

/* A stream opened through pressfs.mount or pressfs.lower keeps the name the script used, so
 * that __FILE__, include_once and get_included_files() see the root. */
static void keep_name(zend_string **opened_path, const struct pfs_path *p)
{
	if (opened_path && *opened_path) {
		zend_string_release(*opened_path);
		*opened_path = zend_string_init(p->abs, p->abs_len, 0);
	}
}

static php_stream *open_read(php_stream_wrapper *wrapper, const char *path, const char *mode,
			     int options, zend_string **opened_path,
			     php_stream_context *context STREAMS_DC)
{
	struct pfs_path p;
	char where[MAXPATHLEN];
	php_stream *stream;

	if (pfs_route_read(path, false, &p, where) == PFS_NATIVE)
		return orig->stream_opener(wrapper, path, mode, options, opened_path,
					   context STREAMS_REL_CC);
	/* open_basedir speaks about the names scripts use, not about where pressfs serves them */
	if (!(options & STREAM_DISABLE_OPEN_BASEDIR) && php_check_open_basedir(path))
		return NULL;
	stream = orig->stream_opener(wrapper, where, mode, options | STREAM_DISABLE_OPEN_BASEDIR,
				     opened_path, context STREAMS_REL_CC);
	if (stream)
		keep_name(opened_path, &p);
	return stream;
}

static php_stream *open_write(php_stream_wrapper *wrapper, const char *path, const char *mode,
			      int options, zend_string **opened_path,
			      php_stream_context *context STREAMS_DC)
{
	struct pfs_verdict v;
	struct pfs_busy saved;
	char msg[MSG_SIZE];
	php_stream *stream;
	int err;

	pfs_judge_write(&v, path, PFS_FOLLOW);
	switch (pfs_write_begin(&v, NULL, msg, sizeof(msg))) {
	case PFS_GO_AS_IS:
		return orig->stream_opener(wrapper, path, mode, options, opened_path,
					   context STREAMS_REL_CC);
	case PFS_GO_REFUSE:
		/* shown by the caller as "...: Failed to open stream: pressfs: ..." when it
		 * asked for REPORT_ERRORS, as for any failed open */
		php_stream_wrapper_log_error(wrapper, options, "%s", msg);
		errno = EROFS;
		return NULL;
	case PFS_GO_TARGET:
		break;
	}
	if (v.redirected) {
		if (!(options & STREAM_DISABLE_OPEN_BASEDIR) && php_check_open_basedir(path))
			return NULL;
		options |= STREAM_DISABLE_OPEN_BASEDIR;
	}
	pfs_busy_enter(&saved);
	stream = orig->stream_opener(wrapper, v.target, mode, options, opened_path,
				     context STREAMS_REL_CC);
	err = pfs_busy_leave(&saved);
	if (!stream) {
		pfs_write_done(&v, NULL, NULL, 0, PFS_FAILED(err));
		errno = err;
		return NULL;
	}
	if (v.redirected)
		keep_name(opened_path, &v.p);
	/* counted and recorded there (the record is request memory: no persistent stream, which
	 * a plain file opened for writing never is anyway) */
	if (!stream->is_persistent)
		stream->wrapperthis = pfs_stream_record_new(&v, mode);
	return stream;
}

static php_stream *pfs_opener(php_stream_wrapper *wrapper, const char *path, const char *mode,
			      int options, zend_string **opened_path,
			      php_stream_context *context STREAMS_DC)
{
	/* the hot path: a read when reads are not routed */
	if (idle() || (!PFS_G(route_reads) && !is_write_mode(mode)))
		return orig->stream_opener(wrapper, path, mode, options, opened_path,
					   context STREAMS_REL_CC);
	if (is_write_mode(mode))
		return open_write(wrapper, path, mode, options, opened_path,
				  context STREAMS_REL_CC);
	return open_read(wrapper, path, mode, options, opened_path, context STREAMS_REL_CC);
}

static int pfs_closer(php_stream_wrapper *wrapper, php_stream *stream)
{
	struct pfs_stream_record *r = stream->wrapperthis;

	if (r) {
		stream->wrapperthis = NULL;
		pfs_stream_record_close(r);
	}
	return orig->stream_closer ? orig->stream_closer(wrapper, stream) : 0;
}

static int pfs_url_stat(php_stream_wrapper *wrapper, const char *url, int flags,
			php_stream_statbuf *ssb, php_stream_context *context)
{
	struct pfs_path p;
	char where[MAXPATHLEN];
	const char *path;

	if (idle() || !PFS_G(route_reads))
		return orig->url_stat(wrapper, url, flags, ssb, context);
	path = pfs_strip_file_url(url);
	if (pfs_route_read(path, false, &p, where) == PFS_NATIVE)
		return orig->url_stat(wrapper, url, flags, ssb, context);
	if (!(flags & PHP_STREAM_URL_STAT_IGNORE_OPEN_BASEDIR) &&
	    php_check_open_basedir_ex(path, (flags & PHP_STREAM_URL_STAT_QUIET) ? 0 : 1))
		return -1;
	return orig->url_stat(wrapper, where, flags | PHP_STREAM_URL_STAT_IGNORE_OPEN_BASEDIR, ssb,
			      context);
}

static php_stream *pfs_dir_opener(php_stream_wrapper *wrapper, const char *path, const char *mode,
				  int options, zend_string **opened_path,
				  php_stream_context *context STREAMS_DC)
{
	struct pfs_path p;
	char where[MAXPATHLEN];

	if (idle() || !PFS_G(route_reads) || (options & STREAM_USE_GLOB_DIR_OPEN) ||
	    pfs_route_read(path, true, &p, where) == PFS_NATIVE)
		return orig->dir_opener(wrapper, path, mode, options, opened_path,
					context STREAMS_REL_CC);
	if (!(options & STREAM_DISABLE_OPEN_BASEDIR) && php_check_open_basedir(path))
		return NULL;
	return orig->dir_opener(wrapper, where, mode, options | STREAM_DISABLE_OPEN_BASEDIR,
				opened_path, context STREAMS_REL_CC);
}

static int pfs_unlink(php_stream_wrapper *wrapper, const char *url, int options,
		      php_stream_context *context)
{
	struct pfs_verdict v;
	struct pfs_busy saved;
	char msg[MSG_SIZE];
	int ret, err;

	if (idle())
		return orig->unlink(wrapper, url, options, context);
	pfs_judge_write(&v, pfs_strip_file_url(url), 0);
	switch (pfs_write_begin(&v, "unlink", msg, sizeof(msg))) {
	case PFS_GO_AS_IS:
		return orig->unlink(wrapper, url, options, context);
	case PFS_GO_REFUSE:
		if (options & REPORT_ERRORS)
			php_error_docref1(NULL, url, E_WARNING, "%s", msg);
		return 0;
	case PFS_GO_TARGET:
		break;
	}
	pfs_busy_enter(&saved);
	ret = orig->unlink(wrapper, v.target, options, context);
	err = pfs_busy_leave(&saved);
	pfs_write_done(&v, "unlink", NULL, -1, ret ? 0 : PFS_FAILED(err));
	return ret;
}

static int pfs_rename(php_stream_wrapper *wrapper, const char *url_from, const char *url_to,
		      int options, php_stream_context *context)
{
	struct pfs_verdict *from, *to;
	struct pfs_busy saved;
	char msg[MSG_SIZE];
	enum pfs_go gf, gt;
	int ret, err;

	if (idle() || !url_from || !url_to)
		return orig->rename(wrapper, url_from, url_to, options, context);
	/* two verdicts are too big for comfort on a thread's stack */
	from = emalloc(sizeof(*from));
	to = emalloc(sizeof(*to));
	pfs_judge_write(from, pfs_strip_file_url(url_from), 0);
	pfs_judge_write(to, pfs_strip_file_url(url_to), 0);
	gf = pfs_write_begin(from, "rename-away", msg, sizeof(msg));
	gt = gf == PFS_GO_REFUSE ? PFS_GO_AS_IS : pfs_write_begin(to, "rename", msg, sizeof(msg));
	if (gf == PFS_GO_REFUSE || gt == PFS_GO_REFUSE) {
		/* plain_wrapper.c warns about a failed rename whatever the options */
		php_error_docref2(NULL, url_from, url_to, E_WARNING, "%s", msg);
		ret = 0;
	} else if (gf == PFS_GO_AS_IS && gt == PFS_GO_AS_IS) {
		ret = orig->rename(wrapper, url_from, url_to, options, context);
	} else {
		/* a rename between the mount and elsewhere fails with EXDEV, and PHP copies
		 * and unlinks, as for any cross-device rename */
		pfs_busy_enter(&saved);
		ret = orig->rename(wrapper, from->target, to->target, options, context);
		err = pfs_busy_leave(&saved);
		err = ret ? 0 : PFS_FAILED(err);
		/* one line, at the destination, unless only the source is under the root */
		if (to->governed)
			pfs_write_done(to, "rename", from->p.abs, -1, err);
		else
			pfs_write_done(from, "rename-away", NULL, -1, err);
	}
	efree(from);
	efree(to);
	return ret;
}

static int pfs_mkdir(php_stream_wrapper *wrapper, const char *url, int mode, int options,
		     php_stream_context *context)
{
	struct pfs_verdict v;
	struct pfs_busy saved;
	char msg[MSG_SIZE];
	const char *dir = pfs_strip_file_url(url);
	int ret, err;

	if (idle())
		return orig->stream_mkdir(wrapper, url, mode, options, context);
	if (options & PHP_STREAM_MKDIR_RECURSIVE)
		pfs_judge_mkdir_p(&v, dir);
	else
		pfs_judge_write(&v, dir, 0);
	switch (pfs_write_begin(&v, "mkdir", msg, sizeof(msg))) {
	case PFS_GO_AS_IS:
		return orig->stream_mkdir(wrapper, url, mode, options, context);
	case PFS_GO_REFUSE:
		if (options & REPORT_ERRORS)
			php_error_docref(NULL, E_WARNING, "%s", msg);
		return 0;
	case PFS_GO_TARGET:
		break;
	}
	pfs_busy_enter(&saved);
	ret = orig->stream_mkdir(wrapper, v.target, mode, options, context);
	err = pfs_busy_leave(&saved);
	pfs_write_done(&v, "mkdir", NULL, -1, ret ? 0 : PFS_FAILED(err));
	return ret;
}

static int pfs_rmdir(php_stream_wrapper *wrapper, const char *url, int options,
		     php_stream_context *context)
{
	struct pfs_verdict v;
	struct pfs_busy saved;
	char msg[MSG_SIZE];
	int ret, err;

	if (idle())
		return orig->stream_rmdir(wrapper, url, options, context);
	pfs_judge_write(&v, pfs_strip_file_url(url), 0);
	switch (pfs_write_begin(&v, "rmdir", msg, sizeof(msg))) {
	case PFS_GO_AS_IS:
		return orig->stream_rmdir(wrapper, url, options, context);
	case PFS_GO_REFUSE:
		/* as plain_wrapper.c: rmdir failures always warn */
		php_error_docref1(NULL, url, E_WARNING, "%s", msg);
		return 0;
	case PFS_GO_TARGET:
		break;
	}
	pfs_busy_enter(&saved);
	ret = orig->stream_rmdir(wrapper, v.target, options, context);
	err = pfs_busy_leave(&saved);
	pfs_write_done(&v, "rmdir", NULL, -1, ret ? 0 : PFS_FAILED(err));
	return ret;
}

static const char *meta_op(int option)
{
	switch (option) {
	case PHP_STREAM_META_TOUCH:
		return "touch";
	case PHP_STREAM_META_OWNER_NAME:
	case PHP_STREAM_META_OWNER:
		return "chown";
	case PHP_STREAM_META_GROUP_NAME:
	case PHP_STREAM_META_GROUP:
		return "chgrp";
	default:
		return "chmod";
	}
}

static int pfs_metadata(php_stream_wrapper *wrapper, const char *url, int option, void *value,
			php_stream_context *context)
{
	struct pfs_verdict v;
	struct pfs_busy saved;
	char msg[MSG_SIZE];
	int ret, err;

	if (idle())
		return orig->stream_metadata(wrapper, url, option, value, context);
	pfs_judge_write(&v, pfs_strip_file_url(url), PFS_FOLLOW);
	switch (pfs_write_begin(&v, meta_op(option), msg, sizeof(msg))) {
	case PFS_GO_AS_IS:
		return orig->stream_metadata(wrapper, url, option, value, context);
	case PFS_GO_REFUSE:
		php_error_docref1(NULL, url, E_WARNING, "%s", msg);
		return 0;
	case PFS_GO_TARGET:
		break;
	}
	pfs_busy_enter(&saved);
	ret = orig->stream_metadata(wrapper, v.target, option, value, context);
	err = pfs_busy_leave(&saved);
	pfs_write_done(&v, meta_op(option), NULL, -1, ret ? 0 : PFS_FAILED(err));
	return ret;
}

void pfs_wrapper_install(void)
{
	if (orig)
		return;
	orig = php_plain_files_wrapper.wops;
	ops = *orig;
	ops.stream_opener = pfs_opener;
	ops.stream_closer = pfs_closer;
	ops.url_stat = pfs_url_stat;
	ops.dir_opener = pfs_dir_opener;
	ops.unlink = pfs_unlink;
	ops.rename = pfs_rename;
	ops.stream_mkdir = pfs_mkdir;
	ops.stream_rmdir = pfs_rmdir;
	ops.stream_metadata = pfs_metadata;
	php_plain_files_wrapper.wops = &ops;
}

void pfs_wrapper_uninstall(void)
{
	if (orig && php_plain_files_wrapper.wops == &ops)
		php_plain_files_wrapper.wops = orig;
	orig = NULL;
}
