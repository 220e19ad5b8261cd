--TEST--
pressfs.lower: reads, stats and listings of paths no rule can make writable come from the lower tree; anything a rule can change still goes through the root
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/lower/root
pressfs.lower={TMP}/pressfs-phpt/lower/lower
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('lower');
// the two trees differ here only so that the test can tell which one answered
pfs_put("$b/root/wp-content/themes/bar/style.css", "root");
pfs_put("$b/lower/wp-content/themes/bar/style.css", "lower!");
pfs_put("$b/lower/wp-content/themes/bar/parts/header.html", "<header>");
pfs_put("$b/lower/wp-content/themes/bar/tpl.php", "<?php return __FILE__;");
pfs_put("$b/root/wp-content/themes/bar/tpl.php", "<?php return 'root';");
pfs_put("$b/root/wp-content/uploads/a.txt", "root upload");
pfs_put("$b/lower/wp-content/uploads/a.txt", "stale lower upload");
$t = "$b/root/wp-content/themes/bar";
var_dump(file_get_contents("$t/style.css"), filesize("$t/style.css"));
$f = fopen("$t/style.css", 'rb');
var_dump(fread($f, 100));
fclose($f);
var_dump(file_exists("$t/parts/header.html"), is_file("$t/parts/header.html"), is_readable("$t/parts/header.html"));
var_dump(scandir("$t"), str_replace($b, '{B}', implode(' ', glob("$t/*.css"))));
var_dump(str_replace($b, '{B}', include "$t/tpl.php"));
// writable places: the root
var_dump(file_get_contents("$b/root/wp-content/uploads/a.txt"), count(scandir("$b/root/wp-content")));
// a write to a path the lower serves is refused by the policy anyway; never written to the lower
pfs_try('write', fn() => file_put_contents("$t/style.css", 'x'));
var_dump(file_get_contents("$b/lower/wp-content/themes/bar/style.css"));
var_dump(pfs_info()['Reads served from the lower tree'] > 0);
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('lower'); ?>
--EXPECT--
string(6) "lower!"
int(6)
string(6) "lower!"
bool(true)
bool(true)
bool(true)
array(5) {
  [0]=>
  string(1) "."
  [1]=>
  string(2) ".."
  [2]=>
  string(5) "parts"
  [3]=>
  string(9) "style.css"
  [4]=>
  string(7) "tpl.php"
}
string(40) "{B}/root/wp-content/themes/bar/style.css"
string(38) "{B}/root/wp-content/themes/bar/tpl.php"
string(11) "root upload"
int(6)
write: false [refused by line 8, WordPress core]
string(6) "lower!"
bool(true)
