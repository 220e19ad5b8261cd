/* inval.h - the thread that forwards other peers' changes (the store's pub/sub channel) to the
 * kernel's caches. */
#ifndef PRESSFS_OVERLAY_INVAL_H
#define PRESSFS_OVERLAY_INVAL_H

#include "pressfs.h"

int inval_start(struct pfs *fs);
void inval_stop(struct pfs *fs);

#endif
