#!/bin/sh
# pressfs-entrypoint - mounts the pressfs overlay at the docroot over the image's WordPress, waits
# until it answers, runs the web server (CMD); on SIGTERM stops the server, then unmounts.
#
# Configured by the environment (docs/DEPLOY.md):
#   PRESSFS_STORE          redis://[user@]host:port[/db] or unix:///path (required)
#   PRESSFS_PASSWORD_FILE  a file holding the Redis user's password (a mounted secret)
#   PRESSFS_SITE           the site's name, its keys pressfs:{SITE}:* (default: default)
#   PRESSFS_POOL           memcached://host:port[,host:port...] for the policy's cache class
#   PRESSFS_POLICY, PRESSFS_MODE (enforce|report|off), PRESSFS_PEER (default: the hostname),
#   PRESSFS_LOWER, PRESSFS_DOCROOT, PRESSFS_LISTEN (Apache's Listen), PRESSFS_MOUNT_OPTIONS
#   (more -o options), PRESSFS_READY_TIMEOUT (seconds, default 30),
#   PRESSFS_LISTEN_BUCKETS_RATIO (Apache's ListenCoresBucketsRatio: set it to 1 where replicas
#   share one network namespace and port, hostNetwork, and the kernel spreads connections)
#   PRESSFS_METRICS        the mount's metrics= address, /healthz and /metrics (default
#                          127.0.0.1:9101; empty: none).  Several, space separated: the first
#                          one free, for replicas sharing a network namespace.  The one taken is
#                          written to /run/pressfs/metrics/PEER, where pressfs-probe finds it.
set -eu

# Option names of the pressfs in this image, and how the store password reaches it:
# PASSWORD_VIA=option passes password_file= (never in argv); url is for older daemons only.
PEER_OPTION=peer
POOL_OPTION=pool
PASSWORD_VIA=option

say() { echo "pressfs-entrypoint: $*" >&2; }
die() { say "$*"; exit 1; }

: "${PRESSFS_STORE:?set PRESSFS_STORE to redis://[user@]host:port or unix:///path}"
site=${PRESSFS_SITE:-default}
docroot=${PRESSFS_DOCROOT:-/var/www/html}
lower=${PRESSFS_LOWER:-/usr/src/wordpress}
policy=${PRESSFS_POLICY:-/etc/pressfs/wordpress.policy}
peer=${PRESSFS_PEER:-$(cat /proc/sys/kernel/hostname)}
timeout=${PRESSFS_READY_TIMEOUT:-30}
# /tmp and /run are the only writable places of a read-only container (emptyDirs in
# Kubernetes; podman and docker --read-only also make /var/tmp, the daemon's default staging)
local_dir=/tmp/pressfs-local
staging_dir=/tmp/pressfs-staging

[ -e /dev/fuse ] || die "/dev/fuse is missing: run with --device /dev/fuse (docs/DEPLOY.md)"
[ -d "$lower" ] || die "the lower tree $lower is missing"
[ -r "$policy" ] || die "the policy $policy cannot be read"

# percent-escape stdin (RFC 3986 unreserved bytes stay), for a password in the URL
urlescape() {
	od -An -v -tx1 | tr -s ' \n' '\n\n' | while read -r h; do
		[ -n "$h" ] || continue
		case $h in
		3[0-9] | 4[1-9a-f] | 5[0-9a] | 6[1-9a-f] | 7[0-9a] | 2d | 2e | 5f | 7e)
			printf "\\$(printf %03o "0x$h")" ;;
		*) printf '%%%s' "$(echo "$h" | tr a-f A-F)" ;;
		esac
	done
}

