/* classes.c - the one place a write is judged (see classes.h): the pure judgement first, then
 * the mount's side of it (its backends, and saying what was refused in the log). */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "hash.h"
#include "overlay/classes.h"
#include "overlay/node.h"
#include "stats.h"

static const char *const op_names[CLS_OP_COUNT] = {
    [CLS_CREATE] = "create",	     [CLS_MKDIR] = "mkdir",
    [CLS_SYMLINK] = "symlink",	     [CLS_LINK] = "link",
    [CLS_REMOVE] = "remove",	     [CLS_RENAME_FILE] = "rename",
    [CLS_RENAME_DIR] = "rename-dir", [CLS_RENAME_CARRIED] = "rename-carried",
    [CLS_COPY_UP] = "copy-up",	     [CLS_SETATTR] = "setattr",
    [CLS_OPEN_WRITE] = "open-write", [CLS_COMMIT] = "commit",
};

const char *classes_op_name(enum cls_op op)
{
	return op < CLS_OP_COUNT ? op_names[op] : "?";
}

static bool is_local(const struct policy *p, const struct cls_mount *m, const char *path,
		     size_t len)
{
	return m->local && policy_class_of(p, path, len) == POLICY_LOCAL;
}

static bool is_cache(const struct policy *p, const char *path, size_t len)
{
	return policy_class_of(p, path, len) == POLICY_CACHE;
}

/* May anything be written at PATH?  Fills the class, the rule and the backend its class has.
 * NAME: the operation makes or publishes a file or symlink at PATH, so its last name must be
 * no code name (policy_code_name) unless the rule grants +code.  Directories are not asked: PHP
 * and Apache execute files, and a directory named x.php is how page caches keep the pages of
 * .php URLs (cache/supercache/HOST/x.php/index.html). */
static int writable_at(const struct policy *p, const struct cls_mount *m, const char *path,
		       size_t len, bool name, struct cls_verdict *v)
{
	const struct policy_rule *r;
	int code = policy_judge_write(p, path, len, &r);

	v->rule = r;
	v->cls = r ? r->cls : POLICY_NONE;
	if (r && r->cls == POLICY_LOCAL && !m->local) {
		/* Without a local directory such a write has nowhere to go: never let it reach
		 * the shared store instead. */
		v->note = CLS_NOTE_LOCAL_NO_DIR;
		return v->err = -EROFS;
	}
	if (!r || !policy_class_writable(r->cls)) {
		v->note = CLS_NOTE_REFUSED;
		return v->err = -EROFS;
	}
	if (name && code) {
		v->note = CLS_NOTE_CODE; /* the code-name wall */
		return v->err = -EROFS;
	}
	if (r->cls == POLICY_CACHE && !m->pool)
		v->note = CLS_NOTE_POOL_AS_SHARED;
	v->backend = r->cls == POLICY_LOCAL		 ? CLS_LOCAL
		     : r->cls == POLICY_CACHE && m->pool ? CLS_POOL
							 : CLS_STORE;
	v->store_cls = v->backend == CLS_POOL ? 'c' : 's';
	return 0;
}

/* A rename from F->from to PATH, once both paths were found writable. */
static int judge_rename(const struct policy *p, const struct cls_mount *m, const char *path,
			size_t len, const struct cls_facts *f, struct cls_verdict *v)
{
	bool src_local = is_local(p, m, f->from, f->fromlen), dst_local = is_local(p, m, path, len);

	if (f->in_local && dst_local && (!f->dst_exists || f->dst_in_local)) {
		v->backend = CLS_LOCAL; /* within the local directory: its file system does it */
		return 0;
	}
	if (f->in_local || f->dst_in_local)
		return v->err = -EXDEV; /* between the local directory and the store */
	if (src_local != dst_local)
		return v->err = -EXDEV;
	if (m->pool && is_cache(p, f->from, f->fromlen) != is_cache(p, path, len))
		return v->err =
			   -EXDEV; /* memcached content must not turn durable, nor the reverse */
	v->backend = CLS_STORE;
	return 0;
}

/* An entry a directory rename carries from F->from to PATH: it must be writable where it
 * lands, and stay with its backend. */
