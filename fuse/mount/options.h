/* options.h - `pressfs mount`'s options: one table gives the parser, the checks made before
 * anything is mounted, and the --help text. */
#ifndef PRESSFS_MOUNT_OPTIONS_H
#define PRESSFS_MOUNT_OPTIONS_H

#include <stdio.h>

#include "pressfs.h"

/* Parse ARGV into *S and the FUSE options left for the session into ARGS, then check and
 * complete *S (absolute paths, defaults).  0 to mount, 1 when --help was shown, -1 after a
 * message on stderr. */
int mount_options(int argc, char **argv, struct fuse_args *args, struct settings *s);
void mount_usage(FILE *f);
void mount_options_free(struct settings *s);

#endif
