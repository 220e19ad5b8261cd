--TEST--
include of a file written through the redirect: the bytes come from pressfs.mount, __FILE__ and get_included_files() name the root
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/include_redirect/root
pressfs.mount={TMP}/pressfs-phpt/include_redirect/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('include_redirect');
var_dump(file_put_contents("$b/root/wp-content/cache/config.php", '<?php return [__FILE__, "cached"];'));
$r = include "$b/root/wp-content/cache/config.php";
var_dump(str_replace($b, '{B}', $r[0]), $r[1]);
var_dump(include_once "$b/root/wp-content/cache/config.php");
var_dump(in_array("$b/root/wp-content/cache/config.php", get_included_files()));
// opcache-style invalidation after a rewrite: the new bytes are read
file_put_contents("$b/root/wp-content/cache/config.php", '<?php return "v2";');
var_dump(include "$b/root/wp-content/cache/config.php");
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('include_redirect'); ?>
--EXPECT--
int(34)
string(36) "{B}/root/wp-content/cache/config.php"
string(6) "cached"
bool(true)
bool(true)
string(2) "v2"
