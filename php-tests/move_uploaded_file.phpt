--TEST--
move_uploaded_file() into uploads lands in pressfs.mount, and file_exists, filesize, scandir and glob see it; into a code tree it is refused
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/move_uploaded_file/root
pressfs.mount={TMP}/pressfs-phpt/move_uploaded_file/mount
file_uploads=1
--POST_RAW--
Content-Type: multipart/form-data; boundary=---------------------------pressfs4242
-----------------------------pressfs4242
Content-Disposition: form-data; name="file"; filename="a.jpg"
Content-Type: image/jpeg

not really a jpeg
-----------------------------pressfs4242--
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('move_uploaded_file');
$tmp = $_FILES['file']['tmp_name'];
var_dump($_FILES['file']['error'], is_uploaded_file($tmp));
// wp_handle_upload(): the month directory, a unique name, the move, chmod
$dir = "$b/root/wp-content/uploads/2026/11";
var_dump(wp_mkdir_p($dir));
pfs_try('into plugins', fn() => move_uploaded_file($tmp, "$b/root/wp-content/plugins/foo/a.php"));
pfs_try('uploads .php', fn() => move_uploaded_file($tmp, "$dir/a.php"));
var_dump(file_exists("$dir/a.jpg"));
pfs_try('into uploads', fn() => move_uploaded_file($tmp, "$dir/a.jpg"));
var_dump(chmod("$dir/a.jpg", 0644));
var_dump(file_exists("$dir/a.jpg"), is_file("$dir/a.jpg"), filesize("$dir/a.jpg"));
var_dump(scandir($dir));
var_dump(str_replace($b, '{B}', glob("$dir/*.jpg")[0]));
// where the bytes are
var_dump(file_get_contents("$b/mount/wp-content/uploads/2026/11/a.jpg"));
var_dump(file_exists("$b/root/wp-content/plugins/foo/a.php"));
// not an upload: false, quietly, as without pressfs
var_dump(move_uploaded_file(__FILE__, "$dir/b.jpg"));

function wp_mkdir_p($target) {
    if (file_exists($target)) {
        return @is_dir($target);
    }
    return mkdir($target, 0755, true);
}
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('move_uploaded_file'); ?>
--EXPECT--
int(0)
bool(true)
bool(true)
into plugins: false [refused by line 7, WordPress core]
uploads .php: false [refused by line 2, WordPress core]
bool(false)
into uploads: true
bool(true)
bool(true)
bool(true)
int(17)
array(3) {
  [0]=>
  string(1) "."
  [1]=>
  string(2) ".."
  [2]=>
  string(5) "a.jpg"
}
string(41) "{B}/root/wp-content/uploads/2026/11/a.jpg"
string(17) "not really a jpeg"
bool(false)
bool(false)
