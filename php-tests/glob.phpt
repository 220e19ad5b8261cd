--TEST--
glob() of a redirected directory runs in pressfs.mount and answers with the names the script used
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/glob/root
pressfs.mount={TMP}/pressfs-phpt/glob/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('glob');
mkdir("$b/root/wp-content/uploads/2026/11", 0755, true);
file_put_contents("$b/root/wp-content/uploads/2026/11/a.jpg", "a");
file_put_contents("$b/root/wp-content/uploads/2026/11/a-150x150.jpg", "b");
var_dump(pfs_show(glob("$b/root/wp-content/uploads/2026/11/a*.jpg")));
var_dump(pfs_show(glob("$b/root/wp-content/uploads/2026/*", GLOB_ONLYDIR)));
var_dump(pfs_show(glob("$b/root/wp-content/uploads/2026/11/{a,b}.jpg", GLOB_BRACE)));
var_dump(pfs_show(glob("$b/root/wp-content/uploads/2026/11/a.jpg")));
var_dump(pfs_show(glob("$b/root/wp-content/plugins/*")));
chdir("$b/root/wp-content");
var_dump(glob('uploads/2026/11/*.jpg'));
var_dump(glob("$b/root/wp-content/uploads/1999/*"));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('glob'); ?>
--EXPECT--
string(98) "['{B}/root/wp-content/uploads/2026/11/a-150x150.jpg', '{B}/root/wp-content/uploads/2026/11/a.jpg']"
string(39) "['{B}/root/wp-content/uploads/2026/11']"
string(45) "['{B}/root/wp-content/uploads/2026/11/a.jpg']"
string(45) "['{B}/root/wp-content/uploads/2026/11/a.jpg']"
string(35) "['{B}/root/wp-content/plugins/foo']"
array(2) {
  [0]=>
  string(29) "uploads/2026/11/a-150x150.jpg"
  [1]=>
  string(21) "uploads/2026/11/a.jpg"
}
array(0) {
}
