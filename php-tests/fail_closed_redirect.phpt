--TEST--
Fail closed in redirect mode: a link outside the root with more ".." than names, aimed at wp-config.php, is refused; a write through cache/l/.. never reaches the plugin it points into
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/fail_closed_redirect/root
pressfs.mount={TMP}/pressfs-phpt/fail_closed_redirect/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('fail_closed_redirect');
$root = "$b/root";
pfs_put("$root/wp-content/plugins/akismet/akismet.php", "<?php // akismet\n");
$x = sys_get_temp_dir() . '/pressfs-phpt-xr-' . getmypid();
@unlink($x);
var_dump(symlink("/../../..$root/wp-config.php", $x));
pfs_try('too many ..', fn() => file_put_contents($x, '<?php // pwned'));
unlink($x);
echo file_get_contents("$root/wp-config.php");
// the link as the root shows it (redirected, PHP's symlink() would make it in the mount)
pfs_sh("ln -s ../plugins/akismet $root/wp-content/cache/l");
pfs_try('l/../akismet/akismet.php', fn() => file_put_contents("$root/wp-content/cache/l/../akismet/akismet.php", '<?php // pwned'));
echo file_get_contents("$root/wp-content/plugins/akismet/akismet.php");
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('fail_closed_redirect'); ?>
--EXPECT--
bool(true)
too many ..: false [refused by line 9, lands in /wp-config.php, WordPress core]
<?php // config
l/../akismet/akismet.php: false [refused by line 7, lands in /wp-content/plugins/akismet/akismet.php, WordPress core]
<?php // akismet
