<?php
/**
 * Plugin Name: pressfs trial: self-update
 * Description: For `pressfs compat`'s own test. On every admin page it rewrites a PHP file in
 *              its own folder, as plugins that "update" their bundled code do.
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

add_action(
	'admin_init',
	function () {
		@file_put_contents( __DIR__ . '/generated.php', "<?php\n// generated " . gmdate( 'c' ) . "\n" );
	}
);
