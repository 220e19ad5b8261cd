/* store.h - the shared store: one site's upper layer kept in Redis (hiredis).
 *
 * The overlay above speaks in store inode numbers ("ino", 64-bit, 1 is the site's root
 * directory) and never builds a key itself; docs/FORMAT.md documents the keys this module
 * writes.  Every function is safe to call from any thread: each thread gets its own
 * connection, made on first use and re-made after an error.  Every function returns 0 (or a
 * documented non-negative value) or a negative errno; a Redis that cannot be reached or does
 * not answer within the configured timeout gives -EIO quickly, never a hang, and the reason is
 * logged once per outage.  Writing to a connection the server has closed raises SIGPIPE: the
 * process must ignore it (fuse_set_signal_handlers does). */
#ifndef PRESSFS_STORE_H
#define PRESSFS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define STORE_FORMAT_VERSION 1
#define STORE_ROOT_INO	     1
#define STORE_CHUNK_SIZE     (1024 * 1024) /* file offset n*CHUNK lives in chunk n of the list */
#define STORE_SIZE_MAX	     (1ull << 53)  /* the largest file size the store takes or serves */

struct store;

/* Where the store's messages go (outages, refused replies, format problems): LEVEL is a
 * syslog priority (LOG_ERR, LOG_WARNING, LOG_NOTICE), MSG one line without a newline, valid
 * only during the call.  Called from any thread.  NULL means stderr. */
typedef void (*store_log_fn)(void *arg, int level, const char *msg);

struct store_config {
	const char *url;	/* redis://[user:password@]host:port[/db], unix:///path, or
				 * redis-sentinel://host:port[,host:port...]/MASTER[/db] */
	const char *user;	/* AUTH user instead of the URL's, when set (needs a password) */
	const char *password;	/* AUTH password instead of the URL's, when set; never logged */
	const char *site;	/* key prefix "pressfs:{SITE}:"; [A-Za-z0-9._-]{1,64} */
	const char *peer;	/* this mount's id, origin of its invalidation messages */
	unsigned timeout_ms;	/* connect and command timeout (default 2000) */
	unsigned retry_ms;	/* after a failure, fail at once for this long (default 500) */
	unsigned pending_ttl_s; /* uncommitted chunks expire after this (default 3600) */
	unsigned grace_ms;	/* replaced or freed chunks live on this long (default 60000)
				 * so that readers holding the old version can finish */
	bool allow_evicting;	/* open even when Redis may evict keys (maxmemory-policy other
				 * than noeviction): files may then vanish without a trace */
	bool durability_set;	/* the two below were given; else 1 replica, 1000 ms for a
				 * sentinel URL and no WAIT for the others */
	unsigned durability;	/* each change waits (WAIT) until this many replicas have it,
				 * else fails with -EIO: 0 for no WAIT */
	unsigned durability_timeout_ms; /* ... for at most this long (0: 1000) */
	store_log_fn log;		/* used from store_open on; NULL: stderr */
	void *log_arg;
};

/* Entry types, as stored in a directory. */
enum store_type {
	STORE_FILE = 'f',
	STORE_DIR = 'd',
	STORE_SYMLINK = 'l',
	STORE_WHITEOUT = 'w', /* hides a lower entry of the same name */
	STORE_FIFO = 'p',     /* the special files (mknod): a type, an rdev, no data */
	STORE_SOCK = 's',
	STORE_CHR = 'c',
	STORE_BLK = 'b',
};

