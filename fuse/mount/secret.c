/* secret.c - the store's password: taken from password_file=, the environment or (with a
 * warning) the URL, and kept out of argv, the log, `pressfs status` and every xattr. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mount/secret.h"

#define PASSWORD_MAX 4096
#define SHOWN	     "***"

/* The parts of a redis:// URL's authority: [user[:password]@]host... */
struct url_parts {
	const char *user, *colon, *at, *rest; /* colon and at NULL when absent */
};

static bool split_url(const char *url, struct url_parts *u)
{
	const char *p, *end;

	if (strncmp(url, "redis://", 8))
		return false;
	p = url + 8;
	end = p + strcspn(p, "/");
	u->user = p;
	u->at = NULL;
	for (const char *q = p; q < end; q++)
		if (*q == '@')
			u->at = q;
	if (!u->at)
		return false;
	u->colon = memchr(p, ':', (size_t)(u->at - p));
	u->rest = u->at + 1;
	return true;
}

char *secret_redact_url(const char *url)
{
	struct url_parts u;
	char *out;

	if (!split_url(url, &u) || !u.colon)
		return strdup(url);
	if (asprintf(&out, "redis://%.*s:" SHOWN "@%s", (int)(u.colon - u.user), u.user, u.rest) <
	    0)
		return NULL;
	return out;
}

bool secret_scrub_argv(int argc, char **argv)
{
	bool found = false;

	for (int i = 1; i < argc; i++) {
		struct url_parts u;
		size_t len = strlen(argv[i]);
		char *shown;

		if (!split_url(argv[i], &u) || !u.colon || u.colon + 1 == u.at)
			continue;
		found = true;
		shown = secret_redact_url(argv[i]);
		/* The new text must fit in the old one's bytes: that is all /proc/PID/cmdline
		 * reads.  A password shorter than "***" is starred out where it stands. */
		if (shown && strlen(shown) <= len) {
			memset(argv[i], 0, len);
			memcpy(argv[i], shown, strlen(shown));
		} else {
			memset(argv[i] + (u.colon + 1 - argv[i]), '*',
			       (size_t)(u.at - u.colon - 1));
		}
		free(shown);
	}
	return found;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 32;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* %XX-decoded copy of [P, P+LEN), as the store's URL parser decodes it; NULL when malformed. */
static char *pct_decode(const char *p, size_t len)
{
	char *out = malloc(len + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (p[i] != '%') {
			*o++ = p[i];
			continue;
		}
		if (i + 2 >= len || hexval(p[i + 1]) < 0 || hexval(p[i + 2]) < 0 ||
		    (hexval(p[i + 1]) == 0 && hexval(p[i + 2]) == 0)) {
			free(out);
			return NULL;
		}
		*o++ = (char)(hexval(p[i + 1]) << 4 | hexval(p[i + 2]));
		i += 2;
	}
	*o = '\0';
	return out;
}

/* The password in FILE (one line; a trailing newline is not part of it), or NULL after a
 * message.  A file others may read is a password others know: said, not refused, as ssh does
 * not refuse a world-readable known_hosts. */
static char *read_password_file(const char *file)
{
	char buf[PASSWORD_MAX + 2];
	struct stat st;
	ssize_t n;
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "pressfs mount: password_file=%s: %s\n", file, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (st.st_mode & S_IROTH)
		fprintf(stderr,
			"pressfs mount: warning: password_file=%s is readable by every user "
			"(chmod o-r it)\n",
			file);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0 || n > PASSWORD_MAX) {
		fprintf(stderr, "pressfs mount: password_file=%s: %s\n", file,
			n < 0 ? strerror(errno) : "longer than 4096 bytes");
		return NULL;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (!buf[0]) {
		fprintf(stderr, "pressfs mount: password_file=%s is empty\n", file);
		return NULL;
	}
	return strdup(buf);
}

/* The user and password a URL carries into SEC, and its form without them into SEC->url. */
static int split_credentials(const char *url, struct store_secret *sec)
{
	struct url_parts u;

	if (!split_url(url, &u)) {
		sec->url = strdup(url);
		sec->user = strdup("");
		return sec->url && sec->user ? 0 : -1;
	}
	sec->user = pct_decode(u.user, (size_t)((u.colon ? u.colon : u.at) - u.user));
	if (u.colon)
		sec->password = pct_decode(u.colon + 1, (size_t)(u.at - u.colon - 1));
	if (!sec->user || (u.colon && !sec->password)) {
		fprintf(stderr, "pressfs mount: bad store URL: malformed %%-escape in user or "
				"password\n");
		return -1;
	}
	if (sec->password && !sec->password[0]) {
		fprintf(stderr, "pressfs mount: bad store URL: empty password\n");
		return -1;
	}
	sec->from_url = sec->password != NULL;
	return asprintf(&sec->url, "redis://%s", u.rest) < 0 ? -1 : 0;
}

int secret_take(struct settings *s, struct store_secret *sec)
{
	const char *env = getenv("PRESSFS_STORE_PASSWORD");
	char *given = NULL, *shown;

	memset(sec, 0, sizeof(*sec));
	if (split_credentials(s->store_url, sec) < 0)
		return -1;
	if (s->password_file) {
		if (!(given = read_password_file(s->password_file)))
			return -1;
	} else if (env && *env) {
		if (!(given = strdup(env)))
			return -1;
	}
	/* Not passed on to anything this process starts. */
	unsetenv("PRESSFS_STORE_PASSWORD");
	if (sec->from_url)
		fprintf(
		    stderr,
		    "pressfs mount: warning: the store URL carries a password, which every user "
		    "of this machine could read in the process list until now; use "
		    "password_file= or PRESSFS_STORE_PASSWORD%s\n",
		    given ? " (which is the one used)" : "");
	if (given) {
		if (sec->password)
			explicit_bzero(sec->password, strlen(sec->password));
		free(sec->password);
		sec->password = given;
	}
	if (!(shown = secret_redact_url(s->store_url)))
		return -1;
	explicit_bzero(s->store_url, strlen(s->store_url));
	free(s->store_url);
	s->store_url = shown;
	return 0;
}

void secret_free(struct store_secret *sec)
{
	if (sec->password)
		explicit_bzero(sec->password, strlen(sec->password));
	free(sec->password);
	free(sec->user);
	free(sec->url);
	memset(sec, 0, sizeof(*sec));
}
