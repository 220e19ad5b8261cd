/* options.c - `pressfs mount`'s options: one table, from which come the fuse_opt parser, the
 * --help text and the checks made on the settings before anything is mounted. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pool.h"
#include "mount/metrics.h"
#include "mount/options.h"

/* One -o KEY=VALUE (or KEY, a flag: no arg) of ours.  An entry without help text is an older
 * spelling of the one before it, still accepted and not shown. */
static const struct option {
	const char *templ; /* fuse_opt template: "lower=%s" */
	size_t offset;	   /* in struct settings */
	const char *arg, *help;
} options[] = {
    {"lower=%s", offsetof(struct settings, lower), "DIR",
     "the read-only WordPress tree (required)"},
    {"policy=%s", offsetof(struct settings, policy_file), "FILE",
     "the policy: which paths are shared, cache, local or denied (required)"},
    {"site=%s", offsetof(struct settings, site), "NAME",
     "key prefix pressfs:{NAME}: in the store (default: default)"},
    {"local=%s", offsetof(struct settings, local), "DIR", "per-peer directory for the local class"},
    {"peer=%s", offsetof(struct settings, node_id), "ID",
     "this peer's name in invalidation messages (default: random)"},
    {"node=%s", offsetof(struct settings, node_id), NULL, NULL},
    {"log=%s", offsetof(struct settings, log_file), "FILE",
     "log here (default: stderr with -f, syslog otherwise)"},
    {"staging=%s", offsetof(struct settings, staging), "DIR",
     "where open files are staged until close (default: $TMPDIR or /var/tmp)"},
    {"pool=%s", offsetof(struct settings, pool_url), "URL",
     "memcached://host:port[,host:port...]: the cache class's content pool"},
    {"cache=%s", offsetof(struct settings, pool_url), NULL, NULL},
    {"pool_fail=%s", offsetof(struct settings, pool_fail), "HOW",
     "a cache write the pool cannot take: error (EIO, default) or drop"},
    {"cache_fail=%s", offsetof(struct settings, pool_fail), NULL, NULL},
    {"timeout=%u", offsetof(struct settings, timeout_ms), "MS",
     "Redis connect and command timeout (default: 2000)"},
    {"password_file=%s", offsetof(struct settings, password_file), "FILE",
     "the store's password, read at start-up (not readable by others)"},
    {"durability=%s", offsetof(struct settings, durability), "N[:MS]",
     "a change succeeds once N replicas have it (WAIT, MS default 1000); "
     "default 1 behind Sentinel, else 0"},
    {"owner=%s", offsetof(struct settings, owner), "USER[:GROUP]",
     "the image's directories where writes may land show this owner (image owned by root)"},
    {"passthrough=%s", offsetof(struct settings, passthrough), "auto|off",
     "let the kernel read the image's files itself where it can (Linux >= 6.9, root)"},
    {"metrics=%s", offsetof(struct settings, metrics), "HOST:PORT",
     "serve /metrics (Prometheus) and /healthz on 127.0.0.1:PORT or [::1]:PORT"},
    {"metrics_any", offsetof(struct settings, metrics_any), NULL,
     "let metrics= take an address other than loopback (see below)"},
};
#define NOPTIONS (sizeof(options) / sizeof(options[0]))

/* Mount options refused outright: pressfs never serves devices or set-id programs. */
static const char *const refused[] = {"suid", "dev"};

