--TEST--
symlink(): the new link's name is judged as a write; a link cannot carry writes past the policy
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/symlink/root
pressfs.mount={TMP}/pressfs-phpt/symlink/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('symlink');
pfs_try('in plugins', fn() => symlink('/etc/passwd', "$b/root/wp-content/plugins/foo/passwd"));
var_dump(is_link("$b/root/wp-content/plugins/foo/passwd"));
pfs_try('drop-in', fn() => symlink("$b/root/wp-content/uploads/x.php", "$b/root/wp-content/plugins/foo/x.php"));
pfs_try('in cache', fn() => symlink("../uploads", "$b/root/wp-content/cache/up"));
var_dump(readlink("$b/root/wp-content/cache/up"), is_link("$b/mount/wp-content/cache/up"));
// a link in uploads to the plugins tree: writes through it land in plugins and are refused
pfs_sh("ln -s ../plugins/foo $b/root/wp-content/uploads/evil");
pfs_try('through link', fn() => file_put_contents("$b/root/wp-content/uploads/evil/x.php", '<?php'));
var_dump(file_exists("$b/root/wp-content/plugins/foo/x.php"));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('symlink'); ?>
--EXPECT--
in plugins: false [refused by line 7, WordPress core]
bool(false)
drop-in: false [refused by line 7, WordPress core]
in cache: true
string(10) "../uploads"
bool(true)
through link: false [refused by line 2, WordPress core]
bool(false)
