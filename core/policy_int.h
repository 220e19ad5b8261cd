/* policy_int.h - what the policy's matcher (policy.c) and its parser (policy_parse.c) share:
 * the compiled form of a rule and the index.  Not for use outside core/. */
#ifndef PRESSFS_POLICY_INT_H
#define PRESSFS_POLICY_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"

/*
 * How a rule is kept for matching.  A pattern is a list of segments:
 *   SEG_LIT   a name without wildcards, stored unescaped, compared with memcmp;
 *   SEG_GLOB  a name with '*' or '?', stored in canonical form: literal '*', '?' and '\' are
 *             preceded by '\', every other byte stands for itself;
 *   SEG_ANY   "**": zero or more whole segments.
 * Matching is iterative (no recursion): '*' inside a segment and '**' across segments each use
 * the classic single-backtrack-point algorithm, which is exact because every other pattern
 * element consumes exactly one byte (resp. one segment).  Its cost is bounded by
 * (path segments x pattern segments) segment tests, whatever the number of '**'.
 *
 * Before any of that, most rules are never looked at: a trie over the literal names rules start
 * with (see struct node) leaves, for a path in a code tree, a handful of candidates or none.  A
 * candidate is then rejected cheaply: its literal prefix (the pattern up to the first wildcard)
 * and literal suffix are compared with memcmp, and the number of segments is checked.
 */
enum seg_kind {
	SEG_LIT,
	SEG_GLOB,
	SEG_ANY,
};

struct seg {
	uint32_t off; /* into crule.code */
	uint32_t len;
	enum seg_kind kind;
};

struct crule {
	struct seg *segs; /* one allocation holds segs, code, prefix, suffix and canon */
	uint32_t nsegs;
	uint32_t first_any; /* index of the first SEG_ANY, nsegs when there is none */
	uint32_t min_segs;  /* segments a matching path has at least (exactly, without '**') */
	bool exact;	    /* no wildcard at all: the path must equal prefix */
	bool tree;	    /* plain names then a final "**": prefix itself or anything below it */
	const char *code;
	const char *prefix; /* literal bytes every matching path starts with */
	uint32_t prefix_len;
	const char *suffix; /* literal bytes every matching path ends with */
	uint32_t suffix_len;
	const char *canon; /* canonical text of the pattern, for duplicate detection */
	uint32_t canon_len;
};

/* Rule indexes in policy order. */
struct rlist {
	uint32_t *idx;
	uint32_t n;
	bool writable; /* some rule in it has a writable class */
};

/*
 * The index: a trie over the literal names that rules start with.  The node of the literal path
 * L (say "/wp-content/themes") keeps, in policy order, the rules that could match L or a path
 * below it (all), and those that could match a path L/X/... where X is the name of none of its
 * children (other).  A lookup walks the path's names down the trie (a binary search per level)
 * and scans only the deepest node's list.  What L itself gets is worked out once, at load time.
 */
struct node {
	const char *name; /* last name of L (NULL for the root); points into a rule's code */
	uint32_t name_len;
	uint32_t nkids;
	struct node *kids; /* sorted by name_cmp */
	struct rlist all, other;
	const struct policy_rule *self; /* the rule L itself matches, or NULL */
	bool below;			/* policy_may_change_below(L) */
};

struct policy {
	size_t n;
	struct policy_rule *rules; /* public view, rules[i].pattern owned */
	struct crule *cr;
	struct node root; /* L = "/" */
};

/* Build the index of a policy whose rules are all compiled (policy.c).  0 or -ENOMEM. */
int policy_index_build(struct policy *p);

#endif
