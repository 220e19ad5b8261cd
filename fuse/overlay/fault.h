/* fault.h - fault injection for the tests: in a build with -DPRESSFS_FAULTS (obj/asan), an
 * allocation at a named point fails when PRESSFS_FAULT names it in the daemon's environment.
 * In every other build fault_hit() is false and costs nothing. */
#ifndef PRESSFS_OVERLAY_FAULT_H
#define PRESSFS_OVERLAY_FAULT_H

#include <stdbool.h>

#ifdef PRESSFS_FAULTS
bool fault_hit(const char *point);
#else
static inline bool fault_hit(const char *point)
{
	(void)point;
	return false;
}
#endif

#endif
