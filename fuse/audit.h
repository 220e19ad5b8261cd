/* audit.h - `pressfs audit LOG`: summarise the extension's JSON-lines audit log per plugin. */
#ifndef PRESSFS_AUDIT_H
#define PRESSFS_AUDIT_H

/* argv[0] is "audit".  Returns the process exit status. */
int audit_main(int argc, char **argv);

#endif
