/* secret.h - the store's password: where `pressfs mount` takes it from, and keeping it out of
 * argv, the log, `pressfs status` and every xattr. */
#ifndef PRESSFS_MOUNT_SECRET_H
#define PRESSFS_MOUNT_SECRET_H

#include "pressfs.h"

struct store_secret {
	char *url;	/* the store URL without credentials: what the store connects to */
	char *user;	/* ACL user, "" for the default one */
	char *password; /* NULL when none is given */
	bool from_url;	/* the URL carried it (a warning for the log) */
};

/* Overwrite, in the process's own argv, the password of any redis:// URL, so that
 * /proc/PID/cmdline no longer shows it.  Returns true when there was one. */
bool secret_scrub_argv(int argc, char **argv);

/* Take the credentials out of S->store_url (leaving it the form shown in logs and status,
 * with the password as "***"), and the password from, first, S->password_file, then the
 * environment variable PRESSFS_STORE_PASSWORD, then the URL.  0 or -1 after a message. */
int secret_take(struct settings *s, struct store_secret *out);
void secret_free(struct store_secret *sec);

/* URL with its password replaced by "***", malloc'd (NULL: no memory). */
char *secret_redact_url(const char *url);

#endif
