/* url.c - the store's URL: redis://[user:password@]host:port[/db], unix:///path,
 * redis-sentinel://h1:p1,h2:p2/MASTER[/db] or redis-cluster://h1:p1,h2:p2, parsed strictly so
 * that a typo is refused at start-up rather than tried at every connect. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode P[0..LEN) into a new string; NULL when malformed or holding a NUL. */
static char *pct_decode(const char *p, size_t len)
{
	char *out = malloc(len + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '%') {
			int hi = i + 2 < len ? hexval(p[i + 1]) : -1;
			int lo = i + 2 < len ? hexval(p[i + 2]) : -1;

			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				free(out);
				return NULL;
			}
			*o++ = (char)(hi * 16 + lo);
			i += 2;
		} else {
			*o++ = p[i];
		}
	}
	*o = '\0';
	return out;
}

static int parse_unix(struct store_url *u, const char *url, char *msg, size_t msglen)
{
	const char *p = url + 7;

	if (p[0] != '/' || !p[1]) {
		snprintf(msg, msglen, "bad URL \"%s\": expected unix:///absolute/path", url);
		return -EINVAL;
	}
	if (strlen(p) >= 108) {
		snprintf(msg, msglen, "bad URL \"%s\": socket path too long", url);
		return -EINVAL;
	}
	u->unix_path = strdup(p);
	snprintf(u->where, sizeof u->where, "unix:%s", p);
	return u->unix_path ? 0 : -ENOMEM;
}

/* user:password before the '@' at AT.  The message never quotes the URL: it holds the
 * password. */
static int parse_auth(struct store_url *u, const char *p, const char *at, char *msg, size_t msglen)
{
	const char *colon = memchr(p, ':', (size_t)(at - p));

	if (!colon) {
		snprintf(msg, msglen,
			 "bad URL: credentials must be user:password@ (empty user for the "
			 "default user)");
		return -EINVAL;
	}
	u->user = pct_decode(p, (size_t)(colon - p));
	u->pass = pct_decode(colon + 1, (size_t)(at - colon - 1));
	if (!u->user || !u->pass) {
		snprintf(msg, msglen, "bad URL: malformed %%-escape in user or password");
		return -EINVAL;
	}
	if (!u->pass[0]) {
		snprintf(msg, msglen, "bad URL: empty password");
		return -EINVAL;
	}
	return 0;
}

/* host:port (or [ipv6]:port) in HP..END; SHOWN is the URL as it may be quoted. */
static int parse_host(struct store_url *u, const char *hp, const char *end, const char *shown,
		      char *msg, size_t msglen)
{
	const char *host_end, *port_p;
	uint64_t v;

	if (*hp == '[') {
		host_end = memchr(hp, ']', (size_t)(end - hp));
		if (!host_end || host_end == hp + 1 || host_end[1] != ':') {
			snprintf(msg, msglen, "bad URL \"%s\": expected [ipv6]:port", shown);
			return -EINVAL;
		}
		for (const char *q = hp + 1; q < host_end; q++)
			if (!strchr("0123456789abcdefABCDEF:.", *q)) {
				snprintf(msg, msglen, "bad URL \"%s\": bad IPv6 address", shown);
				return -EINVAL;
			}
		u->host = strndup(hp + 1, (size_t)(host_end - hp - 1));
		port_p = host_end + 2;
	} else {
		host_end = NULL;
		for (const char *q = hp; q < end; q++)
			if (*q == ':')
				host_end = q;
		if (!host_end || host_end == hp) {
			snprintf(msg, msglen, "bad URL \"%s\": expected host:port", shown);
			return -EINVAL;
		}
		for (const char *q = hp; q < host_end; q++)
			if (!(*q == '.' || *q == '-' || (*q >= '0' && *q <= '9') ||
			      ((*q | 32) >= 'a' && (*q | 32) <= 'z'))) {
				snprintf(msg, msglen, "bad URL \"%s\": bad host name", shown);
				return -EINVAL;
			}
		u->host = strndup(hp, (size_t)(host_end - hp));
		port_p = host_end + 1;
	}
	if (!u->host)
		return -ENOMEM;
	if (!parse_u64(port_p, (size_t)(end - port_p), 10, &v) || v == 0 || v > 65535) {
		snprintf(msg, msglen, "bad URL \"%s\": port must be 1-65535", shown);
		return -EINVAL;
	}
	u->port = (int)v;
	snprintf(u->where, sizeof u->where, "%s%s%s:%d", *hp == '[' ? "[" : "", u->host,
		 *hp == '[' ? "]" : "", u->port);
	return 0;
}

