/* status.c - `pressfs status [--json] MOUNTPOINT`: a mount's counters, read through the
 * extended attribute of its root, as JSON or as a table. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/xattr.h>

#include "admin/admin.h"
#include "stats.h"

/* Pretty-print the flat JSON the daemon answers with: a "name value" line per counter. */
static void print_table(const char *json)
{
	char site[256] = "", store[512] = "", state[16] = "", name[64];
	const char *p = strstr(json, "\"requests\"");
	unsigned long long v;
	int used;

	if (sscanf(
		json,
		"{\"site\": \"%255[^\"]\", \"store\": \"%511[^\"]\", \"store_state\": \"%15[a-z]\"",
		site, store, state) == 3)
		printf("site   %s\nstore  %s (%s)\n", site, store, state);
	while (p && *p) {
		/* %n is reached only when the whole pattern matched, '{' included. */
		used = -1;
		if (sscanf(p, " \"%63[a-z_]\": {%n", name, &used) == 1 && used > 0) {
			printf("%s:\n", name);
			p += used;
		} else if (sscanf(p, " \"%63[a-z_]\": %llu%n", name, &v, &used) == 2) {
			printf("  %-24s %llu\n", name, v);
			p += used;
		} else {
			p++;
		}
	}
}

int status_main(int argc, char **argv)
{
	const char *mnt = NULL;
	int json = 0;
	char buf[8192];
	ssize_t n;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!mnt && argv[i][0] != '-')
			mnt = argv[i];
		else {
			fprintf(stderr, "usage: pressfs status [--json] MOUNTPOINT\n");
			return 2;
		}
	}
	if (!mnt) {
		fprintf(stderr, "usage: pressfs status [--json] MOUNTPOINT\n");
		return 2;
	}
	n = getxattr(mnt, STATUS_XATTR, buf, sizeof(buf) - 1);
	if (n < 0) {
		if (errno == ENODATA || errno == ENOTSUP)
			fprintf(stderr, "pressfs status: %s is not a pressfs mount\n", mnt);
		else
			fprintf(stderr, "pressfs status: %s: %s\n", mnt, strerror(errno));
		return 1;
	}
	buf[n] = '\0';
	if (json)
		fputs(buf, stdout);
	else
		print_table(buf);
	return 0;
}
