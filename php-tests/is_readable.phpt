--TEST--
is_readable() and is_executable() answer for redirected paths from pressfs.mount
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/is_readable/root
pressfs.mount={TMP}/pressfs-phpt/is_readable/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('is_readable');
pfs_put("$b/mount/wp-content/uploads/a.jpg", "a");
pfs_sh("chmod 755 $b/mount/wp-content/uploads/a.jpg");
var_dump(is_readable("$b/root/wp-content/uploads/a.jpg"), is_readable("$b/root/wp-content/uploads/b.jpg"));
var_dump(is_executable("$b/root/wp-content/uploads/a.jpg"), is_executable("$b/root/wp-config.php"));
var_dump(is_readable("$b/root/wp-config.php"));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('is_readable'); ?>
--EXPECT--
bool(true)
bool(false)
bool(true)
bool(false)
bool(true)
