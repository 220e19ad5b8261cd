--TEST--
opendir()/readdir()/dir() list a redirected directory from pressfs.mount and the rest from the root
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/opendir/root
pressfs.mount={TMP}/pressfs-phpt/opendir/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('opendir');
pfs_put("$b/root/wp-content/uploads/only-in-root.txt", "x");
pfs_put("$b/mount/wp-content/uploads/2026/11/a.jpg", "a");
pfs_put("$b/root/wp-content/plugins/foo/foo.php", "<?php");
function listing($d) { $n = []; while (($e = readdir($d)) !== false) { $n[] = $e; } closedir($d); sort($n); return implode(' ', $n); }
var_dump(listing(opendir("$b/root/wp-content/uploads")));
var_dump(listing(opendir("$b/root/wp-content/uploads/2026/11/")));
var_dump(listing(opendir("$b/root/wp-content/plugins/foo")));
$d = dir("$b/root/wp-content/uploads/2026/11");
var_dump($d->read() !== false, $d->path === "$b/root/wp-content/uploads/2026/11");
$d->close();
$it = new DirectoryIterator("$b/root/wp-content/uploads/2026/11");
foreach ($it as $f) { if (!$f->isDot()) var_dump(str_replace($b, '{B}', $f->getPathname()), $f->getSize()); }
pfs_try('missing', fn() => opendir("$b/root/wp-content/uploads/1999"));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('opendir'); ?>
--EXPECT--
string(9) ". .. 2026"
string(10) ". .. a.jpg"
string(12) ". .. foo.php"
bool(true)
bool(true)
string(41) "{B}/root/wp-content/uploads/2026/11/a.jpg"
int(1)
missing: false [opendir({B}/root/wp-content/uploads/1999): Failed to open directory: No such file or directory]
