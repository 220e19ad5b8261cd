--TEST--
Fail closed: a symlink with more ".." than names, or one too long for a path buffer, is followed as the kernel follows it (not judged by its name alone); ".." after a symlink is the parent of its target, as the kernel resolves it
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/fail_closed/root
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('fail_closed');
$root = "$b/root";
pfs_put("$root/wp-content/plugins/akismet/akismet.php", "<?php // akismet\n");
$x = sys_get_temp_dir() . '/pressfs-phpt-x-' . getmypid();
@unlink($x);
// more ".." than the target has names: "/.." is "/" to the kernel
var_dump(symlink("/../../..$root/wp-config.php", $x));
pfs_try('too many ..', fn() => file_put_contents($x, '<?php // pwned'));
unlink($x);
// a relative target that, joined to its directory, is longer than MAXPATHLEN
$long = str_repeat('./', 2020) . '../root/wp-config.php';
pfs_sh('ln -s ' . escapeshellarg($long) . ' ' . escapeshellarg("$b/outside/long"));
var_dump(readlink("$b/outside/long") === $long, strlen("$b/outside/") + strlen($long) > 4096);
pfs_try('longer than MAXPATHLEN', fn() => file_put_contents("$b/outside/long", '<?php // pwned'));
pfs_try('fopen w', fn() => fopen("$b/outside/long", 'w'));
echo file_get_contents("$root/wp-config.php");
// ".." after a symlink: cache/l/.. is plugins/, not cache/
var_dump(symlink('../plugins/akismet', "$root/wp-content/cache/l"));
pfs_try('l/../akismet/akismet.php', fn() => file_put_contents("$root/wp-content/cache/l/../akismet/akismet.php", '<?php // pwned'));
pfs_try('unlink l/../akismet/akismet.php', fn() => unlink("$root/wp-content/cache/l/../akismet/akismet.php"));
pfs_try('rename onto it', fn() => rename("$root/wp-content/cache/l/../../cache/x", "$root/wp-content/cache/l/../akismet/akismet.php"));
echo file_get_contents("$root/wp-content/plugins/akismet/akismet.php");
// what the link's name says is still honoured where it agrees with the kernel
pfs_try('cache/ok.txt', fn() => file_put_contents("$root/wp-content/cache/l/../../cache/ok.txt", 'ok'));
var_dump(file_get_contents("$root/wp-content/cache/ok.txt"));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('fail_closed'); ?>
--EXPECT--
bool(true)
too many ..: false [refused by line 9, lands in /wp-config.php, WordPress core]
bool(true)
bool(true)
longer than MAXPATHLEN: false [refused by line 9, lands in /wp-config.php, WordPress core]
fopen w: false [refused by line 9, lands in /wp-config.php, WordPress core]
<?php // config
bool(true)
l/../akismet/akismet.php: false [refused by line 7, lands in /wp-content/plugins/akismet/akismet.php, WordPress core]
unlink l/../akismet/akismet.php: false [refused by line 7, lands in /wp-content/plugins/akismet/akismet.php, WordPress core]
rename onto it: false [refused by line 7, lands in /wp-content/plugins/akismet/akismet.php, WordPress core]
<?php // akismet
cache/ok.txt: 2
string(2) "ok"
