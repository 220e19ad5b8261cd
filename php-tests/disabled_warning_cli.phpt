--TEST--
Loaded but not enabled: the CLI (the extension loaded from conf.d for every SAPI, nothing set) stays quiet; an unreadable policy is said once, at startup
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
log_errors=1
error_log={TMP}/pressfs-phpt-disabled_warning_cli.log
--FILE--
<?php
$log = sys_get_temp_dir() . '/pressfs-phpt-disabled_warning_cli.log';
var_dump(file_exists($log) ? file_get_contents($log) : '');
// the same PHP, with a policy it cannot read: one line, from startup
$q = escapeshellarg(sys_get_temp_dir() . '/pressfs-phpt-disabled_warning_cli-2.log');
$php = escapeshellarg(PHP_BINARY);
$so = dirname(__DIR__) . '/obj/ext/modules/pressfs.so';
exec("$php -n -d extension=" . escapeshellarg($so) . " -d pressfs.policy=/nonexistent/x.policy -d pressfs.root=/tmp"
     . " -d log_errors=1 -d display_startup_errors=0 -d error_log=$q -r 'echo 1;'", $out);
$lines = file(sys_get_temp_dir() . '/pressfs-phpt-disabled_warning_cli-2.log', FILE_IGNORE_NEW_LINES) ?: [];
echo count($lines), ' ', preg_replace('/^\[[^]]*\] /', '', $lines[0] ?? ''), "\n";
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/pressfs-phpt-disabled_warning_cli.log');
@unlink(sys_get_temp_dir() . '/pressfs-phpt-disabled_warning_cli-2.log'); ?>
--EXPECT--
string(0) ""
1 PHP Warning:  pressfs: not enabled: the policy is not usable: /nonexistent/x.policy: No such file or directory in Unknown on line 0
