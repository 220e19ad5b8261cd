<?php
/* wp-config.php of the pressfs image: everything from the environment, as the official image's
 * wp-config-docker.php does, because the tree is read-only and the same on every peer. */

function pressfs_env($name, $default = '')
{
	$file = getenv($name . '_FILE');
	if ($file !== false && $file !== '') {
		return rtrim((string) file_get_contents($file), "\r\n");
	}
	$v = getenv($name);
	return $v === false ? $default : $v;
}

define('DB_NAME', pressfs_env('WORDPRESS_DB_NAME', 'wordpress'));
define('DB_USER', pressfs_env('WORDPRESS_DB_USER', 'wordpress'));
define('DB_PASSWORD', pressfs_env('WORDPRESS_DB_PASSWORD'));
define('DB_HOST', pressfs_env('WORDPRESS_DB_HOST', 'mysql'));
define('DB_CHARSET', pressfs_env('WORDPRESS_DB_CHARSET', 'utf8mb4'));
define('DB_COLLATE', '');

/* Every peer must have the same keys, or a login on one is not a login on the others. */
foreach (array('AUTH_KEY', 'SECURE_AUTH_KEY', 'LOGGED_IN_KEY', 'NONCE_KEY', 'AUTH_SALT',
	       'SECURE_AUTH_SALT', 'LOGGED_IN_SALT', 'NONCE_SALT') as $k) {
	define($k, pressfs_env('WORDPRESS_' . $k, hash('sha256', $k . DB_PASSWORD . DB_NAME)));
}
$table_prefix = pressfs_env('WORDPRESS_TABLE_PREFIX', 'wp_');

/* Behind a proxy that says the request came over TLS */
if (isset($_SERVER['HTTP_X_FORWARDED_PROTO']) && $_SERVER['HTTP_X_FORWARDED_PROTO'] === 'https') {
	$_SERVER['HTTPS'] = 'on';
}
/* WORDPRESS_HOME_FROM_REQUEST=1: the site's address follows the Host header, so one site answers
 * on every peer's own port (the demo, the tests).  Never in production: a client chooses it. */
if (pressfs_env('WORDPRESS_HOME_FROM_REQUEST') === '1' && !empty($_SERVER['HTTP_HOST'])) {
	define('WP_HOME', 'http://' . $_SERVER['HTTP_HOST']);
	define('WP_SITEURL', 'http://' . $_SERVER['HTTP_HOST']);
	define('COOKIEHASH', md5(DB_NAME . $table_prefix));
}

/* The code is the image's: no installs, updates or editors; direct writes for what remains. */
define('FS_METHOD', 'direct');
define('DISALLOW_FILE_MODS', true);
define('DISALLOW_FILE_EDIT', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_DEBUG', pressfs_env('WORDPRESS_DEBUG') !== '');

/* WORDPRESS_CONFIG_EXTRA: more PHP, as in the official image */
if (($extra = pressfs_env('WORDPRESS_CONFIG_EXTRA')) !== '') {
	eval($extra);
}

if (!defined('ABSPATH')) {
	define('ABSPATH', __DIR__ . '/');
}
require_once ABSPATH . 'wp-settings.php';
