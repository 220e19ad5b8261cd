--TEST--
enforce with pressfs.audit_log: one JSON line per write under the root (denied or allowed), attributed to the plugin, theme or core
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/audit_log/root
pressfs.audit_log={TMP}/pressfs-phpt/audit_log/audit.log
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('audit_log');
pfs_put("$b/root/wp-content/plugins/foo/foo.php", <<<'PHP'
<?php
function foo_save($b) {
    file_put_contents("$b/root/wp-content/plugins/foo/settings.json", '{"a":1}');
    @mkdir("$b/root/wp-content/uploads/foo");
    file_put_contents("$b/root/wp-content/uploads/foo/data.txt", str_repeat('x', 100));
    $f = fopen("$b/root/wp-content/uploads/foo.log", 'a');
    fwrite($f, "12345");
    fclose($f);
}
PHP);
pfs_put("$b/root/wp-content/themes/bar/functions.php", <<<'PHP'
<?php
function bar_cache($b) {
    return file_put_contents("$b/root/wp-content/themes/bar/cache.css", 'body{}');
}
PHP);
include "$b/root/wp-content/plugins/foo/foo.php";
include "$b/root/wp-content/themes/bar/functions.php";
foo_save($b);
bar_cache($b);
@file_put_contents("$b/root/wp-config.php", "<?php // edited");
@unlink("$b/root/wp-content/uploads/foo/data.txt");
file_put_contents("$b/outside/not-governed.txt", "x");
$log = pfs_audit("$b/audit.log");
foreach ($log as $r) {
    printf("%-10s %-38s %-6s %-8s rule=%-2s bytes=%-4s %s\n", $r['op'], $r['path'], $r['class'], $r['outcome'],
        $r['rule'] ?? '-', $r['bytes'] ?? '-', $r['culprit']);
}
$r = $log[0];
var_dump(preg_match('/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/', $r['time']), $r['mode'], $r['pid'] === getmypid());
var_dump($r['pattern'], str_replace($b, '{B}', $r['file']), str_replace($b, '{B}', $r['culprit_file']), $r['culprit_line']);
var_dump(file_exists("$b/root/wp-content/plugins/foo/settings.json"), file_exists("$b/root/wp-content/themes/bar/cache.css"));
$i = pfs_info();
echo 'allowed ', $i['Writes allowed'], ', denied ', $i['Writes denied'], ', reported ', $i['Writes reported (report mode)'], "\n";
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('audit_log'); ?>
--EXPECTF--
Warning: file_put_contents(%s/root/wp-content/plugins/foo/settings.json): Failed to open stream: pressfs: write to /wp-content/plugins/foo/settings.json refused by %s/fixtures/test.policy line 7 (/wp-content/plugins/** deny), attempted by plugin foo in %s/root/wp-content/plugins/foo/foo.php on line 3

Warning: file_put_contents(%s/root/wp-content/themes/bar/cache.css): Failed to open stream: pressfs: write to /wp-content/themes/bar/cache.css refused by %s/fixtures/test.policy line 8 (/wp-content/themes/** deny), attempted by theme bar in %s/root/wp-content/themes/bar/functions.php on line 3
file_put_contents /wp-content/plugins/foo/settings.json  deny   denied   rule=7  bytes=0    plugin:foo
mkdir      /wp-content/uploads/foo                shared allowed  rule=3  bytes=-    plugin:foo
file_put_contents /wp-content/uploads/foo/data.txt       shared allowed  rule=3  bytes=100  plugin:foo
fopen      /wp-content/uploads/foo.log            shared allowed  rule=3  bytes=5    plugin:foo
file_put_contents /wp-content/themes/bar/cache.css       deny   denied   rule=8  bytes=0    theme:bar
file_put_contents /wp-config.php                         deny   denied   rule=9  bytes=0    core
unlink     /wp-content/uploads/foo/data.txt       shared allowed  rule=3  bytes=-    core
int(1)
string(7) "enforce"
bool(true)
string(22) "/wp-content/plugins/**"
string(45) "{B}/root/wp-content/plugins/foo/settings.json"
string(39) "{B}/root/wp-content/plugins/foo/foo.php"
int(3)
bool(false)
bool(false)
allowed 4, denied 3, reported 0