struct store_attr {
	uint64_t ino;
	char type;     /* enum store_type, never STORE_WHITEOUT */
	char cls;      /* 's' shared, 'c' cache: which backend holds the content */
	bool opaque;   /* directory hides the lower directory of the same path */
	uint32_t mode; /* full st_mode, type bits included */
	uint32_t uid, gid;
	uint64_t size;	  /* files: bytes; symlinks: target length; dirs: 0 */
	uint64_t rdev;	  /* device nodes: the device number; 0 for the rest */
	int64_t mtime_ns; /* nanoseconds since the epoch */
	int64_t ctime_ns;
	int64_t atime_ns; /* as utimensat set it (has_atime); without it the atime is mtime_ns */
	bool has_atime;
	uint64_t version; /* changes whenever content or attributes change */
	uint32_t nchunks; /* files: number of entries in chunks */
	uint64_t *chunks; /* files: chunk ids, 0 for a hole; owned by the attr, see below */
	char *target;	  /* symlinks: NUL-terminated target; owned by the attr */
	uint32_t nlink;	  /* files and special files: how many entries name it (1 without
			   * hard links; directories: 0, their count is the overlay's) */
	bool unlinked;	  /* removed from its directory, freed after grace_ms: only
			   * getattr still finds it (st_nlink 0 for files kept open) */
	uint64_t lino;	  /* the lower tree's inode number of the file this is the copy-up
			   * of, which it keeps showing as st_ino; 0: none (field `lino`) */
};
/* Frees chunks and target (not the struct itself) and zeroes them.  Safe on a zeroed attr. */
void store_attr_release(struct store_attr *a);

struct store_dirent {
	char type;     /* enum store_type, STORE_WHITEOUT included */
	uint64_t ino;  /* 0 for a whiteout */
	uint64_t lino; /* the inode's `lino` (store_attr), 0 when it has none */
	size_t namelen;
	char *name; /* not NUL-safe: names are any bytes but '/' and NUL; NUL-terminated too */
};

/* Connect, check (or, on an empty site, write) the format version and create the root.
 * -EPROTO when the site holds another format version, -EIO when Redis cannot be reached,
 * -EINVAL for a bad url or site, -EPERM when Redis's maxmemory-policy may evict keys and
 * cfg->allow_evicting is not set (logged, saying so).  cfg's strings are copied. */
int store_open(const struct store_config *cfg, struct store **out);
void store_close(struct store *s);
/* Replace the logger given in the config; call it before other threads use the store. */
void store_set_logger(struct store *s, store_log_fn log, void *arg);
/* True while Redis is unreachable (an outage logged and not yet over); WHY gets its reason
 * ("" when up). */
bool store_down(struct store *s, char *why, size_t size);
/* How many names and records read from the store failed validation and were treated as
 * absent (docs/FORMAT.md, "Records read back"); the first is logged. */
uint64_t store_bad_records(struct store *s);
/* Last error text seen by this thread, for logs ("connection refused", "timeout", ...). */
const char *store_strerror(struct store *s);

/* Look NAME up in directory DIR.  Returns the entry type (STORE_FILE ... STORE_WHITEOUT) and,
 * unless a whiteout, fills *a (release it with store_attr_release).  -ENOENT: no entry;
 * -ESTALE: DIR itself no longer exists (the caller re-resolves it). */
int store_lookup(struct store *s, uint64_t dir, const char *name, size_t namelen,
		 struct store_attr *a);
/* Walk PATH ("/a/b", "/" is the root) from the root; *ino is the directory's inode, or 0 when
 * some component is absent, a whiteout or not a directory. */
int store_resolve_dir(struct store *s, const char *path, size_t len, uint64_t *ino);
/* The path from the root where directory DIR is now ("/a/b", "/" for the root), into BUF of
 * SIZE bytes; its length, -ENOENT when the store cannot tell (DIR gone, or made before the
 * store kept parents), -ENAMETOOLONG when it does not fit. */
int store_dir_path(struct store *s, uint64_t dir, char *buf, size_t size);
int store_getattr(struct store *s, uint64_t ino, struct store_attr *a); /* -ENOENT if gone */

/* Create NAME in DIR: a directory (mode has S_IFDIR), a symlink (S_IFLNK, target given) or an
 * empty file (S_IFREG).  An existing whiteout is replaced (a directory made over a whiteout is
 * opaque); any other existing entry gives -EEXIST.  cls is 's' or 'c'.  Fills *a. */
int store_create(struct store *s, uint64_t dir, const char *name, size_t namelen, uint32_t mode,
		 uint32_t uid, uint32_t gid, char cls, const char *target, struct store_attr *a);
/* Create the special file NAME in DIR (mode has S_IFIFO, S_IFSOCK, S_IFCHR or S_IFBLK; RDEV
 * kept for the devices), as store_create otherwise. */
