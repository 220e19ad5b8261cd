--TEST--
tempnam() in the audit log: the record names the file tempnam() made (and where the redirect put it), not the template it was judged as; a refused one names the template
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/tempnam_audit/root
pressfs.mount={TMP}/pressfs-phpt/tempnam_audit/mount
pressfs.audit_log={TMP}/pressfs-phpt/tempnam_audit/audit.log
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('tempnam_audit');
// WP Super Cache's wp_cache_replace_line(): a temp file in the cache dir, renamed later
$t = tempnam("$b/root/wp-content/cache", 'wpsc');
@tempnam("$b/root/wp-content/plugins/foo", 'upg');
$log = pfs_audit("$b/audit.log");
$r = $log[0];
var_dump($r['op'], $r['outcome'], $r['class']);
var_dump($r['path'] === '/wp-content/cache/' . basename($t), $r['file'] === $t);
var_dump($r['target'] === "$b/mount/wp-content/cache/" . basename($t), is_file($r['target']));
var_dump(preg_match('/^wpsc[A-Za-z0-9]{6}$/', basename($t)));
var_dump($log[1]['op'], $log[1]['outcome'], $log[1]['path']);
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('tempnam_audit'); ?>
--EXPECT--
string(7) "tempnam"
string(10) "redirected"
string(5) "cache"
bool(true)
bool(true)
bool(true)
bool(true)
int(1)
string(7) "tempnam"
string(6) "denied"
string(33) "/wp-content/plugins/foo/upgXXXXXX"
