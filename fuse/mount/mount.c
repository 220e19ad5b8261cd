/* mount.c - `pressfs mount`: the FUSE session over the policy, the store and the pool, made
 * once the options are checked, daemonized once the mount is ready, and torn down in order. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "overlay/attr.h"
#include "overlay/ops.h"
#include "passthrough.h"
#include "pool.h"
#include "mount/metrics.h"
#include "mount/options.h"
#include "mount/presence.h"
#include "mount/secret.h"
#include "mount/timed_ops.h"
#include "pressfs.h"
#include "stats.h"
#include "store/keys.h"

int mount_main(int argc, char **argv);

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
	/* Setuid and setgid are the kernel's to clear (a write or truncate by a caller without
	 * CAP_FSETID, a chown): it then sends the SETATTR of the mode without them, which this
	 * daemon, acting as root, could not decide itself.  No writable file keeps them anyway
	 * (overlay/ns.h); local directories are real ones. */
	conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
	/* No lock handlers: the kernel keeps flock and fcntl locks on this peer. */
	conn->max_write = STORE_CHUNK_SIZE;
	conn->max_readahead =
	    conn->max_readahead < STORE_CHUNK_SIZE ? conn->max_readahead : STORE_CHUNK_SIZE;
	conn->time_gran = 1;
}