static int judge_carried(const struct policy *p, const struct cls_mount *m, const char *path,
			 size_t len, const struct cls_facts *f, struct cls_verdict *v)
{
	enum policy_class was = policy_class_of(p, f->from, f->fromlen);
	int code = policy_judge_write(p, path, len, &v->rule);

	v->cls = v->rule ? v->rule->cls : POLICY_NONE;
	if (!policy_class_writable(v->cls)) {
		v->note = CLS_NOTE_CARRIED_REFUSED;
		return v->err = -EROFS;
	}
	if (code && !f->is_dir) {
		v->note = CLS_NOTE_CODE;
		return v->err = -EROFS;
	}
	if (m->pool && (was == POLICY_CACHE) != (v->cls == POLICY_CACHE))
		return v->err = -EXDEV;
	if (m->local && (was == POLICY_LOCAL) != (v->cls == POLICY_LOCAL))
		return v->err = -EXDEV; /* the store holds nothing of the local class */
	v->backend = v->cls == POLICY_LOCAL ? CLS_LOCAL : CLS_STORE;
	return 0;
}

/* Does OP make or publish a file or symlink name, so the code-name wall judges it?  A removal
 * makes none (a planted x.php may always go), nor does a directory. */
static bool makes_name(enum cls_op op, const struct cls_facts *f)
{
	switch (op) {
	case CLS_CREATE:
	case CLS_SYMLINK:
	case CLS_OPEN_WRITE:
		return true;
	case CLS_COPY_UP:
	case CLS_SETATTR:
		return !f->is_dir;
	default:
		return false;
	}
}

/* One piece: every operation's rule is a case of one switch, read top to bottom. */
int classes_judge(const struct policy *p, const struct cls_mount *m, enum cls_op op,
		  const char *path, size_t len, const struct cls_facts *f, struct cls_verdict *v)
{
	static const struct cls_facts none;

	memset(v, 0, sizeof(*v));
	if (!f)
		f = &none;
	switch (op) {
	case CLS_LINK:
		/* PATH the new name, F->from the file's: one class, and a writable one at both
		 * (the file's attributes change: its link count).  The read-only tree, the local
		 * directory and memcached's files are other file systems to a link. */
		if (!f->from)
			return v->err = -EINVAL;
		if (writable_at(p, m, f->from, f->fromlen, false, v))
			return v->err = -EXDEV;
		if (writable_at(p, m, path, len, true, v)) /* a new name: the code-name wall too */
			return v->err;
		if (f->in_local && is_local(p, m, path, len)) {
			v->backend =
			    CLS_LOCAL; /* within the local directory: its file system does it */
			return 0;
		}
		if (f->in_local || is_local(p, m, f->from, f->fromlen) ||
		    is_local(p, m, path, len) ||
		    policy_class_of(p, f->from, f->fromlen) != policy_class_of(p, path, len))
			return v->err = -EXDEV;
		if (m->pool && is_cache(p, path, len))
			return v->err = -EPERM; /* a name memcached may take away alone */
		v->backend = CLS_STORE;
		v->store_cls = 's';
		return 0;
	case CLS_RENAME_CARRIED:
		return judge_carried(p, m, path, len, f, v);
	case CLS_COMMIT:
		/* Judged again at the path the file has now (a directory rename may have moved
		 * it since its open), and its content goes where its open chose. */
		if (writable_at(p, m, path, len, true, v))
			return v->err;
		v->store_cls = f->committed_cls == 'c' ? 'c' : 's';
		v->backend = v->store_cls == 'c' ? CLS_POOL : CLS_STORE;
		return 0;
	case CLS_COPY_UP:
		if (!f->carried)
			break;
		v->rule = policy_match(p, path, len);
		v->cls = policy_class_of(p, path, len);
		v->backend = v->cls == POLICY_CACHE && m->pool ? CLS_POOL : CLS_STORE;
		v->store_cls = v->backend == CLS_POOL ? 'c' : 's';
		return 0;
	case CLS_RENAME_FILE:
	case CLS_RENAME_DIR:
		if (!f->from)
			return v->err = -EINVAL;
		if (writable_at(p, m, f->from, f->fromlen, false, v)) {
			v->at_from = true;
			return v->err;
		}
		{
			enum cls_note src_note = v->note;

			if (writable_at(p, m, path, len, op == CLS_RENAME_FILE, v))
				return v->err;
			if (!v->note)
				v->note = src_note;
		}
		return judge_rename(p, m, path, len, f, v);
	default:
		break;
	}
	if (op >= CLS_OP_COUNT)
		return v->err = -EINVAL;
	if (writable_at(p, m, path, len, makes_name(op, f), v))
		return v->err;
	switch (op) {
	case CLS_MKDIR:
		if (v->backend == CLS_POOL)
			v->backend = CLS_STORE; /* a directory is names only */
		v->store_cls = 's';
		break;
	case CLS_SYMLINK:
		if (v->backend == CLS_LOCAL)
			return v->err = -EPERM; /* no symlink is ever made in the local directory */
		v->backend = CLS_STORE;
		v->store_cls = 's';
		break;
	case CLS_REMOVE:
		/* A lower entry in a local area: no peer may hide it alone. */
		if (v->backend == CLS_LOCAL && f->exists && !f->in_local)
			return v->err = -EROFS;
		break;
	case CLS_COPY_UP:
	case CLS_SETATTR:
	case CLS_OPEN_WRITE:
		/* What the local directory does not hold has its upper copy in the store. */
		if (v->backend == CLS_LOCAL && !f->in_local) {
			v->backend = CLS_STORE;
			v->store_cls = 's';
		}
		break;
	default:
		break;
	}
	return 0;
}

