--TEST--
The compile wall: an auto_prepend_file that lies in uploads (as a .user.ini or php_value would set it) is not compiled, and the request stops there
--SKIPIF--
<?php include __DIR__ . '/skipif.inc'; ?>
--INI--
pressfs.policy={PWD}/fixtures/test.policy
pressfs.root={PWD}/fixtures/prepend-root
auto_prepend_file={PWD}/fixtures/prepend-root/wp-content/uploads/prepend.php
--FILE--
<?php
echo "script ran\n";
?>
--EXPECTF--
Fatal error: pressfs: /wp-content/uploads/prepend.php not compiled: it lies below a writable rule of %s/fixtures/test.policy, and line 2 (/wp-content/uploads/**/*.php deny) grants no code in Unknown on line 0
