--TEST--
opcache.file_cache with validate_timestamps=0: a writable-class PHP file another process compiled into the file cache, changed since, is included as it is now in a fresh process
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
<?php
if (!getenv('TEST_PHP_EXECUTABLE')) die('skip needs run-tests.php to start a second PHP');
// opcache wants the file cache's directory there when it starts
@mkdir(sys_get_temp_dir() . '/pressfs-phpt-file-cache', 0777, true);
?>
--EXTENSIONS--
opcache
--INI--
opcache.enable=1
opcache.enable_cli=1
opcache.validate_timestamps=0
opcache.file_cache={TMP}/pressfs-phpt-file-cache
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/include_opcache_file_cache/root
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('include_opcache_file_cache');
$f = "$b/root/wp-content/cache/config.php";
pfs_put($f, '<?php return 1;');
// another PHP process with the same settings (a php-fpm restarted since, a cron run) compiles it
$php = getenv('TEST_PHP_EXECUTABLE') . ' ' . getenv('TEST_PHP_EXTRA_ARGS');
echo shell_exec("$php -r " . escapeshellarg("var_dump(include '$f');"));
var_dump(count(glob(sys_get_temp_dir() . "/pressfs-phpt-file-cache/*$f.bin")));
pfs_put($f, '<?php return 2;');
var_dump(include $f);
?>
--CLEAN--
<?php
include __DIR__ . '/pressfs.inc';
pfs_sh('rm -rf ' . escapeshellarg(sys_get_temp_dir() . '/pressfs-phpt-file-cache'));
pfs_clean('include_opcache_file_cache');
?>
--EXPECT--
int(1)
int(1)
int(2)
