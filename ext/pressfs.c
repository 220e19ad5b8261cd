/* pressfs.c - pressfs.so's module: INI settings, loading the policy (refusing to enable, and
 * saying why, when it is missing or bad), installing the hooks, and php --ri pressfs. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "php.h"
#include "php_ini.h"
#include "SAPI.h"
#include "ext/standard/info.h"
#include "zend_observer.h"

#include "busy.h"
#include "path.h"
#include "php_pressfs.h"
#include "record.h"
#include "route.h"

ZEND_DECLARE_MODULE_GLOBALS(pressfs)

struct pfs_counters *pfs_counters;
static struct pfs_counters counters_fallback;
static bool hooks_installed;

/* ---- INI ---- */

static void ini_reject(zend_ini_entry *entry, const char *value, const char *why)
{
	size_t n = strlen(PFS_G(ini_error));

	/* every rejected value, "; "-separated, as far as they fit */
	snprintf(PFS_G(ini_error) + n, sizeof(PFS_G(ini_error)) - n, "%s%s=\"%s\" %s",
		 n ? "; " : "", ZSTR_VAL(entry->name), value, why);
}

/* An absolute path, or empty for "not set". */
static ZEND_INI_MH(OnUpdatePfsPath)
{
	char **p = (char **)ZEND_INI_GET_ADDR();
	const char *v = new_value ? ZSTR_VAL(new_value) : "";
	size_t len = new_value ? ZSTR_LEN(new_value) : 0;

	if (len && (v[0] != '/' || len >= MAXPATHLEN || strlen(v) != len)) {
		ini_reject(entry, v, "is not an absolute path");
		return FAILURE;
	}
	*p = len ? ZSTR_VAL(new_value) : NULL;
	PFS_G(ini_dirty) = true;
	return SUCCESS;
}

static ZEND_INI_MH(OnUpdatePfsMode)
{
	zend_long *p = (zend_long *)ZEND_INI_GET_ADDR();
	const char *v = new_value ? ZSTR_VAL(new_value) : "";

	if (strcasecmp(v, "enforce") == 0)
		*p = PFS_MODE_ENFORCE;
	else if (strcasecmp(v, "report") == 0)
		*p = PFS_MODE_REPORT;
	else if (strcasecmp(v, "off") == 0 || !*v || strcmp(v, "0") == 0)
		*p = PFS_MODE_OFF; /* php.ini turns an unquoted off (no, false, none) into "" */
	else {
		ini_reject(entry, v, "is not one of enforce, report, off");
		return FAILURE;
	}
	PFS_G(ini_dirty) = true;
	return SUCCESS;
}

/* stderr, syslog, an absolute file name, or empty for none. */
static ZEND_INI_MH(OnUpdatePfsAuditLog)
{
	char **p = (char **)ZEND_INI_GET_ADDR();
	const char *v = new_value ? ZSTR_VAL(new_value) : "";
	size_t len = new_value ? ZSTR_LEN(new_value) : 0;

	if (len && strcmp(v, "stderr") != 0 && strcmp(v, "syslog") != 0 &&
	    (v[0] != '/' || len >= MAXPATHLEN || strlen(v) != len)) {
		ini_reject(entry, v, "is not stderr, syslog or an absolute file name");
		return FAILURE;
	}
	*p = len ? ZSTR_VAL(new_value) : NULL;
	PFS_G(ini_dirty) = true;
	return SUCCESS;
}

/* All system-level: they decide which hooks act and what they may touch. */
PHP_INI_BEGIN()
STD_PHP_INI_ENTRY("pressfs.policy", "", PHP_INI_SYSTEM, OnUpdatePfsPath, ini_policy,
		  zend_pressfs_globals, pressfs_globals)
STD_PHP_INI_ENTRY("pressfs.root", "", PHP_INI_SYSTEM, OnUpdatePfsPath, ini_root,
		  zend_pressfs_globals, pressfs_globals)
STD_PHP_INI_ENTRY("pressfs.mount", "", PHP_INI_SYSTEM, OnUpdatePfsPath, ini_mount,
		  zend_pressfs_globals, pressfs_globals)
