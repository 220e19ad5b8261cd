--TEST--
realpath() resolves a redirected path in pressfs.mount and answers with the root's name
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/realpath/root
pressfs.mount={TMP}/pressfs-phpt/realpath/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('realpath');
pfs_put("$b/mount/wp-content/uploads/2026/11/a.jpg", "a");
pfs_sh("ln -s 2026/11/a.jpg $b/mount/wp-content/uploads/latest.jpg");
var_dump(str_replace($b, '{B}', realpath("$b/root/wp-content/uploads/2026/11/a.jpg")));
var_dump(str_replace($b, '{B}', realpath("$b/root/wp-content/uploads/../uploads/2026/./11/a.jpg")));
var_dump(str_replace($b, '{B}', realpath("$b/root/wp-content/uploads/latest.jpg")));
var_dump(realpath("$b/root/wp-content/uploads/2026/11/none.jpg"));
var_dump(str_replace($b, '{B}', realpath("$b/root/wp-content/plugins/foo")));
chdir("$b/root");
var_dump(str_replace($b, '{B}', realpath('wp-content/uploads/2026')));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('realpath'); ?>
--EXPECT--
string(41) "{B}/root/wp-content/uploads/2026/11/a.jpg"
string(41) "{B}/root/wp-content/uploads/2026/11/a.jpg"
string(41) "{B}/root/wp-content/uploads/2026/11/a.jpg"
bool(false)
string(31) "{B}/root/wp-content/plugins/foo"
string(32) "{B}/root/wp-content/uploads/2026"
