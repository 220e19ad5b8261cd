#!/usr/bin/env bash
# demo.sh - `make demo` / `make demo-stop`: Debian's WordPress mounted by pressfs over a throwaway
# redis-server on loopback, two nodes of one site, left running for you to look at.
#   tests/demo/demo.sh start|stop        state lives in $PRESSFS_DEMO_DIR (default /tmp/pressfs-demo)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PRESSFS=$ROOT/obj/pressfs
POLICY=$ROOT/policies/wordpress.policy
STATE=${PRESSFS_DEMO_DIR:-/tmp/pressfs-demo}
SITE=demo

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

daemon_pid() {	# the obj/pressfs process whose command line names mount point $1
	local d
	for d in /proc/[0-9]*; do
		[ "$(readlink "$d/exe" 2>/dev/null)" = "$(readlink -f "$PRESSFS")" ] || continue
		tr '\0' '\n' <"$d/cmdline" 2>/dev/null | grep -qxF "$1" && { echo "${d#/proc/}"; return; }
	done
	return 0
}

free_port() {	# an unusual loopback port nobody listens on
	local p
	for p in 26479 26579 26679 27479 28479 29479; do
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
	echo "no free port" >&2
	exit 1
}

write_wp_config() {
	cat >"$1/wp-config.php" <<'PHP'
<?php
/* wp-config.php of the pressfs demo: an ordinary configuration (the database is yours to add). */
define( 'DB_NAME', 'wordpress' );
define( 'DB_USER', 'wordpress' );
define( 'DB_PASSWORD', 'wordpress' );
define( 'DB_HOST', '127.0.0.1' );
define( 'DB_CHARSET', 'utf8mb4' );
define( 'DB_COLLATE', '' );
$table_prefix = 'wp_';
define( 'FS_METHOD', 'direct' );
define( 'DISALLOW_FILE_MODS', true );
define( 'DISALLOW_FILE_EDIT', true );
if ( ! defined( 'ABSPATH' ) ) {
	define( 'ABSPATH', __DIR__ . '/' );
}
require_once ABSPATH . 'wp-settings.php';
PHP
}

mount_node() {	# mount_node NAME: mounts $STATE/NAME as node NAME of the demo site
	local mnt=$STATE/$1
	mkdir -p "$mnt"
	run "$PRESSFS" mount -o "lower=$STATE/lower,policy=$POLICY,site=$SITE,node=$1,log=$STATE/$1.log,allow_other" \
		"redis://127.0.0.1:$PORT" "$mnt"
	daemon_pid "$mnt" >"$STATE/$1.pid"
}

start() {
	if [ -f "$STATE/redis.pid" ] && alive "$(cat "$STATE/redis.pid")"; then
		echo "the demo is already running in $STATE (make demo-stop ends it)"
		exit 0
	fi
	[ -x "$PRESSFS" ] || { echo "$PRESSFS is missing: make pressfs" >&2; exit 1; }
	[ -f "$POLICY" ] || { echo "$POLICY is missing" >&2; exit 1; }
	mkdir -p "$STATE/redis"
	PORT=$(free_port)
	echo "$PORT" >"$STATE/port"

	say "a throwaway redis-server on 127.0.0.1:$PORT (data in $STATE/redis)"
	run redis-server --port "$PORT" --bind 127.0.0.1 --dir "$STATE/redis" --save '' \
		--appendonly yes --daemonize yes --pidfile "$STATE/redis.pid" --logfile "$STATE/redis.log"
	for _ in $(seq 100); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
	redis-cli -p "$PORT" ping

	if [ ! -d "$STATE/lower" ]; then
		say "the lower tree: a plain copy of Debian's WordPress, read-only as in an image"
		run cp -rL /usr/share/wordpress "$STATE/lower"
		write_wp_config "$STATE/lower"
	fi

	say "two nodes of one site: $STATE/node-a and $STATE/node-b"
	mount_node node-a
	mount_node node-b
	local A=$STATE/node-a B=$STATE/node-b
	run ls "$A"

	say "an upload written through node A lands in Redis"
	local month
	month=$(date +%Y/%m)
	run mkdir -p "$A/wp-content/uploads/$month"
	printf 'hello from node A, %s\n' "$(date -u +%FT%TZ)" >"$A/wp-content/uploads/$month/hello.txt"
	echo "\$ echo ... > $A/wp-content/uploads/$month/hello.txt"
	run redis-cli -p "$PORT" --scan --pattern 'pressfs:*'

	say "node B reads it back"
	run cat "$B/wp-content/uploads/$month/hello.txt"

	say "code is read-only: a plugin write is refused"
	printf '$ echo "<?php" > %s\n' "$A/wp-content/plugins/akismet/evil.php"
	if (echo "<?php" >"$A/wp-content/plugins/akismet/evil.php") 2>&1; then
		echo "!! the write was accepted: the policy is not in force" >&2
		exit 1
	fi
	run "$PRESSFS" policy check "$POLICY" /wp-content/plugins/akismet/evil.php \
		/wp-content/uploads/2024/05/photo.jpg /.htaccess

	say "request counters of node A"
	run "$PRESSFS" status "$A"

	cat <<EOT

The demo is running:
  node A          $A
  node B          $B
  Redis           redis-cli -p $PORT --scan --pattern 'pressfs:*'
  daemon logs     $STATE/node-a.log, $STATE/node-b.log
  policy          $POLICY
Try: cp a picture into $A/wp-content/uploads/ and open it under $B;
     touch $A/wp-includes/x.php (refused: Read-only file system).
Point a web server's document root at a node (allow_other is set for www-data).
Stop it with:  make demo-stop
EOT
}

stop() {
	local n pid
	for n in node-a node-b; do
		if mountpoint -q "$STATE/$n" 2>/dev/null; then
			fusermount3 -u "$STATE/$n" 2>/dev/null || fusermount3 -uz "$STATE/$n"
		fi
		pid=$(cat "$STATE/$n.pid" 2>/dev/null || true)
		for _ in $(seq 50); do alive "$pid" || break; sleep 0.1; done
		alive "$pid" && kill -9 "$pid"
	done
	pid=$(cat "$STATE/redis.pid" 2>/dev/null || true)
	if alive "$pid"; then
		kill "$pid"
		for _ in $(seq 100); do alive "$pid" || break; sleep 0.1; done
		alive "$pid" && kill -9 "$pid"
	fi
	if grep -qF " $STATE/" /proc/self/mountinfo; then
		echo "something is still mounted under $STATE; not removing it" >&2
		exit 1
	fi
	rm -rf "$STATE"
	echo "demo stopped; $STATE removed"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
