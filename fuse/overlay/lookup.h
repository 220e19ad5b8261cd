/* lookup.h - names as the kernel's LOOKUP wants them: the node for a name, with its entry. */
#ifndef PRESSFS_OVERLAY_LOOKUP_H
#define PRESSFS_OVERLAY_LOOKUP_H

#include "overlay/node.h"

/* Look NAME up under PARENT: fills *E and *OUT (with one lookup count, drop it with
 * node_forget), or *OUT = NULL and a negative entry in *E when nothing is there. */
int overlay_lookup(struct pfs *fs, struct node *parent, const char *name, size_t namelen,
		   struct fuse_entry_param *e, struct node **out);
/* The node for an entry the store just made as NAME under PARENT (A), and its entry in *E;
 * -ENOMEM. */
int lookup_made(struct pfs *fs, struct node *parent, const char *name, const struct store_attr *a,
		struct fuse_entry_param *e);

#endif
