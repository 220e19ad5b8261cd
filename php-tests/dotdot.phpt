--TEST--
Paths with '..', '.', '//' and relative paths are judged where they lead, the way PHP expands them
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/dotdot/root
pressfs.mount={TMP}/pressfs-phpt/dotdot/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('dotdot');
pfs_try('uploads/../plugins', fn() => file_put_contents("$b/root/wp-content/uploads/../plugins/foo/x.php", '<?php'));
pfs_try('//./', fn() => file_put_contents("$b/root//wp-content/./plugins//foo/x.php", '<?php'));
pfs_try('uploads/a/../b', fn() => file_put_contents("$b/root/wp-content/uploads/a/../b.txt", 'b'));
var_dump(file_get_contents("$b/mount/wp-content/uploads/b.txt"));
pfs_try('out and back', fn() => file_put_contents("$b/root/../root/wp-config.php", 'x'));
pfs_try('above /', fn() => file_put_contents("/../../..$b/root/wp-config.php", 'x'));
pfs_try('root/../outside', fn() => file_put_contents("$b/root/../outside/x.txt", 'x'));
chdir("$b/root/wp-content/uploads");
pfs_try('relative ../plugins', fn() => file_put_contents('../plugins/foo/x.php', '<?php'));
pfs_try('relative ./', fn() => file_put_contents('./c.txt', 'c'));
pfs_try('relative up and out', fn() => file_put_contents('../../../outside/y.txt', 'y'));
var_dump(file_exists("$b/mount/wp-content/uploads/c.txt"), file_exists("$b/outside/y.txt"));
pfs_try('mkdir ../', fn() => mkdir('../plugins/evil'));
pfs_try('rename ../', fn() => rename('c.txt', '../themes/bar/c.php'));
var_dump(file_exists("$b/root/wp-content/plugins/foo/x.php"), file_get_contents("$b/root/wp-config.php"));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('dotdot'); ?>
--EXPECT--
uploads/../plugins: false [refused by line 7, WordPress core]
//./: false [refused by line 7, WordPress core]
uploads/a/../b: 1
string(1) "b"
out and back: false [refused by line 9, WordPress core]
above /: false [refused by line 9, WordPress core]
root/../outside: 1
relative ../plugins: false [refused by line 7, WordPress core]
relative ./: 1
relative up and out: 1
bool(true)
bool(true)
mkdir ../: false [refused by line 7, WordPress core]
rename ../: false [refused by line 8, WordPress core]
bool(false)
string(16) "<?php // config
"
