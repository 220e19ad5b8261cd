--TEST--
file_put_contents() with FILE_APPEND and LOCK_EX: allowed where the policy allows, refused in code trees
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/file_put_contents_flags/root
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('file_put_contents_flags');
$up = "$b/root/wp-content/uploads/log.txt";
pfs_try('append 1', fn() => file_put_contents($up, "a\n", FILE_APPEND));
pfs_try('append 2', fn() => file_put_contents($up, "b\n", FILE_APPEND | LOCK_EX));
pfs_try('lock', fn() => file_put_contents("$b/root/wp-content/uploads/cfg.txt", "locked", LOCK_EX));
var_dump(file_get_contents($up), file_get_contents("$b/root/wp-content/uploads/cfg.txt"));
pfs_try('plugins append', fn() => file_put_contents("$b/root/wp-content/plugins/foo/log.txt", "x", FILE_APPEND));
pfs_try('plugins lock', fn() => file_put_contents("$b/root/wp-content/plugins/foo/log.txt", "x", LOCK_EX));
pfs_try('wp-config lock', fn() => file_put_contents("$b/root/wp-config.php", "x", LOCK_EX));
var_dump(file_exists("$b/root/wp-content/plugins/foo/log.txt"), file_get_contents("$b/root/wp-config.php"));
// a resource and an array as data work as usual
pfs_try('array', fn() => file_put_contents("$b/root/.htaccess", ['# BEGIN', "\n"]));
var_dump(file_get_contents("$b/root/.htaccess"));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('file_put_contents_flags'); ?>
--EXPECT--
append 1: 2
append 2: 2
lock: 6
string(4) "a
b
"
string(6) "locked"
plugins append: false [refused by line 7, WordPress core]
plugins lock: false [refused by line 7, WordPress core]
wp-config lock: false [refused by line 9, WordPress core]
bool(false)
string(16) "<?php // config
"
array: 8
string(8) "# BEGIN
"
