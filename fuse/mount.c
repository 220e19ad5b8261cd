/* mount.c - `pressfs mount`: options, the checks made before anything is mounted, the FUSE
 * session, daemonizing once the mount is ready, and an orderly teardown on unmount. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "overlay/ops.h"
#include "pool.h"
#include "pressfs.h"
#include "stats.h"

struct mount_opts {
	struct settings set;
	int nonopt;
};

#define OPT(t, p)                                                                                  \
	{                                                                                          \
		t, offsetof(struct settings, p), 1                                                 \
	}
static const struct fuse_opt mount_optspec[] = {
    OPT("lower=%s", lower),
    OPT("policy=%s", policy_file),
    OPT("site=%s", site),
    OPT("local=%s", local),
    OPT("node=%s", node_id),
    OPT("log=%s", log_file),
    OPT("staging=%s", staging),
    OPT("cache=%s", cache_url),
    OPT("cache_fail=%s", cache_fail),
    OPT("timeout=%u", timeout_ms),
    OPT("-h", show_help),
    OPT("--help", show_help),
    FUSE_OPT_END,
};

/* The help text is generated from the table above and this description of each key. */
static const struct {
	const char *key, *what;
} opt_help[] = {
    {"lower=DIR", "the read-only WordPress tree (required)"},
    {"policy=FILE", "the policy: which paths are shared, cache, local or denied (required)"},
    {"site=NAME", "key prefix pressfs:{NAME}: in the store (default: default)"},
    {"local=DIR", "per-node directory for the local class"},
    {"node=ID", "this node's name in invalidation messages (default: random)"},
    {"log=FILE", "log here (default: stderr with -f, syslog otherwise)"},
    {"staging=DIR", "where open files are staged until close (default: $TMPDIR or /var/tmp)"},
    {"cache=URL", "memcached://host:port[,host:port...]: the cache class's content pool"},
    {"cache_fail=HOW", "a cache write memcached cannot take: error (EIO, default) or drop"},
    {"timeout=MS", "Redis connect and command timeout (default: 2000)"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: pressfs mount [-f] [-d] [-o OPTION[,OPTION...]] STORE MOUNTPOINT\n\n"
		   "STORE is redis://[user:password@]host:port[/db] or unix:///path/redis.sock\n\n"
		   "pressfs options:\n");
	for (size_t i = 0; i < sizeof(opt_help) / sizeof(opt_help[0]); i++)
		fprintf(f, "    -o %-16s %s\n", opt_help[i].key, opt_help[i].what);
	fprintf(
	    f,
	    "\n    Without cache=, cache-class files are stored in Redis like shared ones.  With\n"
	    "    cache_fail=drop, a cache write memcached cannot take still succeeds and the\n"
	    "    file is published, but it is as if memcached had evicted it at once: the next\n"
	    "    open finds it gone (ENOENT) on every node.\n\n");
	fprintf(f, "    -f                  stay in the foreground\n"
		   "    -d                  debug: log every request (implies -f)\n\n"
		   "FUSE options (-o): allow_other, and the others of mount.fuse3(8)\n");
}

/* "cache=memcached://h1:p1,h2:p2" inside -o: FUSE splits options at commas, so the servers
 * after the first would read as options of their own.  Rewrite such an option string with
 * those commas escaped ("\,", which fuse_opt unescapes); a token without '=' that holds a
 * ':' can only be one of the servers.  Returns a new string, or NULL if nothing changes. */
static char *join_cache_servers(const char *opts)
{
	size_t len = strlen(opts);
	char *out = malloc(2 * len + 1), *o = out;
	bool in_cache = false, changed = false;
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
			bool server = in_cache && !memchr(p, '=', (size_t)(end - p)) &&
				      memchr(p, ':', (size_t)(end - p));

			if (server) {
				*o++ = '\\';
				changed = true;
			} else {
				in_cache = false;
			}
			*o++ = ',';
		}
		if (!strncmp(p, "cache=", 6))
			in_cache = true;
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

/* Apply join_cache_servers to every -o of ARGV in place (the strings are leaked on purpose:
 * argv lives as long as the process). */
