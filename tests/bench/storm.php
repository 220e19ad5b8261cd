<?php
/* storm.php - the include/stat storm of `make bench`: what WordPress does to its own files on
 * every request (stat, negative lookups, reads of block.json/theme.json/CSS, pattern headers,
 * includes of pattern and asset files), in a loop over a WordPress tree.
 *
 *   php -d opcache.enable_cli=1 storm.php ROOT SECONDS   ->  {"files_per_s": ..., ...}
 *
 * The first pass (listing the tree, compiling the includes) is not timed. */

if ($argc < 3) {
	fwrite(STDERR, "usage: storm.php ROOT SECONDS\n");
	exit(2);
}
$root = rtrim($argv[1], '/');
$seconds = (float)$argv[2];

/* what the included files call: WordPress's translation and escaping functions, as stubs */
function __($t, $d = 'default') { return $t; }
function _x($t, $c, $d = 'default') { return $t; }
function esc_html__($t, $d = 'default') { return $t; }
function esc_html_x($t, $c, $d = 'default') { return $t; }
function esc_attr_x($t, $c, $d = 'default') { return $t; }
function esc_attr_e($t, $d = 'default') { echo $t; }
function esc_html_e($t, $d = 'default') { echo $t; }
function esc_url($u) { return $u; }

/* the files a request touches, found with a listing (the first, untimed, pass) */
$dirs = ['wp-includes/blocks', 'wp-includes/block-patterns', 'wp-includes/assets',
	 'wp-includes/css', 'wp-content/themes'];
$reads = [];	/* read whole: JSON, CSS, HTML templates */
$headers = [];	/* pattern files: header read, then included */
$includes = [];	/* files that return data */
foreach ($dirs as $d) {
	$it = new RecursiveIteratorIterator(new RecursiveDirectoryIterator("$root/$d",
		FilesystemIterator::SKIP_DOTS));
	foreach ($it as $f) {
		$p = $f->getPathname();
		if (substr($p, -4) !== '.php') {
			$reads[] = $p;
		} elseif (strpos($p, '/patterns/') !== false) {
			$headers[] = $p;
		} elseif (preg_match('#^<\?php\s*(/\*.*?\*/\s*)?return\s+array\s*\(#s', file_get_contents($p))) {
			$includes[] = $p;
		}
	}
}
$stats = glob("$root/wp-includes/*.php");	/* existence checks only */
sort($reads);
sort($headers);
sort($includes);

function pass($reads, $headers, $includes, $stats)
{
	$bytes = 0;
	clearstatcache();
	foreach ($stats as $p) {
		$bytes += file_exists($p) ? 1 : 0;
	}
	foreach ($reads as $p) {
		if (is_file($p) && !file_exists($p . '.rtl')) {
			$bytes += strlen(file_get_contents($p));
		}
	}
	foreach ($headers as $p) {
		$fh = fopen($p, 'r');
		$bytes += strlen(fread($fh, 8192));
		fclose($fh);
		ob_start();
		include $p;
		$bytes += strlen(ob_get_clean());
	}
	foreach ($includes as $p) {
		$v = include $p;
		$bytes += is_array($v) ? count($v) : 0;
	}
	return $bytes;
}

$per_pass = count($reads) + count($headers) + count($includes) + count($stats);
$expect = pass($reads, $headers, $includes, $stats);	/* warm-up, and the reference result */
$passes = 0;
$t0 = microtime(true);
do {
	if (pass($reads, $headers, $includes, $stats) !== $expect) {
		fwrite(STDERR, "storm: a pass read different bytes than the first\n");
		exit(1);
	}
	$passes++;
	$dt = microtime(true) - $t0;
} while ($dt < $seconds);

echo json_encode([
	'files_per_s' => $passes * $per_pass / $dt,
	'passes' => $passes,
	'files_per_pass' => $per_pass,
	'reads' => count($reads), 'pattern_files' => count($headers),
	'includes' => count($includes), 'stats' => count($stats),
	'opcache' => function_exists('opcache_get_status') && opcache_get_status(false) !== false,
	'pressfs_ext' => extension_loaded('pressfs'),
]), "\n";
