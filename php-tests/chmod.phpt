--TEST--
chmod() honours the policy; a refused chmod changes nothing, an allowed one reaches pressfs.mount
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/chmod/root
pressfs.mount={TMP}/pressfs-phpt/chmod/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('chmod');
pfs_put("$b/root/wp-content/plugins/foo/foo.php", "<?php // foo\n");
pfs_put("$b/mount/wp-content/uploads/a.jpg", "jpeg");
pfs_sh("chmod 644 $b/root/wp-content/plugins/foo/foo.php");
$perms = fileperms("$b/root/wp-content/plugins/foo/foo.php");
pfs_try('plugin file', fn() => chmod("$b/root/wp-content/plugins/foo/foo.php", 0600));
clearstatcache();
var_dump(fileperms("$b/root/wp-content/plugins/foo/foo.php") === $perms);
pfs_try('upload', fn() => chmod("$b/root/wp-content/uploads/a.jpg", 0600));
printf("perm: %o\n", fileperms("$b/mount/wp-content/uploads/a.jpg") & 0777);
pfs_try('missing upload', fn() => chmod("$b/root/wp-content/uploads/none.jpg", 0600));
pfs_try('root dir', fn() => chmod("$b/root", 0600));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('chmod'); ?>
--EXPECT--
plugin file: false [refused by line 7, WordPress core]
bool(true)
upload: true
perm: 600
missing upload: false [chmod(): No such file or directory]
root dir: false [refused by no rule, WordPress core]