/* A master name as sentinel.conf spells it: what its "sentinel monitor NAME" takes. */
static bool master_ok(const char *p, size_t len)
{
	if (len == 0 || len > 64)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(p[i] == '.' || p[i] == '-' || p[i] == '_' || (p[i] >= '0' && p[i] <= '9') ||
		      ((p[i] | 32) >= 'a' && (p[i] | 32) <= 'z')))
			return false;
	return true;
}

/* The comma-separated host:port list P..END of URL into ADDRS (*N of them, at most
 * SENTINEL_MAX); WHAT names one of them in messages ("sentinel", "seed node"). */
static int parse_hosts(const char *p, const char *end, const char *url, const char *what,
		       struct sentinel_addr *addrs, int *n, char *msg, size_t msglen)
{
	while (p < end) {
		const char *e = memchr(p, ',', (size_t)(end - p));
		struct store_url one = {0};
		int rc;

		if (!e)
			e = end;
		if (*n == SENTINEL_MAX) {
			snprintf(msg, msglen, "bad URL \"%.120s\": more than %d %ss", url,
				 SENTINEL_MAX, what);
			return -EINVAL;
		}
		rc = e == p ? -EINVAL : parse_host(&one, p, e, url, msg, msglen);
		if (e == p)
			snprintf(msg, msglen, "bad URL \"%.120s\": empty %s address", url, what);
		if (rc) {
			free(one.host);
			return rc;
		}
		addrs[*n].host = one.host;
		addrs[(*n)++].port = one.port;
		p = e + (e < end);
		if (e < end && p == end) {
			snprintf(msg, msglen, "bad URL \"%.120s\": empty %s address", url, what);
			return -EINVAL;
		}
	}
	return 0;
}

/* redis-sentinel://host:port[,host:port...]/MASTER[/db].  No credentials in this URL: the
 * password comes from password_file= or the environment (docs/FORMAT.md, "Sentinel"). */
static int parse_sentinel(struct store_url *u, const char *url, char *msg, size_t msglen)
{
	const char *p = url + 17, *slash = strchr(p, '/'), *m, *mend;
	uint64_t v;
	int rc;

	if (strchr(p, '@')) {
		snprintf(msg, msglen,
			 "bad URL: a redis-sentinel:// URL takes no credentials: give the password "
			 "with password_file= or PRESSFS_STORE_PASSWORD");
		return -EINVAL;
	}
	if (!slash || slash == p) {
		snprintf(msg, msglen,
			 "bad URL \"%.120s\": expected redis-sentinel://host:port[,host:port...]"
			 "/MASTER",
			 url);
		return -EINVAL;
	}
	rc = parse_hosts(p, slash, url, "sentinel", u->sentinels, &u->nsentinels, msg, msglen);
	if (rc)
		return rc;
	m = slash + 1;
	mend = m + strcspn(m, "/");
	if (!master_ok(m, (size_t)(mend - m))) {
		snprintf(msg, msglen,
			 "bad URL \"%.120s\": the master name (1-64 of [A-Za-z0-9._-]) is missing "
			 "or malformed",
			 url);
		return -EINVAL;
	}
	u->master = strndup(m, (size_t)(mend - m));
	if (!u->master)
		return -ENOMEM;
	if (*mend == '/') {
		if (!parse_u64(mend + 1, strlen(mend + 1), 10, &v) || v > INT_MAX) {
			snprintf(msg, msglen, "bad URL \"%.120s\": database must be a number", url);
			return -EINVAL;
		}
		u->db = (int)v;
	}
	snprintf(u->where, sizeof u->where, "sentinel master %s", u->master);
	return 0;
}

