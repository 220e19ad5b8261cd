--TEST--
unlink() honours the policy; shared paths are unlinked in pressfs.mount
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/unlink/root
pressfs.mount={TMP}/pressfs-phpt/unlink/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('unlink');
pfs_put("$b/root/wp-content/plugins/foo/foo.php", "<?php // foo\n");
pfs_put("$b/mount/wp-content/uploads/a.txt", "upload");
pfs_try('plugin file', fn() => unlink("$b/root/wp-content/plugins/foo/foo.php"));
var_dump(file_exists("$b/root/wp-content/plugins/foo/foo.php"));
pfs_try('upload', fn() => unlink("$b/root/wp-content/uploads/a.txt"));
var_dump(file_exists("$b/root/wp-content/uploads/a.txt"), file_exists("$b/mount/wp-content/uploads/a.txt"));
pfs_try('again', fn() => unlink("$b/root/wp-content/uploads/a.txt"));
pfs_try('core', fn() => unlink("$b/root/wp-includes/version.php"));
pfs_try('outside', fn() => unlink("$b/outside/nothing"));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('unlink'); ?>
--EXPECT--
plugin file: false [refused by line 7, WordPress core]
bool(true)
upload: true
bool(false)
bool(false)
again: false [unlink({B}/mount/wp-content/uploads/a.txt): No such file or directory]
core: false [refused by no rule, WordPress core]
outside: false [unlink({B}/outside/nothing): No such file or directory]
