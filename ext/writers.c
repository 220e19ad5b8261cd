/* writers.c - the writers that bypass PHP's stream layer (posix_mkfifo, imagegd, OpenSSL's
 * export_to_file, ZipArchive, SQLite3, PDO's sqlite DSN, the error_log and session.save_path
 * settings) judged by the policy where PHP lets a hook see their path; and whether the root's
 * file system stops the ones it does not (SQLite's ATTACH and VACUUM INTO, FFI). */
#include <errno.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <syslog.h>

#include "php.h"
#include "SAPI.h"
#include "zend_exceptions.h"

#include "busy.h"
#include "php_pressfs.h"
#include "record.h"
#include "route.h"

#define MSG_SIZE (3 * MAXPATHLEN)

enum kind {
	K_PATH,	  /* argument ARG is a file the call creates or overwrites */
	K_ZIP,	  /* ZipArchive::open(ARG, flags): written at close() unless RDONLY */
	K_SQLITE, /* SQLite3::open / __construct(ARG, flags): READWRITE unless flags say not */
	K_PDO,	  /* PDO::__construct(ARG = "sqlite:PATH", ..., options) */
};

struct writer {
	const char *cls; /* lower-case class name; NULL: a function */
	const char *name;
	const char *op; /* for the audit: NULL for a function (its own name) */
	uint32_t arg;
	enum kind kind;
	unsigned flags; /* PFS_FOLLOW */
	zend_internal_function *fn;
	zif_handler orig;
};

static struct writer writers[] = {
    {NULL, "posix_mkfifo", NULL, 1, K_PATH, 0, NULL, NULL},
    {NULL, "imagegd", NULL, 2, K_PATH, PFS_FOLLOW, NULL, NULL},
    {NULL, "imagegd2", NULL, 2, K_PATH, PFS_FOLLOW, NULL, NULL},
    {NULL, "openssl_pkey_export_to_file", NULL, 2, K_PATH, PFS_FOLLOW, NULL, NULL},
    {NULL, "openssl_x509_export_to_file", NULL, 2, K_PATH, PFS_FOLLOW, NULL, NULL},
    {NULL, "openssl_csr_export_to_file", NULL, 2, K_PATH, PFS_FOLLOW, NULL, NULL},
    {NULL, "openssl_pkcs12_export_to_file", NULL, 2, K_PATH, PFS_FOLLOW, NULL, NULL},
    {"ziparchive", "open", "ZipArchive::open", 1, K_ZIP, PFS_FOLLOW, NULL, NULL},
    {"sqlite3", "open", "SQLite3::open", 1, K_SQLITE, PFS_FOLLOW, NULL, NULL},
    {"sqlite3", "__construct", "SQLite3::__construct", 1, K_SQLITE, PFS_FOLLOW, NULL, NULL},
    {"pdo", "__construct", "PDO::__construct", 1, K_PDO, PFS_FOLLOW, NULL, NULL},
};
#define NWRITERS (sizeof(writers) / sizeof(writers[0]))

#define ZIP_WRITES	 (1 | 2 | 8) /* ZipArchive::CREATE, EXCL, OVERWRITE */
#define ZIP_RDONLY	 16
#define SQLITE_RW	 2    /* SQLITE3_OPEN_READWRITE */
#define PDO_SQLITE_FLAGS 1000 /* PDO::SQLITE_ATTR_OPEN_FLAGS */

static struct writer *writer_of(const zend_function *fn)
{
	for (size_t i = 0; i < NWRITERS; i++)
		if (writers[i].fn == &fn->internal_function)
			return &writers[i];
	return NULL;
}

static zend_long long_arg(zend_execute_data *ed, uint32_t n, zend_long dflt)
{
	zval *a;

	if (ZEND_CALL_NUM_ARGS(ed) < n)
		return dflt;
	a = ZEND_CALL_ARG(ed, n);
	return Z_TYPE_P(a) == IS_LONG ? Z_LVAL_P(a) : dflt;
}

/* Argument N as a string (a Stringable converted in place, as the function would), or NULL. */
static zval *string_arg(zend_execute_data *ed, uint32_t n)
{
	zval *a;

	if (ZEND_CALL_NUM_ARGS(ed) < n)
		return NULL;
	a = ZEND_CALL_ARG(ed, n);
	if (Z_TYPE_P(a) == IS_OBJECT && Z_OBJCE_P(a)->__tostring) {
		zend_string *s = zval_try_get_string(a);

		if (!s)
			return NULL;
		zval_ptr_dtor(a);
		ZVAL_STR(a, s);
	}
	return Z_TYPE_P(a) == IS_STRING && Z_STRLEN_P(a) ? a : NULL;
}

/* The file a PDO DSN or an SQLite3 name opens, or NULL (memory, another driver).  "file:" URIs
 * lose their scheme, an empty or "localhost" authority and their query. */
