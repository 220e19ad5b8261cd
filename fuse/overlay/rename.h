/* rename.h - rename within the writable layers. */
#ifndef PRESSFS_OVERLAY_RENAME_H
#define PRESSFS_OVERLAY_RENAME_H

#include "overlay/node.h"

/* rename(2) of SNAME under SP to DNAME under DP (FLAGS: RENAME_NOREPLACE only). */
int overlay_rename(struct pfs *fs, struct node *sp, const char *sname, struct node *dp,
		   const char *dname, unsigned flags);

#endif
