--TEST--
opcache with validate_timestamps=0: a writable-class PHP file changed behind PHP's back (as another node would) is included as it is now, by include, include_once and require; code stays cached
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--EXTENSIONS--
opcache
--INI--
opcache.enable=1
opcache.enable_cli=1
opcache.validate_timestamps=0
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/include_opcache/root
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('include_opcache');
$cache = "$b/root/wp-content/cache";
$count = fn() => pfs_info()['Changed PHP files invalidated in opcache'];
echo pfs_info()['Includes of writable PHP files'], "\n";

// replaced whole (temp file + rename, as plugins write their config), then in place with the
// same size (the same second, the same inode: only the nanoseconds tell)
pfs_put("$cache/config.php", '<?php return 1;');
var_dump(include "$cache/config.php");
pfs_put("$cache/config.php", '<?php return 2;');
var_dump(include "$cache/config.php");
pfs_sh("printf '<?php return 3;' > $cache/config.php");
var_dump(require "$cache/config.php");
// unchanged: opcache's copy, no invalidation however often it is included
$n = $count();
for ($i = 0; $i < 20; $i++) {
    $v = include "$cache/config.php";
}
var_dump($v, $count() - $n);

// include_once of a file opcache holds (compiled, not yet included), changed since
pfs_put("$b/root/wp-content/cache/settings.php", '<?php return "old";');
var_dump(opcache_compile_file("$b/root/wp-content/cache/settings.php"));
pfs_put("$b/root/wp-content/cache/settings.php", '<?php return "new";');
var_dump(include_once "$b/root/wp-content/cache/settings.php");
var_dump(include_once "$b/root/wp-content/cache/settings.php");

// by a relative name, through include_path
set_include_path("$b/root/wp-content/cache");
var_dump(include 'config.php');
pfs_put("$cache/config.php", '<?php return 4;');
var_dump(include 'config.php');

// by a name through a directory no rule can change ("..")
pfs_put("$cache/config.php", '<?php return 5;');
var_dump(include "$b/root/wp-includes/../wp-content/cache/config.php");

// deleted: gone for include too
pfs_sh("rm $cache/config.php");
var_dump(@include "$cache/config.php");

// code no rule can change is left to opcache: validate_timestamps=0 means it is never looked at
pfs_put("$b/root/wp-includes/code.php", '<?php return "v1";');
var_dump(include "$b/root/wp-includes/code.php");
pfs_put("$b/root/wp-includes/code.php", '<?php return "v2";');
var_dump(include "$b/root/wp-includes/code.php");
echo 'compiled without opcache: ', pfs_info()['Writable PHP includes compiled without opcache'], "\n";
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('include_opcache'); ?>
--EXPECT--
checked: a changed file is invalidated in opcache
int(1)
int(2)
int(3)
int(3)
int(0)
bool(true)
string(3) "new"
bool(true)
int(3)
int(4)
int(5)
bool(false)
string(2) "v1"
string(2) "v1"
compiled without opcache: 0
