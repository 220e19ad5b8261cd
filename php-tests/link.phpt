--TEST--
link(): the new name and the target are both judged (a hard link makes its target writable through the new name)
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/link/root
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('link');
pfs_put("$b/root/wp-content/plugins/foo/foo.php", "<?php // foo\n");
pfs_put("$b/root/wp-content/uploads/a.txt", "a");
pfs_try('plugin file into uploads', fn() => link("$b/root/wp-content/plugins/foo/foo.php", "$b/root/wp-content/uploads/foo.txt"));
pfs_try('upload into plugins', fn() => link("$b/root/wp-content/uploads/a.txt", "$b/root/wp-content/plugins/foo/a.txt"));
var_dump(file_exists("$b/root/wp-content/uploads/foo.txt"), file_exists("$b/root/wp-content/plugins/foo/a.txt"));
pfs_try('within uploads', fn() => link("$b/root/wp-content/uploads/a.txt", "$b/root/wp-content/uploads/b.txt"));
var_dump(fileinode("$b/root/wp-content/uploads/a.txt") === fileinode("$b/root/wp-content/uploads/b.txt"));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('link'); ?>
--EXPECT--
plugin file into uploads: false [refused by line 7, WordPress core]
upload into plugins: false [refused by line 7, WordPress core]
bool(false)
bool(false)
within uploads: true
bool(true)
