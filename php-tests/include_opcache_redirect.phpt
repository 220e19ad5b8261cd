--TEST--
opcache with validate_timestamps=0 and pressfs.mount: a redirected PHP file changed in the mount is included as it is now (opcache keeps it under the root's name), deleted is gone
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--EXTENSIONS--
opcache
--INI--
opcache.enable=1
opcache.enable_cli=1
opcache.validate_timestamps=0
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/include_opcache_redirect/root
pressfs.mount={TMP}/pressfs-phpt/include_opcache_redirect/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('include_opcache_redirect');
$f = "$b/root/wp-content/cache/config.php";
pfs_put("$b/mount/wp-content/cache/config.php", '<?php return [__FILE__, 1];');
[$file, $v] = include $f;
var_dump(str_replace($b, '{B}', $file), $v);
pfs_put("$b/mount/wp-content/cache/config.php", '<?php return [__FILE__, 2];');
var_dump((include $f)[1]);
var_dump((include $f)[1]);

pfs_put("$b/mount/wp-content/cache/once.php", '<?php return "old";');
var_dump(opcache_compile_file("$b/root/wp-content/cache/once.php"));
pfs_put("$b/mount/wp-content/cache/once.php", '<?php return "new";');
var_dump(include_once "$b/root/wp-content/cache/once.php");

// realpath() cannot find it under the root, and opcache is still told to forget it
pfs_sh("rm $b/mount/wp-content/cache/config.php");
var_dump(@include $f);
$i = pfs_info();
echo 'invalidated ', $i['Changed PHP files invalidated in opcache'], ', compiled without opcache ', $i['Writable PHP includes compiled without opcache'], "\n";
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('include_opcache_redirect'); ?>
--EXPECT--
string(36) "{B}/root/wp-content/cache/config.php"
int(1)
int(2)
int(2)
bool(true)
string(3) "new"
bool(false)
invalidated 4, compiled without opcache 0
