/* php_pressfs.h - pressfs.so, the PHP extension: module entry, module globals and the few
 * declarations its files share (wrapper.c, functions.c, writers.c, route.c, record.c). */
#ifndef PHP_PRESSFS_H
#define PHP_PRESSFS_H

#ifdef HAVE_CONFIG_H
#include "config.h" /* COMPILE_DL_PRESSFS, for the ZTS cache declaration below */
#endif

#include <stdbool.h>

#include "php.h"

#include "policy.h"

extern zend_module_entry pressfs_module_entry;
#define phpext_pressfs_ptr &pressfs_module_entry

#define PHP_PRESSFS_VERSION "0.1.0"

enum pfs_mode {
	PFS_MODE_OFF = 0,
	PFS_MODE_REPORT,
	PFS_MODE_ENFORCE,
};

enum pfs_sink {
	PFS_SINK_NONE = 0,
	PFS_SINK_STDERR,
	PFS_SINK_SYSLOG,
	PFS_SINK_FILE,
};

/* An absolute, normalised directory; s is malloc'd (NULL and len 0 when unset). */
struct pfs_dir {
	char *s;
	size_t len;
};

/* A hook running PHP's original function, for the calls made meanwhile to tell PHP's own nested
 * calls (made from the original's frame) from user code (frames of its own): see busy.h. */
struct pfs_busy {
	bool on;
	zend_execute_data *frame;  /* EG(current_execute_data) when the original was called */
	zend_fiber_context *fiber; /* EG(current_fiber_context) then */
	int err;		   /* errno when the original last warned; 0: it did not */
};

/* A directory route.c has judged: frozen when no rule can make it or anything below it
 * writable, so that every read below it is the lower tree's.  len 0: an empty slot. */
#define PFS_FROZEN_SLOTS    32
#define PFS_CODE_DIR_SLOTS  256
#define PFS_CODE_FILE_SLOTS 64
struct pfs_frozen {
	unsigned short len;
	bool frozen;
	char dir[189];
};

/* The macros open and close a struct, which clang-format cannot tell: */
/* clang-format off */
ZEND_BEGIN_MODULE_GLOBALS(pressfs)
	/* INI values as set; the strings belong to the INI entries. */
	char *ini_policy;
	char *ini_root;
	char *ini_mount;
	char *ini_lower;
	char *ini_audit_log;
	zend_long ini_mode;
	bool ini_dirty;		/* an INI value changed since the configuration was applied */
	char ini_error[512];	/* why an INI value was rejected; refuses to enable */

	/* The configuration in force, built from the INI values by pfs_config_apply(). */
	bool active;		/* hooks act: the configuration is valid and mode is not off */
	zend_long mode;
	struct policy *policy;	/* malloc'd by core/, freed with policy_free */
	char *policy_path;	/* malloc'd copy of the file it came from */
	struct pfs_dir root;	/* pressfs.root as written (normalised) */
	struct pfs_dir root_real; /* its realpath; equal to root when it has no symlink */
	struct pfs_dir mount;	/* pressfs.mount, the redirect target */
	struct pfs_dir mount_real;
	struct pfs_dir lower;	/* pressfs.lower, the overlay's read-only tree */
	struct pfs_dir lower_real;
	bool route_reads;	/* mount or lower set: reads under the root need a look */
	bool unconfigured;	/* not active because pressfs.policy or pressfs.root is unset */
	char why[600];		/* why not active, for startup messages and php --ri */
	char reported_why[600]; /* the last reason already warned about */

	/* Audit sink: opened lazily, per process (per thread under ZTS). */
	int sink;
	int audit_fd;
	bool audit_failed;	/* the audit log could not be opened: warned once */
	char *audit_path;	/* malloc'd */

	/* Reads served from pressfs.lower since the last flush into the shared counter: counting
	 * them locally keeps the hot path off a cache line the workers share. */
	unsigned long lower_reads;

	/* Directories judged by route.c, emptied when the configuration is applied. */
	struct pfs_frozen frozen[PFS_FROZEN_SLOTS];
	/* The same for includes, by the absolute directory as the script names it (a page view
	 * includes from a hundred of them), and the code files of directories that are not frozen
	 * (the root's, wp-content's drop-ins): the cost of an include of code is one compare. */
	struct pfs_frozen code_dirs[PFS_CODE_DIR_SLOTS];
	struct pfs_frozen code_files[PFS_CODE_FILE_SLOTS];

	/* The window in which one of our hooks runs PHP's original (busy.h). */
	struct pfs_busy busy;

	/* The name include.c is having opcache_invalidate() forget, NULL otherwise. */
	zend_string *forget_as;
ZEND_END_MODULE_GLOBALS(pressfs)
/* clang-format on */

ZEND_EXTERN_MODULE_GLOBALS(pressfs)
#define PFS_G(v) ZEND_MODULE_GLOBALS_ACCESSOR(pressfs, v)

#if defined(ZTS) && defined(COMPILE_DL_PRESSFS)
ZEND_TSRMLS_CACHE_EXTERN()
#endif

/* Counters shared by every process forked from the one that loaded the module (php-fpm
 * workers, Apache children), so that php --ri or phpinfo() in any of them sees the pool's. */
struct pfs_counters {
	unsigned long allowed;	     /* writes under the root the policy allows, done in place */
	unsigned long redirected;    /* writes sent to pressfs.mount */
	unsigned long denied;	     /* writes refused (enforce) */
	unsigned long reported;	     /* writes the policy refuses, let through (report) */
	unsigned long failed;	     /* writes let through that the file system then failed */
	unsigned long lower;	     /* reads served from pressfs.lower */
	unsigned long invalidated;   /* writable PHP files that changed, invalidated in opcache */
	unsigned long uncached;	     /* includes of writable PHP files compiled without opcache */
	unsigned long code_refused;  /* PHP files of writable classes not compiled (no +code) */
	unsigned long code_reported; /* the same, compiled anyway (report mode) */
	unsigned long root_warned;   /* the writable root was said in the log (once a pool) */
};
extern struct pfs_counters *pfs_counters;
#define PFS_COUNT(field) __atomic_fetch_add(&pfs_counters->field, 1, __ATOMIC_RELAXED)

/* Strip "file://" the way plain_wrapper.c does for the operations that receive URLs. */
static inline const char *pfs_strip_file_url(const char *url)
{
	if (strncasecmp(url, "file://", sizeof("file://") - 1) == 0)
		return url + sizeof("file://") - 1;
	return url;
}

/* wrapper.c: the plain-files wrapper's ops table, copied and overridden. */
void pfs_wrapper_install(void);
void pfs_wrapper_uninstall(void);

/* functions.c: internal functions that bypass the stream layer. */
void pfs_functions_install(void);
void pfs_functions_uninstall(void);

/* writers.c: writers outside the stream layer, hooked from the first request (their classes
 * may start after pressfs); what the root's file system does about the others. */
void pfs_writers_install(void);
void pfs_writers_uninstall(void);
const char *pfs_root_fs_state(void);
void pfs_root_fs_check(void);

/* include.c: includes of PHP files that may change, under opcache.  Install from MINIT (it does
 * nothing without opcache); pfs_include_state() says what it does, for php --ri. */
void pfs_include_install(void);
void pfs_include_uninstall(void);
const char *pfs_include_state(void);

#endif