bool classes_servable(const struct policy *p, const char *path, size_t len, enum cls_entry e)
{
	switch (e) {
	case CLS_ENTRY_DIR:
		return policy_class_writable(policy_class_of(p, path, len)) ||
		       policy_may_change_below(p, path, len);
	case CLS_ENTRY_WHITEOUT:
		return policy_class_writable(policy_class_of(p, path, len));
	default:
		return policy_judge_write(p, path, len, NULL) == 0; /* (writable, and no code) */
	}
}

unsigned classes_view(const struct policy *p, const struct cls_mount *m, const char *path,
		      size_t len, enum policy_class *cls)
{
	enum policy_class c = policy_class_of(p, path, len);
	unsigned view = 0;

	if (policy_class_writable(c))
		view |= CLS_VIEW_WRITABLE;
	if (c == POLICY_LOCAL && m->local)
		view |= CLS_VIEW_LOCAL;
	if (!policy_may_change(p, path, len))
		view |= CLS_VIEW_STATIC;
	if (!policy_tree_may_change(p, path, len))
		view |= CLS_VIEW_STATIC_BELOW;
	if (cls)
		*cls = c;
	return view;
}

/* --- the mount's side ------------------------------------------------------------------ */

static void mount_facts(const struct pfs *fs, struct cls_mount *m)
{
	m->pool = fs->pool != NULL;
	m->local = fs->local_fd >= 0;
}

/* PATH (LEN bytes) for a log line: names are any bytes but '/' and NUL, and whoever chose
 * them (a visitor naming an upload, a write into Redis) must not forge lines of the log. */
static const char *printable(const char *path, size_t len, char *buf, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < len && o + 5 < size; i++) {
		unsigned char c = (unsigned char)path[i];

		if (c < 0x20 || c == 0x7f || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		} else {
			buf[o++] = (char)c;
		}
	}
	buf[o] = '\0';
	return buf;
}

/* Say once what happens to every such write. */
static bool first_time(bool *said)
{
	return !__atomic_exchange_n(said, true, __ATOMIC_RELAXED);
}