STD_PHP_INI_ENTRY("pressfs.lower", "", PHP_INI_SYSTEM, OnUpdatePfsPath, ini_lower,
		  zend_pressfs_globals, pressfs_globals)
STD_PHP_INI_ENTRY("pressfs.mode", "enforce", PHP_INI_SYSTEM, OnUpdatePfsMode, ini_mode,
		  zend_pressfs_globals, pressfs_globals)
STD_PHP_INI_ENTRY("pressfs.audit_log", "", PHP_INI_SYSTEM, OnUpdatePfsAuditLog, ini_audit_log,
		  zend_pressfs_globals, pressfs_globals)
PHP_INI_END()

/* ---- the configuration in force ---- */

static void dir_clear(struct pfs_dir *d, struct pfs_dir *real)
{
	if (real->s != d->s)
		free(real->s);
	free(d->s);
	memset(real, 0, sizeof(*real));
	memset(d, 0, sizeof(*d));
}

/* Undo what config_apply() and the policy load set, in the globals G: GSHUTDOWN passes the
 * globals it is given, which under ZTS need not be this thread's. */
static void config_clear_in(zend_pressfs_globals *g)
{
	dir_clear(&g->root, &g->root_real);
	dir_clear(&g->mount, &g->mount_real);
	dir_clear(&g->lower, &g->lower_real);
	/* pfs_sink_close(), on G */
	if (g->audit_fd >= 0)
		close(g->audit_fd);
	g->audit_fd = -1;
	g->audit_failed = false;
	free(g->audit_path);
	g->audit_path = NULL;
	g->sink = PFS_SINK_NONE;
	g->active = false;
	g->route_reads = false;
}

static void policy_drop_in(zend_pressfs_globals *g)
{
	policy_free(g->policy);
	g->policy = NULL;
	free(g->policy_path);
	g->policy_path = NULL;
}

static void config_clear(void)
{
	config_clear_in(ZEND_MODULE_GLOBALS_BULK(pressfs));
}

static void policy_drop(void)
{
	policy_drop_in(ZEND_MODULE_GLOBALS_BULK(pressfs));
}

/* D := the normalised VALUE, and REAL := its realpath (sharing D's string when the same). */
static bool dir_set(struct pfs_dir *d, struct pfs_dir *real, const char *name, const char *value)
{
	char buf[MAXPATHLEN], res[PATH_MAX];
	long n;

	if (!value)
		return true;
	n = path_normalize(value, strlen(value), buf, sizeof(buf));
	if (n <= 0) {
		snprintf(PFS_G(why), sizeof(PFS_G(why)), "%s=\"%s\" is not a usable path: %s", name,
			 value, strerror((int)-n));
		return false;
	}
	d->s = strndup(buf, (size_t)n);
	d->len = d->s ? (size_t)n : 0;
	if (!d->s)
		return false;
	if (!real)
		return true;
	*real = *d;
	if (realpath(d->s, res) && strcmp(res, d->s) != 0) {
		real->s = strdup(res);
		real->len = real->s ? strlen(res) : 0;
		if (!real->s)
			*real = *d;
	}
	return true;
}

