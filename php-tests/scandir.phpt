--TEST--
scandir() of a redirected directory lists what was written through the redirect at once
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/scandir/root
pressfs.mount={TMP}/pressfs-phpt/scandir/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('scandir');
mkdir("$b/root/wp-content/uploads/2026/11", 0755, true);
// wp_unique_filename(): file_exists() loop, then scandir()
var_dump(file_exists("$b/root/wp-content/uploads/2026/11/photo.jpg"));
file_put_contents("$b/root/wp-content/uploads/2026/11/photo.jpg", "jpeg");
var_dump(file_exists("$b/root/wp-content/uploads/2026/11/photo.jpg"));
var_dump(scandir("$b/root/wp-content/uploads/2026/11"));
var_dump(scandir("$b/root/wp-content/uploads/2026", SCANDIR_SORT_DESCENDING));
var_dump(scandir("$b/root/wp-content/themes"));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('scandir'); ?>
--EXPECT--
bool(false)
bool(true)
array(3) {
  [0]=>
  string(1) "."
  [1]=>
  string(2) ".."
  [2]=>
  string(9) "photo.jpg"
}
array(3) {
  [0]=>
  string(2) "11"
  [1]=>
  string(2) ".."
  [2]=>
  string(1) "."
}
array(3) {
  [0]=>
  string(1) "."
  [1]=>
  string(2) ".."
  [2]=>
  string(3) "bar"
}
