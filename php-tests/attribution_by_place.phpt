--TEST--
A write is attributed by where the writing file lies below the root, never by a substring of its path: a file under some other .../wp-content/plugins/akismet/ is not akismet
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/attribution_by_place/root
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('attribution_by_place');
$w = '<?php return @file_put_contents($GLOBALS["target"], "x") ?: error_get_last()["message"];';
pfs_put("$b/outside/wp-content/plugins/akismet/w.php", $w);
pfs_put("$b/root/wp-content/plugins/foo/w.php", $w);
$GLOBALS['target'] = "$b/root/wp-config.php";
foreach (["$b/outside/wp-content/plugins/akismet/w.php", "$b/root/wp-content/plugins/foo/w.php"] as $f) {
    $m = include $f;
    echo preg_replace('/.*attempted by (\S+ \S+).*/', '$1', $m), "\n";
}
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('attribution_by_place'); ?>
--EXPECT--
WordPress core
plugin foo
