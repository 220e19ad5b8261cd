--TEST--
is_dir() answers for redirected paths from pressfs.mount
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/is_dir/root
pressfs.mount={TMP}/pressfs-phpt/is_dir/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('is_dir');
pfs_sh("mkdir -p $b/mount/wp-content/uploads/2026/11 $b/root/wp-content/uploads/1999");
var_dump(is_dir("$b/root/wp-content/uploads/2026/11"), is_dir("$b/root/wp-content/uploads/1999"));
var_dump(is_dir("$b/root/wp-content/plugins/foo"), is_dir("$b/root/wp-content"));
mkdir("$b/root/wp-content/uploads/2027");
var_dump(is_dir("$b/root/wp-content/uploads/2027"));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('is_dir'); ?>
--EXPECT--
bool(true)
bool(false)
bool(true)
bool(true)
bool(true)
