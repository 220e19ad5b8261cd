--TEST--
mkdir(), with and without recursive, honours the policy; under pressfs.mount the directories land there
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/mkdir/root
pressfs.mount={TMP}/pressfs-phpt/mkdir/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('mkdir');
pfs_try('plugin dir', fn() => mkdir("$b/root/wp-content/plugins/evil"));
pfs_try('plugin dir -p', fn() => mkdir("$b/root/wp-content/plugins/evil/sub", 0777, true));
pfs_try('uploads -p', fn() => mkdir("$b/root/wp-content/uploads/2026/11", 0755, true));
pfs_try('uploads again', fn() => mkdir("$b/root/wp-content/uploads/2026/11"));
pfs_try('unmatched -p', fn() => mkdir("$b/root/wp-content/uploads-old/x", 0777, true));
pfs_try('cache', fn() => mkdir("$b/root/wp-content/cache/page"));
var_dump(is_dir("$b/root/wp-content/uploads/2026/11"), is_dir("$b/mount/wp-content/uploads/2026/11"));
var_dump(is_dir("$b/root/wp-content/plugins/evil"), is_dir("$b/root/wp-content/uploads-old"));
exec('ls ' . escapeshellarg("$b/root/wp-content/uploads"), $native);
var_dump($native);
var_dump(scandir("$b/root/wp-content/uploads"), scandir("$b/root/wp-content/cache"));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('mkdir'); ?>
--EXPECT--
plugin dir: false [refused by line 7, WordPress core]
plugin dir -p: false [refused by line 7, WordPress core]
uploads -p: true
uploads again: false [mkdir(): File exists]
unmatched -p: false [refused by no rule, WordPress core]
cache: true
bool(true)
bool(true)
bool(false)
bool(false)
array(0) {
}
array(3) {
  [0]=>
  string(1) "."
  [1]=>
  string(2) ".."
  [2]=>
  string(4) "2026"
}
array(3) {
  [0]=>
  string(1) "."
  [1]=>
  string(2) ".."
  [2]=>
  string(4) "page"
}
