/* audit.c - `pressfs audit LOG`: summarise the extension's JSON-lines audit log per plugin. */
#include <stdio.h>

#include "audit.h"

int audit_main(int argc, char **argv)
{
	fprintf(stderr, "pressfs audit: not built yet\n");
	return 2;
}
