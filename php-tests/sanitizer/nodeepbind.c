/* nodeepbind.c - preloaded for make phpt-asan: PHP dlopen()s extensions with RTLD_DEEPBIND,
 * which ASan's runtime refuses when PHP itself is not built with it; the flag is dropped. */
#define _GNU_SOURCE
#include <dlfcn.h>

void *dlopen(const char *file, int mode)
{
	static void *(*next)(const char *, int);

	if (!next)
		next = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");
	return next(file, mode & ~RTLD_DEEPBIND);
}
