--TEST--
opcache that cannot be told to forget (opcache.restrict_api elsewhere): writable-class PHP files are compiled without it, current every time, include_once included; code still comes from opcache
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--EXTENSIONS--
opcache
--INI--
opcache.enable=1
opcache.enable_cli=1
opcache.validate_timestamps=0
opcache.restrict_api=/nonexistent/
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/include_opcache_uncached/root
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('include_opcache_uncached');
$f = "$b/root/wp-content/cache/config.php";
// opcache_invalidate() would warn here, behind the script's back: pressfs does not ask it
set_error_handler(function ($no, $msg) {
    if (error_reporting() & $no) {
        echo "warning: $msg\n";
    }
    return true;
});
pfs_put($f, '<?php return 1;');
var_dump(include $f);
pfs_put($f, '<?php return 2;');
var_dump(include $f);
pfs_put("$b/root/wp-content/cache/once.php", '<?php return "old";');
var_dump(opcache_compile_file("$b/root/wp-content/cache/once.php"));
pfs_put("$b/root/wp-content/cache/once.php", '<?php return "new";');
var_dump(include_once "$b/root/wp-content/cache/once.php");
pfs_put("$b/root/wp-includes/code.php", '<?php return "v1";');
var_dump(include "$b/root/wp-includes/code.php");
pfs_put("$b/root/wp-includes/code.php", '<?php return "v2";');
var_dump(include "$b/root/wp-includes/code.php");
$i = pfs_info();
echo 'invalidated ', $i['Changed PHP files invalidated in opcache'], ', compiled without opcache ', $i['Writable PHP includes compiled without opcache'], "\n";
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('include_opcache_uncached'); ?>
--EXPECT--
int(1)
int(2)
bool(true)
string(3) "new"
string(2) "v1"
string(2) "v1"
invalidated 0, compiled without opcache 3
