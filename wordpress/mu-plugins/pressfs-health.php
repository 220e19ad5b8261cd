<?php
/**
 * Plugin Name: pressfs health
 * Description: Site Health tests and WP-CLI commands (`wp pressfs status`, `wp pressfs refusals`) for a WordPress served by pressfs.
 * Version: 1.0.0
 * License: GPL-2.0-or-later
 *
 * A must-use plugin: copy it into wp-content/mu-plugins/ of the image.
 *
 * How it learns the mount's state: the mount answers `pressfs status --json MOUNTPOINT`
 * (the `user.pressfs.status` extended attribute of its root).  PHP has no getxattr(), and a
 * status file under the document root would be served to every visitor, so the plugin runs
 * that command (argv array, no shell, under `timeout`) when it needs to; define PRESSFS_BIN
 * in wp-config.php when the binary is not /usr/local/bin/pressfs or /usr/bin/pressfs.
 * Whether the store takes writes is checked by making and removing one directory in the
 * uploads folder (shared class), which reaches Redis at once and fails when it cannot.
 */

defined( 'ABSPATH' ) || exit;

final class Pressfs_Health {
	const BADGE = array(
		'label' => 'pressfs',
		'color' => 'blue',
	);

	/** The extension: loaded, mode, policy, from its own phpinfo() table. */
	public static function extension() {
		$e = array(
			'loaded'   => extension_loaded( 'pressfs' ),
			'enabled'  => false,
			'mode'     => (string) ini_get( 'pressfs.mode' ),
			'policy'   => (string) ini_get( 'pressfs.policy' ),
			'rules'    => null,
			'why'      => '',
			'audit'    => (string) ini_get( 'pressfs.audit_log' ),
			'mount'    => (string) ini_get( 'pressfs.mount' ),
		);
		if ( ! $e['loaded'] ) {
			return $e;
		}
		ob_start();
		( new ReflectionExtension( 'pressfs' ) )->info();
		$table = ob_get_clean();
		$rows  = array();
		if ( preg_match_all( '#<tr><td class="e">(.*?)</td><td class="v">(.*?)</td></tr>#s', $table, $m, PREG_SET_ORDER ) ) {
			foreach ( $m as $r ) {
				$rows[ trim( html_entity_decode( strip_tags( $r[1] ) ) ) ] = trim( html_entity_decode( strip_tags( $r[2] ) ) );
			}
		} else {
			foreach ( explode( "\n", $table ) as $line ) {
				$kv = explode( ' => ', $line, 2 );
				if ( 2 === count( $kv ) ) {
					$rows[ trim( $kv[0] ) ] = trim( $kv[1] );
				}
			}
		}
		$e['enabled'] = isset( $rows['pressfs support'] ) && 'enabled' === $rows['pressfs support'];
		$e['why']     = isset( $rows['Disabled because'] ) ? $rows['Disabled because'] : '';
		if ( isset( $rows['Policy rules'] ) && ctype_digit( $rows['Policy rules'] ) ) {
			$e['rules'] = (int) $rows['Policy rules'];
		}
		if ( isset( $rows['Mode'] ) ) {
			$e['mode'] = $rows['Mode'];
		}
		return $e;
	}

	/** The mount point PHP sees: the redirect target, or the WordPress root itself. */
	public static function mountpoint() {
		$m = (string) ini_get( 'pressfs.mount' );
		return '' !== $m ? $m : rtrim( ABSPATH, '/' );
	}

	private static function binary() {
		if ( defined( 'PRESSFS_BIN' ) ) {
			return PRESSFS_BIN;
		}
		foreach ( array( '/usr/local/bin/pressfs', '/usr/bin/pressfs' ) as $b ) {
			if ( is_executable( $b ) ) {
				return $b;
			}
		}
		return '';
	}