/* The directories the overlay works in, opened once. */
static int open_dirs(struct pfs *fs)
{
	const struct settings *s = fs->set;

	fs->lower_fd = open(s->lower, O_PATH | O_DIRECTORY | O_CLOEXEC);
	fs->staging_fd = open(s->staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->local)
		fs->local_fd = open(s->local, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fs->lower_fd < 0 || fs->staging_fd < 0 || (s->local && fs->local_fd < 0)) {
		fprintf(stderr, "pressfs mount: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static void close_dirs(struct pfs *fs)
{
	if (fs->lower_fd >= 0)
		close(fs->lower_fd);
	if (fs->staging_fd >= 0)
		close(fs->staging_fd);
	if (fs->local_fd >= 0)
		close(fs->local_fd);
}

/* The Redis store, and the memcached pool of the cache class when pool= is given. */
static int open_backends(struct pfs *fs, const struct store_secret *sec)
{
	const struct settings *s = fs->set;
	struct store_config sc = {0};
	char prefix[KEY_MAX];
	int err;

	sc.url = sec->url;
	sc.user = sec->user;
	sc.password = sec->password;
	sc.site = s->site;
	sc.peer = s->node_id;
	sc.timeout_ms = s->timeout_ms;
	sc.durability_set = s->durability_set;
	sc.durability = s->durability_replicas;
	sc.durability_timeout_ms = s->durability_ms;
	err = store_open(&sc, &fs->store);
	if (err) {
		fprintf(stderr, "pressfs mount: cannot open the store %s (site %s): %s\n",
			s->store_url, s->site,
			err == -EPROTO ? "it holds another format version" : strerror(-err));
		return -1;
	}
	store_set_logger(fs->store, log_store, NULL);
	if (!s->pool_url)
		return 0;
	key_prefix(prefix, s->site); /* the site was checked by store_open */
	/* memcached is on the page-serving path: a dead server must cost milliseconds */
	err = pool_open(s->pool_url, prefix, s->timeout_ms < 250 ? s->timeout_ms : 250, &fs->pool);
	if (err) {
		fprintf(stderr, "pressfs mount: pool=%s: %s\n", s->pool_url, strerror(-err));
		return -1;
	}
	fs->pool_drop = s->pool_fail && !strcmp(s->pool_fail, "drop");
	return 0;
}

/* The session's own arguments: what the user gave FUSE, and what pressfs always asks. */
static int session_args(struct fuse_args *args, const struct settings *s)
{
	char fsname[128];

	/* nosuid,nodev whoever mounts: no set-id program or device node is ever served. */
	snprintf(fsname, sizeof(fsname),
		 "-ofsname=pressfs:%s,subtype=pressfs,default_permissions,nosuid,nodev", s->site);
	return fuse_opt_add_arg(args, fsname);
}

/* Passthrough is asked of the kernel unless passthrough=off; registering backing files needs
 * CAP_SYS_ADMIN, so an unprivileged daemon does not ask. */
static bool want_passthrough(const struct settings *s)
{
	return !(s->passthrough && !strcmp(s->passthrough, "off")) && geteuid() == 0;
}

/* Serve until unmounted: returns in the parent only once the mount is ready, so scripts may
 * use it at once. */
static int serve(struct pfs *fs, struct metrics *metrics)
{
	struct fuse_loop_config *loop;
	struct presence *presence;
	int ret;

	if (fuse_daemonize(fs->set->foreground) < 0)
		return 1;
	if (inval_start(fs) < 0)
		log_msg(LOG_LVL_ERR, "no invalidation thread: other peers' changes show late");
	if (metrics && metrics_start(metrics) < 0)
		log_msg(LOG_LVL_ERR, "no metrics thread: metrics=%s is not served",
			fs->set->metrics);
	if (presence_start(fs, &presence) < 0)
		log_msg(LOG_LVL_ERR, "no presence thread: pressfs info does not list this peer");
	loop = fuse_loop_cfg_create();
	fuse_loop_cfg_set_max_threads(loop, 16);
	ret = fuse_session_loop_mt(fs->se, loop) ? 1 : 0;
	fuse_loop_cfg_destroy(loop);
	presence_stop(presence);
	metrics_stop(metrics);
	inval_stop(fs);
	log_msg(LOG_LVL_INFO, "unmounted %s", fs->set->mountpoint);
	return ret;
}

/* A run of set-up steps, each undone by the label below its failure point. */
int mount_main(int argc, char **argv)
{
	struct settings set = {0};
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_lowlevel_ops ops = pfs_ops;
	struct pfs fs = {.set = &set,
			 .lower_fd = -1,
			 .staging_fd = -1,
			 .local_fd = -1,
			 .tree_dir = attr_tree_dir};
	struct store_secret sec = {0};
	struct metrics *metrics = NULL;
	struct policy_error perr;
	char msg[512];
	int err, ret = 1;

	pthread_mutex_init(&fs.lock, NULL);
	/* A Redis that closes its socket must give EPIPE, not kill the daemon; libfuse's own
	 * handlers come later than the store's first connection. */
	signal(SIGPIPE, SIG_IGN);
	err = mount_options(argc, argv, &args, &set);
	/* Parsed: the password in argv is no longer needed, and anyone can read argv. */
	secret_scrub_argv(argc, argv);
	if (err) {
		ret = err > 0 ? 0 : 1;
		goto out_args;
	}
	if (secret_take(&set, &sec) < 0)
		goto out_args;

	err = policy_load(set.policy_file, &fs.policy, &perr);
	if (err) {
		policy_error_format(&perr, msg, sizeof(msg));
		fprintf(stderr, "pressfs mount: %s\n", msg);
		goto out_args;
	}
	if (log_open(set.log_file, set.foreground, set.debug) < 0) {
		fprintf(stderr, "pressfs mount: log '%s': %s\n", set.log_file, strerror(errno));
		goto out_policy;
	}
	if (sec.from_url)
		log_msg(LOG_LVL_WARN,
			"the store URL carried a password, readable by every user "
			"until start-up: use password_file= or PRESSFS_STORE_PASSWORD");
	if (open_dirs(&fs) < 0)
		goto out_fds;
	/* bound now: a port in use fails the mount before anything is mounted */
	if (set.metrics && metrics_open(&fs, &metrics) < 0)
		goto out_fds;
	if (open_backends(&fs, &sec) < 0)
		goto out_backends;
	if (node_table_init(&fs) < 0)
		goto out_backends;
	if (session_args(&args, &set) < 0)
		goto out_nodes;

	/* The one ops table: the overlay's handlers, and the session's init. */
	ops.init = pfs_init;
	if (set.metrics)
		timed_ops(&ops); /* the latency histograms; nothing in the way without metrics= */
	fs.se = fuse_session_new(&args, &ops, sizeof(ops), &fs);
	if (!fs.se)
		goto out_nodes;
	if (fuse_set_signal_handlers(fs.se) < 0)
		goto out_session;
	if (fuse_session_mount(fs.se, set.mountpoint) < 0)
		goto out_signals;
	/* Before the first request (INIT) is read: it is there that passthrough is agreed on. */
	if (passthrough_attach(fs.se, want_passthrough(&set)) < 0)
		log_msg(LOG_LVL_WARN, "passthrough: cannot attach to the session: served as usual");
	log_msg(LOG_LVL_INFO, "mounted %s on %s (site %s, store %s, peer %s, %zu rules from %s)",
		set.lower, set.mountpoint, set.site, set.store_url, set.node_id,
		policy_rule_count(fs.policy), set.policy_file);
	if (fs.pool)
		log_msg(LOG_LVL_INFO, "cache class in memcached %s (a write it cannot take: %s)",
			set.pool_url, fs.pool_drop ? "dropped" : "EIO");
	ret = serve(&fs, metrics);
	fuse_session_unmount(fs.se);
out_signals:
	fuse_remove_signal_handlers(fs.se);
out_session:
	fuse_session_destroy(fs.se);
out_nodes:
	node_table_destroy(&fs);
out_backends:
	pool_close(fs.pool);
	store_close(fs.store);
	metrics_close(metrics);
out_fds:
	close_dirs(&fs);
out_policy:
	policy_free(fs.policy);
out_args:
	fuse_opt_free_args(&args);
	secret_free(&sec);
	mount_options_free(&set);
	return ret;
}
