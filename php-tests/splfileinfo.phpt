--TEST--
SplFileInfo::isWritable()/isReadable()/isExecutable() (and their copies in SplFileObject, DirectoryIterator) answer like is_writable()
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/splfileinfo/root
pressfs.mount={TMP}/pressfs-phpt/splfileinfo/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('splfileinfo');
pfs_put("$b/root/wp-content/plugins/foo/foo.php", "<?php");
pfs_put("$b/mount/wp-content/uploads/a.jpg", "a");
foreach (['/wp-content/plugins/foo/foo.php', '/wp-config.php', '/wp-content/uploads/a.jpg', '/wp-content/uploads/none.jpg'] as $p) {
    $i = new SplFileInfo("$b/root$p");
    printf("%-32s writable=%s readable=%s\n", $p, var_export($i->isWritable(), true), var_export($i->isReadable(), true));
}
$o = new SplFileObject("$b/root/wp-content/uploads/a.jpg");
var_dump($o->isWritable(), $o->isFile());
foreach (new DirectoryIterator("$b/root/wp-content/plugins/foo") as $e) {
    if (!$e->isDot()) var_dump($e->getFilename(), $e->isWritable());
}
class MyInfo extends SplFileInfo {}
var_dump((new MyInfo("$b/root/wp-config.php"))->isWritable());
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('splfileinfo'); ?>
--EXPECT--
/wp-content/plugins/foo/foo.php  writable=false readable=true
/wp-config.php                   writable=false readable=true
/wp-content/uploads/a.jpg        writable=true readable=true
/wp-content/uploads/none.jpg     writable=false readable=false
bool(true)
bool(true)
string(7) "foo.php"
bool(false)
bool(false)