static void fix_cache_opts(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		char **at = NULL, *fixed;

		if (!strcmp(argv[i], "-o") && i + 1 < argc)
			at = &argv[++i];
		else if (!strncmp(argv[i], "-o", 2) && argv[i][2])
			at = &argv[i];
		if (!at)
			continue;
		fixed = join_cache_servers(*at == argv[i] && (*at)[0] == '-' ? *at + 2 : *at);
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

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct mount_opts *mo = data;
	struct settings *s = &mo->set;
	(void)outargs;

	if (key == FUSE_OPT_KEY_NONOPT) {
		if (mo->nonopt == 0)
			s->store_url = strdup(arg);
		else if (mo->nonopt == 1)
			s->mountpoint = strdup(arg);
		else {
			fprintf(stderr, "pressfs mount: unexpected argument '%s'\n", arg);
			return -1;
		}
		mo->nonopt++;
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

static int check_settings(struct settings *s)
{
	char *p;

	if (!s->store_url || !s->mountpoint) {
		usage(stderr);
		return -1;
	}
	if (!s->lower || !s->policy_file) {
		fprintf(stderr, "pressfs mount: -o lower=DIR and -o policy=FILE are required\n");
		return -1;
	}
	if (!(p = existing_dir("lower", s->lower)))
		return -1;
	free(s->lower);
	s->lower = p;
	if (s->local) {
		if (!(p = existing_dir("local", s->local)))
			return -1;
		free(s->local);
		s->local = p;
	}
	if (!s->staging) {
		const char *t = getenv("TMPDIR");

		s->staging = strdup(t && *t ? t : "/var/tmp");
	}
	if (!(p = existing_dir("staging", s->staging)))
		return -1;
	free(s->staging);
	s->staging = p;
	if (!(p = realpath(s->policy_file, NULL))) {
		fprintf(stderr, "pressfs mount: policy '%s': %s\n", s->policy_file,
			strerror(errno));
		return -1;
	}
	free(s->policy_file);
	s->policy_file = p;
	if (s->log_file && s->log_file[0] != '/') {
		char cwd[PATH_MAX], *abs;

		if (!getcwd(cwd, sizeof(cwd)) || asprintf(&abs, "%s/%s", cwd, s->log_file) < 0)
			return -1;
		free(s->log_file);
		s->log_file = abs;
	}
	if (!s->site)
		s->site = strdup("default");
	if (!s->node_id) {
		unsigned char r[8];
		char host[64] = "node";

		if (getrandom(r, sizeof(r), 0) != sizeof(r))
			return -1;
		gethostname(host, sizeof(host) - 1);
		if (asprintf(&s->node_id, "%.40s-%02x%02x%02x%02x%02x%02x%02x%02x", host, r[0],
			     r[1], r[2], r[3], r[4], r[5], r[6], r[7]) < 0)
			return -1;
	}
	if (!s->timeout_ms)
		s->timeout_ms = 2000;
	if (s->cache_fail && strcmp(s->cache_fail, "error") && strcmp(s->cache_fail, "drop")) {
		fprintf(stderr, "pressfs mount: cache_fail=%s: expected error or drop\n",
			s->cache_fail);
		return -1;
	}
	if (s->cache_fail && !s->cache_url) {
		fprintf(stderr, "pressfs mount: cache_fail= needs cache=memcached://...\n");
		return -1;
	}
	if (s->cache_url) {
		char why[200];

		if (cache_parse_url(s->cache_url, why, sizeof(why)) < 0) {
			fprintf(stderr, "pressfs mount: cache=%s: %s\n", s->cache_url, why);
			return -1;
		}
	}
	return 0;
}

static void pfs_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* Pages and sizes are ours to invalidate: no automatic re-checks on every read. */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	if (conn->capable & FUSE_CAP_EXPLICIT_INVAL_DATA)
		conn->want |= FUSE_CAP_EXPLICIT_INVAL_DATA;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	conn->want &= ~(FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
	/* No lock handlers: the kernel keeps flock and fcntl locks on this node. */
	conn->max_write = STORE_CHUNK_SIZE;
	conn->max_readahead =
	    conn->max_readahead < STORE_CHUNK_SIZE ? conn->max_readahead : STORE_CHUNK_SIZE;
	conn->time_gran = 1;
}

static void free_settings(struct settings *s)
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
	free(s->cache_url);
	free(s->cache_fail);
}

int mount_main(int argc, char **argv)
{
	struct mount_opts mo = {0};
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_lowlevel_ops ops = pfs_ops;
	struct pfs fs = {.lower_fd = -1, .staging_fd = -1, .local_fd = -1};
	struct policy_error perr;
	struct fuse_loop_config *loop = NULL;
	struct store_config sc = {0};
	char fsname[128], msg[512];
	int err, ret = 1;

	pthread_mutex_init(&fs.lock, NULL);
	fs.set = &mo.set;
	/* A Redis that closes its socket must give EPIPE, not kill the daemon; libfuse's own
	 * handlers come later than the store's first connection. */
	signal(SIGPIPE, SIG_IGN);
	fix_cache_opts(argc, argv);
	if (fuse_opt_parse(&args, &mo.set, mount_optspec, opt_proc) < 0)
		goto out_args;
	if (mo.set.show_help) {
		usage(stdout);
		ret = 0;
		goto out_args;
	}
	if (check_settings(&mo.set) < 0)
		goto out_args;

	err = policy_load(mo.set.policy_file, &fs.policy, &perr);
	if (err) {
		policy_error_format(&perr, msg, sizeof(msg));
		fprintf(stderr, "pressfs mount: %s\n", msg);
		goto out_args;
	}
	if (log_open(mo.set.log_file, mo.set.foreground, mo.set.debug) < 0) {
		fprintf(stderr, "pressfs mount: log '%s': %s\n", mo.set.log_file, strerror(errno));
		goto out_policy;
	}
	fs.lower_fd = open(mo.set.lower, O_PATH | O_DIRECTORY | O_CLOEXEC);
	fs.staging_fd = open(mo.set.staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mo.set.local)
		fs.local_fd = open(mo.set.local, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fs.lower_fd < 0 || fs.staging_fd < 0 || (mo.set.local && fs.local_fd < 0)) {
		fprintf(stderr, "pressfs mount: %s\n", strerror(errno));
		goto out_fds;
	}
	sc.url = mo.set.store_url;
	sc.site = mo.set.site;
	sc.node = mo.set.node_id;
	sc.timeout_ms = mo.set.timeout_ms;
	err = store_open(&sc, &fs.store);
	if (err) {
		fprintf(stderr, "pressfs mount: cannot open the store %s (site %s): %s\n",
			mo.set.store_url, mo.set.site,
			err == -EPROTO ? "it holds another format version" : strerror(-err));
		goto out_fds;
	}
	store_set_logger(fs.store, log_store, NULL);
	if (mo.set.cache_url) {
		char prefix[96];

		snprintf(prefix, sizeof(prefix), "pressfs:{%s}:", mo.set.site);
		/* memcached is on the page-serving path: a dead server must cost milliseconds */
		err = pool_open(mo.set.cache_url, prefix,
				mo.set.timeout_ms < 250 ? mo.set.timeout_ms : 250, &fs.pool);
		if (err) {
			fprintf(stderr, "pressfs mount: cache=%s: %s\n", mo.set.cache_url,
				strerror(-err));
			goto out_store;
		}
		fs.pool_drop = mo.set.cache_fail && !strcmp(mo.set.cache_fail, "drop");
	}
	if (node_table_init(&fs) < 0)
		goto out_cache;

	snprintf(fsname, sizeof(fsname), "-ofsname=pressfs:%s,subtype=pressfs,default_permissions",
		 mo.set.site);
	if (fuse_opt_add_arg(&args, fsname) < 0)
		goto out_nodes;
	ops.init = pfs_init;
	fs.se = fuse_session_new(&args, &ops, sizeof(ops), &fs);
	if (!fs.se)
		goto out_nodes;
	if (fuse_set_signal_handlers(fs.se) < 0)
		goto out_session;
	if (fuse_session_mount(fs.se, mo.set.mountpoint) < 0)
		goto out_signals;
	log_msg(LOG_LVL_INFO, "mounted %s on %s (site %s, store %s, node %s, %zu rules from %s)",
		mo.set.lower, mo.set.mountpoint, mo.set.site, mo.set.store_url, mo.set.node_id,
		policy_rule_count(fs.policy), mo.set.policy_file);
	if (fs.pool)
		log_msg(LOG_LVL_INFO, "cache class in memcached %s (a write it cannot take: %s)",
			mo.set.cache_url, fs.pool_drop ? "dropped" : "EIO");
	/* Returns in the parent only once the mount is ready: scripts may use it at once. */
	if (fuse_daemonize(mo.set.foreground) < 0)
		goto out_unmount;
	if (inval_start(&fs) < 0)
		log_msg(LOG_LVL_ERR, "no invalidation thread: other nodes' changes show late");
	loop = fuse_loop_cfg_create();
	fuse_loop_cfg_set_max_threads(loop, 16);
	ret = fuse_session_loop_mt(fs.se, loop) ? 1 : 0;
	fuse_loop_cfg_destroy(loop);
	inval_stop(&fs);
	log_msg(LOG_LVL_INFO, "unmounted %s", mo.set.mountpoint);
out_unmount:
	fuse_session_unmount(fs.se);
out_signals:
	fuse_remove_signal_handlers(fs.se);
out_session:
	fuse_session_destroy(fs.se);
out_nodes:
	node_table_destroy(&fs);
out_cache:
	pool_close(fs.pool);
out_store:
	store_close(fs.store);
out_fds:
	if (fs.lower_fd >= 0)
		close(fs.lower_fd);
	if (fs.staging_fd >= 0)
		close(fs.staging_fd);
	if (fs.local_fd >= 0)
		close(fs.local_fd);
out_policy:
	policy_free(fs.policy);
out_args:
	fuse_opt_free_args(&args);
	free_settings(&mo.set);
	return ret;
}