	/**
	 * What the mount says about itself: array( 'ok' => bool, 'error' => string, 'status' => array ).
	 * 'ok' means the mount answered; the store's state is in status['store_state'].
	 */
	public static function mount_status() {
		$bin = self::binary();
		if ( '' === $bin ) {
			return array( 'ok' => false, 'error' => 'the pressfs program was not found (define PRESSFS_BIN)', 'status' => array() );
		}
		if ( ! function_exists( 'proc_open' ) ) {
			return array( 'ok' => false, 'error' => 'proc_open() is disabled, so the mount cannot be asked', 'status' => array() );
		}
		$cmd  = array( 'timeout', '3', $bin, 'status', '--json', self::mountpoint() );
		$pipe = array();
		$p    = @proc_open( $cmd, array( 1 => array( 'pipe', 'w' ), 2 => array( 'pipe', 'w' ) ), $pipe );
		if ( ! is_resource( $p ) ) {
			return array( 'ok' => false, 'error' => 'could not run ' . $bin, 'status' => array() );
		}
		$out = stream_get_contents( $pipe[1] );
		$err = stream_get_contents( $pipe[2] );
		fclose( $pipe[1] );
		fclose( $pipe[2] );
		$rc = proc_close( $p );
		if ( 124 === $rc ) {
			return array( 'ok' => false, 'error' => 'the mount did not answer within 3 seconds', 'status' => array() );
		}
		$json = json_decode( (string) $out, true );
		if ( 0 !== $rc || ! is_array( $json ) ) {
			return array( 'ok' => false, 'error' => trim( (string) $err ) ? trim( (string) $err ) : 'pressfs status failed', 'status' => array() );
		}
		return array( 'ok' => true, 'error' => '', 'status' => $json );
	}

	/** Make and remove a directory in the uploads folder: true, or the reason it failed. */
	public static function probe_store() {
		$up = wp_upload_dir( null, false );
		if ( empty( $up['basedir'] ) ) {
			return 'no uploads folder';
		}
		$dir = $up['basedir'] . '/.pressfs-probe-' . getmypid() . '-' . wp_rand();
		if ( ! @mkdir( $dir ) ) {
			$e = error_get_last();
			return $e ? $e['message'] : 'mkdir failed';
		}
		@rmdir( $dir );
		return true;
	}

	/**
	 * Refused writes since SINCE (unix time) from the extension's audit log, by writer:
	 * array( writer => array( 'count' => n, 'paths' => array( path => rule ) ) ).  Null when
	 * the log is not a file this process can read.
	 */
	public static function refusals( $since ) {
		$log = (string) ini_get( 'pressfs.audit_log' );
		if ( '' === $log || 'stderr' === $log || 'syslog' === $log || ! is_readable( $log ) ) {
			return null;
		}
		$f = fopen( $log, 'rb' );
		if ( ! $f ) {
			return null;
		}
		$size = filesize( $log );
		if ( $size > 4 << 20 ) {      // the last 4 MiB are plenty for an hour
			fseek( $f, $size - ( 4 << 20 ) );
			fgets( $f );
		}
		$by = array();
		while ( false !== ( $line = fgets( $f ) ) ) {
			$r = json_decode( $line, true );
			if ( ! is_array( $r ) || empty( $r['time'] ) || empty( $r['outcome'] ) ) {
				continue;
			}
			if ( 'denied' !== $r['outcome'] && 'reported' !== $r['outcome'] ) {
				continue;
			}
			if ( strtotime( $r['time'] ) < $since ) {
				continue;
			}
			$who = isset( $r['culprit'] ) ? (string) $r['culprit'] : 'unknown';
			if ( ! isset( $by[ $who ] ) ) {
				$by[ $who ] = array( 'count' => 0, 'paths' => array() );
			}
			$by[ $who ]['count']++;
			$by[ $who ]['paths'][ (string) $r['path'] ] = sprintf( 'line %s: %s %s', $r['rule'] ?? '-', $r['pattern'] ?? '', $r['class'] ?? '' );
		}
		fclose( $f );
		uasort( $by, function ( $a, $b ) {
			return $b['count'] - $a['count'];
		} );
		return $by;
	}