void mount_usage(FILE *f)
{
	fprintf(f, "usage: pressfs mount [-f] [-d] [-o OPTION[,OPTION...]] STORE MOUNTPOINT\n\n"
		   "STORE is redis://[user[:password]@]host:port[/db], unix:///path/redis.sock,\n"
		   "redis-sentinel://host:port[,host:port...]/MASTER[/db] or\n"
		   "redis-cluster://[user@]host:port[,host:port...] (seed nodes)\n\n"
		   "pressfs options:\n");
	for (size_t i = 0; i < NOPTIONS; i++) {
		char key[48];

		if (!options[i].help)
			continue;
		if (options[i].arg)
			snprintf(key, sizeof(key), "%.*s=%s", (int)strcspn(options[i].templ, "="),
				 options[i].templ, options[i].arg);
		else
			snprintf(key, sizeof(key), "%s", options[i].templ);
		fprintf(f, "    -o %-20s %s\n", key, options[i].help);
	}
	fprintf(f, "    (older spellings still accepted: node= for peer=, cache= for pool=,\n"
		   "    cache_fail= for pool_fail=)\n");
	fprintf(
	    f,
	    "\n    Without pool=, cache-class files are stored in Redis like shared ones.  With\n"
	    "    pool_fail=drop, a cache write memcached cannot take still succeeds and the\n"
	    "    file is published, but it is as if memcached had evicted it at once: the next\n"
	    "    open finds it gone (ENOENT) on every peer.\n\n"
	    "    The store's password comes from password_file=, else the environment variable\n"
	    "    PRESSFS_STORE_PASSWORD, else the URL.  One given in the URL is visible to\n"
	    "    every user of the machine until start-up overwrites it: pressfs warns.  Logs\n"
	    "    and `pressfs status` show it as ***.\n\n"
	    "    durability=N[:MS]: every change waits until N replicas acknowledge it (Redis\n"
	    "    WAIT, at most MS ms, default 1000), else it fails with EIO although the primary\n"
	    "    has it.  Each change costs one more round trip to the slowest of the N.\n"
	    "    WAIT is not consensus: see docs/TOPOLOGY.md.\n\n"
	    "    metrics= serves without authentication, so only a loopback address is taken:\n"
	    "    visitors must never reach it.  HAProxy or a Kubernetes probe on the same host\n"
	    "    (or pod) can.  Another address is refused unless metrics_any is given too;\n"
	    "    then keep it off the public network yourself.  /healthz answers 200 \"ok\"\n"
	    "    while mounted and Redis answers within timeout=, else 503 and the reason.\n\n");
	fprintf(f,
		"    -f                      stay in the foreground\n"
		"    -d                      debug: log every request (implies -f)\n\n"
		"FUSE options (-o): allow_other, and the others of mount.fuse3(8); the mount is\n"
		"always nosuid,nodev (suid and dev are refused)\n");
}

/* "pool=memcached://h1:p1,h2:p2" inside -o: FUSE splits options at commas, so the servers
 * after the first would read as options of their own.  Rewrite such an option string with
 * those commas escaped ("\,", which fuse_opt unescapes); a token without '=' that holds a
 * ':' can only be one of the servers.  Returns a new string, or NULL if nothing changes. */
static char *join_pool_servers(const char *opts)
{
	size_t len = strlen(opts);
	char *out = malloc(2 * len + 1), *o = out;
	bool in_pool = false, changed = false;
	const char *p = opts;

	if (!out)
		return NULL;
	for (;;) {
		const char *end = p;

		while (*end && *end != ',') {
			if (*end == '\\' && end[1])
				end++;
			end++;
		}
		if (p != opts) {
			bool server = in_pool && !memchr(p, '=', (size_t)(end - p)) &&
				      memchr(p, ':', (size_t)(end - p));

			if (server) {
				*o++ = '\\';
				changed = true;
			} else {
				in_pool = false;
			}
			*o++ = ',';
		}
		if (!strncmp(p, "cache=", 6) || !strncmp(p, "pool=", 5))
			in_pool = true;
		memcpy(o, p, (size_t)(end - p));
		o += end - p;
		if (!*end)
			break;
		p = end + 1;
	}
	*o = '\0';
	if (!changed) {
		free(out);
		return NULL;
	}
	return out;
}

/* Apply join_pool_servers to every -o of ARGV in place (the strings are leaked on purpose:
 * argv lives as long as the process). */
static void fix_pool_opts(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		char **at = NULL, *fixed;

		if (!strcmp(argv[i], "-o") && i + 1 < argc)
			at = &argv[++i];
		else if (!strncmp(argv[i], "-o", 2) && argv[i][2])
			at = &argv[i];
		if (!at)
			continue;
		fixed = join_pool_servers(*at == argv[i] && (*at)[0] == '-' ? *at + 2 : *at);
		if (!fixed)
			continue;
		if ((*at)[0] == '-' && (*at)[1] == 'o') {
			char *with = malloc(strlen(fixed) + 3);

			if (!with) {
				free(fixed);
				continue;
			}
			strcpy(with, "-o");
			strcat(with, fixed);
			free(fixed);
			fixed = with;
		}
		*at = fixed;
	}
}

/* fuse_opt fills the settings by offset from the same pointer it hands opt_proc: they come
 * first here. */
