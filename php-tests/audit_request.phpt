--TEST--
Audit records name the request behind a write (method and URI), and an is_writable() that said false because of the policy is recorded as answered-false
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--CGI--
--POST--
a=1
--GET--
page=pressfs-settings
--ENV--
REQUEST_URI=/wp-admin/options-general.php?page=pressfs-settings
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/audit_request/root
pressfs.audit_log={TMP}/pressfs-phpt-audit_request.log
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('audit_request');
$log = sys_get_temp_dir() . '/pressfs-phpt-audit_request.log';
@unlink($log);
var_dump(is_writable("$b/root/wp-config.php"), is_writable("$b/root/wp-content"));
var_dump(file_put_contents("$b/root/wp-content/uploads/a.txt", 'a'));
foreach (pfs_audit($log) as $r) {
    echo $r['op'], ' ', $r['path'], ' ', $r['outcome'], ' ', $r['method'], ' ', $r['uri'], "\n";
}
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('audit_request'); @unlink(sys_get_temp_dir() . '/pressfs-phpt-audit_request.log'); ?>
--EXPECT--
bool(false)
bool(true)
int(1)
is_writable /wp-config.php answered-false POST /wp-admin/options-general.php?page=pressfs-settings
file_put_contents /wp-content/uploads/a.txt allowed POST /wp-admin/options-general.php?page=pressfs-settings
