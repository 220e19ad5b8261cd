/* busy.h - the window in which a hook runs PHP's original function: PHP's own nested calls from
 * it pass untouched, user code it runs is judged, and the errno of its failure is kept. */
#ifndef PFS_BUSY_H
#define PFS_BUSY_H

#include <errno.h>
#include <stdbool.h>

#include "php.h"

#include "php_pressfs.h"

/* PHP's own nested calls made by an original (rename's copy across devices, touch("file://")
 * through the wrapper's metadata op, file_exists()'s url_stat) come from the original's frame.
 * User code the original runs (the script's error handler for its warning, an argument's
 * __toString, a destructor run by the GC) runs in frames of its own, so it is judged like any
 * other code.  The fiber is part of the test because a fiber switched inside user code leaves
 * the window open while another stack runs. */
static inline bool pfs_nested(void)
{
	return PFS_G(busy).on && PFS_G(busy).frame == EG(current_execute_data) &&
	       PFS_G(busy).fiber == EG(current_fiber_context);
}

/* Open the window around a call of the original; SAVED (the caller's stack) keeps the window
 * it replaces. */
static inline void pfs_busy_enter(struct pfs_busy *saved)
{
	*saved = PFS_G(busy);
	PFS_G(busy).on = true;
	PFS_G(busy).frame = EG(current_execute_data);
	PFS_G(busy).fiber = EG(current_fiber_context);
	PFS_G(busy).err = 0;
	errno = 0;
}

/* Close it, and return the errno that explains a failure of the original: the one it had when
 * the original last warned (pressfs.c's error observer keeps it; the script's handler for the
 * warning may have changed errno since), else errno now.  The enclosing window comes back only
 * when it belongs to the same fiber: only then is it certainly still open (a fiber resumed
 * inside user code may have closed it meanwhile). */
static inline int pfs_busy_leave(const struct pfs_busy *saved)
{
	int err = errno;

	if (pfs_nested()) { /* still this call's window */
		if (PFS_G(busy).err)
			err = PFS_G(busy).err;
		if (saved->on && saved->fiber == PFS_G(busy).fiber)
			PFS_G(busy) = *saved;
		else
			PFS_G(busy).on = false;
	}
	return err;
}

#endif
