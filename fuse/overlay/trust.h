/* trust.h - what a peer may believe without asking the store: the attributes (and chunk list)
 * of an upper file or directory, kept from the last answer, as long as the invalidation stream
 * (overlay/inval.c, numbered messages) has said nothing since.  Under fs->lock. */
#ifndef PRESSFS_OVERLAY_TRUST_H
#define PRESSFS_OVERLAY_TRUST_H

#include "overlay/node.h"

#define TIMEOUT_TRUSTED (86400.0 * 30) /* a kept answer: an invalidation ends it */

/* Taken before asking the store: an answer may be kept only if no message came meanwhile
 * and the stream was in step all along.  0 means "do not keep". */
uint64_t trust_begin(struct pfs *fs);
/* TOKEN still holds: no message came since it was taken, and the stream stayed in step. */
bool trust_holds_locked(const struct pfs *fs, uint64_t token);
/* Keep A as N's trusted answer if TOKEN still holds (caller holds fs->lock). */
void trust_keep_locked(struct pfs *fs, struct node *n, const struct store_attr *a, uint64_t token);
void trust_keep(struct pfs *fs, struct node *n, const struct store_attr *a, uint64_t token);
/* Keep "the store has no upper entry here" as N's answer (a lower file or directory; the
 * caller judges that a change would be told: overlay/lookup.c), if TOKEN still holds. */
void trust_keep_lower_locked(struct pfs *fs, struct node *n, uint64_t token);
/* N is a lower file or directory no message has been about since that answer. */
bool trust_lower(struct pfs *fs, struct node *n);
/* N's kept upper answer, copied into *A (release it): false when there is none. */
bool trust_get(struct pfs *fs, struct node *n, struct store_attr *a);
/* Forget N's answer (caller holds fs->lock); trust_free at the node's end. */
void trust_drop_locked(struct node *n);
/* The same, taking the lock: this peer changed N itself. */
void trust_forget(struct pfs *fs, struct node *n);
void trust_free(struct node *n);
/* N holds a kept answer (a hint for the kernel's timeouts; no lock needed). */
bool trust_held(const struct node *n);

/* The invalidation thread, under fs->lock: a message came (every kept answer taken before it
 * is refused), the stream lost its step (nothing is kept until it is back), it is in step
 * again after forgetting everything. */
void trust_message_locked(struct pfs *fs);
void trust_lost_locked(struct pfs *fs);
void trust_in_step_locked(struct pfs *fs);

#endif