static const char *db_file(const char *name, bool pdo, char *buf, size_t size)
{
	const char *q;

	if (pdo) {
		if (strncmp(name, "sqlite:", 7) != 0)
			return NULL;
		name += 7;
	}
	if (!*name || strcmp(name, ":memory:") == 0)
		return NULL;
	if (strncmp(name, "file:", 5) != 0)
		return name;
	name += 5;
	if (strncmp(name, "//localhost/", 12) == 0)
		name += 11;
	else if (strncmp(name, "///", 3) == 0)
		name += 2;
	q = strchr(name, '?');
	snprintf(buf, size, "%.*s", (int)(q ? (size_t)(q - name) : strlen(name)), name);
	return strcmp(buf, ":memory:") == 0 ? NULL : buf;
}

/* Whether the call asks to write: its flags (or PDO's open flags option) say so. */
static bool asks_write(const struct writer *w, zend_execute_data *ed)
{
	zval *opts, *f;

	switch (w->kind) {
	case K_ZIP:
		return !(long_arg(ed, 2, 0) & ZIP_RDONLY);
	case K_SQLITE:
		return long_arg(ed, 2, SQLITE_RW) & SQLITE_RW;
	case K_PDO:
		if (ZEND_CALL_NUM_ARGS(ed) < 4)
			return true;
		opts = ZEND_CALL_ARG(ed, 4);
		if (Z_TYPE_P(opts) != IS_ARRAY ||
		    !(f = zend_hash_index_find(Z_ARRVAL_P(opts), PDO_SQLITE_FLAGS)) ||
		    Z_TYPE_P(f) != IS_LONG)
			return true;
		return Z_LVAL_P(f) & SQLITE_RW;
	default:
		return true;
	}
}

/* A refused constructor or open fails as the class fails them: SQLite3 and PDO throw. */
static void refuse(const struct writer *w, const struct pfs_verdict *v, const char *msg,
		   zval *return_value)
{
	zend_class_entry *ce = NULL;

	if (w->kind == K_PDO)
		ce = zend_lookup_class(zend_string_init_interned("PDOException", 12, 1));
	if (w->kind == K_SQLITE || w->kind == K_PDO) {
		zend_throw_exception_ex(ce ? ce : zend_ce_exception, 0,
					"Unable to open database: %s", msg);
		return;
	}
	php_error_docref1(NULL, v->p.abs, E_WARNING, "%s", msg);
	RETVAL_FALSE;
}

/* Argument N := the redirected target (prefixed again for a PDO DSN). */
static void retarget(zend_execute_data *ed, const struct writer *w, const char *target)
{
	zval *a = ZEND_CALL_ARG(ed, w->arg);

	zval_ptr_dtor(a);
	if (w->kind == K_PDO)
		ZVAL_STR(a, zend_strpprintf(0, "sqlite:%s", target));
	else
		ZVAL_STRING(a, target);
}

static ZEND_NAMED_FUNCTION(pfs_writer)
{
	struct writer *w = writer_of(EX(func));
	struct pfs_verdict v;
	struct pfs_busy saved;
	char msg[MSG_SIZE], buf[MAXPATHLEN];
	const char *path;
	zval *a;
	int err;

	if (!w)
		return; /* not reached: only hooked functions land here */
	if (!PFS_G(active) || pfs_nested() || !(a = string_arg(execute_data, w->arg)) ||
	    !asks_write(w, execute_data) ||
	    !(path = w->kind == K_PATH || w->kind == K_ZIP
			 ? Z_STRVAL_P(a)
			 : db_file(Z_STRVAL_P(a), w->kind == K_PDO, buf, sizeof(buf)))) {
		if (!EG(exception))
			w->orig(INTERNAL_FUNCTION_PARAM_PASSTHRU);
		return;
	}
	pfs_judge_write(&v, pfs_strip_file_url(path), w->flags);
	switch (pfs_write_begin(&v, w->op, msg, sizeof(msg))) {
	case PFS_GO_AS_IS:
		w->orig(INTERNAL_FUNCTION_PARAM_PASSTHRU);
		return;
	case PFS_GO_REFUSE:
		refuse(w, &v, msg, return_value);
		return;
	case PFS_GO_TARGET:
		break;
	}
	if (v.redirected)
		retarget(execute_data, w, v.target);
	pfs_busy_enter(&saved);
	w->orig(INTERNAL_FUNCTION_PARAM_PASSTHRU);
	err = pfs_busy_leave(&saved);
	pfs_write_done(&v, w->op, NULL, -1,
		       EG(exception) || Z_TYPE_P(return_value) == IS_FALSE ? PFS_FAILED(err) : 0);
}

/* ---- settings that name a file PHP writes itself: refused where the policy refuses ---- */

struct ini_hook {
	const char *name;
	zend_ini_entry *entry;
	ZEND_INI_MH((*orig));
};

static struct ini_hook ini_hooks[] = {{"error_log", NULL, NULL}, {"session.save_path", NULL, NULL}};
#define NINI (sizeof(ini_hooks) / sizeof(ini_hooks[0]))

/* The file the setting makes PHP write, into BUF; NULL when none (syslog, unset). */
static const char *ini_target(const zend_ini_entry *e, const zend_string *value, char *buf,
			      size_t size)
{
	const char *s = ZSTR_VAL(value), *semi;

	if (!ZSTR_LEN(value))
		return NULL;
	if (strcmp(ZSTR_VAL(e->name), "error_log") == 0)
		return strcmp(s, "syslog") == 0 ? NULL : s;
	/* session.save_path: "[N;[MODE;]]DIR", files named sess_ID in DIR (or below it) */
	semi = strrchr(s, ';');
	snprintf(buf, size, "%s/sess_pressfs", semi ? semi + 1 : s);
	return buf;
}