int store_mknod(struct store *s, uint64_t dir, const char *name, size_t namelen, uint32_t mode,
		uint64_t rdev, uint32_t uid, uint32_t gid, char cls, struct store_attr *a);
/* A hard link: NAME in DIR (absent or a whiteout, else -EEXIST) becomes one more name of file
 * or special file INO, whose nlink grows.  -EPERM for a directory or a cache-class file; -ENOENT
 * when INO or DIR is gone.  Removing any name (unlink, rename over it, a publish replacing it)
 * takes one link; the last one frees the inode.  Fills *a. */
int store_link(struct store *s, uint64_t ino, uint64_t dir, const char *name, size_t namelen,
	       struct store_attr *a);
/* The upper copy of an existing lower directory: returns the inode of NAME in DIR, creating
 * it with the given attributes when absent.  -EEXIST if NAME is something other than a
 * directory (a whiteout included). */
int store_copyup_dir(struct store *s, uint64_t dir, const char *name, size_t namelen, uint32_t mode,
		     uint32_t uid, uint32_t gid, int64_t mtime_ns, uint64_t *ino);
/* The same, a new copy keeping LINO (the lower directory's inode number, 0: none) as its
 * `lino`, the st_ino it goes on showing wherever it is renamed to. */
int store_copyup_dir_as(struct store *s, uint64_t dir, const char *name, size_t namelen,
			uint32_t mode, uint32_t uid, uint32_t gid, int64_t mtime_ns, uint64_t lino,
			uint64_t *ino);

/* Store chunk data that no file refers to yet (pipelined; ids allocated here).  Such chunks
 * expire after pending_ttl_s unless a publish below takes them: data of an interrupted write
 * is reclaimed by Redis itself. */
int store_put_chunks(struct store *s, size_t n, const void *const *data, const size_t *len,
		     uint64_t *ids);

/* N fresh chunk ids, never handed out before, for content kept outside Redis (the cache
 * class's memcached pool). */
int store_alloc_ids(struct store *s, size_t n, uint64_t *ids);

/* Publish a file atomically, in one metadata commit: NAME in DIR becomes a new file with the
 * given content (chunks from store_put_chunks, 0 for holes), replacing an existing file,
 * symlink or whiteout (a directory gives -EISDIR).  The replaced file's chunks are freed after
 * grace_ms.  With MERGE, an existing regular file is kept and the new content is appended
 * to it instead (two nodes creating one log with O_APPEND).  Fills *a with the attributes of
 * the file the name now holds. */
int store_publish_new(struct store *s, uint64_t dir, const char *name, size_t namelen,
		      uint32_t mode, uint32_t uid, uint32_t gid, char cls, uint64_t size,
		      size_t nchunks, const uint64_t *chunks, bool merge, struct store_attr *a);
/* The same, the new inode numbered INO when that is non-zero: an id store_alloc_ids handed out
 * to this peer and used for nothing else (a file created here shows its number before its
 * first commit); an id the site never handed out, or one an inode already has, gets a new
 * number instead.  LINO, when non-zero, is kept as the inode's `lino`: the file is the copy-up
 * of the lower file of that number.  (A merge keeps the existing inode, its number and lino.) */
int store_publish_new_as(struct store *s, uint64_t dir, const char *name, size_t namelen,
			 uint32_t mode, uint32_t uid, uint32_t gid, char cls, uint64_t size,
			 size_t nchunks, const uint64_t *chunks, bool merge, uint64_t ino,
			 uint64_t lino, struct store_attr *a);
/* Either, published only while DIR still is the directory at DIRPATH from the root ("/a/b",
 * DIRPATHLEN bytes), where the caller judged the name: -EAGAIN when another peer moved it
 * meanwhile (the chunks stay the caller's, for its next try or to expire). */
int store_publish_new_at(struct store *s, uint64_t dir, const char *dirpath, size_t dirpathlen,
			 const char *name, size_t namelen, uint32_t mode, uint32_t uid,
			 uint32_t gid, char cls, uint64_t size, size_t nchunks,
			 const uint64_t *chunks, bool merge, uint64_t ino, uint64_t lino,
			 struct store_attr *a);
