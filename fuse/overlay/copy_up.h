/* copy_up.h - giving lower entries their upper copy in the store. */
#ifndef PRESSFS_OVERLAY_COPY_UP_H
#define PRESSFS_OVERLAY_COPY_UP_H

#include "overlay/node.h"

/* Copy a lower file of writable class up into the store (content, mode, times), with what this
 * peer has staged for it. */
int copy_up_file(struct pfs *fs, struct node *n);
/* Copy what the lower tree holds under directory N up into the store (for a rename). */
int copy_up_tree(struct pfs *fs, struct node *n);

#endif
