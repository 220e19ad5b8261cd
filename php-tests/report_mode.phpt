--TEST--
report mode: writes the policy refuses go ahead and are recorded as reported, with the plugin or theme named
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/report_mode/root
pressfs.mode=report
pressfs.audit_log={TMP}/pressfs-phpt/report_mode/audit.log
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('report_mode');
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
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('report_mode'); ?>
--EXPECT--
file_put_contents /wp-content/plugins/foo/settings.json  deny   reported rule=7  bytes=7    plugin:foo
mkdir      /wp-content/uploads/foo                shared allowed  rule=3  bytes=-    plugin:foo
file_put_contents /wp-content/uploads/foo/data.txt       shared allowed  rule=3  bytes=100  plugin:foo
fopen      /wp-content/uploads/foo.log            shared allowed  rule=3  bytes=5    plugin:foo
file_put_contents /wp-content/themes/bar/cache.css       deny   reported rule=8  bytes=6    theme:bar
file_put_contents /wp-config.php                         deny   reported rule=9  bytes=15   core
unlink     /wp-content/uploads/foo/data.txt       shared allowed  rule=3  bytes=-    core
int(1)
string(6) "report"
bool(true)
string(22) "/wp-content/plugins/**"
string(45) "{B}/root/wp-content/plugins/foo/settings.json"
string(39) "{B}/root/wp-content/plugins/foo/foo.php"
int(3)
bool(true)
bool(true)
allowed 4, denied 0, reported 3
