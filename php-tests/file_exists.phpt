--TEST--
file_exists() (which bypasses the wrapper) looks in pressfs.mount for redirected paths
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/file_exists/root
pressfs.mount={TMP}/pressfs-phpt/file_exists/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('file_exists');
pfs_put("$b/mount/wp-content/uploads/a.jpg", "a");
pfs_put("$b/root/wp-content/uploads/root-only.jpg", "b");
var_dump(file_exists("$b/root/wp-content/uploads/a.jpg"));
var_dump(file_exists("$b/root/wp-content/uploads/root-only.jpg"));
var_dump(file_exists("$b/root/wp-content/uploads"), file_exists("$b/root/wp-config.php"));
var_dump(file_exists("file://$b/root/wp-content/uploads/a.jpg"));
chdir("$b/root");
var_dump(file_exists('wp-content/uploads/a.jpg'), file_exists('wp-content/plugins/../uploads/a.jpg'));
var_dump(file_exists(''), file_exists("$b/outside"));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('file_exists'); ?>
--EXPECT--
bool(true)
bool(false)
bool(true)
bool(true)
bool(true)
bool(true)
bool(true)
bool(false)
bool(true)