/* Delete chunks CHUNKS[0..NCHUNKS) a caller uploaded and will not publish (its publish was
 * refused before the store ran it, or answered -EAGAIN and is not tried again), now rather
 * than after pending_ttl_s.  Never for chunks a call that may have taken effect was given. */
void store_release_chunks(struct store *s, size_t nchunks, const uint64_t *chunks);

/* store_put_chunks for file content: N chunks of open file FD from offset OFF on, chunk i
 * LEN[i] bytes, sent to Redis from the page cache (sendfile), never through a buffer of
 * this process.  -ENODATA (nothing kept) when the file turned out shorter or unreadable. */
int store_put_file_chunks(struct store *s, int fd, uint64_t off, size_t n, const size_t *len,
			  uint64_t *ids);

/* Many new files in directory DIR at once, in one script call (`pressfs import`): each
 * store_import_file names a file and its content (chunks from store_put_chunks), which is
 * published as store_publish_new would, with its permissions, owner and mtime (class shared,
 * no merge).  DIRPATH is the path of DIR from the root where the caller judged the names
 * (NULL: not checked): -EAGAIN, nothing changed and the chunks kept, when DIR is not there
 * any more.  Returns 0 with each file's ino and rc (0, or the -errno that refused it, its
 * chunks deleted) filled, or a -errno for the whole call (-ENOENT: DIR is gone).  At most
 * STORE_IMPORT_MAX files a call, their names distinct. */
#define STORE_IMPORT_MAX 1024
struct store_import_file {
	const char *name;
	size_t namelen;
	uint32_t mode; /* permission bits; setuid and setgid are dropped */
	uint32_t uid, gid;
	int64_t mtime_ns;
	uint64_t size;
	size_t nchunks;
	const uint64_t *chunks;
	uint64_t ino; /* out */
	int rc;	      /* out */
};
int store_import_files(struct store *s, uint64_t dir, const char *dirpath, size_t dirpathlen,
		       struct store_import_file *f, size_t n);
/* Replace the content of file INO atomically: new size and chunk list; chunks dropped from the
 * list are freed after grace_ms.  -ENOENT when INO is gone (unlinked elsewhere).  Fills *a. */
int store_commit(struct store *s, uint64_t ino, uint64_t size, size_t nchunks,
		 const uint64_t *chunks, int64_t mtime_ns, struct store_attr *a);
/* Append LEN bytes at the end of file INO as it is in the store at that moment (O_APPEND
 * across peers: concurrent appends never overwrite each other).  LEN has no limit: it goes
 * in pieces of STORE_APPEND_PIECE bytes, one script call each, so each piece lands whole and
 * a concurrent append may land between two pieces; a failure may leave the first pieces in
 * the file.  Fills *a with the attributes after the last piece. */
#define STORE_APPEND_PIECE STORE_CHUNK_SIZE
int store_append(struct store *s, uint64_t ino, const void *data, size_t len, int64_t mtime_ns,
		 struct store_attr *a);
/* Read up to LEN bytes at OFF of chunk ID into BUF; returns bytes read (short at the end of
 * the chunk), -EIO when the chunk is missing. */
ssize_t store_read_chunk(struct store *s, uint64_t id, size_t off, size_t len, void *buf);

#define STORE_SET_MODE	(1u << 0)
#define STORE_SET_UID	(1u << 1)
#define STORE_SET_GID	(1u << 2)
#define STORE_SET_MTIME (1u << 3)
#define STORE_SET_ATIME (1u << 4)
/* Change the attributes selected by MASK (from *in) of INO; fills *out with the result. */
int store_setattr(struct store *s, uint64_t ino, unsigned mask, const struct store_attr *in,
		  struct store_attr *out);

/* Remove NAME (a file or symlink; a directory gives -EISDIR) from DIR, leaving a whiteout
 * when WHITEOUT is set.  The inode and its chunks are freed after grace_ms.
 * With WHITEOUT set and no entry of that name in the store, the whiteout alone is written
 * (hiding a lower entry); an existing whiteout gives -ENOENT.  Mutations whose DIR is gone
 * give -ENOENT (only lookup tells -ESTALE). */
