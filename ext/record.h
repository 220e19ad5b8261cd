/* record.h - attribution and the audit trail: which plugin or theme made a write (from the PHP
 * call stack), what happens to it (counted, refused with a message, or let through), and the
 * JSON line written to pressfs.audit_log. */
#ifndef PFS_RECORD_H
#define PFS_RECORD_H

#include <stdbool.h>

#include "php.h"

#include "route.h"

/* Who made a write: the innermost PHP frame under wp-content/plugins/<slug>/,
 * wp-content/mu-plugins/<slug> or wp-content/themes/<slug>/, else core. */
struct pfs_culprit {
	const char *kind; /* "plugin", "mu-plugin", "theme" or "core" (static strings) */
	char slug[128];
	char file[MAXPATHLEN]; /* the frame that identified it (innermost user frame for core) */
	uint32_t line;
};
void pfs_culprit_find(struct pfs_culprit *c);

/* What the hook does with a judged write. */
enum pfs_go {
	PFS_GO_AS_IS,  /* not governed by the policy: the original, untouched */
	PFS_GO_TARGET, /* the original, given v->target */
	PFS_GO_REFUSE, /* fail it: the message is in the caller's buffer */
};

/* Decide, and for a refusal count it, record it and write the message (for PHP's warning) into
 * MSG.  OP names the operation for the audit ("unlink", or NULL for the running function). */
enum pfs_go pfs_write_begin(const struct pfs_verdict *v, const char *op, char *msg,
			    size_t msg_size);

/* ERR for pfs_write_done(): the original failed with errno E (-1: it did not say why). */
#define PFS_FAILED(e) ((e) > 0 ? (e) : -1)

/* Count and record a write pfs_write_begin() let go ahead, once the original has returned: ERR
 * is 0 when it happened, else PFS_FAILED(errno) (recorded as outcome "failed" with the errno's
 * name, never as the write it would have been).  FROM: rename's source or NULL; BYTES: -1 when
 * it does not apply. */
void pfs_write_done(const struct pfs_verdict *v, const char *op, const char *from, long long bytes,
		    int err);

/* Record that an access check (OP: "is_writable"...) of V's path answered false because the
 * policy refuses the write, not the file system: the question a plugin asks before it gives up
 * with a message of its own.  Outcome "answered-false"; only with an audit sink; not counted. */
void pfs_record_answer(const struct pfs_verdict *v, const char *op);

/* True when an audit sink is configured, i.e. writes that go ahead are recorded. */
bool pfs_recording(void);

/* A write stream's record, kept on the stream (wrapperthis) until it closes, when the bytes it
 * added are known.  pfs_stream_record_new() counts the write (the open succeeded) and returns
 * NULL when there is nothing to record.  emalloc'd; pfs_stream_record_close() records and frees
 * it. */
struct pfs_stream_record;
struct pfs_stream_record *pfs_stream_record_new(const struct pfs_verdict *v, const char *mode);
void pfs_stream_record_close(struct pfs_stream_record *r);

/* Close the audit sink (configuration change, shutdown). */
void pfs_sink_close(void);

#endif
