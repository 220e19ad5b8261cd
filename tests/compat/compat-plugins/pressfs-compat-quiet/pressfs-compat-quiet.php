<?php
/**
 * Plugin Name: pressfs compat: quiet
 * Description: For `pressfs compat`'s own test. An admin page and a settings form (saved in the
 *              database through options.php); it never writes a file.
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

add_action(
	'admin_init',
	function () {
		register_setting( 'pressfs_compat_quiet', 'pressfs_compat_quiet_greeting' );
	}
);

add_action(
	'admin_menu',
	function () {
		add_options_page(
			'pressfs compat quiet',
			'pressfs compat quiet',
			'manage_options',
			'pressfs-compat-quiet',
			function () {
				echo '<div class="wrap"><h1>pressfs compat quiet</h1><form method="post" action="options.php">';
				settings_fields( 'pressfs_compat_quiet' );
				echo '<input type="text" name="pressfs_compat_quiet_greeting" value="' . esc_attr( get_option( 'pressfs_compat_quiet_greeting', 'hello' ) ) . '">';
				echo '<input type="submit" name="submit" class="button button-primary" value="Save"></form>';
				echo '<p>WP_CACHE is ' . ( defined( 'WP_CACHE' ) && WP_CACHE ? 'on' : 'off' ) . '; PRESSFS_COMPAT_KEPT is ' . esc_html( defined( 'PRESSFS_COMPAT_KEPT' ) ? PRESSFS_COMPAT_KEPT : 'undefined' ) . '.</p></div>';
			}
		);
	}
);