store=$PRESSFS_STORE
opts="lower=$lower,policy=$policy,site=$site,local=$local_dir,staging=$staging_dir"
opts="$opts,$PEER_OPTION=$peer,allow_other"
if [ -n "${PRESSFS_PASSWORD_FILE:-}" ]; then
	[ -r "$PRESSFS_PASSWORD_FILE" ] ||
		die "PRESSFS_PASSWORD_FILE=$PRESSFS_PASSWORD_FILE cannot be read"
	if [ "$PASSWORD_VIA" = option ]; then
		opts="$opts,password_file=$PRESSFS_PASSWORD_FILE"
	else
		case $store in
		redis://*) ;;
		*) die "a password in the URL needs a redis:// store" ;;
		esac
		pw=$(tr -d '\n' <"$PRESSFS_PASSWORD_FILE" | urlescape)
		rest=${store#redis://}
		hostpart=${rest%%/*}
		case $hostpart in
		*@*) user=${hostpart%@*} ;;
		*) user= ;;
		esac
		store="redis://$user:$pw@${rest#*@}"
	fi
fi
[ -z "${PRESSFS_POOL:-}" ] || opts="$opts,$POOL_OPTION=$PRESSFS_POOL"
[ -z "${PRESSFS_MOUNT_OPTIONS:-}" ] || opts="$opts,$PRESSFS_MOUNT_OPTIONS"

# Root's alone: the web server's user reaches these files only through the overlay, which
# judges every name; a file planted here directly would skip that judgement.
mkdir -p -m 700 "$local_dir" "$staging_dir"
mkdir -p /run/pressfs/apache
if [ -n "${PRESSFS_LISTEN_BUCKETS_RATIO:-}" ]; then
	case $PRESSFS_LISTEN_BUCKETS_RATIO in
	*[!0-9]* | 0) die "PRESSFS_LISTEN_BUCKETS_RATIO must be a positive number" ;;
	esac
	echo "ListenCoresBucketsRatio $PRESSFS_LISTEN_BUCKETS_RATIO" >/run/pressfs/apache/listen.conf
fi

mounted() { grep -q " $docroot fuse" /proc/self/mounts; }

# Is something listening on TCP port $1 in this network namespace (any address)?
listening() {
	hex=$(printf '%04X' "$1")
	for t in /proc/net/tcp /proc/net/tcp6; do
		[ -r "$t" ] || continue
		while read -r _ local _ st _; do
			[ "$st" = 0A ] && [ "${local##*:}" = "$hex" ] && return 0
		done <"$t"
	done
	return 1
}

metrics_list=${PRESSFS_METRICS-127.0.0.1:9101}
case ,${PRESSFS_MOUNT_OPTIONS:-}, in
*,metrics=*)
	die "give the metrics address as PRESSFS_METRICS, not in PRESSFS_MOUNT_OPTIONS" ;;
esac
for a in $metrics_list; do
	case ${a%:*}/${a##*:} in
	"$a"/* | /* | */ | */*[!0-9]*)
		die "PRESSFS_METRICS: '$a' is not HOST:PORT (127.0.0.1:9101, [::1]:9101)" ;;
	esac
done
# by peer: replicas whose /run is one volume (podman kube play's emptyDir) keep theirs apart
metrics_file=/run/pressfs/metrics/$(echo "$peer" | tr / _)
mkdir -p /run/pressfs/metrics
rm -f "$metrics_file"

daemon=
server=
cleanup() {
	if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
		kill -TERM "$server" 2>/dev/null || :
		wait "$server" 2>/dev/null || :
	fi
	if mounted; then
		i=0
		until fusermount3 -u "$docroot" 2>/dev/null || [ $i -ge 20 ]; do
			i=$((i + 1))
			sleep 0.5
		done
		mounted && { say "$docroot busy: lazy unmount"; fusermount3 -uz "$docroot" || :; }
	fi
	if [ -n "$daemon" ]; then
		i=0
		while kill -0 "$daemon" 2>/dev/null && [ $i -lt 100 ]; do
			i=$((i + 1))
			sleep 0.1
		done
	fi
}
stopping=
trap 'stopping=1' TERM INT

# The daemon stays in the foreground as a child of this script, so it is ours to wait for.
# With several metrics addresses, the first nobody listens on is taken; a daemon that dies
# before mounting because another replica bound that port just then is started on the next.
# A container replacing one on the same network namespace may start while the old one's daemon
# is still going away: give it a few seconds.
metrics=
i=0
while [ -n "$metrics_list" ]; do
	for a in $metrics_list; do
		listening "${a##*:}" || { metrics=$a; break; }
	done
	[ -z "$metrics" ] || break
	[ $i -lt 20 ] || die "PRESSFS_METRICS: every address is in use ($metrics_list)"
	[ $i -gt 0 ] || say "PRESSFS_METRICS: $metrics_list in use: waiting for it to be free"
	i=$((i + 1))
	sleep 0.5
done
start_daemon() {
	o=$opts
	[ -z "$metrics" ] || o="$o,metrics=$metrics"
	say "mounting $PRESSFS_STORE (site $site, peer $peer) at $docroot over $lower" \
		"${metrics:+(health on http://$metrics/healthz)}"
	pressfs mount -f -o "$o" "$store" "$docroot" &
	daemon=$!
}
# the metrics address after $1 in the list that is not in use, or nothing
next_metrics() {
	seen='' next=''
	for a in $metrics_list; do
		if [ -n "$seen" ] && ! listening "${a##*:}"; then
			next=$a
			break
		fi
		[ "$a" != "$1" ] || seen=1
	done
	echo "$next"
}
start_daemon

i=0
until mounted && [ -e "$docroot/index.php" ]; do
	if ! kill -0 "$daemon" 2>/dev/null; then
		wait "$daemon" || :
		if [ -n "$metrics" ] && listening "${metrics##*:}" &&
			next=$(next_metrics "$metrics") && [ -n "$next" ]; then
			say "metrics=$metrics was taken meanwhile: trying $next"
			metrics=$next
			start_daemon
			continue
		fi
		die "pressfs mount failed"
	fi
	[ -z "$stopping" ] || { cleanup; exit 0; }
	i=$((i + 1))
	[ $i -le $((timeout * 10)) ] || { cleanup; die "the mount did not answer within ${timeout}s"; }
	sleep 0.1
done
unset pw store
[ -z "$metrics" ] || echo "$metrics" >"$metrics_file"
say "mounted; starting $*"

"$@" &
server=$!

# Until a signal, the server exits, or the daemon dies (a peer without its mount must not serve)
status=0
while [ -z "$stopping" ]; do
	if ! kill -0 "$server" 2>/dev/null; then
		wait "$server" || status=$?
		server=
		say "$1 exited ($status)"
		break
	fi
	if ! kill -0 "$daemon" 2>/dev/null; then
		say "the pressfs daemon died: stopping"
		status=1
		break
	fi
	sleep 1 &
	wait $! || :
done
cleanup
[ -z "$stopping" ] || say "stopped; $docroot unmounted"
exit $status
