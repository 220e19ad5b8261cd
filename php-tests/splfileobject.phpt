--TEST--
SplFileObject and SplFileInfo go through the same policy as fopen()
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/splfileobject/root
pressfs.mount={TMP}/pressfs-phpt/splfileobject/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('splfileobject');
try {
    new SplFileObject("$b/root/wp-content/plugins/foo/x.php", 'w');
} catch (RuntimeException $e) {
    echo get_class($e), ': ', preg_replace('/attempted by .*/', 'attempted by ...', str_replace($b, '{B}', $e->getMessage())), "\n";
}
var_dump(file_exists("$b/root/wp-content/plugins/foo/x.php"));
$f = new SplFileObject("$b/root/wp-content/uploads/data.csv", 'w+');
$f->fputcsv(['a', 'b']);
$f = null;
var_dump(file_get_contents("$b/mount/wp-content/uploads/data.csv"));
$f = new SplFileObject("$b/root/wp-content/uploads/data.csv");
var_dump($f->fgets(), $f->getSize());
$i = new SplFileInfo("$b/root/wp-content/uploads/data.csv");
var_dump($i->isFile(), $i->getSize(), $i->getMTime() > 0);
$t = new SplTempFileObject();
var_dump($t->fwrite('x'));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('splfileobject'); ?>
--EXPECTF--
RuntimeException: SplFileObject::__construct({B}/root/wp-content/plugins/foo/x.php): Failed to open stream: pressfs: write to /wp-content/plugins/foo/x.php refused by %s/test.policy line 7 (/wp-content/plugins/** deny), attempted by ...
bool(false)
string(4) "a,b
"
string(4) "a,b
"
int(4)
bool(true)
int(4)
bool(true)
int(1)
