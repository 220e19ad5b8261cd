--TEST--
chgrp() honours the policy; a refused chgrp changes nothing, an allowed one reaches pressfs.mount
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/chgrp/root
pressfs.mount={TMP}/pressfs-phpt/chgrp/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('chgrp');
pfs_put("$b/root/wp-content/plugins/foo/foo.php", "<?php // foo\n");
pfs_put("$b/mount/wp-content/uploads/a.jpg", "jpeg");
pfs_sh("chmod 644 $b/root/wp-content/plugins/foo/foo.php");
$perms = fileperms("$b/root/wp-content/plugins/foo/foo.php");
pfs_try('plugin file', fn() => chgrp("$b/root/wp-content/plugins/foo/foo.php", 0));
clearstatcache();
var_dump(fileperms("$b/root/wp-content/plugins/foo/foo.php") === $perms);
pfs_try('upload', fn() => chgrp("$b/root/wp-content/uploads/a.jpg", 0));
pfs_try('missing upload', fn() => chgrp("$b/root/wp-content/uploads/none.jpg", 0));
pfs_try('root dir', fn() => chgrp("$b/root", 0));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('chgrp'); ?>
--EXPECT--
plugin file: false [refused by line 7, WordPress core]
bool(true)
upload: true
missing upload: false [chgrp(): No such file or directory]
root dir: false [refused by no rule, WordPress core]
