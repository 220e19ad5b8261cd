<?php
/**
 * Plugin Name: pressfs compat: page cache drop-in
 * Description: For `pressfs compat`'s own test. Like WP Super Cache and W3 Total Cache: its
 *              settings page installs advanced-cache.php into wp-content and, when
 *              is_writable() allows, edits wp-config.php to set WP_CACHE and its home; otherwise
 *              it shows its own message.
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

function pressfs_compat_dropin_lines() {
	return array(
		"define( 'WP_CACHE', true );",
		"define( 'PRESSFS_COMPAT_HOME', '" . __DIR__ . "/' );",
	);
}

function pressfs_compat_dropin_page() {
	$dropin = WP_CONTENT_DIR . '/advanced-cache.php';
	echo '<div class="wrap"><h1>pressfs compat drop-in</h1>';
	if ( ! file_exists( $dropin ) && ! @copy( __DIR__ . '/advanced-cache.php', $dropin ) ) {
		echo '<div class="notice notice-error"><p>Page caching is off: could not install ' . esc_html( $dropin ) . '. Make wp-content writable (chmod 777).</p></div>';
	}
	$config = ABSPATH . 'wp-config.php';
	if ( ! defined( 'WP_CACHE' ) || ! WP_CACHE ) {
		if ( is_writable( $config ) ) {
			$text = file_get_contents( $config );
			file_put_contents( $config, str_replace( '<?php', "<?php\n" . implode( "\n", pressfs_compat_dropin_lines() ), $text ) );
		} else {
			echo '<div class="notice notice-warning"><p>wp-config.php is not writable. Add these lines to it: ' . esc_html( implode( ' ', pressfs_compat_dropin_lines() ) ) . '</p></div>';
		}
	} else {
		echo '<p>WP_CACHE is on.</p>';
	}
	echo '</div>';
}

add_action(
	'admin_menu',
	function () {
		add_options_page( 'pressfs compat drop-in', 'pressfs compat drop-in', 'manage_options', 'pressfs-compat-dropin', 'pressfs_compat_dropin_page' );
	}
);