struct parse_state {
	struct settings set;
	int nonopt;
	bool bad;
};

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct parse_state *ps = data;
	struct settings *s = &ps->set;
	(void)outargs;

	if (key == FUSE_OPT_KEY_NONOPT) {
		if (ps->nonopt == 0)
			s->store_url = strdup(arg);
		else if (ps->nonopt == 1)
			s->mountpoint = strdup(arg);
		else {
			fprintf(stderr, "pressfs mount: unexpected argument '%s'\n", arg);
			return -1;
		}
		ps->nonopt++;
		return 0;
	}
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (!strcmp(arg, refused[i])) {
			fprintf(stderr,
				"pressfs mount: -o %s is refused: a pressfs mount is always "
				"nosuid,nodev\n",
				arg);
			ps->bad = true;
			return 0;
		}
	if (!strcmp(arg, "-f")) {
		s->foreground = 1;
		return 0; /* ours alone: the session does not know it */
	}
	if (!strcmp(arg, "-d") || !strcmp(arg, "debug"))
		s->debug = s->foreground = 1;
	return 1; /* FUSE's own options go to the session */
}

/* Absolute path of an existing directory, or NULL with a message. */
static char *existing_dir(const char *what, const char *path)
{
	char *abs = realpath(path, NULL);
	struct stat st;

	if (!abs || stat(abs, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "pressfs mount: %s '%s' is not a directory%s%s\n", what, path,
			abs ? "" : ": ", abs ? "" : strerror(errno));
		free(abs);
		return NULL;
	}
	return abs;
}

/* *PATH made absolute against the current directory (it need not exist yet). */
static int absolute(char **path)
{
	char cwd[PATH_MAX], *abs;

	if (!*path || (*path)[0] == '/')
		return 0;
	if (!getcwd(cwd, sizeof(cwd)) || asprintf(&abs, "%s/%s", cwd, *path) < 0)
		return -1;
	free(*path);
	*path = abs;
	return 0;
}

/* Replace the directory *PATH by its absolute form, or fail with a message. */
static int resolve_dir(const char *what, char **path)
{
	char *p = existing_dir(what, *path);

	if (!p)
		return -1;
	free(*path);
	*path = p;
	return 0;
}

static int random_peer_id(struct settings *s)
{
	unsigned char r[8];
	char host[64] = "node";

	if (getrandom(r, sizeof(r), 0) != sizeof(r))
		return -1;
	gethostname(host, sizeof(host) - 1);
	if (asprintf(&s->node_id, "%.40s-%02x%02x%02x%02x%02x%02x%02x%02x", host, r[0], r[1], r[2],
		     r[3], r[4], r[5], r[6], r[7]) < 0)
		return -1;
	return 0;
}

static int check_pool(struct settings *s)
{
	char why[200];

	if (s->pool_fail && strcmp(s->pool_fail, "error") && strcmp(s->pool_fail, "drop")) {
		fprintf(stderr, "pressfs mount: pool_fail=%s: expected error or drop\n",
			s->pool_fail);
		return -1;
	}
	if (s->pool_fail && !s->pool_url) {
		fprintf(stderr, "pressfs mount: pool_fail= needs pool=memcached://...\n");
		return -1;
	}
	if (s->pool_url && pool_parse_url(s->pool_url, why, sizeof(why)) < 0) {
		fprintf(stderr, "pressfs mount: pool=%s: %s\n", s->pool_url, why);
		return -1;
	}
	return 0;
}

/* durability=N[:MS]: N in 0..64 replicas, MS in 1..600000. */
static int check_durability(struct settings *s)
{
	unsigned long n, ms = 1000;
	char *end;

	if (!s->durability)
		return 0;
	errno = 0;
	n = strtoul(s->durability, &end, 10);
	if (end != s->durability && *end == ':') {
		char *p = end + 1;

		ms = strtoul(p, &end, 10);
		if (end == p)
			ms = 0;
	}
	if (errno || end == s->durability || *end || s->durability[0] == '-' || n > 64 || ms == 0 ||
	    ms > 600000 || strchr(s->durability, '-')) {
		fprintf(stderr,
			"pressfs mount: durability=%s: expected N[:MS], N replicas (0-64), MS the "
			"wait in milliseconds (1-600000)\n",
			s->durability);
		return -1;
	}
	s->durability_set = true;
	s->durability_replicas = (unsigned)n;
	s->durability_ms = (unsigned)ms;
	return 0;
}

/* owner=USER[:GROUP], by name or number; GROUP defaults to USER's primary group. */
static int check_owner(struct settings *s)
{
	char *user = strdup(s->owner), *group, *end;
	struct passwd *pw;
	struct group *gr;
	int ret = -1;

	if (!user)
		return -1;
	group = strchr(user, ':');
	if (group)
		*group++ = '\0';
	pw = getpwnam(user);
	if (pw) {
		s->owner_uid = pw->pw_uid;
		s->owner_gid = pw->pw_gid;
	} else {
		errno = 0;
		s->owner_uid = (uid_t)strtoul(user, &end, 10);
		if (!*user || *end || errno)
			goto bad;
		s->owner_gid = (gid_t)s->owner_uid;
	}
	if (group) {
		gr = getgrnam(group);
		if (gr) {
			s->owner_gid = gr->gr_gid;
		} else {
			errno = 0;
			s->owner_gid = (gid_t)strtoul(group, &end, 10);
			if (!*group || *end || errno)
				goto bad;
		}
	}
	ret = 0;
	goto out;
bad:
	fprintf(stderr, "pressfs mount: owner=%s: no such user or group\n", s->owner);
out:
	free(user);
	return ret;
}

