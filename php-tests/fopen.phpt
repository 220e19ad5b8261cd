--TEST--
fopen() in every writing mode honours the policy; reads are untouched; with pressfs.mount, writes to shared paths land there
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/fopen/root
pressfs.mount={TMP}/pressfs-phpt/fopen/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('fopen');
pfs_put("$b/root/wp-content/plugins/foo/foo.php", "<?php // foo\n");
foreach (['w', 'wb', 'a', 'x', 'c', 'r+', 'w+', 'a+', 'x+', 'c+'] as $m) {
    pfs_try("plugins $m", fn() => fopen("$b/root/wp-content/plugins/foo/foo.php", $m));
}
var_dump(file_get_contents("$b/root/wp-content/plugins/foo/foo.php"));
pfs_try('plugins r', fn() => fopen("$b/root/wp-content/plugins/foo/foo.php", 'r'));
pfs_try('plugins rb', fn() => fopen("$b/root/wp-content/plugins/foo/foo.php", 'rb'));

$f = pfs_try('uploads w', fn() => fopen("$b/root/wp-content/uploads/a.txt", 'w'));
fwrite($f, "one\n");
fclose($f);
$f = pfs_try('uploads a', fn() => fopen("$b/root/wp-content/uploads/a.txt", 'a'));
fwrite($f, "two\n");
fclose($f);
pfs_try('uploads x (exists)', fn() => fopen("$b/root/wp-content/uploads/a.txt", 'x'));
var_dump(file_exists("$b/root/wp-content/uploads/a.txt"), is_file("$b/mount/wp-content/uploads/a.txt"));
var_dump(file_get_contents("$b/mount/wp-content/uploads/a.txt"));
var_dump(file_exists("$b/root/wp-content/uploads/a.txt") && !file_exists("$b/root/../root-was-not-written"));
// not in the native root: it went to the mount
exec('ls ' . escapeshellarg("$b/root/wp-content/uploads"), $ls);
var_dump($ls);
$f = fopen("$b/root/wp-content/uploads/a.txt", 'r');
var_dump(fgets($f), stream_get_meta_data($f)['uri'] === "$b/root/wp-content/uploads/a.txt");
fclose($f);
// another wrapper's URL is none of pressfs' business
var_dump(strlen(file_get_contents('data://text/plain,abc')));
// file:// URLs are plain files
pfs_try('file:// plugins', fn() => fopen("file://$b/root/wp-content/plugins/foo/y.php", 'w'));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('fopen'); ?>
--EXPECT--
plugins w: false [refused by line 7, WordPress core]
plugins wb: false [refused by line 7, WordPress core]
plugins a: false [refused by line 7, WordPress core]
plugins x: false [refused by line 7, WordPress core]
plugins c: false [refused by line 7, WordPress core]
plugins r+: false [refused by line 7, WordPress core]
plugins w+: false [refused by line 7, WordPress core]
plugins a+: false [refused by line 7, WordPress core]
plugins x+: false [refused by line 7, WordPress core]
plugins c+: false [refused by line 7, WordPress core]
string(13) "<?php // foo
"
plugins r: resource
plugins rb: resource
uploads w: resource
uploads a: resource
uploads x (exists): false [fopen({B}/root/wp-content/uploads/a.txt): Failed to open stream: File exists]
bool(true)
bool(true)
string(8) "one
two
"
bool(true)
array(0) {
}
string(4) "one
"
bool(true)
int(3)
file:// plugins: false [refused by line 7, WordPress core]
