/* include.c - the compile of PHP files that may change (the writable classes): refused unless
 * their rule grants code, and under opcache, which production runs with validate_timestamps=0,
 * invalidated first when changed here or on another node, so every node includes current bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "php.h"
#include "SAPI.h"
#include "zend_extensions.h"
#include "main/fopen_wrappers.h"

#include "php_pressfs.h"
#include "hash.h"
#include "route.h"

/* ---- what was last seen of each file, shared by the processes of a pool ----
 *
 * One 64-bit word per file: a tag of its name's hash (the top 24 bits) and 40 bits of a hash of
 * its identity (device, inode, size, mtime and ctime to the nanosecond) when it was last judged
 * current.  Words live in buckets of 8 (a cache line); a file's word is the first in its bucket
 * with its tag.  Mapped before php-fpm or Apache fork their workers, so opcache's shared memory
 * and this table have the same readers: when one worker has invalidated a changed file, the
 * others find the new identity here and use what opcache then holds, instead of invalidating it
 * again.  A missing or different word always means "invalidate": a word lost to a race or to
 * eviction costs one more recompile, never a stale script kept. */

#define SEEN_BUCKETS 1024
#define SEEN_WAYS    8
#define ID_BITS	     40
#define ID_MASK	     ((UINT64_C(1) << ID_BITS) - 1)
#define ID_ABSENT    0 /* the identity of a file that is not there */

static uint64_t *seen; /* SEEN_BUCKETS * SEEN_WAYS words, MAP_SHARED; NULL: not in use */

static inline uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

static uint64_t name_hash(const char *s, size_t len)
{
	return mix(fnv1a_64(s, len));
}

/* The identity of the file at WHERE, stat()ed now (the kernel keeps no attributes of writable
 * files, so this is fresh), or ID_ABSENT. */
static uint64_t identity_of(const char *where)
{
	struct stat st;
	uint64_t h;

	if (stat(where, &st) != 0)
		return ID_ABSENT;
	h = mix((uint64_t)st.st_dev ^ UINT64_C(0x9e3779b97f4a7c15));
	h = mix(h ^ (uint64_t)st.st_ino);
	h = mix(h ^ (uint64_t)st.st_size);
	h = mix(h ^ (uint64_t)st.st_mtim.tv_sec);
	h = mix(h ^ (uint64_t)st.st_mtim.tv_nsec);
	h = mix(h ^ (uint64_t)st.st_ctim.tv_sec);
	h = mix(h ^ (uint64_t)st.st_ctim.tv_nsec);
	h &= ID_MASK;
	return h == ID_ABSENT ? 1 : h;
}

static inline uint64_t *bucket_of(uint64_t name)
{
	return seen + (name & (SEEN_BUCKETS - 1)) * SEEN_WAYS;
}

static inline uint64_t tag_of(uint64_t name)
{
	uint64_t tag = name >> ID_BITS;

	return tag ? tag : 1; /* a word is never 0, which marks a free one */
}

/* Whether ID is what was last seen of the file NAME (a name_hash()). */
static bool seen_is(uint64_t name, uint64_t id)
{
	const uint64_t *b = bucket_of(name);
	uint64_t tag = tag_of(name);

	for (int i = 0; i < SEEN_WAYS; i++) {
		uint64_t w = __atomic_load_n(&b[i], __ATOMIC_ACQUIRE);

		if (w >> ID_BITS == tag)
			return (w & ID_MASK) == id;
	}
	return false;
}

/* Record ID as what was last seen of NAME: in its word, else in a free one, else in place of a
 * word that ID picks (a file evicted so is invalidated once more on its next include). */
