/* attr.h - the attributes the kernel is given for a node, and how long it may keep them and
 * its names. */
#ifndef PRESSFS_OVERLAY_ATTR_H
#define PRESSFS_OVERLAY_ATTR_H

#include "overlay/node.h"

/* Entry and attribute lifetimes given to the kernel. */
#define TIMEOUT_FOREVER	 (86400.0 * 365) /* paths no rule can make writable */
#define TIMEOUT_ENTRY	 1.0		 /* writable areas: names, plus pub/sub invalidation */
#define TIMEOUT_DIR_ATTR 1.0

#define UPPER_INO_BIT (1ull << 62) /* st_ino of upper-only entries, apart from lower's */

void attr_from_store(const struct store_attr *a, unsigned flags, struct stat *st);
void attr_from_lower(const struct stat *lst, unsigned flags, struct stat *st);
double attr_timeout_for(const struct node *n);
double entry_timeout_for(unsigned flags);
/* The same for a known node: an entry the invalidation stream vouches for is kept until it
 * says otherwise (overlay/trust.h). */
double entry_timeout_node(const struct node *n);
/* Fresh attributes of N.  -ESTALE when its entry was replaced or removed elsewhere: the kernel
 * then looks the name up again. */
int attr_fresh(struct pfs *fs, struct node *n, struct stat *st);

#endif
