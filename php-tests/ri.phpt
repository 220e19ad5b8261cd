--TEST--
php --ri pressfs: mode, policy file and rule count, root, redirect target, lower tree, audit log, counters
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/ri/root
pressfs.mount={TMP}/pressfs-phpt/ri/mount
pressfs.lower={TMP}/pressfs-phpt/ri/lower
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('ri');
@file_put_contents("$b/root/wp-content/plugins/foo/x.php", '<?php');
file_put_contents("$b/root/wp-content/uploads/a.txt", 'a');
@file_put_contents("$b/root/wp-content/uploads/no/such/dir.txt", 'a');
file_put_contents("$b/outside/a.txt", 'a');
foreach (pfs_info() as $k => $v) {
    echo $k, ' => ', str_replace([$b, __DIR__], ['{B}', '{PWD}'], $v), "\n";
}
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('ri'); ?>
--EXPECT--
pressfs support => enabled
Version => 0.1.0
Mode => enforce
Policy file => {PWD}/fixtures/test.policy
Policy rules => 8
Root => {B}/root
Root file system => writable: writes outside PHP's file functions are not judged (docs/SECURITY.md)
Redirect target => {B}/mount
Lower tree => {B}/lower
Audit log => (none)
Writes allowed => 0
Writes redirected => 1
Writes denied => 1
Writes reported (report mode) => 0
Writes failed (let through, then failed) => 1
Reads served from the lower tree => 0
Includes of writable PHP files => left to PHP (opcache is not caching scripts)
Changed PHP files invalidated in opcache => 0
Writable PHP includes compiled without opcache => 0
PHP files not compiled (writable, no +code) => 0
PHP files compiled though writable (report mode) => 0
Directive => Local Value => Master Value
pressfs.policy => {PWD}/fixtures/test.policy => {PWD}/fixtures/test.policy
pressfs.root => {B}/root => {B}/root
pressfs.mount => {B}/mount => {B}/mount
pressfs.lower => {B}/lower => {B}/lower
pressfs.mode => enforce => enforce
pressfs.audit_log => no value => no value