	private static function result( $test, $label, $status, $description ) {
		return array(
			'label'       => $label,
			'status'      => $status,
			'badge'       => self::BADGE,
			'description' => '<p>' . $description . '</p>',
			'actions'     => '',
			'test'        => $test,
		);
	}

	public static function test_extension() {
		$e = self::extension();
		if ( ! $e['loaded'] ) {
			return self::result( 'pressfs_extension', 'pressfs: the PHP extension is not loaded', 'critical', 'PHP runs without pressfs.so: writes are not judged by the policy and refused writes get no explanation.' );
		}
		if ( ! $e['enabled'] ) {
			return self::result( 'pressfs_extension', 'pressfs: the PHP extension is off', 'critical', 'pressfs.so is loaded but off: ' . esc_html( $e['why'] ) );
		}
		return self::result( 'pressfs_extension', 'pressfs: the PHP extension is on (' . esc_html( $e['mode'] ) . ' mode)', 'enforce' === $e['mode'] ? 'good' : 'recommended', 'enforce' === $e['mode'] ? 'Writes the policy denies are refused with a message naming the rule.' : 'In report mode denied writes go ahead and are only recorded.' );
	}

	public static function test_policy() {
		$e = self::extension();
		if ( null === $e['rules'] ) {
			return self::result( 'pressfs_policy', 'pressfs: no policy is loaded', 'critical', 'pressfs.policy (' . esc_html( $e['policy'] ) . ') was not loaded.' );
		}
		return self::result( 'pressfs_policy', 'pressfs: the policy is loaded', 'good', esc_html( $e['policy'] ) . ': ' . (int) $e['rules'] . ' rules.' );
	}

	public static function test_mount() {
		$m = self::mount_status();
		if ( ! $m['ok'] ) {
			return self::result( 'pressfs_mount', 'pressfs: the mount does not answer', 'critical', esc_html( self::mountpoint() . ': ' . $m['error'] ) );
		}
		return self::result( 'pressfs_mount', 'pressfs: the mount answers', 'good', esc_html( self::mountpoint() ) . ' serves site ' . esc_html( $m['status']['site'] ?? '?' ) . '.' );
	}

	public static function test_store() {
		$probe = self::probe_store();
		$m     = self::mount_status();
		$state = $m['ok'] ? ( $m['status']['store_state'] ?? '' ) : '';
		if ( true === $probe && 'up' === $state ) {
			return self::result( 'pressfs_store', 'pressfs: the store is reachable', 'good', 'A directory made in the uploads folder reached the store.' );
		}
		$why = true !== $probe ? $probe : ( $m['ok'] ? ( $m['status']['store_error'] ?? 'down' ) : $m['error'] );
		return self::result( 'pressfs_store', 'pressfs: the store is not reachable', 'critical', 'Uploads and other shared writes fail until it is back: ' . esc_html( $why ) );
	}

	public static function test_refusals() {
		$by = self::refusals( time() - HOUR_IN_SECONDS );
		if ( null === $by ) {
			return self::result( 'pressfs_refusals', 'pressfs: no audit log to read refusals from', 'recommended', 'Set pressfs.audit_log to a file to see which plugins had writes refused.' );
		}
		if ( ! $by ) {
			return self::result( 'pressfs_refusals', 'pressfs: no writes refused in the last hour', 'good', 'No plugin or theme tried to write where the policy takes no writes.' );
		}
		$items = '';
		foreach ( $by as $who => $r ) {
			$items .= '<li>' . esc_html( $who ) . ': ' . (int) $r['count'] . ' (' . esc_html( implode( ', ', array_slice( array_keys( $r['paths'] ), 0, 3 ) ) ) . ')</li>';
		}
		return self::result( 'pressfs_refusals', 'pressfs: writes were refused in the last hour', 'recommended', 'These writers tried to write where the policy takes no writes (<code>pressfs audit</code> suggests policy lines):</p><ul>' . $items . '</ul><p>' );
	}

