/* classes.c - the one place a write is judged (see classes.h): the pure judgement first, then
 * the mount's side of it (its backends, and saying what was refused in the log). */
#include <errno.h>
#include <string.h>

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

/* May anything be written at PATH?  Fills the class, the rule and the backend its class has. */
static int writable_at(const struct policy *p, const struct cls_mount *m, const char *path,
		       size_t len, struct cls_verdict *v)
{
	const struct policy_rule *r = policy_match(p, path, len);

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
	if (r->cls == POLICY_CACHE && !m->pool)
		v->note = CLS_NOTE_POOL_AS_SHARED;
	v->backend = r->cls == POLICY_LOCAL		 ? CLS_LOCAL
		     : r->cls == POLICY_CACHE && m->pool ? CLS_POOL
							 : CLS_STORE;
	v->store_cls = v->backend == CLS_POOL ? 'c' : 's';
	/* The code-name wall (refusing names PHP would run unless a rule grants code) is one
	 * check here, for the operations that make or publish a name. */
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

	v->rule = policy_match(p, path, len);
	v->cls = policy_class_of(p, path, len);
	if (!policy_class_writable(v->cls)) {
		v->note = CLS_NOTE_CARRIED_REFUSED;
		return v->err = -EROFS;
	}
	if (m->pool && (was == POLICY_CACHE) != (v->cls == POLICY_CACHE))
		return v->err = -EXDEV;
	if (m->local && (was == POLICY_LOCAL) != (v->cls == POLICY_LOCAL))
		return v->err = -EXDEV; /* the store holds nothing of the local class */
	v->backend = v->cls == POLICY_LOCAL ? CLS_LOCAL : CLS_STORE;
	return 0;
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
		return v->err = -EPERM; /* the store has no hard links */
	case CLS_RENAME_CARRIED:
		return judge_carried(p, m, path, len, f, v);
	case CLS_COMMIT:
		/* Content goes where its open chose.  (A commit is not judged again at the path
		 * the file has now: the security work changes this case.) */
		v->rule = policy_match(p, path, len);
		v->cls = policy_class_of(p, path, len);
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
		if (writable_at(p, m, f->from, f->fromlen, v)) {
			v->at_from = true;
			return v->err;
		}
		{
			enum cls_note src_note = v->note;

			if (writable_at(p, m, path, len, v))
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
	if (writable_at(p, m, path, len, v))
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

unsigned classes_view(const struct policy *p, const struct cls_mount *m, const char *path,
		      size_t len, enum policy_class *cls)
{
	enum policy_class c = policy_class_of(p, path, len);
	unsigned view = 0;

	if (policy_class_writable(c))
		view |= CLS_VIEW_WRITABLE;
	if (c == POLICY_LOCAL && m->local)
		view |= CLS_VIEW_LOCAL;
	if (!policy_may_change(p, path, len)) {
		view |= CLS_VIEW_STATIC;
		if (!policy_may_change_below(p, path, len))
			view |= CLS_VIEW_STATIC_BELOW;
	}
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
	case CLS_NOTE_CARRIED_REFUSED:
		log_msg(LOG_LVL_INFO,
			"rename refused: %s would be moved to %s, where the policy "
			"takes no writes",
			f && f->from ? f->from : "?", path);
		break;
	default:
		break;
	}
	return v->err;
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
