--TEST--
A write the policy lets through (allowed, or refused but reported) that then fails is recorded as "failed" with its errno, never as the write it would have been, even when the script's error handler changes errno meanwhile
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/audit_failed/root
pressfs.mode=report
pressfs.audit_log={TMP}/pressfs-phpt/audit_failed/audit.log
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('audit_failed');
$u = "$b/root/wp-content/uploads";
$p = "$b/root/wp-content/plugins/foo";
pfs_put("$u/full/a.txt", 'a');
// the handler leaves errno at EEXIST: the record must keep the failure's own errno
set_error_handler(function () {
    @mkdir(sys_get_temp_dir());
    return true;
});
file_put_contents("$u/no/dir/a.txt", 'x');          // allowed
file_put_contents("$p/no/dir/a.php", 'x');          // reported
$f = fopen("$u/no/dir/b.txt", 'a');
chmod("$u/missing.jpg", 0644);
touch("$p/no/dir/t.php");
unlink("$u/missing.jpg");
mkdir("$u/full");
rmdir("$u/full");
rename("$u/missing.jpg", "$u/b.jpg");
symlink("$u/full/a.txt", "$u/no/dir/link");
$t = tempnam("$u/no/dir", 'tmp');                   // made in the system's temp dir instead
restore_error_handler();
@unlink($t);
// and what did happen is recorded as it was
file_put_contents("$u/ok.txt", 'ok');
file_put_contents("$p/reported.txt", 'ok');
foreach (pfs_audit("$b/audit.log") as $r) {
    printf("%-17s %-36s %-9s %s\n", $r['op'], $r['path'], $r['outcome'], $r['errno'] ?? '-');
}
$i = pfs_info();
echo 'allowed ', $i['Writes allowed'], ', reported ', $i['Writes reported (report mode)'],
    ', failed ', $i['Writes failed (let through, then failed)'], "\n";
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('audit_failed'); ?>
--EXPECT--
file_put_contents /wp-content/uploads/no/dir/a.txt     failed    ENOENT
file_put_contents /wp-content/plugins/foo/no/dir/a.php failed    ENOENT
fopen             /wp-content/uploads/no/dir/b.txt     failed    ENOENT
chmod             /wp-content/uploads/missing.jpg      failed    ENOENT
touch             /wp-content/plugins/foo/no/dir/t.php failed    ENOENT
unlink            /wp-content/uploads/missing.jpg      failed    ENOENT
mkdir             /wp-content/uploads/full             failed    EEXIST
rmdir             /wp-content/uploads/full             failed    ENOTEMPTY
rename            /wp-content/uploads/b.jpg            failed    ENOENT
symlink           /wp-content/uploads/no/dir/link      failed    ENOENT
tempnam           /wp-content/uploads/no/dir/tmpXXXXXX failed    ENOENT
file_put_contents /wp-content/uploads/ok.txt           allowed   -
file_put_contents /wp-content/plugins/foo/reported.txt reported  -
allowed 1, reported 1, failed 11
