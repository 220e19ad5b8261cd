--TEST--
Symlinks: a write is judged by its name and by where it really lands, so no link leads past the policy; links out of the root take the root's rule for their name
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/symlink_escape/root
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('symlink_escape');
pfs_sh("ln -s $b/outside $b/root/wp-content/uploads/out"
    . " && ln -s $b/root/wp-content/plugins/foo $b/outside/in"
    . " && ln -s ../plugins/foo/new.php $b/root/wp-content/uploads/dangling.txt"
    . " && ln -s loop2 $b/root/wp-content/uploads/loop1 && ln -s loop1 $b/root/wp-content/uploads/loop2"
    . " && ln -s $b/root $b/alias");
// a link in uploads out of the root: the write lands outside, the name is in uploads
pfs_try('uploads/out/x.txt', fn() => file_put_contents("$b/root/wp-content/uploads/out/x.txt", 'x'));
pfs_try('uploads/out/x.php', fn() => file_put_contents("$b/root/wp-content/uploads/out/x.php", '<?php'));
var_dump(file_get_contents("$b/outside/x.txt"), file_exists("$b/outside/x.php"));
// a link from outside into a code tree
pfs_try('outside/in/x.php', fn() => file_put_contents("$b/outside/in/x.php", '<?php'));
pfs_try('outside/in rmdir', fn() => unlink("$b/outside/in/../in/nothing"));
// a dangling link whose target would be created in plugins
pfs_try('dangling', fn() => fopen("$b/root/wp-content/uploads/dangling.txt", 'w'));
var_dump(file_exists("$b/root/wp-content/plugins/foo/new.php"));
// a loop: it fails as it does without pressfs (PHP reports ENOENT for it)
pfs_try('loop', fn() => file_put_contents("$b/root/wp-content/uploads/loop1", 'x'));
// the root under another name
pfs_try('alias', fn() => file_put_contents("$b/alias/wp-content/plugins/foo/x.php", '<?php'));
pfs_try('alias uploads', fn() => file_put_contents("$b/alias/wp-content/uploads/ok.txt", 'ok'));
var_dump(is_writable("$b/alias/wp-config.php"), is_writable("$b/outside/in"));
// unlinking the link itself is a write to its own name
pfs_try('unlink link', fn() => unlink("$b/root/wp-content/uploads/dangling.txt"));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('symlink_escape'); ?>
--EXPECTF--
uploads/out/x.txt: 1
uploads/out/x.php: false [refused by line 2, WordPress core]
string(1) "x"
bool(false)
outside/in/x.php: false [refused by line 7, lands in /wp-content/plugins/foo/x.php, WordPress core]
outside/in rmdir: false [refused by line 7, lands in /wp-content/plugins/in/nothing, WordPress core]
dangling: false [refused by line 7, lands in /wp-content/plugins/foo/new.php, WordPress core]
bool(false)
loop: false [file_put_contents({B}/root/wp-content/uploads/loop1): Failed to open stream: No such file or directory]
alias: false [refused by line 7, lands in /wp-content/plugins/foo/x.php, WordPress core]
alias uploads: 2
bool(false)
bool(false)
unlink link: true