static bool same_dir(const struct pfs_dir *a, const struct pfs_dir *b)
{
	return a->len && a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

/* Build the configuration from the INI values; false (with PFS_G(why)) when pressfs must stay
 * out of the way. */
static bool config_apply(void)
{
	char *why = PFS_G(why);
	size_t wsz = sizeof(PFS_G(why));
	const char *audit = PFS_G(ini_audit_log);

	config_clear();
	pfs_route_reset();
	PFS_G(ini_dirty) = false;
	PFS_G(unconfigured) = false;
	PFS_G(mode) = PFS_G(ini_mode);
	why[0] = '\0';

	if (PFS_G(ini_error)[0]) {
		snprintf(why, wsz, "%s", PFS_G(ini_error));
		return false;
	}
	if (PFS_G(mode) == PFS_MODE_OFF) {
		snprintf(why, wsz, "pressfs.mode is off");
		return false;
	}
	if (!hooks_installed) {
		snprintf(why, wsz, "pressfs.mode was off at startup, so no hook is installed");
		return false;
	}
	if (!PFS_G(ini_policy)) {
		snprintf(why, wsz, "pressfs.policy is not set");
		policy_drop();
		PFS_G(unconfigured) = true;
		return false;
	}
	if (!PFS_G(ini_root)) {
		snprintf(why, wsz, "pressfs.root is not set");
		PFS_G(unconfigured) = true;
		return false;
	}
	if (!PFS_G(policy) || strcmp(PFS_G(policy_path), PFS_G(ini_policy)) != 0) {
		struct policy_error err;
		struct policy *pol;
		char text[sizeof(PFS_G(why)) - 64];

		policy_drop();
		if (policy_load(PFS_G(ini_policy), &pol, &err) < 0) {
			policy_error_format(&err, text, sizeof(text));
			snprintf(why, wsz, "the policy is not usable: %s", text);
			return false;
		}
		PFS_G(policy) = pol;
		PFS_G(policy_path) = strdup(PFS_G(ini_policy));
		if (!PFS_G(policy_path)) {
			policy_drop();
			snprintf(why, wsz, "out of memory");
			return false;
		}
	}
	if (!dir_set(&PFS_G(root), &PFS_G(root_real), "pressfs.root", PFS_G(ini_root)) ||
	    !dir_set(&PFS_G(mount), &PFS_G(mount_real), "pressfs.mount", PFS_G(ini_mount)) ||
	    !dir_set(&PFS_G(lower), &PFS_G(lower_real), "pressfs.lower", PFS_G(ini_lower))) {
		if (!why[0])
			snprintf(why, wsz, "out of memory");
		config_clear();
		return false;
	}
	if (same_dir(&PFS_G(root), &PFS_G(mount)) ||
	    same_dir(&PFS_G(root_real), &PFS_G(mount_real))) {
		snprintf(why, wsz,
			 "pressfs.mount is pressfs.root: leave pressfs.mount empty when "
			 "the overlay is mounted at the root");
		config_clear();
		return false;
	}
	if (audit && strcmp(audit, "stderr") == 0) {
		PFS_G(sink) = PFS_SINK_STDERR;
	} else if (audit && strcmp(audit, "syslog") == 0) {
		PFS_G(sink) = PFS_SINK_SYSLOG;
	} else if (audit) {
		PFS_G(audit_path) = strdup(audit);
		PFS_G(sink) = PFS_G(audit_path) ? PFS_SINK_FILE : PFS_SINK_NONE;
	}
	PFS_G(route_reads) = PFS_G(mount).len || PFS_G(lower).len;
	PFS_G(active) = true;
	return true;
}

/* ---- errors raised while an original runs ---- */

/* A warning or notice raised by the original itself keeps errno for pfs_busy_leave() (the
 * script's handler for it may change errno); a fatal error closes the window, since the
 * bailout that follows skips pfs_busy_leave(). */
static void on_error(int type, zend_string *file, uint32_t line, zend_string *message)
{
	if (!PFS_G(busy).on)
		return;
	if (type & (E_ERROR | E_CORE_ERROR | E_COMPILE_ERROR | E_PARSE | E_USER_ERROR |
		    E_RECOVERABLE_ERROR))
		PFS_G(busy).on = false;
	else if ((type & (E_WARNING | E_NOTICE)) && pfs_nested())
		PFS_G(busy).err = errno;
}

/* ---- module ---- */

static PHP_GINIT_FUNCTION(pressfs)
{
#if defined(COMPILE_DL_PRESSFS) && defined(ZTS)
	ZEND_TSRMLS_CACHE_UPDATE();
#endif
	memset(pressfs_globals, 0, sizeof(*pressfs_globals));
	pressfs_globals->mode = PFS_MODE_OFF;
	pressfs_globals->audit_fd = -1;
}

static PHP_GSHUTDOWN_FUNCTION(pressfs)
{
	config_clear_in(pressfs_globals);
	policy_drop_in(pressfs_globals);
}

/* The process that last said pressfs is not enabled (0: none).  php-fpm and Apache fork their
 * workers after MINIT, so each of them says it once more, in its own log. */
static pid_t disabled_said_in;

/* Once per worker, the error log (the web server's, through the SAPI) hears that pressfs is
 * loaded but does nothing, and why: a php-fpm pool whose php_admin_value lines load the
 * extension after its settings, or a policy the web user cannot read, would otherwise pass
 * unnoticed, with only phpinfo() to say so.  The CLI, loaded from conf.d with nothing set, stays
 * quiet, as does pressfs.mode=off, which is a choice. */
static void say_disabled(void)
{
	char msg[sizeof(PFS_G(why)) + 100];

	if (PFS_G(active) || PFS_G(ini_mode) == PFS_MODE_OFF || disabled_said_in == getpid())
		return;
	if (PFS_G(unconfigured) && strcmp(sapi_module.name, "cli") == 0)
		return;
	disabled_said_in = getpid();
	snprintf(msg, sizeof(msg), "pressfs: loaded but not enabled in this worker (pid %ld): %s",
		 (long)getpid(), PFS_G(why)[0] ? PFS_G(why) : "unknown reason");
	php_log_err_with_severity(msg, LOG_WARNING);
}

static PHP_MINIT_FUNCTION(pressfs)
{
	void *m;

	REGISTER_INI_ENTRIES();

	m = mmap(NULL, sizeof(struct pfs_counters), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pfs_counters = m == MAP_FAILED ? &counters_fallback : m;

	if (PFS_G(ini_mode) != PFS_MODE_OFF && !PFS_G(ini_error)[0]) {
		pfs_wrapper_install();
		pfs_functions_install();
		if (type == MODULE_PERSISTENT) /* not from dl(): opcache started long ago */
			pfs_include_install();
		zend_observer_error_register(on_error);
		hooks_installed = true;
	}
	if (!config_apply() && PFS_G(ini_mode) != PFS_MODE_OFF && !PFS_G(unconfigured)) {
		/* PHP carries on without pressfs; the reason goes to the startup log.  Merely
		 * loaded, with no policy or root set, it stays quiet (php --ri says why). */
		zend_error(E_CORE_WARNING, "pressfs: not enabled: %s", PFS_G(why));
		snprintf(PFS_G(reported_why), sizeof(PFS_G(reported_why)), "%s", PFS_G(why));
		disabled_said_in = getpid();
	}
	if (hooks_installed)
		pfs_writers_install();
	pfs_root_fs_check();
	return SUCCESS;
}

static PHP_MSHUTDOWN_FUNCTION(pressfs)
{
	if (hooks_installed) {
		pfs_include_uninstall();
		pfs_writers_uninstall();
		pfs_functions_uninstall();
		pfs_wrapper_uninstall();
		hooks_installed = false;
	}
	UNREGISTER_INI_ENTRIES();
	if (pfs_counters != &counters_fallback)
		munmap(pfs_counters, sizeof(struct pfs_counters));
	pfs_counters = &counters_fallback;
	return SUCCESS;
}

static PHP_RINIT_FUNCTION(pressfs)
{
#if defined(COMPILE_DL_PRESSFS) && defined(ZTS)
	ZEND_TSRMLS_CACHE_UPDATE();
#endif
	PFS_G(busy).on = false;
	PFS_G(forget_as) = NULL;
	/* a php-fpm pool's or a virtual host's php_admin_value changed something */
	if (PFS_G(ini_dirty) && !config_apply() && PFS_G(mode) != PFS_MODE_OFF &&
	    !PFS_G(unconfigured) && strcmp(PFS_G(why), PFS_G(reported_why)) != 0) {
		php_error_docref(NULL, E_WARNING, "pressfs: not enabled: %s", PFS_G(why));
		snprintf(PFS_G(reported_why), sizeof(PFS_G(reported_why)), "%s", PFS_G(why));
		disabled_said_in = getpid();
	}
	say_disabled();
	return SUCCESS;
}

static void flush_counts(void)
{
	if (PFS_G(lower_reads)) {
		__atomic_fetch_add(&pfs_counters->lower, PFS_G(lower_reads), __ATOMIC_RELAXED);
		PFS_G(lower_reads) = 0;
	}
}

static PHP_RSHUTDOWN_FUNCTION(pressfs)
{
	PFS_G(busy).on = false;
	flush_counts();
	return SUCCESS;
}

static const char *mode_name(zend_long mode)
{
	return mode == PFS_MODE_ENFORCE ? "enforce" : mode == PFS_MODE_REPORT ? "report" : "off";
}

static void row_count(const char *name, unsigned long *v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lu", __atomic_load_n(v, __ATOMIC_RELAXED));
	php_info_print_table_row(2, name, buf);
}

static PHP_MINFO_FUNCTION(pressfs)
{
	char buf[MAXPATHLEN + 64];

	flush_counts();
	php_info_print_table_start();
	php_info_print_table_row(2, "pressfs support", PFS_G(active) ? "enabled" : "disabled");
	if (!PFS_G(active))
		php_info_print_table_row(2, "Disabled because", PFS_G(why));
	php_info_print_table_row(2, "Version", PHP_PRESSFS_VERSION);
	php_info_print_table_row(2, "Mode",
				 mode_name(PFS_G(active) ? PFS_G(mode) : PFS_G(ini_mode)));
	php_info_print_table_row(2, "Policy file",
				 PFS_G(ini_policy) ? PFS_G(ini_policy) : "(not set)");
	if (PFS_G(policy)) {
		snprintf(buf, sizeof(buf), "%zu", policy_rule_count(PFS_G(policy)));
		php_info_print_table_row(2, "Policy rules", buf);
	} else {
		php_info_print_table_row(2, "Policy rules", "(not loaded)");
	}
	php_info_print_table_row(2, "Root", PFS_G(root).len ? PFS_G(root).s : "(not set)");
	php_info_print_table_row(2, "Root file system", pfs_root_fs_state());
	if (PFS_G(root).len && PFS_G(root_real).s != PFS_G(root).s)
		php_info_print_table_row(2, "Root (resolved)", PFS_G(root_real).s);
	php_info_print_table_row(2, "Redirect target",
				 PFS_G(mount).len ? PFS_G(mount).s
						  : "none (the overlay is mounted at the root)");
	php_info_print_table_row(2, "Lower tree",
				 PFS_G(lower).len ? PFS_G(lower).s
						  : "none (reads go through the root)");
	php_info_print_table_row(2, "Audit log",
				 PFS_G(ini_audit_log) ? PFS_G(ini_audit_log) : "(none)");
	row_count("Writes allowed", &pfs_counters->allowed);
	row_count("Writes redirected", &pfs_counters->redirected);
	row_count("Writes denied", &pfs_counters->denied);
	row_count("Writes reported (report mode)", &pfs_counters->reported);
	row_count("Writes failed (let through, then failed)", &pfs_counters->failed);
	row_count("Reads served from the lower tree", &pfs_counters->lower);
	php_info_print_table_row(2, "Includes of writable PHP files", pfs_include_state());
	row_count("Changed PHP files invalidated in opcache", &pfs_counters->invalidated);
	row_count("Writable PHP includes compiled without opcache", &pfs_counters->uncached);
	row_count("PHP files not compiled (writable, no +code)", &pfs_counters->code_refused);
	row_count("PHP files compiled though writable (report mode)", &pfs_counters->code_reported);
	php_info_print_table_end();

	DISPLAY_INI_ENTRIES();
}

/* one member a line, as PHP's own modules write it */
/* clang-format off */
zend_module_entry pressfs_module_entry = {
	STANDARD_MODULE_HEADER,
	"pressfs",
	NULL, /* no functions of its own */
	PHP_MINIT(pressfs),
	PHP_MSHUTDOWN(pressfs),
	PHP_RINIT(pressfs),
	PHP_RSHUTDOWN(pressfs),
	PHP_MINFO(pressfs),
	PHP_PRESSFS_VERSION,
	PHP_MODULE_GLOBALS(pressfs),
	PHP_GINIT(pressfs),
	PHP_GSHUTDOWN(pressfs),
	NULL,
	STANDARD_MODULE_PROPERTIES_EX,
};
/* clang-format on */

#ifdef COMPILE_DL_PRESSFS
#ifdef ZTS
ZEND_TSRMLS_CACHE_DEFINE()
#endif
ZEND_GET_MODULE(pressfs)
#endif
