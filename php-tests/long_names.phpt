--TEST--
Very long names: a 255-byte name works where the policy allows it; longer names and over-long paths fail the way PHP reports them
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/long_names/root
pressfs.mount={TMP}/pressfs-phpt/long_names/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('long_names');
$n255 = str_repeat('a', 251) . '.txt';
$n300 = str_repeat('b', 300);
pfs_try('255 in uploads', fn() => file_put_contents("$b/root/wp-content/uploads/$n255", 'x'));
var_dump(file_exists("$b/mount/wp-content/uploads/$n255"), count(glob("$b/root/wp-content/uploads/a*")));
pfs_try('255 in plugins', fn() => file_put_contents("$b/root/wp-content/plugins/foo/$n255", 'x'));
pfs_try('300 in uploads', fn() => file_put_contents("$b/root/wp-content/uploads/$n300", 'x'));
pfs_try('300 is_writable', fn() => is_writable("$b/root/wp-content/uploads/$n300"));
pfs_try('300 mkdir -p', fn() => mkdir("$b/root/wp-content/uploads/$n300/x", 0777, true));
$deep = "$b/root/wp-content/uploads/" . str_repeat('d/', 3000) . 'x.txt';
pfs_try('6000-byte path', fn() => file_put_contents($deep, 'x'));
pfs_try('6000-byte exists', fn() => file_exists($deep));
pfs_try('6000-byte stat', fn() => @stat($deep));
pfs_try('6000-byte unlink', fn() => unlink($deep));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('long_names'); ?>
--EXPECTF--
255 in uploads: 1
bool(true)
int(1)
255 in plugins: false [refused by line 7, WordPress core]
300 in uploads: false [file_put_contents({B}/root/wp-content/uploads/%s): Failed to open stream: File name too long]
300 is_writable: false
300 mkdir -p: false [mkdir(): File name too long]
6000-byte path: false [file_put_contents(%s): Failed to open stream: %s]
6000-byte exists: false
6000-byte stat: false [stat(): stat failed for %s]
6000-byte unlink: false [unlink(%s): File name too long]
