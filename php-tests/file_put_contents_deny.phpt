--TEST--
file_put_contents() from a plugin into its own code tree: false, a warning naming pressfs, the rule and the plugin; nothing written
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/fpc_deny/root
pressfs.mode=enforce
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('fpc_deny');
pfs_put("$b/root/wp-content/plugins/foo/foo.php", <<<'PHP'
<?php
function foo_update() {
    return file_put_contents(__DIR__ . '/x.php', '<?php evil();');
}
PHP);
include "$b/root/wp-content/plugins/foo/foo.php";
var_dump(foo_update());
var_dump(file_exists("$b/root/wp-content/plugins/foo/x.php"));
// the same bytes into uploads are fine (shared, no mount: written in place)
var_dump(file_put_contents("$b/root/wp-content/uploads/notes.txt", 'hello'));
var_dump(file_get_contents("$b/root/wp-content/uploads/notes.txt"));
// a .php under uploads is refused by the first rule, and core (no plugin frame) is named
var_dump(file_put_contents("$b/root/wp-content/uploads/shell.php", '<?php'));
// a path no rule matches is read-only
var_dump(file_put_contents("$b/root/wp-includes/version.php", 'x'));
var_dump(file_get_contents("$b/root/wp-includes/version.php"));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('fpc_deny'); ?>
--EXPECTF--
Warning: file_put_contents(%s/fpc_deny/root/wp-content/plugins/foo/x.php): Failed to open stream: pressfs: write to /wp-content/plugins/foo/x.php refused by %s/fixtures/test.policy line 7 (/wp-content/plugins/** deny), attempted by plugin foo in %s/foo.php on line 3
bool(false)
bool(false)
int(5)
string(5) "hello"

Warning: file_put_contents(%s/fpc_deny/root/wp-content/uploads/shell.php): Failed to open stream: pressfs: write to /wp-content/uploads/shell.php refused by %s/fixtures/test.policy line 2 (/wp-content/uploads/**/*.php deny), attempted by WordPress core (%s/file_put_contents_deny.php:%d) in %s on line %d
bool(false)

Warning: file_put_contents(%s/fpc_deny/root/wp-includes/version.php): Failed to open stream: pressfs: write to /wp-includes/version.php refused: no rule in %s/fixtures/test.policy makes it writable, attempted by WordPress core (%s/file_put_contents_deny.php:%d) in %s on line %d
bool(false)
string(28) "<?php $wp_version = 'test';
"
