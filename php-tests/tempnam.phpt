--TEST--
tempnam() in a refused directory fails with the rule named; in a redirected one the file is made in pressfs.mount and named under the root
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/tempnam/root
pressfs.mount={TMP}/pressfs-phpt/tempnam/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('tempnam');
pfs_try('plugins', fn() => tempnam("$b/root/wp-content/plugins/foo", 'upg'));
$t = pfs_try('cache', fn() => tempnam("$b/root/wp-content/cache", 'w3tc'));
var_dump(str_starts_with($t, "$b/root/wp-content/cache/w3tc"), file_exists($t), is_file("$b/mount/wp-content/cache/" . basename($t)));
var_dump(file_put_contents($t, 'cfg'), rename($t, "$b/root/wp-content/cache/config.php"));
var_dump(file_get_contents("$b/mount/wp-content/cache/config.php"));
$o = tempnam("$b/outside", 'x');
var_dump(dirname($o) === "$b/outside");
// uploads/*.php is refused, whatever the temp name
pfs_try('uploads', fn() => tempnam("$b/root/wp-content/uploads", 'a.php'));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('tempnam'); ?>
--EXPECTF--
plugins: false [refused by line 7, WordPress core]
cache: '{B}/root/wp-content/cache/w3tc%s'
bool(true)
bool(true)
bool(true)
int(3)
bool(true)
string(3) "cfg"
bool(true)
uploads: '{B}/root/wp-content/uploads/a.php%s'
