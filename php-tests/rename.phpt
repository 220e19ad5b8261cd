--TEST--
rename() judges both names; between pressfs.mount and elsewhere it behaves as PHP's cross-device rename
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/rename/root
pressfs.mount={TMP}/pressfs-phpt/rename/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('rename');
pfs_put("$b/root/wp-content/plugins/foo/foo.php", "<?php // foo\n");
pfs_put("$b/mount/wp-content/uploads/a.txt", "upload");
pfs_put("$b/outside/download.tmp", "downloaded");
// into a code tree, out of a code tree
pfs_try('into plugins', fn() => rename("$b/root/wp-content/uploads/a.txt", "$b/root/wp-content/plugins/foo/a.php"));
pfs_try('out of plugins', fn() => rename("$b/root/wp-content/plugins/foo/foo.php", "$b/root/wp-content/uploads/foo.txt"));
var_dump(file_exists("$b/root/wp-content/uploads/a.txt"), file_exists("$b/root/wp-content/plugins/foo/foo.php"));
// within the mount
pfs_try('within uploads', fn() => rename("$b/root/wp-content/uploads/a.txt", "$b/root/wp-content/uploads/b.txt"));
var_dump(file_get_contents("$b/root/wp-content/uploads/b.txt"), file_exists("$b/mount/wp-content/uploads/b.txt"));
// from outside the root into the mount (WordPress' download_url() then rename): it arrives
pfs_try('outside -> uploads', fn() => rename("$b/outside/download.tmp", "$b/root/wp-content/uploads/c.txt"));
var_dump(file_get_contents("$b/root/wp-content/uploads/c.txt"), file_exists("$b/outside/download.tmp"));
// from the mount to outside the root
pfs_try('uploads -> outside', fn() => rename("$b/root/wp-content/uploads/c.txt", "$b/outside/back.txt"));
var_dump(file_get_contents("$b/outside/back.txt"), file_exists("$b/root/wp-content/uploads/c.txt"));
// a directory between two shared places
mkdir("$b/root/wp-content/cache/all");
file_put_contents("$b/root/wp-content/cache/all/index.html", "page");
pfs_try('dir within cache', fn() => rename("$b/root/wp-content/cache/all", "$b/root/wp-content/cache/old"));
var_dump(file_get_contents("$b/root/wp-content/cache/old/index.html"));
pfs_try('to wp-config', fn() => rename("$b/root/wp-content/uploads/b.txt", "$b/root/wp-config.php"));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('rename'); ?>
--EXPECT--
into plugins: false [refused by line 7, WordPress core]
out of plugins: false [refused by line 7, WordPress core]
bool(true)
bool(true)
within uploads: true
string(6) "upload"
bool(true)
outside -> uploads: true
string(10) "downloaded"
bool(false)
uploads -> outside: true
string(10) "downloaded"
bool(false)
dir within cache: true
string(4) "page"
to wp-config: false [refused by line 9, WordPress core]
