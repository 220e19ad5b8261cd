/* fault.c - the test builds' fault points (fault.h). */
#include "overlay/fault.h"

#ifdef PRESSFS_FAULTS
#include <stdlib.h>
#include <string.h>

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
#endif