static void seen_set(uint64_t name, uint64_t id)
{
	uint64_t *b = bucket_of(name), tag = tag_of(name), w = tag << ID_BITS | id;

	for (int i = 0; i < SEEN_WAYS; i++) {
		uint64_t old = __atomic_load_n(&b[i], __ATOMIC_ACQUIRE);

		if (old >> ID_BITS == tag) {
			__atomic_store_n(&b[i], w, __ATOMIC_RELEASE);
			return;
		}
	}
	for (int i = 0; i < SEEN_WAYS; i++) {
		uint64_t free_word = 0;

		if (__atomic_compare_exchange_n(&b[i], &free_word, w, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return;
	}
	__atomic_store_n(&b[id % SEEN_WAYS], w, __ATOMIC_RELEASE);
}

/* ---- hooks: the compiler above opcache, the path resolver below it ---- */

enum how {
	HOW_NONE = 0,	/* no opcache caching scripts: PHP compiles every include anyway */
	HOW_INVALIDATE, /* opcache_invalidate() a file that changed, then let opcache have it */
	HOW_UNCACHED,	/* opcache cannot be told to forget: compile these files without it */
};

static enum how how;
static const char *why_uncached; /* for php --ri, when how is HOW_UNCACHED */
static zend_function *invalidate_fn;
static const char *restrict_api; /* opcache.restrict_api, NULL when unset */

static zend_op_array *(*above)(zend_file_handle *fh, int type); /* opcache's compiler */
static zend_op_array *(*below)(zend_file_handle *fh, int type); /* what opcache wraps */
static zend_result (*below_open)(zend_file_handle *fh);		/* the opener opcache wraps */
static zend_string *(*below_resolve)(zend_string *name);	/* the resolver opcache wraps */
static zend_result (*prev_post_startup)(void);
static bool resolve_hooked;

/* opcache_invalidate() resolves the name it is given with the resolver it wrapped, which is
 * this one: while pressfs invalidates NAME, NAME is the answer, so that the entry opcache keeps
 * under that name is found even where realpath() cannot find the file (redirected to
 * pressfs.mount, or deleted). */
static zend_string *pfs_resolve_path(zend_string *name)
{
	zend_string *as = PFS_G(forget_as);

	if (UNEXPECTED(as != NULL) && zend_string_equals(name, as))
		return zend_string_copy(as);
	return below_resolve(name);
}

/* Whether opcache_invalidate() would refuse this request (opcache.restrict_api: the script
 * must lie under it), which it says with a warning the script has no business seeing. */
static bool api_restricted(void)
{
	const char *script = SG(request_info).path_translated;

	return restrict_api &&
	       (!script || strncmp(script, restrict_api, strlen(restrict_api)) != 0);
}

/* Tell opcache (and its file cache) to forget the script it holds under NAME. */
static bool invalidate(const char *name, size_t len)
{
	zval args[2], rv;
	bool ok;

	if (EG(exception))
		return false;
	ZVAL_STRINGL(&args[0], name, len);
	ZVAL_TRUE(&args[1]);
	ZVAL_UNDEF(&rv);
	PFS_G(forget_as) = Z_STR(args[0]);
	zend_call_known_function(invalidate_fn, NULL, NULL, &rv, 2, args, NULL);
	PFS_G(forget_as) = NULL;
	ok = Z_TYPE(rv) == IS_TRUE;
	zval_ptr_dtor(&rv);
	zval_ptr_dtor(&args[0]);
	return ok;
}

/* NAME (MAXPATHLEN bytes) := DIR + REL; false when it does not fit. */
static bool under(char *name, const struct pfs_dir *dir, const struct pfs_path *p)
{
	size_t rel = p->rel_len == 1 ? 0 : p->rel_len; /* the root itself */

	if (!dir->len || dir->len + rel >= MAXPATHLEN)
		return false;
	memcpy(name, dir->s, dir->len);
	memcpy(name + dir->len, p->rel, rel);
	name[dir->len + rel] = '\0';
	return true;
}

/* Forget P under every name opcache may keep it by: the name include gives it (expanded, or
 * kept by pressfs.mount's routing), and the same below the root as configured and as realpath()
 * spells it (include_once resolves symlinks).  false when opcache would not listen: the file
 * must then be compiled without it. */
static bool forget(const struct pfs_path *p)
{
	char alt[MAXPATHLEN];

	if (api_restricted() || !invalidate(p->abs, p->abs_len))
		return false;
	PFS_COUNT(invalidated);
	if (PFS_G(root_real).s != PFS_G(root).s) {
		if (under(alt, &PFS_G(root), p) && strcmp(alt, p->abs) != 0)
			invalidate(alt, strlen(alt));
		if (under(alt, &PFS_G(root_real), p) && strcmp(alt, p->abs) != 0)
			invalidate(alt, strlen(alt));
	}
	return true;
}

/* Compile FH with what opcache wraps, leaving opcache out.  opcache's include_once shortcut
 * may have "opened" the handle by naming the script it holds (type still FILENAME, with an
 * opened_path): that script is what must not be used, so the file is opened for real. */
static zend_op_array *compile_uncached(zend_file_handle *fh, int type)
{
	PFS_COUNT(uncached);
	if (fh->type == ZEND_HANDLE_FILENAME && fh->opened_path) {
		zend_string_release(fh->opened_path);
		fh->opened_path = NULL;
		if (below_open(fh) == FAILURE) {
			if (!EG(exception))
				zend_message_dispatcher(type == ZEND_REQUIRE
							    ? ZMSG_FAILED_REQUIRE_FOPEN
							    : ZMSG_FAILED_INCLUDE_FOPEN,
							ZSTR_VAL(fh->filename));
			return NULL;
		}
	}
	return below(fh, type);
}

/* Include P (served from WHERE) as it is now.  The file is judged before opcache looks it up
 * (invalidated first, then recorded, so that a worker finding the new identity recorded finds
 * the old script gone) and again once opcache has compiled or found it: a change in between
 * (another node publishing a new version while this one compiled the old) is invalidated at
 * once, so that what opcache keeps matches what the table says.  Only a request overlapping the
 * change itself may run the old version, as it would without opcache. */
static zend_op_array *compile_current(zend_file_handle *fh, int type, const struct pfs_path *p,
				      const char *where)
{
	uint64_t name = name_hash(p->abs, p->abs_len);
	uint64_t before, after;
	zend_op_array *op;

	if (how == HOW_UNCACHED)
		return compile_uncached(fh, type);
	before = identity_of(where);
	if (!seen_is(name, before)) {
		if (!forget(p))
			return compile_uncached(fh, type);
		seen_set(name, before);
	}
	op = above(fh, type);
	after = identity_of(where);
	if (after != before && forget(p))
		seen_set(name, after);
	return op;
}

/* The directories PHP searches for a name that is neither absolute nor ./ or ../ (include_path,
 * then the including script's own): whether any of them would give a file that may change.  No
 * file system access: PHP's own search (php_resolve_path()) runs only when one would. */
static bool searched_may_change(const char *name, struct pfs_path *p, char *where)
{
	const char *ip = PG(include_path), *end, *slash;
	zend_string *script = zend_is_executing() ? zend_get_executed_filename_ex() : NULL;
	char cand[MAXPATHLEN];
	zend_string *found;
	bool hit = false;

	for (; ip && *ip && !hit; ip = *end ? end + 1 : end) {
		end = strchr(ip, DEFAULT_DIR_SEPARATOR);
		end = end ? end : ip + strlen(ip);
		/* an entry naming another wrapper ("phar://...") holds no file of the root */
		if (end > ip && !memmem(ip, (size_t)(end - ip), "://", 3) &&
		    (size_t)snprintf(cand, sizeof(cand), "%.*s/%s", (int)(end - ip), ip, name) <
			sizeof(cand))
			hit = pfs_route_may_change(cand, strlen(cand), p, where);
	}
	if (!hit && script && (slash = strrchr(ZSTR_VAL(script), '/')) &&
	    (size_t)snprintf(cand, sizeof(cand), "%.*s/%s", (int)(slash - ZSTR_VAL(script)),
			     ZSTR_VAL(script), name) < sizeof(cand))
		hit = pfs_route_may_change(cand, strlen(cand), p, where);
	if (!hit || !(found = php_resolve_path(name, strlen(name), PG(include_path))))
		return false;
	hit = pfs_route_may_change(ZSTR_VAL(found), ZSTR_LEN(found), p, where);
	zend_string_release(found);
	return hit;
}

/* Whether the script FH names may change, with P and WHERE as pfs_route_may_change() sets them. */
static bool may_change(const zend_file_handle *fh, struct pfs_path *p, char *where)
{
	zend_string *zname = fh->opened_path ? fh->opened_path : fh->filename;
	const char *name;
	size_t len;

	if (!zname)
		return false;
	name = ZSTR_VAL(zname);
	len = ZSTR_LEN(zname);
	if (name[0] != '/' && name != pfs_strip_file_url(name)) {
		len -= (size_t)(pfs_strip_file_url(name) - name);
		name = pfs_strip_file_url(name);
	}
	if (name[0] == '/' ||
	    (name[0] == '.' && (name[1] == '/' || (name[1] == '.' && name[2] == '/'))))
		return pfs_route_may_change(name, len, p, where);
	/* another wrapper's URL; the CLI's standard input */
	if (strstr(name, "://") || fh->primary_script)
		return false;
	return searched_may_change(name, p, where);
}

/* The local file a wrapper PHP includes from without allow_url_include reads, for the wall:
 * "phar://F/entry", "zip://F#entry", "compress.zlib://F", "compress.bzip2://F" and
 * "php://filter/.../resource=F" (nested ones too).  NULL for a plain name or a remote URL. */
static const char *wrapped_file(const char *name, char *buf, size_t size)
{
	static const char *const local[] = {"phar://", "compress.zlib://", "compress.bzip2://",
					    "zip://"};
	bool found = false;

	for (int depth = 0; depth < 4; depth++) {
		const char *r, *hash;
		size_t i;

		if (strncasecmp(name, "php://filter/", 13) == 0 &&
		    (r = strstr(name, "resource="))) {
			name = r + 9;
			found = true;
			continue;
		}
		for (i = 0; i < sizeof(local) / sizeof(local[0]); i++)
			if (strncasecmp(name, local[i], strlen(local[i])) == 0)
				break;
		if (i == sizeof(local) / sizeof(local[0]))
			break;
		name += strlen(local[i]);
		found = true;
		if (i == 3 && (hash = strchr(name, '#'))) { /* zip://F#entry: the archive */
			snprintf(buf, size, "%.*s", (int)(hash - name), name);
			name = buf;
		}
	}
	return found && !strstr(name, "://") ? pfs_strip_file_url(name) : NULL;
}

/* The compile wall: no PHP file that lies where writes land (P may change) is compiled unless
 * the rule its own name matches takes writes and grants code.  Whatever put it there (an upload,
 * a race, a write outside PHP), it does not run.  true (refused, error raised) or false. */
static bool code_refused(const zend_file_handle *fh, const struct pfs_path *p, int type)
{
	const struct policy_rule *r = policy_match(PFS_G(policy), p->rel, p->rel_len);
	bool fatal = type == ZEND_REQUIRE || type == ZEND_REQUIRE_ONCE || fh->primary_script;
	char why[MAXPATHLEN + 256];

	if (r && policy_class_writable(r->cls) && r->code)
		return false;
	if (PFS_G(mode) == PFS_MODE_REPORT) {
		PFS_COUNT(code_reported);
		return false;
	}
	PFS_COUNT(code_refused);
	if (r && policy_class_writable(r->cls))
		snprintf(why, sizeof(why),
			 "%s line %u (%s %s) takes writes and does not grant code",
			 PFS_G(policy_path), r->line, r->pattern, policy_class_name(r->cls));
	else if (r)
		snprintf(why, sizeof(why),
			 "it lies below a writable rule of %s, and line %u (%s %s) grants no code",
			 PFS_G(policy_path), r->line, r->pattern, policy_class_name(r->cls));
	else
		snprintf(why, sizeof(why),
			 "it lies below a writable rule of %s, and no rule grants it code",
			 PFS_G(policy_path));
	/* as PHP fails a script it cannot open: a require (or the script itself) is fatal */
	zend_error(fatal ? E_COMPILE_ERROR : E_WARNING, "pressfs: %s not compiled: %s", p->rel,
		   why);
	return true;
}

static zend_op_array *pfs_compile_file(zend_file_handle *fh, int type)
{
	struct pfs_path p;
	char where[MAXPATHLEN];

	/* the hot path: code, in a directory no rule can change */
	if (!PFS_G(active))
		return above(fh, type);
	if (!may_change(fh, &p, where)) {
		char buf[MAXPATHLEN];
		const char *inner;

		/* a file read through a local wrapper (a phar disguised as a picture in uploads):
		 * judged by where it lies; opcache keeps it by its URL, left alone */
		if (!fh->filename || ZSTR_VAL(fh->filename)[0] == '/' ||
		    !(inner = wrapped_file(ZSTR_VAL(fh->filename), buf, sizeof(buf))) ||
		    !pfs_route_may_change(inner, strlen(inner), &p, where))
			return above(fh, type);
		return code_refused(fh, &p, type) ? NULL : above(fh, type);
	}
	if (code_refused(fh, &p, type))
		return NULL;
	if (how == HOW_NONE)
		return above(fh, type);
	return compile_current(fh, type, &p, where);
}

/* Without opcache: the compile wall alone, around PHP's own compiler. */
static void install_plain(void)
{
	if (zend_compile_file == pfs_compile_file)
		return;
	above = zend_compile_file;
	zend_compile_file = pfs_compile_file;
	how = HOW_NONE;
}

/* ---- installing: after opcache, whose compiler ours must wrap ---- */

static bool ini_on(const char *name)
{
	const char *v = zend_ini_string(name, strlen(name), 0);

	return v && (atoi(v) > 0 || !strcasecmp(v, "on") || !strcasecmp(v, "yes") ||
		     !strcasecmp(v, "true"));
}

/* Runs as the post-startup callback of the zend_extension registered below, i.e. around
 * opcache's (registered earlier): opcache's installs its compiler, resolver and opener, then
 * this one wraps the compiler. */
static zend_result pfs_post_startup(void)
{
	zend_op_array *(*compile)(zend_file_handle *, int) = zend_compile_file;
	zend_result (*open)(zend_file_handle *) = zend_stream_open_function;
	const char *ra;

	if (prev_post_startup) {
		zend_result (*cb)(void) = prev_post_startup;

		prev_post_startup = NULL;
		if (cb() != SUCCESS)
			return FAILURE;
	}
	if (zend_compile_file == compile || !zend_get_extension("Zend OPcache")) {
		/* opcache did not start (opcache.enable off, the CLI without enable_cli) */
		install_plain();
		return SUCCESS;
	}
	below = compile;
	below_open = open;
	above = zend_compile_file;
	zend_compile_file = pfs_compile_file;
	invalidate_fn = zend_hash_str_find_ptr(CG(function_table), ZEND_STRL("opcache_invalidate"));
	ra = zend_ini_string(ZEND_STRL("opcache.restrict_api"), 0);
	restrict_api = ra && *ra ? ra : NULL;
	if (ini_on("opcache.file_cache_only")) {
		how = HOW_UNCACHED;
		why_uncached = "compiled without opcache (opcache.file_cache_only cannot be told "
			       "to forget a file)";
	} else if (!invalidate_fn || !resolve_hooked) {
		how = HOW_UNCACHED;
		why_uncached = "compiled without opcache (opcache_invalidate() is not available)";
	} else {
		how = HOW_INVALIDATE;
	}
	return SUCCESS;
}

static int pfs_zend_startup(zend_extension *extension)
{
	prev_post_startup = zend_post_startup_cb;
	zend_post_startup_cb = pfs_post_startup;
	return SUCCESS;
}

/* Modules start before zend_extensions, and each zend_extension's post-startup callback runs
 * the one registered before it first: a zend_extension registered now, after opcache's, is the
 * only way for pressfs to see opcache's compiler installed (dd-trace-php does the same).  It
 * owns the module's DL handle from now on, since zend_extensions are unloaded last. */
static zend_extension pfs_zend_extension = {
    .name = "pressfs",
    .version = PHP_PRESSFS_VERSION,
    .author = "pressfs",
    .URL = "",
    .copyright = "the pressfs authors",
    .startup = pfs_zend_startup,
    .resource_number = -1,
};

void pfs_include_install(void)
{
	zend_module_entry *m;
	void *t;

	if (seen || zend_compile_file == pfs_compile_file)
		return;
	if (!zend_get_extension("Zend OPcache")) {
		install_plain(); /* PHP compiles what it includes every time: only the wall */
		return;
	}
	t = mmap(NULL, SEEN_BUCKETS * SEEN_WAYS * sizeof(uint64_t), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED) {
		install_plain();
		return;
	}
	seen = t;
	below_resolve = zend_resolve_path;
	zend_resolve_path = pfs_resolve_path;
	resolve_hooked = true;
	m = zend_hash_str_find_ptr(&module_registry, ZEND_STRL("pressfs"));
	zend_register_extension(&pfs_zend_extension, m ? m->handle : NULL);
	if (m)
		m->handle = NULL;
}

void pfs_include_uninstall(void)
{
	if (zend_compile_file == pfs_compile_file)
		zend_compile_file = above;
	if (resolve_hooked && zend_resolve_path == pfs_resolve_path) {
		zend_resolve_path = below_resolve;
		resolve_hooked = false;
	}
	how = HOW_NONE;
	if (seen)
		munmap(seen, SEEN_BUCKETS * SEEN_WAYS * sizeof(uint64_t));
	seen = NULL;
}

const char *pfs_include_state(void)
{
	switch (how) {
	case HOW_INVALIDATE:
		return "checked: a changed file is invalidated in opcache";
	case HOW_UNCACHED:
		return why_uncached;
	default:
		return "left to PHP (opcache is not caching scripts)";
	}
}
