/* fault.h - fault injection for the tests: in a build with -DPRESSFS_FAULTS (obj/asan), an
 * allocation at a named point fails when PRESSFS_FAULT names it in the daemon's environment,
 * and a pause point holds its thread for the test (fault_pause).  In every other build
 * fault_hit() is false and both cost nothing. */
#ifndef PRESSFS_OVERLAY_FAULT_H
#define PRESSFS_OVERLAY_FAULT_H

#include <stdbool.h>

#ifdef PRESSFS_FAULTS
bool fault_hit(const char *point);
/* When PRESSFS_FAULT names POINT: create $PRESSFS_FAULT_DIR/POINT.hit, then wait (up to a
 * minute) until the test creates $PRESSFS_FAULT_DIR/POINT.go, so that it can change the store
 * between what this thread checked and what it does next. */
void fault_pause(const char *point);
#else
static inline bool fault_hit(const char *point)
{
	(void)point;
	return false;
}
static inline void fault_pause(const char *point)
{
	(void)point;
}
#endif

#endif
