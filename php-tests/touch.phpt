--TEST--
touch() honours the policy: a refused touch creates nothing and changes no time
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/touch/root
pressfs.mount={TMP}/pressfs-phpt/touch/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('touch');
pfs_put("$b/root/wp-content/plugins/foo/foo.php", "<?php // foo\n");
$before = filemtime("$b/root/wp-content/plugins/foo/foo.php");
pfs_try('plugin file', fn() => touch("$b/root/wp-content/plugins/foo/foo.php", 1000000000));
pfs_try('new plugin file', fn() => touch("$b/root/wp-content/plugins/foo/new.php"));
pfs_try('file:// plugin', fn() => touch("file://$b/root/wp-content/plugins/foo/foo.php", 1000000000));
clearstatcache();
var_dump(filemtime("$b/root/wp-content/plugins/foo/foo.php") === $before, file_exists("$b/root/wp-content/plugins/foo/new.php"));
pfs_try('.htaccess', fn() => touch("$b/root/.htaccess", 1234567890));
var_dump(filemtime("$b/root/.htaccess"), file_exists("$b/mount/.htaccess"));
pfs_try('file:// upload', fn() => touch("file://$b/root/wp-content/uploads/t.txt", 1234567891));
var_dump(filemtime("$b/mount/wp-content/uploads/t.txt"));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('touch'); ?>
--EXPECT--
plugin file: false [refused by line 7, WordPress core]
new plugin file: false [refused by line 7, WordPress core]
file:// plugin: false [refused by line 7, WordPress core]
bool(true)
bool(false)
.htaccess: true
int(1234567890)
bool(true)
file:// upload: true
int(1234567891)
