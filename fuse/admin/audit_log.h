/* audit_log.h - one record of the extension's audit log (pressfs.audit_log, JSON lines), as
 * `pressfs audit` reads it. */
#ifndef PRESSFS_ADMIN_AUDIT_LOG_H
#define PRESSFS_ADMIN_AUDIT_LOG_H

#include <stdbool.h>
#include <stddef.h>

struct record {
	char *op, *path, *cls, *outcome, *culprit, *pattern;
	char *file, *culprit_file; /* absolute paths, NULL when absent */
	long long rule, bytes;	   /* -1 when null or absent */
};

/* Fill R from one line; false when the line is not a JSON object with a path and an outcome. */
bool audit_record_parse(const char *line, size_t len, struct record *r);
void audit_record_free(struct record *r);
/* Name R's writer again from the path of its script below the site's root.  0 or -ENOMEM. */
int audit_attribute(struct record *r);

#endif
