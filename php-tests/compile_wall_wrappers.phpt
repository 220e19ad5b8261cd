--TEST--
The compile wall through local wrappers: PHP in uploads read through phar:// (a phar named pic.jpg), zip://, compress.zlib:// or php://filter is not compiled; the same wrappers over code still are
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--EXTENSIONS--
phar
zip
zlib
--INI--
phar.readonly=0
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/compile_wall_wrappers/root
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('compile_wall_wrappers');
$code = '<?php return "RAN";';
$p = new Phar("$b/stage/a.phar");
$p['a.php'] = $code;
unset($p);
$z = new ZipArchive();
$z->open("$b/stage/a.zip", ZipArchive::CREATE);
$z->addFromString('a.php', $code);
$z->close();
file_put_contents("$b/stage/a.gz", gzencode($code));
$up = "$b/root/wp-content/uploads/2024";
$foo = "$b/root/wp-content/plugins/foo";
pfs_sh("mkdir -p $up && cp $b/stage/a.phar $up/pic.jpg && cp $b/stage/a.zip $up/pic.png"
    . " && cp $b/stage/a.gz $up/pic.gif && printf '%s' '$code' > $up/pic.bmp"
    . " && cp $b/stage/a.phar $foo/a.phar && cp $b/stage/a.zip $foo/a.zip");
$show = fn($r) => is_string($r) ? preg_replace('/ not compiled: .*/', ' not compiled', str_replace($b, '{B}', $r)) : $r;
foreach (["phar://$up/pic.jpg/a.php", "zip://$up/pic.png#a.php", "compress.zlib://$up/pic.gif",
          "php://filter/read=string.toupper|string.tolower/resource=$up/pic.bmp",
          "php://filter/resource=compress.zlib://$up/pic.gif",
          "phar://$foo/a.phar/a.php", "zip://$foo/a.zip#a.php"] as $url) {
    error_clear_last();
    $r = @include $url;
    echo str_replace($b, '{B}', $url), ': ', $show(error_get_last()['message'] ?? $r), "\n";
}
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('compile_wall_wrappers'); ?>
--EXPECT--
phar://{B}/root/wp-content/uploads/2024/pic.jpg/a.php: pressfs: /wp-content/uploads/2024/pic.jpg/a.php not compiled
zip://{B}/root/wp-content/uploads/2024/pic.png#a.php: pressfs: /wp-content/uploads/2024/pic.png not compiled
compress.zlib://{B}/root/wp-content/uploads/2024/pic.gif: pressfs: /wp-content/uploads/2024/pic.gif not compiled
php://filter/read=string.toupper|string.tolower/resource={B}/root/wp-content/uploads/2024/pic.bmp: pressfs: /wp-content/uploads/2024/pic.bmp not compiled
php://filter/resource=compress.zlib://{B}/root/wp-content/uploads/2024/pic.gif: pressfs: /wp-content/uploads/2024/pic.gif not compiled
phar://{B}/root/wp-content/plugins/foo/a.phar/a.php: RAN
zip://{B}/root/wp-content/plugins/foo/a.zip#a.php: RAN
