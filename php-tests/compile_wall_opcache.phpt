--TEST--
The compile wall under opcache (validate_timestamps=0): a PHP file that lies where writes land is not compiled unless its rule grants code (+code): planted in uploads, hidden in a picture, in a local class; include fails, require is fatal; code and granted files run; counted
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--EXTENSIONS--
opcache
--INI--
opcache.enable=1
opcache.enable_cli=1
opcache.validate_timestamps=0
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/compile_wall_opcache/root
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('compile_wall_opcache');
$w = "$b/root/wp-content";
$refused = fn() => pfs_info()['PHP files not compiled (writable, no +code)'];
// planted behind pressfs' back, as a write outside PHP or a race would leave them
pfs_put("$w/uploads/2024/shell.php", '<?php echo "SHELL RAN\n"; return 1;');
pfs_put("$w/uploads/2024/SHELL.PHP", '<?php echo "SHELL RAN\n"; return 1;');
pfs_put("$w/uploads/2024/pic.jpg", "\xff\xd8<?php echo \"JPEG RAN\\n\"; return 2;");
pfs_put("$w/upgrade/x.php", '<?php echo "LOCAL RAN\n"; return 3;');
pfs_put("$w/cache/granted.php", '<?php return "granted";');
pfs_put("$w/plugins/foo/foo.php", '<?php return "plugin";');
$n = $refused();
pfs_try('uploads shell.php', fn() => include "$w/uploads/2024/shell.php");
pfs_try('uploads SHELL.PHP', fn() => include "$w/uploads/2024/SHELL.PHP");
pfs_try('uploads pic.jpg', fn() => include "$w/uploads/2024/pic.jpg");
pfs_try('uploads include_once', fn() => include_once "$w/uploads/2024/shell.php");
pfs_try('relative name', function () use ($w) { chdir("$w/uploads"); return include '2024/../2024/shell.php'; });
pfs_try('local x.php', fn() => include "$w/upgrade/x.php");
pfs_try('cache+code', fn() => include "$w/cache/granted.php");
pfs_try('plugin code', fn() => include "$w/plugins/foo/foo.php");
echo "refused: ", $refused() - $n, "\n";
require "$w/uploads/2024/shell.php";
echo "not reached\n";
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('compile_wall_opcache'); ?>
--EXPECTF--
uploads shell.php: false [pressfs: /wp-content/uploads/2024/shell.php not compiled: it lies below a writable rule of %s/fixtures/test.policy, and line 2 (/wp-content/uploads/**/*.php deny) grants no code]
uploads SHELL.PHP: false [pressfs: /wp-content/uploads/2024/SHELL.PHP not compiled: %s/fixtures/test.policy line 3 (/wp-content/uploads/** shared) takes writes and does not grant code]
uploads pic.jpg: false [pressfs: /wp-content/uploads/2024/pic.jpg not compiled: %s/fixtures/test.policy line 3 (/wp-content/uploads/** shared) takes writes and does not grant code]
uploads include_once: false [pressfs: /wp-content/uploads/2024/shell.php not compiled: %s]
relative name: false [pressfs: /wp-content/uploads/2024/shell.php not compiled: %s]
local x.php: false [pressfs: /wp-content/upgrade/x.php not compiled: %s/fixtures/test.policy line 6 (/wp-content/upgrade/** local) takes writes and does not grant code]
cache+code: 'granted'
plugin code: 'plugin'
refused: 6

Fatal error: pressfs: /wp-content/uploads/2024/shell.php not compiled: it lies below a writable rule of %s, and line 2 (/wp-content/uploads/**/*.php deny) grants no code in %s on line %d