static ZEND_INI_MH(pfs_ini_modify)
{
	char buf[MAXPATHLEN], msg[MSG_SIZE];
	const struct ini_hook *h = NULL;
	struct pfs_verdict v;
	const char *path;

	for (size_t i = 0; i < NINI; i++)
		if (ini_hooks[i].entry == entry)
			h = &ini_hooks[i];
	if (!h)
		return FAILURE;
	if ((stage == ZEND_INI_STAGE_RUNTIME || stage == ZEND_INI_STAGE_HTACCESS) &&
	    PFS_G(active) && new_value && (path = ini_target(entry, new_value, buf, sizeof(buf)))) {
		pfs_judge_write(&v, pfs_strip_file_url(path), PFS_FOLLOW);
		if (pfs_write_begin(&v, "ini_set", msg, sizeof(msg)) == PFS_GO_REFUSE) {
			php_error_docref(NULL, E_WARNING, "%s: %s", ZSTR_VAL(entry->name), msg);
			return FAILURE;
		}
	}
	return h->orig(entry, new_value, mh_arg1, mh_arg2, mh_arg3, stage);
}

void pfs_writers_install(void)
{
	static bool done;

	/* from the first request: the classes of zip, sqlite3 and pdo may start after pressfs */
	if (done)
		return;
	done = true;
	for (size_t i = 0; i < NWRITERS; i++) {
		struct writer *w = &writers[i];
		HashTable *ft = CG(function_table);
		zend_function *fn;

		if (w->cls) {
			zend_class_entry *ce =
			    zend_hash_str_find_ptr(CG(class_table), w->cls, strlen(w->cls));

			if (!ce)
				continue;
			ft = &ce->function_table;
		}
		fn = zend_hash_str_find_ptr(ft, w->name, strlen(w->name));
		if (!fn || fn->type != ZEND_INTERNAL_FUNCTION)
			continue;
		w->fn = &fn->internal_function;
		w->orig = fn->internal_function.handler;
		fn->internal_function.handler = pfs_writer;
	}
	for (size_t i = 0; i < NINI; i++) {
		zend_ini_entry *e = zend_hash_str_find_ptr(EG(ini_directives), ini_hooks[i].name,
							   strlen(ini_hooks[i].name));

		if (!e || !e->on_modify)
			continue;
		ini_hooks[i].entry = e;
		ini_hooks[i].orig = e->on_modify;
		e->on_modify = pfs_ini_modify;
	}
}

void pfs_writers_uninstall(void)
{
	for (size_t i = 0; i < NWRITERS; i++) {
		if (writers[i].fn && writers[i].fn->handler == pfs_writer)
			writers[i].fn->handler = writers[i].orig;
		writers[i].fn = NULL;
	}
	for (size_t i = 0; i < NINI; i++) {
		if (ini_hooks[i].entry && ini_hooks[i].entry->on_modify == pfs_ini_modify)
			ini_hooks[i].entry->on_modify = ini_hooks[i].orig;
		ini_hooks[i].entry = NULL;
	}
}

/* ---- the root's file system ---- */

#define FUSE_SUPER_MAGIC 0x65735546

/* What stops the writes no hook sees (SQLite's ATTACH and VACUUM INTO, FFI, a child process):
 * a read-only file system or the pressfs mount, or nothing. */
const char *pfs_root_fs_state(void)
{
	struct statvfs sv;
	struct statfs sf;
	const char *root = PFS_G(root).s;

	if (!root)
		return "(no root)";
	if (statvfs(root, &sv) != 0 || statfs(root, &sf) != 0)
		return "unknown (statfs failed)";
	if (sv.f_flag & ST_RDONLY)
		return "read-only";
	if (sf.f_type == FUSE_SUPER_MAGIC)
		return "a FUSE mount (the pressfs overlay judges every write)";
	return "writable: writes outside PHP's file functions are not judged (docs/SECURITY.md)";
}

/* Said once, in the server's log, when the root is a plain writable directory: once per process
 * tree (the counters are shared by the workers the master forks), not by every worker. */
void pfs_root_fs_check(void)
{
	static bool said;
	const char *state;

	if (said || !PFS_G(active) || !sapi_module.name || strcmp(sapi_module.name, "cli") == 0)
		return;
	said = true;
	state = pfs_root_fs_state();
	if (strncmp(state, "writable", 8) == 0 &&
	    __atomic_exchange_n(&pfs_counters->root_warned, 1, __ATOMIC_RELAXED) == 0)
		php_log_err_with_severity(
		    "pressfs: warning: pressfs.root is on a writable file system that is not a "
		    "pressfs mount: SQLite's ATTACH, FFI and other writers PHP's hooks cannot see "
		    "reach it unjudged; mount it read-only (see docs/SECURITY.md)",
		    LOG_WARNING);
}