static int check_metrics(const struct settings *s)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char why[256];

	if (!s->metrics) {
		if (s->metrics_any)
			fprintf(stderr, "pressfs mount: metrics_any needs metrics=HOST:PORT\n");
		return s->metrics_any ? -1 : 0;
	}
	if (metrics_parse_addr(s->metrics, s->metrics_any, &ss, &len, why, sizeof(why)) < 0) {
		fprintf(stderr, "pressfs mount: metrics=%s: %s\n", s->metrics, why);
		return -1;
	}
	return 0;
}

static int check_settings(struct settings *s)
{
	char *p;

	if (!s->store_url || !s->mountpoint) {
		mount_usage(stderr);
		return -1;
	}
	if (!s->lower || !s->policy_file) {
		fprintf(stderr, "pressfs mount: -o lower=DIR and -o policy=FILE are required\n");
		return -1;
	}
	if (resolve_dir("lower", &s->lower) < 0 ||
	    (s->local && resolve_dir("local", &s->local) < 0))
		return -1;
	if (!s->staging) {
		const char *t = getenv("TMPDIR");

		s->staging = strdup(t && *t ? t : "/var/tmp");
	}
	if (resolve_dir("staging", &s->staging) < 0)
		return -1;
	if (access(s->staging, W_OK) < 0) {
		/* a read-only /var/tmp (a container's root) would fail every shared write later */
		fprintf(stderr,
			"pressfs mount: staging=%s: %s: files being written are staged there until "
			"close; give -o staging=DIR on a writable file system\n",
			s->staging, strerror(errno));
		return -1;
	}
	if (!(p = realpath(s->policy_file, NULL))) {
		fprintf(stderr, "pressfs mount: policy '%s': %s\n", s->policy_file,
			strerror(errno));
		return -1;
	}
	free(s->policy_file);
	s->policy_file = p;
	if (absolute(&s->log_file) < 0 || absolute(&s->password_file) < 0)
		return -1;
	if (!s->site)
		s->site = strdup("default");
	if (!s->node_id && random_peer_id(s) < 0)
		return -1;
	if (!s->timeout_ms)
		s->timeout_ms = 2000;
	if (check_durability(s) < 0)
		return -1;
	if (s->owner && check_owner(s) < 0)
		return -1;
	if (s->passthrough && strcmp(s->passthrough, "auto") && strcmp(s->passthrough, "off")) {
		fprintf(stderr, "pressfs mount: passthrough=%s: expected auto or off\n",
			s->passthrough);
		return -1;
	}
	if (check_metrics(s) < 0)
		return -1;
	return check_pool(s);
}

int mount_options(int argc, char **argv, struct fuse_args *args, struct settings *s)
{
	struct fuse_opt spec[NOPTIONS + 5];
	struct parse_state ps = {0};
	size_t n = 0;
	int ret;

	for (size_t i = 0; i < NOPTIONS; i++)
		spec[n++] = (struct fuse_opt){options[i].templ, options[i].offset, 1};
	spec[n++] = (struct fuse_opt){"-h", offsetof(struct settings, show_help), 1};
	spec[n++] = (struct fuse_opt){"--help", offsetof(struct settings, show_help), 1};
	spec[n++] = (struct fuse_opt)FUSE_OPT_END;

	fix_pool_opts(argc, argv);
	ret = fuse_opt_parse(args, &ps, spec, opt_proc) < 0 || ps.bad ? -1 : 0;
	*s = ps.set;
	if (ret < 0)
		return -1;
	if (s->show_help) {
		mount_usage(stdout);
		return 1;
	}
	return check_settings(s) < 0 ? -1 : 0;
}

void mount_options_free(struct settings *s)
{
	free(s->store_url);
	free(s->mountpoint);
	free(s->lower);
	free(s->policy_file);
	free(s->site);
	free(s->local);
	free(s->node_id);
	free(s->log_file);
	free(s->staging);
	free(s->pool_url);
	free(s->pool_fail);
	free(s->password_file);
	free(s->durability);
	free(s->passthrough);
	free(s->owner);
	free(s->metrics);
}