int store_unlink(struct store *s, uint64_t dir, const char *name, size_t namelen, bool whiteout);
/* Remove directory NAME from DIR; -ENOTEMPTY if it holds anything but whiteouts, -ENOTDIR if
 * it is not a directory.  Leaves a whiteout when WHITEOUT is set (and, as for unlink, writes
 * just the whiteout when the store has no entry NAME). */
int store_rmdir(struct store *s, uint64_t dir, const char *name, size_t namelen, bool whiteout);

/* Remove cache-class file INO, found under NAME in DIR, because memcached lost part of its
 * content: only while NAME still holds INO at VERSION (a version written since stays).
 * Leaves a whiteout when WHITEOUT is set.  Every node, this one included, is told.  Returns 1
 * when removed, 0 when the name had moved on. */
int store_drop_cache(struct store *s, uint64_t dir, const char *name, size_t namelen, uint64_t ino,
		     uint64_t version, bool whiteout);

/* The calling thread's connection to the primary serving the site, for the admin tools' raw
 * reads and repairs (fsck, info); NULL with -errno in *ERR when the store cannot be reached.
 * The store's own: never freed by the caller, valid until the thread's next failing call. */
struct redisContext;
struct redisContext *store_raw_context(struct store *s, int *err);

/* While a thread holds them, this peer's other threads make no change to the site (their
 * changing calls wait; reads go on), and the holder's own calls go through: a directory
 * rename judged on what the tree carries is not raced by this peer's writes into the tree.
 * Not nested; held for one store change and what it needs, never across a wait for another
 * thread. */
void store_hold_changes(struct store *s);
void store_release_changes(struct store *s);

#define STORE_RENAME_NOREPLACE (1u << 0) /* -EEXIST if the target exists */
#define STORE_RENAME_WHITEOUT  (1u << 1) /* leave a whiteout where the source was */
#define STORE_RENAME_OPAQUE    (1u << 2) /* a moved directory becomes opaque */
/* Move SNAME in SDIR to DNAME in DDIR atomically, replacing what DNAME is: a file or symlink
 * may replace a file, symlink or whiteout; a directory may replace a whiteout or an empty
 * (whiteouts only) directory, which is removed.  -EISDIR / -ENOTDIR / -ENOTEMPTY as rename(2).
 * The caller has checked the lower layer.  A directory is never moved below itself (-EINVAL,
 * proven through the directories' parent links; -EXDEV when one made before the store kept
 * them is on the way: store_rename_checked's DPATH proves it instead). */
int store_rename(struct store *s, uint64_t sdir, const char *sname, size_t snamelen, uint64_t ddir,
		 const char *dname, size_t dnamelen, unsigned flags);
/* What a caller judged a rename on, checked by the store in the same atomic step as the move
 * (each part optional): SNAME still holds inode SINO (0: not checked); DDIR still is the
 * directory at DPATH from the root ("/a/b", DPATHLEN bytes; NULL: not checked); each of the
 * NWALKED directories WALKED (a moved directory and those below it, as its judgement read
 * them) is still at version VERS[i] (a new entry, made by any peer, changes it).  Otherwise
 * -EAGAIN: judge again.  With DPATH the store also proves DDIR is not inside the moved
 * directory (-EINVAL); without it, and with directories made before the store kept their
 * parent, it may answer -EXDEV (copy instead). */
struct store_rename_check {
	uint64_t sino;
	const char *dpath;
	size_t dpathlen;
	const uint64_t *walked, *vers;
	size_t nwalked;
};
int store_rename_checked(struct store *s, uint64_t sdir, const char *sname, size_t snamelen,
			 uint64_t ddir, const char *dname, size_t dnamelen, unsigned flags,
			 const struct store_rename_check *chk);

/* All entries of DIR (whiteouts included, "." never), in no particular order, each with its
 * inode's lino (one more round trip, pipelined, when DIR has entries).  *out is an
 * array of *n entries owned by the caller: free with store_dirents_free.  -ENOENT if DIR is
 * gone. */
