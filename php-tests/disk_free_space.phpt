--TEST--
disk_free_space()/disk_total_space() of a redirected directory ask pressfs.mount's file system
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/disk_free_space/root
pressfs.mount={TMP}/pressfs-phpt/disk_free_space/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('disk_free_space');
var_dump(disk_free_space("$b/root/wp-content/uploads") > 0, disk_total_space("$b/root/wp-content/uploads") > 0);
var_dump(diskfreespace("$b/root/wp-content/uploads") > 0);
var_dump(disk_free_space("$b/root/wp-content") > 0);
// the mount's answer: a redirected path that only exists there still works
pfs_sh("mkdir -p $b/mount/wp-content/uploads/only-here");
var_dump(disk_free_space("$b/root/wp-content/uploads/only-here") > 0);
pfs_try('missing', fn() => disk_free_space("$b/root/wp-content/uploads/missing"));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('disk_free_space'); ?>
--EXPECT--
bool(true)
bool(true)
bool(true)
bool(true)
bool(true)
missing: false [disk_free_space(): No such file or directory]
