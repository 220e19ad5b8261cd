<?php
/**
 * Plugin Name: pressfs trial: logger
 * Description: For `pressfs compat`'s own test. Logs every front-end request to
 *              uploads/wc-logs/trial.log, one line with fopen 'a', as WooCommerce's logger does.
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

add_action(
	'template_redirect',
	function () {
		$dir = wp_upload_dir()['basedir'] . '/wc-logs';
		wp_mkdir_p( $dir );
		$fp = fopen( $dir . '/trial.log', 'a' );
		if ( $fp ) {
			fwrite( $fp, gmdate( 'c' ) . ' ' . $_SERVER['REQUEST_URI'] . "\n" );
			fclose( $fp );
		}
	}
);