/* redis-cluster://[user@]host:port[,host:port...]: seed nodes, any of the cluster's, asked
 * for the slot map.  A user (an ACL user of every node) but no password: that comes from
 * password_file= or the environment, as for Sentinel.  No database: a cluster has only 0. */
static int parse_cluster(struct store_url *u, const char *url, char *msg, size_t msglen)
{
	const char *p = url + 16, *at = strrchr(p, '@');
	int rc;

	if (at && (memchr(p, ':', (size_t)(at - p)) || at == p)) {
		snprintf(msg, msglen,
			 "bad URL: a redis-cluster:// URL takes a user but no password: give the "
			 "password with password_file= or PRESSFS_STORE_PASSWORD");
		return -EINVAL;
	}
	if (at) {
		u->user = pct_decode(p, (size_t)(at - p));
		if (!u->user) {
			snprintf(msg, msglen, "bad URL: malformed %%-escape in the user");
			return -EINVAL;
		}
		p = at + 1;
	}
	if (!*p || strchr(p, '/')) {
		snprintf(msg, msglen,
			 "bad URL \"%.120s\": expected redis-cluster://host:port[,host:port...] "
			 "(a cluster has no database but 0)",
			 url);
		return -EINVAL;
	}
	rc = parse_hosts(p, p + strlen(p), url, "seed node", u->sentinels, &u->nsentinels, msg,
			 msglen);
	if (rc)
		return rc;
	u->cluster = true;
	snprintf(u->where, sizeof u->where, "cluster %s:%d", u->sentinels[0].host,
		 u->sentinels[0].port);
	return 0;
}

int url_parse(struct store_url *u, const char *url, char *msg, size_t msglen)
{
	const char *p, *auth_end, *at = NULL;
	char shown[160];
	uint64_t v;
	int rc;

	memset(u, 0, sizeof *u);
	if (!url || !*url) {
		snprintf(msg, msglen, "no Redis URL given");
		return -EINVAL;
	}
	if (!strncmp(url, "unix://", 7))
		return parse_unix(u, url, msg, msglen);
	if (!strncmp(url, "redis-sentinel://", 17))
		return parse_sentinel(u, url, msg, msglen);
	if (!strncmp(url, "redis-cluster://", 16))
		return parse_cluster(u, url, msg, msglen);
	if (strncmp(url, "redis://", 8)) {
		snprintf(msg, msglen,
			 "bad URL: expected redis://[user:password@]host:port[/db], "
			 "unix:///path, redis-sentinel://host:port[,host:port...]/MASTER or "
			 "redis-cluster://host:port[,host:port...]");
		return -EINVAL;
	}
	p = url + 8;
	auth_end = p + strcspn(p, "/");
	for (const char *q = p; q < auth_end; q++)
		if (*q == '@')
			at = q;
	/* what messages may quote: the URL without anything before its last '@' (a password
	 * with an unescaped '/' must not show either) */
	{
		const char *last = strrchr(p, '@');

		snprintf(shown, sizeof shown, "redis://%s%.120s", last ? "***@" : "",
			 last ? last + 1 : p);
	}
	if (at) {
		rc = parse_auth(u, p, at, msg, msglen);
		if (rc)
			return rc;
	}
	rc = parse_host(u, at ? at + 1 : p, auth_end, shown, msg, msglen);
	if (rc)
		return rc;
	if (*auth_end == '/') {
		if (!parse_u64(auth_end + 1, strlen(auth_end + 1), 10, &v) || v > INT_MAX) {
			snprintf(msg, msglen, "bad URL \"%s\": database must be a number", shown);
			return -EINVAL;
		}
		u->db = (int)v;
	}
	return 0;
}

void url_free(struct store_url *u)
{
	free(u->host);
	free(u->unix_path);
	free(u->user);
	free(u->master);
	for (int i = 0; i < u->nsentinels; i++)
		free(u->sentinels[i].host);
	if (u->pass) {
		explicit_bzero(u->pass, strlen(u->pass));
		free(u->pass);
	}
	memset(u, 0, sizeof *u);
}
