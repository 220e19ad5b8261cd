--TEST--
GD's imagejpeg($im, $file) (and imagepng) write through the stream layer: refused in code trees, redirected in uploads
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--EXTENSIONS--
gd
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/imagejpeg/root
pressfs.mount={TMP}/pressfs-phpt/imagejpeg/mount
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('imagejpeg');
$im = imagecreatetruecolor(4, 4);
pfs_try('theme', fn() => imagejpeg($im, "$b/root/wp-content/themes/bar/shot.jpg"));
var_dump(file_exists("$b/root/wp-content/themes/bar/shot.jpg"));
mkdir("$b/root/wp-content/uploads/2026/11", 0755, true);
pfs_try('uploads jpeg', fn() => imagejpeg($im, "$b/root/wp-content/uploads/2026/11/a-150x150.jpg", 80));
pfs_try('uploads png', fn() => imagepng($im, "$b/root/wp-content/uploads/2026/11/a.png"));
var_dump(getimagesize("$b/root/wp-content/uploads/2026/11/a-150x150.jpg")[2] === IMAGETYPE_JPEG);
var_dump(filesize("$b/mount/wp-content/uploads/2026/11/a.png") > 0);
var_dump(imagecreatefromjpeg("$b/root/wp-content/uploads/2026/11/a-150x150.jpg") instanceof GdImage);
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('imagejpeg'); ?>
--EXPECT--
theme: false [refused by line 8, WordPress core]
bool(false)
uploads jpeg: true
uploads png: true
bool(true)
bool(true)
bool(true)
