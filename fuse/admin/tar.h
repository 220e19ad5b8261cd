/* tar.h - the archive of `pressfs dump`/`load`: POSIX pax (ustar with extended headers), so
 * any tar lists it, with pressfs's own attributes as PRESSFS.* records: the class, opaque
 * directories and whiteouts, which no plain tree can hold, a copy-up's lower inode number and
 * a socket (docs/ARCHIVE.md).  Paths and link targets are raw bytes (any but NUL), nanosecond
 * mtimes and atimes; further names of one inode are hard-link entries. */
#ifndef PRESSFS_ADMIN_TAR_H
#define PRESSFS_ADMIN_TAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TAR_FORMAT "1" /* PRESSFS.format in the archive's global header */

struct tar_meta {
	char *path; /* relative, no leading '/'; "." is the top */
	size_t len;
	char type;	/* '0' file (a whiteout, a socket too), '5' directory, '2' symlink,
			 * '1' another name of LINKNAME, '6' FIFO, '3'/'4' character/block device */
	char *linkname; /* symlinks: the target; hard links: the first name's path */
	uint32_t mode;	/* permission bits */
	uint32_t uid, gid;
	int64_t mtime_ns;
	int64_t atime_ns; /* with has_atime (pax `atime`) */
	bool has_atime;
	uint64_t size;
	uint64_t rdev; /* devices (PRESSFS.rdev; ustar devmajor/devminor for other tars) */
	uint64_t lino; /* a copy-up's lower inode number (PRESSFS.lino), 0: none */
	bool socket;   /* a '0' entry that is a Unix socket (PRESSFS.socket) */
	char cls;      /* 's' or 'c' */
	bool opaque;
	bool whiteout;
};

int tar_write_global(FILE *f, const char *site);
/* The extended header and the ustar header of M; the caller writes M->size bytes of data
 * and then tar_write_pad. */
int tar_write_header(FILE *f, const struct tar_meta *m);
int tar_write_pad(FILE *f, uint64_t size);
int tar_write_end(FILE *f);

/* The next entry's attributes into *M (path and linkname malloc'ed, freed by the next call
 * or tar_meta_free); extended and global headers are taken in.  Returns 1 for an entry, 0 at
 * the end of the archive, -EINVAL (with a reason in WHY) for a damaged or foreign one.
 * *FORMAT gets the archive's PRESSFS.format ("" when none was seen). */
int tar_read_header(FILE *f, struct tar_meta *m, char *format, size_t fsize, const char **why);
/* Skip the padding after SIZE bytes of data. */
int tar_read_pad(FILE *f, uint64_t size);
void tar_meta_free(struct tar_meta *m);

#endif