	public static function tests( $tests ) {
		foreach ( array( 'extension', 'policy', 'mount', 'store', 'refusals' ) as $t ) {
			$tests['direct'][ 'pressfs_' . $t ] = array(
				'label' => 'pressfs ' . $t,
				'test'  => array( __CLASS__, 'test_' . $t ),
			);
		}
		return $tests;
	}

	public static function debug_information( $info ) {
		$e = self::extension();
		$m = self::mount_status();
		$s = $m['status'];
		$info['pressfs'] = array(
			'label'  => 'pressfs',
			'fields' => array(
				'extension'   => array( 'label' => 'Extension', 'value' => $e['loaded'] ? ( $e['enabled'] ? 'on' : 'off: ' . $e['why'] ) : 'not loaded' ),
				'mode'        => array( 'label' => 'Mode', 'value' => $e['mode'] ),
				'policy'      => array( 'label' => 'Policy', 'value' => $e['policy'] . ( null === $e['rules'] ? ' (not loaded)' : ' (' . $e['rules'] . ' rules)' ) ),
				'mount'       => array( 'label' => 'Mount', 'value' => self::mountpoint() . ( $m['ok'] ? '' : ': ' . $m['error'] ) ),
				'site'        => array( 'label' => 'Site', 'value' => $s['site'] ?? '' ),
				'store'       => array( 'label' => 'Store', 'value' => ( $s['store'] ?? '' ) . ' (' . ( $s['store_state'] ?? 'unknown' ) . ')', 'private' => true ),
				'audit_log'   => array( 'label' => 'Audit log', 'value' => $e['audit'] ),
			),
		);
		return $info;
	}
}

add_filter( 'site_status_tests', array( 'Pressfs_Health', 'tests' ) );
add_filter( 'debug_information', array( 'Pressfs_Health', 'debug_information' ) );

/**
 * Look at pressfs from the command line.
 */
class Pressfs_Command {
	/**
	 * The extension, the policy, the mount and the store, one line each.
	 *
	 * ## EXAMPLES
	 *     wp pressfs status
	 */
	public function status( $args, $assoc_args ) {
		$bad = 0;
		foreach ( array( 'extension', 'policy', 'mount', 'store', 'refusals' ) as $t ) {
			$r = call_user_func( array( 'Pressfs_Health', 'test_' . $t ) );
			WP_CLI::line( sprintf( '%-12s %-11s %s', $t, $r['status'], $r['label'] ) );
			$bad += 'critical' === $r['status'];
		}
		if ( $bad ) {
			WP_CLI::error( "$bad critical" );
		}
		WP_CLI::success( 'pressfs is healthy' );
	}

	/**
	 * Writes the policy refused, by the plugin or theme that made them.
	 *
	 * ## OPTIONS
	 * [--since=<seconds>]
	 * : How far back to look (default 3600).
	 * [--format=<format>]
	 * : table or json.
	 */
	public function refusals( $args, $assoc_args ) {
		$since = isset( $assoc_args['since'] ) ? (int) $assoc_args['since'] : 3600;
		$by    = Pressfs_Health::refusals( time() - $since );
		if ( null === $by ) {
			WP_CLI::error( 'pressfs.audit_log is not a readable file' );
		}
		$rows = array();
		foreach ( $by as $who => $r ) {
			foreach ( $r['paths'] as $path => $rule ) {
				$rows[] = array( 'writer' => $who, 'count' => $r['count'], 'path' => $path, 'rule' => $rule );
			}
		}
		WP_CLI\Utils\format_items( $assoc_args['format'] ?? 'table', $rows, array( 'writer', 'count', 'path', 'rule' ) );
	}
}

if ( defined( 'WP_CLI' ) && WP_CLI && class_exists( 'WP_CLI' ) ) {
	WP_CLI::add_command( 'pressfs', 'Pressfs_Command' );
}