int classes_check(struct pfs *fs, enum cls_op op, const char *path, size_t len,
		  const struct cls_facts *f, struct cls_verdict *v)
{
	struct cls_mount m;
	const char *at;

	mount_facts(fs, &m);
	classes_judge(fs->policy, &m, op, path, len, f, v);
	if (v->err == -EROFS)
		stats_refusal(v->cls, v->rule ? v->rule->line : 0);
	at = v->at_from ? f->from : path;
	switch (v->note) {
	case CLS_NOTE_LOCAL_NO_DIR:
		if (first_time(&fs->local_said))
			log_msg(LOG_LVL_WARN,
				"writes to local-class paths (first: %s, rule line %u) "
				"are refused: the mount has no local=DIR",
				at, v->rule ? v->rule->line : 0);
		break;
	case CLS_NOTE_POOL_AS_SHARED:
		if (first_time(&fs->pool_as_shared_said))
			log_msg(LOG_LVL_INFO,
				"cache-class paths are stored as shared: no cache= pool "
				"given (first: %s)",
				at);
		break;
	case CLS_NOTE_REFUSED:
		log_msg(LOG_LVL_DEBUG, "refused write to %s (%s)", at,
			v->rule ? "denied by the policy" : "no rule makes it writable");
		break;
	case CLS_NOTE_CODE: {
		char shown[4 * PATH_MAX];

		log_msg(LOG_LVL_INFO,
			"refused %s of %s: a name PHP or the web server runs or honours, and "
			"rule line %u grants no +code",
			classes_op_name(op), printable(at, strlen(at), shown, sizeof(shown)),
			v->rule ? v->rule->line : 0);
		break;
	}
	case CLS_NOTE_CARRIED_REFUSED:
		log_msg(LOG_LVL_INFO,
			"rename refused: %s would be moved to %s, where the policy "
			"takes no writes",
			f && f->from ? f->from : "?", path);
		break;
	default:
		break;
	}
	if (op == CLS_COMMIT && v->err) {
		char shown[4 * PATH_MAX];

		log_msg(LOG_LVL_WARN,
			"close of %s refused (%s): the file was moved since its open to where "
			"the policy takes no such file; its data is not published",
			printable(path, len, shown, sizeof(shown)), strerror(-v->err));
	}
	return v->err;
}

/* Paths whose refusal was said, by hash: a bounded table, so that a store full of planted
 * entries costs a few kilobytes and a log line each (until it is full: then at debug level).
 * One mount a process, like stats.c's counters.  A colliding name only loses its log line: it
 * is refused and counted all the same. */
#define SAID_SLOTS 1024
static uint64_t said_paths[SAID_SLOTS];

static bool first_time_path(const char *path, size_t len)
{
	uint64_t h = fnv1a_64(path, len) | 1; /* 0 marks a free slot */

	for (size_t i = 0, at = h % SAID_SLOTS; i < 16; i++, at = (at + 1) % SAID_SLOTS) {
		uint64_t cur = __atomic_load_n(&said_paths[at], __ATOMIC_RELAXED);

		if (cur == h)
			return false;
		if (!cur && __atomic_compare_exchange_n(&said_paths[at], &cur, h, false,
							__ATOMIC_RELAXED, __ATOMIC_RELAXED))
			return true;
		if (cur == h)
			return false;
	}
	return false;
}

bool classes_serve_entry(struct pfs *fs, const char *path, size_t len, enum cls_entry e)
{
	char shown[4 * PATH_MAX];

	if (classes_servable(fs->policy, path, len, e))
		return true;
	stats_event(EV_REFUSED_ENTRY);
	log_msg(first_time_path(path, len) ? LOG_LVL_WARN : LOG_LVL_DEBUG,
		"the store holds %s, which the policy refuses there: not served (was it written "
		"by something else than pressfs?)",
		printable(path, len, shown, sizeof(shown)));
	return false;
}

unsigned classes_node_flags(struct pfs *fs, const char *path, size_t len, enum policy_class *cls)
{
	struct cls_mount m;
	unsigned view, flags = 0;

	mount_facts(fs, &m);
	view = classes_view(fs->policy, &m, path, len, cls);
	if (view & CLS_VIEW_WRITABLE)
		flags |= N_WRITABLE;
	if (view & CLS_VIEW_LOCAL)
		flags |= N_LOCAL;
	if (view & CLS_VIEW_STATIC)
		flags |= N_STATIC;
	if (view & CLS_VIEW_STATIC_BELOW)
		flags |= N_STATIC_BELOW;
	return flags;
}
