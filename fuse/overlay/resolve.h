/* resolve.h - the layers a name is looked for in (the local directory, the store's upper
 * directories, the lower tree) and what each holds at a name; and what this peer last knew of
 * them when the store cannot be reached (outages). */
#ifndef PRESSFS_OVERLAY_RESOLVE_H
#define PRESSFS_OVERLAY_RESOLVE_H

#include "overlay/classes.h"
#include "overlay/node.h"

/* The lower tree at PATH (absolute in the tree). */
int lower_stat(struct pfs *fs, const char *path, struct stat *st);
int lower_open(struct pfs *fs, const char *path);    /* O_RDONLY file: fd or -errno */
int lower_opendir(struct pfs *fs, const char *path); /* a directory: fd or -errno */

/* Resolve (or confirm) the upper directory of dir node N: fills n->sino, 0 when none. */
int upper_dir(struct pfs *fs, struct node *n, uint64_t *sino);
/* Make sure dir node N has an upper directory (copying up its lower ancestors). */
int upper_dir_make(struct pfs *fs, struct node *n, uint64_t *sino);

/* The path of NAME under PARENT into PATH, for OP there: the name is valid and classes_check
 * allows it (the verdict in *V, which may be NULL).  Returns the path's length, or -EINVAL,
 * -ENAMETOOLONG, or the verdict's errno. */
int write_path(struct pfs *fs, struct node *parent, const char *name, size_t namelen,
	       enum cls_op op, char *path, size_t size, struct cls_verdict *v);

/* What the layers hold at NAME under PARENT, without touching the node table. */
struct resolved {
	bool local;	      /* the per-node directory has it (lst is its stat) */
	int utype;	      /* store entry type, or -ENOENT */
	struct store_attr ua; /* when utype is a real entry; released by the caller */
	bool lower;	      /* the lower tree has it (and it is not hidden) */
	struct stat lst;
	uint64_t psino; /* the parent's upper directory, 0 if none */
};

/* Fill *R for NAME under PARENT at PATH, whose node flags (from the policy) are PF. */
/* The kind classes_servable asks for, of a store entry type. */
enum cls_entry entry_kind(char type);
int resolve(struct pfs *fs, struct node *parent, const char *name, size_t namelen, const char *path,
	    unsigned pf, struct resolved *r);
/* The same from what this peer last knew, for when resolve said -EIO (an outage). */
int resolve_known(struct pfs *fs, struct node *parent, const char *name, size_t namelen,
		  const char *path, struct resolved *r);
/* R holds an upper entry (not a whiteout, not nothing). */
static inline bool resolved_upper(const struct resolved *r)
{
	return r->utype > 0 && r->utype != STORE_WHITEOUT;
}

#endif
