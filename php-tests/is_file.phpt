--TEST--
is_file() answers for redirected paths from pressfs.mount
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/is_file/root
pressfs.mount={TMP}/pressfs-phpt/is_file/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('is_file');
pfs_put("$b/mount/wp-content/uploads/a.jpg", "a");
pfs_put("$b/root/wp-content/uploads/root-only.jpg", "b");
var_dump(is_file("$b/root/wp-content/uploads/a.jpg"), is_file("$b/root/wp-content/uploads/root-only.jpg"));
var_dump(is_file("$b/root/wp-config.php"), is_file("$b/root/wp-content/uploads"));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('is_file'); ?>
--EXPECT--
bool(true)
bool(false)
bool(true)
bool(false)
