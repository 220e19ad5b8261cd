/* fault.c - the test builds' fault points (fault.h). */
#include "overlay/fault.h"

#ifdef PRESSFS_FAULTS
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* PRESSFS_FAULT is a comma-separated list of point names, read at each point (the daemon
 * never changes its environment). */
bool fault_hit(const char *point)
{
	const char *list = getenv("PRESSFS_FAULT");
	size_t n = strlen(point);

	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == n && !memcmp(p, point, n))
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

void fault_pause(const char *point)
{
	const char *dir = getenv("PRESSFS_FAULT_DIR");
	char hit[PATH_MAX], go[PATH_MAX];
	struct timespec tick = {0, 10 * 1000 * 1000};
	int fd;

	if (!dir || !fault_hit(point))
		return;
	snprintf(hit, sizeof(hit), "%s/%s.hit", dir, point);
	snprintf(go, sizeof(go), "%s/%s.go", dir, point);
	fd = open(hit, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
	for (int i = 0; i < 6000 && access(go, F_OK) != 0; i++)
		nanosleep(&tick, NULL);
}
#endif
