--TEST--
The compile wall in report mode: a PHP file of a writable class without +code is compiled, and counted as such
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={TMP}/pressfs-phpt/compile_wall_report/root
pressfs.mode=report
--FILE--
<?php
include __DIR__ . '/pressfs.inc';
$b = pfs_tree('compile_wall_report');
pfs_put("$b/root/wp-content/uploads/x.php", '<?php return "ran";');
var_dump(include "$b/root/wp-content/uploads/x.php");
$i = pfs_info();
var_dump($i['PHP files not compiled (writable, no +code)'], $i['PHP files compiled though writable (report mode)']);
?>
--CLEAN--
<?php include __DIR__ . '/pressfs.inc'; pfs_clean('compile_wall_report'); ?>
--EXPECT--
string(3) "ran"
string(1) "0"
string(1) "1"