int store_readdir(struct store *s, uint64_t dir, struct store_dirent **out, size_t *n);
/* How many of DIR's entries are directories, in one command (no entry is parsed or checked
 * beyond its type): the link count of a directory with no lower part that was made before
 * directories kept their own (`nlink`, docs/FORMAT.md).  -ENOENT if DIR is gone. */
int store_count_subdirs(struct store *s, uint64_t dir, uint32_t *n);
/* Which of the N names (NAMES[i], LENS[i] bytes) have an entry in DIR, whiteouts included:
 * HAS[i].  One HGET each, pipelined: one round trip however large DIR is. */
int store_dir_has(struct store *s, uint64_t dir, size_t n, const char *const *names,
		  const size_t *lens, bool *has);
void store_dirents_free(struct store_dirent *d, size_t n);

/* Invalidation.  Every change above is announced atomically with it, on the site's channel,
 * as one of (ORIGIN is the node id of the mount that made it):
 *   entry NAME of DIR changed  -> cb(arg, origin, STORE_INVAL_ENTRY, dir, name, namelen)
 *   inode INO changed          -> cb(arg, origin, STORE_INVAL_INODE, ino, NULL, 0)
 * Each message carries the site's next sequence number.  store_listen runs in the calling
 * thread until store_listen_stop, re-subscribing after errors.  It calls cb with
 * STORE_INVAL_LOST (origin "") when its subscription is gone (messages may be missed from
 * now on), and with STORE_INVAL_ALL (origin "") whenever what was kept before may be stale
 * and it is in step again: after each (re)subscription, a gap in the sequence, a message it
 * cannot read, or a check (every SEQ_CHECK_MS, 1 s) finding the site's sequence beyond the
 * last message it received.  Between an ALL and the next LOST every change is delivered.
 * Behind Sentinel it also runs the thread that follows +switch-master (started here, in a
 * thread of the process that serves, not in store_open, which a daemon calls before its fork). */
enum store_inval { STORE_INVAL_ENTRY, STORE_INVAL_INODE, STORE_INVAL_ALL, STORE_INVAL_LOST };
typedef void (*store_inval_cb)(void *arg, const char *origin, enum store_inval what, uint64_t ino,
			       const char *name, size_t namelen);
int store_listen(struct store *s, store_inval_cb cb, void *arg);
/* Has the listener messages it has received (or that wait on its socket) and not yet
 * delivered?  One poll(2), no round trip: a change another peer has committed before this
 * call began is usually among them already. */
bool store_listen_pending(struct store *s);
/* One round trip (PING) on this thread's connection.  Redis answers it in a later turn of its
 * event loop than the change just made, so by the time the answer is here every subscriber's
 * copy of that change's messages has been handed to its socket (close-to-open across peers,
 * with store_listen_pending).  0 or -EIO. */
int store_sync(struct store *s);
void store_listen_stop(struct store *s);

/* The peer registry, `P peers` (docs/FORMAT.md): one record per mount that has the site
 * mounted, written by the mount itself at start and every few seconds after, removed at a
 * clean unmount.  Times are the writing peer's wall clock, ms since the epoch. */
#define STORE_PEER_VERSION_MAX 64
#define STORE_PEER_HOST_MAX    64
struct store_peer {
	char *name;			      /* the peer id (NUL-terminated; no NUL inside) */
	char version[STORE_PEER_VERSION_MAX]; /* printable ASCII, no spaces */
	char host[STORE_PEER_HOST_MAX];
	long pid;
	int64_t start_ms, seen_ms;
	bool bad; /* a record pressfs did not write: only NAME is known */
};
/* Write this store's peer (cfg->peer) with P's version, host, pid and start, seen now. */
int store_peer_announce(struct store *s, const struct store_peer *p);
/* Remove the record of peer NAME (NULL: this store's own); 1 when it was there, 0 if not. */
int store_peer_forget(struct store *s, const char *name);
/* Every record, in no particular order: *out is an array of *n owned by the caller (free with
 * store_peers_free).  Records that do not parse come back with BAD set. */
int store_peers(struct store *s, struct store_peer **out, size_t *n);
void store_peers_free(struct store_peer *p, size_t n);

#endif
