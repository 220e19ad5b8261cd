--TEST--
The stat family (stat, lstat, filesize, filemtime, fileperms, filetype, is_link) answers for a redirected path from pressfs.mount
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/stat/root
pressfs.mount={TMP}/pressfs-phpt/stat/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('stat');
pfs_put("$b/root/wp-content/uploads/a.jpg", "root");
pfs_put("$b/mount/wp-content/uploads/a.jpg", "in the mount");
pfs_sh("touch -d @1500000000 $b/mount/wp-content/uploads/a.jpg && chmod 640 $b/mount/wp-content/uploads/a.jpg && ln -s a.jpg $b/mount/wp-content/uploads/link.jpg");
$p = "$b/root/wp-content/uploads/a.jpg";
var_dump(filesize($p), filemtime($p), sprintf('%o', fileperms($p)), filetype($p));
var_dump(stat($p)['size'], stat($p)['ino'] === fileinode("$b/mount/wp-content/uploads/a.jpg"));
var_dump(is_link("$b/root/wp-content/uploads/link.jpg"), lstat("$b/root/wp-content/uploads/link.jpg")['size'], filetype("$b/root/wp-content/uploads/link.jpg"));
var_dump(filesize("$b/root/wp-content/uploads/link.jpg"));
var_dump(filesize("$b/root/wp-config.php"));
pfs_try('missing', fn() => filesize("$b/root/wp-content/uploads/none.jpg"));
// the stat cache follows writes through the redirect
file_put_contents($p, "longer content now");
var_dump(filesize($p));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('stat'); ?>
--EXPECT--
int(12)
int(1500000000)
string(6) "100640"
string(4) "file"
int(12)
bool(true)
bool(true)
int(5)
string(4) "link"
int(12)
int(16)
missing: false [filesize(): stat failed for {B}/root/wp-content/uploads/none.jpg]
int(18)
