/* main.c - the pressfs program: one binary for the mount daemon and the admin commands. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/admin.h"
#include "audit.h"
#include "policy.h"
#include "stats.h"

int mount_main(int argc, char **argv);

static int policy_check_main(int argc, char **argv)
{
	struct policy_error err;
	struct policy *p;
	char msg[512];

	if (argc < 2) {
		fprintf(stderr, "usage: pressfs policy check POLICY [PATH...]\n");
		return 2;
	}
	if (policy_load(argv[1], &p, &err) < 0) {
		policy_error_format(&err, msg, sizeof(msg));
		fprintf(stderr, "%s\n", msg);
		return 1;
	}
	if (argc == 2)
		printf("%s: %zu rules, ok\n", argv[1], policy_rule_count(p));
	for (int i = 2; i < argc; i++) {
		const struct policy_rule *r = policy_match(p, argv[i], strlen(argv[i]));

		if (r)
			printf("%s\t%s\tline %u: %s\n", argv[i], policy_class_name(r->cls), r->line,
			       r->pattern);
		else
			printf("%s\t%s\tno rule (read-only)\n", argv[i],
			       policy_class_name(POLICY_NONE));
	}
	policy_free(p);
	return 0;
}

#ifndef PRESSFS_DATADIR
#define PRESSFS_DATADIR "/usr/share/pressfs"
#endif

/* `pressfs compat`: the two-node trial run is Python (tests/compat/compat.py, with the rest of
 * the test environment); this only finds it and hands over. */
static int compat_main(int argc, char **argv)
{
	char script[4096];
	char **args = calloc((size_t)argc + 3, sizeof(*args));

	snprintf(script, sizeof(script), "%s/tests/compat/compat.py", PRESSFS_DATADIR);
	if (!args)
		return 2;
	if (access(script, R_OK) < 0) {
		fprintf(stderr, "pressfs compat: %s: %s\n", script, strerror(errno));
		return 2;
	}
	args[0] = "python3";
	args[1] = script;
	for (int i = 1; i < argc; i++)
		args[i + 1] = argv[i];
	execv("/usr/bin/python3", args);
	fprintf(stderr, "pressfs compat: /usr/bin/python3: %s\n", strerror(errno));
	free(args);
	return 2;
}

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
	    "  compat --wordpress DIR [--plugins DIR]     try plugins on a two-node site: what "
	    "they write\n"
	    "  import SRC --store URL --policy FILE       copy a tree into a site's store "
	    "(resumable)\n"
	    "  export DIR --store URL                     copy a site's files out, consistently\n"
	    "  dump FILE|- --store URL                    a site in one archive (tar)\n"
	    "  load FILE|- --store URL [--force]          restore a dump into an empty site\n"
	    "  fsck --store URL [--policy FILE] [--repair] check a site's store for damage\n"
	    "  gc --store URL                             fsck --repair: reclaim orphans\n"
	    "  info --store URL [--site NAME]             a site's files, Redis memory, peers\n");
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
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "pressfs: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
