--TEST--
file_get_contents() reads what the policy redirects from pressfs.mount, everything else from the root
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/file_get_contents/root
pressfs.mount={TMP}/pressfs-phpt/file_get_contents/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('file_get_contents');
pfs_put("$b/root/wp-content/uploads/x.txt", "root copy");
pfs_put("$b/mount/wp-content/uploads/x.txt", "mount copy");
pfs_put("$b/root/wp-content/plugins/foo/readme.txt", "plugin readme");
pfs_put("$b/mount/wp-content/plugins/foo/readme.txt", "never read");
pfs_put("$b/root/.htaccess", "root htaccess");
pfs_put("$b/mount/.htaccess", "mount htaccess");
var_dump(file_get_contents("$b/root/wp-content/uploads/x.txt"));
var_dump(file_get_contents("$b/root/wp-content/plugins/foo/readme.txt"));
var_dump(file_get_contents("$b/root/.htaccess"));
var_dump(file("$b/root/wp-content/uploads/x.txt"));
var_dump(readfile("$b/root/wp-content/uploads/x.txt"));
echo "\n";
chdir("$b/root/wp-content");
var_dump(file_get_contents('uploads/x.txt'), file_get_contents('./plugins/../uploads/x.txt'));
pfs_try('missing', fn() => file_get_contents("$b/root/wp-content/uploads/missing.txt"));
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('file_get_contents'); ?>
--EXPECT--
string(10) "mount copy"
string(13) "plugin readme"
string(14) "mount htaccess"
array(1) {
  [0]=>
  string(10) "mount copy"
}
mount copyint(10)

string(10) "mount copy"
string(10) "mount copy"
missing: false [file_get_contents({B}/root/wp-content/uploads/missing.txt): Failed to open stream: No such file or directory]
