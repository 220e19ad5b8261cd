--TEST--
rmdir() honours the policy; shared directories are removed from pressfs.mount
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/rmdir/root
pressfs.mount={TMP}/pressfs-phpt/rmdir/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('rmdir');
pfs_sh("mkdir -p $b/mount/wp-content/uploads/2026/11");
pfs_try('plugin dir', fn() => rmdir("$b/root/wp-content/plugins/foo"));
var_dump(is_dir("$b/root/wp-content/plugins/foo"));
pfs_try('uploads month', fn() => rmdir("$b/root/wp-content/uploads/2026/11"));
var_dump(is_dir("$b/mount/wp-content/uploads/2026/11"), is_dir("$b/mount/wp-content/uploads/2026"));
pfs_try('wp-includes', fn() => rmdir("$b/root/wp-includes"));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('rmdir'); ?>
--EXPECT--
plugin dir: false [refused by line 7, WordPress core]
bool(true)
uploads month: true
bool(false)
bool(true)
wp-includes: false [refused by no rule, WordPress core]
