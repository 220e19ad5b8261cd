/* status.c - `pressfs status [--json] MOUNTPOINT`: a mount's counters, read through the
 * extended attribute of its root, as JSON or as a table. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/xattr.h>

#include <jansson.h>

#include "admin/admin.h"
#include "stats.h"

/* The JSON the daemon answers with, as a table: site and store, then "name value" per counter
 * under each group. */
static int print_table(const char *text, size_t len)
{
	json_error_t err;
	json_t *o = json_loadb(text, len, 0, &err), *v;
	const char *key;

	if (!json_is_object(o)) {
		fprintf(stderr, "pressfs status: the mount answered what is not JSON: %s\n",
			err.text);
		json_decref(o);
		return 1;
	}
	printf("site   %s\nstore  %s (%s)\n", json_string_value(json_object_get(o, "site")) ?: "?",
	       json_string_value(json_object_get(o, "store")) ?: "?",
	       json_string_value(json_object_get(o, "store_state")) ?: "?");
	json_object_foreach(o, key, v)
	{
		const char *name;
		json_t *n;

		if (!json_is_object(v))
			continue;
		printf("%s:\n", key);
		json_object_foreach(v, name, n)
		{
			if (json_is_integer(n))
				printf("  %-24s %lld\n", name, (long long)json_integer_value(n));
		}
	}
	json_decref(o);
	return 0;
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
	if (json) {
		fputs(buf, stdout);
		return 0;
	}
	return print_table(buf, (size_t)n);
}
