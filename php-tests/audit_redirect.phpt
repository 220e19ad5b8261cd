--TEST--
pressfs.mount with pressfs.audit_log: a redirected write is recorded as "redirected", with the path under the mount it went to as "target"; a redirected write that fails is "failed", target kept
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/audit_redirect/root
pressfs.mount={TMP}/pressfs-phpt/audit_redirect/mount
pressfs.audit_log={TMP}/pressfs-phpt/audit_redirect/audit.log
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('audit_redirect');
pfs_put("$b/root/wp-content/plugins/foo/foo.php", <<<'PHP'
<?php
function foo_upload($b) {
    $u = "$b/root/wp-content/uploads";
    mkdir("$u/2026");
    file_put_contents("$u/2026/a.txt", str_repeat('a', 10));
    $f = fopen("$u/2026/a.txt", 'a');
    fwrite($f, 'bbb');
    fclose($f);
    touch("$u/2026/b.txt");
    rename("$u/2026/b.txt", "$u/2026/c.txt");
    unlink("$u/2026/c.txt");
    file_put_contents("$b/root/wp-content/cache/page.html", '<html>');
    @file_put_contents("$u/1999/12/x.txt", 'x');
}
PHP);
include "$b/root/wp-content/plugins/foo/foo.php";
foo_upload($b);
foreach (pfs_audit("$b/audit.log") as $r) {
    printf("%-17s %-28s %-6s %-10s bytes=%-4s target=%s%s %s\n", $r['op'], $r['path'], $r['class'],
        $r['outcome'], $r['bytes'] ?? '-', str_replace($b, '{B}', $r['target'] ?? '-'),
        isset($r['errno']) ? " errno=$r[errno]" : '', $r['culprit']);
}
// where the bytes went: the mount, not the root (asked behind pressfs' back, which would route it)
exec('test -e ' . escapeshellarg("$b/root/wp-content/uploads/2026"), $out, $rc);
var_dump(file_get_contents("$b/mount/wp-content/uploads/2026/a.txt"), $rc === 0);
$i = pfs_info();
echo 'redirected ', $i['Writes redirected'], ', allowed ', $i['Writes allowed'], ', failed ', $i['Writes failed (let through, then failed)'], "\n";
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('audit_redirect'); ?>
--EXPECT--
mkdir             /wp-content/uploads/2026     shared redirected bytes=-    target={B}/mount/wp-content/uploads/2026 plugin:foo
file_put_contents /wp-content/uploads/2026/a.txt shared redirected bytes=10   target={B}/mount/wp-content/uploads/2026/a.txt plugin:foo
fopen             /wp-content/uploads/2026/a.txt shared redirected bytes=3    target={B}/mount/wp-content/uploads/2026/a.txt plugin:foo
touch             /wp-content/uploads/2026/b.txt shared redirected bytes=-    target={B}/mount/wp-content/uploads/2026/b.txt plugin:foo
rename            /wp-content/uploads/2026/c.txt shared redirected bytes=-    target={B}/mount/wp-content/uploads/2026/c.txt plugin:foo
unlink            /wp-content/uploads/2026/c.txt shared redirected bytes=-    target={B}/mount/wp-content/uploads/2026/c.txt plugin:foo
file_put_contents /wp-content/cache/page.html  cache  redirected bytes=6    target={B}/mount/wp-content/cache/page.html plugin:foo
file_put_contents /wp-content/uploads/1999/12/x.txt shared failed     bytes=0    target={B}/mount/wp-content/uploads/1999/12/x.txt errno=ENOENT plugin:foo
string(13) "aaaaaaaaaabbb"
bool(false)
redirected 7, allowed 0, failed 1
