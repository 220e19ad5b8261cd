--TEST--
pressfs.mode=off: the extension does nothing (no hook installed), and php --ri says so
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/off_mode/root
pressfs.mount={TMP}/pressfs-phpt/off_mode/mount
pressfs.mode=off
pressfs.audit_log={TMP}/pressfs-phpt/off_mode/audit.log
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('off_mode');
var_dump(file_put_contents("$b/root/wp-content/plugins/foo/x.php", '<?php'));
var_dump(file_put_contents("$b/root/wp-content/uploads/a.txt", 'a'), file_exists("$b/mount/wp-content/uploads/a.txt"));
var_dump(is_writable("$b/root/wp-config.php"), file_exists("$b/audit.log"));
$i = pfs_info();
echo $i['pressfs support'], ' / ', $i['Disabled because'], ' / ', $i['Mode'], "\n";
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('off_mode'); ?>
--EXPECT--
int(5)
int(1)
bool(false)
bool(true)
bool(false)
disabled / pressfs.mode is off / off
