/* classes.h - the one room that judges a write: for a path and an operation, allowed or not,
 * which class, which backend, which errno.  Every operation that creates, moves, changes or
 * publishes a name asks classes_judge (through classes_check, which adds the mount's facts and
 * the log); nothing else in the daemon reads the policy.
 *
 * classes_judge is a pure function of the policy, the mount's backends and what the caller
 * knows of the node: no I/O, no lock, no FUSE, no Redis (tests/unit/test_classes.c). */
#ifndef PRESSFS_OVERLAY_CLASSES_H
#define PRESSFS_OVERLAY_CLASSES_H

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

enum cls_op {
	CLS_CREATE,	    /* a new file (O_CREAT) */
	CLS_MKDIR,	    /* a new directory */
	CLS_SYMLINK,	    /* a new symlink */
	CLS_LINK,	    /* a hard link */
	CLS_REMOVE,	    /* unlink, rmdir */
	CLS_RENAME_FILE,    /* PATH is the destination, facts.from the source */
	CLS_RENAME_DIR,	    /* the same for a directory; what it carries is judged entry by... */
	CLS_RENAME_CARRIED, /* ...entry: PATH where the entry lands, facts.from where it stood */
	CLS_COPY_UP,	    /* a lower file or directory gets its upper copy */
	CLS_SETATTR,	    /* chmod, chown, utimes, truncate */
	CLS_OPEN_WRITE,	    /* open(2) for writing or with O_TRUNC */
	CLS_COMMIT,	    /* a file's content is published at close */
	CLS_OP_COUNT,
};

enum cls_backend {
	CLS_NOWHERE = 0,
	CLS_STORE, /* Redis: names, attributes, and the content of shared files */
	CLS_POOL,  /* memcached holds the content, Redis the name */
	CLS_LOCAL, /* this peer's local= directory */
};

/* What the mount has. */
struct cls_mount {
	bool pool;  /* cache= given */
	bool local; /* local= given */
};

/* What the caller knows of the node; zero for "no such fact". */
struct cls_facts {
	const char *from; /* renames: the source path (FROMLEN bytes) */
	size_t fromlen;
	bool exists;	    /* remove: something stands at PATH */
	bool in_local;	    /* the local directory holds the entry (for renames: the source) */
	bool dst_exists;    /* renames: the destination exists... */
	bool dst_in_local;  /* ...in the local directory */
	char committed_cls; /* commit: the content class the file was opened with ('s', 'c') */
	bool carried;	    /* copy-up: part of a directory rename whose every entry was judged
			     * with CLS_RENAME_CARRIED; only its class is asked */
	bool is_dir;	    /* copy-up, setattr, carried entries: the entry is a directory, which
			     * no code-name rule refuses (see writable_at) */
};

/* Why a verdict was reached, for the log (classes_check says each once or at debug level). */
enum cls_note {
	CLS_NOTE_NONE = 0,
	CLS_NOTE_REFUSED,	  /* no rule makes it writable, or a deny rule */
	CLS_NOTE_LOCAL_NO_DIR,	  /* a local-class path, and the mount has no local= */
	CLS_NOTE_POOL_AS_SHARED,  /* a cache-class path stored as shared: no cache= pool */
	CLS_NOTE_CARRIED_REFUSED, /* a directory rename would carry this where no write goes */
	CLS_NOTE_CODE,		  /* a code name (policy_code_name) its rule grants no +code */
};

struct cls_verdict {
	int err;			/* 0, or -EROFS, -EXDEV, -EPERM */
	enum policy_class cls;		/* the class at PATH */
	enum cls_backend backend;	/* where the write goes when allowed */
	char store_cls;			/* content class letter for the store: 's' or 'c' */
	enum cls_note note;		/* what to log */
	const struct policy_rule *rule; /* the rule at PATH, or NULL */
	bool at_from;			/* renames: it is the source that was refused */
};

/* Judge OP at PATH (LEN bytes, absolute, normalised).  Returns v->err. */
int classes_judge(const struct policy *p, const struct cls_mount *m, enum cls_op op,
		  const char *path, size_t len, const struct cls_facts *f, struct cls_verdict *v);

/* What a path is to readers, from the policy: bits of enum cls_view, and its class. */
enum cls_view {
	CLS_VIEW_WRITABLE = 1 << 0,	/* its class takes writes */
	CLS_VIEW_LOCAL = 1 << 1,	/* class local, and the mount has a local directory */
	CLS_VIEW_STATIC = 1 << 2,	/* no upper entry can ever exist here */
	CLS_VIEW_STATIC_BELOW = 1 << 3, /* ...nor anywhere below */
};
unsigned classes_view(const struct policy *p, const struct cls_mount *m, const char *path,
		      size_t len, enum policy_class *cls);

const char *classes_op_name(enum cls_op op);

/* The mode bits a file in a writable class keeps of MODE: never setuid nor setgid (a planted
 * file must not become a program that runs as its owner, whatever the mount's options).
 * Directories keep theirs (setgid there only passes the group on). */
/* (The store cannot tell a bit pressfs wrote from one planted in Redis, and a dump or an
 * export would carry it where it counts.  A directory of the local class is a real directory
 * and keeps its setgid, for group inheritance; the store's never do.) */
static inline unsigned classes_file_mode(unsigned mode)
{
	return mode & 01777;
}

/* --- the mount's side (classes.c, below the pure part) --- */
struct pfs;
/* classes_judge with the mount's backends, saying in the log what it refused (once for what
 * concerns every such write).  Returns v->err. */
int classes_check(struct pfs *fs, enum cls_op op, const char *path, size_t len,
		  const struct cls_facts *f, struct cls_verdict *v);
/* What kind of store entry is asked about. */
enum cls_entry { CLS_ENTRY_FILE, CLS_ENTRY_DIR, CLS_ENTRY_WHITEOUT };
/* May the store's entry at PATH be served?  Only where the policy would have let it be made:
 * a file or symlink where policy_judge_write allows it, a directory in a writable class or
 * above one (an upper copy of an image directory), a whiteout in a writable class.  Pure,
 * like classes_judge. */
bool classes_servable(const struct policy *p, const char *path, size_t len, enum cls_entry e);
/* classes_servable for the mount: a refused entry is counted and said once per path. */
bool classes_serve_entry(struct pfs *fs, const char *path, size_t len, enum cls_entry e);
/* The node flags a path gets (N_STATIC, N_STATIC_BELOW, N_WRITABLE, N_LOCAL), and its class. */
unsigned classes_node_flags(struct pfs *fs, const char *path, size_t len, enum policy_class *cls);

#endif
