--TEST--
Loaded but not enabled (pressfs.policy not set, as when a php-fpm pool loads the extension after its settings): the worker says so once, with the reason, in the error log, not on the page
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--CGI--
--INI--
pressfs.root={TMP}/pressfs-phpt/disabled_warning/root
log_errors=1
display_errors=1
error_log={TMP}/pressfs-phpt-disabled_warning.log
--FILE--
<?php
$log = sys_get_temp_dir() . '/pressfs-phpt-disabled_warning.log';
$lines = file($log, FILE_IGNORE_NEW_LINES) ?: [];
echo count($lines), "\n", preg_replace('/^\[[^]]*\] /', '', $lines[0] ?? ''), "\n";
echo (new ReflectionExtension('pressfs'))->getName(), "\n";
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/pressfs-phpt-disabled_warning.log'); ?>
--EXPECTF--
1
pressfs: loaded but not enabled in this worker (pid %d): pressfs.policy is not set
pressfs
