/* main.c - the pressfs program: one binary for the mount daemon and the admin commands; this
 * only picks the command. */
#include <stdio.h>
#include <string.h>

#include "admin/admin.h"
#include "version.h"

int mount_main(int argc, char **argv);

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: pressfs COMMAND ...\n\n"
	    "  mount [-f] [-o OPTIONS] STORE MOUNTPOINT   serve a WordPress tree (see mount "
	    "--help)\n"
	    "  status [--json] MOUNTPOINT                 request counters of a mount\n"
	    "  policy check POLICY [PATH...]              check a policy; show each path's class\n"
	    "  audit LOG [--policy FILE]                  what each plugin wrote, from the PHP "
	    "audit log\n"
	    "  compat --wordpress DIR [--plugins DIR]     try plugins on a two-peer site: what "
	    "they write\n"
	    "  import SRC --store URL --policy FILE       copy a tree into a site's store "
	    "(resumable)\n"
	    "  export DIR --store URL                     copy a site's files out, consistently\n"
	    "  dump FILE|- --store URL                    a site in one archive (tar)\n"
	    "  load FILE|- --store URL [--force]          restore a dump into an empty site\n"
	    "  fsck --store URL [--policy FILE] [--repair] check a site's store for damage\n"
	    "  gc --store URL                             fsck --repair: reclaim orphans\n"
	    "  info --store URL [--site NAME] [--json]    a site's files, Redis memory, peers\n"
	    "  --version                                  this pressfs's version\n\n"
	    "compat runs tests/compat/compat.py from $PRESSFS_DATADIR, else from beside this\n"
	    "program (../share/pressfs, or .. in a build tree), else from /usr/share/pressfs.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "mount"))
		return mount_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "status"))
		return status_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "policy") && argc >= 3 && !strcmp(argv[2], "check"))
		return policy_check_main(argc - 2, argv + 2);
	if (!strcmp(argv[1], "audit"))
		return audit_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "compat"))
		return compat_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "import"))
		return import_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "export"))
		return export_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "dump"))
		return dump_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "load"))
		return load_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "fsck") || !strcmp(argv[1], "gc"))
		return fsck_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "info"))
		return info_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("pressfs %s\n", PRESSFS_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "pressfs: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
