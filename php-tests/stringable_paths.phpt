--TEST--
A path given as a Stringable object or a number is judged as the string the function will use; an audit log that cannot be opened is warned about once, not once per write
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/stringable_paths/root
pressfs.audit_log={TMP}/pressfs-phpt/stringable_paths/no-such-dir/audit.log
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('stringable_paths');
pfs_put("$b/root/wp-content/plugins/foo/foo.php", "<?php // foo\n");

class P { function __construct(private string $p) {} function __toString(): string { return $this->p; } }

$warnings = [];
set_error_handler(function ($no, $str) use (&$warnings) { $warnings[] = $str; return true; });
$r1 = touch(new P("$b/root/wp-content/plugins/foo/foo.php"), 1000000000);
$r2 = chmod(new P("$b/root/wp-content/plugins/foo/foo.php"), 0600);
$r3 = symlink('/etc/passwd', new P("$b/root/wp-content/plugins/foo/link.php"));
restore_error_handler();
var_dump($r1, $r2, $r3);
clearstatcache();
var_dump(filemtime("$b/root/wp-content/plugins/foo/foo.php") != 1000000000);
printf("%o\n", fileperms("$b/root/wp-content/plugins/foo/foo.php") & 0777);
var_dump(is_link("$b/root/wp-content/plugins/foo/link.php"));
$refused = count(array_filter($warnings, fn($w) => str_contains($w, 'refused')));
$audit = count(array_filter($warnings, fn($w) => str_contains($w, 'cannot open the audit log')));
echo "refusals: $refused, audit-log warnings: $audit\n";

/* an allowed write through a Stringable still happens, where the string says */
var_dump(@touch(new P("$b/root/wp-content/uploads/s.txt")), file_exists("$b/root/wp-content/uploads/s.txt"));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('stringable_paths'); ?>
--EXPECT--
bool(false)
bool(false)
bool(false)
bool(true)
644
bool(false)
refusals: 3, audit-log warnings: 1
bool(true)
bool(true)
