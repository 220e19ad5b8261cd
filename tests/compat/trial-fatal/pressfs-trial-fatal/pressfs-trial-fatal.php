<?php
/**
 * Plugin Name: pressfs trial: fatal
 * Description: For `pressfs compat`'s own test. Its admin page calls a function that does not
 *              exist, as a plugin missing a dependency would: a fatal error compat must report.
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

add_action(
	'admin_menu',
	function () {
		add_menu_page(
			'pressfs fatal',
			'pressfs fatal',
			'manage_options',
			'pressfs-trial-fatal',
			function () {
				pressfs_trial_missing_dependency();
			}
		);
	}
);
