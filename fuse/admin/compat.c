/* compat.c - `pressfs compat`: the two-peer trial run is Python (tests/compat/compat.py, with
 * the rest of the test environment); this finds it at run time and hands over. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/admin.h"

#define COMPAT_SCRIPT  "tests/compat/compat.py"
#define SYSTEM_DATADIR "/usr/share/pressfs"

/* DIR/COMPAT_SCRIPT into BUF if it is readable. */
static bool script_in(const char *dir, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%s", dir, COMPAT_SCRIPT);

	return n > 0 && (size_t)n < size && access(buf, R_OK) == 0;
}

/* Where the script is: $PRESSFS_DATADIR (and nowhere else when it is set), else beside the
 * binary (BIN/../share/pressfs installed, BIN/.. in a build tree's obj/), else the system's
 * data directory.  0, or -1 after a message. */
static int find_script(char *buf, size_t size)
{
	const char *env = getenv("PRESSFS_DATADIR");
	char exe[PATH_MAX], dir[PATH_MAX + 32];
	ssize_t n;

	if (env && *env) {
		if (script_in(env, buf, size))
			return 0;
		fprintf(stderr, "pressfs compat: PRESSFS_DATADIR=%s: no readable %s there\n", env,
			COMPAT_SCRIPT);
		return -1;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;

		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
		snprintf(dir, sizeof(dir), "%s/../share/pressfs", exe);
		if (script_in(dir, buf, size))
			return 0;
		snprintf(dir, sizeof(dir), "%s/..", exe);
		if (script_in(dir, buf, size))
			return 0;
	}
	if (script_in(SYSTEM_DATADIR, buf, size))
		return 0;
	fprintf(stderr,
		"pressfs compat: %s not found beside %s nor in " SYSTEM_DATADIR
		" (set PRESSFS_DATADIR)\n",
		COMPAT_SCRIPT, n > 0 ? exe : "this program");
	return -1;
}

int compat_main(int argc, char **argv)
{
	char script[PATH_MAX + 64];
	char **args;

	if (find_script(script, sizeof(script)) < 0)
		return 2;
	args = calloc((size_t)argc + 3, sizeof(*args));
	if (!args)
		return 2;
	args[0] = "python3";
	args[1] = script;
	for (int i = 1; i < argc; i++)
		args[i + 1] = argv[i];
	execv("/usr/bin/python3", args);
	fprintf(stderr, "pressfs compat: /usr/bin/python3: %s\n", strerror(errno));
	free(args);
	return 2;
}
