<?php
/**
 * Plugin Name: pressfs trial: settings
 * Description: For `pressfs compat`'s own test. Its settings page saves a JSON file under
 *              wp-content/pressfs-trial/, a folder no default rule makes writable.
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

add_action(
	'admin_menu',
	function () {
		add_options_page(
			'pressfs trial',
			'pressfs trial',
			'manage_options',
			'pressfs-trial-settings',
			function () {
				wp_mkdir_p( WP_CONTENT_DIR . '/pressfs-trial' );
				$saved = @file_put_contents( WP_CONTENT_DIR . '/pressfs-trial/settings.json', wp_json_encode( array( 'seen' => time() ) ) );
				echo '<div class="wrap"><h1>pressfs trial</h1><p>' . ( $saved ? 'saved' : 'not saved' ) . '</p></div>';
			}
		);
	}
);
