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
#define ANON_INO_BIT  (1ull << 63) /* a file created while no store number could be had */

/* The st_ino of an entry, the one rule LOOKUP, GETATTR, READDIR and CREATE all follow (the
 * "Inode numbers" of docs/FORMAT.md).  SINO is its store inode (for a file created here and not
 * yet committed, the number reserved for it), 0 for an entry that is not in the store; LINO the
 * store's `lino` of it; OTHER the number of the entry in the tree it comes from when SINO is 0
 * (the lower tree, the local directory), else the lower tree's number of the directory an upper
 * directory is merged with (0 for anything else). */
static inline ino_t attr_ino(uint64_t sino, uint64_t lino, ino_t other)
{
	if (!sino)
		return other;
	if (lino)
		return (ino_t)lino; /* a copy-up keeps the number its lower file had */
	if (other)
		return other; /* a merged directory: the lower one's, as before its copy-up */
	return (ino_t)(sino | UPPER_INO_BIT);
}

/* The same for a file created on this peer and not committed yet (node N): the store number
 * reserved for it, RESERVED, which its first commit gives it; without one (the store could not
 * be reached at its creation), a number of its node, which it keeps on this peer until then. */
static inline ino_t attr_ino_new(uint64_t reserved, const void *n)
{
	return reserved ? attr_ino(reserved, 0, 0) : (ino_t)(uintptr_t)n | ANON_INO_BIT;
}

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
/* The merged tree's directory PATH, for local.c (struct pfs's tree_dir): the store's upper
 * directory there, else the lower tree's; -ENOENT when neither has one. */
int attr_tree_dir(struct pfs *fs, const char *path, struct stat *st);
/* The link count of ST, N's attributes: 0 for a file removed while open here, 2 plus the
 * subdirectories for a writable directory (dir_nlink). */
void attr_nlink(struct pfs *fs, struct node *n, struct stat *st);

#endif
