--TEST--
copy() reads its source and writes its destination where the policy says
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/copy/root
pressfs.mount={TMP}/pressfs-phpt/copy/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('copy');
pfs_put("$b/root/wp-content/plugins/foo/foo.php", "<?php // foo\n");
pfs_put("$b/outside/img.jpg", "jpeg bytes");
pfs_try('into plugins', fn() => copy("$b/outside/img.jpg", "$b/root/wp-content/plugins/foo/img.php"));
pfs_try('drop-in', fn() => copy("$b/root/wp-content/plugins/foo/foo.php", "$b/root/wp-content/themes/bar/functions.php"));
var_dump(file_exists("$b/root/wp-content/plugins/foo/img.php"), file_exists("$b/root/wp-content/themes/bar/functions.php"));
pfs_try('into uploads', fn() => copy("$b/outside/img.jpg", "$b/root/wp-content/uploads/img.jpg"));
pfs_try('within uploads', fn() => copy("$b/root/wp-content/uploads/img.jpg", "$b/root/wp-content/uploads/img-1.jpg"));
pfs_try('plugin code to uploads', fn() => copy("$b/root/wp-content/plugins/foo/foo.php", "$b/root/wp-content/uploads/foo.txt"));
var_dump(file_get_contents("$b/mount/wp-content/uploads/img-1.jpg"), file_get_contents("$b/mount/wp-content/uploads/foo.txt"));
pfs_try('onto itself', fn() => copy("$b/root/wp-content/uploads/img.jpg", "$b/root/wp-content/uploads/img.jpg"));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('copy'); ?>
--EXPECT--
into plugins: false [refused by line 7, WordPress core]
drop-in: false [refused by line 8, WordPress core]
bool(false)
bool(false)
into uploads: true
within uploads: true
plugin code to uploads: true
string(10) "jpeg bytes"
string(13) "<?php // foo
"
onto itself: false
