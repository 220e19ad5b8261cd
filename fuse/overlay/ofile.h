/* ofile.h - a file open for writing on this peer: its content staged in a temporary file and
 * published to the store in one atomic commit (the state machine of ofile.c).
 *
 * All handles of one file on this peer share one struct ofile (node->of), so that what one
 * process writes another on the same peer reads at once; other peers see it after the close
 * that commits it (close-to-open).  An O_APPEND-only change is committed as an append at the
 * store's current end, so appends from several peers never overwrite each other. */
#ifndef PRESSFS_OVERLAY_OFILE_H
#define PRESSFS_OVERLAY_OFILE_H

#include <sys/types.h>

#include "overlay/node.h"

enum chunk_state {
	CH_BASE = 0, /* the base (store chunk or lower file) holds it; nothing staged */
	CH_STAGED,   /* staged copy equals the base: read it locally */
	CH_DIRTY,    /* staged copy is newer than the base: upload on commit */
};

/* nopen is under fs->lock (it decides node->of's lifetime); the rest under `lock`, which is
 * taken before fs->lock, never while holding it, and is held across a commit's network calls. */
struct ofile {
	pthread_mutex_t lock;
	int nopen;
	int fd;		/* staging file (O_TMPFILE), -1 until needed */
	uint64_t size;	/* the file's size as this node sees it */
	uint8_t *state; /* enum chunk_state per chunk */
	size_t nstate;
	bool base_lower; /* base is the lower file: the first commit copies it up */
	int lower_fd;
	struct store_attr base; /* base is this store file (when !base_lower && !pending) */
	bool pending;		/* created here, not in the store until the first commit */
	uint64_t ino; /* pending: the store number reserved for it (its st_ino), 0 if none */
	bool dirty;
	bool append_only; /* every change since the base was an append at its end */
	bool o_append;	  /* ... and every write came through an O_APPEND handle */
	char cls;	  /* where the content lives: 's' Redis, 'c' memcached */
	uint64_t base_size;
	uint32_t mode, uid, gid;
	int64_t mtime_ns;
};

/* A new pending file (created here) of MODE, UID, GID and content class CLS, open once;
 * NULL when out of memory. */
struct ofile *of_new_pending(mode_t mode, uid_t uid, gid_t gid, char cls);
/* N's shared write state, made from the file as the layers hold it now.  Takes one open count;
 * drop it with of_put. */
int of_get(struct pfs *fs, struct node *n, struct ofile **out);
/* Take one more open count of N's state, if it has one; NULL if not. */
struct ofile *of_ref(struct pfs *fs, struct node *n);
/* Drop an open count; the last one commits what is left and frees the state. */
int of_put(struct pfs *fs, struct node *n, struct ofile *of);
/* Drop the open count of a file that must leave nothing behind (a create that failed). */
void of_abandon(struct pfs *fs, struct node *n, struct ofile *of);

/* Under of->lock: */
ssize_t of_read(struct pfs *fs, struct ofile *of, char *buf, size_t len, uint64_t off);
ssize_t of_write(struct pfs *fs, struct ofile *of, const char *buf, size_t len, uint64_t off);
int of_resize(struct pfs *fs, struct ofile *of, uint64_t size);
int of_commit(struct pfs *fs, struct node *n, struct ofile *of);

/* Current size of N if this node has it open for writing, else -1. */
int64_t file_local_size(struct pfs *fs, struct node *n);
/* A file created on this node and not yet in the store (_locked: the caller holds fs->lock). */
bool file_pending(struct pfs *fs, struct node *n);
bool file_pending_locked(const struct node *n);
/* This node has N open for writing. */
bool file_open_here(struct pfs *fs, struct node *n);
/* Attributes of a pending file; -ENOENT if N is not one. */
int file_attr(struct pfs *fs, struct node *n, struct stat *st);
/* Commit what this node has written to N, if anything. */
int file_commit(struct pfs *fs, struct node *n);
/* Set the size of N (truncate(2) without a handle, or ftruncate through FH). */
int file_truncate(struct pfs *fs, struct node *n, struct fuse_file_info *fi, off_t size);

#endif
