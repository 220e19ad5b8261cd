--TEST--
realpath() of a path no rule can make writable is resolved in pressfs.lower and named under the root; a writable path still resolves through the root
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/realpath_lower/root
pressfs.lower={TMP}/pressfs-phpt/realpath_lower/lower
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('realpath_lower');
// only the lower tree has these: an answer naming them proves the lower tree was asked
pfs_put("$b/lower/wp-includes/blocks/query/style.min.css", "q");
@mkdir("$b/lower/wp-includes/blocks/pattern", 0777, true);
symlink('../query/style.min.css', "$b/lower/wp-includes/blocks/pattern/style.css");
pfs_put("$b/root/wp-content/uploads/a.txt", "upload");
pfs_put("$b/lower/wp-content/uploads/only-lower.txt", "stale");
$show = fn($r) => $r === false ? 'false' : str_replace($b, '{B}', $r);
$t = "$b/root/wp-includes/blocks";
echo $show(realpath("$t/query/../query/style.min.css")), "\n";
echo $show(realpath("$t/pattern/style.css")), "\n";     // a relative symlink of the image
echo $show(realpath("$t/legacy-widget/style.min.css")), "\n";  // missing in both: false
echo $show(realpath("$t")), "\n";
echo $show(realpath("$b/root/wp-content/uploads/a.txt")), "\n";
echo $show(realpath("$b/root/wp-content/uploads/only-lower.txt")), "\n";  // writable: the root
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('realpath_lower'); ?>
--EXPECT--
{B}/root/wp-includes/blocks/query/style.min.css
{B}/root/wp-includes/blocks/query/style.min.css
false
{B}/root/wp-includes/blocks
{B}/root/wp-content/uploads/a.txt
false
