--TEST--
NUL bytes in paths: PHP rejects them before pressfs sees them, and nothing crashes
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/nul_bytes/root
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('nul_bytes');
foreach ([
    'file_put_contents' => fn($p) => file_put_contents($p, 'x'),
    'fopen' => fn($p) => fopen($p, 'w'),
    'file_exists' => fn($p) => file_exists($p),
    'is_writable' => fn($p) => is_writable($p),
    'mkdir' => fn($p) => mkdir($p),
    'unlink' => fn($p) => unlink($p),
    'rename' => fn($p) => rename($p, $p),
    'touch' => fn($p) => touch($p),
    'chmod' => fn($p) => chmod($p, 0644),
    'realpath' => fn($p) => realpath($p),
    'glob' => fn($p) => glob($p),
    'tempnam' => fn($p) => tempnam($p, 'x'),
    'symlink' => fn($p) => symlink('x', $p),
    'disk_free_space' => fn($p) => disk_free_space($p),
] as $name => $f) {
    try {
        pfs_try($name, fn() => $f("$b/root/wp-content/plugins/foo/x.php\0.txt"));
    } catch (Throwable $e) {
        echo $name, ': ', get_class($e), "\n";
    }
}
var_dump(file_exists("$b/root/wp-content/plugins/foo/x.php"));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('nul_bytes'); ?>
--EXPECT--
file_put_contents: ValueError
fopen: ValueError
file_exists: false
is_writable: false
mkdir: ValueError
unlink: ValueError
rename: ValueError
touch: ValueError
chmod: ValueError
realpath: ValueError
glob: ValueError
tempnam: ValueError
symlink: ValueError
disk_free_space: ValueError
bool(false)
